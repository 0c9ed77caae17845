"""Every state-changing route refuses a request without a valid CSRF token."""

from __future__ import annotations

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.routes_catalogue import CSRF_EXEMPT, STATE_CHANGING, app_routes, build_url
from webapp.models import Role


def test_state_changing_routes_need_csrf(app, client, auth, world):
    auth.login(world["users"][Role.GLOBAL_ADMIN].email, PASSWORD)
    checked = 0
    for rule, method in app_routes(app):
        if method not in STATE_CHANGING or rule.endpoint in CSRF_EXEMPT:
            continue
        url = build_url(app, rule, world)
        response = client.open(url, method=method, csrf=False, data={"anything": "x"})
        assert response.status_code == 400, (rule.endpoint, method, response.status_code)
        assert "expired" in response.get_data(as_text=True)
        forged = client.open(url, method=method, csrf=False, headers={"X-CSRFToken": "forged"})
        assert forged.status_code == 400, (rule.endpoint, method)
        assert "expired" in forged.get_data(as_text=True), (rule.endpoint, method)
        checked += 1
    # Every state-changing route was walked (login, logout, password, switch, admin forms, settings...).
    expected = [
        (rule.endpoint, method)
        for rule, method in app_routes(app)
        if method in STATE_CHANGING and rule.endpoint not in CSRF_EXEMPT
    ]
    assert checked == len(expected) >= 5, (checked, len(expected))
    # Still signed in: the refused logout did not sign us out.
    assert client.get("/").status_code == 200


def test_login_form_needs_csrf(client, make):
    """Even sign-in is protected (login CSRF)."""
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    response = client.post("/login", data={"email": user.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400


def test_csrf_expiry_on_htmx_request_is_a_toast(client, auth, make):
    """An htmx request with a stale token gets a readable toast, not a silent failure."""
    loc = make.location()
    auth.login(make.user(Role.SERVICE_MANAGER, loc).email, PASSWORD)
    response = client.post("/settings/external-interfaces", csrf=False, htmx=True, headers={"X-CSRFToken": "stale"})
    assert response.status_code == 400
    assert "Reload the page" in response.headers["HX-Trigger"]
    assert response.headers["HX-Reswap"] == "none"


def test_hx_headers_carry_the_token(client, auth, make):
    """The page hands htmx the token on <body hx-headers>."""
    loc = make.location()
    auth.login(make.user(Role.SERVICE_ADVISOR, loc).email, PASSWORD)
    body = soup(client.get("/")).body
    assert '"X-CSRFToken"' in body["hx-headers"]


def test_csrf_exemptions_are_few_and_not_session_routes(app):
    """Only routes that no browser session can call may skip CSRF, and every exemption is a real route."""
    from tests.routes_catalogue import PUBLIC, ROUTE_ROLES, SIGNED

    endpoints = {rule.endpoint for rule, _ in app_routes(app)}
    assert set(CSRF_EXEMPT) <= endpoints, set(CSRF_EXEMPT) - endpoints
    for endpoint in CSRF_EXEMPT:
        assert ROUTE_ROLES[endpoint] == SIGNED, endpoint  # authenticated by a signature, not a cookie
    assert not {e for e in CSRF_EXEMPT if ROUTE_ROLES[e] == PUBLIC}  # sign-in is not exempt (login CSRF)
