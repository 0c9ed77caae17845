"""The outbox API: how any area of the console sends a change to the DMS.

Usage (inside the request or job that makes the change)::

    from webapp.outbox import enqueue_push
    from webapp.models import OutboxKind

    payment.status = "ready"
    enqueue_push(db.session, location, OutboxKind.PAYMENT_EXPORT, payment,
                 payload={"ro_number": "R123", "amount": "120.00", "method": "card", ...})
    db.session.commit()   # the row is written with the change; delivery starts after the commit

:func:`enqueue_push` only adds an :class:`OutboxMessage` to the caller's session: the
change and its outbox row commit (or roll back) together, so a change can never reach
the DMS without being saved, nor be saved without being queued. After the commit the
location's delivery job is woken (``jobs.pushes.deliver_pushes``); if Redis is down at
that moment, the every-minute sweep (``jobs.schedule.wake_due_pushes``) finds the row.

What each kind sends is defined by its handler in ``jobs.pushes.HANDLERS`` (a new kind adds
its entry there); ``jobs.pushes.AFTER_DELIVERY_HOOKS`` tells other areas when a message was
sent or refused. People act on refused messages with
:func:`retry_message` and :func:`dismiss_message` (the Failed pushes page).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from webapp import after_commit
from webapp.models import (
    Appointment,
    ChangeSource,
    Location,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    PushState,
    utcnow,
)
from webapp.models.change_history import record_change
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.queues import PUSHES, get_queue

log = logging.getLogger(__name__)

WAKE = "outbox.wake"  # after_commit kind: the locations whose push delivery to wake
WAKE_KEY = "dms-console:push-wake:{}"
# At most this many delivery jobs wait in the queue per location: each drains every due
# message of the location, so more would only cost Redis round-trips.
MAX_QUEUED_DRAINS = 2
DELIVERY_JOB = "jobs.pushes.deliver_pushes"
JOB_TIMEOUT = 900


def new_idempotency_key(location: Location, kind: OutboxKind, target_type: str, target_id: int) -> str:
    """A key the DMS remembers the first result under, so a resend can never create twice."""
    return f"{location.code}-{kind.value}-{target_type}-{target_id}-{uuid.uuid4().hex[:16]}"[:80]


def enqueue_push(
    session,
    location: Location,
    kind: OutboxKind | str,
    record: Any,
    payload: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
    *,
    advisor_id: int | None = None,
    brand: str | None = None,
    user_id: int | None = None,
) -> OutboxMessage:
    """Add an outbox row for ``record`` to ``session`` (the caller commits).

    ``record`` is any model instance with ``id`` and ``__tablename__`` (flushed here if
    new). ``payload`` is what to send (appointment kinds rebuild it from the record when
    sending). ``idempotency_key`` defaults to a fresh unique key.
    """
    kind = OutboxKind(kind)
    if getattr(record, "id", None) is None:
        session.flush()
    target_type = record.__tablename__
    message = OutboxMessage(
        location_id=location.id,
        kind=kind,
        target_type=target_type,
        target_id=record.id,
        payload=payload or {},
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=utcnow(),
        idempotency_key=idempotency_key or new_idempotency_key(location, kind, target_type, record.id),
        advisor_id=advisor_id,
        brand=brand,
        created_by_id=user_id,
    )
    session.add(message)
    after_commit.defer(session, WAKE, location.id)
    return message


def wake(location_id: int) -> bool:
    """Make sure a delivery job for the location is queued; False if Redis could not be reached."""
    try:
        redis = get_redis()
        key = WAKE_KEY.format(location_id)
        pipe = redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 300)  # a lost job cannot block waking for long
        queued = pipe.execute()[0]
        if queued > MAX_QUEUED_DRAINS:
            redis.decr(key)
            return True
        get_queue(PUSHES).enqueue(
            DELIVERY_JOB,
            location_id,
            job_timeout=JOB_TIMEOUT,
            result_ttl=60,
            failure_ttl=7 * 86400,
            # Only a crashed worker makes this job fail (DMS errors are recorded on the rows):
            # the retry re-claims the messages the dead job was sending.
            retry=retry_policy.CRASHED_JOBS.rq_retry(),
            description=f"deliver DMS pushes of location {location_id}",
        )
        return True
    except Exception:
        log.exception("could not wake the push delivery of location %s; the sweep will", location_id)
        return False


@after_commit.handler(WAKE)
def _wake_after_commit(location_ids: list[int]) -> None:
    """Queued rows are visible now: wake their locations' delivery."""
    for location_id in sorted(location_ids):
        wake(location_id)


