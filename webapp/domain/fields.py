"""Which portal field corresponds to which DMS field, and when two values are "the same".

Used by pulls (automatic apply, drift flags), the sync wizards and add-from-DMS, so the
same phone written two ways or an e-mail differing only in case is never a difference.
A name or address differing only in case, accents or punctuation ('Mcdonald' / 'McDonald',
'Zoe' / 'Zoë', 'OBRIEN' / "O'Brien") *is* a difference, of the kind "only formatting
differs" (:func:`formatting_only`): it is a correction someone may want to sync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.portal_fields import CUSTOMER_FIELD_OF, LIST_FIELDS, VEHICLE_FIELD_OF
from webapp.domain.normalise import clean_text, email_key, fold, normalise_email, normalise_phone, normalise_vin


@dataclass(frozen=True)
class FieldSpec:
    """One comparable field: portal attribute, label, how to compare, and the canonical DMS field it
    stands for (from the one mapping, :mod:`connectors.portal_fields`)."""

    attr: str
    label: str
    # Canonical form for comparison (and for storing in the portal).
    canonical: Callable[[Any], Any]
    field_of: Mapping[str, str]  # portal attribute -> canonical DMS field (CUSTOMER_/VEHICLE_FIELD_OF)

    @property
    def dms_field(self) -> str:
        """The canonical DMS field the value is read from and written back to."""
        return self.field_of[self.attr]

    def from_dms(self, payload: Mapping[str, Any]) -> Any:
        """This field's value in a canonical DMS record: a list field (``phones``) holds the portal
        attributes mapped to it in the mapping's order, the first phone then the mobile."""
        if self.dms_field not in LIST_FIELDS:
            return payload.get(self.dms_field)
        index = [attr for attr, field in self.field_of.items() if field == self.dms_field].index(self.attr)
        values = payload.get(self.dms_field) or []
        return values[index] if len(values) > index else None


def _text(value: Any) -> str | None:
    text = clean_text(value, 255)
    return text or None


def _name(value: Any) -> str | None:
    return _text(value)


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value).strip().replace(",", ""))
    except ValueError:
        return None


def _vin(value: Any) -> str | None:
    checked = normalise_vin(value)
    return checked.vin if checked else None


def _upper(value: Any) -> str | None:
    text = _text(value)
    return text.upper() if text else None


def _email(value: Any) -> str | None:
    """A valid address in its normal form; an address-shaped value the validator refuses (e.g. a
    special-use domain such as ``.test``) is kept as it is, lower-cased, rather than read as empty."""
    return normalise_email(value) or email_key(value)


CUSTOMER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("first_name", "First name", _name, CUSTOMER_FIELD_OF),
    FieldSpec("last_name", "Last name", _name, CUSTOMER_FIELD_OF),
    FieldSpec("company_name", "Company", _name, CUSTOMER_FIELD_OF),
    FieldSpec("phone", "Phone", normalise_phone, CUSTOMER_FIELD_OF),
    FieldSpec("mobile_phone", "Mobile phone", normalise_phone, CUSTOMER_FIELD_OF),
    FieldSpec("email", "E-mail", _email, CUSTOMER_FIELD_OF),
    FieldSpec("address_line1", "Address", _text, CUSTOMER_FIELD_OF),
    FieldSpec("address_line2", "Address line 2", _text, CUSTOMER_FIELD_OF),
    FieldSpec("city", "City", _text, CUSTOMER_FIELD_OF),
    FieldSpec("state", "State", _upper, CUSTOMER_FIELD_OF),
    FieldSpec("postal_code", "ZIP / postal code", _upper, CUSTOMER_FIELD_OF),
)

ASSET_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("vin", "VIN", _vin, VEHICLE_FIELD_OF),
    FieldSpec("unit_number", "Unit number", _upper, VEHICLE_FIELD_OF),
    FieldSpec("year", "Year", _int, VEHICLE_FIELD_OF),
    FieldSpec("make", "Make", _text, VEHICLE_FIELD_OF),
    FieldSpec("model", "Model", _text, VEHICLE_FIELD_OF),
    FieldSpec("engine_type", "Engine Type", _text, VEHICLE_FIELD_OF),
    FieldSpec("license_plate", "Plate", _upper, VEHICLE_FIELD_OF),
    FieldSpec("mileage", "Mileage", _int, VEHICLE_FIELD_OF),
)

FIELDS_BY_TYPE = {"customers": CUSTOMER_FIELDS, "vehicles": ASSET_FIELDS}
# OEM build data is authoritative for these (seed 001): locked in the asset wizard when the
# location has OEM build data *and* the asset's OEM build data holds the field (its keys).
OEM_LOCKED = frozenset({"year", "make", "model", "engine_type"})
OEM_KEYS: dict[str, tuple[str, ...]] = {
    "year": ("year",),
    "make": ("make",),
    "model": ("model",),
    "engine_type": ("engine_type", "engine"),
}


def oem_fields(oem_build_data: Any) -> frozenset[str]:
    """The OEM-lockable portal attributes an asset's OEM build data has a value for."""
    if not isinstance(oem_build_data, Mapping):
        return frozenset()
    return frozenset(
        attr for attr, keys in OEM_KEYS.items() if any(clean_text(oem_build_data.get(key)) for key in keys)
    )


def same(spec: FieldSpec, a: Any, b: Any) -> bool:
    """Equal after normalisation: the same phone, e-mail (any case), blanks collapsed.

    Case, accents and punctuation of names and text still count (see :func:`formatting_only`)."""
    return spec.canonical(a) == spec.canonical(b)


def formatting_only(spec: FieldSpec, a: Any, b: Any) -> bool:
    """Different, but equal once case, accents and punctuation are ignored ('Mcdonald' / 'McDonald')."""
    if spec.canonical not in (_name, _text):
        return False
    ca, cb = spec.canonical(a), spec.canonical(b)
    return isinstance(ca, str) and isinstance(cb, str) and ca != cb and fold(ca) == fold(cb)


def equivalent(spec: FieldSpec, a: Any, b: Any) -> bool:
    """Equal after normalisation *and* folding (names also ignore case, accents and punctuation):
    for matching (does the DMS carry a requested value?), never for deciding what to sync."""
    return same(spec, a, b) or formatting_only(spec, a, b)


def portal_values(data_type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The portal field values a DMS record stands for (canonical form)."""
    values = {spec.attr: spec.canonical(spec.from_dms(payload)) for spec in FIELDS_BY_TYPE[data_type]}
    if data_type == "customers":
        values["is_business"] = payload.get("kind") == "business"
    return values


def unreadable_fields(data_type: str, payload: Mapping[str, Any]) -> set[str]:
    """Portal attributes the DMS record has a value for that the console cannot read (a phone
    without enough digits, a year that is not a number): never copied over the portal's value."""
    unreadable = set()
    for spec in FIELDS_BY_TYPE[data_type]:
        raw = spec.from_dms(payload)
        if clean_text(raw, 255) and spec.canonical(raw) is None:  # something there, nothing readable
            unreadable.add(spec.attr)
    return unreadable


def differing_fields(data_type: str, record: Any, payload: Mapping[str, Any]) -> list[str]:
    """Portal attributes of ``record`` whose value differs from the DMS record's (differences of
    formatting only included: automatic mode takes the DMS's formatting, review mode flags it)."""
    return [
        spec.attr
        for spec in FIELDS_BY_TYPE[data_type]
        if not same(spec, getattr(record, spec.attr), spec.from_dms(payload))
    ]
