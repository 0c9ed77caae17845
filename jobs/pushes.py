"""Delivery of outbox messages to the DMS (see :mod:`webapp.outbox` for how rows are written).

One job, :func:`deliver_pushes` ``(location_id)``, drains every due message of a location
with one DMS connection, so ten thousand queued pushes cost a handful of jobs, not ten
thousand. Guarantees:

* **At most one copy in the DMS.** A message is claimed with a conditional UPDATE (two
  workers never send the same message at once) and sent with its idempotency key, so a
  resend after a crash - between sending and recording the result - gets the DMS's first
  answer back instead of a second record. The claim names the RQ job; when a worker is
  SIGKILLed, RQ re-queues the job (``Retry``) and the same job id re-claims its message.
  A message left ``sending`` by a job that never comes back is taken over after
  :data:`STUCK_AFTER`.
* **Order per record.** A message is only a candidate while no earlier message of the
  same record is still open (pending, sending or failed); a failed create holds the
  record's later changes back until it is retried or dismissed.
* **Backoff.** Transient failures (timeouts, 5xx, 429) put the message back with
  ``next_attempt_at`` = now + max(Retry-After, 30 s x 2^(attempt-1), capped at 1 h); the
  job stops draining that location (the DMS is down) and schedules itself for the
  earliest due message with ``enqueue_in`` (workers run ``--with-scheduler``). After
  :data:`MAX_TRANSIENT_ATTEMPTS` the message is parked as failed for a person to retry.
* **Safety net.** ``rq cron`` runs :func:`deliver_due_pushes` every minute: it wakes the
  delivery of every location with due or stuck messages (lost wake-ups, Redis hiccups).
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
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

import connectors
from connectors import (AuthenticationError, CatalogueEntry, ConflictError, DmsError, MalformedResponseError,
                        NotSupportedError, TransientDmsError)
from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT
from jobs import failpoints
from webapp.extensions import db
from webapp.models import Appointment, Asset, Customer, Location, OutboxKind, OutboxMessage, OutboxStatus, utcnow
from webapp.outbox import WAKE_KEY, refresh_push_state, wake
from webapp.redis_conn import get_redis

log = logging.getLogger(__name__)

CALL_TIMEOUT = 15.0  # seconds per DMS request
DRAIN_SECONDS = 120.0  # one job's time budget; it wakes a successor when there is more
BATCH = 50  # candidates read per query
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
    """Send every due outbox message of a location, oldest first, in order per record."""
    job = get_current_job()
    token = job.id if job is not None else f"direct-{uuid.uuid4().hex}"
    try:
        redis = get_redis()
        if int(redis.decr(WAKE_KEY.format(location_id))) < 0:
            redis.set(WAKE_KEY.format(location_id), 0, ex=300)
    except Exception:  # noqa: BLE001 - the counter only limits queued jobs
        log.warning("push wake counter unavailable")
    location = db.session.get(Location, location_id)
    if location is None:
        return {"sent": 0, "failed": 0}
    started = time.monotonic()
    counts = {"sent": 0, "failed": 0, "retrying": 0}
    connection = _Connection(location)
    dms_down = False
    try:
        while True:
            if time.monotonic() - started > DRAIN_SECONDS:
                wake(location_id)  # more to do: a successor continues, other work gets a turn
                break
            ids = _candidates(location_id, token)
            progressed = False
            for message_id in ids:
                if not _claim(message_id, token):
                    continue
                progressed = True
                outcome = _deliver_one(message_id, location, connection)
                counts[outcome] += 1
                if outcome == "retrying":
                    dms_down = True
                    break
            if dms_down or not progressed:
                break
    finally:
        connection.close()
    if dms_down:
        _schedule_next_attempt(location_id)
    return counts


class _Connection:
    """One DMS connection per job, opened on first use."""

    def __init__(self, location: Location) -> None:
        self.location = location
        self.dms = None

    def get(self):
        """The connector (raises ``NotSupportedError`` when the location has no DMS)."""
        if self.dms is None:
            if not self.location.has_dms:
                raise NotSupportedError("This location has no DMS connection.",
                                        fix_hint="Set the DMS connection under Admin → Locations, then retry.")
            self.dms = connectors.connect(self.location.dms_vendor,
                                          {**self.location.connector_settings(), "timeout": CALL_TIMEOUT})
        return self.dms

    def close(self) -> None:
        """Release the connection pool."""
        if self.dms is not None:
            self.dms.close()


def _candidates(location_id: int, token: str) -> list[int]:
    """Due messages of the location with no earlier open message of the same record."""
    now = utcnow()
    msg, earlier = OutboxMessage, aliased(OutboxMessage)
    earlier_open = exists().where(earlier.target_type == msg.target_type, earlier.target_id == msg.target_id,
                                  earlier.id < msg.id, earlier.status.in_(OPEN))
    due = or_(
        and_(msg.status == OutboxStatus.PENDING, or_(msg.next_attempt_at.is_(None), msg.next_attempt_at <= now)),
        and_(msg.status == OutboxStatus.SENDING, or_(msg.claimed_by == token,
                                                     msg.last_attempt_at < now - STUCK_AFTER)),
    )
    db.session.rollback()  # a fresh snapshot: other workers' commits must be visible
    return list(db.session.scalars(select(msg.id).where(msg.location_id == location_id, due, ~earlier_open)
                                   .order_by(msg.id).limit(BATCH)))


def _claim(message_id: int, token: str) -> bool:
    """Take the message for this job (atomic: exactly one job wins)."""
    now = utcnow()
    msg = OutboxMessage
    result = db.session.execute(
        update(msg).where(msg.id == message_id, or_(
            msg.status == OutboxStatus.PENDING,
            and_(msg.status == OutboxStatus.SENDING, or_(msg.claimed_by == token,
                                                         msg.last_attempt_at < now - STUCK_AFTER))))
        .values(status=OutboxStatus.SENDING, claimed_by=token, attempts=msg.attempts + 1, last_attempt_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount == 1


def _deliver_one(message_id: int, location: Location, connection: _Connection) -> str:
    """Send one claimed message and record the outcome: "sent", "failed" or "retrying"."""
    message = db.session.get(OutboxMessage, message_id)
    db.session.refresh(message)
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
    refresh_push_state(db.session, message.target_type, message.target_id)
    _after_delivery(message)
    db.session.commit()
    failpoints.hit("push.after_commit")
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
    refresh_push_state(db.session, message.target_type, message.target_id)
    _after_delivery(message)
    db.session.commit()
    log.info("push %s (%s) failed: %s %s", message.id, message.kind.value, entry.code, detail)
    return "failed"


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Exponential backoff after ``attempts`` tries, never sooner than the DMS's Retry-After."""
    delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    return max(delay, float(retry_after or 0))


