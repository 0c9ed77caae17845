"""In Chromium, against the sandbox DMS: an advisor walks a customer sync end to end with the
mouse, and an asset sync (customer assignment, fields, confirm, summary) with the keyboard only."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import dms_settings
from tests.e2e.conftest import screenshot, sign_in
from tests.test_sync_wizard import dms_record, person, portal_copy, vehicle_with_owner
from webapp.models import Role, WriteBackMode

pytestmark = pytest.mark.e2e

FOCUSED_NAME = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el.tagName === "MAIN") return "";
  const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
  return (el.getAttribute("aria-label") || label || el.innerText || el.value || "").trim();
}"""


def _at_step(page, heading: str) -> None:
    """Wait until the wizard shows the step and has moved the focus to its heading, where a
    keyboard user continues from (pressing keys before that races the focus move)."""
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.locator("#wizard-step-heading")).to_be_focused()
    expect(page.locator("#wizard-step-heading")).to_have_text(heading)


def _tab_to(page, text: str, limit: int = 80) -> None:
    """Press Tab until the focused element's name starts with ``text`` (keyboard only)."""
    for _ in range(limit):
        if page.evaluate(FOCUSED_NAME).startswith(text):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach {text!r} with Tab (last: {page.evaluate(FOCUSED_NAME)!r})")


def test_customer_sync_end_to_end(live_server, page, make, sandbox):
    location = make.location(
        name="Alpha Motors",
        code="ALPHA",
        **dms_settings(sandbox, "alpha-cdk"),
        write_back_mode=WriteBackMode.PORTAL_AND_DMS,
    )
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor")
    payload = dms_record(
        sandbox,
        "alpha-cdk",
        "customers",
        person,
        last_name="Sample",
        city="Springfield",
        phones=["(217) 555-0123"],
        emails=["Pat.Sample@Example.COM"],
    )
    customer = portal_copy(
        make,
        location,
        "customers",
        payload,
        last_name="Samples",
        city=None,
        phone="+12175550123",
        email="pat.sample@example.com",
    )

    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/customers/{customer.id}")
    page.get_by_role("button", name="Sync with DMS").click()
    expect(page.get_by_role("heading", name="Choose the values to keep")).to_be_visible()
    rows = page.locator("tr[data-field]")
    expect(rows).to_have_count(2)  # last name and city; the phone and e-mail only look different
    expect(page.locator("tr[data-field=city] input[value=dms]")).to_be_checked()  # only the DMS has a city
    page.get_by_role("button", name="Select All DMS").click()
    expect(page.locator("tr[data-field=last_name] input[value=dms]")).to_be_checked()
    page.get_by_role("button", name="Select All Portal").click()
    expect(page.locator("tr[data-field=city] input[value=portal]")).to_be_checked()
    page.locator("tr[data-field=city] input[value=dms]").check()
    screenshot(page, "sync-wizard-customer-fields")
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_role("heading", name="Confirm the changes")).to_be_visible()
    expect(page.locator(".dms-sends")).to_contain_text("Last name")
    expect(page.locator(".portal-changes")).to_contain_text("Springfield")
    screenshot(page, "sync-wizard-customer-confirm")
    page.get_by_role("button", name="Back").click()
    expect(page.locator("tr[data-field=city] input[value=dms]")).to_be_checked()  # Back kept the choices
    expect(page.locator("tr[data-field=last_name] input[value=portal]")).to_be_checked()
    page.get_by_role("button", name="Next", exact=True).click()
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_role("heading", name="Sync applied")).to_be_visible()
    expect(page.locator(".writeback-status")).to_contain_text("Queued")
    screenshot(page, "sync-wizard-customer-summary")
    page.get_by_role("link", name="Close").click()
    page.wait_for_url(f"{live_server}/customers/{customer.id}")
    expect(page.locator(".facts").nth(1)).to_contain_text("Springfield")
    assert page.console_log == [] or not any(m.startswith("error") for m in page.console_log), page.console_log


def test_asset_sync_with_the_keyboard_only(live_server, page, make, sandbox):
    location = make.location(
        name="Beta Trucks", code="BETA", **dms_settings(sandbox, "beta-karmak"), oem_build_data=True
    )
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Kim Keyboard")
    payload = dms_record(sandbox, "beta-karmak", "vehicles", vehicle_with_owner)
    dms_owner = dms_record(sandbox, "beta-karmak", "customers", lambda r: r.dms_id == payload["owner_dms_id"])
    other = dms_record(sandbox, "beta-karmak", "customers", lambda r: r.dms_id != payload["owner_dms_id"])
    portal_owner = portal_copy(make, location, "customers", other)
    portal_copy(make, location, "customers", dms_owner)
    from tests.test_sync_wizard import _set_owner

    asset = portal_copy(
        make,
        location,
        "vehicles",
        payload,
        year=(payload["year"] or 2001) - 1,
        mileage=(payload["mileage"] or 0) + 1234,
        oem_build_data={"year": (payload["year"] or 2001) - 1},
    )
    asset = _set_owner(make, asset, portal_owner.id)

    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/assets/{asset.id}")
    _tab_to(page, "Sync with DMS")
    page.keyboard.press("Enter")
    _at_step(page, "Which customer does this asset belong to?")
    _tab_to(page, "Portal's customer")
    page.keyboard.press("ArrowDown")  # the DMS's customer
    expect(page.locator("#owner-dms")).to_be_checked()
    screenshot(page, "sync-wizard-asset-owner")
    page.keyboard.press("Enter")
    _at_step(page, "Choose the values to keep")
    year = page.locator("tr[data-field=year]")
    expect(year.locator(".oem-locked")).to_be_visible()
    expect(year.locator("input[value=dms]")).to_have_count(0)  # OEM build data wins
    _tab_to(page, "Keep the portal value for Mileage")  # Tab enters the radio group...
    page.keyboard.press("ArrowDown")  # ...and the arrow keys pick the DMS value
    expect(page.locator("tr[data-field=mileage] input[value=dms]")).to_be_checked()
    screenshot(page, "sync-wizard-asset-fields")
    page.keyboard.press("Enter")
    _at_step(page, "Confirm the changes")
    expect(page.locator(".portal-changes")).to_contain_text(dms_owner["last_name"])
    expect(page.locator(".dms-nothing")).to_contain_text("Portal Only")
    _tab_to(page, "Back")
    page.keyboard.press("Enter")
    _at_step(page, "Choose the values to keep")
    expect(page.locator("tr[data-field=mileage] input[value=dms]")).to_be_checked()
    _tab_to(page, "Next")
    page.keyboard.press("Enter")
    _at_step(page, "Confirm the changes")
    _tab_to(page, "Apply")
    page.keyboard.press("Enter")
    _at_step(page, "Sync applied")
    screenshot(page, "sync-wizard-asset-summary")
    _tab_to(page, "Close")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server}/assets/{asset.id}")
    expect(page.locator("#owner-heading + p")).to_contain_text(dms_owner["last_name"])
