"""Automate: the DMS pushes customers and ROs ("Auto"); vehicles come with ROs.

Seed 000: no appointments, parts invoices, special orders or opcodes; no pushes to the DMS
at all (all "N/A"). No daily data file, payment export or RO number reservation.
"""

from . import DMS_PUSH, NOT_AVAILABLE, PUSH_NOT_AVAILABLE, WITH_RO, VendorProfile
from ._common import build_catalogue

PREFIX = "AUT"

PROFILE = VendorProfile(
    code="automate",
    display_name="Automate",
    code_prefix=PREFIX,
    pull={
        "customers": DMS_PUSH,
        "vehicles": WITH_RO,
        "appointments": NOT_AVAILABLE,
        "repair_orders": DMS_PUSH,
        "parts_invoices": NOT_AVAILABLE,
        "special_orders": NOT_AVAILABLE,
        "opcodes": NOT_AVAILABLE,
    },
    historical_ros=NOT_AVAILABLE,
    historical_customers=NOT_AVAILABLE,
    push={
        "customers": PUSH_NOT_AVAILABLE,
        "vehicles": PUSH_NOT_AVAILABLE,
        "appointments": PUSH_NOT_AVAILABLE,
        "repair_orders": PUSH_NOT_AVAILABLE,
    },
    appointment_push_minutes=None,
    daily_data_file=False,
    writable_customer_fields=frozenset(),
    writable_vehicle_fields=frozenset(),
    related_ros=False,
    payment_export=False,
    ro_number_reservation=False,
    catalogue=build_catalogue(PREFIX),
)
