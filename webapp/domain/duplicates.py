"""Does a DMS record look like a customer or asset already in the portal? With reasons.

Pure scoring (rapidfuzz for name similarity): each candidate gets a score 0-100 and the
plain-language reasons behind it, so staff can judge rather than trust a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from webapp.domain.normalise import fold, format_phone, normalise_email, normalise_phone, normalise_vin

THRESHOLD = 50  # shown as a possible duplicate from this score
NAME_MIN = 80  # name similarity (0-100) that counts as a reason


@dataclass
class Match:
    """A portal record that may be the same as the DMS record."""

    record: Any
    score: int
    reasons: list[str] = field(default_factory=list)


def _phones(values: Iterable[Any]) -> set[str]:
    return {p for p in (normalise_phone(v) for v in values if v) if p}


def _emails(values: Iterable[Any]) -> set[str]:
    return {e for e in (normalise_email(v) for v in values if v) if e}


def _name(first: Any, last: Any, company: Any) -> str:
    return " ".join(p for p in (fold(first), fold(last), fold(company)) if p)


def score_customer(dms: Mapping[str, Any], portal: Any) -> Match:
    """Score a portal customer against a DMS customer payload (connector ``to_dict()``)."""
    reasons: list[str] = []
    score = 0
    same_phones = _phones(dms.get("phones") or ()) & _phones((portal.phone, portal.mobile_phone))
    if same_phones:
        score += 50
        reasons.append("Same phone " + ", ".join(format_phone(p) for p in sorted(same_phones)))
    same_emails = _emails(dms.get("emails") or ()) & _emails((portal.email,))
    if same_emails:
        score += 50
        reasons.append("Same e-mail " + ", ".join(sorted(same_emails)))
    a = _name(dms.get("first_name"), dms.get("last_name"), dms.get("company_name"))
    b = _name(portal.first_name, portal.last_name, portal.company_name)
    if a and b:
        similarity = round(fuzz.token_sort_ratio(a, b))
        if similarity >= NAME_MIN:
            score += round(similarity * 0.55)
            reasons.append("Same name" if similarity == 100 else f"Similar name ({similarity}% alike)")
    return Match(portal, min(100, score), reasons)


def score_asset(dms: Mapping[str, Any], portal: Any) -> Match:
    """Score a portal asset against a DMS vehicle payload."""
    reasons: list[str] = []
    score = 0
    dms_vin = normalise_vin(dms.get("vin"))
    portal_vin = normalise_vin(portal.vin)
    if dms_vin and portal_vin:
        if dms_vin.vin == portal_vin.vin:
            score += 90
            reasons.append("Same VIN")
        elif len(dms_vin.vin) >= 8 and len(portal_vin.vin) >= 8 and dms_vin.vin[-8:] == portal_vin.vin[-8:]:
            score += 50
            reasons.append("VIN ends the same (last 8)")
    unit = (dms.get("unit_number") or "").strip().upper()
    if unit and portal.unit_number and unit.replace(" ", "") == portal.unit_number.replace(" ", "").upper():
        score += 30
        reasons.append("Same unit number")
    plate = (dms.get("plate") or "").replace(" ", "").upper()
    if plate and portal.license_plate and plate == portal.license_plate.replace(" ", "").upper():
        score += 30
        reasons.append("Same plate")
    return Match(portal, min(100, score), reasons)


def likely_duplicates(matches: Iterable[Match], threshold: int = THRESHOLD) -> list[Match]:
    """The matches worth showing, best first."""
    return sorted((m for m in matches if m.score >= threshold and m.reasons), key=lambda m: -m.score)
