"""The audit trail: what is recorded (who, when, from where) and Admin → Audit log."""

from __future__ import annotations

import pytest

from tests.conftest import audit_events, soup
from tests.factories import PASSWORD
from webapp import audit
from webapp.extensions import db
from webapp.models import AuditEvent, Role, utcnow
from webapp.models.audit import AuditAppendOnlyError

pytestmark = pytest.mark.usefixtures("fresh_throttle")


@pytest.fixture()
def admin(make, auth):
    user = make.user(Role.GLOBAL_ADMIN, email="boss@example.test")
    assert auth.login(user.email, PASSWORD).status_code == 302
    return user


def test_record_outside_a_request_and_append_only(app, make):
    location = make.location()
    with app.app_context():
        event = audit.record("payment.exported", location_id=location.id, target="receipt R-1", detail="$10.00")
        db.session.commit()
        assert event.ip == "" and event.user_id is None and event.created_at <= utcnow()
        event.detail = "tampered"
        with pytest.raises(AuditAppendOnlyError):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEvent, event.id))
        with pytest.raises(AuditAppendOnlyError):
            db.session.commit()
        db.session.rollback()


def test_failed_sign_ins_are_recorded_with_address(app, client, make):
    user = make.user(Role.SERVICE_ADVISOR, make.location())
    client.post("/login", data={"email": user.email, "password": "nope"})
    client.post("/login", data={"email": "ghost@example.test", "password": "nope"})
    first, second = audit_events(app, "auth.login_failed")
    assert (first.target, first.detail, first.ip) == (user.email, "wrong password", "127.0.0.1")
    assert first.location_id == user.location_id
    assert (second.target, second.detail) == ("ghost@example.test", "unknown e-mail")


def test_role_and_location_changes_are_recorded(app, client, admin, make):
    north, south = make.location(name="North"), make.location(name="South")
    user = make.user(Role.SERVICE_ADVISOR, north, email="pat@example.test", name="Pat")
    data = {
        "name": "Pat",
        "email": "pat@example.test",
        "role": "service_manager",
        "location_id": south.id,
        "active": "y",
        "password": "",
    }
    assert client.post(f"/admin/users/{user.id}/edit", data=data).status_code == 303
    (role,) = audit_events(app, "user.role_changed")
    assert role.detail == "Service Advisor → Service Manager" and role.target == "pat@example.test"
    assert role.user_id == admin.id and role.actor == "boss@example.test" and role.ip == "127.0.0.1"
    (moved,) = audit_events(app, "user.locations_changed")
    assert moved.detail == "North (home) → South (home)"
    data.pop("active")
    assert client.post(f"/admin/users/{user.id}/edit", data=data).status_code == 303
    assert [e.target for e in audit_events(app, "user.deactivated")] == ["pat@example.test"]
    assert len(audit_events(app, "user.role_changed")) == 1  # an unchanged role is not recorded again
    new = {
        "name": "Fay",
        "email": "fay@example.test",
        "role": "field_manager",
        "location_id": 0,
        "covered_location_ids": [north.id, south.id],
        "active": "y",
        "password": "a long enough password",
    }
    assert client.post("/admin/users/new", data=new).status_code == 303
    (created,) = audit_events(app, "user.created")
    assert (
        created.target == "fay@example.test" and "Field Manager" in created.detail and "North, South" in created.detail
    )


def test_dms_connection_changes_of_a_location_are_recorded_without_secrets(app, client, admin, make):
    location = make.location(
        name="Metro",
        code="MTC",
        dms_vendor="karmak",
        dms_base_url="http://dms.test",
        dms_credentials={"api_key": "old-secret-123"},
    )
    data = {
        "name": "Metro",
        "code": "MTC",
        "timezone": "America/Chicago",
        "brand_list": "Ford",
        "is_active": "y",
        "dms_vendor": "karmak",
        "dms_protocol": "console",
        "dms_fields_for": "console",
        "dms_base_url": "http://dms.test",
        "dms_account": location.dms_account,
        "dms_extract_dir": "",
        "cred_api_key": "",
    }
    assert client.post(f"/admin/locations/{location.id}/edit", data=data).status_code == 303
    assert audit_events(app, "location.dms_credentials_changed") == []  # nothing about the DMS changed
    data["cred_api_key"] = "new-secret-456"
    assert client.post(f"/admin/locations/{location.id}/edit", data=data).status_code == 303
    (event,) = audit_events(app, "location.dms_credentials_changed")
    assert event.detail == "changed: credentials" and event.location_id == location.id
    assert event.target == "Metro (MTC)" and event.user_id == admin.id
    assert "secret" not in event.detail
    data["dms_base_url"] = "http://other.test"
    client.post(f"/admin/locations/{location.id}/edit", data=data)
    assert audit_events(app, "location.dms_credentials_changed")[-1].detail == "changed: API address"


