"""The delivery engine of outbox messages to the DMS (see :mod:`webapp.outbox` for how rows are
written). What each kind sends is its handler's: jobs/push_handlers.py, jobs/payments.py, mapped
to their kinds in :data:`HANDLERS`.

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
  ``next_attempt_at`` = now + the wait of :data:`webapp.services.retry_policy.PUSHES`; the
  job stops draining that location (the DMS is down) and schedules itself for the
  earliest due message with ``enqueue_in`` (workers run RQ's scheduler for delayed jobs). After
  :data:`webapp.services.retry_policy.PUSHES` tries the message is parked as failed for a person to retry.
* **Safety net.** The scheduler (jobs/scheduler.py) runs :func:`jobs.schedule.wake_due_pushes` every minute: it
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
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rq import get_current_job
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased, selectinload

import connectors
from connectors import (
    AuthenticationError,
    CatalogueEntry,
    ConflictError,
    DmsError,
    MalformedResponseError,
    NotSupportedError,
    TransientDmsError,
)
from connectors.records import KINDS
from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT, VendorProfile
from jobs import failpoints, payments, push_handlers
from jobs.push_handlers import NotAccepted, forget_links, write_links
from webapp.extensions import db
from webapp.models import Appointment, Asset, Customer, Location, OutboxKind, OutboxMessage, OutboxStatus, utcnow
from webapp.outbox import WAKE_KEY, refresh_push_states, wake
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.queues import PUSHES, get_queue

log = logging.getLogger(__name__)

CALL_TIMEOUT = 15.0  # seconds per DMS request
DRAIN_SECONDS = 120.0  # one job's time budget; it wakes a successor when there is more
CHUNK_START = 1  # the first chunk of a job: a lone booking is recorded at once
CHUNK_MAX = 200  # most messages claimed (and committed) together
CHUNK_SECONDS = 2.0  # a chunk grows while it takes less, shrinks when it takes over twice that
STUCK_AFTER = timedelta(minutes=5)
#: What a vendor without payment exports does not do (``VendorProfile.refusal``).
PAYMENT_EXPORT_REFUSED = "does not take payment exports; post the receipt in the DMS."
OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED)

Handler = Callable[[Any, OutboxMessage, Location], "str | None"]
#: What sends each kind of message: every :class:`OutboxKind` has its handler here, and only here.
HANDLERS: dict[OutboxKind, Handler] = {
    OutboxKind.APPOINTMENT_CREATE: push_handlers.send_appointment_create,
    OutboxKind.APPOINTMENT_UPDATE: push_handlers.send_appointment_update,
    OutboxKind.APPOINTMENT_CANCEL: push_handlers.send_appointment_cancel,
    OutboxKind.CUSTOMER_PUSH: push_handlers.send_customer,
    OutboxKind.VEHICLE_PUSH: push_handlers.send_vehicle,
    OutboxKind.WIZARD_WRITE_BACK: push_handlers.send_write_back,
    OutboxKind.PAYMENT_EXPORT: payments.send_payment,
}
#: ``hook(session, message)`` after a message was sent or failed, in the chunk's transaction.
AFTER_DELIVERY_HOOKS: tuple[Callable[[Any, OutboxMessage], None], ...] = (
    push_handlers.stamp_last_synced_on_write_back,
    payments.after_delivery,
)


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
    except Exception:
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
                raise NotSupportedError(
                    "This location has no DMS connection.",
                    fix_hint="A Global Admin sets up the DMS connection under Admin → Locations; then retry.",
                )
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
        and_(msg.status == OutboxStatus.SENDING, or_(msg.claimed_by == token, msg.last_attempt_at < now - STUCK_AFTER)),
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
    earlier_open = exists().where(
        earlier.target_type == msg.target_type,
        earlier.target_id == msg.target_id,
        earlier.id < msg.id,
        earlier.status.in_(OPEN),
    )
    db.session.rollback()  # a fresh snapshot: other workers' commits must be visible
    forget_links()
    # Start at the location's oldest waiting message: the scan in id order then skips the
    # sent history (which only grows) instead of reading through it on every claim.
    oldest = aliased(OutboxMessage)
    floor = (
        select(func.min(oldest.id))
        .where(oldest.location_id == location_id, oldest.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))
        .scalar_subquery()
    )
    candidates = (
        select(msg.id)
        .where(msg.location_id == location_id, msg.id >= floor, _due(token, now), ~earlier_open)
        .order_by(msg.id)
        .limit(limit)
    )
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
        update(msg)
        .where(msg.id.in_(candidates))
        .values(status=OutboxStatus.SENDING, claimed_by=token, attempts=msg.attempts + 1, last_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if not result.rowcount:
        return []
    chunk = list(
        db.session.scalars(
            select(msg)
            .where(msg.location_id == location_id, msg.status == OutboxStatus.SENDING, msg.claimed_by == token)
            .order_by(msg.id)
            .execution_options(populate_existing=True)
        )
    )
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
        loaded += db.session.scalars(
            select(Appointment)
            .where(Appointment.id.in_(ids))
            .options(
                selectinload(Appointment.customer), selectinload(Appointment.asset), selectinload(Appointment.advisor)
            )
        ).all()
    if ids := by_type.get(Customer.__tablename__):
        loaded += db.session.scalars(select(Customer).where(Customer.id.in_(ids))).all()
    if ids := by_type.get(Asset.__tablename__):
        loaded += db.session.scalars(select(Asset).where(Asset.id.in_(ids)).options(selectinload(Asset.customer))).all()
    return loaded


def _deliver_chunk(chunk: list[OutboxMessage], location: Location, connection: _Connection) -> list[str]:
    """Send the claimed messages in order and commit their results in one transaction.

    A crash before the commit leaves the chunk ``sending`` under this job's id: RQ's retry
    of the job re-claims it and resends every message with its idempotency key, so what
    had reached the DMS is answered with the first result instead of created again.
    """
    outcomes: list[str] = []
    claimed_at = time.monotonic()
    _held = _preload_targets(chunk)  # referenced until the chunk is done: the session keeps them loaded
    for index, message in enumerate(chunk):
        if time.monotonic() - claimed_at > STUCK_AFTER.total_seconds() / 2:
            _release(chunk[index:])  # a slow DMS: give the rest back before it counts as stuck
            break
        outcome = _deliver_one(message, location, connection)
        outcomes.append(outcome)
        if outcome == "retrying":  # the DMS is down: the rest waits for the retry
            _release(chunk[index + 1 :])
            break
    write_links()
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
        dms_id = HANDLERS[message.kind](connection.get(), message, location)
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
        entry = CatalogueEntry(
            "SETTINGS", "DMS connection incomplete", "Complete the DMS connection under Admin → Locations, then retry."
        )
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


def _retrying(message: OutboxMessage, location: Location, exc: DmsError) -> str:
    """The DMS is unreachable or busy: try again later (or give up after many attempts)."""
    readable = isinstance(exc, TransientDmsError)
    policy = retry_policy.PUSHES
    if not policy.another_try(message.attempts):
        profile = connectors.get_profile(location.dms_vendor)
        entry = profile.entry(profile.code_for("SERVER-ERROR"))
        problem = "was busy or unreachable" if readable else "sent answers the console cannot read"
        entry = CatalogueEntry(
            entry.code,
            f"Not sent: the DMS {problem} for {message.attempts} tries in a row",
            "The console has stopped trying. A Service Manager checks with the DMS vendor that "
            "the DMS is up, then retries it under Failed pushes.",
        )
        _failed(message, location, entry, exc.message, "transient")
        return "failed"
    delay = policy.delay(message.attempts, getattr(exc, "retry_after", None))
    message.status = OutboxStatus.PENDING
    message.claimed_by = None
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    message.error_code = exc.vendor_code
    problem = "could not be reached" if readable else "sent an answer the console cannot read"
    message.error_title = f"Not sent yet: the DMS {problem}; the console tries again automatically"
    message.fix_hint = (
        f"Nothing to do now. If it still fails after {policy.tries} tries, "
        "it is listed under Failed pushes for a Service Manager to retry."
    )
    message.error_message = exc.message[:2000]
    message.error_kind = "transient"
    return "retrying"


def _schedule_next_attempt(location_id: int) -> None:
    """Wake the location again when its earliest waiting message is due."""
    earliest = db.session.scalar(
        select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.location_id == location_id, OutboxMessage.status == OutboxStatus.PENDING)
        .order_by(OutboxMessage.next_attempt_at)
        .limit(1)
    )
    if earliest is None:
        return
    delay = max(1.0, (earliest - utcnow()).total_seconds())
    get_queue(PUSHES).enqueue_in(
        timedelta(seconds=delay),
        deliver_pushes,
        location_id,
        job_timeout=900,
        result_ttl=60,
        failure_ttl=7 * 86400,
        description=f"retry DMS pushes of location {location_id}",
    )


def _after_delivery(message: OutboxMessage) -> None:
    """Let other areas react to a sent or failed message (same transaction)."""
    for hook in AFTER_DELIVERY_HOOKS:
        hook(db.session, message)


# --------------------------------------------------------------------------- capabilities
_DATA_TYPE = {
    OutboxKind.APPOINTMENT_CREATE: "appointments",
    OutboxKind.APPOINTMENT_UPDATE: "appointments",
    OutboxKind.APPOINTMENT_CANCEL: "appointments",
    OutboxKind.CUSTOMER_PUSH: "customers",
    OutboxKind.VEHICLE_PUSH: "vehicles",
}


def _check_capability(location: Location, message: OutboxMessage) -> None:
    """Raise :class:`NotAccepted` for what the location's vendor does not take (nothing is sent)."""
    if not location.dms_vendor:
        raise NotAccepted(
            CatalogueEntry(
                "NO-DMS", "No DMS connected", "Connect this location to its DMS under Admin → Locations, then retry."
            ),
            "this location has no DMS",
        )
    refusal = _refusal(connectors.get_profile(location.dms_vendor), message)
    if refusal is not None:
        raise NotAccepted(refusal.entry, refusal.message)


