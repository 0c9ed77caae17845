"""Customers: search (Portal and DMS tabs), detail pages, add from the DMS."""
from flask import Blueprint

from webapp.search.web import register_template_helpers

bp = Blueprint("customers", __name__)
register_template_helpers(bp)

from webapp.customers import routes  # noqa: E402,F401
