"""Every route × {anonymous, each role}: the expected status, generated from app.url_map."""
from __future__ import annotations

import pytest

from tests.factories import PASSWORD
from tests.routes_catalogue import (ANSWERS, GLOBAL_ARGS, LOCATION_OWNED_ARGS, PUBLIC, ROUTE_ROLES, SAMPLE_ARGS,
                                    SIGNED)
from webapp.models import Role
from webapp.permissions import ROLE_PERMISSIONS, declared_permission

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# What an allowed user gets from a state-changing route sent no form data: the form again with
# its errors (422), a page (200), or the action done and a redirect (302/303).
FORM_ANSWERS = {200, 302, 303, 422}


def assert_allowed_answer(rule, method, response, signed_in=True) -> None:
    """An allowed user gets the page: 200 for a GET, a form answer for a POST, or exactly the
    status listed for that route in ``ANSWERS`` (tests/routes_catalogue.py) — never 401/403,
    never a 404 for their own records, never a redirect to the sign-in page."""
    status = response.status_code
    where = (rule.endpoint, method, status)
    expected = ANSWERS.get((rule.endpoint, method)) if signed_in else None
    if expected is not None:
        assert status == expected, where
    elif method in STATE_CHANGING:
        assert status in FORM_ANSWERS, where
    else:
        assert status == 200, where
    if 300 <= status < 400:
        assert "/login" not in response.headers.get("Location", ""), where


def app_routes(app):
    """(rule, method) for every route of the app but static files."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def build_url(app, rule, world, location_key="a") -> str:
    """Fill the rule's arguments with records of ``location_key``'s location."""
    values = {}
    for arg in rule.arguments:
        if arg in LOCATION_OWNED_ARGS:
            values[arg] = world["records"][world[location_key].code][LOCATION_OWNED_ARGS[arg]].id
        elif arg == "user_id":
            values[arg] = world["users"][Role.SERVICE_ADVISOR].id
        elif arg in SAMPLE_ARGS:
            values[arg] = SAMPLE_ARGS[arg]
        elif arg == "code":
            values[arg] = world[location_key].code
        elif arg == "location_id":
            values[arg] = world[location_key].id
        else:
            raise AssertionError(f"{rule.endpoint}: add URL argument {arg!r} to tests/routes_catalogue.py")
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def test_every_route_is_catalogued(app):
    """A new route must say who may use it, here and in its decorator."""
    endpoints = {rule.endpoint for rule, _ in app_routes(app)}
    missing = endpoints - set(ROUTE_ROLES)
    assert not missing, f"routes without an entry in tests/routes_catalogue.py: {sorted(missing)}"
    stale = set(ROUTE_ROLES) - endpoints
    assert not stale, f"catalogue entries for routes that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("endpoint", sorted(ROUTE_ROLES))
def test_declared_permission_matches_catalogue(app, endpoint):
    """The view's declared permission grants exactly the catalogued roles."""
    declared = declared_permission(app, endpoint)
    assert declared != "undeclared", f"{endpoint} declares no permission"
    expected = ROUTE_ROLES[endpoint]
    if expected in (PUBLIC, SIGNED):
        assert declared is None
    else:
        granted = {role for role, perms in ROLE_PERMISSIONS.items() if declared in perms}
        assert granted == set(expected), f"{endpoint}: {declared} grants {granted}, catalogue says {set(expected)}"


def test_every_id_argument_is_known(app):
    """Each URL argument is either location-owned (404-tested) or explicitly global."""
    for rule, _ in app_routes(app):
        for arg in rule.arguments:
            assert arg in LOCATION_OWNED_ARGS or arg in GLOBAL_ARGS or arg in SAMPLE_ARGS, \
                f"{rule.endpoint}: unknown argument {arg}"


def test_anonymous(app, client, world):
    """Anonymous: public routes answer; others redirect to sign-in, or HX-Redirect + 401 for htmx."""
    checked = 0
    for rule, method in app_routes(app):
        url = build_url(app, rule, world)
        response = client.open(url, method=method)
        checked += 1
        if ROUTE_ROLES[rule.endpoint] == PUBLIC:
            assert_allowed_answer(rule, method, response, signed_in=False)
            continue
        if ROUTE_ROLES[rule.endpoint] == SIGNED:
            assert response.status_code in (401, 404), (rule.endpoint, method)  # no valid signature
            continue
        assert response.status_code == 302, (rule.endpoint, method, response.status_code)
        assert "/login" in response.headers["Location"]
        response = client.open(url, method=method, htmx=True)
        assert response.status_code == 401, (rule.endpoint, method)
        assert response.headers["HX-Redirect"].startswith("/login")
    assert checked == len(list(app_routes(app))) > 0


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role(app, client, auth, world, role):
    """Each role gets 403 where not allowed, and the page itself where allowed (see assert_allowed_answer)."""
    user = world["users"][role]
    assert auth.login(user.email, PASSWORD).status_code == 302
    allowed_checked = refused_checked = 0
    for rule, method in app_routes(app):
        if rule.endpoint == "auth.logout":
            continue  # would end the session mid-test; covered in test_auth
        url = build_url(app, rule, world)
        response = client.open(url, method=method)
        expected = ROUTE_ROLES[rule.endpoint]
        if expected == SIGNED:
            assert response.status_code in (401, 404), (rule.endpoint, method)  # a session is not a signature
            continue
        if expected == PUBLIC or role in expected:
            assert_allowed_answer(rule, method, response)
            allowed_checked += 1
        else:
            assert response.status_code == 403, (rule.endpoint, method, response.status_code)
            refused_checked += 1
    assert allowed_checked > 0
    assert refused_checked > 0 or role == Role.GLOBAL_ADMIN  # every other role is refused something


def test_cross_location_records_answer_404(app, client, auth, world):
    """A user of location A asking for any location-owned record of location B gets 404;
    the same route with A's record answers what the role is allowed (test_each_role)."""
    auth.login(world["users"][Role.SERVICE_MANAGER].email, PASSWORD)
    checked = 0
    for rule, method in app_routes(app):
        if not set(rule.arguments) & set(LOCATION_OWNED_ARGS):
            continue
        if Role.SERVICE_MANAGER not in ROUTE_ROLES[rule.endpoint]:
            continue  # refused with 403 before any record is read (test_each_role); e.g. reviewers' routes
        own = client.open(build_url(app, rule, world, "a"), method=method)
        assert_allowed_answer(rule, method, own)
        foreign = client.open(build_url(app, rule, world, "b"), method=method)
        assert foreign.status_code == 404, (rule.endpoint, method, foreign.status_code)
        checked += 1
    # Routes taking a record id exist (customers, assets, cases...): a walk that found none is a broken walk.
    assert checked >= len(LOCATION_OWNED_ARGS), checked
