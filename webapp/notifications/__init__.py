"""Notifications for requesters: their update request was approved, rejected or confirmed by the DMS."""
from flask import Blueprint

bp = Blueprint("notifications", __name__)

from webapp.notifications import routes  # noqa: E402,F401
