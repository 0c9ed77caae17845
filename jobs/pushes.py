"""Delivery of outbox messages to the DMS (see :mod:`webapp.outbox` for how rows are written).

One job, :func:`deliver_pushes` ``(location_id)``, drains every due message of a location
with one DMS connection (one HTTP session and token), so ten thousand queued pushes cost a
handful of jobs, not ten thousand. It works in chunks: one UPDATE claims up to
:data:`CHUNK_MAX` messages, their records are loaded together, the messages are sent one
by one, and all their results are committed in one transaction. Chunks start at one
message and double while a chunk takes under :data:`CHUNK_SECONDS` (a lone booking is
recorded at once; a slow DMS keeps chunks small). Guarantees:

* **At most one copy in the DMS.** A message is claimed with a conditional UPDATE (two
  workers never send the same message at once; PostgreSQL skips rows another job is
  claiming) and sent with its idempotency key, so a resend after a crash - between
  sending and committing the chunk's results - gets the DMS's first answer back instead
  of a second record. The claim names the RQ job; when a worker is SIGKILLed, RQ
  re-queues the job (``Retry``) and the same job id re-claims its chunk. A message left
  ``sending`` by a job that never comes back is taken over after :data:`STUCK_AFTER`
  (a job gives back the untried rest of a chunk long before that).
* **Order per record.** A message is only a candidate while no earlier message of the
  same record is still open (pending, sending or failed); a failed create holds the
  record's later changes back until it is retried or dismissed.
* **Backoff.** Transient failures (timeouts, 5xx, 429) put the message back with
  ``next_attempt_at`` = now + max(Retry-After, 30 s x 2^(attempt-1), capped at 1 h); the
  job stops draining that location (the DMS is down) and schedules itself for the
  earliest due message with ``enqueue_in`` (workers run ``--with-scheduler``). After
  :data:`MAX_TRANSIENT_ATTEMPTS` the message is parked as failed for a person to retry.
* **Safety net.** ``rq cron`` runs :func:`jobs.schedule.wake_due_pushes` every minute: it
  wakes the delivery of every active location with due or stuck messages (lost wake-ups,
  Redis hiccups).
* **Inactive locations** (Admin → Locations, "Active" unticked) send nothing: the job returns
  at once, however it was woken (after a commit, a backoff re-queue, an RQ retry), and
  their messages stay pending until the location is active again.
* **Capabilities.** What the vendor does not accept (profile ``push_mode``, payment
  export, writable fields) is never sent: the message fails as "not supported" with the
  catalogue's explanation, without a network call.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any, Callable

from rq import get_current_job
from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value

import connectors
import connectors.console_rest  # noqa: F401 - imported before the worker forks, not in every job
from connectors import (AuthenticationError, CatalogueEntry, ConflictError, DmsError, MalformedResponseError,
                        NotSupportedError, TransientDmsError)
from connectors.records import KINDS, json_ready
from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT
from jobs import failpoints
from webapp.extensions import db
from webapp.models import Appointment, Asset, Customer, Location, OutboxKind, OutboxMessage, OutboxStatus, utcnow
from webapp.outbox import WAKE_KEY, refresh_push_states, wake
from webapp.redis_conn import get_redis

log = logging.getLogger(__name__)

CALL_TIMEOUT = 15.0  # seconds per DMS request
DRAIN_SECONDS = 120.0  # one job's time budget; it wakes a successor when there is more
CHUNK_START = 1  # the first chunk of a job: a lone booking is recorded at once
CHUNK_MAX = 200  # most messages claimed (and committed) together
CHUNK_SECONDS = 2.0  # a chunk grows while it takes less, shrinks when it takes over twice that
MAX_TRANSIENT_ATTEMPTS = 8
BACKOFF_BASE = 30.0
BACKOFF_MAX = 3600.0
STUCK_AFTER = timedelta(minutes=5)
OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)


class NotAccepted(Exception):
    """The vendor does not take this push; ``entry`` explains it. Nothing was sent."""

    def __init__(self, entry: CatalogueEntry, message: str) -> None:
        super().__init__(message)
        self.entry = entry
        self.message = message


Handler = Callable[[Any, OutboxMessage, Location], "str | None"]
HANDLERS: dict[str, Handler] = {}
#: ``hook(session, message)`` after a message was sent or failed (payments, write-back summaries).
AFTER_DELIVERY_HOOKS: list[Callable[[Any, OutboxMessage], None]] = []


def register_handler(kind: OutboxKind | str) -> Callable[[Handler], Handler]:
    """Decorator: ``handler(dms, message, location) -> DMS id`` sends one kind of message."""
    def decorator(func: Handler) -> Handler:
        HANDLERS[OutboxKind(kind).value] = func
        return func
    return decorator


# --------------------------------------------------------------------------- the job
def deliver_pushes(location_id: int) -> dict:
    """Send every due outbox message of a location, oldest first, in order per record.

    Messages are claimed in chunks (one UPDATE), sent one by one over the job's single
    DMS connection, and their results committed together (one transaction per chunk).
    A chunk starts at :data:`CHUNK_START` message and doubles while a chunk takes less than
    :data:`CHUNK_SECONDS`, up to :data:`CHUNK_MAX`: a lone booking is recorded at once, a
    backlog costs a few statements per hundred pushes, and a slow DMS shrinks the chunk.
    """
    job = get_current_job()
    token = job.id if job is not None else f"direct-{uuid.uuid4().hex}"
    try:
        redis = get_redis()
        if int(redis.decr(WAKE_KEY.format(location_id))) < 0:
            redis.set(WAKE_KEY.format(location_id), 0, ex=300)
    except Exception:  # noqa: BLE001 - the counter only limits queued jobs
        log.warning("push wake counter unavailable")
    location = db.session.get(Location, location_id)
    if location is None or not location.is_active:  # an inactive location's pushes stay pending
        return {"sent": 0, "failed": 0}
    started = time.monotonic()
    counts = {"sent": 0, "failed": 0, "retrying": 0}
    connection = _Connection(location)
    size = CHUNK_START
    dms_down = False
    try:
        while True:
            if time.monotonic() - started > DRAIN_SECONDS:
                wake(location_id)  # more to do: a successor continues, other work gets a turn
                break
            chunk_started = time.monotonic()
            chunk = _claim_chunk(location_id, token, size)
            if not chunk:
                break
            outcomes = _deliver_chunk(chunk, location, connection)
            for outcome in outcomes:
                counts[outcome] += 1
            if "retrying" in outcomes:
                dms_down = True
                break
            elapsed = time.monotonic() - chunk_started
            if elapsed < CHUNK_SECONDS:
                size = min(CHUNK_MAX, size * 2)
            elif elapsed > 2 * CHUNK_SECONDS:  # the DMS slowed down: smaller chunks, results seen sooner
                size = max(1, int(CHUNK_SECONDS * len(outcomes) / elapsed))
    finally:
        connection.close()
    if dms_down:
        _schedule_next_attempt(location_id)
    return counts


class _Connection:
    """One DMS connection (one HTTP session, one token) per job, opened on first use."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.dms = None

    def get(self):
        """The connector (raises ``NotSupportedError`` when the location has no DMS)."""
        if self.dms is None:
            if not self.location.has_dms:
                raise NotSupportedError("This location has no DMS connection.",
                                        fix_hint="A Global Admin sets up the DMS connection under Admin → Locations; then retry.")
            self.dms = self.location.connect_dms(CALL_TIMEOUT)
        return self.dms

    def close(self) -> None:
        """Release the connection pool."""
        if self.dms is not None:
            self.dms.close()


