"""The sandbox DMS's console-dialect front end: the REST API :mod:`connectors.console_rest` speaks.

Every ``/v1`` call needs ``Authorization: Bearer <token>``:

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

Records travel in their canonical form (the store's bodies as they are). Errors are RFC 7807
``application/problem+json`` with ``code`` = the vendor's error code. Every ``/v1`` answer
carries ``RateLimit-Limit/Remaining/Reset``; over the limit -> 429 + ``Retry-After``.
"""

from __future__ import annotations

import json
from typing import Any

from ..base import DATA_TYPES
from ..vendors import VendorProfile, get_profile
from .operations import Problem, fingerprint
from .store import decode_cursor, encode_cursor


def route_token(handler: Any, method: str, parts: list[str], query: dict[str, str]) -> None:
    """``POST /oauth/token``: exchange an account's API key for a bearer token that expires."""
    if parts != ["token"] or method != "POST":
        raise Problem(404, "NOT-FOUND", f"no route for {method} /oauth/{'/'.join(parts)}")
    data = handler.json_body()
    code = str(data.get("account", ""))
    account = handler.state.ops.check_secret(code, str(data.get("api_key", "")))
    if account is None or account["settings"].get("protocol", "console") != "console":
        known = handler.state.store.account(code)
        handler.profile = get_profile(known["vendor"]) if known else None
        raise Problem(401, "AUTH-FAILED", "unknown account or wrong API key")
    token, ttl = handler.state.ops.issue_token(account)
    handler.send_json(200, {"access_token": token, "token_type": "Bearer", "expires_in": ttl})


def route(handler: Any, method: str, parts: list[str], query: dict[str, str]) -> None:
    """Serve ``/v1/{account}/{type}...`` for one account (the work is done by :class:`~.operations.Operations`)."""
    if len(parts) < 2:
        raise Problem(404, "NOT-FOUND", f"no route for {method} /v1/{'/'.join(parts)}")
    account = _authenticate(handler, parts[0])
    profile = handler.profile
    headers, fault = handler.state.ops.admit(account)
    handler.extra_headers.update(headers)
    if fault is not None and fault["kind"] == "malformed":
        handler.send(200, b'{"items": [{"dms_id": "C00', headers={"X-Injected-Fault": "malformed"})
        return
    _serve(handler, method, account, profile, parts[1:], query, bad_record=fault is not None)


