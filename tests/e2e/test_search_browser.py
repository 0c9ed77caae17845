"""Customer search in Chromium: live results as you type, the DMS tab, adding a DMS-only
customer and finding it in the Portal tab with its Last Synced badge."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import dms_settings
from tests.e2e.conftest import screenshot, sign_in
from tests.test_customers import put_in_mirror
from webapp.models import Role

pytestmark = pytest.mark.e2e


def test_search_then_add_from_the_dms_tab(live_server, page, make, app, sandbox):
    loc = make.location(name="Alpha Motors", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    make.customer(loc, first_name="Quentin", last_name="Portalworth", phone="(217) 555-0142", dms_id=None)
    with sandbox.connect("alpha-cdk") as dms:
        records = next(dms.iter_changes("customers", page_size=40)).records
    dms_only = [c for c in records if c.kind == "person" and c.first_name and c.last_name][0]
    put_in_mirror(app, loc.id, "customers", [dms_only])

    sign_in(page, live_server, advisor.email)
    page.goto(f"{live_server}/customers")
    results = page.locator("#results")

    # Live results as you type (no Enter), and the search lands in the address bar.
    page.get_by_label("Search customers").press_sequentially("portalw", delay=40)
    expect(results.get_by_role("link", name="Quentin Portalworth")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/customers\?q=portalw"))
    expect(results.get_by_role("status")).to_have_text(re.compile("1 match"))
    screenshot(page, "search-live-results")

    # The DMS customer is not in the portal yet...
    search = page.get_by_label("Search customers")
    search.fill(dms_only.last_name)
    expect(results.get_by_role("status")).to_contain_text("No matches")
    # ...but the DMS tab has it; typing there keeps searching the DMS.
    results.get_by_role("link", name="DMS", exact=True).click()
    expect(results.get_by_role("link", name="DMS", exact=True)).to_have_attribute("aria-current", "page")
    search.fill(f"{dms_only.last_name} {dms_only.first_name[:3]}")
    # Wait for the debounced search itself (the URL already said tab=dms before it ran).
    expect(page).to_have_url(re.compile(rf"q={dms_only.last_name}(\+|%20){dms_only.first_name[:3]}.*tab=dms"))
    row = results.locator(f'tr[data-dms-id="{dms_only.dms_id}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("DMS only")
    screenshot(page, "search-dms-tab")

    row.get_by_role("button", name=re.compile(r"^Add .* to the portal$")).click()
    expect(page.locator("#add-panel")).to_contain_text("added to the portal")
    # The results refresh by themselves: the row is now "Already in portal".
    expect(row.get_by_role("button", name="Already in portal")).to_be_disabled()
    screenshot(page, "search-dms-added")

    # The Portal tab lists the new customer with its Last Synced badge.
    results.get_by_role("link", name="Portal", exact=True).click()
    expect(results.get_by_role("link", name="Portal", exact=True)).to_have_attribute("aria-current", "page")
    portal_row = results.locator("tbody tr").filter(has=page.get_by_role("link", name=dms_only.last_name))
    expect(portal_row).to_have_count(1)
    badge = portal_row.locator("[data-band=recent]")
    expect(badge).to_contain_text("Synced today")
    expect(badge).to_have_attribute("title", re.compile("^Last synced "))
    screenshot(page, "search-portal-with-badge")

    # Opening a result replaces the page (a boosted link must not load into the results region).
    portal_row.get_by_role("link", name=dms_only.last_name).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(dms_only.last_name)
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("#results")).to_have_count(0)

    violations = [m for m in page.console_log if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
