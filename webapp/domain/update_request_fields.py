"""Which customer fields a request may change, grouped the way the request page offers them.

Pure data and helpers (no Flask): the form, the review page, approval and
``confirm_from_mirror`` all read the same groups, labels and canonical forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from webapp.domain.fields import CUSTOMER_FIELDS, FieldSpec, equivalent, same
from webapp.domain.normalise import format_phone

SPECS: dict[str, FieldSpec] = {spec.attr: spec for spec in CUSTOMER_FIELDS}


@dataclass(frozen=True)
class FieldGroup:
    """One tick-box on the request page and the customer attributes under it."""

    key: str
    label: str
    attrs: tuple[str, ...]


GROUPS: tuple[FieldGroup, ...] = (
    FieldGroup("name", "Name", ("first_name", "last_name")),
    FieldGroup("company", "Company", ("company_name",)),
    FieldGroup("phones", "Phones", ("phone", "mobile_phone")),
    FieldGroup("email", "E-mail", ("email",)),
    FieldGroup("address", "Address", ("address_line1", "address_line2", "city", "state", "postal_code")),
)
ALL_ATTRS: tuple[str, ...] = tuple(attr for group in GROUPS for attr in group.attrs)
PHONE_ATTRS = frozenset({"phone", "mobile_phone"})


def label(attr: str) -> str:
    """The field's label as staff read it."""
    return SPECS[attr].label


def ordered_attrs(values: Iterable[str]) -> list[str]:
    """``values``' attributes in the order of the request page."""
    wanted = set(values)
    return [attr for attr in ALL_ATTRS if attr in wanted]


def canonical(attr: str, value: Any) -> Any:
    """The stored form of a value: E.164 phones, lower-case e-mail, trimmed text."""
    return SPECS[attr].canonical(value)


def display(attr: str, value: Any) -> str:
    """A stored value as staff read it ("—" for empty)."""
    if value in (None, ""):
        return "—"
    if attr in PHONE_ATTRS:
        return format_phone(value) or str(value)
    return str(value)


def differs(attr: str, current: Any, requested: Any) -> bool:
    """True when ``requested`` would change ``current`` (after normalisation): a correction of
    case or accents ('Mcdonald' → 'McDonald') is a change."""
    return not same(SPECS[attr], current, requested)


def dms_has(attr: str, requested: Any, payload: Mapping[str, Any]) -> bool:
    """True when the DMS record ``payload`` carries ``requested`` for ``attr``.

    Phones and e-mails are lists in the DMS: the requested number/address must be one
    of them (the DMS's order of phones says nothing about which is the mobile). Names and
    text match whatever the DMS's case or accents (many DMSs store them upper-case).
    """
    spec = SPECS[attr]
    if attr in PHONE_ATTRS or attr == "email":
        key = "emails" if attr == "email" else "phones"
        present = {spec.canonical(v) for v in (payload.get(key) or [])} - {None}
        return requested is None or spec.canonical(requested) in present
    return equivalent(spec, requested, spec.from_dms(payload))
