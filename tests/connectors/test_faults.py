"""Injected faults map to the right error classes; auth and tokens behave."""
from __future__ import annotations

import socket

import pytest

from connectors import (CUSTOMERS, AuthenticationError, MalformedResponseError, TransientDmsError, connect)
from connectors.vendors import VENDOR_CODES


def first_page(dms, timeout=None):
    """Fetch one page of customers."""
    return next(iter(dms.iter_changes(CUSTOMERS, page_size=10, timeout=timeout)))


@pytest.mark.parametrize("vendor", VENDOR_CODES)
@pytest.mark.parametrize("kind, error", [
    ("500", TransientDmsError), ("503", TransientDmsError), ("429", TransientDmsError),
    ("malformed", MalformedResponseError), ("bad_record", MalformedResponseError),
])
def test_injected_fault_maps_to_error_class(vendor, kind, error, sandbox, connector_for):
    code = f"write-{vendor}"
    dms = connector_for(code)
    first_page(dms)  # token obtained, connection warm
    sandbox.control.inject_fault(kind, account=code, retry_after=11)
    with pytest.raises(error) as caught:
        first_page(dms)
    assert caught.value.fix_hint
    if kind == "429":
        assert caught.value.retry_after == 11
    elif kind in ("500", "503"):
        assert caught.value.retry_after is None and caught.value.status == int(kind)
    if kind == "bad_record":
        assert caught.value.data_type == CUSTOMERS and caught.value.position == 5
        assert caught.value.dms_id
    # the fault is spent: the next call works
    assert len(first_page(dms).records) == 10


@pytest.mark.parametrize("vendor", ["cdk", "karmak"])
def test_hang_past_the_timeout_is_transient(vendor, sandbox, connector_for):
    code = f"write-{vendor}"
    dms = connector_for(code)
    first_page(dms)
    sandbox.control.inject_fault("hang", account=code, hang_seconds=1.5)
    with pytest.raises(TransientDmsError) as caught:
        first_page(dms, timeout=0.3)
    assert caught.value.retry_after is None
    assert len(first_page(dms).records) == 10


def test_expired_token_is_renewed_once_transparently(sandbox, connector_for):
    dms = connector_for("write-cdk")
    first_page(dms)
    before = sandbox.control.token_requests("write-cdk")
    sandbox.control.inject_fault("expired_token", account="write-cdk")
    assert len(first_page(dms).records) == 10
    assert sandbox.control.token_requests("write-cdk") == before + 1


def test_token_that_cannot_be_renewed_is_an_authentication_error(sandbox, connector_for):
    dms = connector_for("write-cdk")
    first_page(dms)
    sandbox.control.inject_fault("expired_token", count=2, account="write-cdk")
    with pytest.raises(AuthenticationError) as caught:
        first_page(dms)
    assert caught.value.vendor_code == "CDK-TOKEN-EXPIRED"


def test_short_lived_tokens_are_renewed_before_they_expire(tmp_path):
    from connectors.sandbox.testing import running_sandbox
    # A 5 s token is inside the connector's 30 s renewal margin, so every call renews first.
    with running_sandbox([("short", "pbs", 20)], data_dir=tmp_path, token_ttl=5.0) as box:
        with box.connect("short") as dms:
            first_page(dms)
            first_page(dms)
        assert box.control.token_requests("short") == 2


def test_token_that_is_already_expired_is_refused(tmp_path):
    from connectors.sandbox.testing import running_sandbox
    with running_sandbox([("short", "pbs", 20)], data_dir=tmp_path, token_ttl=0.0) as box:
        with box.connect("short") as dms:
            # ttl 0: every token is dead on arrival; one renewal, then an authentication error
            with pytest.raises(AuthenticationError):
                first_page(dms)


@pytest.mark.parametrize("vendor", VENDOR_CODES)
def test_wrong_api_key_is_an_authentication_error(vendor, sandbox):
    settings = {**sandbox.settings(f"write-{vendor}"), "api_key": "not-the-key"}
    with connect(vendor, settings) as dms:
        with pytest.raises(AuthenticationError) as caught:
            first_page(dms)
    assert "API key" in caught.value.fix_hint


def test_connection_refused_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with connect("cdk", {"base_url": f"http://127.0.0.1:{port}", "account": "x", "api_key": "y"}) as dms:
        with pytest.raises(TransientDmsError):
            first_page(dms, timeout=1)


def test_rate_limit_headers_and_429(tmp_path):
    from connectors.sandbox.testing import running_sandbox
    with running_sandbox([("tiny", "cdk", 20)], data_dir=tmp_path, rate_limit=3, rate_window=600) as box:
        with box.connect("tiny") as dms:
            first_page(dms)
            assert dms.transport.last_rate_limit["ratelimit-limit"] == "3"
            assert dms.transport.last_rate_limit["ratelimit-remaining"] == "2"
            first_page(dms)
            first_page(dms)
            with pytest.raises(TransientDmsError) as caught:
                first_page(dms)
    assert caught.value.status == 429 and caught.value.retry_after and caught.value.retry_after > 0
