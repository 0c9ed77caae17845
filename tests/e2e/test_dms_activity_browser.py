"""DMS Activity in Chromium (seed 003): open the RO, export all Ready payments, watch the
exporting screen's per-receipt progress (two Posted, one Failed with its reason), Finish,
retry the failed receipt and see it Posted; then the History tab and the export summary."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.test_dms_activity import setup_workfile
from webapp.models import PaymentKind, PaymentStatus

pytestmark = pytest.mark.e2e


def test_export_all_ready_payments_one_fails_then_retried(live_server, page, make, sandbox, app, run_jobs):
    location, advisor, workfile = setup_workfile(make, sandbox, dms_repair_id="12345678", dms_customer_id="9876543")
    make.payment(
        workfile,
        amount=Decimal("1000.00"),
        kind=PaymentKind.INSURANCE,
        payer="QUALITY INSURANCE COMPANY",
        method="check",
    )
    make.payment(workfile, amount=Decimal("877.67"), payer="Sharon Turpin")
    make.payment(
        workfile,
        amount=Decimal("1000.00"),
        kind=PaymentKind.INSURANCE,
        payer="QUALITY INSURANCE COMPANY",
        method="check",
    )
    make.payment(
        workfile, amount=Decimal("25.00"), kind=PaymentKind.ADJUSTMENT, payer="Goodwill", status=PaymentStatus.VOID
    )
    sign_in(page, live_server, advisor.email)

    page.goto(f"{live_server}/repair-orders/{workfile.id}")
    page.get_by_role("link", name="DMS Activity").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("12345678 - DMS Activity")
    screenshot(page, "dms-activity-properties")
    # The header keeps a long VIN inside its box; the search buttons show a drawn icon.
    overflowing = page.locator(".dms-header dd").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)"
    )
    assert overflowing == []
    search = page.get_by_role("button", name="Search DMS customers")
    expect(search.locator("svg")).to_be_visible()
    search.click()
    expect(page.locator("#customers-results")).to_contain_text("Customer not listed – export as new customer record")
    screenshot(page, "dms-activity-customer-search")
    page.get_by_role("navigation", name="DMS Activity").get_by_role("link", name="Payments").click()
    rows = page.locator("table.dms-payments tbody tr")
    expect(rows).to_have_count(4)
    expect(page.locator(".dms-export-form")).to_contain_text("3 Ready receipts")
    screenshot(page, "dms-activity-payments-ready")

    page.get_by_role("button", name="Export all Ready payments").click()
    page.wait_for_url(re.compile(r"/payments/exporting\?batch="))
    progress = page.locator("#export-progress")
    expect(progress).to_contain_text("Exporting 3 receipts")
    expect(progress.locator("tbody tr")).to_have_count(3)
    expect(progress.locator('tbody tr[data-status="exporting"]')).to_have_count(3)
    expect(page.get_by_label("0 of 3 receipts done")).to_have_attribute("value", "0")  # the progress bar
    screenshot(page, "dms-activity-exporting")
    # The DMS rejects our credentials for the first receipt (twice: the connector renews once).
    sandbox.control.inject_fault("expired_token", count=2, account="alpha-cdk")
    run_jobs(["pushes"])
    expect(progress).to_contain_text("Export finished: 2 posted, 1 failed.")  # the screen polls by itself
    expect(progress.locator('tbody tr[data-status="posted"]')).to_have_count(2)
    failed_row = progress.locator('tbody tr[data-status="failed"]')
    expect(failed_row).to_have_count(1)
    expect(failed_row.locator(".dms-failure")).not_to_be_empty()
    expect(failed_row).to_contain_text("1,000.00")
    expect(page.get_by_label("3 of 3 receipts done")).to_have_attribute("value", "3")
    screenshot(page, "dms-activity-exporting-finished")

    page.get_by_role("link", name="Finish").click()
    page.wait_for_url(re.compile(r"tab=payments"))
    expect(page.locator('table.dms-payments tbody tr[data-status="posted"]')).to_have_count(2)
    failed = page.locator('table.dms-payments tbody tr[data-status="failed"]')
    expect(failed).to_have_count(1)
    expect(page.get_by_role("button", name="Export all Ready payments")).to_be_disabled()  # nothing Ready left
    screenshot(page, "dms-activity-payments-one-failed")

    failed.get_by_role("button", name="Retry").click()
    page.wait_for_url(re.compile(r"/payments/exporting\?batch="))
    expect(progress.locator("tbody tr")).to_have_count(1)
    run_jobs(["pushes"])
    expect(progress).to_contain_text("Export finished: 1 posted.")
    page.get_by_role("link", name="Finish").click()
    page.wait_for_url(re.compile(r"tab=payments"))
    statuses = page.locator("table.dms-payments tbody tr")
    expect(statuses).to_have_count(4)
    assert [statuses.nth(i).get_attribute("data-status") for i in range(4)] == ["posted"] * 3 + ["void"]
    for i in range(3):
        expect(statuses.nth(i).locator("td").nth(6)).to_have_text(re.compile(r"\S+"))  # reference id shown
    screenshot(page, "dms-activity-payments-all-posted")
    assert sandbox.control.count_created("alpha-cdk")["payments"] == 3  # each posted exactly once

    page.get_by_role("navigation", name="DMS Activity").get_by_role("link", name="History").click()
    history = page.locator("table.dms-history tbody tr")
    expect(history.filter(has_text="Payment posted")).to_have_count(3)
    expect(history.filter(has_text="Payment export failed")).to_have_count(1)
    expect(history.filter(has_text="Payment export retried")).to_have_count(1)
    screenshot(page, "dms-activity-history")
    page.get_by_role("link", name="Print Export Summary").click()
    expect(page.locator(".dms-export-summary-page .dms-header")).to_contain_text("QUALITY INSURANCE COMPANY")
    screenshot(page, "dms-activity-summary")
    page.emulate_media(media="print")
    screenshot(page, "dms-activity-summary-print")
    expect(page.locator("nav").first).to_be_hidden()
    csp_errors = [line for line in page.console_log if "Content Security Policy" in line]
    assert csp_errors == []
