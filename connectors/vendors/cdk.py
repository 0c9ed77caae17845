"""CDK Global (Drive): polled on fixed cadences; appointments pushed every 15 minutes.

From seed 000: customers every 15 min, vehicles with RO, appointments 15 min, ROs 3 min,
parts invoices 15 min, special orders 5 min, opcodes nightly, historical ROs on demand.
CDK may require an address and/or e-mail with appointments (a per-location CDK setting,
passed as options ``require_address`` / ``require_email``) and validates dispatch codes.
CDK consolidates miscellaneous charges and discounts (no separate lines). Daily data file: yes.
"""

from . import (
    NIGHTLY,
    NOT_AVAILABLE,
    ON_DEMAND,
    PUSH_NOT_AVAILABLE,
    PUSH_ON_DEMAND,
    PUSH_WITH_APPOINTMENT,
    WITH_RO,
    VendorProfile,
    minutes,
)
from ._common import (
    BASE_CUSTOMER_FIELDS,
    BASE_VEHICLE_FIELDS,
    NO_OPCODE_OR_NOTES,
    address_email_required,
    advisor_id_present,
    build_catalogue,
    opcode_or_notes,
    person_needs_last_name,
)

PREFIX = "CDK"

CATALOGUE = build_catalogue(
    PREFIX,
    {
        "NO-OPCODE-NOTES": NO_OPCODE_OR_NOTES,
        "ADDRESS-EMAIL-REQUIRED": (
            "CDK requires an address and/or e-mail with appointments",
            "Add the customer's address and e-mail, or have the CDK setting that requires them "
            "switched to NO, then push the appointment again.",
        ),
        "DISPATCH-INVALID": (
            "Dispatch code invalid",
            "The appointment's dispatch code is not set up in CDK. Fix the dispatch code, then retry.",
        ),
    },
    seed_suffixes=frozenset({"NO-OPCODE-NOTES", "LOCKED", "ADDRESS-EMAIL-REQUIRED", "DISPATCH-INVALID"}),
)

PROFILE = VendorProfile(
    code="cdk",
    display_name="CDK Global",
    code_prefix=PREFIX,
    pull={
        "customers": minutes(15),
        "vehicles": WITH_RO,
        "appointments": minutes(15),
        "repair_orders": minutes(3),
        "parts_invoices": minutes(15),
        "special_orders": minutes(5),
        "opcodes": NIGHTLY,
    },
    historical_ros=ON_DEMAND,
    historical_customers=NOT_AVAILABLE,
    push={
        "customers": PUSH_ON_DEMAND,
        "vehicles": PUSH_WITH_APPOINTMENT,
        "appointments": PUSH_ON_DEMAND,
        "repair_orders": PUSH_NOT_AVAILABLE,
    },
    appointment_push_minutes=15,
    daily_data_file=True,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=BASE_VEHICLE_FIELDS,
    related_ros=False,
    payment_export=True,
    ro_number_reservation=True,
    catalogue=CATALOGUE,
    customer_rules=(person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),),
    appointment_rules=(
        advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),
        opcode_or_notes(f"{PREFIX}-NO-OPCODE-NOTES"),
        address_email_required(f"{PREFIX}-ADDRESS-EMAIL-REQUIRED"),
    ),
    default_options={"require_address": False, "require_email": False},
    notes="Miscellaneous charges and discounts arrive consolidated, not as separate lines.",
    protocols=("console", "star"),
)
