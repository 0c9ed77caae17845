"""The sync wizard's steps: start (live DMS fetch), owner, fields, confirm, apply, summary.

Everything a step needs comes from the server: the portal record (scoped to the user's
location), and the DMS record fetched live when the wizard started and stored on the
:class:`SyncSession` with its ETag. The browser only posts the session id and choices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm.exc import StaleDataError

import connectors
from connectors.vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT
from webapp.domain import sync
from webapp.extensions import db
from webapp.models import (
    Asset,
    ChangeSource,
    Customer,
    DmsRecord,
    Location,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    SyncSession,
    SyncSessionStatus,
    WriteBackMode,
    utcnow,
)
from webapp.models.change_history import record_change
from webapp.record_kinds import PORTAL_KINDS
from webapp.scoping import scoped
from webapp.search import adding, engine, live
from webapp.search.web import customer_name

MODELS = {"customer": Customer, "asset": Asset}
NOUNS = {"customer": "customer", "asset": "vehicle"}
RECORD_TYPES_BY_TABLE = {Customer.__tablename__: "customer", Asset.__tablename__: "asset"}
OWNER_SEARCH_LIMIT = 10
# Owner choices of the asset wizard's first part.
OWNER_PORTAL, OWNER_DMS, OWNER_OTHER = "portal", "dms", "other"


class WizardError(Exception):
    """A step cannot go on; ``message`` (and ``fix_hint``) are shown to the person."""

    def __init__(self, message: str, fix_hint: str | None = None, retry: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.fix_hint = fix_hint
        self.retry = retry


class ChangedBySomeoneElse(WizardError):
    """The portal record changed since the wizard read it: nothing was applied."""


def detail_url(record_type: str, record_id: int) -> str:
    """The record's own page (where Close goes when the start page is unknown)."""
    return PORTAL_KINDS[sync.DATA_TYPES[record_type]].detail_url_of(record_id)


def safe_return_to(value: str | None, record_type: str, record_id: int) -> str:
    """A local path to return to (never another site), else the record's page."""
    from webapp.auth.redirects import safe_next

    return safe_next((value or "").strip(), max_length=500) or detail_url(record_type, record_id)


# --------------------------------------------------------------------------- start
def start(record_type: str, record: Any, location: Location, user_id: int, return_to: str | None) -> SyncSession:
    """Fetch the DMS record live, compare, and open a wizard (commits).

    Raises :class:`WizardError` (with a retry when the DMS could not be reached).
    When nothing differs, Last Synced is stamped and the wizard is already finished.
    """
    if not record.dms_id:
        raise WizardError(
            f"This {NOUNS[record_type]} is not linked to a DMS record, so there is nothing to compare.",
            "Add it from the DMS tab of the search, or link it in the DMS first.",
        )
    data_type = sync.DATA_TYPES[record_type]
    payload, failure = live.fetch(location, data_type, record.dms_id)
    if failure is not None:
        raise WizardError(failure.error, failure.fix_hint, retry=True)
    if payload is None:
        raise WizardError(
            f"The DMS has no {NOUNS[record_type]} {record.dms_id} (it may have been deleted or merged).",
            "Check the record in the DMS; nothing was changed.",
        )
    wizard = SyncSession(
        location_id=location.id,
        record_type=record_type,
        record_id=record.id,
        user_id=user_id,
        status=SyncSessionStatus.OPEN,
        record_version=record.version,
        dms_id=record.dms_id,
        dms_record=payload,
        dms_etag=payload.get("etag"),
        return_to=safe_return_to(return_to, record_type, record.id),
    )
    differences = sync.compare(record_type, record, payload, oem_locked=location.oem_build_data)
    wizard.choices = sync.initial_choices(differences)
    owner_differs = record_type == "asset" and _owner_differs(record, payload)
    if owner_differs:
        wizard.step = "owner"
        dms_owner_id = payload.get("owner_dms_id")
        if dms_owner_id and _portal_customer_by_dms_id(dms_owner_id) is None:
            # Shown by name in the owner step, added to the portal on apply.
            owner_payload, _failure = adding.dms_payload(
                db.session, scoped(DmsRecord), location, "customers", dms_owner_id
            )
            wizard.dms_owner_record = owner_payload
    elif differences:
        wizard.step = "fields"
    else:
        # Nothing differs: say so and stamp Last Synced.
        stamp_last_synced(record, user_id, {"dms_id": record.dms_id, "records_match": True})
        wizard.step = "summary"
        wizard.status = SyncSessionStatus.APPLIED
        wizard.applied_at = utcnow()
        wizard.summary = {"match": True}
    db.session.add(wizard)
    supersede_conflicts(record, user_id)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise ChangedBySomeoneElse(
            f"This {NOUNS[record_type]} was changed by someone else a moment ago.",
            "Start the sync again to compare with the latest values.",
            retry=True,
        ) from None
    return wizard


