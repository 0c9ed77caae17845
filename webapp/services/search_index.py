"""Keeping the search index in step with customers, assets and the DMS mirror.

Portal records index themselves: ORM flush hooks, on every session of a process that imported
this module, normalise their stored values (E.164 phones, lower-case e-mails, upper-case VINs
with the check digit flagged) and rewrite their tokens in the same transaction. The DMS mirror is
written with bulk statements (:mod:`webapp.services.mirror`), which bypass the ORM, so the mirror
writer calls :func:`index_dms_records` with the rows it just upserted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import any_, bindparam, delete, event, func, insert, literal_column, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from webapp.domain.normalise import clean_text, normalise_email, normalise_phone, normalise_vin
from webapp.domain.search_tokens import (
    ASSET,
    CUSTOMER,
    DMS_CUSTOMER,
    DMS_VEHICLE,
    asset_tokens,
    compact,
    customer_tokens,
    sort_name,
)
from webapp.models import Asset, Customer, DmsRecord, SearchToken
from webapp.models.base import keyed, one_of

DMS_SCOPES = {"customers": DMS_CUSTOMER, "vehicles": DMS_VEHICLE}
_TABLE = SearchToken.__table__


# --------------------------------------------------------------------------- tokens of a record
def tokens_of_customer(customer: Customer) -> set[str]:
    """The tokens of a portal customer."""
    return customer_tokens(
        first_name=customer.first_name,
        last_name=customer.last_name,
        company_name=customer.company_name,
        phones=(customer.phone, customer.mobile_phone),
        emails=(customer.email,),
        dms_id=customer.dms_id,
    )


def tokens_of_asset(asset: Asset) -> set[str]:
    """The tokens of a portal asset (its owner is found through the customer's tokens)."""
    return asset_tokens(
        vin=asset.vin,
        unit_number=asset.unit_number,
        plate=asset.license_plate,
        dms_id=asset.dms_id,
        year=asset.year,
        make=asset.make,
        model=asset.model,
    )


def tokens_of_dms_payload(data_type: str, dms_id: str, payload: Mapping[str, Any]) -> set[str]:
    """The tokens of a mirrored DMS customer or vehicle (other data types have none)."""
    if data_type == "customers":
        return customer_tokens(
            first_name=payload.get("first_name"),
            last_name=payload.get("last_name"),
            company_name=payload.get("company_name"),
            phones=payload.get("phones") or (),
            emails=payload.get("emails") or (),
            dms_id=dms_id,
        )
    if data_type == "vehicles":
        return asset_tokens(
            vin=payload.get("vin"),
            unit_number=payload.get("unit_number"),
            plate=payload.get("plate"),
            dms_id=dms_id,
            year=payload.get("year"),
            make=payload.get("make"),
            model=payload.get("model"),
        )
    return set()


def _replace(
    conn: Connection,
    scope: str,
    location_id: int,
    tokens_by_record: Mapping[int, set[str]],
    fresh: frozenset[int] | set[int] = frozenset(),
) -> None:
    """Swap the stored tokens of these records for the given ones (``fresh``: records just
    inserted, which have none to remove)."""
    ids = [record_id for record_id in tokens_by_record if record_id not in fresh]
    if ids:
        conn.execute(tokens_delete(conn, scope, location_id, ids))
    if conn.dialect.name == "sqlite":
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter processing
        # was a quarter of a pull's time, and these rows are plain strings and integers.
        tuples = [
            (scope, location_id, token, record_id) for record_id, tokens in tokens_by_record.items() for token in tokens
        ]
        if tuples:
            conn.exec_driver_sql(_SQLITE_INSERT, tuples)
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        # COPY: one round trip for thousands of rows (executemany sends one statement a row).
        with conn.connection.dbapi_connection.cursor() as cursor:
            with cursor.copy("COPY search_token (scope, location_id, token, record_id) FROM STDIN") as copy:
                for record_id, tokens in tokens_by_record.items():
                    for token in tokens:
                        copy.write_row((scope, location_id, token, record_id))
        return
    rows = [
        {"scope": scope, "location_id": location_id, "token": token, "record_id": record_id}
        for record_id, tokens in tokens_by_record.items()
        for token in tokens
    ]
    for start in range(0, len(rows), 5000):
        conn.execute(insert(_TABLE), rows[start : start + 5000])


def tokens_delete(conn: Connection, scope: str, location_id: int, record_ids: list[int]) -> Any:
    """The statement removing the stored tokens of these records.

    PostgreSQL: each record's rows are found on their own in the record index
    (:func:`~webapp.models.base.keyed`) and deleted by their physical address (a TID scan),
    so neither step is planned from statistics. A delete by ``record_id = ANY(...)``, or
    one joining the rows found to the table, was planned as a scan of the location's whole
    index when the statistics were stale (64 s for 1,000 records at 41,000 rows). Index
    rows are only ever inserted and deleted, never updated, so an address found in this
    statement's snapshot is the row's own."""
    if conn.dialect.name != "postgresql":
        return delete(_TABLE).where(
            _TABLE.c.scope == scope, _TABLE.c.location_id == location_id, one_of(conn, _TABLE.c.record_id, record_ids)
        )
    stored = _TABLE.alias("stored")
    found = keyed(
        conn,
        select(literal_column("stored.ctid").label("tid"))
        .select_from(stored)
        .where(stored.c.scope == scope, stored.c.location_id == location_id),
        stored.c.record_id,
        record_ids,
    )
    return delete(_TABLE).where(literal_column("search_token.ctid") == any_(func.array(found.scalar_subquery())))


_SQLITE_INSERT = "INSERT INTO search_token (scope, location_id, token, record_id) VALUES (?, ?, ?, ?)"


# --------------------------------------------------------------------------- public API
def index_dms_records(
    session: Session,
    location_id: int,
    data_type: str,
    tokens: Mapping[str, set[str] | None],
    new_ids: Iterable[str] = (),
    row_ids: Mapping[str, int] | None = None,
) -> int:
    """(Re)write the search tokens of mirror rows a pull just upserted; returns how many rows.

    ``tokens``: DMS id → its tokens (:func:`tokens_of_dms_payload`, worked out by the pull
    as it prepares a page). ``new_ids`` names the rows just inserted, which have no old
    tokens to remove; ``row_ids`` maps DMS ids to mirror row ids where the caller knows
    them, saving a look-up. Data types other than customers and vehicles are ignored. Call
    it in the pull's transaction.
    """
    scope = DMS_SCOPES.get(data_type)
    if scope is None:
        return 0
    known = dict(row_ids or {})
    missing = [dms_id for dms_id in tokens if dms_id not in known]
    if missing:
        known.update(
            session.execute(
                keyed(
                    session,
                    select(DmsRecord.dms_id, DmsRecord.id).where(
                        DmsRecord.location_id == location_id, DmsRecord.data_type == data_type
                    ),
                    DmsRecord.dms_id,
                    missing,
                )
            )
            .tuples()
            .all()
        )
    by_row = {known[dms_id]: record_tokens or set() for dms_id, record_tokens in tokens.items() if dms_id in known}
    fresh = {known[dms_id] for dms_id in new_ids if dms_id in known}
    _replace(session.connection(), scope, location_id, by_row, fresh)
    return len(by_row)


REINDEX_BATCH = 2000


def _reindex_table(
    session: Session,
    table: Any,
    location_id: int,
    where: Any,
    batch_size: int,
    tokens_of: Callable[[Mapping[str, Any]], tuple[str, set[str]]],
    after_batch: Callable[[list[Mapping[str, Any]]], None] | None = None,
) -> int:
    """Rewrite the tokens of every row of ``table`` in one location, ``batch_size`` rows per commit.

    Keyset paging on the id (not OFFSET) so each batch costs the same at a million rows;
    one commit per batch so a long rebuild neither holds one huge transaction nor loses
    everything when interrupted (running it again simply redoes the work).
    """
    last_id, count = 0, 0
    while True:
        rows = (
            session.execute(
                select(table)
                .where(table.c.location_id == location_id, table.c.id > last_id, *where)
                .order_by(table.c.id)
                .limit(batch_size)
            )
            .mappings()
            .all()
        )
        if not rows:
            return count
        by_scope: dict[str, dict[int, set[str]]] = {}
        for row in rows:
            scope, tokens = tokens_of(row)
            by_scope.setdefault(scope, {})[row["id"]] = tokens
        conn = session.connection()
        for scope, tokens_by_record in by_scope.items():
            _replace(conn, scope, location_id, tokens_by_record)
        if after_batch:
            after_batch(rows)
        session.commit()
        last_id, count = rows[-1]["id"], count + len(rows)


def _drop_orphans(session: Session, scope: str, location_id: int, table: Any, *where: Any) -> None:
    """Remove tokens pointing at records that no longer exist (deleted outside the ORM)."""
    alive = select(table.c.id).where(table.c.location_id == location_id, *where)
    session.execute(
        delete(_TABLE).where(
            _TABLE.c.scope == scope, _TABLE.c.location_id == location_id, _TABLE.c.record_id.not_in(alive)
        )
    )
    session.commit()


def reindex_location(session: Session, location_id: int, batch_size: int = REINDEX_BATCH) -> dict[str, int]:
    """Rebuild the search index (and customers' sort names) of one location, in batches.

    Used by ``flask reindex-search`` — after the search migration on a database that
    already holds records, after an upgrade that changes what is indexed (assets' year,
    make and model, customers' e-mail domains), or whenever the index is suspected stale. Reads and writes
    with Core statements: no ORM flush hooks, no objects kept in memory.
    """
    tables = _TABLE.metadata.tables
    customers, assets, mirror = tables["customer"], tables["asset"], tables["dms_record"]

    def customer_row(row: Mapping[str, Any]) -> tuple[str, set[str]]:
        return CUSTOMER, customer_tokens(
            first_name=row["first_name"],
            last_name=row["last_name"],
            company_name=row["company_name"],
            phones=(row["phone"], row["mobile_phone"]),
            emails=(row["email"],),
            dms_id=row["dms_id"],
        )

    def store_sort_names(rows: list[Mapping[str, Any]]) -> None:
        session.execute(
            update(customers)
            .where(customers.c.id == bindparam("record_id"))
            .values(sort_name=bindparam("new_sort_name")),
            [
                {
                    "record_id": row["id"],
                    "new_sort_name": sort_name(
                        row["first_name"], row["last_name"], row["company_name"], bool(row["is_business"])
                    ),
                }
                for row in rows
            ],
        )

    def asset_row(row: Mapping[str, Any]) -> tuple[str, set[str]]:
        return ASSET, asset_tokens(
            vin=row["vin"],
            unit_number=row["unit_number"],
            plate=row["license_plate"],
            dms_id=row["dms_id"],
            year=row["year"],
            make=row["make"],
            model=row["model"],
        )

    def mirror_row(row: Mapping[str, Any]) -> tuple[str, set[str]]:
        return DMS_SCOPES[row["data_type"]], tokens_of_dms_payload(
            row["data_type"], row["dms_id"], row["payload"] or {}
        )

    mirrored = (mirror.c.data_type.in_(list(DMS_SCOPES)),)
    counts = {
        "customers": _reindex_table(session, customers, location_id, (), batch_size, customer_row, store_sort_names),
        "assets": _reindex_table(session, assets, location_id, (), batch_size, asset_row),
        "dms records": _reindex_table(session, mirror, location_id, mirrored, batch_size, mirror_row),
    }
    _drop_orphans(session, CUSTOMER, location_id, customers)
    _drop_orphans(session, ASSET, location_id, assets)
    for data_type, scope in DMS_SCOPES.items():
        _drop_orphans(session, scope, location_id, mirror, mirror.c.data_type == data_type)
    return counts


# --------------------------------------------------------------------------- normalised storage
def normalise_customer(customer: Customer) -> None:
    """Store phones in E.164 and e-mails lower-case; keep what cannot be parsed, cleaned."""
    for attr in ("phone", "mobile_phone"):
        value = getattr(customer, attr)
        if value:
            setattr(customer, attr, normalise_phone(value) or clean_text(value, 32) or None)
    if customer.email:
        customer.email = normalise_email(customer.email) or clean_text(customer.email, 254).lower() or None
    customer.sort_name = sort_name(
        customer.first_name, customer.last_name, customer.company_name, bool(customer.is_business)
    )


def normalise_asset(asset: Asset) -> None:
    """Upper-case the VIN and flag a failed check digit (legacy VINs are kept, never refused)."""
    checked = normalise_vin(asset.vin) if asset.vin else None
    if checked:
        asset.vin = checked.vin[:32]
        asset.vin_valid = checked.check_digit_ok
    elif asset.vin is not None:
        asset.vin, asset.vin_valid = None, None
    if asset.unit_number:
        asset.unit_number = compact(asset.unit_number)[:32] or None
    if asset.license_plate:
        asset.license_plate = compact(asset.license_plate)[:16] or None


# --------------------------------------------------------------------------- ORM hooks
@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Normalise the customers and assets about to be written."""
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Customer):
            normalise_customer(obj)
        elif isinstance(obj, Asset):
            normalise_asset(obj)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    """Rewrite the tokens of what was just written (same transaction), drop those of deleted rows."""
    conn = session.connection()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Customer) and obj.id is not None:
            _replace(conn, CUSTOMER, obj.location_id, {obj.id: tokens_of_customer(obj)})
        elif isinstance(obj, Asset) and obj.id is not None:
            _replace(conn, ASSET, obj.location_id, {obj.id: tokens_of_asset(obj)})
        elif isinstance(obj, DmsRecord) and obj.id is not None and obj.data_type in DMS_SCOPES:
            _replace(
                conn,
                DMS_SCOPES[obj.data_type],
                obj.location_id,
                {obj.id: tokens_of_dms_payload(obj.data_type, obj.dms_id, obj.payload or {})},
            )
    for obj in session.deleted:
        scope = {Customer: CUSTOMER, Asset: ASSET}.get(type(obj))
        if isinstance(obj, DmsRecord):
            scope = DMS_SCOPES.get(obj.data_type)
        if scope and obj.id is not None:
            _replace(conn, scope, obj.location_id, {obj.id: set()})
