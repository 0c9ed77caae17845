"""The console's own REST dialect: :class:`DmsConnector` for vendors without a public specification.

``POST /oauth/token`` with the account's API key, ``GET /v1/{account}/{type}?cursor=`` ->
``{items, next_cursor, has_more}``, ETag/If-Match updates, Idempotency-Key creates and
RFC 7807 errors. What differs per vendor lives in its
:class:`~connectors.vendors.VendorProfile` (capabilities, cadences, rules, error
codes). Capabilities the profile lacks are refused locally with
:class:`NotSupportedError` before any network call, so the UI can explain it at once.

The connector does *not* pre-check the vendor's validation rules before sending: the DMS
is the authority and its error code (with the catalogue's fix hint) is what lands in the
failed-push queue. Call ``connector.profile.validate_appointment(...)`` in the UI for
early feedback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .adapter import ProtocolConnector
from .base import (
    APPOINTMENTS,
    RECORD_TYPES,
    Appointment,
    CredentialField,
    DmsRecord,
    MalformedResponseError,
    Page,
    Payment,
    json_ready,
    record_from_dict,
)
from .http import HttpTransport
from .vendors import VendorProfile


class ConsoleRestConnector(ProtocolConnector):
    """A :class:`DmsConnector` for one dealer account, speaking the console's own REST dialect."""

    PROTOCOL = "console"
    LABEL = "Console REST API"
    CREDENTIALS = (CredentialField("api_key", "API key", secret=True),)

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
        self.transport = HttpTransport(base_url, account, credentials["api_key"], profile, timeout=timeout)
        self._prefix = f"/v1/{quote(account, safe='')}"

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    # ---- helpers
    def _parse(self, data_type: str, item: Any, position: int | None = None) -> DmsRecord:
        """Parse one wire record, naming its position when malformed.

        The dialect's records are the canonical records themselves, so no raw copy is kept
        beside them (it would double what a pull writes and show nothing new)."""
        if not isinstance(item, dict):
            raise MalformedResponseError(
                f"{data_type} record at position {position} is not an object", data_type=data_type, position=position
            )
        return record_from_dict(data_type, item, position=position)

    def _record_response(self, data_type: str, response: Any) -> DmsRecord:
        """Parse a single-record response and attach its ETag header."""
        data = self.transport._json(response, f"{data_type} record", data_type)
        if isinstance(data, dict) and response.headers.get("ETag") and not data.get("etag"):
            data["etag"] = response.headers["ETag"]
        return self._parse(data_type, data)

    # ---- pulls
    def iter_changes(
        self, data_type: str, cursor: str | None = None, page_size: int = 500, timeout: float | None = None
    ) -> Iterator[Page]:
        """Yield pages of changes since ``cursor`` (see :meth:`DmsConnector.iter_changes`)."""
        self._check_pull(data_type)
        return self._pages(data_type, cursor, page_size, timeout)

    def _pages(self, data_type: str, cursor: str | None, page_size: int, timeout: float | None) -> Iterator[Page]:
        """The lazy page loop behind :meth:`iter_changes` (``{items, next_cursor, has_more}`` pages)."""
        path = f"{self._prefix}/{data_type}"

        def fetch(cursor: str | None, number: int) -> Any:
            """One page's parsed body."""
            params: dict[str, Any] = {"limit": page_size, **({"cursor": cursor} if cursor else {})}
            return self.transport.get_json(
                path, params=params, timeout=timeout, what=f"{data_type} page {number}", data_type=data_type
            )

        def read(data: Any, number: int) -> tuple:
            """The page's records (built later), next cursor and whether more follows."""
            items = data.get("items") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError(f"{data_type} page {number} has no item list", data_type=data_type)
            return (
                lambda: tuple(self._parse(data_type, item, position) for position, item in enumerate(items)),
                data.get("next_cursor"),
                bool(data.get("has_more")),
            )

        return self._read_pages(data_type, cursor, fetch, read)

    def list_ids(self, data_type: str, page_size: int = 5000, timeout: float | None = None) -> Iterator[str]:
        """Yield every DMS id of ``data_type`` (streamed, in id order)."""
        self._check_pull(data_type)
        return self._ids(data_type, page_size, timeout)

    def _ids(self, data_type: str, page_size: int, timeout: float | None) -> Iterator[str]:
        """The lazy loop behind :meth:`list_ids`."""
        after = ""
        while True:
            data = self.transport.get_json(
                f"{self._prefix}/{data_type}/_ids",
                params={"after": after, "limit": page_size},
                timeout=timeout,
                what=f"{data_type} id list",
            )
            ids = data.get("ids") if isinstance(data, dict) else None
            if not isinstance(ids, list):
                raise MalformedResponseError(f"{data_type} id list is malformed", data_type=data_type)
            yield from (str(i) for i in ids)
            if not data.get("next"):
                return
            after = str(data["next"])

    def fetch_one(self, data_type: str, dms_id: str, timeout: float | None = None) -> DmsRecord | None:
        """One record with its ETag, or None when the DMS does not have it."""
        if data_type not in RECORD_TYPES:
            raise ValueError(f"unknown data type {data_type!r}")
        response = self.transport.request(
            "GET", f"{self._prefix}/{data_type}/{quote(dms_id, safe='')}", timeout=timeout, allow_404=True
        )
        if response.status_code == 404:
            return None
        return self._record_response(data_type, response)

    # ---- live lookups
    def _search(self, data_type: str, query: str, limit: int, timeout: float | None) -> list[Any]:
        """Run a DMS-side search."""
        if not query.strip():
            return []
        data = self.transport.get_json(
            f"{self._prefix}/{data_type}/_search",
            params={"q": query, "limit": limit},
            timeout=timeout,
            what=f"{data_type} search",
        )
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError(f"{data_type} search result is malformed", data_type=data_type)
        return [self._parse(data_type, item, position) for position, item in enumerate(items)]

    # ---- writes
    def _create(
        self,
        data_type: str,
        fields: Mapping[str, Any],
        idempotency_key: str,
        timeout: float | None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """POST a create with its Idempotency-Key and parse the record."""
        response = self.transport.request(
            "POST",
            f"{self._prefix}/{data_type}",
            json_body=json_ready(dict(fields)),
            headers={"Idempotency-Key": idempotency_key},
            params=params,
            timeout=timeout,
        )
        return self._record_response(data_type, response)

    def _update(
        self,
        data_type: str,
        dms_id: str,
        fields: Mapping[str, Any] | None,
        etag: str | None,
        timeout: float | None,
        params: Mapping[str, Any] | None = None,
        suffix: str = "",
    ) -> Any:
        """PATCH (or POST an action) with If-Match when an ETag is known."""
        headers = {"If-Match": etag} if etag else {}
        method = "POST" if suffix else "PATCH"
        response = self.transport.request(
            method,
            f"{self._prefix}/{data_type}/{quote(dms_id, safe='')}{suffix}",
            json_body=None if fields is None else json_ready(dict(fields)),
            headers=headers,
            params=params,
            timeout=timeout,
        )
        return self._record_response(data_type, response)

    def _send_create(
        self,
        data_type: str,
        fields: Mapping[str, Any],
        idempotency_key: str,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """POST the record with its Idempotency-Key."""
        return self._create(
            data_type, fields, idempotency_key, timeout, {"for_appointment": "1"} if for_appointment else None
        )

    def _send_update(
        self,
        data_type: str,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """PATCH the fields with If-Match."""
        return self._update(
            data_type, dms_id, fields, etag, timeout, {"for_appointment": "1"} if for_appointment else None
        )

    def _send_cancel(self, dms_id: str, etag: str | None, timeout: float | None) -> Appointment:
        """``POST /appointments/{id}/cancel``."""
        return self._update(APPOINTMENTS, dms_id, None, etag, timeout, suffix="/cancel")

    def _send_reservation(self, idempotency_key: str, timeout: float | None) -> str:
        """``POST /repair_orders/_reserve``."""
        response = self.transport.request(
            "POST",
            f"{self._prefix}/repair_orders/_reserve",
            headers={"Idempotency-Key": idempotency_key},
            timeout=timeout,
        )
        data = self.transport._json(response, "RO number reservation")
        if not isinstance(data, dict) or not data.get("ro_number"):
            raise MalformedResponseError("RO number reservation has no ro_number")
        return str(data["ro_number"])

    def _send_payment(self, payment: Mapping[str, Any], idempotency_key: str, timeout: float | None) -> Payment:
        """``POST /payments``."""
        response = self.transport.request(
            "POST",
            f"{self._prefix}/payments",
            json_body=json_ready(dict(payment)),
            headers={"Idempotency-Key": idempotency_key},
            timeout=timeout,
        )
        return self._record_response("payments", response)

    def _send_related(self, ro_number: str, timeout: float | None) -> list[str]:
        """``GET /repair_orders/{number}/related``."""
        data = self.transport.get_json(
            f"{self._prefix}/repair_orders/{quote(ro_number, safe='')}/related", timeout=timeout, what="related RO list"
        )
        numbers = data.get("related_ro_numbers") if isinstance(data, dict) else None
        if not isinstance(numbers, list):
            raise MalformedResponseError("related RO list is malformed")
        return [str(n) for n in numbers]
