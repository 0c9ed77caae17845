"""HTTP transport for REST/JSON DMS APIs (httpx, connection reuse, bearer tokens).

:class:`HttpTransport` owns one ``httpx.Client`` (a keep-alive connection pool) per
connector, gets a bearer token from the account's API key, renews it shortly before it
expires and once more when the DMS says it expired, and turns every failure into a
:mod:`connectors.base` error:

==========================================  ==========================================
timeout, connection refused/reset, 5xx       :class:`TransientDmsError`
429                                          :class:`TransientDmsError` with ``retry_after``
401 (after one token renewal), 403           :class:`AuthenticationError`
404                                          :class:`DmsValidationError` (``*-NOT-FOUND``)
409 locked / 412 ETag mismatch               :class:`ConflictError`
400 / 409 other / 422                        :class:`DmsValidationError` (catalogue entry)
501                                          :class:`NotSupportedError`
a body that is not the JSON expected         :class:`MalformedResponseError`
==========================================  ==========================================
"""

from __future__ import annotations

import email.utils
import functools
import json
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx
import orjson

from .base import (
    AuthenticationError,
    CatalogueEntry,
    ConflictError,
    DmsError,
    DmsValidationError,
    MalformedResponseError,
    NotSupportedError,
    TransientDmsError,
)

