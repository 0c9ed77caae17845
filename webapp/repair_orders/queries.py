"""Reading repair orders: the DMS mirror's and the console's workfiles as one list.

The list is paged by key (the RO's open date, then its source and id), never by OFFSET:
each page asks each source for the rows after the last one shown, merges the two and keeps
the first :data:`PAGE_SIZE`, so no page re-reads the rows of the pages before it. The mirror's
open date lives in the canonical JSON record (:class:`json_text` reads it in each database's
JSON dialect). On PostgreSQL an expression index per list serves the order and the page key
(:func:`declare_indexes`, migration ``0012_repair_orders``); SQLAlchemy cannot reflect an
expression index on SQLite, so there the location's rows are read through the mirror's
unique index and sorted.

A pulled RO that a listed workfile is linked to (``Workfile.dms_ro_id``) is shown once, as the
workfile; when the filters leave the workfile out, the pulled RO stands for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Index, Select, String, and_, exists, false, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement

from connectors.errors import MalformedResponseError
from connectors.records import PAY_TYPES, parse_datetime, record_from_dict
from webapp.domain.search_tokens import DMS_CUSTOMER, DMS_VEHICLE, asset_plan, customer_plan
from webapp.extensions import db
from webapp.models import Asset, Customer, DmsRecord, Location, User, Workfile
from webapp.scoping import scoped
from webapp.search.engine import candidate_ids
from webapp.search.web import customer_name, vehicle_label

RO_TYPE = "repair_orders"
PAGE_SIZE = 50
DMS, WORKFILE = "dms", "workfile"
# Tie-break between the two sources on the same open date (part of the page key).
_RANK = {DMS: 0, WORKFILE: 1}
STATUSES = (("open", "Open"), ("closed", "Closed"), ("invoiced", "Invoiced"), ("deleted", "Deleted in the DMS"))
# How many customers / vehicles a search term may stand for (the search index's cap).
SEARCH_CANDIDATES = 100


# ----------------------------------------------------------------------------- JSON text, one way per database
class json_text(FunctionElement):
    """The text of a top-level key of a JSON column: ``col ->> 'key'`` (PostgreSQL),
    ``json_extract(col, '$.key')`` (SQLite). The key is written as a literal (not a bound
    parameter), so an expression index on the same expression could serve the query."""

    type = String()
    inherit_cache = True
    name = "json_text"

    def __init__(self, column: Any, key: str) -> None:
        if not key.isidentifier():
            raise ValueError(f"not a plain JSON key: {key!r}")
        super().__init__(column, literal_column(f"'{key}'"))


def _parts(element: json_text, compiler: Any, **kw: Any) -> tuple[str, str]:
    column, key = list(element.clauses)
    return compiler.process(column, **kw), key.name.strip("'")


@compiles(json_text, "postgresql")
def _json_text_pg(element: json_text, compiler: Any, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    # No parentheses: ->> binds tighter than comparisons, and PostgreSQL shows index expressions
    # without them (the models-vs-migrations check compares the text).
    return f"{column} ->> '{key}'"


@compiles(json_text)
def _json_text_sqlite(element: json_text, compiler: Any, **kw: Any) -> str:
    column, key = _parts(element, compiler, **kw)
    return f"json_extract({column}, '$.{key}')"


def time_key(field_name: str, payload: Any = DmsRecord.payload) -> Any:
    """A mirror record's timestamp to the second, as sortable text ('YYYY-MM-DDTHH:MM:SS'; '' when
    the DMS gave none): the page key. Seconds, because stored times drop a zero fraction
    ('...:00Z' vs '...:00.5Z'), which would sort text out of time order within a second."""
    return func.coalesce(
        func.substr(json_text(payload, field_name), literal_column("1"), literal_column("19")), literal_column("''")
    )


def opened_key(table: Any = DmsRecord) -> Any:
    """The mirror RO's open date as a page key."""
    return time_key("opened_at", table.payload)


# PostgreSQL expression indexes of the lists: name -> the JSON timestamp (migration 0012_repair_orders).
INDEXES = {"ix_dms_record_ro_opened": "opened_at", "ix_dms_record_appt_scheduled": "scheduled_at"}


