"""Every route × {anonymous, each role}: the exact answer, generated from app.url_map.

The answers expected are in tests/routes_catalogue.py: who may use a route (``ROUTE_ROLES``) and
what it answers them (``ANSWERS``; a plain page answers 200). Refused roles get 403, anonymous
visitors the sign-in page, a signed DMS call without its signature 401, and a location-bound
user asking for another location's record 404.
"""

from __future__ import annotations

import pytest
from werkzeug.exceptions import HTTPException

from tests.factories import PASSWORD
from tests.routes_catalogue import (
    ACROSS_LOCATIONS,
    ANONYMOUS_ANSWERS,
    ANSWERS,
    GLOBAL_ARGS,
    LOCATION_OWNED_ARGS,
    PUBLIC,
    ROUTE_ROLES,
    SAMPLE_ARGS,
    SIGNED,
    STATE_CHANGING,
    app_routes,
    build_url,
)
from webapp.extensions import db
from webapp.models import Location, Role
from webapp.permissions import ROLE_PERMISSIONS, declared_permission


def expected_answer(endpoint: str, method: str) -> tuple[int, str | None]:
    """(status, endpoint a redirect lands on) that an allowed, signed-in user gets."""
    answer = ANSWERS.get((endpoint, method))
    if answer is None:
        assert method not in STATE_CHANGING, f"{endpoint} {method}: add its answer to ANSWERS"
        return 200, None
    return answer if isinstance(answer, tuple) else (answer, None)


def landing_endpoint(app, location: str) -> str | None:
    """The endpoint a redirect's Location names (None when it names none of ours)."""
    path = location.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    try:
        endpoint, _args = app.url_map.bind("localhost").match(path, method="GET")
    except HTTPException:
        return None
    return endpoint


def assert_answer(app, response, expected: tuple[int, str | None], where) -> None:
    """The response has exactly the expected status, and a redirect lands where expected."""
    status, lands_on = expected
    assert response.status_code == status, (*where, response.status_code, response.headers.get("Location"))
    if lands_on is not None:
        assert landing_endpoint(app, response.headers["Location"]) == lands_on, (*where, response.headers["Location"])


@pytest.fixture()
def matrix_world(app, world):
    """The world, with a webhook secret on location A: its signed route then checks the signature
    (a location without one answers 404 to every caller, signed or not)."""
    with app.app_context():
        db.session.get(Location, world["a"].id).webhook_secret = "matrix-secret"
        db.session.commit()
    return world


def test_every_route_is_catalogued(app):
    """A new route must say who may use it, here and in its decorator, and what it answers."""
    routes = list(app_routes(app))
    assert len(routes) > 100, f"the route walk found only {len(routes)} routes"
    endpoints = {rule.endpoint for rule, _ in routes}
    missing = endpoints - set(ROUTE_ROLES)
    assert not missing, f"routes without an entry in tests/routes_catalogue.py: {sorted(missing)}"
    stale = set(ROUTE_ROLES) - endpoints
    assert not stale, f"catalogue entries for routes that no longer exist: {sorted(stale)}"
    unanswered = {
        (rule.endpoint, method)
        for rule, method in routes
        if method in STATE_CHANGING and ROUTE_ROLES[rule.endpoint] != SIGNED and (rule.endpoint, method) not in ANSWERS
    }
    assert not unanswered, f"state-changing routes without their answer in ANSWERS: {sorted(unanswered)}"
    stale_answers = set(ANSWERS) - {(rule.endpoint, method) for rule, method in routes}
    assert not stale_answers, f"ANSWERS for routes that no longer exist: {sorted(stale_answers)}"
    for endpoint, method in ANSWERS:
        lands_on = expected_answer(endpoint, method)[1]
        assert lands_on is None or lands_on in endpoints, f"{endpoint} {method} lands on unknown {lands_on}"


def test_declared_permission_matches_catalogue(app):
    """The view's declared permission grants exactly the catalogued roles."""
    checked = 0
    for endpoint, expected in sorted(ROUTE_ROLES.items()):
        declared = declared_permission(app, endpoint)
        assert declared != "undeclared", f"{endpoint} declares no permission"
        if expected in (PUBLIC, SIGNED):
            assert declared is None, endpoint
        else:
            granted = {role for role, perms in ROLE_PERMISSIONS.items() if declared in perms}
            assert granted == set(expected), f"{endpoint}: {declared} grants {granted}, catalogue says {set(expected)}"
        checked += 1
    assert checked == len({rule.endpoint for rule, _ in app_routes(app)})