# Renew a token this many seconds before the DMS says it expires, so a request never
# starts with a token that dies in flight.
TOKEN_MARGIN = 30.0


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After given as delay seconds or as an HTTP date (RFC 9110 10.2.3), in seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class Answer:
    """A finished HTTP answer: status, headers and the whole body.

    The body is read through the streaming API and the httpx response closed at once:
    httpx responses sit in reference cycles, and a buffered one would keep its page of
    JSON alive until the garbage collector's next full pass - memory that grows with the
    size of a pull instead of staying flat.
    """

    status_code: int
    headers: httpx.Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (lossy)."""
        return self.content.decode("utf-8", "replace")


class ReadAhead:
    """Fetches a read's next page in a background thread while the caller turns this one into records.

    Client and DMS then work at the same time instead of taking turns (a page's parse and
    validation costs about as long as the DMS takes to serve the next one). One request at
    a time is in flight; errors surface, in order, from :meth:`Future.result`. Use it as a
    context manager: leaving early abandons a fetch still under way instead of waiting for it.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dms-read-ahead")

    def fetch(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        """Start ``function(*args, **kwargs)`` in the background."""
        return self._pool.submit(function, *args, **kwargs)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle is slow, and a connector
    is opened for every pull, push and live DMS lookup."""
    return ssl.create_default_context(cafile=certifi.where())


# A run of 19 digits may be an integer beyond 64 bits (-9223372036854775809), which orjson
# reads as a float: such a run is found by mapping every digit to "0" and looking for
# nineteen of them (cheaper than a regular expression retried at every digit).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def loads_exact(body: bytes) -> Any:
    """Parse JSON exactly as the standard library does, with orjson (several times faster)
    where that is the same.

    orjson reads integers beyond 64 bits as floats and refuses what the standard library
    takes (lone surrogates, NaN): those bodies, and any with a run of 19 digits, go through
    the standard library, so a DMS value is never rounded or refused by the choice of parser."""
    if _LONG_DIGITS not in body.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


def preload() -> None:
    """Pay once what a process's first connector pays: loading the CA bundle and importing
    httpx's transport modules (httpx imports them on its first client).

    A forking worker calls this before it forks a work-horse per job, so every pull, push
    and lookup job inherits both instead of repeating them."""
    httpx.HTTPTransport(verify=_tls_context()).close()


class HttpTransport:
    """Authenticated JSON requests against one dealer account of a DMS API.

    ``profile`` (a :class:`connectors.vendors.VendorProfile`) turns vendor error codes into
    catalogue entries. ``timeout`` is the default per-request timeout in seconds.
    ``last_rate_limit`` holds the latest ``RateLimit-*`` headers seen (for health pages).
    """

    def __init__(
        self,
        base_url: str,
        account: str,
        api_key: str,
        profile: Any,
        timeout: float = 10.0,
        token_path: str = "/oauth/token",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account = account
        self.api_key = api_key
        self.profile = profile
        self.timeout = timeout
        self.token_path = token_path
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            verify=_tls_context(),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
        )
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.last_rate_limit: dict[str, str] = {}

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    # ---- tokens
    def _fetch_token(self, timeout: float | None) -> str:
        """Exchange the API key for a bearer token."""
        response = self._send(
            "POST",
            self.token_path,
            json_body={"account": self.account, "api_key": self.api_key},
            headers={},
            timeout=timeout,
        )
        if response.status_code in (400, 401, 403):
            raise AuthenticationError(
                "the DMS rejected the account code or API key",
                status=response.status_code,
                entry=self._entry_from(response),
            )
        if response.status_code >= 300:
            self._raise_for(response)
        return self._accept_token(self._json(response, "token response"))

    def _accept_token(self, data: Any) -> str:
        """Keep the bearer token of a token answer and when it expires (``expires_in``, default 5 minutes)."""
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise MalformedResponseError("token response has no access_token")
        self._token = str(token)
        self._token_expires = time.monotonic() + float(data.get("expires_in") or 300)
        return self._token

    def token(self, timeout: float | None = None, force: bool = False) -> str:
        """A valid bearer token, fetched or renewed when needed."""
        with self._token_lock:
            if force or self._token is None or time.monotonic() > self._token_expires - TOKEN_MARGIN:
                return self._fetch_token(timeout)
            return self._token

    # ---- requests
    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str],
        timeout: float | None,
    ) -> Answer:
        """Send one request; network failures become :class:`TransientDmsError`."""
        try:
            content = None if json_body is None else json.dumps(json_body).encode()
            all_headers = {**headers}
            if content is not None:
                all_headers["Content-Type"] = "application/json"
            request = self.client.build_request(
                method,
                path,
                params=params,
                content=content,
                headers=all_headers,
                timeout=self.timeout if timeout is None else timeout,
            )
            response = self.client.send(request, stream=True)
            try:
                body = b"".join(response.iter_bytes())
            finally:
                response.close()
            return Answer(response.status_code, response.headers, body)
        except httpx.TimeoutException as error:
            raise TransientDmsError(f"the DMS did not answer in time ({type(error).__name__})") from error
        except httpx.ConnectError as error:
            raise TransientDmsError(f"could not connect to the DMS: {error}") from error
        except httpx.TransportError as error:
            raise TransientDmsError(f"network error talking to the DMS: {error}") from error

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        allow_404: bool = False,
    ) -> Answer:
        """Send an authenticated request and return the 2xx response (or a 404 if ``allow_404``).

        An expired token is renewed once and the request repeated; this is safe for creates
        because the DMS refuses an unauthenticated request before doing anything.
        """
        for attempt in (1, 2):
            token = self.token(timeout, force=attempt == 2)
            response = self._send(
                method,
                path,
                params=params,
                json_body=json_body,
                headers={**(headers or {}), "Authorization": f"Bearer {token}"},
                timeout=timeout,
            )
            rate = {k: v for k, v in response.headers.items() if k.lower().startswith("ratelimit-")}
            if rate:
                self.last_rate_limit = rate
            if response.status_code == 401 and attempt == 1:
                continue
            if response.is_success or (allow_404 and response.status_code == 404):
                return response
            self._raise_for(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        what: str = "response",
        data_type: str | None = None,
    ) -> Any:
        """GET and parse JSON."""
        return self._json(self.request("GET", path, params=params, timeout=timeout), what, data_type)

    # ---- errors
    @staticmethod
    def _json(response: Answer, what: str, data_type: str | None = None) -> Any:
        """Parse a JSON body or raise :class:`MalformedResponseError` naming what it was (and its data type)."""
        try:
            return loads_exact(response.content)
        except ValueError as error:
            raise MalformedResponseError(
                f"the DMS sent an unreadable {what} (invalid JSON: {error})",
                status=response.status_code,
                data_type=data_type,
            ) from error

    def _entry_from(self, response: Answer) -> CatalogueEntry | None:
        """Catalogue entry for the vendor code of a problem+json body (None without a code)."""
        try:
            problem = json.loads(response.content)
        except ValueError:
            return None
        code = problem.get("code") if isinstance(problem, dict) else None
        return self.profile.entry(str(code)) if code else None

    def _raise_for(self, response: Answer) -> None:
        """Raise the :class:`DmsError` subclass matching an error response."""
        status = response.status_code
        entry = self._entry_from(response)
        try:
            detail = json.loads(response.content).get("detail") or ""
        except (ValueError, AttributeError):
            detail = response.text[:200]
        message = f"DMS answered {status}" + (f" {entry.code}" if entry else "") + (f": {detail}" if detail else "")
        code = entry.code if entry else ""
        if status == 501:
            raise NotSupportedError(message, status=status, entry=entry)
        if status == 429 or status >= 500:
            raise TransientDmsError(
                message,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                status=status,
                entry=entry,
            )
        if status in (401, 403):
            raise AuthenticationError(message, status=status, entry=entry)
        if status == 412 or (status == 409 and code.endswith("-LOCKED")):
            raise ConflictError(message, locked=code.endswith("-LOCKED"), status=status, entry=entry)
        if status == 409 and code.endswith("-ETAG-MISMATCH"):
            raise ConflictError(message, status=status, entry=entry)
        if status in (400, 404, 409, 422):
            raise DmsValidationError(message, status=status, entry=entry)
        raise DmsError(message, status=status, entry=entry)