def declare_indexes(database_uri: str) -> None:
    """Declare :data:`INDEXES` on the mirror's table when the app runs on PostgreSQL (the only
    database the migration creates them on), so the models match the migrations. Idempotent."""
    if not database_uri.startswith("postgresql"):
        return
    table = DmsRecord.__table__
    existing = {index.name for index in table.indexes}
    for name, field_name in INDEXES.items():
        if name not in existing:
            Index(name, table.c.location_id, table.c.data_type, time_key(field_name, table.c.payload), table.c.id)


KEY_FORMAT = "%Y-%m-%dT%H:%M:%S"


def moment_key(moment: datetime) -> str:
    """A console timestamp as a page key (UTC, to the second)."""
    return moment.astimezone(UTC).strftime(KEY_FORMAT)


# ----------------------------------------------------------------------------- page key
@dataclass(frozen=True)
class PageKey:
    """Where a page starts: after the row with this open date, source rank and id."""

    opened: str
    rank: int
    id: int

    def encode(self) -> str:
        """For the ``after`` URL argument."""
        return f"{self.opened}~{self.rank}~{self.id}"

    @classmethod
    def decode(cls, text: str | None) -> PageKey | None:
        """The key in ``text``; None (first page) when it is missing or malformed."""
        if not text:
            return None
        try:
            opened, rank, record_id = text.rsplit("~", 2)
            key = cls(opened, int(rank), int(record_id))
        except ValueError:
            return None
        if key.rank not in _RANK.values() or (key.opened and parse_datetime_or_none(key.opened) is None):
            return None
        return key


def parse_datetime_or_none(text: str) -> datetime | None:
    """A timestamp in the canonical format, or None."""
    try:
        return parse_datetime(text)
    except (ValueError, TypeError):
        return None


def key_after(key_expr: Any, id_expr: Any, rank: int, after: PageKey, ascending: bool = False) -> Any:
    """Mirror rows (page key ``key_expr``, constant ``rank``) that come after ``after`` in the
    list's order: newest first, or oldest first when ``ascending``."""
    # The bound on the key first (one the index can seek to), then the tie-break within the same second.
    if ascending:
        if rank > after.rank:
            return key_expr >= after.opened
        if rank < after.rank:
            return key_expr > after.opened
        return and_(key_expr >= after.opened, or_(key_expr > after.opened, id_expr > after.id))
    if rank < after.rank:
        return key_expr <= after.opened
    if rank > after.rank:
        return key_expr < after.opened
    return and_(key_expr <= after.opened, or_(key_expr < after.opened, id_expr < after.id))


def moment_after(at: Any, id_expr: Any, rank: int, after: PageKey, ascending: bool = False) -> Any:
    """Console rows (timestamp column ``at``, constant ``rank``) that come after ``after`` in the
    list's order; None when every row does. Keys are whole seconds, so "key < S" is "at < S"
    and "key <= S" is "at < S + 1 s"."""
    if not after.opened:
        # '' (no time) sorts before every time: every row is past it oldest first, none newest first.
        return None if ascending else false()
    second = parse_datetime(after.opened)
    later = second + timedelta(seconds=1)
    if ascending:
        if rank > after.rank:
            return at >= second
        if rank < after.rank:
            return at >= later
        return or_(at >= later, and_(at >= second, id_expr > after.id))
    if rank < after.rank:
        return at < later
    if rank > after.rank:
        return at < second
    return or_(at < second, and_(at < later, id_expr < after.id))


# ----------------------------------------------------------------------------- filters
@dataclass
class Filters:
    """What the list is narrowed to (all optional)."""

    status: str | None = None
    advisor: User | None = None
    brand: str | None = None
    q: str = ""

    @property
    def active(self) -> bool:
        """True when anything narrows the list."""
        return bool(self.status or self.advisor or self.brand or self.q)


