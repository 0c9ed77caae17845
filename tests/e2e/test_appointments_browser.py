"""Book an appointment in Chromium with no opcode: see the inline fix, pick an opcode from the
searchable list, save, and watch the push status turn to sent."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.test_pushes import advisor, connected_location, created, dms_customer, pull_opcodes

pytestmark = pytest.mark.e2e


def test_missing_opcode_is_fixed_inline_then_sent(live_server, page, make, sandbox, app, run_jobs):
    location = connected_location(make, sandbox)
    pull_opcodes(app, run_jobs, location)
    adv = advisor(make, location, name="Priya Shah")
    customer = dms_customer(make, sandbox, location)
    sign_in(page, live_server, adv.email)
    page.goto(f"{live_server}/appointments/new?customer_id={customer.id}")
    page.get_by_role("button", name="Book appointment").click()
    findings = page.locator("#preflight-findings")
    expect(findings).to_contain_text("No opcode and no notes")
    expect(page.locator("#opcodes-error")).to_contain_text("Add at least one opcode")
    screenshot(page, "appointment-preflight")
    page.get_by_label("Search the opcode list").fill("brake")
    expect(page.locator("#opcode-options")).to_contain_text("Front brake pads")
    expect(page.locator("#opcode-options")).not_to_contain_text("Tire rotation")
    page.get_by_label(re.compile("BRKF")).check()
    page.get_by_role("button", name="Book appointment").click()
    page.wait_for_url(re.compile(r"/appointments/\d+$"))
    expect(page.locator("#push-status")).to_contain_text("Pending")
    run_jobs(["pushes"])
    expect(page.locator("#push-status")).to_contain_text("Sent to DMS")
    screenshot(page, "appointment-sent")
    assert created(sandbox) == 1
