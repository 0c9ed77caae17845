"""The sandbox DMS's control API (``/_control/...``): what tests, benchmarks and the demo drive.

No authentication: bind the sandbox to loopback. :class:`~.testing.ControlClient` is its client.

``GET /_control/health``; ``GET /_control/accounts``;
``POST /_control/faults`` ``{"kind": 500|503|hang|429|malformed|bad_record|expired_token,
"count": 1, "account": null, "retry_after": 7, "hang_seconds": 3}``; ``DELETE /_control/faults``;
``GET|PUT /_control/accounts/{a}/settings`` (``require_address``, ``require_email``,
``webhook_url``, ``webhook_secret``); ``GET /_control/accounts/{a}/created``;
``GET /_control/accounts/{a}/token_requests``; ``GET /_control/accounts/{a}/advisors``;
``GET|PATCH|DELETE /_control/accounts/{a}/records/{type}/{id}`` (staff edits in the DMS);
``POST /_control/accounts/{a}/appointments/{id}/lock|unlock``;
``POST /_control/accounts/{a}/webhooks/send`` ``{"data_type"?, "dms_ids"?, "url"?, "secret"?}``;
``POST /_control/accounts/{a}/extract`` ``{"data_type": "customers", "directory"?}``.
"""

from __future__ import annotations

from typing import Any

from ..vendors import get_profile
from . import generate, outbound
from .operations import Problem
from .search_text import search_text


def route(handler: Any, method: str, parts: list[str], query: dict[str, str]) -> None:
    """Serve one control request (``parts`` are the path segments after ``/_control``)."""
    state, store = handler.state, handler.state.store
    if parts == ["health"]:
        return handler.send_json(200, {"status": "ok"})
    if parts == ["accounts"] and method == "GET":
        return handler.send_json(200, list(store.accounts().values()))
    if parts == ["faults"]:
        if method == "DELETE":
            with state.lock:
                state.faults.clear()
            return handler.send_json(200, {"faults": 0})
        data = handler.json_body()
        fault = {
            "kind": str(data.get("kind")),
            "remaining": int(data.get("count", 1)),
            "account": data.get("account"),
            "retry_after": data.get("retry_after", 7),
            "hang_seconds": data.get("hang_seconds", 3.0),
        }
        with state.lock:
            state.faults.append(fault)
        return handler.send_json(201, fault)
    if len(parts) < 3 or parts[0] != "accounts":
        raise Problem(404, "NOT-FOUND", "unknown control route")
    code, action, rest = parts[1], parts[2], parts[3:]
    account = store.account(code)
    if account is None:
        raise Problem(404, "NOT-FOUND", f"no account {code}")
    profile = handler.profile = get_profile(account["vendor"])
    if action == "settings":
        if method == "GET":
            return handler.send_json(200, {**profile.default_options, **account["settings"]})
        return handler.send_json(200, store.update_settings(code, handler.json_body()))
    if action == "created":
        return handler.send_json(200, store.created_counts(code))
    if action == "token_requests":
        return handler.send_json(200, {"count": state.token_requests.get(code, 0)})
    if action == "advisors":
        return handler.send_json(200, [{"dms_id": i, "name": n} for i, n in generate.ADVISORS])
    if action == "records" and len(rest) == 2:
        data_type, dms_id = rest
        current = store.get(code, data_type, dms_id)
        if current is None:
            raise Problem(404, "NOT-FOUND", f"{data_type} {dms_id} not found")
        if method == "GET":
            return handler.send_json(200, current)
        if method == "DELETE":
            store.delete(code, data_type, dms_id)
            return handler.send_json(200, {"deleted": dms_id})
        return handler.send_json(200, staff_edit(store, code, data_type, current, handler.json_body()))
    if action == "appointments" and len(rest) == 2 and rest[1] in ("lock", "unlock"):
        current = store.get(code, "appointments", rest[0])
        if current is None:
            raise Problem(404, "NOT-FOUND", f"appointment {rest[0]} not found")
        return handler.send_json(200, staff_edit(store, code, "appointments", current, {"locked": rest[1] == "lock"}))
    if action == "webhooks" and rest == ["send"]:
        return handler.send_json(200, outbound.send_webhooks(state, account, profile, handler.json_body()))
    if action == "extract":
        return handler.send_json(201, outbound.write_extract(state, account, profile, handler.json_body()))
    raise Problem(404, "NOT-FOUND", "unknown control route")


def staff_edit(
    store: Any, code: str, data_type: str, current: dict[str, Any], changes: dict[str, Any]
) -> dict[str, Any]:
    """Apply an edit as dealership staff would in the DMS (no vendor rules; a new ETag)."""
    fields = {k: v for k, v in current.items() if k not in ("dms_id", "modified_at", "etag")}
    fields.update(changes)
    ref = fields.get("alternate_of") if data_type == "repair_orders" else None
    return store.put(
        code, data_type, current["dms_id"], fields, search=search_text(data_type, current["dms_id"], fields), ref=ref
    )
