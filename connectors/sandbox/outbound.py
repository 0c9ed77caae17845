"""What the sandbox DMS sends on its own: signed change webhooks and daily extract files.

Both are triggered through the control API (:mod:`.control_api`), so tests and the demo
decide when a DMS "pushes".

Webhooks (vendors that push changes, "Auto"): ``POST`` to the account's ``webhook_url`` of
the JSON body ``{"event_id", "account", "vendor", "data_type", "dms_ids", "sent_at"}`` with
the headers of :mod:`connectors.webhooks` (``X-DMS-Event-Id``, ``X-DMS-Timestamp`` in Unix
seconds, ``X-DMS-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body bytes)>``).

Daily extracts (vendors with a daily data file): a CSV of every customer or vehicle, UTF-8
with a byte-order mark, list fields joined by ``|``, as :mod:`connectors.extract` reads it.
"""

from __future__ import annotations

import csv
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base import CUSTOMERS, KINDS, VEHICLES, format_datetime
from ..extract import LIST_COLUMNS
from ..vendors import VendorProfile
from ..webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from .operations import Problem

if TYPE_CHECKING:  # pragma: no cover
    from .server import SandboxState

#: The columns of a daily extract, per data type: the id, the change time, then the record's fields.
EXTRACT_COLUMNS = {
    data_type: ("dms_id", "modified_at", *KINDS[data_type].fields) for data_type in (CUSTOMERS, VEHICLES)
}


def send_webhooks(
    state: SandboxState, account: dict[str, Any], profile: VendorProfile, data: dict[str, Any]
) -> list[dict[str, Any]]:
    """POST signed change notifications to the account's ``webhook_url``; one delivery per data type.

    ``data`` may name a ``data_type`` (default: every type the vendor pushes), the ``dms_ids``
    (default: every change since the last send; the first send covers everything), and a
    ``url``/``secret`` overriding the account's settings.
    """
    if not profile.pushes_changes:
        raise Problem(409, "NOT-SUPPORTED", profile.refusal_text("does not push changes"))
    settings = account["settings"]
    url = data.get("url") or settings.get("webhook_url")
    secret = data.get("secret") or settings.get("webhook_secret")
    if not url or not secret:
        raise Problem(400, "BAD-REQUEST", "configure webhook_url and webhook_secret first")
    code = account["code"]
    pushed = [t for t, mode in profile.pull.items() if mode.kind == "dms_push"]
    deliveries = []
    for data_type in [data["data_type"]] if data.get("data_type") else pushed:
        if data.get("dms_ids") is not None:
            ids = list(data["dms_ids"])
        else:
            ids, high = state.store.all_since(code, data_type, state.webhook_seq.get((code, data_type), 0))
            state.webhook_seq[(code, data_type)] = high
        if not ids:
            continue
        event_id = str(uuid.uuid4())
        body = json.dumps(
            {
                "event_id": event_id,
                "account": code,
                "vendor": profile.code,
                "data_type": data_type,
                "dms_ids": ids,
                "sent_at": format_datetime(datetime.now(UTC)),
            }
        ).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                EVENT_ID_HEADER: event_id,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(secret, timestamp, body),
            },
        )
        delivery: dict[str, Any] = {"data_type": data_type, "event_id": event_id, "count": len(ids)}
        try:
            with urllib.request.urlopen(request, timeout=float(data.get("timeout", 5))) as response:
                delivery["status"] = response.status
        except urllib.error.HTTPError as error:
            delivery["status"] = error.code
        except OSError as error:
            delivery.update(status=0, error=str(error))
        deliveries.append(delivery)
    return deliveries


def write_extract(
    state: SandboxState, account: dict[str, Any], profile: VendorProfile, data: dict[str, Any]
) -> dict[str, Any]:
    """Write a daily-extract CSV of ``data["data_type"]`` into the drop folder: ``{"path", "rows"}``.

    The folder is ``data["directory"]`` or ``<data dir>/extracts/<account>``; the file is written
    under a temporary name and then renamed, so a reader never sees half a file.
    """
    if not profile.daily_data_file:
        raise Problem(409, "NOT-SUPPORTED", profile.refusal_text("does not deliver a daily data file"))
    data_type = data.get("data_type", CUSTOMERS)
    if data_type not in EXTRACT_COLUMNS:
        raise Problem(400, "BAD-REQUEST", f"no daily extract for {data_type}")
    directory = Path(data.get("directory") or state.data_dir / "extracts" / account["code"])
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    path = directory / f"{data_type}_{stamp}.csv"
    columns = EXTRACT_COLUMNS[data_type]
    rows = 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(columns)
        for body in state.store.iter_bodies(account["code"], data_type):
            writer.writerow(
                [
                    "|".join(body.get(c) or []) if c in LIST_COLUMNS else ("" if body.get(c) is None else body.get(c))
                    for c in columns
                ]
            )
            rows += 1
    tmp.replace(path)
    return {"path": str(path), "rows": rows}
