"""Admin -> Locations: protocol choice, write-only credentials, htmx swaps and Test connection."""

from __future__ import annotations

import dataclasses
import logging

import pytest

import connectors
from connectors.base import CredentialField
from connectors.console_rest import ConsoleRestConnector
from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import Location, Role

SECRET = "sandbox-key-alpha-cdk"  # the sandbox's key for alpha-cdk
TYPED_SECRET = "typed-secret-4f7a1c"


class FakeSoapConnector(ConsoleRestConnector):
    """A protocol with a non-secret and a secret credential (stands in for one not importable yet)."""

    PROTOCOL = "fakesoap"
    LABEL = "Fake SOAP"
    CREDENTIALS = (
        CredentialField("username", "User name", help="Given by the vendor"),
        CredentialField("password", "Password", secret=True),
    )


@pytest.fixture()
def fake_protocol(monkeypatch):
    """Karmak offers the console dialect and, for these tests, a fake SOAP protocol."""
    from connectors import protocols

    monkeypatch.setitem(protocols.PROTOCOLS, "fakesoap", (__name__, "FakeSoapConnector", "Fake SOAP"))
    real = connectors.get_profile

    def get_profile(code):
        profile = real(code)
        return dataclasses.replace(profile, protocols=("console", "fakesoap")) if code == "karmak" else profile

    monkeypatch.setattr(connectors, "get_profile", get_profile)


@pytest.fixture()
def admin(make, auth):
    user = make.user(Role.GLOBAL_ADMIN)
    assert auth.login(user.email, PASSWORD).status_code == 302
    return user


def _form(location: Location | None = None, **fields) -> dict:
    data = {
        "name": "Eastside",
        "code": "EST",
        "timezone": "America/New_York",
        "brand_list": "Chevrolet",
        "is_active": "y",
        "dms_vendor": "",
        "dms_protocol": "",
        "dms_fields_for": "",
        "dms_base_url": "",
        "dms_account": "",
        "dms_extract_dir": "",
    }
    if location is not None:
        data.update(
            name=location.name,
            code=location.code,
            timezone=location.timezone,
            dms_vendor=location.dms_vendor or "",
            dms_protocol=location.effective_protocol or "",
            dms_fields_for=location.effective_protocol or "",
            dms_base_url=location.dms_base_url or "",
            dms_account=location.dms_account or "",
            dms_extract_dir=location.dms_extract_dir or "",
        )
    data.update(fields)
    return data


def _saved(app, code: str) -> Location | None:
    from sqlalchemy import select

    with app.app_context():
        location = db.session.scalar(select(Location).where(Location.code == code))
        if location is not None:
            location.credentials_plain = location.dms_credentials  # decrypted while the context is open
        return location


# --------------------------------------------------------------------------- form and protocol choice
def test_every_input_has_a_label_and_the_result_region_is_live(client, admin, make):
    location = make.location(dms_credentials={"api_key": "k"})
    page = soup(client.get(f"/admin/locations/{location.id}/edit"))
    for element in page.select("#location-form input:not([type=hidden]), #location-form select"):
        assert page.select_one(f"label[for='{element['id']}']"), element
    assert page.select_one("#connection-test")["aria-live"] == "polite"
    assert page.select_one("#dms-fields-spinner.htmx-indicator")


def test_protocol_choices_are_the_vendors(client, admin):
    cdk = soup(client.get("/admin/locations/dms-fields?dms_vendor=cdk", htmx=True))
    assert [(o["value"], o.text) for o in cdk.select("#dms_protocol option")] == [
        ("console", "Console REST API (default)"),
        ("star", "STAR REST"),
    ]
    dealertrack = soup(client.get("/admin/locations/dms-fields?dms_vendor=dealertrack&dms_protocol=console", htmx=True))
    assert [o["value"] for o in dealertrack.select("#dms_protocol option")] == ["opentrack"]
    assert dealertrack.select_one("#dms_fields_for")["value"] == "opentrack"
    names = [i["name"] for i in dealertrack.select("#dms-credentials input:not([type=hidden])")]
    expected = [f"cred_{c.name}" for c in connectors.connector_class("opentrack").CREDENTIALS]
    assert names == expected
    none = soup(client.get("/admin/locations/dms-fields?dms_vendor=", htmx=True))
    assert not none.select("#dms_protocol") and not none.select("#dms-credentials input[type=password]")


