"""Sign in through the real form in Chromium; no CSP violation anywhere on the way."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.factories import PASSWORD
from webapp.models import Role

pytestmark = pytest.mark.e2e


def test_login_through_the_form_lands_on_home(live_server, page, make):
    loc = make.location(name="Northside Ford")
    user = make.user(Role.SERVICE_MANAGER, loc, name="Morgan Manager")
    page.goto(f"{live_server}/")
    assert page.url.endswith("/login?next=%2F") or "/login" in page.url
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome, Morgan Manager"
    assert page.get_by_text("Northside Ford").first.is_visible()
    screenshot(page, "home-manager")


def test_wrong_password_is_explained_in_place(live_server, page, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert").filter(has_text="incorrect")
    alert.wait_for()
    assert page.get_by_label("E-mail").input_value() == user.email  # nothing typed is lost
    screenshot(page, "login-error")


def test_no_csp_violation_on_any_page(live_server, page, make):
    """Walk every page of an admin's navigation, boosted and not; the console log stays clean."""
    make.location(name="Alpha Motors")
    make.location(name="Beta Trucks")
    admin = make.user(Role.GLOBAL_ADMIN, email="admin@example.test", name="Alex Admin")
    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(admin.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    for label in ["Users", "Locations", "External Interfaces", "Home"]:
        link = page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True)
        link.click()
        # The boosted swap has landed when the new page marks this link as current.
        expect(
            page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True)
        ).to_have_attribute("aria-current", "page")
    page.get_by_label("Location", exact=True).select_option(label="Beta Trucks")
    page.get_by_role("button", name="Switch").click()
    page.get_by_text("You are now working in Beta Trucks").wait_for()
    page.goto(f"{live_server}/admin/users/new")
    page.get_by_role("button", name="Save user").click()  # htmx 422 swap of an invalid form
    page.locator("#name-error").wait_for()
    screenshot(page, "user-form-errors")
    violations = [m for m in page.console_log if "Content Security Policy" in m or "Refused to" in m]
    assert violations == [], violations
    errors = [m for m in page.console_log if m.startswith("error") and "status of 422" not in m]
    assert errors == [], errors