def _due(token: str, now):
    """Messages this job may take: due pending ones, its own (a crashed run's) and stuck ones."""
    msg = OutboxMessage
    return or_(
        and_(msg.status == OutboxStatus.PENDING, or_(msg.next_attempt_at.is_(None), msg.next_attempt_at <= now)),
        and_(msg.status == OutboxStatus.SENDING, or_(msg.claimed_by == token,
                                                     msg.last_attempt_at < now - STUCK_AFTER)),
    )


def _claim_chunk(location_id: int, token: str, limit: int) -> list[OutboxMessage]:
    """Claim up to ``limit`` due messages for this job (one UPDATE; exactly one job wins each).

    A message is a candidate only while no earlier message of the same record is open, so
    a chunk holds at most one message per record. On PostgreSQL, rows another job is
    claiming at the same moment are skipped (``SELECT ... FOR UPDATE SKIP LOCKED``) instead
    of waited for; on SQLite the single UPDATE with its subquery runs under the write lock.
    """
    now = utcnow()
    msg, earlier = OutboxMessage, aliased(OutboxMessage)
    earlier_open = exists().where(earlier.target_type == msg.target_type, earlier.target_id == msg.target_id,
                                  earlier.id < msg.id, earlier.status.in_(OPEN))
    db.session.rollback()  # a fresh snapshot: other workers' commits must be visible
    db.session.info.pop(_LINKS, None)
    # Start at the location's oldest waiting message: the scan in id order then skips the
    # sent history (which only grows) instead of reading through it on every claim.
    oldest = aliased(OutboxMessage)
    floor = select(func.min(oldest.id)).where(
        oldest.location_id == location_id,
        oldest.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING))).scalar_subquery()
    candidates = (select(msg.id).where(msg.location_id == location_id, msg.id >= floor, _due(token, now),
                                       ~earlier_open)
                  .order_by(msg.id).limit(limit))
    if db.session.get_bind().dialect.name == "postgresql":
        # Lock the candidates first (skipping rows another job is claiming), then claim
        # exactly those: an UPDATE ... IN (subquery LIMIT n) may re-run the subquery.
        candidates = list(db.session.scalars(candidates.with_for_update(skip_locked=True, of=msg)))
        if not candidates:
            db.session.rollback()
            return []
    # No second check of the status here: SQLite runs the whole statement under its write
    # lock, and PostgreSQL holds the candidates' row locks until the commit.
    result = db.session.execute(
        update(msg).where(msg.id.in_(candidates))
        .values(status=OutboxStatus.SENDING, claimed_by=token, attempts=msg.attempts + 1, last_attempt_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    if not result.rowcount:
        return []
    chunk = list(db.session.scalars(
        select(msg).where(msg.location_id == location_id, msg.status == OutboxStatus.SENDING, msg.claimed_by == token)
        .order_by(msg.id).execution_options(populate_existing=True)))
    return chunk


def _preload_targets(chunk: list[OutboxMessage]) -> list[Any]:
    """Load the chunk's appointments (with customer, vehicle, advisor), customers and assets
    in a few queries: the handlers then find them in the session instead of querying each.
    The caller keeps the returned list while it works (the session only holds weak references)."""
    by_type: dict[str, set[int]] = {}
    for message in chunk:
        by_type.setdefault(message.target_type, set()).add(message.target_id)
    loaded: list[Any] = []
    if ids := by_type.get(Appointment.__tablename__):
        loaded += db.session.scalars(select(Appointment).where(Appointment.id.in_(ids)).options(
            selectinload(Appointment.customer), selectinload(Appointment.asset),
            selectinload(Appointment.advisor))).all()
    if ids := by_type.get(Customer.__tablename__):
        loaded += db.session.scalars(select(Customer).where(Customer.id.in_(ids))).all()
    if ids := by_type.get(Asset.__tablename__):
        loaded += db.session.scalars(select(Asset).where(Asset.id.in_(ids))
                                     .options(selectinload(Asset.customer))).all()
    return loaded


def _deliver_chunk(chunk: list[OutboxMessage], location: Location, connection: _Connection) -> list[str]:
    """Send the claimed messages in order and commit their results in one transaction.

    A crash before the commit leaves the chunk ``sending`` under this job's id: RQ's retry
    of the job re-claims it and resends every message with its idempotency key, so what
    had reached the DMS is answered with the first result instead of created again.
    """
    outcomes: list[str] = []
    claimed_at = time.monotonic()
    targets = _preload_targets(chunk)  # noqa: F841 - held so the session keeps them
    for index, message in enumerate(chunk):
        if time.monotonic() - claimed_at > STUCK_AFTER.total_seconds() / 2:
            _release(chunk[index:])  # a slow DMS: give the rest back before it counts as stuck
            break
        outcome = _deliver_one(message, location, connection)
        outcomes.append(outcome)
        if outcome == "retrying":  # the DMS is down: the rest waits for the retry
            _release(chunk[index + 1:])
            break
    _write_links()
    refresh_push_states(db.session, [(m.target_type, m.target_id) for m in chunk])
    db.session.commit()
    failpoints.hit("push.after_commit")
    return outcomes


def _release(messages: list[OutboxMessage]) -> None:
    """Put claimed messages that were not tried back in line, as if never claimed."""
    for message in messages:
        message.status = OutboxStatus.PENDING
        message.claimed_by = None
        message.attempts = max(0, message.attempts - 1)


def _deliver_one(message: OutboxMessage, location: Location, connection: _Connection) -> str:
    """Send one claimed message and set its outcome (committed with the chunk):
    "sent", "failed" or "retrying"."""
    try:
        failpoints.hit("push.before_send")
        _check_capability(location, message)
        handler = HANDLERS.get(message.kind.value)
        if handler is None:
            raise NotAccepted(CatalogueEntry("NOT-SUPPORTED", "Nothing can send this kind of change yet",
                                             "Contact support: this kind of change has no delivery handler."),
                              f"no handler for {message.kind.value}")
        dms_id = handler(connection.get(), message, location)
        failpoints.hit("push.after_send")
    except NotAccepted as exc:
        return _failed(message, location, exc.entry, exc.message, "unsupported")
    except (TransientDmsError, MalformedResponseError) as exc:
        return _retrying(message, location, exc)
    except ConflictError as exc:
        profile = connectors.get_profile(location.dms_vendor)
        entry = exc.entry or profile.entry(profile.code_for("LOCKED" if exc.locked else "ETAG-MISMATCH"))
        return _failed(message, location, entry, exc.message, "refused")
    except (AuthenticationError, NotSupportedError, DmsError) as exc:
        entry = exc.entry or CatalogueEntry(exc.vendor_code or type(exc).__name__, exc.title, exc.fix_hint)
        return _failed(message, location, entry, exc.message, "refused")
    except ValueError as exc:  # incomplete DMS settings
        entry = CatalogueEntry("SETTINGS", "DMS connection incomplete",
                               "Complete the DMS connection under Admin → Locations, then retry.")
        return _failed(message, location, entry, str(exc), "refused")
    message.status = OutboxStatus.SENT
    message.sent_at = utcnow()
    message.dms_id = dms_id or message.dms_id
    message.claimed_by = None
    message.next_attempt_at = None
    message.error_code = message.error_title = message.fix_hint = message.error_message = None
    message.error_kind = None
    _after_delivery(message)
    return "sent"


def _failed(message: OutboxMessage, location: Location, entry: CatalogueEntry, detail: str, kind: str) -> str:
    """Park the message for a person: vendor code, catalogue title, fix hint."""
    message.status = OutboxStatus.FAILED
    message.claimed_by = None
    message.next_attempt_at = None
    message.error_code = entry.code
    message.error_title = entry.title[:255]
    message.fix_hint = entry.fix_hint
    message.error_message = (detail or "")[:2000]
    message.error_kind = kind
    _after_delivery(message)
    log.info("push %s (%s) failed: %s %s", message.id, message.kind.value, entry.code, detail)
    return "failed"


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff after ``attempts`` tries, never sooner than the DMS's Retry-After."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return max(delay, float(retry_after or 0))


def _retrying(message: OutboxMessage, location: Location, exc: DmsError) -> str:
    """The DMS is unreachable or busy: try again later (or give up after many attempts)."""
    readable = isinstance(exc, TransientDmsError)
    if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
        profile = connectors.get_profile(location.dms_vendor)
        entry = profile.entry(profile.code_for("SERVER-ERROR"))
        problem = "was busy or unreachable" if readable else "sent answers the console cannot read"
        entry = CatalogueEntry(entry.code, f"Not sent: the DMS {problem} for {message.attempts} tries in a row",
                               "The console has stopped trying. A Service Manager checks with the DMS vendor that "
                               "the DMS is up, then retries it under Failed pushes.")
        _failed(message, location, entry, exc.message, "transient")
        return "failed"
    delay = backoff_seconds(message.attempts, getattr(exc, "retry_after", None))
    message.status = OutboxStatus.PENDING
    message.claimed_by = None
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    message.error_code = exc.vendor_code
    problem = "could not be reached" if readable else "sent an answer the console cannot read"
    message.error_title = f"Not sent yet: the DMS {problem}; the console tries again automatically"
    message.fix_hint = (f"Nothing to do now. If it still fails after {MAX_TRANSIENT_ATTEMPTS} tries, "
                        "it is listed under Failed pushes for a Service Manager to retry.")
    message.error_message = exc.message[:2000]
    message.error_kind = "transient"
    return "retrying"


def _schedule_next_attempt(location_id: int) -> None:
    """Wake the location again when its earliest waiting message is due."""
    from jobs.queues import PUSHES, get_queue

    earliest = db.session.scalar(select(OutboxMessage.next_attempt_at).where(
        OutboxMessage.location_id == location_id, OutboxMessage.status == OutboxStatus.PENDING)
        .order_by(OutboxMessage.next_attempt_at).limit(1))
    if earliest is None:
        return
    delay = max(1.0, (earliest - utcnow()).total_seconds())
    get_queue(PUSHES).enqueue_in(timedelta(seconds=delay), deliver_pushes, location_id,
                                 job_timeout=900, result_ttl=60, failure_ttl=7 * 86400,
                                 description=f"retry DMS pushes of location {location_id}")


def _after_delivery(message: OutboxMessage) -> None:
    """Let other areas react to a sent or failed message (same transaction)."""
    for hook in AFTER_DELIVERY_HOOKS:
        hook(db.session, message)


def stamp_last_synced_on_write_back(session, message: OutboxMessage) -> None:
    """A sync wizard's write-back the DMS took: the portal and the DMS now agree, so Last Synced
    is stamped (the wizard's apply leaves it alone while the write-back is on its way, and a
    refused one - an ETag conflict - never stamps). A bulk UPDATE, so someone editing the
    record meanwhile is not told it was "changed by someone else"."""
    if message.kind != OutboxKind.WIZARD_WRITE_BACK or message.status != OutboxStatus.SENT:
        return
    payload = message.payload or {}
    model = {Customer.__tablename__: Customer, Asset.__tablename__: Asset}.get(message.target_type)
    if model is None or payload.get("not_sent_fields"):  # fields the DMS did not take still differ
        return
    record = session.get(model, message.target_id)
    if record is None:
        return
    from webapp.models import ChangeSource
    from webapp.models.change_history import record_change

    old, now = record.last_synced_at, utcnow()
    session.execute(update(model.__table__).where(model.__table__.c.id == record.id).values(last_synced_at=now))
    set_committed_value(record, "last_synced_at", now)
    record_change(record=record, field="last_synced_at", old=old.isoformat() if old else None, new=now.isoformat(),
                  source=ChangeSource.SYNC_WIZARD, user_id=message.created_by_id,
                  context={"sync_session_id": payload.get("sync_session_id"), "dms_id": payload.get("dms_id"),
                           "outbox_message_id": message.id, "write_back": "confirmed by the DMS"})


if stamp_last_synced_on_write_back not in AFTER_DELIVERY_HOOKS:
    AFTER_DELIVERY_HOOKS.append(stamp_last_synced_on_write_back)


# --------------------------------------------------------------------------- capabilities
_DATA_TYPE = {
    OutboxKind.APPOINTMENT_CREATE: "appointments", OutboxKind.APPOINTMENT_UPDATE: "appointments",
    OutboxKind.APPOINTMENT_CANCEL: "appointments", OutboxKind.CUSTOMER_PUSH: "customers",
    OutboxKind.VEHICLE_PUSH: "vehicles",
}


def _check_capability(location: Location, message: OutboxMessage) -> None:
    """Raise :class:`NotAccepted` for what the location's vendor does not take (nothing is sent)."""
    if not location.dms_vendor:
        raise NotAccepted(CatalogueEntry("NO-DMS", "No DMS connected",
                                         "Connect this location to its DMS under Admin → Locations, then retry."),
                          "this location has no DMS")
    profile = connectors.get_profile(location.dms_vendor)
    kind = message.kind
    if kind == OutboxKind.PAYMENT_EXPORT:
        if not profile.payment_export:
            raise NotAccepted(profile.entry(profile.code_for("NOT-SUPPORTED")),
                              f"{profile.display_name} does not take payment exports; post the receipt in the DMS.")
        return
    data_type = _DATA_TYPE.get(kind) or (message.payload or {}).get("data_type")
    if not data_type:
        return
    mode = profile.push_mode(data_type)
    if mode == PUSH_NOT_AVAILABLE:
        raise NotAccepted(profile.entry(profile.code_for("NOT-SUPPORTED")),
                          f"{profile.display_name} does not accept {data_type.replace('_', ' ')} from outside.")
    standalone = kind in (OutboxKind.CUSTOMER_PUSH, OutboxKind.VEHICLE_PUSH, OutboxKind.WIZARD_WRITE_BACK)
    if mode == PUSH_WITH_APPOINTMENT and standalone and not (message.payload or {}).get("for_appointment"):
        code = profile.code_for("PUSH-NEEDS-APPOINTMENT")
        entry = profile.entry(code if code in profile.catalogue else profile.code_for("NOT-SUPPORTED"))
        raise NotAccepted(entry, f"{profile.display_name} accepts {data_type} only together with an appointment.")
    if kind == OutboxKind.WIZARD_WRITE_BACK:
        writable = KINDS[data_type].writable(profile)
        fields = dict((message.payload or {}).get("fields") or {})
        refused = sorted(set(fields) - set(writable))
        if refused and len(refused) == len(fields):
            raise NotAccepted(profile.entry(profile.code_for("FIELD-NOT-WRITABLE")),
                              f"{profile.display_name} does not accept {', '.join(refused)}.")


# --------------------------------------------------------------------------- handlers
def customer_fields(customer: Customer) -> dict[str, Any]:
    """A portal customer in the DMS's shape (also used by pre-flight checks)."""
    return {
        "kind": "business" if customer.is_business else "person",
        "first_name": customer.first_name or "", "last_name": customer.last_name or "",
        "company_name": customer.company_name or "",
        "phones": [p for p in (customer.phone, customer.mobile_phone) if p],
        "emails": [customer.email] if customer.email else [],
        "address_line1": customer.address_line1 or "", "address_line2": customer.address_line2 or "",
        "city": customer.city or "", "state": customer.state or "", "postal_code": customer.postal_code or "",
        "country": customer.country or "",
    }


def vehicle_fields(asset: Asset, owner_dms_id: str | None) -> dict[str, Any]:
    """A portal asset in the DMS's shape."""
    return {"vin": asset.vin or "", "unit_number": asset.unit_number or "", "year": asset.year,
            "make": asset.make or "", "model": asset.model or "", "engine": asset.engine_type or "",
            "plate": asset.license_plate or "", "mileage": asset.mileage, "owner_dms_id": owner_dms_id}


_LINKS = "outbox_pending_links"


def _link(record, dms_id: str) -> None:
    """Record a DMS id on a portal record without bumping its edit version.

    The object in the session gets the id at once (a later message of the chunk for the
    same customer sees it); the UPDATEs are written together by :func:`_write_links`
    before the chunk commits.
    """
    set_committed_value(record, "dms_id", dms_id)
    db.session.info.setdefault(_LINKS, {}).setdefault(type(record).__table__, []).append(
        {"b_id": record.id, "b_dms_id": dms_id})


def _write_links() -> None:
    """Write the DMS ids recorded by :func:`_link` (one executemany per table)."""
    for table, rows in db.session.info.pop(_LINKS, {}).items():
        db.session.execute(update(table).where(table.c.id == bindparam("b_id"))
                           .values(dms_id=bindparam("b_dms_id")), rows)


def _ensure_customer(dms, message: OutboxMessage, customer: Customer) -> str:
    """The customer's DMS id, creating the customer with the appointment when it has none."""
    if customer.dms_id:
        return customer.dms_id
    created = dms.create_customer(customer_fields(customer), f"{message.idempotency_key}:customer",
                                  for_appointment=True)
    _link(customer, created.dms_id)
    return created.dms_id


def _ensure_vehicle(dms, message: OutboxMessage, asset: Asset | None, owner_dms_id: str) -> str | None:
    """The vehicle's DMS id, creating it with the appointment when it has none."""
    if asset is None:
        return None
    if asset.dms_id:
        return asset.dms_id
    created = dms.create_vehicle(vehicle_fields(asset, owner_dms_id), f"{message.idempotency_key}:vehicle",
                                 for_appointment=True)
    _link(asset, created.dms_id)
    return created.dms_id


def _as_payload(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` as JSON for the message's payload (what was sent)."""
    return json_ready(dict(fields))


def appointment_fields(appointment: Appointment) -> dict[str, Any]:
    """What the DMS gets for an appointment, read from the record as it is now."""
    return {
        "advisor_dms_id": appointment.advisor.advisor_dms_id if appointment.advisor else None,
        "scheduled_at": appointment.scheduled_at,
        "opcodes": list(appointment.opcodes or []),
        "notes": appointment.notes or "",
        "dispatch_code": appointment.dispatch_code or "",
    }


def _appointment(message: OutboxMessage) -> Appointment:
    appointment = db.session.get(Appointment, message.target_id)
    if appointment is None:
        raise NotAccepted(CatalogueEntry("GONE", "The appointment no longer exists", "Dismiss this push."),
                          "appointment deleted")
    return appointment


def _create_appointment(dms, message: OutboxMessage, appointment: Appointment) -> str:
    customer_dms_id = _ensure_customer(dms, message, appointment.customer)
    vehicle_dms_id = _ensure_vehicle(dms, message, appointment.asset, customer_dms_id)
    fields = {"customer_dms_id": customer_dms_id, "vehicle_dms_id": vehicle_dms_id, **appointment_fields(appointment)}
    message.payload = _as_payload(fields)
    created = dms.create_appointment(fields, message.idempotency_key)
    _link(appointment, created.dms_id)
    return created.dms_id


@register_handler(OutboxKind.APPOINTMENT_CREATE)
def send_appointment_create(dms, message: OutboxMessage, location: Location) -> str | None:
    """Create the appointment (and its customer/vehicle when the DMS lacks them)."""
    appointment = _appointment(message)
    if appointment.dms_id:  # an earlier message already created it
        return appointment.dms_id
    return _create_appointment(dms, message, appointment)


@register_handler(OutboxKind.APPOINTMENT_UPDATE)
def send_appointment_update(dms, message: OutboxMessage, location: Location) -> str | None:
    """Send the appointment's current time, advisor, opcodes and notes."""
    appointment = _appointment(message)
    if not appointment.dms_id:  # its create was dismissed: the DMS gets it as new
        return _create_appointment(dms, message, appointment)
    fields = appointment_fields(appointment)
    message.payload = _as_payload(fields)
    return dms.update_appointment(appointment.dms_id, fields).dms_id


@register_handler(OutboxKind.APPOINTMENT_CANCEL)
def send_appointment_cancel(dms, message: OutboxMessage, location: Location) -> str | None:
    """Cancel the appointment in the DMS (nothing to do if it never got there)."""
    appointment = _appointment(message)
    if not appointment.dms_id:
        message.payload = {"note": "The appointment never reached the DMS; nothing to cancel there."}
        return None
    return dms.cancel_appointment(appointment.dms_id).dms_id


@register_handler(OutboxKind.CUSTOMER_PUSH)
def send_customer(dms, message: OutboxMessage, location: Location) -> str | None:
    """Create or update a customer (payload ``fields`` or the record; ``for_appointment``)."""
    customer = db.session.get(Customer, message.target_id)
    payload = message.payload or {}
    fields = payload.get("fields") or customer_fields(customer)
    for_appointment = bool(payload.get("for_appointment"))
    if customer.dms_id:
        return dms.update_customer(customer.dms_id, fields, payload.get("etag"), for_appointment=for_appointment).dms_id
    created = dms.create_customer(fields, message.idempotency_key, for_appointment=for_appointment)
    _link(customer, created.dms_id)
    return created.dms_id


@register_handler(OutboxKind.VEHICLE_PUSH)
def send_vehicle(dms, message: OutboxMessage, location: Location) -> str | None:
    """Create or update a vehicle (payload ``fields`` or the record; ``for_appointment``)."""
    asset = db.session.get(Asset, message.target_id)
    payload = message.payload or {}
    owner = asset.customer.dms_id if asset.customer else None
    fields = payload.get("fields") or vehicle_fields(asset, owner)
    for_appointment = bool(payload.get("for_appointment"))
    if asset.dms_id:
        return dms.update_vehicle(asset.dms_id, fields, payload.get("etag"), for_appointment=for_appointment).dms_id
    created = dms.create_vehicle(fields, message.idempotency_key, for_appointment=for_appointment)
    _link(asset, created.dms_id)
    return created.dms_id


@register_handler(OutboxKind.WIZARD_WRITE_BACK)
def send_write_back(dms, message: OutboxMessage, location: Location) -> str | None:
    """Write sync-wizard results back: payload ``{"data_type", "dms_id", "fields", "etag"?}``.

    Fields the vendor does not accept are not sent; they are listed in the payload's
    ``not_sent_fields`` so the wizard's summary can say so.
    """
    payload = dict(message.payload or {})
    profile = dms.profile
    data_type = payload["data_type"]
    writable = KINDS[data_type].writable(profile)
    fields = {k: v for k, v in (payload.get("fields") or {}).items() if k in writable}
    payload["not_sent_fields"] = sorted(set(payload.get("fields") or {}) - set(fields))
    message.payload = payload
    # Only customers and vehicles are written back (their kinds have ``writable`` fields).
    update_record = {"customers": dms.update_customer, "vehicles": dms.update_vehicle}[data_type]
    return update_record(payload["dms_id"], fields, payload.get("etag")).dms_id


@register_handler(OutboxKind.PAYMENT_EXPORT)
def send_payment(dms, message: OutboxMessage, location: Location) -> str | None:
    """Post a receipt: payload ``{"ro_number", "amount", "method", "payer", "received_at"}``."""
    return dms.export_payment(message.payload, message.idempotency_key).dms_id
