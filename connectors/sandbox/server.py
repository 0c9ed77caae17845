"""The sandbox DMS HTTP server (standard library ``http.server``, threaded, keep-alive).

DMS API (STAR REST style; every ``/v1`` call needs ``Authorization: Bearer <token>``):

``POST /oauth/token``                        ``{"account", "api_key"}`` -> ``{"access_token", "expires_in"}``
``GET  /v1/{account}/{type}?cursor=&modified_since=&limit=``   changes, oldest first:
                                             ``{"items": [...], "next_cursor", "has_more"}``
``GET  /v1/{account}/{type}/_ids?after=&limit=``   ids in id order: ``{"ids": [...], "next"}``
``GET  /v1/{account}/{type}/_search?q=&limit=``    customers / vehicles lookup
``GET  /v1/{account}/{type}/{id}``           one record, with an ``ETag`` header
``POST /v1/{account}/{customers|vehicles|appointments}``   create; ``Idempotency-Key`` required
``PATCH /v1/{account}/{type}/{id}``          update; ``If-Match`` checked when sent
``POST /v1/{account}/appointments/{id}/cancel``
``POST /v1/{account}/repair_orders/_reserve``      reserve an RO number (``Idempotency-Key``)
``GET  /v1/{account}/repair_orders/{number}/related``   Karmak alternate/related RO numbers
``POST /v1/{account}/payments``              export a receipt (``Idempotency-Key``)

Errors are RFC 7807 ``application/problem+json`` with ``code`` = the vendor's error code.
Every ``/v1`` answer carries ``RateLimit-Limit/Remaining/Reset``; over the limit -> 429 +
``Retry-After``. The control API (``/_control/...``, no auth, loopback use only) is
documented on :meth:`SandboxHandler.route_control`.

Webhook signature scheme (change notifications for "Auto" vendors): the body is JSON
``{"event_id", "account", "vendor", "data_type", "dms_ids", "sent_at"}``; headers
``X-DMS-Event-Id``, ``X-DMS-Timestamp`` (Unix seconds) and
``X-DMS-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>``.
See :mod:`connectors.webhooks` for the verifier.
"""
from __future__ import annotations

import csv
import importlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..base import DATA_TYPES, format_datetime
from ..vendors import VendorProfile, get_profile
from ..webhooks import sign
from . import generate
from .operations import (CUSTOMER_FIELDS, VEHICLE_FIELDS, Operations, Problem, fingerprint,
                         search_text, vendor_code)
from .store import Store, decode_cursor, encode_cursor

EXTRACT_COLUMNS = {
    "customers": ("dms_id", "modified_at") + CUSTOMER_FIELDS,
    "vehicles": ("dms_id", "modified_at") + VEHICLE_FIELDS,
}
#: Protocol front ends besides the console dialect served here: URL prefix -> module.
FRONT_ENDS = {"star": "connectors.sandbox.star_api", "opentrack": "connectors.sandbox.opentrack_api"}


