"""In Chromium: export a case, watch its related RO numbers arrive from the (sandbox) Karmak
DMS while the page polls, then close it; no CSP violation on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import dms_settings
from tests.e2e.conftest import ARTIFACTS, sign_in
from webapp.models import Role

pytestmark = pytest.mark.e2e


def screenshot(page, name: str) -> None:
    """A screenshot under test-artifacts/ that leaves the page alone (Playwright hides the caret
    with an injected style by default, which the strict CSP reports as a violation)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), caret="initial", animations="allow")


def test_export_watch_related_ros_appear_then_close(live_server, page, make, sandbox, run_jobs):
    loc = make.location(name="Beta Trucks", **dms_settings(sandbox, "beta-karmak"), related_ro_enabled=True)
    advisor = make.user(Role.SERVICE_ADVISOR, loc, name="Avery Advisor")
    asset = make.asset(loc, make.customer(loc), make="Freightliner", model="Cascadia")
    case = make.case(loc, asset, ro_number="100004")
    linked = make.case(loc, asset, ro_number="100005")  # the alternate RO has its own case here

    sign_in(page, live_server, advisor.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases", exact=True).click()
    page.get_by_role("link", name=case.number).click()
    additional = page.locator("#additional-info")
    expect(additional.get_by_text("Fetched from the DMS when the case is exported or closed.")).to_be_visible()

    page.locator(".case-actions").get_by_role("button", name=f"Watch case {case.number}").click()  # htmx swap in place
    expect(page.locator(".case-actions").get_by_role("button", name=f"Unwatch case {case.number}")).to_be_visible()
    page.get_by_role("button", name="Export", exact=True).click()
    expect(additional.get_by_text("Checking the DMS…")).to_be_visible()
    expect(page.locator("#case-information .case-export-summary")).to_contain_text("Sent without an RO summary")
    expect(page.locator("#case-information div:has(> dt:text-is('Watchers')) dd")).to_have_text("Avery Advisor")
    screenshot(page, "case-checking-dms")
    run_jobs()  # the lookup job runs; the polling fragment picks the answer up by itself
    related = additional.locator(".related-ro")
    expect(related).to_have_text(["100005"])
    expect(related.first).to_have_attribute("href", f"/cases/{linked.id}")
    expect(additional.get_by_text("Checking the DMS…")).to_have_count(0)
    screenshot(page, "case-related-ros")

    page.once("dialog", lambda dialog: dialog.accept())  # "Close case …? A closed case cannot be opened again."
    page.get_by_role("button", name="Close case").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Closed")
    expect(additional.get_by_text("Checking the DMS…")).to_be_visible()
    run_jobs()
    expect(additional.locator(".related-ro")).to_have_text(["100005"])
    expect(page.locator("#case-information")).to_contain_text("by Avery Advisor")
    screenshot(page, "case-closed")

    # The optional column in the table, switched on with the column chooser.
    page.get_by_role("link", name="Cases", exact=True).first.click()
    page.get_by_text("Columns", exact=True).click()
    page.get_by_label("Related RO Number(s)").check()
    page.get_by_role("button", name="Save columns").click()
    row = page.locator(f'tr[data-case-id="{case.id}"]')
    expect(row.locator('td[data-column="related_ros"]')).to_have_text("100005")
    page.get_by_label("Search cases").fill("100005")
    expect(page.locator("tbody tr[data-case-id]")).to_have_count(2)  # its own RO, and as a related RO
    screenshot(page, "cases-table-related-column")
    violations = [m for m in page.console_log if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
    assert [m for m in page.console_log if m.startswith("error")] == []
