"""Vendor profiles: what each DMS can do, how often it is pulled, its rules and error codes.

One module per vendor declares a :class:`VendorProfile` named ``PROFILE``. The profile is
pure data plus pure functions; it never talks to the network. The connector, the jobs
(scheduling by cadence) and the sandbox DMS (its "vendor personality") all read it.

Pull modes (DESIGN.md §5, seed 000):

* :func:`minutes` ``(N)`` - pulled every N minutes (``PullMode("minutes", N)``)
* :data:`NIGHTLY` - pulled once a night
* :data:`DMS_PUSH` - "Auto": the DMS pushes changes (webhook) as they happen
* :data:`ON_DEMAND` - pulled only when someone asks (wizard, DMS tab, historical load)
* :data:`WITH_RO` - "Comes with RO": arrives with repair-order pulls
* :data:`NOT_AVAILABLE` - the vendor does not deliver it

``get_profile(code)`` returns a profile; ``ALL`` lists all eight in display order.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..base import (
    APPOINTMENTS,
    CUSTOMERS,
    OPCODES,
    PARTS_INVOICES,
    REPAIR_ORDERS,
    SPECIAL_ORDERS,
    VEHICLES,
    CatalogueEntry,
)
from ..errors import NotSupportedError
from ._common import Rule


@dataclass(frozen=True)
class PullMode:
    """How a data type is pulled: ``kind`` is minutes/nightly/dms_push/on_demand/with_ro/not_available."""

    kind: str
    minutes: int | None = None

    @property
    def label(self) -> str:
        """The wording of the cadence table ("Every 15 mins", "Auto", "Comes with RO" ...)."""
        return {
            "minutes": f"Every {self.minutes} mins",
            "nightly": "Nightly",
            "dms_push": "Auto",
            "on_demand": "On demand",
            "with_ro": "Comes with RO",
            "not_available": "—",
        }[self.kind]

    @property
    def available(self) -> bool:
        """True unless the vendor does not deliver the data at all."""
        return self.kind != "not_available"


def minutes(n: int) -> PullMode:
    """Pull every ``n`` minutes."""
    return PullMode("minutes", n)


NIGHTLY = PullMode("nightly")
DMS_PUSH = PullMode("dms_push")
ON_DEMAND = PullMode("on_demand")
WITH_RO = PullMode("with_ro")
NOT_AVAILABLE = PullMode("not_available")

# Push capability values (what we may send to the DMS).
PUSH_ON_DEMAND = "on_demand"
PUSH_WITH_APPOINTMENT = "with_appointment"  # only together with an appointment push
PUSH_NOT_AVAILABLE = "not_available"


@dataclass(frozen=True)
class VendorProfile:
    """Everything the application needs to know about one DMS vendor.

    ``pull`` maps each data type to a :class:`PullMode`; ``historical_ros`` and
    ``historical_customers`` say whether a full pull (no cursor) of those is possible and
    how. ``push`` maps ``customers``/``vehicles``/``appointments``/``repair_orders`` to a
    push capability; ``appointment_push_minutes`` is set when the DMS only takes
    appointments in batches (CDK: every 15 min). ``catalogue`` maps vendor error codes
    to :class:`CatalogueEntry`; ``customer_rules``/``appointment_rules`` are pure
    functions returning catalogue codes (see :meth:`validate_customer`).
    """

    code: str
    display_name: str
    code_prefix: str
    pull: Mapping[str, PullMode]
    historical_ros: PullMode
    historical_customers: PullMode
    push: Mapping[str, str]
    appointment_push_minutes: int | None
    daily_data_file: bool
    writable_customer_fields: frozenset[str]
    writable_vehicle_fields: frozenset[str]
    related_ros: bool
    payment_export: bool
    ro_number_reservation: bool
    catalogue: Mapping[str, CatalogueEntry]
    customer_rules: tuple[Rule, ...] = ()
    appointment_rules: tuple[Rule, ...] = ()
    notes: str = ""
    #: Location options the vendor understands, with defaults (e.g. CDK's require_address).
    default_options: Mapping[str, Any] = field(default_factory=dict)
    #: Wire protocols the vendor offers (keys of :data:`connectors.protocols.PROTOCOLS`); the
    #: first is the default for a new location.
    protocols: tuple[str, ...] = ("console",)

    # ---- capabilities
    def pull_mode(self, data_type: str) -> PullMode:
        """Pull mode of a data type (``NOT_AVAILABLE`` for unknown ones)."""
        return self.pull.get(data_type, NOT_AVAILABLE)

    def can_pull(self, data_type: str) -> bool:
        """True when the vendor delivers ``data_type`` in any way."""
        return self.pull_mode(data_type).available

    def push_mode(self, data_type: str) -> str:
        """Push capability of a data type (on_demand / with_appointment / not_available)."""
        return self.push.get(data_type, PUSH_NOT_AVAILABLE)

    @property
    def pushes_changes(self) -> bool:
        """True when the DMS pushes changes of at least one data type ("Auto")."""
        return any(mode.kind == "dms_push" for mode in self.pull.values())

    # ---- errors
    def entry(self, code: str) -> CatalogueEntry:
        """The catalogue row for ``code``; an unknown code gets a generic row naming it."""
        found = self.catalogue.get(code)
        if found is not None:
            return found
        return CatalogueEntry(
            code,
            f"{self.display_name} error {code}",
            "The DMS refused the request. Check the record in the DMS and retry; "
            "if it keeps failing, contact support with this code.",
        )

    def refusal_text(self, what: str) -> str:
        """The one wording of something this vendor does not do: ``refusal_text("does not accept
        vehicle updates")`` -> "Karmak Fusion does not accept vehicle updates"."""
        return f"{self.display_name} {what}"

    def refusal(self, what: str, suffix: str = "NOT-SUPPORTED") -> NotSupportedError:
        """A :class:`NotSupportedError` for something this vendor does not do, carrying the
        catalogue row of ``code_for(suffix)`` (its fix hint names what the reader can do)."""
        return NotSupportedError(self.refusal_text(what), entry=self.entry(self.code_for(suffix)))

    def push_refusal(self, data_type: str, for_appointment: bool = False) -> NotSupportedError | None:
        """Why this vendor does not take a push of ``data_type`` (None when it does): it takes none
        from outside, or (Reynolds' customers, CDK's vehicles...) only together with an appointment
        - then the refusal carries ``PUSH-NEEDS-APPOINTMENT`` when the catalogue has that row."""
        mode = self.push_mode(data_type)
        noun = data_type.replace("_", " ")
        if mode == PUSH_NOT_AVAILABLE:
            return self.refusal(f"does not accept {noun} from outside")
        if mode == PUSH_WITH_APPOINTMENT and not for_appointment:
            suffix = "PUSH-NEEDS-APPOINTMENT" if self.code_for("PUSH-NEEDS-APPOINTMENT") in self.catalogue else None
            return self.refusal(f"accepts {noun} only together with an appointment", suffix or "NOT-SUPPORTED")
        return None

    def code_for(self, suffix: str) -> str:
        """This vendor's code for a shared error kind, e.g. ``code_for("LOCKED")`` -> ``CDK-LOCKED``."""
        return f"{self.code_prefix}-{suffix}"

    # ---- validation
    def validate_customer(
        self, customer: Mapping[str, Any], options: Mapping[str, Any] | None = None
    ) -> list[CatalogueEntry]:
        """Catalogue entries for every rule the customer's fields break (empty = valid)."""
        opts = {**self.default_options, **(options or {})}
        return [self.entry(code) for rule in self.customer_rules if (code := rule(customer, customer, opts))]

    def validate_appointment(
        self,
        appointment: Mapping[str, Any],
        customer: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[CatalogueEntry]:
        """Catalogue entries for every rule the appointment (and its customer) breaks."""
        opts = {**self.default_options, **(options or {})}
        return [self.entry(code) for rule in self.appointment_rules if (code := rule(appointment, customer, opts))]


VENDOR_CODES: tuple[str, ...] = (
    "reynolds",
    "cdk",
    "dealertrack",
    "dealerbuilt",
    "pbs",
    "automate",
    "tekion",
    "karmak",
)


def get_profile(code: str) -> VendorProfile:
    """Return the profile of vendor ``code`` (one of :data:`VENDOR_CODES`)."""
    code = (code or "").strip().lower()
    if code not in VENDOR_CODES:
        raise KeyError(f"unknown DMS vendor {code!r}; expected one of {', '.join(VENDOR_CODES)}")
    return importlib.import_module(f"{__name__}.{code}").PROFILE


#: All eight vendor profiles, in display order.
ALL: tuple[VendorProfile, ...] = tuple(get_profile(code) for code in VENDOR_CODES)

__all__ = [
    "PullMode",
    "minutes",
    "NIGHTLY",
    "DMS_PUSH",
    "ON_DEMAND",
    "WITH_RO",
    "NOT_AVAILABLE",
    "PUSH_ON_DEMAND",
    "PUSH_WITH_APPOINTMENT",
    "PUSH_NOT_AVAILABLE",
    "VendorProfile",
    "VENDOR_CODES",
    "get_profile",
    "ALL",
    "APPOINTMENTS",
    "CUSTOMERS",
    "OPCODES",
    "PARTS_INVOICES",
    "REPAIR_ORDERS",
    "SPECIAL_ORDERS",
    "VEHICLES",
]