def _retrying(message: OutboxMessage, location: Location, exc: DmsError) -> str:
    """The DMS is unreachable or busy: try again later (or give up after many attempts)."""
    if message.attempts >= MAX_TRANSIENT_ATTEMPTS:
        profile = connectors.get_profile(location.dms_vendor)
        entry = profile.entry(profile.code_for("SERVER-ERROR"))
        entry = CatalogueEntry(entry.code, f"DMS unreachable after {message.attempts} attempts",
                               "The DMS did not answer for a long time. Check that it is up, then retry.")
        _failed(message, location, entry, exc.message, "transient")
        return "failed"
    delay = backoff_seconds(message.attempts, getattr(exc, "retry_after", None))
    message.status = OutboxStatus.PENDING
    message.claimed_by = None
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    message.error_code = exc.vendor_code
    message.error_title = "DMS unreachable - retrying automatically"
    message.fix_hint = exc.fix_hint
    message.error_message = exc.message[:2000]
    message.error_kind = "transient"
    db.session.commit()
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


def deliver_due_pushes() -> int:
    """Cron sweep: wake the delivery of every location with due or stuck messages."""
    now = utcnow()
    msg = OutboxMessage
    location_ids = list(db.session.scalars(select(msg.location_id).where(or_(
        and_(msg.status == OutboxStatus.PENDING, or_(msg.next_attempt_at.is_(None), msg.next_attempt_at <= now)),
        and_(msg.status == OutboxStatus.SENDING, msg.last_attempt_at < now - STUCK_AFTER))).distinct()))
    for location_id in location_ids:
        wake(location_id)
    return len(location_ids)


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
        writable = profile.writable_customer_fields if data_type == "customers" else profile.writable_vehicle_fields
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


def _link(model, record_id: int, dms_id: str) -> None:
    """Record a DMS id on a portal record without bumping its edit version."""
    db.session.execute(update(model).where(model.id == record_id).values(dms_id=dms_id)
                       .execution_options(synchronize_session="fetch"))


def _ensure_customer(dms, message: OutboxMessage, customer: Customer) -> str:
    """The customer's DMS id, creating the customer with the appointment when it has none."""
    if customer.dms_id:
        return customer.dms_id
    created = dms.create_customer(customer_fields(customer), f"{message.idempotency_key}:customer",
                                  for_appointment=True)
    _link(Customer, customer.id, created.dms_id)
    return created.dms_id


def _ensure_vehicle(dms, message: OutboxMessage, asset: Asset | None, owner_dms_id: str) -> str | None:
    """The vehicle's DMS id, creating it with the appointment when it has none."""
    if asset is None:
        return None
    if asset.dms_id:
        return asset.dms_id
    created = dms.create_vehicle(vehicle_fields(asset, owner_dms_id), f"{message.idempotency_key}:vehicle",
                                 for_appointment=True)
    _link(Asset, asset.id, created.dms_id)
    return created.dms_id


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
    message.payload = connectors.base._jsonable(fields)
    created = dms.create_appointment(fields, message.idempotency_key)
    db.session.execute(update(Appointment).where(Appointment.id == appointment.id).values(dms_id=created.dms_id)
                       .execution_options(synchronize_session="fetch"))
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
    message.payload = connectors.base._jsonable(fields)
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
    _link(Customer, customer.id, created.dms_id)
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
    _link(Asset, asset.id, created.dms_id)
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
    writable = profile.writable_customer_fields if data_type == "customers" else profile.writable_vehicle_fields
    fields = {k: v for k, v in (payload.get("fields") or {}).items() if k in writable}
    payload["not_sent_fields"] = sorted(set(payload.get("fields") or {}) - set(fields))
    message.payload = payload
    update_record = dms.update_customer if data_type == "customers" else dms.update_vehicle
    return update_record(payload["dms_id"], fields, payload.get("etag")).dms_id


@register_handler(OutboxKind.PAYMENT_EXPORT)
def send_payment(dms, message: OutboxMessage, location: Location) -> str | None:
    """Post a receipt: payload ``{"ro_number", "amount", "method", "payer", "received_at"}``."""
    return dms.export_payment(message.payload, message.idempotency_key).dms_id
