"""Customers: search (Portal and DMS tabs), detail pages, add from the DMS."""
from flask import Blueprint

bp = Blueprint("customers", __name__)

from webapp.customers import routes  # noqa: E402,F401
