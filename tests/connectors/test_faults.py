"""Injected faults map to the right error classes; auth and tokens behave - once per wire protocol.

Where a protocol legitimately differs the difference is written down in a table here
instead of being skipped: OpenTrack sends its user name and password with every request,
so it has no bearer token to renew (an expiry is the DMS refusing the credentials, see
:mod:`connectors.opentrack`), and its connector keeps no ``RateLimit-*`` headers.
"""

from __future__ import annotations

import json
import math
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import CUSTOMERS, AuthenticationError, MalformedResponseError, TransientDmsError, connect
from connectors.http import loads_exact
from connectors.protocols import CONSOLE, OPENTRACK, STAR
from connectors.sandbox.testing import connection_settings, running_sandbox
from connectors.vendors import get_profile
from tests.connectors.conftest import PROTOCOL_VENDOR, PROTOCOLS

per_protocol = pytest.mark.parametrize("protocol", PROTOCOLS)
#: protocols that exchange a secret for an expiring bearer token (renewed before expiry and once on a 401)
TOKEN_PROTOCOLS = (CONSOLE, STAR)
#: protocol -> the credential the wrong-secret hint must name
SECRET_NAME = {CONSOLE: "API key", STAR: "client secret", OPENTRACK: "password"}
#: protocol -> whether the connector exposes the DMS's RateLimit-* headers (``dms.transport.last_rate_limit``)
RATE_HEADERS = {CONSOLE: True, STAR: True, OPENTRACK: False}


def first_page(dms, timeout=None):
    """Fetch one page of customers."""
    return next(iter(dms.iter_changes(CUSTOMERS, page_size=10, timeout=timeout)))


@per_protocol
@pytest.mark.parametrize(
    "kind, error",
    [
        ("500", TransientDmsError),
        ("503", TransientDmsError),
        ("429", TransientDmsError),
        ("malformed", MalformedResponseError),
        ("bad_record", MalformedResponseError),
    ],
    ids=["500", "503", "429", "malformed", "bad_record"],
)
def test_injected_fault_maps_to_error_class(kind, error, writer, sandbox):
    dms = writer.dms
    first_page(dms)  # token obtained, connection warm
    sandbox.control.inject_fault(kind, account=writer.code, retry_after=11)
    with pytest.raises(error) as caught:
        first_page(dms)
    assert caught.value.fix_hint
    if kind == "429":
        assert caught.value.retry_after == 11 and caught.value.status == 429
        assert caught.value.vendor_code == f"{writer.prefix}-RATE-LIMITED"
    elif kind in ("500", "503"):
        assert caught.value.retry_after is None and caught.value.status == int(kind)
        assert caught.value.vendor_code == f"{writer.prefix}-SERVER-ERROR"
    if kind == "bad_record":
        assert caught.value.data_type == CUSTOMERS and caught.value.position == 5
        assert caught.value.dms_id and caught.value.dms_id in str(caught.value)
    # the fault is spent: the next call works
    assert len(first_page(dms).records) == 10


@per_protocol
def test_hang_past_the_timeout_is_transient(writer, sandbox):
    dms = writer.dms
    first_page(dms)
    sandbox.control.inject_fault("hang", account=writer.code, hang_seconds=1.5)
    with pytest.raises(TransientDmsError) as caught:
        first_page(dms, timeout=0.3)
    assert caught.value.retry_after is None
    assert len(first_page(dms).records) == 10


@per_protocol
def test_expired_token_is_renewed_once_or_refused_by_design(protocol, writer, sandbox):
    dms = writer.dms
    first_page(dms)
    if protocol in TOKEN_PROTOCOLS:
        before = sandbox.control.token_requests(writer.code)
        sandbox.control.inject_fault("expired_token", account=writer.code)
        assert len(first_page(dms).records) == 10  # renewed once, transparently
        assert sandbox.control.token_requests(writer.code) == before + 1
        # a token that cannot be renewed (the renewed one is refused too) is an authentication error
        sandbox.control.inject_fault("expired_token", count=2, account=writer.code)
    else:  # OpenTrack: no token to renew; the DMS refusing the credentials is an authentication error at once
        sandbox.control.inject_fault("expired_token", account=writer.code)
    with pytest.raises(AuthenticationError) as caught:
        first_page(dms)
    assert caught.value.vendor_code == f"{writer.prefix}-TOKEN-EXPIRED" and caught.value.fix_hint
    if protocol == OPENTRACK:
        assert "OpenTrack user and password under Admin → Locations" in caught.value.fix_hint
    sandbox.control.clear_faults()
    assert len(first_page(dms).records) == 10


