"""The sandbox DMS's HTTP server (standard library ``http.server``, threaded, keep-alive).

This module is the plumbing: it reads a request, hands it to the front end that owns the
URL's first segment, and writes the answer. What each front end serves:

=====================  ================================  ==========================================
URL                    front end                         for
=====================  ================================  ==========================================
``/oauth``, ``/v1``    :mod:`.console_api`               the console's own REST dialect
``/star``              :mod:`.star_api`                  STAR REST
``/opentrack``         :mod:`.opentrack_api`             Dealertrack OpenTrack SOAP
``/_control``          :mod:`.control_api`               tests and the demo (no auth: loopback only)
=====================  ================================  ==========================================

Every front end parses its wire format into canonical field dicts and calls
:class:`~.operations.Operations`, the protocol-neutral DMS. What the DMS sends on its own
(signed change webhooks, daily extract files) is in :mod:`.outbound`.

A :class:`~.operations.Problem` raised by the console or control front end becomes an RFC 7807
``application/problem+json`` answer with the vendor's code (:meth:`SandboxHandler.send_problem`);
STAR and OpenTrack render theirs in their own formats.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..vendors import VendorProfile, get_profile
from . import console_api, control_api, opentrack_api, star_api
from .operations import Operations, Problem, vendor_code
from .store import Store

#: First URL segment -> the front end serving it: ``route(handler, method, parts after it, query)``.
FRONT_ENDS: dict[str, Callable[[Any, str, list[str], dict[str, str]], None]] = {
    "oauth": console_api.route_token,
    "v1": console_api.route,
    "star": star_api.route,
    "opentrack": opentrack_api.route,
    "_control": control_api.route,
}


class SandboxState:
    """Everything the server holds besides the database: tokens, faults, rate windows."""

    def __init__(self, store: Store, data_dir: Path, token_ttl: float, rate_limit: int, rate_window: float) -> None:
        self.store = store
        self.data_dir = data_dir
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # set when the server stops: a hung request ends at once
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (account, expires_at)
        self.faults: list[dict[str, Any]] = []  # queue of {"kind", "remaining", "account", ...}
        self.windows: dict[str, tuple[float, int]] = {}  # account -> (window start, used)
        self.token_requests: dict[str, int] = {}
        self.webhook_seq: dict[tuple[str, str], int] = {}
        self.ops = Operations(self)

    def take_fault(self, account: str) -> dict[str, Any] | None:
        """Pop one use of the first fault that applies to ``account`` (None when no fault is armed)."""
        with self.lock:
            for fault in self.faults:
                if fault["account"] in (None, account):
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def rate(self, account: str) -> tuple[int, int, int]:
        """Count one request; returns ``(limit, remaining, reset seconds)``; remaining < 0 = over."""
        with self.lock:
            now = time.monotonic()
            start, used = self.windows.get(account, (now, 0))
            if now - start >= self.rate_window:
                start, used = now, 0
            used += 1
            self.windows[account] = (start, used)
            return self.rate_limit, self.rate_limit - used, max(1, int(self.rate_window - (now - start) + 0.999))


class SandboxHandler(BaseHTTPRequestHandler):
    """Reads one request, routes it to its front end and writes the answer.

    What front ends use: :attr:`state`, :attr:`raw_body`, :attr:`extra_headers` (sent with
    every answer, e.g. RateLimit), :attr:`profile` (the vendor whose codes a Problem is
    answered with), :meth:`json_body`, :meth:`send`, :meth:`send_json` and :meth:`send_problem`.
    """

    protocol_version = "HTTP/1.1"
    server_version = "SandboxDMS/1.0"
    # Headers and body leave in separate writes; without TCP_NODELAY, Nagle + delayed ACK
    # would hold every keep-alive answer back by the peer's delayed-ACK timer.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # buffer headers + body; handle_one_request flushes after each response

    def log_message(self, format: str, *args: Any) -> None:
        """Log only when the server was started with ``--verbose`` (tests make thousands of requests)."""
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    @property
    def state(self) -> SandboxState:
        """Shared server state."""
        return self.server.state  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self.dispatch("GET")

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self.dispatch("POST")

    def do_PATCH(self) -> None:
        """Dispatch a PATCH."""
        self.dispatch("PATCH")

    def do_PUT(self) -> None:
        """Dispatch a PUT."""
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self.dispatch("DELETE")

    def json_body(self) -> dict[str, Any]:
        """The request body parsed as a JSON object (400 if it is not one)."""
        if not self.raw_body:
            return {}
        try:
            data = json.loads(self.raw_body)
        except ValueError:
            raise Problem(400, "BAD-REQUEST", "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Problem(400, "BAD-REQUEST", "request body must be a JSON object")
        return data

    def send(
        self,
        status: int,
        body: bytes | str,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Write a complete response with Content-Length (keep-alive friendly)."""
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        """Write a JSON response."""
        self.send(status, json.dumps(data, separators=(",", ":")), headers=headers)

    def send_problem(self, problem: Problem, profile: VendorProfile | None) -> None:
        """Write an RFC 7807 problem with the vendor's code, title and fix hint."""
        code = vendor_code(problem, profile)
        entry = profile.entry(code) if profile is not None else None
        body = {
            "type": f"https://sandbox-dms.invalid/problems/{code.lower()}",
            "title": entry.title if entry else code,
            "status": problem.status,
            "detail": problem.detail,
            "code": code,
            "instance": self.path,
        }
        if entry:
            body["fix_hint"] = entry.fix_hint
        self.send(problem.status, json.dumps(body), "application/problem+json", problem.headers)

    def dispatch(self, method: str) -> None:
        """Parse the URL, run its front end and turn Problems into problem+json."""
        # One handler instance serves every request of a keep-alive connection: reset per request.
        self.extra_headers: dict[str, str] = {}
        self.profile: VendorProfile | None = None
        length = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(length) if length else b""  # always read: keep-alive stays in sync
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            front_end = FRONT_ENDS.get(parts[0]) if parts else None
            if front_end is None:
                raise Problem(404, "NOT-FOUND", f"no route for {method} {split.path}")
            front_end(self, method, parts[1:], query)
        except Problem as problem:
            self.send_problem(problem, self.profile)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as error:  # a sandbox bug must still answer like a DMS would: 500
            self.log_error("internal error: %r", error)
            self.send_problem(Problem(500, "SERVER-ERROR", f"sandbox internal error: {error!r}"), self.profile)