REPLACED_BY_NEW_COMPARISON = (
    "Replaced by a new comparison: the record had changed in the DMS, so the sync "
    "wizard compares it again instead of resending the old values."
)


def supersede_conflicts(record: Any, user_id: int) -> None:
    """End the record's write-backs the DMS refused as stale (ETag conflict): a fresh comparison replaces them.

    A refused write-back would otherwise hold the record's next write-back back (order per
    record) and could only be resent with the old version, to be refused again.
    """
    from webapp.outbox import dismiss_message, is_conflict

    for message in db.session.scalars(
        scoped(OutboxMessage).where(
            OutboxMessage.target_type == record.__tablename__,
            OutboxMessage.target_id == record.id,
            OutboxMessage.kind == OutboxKind.WIZARD_WRITE_BACK,
            OutboxMessage.status == OutboxStatus.FAILED,
        )
    ):
        if is_conflict(message):
            dismiss_message(db.session, message, REPLACED_BY_NEW_COMPARISON, user_id)


def stamp_last_synced(record: Any, user_id: int, context: dict[str, Any]) -> None:
    """Set Last Synced to now; the sync itself is recorded in Change History (seed 001: every sync is)."""
    old = record.last_synced_at
    record.last_synced_at = utcnow()
    record_change(
        record=record,
        field="last_synced_at",
        old=old.isoformat() if old else None,
        new=record.last_synced_at.isoformat(),
        source=ChangeSource.SYNC_WIZARD,
        user_id=user_id,
        context=context,
    )


def _owner_differs(asset: Asset, payload: dict[str, Any]) -> bool:
    portal_owner = asset.customer.dms_id if asset.customer else None
    return (payload.get("owner_dms_id") or None) != (portal_owner or None)


def _portal_customer_by_dms_id(dms_id: str | None) -> Customer | None:
    if not dms_id:
        return None
    return db.session.scalar(scoped(Customer).where(Customer.dms_id == str(dms_id)))