def advisor_and_brand(
    location: Location, args: Mapping[str, str], people: list[User]
) -> tuple[User | None, str | None, dict[str, str]]:
    """The advisor (one of ``people``, by ``advisor_id``) and brand (one of the location's) a list
    (repair orders, appointments) is narrowed to from its query string, and a message per
    filter that names neither."""
    errors: dict[str, str] = {}
    advisor = brand = None
    advisor_id = (args.get("advisor_id") or "").strip()
    if advisor_id:
        advisor = next((u for u in people if str(u.id) == advisor_id), None)
        if advisor is None:
            errors["advisor_id"] = f"Choose one of the advisors of {location.name}."
    wanted = (args.get("brand") or "").strip().lower()
    if wanted:
        brand = next((b for b in (location.brands or []) if b.lower() == wanted), None)
        if brand is None:
            errors["brand"] = f"Choose one of the brands of {location.name}."
    return advisor, brand, errors


def _matching_dms_ids(location_id: int, term: str) -> tuple[list[str], list[str]]:
    """DMS ids of mirror customers (by name, phone...) and vehicles (VIN, plate...) that match ``term``."""
    customer_ids = candidate_ids(
        db.session, DMS_CUSTOMER, location_id, customer_plan(term).alternatives, SEARCH_CANDIDATES
    )
    vehicle_ids = candidate_ids(db.session, DMS_VEHICLE, location_id, asset_plan(term).alternatives, SEARCH_CANDIDATES)
    ids = customer_ids + vehicle_ids
    if not ids:
        return [], []
    rows = db.session.execute(
        select(DmsRecord.id, DmsRecord.dms_id).where(DmsRecord.location_id == location_id, DmsRecord.id.in_(ids))
    )
    by_id = {row.id: row.dms_id for row in rows}
    return [by_id[i] for i in customer_ids if i in by_id], [by_id[i] for i in vehicle_ids if i in by_id]


def _dms_page_ids(location: Location, filters: Filters, after: PageKey | None, limit: int) -> list[tuple[str, int]]:
    """(open date key, mirror id) of the next ``limit`` mirror ROs."""
    key = opened_key()
    query = (
        scoped(DmsRecord)
        .with_only_columns(key.label("opened"), DmsRecord.id)
        .where(DmsRecord.location_id == location.id, DmsRecord.data_type == RO_TYPE)
    )
    if filters.status == "deleted":
        query = query.where(DmsRecord.deleted_at.is_not(None))
    elif filters.status:
        query = query.where(json_text(DmsRecord.payload, "status") == filters.status)
    if filters.advisor is not None:
        dms_id = (filters.advisor.advisor_dms_id or "").strip().upper()
        if not dms_id:
            return []
        query = query.where(func.upper(json_text(DmsRecord.payload, "advisor_dms_id")) == dms_id)
    vehicle_dms_id = json_text(DmsRecord.payload, "vehicle_dms_id")
    if filters.brand:
        query = query.where(brand_condition(location, filters.brand))
    if filters.q:
        term = filters.q.strip()
        customer_ids, vehicle_ids = _matching_dms_ids(location.id, term)
        matches = [func.upper(DmsRecord.ro_number).like(_prefix(term.upper()), escape="\\")]
        if customer_ids:
            matches.append(DmsRecord.owner_dms_id.in_(customer_ids))
        if vehicle_ids:
            matches.append(vehicle_dms_id.in_(vehicle_ids))
        query = query.where(or_(*matches))
    workfiles = _workfiles(location, filters)
    if workfiles is not None:
        # A pulled RO a listed workfile is linked to is shown once: as that workfile.
        query = query.where(
            ~exists(workfiles.with_only_columns(Workfile.id).where(Workfile.dms_ro_id == DmsRecord.dms_id))
        )
    if after is not None:
        query = query.where(key_after(key, DmsRecord.id, _RANK[DMS], after))
    query = query.order_by(key.desc(), DmsRecord.id.desc()).limit(limit)
    return [(row.opened, row.id) for row in db.session.execute(query)]


