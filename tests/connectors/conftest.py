"""Fixtures for the connector tests: one sandbox DMS (real loopback HTTP) for the session.

Accounts: ``contract-<vendor>`` (read contract, edited by those tests only) and
``write-<vendor>`` (pushes, faults, conflicts) for each of the eight vendors.
"""
from __future__ import annotations

import pytest

from connectors.sandbox.testing import running_sandbox
from connectors.vendors import VENDOR_CODES

CONTRACT_CUSTOMERS = 120
WRITE_CUSTOMERS = 60


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """A running sandbox with a contract and a write account per vendor."""
    accounts = [(f"contract-{v}", v, CONTRACT_CUSTOMERS) for v in VENDOR_CODES] + \
               [(f"write-{v}", v, WRITE_CUSTOMERS) for v in VENDOR_CODES]
    with running_sandbox(accounts, data_dir=tmp_path_factory.mktemp("sandbox")) as running:
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
