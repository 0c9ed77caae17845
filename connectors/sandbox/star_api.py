"""The sandbox DMS's STAR REST front end (served under ``/star``).

``POST /star/oauth2/token``  form ``grant_type=client_credentials&client_id=<account>&client_secret=<secret>``
(or HTTP Basic) -> ``{"access_token", "token_type": "Bearer", "expires_in"}``; RFC 6749 errors.

Every other call needs ``Authorization: Bearer <token>``; the token names the account.

``GET  /star/{resource}?limit=&page_token=&filter=updated_since:<ISO>``  changes, oldest first:
``{"data": [...], "has_more"}`` + ``Link: <...page_token=...>; rel="next"`` (always, so a
finished read has a position to resume from); ``filter=q:<text>`` searches customers/vehicles.
``GET  /star/{resource}-keys?start_after=&limit=``  keys in key order ``{"data": [...], "has_more"}``.
``GET  /star/{resource}/{key}`` one resource with ``ETag``; ``POST /star/{resource}`` create
(``Idempotency-Key``); ``PUT /star/{resource}/{key}`` replace (``If-Match``);
``POST /star/service-appointments/{key}:cancel``; ``POST /star/repair-order-number-reservations``;
``GET /star/repair-orders/{key}/related-repair-orders``; ``POST /star/payments``.

Resources: customers, service-vehicles, service-appointments, repair-orders, labor-operations
(published documents) and parts-invoices, special-orders, payments (guideline style).
Errors are ``application/problem+json`` carrying both RFC 7807 members and the documents'
``ErrorDetail`` members. Records are rendered from the stored canonical dicts with
:func:`connectors.star_records.to_star` (no schema work per record).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

import orjson

from ..base import format_datetime
from ..star_records import DATA_TYPE_OF_PATH, RESOURCES, from_star, to_star
from ..vendors import VendorProfile, get_profile
from .operations import REQUEST_FIELDS, Problem, fingerprint, vendor_code

PREFIX = "/star"
CATEGORY = {
    400: "VALIDATION",
    401: "AUTHENTICATION",
    403: "AUTHORIZATION",
    404: "DATA_INTEGRITY",
    409: "BUSINESS_LOGIC",
    412: "DATA_INTEGRITY",
    422: "VALIDATION",
    429: "INFRASTRUCTURE",
    501: "BUSINESS_LOGIC",
}


class _Done(Exception):
    """The answer was written already."""


def _dumps(data: Any) -> bytes:
    return orjson.dumps(data)


def problem_body(problem: Problem, profile: VendorProfile | None, instance: str) -> dict[str, Any]:
    """An RFC 7807 problem that also satisfies the STAR ``ErrorDetail`` schema."""
    code = vendor_code(problem, profile)
    entry = profile.entry(code) if profile is not None else None
    body = {
        "type": f"https://sandbox-dms.invalid/problems/{code.lower()}",
        "title": entry.title if entry else code,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        "error_code": code,
        "code": code,
        "message": problem.detail,
        "category": CATEGORY.get(problem.status, "INFRASTRUCTURE"),
        "timestamp": format_datetime(datetime.now(UTC)),
        "trace_id": str(uuid.uuid4()),
    }
    if entry:
        body["fix_hint"] = entry.fix_hint
    return body


def _send_problem(handler: Any, problem: Problem, profile: VendorProfile | None) -> None:
    handler.send(
        problem.status,
        _dumps(problem_body(problem, profile, handler.path)),
        "application/problem+json",
        problem.headers,
    )


def route(handler: Any, method: str, parts: list[str], query: dict[str, str]) -> None:
    """Serve one STAR REST request (``parts`` are the path segments after ``/star``)."""
    profile = None
    try:
        if parts == ["oauth2", "token"] and method == "POST":
            return _token(handler)
        account = _authenticate(handler)
        profile = get_profile(account["vendor"])
        headers, fault = handler.state.ops.admit(account)
        handler.extra_headers.update(headers)
        if fault is not None and fault["kind"] == "malformed":
            handler.send(200, b'{"data":[{"customer_key":"C00', headers={"X-Injected-Fault": "malformed"})
            return None
        _serve(handler, method, account, profile, parts, query, bad_record=fault is not None)
    except Problem as problem:
        _send_problem(handler, problem, profile)
    except _Done:
        pass
    return None


# ---- auth
def _token(handler: Any) -> None:
    """OAuth2 client-credentials grant (form body; HTTP Basic client authentication also accepted)."""
    form = {k: v[-1] for k, v in parse_qs(handler.raw_body.decode("utf-8", "replace")).items()}
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    auth = handler.headers.get("Authorization", "")
    if auth.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            pass
    if form.get("grant_type") != "client_credentials":
        handler.send(
            400,
            _dumps({"error": "unsupported_grant_type", "error_description": "only client_credentials is supported"}),
        )
        return
    account = handler.state.ops.check_secret(client_id, secret)
    if account is None or account["settings"].get("protocol") != "star":
        handler.send(
            401,
            _dumps({"error": "invalid_client", "error_description": "unknown client or wrong secret"}),
            headers={"WWW-Authenticate": 'Basic realm="star"'},
        )
        return
    token, ttl = handler.state.ops.issue_token(account)
    handler.send(
        200,
        _dumps(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(ttl),
                "scope": "standard:read standard:write",
            }
        ),
        headers={"Cache-Control": "no-store"},
    )


def _authenticate(handler: Any) -> dict[str, Any]:
    """The account of the bearer token (401 AUTH-FAILED / TOKEN-EXPIRED otherwise)."""
    header = handler.headers.get("Authorization", "")
    token = header[7:] if header.startswith("Bearer ") else ""
    state = handler.state
    with state.lock:
        owner = state.tokens.get(token)
    account = state.store.account(owner[0]) if owner else None
    if account is None or account["settings"].get("protocol") != "star":
        raise Problem(
            401, "AUTH-FAILED", "missing or invalid bearer token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    try:
        state.ops.check_token(account["code"], token)
    except Problem as problem:
        _send_problem(handler, problem, get_profile(account["vendor"]))
        raise _Done() from None
    return account


# ---- resources
def _send_json(handler: Any, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
    handler.send(status, _dumps(data), "application/json", headers)


def _json_body(handler: Any) -> dict[str, Any]:
    raw = handler.raw_body
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Problem(400, "BAD-REQUEST", "request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Problem(400, "BAD-REQUEST", "request body must be a JSON object")
    return data


def _filter(query: dict[str, str]) -> tuple[str, str] | None:
    """The one ``filter`` term: ``("updated_since", iso)`` or ``("q", text)``."""
    value = query.get("filter")
    if not value:
        return None
    name, sep, rest = value.partition(":")
    if not sep or name not in ("updated_since", "q"):
        raise Problem(400, "BAD-REQUEST", "filter must be updated_since:<ISO-8601> or q:<text>")
    return name, rest


def _serve(
    handler: Any,
    method: str,
    account: dict[str, Any],
    profile: VendorProfile,
    parts: list[str],
    query: dict[str, str],
    bad_record: bool,
) -> None:
    ops = handler.state.ops
    if not parts:
        raise Problem(404, "NOT-FOUND", "no resource")
    head, rest = parts[0], parts[1:]
    idem = handler.headers.get("Idempotency-Key", "").strip()
    if head == "repair-order-number-reservations" and method == "POST" and not rest:
        number, replayed = ops.reserve_ro_number(account, profile, idempotency_key=idem)
        return _send_json(
            handler, 201, {"repair_order_number": number}, {"Idempotent-Replayed": "true"} if replayed else None
        )
    if head.endswith("-keys") and head[:-5] in DATA_TYPE_OF_PATH and method == "GET" and not rest:
        data_type = DATA_TYPE_OF_PATH[head[:-5]]
        ops.check_pull(profile, data_type)
        limit = max(1, min(int(query.get("limit", 5000)), 50000))
        keys = ops.ids(account, data_type, query.get("start_after", ""), limit)
        return _send_json(handler, 200, {"data": keys, "has_more": len(keys) == limit})
    if head not in DATA_TYPE_OF_PATH:
        raise Problem(404, "NOT-FOUND", f"no resource {head}")
    data_type = DATA_TYPE_OF_PATH[head]
    for_appointment = query.get("for_appointment") in ("1", "true")
    if data_type == "payments":
        if method == "POST" and not rest:
            data = _json_body(handler)
            status, body, replayed = ops.export_payment(
                account, profile, data, idempotency_key=idem, request_hash=fingerprint("star-payment", data)
            )
            return _send_json(
                handler,
                status,
                to_star("payments", body),
                {"ETag": body["etag"], **({"Idempotent-Replayed": "true"} if replayed else {})},
            )
        if method == "GET" and len(rest) == 1:
            body = ops.get(account, "payments", rest[0])
            return _send_json(handler, 200, to_star("payments", body), {"ETag": body["etag"]})
        raise Problem(405, "BAD-REQUEST", f"{method} not allowed here")
    if data_type == "repair_orders" and len(rest) == 2 and rest[1] == "related-repair-orders" and method == "GET":
        numbers = ops.related(account, profile, rest[0])
        return _send_json(
            handler, 200, {"data": [{"repair_order_key": n, "repair_order_id": n} for n in numbers], "has_more": False}
        )
    if method == "GET" and not rest:
        return _list(handler, account, profile, data_type, head, query, bad_record)
    if method == "GET" and len(rest) == 1:
        body = ops.get(account, data_type, rest[0])
        return _send_json(handler, 200, to_star(data_type, body), {"ETag": body["etag"]})
    if data_type in REQUEST_FIELDS:
        if method == "POST" and not rest:
            resource = _json_body(handler)
            key_name = RESOURCES[data_type][1]
            if not resource.get(key_name):
                raise Problem(422, "REQUIRED-FIELD", f"{key_name} is required")
            fields = {
                k: v
                for k, v in from_star(data_type, resource).items()
                if k in REQUEST_FIELDS[data_type] and v is not None
            }
            status, body, replayed = ops.create(
                account,
                profile,
                data_type,
                fields,
                idempotency_key=idem,
                request_hash=fingerprint("star-create", head, resource),
                for_appointment=for_appointment,
            )
            headers = {"ETag": body["etag"], "Location": f"{PREFIX}/{head}/{quote(body['dms_id'], safe='')}"}
            if replayed:
                headers["Idempotent-Replayed"] = "true"
            return _send_json(handler, status, to_star(data_type, body), headers)
        if method == "PUT" and len(rest) == 1:
            current = ops.get(account, data_type, rest[0])
            wanted = from_star(data_type, _json_body(handler))
            changes = {
                name: wanted.get(name)
                for name in REQUEST_FIELDS[data_type]
                if _differs(wanted.get(name), current.get(name))
            }
            body = ops.update(
                account,
                profile,
                data_type,
                rest[0],
                changes,
                if_match=handler.headers.get("If-Match"),
                for_appointment=for_appointment,
            )
            return _send_json(handler, 200, to_star(data_type, body), {"ETag": body["etag"]})
        if data_type == "appointments" and method == "POST" and len(rest) == 1 and rest[0].endswith(":cancel"):
            body = ops.update(
                account,
                profile,
                data_type,
                rest[0][: -len(":cancel")],
                {},
                if_match=handler.headers.get("If-Match"),
                cancel=True,
            )
            return _send_json(handler, 200, to_star(data_type, body), {"ETag": body["etag"]})
    raise Problem(405, "BAD-REQUEST", f"{method} not allowed here")


def _differs(new: Any, old: Any) -> bool:
    """True when a field value changed (empty string, None and [] are all "empty")."""
    empty = (None, "", [], ())
    if new in empty and old in empty:
        return False
    if isinstance(new, (list, tuple)) and isinstance(old, (list, tuple)):
        return list(new) != list(old)
    return new != old and str(new) != str(old)


def _list(
    handler: Any,
    account: dict[str, Any],
    profile: VendorProfile,
    data_type: str,
    head: str,
    query: dict[str, str],
    bad_record: bool,
) -> None:
    """A page of changes (or of search results for ``filter=q:``)."""
    ops = handler.state.ops
    try:
        limit = int(query.get("limit", 100))
    except ValueError:
        raise Problem(400, "BAD-REQUEST", "limit must be an integer") from None
    term = _filter(query)
    if term and term[0] == "q":
        if data_type not in ("customers", "vehicles"):
            raise Problem(400, "BAD-REQUEST", "q: filters only customers and service-vehicles")
        bodies = [orjson.loads(t) for t in ops.search_texts(account, data_type, term[1], limit)]
        return _send_json(handler, 200, {"data": [to_star(data_type, b) for b in bodies], "has_more": False})
    bodies, next_cursor, has_more = ops.changes(
        account,
        profile,
        data_type,
        cursor=query.get("page_token") or None,
        modified_since=term[1] if term else None,
        limit=limit,
        bad_record=bad_record,
    )
    data = [to_star(data_type, body) for body in bodies]
    if next_cursor.startswith("since:"):
        link_query = "filter=" + quote("updated_since:" + next_cursor[6:], safe=":")
    else:
        link_query = "page_token=" + quote(next_cursor, safe="")
    link = f'<{PREFIX}/{head}?limit={limit}&{link_query}>; rel="next"'
    handler.send(200, orjson.dumps({"data": data, "has_more": has_more}), "application/json", {"Link": link})