def test_update_request_decisions_are_recorded(app, client, auth, make):
    location = make.location(dms_vendor="dealertrack")
    customer = make.customer(location)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    reviewer = make.user(Role.REVIEWER, None)
    approved = make.update_request(location, customer, requested_by=advisor)
    rejected = make.update_request(location, customer, requested_by=advisor)
    auth.login(reviewer.email, PASSWORD)
    assert client.post(f"/review/update-requests/{approved.id}/approve").status_code == 303
    assert (
        client.post(
            f"/review/update-requests/{rejected.id}/reject", data={"reason": "The screenshot shows another customer."}
        ).status_code
        == 303
    )
    # A second decision on a decided request changes nothing and records nothing.
    client.post(f"/review/update-requests/{approved.id}/approve")
    (ok,) = audit_events(app, "update_request.approved")
    (no,) = audit_events(app, "update_request.rejected")
    assert ok.user_id == no.user_id == reviewer.id and ok.location_id == location.id
    assert ok.target == f"update request {approved.id} (customer {customer.id})"
    assert no.detail == "reason: The screenshot shows another customer."


# --------------------------------------------------------------------------- the page
def test_audit_log_page_filters_pages_and_escapes(app, client, admin, make):
    with app.app_context():
        for i in range(55):
            audit.record("auth.login_failed", target=f"guess{i}@example.test", detail="unknown e-mail")
        audit.record("auth.unlock", target="<script>alert(1)</script>", detail="cleared 5 failed sign-ins")
        db.session.commit()
    page = soup(client.get("/admin/audit"))
    events = page.select(".audit-event")
    assert len(events) == 50
    assert events[0]["data-kind"] == "auth.unlock"  # newest first
    assert "<script>alert(1)</script>" in events[0].text and not page.select("article script")
    assert "a visitor who was not signed in" in events[1].text
    assert page.select_one("nav.pager").text.split() == ["Page", "1", "of", "2", "Older"]
    second = soup(client.get(page.select_one("a[rel=next]")["href"]))
    assert len(second.select(".audit-event")) == 6
    only = soup(client.get("/admin/audit?kind=auth.unlock"))
    assert [e["data-kind"] for e in only.select(".audit-event")] == ["auth.unlock"]
    assert only.select_one("#kind option[selected]")["value"] == "auth.unlock"
    assert only.select_one("#audit-results")["aria-live"] == "polite"
    bad = client.get("/admin/audit?kind=nonsense")
    assert bad.status_code == 422
    assert "Choose a kind" in soup(bad).select_one("#kind-error").text
    assert soup(client.get("/admin/audit?page=999")).select_one("nav.pager span").text == "Page 2 of 2"


@pytest.mark.parametrize(
    "role", [Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR, Role.FIELD_MANAGER, Role.REVIEWER], ids=lambda r: r.value
)
def test_only_global_admins_see_the_audit_log(client, auth, make, role):
    location = make.location()
    user = make.user(role, location, covers=[location] if role == Role.FIELD_MANAGER else ())
    auth.login(user.email, PASSWORD)
    assert client.get("/admin/audit").status_code == 403
    assert "Audit log" not in [a.text.strip() for a in soup(client.get("/")).select("nav.nav a")]


def test_admins_find_the_audit_log_in_the_menu(client, admin):
    links = {a.text.strip(): a["href"] for a in soup(client.get("/")).select("nav.nav a")}
    assert links["Audit log"] == "/admin/audit"
