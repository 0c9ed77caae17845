"""What the sandbox DMS does, whatever wire protocol asked: the protocol-neutral operations.

Each protocol front end (:mod:`.console_api` for the console dialect, :mod:`.star_api` for
STAR REST, :mod:`.opentrack_api` for OpenTrack SOAP) parses its request into canonical field
dicts (the store's record bodies use the canonical field names of :mod:`connectors.records`),
calls one method here, and renders the canonical body it gets back - or the :class:`Problem`
it raises - in its own wire format.

A :class:`Problem` carries an HTTP status, the vendor's error code (a suffix such as
``LOCKED`` becomes ``CDK-LOCKED``; :func:`vendor_code` does that) and a detail text.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..base import APPOINTMENTS, CUSTOMERS, DATA_TYPES, KINDS, VEHICLES, format_datetime
from ..vendors import VendorProfile
from . import generate
from .search_text import search_text
from .store import decode_cursor, encode_cursor

if TYPE_CHECKING:  # pragma: no cover
    from .server import SandboxState

MAX_PAGE = 5000
#: The fields a create or update may carry, per data type: the canonical records' own fields
#: (:attr:`connectors.records.RecordKind.fields`), less an appointment's ``locked``, which
#: only staff in the DMS set (the control API's lock and unlock).
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    CUSTOMERS: KINDS[CUSTOMERS].fields,
    VEHICLES: KINDS[VEHICLES].fields,
    APPOINTMENTS: tuple(name for name in KINDS[APPOINTMENTS].fields if name != "locked"),
}


class Problem(Exception):
    """An error answer: HTTP status, vendor code suffix (or full code), detail and extra headers."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


def vendor_code(problem: Problem, profile: VendorProfile | None) -> str:
    """The full vendor error code of a problem (``LOCKED`` -> ``CDK-LOCKED``)."""
    if profile is not None and not problem.code.startswith(profile.code_prefix + "-"):
        return profile.code_for(problem.code)
    return problem.code


def _phone_like(term: str) -> bool:
    """True for a search term that is mostly digits (a phone number in any format)."""
    digits = sum(ch.isdigit() for ch in term)
    return digits >= 7 and digits >= len(term) - 4