# --------------------------------------------------------------------------- state of a record
def messages_of(session, target_type: str, target_id: int) -> list[OutboxMessage]:
    """Every outbox message of one record, oldest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.target_type == target_type, OutboxMessage.target_id == target_id)
            .order_by(OutboxMessage.id)
        )
    )


def summarise(messages) -> PushState:
    """One state for a record's messages: failed > pending > not sent (last dismissed) > sent."""
    if not messages:
        return PushState.NOT_SENT
    statuses = [m.status for m in messages]
    if OutboxStatus.FAILED in statuses:
        return PushState.FAILED
    if OutboxStatus.PENDING in statuses or OutboxStatus.SENDING in statuses:
        return PushState.PENDING
    if statuses[-1] == OutboxStatus.DISMISSED:
        return PushState.NOT_SENT
    return PushState.SENT


def refresh_push_state(session, target_type: str, target_id: int) -> None:
    """Store the summary on appointments (lists show it without joining the outbox).

    A bulk UPDATE, so the appointment's optimistic version is not bumped by the job
    while someone is editing it.
    """
    refresh_push_states(session, [(target_type, target_id)])


def refresh_push_states(session, targets) -> None:
    """:func:`refresh_push_state` for many ``(target_type, target_id)`` at once: one query
    for their messages' statuses, one executemany for the appointments."""
    ids = sorted({target_id for target_type, target_id in targets if target_type == Appointment.__tablename__})
    if not ids:
        return
    session.flush()
    by_target: dict[int, list] = {target_id: [] for target_id in ids}
    for start in range(0, len(ids), 500):
        for row in session.execute(
            select(OutboxMessage.target_id, OutboxMessage.status)
            .where(
                OutboxMessage.target_type == Appointment.__tablename__,
                OutboxMessage.target_id.in_(ids[start : start + 500]),
            )
            .order_by(OutboxMessage.id)
        ):
            by_target[row.target_id].append(row)  # rows with .status, as summarise reads
    table = Appointment.__table__
    rows = [{"b_id": target_id, "b_state": summarise(messages)} for target_id, messages in by_target.items()]
    session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(push_state=bindparam("b_state", type_=table.c.push_state.type)),
        rows,
    )
    for row in rows:  # keep appointments already in the session in step, as a fetch would
        appointment = session.identity_map.get(identity_key(Appointment, row["b_id"]))
        if appointment is not None:
            set_committed_value(appointment, "push_state", row["b_state"])


# --------------------------------------------------------------------------- people acting on a refusal
def requeue(session, message: OutboxMessage) -> None:
    """Put a failed message back in line (the caller commits).

    A message the DMS *refused* gets a new idempotency key: the DMS may remember its
    refusal under the old key. One that only timed out keeps its key, because the DMS
    may have created the record before the connection dropped.
    """
    if message.error_kind == "refused":
        message.idempotency_key = f"{message.idempotency_key[:70]}-r{message.attempts}-{uuid.uuid4().hex[:6]}"
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = utcnow()
    message.claimed_by = None
    after_commit.defer(session, WAKE, message.location_id)


def is_conflict(message: OutboxMessage) -> bool:
    """True for a push the DMS refused because its record changed after it was read (ETag
    mismatch): resending the same version can only be refused again."""
    return (message.error_code or "").upper().endswith("ETAG-MISMATCH")


def retry_message(session, message: OutboxMessage, user_id: int | None) -> None:
    """Retry a failed message now (after the cause was fixed); history keeps who did it."""
    if message.status != OutboxStatus.FAILED:
        return
    record_change(
        record=message,
        field="status",
        old=message.status.value,
        new=OutboxStatus.PENDING.value,
        source=ChangeSource.PORTAL,
        user_id=user_id,
        context={"action": "retry", "error_code": message.error_code},
    )
    requeue(session, message)
    refresh_push_state(session, message.target_type, message.target_id)


def dismiss_message(session, message: OutboxMessage, reason: str, user_id: int | None) -> None:
    """Give up on a message (it will not be sent); the reason and who decided stay in history."""
    if message.status not in (OutboxStatus.FAILED, OutboxStatus.PENDING):
        return
    record_change(
        record=message,
        field="status",
        old=message.status.value,
        new=OutboxStatus.DISMISSED.value,
        source=ChangeSource.PORTAL,
        user_id=user_id,
        context={
            "action": "dismiss",
            "reason": reason,
            "error_code": message.error_code,
            "target": f"{message.target_type}:{message.target_id}",
        },
    )
    message.status = OutboxStatus.DISMISSED
    message.dismissed_reason = reason
    message.dismissed_by_id = user_id
    message.dismissed_at = utcnow()
    message.claimed_by = None
    refresh_push_state(session, message.target_type, message.target_id)
    # A later message of the same record was waiting behind this one.
    after_commit.defer(session, WAKE, message.location_id)
