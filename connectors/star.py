"""STAR REST: :class:`DmsConnector` for vendors that publish the STAR OpenAPI resources.

Resources and their mapping to the canonical records are in :mod:`connectors.star_records`.
Where the published documents are silent the STAR API guideline style is followed (and
written down in the README): OAuth2 client-credentials tokens at ``POST {base}/oauth2/token``;
collections ``{"data": [...], "has_more"}`` ordered by the DMS's change sequence, the next
page given by an RFC 8288 ``Link: <...>; rel="next"`` header carrying an opaque
``page_token`` (offsets could skip rows edited during a read); ``filter=updated_since:<ISO>``
for modified-since reads (inclusive); ETag/If-Match on ``PUT`` replacements,
``Idempotency-Key`` on creates, ``POST .../{key}:cancel`` to cancel an appointment, and
errors as RFC 7807 problem details (``application/problem+json``) that also satisfy the
documents' ``ErrorDetail`` schema (``code`` is the vendor's error code).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from .adapter import ProtocolConnector
from .base import (
    APPOINTMENTS,
    PAYMENTS,
    REPAIR_ORDERS,
    Appointment,
    AuthenticationError,
    CredentialField,
    DmsRecord,
    MalformedResponseError,
    Page,
    Payment,
    TransientDmsError,
    json_ready,
    record_from_dict,
)
from .http import HttpTransport, loads_exact, retry_after_seconds
from .star_records import ETAG, RESOURCES, from_star, to_star
from .vendors import VendorProfile


def _link_next(header: str | None) -> str | None:
    """The target of the ``rel="next"`` link of an RFC 8288 Link header."""
    if not header:
        return None
    for match in re.finditer(r"<([^>]*)>\s*((?:;\s*[^,;]+)*)", header):
        params = match.group(2)
        if re.search(r';\s*rel="?([^";]*\s)?next(\s[^";]*)?"?', params):
            return match.group(1)
    return None


# --------------------------------------------------------------------------- transport


class StarTransport(HttpTransport):
    """:class:`HttpTransport` with OAuth2 client-credentials tokens (form-encoded, RFC 6749 §4.4)."""

    def __init__(
        self,
        base_url: str,
        account: str,
        client_id: str,
        client_secret: str,
        profile: Any,
        timeout: float = 10.0,
        scope: str | None = None,
    ) -> None:
        super().__init__(base_url, account, client_secret, profile, timeout=timeout, token_path="/oauth2/token")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope

    def _fetch_token(self, timeout: float | None) -> str:
        """POST ``grant_type=client_credentials`` with the client id and secret; keep the token and its expiry."""
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}
        if self.scope:
            form["scope"] = self.scope
        try:
            response = self.client.post(
                self.token_path,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout if timeout is None else timeout,
            )
        except httpx.TimeoutException as error:
            raise TransientDmsError(f"the DMS token service did not answer in time ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise TransientDmsError(f"could not reach the DMS token service: {error}") from error
        if response.status_code in (400, 401, 403):
            try:
                reason = response.json().get("error_description") or response.json().get("error") or ""
            except (ValueError, AttributeError):
                reason = ""
            raise AuthenticationError(
                f"the DMS refused our STAR client credentials ({response.status_code}{': ' + reason if reason else ''})",
                status=response.status_code,
                entry=self.profile.entry(self.profile.code_for("AUTH-FAILED")),
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientDmsError(
                f"the DMS token service answered {response.status_code}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                status=response.status_code,
            )
        if response.status_code >= 300:
            raise AuthenticationError(
                f"the DMS token service answered {response.status_code}", status=response.status_code
            )
        try:
            data = loads_exact(response.content)
        except ValueError as error:
            raise MalformedResponseError(f"the DMS sent an unreadable token response: {error}") from error
        return self._accept_token(data)


# --------------------------------------------------------------------------- connector


class StarConnector(ProtocolConnector):
    """A :class:`DmsConnector` for one dealer account over STAR REST."""

    PROTOCOL = "star"
    LABEL = "STAR REST"
    CREDENTIALS = (
        CredentialField("client_id", "Client ID", help="OAuth2 client ID the vendor issued for this dealer."),
        CredentialField(
            "client_secret",
            "Client secret",
            secret=True,
            help="OAuth2 client secret (the vendor may call it the API key).",
        ),
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
        self.transport = StarTransport(
            base_url,
            account,
            credentials["client_id"],
            credentials["client_secret"],
            profile,
            timeout=timeout,
            scope=credentials.get("scope") or None,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    # ---- helpers
    def _path(self, data_type: str, key: str | None = None, suffix: str = "") -> str:
        path = "/" + RESOURCES[data_type][0]
        if key is not None:
            path += "/" + quote(key, safe="") + suffix
        return path

    def _parse(self, data_type: str, item: Any, position: int | None = None) -> DmsRecord:
        """Parse one STAR resource, naming its position and key when it is malformed."""
        if not isinstance(item, dict):
            raise MalformedResponseError(
                f"{data_type} record at position {position} is not an object", data_type=data_type, position=position
            )
        key = item.get(RESOURCES[data_type][1])
        try:
            canonical = from_star(data_type, item)
        except (ValueError, TypeError, AttributeError, ArithmeticError) as error:
            raise MalformedResponseError(
                f"{data_type} record {key!r} at position {position}: {error}",
                data_type=data_type,
                dms_id=key,
                position=position,
            ) from error
        # record_from_dict's errors already name the data type, the record, its position and the field.
        return record_from_dict(data_type, canonical, raw=item, position=position)

    def _record_response(self, data_type: str, response: Any) -> DmsRecord:
        data = self.transport._json(response, f"{data_type} record", data_type)
        if isinstance(data, dict) and response.headers.get("ETag") and not data.get(ETAG):
            data[ETAG] = response.headers["ETag"]
        return self._parse(data_type, data)

    # ---- pulls
    def iter_changes(
        self, data_type: str, cursor: str | None = None, page_size: int = 500, timeout: float | None = None
    ) -> Iterator[Page]:
        """Yield pages of changes since ``cursor`` (see :meth:`DmsConnector.iter_changes`)."""
        self._check_pull(data_type)
        return self._pages(data_type, cursor, page_size, timeout)

    @staticmethod
    def _cursor_params(cursor: str | None) -> dict[str, Any]:
        if not cursor:
            return {}
        if cursor.startswith("since:"):
            return {"filter": "updated_since:" + cursor[6:]}
        return {"page_token": cursor}

    @staticmethod
    def _cursor_from_link(link: str | None) -> str | None:
        """Our opaque cursor from the ``next`` link: its page token, or its updated_since window."""
        if not link:
            return None
        query = parse_qs(urlsplit(link).query)
        if query.get("page_token"):
            return query["page_token"][-1]
        for value in query.get("filter", []):
            if value.startswith("updated_since:"):
                return "since:" + value[len("updated_since:") :]
        return None

    def _pages(self, data_type: str, cursor: str | None, page_size: int, timeout: float | None) -> Iterator[Page]:
        """The lazy page loop behind :meth:`iter_changes` (``{data, has_more}`` pages, next page in the Link header)."""
        path = self._path(data_type)

        def fetch(cursor: str | None, number: int) -> Any:
            """One page's answer."""
            return self.transport.request(
                "GET", path, params={"limit": page_size, **self._cursor_params(cursor)}, timeout=timeout
            )

        def read(response: Any, number: int) -> tuple:
            """The page's records (built later), next cursor and whether more follows."""
            data = self.transport._json(response, f"{data_type} page {number}", data_type)
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError(f"{data_type} page {number} has no data list", data_type=data_type)
            return (
                lambda: tuple(self._parse(data_type, item, position) for position, item in enumerate(items)),
                self._cursor_from_link(_link_next(response.headers.get("Link"))),
                bool(data.get("has_more")),
            )

        return self._read_pages(data_type, cursor, fetch, read)

    def list_ids(self, data_type: str, page_size: int = 5000, timeout: float | None = None) -> Iterator[str]:
        """Yield every DMS key of ``data_type`` (streamed, in key order)."""
        self._check_pull(data_type)
        return self._ids(data_type, page_size, timeout)

    def _ids(self, data_type: str, page_size: int, timeout: float | None) -> Iterator[str]:
        after = ""
        path = f"/{RESOURCES[data_type][0]}-keys"
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if after:
                params["start_after"] = after
            data = self.transport.get_json(path, params=params, timeout=timeout, what=f"{data_type} key list")
            keys = data.get("data") if isinstance(data, dict) else None
            if not isinstance(keys, list):
                raise MalformedResponseError(f"{data_type} key list is malformed", data_type=data_type)
            yield from (str(k) for k in keys)
            if not data.get("has_more") or not keys:
                return
            after = str(keys[-1])

    def fetch_one(self, data_type: str, dms_id: str, timeout: float | None = None) -> DmsRecord | None:
        """One record with its ETag, or None when the DMS does not have it."""
        if data_type not in RESOURCES:
            raise ValueError(f"unknown data type {data_type!r}")
        response = self.transport.request("GET", self._path(data_type, dms_id), timeout=timeout, allow_404=True)
        if response.status_code == 404:
            return None
        return self._record_response(data_type, response)

    # ---- live lookups
    def _search(self, data_type: str, query: str, limit: int, timeout: float | None) -> list[Any]:
        """``filter=q:<text>`` on the resource."""
        if not query.strip():
            return []
        data = self.transport.get_json(
            self._path(data_type),
            params={"filter": "q:" + query.strip(), "limit": limit},
            timeout=timeout,
            what=f"{data_type} search",
        )
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError(f"{data_type} search result is malformed", data_type=data_type)
        return [self._parse(data_type, item, position) for position, item in enumerate(items)]

    # ---- writes
    @staticmethod
    def _params(for_appointment: bool) -> dict[str, str] | None:
        return {"for_appointment": "true"} if for_appointment else None

    def _create(
        self,
        data_type: str,
        fields: Mapping[str, Any],
        idempotency_key: str,
        timeout: float | None,
        for_appointment: bool = False,
    ) -> Any:
        """POST the STAR resource with its Idempotency-Key (also sent as the create's external business key)."""
        body = to_star(data_type, {**fields, "dms_id": idempotency_key}, meta=False)
        response = self.transport.request(
            "POST",
            self._path(data_type),
            json_body=body,
            headers={"Idempotency-Key": idempotency_key},
            params=self._params(for_appointment),
            timeout=timeout,
        )
        return self._record_response(data_type, response)

    def _replace(
        self,
        data_type: str,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None,
        timeout: float | None,
        for_appointment: bool = False,
    ) -> Any:
        """PUT the whole resource (current values merged with ``fields``) with If-Match.

        Merge-patch would replace whole arrays (phones and e-mails share one array), so the
        connector reads the record, applies the change and replaces it; If-Match carries the
        caller's ETag (or the one just read), so a change made in between is a conflict.
        """
        current = self.fetch_one(data_type, dms_id, timeout=timeout)
        if current is None:
            response = self.transport.request(
                "PUT",
                self._path(data_type, dms_id),
                json_body=to_star(data_type, {**fields, "dms_id": dms_id}, meta=False),
                headers={"If-Match": etag} if etag else {},
                timeout=timeout,
            )
            return self._record_response(data_type, response)
        merged = {**current.to_dict(), **{k: json_ready(v) for k, v in fields.items()}}
        body = to_star(data_type, merged, meta=False)
        response = self.transport.request(
            "PUT",
            self._path(data_type, dms_id),
            json_body=body,
            headers={"If-Match": etag or current.etag or "*"},
            params=self._params(for_appointment),
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
        """POST the STAR resource (see :meth:`_create`)."""
        return self._create(data_type, fields, idempotency_key, timeout, for_appointment)

    def _send_update(
        self,
        data_type: str,
        dms_id: str,
        fields: Mapping[str, Any],
        etag: str | None,
        for_appointment: bool,
        timeout: float | None,
    ) -> Any:
        """PUT the whole resource with If-Match (see :meth:`_replace`)."""
        return self._replace(data_type, dms_id, fields, etag, timeout, for_appointment)

    def _send_cancel(self, dms_id: str, etag: str | None, timeout: float | None) -> Appointment:
        """``POST /service-appointments/{key}:cancel``."""
        response = self.transport.request(
            "POST",
            self._path(APPOINTMENTS, dms_id, ":cancel"),
            headers={"If-Match": etag} if etag else {},
            timeout=timeout,
        )
        return self._record_response(APPOINTMENTS, response)

    # ---- lookups and exports (not in the published documents: STAR guideline style)
    def _send_reservation(self, idempotency_key: str, timeout: float | None) -> str:
        """``POST /repair-order-number-reservations``."""
        response = self.transport.request(
            "POST",
            "/repair-order-number-reservations",
            json_body={},
            headers={"Idempotency-Key": idempotency_key},
            timeout=timeout,
        )
        data = self.transport._json(response, "RO number reservation")
        if not isinstance(data, dict) or not data.get("repair_order_number"):
            raise MalformedResponseError("RO number reservation has no repair_order_number")
        return str(data["repair_order_number"])

    def _send_payment(self, payment: Mapping[str, Any], idempotency_key: str, timeout: float | None) -> Payment:
        """``POST /payments``."""
        body = {k: json_ready(v) for k, v in payment.items()}
        response = self.transport.request(
            "POST", self._path(PAYMENTS), json_body=body, headers={"Idempotency-Key": idempotency_key}, timeout=timeout
        )
        return self._record_response(PAYMENTS, response)

    def _send_related(self, ro_number: str, timeout: float | None) -> list[str]:
        """``GET /repair-orders/{key}/related-repair-orders``."""
        data = self.transport.get_json(
            self._path(REPAIR_ORDERS, ro_number, "/related-repair-orders"), timeout=timeout, what="related RO list"
        )
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError("related RO list is malformed")
        return [
            str(item.get("repair_order_id") or item.get("repair_order_key")) for item in items if isinstance(item, dict)
        ]
