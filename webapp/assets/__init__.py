"""Assets (vehicles, trucks): search (Portal and DMS tabs), detail pages, add from the DMS."""
from flask import Blueprint

from webapp.search.web import register_template_helpers

bp = Blueprint("assets", __name__)
register_template_helpers(bp)

from webapp.assets import routes  # noqa: E402,F401