def brand_condition(location: Location, brand: str) -> Any:
    """A mirror record (RO, appointment) whose vehicle is of ``brand``: the make of the mirror's
    vehicle, or of the portal asset with that DMS id when the vehicle was never pulled."""
    brand = brand.strip().lower()
    vehicle_dms_id = json_text(DmsRecord.payload, "vehicle_dms_id")
    vehicle = aliased(DmsRecord)
    mirror_vehicle = select(vehicle.id).where(
        vehicle.location_id == location.id, vehicle.data_type == "vehicles", vehicle.dms_id == vehicle_dms_id
    )
    return or_(
        exists(mirror_vehicle.where(func.lower(json_text(vehicle.payload, "make")) == brand)),
        and_(
            ~exists(mirror_vehicle),
            exists(
                select(Asset.id).where(
                    Asset.location_id == location.id, Asset.dms_id == vehicle_dms_id, func.lower(Asset.make) == brand
                )
            ),
        ),
    )


def _prefix(text: str) -> str:
    """A LIKE pattern for values starting with ``text`` (its wildcards taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _contains(text: str) -> str:
    """A LIKE pattern for values containing ``text``."""
    return "%" + _prefix(text)


def _workfiles(location: Location, filters: Filters) -> Select | None:
    """The location's console workfiles the filters let through (a select with their assets
    joined), or None when they leave none. Workfiles have no DMS advisor: the advisor filter
    keeps those the advisor started."""
    if filters.status in ("invoiced", "deleted"):
        return None
    query = scoped(Workfile).outerjoin(Asset, Asset.id == Workfile.asset_id).where(Workfile.location_id == location.id)
    if filters.advisor is not None:
        query = query.where(Workfile.created_by_id == filters.advisor.id)
    if filters.status == "open":
        query = query.where(Workfile.is_closed.is_(False))
    elif filters.status == "closed":
        query = query.where(Workfile.is_closed.is_(True))
    if filters.brand:
        make = func.lower(func.coalesce(Workfile.vehicle_make, Asset.make))
        query = query.where(make == filters.brand.strip().lower())
    if filters.q:
        like = _contains(filters.q.strip().lower())
        query = query.where(
            or_(
                *(
                    func.lower(column).like(like, escape="\\")
                    for column in (Workfile.dms_repair_id, Workfile.customer_name, Workfile.vin, Asset.license_plate)
                )
            )
        )
    return query


def _workfile_page(location: Location, filters: Filters, after: PageKey | None, limit: int) -> list[Workfile]:
    """The next ``limit`` console workfiles."""
    query = _workfiles(location, filters)
    if query is None:
        return []
    if after is not None:
        query = query.where(moment_after(Workfile.created_at, Workfile.id, _RANK[WORKFILE], after))
    # Within one second the list orders by id; workfile ids grow with created_at.
    query = query.order_by(Workfile.created_at.desc(), Workfile.id.desc()).limit(limit)
    return list(db.session.scalars(query))


# ----------------------------------------------------------------------------- rows
@dataclass
class RepairOrderRow:
    """One line of the list, whichever source it comes from."""

    source: str  # DMS or WORKFILE
    record_id: int
    opened_key: str
    number: str
    status: str  # open, closed, invoiced
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    advisor: str | None = None
    customer: str | None = None
    customer_url_id: int | None = None  # portal customer
    vehicle: str | None = None
    vin: str | None = None
    plate: str | None = None
    asset_url_id: int | None = None  # portal asset
    brand: str | None = None
    totals: dict[str, Decimal] = field(default_factory=dict)  # by pay type (DMS ROs)
    total: Decimal | None = None  # workfiles: the estimate / workfile total
    deleted_at: datetime | None = None
    unreadable: bool = False  # the stored record no longer validates (shown, never hidden)
    dms_id: str | None = None  # DMS ROs: their page's URL argument

    @property
    def page_key(self) -> PageKey:
        """The key of this row (the next page starts after the last row's)."""
        return PageKey(self.opened_key, _RANK[self.source], self.record_id)

    @property
    def status_label(self) -> str:
        """Open / Closed / Invoiced."""
        return self.status.title()


@dataclass
class Page:
    """One page of the list."""

    rows: list[RepairOrderRow]
    next_key: PageKey | None


def advisor_names(location: Location, people: list[User] | None = None) -> dict[str, list[str]]:
    """Upper-cased advisor DMS id -> names of the location's active advisors holding it
    (``people``: the location's advisors when the caller has loaded them already)."""
    from webapp.appointments.service import advisors

    names: dict[str, list[str]] = {}
    for user in advisors(location) if people is None else people:
        dms_id = (user.advisor_dms_id or "").strip().upper()
        if dms_id:
            names.setdefault(dms_id, []).append(user.name)
    return names


def advisor_label(names: dict[str, list[str]], dms_id: str | None) -> str | None:
    """Who an advisor DMS id is at this location ('DMS advisor 42' when nobody holds it)."""
    if not dms_id:
        return None
    holders = names.get(dms_id.strip().upper())
    if not holders:
        return f"DMS advisor {dms_id}"
    return " / ".join(holders) + (" (shared DMS ID)" if len(holders) > 1 else "")


@dataclass
class Related:
    """The customers and vehicles a set of DMS ROs name, in the mirror and in the portal."""

    mirror_customers: dict[str, DmsRecord]
    mirror_vehicles: dict[str, DmsRecord]
    portal_customers: dict[str, Customer]
    portal_assets: dict[str, Asset]


def related(location: Location, customer_ids: Iterable[str], vehicle_ids: Iterable[str]) -> Related:
    """Load, in four queries, what the ROs' customer and vehicle DMS ids point at."""
    customer_ids, vehicle_ids = sorted({c for c in customer_ids if c}), sorted({v for v in vehicle_ids if v})

    def mirror(data_type: str, ids: list[str]) -> dict[str, DmsRecord]:
        if not ids:
            return {}
        return {
            r.dms_id: r
            for r in db.session.scalars(
                scoped(DmsRecord).where(
                    DmsRecord.location_id == location.id, DmsRecord.data_type == data_type, DmsRecord.dms_id.in_(ids)
                )
            )
        }

    def portal(model: Any, ids: list[str]) -> dict[str, Any]:
        if not ids:
            return {}
        found: dict[str, Any] = {}
        for record in db.session.scalars(
            scoped(model).where(model.location_id == location.id, model.dms_id.in_(ids)).order_by(model.id)
        ):
            found.setdefault(record.dms_id, record)
        return found

    return Related(
        mirror("customers", customer_ids),
        mirror("vehicles", vehicle_ids),
        portal(Customer, customer_ids),
        portal(Asset, vehicle_ids),
    )


@dataclass
class Parties:
    """Who and what a DMS record (RO, appointment) is for, as the lists show them."""

    customer: str | None = None
    customer_id: int | None = None  # portal customer
    vehicle: str | None = None
    vin: str | None = None
    plate: str | None = None
    brand: str | None = None
    asset_id: int | None = None  # portal asset


def parties(found: Related, customer_dms_id: str | None, vehicle_dms_id: str | None) -> Parties:
    """The customer and vehicle named by DMS id: the mirror's copy first, then the portal record
    linked to it, else the bare DMS id."""
    customer_dms_id, vehicle_dms_id = customer_dms_id or "", vehicle_dms_id or ""
    result = Parties()
    customer = found.mirror_customers.get(customer_dms_id)
    portal_customer = found.portal_customers.get(customer_dms_id)
    if customer is not None:
        result.customer = customer_name(customer.payload)
    elif portal_customer is not None:
        result.customer = portal_customer.display_name
    elif customer_dms_id:
        result.customer = f"DMS customer {customer_dms_id}"
    result.customer_id = portal_customer.id if portal_customer else None
    vehicle, asset = found.mirror_vehicles.get(vehicle_dms_id), found.portal_assets.get(vehicle_dms_id)
    if vehicle is not None:
        result.vehicle, result.vin = vehicle_label(vehicle.payload), vehicle.payload.get("vin") or None
        result.plate, result.brand = vehicle.payload.get("plate") or None, vehicle.payload.get("make") or None
    elif asset is not None:
        result.vehicle, result.vin = asset.description, asset.vin
        result.plate, result.brand = asset.license_plate, asset.make
    elif vehicle_dms_id:
        result.vehicle = f"DMS vehicle {vehicle_dms_id}"
    result.asset_id = asset.id if asset else None
    return result


def parse_ro(record: DmsRecord):
    """The canonical repair order of a mirror row (None if it no longer validates)."""
    try:
        return record_from_dict(
            RO_TYPE,
            {
                **record.payload,
                "dms_id": record.dms_id,
                "modified_at": record.payload.get("modified_at") or record.last_changed_at,
            },
        )
    except (MalformedResponseError, ValueError, TypeError):
        return None


def dms_row(
    record: DmsRecord, ro: Any, found: Related | None, names: dict[str, list[str]], opened_key: str = ""
) -> RepairOrderRow:
    """The row of a pulled RO (``ro``: its parsed record, None when it no longer validates; ``found``:
    what :func:`related` found for it)."""
    row = RepairOrderRow(
        source=DMS,
        record_id=record.id,
        opened_key=opened_key,
        number=record.ro_number or record.dms_id,
        status=str(record.payload.get("status") or "open"),
        deleted_at=record.deleted_at,
        unreadable=ro is None,
        dms_id=record.dms_id,
    )
    if ro is None or found is None:
        return row
    row.status = ro.status
    row.opened_at, row.closed_at = ro.opened_at, ro.closed_at
    row.advisor = advisor_label(names, ro.advisor_dms_id)
    row.totals = {pay_type: ro.totals_by_pay_type.get(pay_type, Decimal("0.00")) for pay_type in PAY_TYPES}
    who = parties(found, ro.customer_dms_id, ro.vehicle_dms_id)
    row.customer, row.customer_url_id = who.customer, who.customer_id
    row.vehicle, row.vin, row.plate, row.brand = who.vehicle, who.vin, who.plate, who.brand
    row.asset_url_id = who.asset_id
    return row


def _dms_rows(location: Location, ids: list[tuple[str, int]], people: list[User] | None) -> list[RepairOrderRow]:
    if not ids:
        return []
    records = {r.id: r for r in db.session.scalars(scoped(DmsRecord).where(DmsRecord.id.in_([i for _, i in ids])))}
    parsed = {rid: parse_ro(records[rid]) for _, rid in ids}
    found = related(
        location,
        (ro.customer_dms_id for ro in parsed.values() if ro),
        (ro.vehicle_dms_id for ro in parsed.values() if ro),
    )
    names = advisor_names(location, people)
    return [dms_row(records[rid], parsed[rid], found, names, opened) for opened, rid in ids]


def _workfile_row(workfile: Workfile) -> RepairOrderRow:
    asset = workfile.asset
    return RepairOrderRow(
        source=WORKFILE,
        record_id=workfile.id,
        opened_key=moment_key(workfile.created_at),
        number=workfile.number,
        status="closed" if workfile.is_closed else "open",
        opened_at=workfile.created_at,
        closed_at=workfile.closed_at,
        customer=workfile.customer_name or None,
        customer_url_id=workfile.customer_id,
        vehicle=workfile.vehicle if workfile.vehicle != "—" else None,
        vin=workfile.vin or (asset.vin if asset else None),
        plate=asset.license_plate if asset else None,
        asset_url_id=workfile.asset_id,
        brand=workfile.vehicle_make or (asset.make if asset else None),
        total=workfile.total,
    )


def page(
    location: Location, filters: Filters, after: PageKey | None, size: int = PAGE_SIZE, people: list[User] | None = None
) -> Page:
    """One page of the merged list, newest open date first (``people``: the location's advisors,
    when the caller has loaded them already)."""
    dms_ids = _dms_page_ids(location, filters, after, size + 1)
    workfiles = _workfile_page(location, filters, after, size + 1)
    rows = _dms_rows(location, dms_ids, people) + [_workfile_row(w) for w in workfiles]
    rows.sort(key=lambda r: (r.opened_key, _RANK[r.source], r.record_id), reverse=True)
    shown = rows[:size]
    return Page(shown, shown[-1].page_key if len(rows) > size else None)


def dms_repair_order_or_404(dms_id: str) -> DmsRecord:
    """A pulled RO of the current location by its DMS id (404 when missing or another location's)."""
    from flask import abort

    record = db.session.scalar(scoped(DmsRecord).where(DmsRecord.data_type == RO_TYPE, DmsRecord.dms_id == dms_id[:64]))
    if record is None:
        abort(404)
    return record
