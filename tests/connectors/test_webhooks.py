"""Signed change webhooks from push-based ("Auto") vendors."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from connectors import CUSTOMERS
from connectors.webhooks import sign, verify_signature


@pytest.fixture
def receiver():
    """A loopback HTTP endpoint that records the webhooks it gets."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers, body))  # case-insensitive lookup
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/dms", received
    server.shutdown()
    server.server_close()


def test_signed_webhook_is_delivered_and_verifies(sandbox, receiver):
    url, received = receiver
    sandbox.control.configure("write-reynolds", webhook_url=url, webhook_secret="s3cret")
    sandbox.control.send_webhooks("write-reynolds")  # drain: the first send covers everything
    received.clear()
    sandbox.control.edit_record("write-reynolds", CUSTOMERS, "C0000010", {"city": "Hooked"})
    deliveries = sandbox.control.send_webhooks("write-reynolds")
    assert [(d["data_type"], d["status"], d["count"]) for d in deliveries] == [(CUSTOMERS, 204, 1)]
    headers, body = received[-1]
    payload = json.loads(body)
    assert payload["dms_ids"] == ["C0000010"] and payload["vendor"] == "reynolds"
    assert headers["X-DMS-Event-Id"] == payload["event_id"]
    assert verify_signature("s3cret", headers["X-DMS-Timestamp"], body, headers["X-DMS-Signature"])
    assert not verify_signature("wrong", headers["X-DMS-Timestamp"], body, headers["X-DMS-Signature"])
    assert not verify_signature("s3cret", headers["X-DMS-Timestamp"], body + b" ", headers["X-DMS-Signature"])
    # nothing changed since: nothing sent
    assert sandbox.control.send_webhooks("write-reynolds") == []


def test_signature_scheme_and_replay_window():
    body, now = b'{"a":1}', time.time()
    stamp = str(int(now))
    signature = sign("k", stamp, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify_signature("k", stamp, body, signature, now=now)
    assert not verify_signature("k", str(int(now) - 3600), body, sign("k", str(int(now) - 3600), body), now=now)
    assert not verify_signature("k", None, body, signature)


def test_only_push_vendors_send_webhooks(sandbox):
    response = httpx.post(
        f"{sandbox.base_url}/_control/accounts/write-cdk/webhooks/send",
        json={"url": "http://127.0.0.1:9/", "secret": "x"},
    )
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "CDK-NOT-SUPPORTED"
