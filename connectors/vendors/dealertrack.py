"""Dealertrack / Arkona: polled on short cadences (seed 000).

Customers 5 min, vehicles on demand, appointments 15 min, ROs 2 min, parts invoices 5 min,
no special orders, opcodes nightly, historical ROs and customers on demand. Customer,
vehicle (with an appointment) and appointment pushes on demand. No daily data file.
"""

from . import (
    NIGHTLY,
    NOT_AVAILABLE,
    ON_DEMAND,
    PUSH_NOT_AVAILABLE,
    PUSH_ON_DEMAND,
    PUSH_WITH_APPOINTMENT,
    VendorProfile,
    minutes,
)
from ._common import (
    ALL_VEHICLE_FIELDS,
    BASE_CUSTOMER_FIELDS,
    advisor_id_present,
    build_catalogue,
    person_needs_last_name,
)

PREFIX = "DT"

PROFILE = VendorProfile(
    code="dealertrack",
    display_name="Dealertrack / Arkona",
    code_prefix=PREFIX,
    pull={
        "customers": minutes(5),
        "vehicles": ON_DEMAND,
        "appointments": minutes(15),
        "repair_orders": minutes(2),
        "parts_invoices": minutes(5),
        "special_orders": NOT_AVAILABLE,
        "opcodes": NIGHTLY,
    },
    historical_ros=ON_DEMAND,
    historical_customers=ON_DEMAND,
    push={
        "customers": PUSH_ON_DEMAND,
        "vehicles": PUSH_WITH_APPOINTMENT,
        "appointments": PUSH_ON_DEMAND,
        "repair_orders": PUSH_NOT_AVAILABLE,
    },
    appointment_push_minutes=None,
    daily_data_file=False,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=ALL_VEHICLE_FIELDS,
    related_ros=False,
    payment_export=True,
    ro_number_reservation=True,
    catalogue=build_catalogue(PREFIX),
    customer_rules=(person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),),
    appointment_rules=(advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),),
    protocols=("opentrack",),
)