def test_every_id_argument_is_known(app):
    """Each URL argument is either location-owned (404-tested) or explicitly global."""
    arguments = {arg for rule, _ in app_routes(app) for arg in rule.arguments}
    unknown = arguments - set(LOCATION_OWNED_ARGS) - GLOBAL_ARGS - set(SAMPLE_ARGS)
    assert not unknown, f"URL arguments without an entry in tests/routes_catalogue.py: {sorted(unknown)}"
    assert set(LOCATION_OWNED_ARGS) <= arguments, "a location-owned argument no route takes any more"


def test_anonymous(app, client, matrix_world):
    """Anonymous: public routes answer; signed ones want their signature; every other route
    redirects to sign-in, or answers 401 with HX-Redirect to an htmx request."""
    checked = 0
    for rule, method in app_routes(app):
        url = build_url(app, rule, matrix_world)
        response = client.open(url, method=method)
        where = (rule.endpoint, method)
        checked += 1
        if ROUTE_ROLES[rule.endpoint] == PUBLIC:
            assert_answer(app, response, (ANONYMOUS_ANSWERS.get(where, 200), None), where)
            continue
        if ROUTE_ROLES[rule.endpoint] == SIGNED:
            assert_answer(app, response, (401, None), where)
            continue
        assert_answer(app, response, (302, "auth.login"), where)
        response = client.open(url, method=method, htmx=True)
        assert response.status_code == 401, where
        assert response.headers["HX-Redirect"].startswith("/login"), where
    assert checked == len(list(app_routes(app))) > 100


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role(app, client, auth, matrix_world, role):
    """Each role: 403 where not allowed; where allowed, another location's record answers 404
    (but on routes across locations) and its own record exactly what ``ANSWERS`` lists."""
    world = matrix_world
    assert auth.login(world["users"][role].email, PASSWORD).status_code == 302
    counts = {"allowed": 0, "refused": 0, "foreign": 0, "signed": 0}
    routes = list(app_routes(app))
    for rule, method in routes:  # first: the walk's own POSTs may change location A's DMS settings
        if ROUTE_ROLES[rule.endpoint] == SIGNED:
            where = (role.value, rule.endpoint, method)
            response = client.open(build_url(app, rule, world), method=method)
            assert_answer(app, response, (401, None), where)  # a session is not a signature
            counts["signed"] += 1
    for rule, method in routes:
        expected = ROUTE_ROLES[rule.endpoint]
        if rule.endpoint == "auth.logout" or expected == SIGNED:
            continue  # logout would end the session mid-walk: walked last
        where = (role.value, rule.endpoint, method)
        url = build_url(app, rule, world)
        if expected != PUBLIC and role not in expected:
            assert_answer(app, client.open(url, method=method), (403, None), where)
            counts["refused"] += 1
            continue
        answer = expected_answer(rule.endpoint, method)
        if set(rule.arguments) & set(LOCATION_OWNED_ARGS):
            # Asked first, so the own record's answer is the one the walk expects.
            foreign = client.open(build_url(app, rule, world, "b"), method=method)
            across = rule.endpoint in ACROSS_LOCATIONS
            assert_answer(app, foreign, answer if across else (404, None), (*where, "another location's record"))
            counts["foreign"] += not across
        assert_answer(app, client.open(url, method=method), answer, where)
        counts["allowed"] += 1
    logout = expected_answer("auth.logout", "POST")
    assert_answer(app, client.post("/logout"), logout, (role.value, "auth.logout", "POST"))
    assert_answer(app, client.get("/"), (302, "auth.login"), (role.value, "signed out"))
    walked = counts["allowed"] + counts["refused"] + counts["signed"] + 1  # + logout
    assert walked == len(routes), counts
    assert counts["allowed"] > 0 and counts["signed"] > 0, counts
    if role != Role.GLOBAL_ADMIN:
        assert counts["refused"] > 0, counts  # every other role is refused something
    if role != Role.REVIEWER:  # a Reviewer works across locations: no record is another location's
        # Routes taking a record id exist (customers, assets, cases...): a walk that found none is broken.
        assert counts["foreign"] > 0, counts
