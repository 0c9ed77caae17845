"""Repair orders: the location's ROs pulled from the DMS and its console workfiles, in one list,
and the page of a pulled RO (lines, totals by pay type, customer and vehicle)."""
from flask import Blueprint

bp = Blueprint("repair_orders", __name__)

from webapp.repair_orders import queries, routes  # noqa: E402,F401


@bp.record_once
def _declare_indexes(state) -> None:  # noqa: ANN001 - Flask's BlueprintSetupState
    """The lists' PostgreSQL indexes belong to the models only where the migration creates them."""
    queries.declare_indexes(state.app.config["SQLALCHEMY_DATABASE_URI"])