def fingerprint(*parts: Any) -> str:
    """A stable hash of a request (an idempotency key replayed with another request is refused)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Operations:
    """The DMS behind every protocol: accounts, tokens, faults, reads and vendor-checked writes."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.store = state.store

    # ---- accounts and credentials
    def check_secret(self, code: str, secret: str) -> dict[str, Any] | None:
        """The account when ``secret`` is its key (API key, client secret or password), else None."""
        account = self.store.account(code)
        if account is None or not secrets.compare_digest(str(secret), account["api_key"]):
            return None
        return account

    def issue_token(self, account: dict[str, Any]) -> tuple[str, float]:
        """A new bearer token for ``account``: ``(token, lifetime in seconds)``."""
        token = secrets.token_urlsafe(24)
        state = self.state
        with state.lock:
            state.tokens[token] = (account["code"], time.time() + state.token_ttl)
            state.token_requests[account["code"]] = state.token_requests.get(account["code"], 0) + 1
        return token, state.token_ttl

    def check_token(self, code: str, token: str) -> None:
        """Raise ``AUTH-FAILED`` or ``TOKEN-EXPIRED`` unless ``token`` is a live token of ``code``."""
        with self.state.lock:
            owner = self.state.tokens.get(token)
        if owner is None or owner[0] != code:
            raise Problem(
                401,
                "AUTH-FAILED",
                "missing or invalid bearer token for this account",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if owner[1] < time.time():
            raise Problem(
                401,
                "TOKEN-EXPIRED",
                "bearer token expired",
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )

    # ---- limits and faults
    def admit(self, account: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any] | None]:
        """Count one request against the rate limit and take an armed fault.

        Returns ``(RateLimit headers, fault)``. Raises a Problem for 429 (over the limit or an
        injected 429), injected 500/503 and an injected token expiry; sleeps through a
        ``hang``. The ``malformed`` and ``bad_record`` faults are returned for the protocol
        to play in its own format (a truncated body; a record without its change time).
        """
        limit, remaining, reset = self.state.rate(account["code"])
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(remaining, 0)),
            "RateLimit-Reset": str(reset),
        }
        if remaining < 0:
            raise Problem(429, "RATE-LIMITED", "request limit reached", {"Retry-After": str(reset), **headers})
        fault = self.state.take_fault(account["code"])
        if fault is None:
            return headers, None
        kind = fault["kind"]
        if kind == "500":
            raise Problem(500, "SERVER-ERROR", "injected fault: internal error")
        if kind == "503":
            raise Problem(503, "SERVER-ERROR", "injected fault: service unavailable")
        if kind == "429":
            raise Problem(
                429, "RATE-LIMITED", "injected fault: rate limited", {"Retry-After": str(fault.get("retry_after", 7))}
            )
        if kind == "expired_token":
            raise Problem(
                401,
                "TOKEN-EXPIRED",
                "injected fault: bearer token expired",
                {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'},
            )
        if kind == "hang":
            if self.state.stopping.wait(float(fault.get("hang_seconds", 3.0))):
                raise Problem(503, "SERVER-ERROR", "the sandbox is stopping")
            return headers, None  # then answer normally: the client has long given up
        if kind in ("malformed", "bad_record"):
            return headers, fault
        raise Problem(500, "SERVER-ERROR", f"unknown injected fault {kind!r}")

    # ---- reads
    def changes(
        self,
        account: dict[str, Any],
        profile: VendorProfile,
        data_type: str,
        *,
        cursor: str | None = None,
        modified_since: str | None = None,
        limit: int = 500,
        bad_record: bool = False,
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """The next page of changes: ``(bodies, next cursor, has_more)``, oldest change first.

        ``cursor`` is the opaque cursor of the last page (or ``since:<ISO>``);
        ``modified_since`` (ISO-8601, inclusive) narrows the read. With ``bad_record`` the
        middle record of the page loses its ``modified_at`` (the ``bad_record`` fault).
        """
        self.check_pull(profile, data_type)
        try:
            after, since = decode_cursor(cursor) if cursor else (0, None)
            if modified_since:
                since = decode_cursor("since:" + modified_since)[1]
            limit = max(1, min(int(limit), MAX_PAGE))
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "BAD-REQUEST", "unreadable cursor, modified_since or limit") from None
        texts, last, has_more = self.store.page(account["code"], data_type, after, since, limit)
        bodies = [orjson.loads(text) for text in texts]  # the per-record cost is what limits a pull
        if bad_record and bodies:
            bodies[len(bodies) // 2].pop("modified_at", None)
        if bodies or not since:
            next_cursor = encode_cursor(last)
        else:
            next_cursor = cursor or "since:" + since  # nothing yet: keep the caller's window
        return bodies, next_cursor, has_more

    def page_texts(
        self, account: dict[str, Any], profile: VendorProfile, data_type: str, after: int, since: str | None, limit: int
    ) -> tuple[list[str], int, bool]:
        """Like :meth:`changes` but the stored JSON texts and the last seq (the console dialect's fast path)."""
        self.check_pull(profile, data_type)
        return self.store.page(account["code"], data_type, after, since, max(1, min(int(limit), MAX_PAGE)))

    def check_pull(self, profile: VendorProfile, data_type: str) -> None:
        """Refuse a data type the vendor does not deliver."""
        if data_type not in DATA_TYPES:
            raise Problem(404, "NOT-FOUND", f"unknown data type {data_type}")
        if not profile.can_pull(data_type):
            raise Problem(501, "NOT-SUPPORTED", profile.refusal_text(f"does not deliver {data_type}"))

    def ids(self, account: dict[str, Any], data_type: str, after: str = "", limit: int = 5000) -> list[str]:
        """DMS ids in id order after ``after``."""
        return self.store.ids(account["code"], data_type, after, min(int(limit), 50000))

    def search_texts(self, account: dict[str, Any], data_type: str, query: str, limit: int = 25) -> list[str]:
        """Stored JSON texts of the customers or vehicles matching every word of ``query`` (phones in any format)."""
        terms = [t for t in query.lower().replace("-", " ").split() if t]
        terms = ["".join(ch for ch in t if ch.isdigit()) if _phone_like(t) else t for t in terms]
        return self.store.search(account["code"], data_type, terms, min(int(limit), 200)) if terms else []

    def get(self, account: dict[str, Any], data_type: str, dms_id: str) -> dict[str, Any]:
        """One record (404 ``NOT-FOUND`` when the DMS has none)."""
        body = self.store.get(account["code"], data_type, dms_id)
        if body is None:
            raise Problem(404, "NOT-FOUND", f"{data_type} {dms_id} not found")
        return body

    def related(self, account: dict[str, Any], profile: VendorProfile, ro_number: str) -> list[str]:
        """Related (alternate) RO numbers of ``ro_number``."""
        if not profile.related_ros:
            raise Problem(501, "NOT-SUPPORTED", profile.refusal_text("has no related RO numbers"))
        if self.store.get(account["code"], "repair_orders", ro_number) is None:
            raise Problem(404, "NOT-FOUND", f"RO {ro_number} not found")
        return self.store.related(account["code"], ro_number)

    # ---- idempotency
    def _replay(self, account: dict[str, Any], key: str, request_hash: str) -> tuple[int, dict[str, Any]] | None:
        """The stored first answer of ``key`` (409 when it was used for another request)."""
        if not key:
            raise Problem(400, "BAD-REQUEST", "Idempotency-Key header is required on create")
        stored = self.store.idempotent_get(account["code"], key)
        if stored is None:
            return None
        if stored[0] != request_hash:
            raise Problem(409, "IDEMPOTENCY-MISMATCH", "Idempotency-Key was used with a different request")
        return stored[1], json.loads(stored[2])

    # ---- writes
    def create(
        self,
        account: dict[str, Any],
        profile: VendorProfile,
        data_type: str,
        data: dict[str, Any],
        *,
        idempotency_key: str,
        request_hash: str,
        for_appointment: bool = False,
    ) -> tuple[int, dict[str, Any], bool]:
        """Create a customer, vehicle or appointment under the vendor's rules.

        Returns ``(status, body, replayed)``; a replayed ``idempotency_key`` returns the first
        answer unchanged (``replayed`` True) and creates nothing.
        """
        store = self.store
        with store.lock:  # idempotency check and create are one atomic step
            replay = self._replay(account, idempotency_key, request_hash)
            if replay is not None:
                return replay[0], replay[1], True
            self.check_push_allowed(profile, data_type, for_appointment)
            code = account["code"]
            if data_type == "customers":
                fields = {
                    name: data.get(name, "" if name not in ("phones", "emails") else [])
                    for name in REQUEST_FIELDS[CUSTOMERS]
                }
                fields["kind"] = fields["kind"] or "person"
                self.raise_first(profile.validate_customer(fields, account["settings"]))
                dms_id = f"C9{store.last_seq + 1:08d}"
            elif data_type == "vehicles":
                fields = {name: data.get(name) for name in REQUEST_FIELDS[VEHICLES]}
                if not fields["vin"] and not fields["unit_number"]:
                    raise Problem(422, "REQUIRED-FIELD", "a vehicle needs a VIN or a unit number")
                dms_id = f"V9{store.last_seq + 1:08d}"
            elif data_type == "appointments":
                fields = {name: data.get(name) for name in REQUEST_FIELDS[APPOINTMENTS]}
                fields.update(
                    opcodes=list(fields["opcodes"] or []),
                    notes=fields["notes"] or "",
                    status=fields["status"] or "scheduled",
                    dispatch_code=fields["dispatch_code"] or "",
                    locked=False,
                )
                self.check_appointment(account, profile, fields)
                dms_id = f"A9{store.last_seq + 1:08d}"
            else:
                raise Problem(405, "BAD-REQUEST", f"{data_type} cannot be created from outside")
            body = store.put(code, data_type, dms_id, fields, search=search_text(data_type, dms_id, fields))
            store.count_created(code, data_type)
            store.idempotent_put(code, idempotency_key, request_hash, 201, json.dumps(body))
        return 201, body, False

    def update(
        self,
        account: dict[str, Any],
        profile: VendorProfile,
        data_type: str,
        dms_id: str,
        data: dict[str, Any],
        *,
        if_match: str | None = None,
        for_appointment: bool = False,
        cancel: bool = False,
    ) -> dict[str, Any]:
        """Update (or cancel) a record: If-Match, lock and write-back rules; returns the new body."""
        store = self.store
        code = account["code"]
        with store.lock:
            current = store.get(code, data_type, dms_id)
            if current is None:
                raise Problem(404, "NOT-FOUND", f"{data_type} {dms_id} not found")
            if data_type == "appointments" and current.get("locked"):
                raise Problem(409, "LOCKED", f"appointment {dms_id} is locked: it is open in the DMS")
            if if_match and if_match.strip() not in (current["etag"], "*"):
                raise Problem(
                    412, "ETAG-MISMATCH", f"{data_type} {dms_id} changed since it was read", {"ETag": current["etag"]}
                )
            self.check_push_allowed(profile, data_type, for_appointment)
            if data_type not in REQUEST_FIELDS:
                raise Problem(405, "BAD-REQUEST", f"{data_type} cannot be changed from outside")
            names = REQUEST_FIELDS[data_type]
            writable = KINDS[data_type].writable
            allowed = writable(profile) if writable else names
            unknown = set(data) - set(names)
            if unknown:
                raise Problem(400, "BAD-REQUEST", f"unknown fields: {', '.join(sorted(unknown))}")
            refused = set(data) - set(allowed)
            if refused:
                raise Problem(501, "FIELD-NOT-WRITABLE", f"fields not writable: {', '.join(sorted(refused))}")
            fields = {k: v for k, v in current.items() if k not in ("dms_id", "modified_at", "etag")}
            fields.update(data)
            if cancel:
                fields["status"] = "cancelled"
            elif data_type == "customers":
                self.raise_first(profile.validate_customer(fields, account["settings"]))
            elif data_type == "appointments":
                self.check_appointment(account, profile, fields)
            return store.put(code, data_type, dms_id, fields, search=search_text(data_type, dms_id, fields))

    def check_push_allowed(self, profile: VendorProfile, data_type: str, for_appointment: bool) -> None:
        """Refuse pushes the vendor does not take (:meth:`~connectors.vendors.VendorProfile.push_refusal`)."""
        refusal = profile.push_refusal(data_type, for_appointment)
        if refusal is not None:
            raise Problem(501, refusal.vendor_code or "NOT-SUPPORTED", refusal.message)

    def check_appointment(self, account: dict[str, Any], profile: VendorProfile, fields: dict[str, Any]) -> None:
        """The vendor's appointment rules, then checks only the DMS can make (opcodes, advisors...)."""
        store, code = self.store, account["code"]
        customer = store.get(code, "customers", fields.get("customer_dms_id") or "")
        if customer is None:
            raise Problem(422, "NOT-FOUND", f"customer {fields.get('customer_dms_id')!r} not found")
        self.raise_first(profile.validate_appointment(fields, customer, account["settings"]))
        for opcode in fields.get("opcodes") or []:
            known = store.get(code, "opcodes", str(opcode))
            if known is None or not known.get("active", True):
                raise Problem(422, "OPCODE-INVALID", f"opcode {opcode!r} is not valid")
        advisor_ids = [adv_id for adv_id, _ in generate.ADVISORS]
        if advisor_ids.count(fields.get("advisor_dms_id")) != 1:
            raise Problem(
                422,
                "ADVISOR-INVALID",
                f"advisor DMS id {fields.get('advisor_dms_id')!r} is unknown or shared by several users",
            )
        dispatch_code = fields.get("dispatch_code")
        if profile.code == "cdk" and dispatch_code and dispatch_code not in generate.DISPATCH_CODES:
            raise Problem(422, "DISPATCH-INVALID", f"dispatch code {fields['dispatch_code']!r} is not set up")

    @staticmethod
    def raise_first(entries: list) -> None:
        """Answer 422 with the first broken rule's catalogue code."""
        if entries:
            raise Problem(422, entries[0].code, entries[0].title)

    def reserve_ro_number(
        self, account: dict[str, Any], profile: VendorProfile, *, idempotency_key: str
    ) -> tuple[str, bool]:
        """Reserve the next RO number: ``(number, replayed)``; a replayed key gets the same number."""
        if not profile.ro_number_reservation:
            raise Problem(501, "NOT-SUPPORTED", profile.refusal_text("does not reserve RO numbers"))
        store = self.store
        request_hash = fingerprint("reserve")
        with store.lock:
            replay = self._replay(account, idempotency_key, request_hash)
            if replay is not None:
                return str(replay[1]["ro_number"]), True
            number = store.next_ro_number(account["code"])
            store.count_created(account["code"], "ro_reservations")
            store.idempotent_put(account["code"], idempotency_key, request_hash, 201, json.dumps({"ro_number": number}))
        return number, False

    def export_payment(
        self,
        account: dict[str, Any],
        profile: VendorProfile,
        data: dict[str, Any],
        *,
        idempotency_key: str,
        request_hash: str,
    ) -> tuple[int, dict[str, Any], bool]:
        """Post a receipt against an RO: ``(status, body, replayed)``."""
        if not profile.payment_export:
            raise Problem(501, "NOT-SUPPORTED", profile.refusal_text("does not take payment exports"))
        store, code = self.store, account["code"]
        with store.lock:
            replay = self._replay(account, idempotency_key, request_hash)
            if replay is not None:
                return replay[0], replay[1], True
            try:
                amount = float(data.get("amount"))
            except (TypeError, ValueError):
                amount = 0.0
            if amount <= 0 or not data.get("ro_number"):
                raise Problem(422, "PAYMENT-INVALID", "a payment needs an RO number and a positive amount")
            fields = {
                "ro_number": str(data["ro_number"]),
                "amount": f"{amount:.2f}",
                "method": data.get("method") or "cash",
                "payer": data.get("payer") or "customer",
                "received_at": data.get("received_at") or format_datetime(datetime.now(UTC)),
                "status": "posted",
            }
            dms_id = f"RCPT{store.last_seq + 1:09d}"
            body = store.put(code, "payments", dms_id, fields)
            store.count_created(code, "payments")
            store.idempotent_put(code, idempotency_key, request_hash, 201, json.dumps(body))
        return 201, body, False
