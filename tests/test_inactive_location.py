"""An inactive location (issue 20, item 9): nobody works in it, nothing is exchanged with its DMS,
its data is kept, and Global Admins still see it in Admin → Locations and can reactivate it."""

from __future__ import annotations

import importlib
import json
import time

import pytest
from sqlalchemy import func, select, update

from connectors.webhooks import sign
from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp import scoping
from webapp.extensions import db
from webapp.models import Customer, Location, OutboxStatus, Role, User


def _deactivate(app, location, active=False):
    with app.app_context():
        db.session.execute(update(Location).where(Location.id == location.id).values(is_active=active))
        db.session.commit()


@pytest.fixture()
def inactive(app, make):
    """Northside (inactive) with an advisor, a manager and a customer; Eastside (active)."""
    north = make.location(name="Northside Ford", code="NSF")
    east = make.location(name="Eastside Chevrolet", code="ESC")
    people = {
        "advisor": make.user(Role.SERVICE_ADVISOR, north, email="adv@north.test"),
        "manager": make.user(Role.SERVICE_MANAGER, north, email="mgr@north.test"),
        "field": make.user(Role.FIELD_MANAGER, None, covers=[north, east], email="field@x.test"),
        "admin": make.user(Role.GLOBAL_ADMIN, None, email="boss@x.test", name="Dana Boss"),
        "reviewer": make.user(Role.REVIEWER, None, email="rev@x.test"),
    }
    customer = make.customer(north, first_name="Keep", last_name="Mehere")
    make.update_request(north, customer, people["advisor"])
    _deactivate(app, north)
    return {"north": north, "east": east, "customer": customer, **people}


