"""Tekion (Automotive Retail Cloud): not in the seed 000 table; sensible, documented values.

Tekion is cloud-native with event subscriptions, so customers, vehicles, appointments and
ROs are pushed by the DMS ("Auto"); parts invoices and special orders are polled every
15 min, opcodes nightly; historical ROs and customers on demand. Daily data file: yes
(seed 004). Customer, vehicle and appointment pushes on demand; payment export and RO
number reservation supported.
"""

from . import DMS_PUSH, NIGHTLY, ON_DEMAND, PUSH_NOT_AVAILABLE, PUSH_ON_DEMAND, VendorProfile, minutes
from ._common import (
    ALL_VEHICLE_FIELDS,
    BASE_CUSTOMER_FIELDS,
    advisor_id_present,
    build_catalogue,
    person_needs_last_name,
)

PREFIX = "TEK"

PROFILE = VendorProfile(
    code="tekion",
    display_name="Tekion",
    code_prefix=PREFIX,
    pull={
        "customers": DMS_PUSH,
        "vehicles": DMS_PUSH,
        "appointments": DMS_PUSH,
        "repair_orders": DMS_PUSH,
        "parts_invoices": minutes(15),
        "special_orders": minutes(15),
        "opcodes": NIGHTLY,
    },
    historical_ros=ON_DEMAND,
    historical_customers=ON_DEMAND,
    push={
        "customers": PUSH_ON_DEMAND,
        "vehicles": PUSH_ON_DEMAND,
        "appointments": PUSH_ON_DEMAND,
        "repair_orders": PUSH_NOT_AVAILABLE,
    },
    appointment_push_minutes=None,
    daily_data_file=True,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=ALL_VEHICLE_FIELDS,
    related_ros=False,
    payment_export=True,
    ro_number_reservation=True,
    catalogue=build_catalogue(PREFIX),
    customer_rules=(person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),),
    appointment_rules=(advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),),
    protocols=("star", "console"),
)
