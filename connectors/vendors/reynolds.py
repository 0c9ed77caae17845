"""Reynolds & Reynolds (ERA / POWER): the DMS pushes most changes ("Auto").

From seed 000: customers, appointments, ROs, parts invoices and special orders arrive
automatically; vehicles come with ROs; no opcode pull; historical ROs automatic.
Customer and vehicle pushes are accepted only together with an appointment.
Daily data file: yes (seed 004). Payment export and RO number reservation: supported
(documented sandbox assumption, seed 003 says "depends on the DMS").
"""

from . import DMS_PUSH, NOT_AVAILABLE, PUSH_NOT_AVAILABLE, PUSH_ON_DEMAND, PUSH_WITH_APPOINTMENT, WITH_RO, VendorProfile
from ._common import (
    BASE_CUSTOMER_FIELDS,
    BASE_VEHICLE_FIELDS,
    NO_OPCODE_OR_NOTES,
    advisor_id_present,
    build_catalogue,
    business_needs_company_name,
    opcode_or_notes,
    person_needs_last_name,
)

PREFIX = "RR"

CATALOGUE = build_catalogue(
    PREFIX,
    {
        "LASTNAME-MISSING": (
            "Missing last name (business customer without a company name)",
            "Reynolds needs a company name on business customers. Add a company name to the customer "
            "profile, then push the appointment again.",
        ),
        "NO-OPCODE-NOTES": NO_OPCODE_OR_NOTES,
        "PUSH-NEEDS-APPOINTMENT": (
            "Customer/vehicle can only be sent with an appointment",
            "Reynolds accepts customer and vehicle changes only together with an appointment. "
            "Book an appointment, or change the record directly in Reynolds.",
        ),
    },
    seed_suffixes=frozenset({"OPCODE-INVALID", "ADVISOR-INVALID", "LASTNAME-MISSING", "NO-OPCODE-NOTES", "LOCKED"}),
)

PROFILE = VendorProfile(
    code="reynolds",
    display_name="Reynolds & Reynolds",
    code_prefix=PREFIX,
    pull={
        "customers": DMS_PUSH,
        "vehicles": WITH_RO,
        "appointments": DMS_PUSH,
        "repair_orders": DMS_PUSH,
        "parts_invoices": DMS_PUSH,
        "special_orders": DMS_PUSH,
        "opcodes": NOT_AVAILABLE,
    },
    historical_ros=DMS_PUSH,
    historical_customers=NOT_AVAILABLE,
    push={
        "customers": PUSH_WITH_APPOINTMENT,
        "vehicles": PUSH_WITH_APPOINTMENT,
        "appointments": PUSH_ON_DEMAND,
        "repair_orders": PUSH_NOT_AVAILABLE,
    },
    appointment_push_minutes=None,
    daily_data_file=True,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=BASE_VEHICLE_FIELDS,
    related_ros=False,
    payment_export=True,
    ro_number_reservation=True,
    catalogue=CATALOGUE,
    customer_rules=(
        person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),
        business_needs_company_name(f"{PREFIX}-LASTNAME-MISSING"),
    ),
    appointment_rules=(
        advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),
        opcode_or_notes(f"{PREFIX}-NO-OPCODE-NOTES"),
        business_needs_company_name(f"{PREFIX}-LASTNAME-MISSING"),
    ),
    notes="Customer profile edits reach Reynolds only with appointments.",
    protocols=("star", "console"),
)
