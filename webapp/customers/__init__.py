"""Customers: search (Portal and DMS tabs), detail pages, add from the DMS."""

from webapp.customers.routes import bp

__all__ = ["bp"]
