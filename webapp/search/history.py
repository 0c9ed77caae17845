"""Change History as a person reads it (the Customers and Assets pages; no routes here).

Rows are stored with internal values: attribute names, E.164 phones, ISO timestamps, a
customer's id. Each row is shown with the label the forms use, the phone as the portal
writes it elsewhere, the time in the location's zone and the customer's name (a link
when the viewer may open it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import url_for
from flask_login import current_user

from webapp.domain import sync
from webapp.domain.normalise import format_phone
from webapp.extensions import db
from webapp.models import ChangeHistory, Customer
from webapp.permissions import Permission, can
from webapp.scoping import scoped
from webapp.template_filters import local_time

#: Fields of the records' pages that no form edits, labelled as those pages label them.
PAGE_LABELS = {"dms_id": "DMS id", "last_synced_at": "Last Synced", "customer_id": "Owner", "is_business": "Business"}
PHONE_FIELDS = frozenset({"phone", "mobile_phone"})
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True)
class Shown:
    """One old or new value as shown: its text and, for a reference, where it leads."""

    text: str
    url: str | None = None


@dataclass(frozen=True)
class HistoryRow:
    """One Change History row, ready to show."""

    entry: ChangeHistory
    label: str
    old: Shown
    new: Shown

    @property
    def when(self) -> datetime:
        """When the change was made."""
        return self.entry.changed_at


def field_label(record_type: str, field: str) -> str:
    """The field's label as the forms (sync wizard, update request) write it."""
    try:
        return sync.spec_of(record_type, field).label
    except KeyError:  # a field no form edits, or a record type without field specs
        return PAGE_LABELS.get(field) or field.replace("_", " ").capitalize()


def _customer_id(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _shown(entry: ChangeHistory, value: str | None, customers: dict[int, Customer]) -> Shown:
    """A stored value as a person reads it."""
    if value in (None, ""):
        return Shown("—")
    if entry.field == "customer_id":
        customer = customers.get(_customer_id(value))
        if customer is None:
            return Shown("a customer no longer in the portal")
        url = (
            url_for("customers.detail", customer_id=customer.id) if can(current_user, Permission.VIEW_RECORDS) else None
        )
        return Shown(customer.display_name, url)
    if entry.field in PHONE_FIELDS:
        return Shown(format_phone(value) or value)
    if entry.field == "is_business":
        return Shown("Yes" if value == "True" else "No")
    if entry.field == "mileage" and value.isdigit():
        return Shown(f"{int(value):,}")
    if entry.field.endswith("_at") or _ISO_MOMENT.match(value):
        return Shown(local_time(value, entry))
    return Shown(value)


def history_rows(entries: list[ChangeHistory]) -> list[HistoryRow]:
    """``entries`` as shown on a record's page (customers referred to are looked up once)."""
    ids = {
        _customer_id(value)
        for entry in entries
        if entry.field == "customer_id"
        for value in (entry.old_value, entry.new_value)
    } - {None}
    customers = (
        {customer.id: customer for customer in db.session.scalars(scoped(Customer).where(Customer.id.in_(ids)))}
        if ids
        else {}
    )
    return [
        HistoryRow(
            entry,
            field_label(entry.record_type, entry.field),
            _shown(entry, entry.old_value, customers),
            _shown(entry, entry.new_value, customers),
        )
        for entry in entries
    ]