def _authenticate(handler: Any, code: str) -> dict[str, Any]:
    """The account ``code`` when the bearer token is one of its live tokens (401 otherwise).

    Only console-dialect accounts hold tokens from :func:`route_token`."""
    account = handler.state.store.account(code)
    if account is None:
        raise Problem(
            401,
            "AUTH-FAILED",
            "missing or invalid bearer token for this account",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    handler.profile = get_profile(account["vendor"])
    header = handler.headers.get("Authorization", "")
    handler.state.ops.check_token(code, header[7:] if header.startswith("Bearer ") else "")
    return account


def _serve(
    handler: Any,
    method: str,
    account: dict[str, Any],
    profile: VendorProfile,
    parts: list[str],
    query: dict[str, str],
    bad_record: bool,
) -> None:
    """One ``/v1/{account}/...`` call after authentication, rate limit and faults."""
    data_type, rest = parts[0], parts[1:]
    ops = handler.state.ops
    idempotency_key = handler.headers.get("Idempotency-Key", "").strip()
    for_appointment = query.get("for_appointment") in ("1", "true")
    if data_type == "repair_orders" and rest == ["_reserve"] and method == "POST":
        number, _ = ops.reserve_ro_number(account, profile, idempotency_key=idempotency_key)
        return handler.send(201, json.dumps({"ro_number": number}))
    if data_type == "repair_orders" and len(rest) == 2 and rest[1] == "related" and method == "GET":
        return handler.send_json(
            200, {"ro_number": rest[0], "related_ro_numbers": ops.related(account, profile, rest[0])}
        )
    if data_type == "payments" and not rest and method == "POST":
        data = handler.json_body()
        status, body, replayed = ops.export_payment(
            account,
            profile,
            data,
            idempotency_key=idempotency_key,
            request_hash=fingerprint(handler.path.split("?")[0], data),
        )
        return handler.send(status, json.dumps(body), headers={"Idempotent-Replayed": "true"} if replayed else None)
    if data_type not in DATA_TYPES:
        raise Problem(404, "NOT-FOUND", f"unknown data type {data_type}")
    if method == "GET" and not rest:
        return _list_changes(handler, account, profile, data_type, query, bad_record)
    if method == "GET" and rest == ["_ids"]:
        limit = min(int(query.get("limit", 5000)), 50000)
        ids = ops.ids(account, data_type, query.get("after", ""), limit)
        return handler.send_json(200, {"ids": ids, "next": ids[-1] if len(ids) == limit else None})
    if method == "GET" and rest == ["_search"] and data_type in ("customers", "vehicles"):
        bodies = ops.search_texts(account, data_type, query.get("q", ""), int(query.get("limit", 25)))
        return handler.send(200, '{"items":[' + ",".join(bodies) + "]}")
    if method == "GET" and len(rest) == 1:
        body = ops.get(account, data_type, rest[0])
        return handler.send_json(200, body, {"ETag": body["etag"]})
    if data_type in ("customers", "vehicles", "appointments"):
        if method == "POST" and not rest:
            data = handler.json_body()
            status, body, replayed = ops.create(
                account,
                profile,
                data_type,
                data,
                idempotency_key=idempotency_key,
                request_hash=fingerprint(handler.path.split("?")[0], data),
                for_appointment=for_appointment,
            )
            headers = {"ETag": body["etag"], "Location": f"/v1/{account['code']}/{data_type}/{body['dms_id']}"}
            if replayed:
                headers["Idempotent-Replayed"] = "true"
            return handler.send(status, json.dumps(body), headers=headers)
        if method == "PATCH" and len(rest) == 1:
            body = ops.update(
                account,
                profile,
                data_type,
                rest[0],
                handler.json_body(),
                if_match=handler.headers.get("If-Match"),
                for_appointment=for_appointment,
            )
            return handler.send_json(200, body, {"ETag": body["etag"]})
        if data_type == "appointments" and method == "POST" and len(rest) == 2 and rest[1] == "cancel":
            body = ops.update(
                account, profile, data_type, rest[0], {}, if_match=handler.headers.get("If-Match"), cancel=True
            )
            return handler.send_json(200, body, {"ETag": body["etag"]})
    raise Problem(405, "BAD-REQUEST", f"{method} not allowed here")


def _list_changes(
    handler: Any,
    account: dict[str, Any],
    profile: VendorProfile,
    data_type: str,
    query: dict[str, str],
    bad_record: bool,
) -> None:
    """A page of changes after the cursor (or modified at/after ``modified_since``, inclusive).

    The page is joined from the stored JSON texts as they are, without parsing them; with
    ``bad_record`` (the fault) the middle record loses its ``modified_at``.
    """
    try:
        after, since = decode_cursor(query["cursor"]) if query.get("cursor") else (0, None)
        if query.get("modified_since"):
            since = decode_cursor("since:" + query["modified_since"])[1]
        limit = int(query.get("limit", 500))
    except (ValueError, UnicodeDecodeError):
        raise Problem(400, "BAD-REQUEST", "unreadable cursor, modified_since or limit") from None
    bodies, last, has_more = handler.state.ops.page_texts(account, profile, data_type, after, since, limit)
    if bad_record and bodies:
        record = json.loads(bodies[len(bodies) // 2])
        record.pop("modified_at", None)
        bodies[len(bodies) // 2] = json.dumps(record)
    if bodies or not since:
        next_cursor = encode_cursor(last)
    else:
        next_cursor = query.get("cursor") or "since:" + since  # nothing yet: keep the caller's window
    handler.send(
        200,
        '{"items":['
        + ",".join(bodies)
        + '],"next_cursor":'
        + json.dumps(next_cursor)
        + ',"has_more":'
        + ("true" if has_more else "false")
        + "}",
    )