class SandboxState:
    """Everything the server holds besides the database: tokens, faults, rate windows."""

    def __init__(self, store: Store, data_dir: Path, token_ttl: float, rate_limit: int, rate_window: float) -> None:
        self.store = store
        self.data_dir = data_dir
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.lock = threading.Lock()
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
    """Routes one request; ``self.server.state`` is the shared :class:`SandboxState`."""

    protocol_version = "HTTP/1.1"
    server_version = "SandboxDMS/1.0"
    # Headers and body leave in separate writes; without TCP_NODELAY, Nagle + delayed ACK
    # would add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    wbufsize = 1 << 16  # buffer headers + body; handle_one_request flushes after each response

    # quiet by default: tests and benchmarks make thousands of requests
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Log only when the server was started with ``--verbose``."""
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # ---- plumbing
    @property
    def state(self) -> SandboxState:
        """Shared server state."""
        return self.server.state  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        """Dispatch a GET."""
        self.dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        """Dispatch a POST."""
        self.dispatch("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        """Dispatch a PATCH."""
        self.dispatch("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        """Dispatch a PUT."""
        self.dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        """Dispatch a DELETE."""
        self.dispatch("DELETE")

    def read_body(self) -> bytes:
        """The raw request body (always read, so keep-alive connections stay in sync)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def json_body(self) -> dict[str, Any]:
        """The request body parsed as a JSON object (400 if it is not one)."""
        raw = self._raw_body
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise Problem(400, "BAD-REQUEST", "request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise Problem(400, "BAD-REQUEST", "request body must be a JSON object")
        return data

    def send(self, status: int, body: bytes | str, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> None:
        """Write a complete response with Content-Length (keep-alive friendly)."""
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**self._extra_headers, **(headers or {})}.items():
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
        body = {"type": f"https://sandbox-dms.invalid/problems/{code.lower()}",
                "title": entry.title if entry else code, "status": problem.status, "detail": problem.detail,
                "code": code, "instance": self.path}
        if entry:
            body["fix_hint"] = entry.fix_hint
        self.send(problem.status, json.dumps(body), "application/problem+json", problem.headers)

    def dispatch(self, method: str) -> None:
        """Parse the URL, run the matching route and turn Problems into problem+json."""
        # One handler instance serves every request of a keep-alive connection: reset per request.
        self._extra_headers: dict[str, str] = {}
        self._bad_record = False
        self._control_profile: VendorProfile | None = None
        self._raw_body = self.read_body()
        split = urlsplit(self.path)
        parts = [unquote(p) for p in split.path.strip("/").split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        profile = None
        try:
            if parts[:1] == ["_control"]:
                self.route_control(method, parts[1:], query)
            elif parts == ["oauth", "token"] and method == "POST":
                self.issue_token()
            elif parts[:1] == ["v1"] and len(parts) >= 3:
                account = self.authenticate(parts[1])  # only console-dialect accounts hold tokens from here
                profile = get_profile(account["vendor"])
                self.apply_rate_limit_and_faults(account, profile)
                self.route_api(method, account, profile, parts[2:], query)
            elif parts[:1] and parts[0] in FRONT_ENDS:
                importlib.import_module(FRONT_ENDS[parts[0]]).route(self, method, parts[1:], query)
            else:
                raise Problem(404, "NOT-FOUND", f"no route for {method} {split.path}")
        except Problem as problem:
            self.send_problem(problem, profile or self._control_profile)
        except _Answered:
            pass
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as error:  # a sandbox bug must still answer like a DMS would: 500
            self.log_error("internal error: %r", error)
            self.send_problem(Problem(500, "SERVER-ERROR", f"sandbox internal error: {error!r}"), profile)

    # ---- auth, limits, faults
    def issue_token(self) -> None:
        """Exchange an account's API key for a bearer token that expires (console dialect)."""
        data = self.json_body()
        code = str(data.get("account", ""))
        account = self.state.ops.check_secret(code, str(data.get("api_key", "")))
        if account is None or account["settings"].get("protocol", "console") != "console":
            known = self.state.store.account(code)
            profile = get_profile(known["vendor"]) if known else None
            self.send_problem(Problem(401, "AUTH-FAILED", "unknown account or wrong API key"), profile)
            return
        token, ttl = self.state.ops.issue_token(account)
        self.send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl})

    def authenticate(self, code: str) -> dict[str, Any]:
        """Check the bearer token belongs to ``code`` and has not expired."""
        account = self.state.store.account(code)
        profile = get_profile(account["vendor"]) if account else None
        header = self.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        try:
            if account is None:
                raise Problem(401, "AUTH-FAILED", "missing or invalid bearer token for this account",
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            self.state.ops.check_token(code, token)
        except Problem as problem:
            if profile is None:
                raise
            self.send_problem(problem, profile)
            raise _Answered() from None
        return account

    def apply_rate_limit_and_faults(self, account: dict[str, Any], profile: VendorProfile) -> None:
        """Add RateLimit headers, answer 429 over the limit, and play any injected fault."""
        headers, fault = self.state.ops.admit(account)
        self._extra_headers.update(headers)
        if fault is None:
            return
        if fault["kind"] == "malformed":
            self.send(200, b'{"items": [{"dms_id": "C00', headers={"X-Injected-Fault": "malformed"})
            raise _Answered()
        self._bad_record = True

    # ---- DMS API
    def route_api(self, method: str, account: dict[str, Any], profile: VendorProfile, parts: list[str],
                  query: dict[str, str]) -> None:
        """Serve the console dialect for one account (the work is done by :class:`Operations`)."""
        data_type, rest = parts[0], parts[1:]
        ops = self.state.ops
        for_appointment = query.get("for_appointment") in ("1", "true")
        if data_type == "repair_orders" and rest == ["_reserve"] and method == "POST":
            number, _ = ops.reserve_ro_number(account, profile,
                                              idempotency_key=self.headers.get("Idempotency-Key", "").strip())
            return self.send(201, json.dumps({"ro_number": number}))
        if data_type == "repair_orders" and len(rest) == 2 and rest[1] == "related" and method == "GET":
            return self.send_json(200, {"ro_number": rest[0], "related_ro_numbers": ops.related(account, profile,
                                                                                                rest[0])})
        if data_type == "payments" and not rest and method == "POST":
            data = self.json_body()
            status, body, replayed = ops.export_payment(
                account, profile, data, idempotency_key=self.headers.get("Idempotency-Key", "").strip(),
                request_hash=fingerprint(self.path.split("?")[0], data))
            return self.send(status, json.dumps(body), headers={"Idempotent-Replayed": "true"} if replayed else None)
        if data_type not in DATA_TYPES:
            raise Problem(404, "NOT-FOUND", f"unknown data type {data_type}")
        if method == "GET" and not rest:
            return self.list_changes(account, profile, data_type, query)
        if method == "GET" and rest == ["_ids"]:
            limit = min(int(query.get("limit", 5000)), 50000)
            ids = ops.ids(account, data_type, query.get("after", ""), limit)
            return self.send_json(200, {"ids": ids, "next": ids[-1] if len(ids) == limit else None})
        if method == "GET" and rest == ["_search"] and data_type in ("customers", "vehicles"):
            bodies = ops.search_texts(account, data_type, query.get("q", ""), int(query.get("limit", 25)))
            return self.send(200, '{"items":[' + ",".join(bodies) + "]}")
        if method == "GET" and len(rest) == 1:
            body = ops.get(account, data_type, rest[0])
            return self.send_json(200, body, {"ETag": body["etag"]})
        if data_type in ("customers", "vehicles", "appointments"):
            if method == "POST" and not rest:
                data = self.json_body()
                status, body, replayed = ops.create(
                    account, profile, data_type, data,
                    idempotency_key=self.headers.get("Idempotency-Key", "").strip(),
                    request_hash=fingerprint(self.path.split("?")[0], data), for_appointment=for_appointment)
                headers = {"ETag": body["etag"], "Location": f"/v1/{account['code']}/{data_type}/{body['dms_id']}"}
                if replayed:
                    headers["Idempotent-Replayed"] = "true"
                return self.send(status, json.dumps(body), headers=headers)
            if method == "PATCH" and len(rest) == 1:
                body = ops.update(account, profile, data_type, rest[0], self.json_body(),
                                  if_match=self.headers.get("If-Match"), for_appointment=for_appointment)
                return self.send_json(200, body, {"ETag": body["etag"]})
            if data_type == "appointments" and method == "POST" and len(rest) == 2 and rest[1] == "cancel":
                body = ops.update(account, profile, data_type, rest[0], {}, if_match=self.headers.get("If-Match"),
                                  cancel=True)
                return self.send_json(200, body, {"ETag": body["etag"]})
        raise Problem(405, "BAD-REQUEST", f"{method} not allowed here")

    def list_changes(self, account: dict[str, Any], profile: VendorProfile, data_type: str,
                     query: dict[str, str]) -> None:
        """A page of changes after the cursor (or modified at/after ``modified_since``, inclusive)."""
        try:
            after, since = decode_cursor(query["cursor"]) if query.get("cursor") else (0, None)
            if query.get("modified_since"):
                since = decode_cursor("since:" + query["modified_since"])[1]
            limit = int(query.get("limit", 500))
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "BAD-REQUEST", "unreadable cursor, modified_since or limit") from None
        bodies, last, has_more = self.state.ops.page_texts(account, profile, data_type, after, since, limit)
        if getattr(self, "_bad_record", False) and bodies:
            record = json.loads(bodies[len(bodies) // 2])
            record.pop("modified_at", None)
            bodies[len(bodies) // 2] = json.dumps(record)
        if bodies or not since:
            next_cursor = encode_cursor(last)
        else:
            next_cursor = query.get("cursor") or "since:" + since  # nothing yet: keep the caller's window
        self.send(200, '{"items":[' + ",".join(bodies) + '],"next_cursor":' + json.dumps(next_cursor)
                  + ',"has_more":' + ("true" if has_more else "false") + "}")

    # ---- control API
    def route_control(self, method: str, parts: list[str], query: dict[str, str]) -> None:
        """Control API for tests and demos (no auth; bind the sandbox to loopback).

        ``GET /_control/health``; ``GET /_control/accounts``;
        ``POST /_control/faults`` ``{"kind": 500|503|hang|429|malformed|bad_record|expired_token,
        "count": 1, "account": null, "retry_after": 7, "hang_seconds": 3}``; ``DELETE /_control/faults``;
        ``GET|PUT /_control/accounts/{a}/settings`` (``require_address``, ``require_email``,
        ``webhook_url``, ``webhook_secret``); ``GET /_control/accounts/{a}/created``;
        ``GET /_control/accounts/{a}/token_requests``; ``GET /_control/accounts/{a}/advisors``;
        ``GET|PATCH|DELETE /_control/accounts/{a}/records/{type}/{id}`` (staff edits in the DMS);
        ``POST /_control/accounts/{a}/appointments/{id}/lock|unlock``;
        ``POST /_control/accounts/{a}/webhooks/send`` ``{"data_type"?, "dms_ids"?}``;
        ``POST /_control/accounts/{a}/extract`` ``{"data_type": "customers", "directory"?}``.
        """
        state, store = self.state, self.state.store
        if parts == ["health"]:
            return self.send_json(200, {"status": "ok"})
        if parts == ["accounts"] and method == "GET":
            return self.send_json(200, [{k: v for k, v in a.items()} for a in store.accounts().values()])
        if parts == ["faults"]:
            if method == "DELETE":
                with state.lock:
                    state.faults.clear()
                return self.send_json(200, {"faults": 0})
            data = self.json_body()
            fault = {"kind": str(data.get("kind")), "remaining": int(data.get("count", 1)),
                     "account": data.get("account"), "retry_after": data.get("retry_after", 7),
                     "hang_seconds": data.get("hang_seconds", 3.0)}
            with state.lock:
                state.faults.append(fault)
            return self.send_json(201, fault)
        if len(parts) < 3 or parts[0] != "accounts":
            raise Problem(404, "NOT-FOUND", "unknown control route")
        code, action, rest = parts[1], parts[2], parts[3:]
        account = store.account(code)
        if account is None:
            raise Problem(404, "NOT-FOUND", f"no account {code}")
        profile = self._control_profile = get_profile(account["vendor"])
        if action == "settings":
            if method == "GET":
                return self.send_json(200, {**profile.default_options, **account["settings"]})
            return self.send_json(200, store.update_settings(code, self.json_body()))
        if action == "created":
            return self.send_json(200, store.created_counts(code))
        if action == "token_requests":
            return self.send_json(200, {"count": state.token_requests.get(code, 0)})
        if action == "advisors":
            return self.send_json(200, [{"dms_id": i, "name": n} for i, n in generate.ADVISORS])
        if action == "records" and len(rest) == 2:
            data_type, dms_id = rest
            current = store.get(code, data_type, dms_id)
            if current is None:
                raise Problem(404, "NOT-FOUND", f"{data_type} {dms_id} not found")
            if method == "GET":
                return self.send_json(200, current)
            if method == "DELETE":
                store.delete(code, data_type, dms_id)
                return self.send_json(200, {"deleted": dms_id})
            return self.send_json(200, self.staff_edit(code, data_type, current, self.json_body()))
        if action == "appointments" and len(rest) == 2 and rest[1] in ("lock", "unlock"):
            current = store.get(code, "appointments", rest[0])
            if current is None:
                raise Problem(404, "NOT-FOUND", f"appointment {rest[0]} not found")
            return self.send_json(200, self.staff_edit(code, "appointments", current, {"locked": rest[1] == "lock"}))
        if action == "webhooks" and rest == ["send"]:
            return self.send_json(200, self.send_webhooks(account, profile, self.json_body()))
        if action == "extract":
            return self.send_json(201, self.write_extract(account, profile, self.json_body()))
        raise Problem(404, "NOT-FOUND", "unknown control route")

    def staff_edit(self, code: str, data_type: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """Apply an edit as dealership staff would in the DMS (no rules, new ETag)."""
        fields = {k: v for k, v in current.items() if k not in ("dms_id", "modified_at", "etag")}
        fields.update(changes)
        ref = fields.get("alternate_of") if data_type == "repair_orders" else None
        return self.state.store.put(code, data_type, current["dms_id"], fields,
                                    search=search_text(data_type, current["dms_id"], fields), ref=ref)

    def send_webhooks(self, account: dict[str, Any], profile: VendorProfile,
                      data: dict[str, Any]) -> list[dict[str, Any]]:
        """POST signed change notifications to the account's ``webhook_url`` (Auto vendors only)."""
        if not profile.pushes_changes:
            raise Problem(409, "NOT-SUPPORTED", f"{profile.display_name} does not push changes")
        settings = account["settings"]
        url = data.get("url") or settings.get("webhook_url")
        secret = data.get("secret") or settings.get("webhook_secret")
        if not url or not secret:
            raise Problem(400, "BAD-REQUEST", "configure webhook_url and webhook_secret first")
        pushed = [t for t, mode in profile.pull.items() if mode.kind == "dms_push"]
        types = [data["data_type"]] if data.get("data_type") else pushed
        deliveries = []
        for data_type in types:
            if data.get("dms_ids") is not None:
                ids = list(data["dms_ids"])
            else:
                # "changes since the last webhook": the first send covers everything.
                ids, high = self.state.store.all_since(account["code"], data_type,
                                                       self.state.webhook_seq.get((account["code"], data_type), 0))
                self.state.webhook_seq[(account["code"], data_type)] = high
            if not ids:
                continue
            event_id = str(uuid.uuid4())
            body = json.dumps({"event_id": event_id, "account": account["code"], "vendor": profile.code,
                               "data_type": data_type, "dms_ids": ids,
                               "sent_at": format_datetime(datetime.now(timezone.utc))}).encode()
            timestamp = str(int(time.time()))
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "X-DMS-Event-Id": event_id, "X-DMS-Timestamp": timestamp,
                "X-DMS-Signature": sign(secret, timestamp, body)})
            try:
                with urllib.request.urlopen(request, timeout=float(data.get("timeout", 5))) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError as error:
                status = 0
                deliveries.append({"data_type": data_type, "event_id": event_id, "status": status,
                                   "error": str(error), "count": len(ids)})
                continue
            deliveries.append({"data_type": data_type, "event_id": event_id, "status": status, "count": len(ids)})
        return deliveries

    def write_extract(self, account: dict[str, Any], profile: VendorProfile, data: dict[str, Any]) -> dict[str, Any]:
        """Write a daily-extract CSV (UTF-8 with BOM, quoted) into the drop folder."""
        if not profile.daily_data_file:
            raise Problem(409, "NOT-SUPPORTED", f"{profile.display_name} does not deliver a daily data file")
        data_type = data.get("data_type", "customers")
        if data_type not in EXTRACT_COLUMNS:
            raise Problem(400, "BAD-REQUEST", f"no daily extract for {data_type}")
        directory = Path(data.get("directory") or self.state.data_dir / "extracts" / account["code"])
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")
        path = directory / f"{data_type}_{stamp}.csv"
        columns = EXTRACT_COLUMNS[data_type]
        rows = 0
        tmp = path.with_suffix(".tmp")
        # Written under a temporary name, then renamed: a reader never sees half a file.
        with open(tmp, "w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
            writer.writerow(columns)
            for body in self.state.store.iter_bodies(account["code"], data_type):
                writer.writerow(["|".join(body.get(c) or []) if c in ("phones", "emails")
                                 else ("" if body.get(c) is None else body.get(c)) for c in columns])
                rows += 1
        tmp.replace(path)
        return {"path": str(path), "rows": rows}


class _Answered(Exception):
    """Raised after a response was already written (replay, malformed fault, auth problem)."""


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
        import sys
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
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
        raise ValueError(f"{profile.display_name} does not offer the {protocol} protocol")
    return protocol or profile.protocols[0]


def build_server(host: str, port: int, data_dir: Path | str, accounts: list[tuple],
                 seed: int = 42, token_ttl: float = 3600.0, rate_limit: int = 100000, rate_window: float = 60.0,
                 api_keys: dict[str, str] | None = None, verbose: bool = False) -> SandboxServer:
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
