"""Every page works at a phone's (390 px) and a tablet's (768 px) width (issue 19, item 20): the page never
scrolls sideways, the navigation stays on screen and legible, and the search results keep Last Synced in
view. Before: Customers search 767 px wide at 390, Assets search 871 px at both widths, Failed pushes
679 px at 390 (the dark top bar ended at 390, so the menu sat white on white once scrolled)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot, sign_in
from webapp.models import Role

pytestmark = pytest.mark.e2e

WIDTHS = (390, 768)
LONG_EMAIL = "a.very.long.address.for.testing@northside-ford-dealership.example.test"


@pytest.fixture()
def narrow(browser, request):
    """Pages in a window of each width."""
    contexts = []

    def open_page(width: int):
        context = browser.new_context(viewport={"width": width, "height": 844})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture()
def shop(make):
    """A location with customers, assets (long e-mails, VINs, units, plates) and a refused push."""
    location = make.location(name="Northside Ford", code="NSF")
    customers = [
        make.customer(
            location, first_name="Alexandria", last_name=f"Montgomery-Fitzgerald{n}", email=f"{n}.{LONG_EMAIL}"
        )
        for n in range(3)
    ]
    for n, customer in enumerate(customers):
        make.asset(
            location, customer, unit_number=f"UNIT-{n:05d}", license_plate=f"PLT{n:04d}X", model="F-150 Super Duty"
        )
    appointment = make.appointment(
        location, customers[0], advisor=make.user(Role.SERVICE_ADVISOR, location, name="Avery Advisor")
    )
    make.failed_push(location, appointment)
    manager = make.user(Role.SERVICE_MANAGER, location, name="Morgan Manager")
    return {"location": location, "customers": customers, "manager": manager}


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def assert_fits(page, width: int, name: str) -> None:
    screenshot(page, name)
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert page_width(page) <= width, (name, page_width(page), wide)
    assert page.evaluate("window.innerWidth") == width


def assert_nav_legible(page, width: int) -> None:
    """Every menu link is on screen, inside the dark bar (so white text on dark, not white on white)."""
    links = page.locator("nav.nav a")
    assert links.count() >= 3
    bar = page.locator("header.topbar").bounding_box()
    assert bar["x"] <= 0 and bar["width"] >= width - 1
    for i in range(links.count()):
        link = links.nth(i)
        assert link.is_visible()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (link.inner_text(), box)
        assert box["y"] + box["height"] <= bar["y"] + bar["height"], link.inner_text()


def assert_last_synced_visible(page, width: int) -> None:
    header = page.locator("table.results-table thead th", has_text="Last Synced")
    assert header.is_visible()
    box = header.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    badge = page.locator("table.results-table tbody tr").first.locator("[data-band]")
    badge_box = badge.bounding_box()
    assert badge.is_visible() and badge_box["x"] + badge_box["width"] <= width, badge_box


@pytest.mark.parametrize("width", WIDTHS)
def test_search_pages_fit(live_server, narrow, shop, width):
    page = narrow(width)
    sign_in(page, live_server, shop["manager"].email)
    for area, query in (("customers", "Montgomery"), ("assets", "Montgomery")):
        page.goto(f"{live_server}/{area}?q={query}")
        assert page.locator("table.results-table tbody tr").count() == 3
        assert_fits(page, width, f"looks-{area}-search-{width}")
        assert_nav_legible(page, width)
        assert_last_synced_visible(page, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_sync_wizard_fits(live_server, narrow, shop, width):
    page = narrow(width)
    sign_in(page, live_server, shop["manager"].email)
    page.goto(f"{live_server}/customers/{shop['customers'][0].id}/sync")
    assert page.locator("h1").inner_text().startswith("Sync with DMS")
    assert_fits(page, width, f"looks-sync-wizard-{width}")
    assert_nav_legible(page, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_integration_health_fits(live_server, narrow, make, shop, width):
    for data_type in ("customers", "vehicles", "repair_orders"):
        make.sync_run(shop["location"], data_type=data_type)
    page = narrow(width)
    sign_in(page, live_server, shop["manager"].email)
    page.goto(f"{live_server}/integrations/")
    assert_fits(page, width, f"looks-integration-health-{width}")
    assert_nav_legible(page, width)
    # Each row's action cell lines up with its row (it was a flex box out of line with the row's cells).
    rows = page.locator("table.health tbody tr").all()
    assert rows
    for row in rows:
        head, actions = row.locator("th").bounding_box(), row.locator("td.actions").bounding_box()
        assert abs(head["y"] - actions["y"]) <= 1, (head, actions)
        assert row.locator("td.actions").evaluate("e => getComputedStyle(e).display") == "table-cell"
    if width == 768:
        # A tablet shows the whole table: its box does not scroll.
        wrap = page.locator("#health .table-wrap").first
        assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth")


@pytest.mark.parametrize("width", WIDTHS)
def test_failed_pushes_fit(live_server, narrow, shop, width):
    page = narrow(width)
    sign_in(page, live_server, shop["manager"].email)
    page.goto(f"{live_server}/integrations/failed/")
    assert page.locator("tr.failed-push").count() == 1
    assert_fits(page, width, f"looks-failed-pushes-{width}")
    assert_nav_legible(page, width)
    # Retry and Dismiss are on screen, not cut off inside a scrolling box.
    for name in ("Retry", "Dismiss"):
        box = page.get_by_role("button", name=name).bounding_box()
        assert box["x"] + box["width"] <= width, (name, box)


@pytest.mark.parametrize("width", WIDTHS)
def test_case_numbers_stay_whole(live_server, narrow, make, shop, width):
    location = shop["location"]
    asset = make.asset(location, shop["customers"][0])
    for _ in range(3):
        make.case(location, asset)
    page = narrow(width)
    sign_in(page, live_server, shop["manager"].email)
    page.goto(f"{live_server}/cases")
    assert_fits(page, width, f"looks-cases-{width}")
    cells = page.locator("td.case-number").all()
    assert len(cells) == 3
    for cell in cells:
        box = cell.locator("a").bounding_box()
        assert box["height"] < 30, ("the case number broke over two lines", cell.inner_text(), box)