def find(record_type: str, record: Any, wizard_id: Any, user_id: int) -> SyncSession | None:
    """The person's own wizard for this record (None for anything else)."""
    try:
        wizard_id = int(wizard_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(
        scoped(SyncSession).where(
            SyncSession.id == wizard_id,
            SyncSession.record_type == record_type,
            SyncSession.record_id == record.id,
            SyncSession.user_id == user_id,
        )
    )


# --------------------------------------------------------------------------- what a step shows
@dataclass
class OwnerOption:
    """A customer the asset could belong to, as the owner step shows it."""

    key: str
    label: str
    customer: Customer | None = None
    dms_id: str | None = None
    note: str | None = None
    available: bool = True


@dataclass
class View:
    """Everything the templates need for the wizard's current step."""

    wizard: SyncSession
    record: Any
    location: Location
    differences: list[sync.Difference]
    choices: dict[str, Any]
    owner_options: list[OwnerOption] = field(default_factory=list)
    owner_search: list[Customer] = field(default_factory=list)
    owner_query: str = ""
    picked_customer: Customer | None = None
    plan: sync.Plan | None = None
    write_back: bool = False
    error: str | None = None
    fix_hint: str | None = None
    outbox_message: OutboxMessage | None = None

    @property
    def record_type(self) -> str:
        """ "customer" or "asset"."""
        return self.wizard.record_type

    @property
    def steps(self) -> list[tuple[str, str]]:
        """The wizard's steps (key, label) for the progress list."""
        steps = [("fields", "Compare fields"), ("confirm", "Confirm"), ("summary", "Summary")]
        if self.record_type == "asset":
            steps.insert(0, ("owner", "Customer"))
        return steps

    @property
    def has_owner_step(self) -> bool:
        """True when the asset wizard asks about the customer (the systems disagree)."""
        return self.record_type == "asset" and _owner_differs(self.record, self.wizard.dms_record)

    @property
    def conflict(self) -> bool:
        """True when the DMS refused the write-back because its record changed after the wizard read it."""
        from webapp.outbox import is_conflict

        message = self.outbox_message
        return message is not None and message.status == OutboxStatus.FAILED and is_conflict(message)

    @property
    def close_url(self) -> str:
        """Where Close goes: the page the person started from."""
        return self.wizard.return_to or detail_url(self.record_type, self.record.id)


def view(wizard: SyncSession, record: Any, location: Location, **extra: Any) -> View:
    """Build the view of the wizard's current step from server-side state."""
    differences = sync.compare(wizard.record_type, record, wizard.dms_record, oem_locked=location.oem_build_data)
    result = View(
        wizard=wizard,
        record=record,
        location=location,
        differences=differences,
        choices=dict(wizard.choices or {}),
        write_back=location.write_back_mode == WriteBackMode.PORTAL_AND_DMS,
        **extra,
    )
    if wizard.record_type == "asset":
        result.owner_options = owner_options(wizard, record)
        if wizard.owner_customer_id:
            result.picked_customer = db.session.scalar(scoped(Customer).where(Customer.id == wizard.owner_customer_id))
    if wizard.step == "confirm" and wizard.status == SyncSessionStatus.OPEN:
        try:
            result.plan = plan(wizard, record, location, differences)
        except WizardError as exc:  # e.g. the picked customer was deleted meanwhile
            result.error, result.fix_hint = exc.message, exc.fix_hint
    if wizard.outbox_message_id:
        result.outbox_message = db.session.scalar(
            scoped(OutboxMessage).where(OutboxMessage.id == wizard.outbox_message_id)
        )
    return result


def owner_options(wizard: SyncSession, asset: Asset) -> list[OwnerOption]:
    """The portal's customer and the DMS's customer of the asset."""
    portal = asset.customer
    options = [
        OwnerOption(
            OWNER_PORTAL,
            portal.display_name if portal else "No customer",
            portal,
            portal.dms_id if portal else None,
            None if portal else "The asset keeps no customer in the portal.",
        )
    ]
    dms_owner_id = wizard.dms_record.get("owner_dms_id")
    existing = _portal_customer_by_dms_id(dms_owner_id)
    if not dms_owner_id:
        options.append(OwnerOption(OWNER_DMS, "No customer", None, None, "The DMS has no customer for this vehicle."))
    elif existing is not None:
        options.append(OwnerOption(OWNER_DMS, existing.display_name, existing, dms_owner_id))
    elif wizard.dms_owner_record:
        name = customer_name(wizard.dms_owner_record, default=f"DMS customer {dms_owner_id}")
        options.append(
            OwnerOption(
                OWNER_DMS, name, None, dms_owner_id, "Not in the portal yet: it is added from the DMS when you apply."
            )
        )
    else:
        options.append(
            OwnerOption(
                OWNER_DMS,
                f"DMS customer {dms_owner_id}",
                None,
                dms_owner_id,
                "The DMS could not be asked for this customer's details; start again to retry.",
                available=False,
            )
        )
    return options


def search_owner(location: Location, term: str) -> list[Customer]:
    """Portal customers for "search for another one" (the customer search itself)."""
    term = (term or "").strip()[:100]
    if not term:
        return []
    return engine.search_customers(db.session, scoped(Customer), location.id, term, per_page=OWNER_SEARCH_LIMIT).rows


# --------------------------------------------------------------------------- steps
def save_choices(
    wizard: SyncSession, differences: list[sync.Difference], submitted: dict[str, str], require_all: bool
) -> None:
    """Store the person's choices (raises ``sync.ChoiceError`` for forged or missing ones)."""
    wizard.choices = sync.validate_choices(differences, submitted, require_all=require_all)


def save_owner(wizard: SyncSession, asset: Asset, choice: str | None, customer_id: Any) -> None:
    """Store the owner decision of the asset wizard (raises :class:`WizardError`)."""
    if choice not in (OWNER_PORTAL, OWNER_DMS, OWNER_OTHER):
        raise WizardError("Choose which customer the asset belongs to.")
    if choice == OWNER_DMS:
        option = next(o for o in owner_options(wizard, asset) if o.key == OWNER_DMS)
        if not option.available:
            raise WizardError(option.note or "The DMS's customer is not available.")
    if choice == OWNER_OTHER:
        try:
            customer_id = int(customer_id)
        except (TypeError, ValueError):
            raise WizardError("Search for the customer, then pick one of the results.") from None
        if db.session.scalar(scoped(Customer).where(Customer.id == customer_id)) is None:
            raise WizardError("That customer is not one of this location's customers.")
        wizard.owner_customer_id = customer_id
    wizard.owner_choice = choice


def push_refusal(location: Location, record_type: str, profile: Any) -> str | None:
    """Why the vendor takes no stand-alone updates of this record type (None when it does)."""
    mode = profile.push_mode(sync.DATA_TYPES[record_type])
    if mode == PUSH_NOT_AVAILABLE:
        return profile.refusal_text(f"does not accept {NOUNS[record_type]} updates")
    if mode == PUSH_WITH_APPOINTMENT:
        return profile.refusal_text(f"accepts {NOUNS[record_type]} updates only together with an appointment")
    return None


@dataclass
class OwnerChange:
    """The asset's customer after the owner step: the new portal customer (or the DMS record to add)."""

    customer: Customer | None
    add_payload: dict[str, Any] | None
    label: str
    changes: bool


def owner_change(wizard: SyncSession, asset: Asset) -> OwnerChange | None:
    """What the owner decision changes in the portal (None for the customer wizard / no decision)."""
    if wizard.record_type != "asset" or not _owner_differs(asset, wizard.dms_record) or not wizard.owner_choice:
        return None
    current = asset.customer
    if wizard.owner_choice == OWNER_PORTAL:
        return OwnerChange(current, None, current.display_name if current else "No customer", False)
    if wizard.owner_choice == OWNER_OTHER:
        picked = db.session.scalar(scoped(Customer).where(Customer.id == wizard.owner_customer_id))
        if picked is None:
            raise WizardError("The customer you picked is no longer in the portal; pick another one.")
        return OwnerChange(picked, None, picked.display_name, picked.id != asset.customer_id)
    dms_owner_id = wizard.dms_record.get("owner_dms_id")
    if not dms_owner_id:
        return OwnerChange(None, None, "No customer", current is not None)
    existing = _portal_customer_by_dms_id(dms_owner_id)
    if existing is not None:
        return OwnerChange(existing, None, existing.display_name, existing.id != asset.customer_id)
    if not wizard.dms_owner_record:
        raise WizardError("The DMS's customer could not be read; start the sync again.", retry=True)
    return OwnerChange(
        None,
        dict(wizard.dms_owner_record),
        customer_name(wizard.dms_owner_record, default=f"DMS customer {dms_owner_id}"),
        True,
    )


def plan(
    wizard: SyncSession, record: Any, location: Location, differences: list[sync.Difference] | None = None
) -> sync.Plan:
    """What applying changes where (the confirm step's preview and the apply itself)."""
    if differences is None:
        differences = sync.compare(wizard.record_type, record, wizard.dms_record, oem_locked=location.oem_build_data)
    profile = connectors.get_profile(location.dms_vendor)
    writable = profile.writable_customer_fields if wizard.record_type == "customer" else profile.writable_vehicle_fields
    owner = owner_change(wizard, record)
    owner_labels = None
    owner_ids = None
    if owner is not None:
        if owner.changes:
            owner_labels = (record.customer.display_name if record.customer else "No customer", owner.label)
        new_dms_id = owner.customer.dms_id if owner.customer else (owner.add_payload or {}).get("dms_id")
        owner_ids = (wizard.dms_record.get("owner_dms_id"), new_dms_id)
    return sync.plan(
        wizard.record_type,
        differences,
        wizard.choices or {},
        wizard.dms_record,
        write_back=location.write_back_mode == WriteBackMode.PORTAL_AND_DMS,
        writable=writable,
        profile=profile,
        push_refusal=push_refusal(location, wizard.record_type, profile),
        owner_change=owner_labels,
        owner_dms_id=owner_ids,
    )


# --------------------------------------------------------------------------- apply
def _changed_by_someone_else(record_type: str) -> ChangedBySomeoneElse:
    return ChangedBySomeoneElse(
        f"This {NOUNS[record_type]} was changed by someone else since you started the sync. Nothing was applied.",
        "Start the sync again to compare with the latest values.",
        retry=True,
    )


def apply(wizard: SyncSession, record: Any, location: Location, user_id: int) -> None:
    """Apply the choices in one transaction, with Change History, Last Synced and the write-back.

    The portal record must still be at the version the wizard read (someone else's save
    in between is refused, never overwritten); a concurrent apply racing this one loses at
    the database (optimistic locking) and gets the same message.
    """
    if wizard.status == SyncSessionStatus.APPLIED:
        return
    if wizard.status == SyncSessionStatus.CANCELLED:
        raise WizardError(
            "This sync was cancelled, so nothing was applied or written to the DMS.",
            "Start the sync again to compare with the DMS.",
            retry=True,
        )
    if record.version != wizard.record_version:
        raise _changed_by_someone_else(wizard.record_type)
    differences = sync.compare(wizard.record_type, record, wizard.dms_record, oem_locked=location.oem_build_data)
    try:
        choices = sync.validate_choices(
            differences, {k: v for k, v in (wizard.choices or {}).items() if v}, require_all=True
        )
    except sync.ChoiceError as exc:
        raise WizardError(str(exc)) from None
    wizard.choices = choices
    owner = owner_change(wizard, record)
    if owner is not None and owner.add_payload is not None:
        # "Added to the portal first": add_from_dms commits the new customer on its own.
        added, _created = adding.add_from_dms(
            db.session, scoped(Customer), location, "customers", owner.add_payload, user_id
        )
        db.session.refresh(record)
        if record.version != wizard.record_version:
            raise _changed_by_someone_else(wizard.record_type)
    result = plan(wizard, record, location, differences)
    context = {"sync_session_id": wizard.id, "dms_id": wizard.dms_id}
    for attr, _label, old, new in result.portal_changes:
        if attr == "customer_id":
            continue
        setattr(record, attr, new)
        record_change(
            record=record,
            field=attr,
            old=old,
            new=getattr(record, attr, new),
            source=ChangeSource.SYNC_WIZARD,
            user_id=user_id,
            context=context,
        )
    if owner is not None and owner.changes:
        new_owner = owner.customer or _portal_customer_by_dms_id((owner.add_payload or {}).get("dms_id"))
        old_id = record.customer_id
        record.customer = new_owner
        record_change(
            record=record,
            field="customer_id",
            old=old_id,
            new=new_owner.id if new_owner else None,
            source=ChangeSource.SYNC_WIZARD,
            user_id=user_id,
            context=context,
        )
    summary = result.to_dict()
    summary["write_back"] = location.write_back_mode == WriteBackMode.PORTAL_AND_DMS
    if not (summary["write_back"] and result.dms_fields):
        stamp_last_synced(record, user_id, context)
    else:
        # The systems agree only once the DMS took the write-back: its delivery stamps Last Synced
        # then (jobs.push_handlers.stamp_last_synced_on_write_back; never after a refusal).
        summary["last_synced_on_write_back"] = True
        from webapp.outbox import enqueue_push

        message = enqueue_push(
            db.session,
            location,
            OutboxKind.WIZARD_WRITE_BACK,
            record,
            payload={
                "data_type": sync.DATA_TYPES[wizard.record_type],
                "dms_id": wizard.dms_id,
                "fields": result.dms_fields,
                "etag": wizard.dms_etag,
                "sync_session_id": wizard.id,
            },
            # One key per wizard: applying twice can never queue (or send) twice.
            idempotency_key=f"{location.code}-sync-wizard-{wizard.id}"[:80],
            user_id=user_id,
        )
        db.session.flush()
        wizard.outbox_message_id = message.id
    wizard.summary = summary
    wizard.status = SyncSessionStatus.APPLIED
    wizard.step = "summary"
    wizard.applied_at = utcnow()
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise _changed_by_someone_else(wizard.record_type) from None
