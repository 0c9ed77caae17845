"""Cases: All / My / Watching tables, case details, export, close, related RO numbers."""
from flask import Blueprint

bp = Blueprint("cases", __name__)

from webapp.cases import routes  # noqa: E402,F401
