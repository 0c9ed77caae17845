"""The small base every wire protocol's connector shares: capability checks against the vendor profile.

The public write and export methods of :class:`~connectors.base.DmsConnector` live here:
each checks what the vendor takes, then calls the protocol's ``_send_*`` method.

:class:`ProtocolConnector` refuses, before any network call, what the location's vendor
does not offer (pulls, pushes, write-back fields, exports) with the vendor's
:meth:`~connectors.vendors.VendorProfile.refusal`: one wording, and the catalogue row as the
:class:`~connectors.errors.NotSupportedError`'s hint, so the UI can explain it at once.
Each protocol module (:mod:`connectors.console_rest`, :mod:`connectors.star`,
:mod:`connectors.opentrack`) subclasses it and adds its wire format.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .base import (
    APPOINTMENTS,
    CUSTOMERS,
    DATA_TYPES,
    KINDS,
    VEHICLES,
    Appointment,
    Customer,
    DmsConnector,
    MalformedResponseError,
    Page,
    Payment,
    Vehicle,
    format_datetime,
)
from .extract import DailyExtract, latest_extract
from .http import ReadAhead


class ProtocolConnector(DmsConnector):
    """A :class:`DmsConnector` with the vendor-profile checks every protocol makes the same way."""

    #: The drop folder of the vendor's daily data files (None: not configured).
    extract_dir: Path | None = None

    def read_daily_extract(self, data_type: str = CUSTOMERS, path: str | Path | None = None) -> DailyExtract:
        """The newest daily extract of ``data_type`` in ``extract_dir`` (or ``path``), as records.

        Iterate the result for records; its ``problems`` lists bad rows with line numbers.
        Raises :class:`NotSupportedError` for vendors without a daily data file.
        """
        if not self.profile.daily_data_file:
            raise self.profile.refusal("does not deliver a daily data file")
        if path is None:
            if self.extract_dir is None:
                raise ValueError("no extract_dir configured for this location")
            path = latest_extract(self.extract_dir, data_type)
            if path is None:
                raise FileNotFoundError(f"no {data_type} extract in {self.extract_dir}")
        return DailyExtract(path, data_type)

    def cursor_at(self, moment: datetime) -> str:
        """Cursor for "modified at or after ``moment``" (inclusive; a naive moment is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return "since:" + format_datetime(moment)

    def _read_pages(
        self,
        data_type: str,
        cursor: str | None,
        fetch: Callable[[str | None, int], Any],
        read: Callable[[Any, int], tuple[Callable[[], tuple], str | None, bool]],
    ) -> Iterator[Page]:
        """The page loop of every protocol's :meth:`iter_changes`.

        ``fetch(cursor, page_number)`` asks the DMS for a page; ``read(answer, page_number)``
        returns ``(build, next_cursor, has_more)`` where ``build()`` makes the page's records.
        The first page is fetched when asked for (a caller may want only that one); from the
        second on, the next page is fetched in the background while this one's records are built.
        """
        number = 1
        with ReadAhead() as ahead:
            pending = None
            while True:
                answer = pending.result() if pending else fetch(cursor, number)
                build, next_cursor, has_more = read(answer, number)
                next_cursor = next_cursor or cursor
                if has_more and (not next_cursor or next_cursor == cursor):
                    raise MalformedResponseError(
                        f"{data_type} page {number} says there is more but gives no new cursor", data_type=data_type
                    )
                pending = ahead.fetch(fetch, next_cursor, number + 1) if has_more and number > 1 else None
                yield Page(data_type, build(), next_cursor, has_more)
                if not has_more:
                    return
                cursor, number = next_cursor, number + 1

    def _check_pull(self, data_type: str) -> None:
        """Refuse a data type the vendor does not deliver."""
        if data_type not in DATA_TYPES or not self.profile.can_pull(data_type):
            raise self.profile.refusal(f"does not deliver {data_type}")

    def _check_push(self, data_type: str, for_appointment: bool = False) -> None:
        """Refuse pushes the vendor does not take (Reynolds: customers and vehicles only with an appointment)."""
        refusal = self.profile.push_refusal(data_type, for_appointment)
        if refusal is not None:
            raise refusal

    def _check_writable(self, data_type: str, fields: Mapping[str, Any]) -> None:
        """Refuse fields the vendor does not accept on write-back."""
        refused = sorted(set(fields) - set(KINDS[data_type].writable(self.profile)))
        if refused:
            raise self.profile.refusal(f"does not accept {', '.join(refused)} on {data_type}", "FIELD-NOT-WRITABLE")

    # ---- live lookups (DMS tab, wizards): each protocol searches in its own way
    def search_customers(self, query: str, limit: int = 25, timeout: float | None = None) -> list[Customer]:
        """Search customers by name, company, phone, e-mail or DMS id."""
        return self._search(CUSTOMERS, query, limit, timeout)

    def search_vehicles(self, query: str, limit: int = 25, timeout: float | None = None) -> list[Vehicle]:
        """Search vehicles by VIN (full or partial), unit number, plate or DMS id."""
        return self._search(VEHICLES, query, limit, timeout)

    @abc.abstractmethod
    def _search(self, data_type: str, query: str, limit: int, timeout: float | None) -> list[Any]:
        """Customers or vehicles the DMS finds for ``query`` (an empty query finds nothing)."""

    # ---- write-back and exports: the checks are the same everywhere; each protocol sends

    def create_customer(
        self,
        fields: Mapping[str, Any],
        idempotency_key: str,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Customer:
        """Create a customer in the DMS (a replay of ``idempotency_key`` returns the first result)."""
        self._check_push(CUSTOMERS, for_appointment)
        return self._send_create(CUSTOMERS, fields, _key(idempotency_key), for_appointment, timeout)

    def update_customer(
        self,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None = None,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Customer:
        """Write customer fields back to the DMS (refused when the record changed since ``etag``)."""
        self._check_push(CUSTOMERS, for_appointment)
        self._check_writable(CUSTOMERS, fields)
        return self._send_update(CUSTOMERS, dms_id, fields, etag, for_appointment, timeout)

    def create_vehicle(
        self,
        fields: Mapping[str, Any],
        idempotency_key: str,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Vehicle:
        """Create a vehicle/asset in the DMS (idempotent on ``idempotency_key``)."""
        self._check_push(VEHICLES, for_appointment)
        return self._send_create(VEHICLES, fields, _key(idempotency_key), for_appointment, timeout)

    def update_vehicle(
        self,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None = None,
        *,
        for_appointment: bool = False,
        timeout: float | None = None,
    ) -> Vehicle:
        """Write vehicle fields back to the DMS (refused when the record changed since ``etag``)."""
        self._check_push(VEHICLES, for_appointment)
        self._check_writable(VEHICLES, fields)
        return self._send_update(VEHICLES, dms_id, fields, etag, for_appointment, timeout)

    def create_appointment(
        self, fields: Mapping[str, Any], idempotency_key: str, *, timeout: float | None = None
    ) -> Appointment:
        """Push a new appointment (idempotent on ``idempotency_key``)."""
        self._check_push(APPOINTMENTS)
        return self._send_create(APPOINTMENTS, fields, _key(idempotency_key), False, timeout)

    def update_appointment(
        self, dms_id: str, fields: Mapping[str, Any], etag: str | None = None, *, timeout: float | None = None
    ) -> Appointment:
        """Update an appointment (ConflictError when it is locked or changed)."""
        self._check_push(APPOINTMENTS)
        return self._send_update(APPOINTMENTS, dms_id, fields, etag, False, timeout)

    def cancel_appointment(self, dms_id: str, etag: str | None = None, *, timeout: float | None = None) -> Appointment:
        """Cancel an appointment in the DMS."""
        self._check_push(APPOINTMENTS)
        return self._send_cancel(dms_id, etag, timeout)

    def reserve_ro_number(self, idempotency_key: str, *, timeout: float | None = None) -> str:
        """Reserve the next RO number (Convert to RO); a replay returns the same number."""
        if not self.profile.ro_number_reservation:
            raise self.profile.refusal("does not reserve RO numbers")
        return self._send_reservation(_key(idempotency_key), timeout)

    def export_payment(
        self, payment: Mapping[str, Any], idempotency_key: str, *, timeout: float | None = None
    ) -> Payment:
        """Post a receipt (``ro_number``, ``amount``, ``method``, ``payer``, ``received_at``) to the DMS."""
        if not self.profile.payment_export:
            raise self.profile.refusal("does not take payment exports")
        return self._send_payment(payment, _key(idempotency_key), timeout)

    def related_ro_numbers(self, ro_number: str, *, timeout: float | None = None) -> list[str]:
        """RO numbers related to ``ro_number`` (Karmak alternate ROs), open ones included."""
        if not self.profile.related_ros:
            raise self.profile.refusal("has no related RO numbers")
        return self._send_related(ro_number, timeout)

    # ---- what each protocol implements
    @abc.abstractmethod
    def _send_create(
        self,
        data_type: str,
        fields: Mapping[str, Any],
        idempotency_key: str,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """Create a customer, vehicle or appointment; return the record the DMS holds."""

    @abc.abstractmethod
    def _send_update(
        self,
        data_type: str,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """Change fields of a customer, vehicle or appointment (If-Match ``etag``); return the new record."""

    @abc.abstractmethod
    def _send_cancel(self, dms_id: str, etag: str | None, timeout: float | None) -> Appointment:
        """Cancel an appointment; return it as the DMS now holds it."""

    @abc.abstractmethod
    def _send_reservation(self, idempotency_key: str, timeout: float | None) -> str:
        """Reserve an RO number."""

    @abc.abstractmethod
    def _send_payment(self, payment: Mapping[str, Any], idempotency_key: str, timeout: float | None) -> Payment:
        """Post a receipt."""

    def _send_related(self, ro_number: str, timeout: float | None) -> list[str]:
        """Related RO numbers (only vendors whose profile has them reach this)."""
        raise self.profile.refusal("has no related RO lookup over this protocol")


def _key(idempotency_key: str) -> str:
    """The idempotency key, which every create needs so a retried create cannot duplicate the record."""
    if not idempotency_key:
        raise ValueError("an idempotency_key is required so a retried create cannot duplicate the record")
    return idempotency_key
