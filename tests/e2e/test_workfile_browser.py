"""Seed 003 from the start in Chromium: "New repair order" on the customer page, the new
workfile's DMS Activity, link it to the DMS's RO by number (looked up live), a receipt refused
then saved, one voided with a reason, export for real (Posted), the History tab, and the
printed export summary - at desktop width, then the same pages at 390 px and 768 px."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.test_workfiles import an_open_ro, shop

pytestmark = pytest.mark.e2e


def test_new_repair_order_to_printed_export_summary(live_server, page, make, sandbox, app, run_jobs):
    location, advisor, customer, car, truck = shop(make, sandbox)
    ro = an_open_ro(sandbox)
    sign_in(page, live_server, advisor.email)

    # 1. From the customer page: New repair order.
    page.goto(f"{live_server}/customers/{customer.id}")
    page.get_by_role("link", name="New repair order").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New repair order")
    page.get_by_label("Vehicle", exact=True).select_option(str(car.id))
    page.get_by_label("Insurer").fill("QUALITY INSURANCE COMPANY")
    page.get_by_label("Estimate total ($)").fill("2877.67")
    screenshot(page, "workfile-new")
    page.get_by_role("button", name="Create repair order").click()
    page.wait_for_url(re.compile(r"/dms-activity\?tab=properties"))
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^WF-\d+ - DMS Activity$"))
    expect(page.locator(".dms-header-total")).to_have_text("$2,877.67")
    expect(page.locator(".dms-header-insurer")).to_have_text("QUALITY INSURANCE COMPANY")

    # 2. Properties: link it to the RO the DMS already has (a wrong number first).
    page.get_by_label("DMS RO number").fill("NO-SUCH-RO")
    page.get_by_role("button", name="Look up and link").click()
    expect(page.locator("#ro_number-error")).to_contain_text("The DMS has no repair order NO-SUCH-RO.")
    expect(page.get_by_label("DMS RO number")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("DMS RO number").fill(ro.ro_number)
    page.get_by_role("button", name="Look up and link").click()
    expect(page.locator(".flashes")).to_contain_text(f"Linked to DMS repair order {ro.ro_number}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{ro.ro_number} - DMS Activity")
    expect(page.get_by_label("DMS Repair ID")).to_have_value(ro.ro_number)
    screenshot(page, "workfile-linked")

    # 3. Payments: a future date is refused on its field, then two receipts saved.
    page.get_by_role("navigation", name="DMS Activity").get_by_role("link", name="Payments").click()
    page.get_by_text("Add a receipt").click()
    page.get_by_label("Receipt type").select_option("insurance")
    page.get_by_label("Amount ($)").fill("1000.00")
    page.get_by_label("Payer", exact=True).fill("QUALITY INSURANCE COMPANY")
    page.get_by_label("Method", exact=True).select_option("check")
    page.get_by_label("Reference", exact=True).fill("Check 20931")
    # "Today" is the location's: between midnight UTC and the location's midnight they differ.
    today = datetime.now(ZoneInfo(location.timezone)).date()
    page.get_by_label("Received on").fill((today + timedelta(days=5)).isoformat())
    page.get_by_role("button", name="Save receipt").click()
    expect(page.locator("#received_on-error")).to_contain_text("cannot be in the future")
    expect(page.get_by_label("Reference", exact=True)).to_have_value("Check 20931")  # nothing typed is lost
    page.get_by_label("Received on").fill(today.isoformat())
    page.get_by_role("button", name="Save receipt").click()
    expect(page.locator(".flashes")).to_contain_text("Receipt of $1,000.00 saved (Ready).")
    page.get_by_text("Add a receipt").click()
    page.get_by_label("Amount ($)").fill("40.00")
    page.get_by_label("Method", exact=True).select_option("cash")
    page.get_by_role("button", name="Save receipt").click()
    expect(page.locator("table.dms-payments tbody tr")).to_have_count(2)

    # Void the second with a reason.
    row = page.locator("table.dms-payments tbody tr").nth(1)
    row.locator("summary").click()
    row.get_by_label("Reason for voiding").fill("Entered by mistake")
    page.once("dialog", lambda dialog: dialog.accept())  # "Void the receipt of …?"
    row.get_by_role("button", name="Void receipt").click()
    expect(page.locator('table.dms-payments tbody tr[data-status="void"]')).to_contain_text("Entered by mistake")

    # Export the Ready one for real; it is Posted.
    page.get_by_role("button", name="Export all Ready payments").click()
    page.wait_for_url(re.compile(r"/payments/exporting\?batch="))
    run_jobs(["pushes"])
    expect(page.locator("#export-progress")).to_contain_text("Export finished: 1 posted")
    page.get_by_role("link", name="Finish").click()
    expect(page.locator('table.dms-payments tbody tr[data-status="posted"]')).to_contain_text("1,000.00")
    screenshot(page, "workfile-payments")

    # 4. History, then Print Export Summary.
    page.get_by_role("navigation", name="DMS Activity").get_by_role("link", name="History").click()
    history = page.locator("table.dms-history")
    for text in (
        "Workfile created",
        "Linked to the DMS repair order",
        "DMS Repair ID added",
        "Payment posted",
        "Receipt voided",
        "Reason: Entered by mistake",
    ):
        expect(history).to_contain_text(text)
    page.get_by_role("link", name="Print Export Summary").click()
    expect(page.locator("body")).to_contain_text(ro.ro_number)
    expect(page.locator("body")).to_contain_text("Payment posted")
    screenshot(page, "workfile-export-summary")
    summary_url = page.url

    # The pages fit a phone and a tablet.
    for width in (390, 768):
        page.set_viewport_size({"width": width, "height": 900})
        for path in (
            f"/repair-orders/new/customer/{customer.id}",
            page_url_tab(summary_url, "payments"),
            page_url_tab(summary_url, "properties"),
            summary_url.replace(live_server, ""),
        ):
            page.goto(path if path.startswith("http") else f"{live_server}{path}")
            # Nothing in the page's content sticks out (tables scroll inside their own box).
            wide = page.evaluate(
                """w => [...document.querySelectorAll('main *')]
                .filter(e => !e.closest('.table-scroll, table') && e.getBoundingClientRect().right > w + 1)
                .map(e => e.tagName + '.' + e.className)""",
                width,
            )
            assert wide == [], (width, path, wide)
        screenshot(page, f"workfile-summary-{width}")
    # The two refused forms answered 422 on purpose (the browser logs those); nothing else failed.
    assert not [m for m in page.console_log if m.startswith("error") and "422" not in m], page.console_log


def page_url_tab(summary_url: str, tab: str) -> str:
    """The DMS Activity tab next to the summary page."""
    return summary_url.replace("/dms-activity/summary", f"/dms-activity?tab={tab}")
