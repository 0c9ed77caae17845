"""Injected faults map to the right error classes; auth and tokens behave."""
from __future__ import annotations

import json
import math
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import (CUSTOMERS, AuthenticationError, MalformedResponseError, TransientDmsError, connect)
from connectors.http import loads_exact
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
    settings = sandbox.settings(f"write-{vendor}")
    settings["credentials"] = {**settings["credentials"],
                               **{name: "not-the-key" for name in ("api_key", "client_secret", "password")
                                  if name in settings["credentials"]}}
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


# --------------------------------------------------------------------------- reading JSON bodies
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans())
def test_bodies_are_read_exactly_as_the_standard_library_reads_them(value, ascii_only):
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert loads_exact(body) == json.loads(body)
    assert repr(loads_exact(body)) == repr(json.loads(body))  # 1 stays 1, 1.0 stays 1.0


@pytest.mark.parametrize("body, expected", [
    (b'{"mileage": 123456789012345678901234567890}', {"mileage": 123456789012345678901234567890}),
    (b'[18446744073709551616, -9223372036854775809]', [18446744073709551616, -9223372036854775809]),
    (b'[9223372036854775807, -9223372036854775808]', [9223372036854775807, -9223372036854775808]),
    (b'{"name": "\\ud800"}', {"name": "\ud800"}),  # a lone surrogate: orjson refuses it
    ('{"name": "Zoë"}'.encode("utf-16"), {"name": "Zoë"}),  # not UTF-8: orjson refuses it
])
def test_bodies_orjson_would_round_or_refuse_go_through_the_standard_library(body, expected):
    assert loads_exact(body) == expected
    assert type(loads_exact(body)) is type(expected)


def test_nan_is_read_like_the_standard_library_and_junk_is_refused():
    assert math.isnan(loads_exact(b"[NaN]")[0])
    with pytest.raises(ValueError):
        loads_exact(b'{"items": [')