@pytest.mark.parametrize("who", ["advisor", "manager"])
def test_staff_of_an_inactive_location_see_why_on_every_page(client, auth, inactive, who):
    assert auth.login(inactive[who].email, PASSWORD).status_code == 302
    for url in (
        "/",
        "/customers",
        f"/customers/{inactive['customer'].id}",
        "/cases",
        "/appointments/",
        "/settings/external-interfaces",
        "/integrations/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        page = soup(response)
        assert page.select_one("h1").get_text(" ", strip=True) == "Northside Ford is inactive"
        text = page.select_one("main").get_text(" ", strip=True)
        assert "Admin → Locations" in text and "Dana Boss" in text and "boss@x.test" in text
        assert "Keep" not in text  # no record of the location is shown
    # State-changing requests are refused the same way (with a valid CSRF token).
    assert client.post("/customers/add-from-dms", data={"dms_id": "X"}).status_code == 403
    # A live search (htmx) reloads the page, which then says why.
    response = client.get("/customers?q=keep", htmx=True)
    assert response.status_code == 403 and response.headers["HX-Refresh"] == "true"
    # They can still change their password and sign out.
    assert client.get("/account/password").status_code == 200
    assert client.post("/logout").status_code in (302, 303)


def test_reactivating_gives_everything_back(app, client, auth, inactive):
    auth.login(inactive["advisor"].email, PASSWORD)
    assert client.get("/customers").status_code == 403
    _deactivate(app, inactive["north"], active=True)
    response = client.get(f"/customers/{inactive['customer'].id}")
    assert response.status_code == 200
    assert "Mehere" in soup(response).select_one("main").get_text()


def test_field_manager_keeps_only_the_active_locations(client, auth, inactive):
    auth.login(inactive["field"].email, PASSWORD)
    page = soup(client.get("/"))
    options = [o.get_text(strip=True) for o in page.select("#switch-location option")]
    assert options == [] or options == ["Eastside Chevrolet"]  # one location left: no switcher
    assert "Eastside Chevrolet" in page.get_text()
    assert client.post("/location", data={"location_id": inactive["north"].id}).status_code == 404
    assert client.post("/location", data={"location_id": inactive["east"].id}).status_code == 303


def test_a_session_in_a_location_that_becomes_inactive_moves_to_an_active_one(app, client, auth, inactive):
    _deactivate(app, inactive["north"], active=True)
    auth.login(inactive["admin"].email, PASSWORD)
    assert client.post("/location", data={"location_id": inactive["north"].id}).status_code == 303
    _deactivate(app, inactive["north"])
    page = soup(client.get("/"))
    assert page.select_one("h2#loc-heading").get_text(" ", strip=True).startswith("Eastside Chevrolet")
    options = [o.get_text(strip=True) for o in page.select("#switch-location option")]
    assert "Northside Ford" not in options


def test_admins_still_see_it_under_admin_locations_and_can_reopen_it(client, auth, inactive):
    auth.login(inactive["admin"].email, PASSWORD)
    page = soup(client.get("/admin/locations"))
    row = next(tr for tr in page.select("tbody tr") if "Northside Ford" in tr.get_text())
    assert "Inactive" in row.get_text()
    edit = client.get(f"/admin/locations/{inactive['north'].id}/edit")
    assert edit.status_code == 200
    assert soup(edit).select_one("input[name=is_active]") is not None


def test_scopes_leave_out_inactive_locations_for_every_role(app, inactive):
    from flask_login import login_user

    from webapp.models import UpdateRequest

    for who, expected in (
        ("admin", {inactive["east"].id}),
        ("reviewer", {inactive["east"].id}),
        ("field", {inactive["east"].id}),
        ("advisor", set()),
    ):
        with app.test_request_context():
            login_user(db.session.get(User, inactive[who].id))
            assert scoping.allowed_location_ids() == expected, who
            assert db.session.scalars(scoping.scoped(UpdateRequest, across=True)).all() == []
            assert db.session.scalars(scoping.scoped(Customer, across=True)).all() == []
            if who == "advisor":
                assert [loc.name for loc in scoping.inactive_locations_of_current_user()] == ["Northside Ford"]
            else:
                assert scoping.inactive_locations_of_current_user() == []
    with app.app_context():  # the data is kept
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1


def test_no_pulls_imports_or_reconciliations_are_scheduled(app, make, sandbox):
    from jobs.schedule import dispatch_due_pulls
    from webapp.models import SyncRun

    active = make.location(code="ACT", **dms_settings(sandbox, "alpha-cdk"))
    asleep = make.location(code="OFF", is_active=False, **dms_settings(sandbox, "beta-karmak"))
    with app.app_context():
        counts = dispatch_due_pulls()
        assert counts["pulls"] > 0
        by_location = dict(
            db.session.execute(select(SyncRun.location_id, func.count()).group_by(SyncRun.location_id)).all()
        )
    assert by_location.get(active.id) and not by_location.get(asleep.id)


def test_pending_pushes_of_an_inactive_location_are_not_woken(app, make):
    from jobs.schedule import wake_due_pushes
    from webapp.redis_conn import get_redis

    on, off = make.location(code="ON"), make.location(code="OFF")
    for loc in (on, off):
        customer = make.customer(loc)
        appointment = make.appointment(loc, customer, None, make.user(Role.SERVICE_ADVISOR, loc))
        make.failed_push(loc, appointment, status=OutboxStatus.PENDING, attempts=0)
    _deactivate(app, off)
    with app.app_context():
        assert wake_due_pushes() == 1
        redis = get_redis()
        from webapp.outbox import WAKE_KEY

        assert redis.get(WAKE_KEY.format(on.id)) and not redis.get(WAKE_KEY.format(off.id))
    _deactivate(app, off, active=True)
    with app.app_context():
        assert wake_due_pushes() == 2  # reactivated: its pushes go out again


def test_the_scheduler_runs_the_active_only_push_sweep():
    from rq import cron

    from jobs.schedule import dispatch_due_pulls, wake_due_pushes

    importlib.import_module("jobs.cron")  # registers the jobs

    registered = {entry["func"] for entry in cron._job_data_registry}
    assert wake_due_pushes in registered and dispatch_due_pulls in registered
    assert "deliver_due_pushes" not in {f.__name__ for f in registered}


def test_webhooks_for_an_inactive_location_are_refused(client, inactive, app):
    with app.app_context():
        db.session.execute(
            update(Location)
            .where(Location.id == inactive["north"].id)
            .values(webhook_secret="s3cret", dms_vendor="reynolds")
        )
        db.session.commit()
    raw = json.dumps({"event_id": "e1", "data_type": "customers"}).encode()
    stamp = str(int(time.time()))
    response = client.post(
        "/integrations/webhooks/NSF",
        data=raw,
        csrf=False,
        content_type="application/json",
        headers={"X-DMS-Timestamp": stamp, "X-DMS-Signature": sign("s3cret", stamp, raw)},
    )
    assert response.status_code == 404
