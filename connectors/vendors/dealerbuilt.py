"""Lightyear / Dealerbuilt: polled on short cadences; the only DMS taking an RO push (iPad flow).

Seed 000: customers 5 min, vehicles with RO, appointments 5 min, ROs 2 min, parts invoices
5 min, no special orders, opcodes nightly, historical ROs and customers on demand.
Payment export and RO number reservation are not offered (documented sandbox assumption).
"""

from . import NIGHTLY, NOT_AVAILABLE, ON_DEMAND, PUSH_ON_DEMAND, PUSH_WITH_APPOINTMENT, WITH_RO, VendorProfile, minutes
from ._common import (
    BASE_CUSTOMER_FIELDS,
    BASE_VEHICLE_FIELDS,
    advisor_id_present,
    build_catalogue,
    person_needs_last_name,
)

PREFIX = "DB"

PROFILE = VendorProfile(
    code="dealerbuilt",
    display_name="Lightyear / Dealerbuilt",
    code_prefix=PREFIX,
    pull={
        "customers": minutes(5),
        "vehicles": WITH_RO,
        "appointments": minutes(5),
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
        "repair_orders": PUSH_ON_DEMAND,
    },
    appointment_push_minutes=None,
    daily_data_file=False,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=BASE_VEHICLE_FIELDS,
    related_ros=False,
    payment_export=False,
    ro_number_reservation=False,
    catalogue=build_catalogue(PREFIX),
    customer_rules=(person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),),
    appointment_rules=(advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),),
    notes="RO push comes from the iPad (walk-around) flow.",
)
