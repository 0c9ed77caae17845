"""At a phone's width (390 px) wide tables scroll inside their own box (``.table-wrap``) instead
of widening the page: Admin → Users, Integration health and the webhook deliveries of External
Interfaces. Before, the first two scrolled the whole page sideways (scrollWidth 794 / 792)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot, sign_in
from webapp.models import Role, RunStatus

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def phone(browser):
    """A page in a 390 px wide window."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def page_width(page) -> int:
    """How wide the document is: more than the window means the page scrolls sideways."""
    return page.evaluate("document.documentElement.scrollWidth")


def assert_fits(page, name: str) -> None:
    screenshot(page, name)
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert page_width(page) <= PHONE["width"], wide
    # The table is still all there: its box scrolls.
    assert page.evaluate("[...document.querySelectorAll('.table-wrap')].some(w => w.scrollWidth > w.clientWidth)")


def test_admin_users_fits_a_phone(live_server, phone, make):
    location = make.location(name="Northside Ford", code="NSF")
    admin = make.user(Role.GLOBAL_ADMIN, None, name="Ada Admin")
    for n in range(3):
        make.user(
            Role.SERVICE_ADVISOR,
            location,
            name=f"Advisor Number {n}",
            email=f"a.very.long.address.number{n}@northside-ford-dealership.example.test",
            advisor_dms_id=f"A{n}",
        )
    sign_in(phone, live_server, admin.email)
    phone.goto(f"{live_server}/admin/users")
    assert phone.locator("table caption").first.inner_text() == "All users"
    assert_fits(phone, "review-d-admin-users-390")


def test_integration_health_fits_a_phone(live_server, phone, make):
    location = make.location(name="Northside Ford", code="NSF")
    for data_type in ("customers", "vehicles", "repair_orders"):
        make.sync_run(location, data_type=data_type)
    make.sync_run(
        location,
        data_type="appointments",
        status=RunStatus.FAILED,
        error="The DMS refused the sign-in: check the account's credentials under Admin → Locations.",
    )
    manager = make.user(Role.SERVICE_MANAGER, location)
    sign_in(phone, live_server, manager.email)
    phone.goto(f"{live_server}/integrations/")
    assert phone.locator("table.health").count() == 1
    assert_fits(phone, "review-d-integration-health-390")


def test_webhook_deliveries_fit_a_phone(live_server, phone, make, app):
    from webapp.settings.webhook_setup import record_delivery

    location = make.location(
        name="Gamma Reynolds",
        code="GAMMA",
        dms_vendor="reynolds",
        dms_base_url="https://dms.example.com/api",
        webhook_secret="set-for-this-test",
    )
    with app.app_context():
        record_delivery(
            location.id,
            "bad_signature",
            401,
            event_id="evt-" + "x" * 60,
            data_type="customers",
            detail="The signature does not match the body: check the secret the DMS was given.",
        )
    manager = make.user(Role.SERVICE_MANAGER, location)
    sign_in(phone, live_server, manager.email)
    phone.goto(f"{live_server}/settings/external-interfaces")
    assert phone.locator("#webhook tr.delivery").count() == 1
    assert page_width(phone) <= PHONE["width"]
    screenshot(phone, "review-d-webhook-deliveries-390")
