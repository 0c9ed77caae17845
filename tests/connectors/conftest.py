"""Fixtures for the connector tests: one sandbox DMS (real loopback HTTP) for the session.

Two kinds of parametrisation, so each test varies only what really varies:

* **per protocol** (:data:`PROTOCOLS`, ids ``[console]``, ``[star]``, ``[opentrack]``): the read
  contract, the write contract and the fault mapping are properties of a wire protocol's code
  path, so they run once per protocol. The console and STAR targets are both CDK (which offers
  both), so between ``[console]`` and ``[star]`` only the protocol changes; OpenTrack is
  Dealertrack's only protocol. Use the ``contract`` / ``writer`` fixtures.
* **per vendor** (:data:`VENDOR_DEFAULTS`, ids like ``[reynolds-star]``): what a vendor profile
  offers or refuses (pull types, push modes, writable fields, exports). Each vendor runs on its
  default protocol, so these capability checks cross all three protocols too.

Accounts: ``contract-<vendor>`` (read contract, edited by those tests only) and ``write-<vendor>``
(pushes, faults, conflicts) for each of the eight vendors on its default protocol, plus
``contract-cdk-star`` and ``write-cdk-star``: CDK over its second protocol, STAR.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from connectors.base import DmsConnector
from connectors.protocols import CONSOLE, OPENTRACK, STAR
from connectors.sandbox.testing import running_sandbox
from connectors.vendors import VENDOR_CODES, get_profile

CONTRACT_CUSTOMERS = 120
WRITE_CUSTOMERS = 60

#: Every wire protocol, in the order the per-protocol tests run them.
PROTOCOLS = (CONSOLE, STAR, OPENTRACK)
#: protocol -> the vendor whose accounts run that protocol (CDK offers console and STAR)
PROTOCOL_VENDOR = {CONSOLE: "cdk", STAR: "cdk", OPENTRACK: "dealertrack"}
#: protocol -> (read-contract account, write/fault account)
PROTOCOL_ACCOUNTS = {
    CONSOLE: ("contract-cdk", "write-cdk"),
    STAR: ("contract-cdk-star", "write-cdk-star"),
    OPENTRACK: ("contract-dealertrack", "write-dealertrack"),
}

#: Each vendor on its default protocol, for capability tests: ``@pytest.mark.parametrize("vendor", VENDOR_DEFAULTS)``.
VENDOR_DEFAULTS = [pytest.param(v, id=f"{v}-{get_profile(v).protocols[0]}") for v in VENDOR_CODES]


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A running sandbox with a contract and a write account per vendor, and CDK over STAR."""
    accounts = (
        [(f"contract-{v}", v, CONTRACT_CUSTOMERS) for v in VENDOR_CODES]
        + [(f"write-{v}", v, WRITE_CUSTOMERS) for v in VENDOR_CODES]
        + [("contract-cdk-star", "cdk", CONTRACT_CUSTOMERS, STAR), ("write-cdk-star", "cdk", WRITE_CUSTOMERS, STAR)]
    )
    with running_sandbox(accounts, data_dir=tmp_path_factory.mktemp("sandbox")) as running:
        assert {running.protocols[code] for code, _ in PROTOCOL_ACCOUNTS.values()} == set(PROTOCOLS)
        yield running


@pytest.fixture(autouse=True)
def _no_leftover_faults(request):
    """Disarm faults a failing test may have left armed, so one failure does not cascade."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").control.clear_faults()


@pytest.fixture
def connector_for(sandbox):
    """Factory: a connector for an account code, closed after the test."""
    opened = []

    def make(code: str, timeout: float = 5.0):
        connector = sandbox.connect(code, timeout=timeout)
        opened.append(connector)
        return connector

    yield make
    for connector in opened:
        connector.close()


@dataclass(frozen=True)
class Target:
    """One sandbox account a test drives: its code, vendor, protocol and an open connector."""

    code: str
    vendor: str
    protocol: str
    dms: DmsConnector

    @property
    def prefix(self) -> str:
        """The vendor's error-code prefix (``CDK``, ``DT`` ...)."""
        return get_profile(self.vendor).code_prefix


def _target(sandbox, connector_for, code: str, protocol: str) -> Target:
    dms = connector_for(code)
    # the parametrisation is only worth its id if the account really speaks that protocol
    assert sandbox.protocols[code] == protocol and dms.PROTOCOL == protocol, (code, protocol)
    return Target(code, sandbox.accounts[code], protocol, dms)


@pytest.fixture
def contract(protocol, sandbox, connector_for) -> Target:
    """The read-contract account of ``protocol`` (parametrize the test with ``protocol``)."""
    return _target(sandbox, connector_for, PROTOCOL_ACCOUNTS[protocol][0], protocol)


@pytest.fixture
def writer(protocol, sandbox, connector_for) -> Target:
    """The write/fault account of ``protocol`` (parametrize the test with ``protocol``)."""
    return _target(sandbox, connector_for, PROTOCOL_ACCOUNTS[protocol][1], protocol)
