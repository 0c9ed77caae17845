"""The integration health page, Pull now, backfills, scheduling, webhooks and daily files."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from connectors.webhooks import sign
from jobs.schedule import dispatch_due_pulls
from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import DmsRecord, Role, RunStatus, RunTrigger, SyncRun
from webapp.services.cadences import cadences, next_due


@pytest.fixture()
def location(make, sandbox):
    return make.location(
        name="Alpha Ford", code="ALPHA", webhook_secret="s3cret-hook", **dms_settings(sandbox, "alpha-cdk")
    )


@pytest.fixture()
def manager(make, location, auth):
    user = make.user(Role.SERVICE_MANAGER, location)
    auth.login(user.email, PASSWORD)
    return user


def runs(app, **where):
    with app.app_context():
        query = select(SyncRun).order_by(SyncRun.id)
        for key, value in where.items():
            query = query.where(getattr(SyncRun, key) == value)
        found = db.session.scalars(query).all()
        for run in found:
            db.session.expunge(run)
        return found


def test_health_page_lists_every_data_type_with_its_cadence(client, manager, location):
    page = soup(client.get("/integrations/"))
    rows = {row.select_one("th").text.strip(): row for row in page.select("table.health tbody tr")}
    assert set(rows) == {
        "Customers",
        "Vehicles",
        "Appointments",
        "Repair orders",
        "Parts invoices",
        "Special orders",
        "Opcodes",
    }
    assert "Every 15 mins" in rows["Customers"].text and "Every 3 mins" in rows["Repair orders"].text
    assert "Nightly" in rows["Opcodes"].text and "Comes with RO" in rows["Vehicles"].text
    assert "Never pulled" in rows["Customers"].text
    assert page.select_one("#health")["aria-live"] == "polite"


def test_pull_now_runs_and_the_row_turns_green(app, client, manager, location, run_jobs):
    response = client.post("/integrations/pull", data={"data_type": "customers"}, htmx=True)
    assert response.status_code == 200 and "Pull of Customers started" in response.headers["HX-Trigger"]
    fragment = soup(response)
    assert fragment.select_one("#health")["hx-trigger"] == "load delay:2s"  # polls while running
    assert "Queued" in fragment.select_one("#row-customers").text
    # A second click while queued is refused, not queued behind.
    again = client.post("/integrations/pull", data={"data_type": "customers"}, htmx=True)
    assert "already under way" in again.headers["HX-Trigger"]
    run_jobs()
    page = soup(client.get("/integrations/"))
    row = page.select_one("#row-customers")
    assert "On time" in row.text and "120 read" in row.text and "120 new" in row.text
    assert not page.select_one("#health").has_attr("hx-trigger")  # polling stops
    assert page.select("svg.chart rect.bar")  # the chart shows the run
    assert "120" in page.select_one("table.compact").text


def test_failed_pull_shows_the_error_and_fix(app, client, manager, make, sandbox, run_jobs):
    location = make.location(**{**dms_settings(sandbox, "alpha-cdk"), "dms_credentials": {"api_key": "wrong"}})
    auth_user = make.user(Role.SERVICE_MANAGER, location)
    client.post("/logout")
    client.post("/login", data={"email": auth_user.email, "password": PASSWORD})
    client.post("/integrations/pull", data={"data_type": "customers"})
    run_jobs()
    row = soup(client.get("/integrations/")).select_one("#row-customers")
    assert "Last pull failed" in row.text and "credentials" in row.text and "API key" in row.text


def test_unknown_or_unsupported_data_type_is_refused(client, manager):
    assert client.post("/integrations/pull", data={"data_type": "nonsense"}).status_code == 400
    assert client.post("/integrations/backfill", data={"data_type": "customers"}).status_code == 400  # CDK: no


def test_backfill_shows_a_progress_bar_and_can_be_cancelled(app, client, manager, location, run_jobs):
    response = client.post("/integrations/backfill", data={"data_type": "repair_orders"})
    assert response.status_code == 303
    run = runs(app, trigger=RunTrigger.BACKFILL)[0]
    progress = soup(client.get(f"/integrations/runs/{run.id}", htmx=True))
    assert progress.select_one("section")["hx-trigger"] == "load delay:1s"
    cancel = client.post(f"/integrations/runs/{run.id}/cancel", htmx=True)
    assert "Cancelled" in soup(cancel).text
    assert runs(app, id=run.id)[0].status == RunStatus.CANCELLED
    client.post("/integrations/backfill", data={"data_type": "repair_orders"})
    run_jobs()
    done = runs(app, trigger=RunTrigger.BACKFILL)[-1]
    assert done.status == RunStatus.SUCCEEDED and done.expected_total and done.fetched >= done.expected_total
    page = soup(client.get(f"/integrations/runs/{done.id}"))
    assert page.select_one("progress")["value"] == str(done.fetched)
    assert "(100%)" in page.text


def test_cancelling_a_running_backfill_stops_after_the_page(app, location, run_jobs, monkeypatch):
    from jobs import pulls
    from webapp.services import runs as run_service

    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 10)
    original = pulls.store_page

    def store_and_cancel(session, loc, data_type, records, **kw):
        result = original(session, loc, data_type, records, **kw)
        run_service.request_cancel(session.get(SyncRun, kw["run_id"]))  # a person clicks Cancel now
        return result

    monkeypatch.setattr("jobs.pulls.store_page", store_and_cancel)
    with app.app_context():
        run_id = run_service.enqueue_backfill(location.id, "repair_orders").id
    run_jobs()
    run = runs(app, id=run_id)[0]
    assert run.status == RunStatus.CANCELLED and run.fetched == 10


def age_runs(app, delta: timedelta) -> None:
    """Pretend every run so far happened ``delta`` earlier (time passing, without waiting)."""
    from sqlalchemy import update

    with app.app_context():
        for run in db.session.scalars(select(SyncRun)):
            db.session.execute(
                update(SyncRun)
                .where(SyncRun.id == run.id)
                .values(started_at=run.started_at - delta, finished_at=run.finished_at and run.finished_at - delta)
            )
        db.session.commit()


def _latest_start(app):
    with app.app_context():
        return db.session.scalar(select(func.max(SyncRun.started_at)))


def test_schedule_dispatches_due_pulls_once(app, location, run_jobs):
    """Due pulls are queued once each, none before its due time. Times are given explicitly: due
    times sit on a grid (webapp/services/cadences.py), so "4 minutes later" may or may not cross a slot of
    the 15-minute data types."""
    with app.app_context():
        cadence = cadences(db.session.merge(location))
        assert cadence["customers"].minutes == 15 and cadence["opcodes"].nightly
        first = dispatch_due_pulls()
        assert first == {
            "pulls": 7,
            "reconciliations": 0,
            "imports": 0,
        }  # all CDK data types due; nothing to reconcile yet
        assert dispatch_due_pulls()["pulls"] == 0  # queued ones are not queued twice
    run_jobs()
    ran_at = _latest_start(app)
    with app.app_context():
        loc = db.session.merge(location)
        assert dispatch_due_pulls(now=ran_at)["pulls"] == 0  # all ran just now: nothing due
    run_jobs()  # the first reconciliations of customers and vehicles, queued by that dispatch
    with app.app_context():
        loc = db.session.merge(location)
        dues = {t: next_due(loc, t, c, ran_at) for t, c in cadence.items() if c.scheduled}
        assert dues["repair_orders"] - ran_at <= timedelta(minutes=3)  # repair orders: every 3 minutes
        earliest = min(dues.values())
        assert dispatch_due_pulls(now=earliest - timedelta(seconds=1))["pulls"] == 0  # not before its due time
        assert dispatch_due_pulls(now=earliest)["pulls"] == sum(1 for due in dues.values() if due == earliest) >= 1
        assert dispatch_due_pulls(now=earliest)["pulls"] == 0  # once
    run_jobs()
    age_runs(app, timedelta(days=1, hours=1))
    with app.app_context():
        # A day later: the nightly reconciliations of customers and vehicles, and the other pulls.
        assert dispatch_due_pulls() == {"pulls": 5, "reconciliations": 2, "imports": 0}
    run_jobs()
    with app.app_context():
        # Customers and vehicles pull once their reconciliation is done; nothing reconciles twice a night.
        assert dispatch_due_pulls(now=_latest_start(app)) == {"pulls": 2, "reconciliations": 0, "imports": 0}


def test_location_override_changes_the_cadence(app, make, sandbox):
    location = make.location(cadence_overrides={"customers": 5}, **dms_settings(sandbox, "alpha-cdk"))
    with app.app_context():
        cadence = cadences(db.session.merge(location))["customers"]
    assert cadence.minutes == 5 and "location setting" in cadence.label


def _post_webhook(client, location, body: dict, secret="s3cret-hook", timestamp=None, event_id="evt-1"):
    raw = json.dumps(body).encode()
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    return client.post(
        f"/integrations/webhooks/{location.code}",
        data=raw,
        csrf=False,
        content_type="application/json",
        headers={
            "X-DMS-Timestamp": timestamp,
            "X-DMS-Signature": sign(secret, timestamp, raw),
            "X-DMS-Event-Id": event_id,
        },
    )


def test_webhook_verifies_signature_and_rejects_replays(app, client, location):
    body = {"event_id": "evt-1", "data_type": "customers", "dms_ids": ["C0000001"]}
    assert _post_webhook(client, location, body, secret="wrong").status_code == 401
    assert _post_webhook(client, location, body, timestamp=time.time() - 3600).status_code == 401
    ok = _post_webhook(client, location, body)
    assert ok.status_code == 202 and ok.get_json()["run_id"]
    assert _post_webhook(client, location, body).status_code == 409  # the same event again
    assert runs(app, trigger=RunTrigger.WEBHOOK)[0].data_type == "customers"
    assert (
        _post_webhook(client, location, {"event_id": "evt-2", "data_type": "payments"}, event_id="evt-2").status_code
        == 422
    )
    assert client.post("/integrations/webhooks/NOPE", data=b"{}", csrf=False).status_code == 404


def _post_raw_webhook(client, location, raw: bytes, event_id_header="evt-x", secret="s3cret-hook"):
    timestamp = str(int(time.time()))
    return client.post(
        f"/integrations/webhooks/{location.code}",
        data=raw,
        csrf=False,
        content_type="application/json",
        headers={
            "X-DMS-Timestamp": timestamp,
            "X-DMS-Signature": sign(secret, timestamp, raw),
            "X-DMS-Event-Id": event_id_header,
        },
    )


def test_webhook_replay_is_detected_from_signed_data_only(app, client, location):
    """A captured notice resent under a new (unsigned) X-DMS-Event-Id header is still a duplicate."""
    raw = json.dumps({"event_id": "evt-signed-1", "data_type": "customers", "dms_ids": ["C0000001"]}).encode()
    first = _post_raw_webhook(client, location, raw, event_id_header="header-1")
    assert first.status_code == 202
    replay = _post_raw_webhook(client, location, raw, event_id_header="header-2")
    assert replay.status_code == 409, replay.get_json()
    assert len(runs(app, trigger=RunTrigger.WEBHOOK)) == 1
    # The header alone names no event: a signed body without event_id is refused.
    no_id = json.dumps({"data_type": "customers"}).encode()
    response = _post_raw_webhook(client, location, no_id, event_id_header="header-3")
    assert response.status_code == 400 and "event_id" in response.get_json()["error"]
    for bad_id in ("", "   ", 17, None, ["a"]):
        body = json.dumps({"event_id": bad_id, "data_type": "customers"}).encode()
        assert _post_raw_webhook(client, location, body).status_code == 400, bad_id


def test_webhook_with_deeply_nested_body_is_400_and_logged(app, client, location, caplog, monkeypatch):
    """A validly signed body too deep for the JSON parser is refused (400), not a 500."""
    # The in-process migrations' logging.fileConfig disabled loggers created before them (the
    # web server never runs migrations in its own process): let this one be heard again.
    monkeypatch.setattr(logging.getLogger("webapp.integrations.webhooks"), "disabled", False)
    raw = b'{"event_id": "evt-deep", "data_type": "customers", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with caplog.at_level("WARNING", logger="webapp.integrations.webhooks"):
        response = _post_raw_webhook(client, location, raw)
    assert response.status_code == 400
    assert response.get_json()["error"] == "body is nested too deeply"
    assert any("nested too deeply" in r.getMessage() and location.code in r.getMessage() for r in caplog.records)
    assert runs(app, trigger=RunTrigger.WEBHOOK) == []


def test_webhook_body_with_nul_is_400(app, client, location):
    for body in (
        {"event_id": "evt-\u0000", "data_type": "customers"},
        {"event_id": "evt-n2", "data_type": "customers", "dms_ids": ["C1\u0000"]},
    ):
        raw = json.dumps(body).encode()
        assert b"\\u0000" in raw  # the JSON escape of NUL, as a DMS would send it
        response = _post_raw_webhook(client, location, raw)
        assert response.status_code == 400 and "NUL" in response.get_json()["error"]
    assert runs(app, trigger=RunTrigger.WEBHOOK) == []


def test_dms_change_reaches_the_mirror_through_a_webhook(app, make, sandbox, run_jobs, live_server):
    """A push-based DMS (Reynolds, "Auto") edits a customer; its signed webhook pulls it in."""
    location = make.location(code="GAMMA", webhook_secret="hook-secret", **dms_settings(sandbox, "gamma-reynolds"))
    with app.app_context():
        from webapp.services.runs import enqueue_pull

        enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
    run_jobs()
    sandbox.control.edit_record("gamma-reynolds", "customers", "C0000002", {"last_name": "Changed-By-Webhook"})
    deliveries = sandbox.control.send_webhooks(
        "gamma-reynolds",
        url=f"{live_server}/integrations/webhooks/GAMMA",
        secret="hook-secret",
        data_type="customers",
        dms_ids=["C0000002"],
    )
    assert deliveries[0]["status"] == 202
    run_jobs()
    with app.app_context():
        row = db.session.scalar(
            select(DmsRecord).where(DmsRecord.location_id == location.id, DmsRecord.dms_id == "C0000002")
        )
        assert row.payload["last_name"] == "Changed-By-Webhook"


def test_daily_file_is_imported_once_with_bad_rows_reported(app, location, sandbox, run_jobs):
    path = sandbox.control.write_extract("alpha-cdk", "customers")
    with open(path, "a", encoding="utf-8") as extract:
        extract.write('"","broken row without an id"\n')
    with app.app_context():
        assert dispatch_due_pulls()["imports"] == 1
    run_jobs()
    imported = runs(app, trigger=RunTrigger.FILE)
    assert len(imported) == 1 and imported[0].status == RunStatus.SUCCEEDED, imported[0].error
    assert imported[0].created >= 100 and imported[0].failed >= 1 and imported[0].notes[0].startswith("line ")
    with app.app_context():
        before = db.session.scalar(select(func.count(SyncRun.id)).where(SyncRun.trigger == RunTrigger.FILE))
        dispatch_due_pulls()
        after = db.session.scalar(select(func.count(SyncRun.id)).where(SyncRun.trigger == RunTrigger.FILE))
    assert before == after  # the same file is not imported twice


def test_the_week_chart_is_read_once_per_page_not_at_every_refresh(app, client, auth, make, location):
    """The health block refreshes itself every 2 s while a run is under way; the 7-day chart (a week
    of runs read and binned) is outside it."""
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    page = soup(client.get("/integrations/"))
    assert page.select_one("#chart-heading") is not None
    assert page.select_one("#health #chart-heading") is None
    fragment = client.get("/integrations/", htmx=True).get_data(as_text=True)
    assert 'id="health"' in fragment and "chart-heading" not in fragment
