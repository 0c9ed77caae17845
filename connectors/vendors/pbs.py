"""PBS Systems: not in the seed 000 cadence table; sensible, documented values.

PBS has a polled REST API, so it gets CDK-like cadences: customers/vehicles/appointments
every 15 min, ROs every 5 min, parts invoices and special orders every 15 min, opcodes
nightly, historical ROs and customers on demand. Customer, vehicle and appointment
pushes on demand. Daily data file: yes (seed 004). Payment export and RO number
reservation supported.
"""

from . import NIGHTLY, ON_DEMAND, PUSH_NOT_AVAILABLE, PUSH_ON_DEMAND, VendorProfile, minutes
from ._common import (
    BASE_CUSTOMER_FIELDS,
    BASE_VEHICLE_FIELDS,
    advisor_id_present,
    build_catalogue,
    person_needs_last_name,
)

PREFIX = "PBS"

PROFILE = VendorProfile(
    code="pbs",
    display_name="PBS Systems",
    code_prefix=PREFIX,
    pull={
        "customers": minutes(15),
        "vehicles": minutes(15),
        "appointments": minutes(15),
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
    daily_data_file=True,
    writable_customer_fields=BASE_CUSTOMER_FIELDS,
    writable_vehicle_fields=BASE_VEHICLE_FIELDS,
    related_ros=False,
    payment_export=True,
    ro_number_reservation=True,
    catalogue=build_catalogue(PREFIX),
    customer_rules=(person_needs_last_name(f"{PREFIX}-REQUIRED-FIELD"),),
    appointment_rules=(advisor_id_present(f"{PREFIX}-ADVISOR-MISSING"),),
)
