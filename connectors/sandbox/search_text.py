"""The text the sandbox's DMS-side search matches a record against: one definition for the records
it generates, creates, updates and edits through the control API."""

from __future__ import annotations

from typing import Any


def search_text(data_type: str, dms_id: str, fields: dict[str, Any]) -> str:
    """Lower-case text the DMS-side search matches against (phones as bare digits)."""
    if data_type == "customers":
        phones = ("".join(ch for ch in phone if ch.isdigit())[-10:] for phone in fields.get("phones") or [])
        return " ".join(
            (
                dms_id,
                fields.get("first_name") or "",
                fields.get("last_name") or "",
                fields.get("company_name") or "",
                *(fields.get("emails") or []),
                *phones,
            )
        ).lower()
    if data_type == "vehicles":
        return (
            " ".join(str(fields.get(name) or "") for name in ("vin", "unit_number", "plate")).lower()
            + f" {dms_id.lower()}"
        )
    return ""
