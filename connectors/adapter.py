"""The small base every wire protocol's connector shares: capability checks against the vendor profile.

:class:`ProtocolConnector` refuses, before any network call, what the location's vendor
does not offer (pulls, pushes, write-back fields), with the vendor's catalogue row as the
:class:`~connectors.errors.NotSupportedError`'s hint, so the UI can explain it at once.
Each protocol module (:mod:`connectors.console_rest`, :mod:`connectors.star`,
:mod:`connectors.opentrack`) subclasses it and adds its wire format.
"""
from __future__ import annotations

from typing import Any, Mapping

from .base import DATA_TYPES, KINDS, DmsConnector, NotSupportedError
from .vendors import PUSH_NOT_AVAILABLE, PUSH_WITH_APPOINTMENT


class ProtocolConnector(DmsConnector):
    """A :class:`DmsConnector` with the vendor-profile checks every protocol makes the same way."""

    def _not_supported(self, what: str, suffix: str = "NOT-SUPPORTED") -> NotSupportedError:
        """A NotSupportedError carrying the vendor's catalogue row."""
        return NotSupportedError(f"{self.profile.display_name}: {what}",
                                 entry=self.profile.entry(self.profile.code_for(suffix)))

    def _check_pull(self, data_type: str) -> None:
        """Refuse a data type the vendor does not deliver."""
        if data_type not in DATA_TYPES or not self.profile.can_pull(data_type):
            raise self._not_supported(f"does not deliver {data_type}")

    def _check_push(self, data_type: str, for_appointment: bool = False) -> None:
        """Refuse pushes the vendor does not take (Reynolds: customers and vehicles only with an appointment)."""
        mode = self.profile.push_mode(data_type)
        if mode == PUSH_NOT_AVAILABLE:
            raise self._not_supported(f"does not accept {data_type} from outside")
        if mode == PUSH_WITH_APPOINTMENT and not for_appointment:
            suffix = "PUSH-NEEDS-APPOINTMENT" if self.profile.code_for("PUSH-NEEDS-APPOINTMENT") in \
                self.profile.catalogue else "NOT-SUPPORTED"
            raise self._not_supported(f"accepts {data_type} only with an appointment", suffix)

    def _check_writable(self, data_type: str, fields: Mapping[str, Any]) -> None:
        """Refuse fields the vendor does not accept on write-back."""
        refused = sorted(set(fields) - set(KINDS[data_type].writable(self.profile)))
        if refused:
            raise self._not_supported(f"does not accept {', '.join(refused)} on {data_type}", "FIELD-NOT-WRITABLE")
