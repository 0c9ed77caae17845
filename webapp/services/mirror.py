"""Upserting pulled DMS records into the mirror, and applying them to portal records.

One call of :func:`store_page` is one database transaction's worth of work: the caller
commits it together with the cursor that covers the page, so a crash anywhere leaves
either the whole page and its cursor, or neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Text, bindparam, cast, insert, select, update
from sqlalchemy.orm import Session

from connectors.records import KINDS
from webapp.domain.fields import differing_fields, portal_values, unreadable_fields
from webapp.domain.normalise import customer_name_key, email_key, normalise_phone, normalise_vin
from webapp.models import ChangeSource, DmsRecord, Location, SyncMode, utcnow
from webapp.models.base import keyed, one_of
from webapp.models.change_history import record_change
from webapp.record_kinds import PORTAL_MODELS
from webapp.services.search_index import index_dms_records, tokens_of_dms_payload

# Records that point at a customer: their customer should be in the mirror too.
OWNER_KEYS = {data_type: kind.owner_field for data_type, kind in KINDS.items() if kind.owner_field}
MAX_NOTES = 25


@dataclass
class PageResult:
    """What storing one page did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    applied: int = 0  # portal records changed (automatic mode)
    notes: list[str] = field(default_factory=list)
    missing_owner_count: int = 0
    changed_ids: list[str] = field(default_factory=list)


