"""Pure logic of the sync wizards: which fields differ, what each choice changes where.

No Flask and no database here: the wizard routes give a portal record (any object with
the portal attributes), the DMS record as fetched, the person's choices and the vendor's
writable fields, and get back the differences to show and the plan to preview and apply.
Comparison is done after normalisation (``webapp.domain.fields.same``), so the same phone
written two ways, or an e-mail differing only in case, is never a difference. A name or
address differing only in case, accents or punctuation is one, marked *formatting only*
and never pre-selected: the person chooses which spelling both systems keep.

OEM build data: a location with OEM build data locks Year / Make / Model / Engine Type of
an asset whose own OEM build data holds that field (nothing is locked for an asset without
it). A locked field keeps the portal (OEM) value; it is written to the DMS only when the
person ticks "Also write it to the DMS" for it (choice :data:`SEND`), never by Select All.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.vendors import VendorProfile
from webapp.domain.fields import ASSET_FIELDS, CUSTOMER_FIELDS, OEM_LOCKED, FieldSpec, formatting_only, oem_fields, same

PORTAL, DMS = "portal", "dms"
SIDES = (PORTAL, DMS)
# A locked (OEM) field only: keep the portal value *and* write it to the DMS.
SEND = "send"
FIELDS = {"customer": CUSTOMER_FIELDS, "asset": ASSET_FIELDS}
DATA_TYPES = {"customer": "customers", "asset": "vehicles"}
# Portal attributes that share one DMS list field, and their position in it.
LIST_POSITIONS = {"phone": ("phones", 0), "mobile_phone": ("phones", 1), "email": ("emails", 0)}
OWNER_DMS_FIELD = "owner_dms_id"


class ChoiceError(ValueError):
    """A submitted choice the wizard cannot take (forged, or for a locked or unknown field)."""


@dataclass(frozen=True)
class Difference:
    """One field that differs: both values (canonical) and what is pre-selected."""

    attr: str
    label: str
    dms_field: str
    portal_value: Any
    dms_value: Any
    locked: bool = False  # OEM-authoritative: the DMS value cannot be chosen
    formatting_only: bool = False  # equal but for case, accents or punctuation ('Mcdonald' / 'McDonald')

    @property
    def preselected(self) -> str | None:
        """The side chosen for the person: the only side with a value, or the portal when locked
        (kept in the portal, not sent to the DMS). Formatting-only differences: neither."""
        if self.locked:
            return PORTAL
        if self.formatting_only:
            return None
        if _empty(self.portal_value) and not _empty(self.dms_value):
            return DMS
        if _empty(self.dms_value) and not _empty(self.portal_value):
            return PORTAL
        return None

    @property
    def single_sided(self) -> bool:
        """True when only one system has a value."""
        return _empty(self.portal_value) != _empty(self.dms_value)


def _empty(value: Any) -> bool:
    return value is None or value == ""


def spec_of(record_type: str, attr: str) -> FieldSpec:
    """The field spec of a portal attribute (KeyError for unknown ones)."""
    for spec in FIELDS[record_type]:
        if spec.attr == attr:
            return spec
    raise KeyError(attr)


def compare(
    record_type: str, record: Any, dms_record: Mapping[str, Any], *, oem_locked: bool = False
) -> list[Difference]:
    """The fields whose values differ after normalisation, in display order.

    ``oem_locked`` is the location's OEM build data setting: with it, the OEM fields the
    asset's own ``oem_build_data`` holds are locked."""
    differences = []
    oem = oem_fields(getattr(record, "oem_build_data", None)) if oem_locked and record_type == "asset" else frozenset()
    for spec in FIELDS[record_type]:
        portal_value = getattr(record, spec.attr)
        raw_dms = spec.from_dms(dms_record)
        if same(spec, portal_value, raw_dms):
            continue
        differences.append(
            Difference(
                attr=spec.attr,
                label=spec.label,
                dms_field=spec.dms_field,
                portal_value=spec.canonical(portal_value) if not _empty(portal_value) else None,
                dms_value=spec.canonical(raw_dms),
                locked=spec.attr in OEM_LOCKED and spec.attr in oem,
                formatting_only=formatting_only(spec, portal_value, raw_dms),
            )
        )
    return differences


def initial_choices(differences: Iterable[Difference]) -> dict[str, str | None]:
    """Pre-selected choices: single-sided values and locked fields; the rest left open."""
    return {d.attr: d.preselected for d in differences}


def select_all(differences: Iterable[Difference], side: str) -> dict[str, str]:
    """Resolve every field from one system ("Select All Portal" / "Select All DMS").

    Locked fields keep the portal (OEM) value whatever the side, and are not sent to the
    DMS: that takes the person's own tick for the field (:data:`SEND`).
    """
    if side not in SIDES:
        raise ChoiceError(f"unknown side {side!r}")
    return {d.attr: PORTAL if d.locked else side for d in differences}


def validate_choices(
    differences: Iterable[Difference], submitted: Mapping[str, str], *, require_all: bool = True
) -> dict[str, str | None]:
    """Check submitted ``{attr: side}`` choices against the differences shown.

    Raises :class:`ChoiceError` for a field that is not part of this sync (not shown:
    equal, unknown or never comparable), a side other than portal/DMS (or :data:`SEND` for a
    locked field), the DMS value for a locked field, or (with ``require_all``) a field left
    unresolved (formatting-only differences included: the person picks the spelling).
    """
    by_attr = {d.attr: d for d in differences}
    unknown = sorted(set(submitted) - set(by_attr))
    if unknown:
        raise ChoiceError(f"{', '.join(unknown)} cannot be changed by this sync.")
    choices: dict[str, str | None] = {}
    missing = []
    for attr, difference in by_attr.items():
        side = submitted.get(attr)
        if side in (None, ""):
            side = None
        elif side not in SIDES and not (side == SEND and difference.locked):
            raise ChoiceError(f"{difference.label}: choose the portal or the DMS value.")
        if side == DMS and difference.locked:
            raise ChoiceError(
                f"{difference.label} comes from OEM build data and cannot be overwritten by the DMS value."
            )
        if side is None:
            missing.append(difference.label)
        choices[attr] = side
    if require_all and missing:
        raise ChoiceError(f"Choose which value to keep for: {', '.join(missing)}.")
    return choices


