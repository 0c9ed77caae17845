"""Sign-in and session security (issue 20): safe redirects, sign-out that really ends the
session, throttling without lock-outs, Redis trouble, autocomplete, demo-user edits."""

from __future__ import annotations

import time

import pytest

from tests.conftest import audit_events, soup
from tests.factories import PASSWORD
from webapp.auth import throttle
from webapp.auth.redirects import safe_next
from webapp.extensions import db
from webapp.models import Role, User

pytestmark = pytest.mark.usefixtures("fresh_throttle")


# --------------------------------------------------------------------------- 1. open redirect
BYPASSES = [
    "//evil.example/",
    "///evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/\r\n/evil.example",
    "/x\r\nSet-Cookie: a=b",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%255C/evil.example",
    "/%25%32%66/evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " /customers",
    "/customers ",
    "evil.example",
    "customers",
    "/\x00/evil.example",
    "/é",
    "",
    None,
    "/" + "a" * 2000,
    "//evil.example@good/",
    "/\\/evil.example",
    "data:text/html,<script>alert(1)</script>",
]
GOOD = [
    "/customers",
    "/customers?q=smith%20zo",
    "/assets/12?tab=dms#history",
    "/account/password",
    "/customers?q=%C3%A9milie",
    "/cases?next=//x",
]


@pytest.mark.parametrize("value", BYPASSES)
def test_safe_next_refuses_the_usual_bypasses(value):
    assert safe_next(value, "/fallback") == "/fallback"


