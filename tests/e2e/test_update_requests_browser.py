"""In Chromium: an advisor fills the Customer Info Update Request form and uploads a
screenshot; a reviewer finds it in the queue, zooms the screenshot and approves it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.factories import screenshot_png
from webapp.models import Role

pytestmark = pytest.mark.e2e


def test_request_with_screenshot_reaches_the_review_queue(live_server, page, make):
    location = make.location(name="Northside Ford", dms_vendor="dealertrack")
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor")
    reviewer = make.user(Role.REVIEWER, None, name="Riley Reviewer")
    customer = make.customer(location, first_name="Dana", last_name="Driver", email="dana.old@example.com")

    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/customers/{customer.id}/update-request")
    expect(page.get_by_role("heading", name="Customer Info Update Request")).to_be_visible()
    expect(page.get_by_text("updates on the customer's next transaction")).to_be_visible()
    # The e-mail input appears once its group is ticked.
    expect(page.get_by_label("E-mail address")).to_be_hidden()
    page.get_by_label("Update e-mail").check()
    page.get_by_label("E-mail address").fill("dana.driver@example.com")
    page.get_by_label("Screenshot of the updated DMS record").set_input_files(
        {"name": "dms-record.png", "mimeType": "image/png", "buffer": screenshot_png((480, 300), (40, 110, 190))}
    )
    page.get_by_label("Note for the admin team (optional)").fill("Customer changed e-mail provider.")
    screenshot(page, "update-request-form")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Update request for Dana Driver submitted")).to_be_visible()
    expect(page.locator(".ur-status")).to_have_text("Pending review")
    expect(page.locator(".ur-zoom img")).to_have_js_property("complete", True)
    assert page.locator(".ur-zoom img").evaluate("img => img.naturalWidth") == 480

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login**")
    sign_in(page, live_server, reviewer.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    row = page.locator("table.ur-queue tbody tr").filter(has_text="Dana Driver")
    expect(row).to_contain_text("Northside Ford")
    expect(row).to_contain_text("E-mail")
    screenshot(page, "update-request-queue")
    row.get_by_role("link", name="Review").click()
    compare = page.locator('tr[data-field="email"]')
    expect(compare.locator(".ur-current")).to_have_text("dana.old@example.com")
    expect(compare.locator(".ur-requested")).to_contain_text("dana.driver@example.com")
    image = page.locator(".ur-zoom img")
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") == 480
    # CSS-only zoom: clicking the image switches to full size and back.
    page.locator(".ur-zoom-label").click()
    expect(page.locator("#ur-zoom-toggle")).to_be_checked()
    screenshot(page, "update-request-review")
    page.get_by_role("button", name="Approve and apply").click()
    expect(page.get_by_text("Approved: E-mail updated for Dana Driver")).to_be_visible()
    expect(page.get_by_text("No requests are waiting for review.")).to_be_visible()

    violations = [m for m in page.console_log if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
    errors = [m for m in page.console_log if m.startswith("error")]
    assert errors == [], errors


def test_hostile_upload_is_explained_on_the_form(live_server, page, make):
    location = make.location(name="Northside Ford", dms_vendor="cdk")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    customer = make.customer(location)
    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/customers/{customer.id}/update-request")
    expect(page.get_by_text("within 24 hours")).to_be_visible()
    page.get_by_label("Update phones").check()
    page.get_by_label("Phone", exact=True).fill("not a phone")
    page.get_by_label("Screenshot of the updated DMS record").set_input_files(
        {"name": "record.png", "mimeType": "image/png", "buffer": b"<html><script>alert(1)</script></html>"}
    )
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#screenshot-error")).to_contain_text("not a PNG, JPEG or WebP image")
    expect(page.locator("#phone-error")).to_contain_text("not a valid phone number")
    expect(page.get_by_label("Phone", exact=True)).to_have_value("not a phone")  # typed values kept
    screenshot(page, "update-request-errors")
