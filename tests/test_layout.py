"""The layout: navigation by role, htmx set-up, security headers, error pages and toasts."""

from __future__ import annotations

import json

import pytest

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.models import Role

EXPECTED_NAV = {
    Role.GLOBAL_ADMIN: {
        "Home",
        "Customers",
        "Assets",
        "Appointments",
        "Cases",
        "Repair orders",
        "My requests",
        "Review queue",
        "Integration health",
        "Failed pushes",
        "Advisors",
        "External Interfaces",
        "Users",
        "Locations",
        "Job queues",
        "Audit log",
    },
    Role.SERVICE_MANAGER: {
        "Home",
        "Customers",
        "Assets",
        "Appointments",
        "Cases",
        "Repair orders",
        "My requests",
        "Integration health",
        "Failed pushes",
        "Advisors",
        "External Interfaces",
    },
    Role.SERVICE_ADVISOR: {"Home", "Customers", "Assets", "Appointments", "Cases", "Repair orders", "My requests"},
    Role.FIELD_MANAGER: {"Home", "Cases"},
    Role.REVIEWER: {"Home", "Review queue"},
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_navigation_shows_what_the_role_may_use(client, auth, world, role):
    auth.login(world["users"][role].email, PASSWORD)
    page = soup(client.get("/"))
    labels = {a.text.strip() for a in page.select("nav.nav a")}
    assert labels == EXPECTED_NAV[role]
    for link in page.select("nav.nav a"):
        assert client.get(link["href"]).status_code == 200


def test_htmx_is_vendored_and_configured_for_strict_csp(client):
    page = soup(client.get("/login"))
    scripts = [s["src"] for s in page.select("script[src]")]
    assert any(src.split("?")[0].endswith("/static/vendor/htmx-2.0.11.min.js") for src in scripts)
    assert not page.select("script:not([src])"), "no inline scripts"
    assert not [el for el in page.find_all(True) if any(a.startswith("hx-on") for a in el.attrs)]
    config = json.loads(page.select_one('meta[name="htmx-config"]')["content"])
    assert config["allowEval"] is False and config["allowScriptTags"] is False
    assert config["includeIndicatorStyles"] is False and config["historyCacheSize"] == 0
    assert any(rule["code"] == "422" and rule["swap"] for rule in config["responseHandling"])
    assert page.body["hx-boost"] == "true"
    assert client.get(scripts[0]).status_code == 200


def test_security_headers(client, auth, make):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "HX-Request" in response.headers["Vary"]
    assert "Strict-Transport-Security" not in response.headers
    auth.login(make.user(Role.SERVICE_ADVISOR, make.location()).email, PASSWORD)
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_hsts_and_secure_cookie_under_https(app, make):
    from webapp import create_app

    https_app = create_app({**app.config, "PREFERRED_URL_SCHEME": "https", "SESSION_COOKIE_SECURE": True})
    response = https_app.test_client().get("/login")
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_404_page_and_toast(client, auth, make):
    auth.login(make.user(Role.SERVICE_ADVISOR, make.location()).email, PASSWORD)
    page = client.get("/no-such-page")
    assert page.status_code == 404 and soup(page).select_one("h1").text == "Not found"
    fragment = client.get("/no-such-page", htmx=True)
    assert fragment.status_code == 404 and fragment.get_data() == b""
    assert json.loads(fragment.headers["HX-Trigger"])["showToast"]["level"] == "error"
    boosted = client.get("/no-such-page", htmx=True, headers={"HX-Boosted": "true"})
    assert soup(boosted).select_one("h1").text == "Not found"  # boosted navigation gets the page


def test_403_page(client, auth, make):
    auth.login(make.user(Role.SERVICE_ADVISOR, make.location()).email, PASSWORD)
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "Your role does not allow this" in response.get_data(as_text=True)


def test_500_is_a_page_not_a_traceback(app):
    """An unexpected error renders the error page (and a toast for htmx), never a traceback."""
    from tests.conftest import CsrfClient
    from webapp import create_app
    from webapp.permissions import public

    fresh = create_app({**app.config, "PROPAGATE_EXCEPTIONS": False})

    @public
    def explode():
        raise RuntimeError("boom")

    fresh.add_url_rule("/__explode", "explode_for_test", explode)
    fresh.test_client_class = CsrfClient
    client = fresh.test_client()
    response = client.get("/__explode")
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)
    assert "Something went wrong" in response.get_data(as_text=True)
    assert client.get("/__explode", htmx=True).headers["HX-Reswap"] == "none"


def test_every_input_has_a_label(client, auth, world):
    auth.login(world["users"][Role.GLOBAL_ADMIN].email, PASSWORD)
    pages = [
        "/",
        "/admin/users",
        "/admin/users/new",
        f"/admin/users/{world['users'][Role.SERVICE_ADVISOR].id}/edit",
        "/admin/locations",
        "/admin/locations/new",
        f"/admin/locations/{world['a'].id}/edit",
        "/settings/external-interfaces",
        "/account/password",
    ]
    for url in pages:
        page = soup(client.get(url))
        for control in page.select("input:not([type=hidden]), select, textarea"):
            control_id = control.get("id")
            labelled = (control_id and page.select_one(f'label[for="{control_id}"]')) or control.get("aria-label")
            assert labelled, f"{url}: {control} has no label"
    client.post("/logout")
    page = soup(client.get("/login"))
    assert page.select_one('label[for="email"]') and page.select_one('label[for="password"]')
