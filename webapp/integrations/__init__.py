"""Integration health: pull cadences, lag, runs, Pull now, backfills, DMS webhooks."""
from flask import Blueprint

bp = Blueprint("integrations", __name__)

from webapp.integrations import routes, webhooks  # noqa: E402,F401
