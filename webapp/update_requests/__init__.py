"""Customer-info update requests: dealership staff ask, the admin team (Reviewers) decide."""
from flask import Blueprint

bp = Blueprint("update_requests", __name__)

from webapp.update_requests import routes  # noqa: E402,F401