class SandboxServer(ThreadingHTTPServer):
    """The threaded HTTP server holding the :class:`SandboxState`."""

    daemon_threads = True  # a hanging fault must never block shutdown
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: SandboxState, verbose: bool = False) -> None:
        super().__init__(address, SandboxHandler)
        self.state = state
        self.verbose = verbose

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that hang up (timeouts in tests); report anything else."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        """``http://host:port`` of this server."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def account_protocol(vendor: str, protocol: str | None = None) -> str:
    """The protocol a sandbox account speaks: ``protocol`` if its vendor offers it, else the vendor's default."""
    profile = get_profile(vendor)
    if protocol and protocol not in profile.protocols:
        raise ValueError(profile.refusal_text(f"does not offer the {protocol} protocol"))
    return protocol or profile.protocols[0]


def build_server(
    host: str,
    port: int,
    data_dir: Path | str,
    accounts: list[tuple],
    seed: int = 42,
    token_ttl: float = 3600.0,
    rate_limit: int = 100000,
    rate_window: float = 60.0,
    api_keys: dict[str, str] | None = None,
    verbose: bool = False,
) -> SandboxServer:
    """Create (not start) a sandbox server with ``accounts`` = [(code, vendor, customers[, protocol])].

    Each account's secret (console API key, STAR client secret, OpenTrack password) is
    ``sandbox-key-<code>`` unless ``api_keys`` says otherwise; its protocol defaults to the
    vendor's first (:attr:`VendorProfile.protocols`).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "sandbox.sqlite3")
    for code, vendor, customers, *rest in accounts:
        protocol = account_protocol(vendor, rest[0] if rest else None)
        if customers > 1_000_000:
            raise ValueError("the sandbox generates at most 1,000,000 customers per account")
        store.ensure_account(code, vendor, customers, seed, (api_keys or {}).get(code, f"sandbox-key-{code}"))
        store.update_settings(code, {"protocol": protocol})
    state = SandboxState(store, data_dir, token_ttl, rate_limit, rate_window)
    return SandboxServer((host, port), state, verbose)