def test_protocol_change_swaps_only_the_credentials(client, admin, fake_protocol):
    response = client.get(
        "/admin/locations/dms-fields?dms_vendor=karmak&dms_protocol=fakesoap&part=credentials", htmx=True
    )
    page = soup(response)
    assert page.select_one("#dms-credentials") and not page.select("#dms_protocol")
    assert page.select_one("#cred_username")["type"] == "text"
    assert page.select_one("#cred_password")["type"] == "password"
    # Without htmx the fields URL is not a page of its own.
    assert client.get("/admin/locations/dms-fields?dms_vendor=karmak").status_code == 303


def test_swap_request_never_carries_a_secret(client, admin):
    page = soup(client.get("/admin/locations/new"))
    swaps = page.select("[hx-get]")
    assert swaps  # the protocol and credentials blocks swap themselves
    for element in swaps:
        assert "password" not in element.get("hx-include", "") and "cred_" not in element.get("hx-include", "")
        assert element.get("hx-include") == "#location-form [name='dms_vendor'], #location-form [name='dms_protocol']"


def test_create_with_console_credentials_stores_them_encrypted(app, client, admin):
    response = client.post(
        "/admin/locations/new",
        data=_form(
            dms_vendor="cdk",
            dms_protocol="console",
            dms_fields_for="console",
            dms_base_url="http://dms.test",
            dms_account="est-1",
            cred_api_key=TYPED_SECRET,
        ),
    )
    assert response.status_code == 303
    saved = _saved(app, "EST")
    assert saved.dms_protocol is None  # the vendor's default is stored as "follow the default"
    assert saved.credentials_plain == {"api_key": TYPED_SECRET}
    assert TYPED_SECRET not in saved.dms_credentials_token


def test_secrets_are_never_rendered_but_non_secrets_are(app, client, admin, make, fake_protocol):
    location = make.location(
        dms_vendor="karmak", dms_protocol="fakesoap", dms_credentials={"username": "svc-user", "password": TYPED_SECRET}
    )
    html = client.get(f"/admin/locations/{location.id}/edit").get_data(as_text=True)
    assert TYPED_SECRET not in html
    page = soup(client.get(f"/admin/locations/{location.id}/edit"))
    assert page.select_one("#cred_username")["value"] == "svc-user"
    assert page.select_one("#cred_password")["value"] == ""
    assert "Leave empty to keep the current one" in page.select_one("#cred_password-help").text
    # A failed save does not echo the typed secret either.
    response = client.post(
        f"/admin/locations/{location.id}/edit",
        data=_form(
            location,
            dms_protocol="fakesoap",
            dms_fields_for="fakesoap",
            name="",
            cred_username="svc-user",
            cred_password=TYPED_SECRET + "-new",
        ),
    )
    assert response.status_code == 422 and TYPED_SECRET not in response.get_data(as_text=True)


def test_empty_secret_keeps_the_stored_one_and_a_typed_one_replaces_it(app, client, admin, make, fake_protocol):
    location = make.location(
        code="KRM",
        dms_vendor="karmak",
        dms_protocol="fakesoap",
        dms_base_url="http://dms.test",
        dms_credentials={"username": "svc-user", "password": TYPED_SECRET},
    )
    data = _form(
        location, dms_protocol="fakesoap", dms_fields_for="fakesoap", cred_username="renamed", cred_password=""
    )
    assert client.post(f"/admin/locations/{location.id}/edit", data=data).status_code == 303
    assert _saved(app, "KRM").credentials_plain == {"username": "renamed", "password": TYPED_SECRET}
    data["cred_password"] = "brand-new"
    assert client.post(f"/admin/locations/{location.id}/edit", data=data).status_code == 303
    assert _saved(app, "KRM").credentials_plain == {"username": "renamed", "password": "brand-new"}


