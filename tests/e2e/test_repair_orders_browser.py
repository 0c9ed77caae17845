"""Repair orders in Chromium (issue 18): the list from the menu, a filter applied as you choose it,
the next page, and a pulled RO's page with its lines - at desktop, tablet (768 px) and phone (390 px) widths."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, sign_in
from tests.test_repair_orders import T0, put_mirror, ro
from webapp.models import Role

pytestmark = pytest.mark.e2e


def no_horizontal_overflow(page) -> None:
    """Nothing wider than the window: no sideways scrolling on a phone."""
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), wide


def test_list_filter_and_ro_page(live_server, page, app, make):
    location = make.location(name="Northside Ford", code="NSFB", brands=["Ford", "Lincoln"])
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Amy Advisor", advisor_dms_id="A1")
    put_mirror(
        app,
        location,
        "vehicles",
        [
            {"dms_id": "V1", "vin": "1FTFW1ET5DFC10312", "year": 2019, "make": "Ford", "model": "F-150"},
            {"dms_id": "V2", "vin": "5LMJJ2LT1LEL00001", "year": 2020, "make": "Lincoln", "model": "Navigator"},
        ],
    )
    put_mirror(
        app,
        location,
        "repair_orders",
        [
            ro(
                f"8{i:03d}",
                T0 + timedelta(hours=i),
                advisor_dms_id="A1",
                vehicle_dms_id="V2" if i % 5 == 0 else "V1",
                status="closed" if i % 3 == 0 else "open",
            )
            for i in range(60)
        ]
        + [
            ro(
                "9001",
                T0 + timedelta(days=30),
                advisor_dms_id="A1",
                vehicle_dms_id="V2",
                lines=[
                    {
                        "line_number": 1,
                        "opcode": "WAR1",
                        "description": "Warranty repair of the tailgate actuator",
                        "pay_type": "warranty",
                        "labor_hours": "2.0",
                        "labor_amount": "300.00",
                        "parts_amount": "120.50",
                    },
                    {
                        "line_number": 2,
                        "opcode": "LOF",
                        "description": "Oil change",
                        "pay_type": "customer",
                        "labor_hours": "0.5",
                        "labor_amount": "40.00",
                        "parts_amount": "29.95",
                    },
                ],
            )
        ],
    )
    sign_in(page, live_server, advisor.email)

    page.get_by_role("navigation").get_by_role("link", name="Repair orders").click()
    page.wait_for_url(re.compile(r"/repair-orders/all$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Repair orders at Northside Ford")
    rows = page.locator("tr.ro-row")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-number", "9001")
    expect(rows.first.locator(".ro-source")).to_have_text("Pulled from the DMS")
    screenshot(page, "repair-orders-list")

    # A filter applies as soon as it is chosen (live region), and the address bar keeps it.
    page.get_by_label("Brand").select_option("Lincoln")
    expect(rows).to_have_count(13)  # 12 of the 60 + 9001
    expect(page).to_have_url(re.compile(r"brand=Lincoln"))
    for i in range(13):
        expect(rows.nth(i).locator('td[data-label="Brand"]')).to_have_text("Lincoln")
    expect(page.locator("nav.pager")).to_contain_text("End of the list.")
    screenshot(page, "repair-orders-filtered")

    # Back to everything, then the second page.
    page.get_by_label("Brand").select_option("")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(11)
    expect(page.locator("nav.pager")).to_contain_text("End of the list.")

    # Search by RO number and open its page.
    page.goto(f"{live_server}/repair-orders/all")
    page.get_by_label("Search").fill("9001")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("link", name="9001").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Repair order 9001")
    lines = page.locator("tr.ro-line")
    expect(lines).to_have_count(2)
    expect(lines.first).to_contain_text("Warranty repair of the tailgate actuator")
    expect(page.locator('.ro-pay-totals [data-pay-type="warranty"] dd')).to_have_text("420.50")
    expect(page.locator(".vendor-note")).to_contain_text("consolidated")
    expect(page.get_by_role("button", name="Open DMS Activity")).to_be_visible()
    screenshot(page, "repair-order-page")

    for width, name in ((768, "tablet"), (390, "phone")):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server}/repair-orders/dms/D9001")
        expect(lines).to_have_count(2)
        no_horizontal_overflow(page)
        screenshot(page, f"repair-order-page-{name}")
        page.goto(f"{live_server}/repair-orders/all")
        expect(rows).to_have_count(50)
        no_horizontal_overflow(page)
        screenshot(page, f"repair-orders-list-{name}")

    # The DMS Activity button posts (with its CSRF token) and lands on the RO's DMS Activity.
    page.goto(f"{live_server}/repair-orders/dms/D9001")
    page.get_by_role("button", name="Open DMS Activity").click()
    page.wait_for_url(re.compile(r"/repair-orders/\d+/dms-activity"))
    assert not [m for m in page.console_log if "Content Security Policy" in m]