@dataclass
class SkippedField:
    """A value that will not reach the DMS, and why (shown in the preview and summary)."""

    label: str
    reason: str


@dataclass
class Plan:
    """What applying the choices changes where."""

    portal_changes: list[tuple[str, str, Any, Any]] = field(default_factory=list)  # (attr, label, old, new)
    dms_fields: dict[str, Any] = field(default_factory=dict)  # DMS field -> value to send
    dms_labels: list[tuple[str, Any, Any]] = field(default_factory=list)  # (label, DMS old, new) sent
    skipped: list[SkippedField] = field(default_factory=list)
    kept_in_dms: list[str] = field(default_factory=list)  # Portal Only: labels the DMS keeps
    oem_kept: list[str] = field(default_factory=list)  # locked fields kept in the portal only (not sent)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored as the wizard's summary)."""
        return {
            "portal_changes": [list(c) for c in self.portal_changes],
            "dms_fields": self.dms_fields,
            "dms_labels": [list(c) for c in self.dms_labels],
            "skipped": [{"label": s.label, "reason": s.reason} for s in self.skipped],
            "kept_in_dms": self.kept_in_dms,
            "oem_kept": self.oem_kept,
        }


def _wire(value: Any) -> Any:
    """A canonical portal value as the DMS takes it (empty text stays empty)."""
    return "" if value is None else value


def plan(
    record_type: str,
    differences: Iterable[Difference],
    choices: Mapping[str, str | None],
    dms_record: Mapping[str, Any],
    *,
    write_back: bool,
    writable: Iterable[str],
    profile: VendorProfile,
    push_refusal: str | None = None,
    owner_change: tuple[Any, Any] | None = None,
    owner_dms_id: tuple[str | None, str | None] | None = None,
    owner_label: str = "Customer",
) -> Plan:
    """What the choices change: portal fields (DMS chosen) and DMS fields (portal chosen).

    ``write_back`` is the location's "Update Portal + DMS" mode; ``writable`` the vendor's
    writable DMS field names; ``profile`` the vendor's profile, whose
    :meth:`~connectors.vendors.VendorProfile.refusal_text` words the fields it does not take;
    ``push_refusal`` set when the vendor takes no stand-alone updates of this record type at
    all (the reason). ``owner_change`` is the asset's
    (old, new) portal customer label when the owner changes; ``owner_dms_id`` the DMS's
    (current, wanted) owner id when the DMS should get the portal's owner.
    """
    writable = set(writable)
    result = Plan()
    to_dms: list[Difference] = []
    for difference in differences:
        side = choices.get(difference.attr)
        if side == DMS:
            result.portal_changes.append(
                (difference.attr, difference.label, difference.portal_value, difference.dms_value)
            )
        elif side == PORTAL and difference.locked:
            result.oem_kept.append(difference.label)  # the OEM value stays in the portal; the DMS is not touched
        elif side == PORTAL or (side == SEND and difference.locked):
            to_dms.append(difference)
    if owner_change is not None:
        result.portal_changes.append(("customer_id", owner_label, owner_change[0], owner_change[1]))
    wanted_owner = owner_dms_id if owner_dms_id and owner_dms_id[0] != owner_dms_id[1] else None
    if not write_back:
        result.kept_in_dms = [d.label for d in to_dms] + ([owner_label] if wanted_owner else [])
        return result
    final = {d.attr: d.portal_value for d in to_dms}
    list_fields: dict[str, list[Any]] = {}
    for difference in to_dms:
        reason = None
        if push_refusal:
            reason = push_refusal
        elif difference.locked and _empty(difference.portal_value):
            reason = "the portal has no value to send"
        elif difference.dms_field not in writable:
            reason = profile.refusal_text(f"does not accept {difference.label} updates")
        if reason:
            result.skipped.append(SkippedField(difference.label, reason))
            continue
        if difference.attr in LIST_POSITIONS:
            name, position = LIST_POSITIONS[difference.attr]
            values = list_fields.setdefault(name, list(dms_record.get(name) or []))
            while len(values) <= position:
                values.append("")
            values[position] = _wire(final[difference.attr])
        else:
            result.dms_fields[difference.dms_field] = _wire(final[difference.attr])
        result.dms_labels.append((difference.label, difference.dms_value, difference.portal_value))
    for name, values in list_fields.items():
        # Positions matter (phones[0] is the phone, phones[1] the mobile), so only trailing
        # blanks are dropped.
        while values and _empty(values[-1]):
            values.pop()
        result.dms_fields[name] = values
    if wanted_owner:
        if wanted_owner[1] is None:
            result.skipped.append(SkippedField(owner_label, "the portal's customer is not linked to a DMS customer"))
        elif push_refusal:
            result.skipped.append(SkippedField(owner_label, push_refusal))
        elif OWNER_DMS_FIELD not in writable:
            result.skipped.append(
                SkippedField(owner_label, profile.refusal_text(f"does not accept {owner_label} updates"))
            )
        else:
            result.dms_fields[OWNER_DMS_FIELD] = wanted_owner[1]
            result.dms_labels.append((owner_label, wanted_owner[0], wanted_owner[1]))
    return result