@pytest.mark.parametrize("value", GOOD)
def test_safe_next_keeps_local_paths(value):
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "/%09/evil.example",
        "/\t/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_off_site(client, make, value):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    response = client.post("/login", query_string={"next": value}, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_crlf_in_next_is_refused_not_a_500(client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    response = client.post(
        "/login?next=/customers%0d%0aSet-Cookie:%20x=y", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_next_survives_the_sign_in_round_trip(client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    bounced = client.get("/customers?q=smith zo")
    assert bounced.status_code == 302
    login_url = bounced.headers["Location"]
    assert "next=" in login_url
    response = client.post(login_url, data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/customers?q=smith%20zo"


def test_sync_wizard_return_to_uses_the_same_check(app):
    from webapp.sync_wizard.wizard import safe_return_to

    with app.test_request_context():
        assert safe_return_to("/customers?q=a", "customer", 7) == "/customers?q=a"
        for value in ("/%09/evil.example", "/\t/evil.example", "https://evil.example", "//evil.example"):
            assert safe_return_to(value, "customer", 7) == "/customers/7"


# --------------------------------------------------------------------------- 2. sign-out ends the session
def test_a_cookie_copied_before_sign_out_opens_nothing_after(app, client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    auth.login(user.email, PASSWORD)
    assert client.get("/customers").status_code == 200
    copied = client.get_cookie("dms_console_session").value
    auth.logout()
    replay = app.test_client()
    replay.set_cookie("dms_console_session", copied)
    response = replay.get("/customers")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sign_out_ends_only_this_browser(app, client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    other = app.test_client()
    other.post("/login", data={"email": user.email, "password": PASSWORD}, headers={"X-CSRFToken": other.csrf_token()})
    auth.login(user.email, PASSWORD)
    auth.logout()
    assert other.get("/customers").status_code == 200


def test_a_session_without_its_server_record_is_refused(app, client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    auth.login(user.email, PASSWORD)
    with client.session_transaction() as sess:
        sess["_sid"] = "forged"
    assert client.get("/customers").status_code == 302


# --------------------------------------------------------------------------- 3. throttling, no lock-out
def _fail(client, email, times):
    for _ in range(times):
        assert client.post("/login", data={"email": email, "password": "wrong guess"}).status_code == 422


def test_attacker_cannot_lock_out_the_owner_on_a_known_device(app, client, auth, make):
    admin = make.user(Role.GLOBAL_ADMIN)
    assert auth.login(admin.email, PASSWORD).status_code == 302  # the owner's usual computer
    auth.logout()
    attacker = app.test_client()
    for _ in range(12):
        attacker.post(
            "/login", data={"email": admin.email, "password": "guess"}, headers={"X-CSRFToken": attacker.csrf_token()}
        )
    blocked = attacker.post(
        "/login", data={"email": admin.email, "password": PASSWORD}, headers={"X-CSRFToken": attacker.csrf_token()}
    )
    assert blocked.status_code == 429  # even the right password from an unknown device waits
    assert auth.login(admin.email, PASSWORD).status_code == 302  # the owner is let in
    # ... and their success did not reset the attacker's wait.
    again = attacker.post(
        "/login", data={"email": admin.email, "password": PASSWORD}, headers={"X-CSRFToken": attacker.csrf_token()}
    )
    assert again.status_code == 429


def test_waits_grow_with_each_failure_and_end(app, client, make, monkeypatch):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    now = [time.time()]
    monkeypatch.setattr(throttle.time, "time", lambda: now[0])
    _fail(client, user.email, 5)
    first = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert first.status_code == 429 and "30 seconds" in soup(first).select_one(".alert-error").text
    now[0] += 31
    _fail(client, user.email, 1)  # the 6th failure: the wait doubles
    second = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert "Try again in 1 minute" in soup(second).select_one(".alert-error").text
    now[0] += 61
    _fail(client, user.email, 1)
    assert "2 minutes" in soup(client.post("/login", data={"email": user.email, "password": "x"})).text
    now[0] += 121
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_wait_is_capped(app, make):
    with app.test_request_context():
        key = throttle.account_key("someone@example.test")
        for _ in range(40):
            counter = throttle.add_failure(key)
        assert 890 <= counter.wait_seconds() <= 900


def test_unknown_and_known_accounts_are_slowed_alike(client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    _fail(client, user.email, 5)
    _fail(client, "nobody-here@example.test", 5)
    known = client.post("/login", data={"email": user.email, "password": "x"})
    unknown = client.post("/login", data={"email": "nobody-here@example.test", "password": "x"})
    assert known.status_code == unknown.status_code == 429
    assert soup(known).select_one(".alert-error").text == soup(unknown).select_one(".alert-error").text


def test_a_known_device_has_its_own_counter(app, client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    assert auth.login(user.email, PASSWORD).status_code == 302
    auth.logout()
    _fail(client, user.email, 5)  # from the known device: its own counter
    waiting = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert waiting.status_code == 429
    assert "on this computer" in soup(waiting).select_one(".alert-error").text
    stranger = app.test_client()  # the account's counter was not touched
    ok = stranger.post(
        "/login", data={"email": user.email, "password": PASSWORD}, headers={"X-CSRFToken": stranger.csrf_token()}
    )
    assert ok.status_code == 302


def test_a_forged_device_cookie_counts_for_nothing(app, client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    _fail(client, user.email, 5)
    client.set_cookie(throttle.DEVICE_COOKIE, "forged.value", path="/login")
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 429


def test_one_address_cannot_shut_out_the_known_devices_behind_it(app, client, auth, make):
    app.config["LOGIN_IP_FREE_FAILURES"] = 6
    try:
        staff = make.user(Role.SERVICE_ADVISOR, make.location())
        assert auth.login(staff.email, PASSWORD).status_code == 302
        auth.logout()
        sprayer = app.test_client()
        for i in range(6):
            sprayer.post(
                "/login",
                data={"email": f"guess{i}@example.test", "password": "x"},
                headers={"X-CSRFToken": sprayer.csrf_token()},
            )
        newcomer = make.user(Role.SERVICE_ADVISOR, make.location())
        refused = sprayer.post(
            "/login",
            data={"email": newcomer.email, "password": PASSWORD},
            headers={"X-CSRFToken": sprayer.csrf_token()},
        )
        assert refused.status_code == 429 and "from this network" in refused.get_data(as_text=True)
        assert auth.login(staff.email, PASSWORD).status_code == 302  # same address, known device
    finally:
        app.config["LOGIN_IP_FREE_FAILURES"] = 30
    assert [e.target for e in audit_events(app, "auth.lockout_address")] == ["127.0.0.1"]


def test_admin_unlock(app, client, auth, make):
    advisor = make.user(Role.SERVICE_ADVISOR, make.location(), name="Avery Advisor")
    admin = make.user(Role.GLOBAL_ADMIN)
    _fail(client, advisor.email, 5)
    assert client.post("/login", data={"email": advisor.email, "password": PASSWORD}).status_code == 429
    admin_browser = app.test_client()
    admin_browser.post(
        "/login", data={"email": admin.email, "password": PASSWORD}, headers={"X-CSRFToken": admin_browser.csrf_token()}
    )
    page = soup(admin_browser.get("/admin/users"))
    slowed = page.select(".sign-ins-slowed")
    assert len(slowed) == 1 and "5 failed" in slowed[0].text
    form = page.select_one("form.unlock-form")
    assert form["action"] == f"/admin/users/{advisor.id}/unlock"
    response = admin_browser.post(form["action"], headers={"X-CSRFToken": admin_browser.csrf_token()})
    assert response.status_code == 303
    assert not soup(admin_browser.get("/admin/users")).select(".sign-ins-slowed")
    assert client.post("/login", data={"email": advisor.email, "password": PASSWORD}).status_code == 302
    (lockout,) = audit_events(app, "auth.lockout")
    assert lockout.target == advisor.email and lockout.ip == "127.0.0.1" and lockout.user_id is None
    (unlock,) = audit_events(app, "auth.unlock")
    assert unlock.user_id == admin.id and unlock.target == advisor.email and "5 failed" in unlock.detail
    assert len(audit_events(app, "auth.login_failed")) == 5


def test_unlock_needs_csrf_and_an_admin(app, client, auth, make):
    advisor = make.user(Role.SERVICE_ADVISOR, make.location())
    manager = make.user(Role.SERVICE_MANAGER, make.location())
    auth.login(manager.email, PASSWORD)
    assert client.post(f"/admin/users/{advisor.id}/unlock").status_code == 403
    assert client.post("/admin/users/999999/unlock").status_code == 403


# --------------------------------------------------------------------------- Redis slow or down
def test_sign_in_works_and_is_throttled_when_redis_is_down(app, client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        wrong = client.post("/login", data={"email": user.email, "password": "wrong"})
        assert wrong.status_code == 422 and "incorrect" in soup(wrong).select_one(".alert-error").text
        _fail(client, user.email, 4)
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 429
        throttle.reset_redis_state()
        other = make.user(Role.SERVICE_ADVISOR, make.location())
        assert client.post("/login", data={"email": other.email, "password": PASSWORD}).status_code == 302
    finally:
        app.config["REDIS_URL"] = real


def test_a_hung_redis_costs_one_short_timeout_then_is_skipped(app, client, make, silent_redis):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    real = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = silent_redis
    try:
        started = time.monotonic()
        first = client.post("/login", data={"email": user.email, "password": "wrong"})
        assert first.status_code == 422
        assert time.monotonic() - started < 3
        started = time.monotonic()
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
        assert time.monotonic() - started < 0.5  # Redis is not asked again for a while
    finally:
        app.config["REDIS_URL"] = real


# --------------------------------------------------------------------------- 7. autocomplete
def test_password_inputs_say_what_they_hold(client, auth, make):
    login = soup(client.get("/login"))
    assert login.select_one("#email")["autocomplete"] == "username"
    assert login.select_one("#password")["autocomplete"] == "current-password"
    user = make.user(Role.GLOBAL_ADMIN)
    auth.login(user.email, PASSWORD)
    page = soup(client.get("/account/password"))
    assert page.select_one("#current_password")["autocomplete"] == "current-password"
    assert page.select_one("#new_password")["autocomplete"] == "new-password"
    assert page.select_one("#confirm")["autocomplete"] == "new-password"
    form = soup(client.get("/admin/users/new"))
    assert form.select_one("#password")["autocomplete"] == "new-password"
    assert form.select_one("#email")["autocomplete"] == "off"


def test_dms_secrets_are_off_limits_to_password_managers(client, auth, make):
    location = make.location(dms_vendor="cdk", dms_base_url="http://dms.test")
    auth.login(make.user(Role.GLOBAL_ADMIN).email, PASSWORD)
    page = soup(client.get(f"/admin/locations/{location.id}/edit"))
    inputs = page.select("input[name^=cred_]") + [page.select_one("#dms_account")]
    secrets = [i for i in inputs if i.get("type") == "password"]
    assert secrets, "the CDK protocol has a secret credential"
    for element in secrets:
        assert element["autocomplete"] == "new-password"
    for element in inputs:
        assert element.get("data-1p-ignore") and element.get("data-lpignore") == "true"
        assert element.get("data-bwignore") and element.get("data-form-type") == "other"
        if element.get("type") != "password":
            assert element["autocomplete"] == "off"


# --------------------------------------------------------------------------- 8. demo users can be edited
def _user_data(user, **changes):
    data = {
        "name": user.name,
        "email": user.email,
        "role": user.role.value,
        "location_id": user.location_id or 0,
        "advisor_dms_id": "",
        "password": "",
    }
    if user.active:
        data["active"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_demo_users_can_be_edited_and_deactivated(app, client, auth, make):
    location = make.location()
    demo = make.user(Role.SERVICE_ADVISOR, location, email="advisor@demo.test", name="Demo Advisor")
    auth.login(make.user(Role.GLOBAL_ADMIN).email, PASSWORD)
    assert client.post(f"/admin/users/{demo.id}/edit", data=_user_data(demo, name="Demo Advisor 2")).status_code == 303
    assert (
        client.post(
            f"/admin/users/{demo.id}/edit", data=_user_data(demo, name="Demo Advisor 2", active=None)
        ).status_code
        == 303
    )
    with app.app_context():
        saved = db.session.get(User, demo.id)
        assert saved.name == "Demo Advisor 2" and not saved.active
    new = {
        "name": "New Demo",
        "email": "new.person@demo.test",
        "role": "service_advisor",
        "location_id": location.id,
        "active": "y",
        "password": "a long enough password",
    }
    assert client.post("/admin/users/new", data=new).status_code == 303


@pytest.mark.parametrize(
    "bad",
    [
        "not-an-email",
        "a@@demo.test",
        "someone@host.local",
        "someone@localhost",
        "someone@test",
        "x@invalid",
        "<script>@demo.test",
    ],
)
def test_garbage_addresses_are_still_refused(client, auth, make, bad):
    location = make.location()
    user = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(make.user(Role.GLOBAL_ADMIN).email, PASSWORD)
    response = client.post(f"/admin/users/{user.id}/edit", data=_user_data(user, email=bad))
    assert response.status_code == 422
    assert "valid e-mail" in soup(response).select_one("#email-error").text
    assert soup(response).select_one("#email")["value"] == bad  # what was typed is kept


# --------------------------------------------------------------------------- session cookie churn


def _session_cookies_set(response) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith("dms_console_session=")]


def test_a_request_that_changes_nothing_in_the_session_sends_no_session_cookie(client, auth, make):
    """A page's poll (push status, run progress) runs beside the user's own clicks. Were every
    response to re-send the session cookie, a poll answered just after a POST would put back the
    cookie from before it, and the POST's message ("Appointment cancelled...") would be lost."""
    location = make.location()
    user = make.user(Role.SERVICE_ADVISOR, location)
    appointment = make.appointment(location, make.customer(location), advisor=user)
    assert auth.login(user.email).status_code == 302
    client.get("/")  # the first page may store the form token in the session
    for url in ("/", f"/appointments/{appointment.id}", f"/appointments/{appointment.id}/push-status"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert _session_cookies_set(response) == [], url
    cancelled = client.post(f"/appointments/{appointment.id}/cancel")
    assert cancelled.status_code == 303 and _session_cookies_set(cancelled)  # the message travels in it
    assert "Appointment cancelled" in client.get(f"/appointments/{appointment.id}").get_data(as_text=True)
