"""Advisors' DMS employee ids (service managers): appointments are pushed with them."""
from flask import Blueprint

bp = Blueprint("advisors", __name__)

from webapp.advisors import routes  # noqa: E402,F401
