"""Every state-changing route refuses a request without a valid CSRF token."""
from __future__ import annotations

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.routes_catalogue import CSRF_EXEMPT
from tests.test_authorization import STATE_CHANGING, app_routes, build_url
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
        checked += 1
    assert checked >= 5  # login, logout, password, switch, admin forms, settings...
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
    response = client.post("/settings/external-interfaces", csrf=False, htmx=True,
                           headers={"X-CSRFToken": "stale"})
    assert response.status_code == 400
    assert "Reload the page" in response.headers["HX-Trigger"]
    assert response.headers["HX-Reswap"] == "none"


def test_hx_headers_carry_the_token(client, auth, make):
    """The page hands htmx the token on <body hx-headers>."""
    loc = make.location()
    auth.login(make.user(Role.SERVICE_ADVISOR, loc).email, PASSWORD)
    body = soup(client.get("/")).body
    assert '"X-CSRFToken"' in body["hx-headers"]