_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def encode_payload(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The payload as stored (compact UTF-8 JSON, keys sorted) and its content hash.

    One encoding serves both: the hash is taken over the very text the mirror stores. orjson
    (several times faster than the standard library) refuses a few payloads (integers beyond 64
    bits, lone surrogates from a hostile DMS): those go through the standard library,
    ASCII-escaped; a given record always takes the same path, so it always hashes the same way."""
    try:
        blob = orjson.dumps(payload, default=str, option=_ORJSON_OPTIONS)
    except TypeError:
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return blob.decode(), hashlib.sha1(blob).hexdigest()


def content_hash(payload: Mapping[str, Any]) -> str:
    """A stable digest of a record's content: unchanged records cost no write."""
    return encode_payload(payload)[1]


def _raw_text(record: Any) -> str | None:
    """The vendor's record as received, as text for the ``raw_payload`` column (diagnosis only)."""
    raw = getattr(record, "raw", None)
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    try:
        return orjson.dumps(raw, default=str).decode()
    except TypeError:
        return json.dumps(raw, default=str)


def search_fields(data_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised columns of the mirror row, for search and linking."""
    values: dict[str, Any] = {
        "name_key": None,
        "phone": None,
        "email": None,
        "vin": None,
        "owner_dms_id": None,
        "ro_number": None,
    }
    if data_type == "customers":
        values["name_key"] = (
            customer_name_key(payload.get("first_name"), payload.get("last_name"), payload.get("company_name"))[:255]
            or None
        )
        values["phone"] = next(filter(None, map(normalise_phone, payload.get("phones") or [])), None)
        values["email"] = next(filter(None, map(email_key, payload.get("emails") or [])), None)
    elif data_type == "vehicles":
        checked = normalise_vin(payload.get("vin"))
        values["vin"] = checked.vin[:32] if checked else None
    owner_key = OWNER_KEYS.get(data_type)
    if owner_key and payload.get(owner_key):
        values["owner_dms_id"] = str(payload[owner_key])[:64]
    number_field = KINDS[data_type].number_field
    ro_number = payload.get(number_field) if number_field else payload.get("ro_number")
    if ro_number:
        values["ro_number"] = str(ro_number)[:64]
    return values


class PreparedRecord(NamedTuple):
    """What storing one pulled record needs, worked out before the database is touched.

    A plain tuple, so a page of them crosses from a pull's reading process cheaply."""

    dms_id: str
    modified_at: datetime | None
    blob: str  # the canonical record as stored (JSON text)
    digest: str  # content hash of ``blob``
    raw: str | None  # the vendor's record as received (JSON or XML text), for diagnosis only
    fields: dict[str, Any]  # the normalised search columns
    tokens: set[str] | None  # search-index tokens (customers and vehicles; None for others)

    def payload(self) -> dict[str, Any]:
        """The record's payload (decoded from ``blob``: only the few that need it pay)."""
        return json.loads(self.blob)


class PreparedPage(NamedTuple):
    """A page of records ready to store: DMS id → record, the last version of a repeated id."""

    data_type: str
    records: dict[str, PreparedRecord]


def prepare_page(data_type: str, records: Iterable[Any]) -> PreparedPage:
    """The per-record work of storing a page that needs no database: encoding, hashing,
    normalising and search tokens.

    Pure, so a pull runs it in its reading process (or thread) while the previous page is
    being written. Records appearing twice in a page (edited during the read) keep the
    last version.
    """
    indexed = data_type in PORTAL_MODELS
    prepared: dict[str, PreparedRecord] = {}
    for record in records:
        # The canonical record is stored and hashed; the vendor's raw record rides beside it.
        payload = record.to_dict()
        blob, digest = encode_payload(payload)
        prepared[record.dms_id] = PreparedRecord(
            record.dms_id,
            record.modified_at,
            blob,
            digest,
            _raw_text(record),
            search_fields(data_type, payload),
            tokens_of_dms_payload(data_type, record.dms_id, payload) if indexed else None,
        )
    return PreparedPage(data_type, prepared)


#: What a daily data file is not compared on: the DMS's change stamps. A file carries no ETag,
#: so its records never hash like the pull's (which carry one) even when nothing changed.
FILE_STAMP_FIELDS = frozenset({"etag", "modified_at"})


def _file_content(payload: Mapping[str, Any], carried: frozenset[str] | None) -> dict[str, Any]:
    """The part of a canonical record a daily file is compared on: every field the file carries
    (all when ``carried`` is None) except the change stamps; empty and absent are the same."""
    return {
        key: value
        for key, value in payload.items()
        if key not in FILE_STAMP_FIELDS and (carried is None or key in carried) and value not in (None, "")
    }


def unchanged_file_records(
    session: Session, location: Location, page: PreparedPage, carried: frozenset[str] | None = None
) -> set[str]:
    """The DMS ids of a daily file's page whose mirror row already holds the same content.

    Compared by content, not by :func:`content_hash`: a pulled record hashes its ETag and
    change time too, which a file does not carry. ``carried``: the file's columns (its header), so a field the
    file leaves out is not read as emptied. Rows deleted in the DMS are never "unchanged"."""
    if not page.records:
        return set()
    same: set[str] = set()
    rows = session.execute(
        keyed(
            session,
            select(DmsRecord.dms_id, cast(DmsRecord.payload, Text)).where(
                DmsRecord.location_id == location.id,
                DmsRecord.data_type == page.data_type,
                DmsRecord.deleted_at.is_(None),
            ),
            DmsRecord.dms_id,
            page.records,
        )
    )
    for dms_id, blob in rows:
        if not blob:
            continue
        record = page.records[dms_id]
        if _file_content(json.loads(blob), carried) == _file_content(record.payload(), carried):
            same.add(dms_id)
    return same


def without(page: PreparedPage, dms_ids: set[str]) -> PreparedPage:
    """``page`` less the records named by ``dms_ids``."""
    return PreparedPage(page.data_type, {k: v for k, v in page.records.items() if k not in dms_ids})


def store_page(
    session: Session,
    location: Location,
    data_type: str,
    records: Iterable[Any] | PreparedPage,
    *,
    run_id: int | None = None,
    now: datetime | None = None,
) -> PageResult:
    """Upsert one page of records into the mirror and apply them to the portal.

    ``records``: connector records, or a :class:`PreparedPage` of them. Does not commit.
    """
    now = now or utcnow()
    page = records if isinstance(records, PreparedPage) else prepare_page(data_type, records)
    by_id = page.records
    result = PageResult()
    if not by_id:
        return result
    existing = {
        row.dms_id: row
        for row in session.execute(
            keyed(
                session,
                select(DmsRecord.id, DmsRecord.dms_id, DmsRecord.content_hash, DmsRecord.deleted_at).where(
                    DmsRecord.location_id == location.id, DmsRecord.data_type == data_type
                ),
                DmsRecord.dms_id,
                by_id,
            )
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    updated: dict[int, str] = {}  # mirror row id → DMS id of the rows to update
    changed: dict[str, PreparedRecord] = {}
    for dms_id, record in by_id.items():
        row = existing.get(dms_id)
        if row is not None and row.content_hash == record.digest and row.deleted_at is None:
            result.unchanged += 1
            continue
        # "payload" holds the encoded JSON text: the writers store it without encoding again.
        values = {
            "payload": record.blob,
            "raw_payload": record.raw,
            "content_hash": record.digest,
            "dms_modified_at": record.modified_at,
            "last_changed_at": now,
            "deleted_at": None,
            **record.fields,
        }
        changed[dms_id] = record
        if row is None:
            inserts.append(
                {"location_id": location.id, "data_type": data_type, "dms_id": dms_id, "first_pulled_at": now, **values}
            )
        else:
            updates.append({"id": row.id, **values})
            updated[row.id] = dms_id
    result.changed_ids = list(changed)

    drift = (
        _apply_to_portal(session, location, data_type, changed, run_id, result)
        if data_type in PORTAL_MODELS and changed
        else {}
    )
    for values in inserts:
        values["drift_fields"] = drift.get(values["dms_id"])
    for values in updates:
        values["drift_fields"] = drift.get(updated[values["id"]])
    row_ids = {dms_id: row.id for dms_id, row in existing.items()}
    tokens = (
        {dms_id: record.tokens for dms_id, record in changed.items()} if changed and data_type in PORTAL_MODELS else {}
    )
    if tokens and updates:
        # Before the rows are overwritten: an edit that leaves the search tokens as they
        # were (an address, a mileage...) costs no rewrite of the record's index rows.
        for dms_id in _same_tokens_as_stored(session, data_type, tokens, updated):
            del tokens[dms_id]
    _write_rows(session.connection(), inserts, updates)
    result.created, result.updated = len(inserts), len(updates)
    if tokens:
        # The DMS tab finds mirror rows through the search index: keep it in the same transaction.
        index_dms_records(
            session, location.id, data_type, tokens, new_ids=[values["dms_id"] for values in inserts], row_ids=row_ids
        )
    _report_missing_owners(session, location, data_type, changed, result)
    return result


def _same_tokens_as_stored(
    session: Session, data_type: str, tokens: dict[str, set[str] | None], rows: dict[int, str]
) -> list[str]:
    """The DMS ids among ``rows`` (mirror row id → DMS id, rows about to be updated) whose
    stored payload has the same search tokens as the new version.

    Read from the mirror row the update touches anyway, not from the index: rewriting a
    record's index rows is the costliest part of a re-pull of edited records. The stored
    tokens were made from the stored payload; after an upgrade that changes how tokens are
    made, ``flask reindex-search`` rebuilds them (see the README)."""
    same = []
    for row_id, blob in session.execute(
        select(DmsRecord.id, cast(DmsRecord.payload, Text)).where(one_of(session, DmsRecord.id, rows))
    ):
        dms_id = rows[row_id]
        old = tokens_of_dms_payload(data_type, dms_id, json.loads(blob) if blob else {})
        if old == (tokens[dms_id] or set()):
            same.append(dms_id)
    return same


#: Every column of a mirror row but its id: a column added to the table must be written here too
#: (a row without it fails loudly in ``to_db``).
_INSERT_COLUMNS = tuple(column.name for column in DmsRecord.__table__.columns if not column.primary_key)
_UPDATE_COLUMNS = tuple(
    c for c in _INSERT_COLUMNS if c not in ("location_id", "data_type", "dms_id", "first_pulled_at")
)
_TIME_COLUMNS = ("first_pulled_at", "dms_modified_at", "last_changed_at", "deleted_at")


def _write_rows(connection: Any, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
    """Write a page's new and changed mirror rows (``payload`` already encoded as JSON text).

    Past SQLAlchemy's per-row parameter processing (the largest single cost of a pull): the
    rows are complete and their values plain, so SQLite gets the driver's
    executemany, and PostgreSQL (psycopg) a COPY for new rows and the driver's executemany
    (pipelined) for changed ones. Values are what the ORM would bind: timestamps through
    the column type, JSON as text, no drift as SQL NULL.
    """
    dialect = connection.dialect
    if dialect.name == "sqlite":
        to_db = _row_converter(dialect)
        if inserts:
            connection.exec_driver_sql(
                f"INSERT INTO dms_record ({', '.join(_INSERT_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})",
                [to_db(row, _INSERT_COLUMNS) for row in inserts],
            )
        if updates:
            connection.exec_driver_sql(
                f"UPDATE dms_record SET {', '.join(f'{c} = ?' for c in _UPDATE_COLUMNS)} WHERE id = ?",
                [(*to_db(row, _UPDATE_COLUMNS), row["id"]) for row in updates],
            )
        return
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        to_db = _row_converter(dialect)
        if inserts:
            _copy_into_mirror(connection, inserts, to_db)
        if updates:
            json_columns = ("payload", "drift_fields")
            assignments = ", ".join(f"{c} = %s::json" if c in json_columns else f"{c} = %s" for c in _UPDATE_COLUMNS)
            with connection.connection.dbapi_connection.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE dms_record SET {assignments} WHERE id = %s",
                    [(*to_db(row, _UPDATE_COLUMNS), row["id"]) for row in updates],
                )
        return
    # Other drivers: through SQLAlchemy, which encodes JSON itself.
    for rows in (inserts, updates):
        for row in rows:
            row["payload"] = json.loads(row["payload"])
    if inserts:
        connection.execute(insert(DmsRecord.__table__), inserts)
    if updates:
        connection.execute(
            update(DmsRecord.__table__)
            .where(DmsRecord.__table__.c.id == bindparam("row_id"))
            .values({c: bindparam(f"new_{c}") for c in _UPDATE_COLUMNS}),
            [{**{f"new_{c}": row[c] for c in _UPDATE_COLUMNS}, "row_id": row["id"]} for row in updates],
        )


def _row_converter(dialect: Any) -> Any:
    """``to_db(row, columns)``: the row's values in ``columns`` order, as the driver takes them."""
    table = DmsRecord.__table__
    times = {name: table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in _TIME_COLUMNS}
    times = {name: processor for name, processor in times.items() if processor is not None}

    last_time: dict[str, tuple[Any, Any]] = {}  # a page's rows share "now": converted once

    def to_db(row: dict[str, Any], columns: tuple[str, ...]) -> tuple[Any, ...]:
        values = []
        for name in columns:
            value = row[name]
            if value is not None:
                if name in times:
                    seen = last_time.get(name)
                    if seen is None or seen[0] is not value:
                        seen = last_time[name] = (value, times[name](value))
                    value = seen[1]
                elif name == "drift_fields":
                    value = json.dumps(value, separators=(",", ":"))
            values.append(value)
        return tuple(values)

    return to_db


def _copy_into_mirror(connection: Any, rows: list[dict[str, Any]], to_db: Any) -> None:
    """New mirror rows through PostgreSQL's COPY: one stream instead of a statement a row."""
    statement = f"COPY dms_record ({', '.join(_INSERT_COLUMNS)}) FROM STDIN"
    with connection.connection.dbapi_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(to_db(row, _INSERT_COLUMNS))


def _apply_to_portal(
    session: Session,
    location: Location,
    data_type: str,
    records: dict[str, PreparedRecord],
    run_id: int | None,
    result: PageResult,
) -> dict[str, list[str] | None]:
    """Automatic mode: copy DMS values onto linked portal records (with Change History).
    Review mode: return the differing fields per DMS id (drift for the sync wizard)."""
    model = PORTAL_MODELS[data_type]
    linked = session.scalars(
        select(model).where(model.location_id == location.id, one_of(session, model.dms_id, records))
    ).all()
    drift: dict[str, list[str] | None] = {}
    automatic = location.sync_mode == SyncMode.AUTOMATIC
    for record in linked:
        payload = records[record.dms_id].payload()
        fields = differing_fields(data_type, record, payload)
        if not automatic:
            drift[record.dms_id] = fields or None
            continue
        values = portal_values(data_type, payload)
        unreadable = unreadable_fields(data_type, payload)
        for attr in fields:
            if attr in unreadable:
                continue  # never replace the portal's value by nothing: left as a difference below
            old = getattr(record, attr)
            setattr(record, attr, values[attr])
            record_change(
                record=record,
                field=attr,
                old=old,
                new=values[attr],
                source=ChangeSource.DMS,
                context={"sync_run_id": run_id} if run_id else {},
            )
        if set(fields) - unreadable:
            result.applied += 1
        kept = [attr for attr in fields if attr in unreadable]
        if kept:  # the two systems still differ: flagged for the sync wizard, not stamped as synced
            drift[record.dms_id] = kept
            if len(result.notes) < MAX_NOTES:
                result.notes.append(
                    f"{data_type} record {record.dms_id}: the DMS value of "
                    f"{', '.join(kept)} could not be read; the portal's value was kept"
                )
            continue
        record.last_synced_at = utcnow()
        drift[record.dms_id] = None
    return drift


def _report_missing_owners(
    session: Session, location: Location, data_type: str, records: dict[str, PreparedRecord], result: PageResult
) -> None:
    """Records whose customer is not in the mirror still land; the run says so."""
    if data_type not in OWNER_KEYS:
        return
    owners = {dms_id: record.fields["owner_dms_id"] for dms_id, record in records.items()}
    wanted = set(filter(None, owners.values()))
    if not wanted:
        return
    known = set(
        session.scalars(
            keyed(
                session,
                select(DmsRecord.dms_id).where(
                    DmsRecord.location_id == location.id, DmsRecord.data_type == "customers"
                ),
                DmsRecord.dms_id,
                wanted,
            )
        )
    )
    for dms_id, owner in owners.items():
        if owner and owner not in known:
            result.missing_owner_count += 1
            if len(result.notes) < MAX_NOTES:
                result.notes.append(f"{data_type} {dms_id}: customer {owner} is not in the DMS mirror (yet)")


def mark_deleted(
    session: Session, location: Location, data_type: str, present_ids: set[str], now: datetime | None = None
) -> int:
    """Full reconciliation: flag mirror rows the DMS no longer has (never delete them)."""
    now = now or utcnow()
    rows = session.execute(
        select(DmsRecord.id, DmsRecord.dms_id).where(
            DmsRecord.location_id == location.id, DmsRecord.data_type == data_type, DmsRecord.deleted_at.is_(None)
        )
    )
    gone = [row.id for row in rows if row.dms_id not in present_ids]
    if gone:
        session.execute(update(DmsRecord).where(one_of(session, DmsRecord.id, gone)).values(deleted_at=now))
    return len(gone)


__all__ = [
    "PageResult",
    "content_hash",
    "encode_payload",
    "mark_deleted",
    "prepare_page",
    "PreparedPage",
    "search_fields",
    "store_page",
    "unchanged_file_records",
    "without",
]