@pytest.mark.parametrize("protocol", TOKEN_PROTOCOLS)
def test_short_lived_tokens_are_renewed_before_they_expire(protocol, tmp_path):
    # A 5 s token is inside the connector's 30 s renewal margin, so every call renews first.
    with running_sandbox([("short", "cdk", 20, protocol)], data_dir=tmp_path, token_ttl=5.0) as box:
        with box.connect("short") as dms:
            first_page(dms)
            first_page(dms)
        assert box.control.token_requests("short") == 2


@pytest.mark.parametrize("protocol", TOKEN_PROTOCOLS)
def test_token_that_is_already_expired_is_refused(protocol, tmp_path):
    with running_sandbox([("short", "cdk", 20, protocol)], data_dir=tmp_path, token_ttl=0.0) as box:
        with box.connect("short") as dms:
            # ttl 0: every token is dead on arrival; one renewal, then an authentication error
            with pytest.raises(AuthenticationError):
                first_page(dms)
        assert box.control.token_requests("short") == 2


@per_protocol
def test_wrong_secret_is_an_authentication_error(protocol, writer, sandbox):
    settings = sandbox.settings(writer.code)
    settings["credentials"] = {
        **settings["credentials"],
        **{name: "not-the-key" for name in ("api_key", "client_secret", "password") if name in settings["credentials"]},
    }
    assert settings["credentials"] != sandbox.settings(writer.code)["credentials"]
    with connect(writer.vendor, settings) as dms:
        with pytest.raises(AuthenticationError) as caught:
            first_page(dms)
    assert "API key" in caught.value.fix_hint and SECRET_NAME[protocol] in caught.value.fix_hint


@per_protocol
def test_connection_refused_is_transient(protocol):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = connection_settings(f"http://127.0.0.1:{port}", "x", protocol, "y")
    with connect(PROTOCOL_VENDOR[protocol], settings) as dms:
        assert dms.PROTOCOL == protocol
        with pytest.raises(TransientDmsError):
            first_page(dms, timeout=1)


@per_protocol
def test_rate_limit_headers_and_429(protocol, tmp_path):
    vendor = PROTOCOL_VENDOR[protocol]
    with running_sandbox([("tiny", vendor, 20, protocol)], data_dir=tmp_path, rate_limit=3, rate_window=600) as box:
        with box.connect("tiny") as dms:
            first_page(dms)
            if RATE_HEADERS[protocol]:
                assert dms.transport.last_rate_limit["ratelimit-limit"] == "3"
                assert dms.transport.last_rate_limit["ratelimit-remaining"] == "2"
            first_page(dms)
            first_page(dms)
            with pytest.raises(TransientDmsError) as caught:
                first_page(dms)
    assert caught.value.status == 429 and caught.value.retry_after and caught.value.retry_after > 0
    assert caught.value.vendor_code == f"{get_profile(vendor).code_prefix}-RATE-LIMITED"


# --------------------------------------------------------------------------- reading JSON bodies
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans())
def test_bodies_are_read_exactly_as_the_standard_library_reads_them(value, ascii_only):
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert loads_exact(body) == json.loads(body)
    assert repr(loads_exact(body)) == repr(json.loads(body))  # 1 stays 1, 1.0 stays 1.0


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'{"mileage": 123456789012345678901234567890}', {"mileage": 123456789012345678901234567890}),
        (b"[18446744073709551616, -9223372036854775809]", [18446744073709551616, -9223372036854775809]),
        (b"[9223372036854775807, -9223372036854775808]", [9223372036854775807, -9223372036854775808]),
        (b'{"name": "\\ud800"}', {"name": "\ud800"}),  # a lone surrogate: orjson refuses it
        ('{"name": "Zoë"}'.encode("utf-16"), {"name": "Zoë"}),  # not UTF-8: orjson refuses it
    ],
)
def test_bodies_orjson_would_round_or_refuse_go_through_the_standard_library(body, expected):
    assert loads_exact(body) == expected
    assert type(loads_exact(body)) is type(expected)


def test_nan_is_read_like_the_standard_library_and_junk_is_refused():
    assert math.isnan(loads_exact(b"[NaN]")[0])
    with pytest.raises(ValueError):
        loads_exact(b'{"items": [')
