"""Building blocks shared by the vendor modules: common catalogue rows and rule functions.

Rules are pure functions ``(record, customer, options) -> code | None`` so they can be
unit-tested without a DMS and reused by the sandbox to enforce the same vendor rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..base import CatalogueEntry

# Shared error kinds every vendor answers with (its own prefix in front). Titles and
# hints are written for service advisors, not developers.
COMMON_ERRORS: dict[str, tuple[str, str]] = {
    "OPCODE-INVALID": (
        "Incorrect opcodes on the RO/appointment",
        "One or more opcodes are not valid in the DMS. Replace them with valid opcodes, then retry.",
    ),
    "ADVISOR-INVALID": (
        "Incorrect or duplicate advisor DMS ID",
        "The advisor's DMS ID is wrong or shared by several users. Give every service advisor "
        "their own unique DMS ID: a Service Manager enters them on the Advisors page, then retries.",
    ),
    "ADVISOR-MISSING": (
        "Advisor has no DMS ID",
        "A Service Manager enters the advisor's DMS ID on the Advisors page; then retry.",
    ),
    "LOCKED": (
        "Appointment is locked (open in the DMS)",
        "Someone has this appointment open in the DMS. Close the appointment in the DMS, then retry.",
    ),
    "ETAG-MISMATCH": (
        "Record changed in the DMS",
        "The record was changed in the DMS after it was read. Reload it, check the differences and apply again.",
    ),
    "PRECONDITION-REQUIRED": (
        "Update sent without a version",
        "Reload the record from the DMS and apply the change again.",
    ),
    "NOT-FOUND": (
        "Record not found in the DMS",
        "The record no longer exists in the DMS. On the customer's or asset's page, choose Change DMS link, "
        "search the DMS for the right record and link it (or Unlink from DMS); then use Sync with DMS.",
    ),
    "FIELD-NOT-WRITABLE": (
        "Field cannot be written to this DMS",
        "This DMS does not accept that field from outside. Change it directly in the DMS.",
    ),
    "NOT-SUPPORTED": ("Not supported by this DMS", "This DMS does not offer this action. Do it directly in the DMS."),
    "AUTH-FAILED": (
        "DMS credentials rejected",
        "The DMS did not accept the console's sign-in. Ask a Global Admin to check the dealer account and the "
        "DMS credentials: the API key, the STAR client ID and client secret, or the OpenTrack user and password, "
        "enterprise code and server name (Admin → Locations).",
    ),
    "TOKEN-EXPIRED": (
        "DMS session expired",
        "The DMS ended the console's session and did not accept a new sign-in. Ask a Global Admin to check the "
        "DMS credentials (Admin → Locations); the DMS vendor may have reset them.",
    ),
    "RATE-LIMITED": (
        "DMS request limit reached",
        "The DMS asked the console to slow down. Try again in a few minutes.",
    ),
    "SERVER-ERROR": (
        "DMS internal error",
        "The DMS had an internal problem. Try again in a few minutes; if it keeps happening, contact support "
        "with this message.",
    ),
    "BAD-REQUEST": (
        "Request refused by the DMS",
        "The DMS could not read the request. Check the values entered and retry.",
    ),
    "REQUIRED-FIELD": ("Required field missing", "Fill in the field the DMS requires, then retry."),
    "IDEMPOTENCY-MISMATCH": (
        "Duplicate request with different content",
        "A retry sent different data than the first attempt. Create the record again as a new request.",
    ),
    "PAYMENT-INVALID": (
        "Payment refused by the DMS",
        "Check the RO number and amount of the receipt, then retry the export.",
    ),
}

# The seed 000 appointment-failure rows (vendor-neutral wording kept close to the source).
NO_OPCODE_OR_NOTES = (
    "No opcode and no notes on the appointment",
    "Add at least one opcode or some text in the notes, then push the appointment again.",
)


def build_catalogue(
    prefix: str, extra: Mapping[str, tuple[str, str]] | None = None, seed_suffixes: frozenset[str] = frozenset()
) -> dict[str, CatalogueEntry]:
    """Build a vendor catalogue: the common rows plus ``extra``, codes prefixed with ``prefix``.

    ``seed_suffixes`` marks the rows that come from the seed 000 error list.
    """
    rows = {**COMMON_ERRORS, **(extra or {})}
    return {
        f"{prefix}-{suffix}": CatalogueEntry(f"{prefix}-{suffix}", title, hint, suffix in seed_suffixes)
        for suffix, (title, hint) in rows.items()
    }


#: A validation rule: (record fields, related customer fields or None, location options)
#: -> a catalogue code when the rule is broken, else None.
Rule = Callable[[Mapping[str, Any], Mapping[str, Any] | None, Mapping[str, Any]], str | None]


def _blank(value: Any) -> bool:
    """True for None, empty strings/whitespace and empty collections."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset)):
        return not any(not _blank(item) for item in value)
    return False


def business_needs_company_name(code: str) -> Rule:
    """Rule: a business customer must have a company name (Reynolds reports "missing last name")."""

    def rule(record: Mapping[str, Any], customer: Mapping[str, Any] | None, options: Mapping[str, Any]) -> str | None:
        """Return the code when the rule is broken, else None."""
        subject = customer if customer is not None else record
        if subject and subject.get("kind") == "business" and _blank(subject.get("company_name")):
            return code
        return None

    return rule


def opcode_or_notes(code: str) -> Rule:
    """Rule: an appointment needs at least one opcode or some notes."""

    def rule(record: Mapping[str, Any], customer: Mapping[str, Any] | None, options: Mapping[str, Any]) -> str | None:
        """Return the code when the rule is broken, else None."""
        if _blank(record.get("opcodes")) and _blank(record.get("notes")):
            return code
        return None

    return rule


def advisor_id_present(code: str) -> Rule:
    """Rule: the appointment's advisor must have a DMS ID."""

    def rule(record: Mapping[str, Any], customer: Mapping[str, Any] | None, options: Mapping[str, Any]) -> str | None:
        """Return the code when the rule is broken, else None."""
        return code if _blank(record.get("advisor_dms_id")) else None

    return rule


def address_email_required(code: str) -> Rule:
    """Rule (CDK): when the location's CDK setup requires them, the customer needs an address and/or e-mail.

    Options ``require_address`` / ``require_email`` mirror the per-location CDK setting.
    """

    def rule(record: Mapping[str, Any], customer: Mapping[str, Any] | None, options: Mapping[str, Any]) -> str | None:
        """Return the code when the rule is broken, else None."""
        if customer is None:
            return None
        if options.get("require_address") and (
            _blank(customer.get("address_line1")) or _blank(customer.get("postal_code"))
        ):
            return code
        if options.get("require_email") and _blank(customer.get("emails")):
            return code
        return None

    return rule


def person_needs_last_name(code: str) -> Rule:
    """Rule: a person customer needs a last name (every DMS keys people on it)."""

    def rule(record: Mapping[str, Any], customer: Mapping[str, Any] | None, options: Mapping[str, Any]) -> str | None:
        """Return the code when the rule is broken, else None."""
        subject = customer if customer is not None else record
        if subject and subject.get("kind", "person") == "person" and _blank(subject.get("last_name")):
            return code
        return None

    return rule


BASE_CUSTOMER_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "company_name",
        "phones",
        "emails",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "country",
    }
)
BASE_VEHICLE_FIELDS = frozenset({"plate", "plate_state", "mileage", "unit_number"})
ALL_VEHICLE_FIELDS = BASE_VEHICLE_FIELDS | {"vin", "year", "make", "model", "engine", "owner_dms_id"}
