"""Karmak Fusion (heavy-duty truck dealers): not in the seed 000 table; sensible, documented values.

Assets are trucks identified by unit number as much as by VIN (older units have
non-17-character legacy VINs). Customers and assets every 15 min, ROs every 5 min, parts
invoices and special orders every 15 min, opcodes ("standard jobs") nightly, appointments
on demand (Karmak shops schedule little), historical ROs and customers on demand.
Related / alternate RO numbers supported (seed 002: alternate billing splits an RO; related
numbers are returned even while open). RO number reservation yes, payment export no.
No daily data file.
"""

from . import NIGHTLY, ON_DEMAND, PUSH_NOT_AVAILABLE, PUSH_ON_DEMAND, VendorProfile, minutes
from ._common import (
    ALL_VEHICLE_FIELDS,
    BASE_CUSTOMER_FIELDS,
    advisor_id_present,
    build_catalogue,
    person_needs_last_name,
)

PREFIX = "KAR"

PROFILE = VendorProfile(
    code="karmak",
    display_name="Karmak Fusion",
    code_prefix=PREFIX,
    pull={
        "customers": minutes(15),
        "vehicles": minutes(15),
        "appointments": ON_DEMAND,
        "repair_orders": minutes(5),
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
    daily_data_file=False,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=ALL_VEHICLE_FIELDS,
    related_ros=True,
    payment_export=False,
    ro_number_reservation=True,
    catalogue=build_catalogue(PREFIX),
    customer_rules=(person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),),
    appointment_rules=(advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),),
    notes="Related RO numbers must be enabled in Karmak and under External Interfaces.",
)
