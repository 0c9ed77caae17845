"""Location settings a Service Manager or Global Admin changes: External Interfaces."""
from flask import Blueprint

bp = Blueprint("settings", __name__)

from webapp.settings import routes  # noqa: E402,F401