def test_changing_protocol_needs_new_credentials(app, client, admin, make, fake_protocol):
    location = make.location(
        code="KRM", dms_vendor="karmak", dms_base_url="http://dms.test", dms_credentials={"api_key": TYPED_SECRET}
    )
    response = client.post(
        f"/admin/locations/{location.id}/edit",
        data=_form(location, dms_protocol="fakesoap", dms_fields_for="fakesoap", cred_username="u"),
        htmx=True,
    )
    assert response.status_code == 422
    assert "Enter the Password" in response.get_data(as_text=True)
    assert _saved(app, "KRM").credentials_plain == {"api_key": TYPED_SECRET}  # unchanged
    ok = client.post(
        f"/admin/locations/{location.id}/edit",
        data=_form(location, dms_protocol="fakesoap", dms_fields_for="fakesoap", cred_username="u", cred_password="p"),
    )
    assert ok.status_code == 303
    saved = _saved(app, "KRM")
    assert saved.dms_protocol == "fakesoap" and saved.credentials_plain == {"username": "u", "password": "p"}


def test_protocol_the_vendor_does_not_offer_is_refused(app, client, admin):
    response = client.post(
        "/admin/locations/new",
        data=_form(
            dms_vendor="dealertrack",
            dms_protocol="star",
            dms_fields_for="star",
            dms_base_url="http://dms.test",
            dms_account="d1",
            cred_client_id="x",
            cred_client_secret="y",
        ),
        htmx=True,
    )
    assert response.status_code == 422
    page = soup(response)
    assert "does not offer STAR REST" in page.select_one("#dms_protocol-error").text
    assert [o["value"] for o in page.select("#dms_protocol option")] == ["opentrack"]
    assert _saved(app, "EST") is None


def test_without_javascript_a_vendor_change_shows_the_right_inputs(app, client, admin, make):
    """The page showed the console's API key input, then the vendor became Dealertrack (OpenTrack only)."""
    location = make.location(
        code="CDK1", dms_vendor="cdk", dms_base_url="http://dms.test", dms_credentials={"api_key": TYPED_SECRET}
    )
    response = client.post(
        f"/admin/locations/{location.id}/edit",
        data=_form(
            location, dms_vendor="dealertrack", dms_protocol="console", dms_fields_for="console", cred_api_key=""
        ),
    )
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("#dms_fields_for")["value"] == "opentrack"
    assert page.select_one("#cred_password")["type"] == "password"
    assert page.select_one("#dms_protocol-error")
    assert _saved(app, "CDK1").dms_vendor == "cdk"


def test_invalid_htmx_post_is_422_with_messages(client, admin):
    response = client.post(
        "/admin/locations/new",
        data=_form(name="", dms_vendor="cdk", dms_protocol="console", dms_fields_for="console"),
        htmx=True,
    )
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one("#name-error")
    assert "DMS API address" in page.select_one("#dms_base_url-error").text


def test_removing_the_dms_drops_the_credentials(app, client, admin, make):
    location = make.location(code="GONE", dms_credentials={"api_key": TYPED_SECRET})
    assert (
        client.post(
            f"/admin/locations/{location.id}/edit",
            data=_form(location, dms_vendor="", dms_protocol="", dms_fields_for=""),
        ).status_code
        == 303
    )
    saved = _saved(app, "GONE")
    assert saved.dms_vendor is None and saved.dms_credentials_token is None


# --------------------------------------------------------------------------- Test connection
def _test_form(sandbox, location: Location, **fields) -> dict:
    return _form(location, dms_protocol="console", dms_fields_for="console", **fields)


