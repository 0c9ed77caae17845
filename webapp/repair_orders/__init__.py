"""Repair orders: the location's ROs pulled from the DMS and its console workfiles, in one list,
and the page of a pulled RO (lines, totals by pay type, customer and vehicle)."""

from webapp.repair_orders.routes import bp

__all__ = ["bp"]
