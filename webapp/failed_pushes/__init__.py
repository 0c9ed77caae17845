"""Failed pushes: every change the DMS refused, with the vendor's error and a plain-language fix."""
from flask import Blueprint

bp = Blueprint("failed_pushes", __name__)

from webapp.failed_pushes import routes  # noqa: E402,F401
