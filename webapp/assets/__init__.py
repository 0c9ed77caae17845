"""Assets (vehicles, trucks): search (Portal and DMS tabs), detail pages, add from the DMS."""
from flask import Blueprint

bp = Blueprint("assets", __name__)

from webapp.assets import routes  # noqa: E402,F401
