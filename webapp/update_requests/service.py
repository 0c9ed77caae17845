"""Deciding a request: one reviewer wins, the values land on the customer in one transaction.

Two reviewers may press Approve (or Reject) on the same request at the same moment. The
decision is a conditional ``UPDATE ... WHERE status = 'pending'``: the database lets
exactly one of them match the row (PostgreSQL re-checks the condition after the first
commits; SQLite serialises writers), and the loser's rowcount of 0 becomes
"already decided by X". The customer's values, their Change History rows and the audit
log entry are written in the same transaction as the winning UPDATE, so either all of it
happens or none.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user
from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError

from webapp import audit
from webapp.domain.update_request_fields import differs, label, ordered_attrs
from webapp.extensions import db
from webapp.models import ChangeSource, Customer, User, utcnow
from webapp.models.change_history import record_change
from webapp.models.notification import NotificationKind
from webapp.models.update_request import UpdateRequest, UpdateRequestStatus
from webapp.permissions import Permission, can
from webapp.scoping import scoped
from webapp.services.notifications import notify


@dataclass(frozen=True)
class Decision:
    """What happened when a reviewer decided: ``ok`` and a message for them."""

    ok: bool
    message: str


def _claim(request_id: int, status: UpdateRequestStatus, reviewer_id: int, reason: str | None = None) -> bool:
    """Move the request from pending to ``status`` if nobody else did; True when we won."""
    result = db.session.execute(
        update(UpdateRequest)
        .where(UpdateRequest.id == request_id, UpdateRequest.status == UpdateRequestStatus.PENDING)
        .values(
            status=status, decided_by_id=reviewer_id, decided_at=utcnow(), reject_reason=reason, updated_at=utcnow()
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def already_decided(request_id: int) -> Decision:
    """The loser's message: who decided, and how."""
    db.session.rollback()
    current = db.session.get(UpdateRequest, request_id, populate_existing=True)
    who = current.decided_by.name if current and current.decided_by else "someone else"
    how = current.status.label.lower() if current else "decided"
    return Decision(False, f"This request was already decided by {who} ({how}). Nothing was changed.")


def _audit(kind: str, request_id: int, location_id: int, customer_id: int, reviewer: User, detail: str = "") -> None:
    """The decision's audit log entry, added to the transaction that makes the decision (and committed
    or rolled back with it). Reading the reviewer's expired attributes must not flush the customer's
    changes early: they are flushed by the commit, where a concurrent save is caught."""
    with db.session.no_autoflush:
        audit.record(
            kind,
            user=reviewer,
            location_id=location_id,
            target=f"update request {request_id} (customer {customer_id})",
            detail=detail,
        )


def _notify(request_id: int, kind: NotificationKind, reviewer_id: int, text: str) -> None:
    """Tell the requester, in the transaction that makes the decision (committed or rolled back
    with it; the e-mail, if any, is queued after the commit). Like the audit entry, it must not
    flush the customer's changes early."""
    with db.session.no_autoflush:
        update_request = db.session.get(UpdateRequest, request_id)
        if update_request is not None:
            notify(db.session, update_request, kind, text, decided_by_id=reviewer_id)


def _fresh_transaction() -> None:
    """End the read transaction the page load opened, so the claim is the first statement
    of a new one (SQLite in WAL mode refuses to upgrade a stale read snapshot to a write)."""
    db.session.commit()


def approve(update_request: UpdateRequest, reviewer: User) -> Decision:
    """Apply the requested values to the customer and mark the request approved."""
    request_id, customer_id = update_request.id, update_request.customer_id
    location_id = update_request.location_id
    requested = dict(update_request.requested_values)
    reviewer_id, reviewer_name = reviewer.id, reviewer.name
    _fresh_transaction()
    if not _claim(request_id, UpdateRequestStatus.APPROVED, reviewer_id):
        return already_decided(request_id)
    customer = db.session.get(Customer, customer_id, populate_existing=True)
    changed = []
    for attr in ordered_attrs(requested):
        new = requested[attr]
        old = getattr(customer, attr)
        if not differs(attr, old, new):
            continue
        setattr(customer, attr, new)
        record_change(
            record=customer,
            field=attr,
            old=old,
            new=new,
            source=ChangeSource.UPDATE_REQUEST,
            user_id=reviewer_id,
            context={"update_request_id": request_id},
        )
        changed.append(label(attr))
    _audit("update_request.approved", request_id, location_id, customer_id, reviewer)
    _notify(
        request_id,
        NotificationKind.APPROVED,
        reviewer_id,
        f"Your update request #{request_id} for {customer.display_name} was approved by {reviewer_name}: "
        + (
            f"{', '.join(changed)} updated on the customer record."
            if changed
            else "the customer record already had these values."
        ),
    )
    try:
        db.session.commit()  # the version column makes a concurrent customer save fail here
    except StaleDataError:
        db.session.rollback()
        return Decision(
            False,
            "The customer was changed by someone else while you were approving. "
            "Nothing was applied; reload the request and check the values again.",
        )
    db.session.expire(update_request)
    if changed:
        return Decision(True, f"Approved: {', '.join(changed)} updated for {customer.display_name}.")
    return Decision(True, f"Approved: {customer.display_name} already had these values; nothing needed changing.")


def reject(update_request: UpdateRequest, reviewer: User, reason: str) -> Decision:
    """Mark the request rejected with ``reason``; the customer is not touched."""
    request_id, reviewer_id, reviewer_name = update_request.id, reviewer.id, reviewer.name
    location_id, customer_id = update_request.location_id, update_request.customer_id
    _fresh_transaction()
    if not _claim(request_id, UpdateRequestStatus.REJECTED, reviewer_id, reason=reason):
        return already_decided(request_id)
    _audit("update_request.rejected", request_id, location_id, customer_id, reviewer, detail=f"reason: {reason}")
    customer = db.session.get(Customer, customer_id)
    _notify(
        request_id,
        NotificationKind.REJECTED,
        reviewer_id,
        f"Your update request #{request_id} for {customer.display_name if customer else 'a customer'} "
        f"was rejected by {reviewer_name}. Reason: {reason}",
    )
    db.session.commit()
    db.session.expire(update_request)
    return Decision(True, "Rejected. The requester will see your reason on the request.")


# --------------------------------------------------------------------------- reading
def customer_update_requests(customer: Customer) -> list[UpdateRequest]:
    """The customer's requests, newest first, for ``_customer_requests.html`` (own location only)."""
    if not can(current_user, Permission.REQUEST_UPDATES):
        return []
    return list(
        db.session.scalars(
            scoped(UpdateRequest)
            .where(UpdateRequest.customer_id == customer.id)
            .order_by(UpdateRequest.created_at.desc(), UpdateRequest.id.desc())
        )
    )