def test_test_connection_against_the_sandbox(app, client, admin, make, sandbox, caplog):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    caplog.set_level(logging.DEBUG)
    response = client.post(f"/admin/locations/{location.id}/test", data=_test_form(sandbox, location), htmx=True)
    assert response.status_code == 200
    page = soup(response)
    rows = {row.select_one(".check-name").text: row["data-status"] for row in page.select("li[data-status]")}
    profile = connectors.get_profile("cdk")
    expected = {"Sign-in"} | {t.replace("_", " ").capitalize() for t in connectors.DATA_TYPES if profile.can_pull(t)}
    assert set(rows) == expected
    assert rows["Sign-in"] == "ok" and rows["Customers"] == "ok"
    assert "Everything worked" in page.text or "failed" in page.text
    assert SECRET not in response.get_data(as_text=True) and SECRET not in caplog.text
    assert _saved(app, location.code).credentials_plain == {"api_key": SECRET}  # nothing saved


def test_test_connection_with_a_wrong_key_shows_the_authentication_hint(app, client, admin, make, sandbox, caplog):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    caplog.set_level(logging.DEBUG)
    response = client.post(
        f"/admin/locations/{location.id}/test",
        data=_test_form(sandbox, location, cred_api_key="wrong-" + TYPED_SECRET),
        htmx=True,
    )
    assert response.status_code == 200
    page = soup(response)
    sign_in = page.select_one("li[data-status='failed']")
    assert sign_in.select_one(".check-name").text == "Sign-in"
    assert connectors.AuthenticationError.default_hint[:40] in sign_in.text or "credentials" in sign_in.text
    assert all(row["data-status"] == "skipped" for row in page.select("li[data-status]")[1:])
    body = response.get_data(as_text=True)
    assert TYPED_SECRET not in body and TYPED_SECRET not in caplog.text


def test_test_connection_for_a_new_location_and_without_javascript(client, admin, sandbox):
    settings = sandbox.settings("beta-karmak")
    data = _form(
        dms_vendor="karmak",
        dms_protocol="console",
        dms_fields_for="console",
        dms_base_url=settings["base_url"],
        dms_account="beta-karmak",
        cred_api_key=settings["credentials"]["api_key"],
    )
    response = client.post("/admin/locations/test", data=data)  # a plain form post: the whole page
    assert response.status_code == 200
    page = soup(response)
    assert page.select_one("#location-form") and page.select_one("#connection-test li[data-status='ok']")
    assert settings["credentials"]["api_key"] not in response.get_data(as_text=True)


def test_unreachable_dms_is_reported_quickly(client, admin, make):
    location = make.location(dms_base_url="http://127.0.0.1:1", dms_credentials={"api_key": "k"})
    response = client.post(f"/admin/locations/{location.id}/test", data=_test_form(None, location), htmx=True)
    page = soup(response)
    first = page.select_one("li[data-status]")
    assert first.select_one(".check-name").text == "Sign-in" and first["data-status"] == "failed"
    assert page.select_one(".fix-hint")


def test_test_connection_with_missing_values_is_422(client, admin, make):
    location = make.location(dms_account="", dms_credentials=None)
    response = client.post(
        f"/admin/locations/{location.id}/test", data=_test_form(None, location, dms_account=""), htmx=True
    )
    assert response.status_code == 422
    text = soup(response).select_one("[role=alert]").text
    assert "dealer account" in text and "API key" in text


def test_new_routes_are_admin_only_and_need_csrf(client, auth, make):
    location = make.location()
    manager = make.user(Role.SERVICE_MANAGER, location)
    auth.login(manager.email, PASSWORD)
    assert client.post(f"/admin/locations/{location.id}/test", data={}).status_code == 403
    assert client.get("/admin/locations/dms-fields?dms_vendor=cdk", htmx=True).status_code == 403
    auth.logout()
    admin_user = make.user(Role.GLOBAL_ADMIN)
    auth.login(admin_user.email, PASSWORD)
    assert client.post(f"/admin/locations/{location.id}/test", data={}, csrf=False).status_code == 400
