"""Dealertrack OpenTrack (SOAP 1.1, WS-Security UsernameToken): :class:`DmsConnector` for Dealertrack.

One SOAP operation, ``ProcessMessage`` (SOAPAction
``http://www.starstandards.org/webservices/2005/10/transport/operations/ProcessMessage``);
the request element in ``payload/content`` names the OpenTrack operation (``CustomerSearch``,
``CustomerLookup``, ``AppointmentAdd`` ...). Every request carries the user name and
password (``PasswordText``) and a ``Dealer`` element (``EnterpriseCode``, ``CompanyNumber`` =
the location's account, ``ServerName``). The envelope lives in :mod:`connectors.opentrack_xml`,
element names and the record mapping both ways in :mod:`connectors.opentrack_records`.

Reading: responses are parsed with a hardened lxml parser (no DTD, no entities, no network)
and read by element name - unknown elements and any order are fine, a missing element is
absent. Errors: a SOAP Fault (authentication -> :class:`AuthenticationError`, server ->
:class:`TransientDmsError`), HTTP 429/503 (Retry-After), or an OpenTrack ``Error`` element
(``Code``, ``Message``) mapped by its code through the vendor catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from lxml import etree

from . import opentrack_records as otr
from . import opentrack_xml as ox
from .adapter import ProtocolConnector
from .base import (
    APPOINTMENTS,
    CUSTOMERS,
    RECORD_TYPES,
    VEHICLES,
    Appointment,
    AuthenticationError,
    ConflictError,
    CredentialField,
    Customer,
    DmsRecord,
    DmsValidationError,
    MalformedResponseError,
    NotSupportedError,
    Page,
    Payment,
    TransientDmsError,
    Vehicle,
    format_datetime,
    record_from_dict,
)
from .http import _tls_context, retry_after_seconds
from .vendors import VendorProfile

AUTH_HINT = (
    "The DMS did not accept the OpenTrack user name or password (the API key Dealertrack issued). Ask a "
    "Global Admin to check the OpenTrack user and password, enterprise code and server name "
    "(Admin → Locations)."
)
EXPIRED_HINT = (
    "Dealertrack says the OpenTrack credentials are expired or no longer accepted (Dealertrack may have "
    "reset the password). Ask a Global Admin to check the OpenTrack user and password under "
    "Admin → Locations."
)
_AUTH_FAULTS = ("FailedAuthentication", "InvalidSecurity", "InvalidSecurityToken", "FailedCheck")


def _auth_hint(profile: VendorProfile, code: str | None) -> str | None:
    """The fix hint of a refused sign-in; None to use the catalogue row's.

    OpenTrack has no session to renew, so a TOKEN-EXPIRED means the credentials themselves
    expired (:data:`EXPIRED_HINT`); without a code the catalogue knows, :data:`AUTH_HINT`.
    """
    if code and code.endswith("TOKEN-EXPIRED"):
        return EXPIRED_HINT
    return None if code and code in profile.catalogue else AUTH_HINT


class OpenTrackConnector(ProtocolConnector):
    """A :class:`DmsConnector` for one Dealertrack company over OpenTrack SOAP."""

    PROTOCOL = "opentrack"
    LABEL = "Dealertrack OpenTrack (SOAP)"
    CREDENTIALS = (
        CredentialField("enterprise_code", "Enterprise code", help="Dealertrack's enterprise code, e.g. ZE"),
        CredentialField("server_name", "Server name", help="The DMS server name Dealertrack gave for this dealer"),
        CredentialField("username", "OpenTrack user name"),
        CredentialField("password", "OpenTrack password", secret=True),
    )

    def __init__(
        self,
        profile: VendorProfile,
        base_url: str,
        account: str,
        credentials: Mapping[str, str],
        timeout: float = 10.0,
        extract_dir: str | Path | None = None,
    ) -> None:
        self.profile = profile
        self.account = account
        self.extract_dir = Path(extract_dir) if extract_dir else None
        self.url = base_url.rstrip("/")
        self.timeout = timeout
        self.username = credentials["username"]
        self.password = credentials["password"]
        self.dealer = ox.dealer_xml(credentials["enterprise_code"], account, credentials["server_name"])
        self.client = httpx.Client(
            timeout=timeout, verify=_tls_context(), limits=httpx.Limits(max_connections=10, max_keepalive_connections=5)
        )
        #: the last request and response bodies (tests validate their shape)
        self.last_request: bytes = b""
        self.last_response: bytes = b""

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    # ---- transport
    def _entry(self, code: str | None):
        return self.profile.entry(code) if code else None

    def call(
        self,
        operation: str,
        inner: str,
        *,
        timeout: float | None = None,
        what: str = "response",
        data_type: str | None = None,
    ) -> etree._Element:
        """Send one OpenTrack request; return its response element (errors raised as DmsError)."""
        body = ox.request_envelope(
            f"<{operation}>{self.dealer}{inner}</{operation}>", operation, self.username, self.password
        )
        self.last_request = body
        try:
            response = self.client.post(
                self.url,
                content=body,
                timeout=self.timeout if timeout is None else timeout,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ox.SOAP_ACTION}"'},
            )
        except httpx.TimeoutException as error:
            raise TransientDmsError(f"the DMS did not answer in time ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise TransientDmsError(f"could not reach the DMS: {error}") from error
        self.last_response = response.content
        status = response.status_code
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        try:
            root = ox.parse_xml(response.content)
            fault, element = ox.open_envelope(root, response=True)
        except ox.XmlRefused as error:
            if status in (401, 403):
                raise AuthenticationError(f"DMS answered {status}", status=status, fix_hint=AUTH_HINT) from None
            if status == 429 or status >= 500:
                raise TransientDmsError(f"DMS answered {status}", status=status, retry_after=retry_after) from None
            raise MalformedResponseError(
                f"the DMS sent an unreadable {what}: {error}", status=status, data_type=data_type
            ) from None
        if fault is not None:
            self._raise_fault(fault, status, retry_after)
        if status >= 300:
            raise TransientDmsError(f"DMS answered {status}", status=status, retry_after=retry_after)
        error = self._first_error(element)
        if error is not None and ox.find(element, "Success") is None:
            fields = ox.children(error)
            self._raise_error(fields.get("Code", ""), fields.get("Message", ""), operation)
        return element

    @staticmethod
    def _first_error(element: etree._Element) -> etree._Element | None:
        """The first ``Error`` of an answer: directly, under ``Errors`` or under ``Failure/Errors``.

        An answer that also has ``Success`` (AddRepairOrder: RO created, a line refused) is
        not an error for the operation itself.
        """
        for holder in (element, ox.find(element, "Errors"), ox.find(element, "Failure")):
            if holder is None:
                continue
            error = ox.find(holder, "Error")
            if error is None and ox.find(holder, "Errors") is not None:
                error = ox.find(ox.find(holder, "Errors"), "Error")
            if error is not None:
                return error
        return None

    def _raise_fault(self, fault: etree._Element, status: int, retry_after: float | None) -> None:
        f = ox.children(fault)
        faultcode = f.get("faultcode", "")
        message = f.get("faultstring", "") or "SOAP fault"
        detail = ox.find(fault, "detail")
        error = ox.find(detail, "Error") if detail is not None else None
        code = ox.children(error).get("Code") if error is not None else None
        entry = self._entry(code)
        text = f"DMS fault {faultcode}" + (f" {code}" if code else "") + f": {message}"
        if faultcode.rpartition(":")[2] in _AUTH_FAULTS:
            # HTTP 500 carries every SOAP fault; what the DMS means is "unauthorised" (401), never retryable.
            raise AuthenticationError(
                text, status=401, entry=entry, fix_hint=_auth_hint(self.profile, code), vendor_code=code
            )
        if status == 429 or status >= 500 or faultcode.rpartition(":")[2] in ("Server", "Receiver"):
            raise TransientDmsError(text, status=status, retry_after=retry_after, entry=entry)
        raise DmsValidationError(text, status=status, entry=entry)

    def _raise_error(self, code: str, message: str, operation: str) -> None:
        """Map an OpenTrack ``Error`` (catalogue code or Dealertrack's own) to our error classes."""
        entry = self._entry(code)
        suffix = code.partition("-")[2] if code.startswith(self.profile.code_prefix + "-") else code
        text = f"{operation}: DMS error {code}: {message}"
        if suffix == "LOCKED":
            raise ConflictError(text, locked=True, status=409, entry=entry)
        if suffix == "ETAG-MISMATCH":
            raise ConflictError(text, status=412, entry=entry)
        if suffix in ("NOT-SUPPORTED", "FIELD-NOT-WRITABLE", "PUSH-NEEDS-APPOINTMENT"):
            raise NotSupportedError(text, status=501, entry=entry)
        if suffix in ("AUTH-FAILED", "TOKEN-EXPIRED"):
            raise AuthenticationError(text, status=401, entry=entry, fix_hint=_auth_hint(self.profile, code))
        if suffix in ("RATE-LIMITED", "SERVER-ERROR"):
            raise TransientDmsError(text, entry=entry)
        if suffix == "NOT-FOUND":
            raise DmsValidationError(text, status=404, entry=entry)
        raise DmsValidationError(text, status=422, entry=entry, vendor_code=code or None)

    # ---- helpers
    def _records(self, element: etree._Element, data_type: str, record_name: str) -> list[DmsRecord]:
        out = []
        position = 0
        for node in element:
            if ox.local(node.tag) != record_name:
                continue
            try:
                _, data = otr.read_record(node)
            except (ValueError, TypeError, KeyError) as error:
                raise MalformedResponseError(
                    f"{data_type} record at position {position}: {error}", data_type=data_type, position=position
                ) from None
            if not data.get("modified_at"):
                raise MalformedResponseError(
                    f"{data_type} record {data.get('dms_id')!r} at position {position} has no change time "
                    f"(LastModified)",
                    data_type=data_type,
                    dms_id=data.get("dms_id"),
                    position=position,
                )
            out.append(
                record_from_dict(data_type, data, raw=etree.tostring(node, encoding="unicode"), position=position)
            )
            position += 1
        return out

    def _feed(self, data_type: str) -> otr.Feed:
        if data_type not in otr.FEEDS or not self.profile.can_pull(data_type):
            raise self.profile.refusal(f"does not deliver {data_type}")
        return otr.FEEDS[data_type]

    # ---- pulls
    def iter_changes(
        self, data_type: str, cursor: str | None = None, page_size: int = 500, timeout: float | None = None
    ) -> Iterator[Page]:
        """Pages of changes since ``cursor`` (see :meth:`DmsConnector.iter_changes`).

        The request's change-time parameter (``UpdatedDateTimeStart``; ``ModifiedAfter`` for
        ROs) carries a ``cursor_at`` moment (inclusive); the response's ``DataToken`` is the
        continuation and becomes the next cursor; ``MoreData`` says whether more follows.
        """
        feed = self._feed(data_type)
        return self._pages(data_type, feed, cursor, page_size, timeout)

    def _pages(
        self, data_type: str, feed: otr.Feed, cursor: str | None, page_size: int, timeout: float | None
    ) -> Iterator[Page]:
        """The lazy page loop behind :meth:`iter_changes` (``DataToken`` + ``MoreData`` answers)."""

        def fetch(cursor: str | None, number: int) -> etree._Element:
            """One page's answer element (its XML parsed)."""
            parms = ox.el("MaxRecords", page_size)
            if cursor and cursor.startswith("since:"):
                parms = ox.el(feed.since, cursor[6:]) + parms
            elif cursor:
                parms = ox.el("DataToken", cursor) + parms
            return self.call(
                feed.request,
                f"<{feed.parms}>{parms}</{feed.parms}>",
                timeout=timeout,
                what=f"{data_type} page {number}",
                data_type=data_type,
            )

        def read(element: etree._Element, number: int) -> tuple:
            """The page's records (built later), next cursor and whether more follows."""
            fields = ox.children(element)
            return (
                lambda: tuple(self._records(element, data_type, feed.record)),
                fields.get("DataToken"),
                otr.flag(fields.get("MoreData")),
            )

        return self._read_pages(data_type, cursor, fetch, read)

    def list_ids(self, data_type: str, page_size: int = 5000, timeout: float | None = None) -> Iterator[str]:
        """Every DMS id of ``data_type`` (read through the change feed from the start)."""
        feed = self._feed(data_type)
        return (
            record.dms_id
            for page in self._pages(data_type, feed, None, min(page_size, 5000), timeout)
            for record in page.records
        )

    def fetch_one(self, data_type: str, dms_id: str, timeout: float | None = None) -> DmsRecord | None:
        """One record (with its RecordVersion as ETag), or None."""
        if data_type not in RECORD_TYPES:
            raise ValueError(f"unknown data type {data_type!r}")
        feed = self._feed(data_type)
        key = ox.el(feed.lookup_key, dms_id)
        inner = f"<{feed.lookup_parms}>{key}</{feed.lookup_parms}>" if feed.lookup_parms else key
        try:
            element = self.call(feed.lookup, inner, timeout=timeout, what=f"{data_type} lookup", data_type=data_type)
        except DmsValidationError as error:
            if error.status == 404:
                return None
            raise
        records = self._records(element, data_type, feed.lookup_record)
        return records[0] if records else None

    # ---- live lookups
    def _search(self, data_type: str, query: str, limit: int, timeout: float | None) -> list[Any]:
        """CustomerSearch or VehicleSearch."""
        query = query.strip()
        if not query:
            return []
        if data_type == CUSTOMERS:
            return self._search_customers(query, limit, timeout)
        return self._search_vehicles(query, limit, timeout)

    def _search_customers(self, query: str, limit: int, timeout: float | None) -> list[Customer]:
        """CustomerSearch by name / phone / e-mail (a DMS id goes through CustomerLookup)."""
        digits = sum(ch.isdigit() for ch in query)
        if "@" in query:
            parms = ox.el("Email", query)
        elif digits >= 7 and digits >= len(query) - 4:
            parms = ox.el("Phone", "".join(ch for ch in query if ch.isdigit()))
        else:
            parms = ox.el("LastName", query)
        element = self.call(
            "CustomerSearch",
            f"<SearchParms>{parms}{ox.el('MaxRecords', limit)}</SearchParms>",
            timeout=timeout,
            what="customer search",
            data_type=CUSTOMERS,
        )
        return self._records(element, CUSTOMERS, "CustomerSearchResult")

    def _search_vehicles(self, query: str, limit: int, timeout: float | None) -> list[Vehicle]:
        """VehicleSearch by VIN (full, or the last six), stock number or plate."""
        name = (
            "VIN" if len(query) == 17 else "LastSixOfVIN" if len(query) == 6 and query[-4:].isdigit() else "StockNumber"
        )
        element = self.call(
            "VehicleSearch",
            f"<SearchParms>{ox.el(name, query)}{ox.el('MaxRecords', limit)}</SearchParms>",
            timeout=timeout,
            what="vehicle search",
            data_type=VEHICLES,
        )
        return self._records(element, VEHICLES, "VehicleSearchResult")

    # ---- writes
    @staticmethod
    def _key(idempotency_key: str) -> str:
        """Our idempotency key as the element that carries it."""
        return ox.el("ExternalCrossReferenceKey", idempotency_key)

    def _success_key(self, element: etree._Element, name: str, operation: str) -> str:
        success = ox.find(element, "Success")
        value = (ox.children(success).get(name) if success is not None else None) or ox.children(element).get(name)
        if not value:
            raise MalformedResponseError(f"{operation} answer has no {name}")
        return value

    def _reread(self, data_type: str, dms_id: str, timeout: float | None) -> Any:
        record = self.fetch_one(data_type, dms_id, timeout=timeout)
        if record is None:
            raise MalformedResponseError(
                f"{data_type} {dms_id} was written but cannot be read back", data_type=data_type, dms_id=dms_id
            )
        return record

    def _send_create(
        self,
        data_type: str,
        fields: Mapping[str, Any],
        idempotency_key: str,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """CustomerAdd / VehicleAdd / AppointmentAdd; our key rides in ``ExternalCrossReferenceKey`` so a
        retry is recognised; the new record is read back."""
        key = self._key(idempotency_key)
        flag = ox.el("ForAppointment", otr.yn(for_appointment))
        if data_type == CUSTOMERS:
            operation, number, inner = (
                "CustomerAdd",
                "CustomerNumber",
                f"<Customer>{otr.customer_fields_to_wire(fields)}{key}{flag}</Customer>",
            )
        elif data_type == VEHICLES:  # VehicleAdd: not a published operation; same style as CustomerAdd
            operation, number, inner = (
                "VehicleAdd",
                "StockNumber",
                f"<Vehicle>{otr.vehicle_fields_to_wire(fields)}{key}{flag}</Vehicle>",
            )
        else:
            operation, number, inner = (
                "AppointmentAdd",
                "AppointmentNumber",
                (
                    f"<Appointment>{ox.el('CompanyNumber', self.account)}{otr.appointment_fields_to_wire(fields)}"
                    f"{key}</Appointment>"
                ),
            )
        element = self.call(operation, inner, timeout=timeout, what=f"{operation} answer")
        return self._reread(data_type, self._success_key(element, number, operation), timeout)

    def _send_update(
        self,
        data_type: str,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """CustomerUpdate / VehicleUpdate / AppointmentUpdate with the ``RecordVersion`` read (= the ETag):
        refused when the record changed since; the record is read back."""
        version = ox.el("RecordVersion", etag) if etag else ""
        flag = ox.el("ForAppointment", otr.yn(for_appointment))
        if data_type == CUSTOMERS:
            operation, inner = (
                "CustomerUpdate",
                (
                    f"<Customer>{ox.el('CustomerNumber', dms_id)}"
                    f"{otr.customer_fields_to_wire(fields)}{version}{flag}</Customer>"
                ),
            )
        elif data_type == VEHICLES:  # VehicleUpdate: not a published operation
            operation, inner = (
                "VehicleUpdate",
                (
                    f"<Vehicle>{ox.el('StockNumber', dms_id)}"
                    f"{otr.vehicle_fields_to_wire(fields)}{version}{flag}</Vehicle>"
                ),
            )
        else:
            operation, inner = (
                "AppointmentUpdate",
                (
                    f"<Appointment>{ox.el('CompanyNumber', self.account)}{ox.el('AppointmentNumber', dms_id)}"
                    f"{otr.appointment_fields_to_wire(fields)}{version}</Appointment>"
                ),
            )
        self.call(operation, inner, timeout=timeout, what=f"{operation} answer")
        return self._reread(data_type, dms_id, timeout)

    def _send_cancel(self, dms_id: str, etag: str | None, timeout: float | None) -> Appointment:
        """AppointmentDelete; the appointment is then read back (status cancelled)."""
        inner = ox.el("AppointmentNumber", dms_id) + (ox.el("RecordVersion", etag) if etag else "")
        self.call("AppointmentDelete", inner, timeout=timeout, what="AppointmentDelete answer")
        return self._reread(APPOINTMENTS, dms_id, timeout)

    # ---- lookups and exports
    def _send_reservation(self, idempotency_key: str, timeout: float | None) -> str:
        """AddRepairOrder without lines: the DMS answers the new RO's ``RepairOrderNumber``."""
        inner = f"<RepairOrder>{self._key(idempotency_key)}</RepairOrder>"
        element = self.call("AddRepairOrder", inner, timeout=timeout, what="AddRepairOrder answer")
        number = ox.children(element).get("RepairOrderNumber")
        if not number:
            raise MalformedResponseError("AddRepairOrder answer has no RepairOrderNumber")
        return number

    def _send_payment(self, payment: Mapping[str, Any], idempotency_key: str, timeout: float | None) -> Payment:
        """PaymentAdd (not a published OpenTrack operation; see the README)."""
        received = payment.get("received_at")
        inner = (
            "<Payment>"
            + ox.el("RepairOrderNumber", payment.get("ro_number"))
            + ox.el("Amount", payment.get("amount"))
            + ox.el("PaymentMethod", payment.get("method"))
            + ox.el("Payer", payment.get("payer"))
            + ox.el("ReceivedDateTime", format_datetime(received) if isinstance(received, datetime) else received)
            + self._key(idempotency_key)
            + "</Payment>"
        )
        element = self.call("PaymentAdd", inner, timeout=timeout, what="PaymentAdd answer")
        node = ox.find(element, "Payment")
        if node is None:
            raise MalformedResponseError("PaymentAdd answer has no Payment element")
        return record_from_dict(
            "payments", otr.payment_from_wire(ox.children(node)), raw=etree.tostring(node, encoding="unicode")
        )