def _refusal(profile: VendorProfile, message: OutboxMessage) -> NotSupportedError | None:
    """The vendor's refusal (in its profile's wording) of what it does not take, else None."""
    kind, payload = message.kind, message.payload or {}
    if kind == OutboxKind.PAYMENT_EXPORT:
        return None if profile.payment_export else profile.refusal(PAYMENT_EXPORT_REFUSED)
    data_type = _DATA_TYPE.get(kind) or payload.get("data_type")
    if not data_type:
        return None
    mode = profile.push_mode(data_type)
    if mode == PUSH_NOT_AVAILABLE:
        return profile.refusal(f"does not accept {data_type.replace('_', ' ')} from outside.")
    standalone = kind in (OutboxKind.CUSTOMER_PUSH, OutboxKind.VEHICLE_PUSH, OutboxKind.WIZARD_WRITE_BACK)
    if mode == PUSH_WITH_APPOINTMENT and standalone and not payload.get("for_appointment"):
        suffix = (
            "PUSH-NEEDS-APPOINTMENT"
            if profile.code_for("PUSH-NEEDS-APPOINTMENT") in profile.catalogue
            else "NOT-SUPPORTED"
        )
        return profile.refusal(f"accepts {data_type} only together with an appointment.", suffix=suffix)
    if kind == OutboxKind.WIZARD_WRITE_BACK:
        fields = dict(payload.get("fields") or {})
        refused = sorted(set(fields) - set(KINDS[data_type].writable(profile)))
        if refused and len(refused) == len(fields):
            return profile.refusal(f"does not accept {', '.join(refused)}.", suffix="FIELD-NOT-WRITABLE")
    return None
