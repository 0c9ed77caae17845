"""Sign-in, sign-out, throttling, inactive users, password changes, session hardening."""

from __future__ import annotations

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.models import Role, User


def test_login_lands_on_home(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location(name="Northside"))
    response = auth.login(user.email, PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = soup(client.get("/"))
    assert user.name in page.select_one("h1").text
    assert "Northside" in page.text


def test_login_email_is_case_insensitive(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    assert auth.login(user.email.upper(), PASSWORD).status_code == 302


def test_wrong_password_and_unknown_email_read_the_same(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    wrong = auth.login(user.email, "not the password")
    unknown = auth.login("nobody@example.test", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 422
        assert soup(response).select_one(".alert-error").text.strip() == "E-mail or password is incorrect."
    assert client.get("/").status_code == 302  # not signed in


def test_empty_form_reports_what_is_missing(client):
    response = client.post("/login", data={})
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("#email-error").text.strip().endswith("Enter your e-mail address.")
    assert page.select_one("#email")["aria-invalid"] == "true"


def test_inactive_user_cannot_sign_in(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location(), active=False)
    response = auth.login(user.email, PASSWORD)
    assert response.status_code == 422
    assert "deactivated" in soup(response).select_one(".alert-error").text


def test_deactivation_ends_an_open_session(app, client, auth, make):
    from webapp.extensions import db

    user = make.user(Role.SERVICE_ADVISOR, make.location())
    auth.login(user.email, PASSWORD)
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert client.get("/").status_code == 302


def test_logout(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    auth.login(user.email, PASSWORD)
    response = auth.logout()
    assert response.status_code == 303
    assert client.get("/").status_code == 302
    assert "/login" in client.get("/").headers["Location"]


def test_logout_is_post_only(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    auth.login(user.email, PASSWORD)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_per_account_slow_down(app, client, auth, make):
    """Five failures for one account make unknown devices wait, with a clear message; the
    password of a try made too early is not even checked. (More in test_auth_security.py.)"""
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    for _ in range(5):
        assert auth.login(user.email, "wrong").status_code == 422
    response = auth.login(user.email, PASSWORD)  # this browser never signed in to the account
    assert response.status_code == 429
    message = soup(response).select_one(".alert-error").text
    assert "Too many failed sign-ins for this account" in message and "Try again in 30 seconds" in message
    assert "Admin → Users" in message
    # Another account from the same address is not held back by this one.
    other = make.user(Role.SERVICE_ADVISOR, make.location())
    assert auth.login(other.email, PASSWORD).status_code == 302


def test_per_address_slow_down(app, client, auth, make):
    """Spraying many accounts from one address is slowed down too."""
    app.config["LOGIN_IP_FREE_FAILURES"] = 8
    try:
        for i in range(8):
            assert auth.login(f"spray{i}@example.test", "guess").status_code == 422
        response = auth.login("spray-last@example.test", "guess")
        assert response.status_code == 429
        assert "from this network" in soup(response).select_one(".alert-error").text
    finally:
        app.config["LOGIN_IP_FREE_FAILURES"] = 30


def test_successful_logins_do_not_count(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    for _ in range(7):
        assert auth.login(user.email, PASSWORD).status_code == 302
        auth.logout()


def test_session_cookie_is_hardened(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    response = auth.login(user.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert not any("remember_token" in c for c in response.headers.getlist("Set-Cookie"))


def test_session_is_renewed_at_login(client, auth, make):
    """Whatever the session held before sign-in is gone after it (no fixation)."""
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    auth.login(user.email, PASSWORD)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"].startswith(f"{user.id}:")


def test_next_parameter_is_same_site_only(client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    ok = client.post("/login?next=/account/password", data={"email": user.email, "password": PASSWORD})
    assert ok.headers["Location"] == "/account/password"
    client.post("/logout")
    evil = client.post("/login?next=//evil.example/", data={"email": user.email, "password": PASSWORD})
    assert evil.headers["Location"] == "/"


def test_password_hash_is_argon2id(make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    assert user.password_hash.startswith("$argon2id$")


def test_change_password_signs_out_other_sessions(app, client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    other_device = app.test_client()
    auth.login(user.email, PASSWORD)
    other_device.post(
        "/login", data={"email": user.email, "password": PASSWORD}, headers={"X-CSRFToken": other_device.csrf_token()}
    )
    assert other_device.get("/").status_code == 200
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a much better passphrase",
            "confirm": "a much better passphrase",
        },
    )
    assert response.status_code == 303
    assert client.get("/").status_code == 200  # this session continues
    assert other_device.get("/").status_code == 302  # the other one ended
    client.post("/logout")
    assert auth.login(user.email, "a much better passphrase").status_code == 302


def test_change_password_validation(client, auth, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    auth.login(user.email, PASSWORD)
    response = client.post(
        "/account/password", data={"current_password": "wrong", "new_password": "short", "confirm": "x"}
    )
    assert response.status_code == 422
    page = soup(response)
    assert "at least 12" in page.select_one("#new_password-error").text
    assert "differ" in page.select_one("#confirm-error").text
