"""External Interfaces → webhook: the address, the secret (shown once), recent deliveries, a test event."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from connectors.webhooks import sign
from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent, Location, Role, RunTrigger, SyncRun

PAGE = "/settings/external-interfaces"
SECRET_URL = "/settings/external-interfaces/webhook-secret"
TEST_URL = "/settings/external-interfaces/webhook-test"


@pytest.fixture()
def reynolds(make, sandbox):
    return make.location(name="Gamma Reynolds", code="GAMMA", **dms_settings(sandbox, "gamma-reynolds"))


def _login(make, auth, location, role=Role.SERVICE_MANAGER):
    user = make.user(role, location)
    auth.login(user.email, PASSWORD)
    return user


def _stored_secret(app, location_id):
    with app.app_context():
        return db.session.get(Location, location_id).webhook_secret


def _post_webhook(client, code, body, secret):
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    return client.post(
        f"/integrations/webhooks/{code}",
        data=raw,
        csrf=False,
        content_type="application/json",
        headers={"X-DMS-Timestamp": timestamp, "X-DMS-Signature": sign(secret, timestamp, raw)},
    )


def test_page_shows_the_address_and_that_no_secret_is_set(client, make, auth, reynolds):
    _login(make, auth, reynolds)
    page = soup(client.get(PAGE))
    section = page.select_one("#webhook")
    url = section.select_one("#webhook-url")
    assert url["value"] == "http://localhost/integrations/webhooks/GAMMA"
    assert section.select_one("label[for=webhook-url]") is not None
    assert "not set" in section.select_one("#webhook-secret-state").text
    assert section.select_one("#webhook-status")["aria-live"] == "polite"
    assert "Generate secret" in section.select_one("form[hx-post$='webhook-secret'] button").text
    assert "No notices received yet" in section.text
    # Without a secret the webhook answers 404, as the page says ("refuses every notice").
    assert _post_webhook(client, "GAMMA", {"event_id": "e1", "data_type": "customers"}, "x").status_code == 404


def test_generated_secret_is_shown_once_works_and_is_audited(app, client, make, auth, reynolds):
    user = _login(make, auth, reynolds)
    response = client.post(SECRET_URL, htmx=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    fragment = soup(response)
    assert fragment.select_one("section#webhook") is not None and fragment.select_one("h1") is None  # the block only
    shown = fragment.select_one("#webhook-new-secret")
    secret = _stored_secret(app, reynolds.id)
    assert secret and len(secret) >= 40 and shown["value"] == secret
    assert fragment.select_one("label[for=webhook-new-secret]") is not None
    assert "not shown again" in fragment.select_one("#webhook-status").text
    # Afterwards only the date: the secret itself is not on the page any more.
    page = client.get(PAGE).get_data(as_text=True)
    assert secret not in page
    state = soup(client.get(PAGE)).select_one("#webhook-secret-state")
    assert "set on" in state.text and state.select_one("time") is not None
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "webhook.secret_rotated"))
        assert event.location_id == reynolds.id and event.user_id == user.id and secret not in event.detail
    assert "webhook.secret_rotated" in audit.KINDS
    # The DMS can now deliver with it.
    accepted = _post_webhook(client, "GAMMA", {"event_id": "e-1", "data_type": "customers"}, secret)
    assert accepted.status_code == 202


def test_rotating_replaces_the_secret_at_once(app, client, make, auth, reynolds):
    _login(make, auth, reynolds)
    client.post(SECRET_URL)
    old = _stored_secret(app, reynolds.id)
    page = soup(client.post(SECRET_URL))  # without htmx: the whole page, with the new secret
    new = _stored_secret(app, reynolds.id)
    assert new != old and page.select_one("h1") is not None
    assert page.select_one("#webhook-new-secret")["value"] == new
    assert "previous one no longer works" in page.select_one("#webhook-status").text
    assert _post_webhook(client, "GAMMA", {"event_id": "e-old", "data_type": "customers"}, old).status_code == 401
    assert _post_webhook(client, "GAMMA", {"event_id": "e-new", "data_type": "customers"}, new).status_code == 202
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.kind == "webhook.secret_rotated")).all()
        assert [e.detail for e in events] == ["first secret for this location", "replaced the previous secret"]


def test_recent_deliveries_list_each_result(app, client, make, auth, reynolds):
    _login(make, auth, reynolds)
    client.post(SECRET_URL)
    secret = _stored_secret(app, reynolds.id)
    assert _post_webhook(client, "GAMMA", {"event_id": "evt-a", "data_type": "customers"}, secret).status_code == 202
    assert _post_webhook(client, "GAMMA", {"event_id": "evt-a", "data_type": "customers"}, secret).status_code == 409
    assert _post_webhook(client, "GAMMA", {"event_id": "evt-b", "data_type": "customers"}, "wrong").status_code == 401
    assert _post_webhook(client, "GAMMA", {"data_type": "customers"}, secret).status_code == 400
    assert _post_webhook(client, "GAMMA", {"event_id": "<b>x</b>", "data_type": "payments"}, secret).status_code == 422
    rows = soup(client.get(PAGE)).select("#webhook tr.delivery")
    results = [row["class"][1] for row in rows]
    assert results == [
        "delivery-refused",
        "delivery-refused",
        "delivery-bad_signature",
        "delivery-duplicate",
        "delivery-accepted",
    ]  # newest first
    assert "Accepted" in rows[4].text and "pull queued" in rows[4].text and "evt-a" in rows[4].text
    assert "Customers" in rows[4].text and rows[4].select_one("time") is not None
    assert "Duplicate" in rows[3].text and "Bad or expired signature" in rows[2].text
    assert "event_id" in rows[1].text
    assert rows[0].select_one("b") is None and "<b>x</b>" in rows[0].text  # DMS data is escaped


def test_send_test_event_asks_the_sandbox_dms(app, client, make, auth, reynolds, sandbox, live_server, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_URL", sandbox.base_url)
    _login(make, auth, reynolds)
    client.post(SECRET_URL)
    page = soup(client.get(PAGE))
    button = page.select_one("form[hx-post$='webhook-test'] button")
    assert button is not None and "Send a test event" in button.text
    monkeypatch.setitem(app.config, "WEBHOOK_BASE_URL", live_server)  # the console's address as the DMS reaches it
    assert soup(client.get(PAGE)).select_one("#webhook-url")["value"] == f"{live_server}/integrations/webhooks/GAMMA"
    response = client.post(TEST_URL, htmx=True)
    assert response.status_code == 200
    fragment = soup(response)
    status = fragment.select_one("#webhook-status")
    assert "accepted it" in status.text and "pull of Customers was queued" in status.text, status.text
    assert fragment.select_one("#webhook tr.delivery-accepted") is not None
    with app.app_context():
        run = db.session.scalar(select(SyncRun).where(SyncRun.trigger == RunTrigger.WEBHOOK))
        assert run is not None and run.data_type == "customers" and run.location_id == reynolds.id


def test_test_event_reports_a_console_the_dms_cannot_reach(app, client, make, auth, reynolds, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "SANDBOX_URL", sandbox.base_url)
    _login(make, auth, reynolds)
    client.post(SECRET_URL)
    # The test client's address (http://localhost/...) is not served: the sandbox cannot deliver.
    status = soup(client.post(TEST_URL, htmx=True)).select_one("#webhook-status")
    assert "could not reach the console at http://localhost/integrations/webhooks/GAMMA" in status.text


def test_a_real_dms_gets_instructions_instead_of_a_test_button(app, client, make, auth):
    location = make.location(
        code="REAL", dms_vendor="reynolds", dms_base_url="https://dms.example.com/api", webhook_secret="already-set"
    )
    _login(make, auth, location)
    section = soup(client.get(PAGE)).select_one("#webhook")
    assert section.select_one("form[hx-post$='webhook-test']") is None
    assert "cannot ask Reynolds" in section.text and "Recent deliveries" in section.text
    assert "before this console recorded when" in section.select_one("#webhook-secret-state").text
    answer = soup(client.post(TEST_URL, htmx=True)).select_one("#webhook-status")
    assert "change a customer in Reynolds" in answer.text


def test_a_dms_without_change_notices_needs_no_secret(app, client, make, auth, sandbox):
    location = make.location(code="CDKX", **dms_settings(sandbox, "alpha-cdk"))
    _login(make, auth, location)
    section = soup(client.get(PAGE)).select_one("#webhook")
    assert "does not send change notices" in section.text and section.select_one("#webhook-url") is None
    response = client.post(SECRET_URL, htmx=True)
    assert response.status_code == 422 and _stored_secret(app, location.id) is None
    assert client.post(TEST_URL, htmx=True).status_code == 422


def test_advisors_cannot_set_the_secret(app, client, make, auth, reynolds):
    _login(make, auth, reynolds, Role.SERVICE_ADVISOR)
    assert client.post(SECRET_URL).status_code == 403
    assert _stored_secret(app, reynolds.id) is None


def test_generating_needs_a_csrf_token(app, client, make, auth, reynolds):
    _login(make, auth, reynolds)
    assert client.post(SECRET_URL, csrf=False).status_code == 400
    assert _stored_secret(app, reynolds.id) is None


def test_webhook_base_url_is_a_setting_read_from_the_environment(monkeypatch):
    from webapp.config import Config

    monkeypatch.setenv("WEBHOOK_BASE_URL", " https://console.example.com/ ")
    assert Config().WEBHOOK_BASE_URL == "https://console.example.com/"
    monkeypatch.delenv("WEBHOOK_BASE_URL")
    assert Config().WEBHOOK_BASE_URL == ""


def test_a_forged_test_request_for_a_dms_without_change_notices_says_why(client, make, auth, sandbox):
    location = make.location(code="CDKY", **dms_settings(sandbox, "alpha-cdk"))
    _login(make, auth, location)
    for url in (SECRET_URL, TEST_URL):
        response = client.post(url, htmx=True)
        assert response.status_code == 422
        assert "does not send change notices" in soup(response).select_one("#webhook-status").text
