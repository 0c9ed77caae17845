"""The listings open in index order (migration 0017): the first page of a location's assets (by
VIN) and of the DMS tab's mirror customers (by name) and vehicles (by VIN) is read from an index,
not found by sorting every row of the location. Asked of the database's own planner (PostgreSQL,
or SQLite, the embedded default) for the statements the pages really send."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, text

from webapp.extensions import db
from webapp.models import Asset, DmsRecord, Role, utcnow

ROWS = 4_000


def _fill(location_id: int) -> None:
    """A location with many assets and a mirror of customers, vehicles and repair orders."""
    now = utcnow()
    db.session.execute(
        insert(Asset),
        [{"location_id": location_id, "vin": f"1FTFW1ET{n:09d}", "year": 2020} for n in range(ROWS)],
    )
    mirror = []
    for data_type in ("customers", "vehicles", "repair_orders"):
        for n in range(ROWS):
            mirror.append(
                {
                    "location_id": location_id,
                    "data_type": data_type,
                    "dms_id": f"{data_type[0]}{n}",
                    "payload": {},
                    "content_hash": "x",
                    "first_pulled_at": now,
                    "last_changed_at": now,
                    "name_key": f"smith {n:05d}" if data_type == "customers" else None,
                    "vin": f"3GCUK{n:012d}" if data_type == "vehicles" else None,
                    "deleted_at": now if n % 10 == 0 else None,
                }
            )
    db.session.execute(insert(DmsRecord), mirror)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _statements(app, client, url: str, order_by: str) -> list[tuple[str, object]]:
    """The statements (with their parameters) the page ``url`` sent that order by ``order_by``."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if f"ORDER BY {order_by}" in statement:
            seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert response.status_code == 200, url
    assert seen, f"{url} sent no statement ordered by {order_by}"
    return seen


def _plan(statement: str, parameters) -> str:
    """The planner's plan of ``statement`` as text, whatever the database."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
    else:
        rows = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    return "\n".join(rows)


@pytest.mark.parametrize(
    ("url", "order_by", "index"),
    [
        ("/assets", "asset.vin", "ix_asset_vin"),
        ("/customers?tab=dms", "dms_record.name_key", "ix_dms_record_customer_list"),
        ("/assets?tab=dms", "dms_record.vin", "ix_dms_record_vehicle_list"),
    ],
)
def test_a_listing_reads_its_first_page_from_an_index(app, client, auth, make, url, order_by, index):
    location = make.location()
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    with app.app_context():
        _fill(location.id)
    auth.login(advisor.email)
    statements = _statements(app, client, url, order_by)
    with app.app_context():
        plans = [_plan(statement, parameters) for statement, parameters in statements]
    for plan in plans:
        assert index in plan, plan
        assert "TEMP B-TREE FOR ORDER BY" not in plan and "Sort" not in plan, plan
