"""Review findings on the jobs and the integration routes (fixer A): each test fails without its fix."""

from __future__ import annotations

import dataclasses
import importlib
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import redis as redis_lib
from sqlalchemy import select, update

from connectors.webhooks import sign
from tests.conftest import dms_settings
from tests.test_pushes import advisor, book, connected_location, created, dms_customer, messages
from webapp.extensions import db
from webapp.models import Location, OutboxStatus, RunStatus, RunTrigger, SyncRun, utcnow
from webapp.redis_conn import get_redis
from webapp.services.locks import RunLock
from webapp.services.runs import enqueue_pull, enqueue_reconcile


@pytest.fixture()
def alpha(make, sandbox):
    return connected_location(make, sandbox)


def _run(app, run_id: int) -> SyncRun:
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        db.session.expunge(run)
        return run


def _runs(app) -> list[SyncRun]:
    with app.app_context():
        runs = list(db.session.scalars(select(SyncRun).order_by(SyncRun.id)))
        for run in runs:
            db.session.expunge(run)
        return runs


class _BrokenQueue:
    """A queue whose Redis is gone."""

    def enqueue(self, *args, **kwargs):
        raise redis_lib.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


# --------------------------------------------------------------------------- 1. a lost lock is not retried
def test_a_lost_lock_ends_the_run_without_retrying_or_writing(app, alpha, run_jobs, monkeypatch):
    import jobs.pulls

    stored, slept = [], []
    real_store = jobs.pulls.store_page
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 10)
    monkeypatch.setattr("webapp.services.locks.RunLock.renew", lambda self, *a, **k: False)
    monkeypatch.setattr("jobs.pulls.store_page", lambda *a, **k: stored.append(1) or real_store(*a, **k))
    monkeypatch.setattr("jobs.pulls.retry_later", lambda *a, **k: slept.append(a))  # no retry is queued
    with app.app_context():
        run_id = enqueue_pull(alpha.id, "customers", RunTrigger.MANUAL).id
    run_jobs()
    run = _run(app, run_id)
    assert run.status == RunStatus.FAILED
    assert not stored, "no page may be written once the lock is no longer the run's"
    assert not slept, "a lost lock is not retried inside the job"
    assert "tries" not in run.error and "lost its hold" in run.error and "not caused by the DMS" in run.error
    assert "last saved page" in run.fix_hint and "Integration health" in run.fix_hint


# --------------------------------------------------------------------------- 2. inactive locations send nothing
def test_an_inactive_location_sends_no_push_however_its_job_is_woken(app, alpha, sandbox, make, run_jobs):
    from jobs.pushes import deliver_pushes

    appointment_id = book(app, alpha, dms_customer(make, sandbox, alpha), advisor(make, alpha))
    with app.app_context():
        db.session.execute(update(Location).where(Location.id == alpha.id).values(is_active=False))
        db.session.commit()
    run_jobs(["pushes"])  # the wake-up after the booking's commit
    with app.app_context():
        assert deliver_pushes(alpha.id)["sent"] == 0  # a backoff re-queue or an RQ retry
    [message] = messages(app, appointment_id)
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    assert created(sandbox) == 0
    with app.app_context():
        db.session.execute(update(Location).where(Location.id == alpha.id).values(is_active=True))
        db.session.commit()
        assert deliver_pushes(alpha.id)["sent"] == 1  # active again: it goes out
    assert created(sandbox) == 1


def test_one_push_sweep_remains():
    import jobs.pushes

    assert not hasattr(jobs.pushes, "deliver_due_pushes")


# --------------------------------------------------------------------------- 3. reconciliation failures
def test_a_failed_reconciliation_says_one_try_and_that_the_next_one_is_nightly(app, alpha, sandbox, run_jobs):
    with app.app_context():
        run_id = enqueue_reconcile(alpha.id, "customers").id
    sandbox.control.inject_fault("503", count=20, account="alpha-cdk")
    run_jobs(["pulls"])
    sandbox.control.clear_faults()
    run = _run(app, run_id)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("Stopped after one try: the DMS answered with an error on its side"), run.error
    assert "next pull" not in run.fix_hint
    assert "next reconciliation runs by itself at 03:00" in run.fix_hint, run.fix_hint


def test_describe_counts_the_tries_that_were_made():
    from connectors import TransientDmsError
    from jobs.dms_errors import describe_dms_error

    once = describe_dms_error(TransientDmsError("DMS answered 503", status=503), 1)
    assert once == "Stopped after one try: the DMS answered with an error on its side (DMS answered 503)."
    assert "kept" not in describe_dms_error(TransientDmsError("DMS answered 429", status=429), 1)


# --------------------------------------------------------------------------- 4. the failure callback's hint
def _live_run(make, trigger=RunTrigger.SCHEDULE):
    location = make.location()
    return make.sync_run(location, status=RunStatus.RUNNING, trigger=trigger)


@pytest.mark.parametrize(
    "func, interval, expected",
    [
        ("jobs.pulls.run_pull", 300, "within 5 minutes, continuing from the last saved page."),
        ("jobs.pulls.run_pull", 10, "within a minute, continuing from the last saved page."),
        ("jobs.extracts.run_import", 60, "within a minute, reading the file again"),
        ("jobs.reconcile.run_reconcile", 60, "within a minute, reading the DMS's list of records again."),
    ],
)
def test_the_retry_hint_names_the_jobs_own_retry(app, make, func, interval, expected):
    from jobs.claim import on_run_failure

    run = _live_run(make)
    job = SimpleNamespace(args=(run.id,), retries_left=2, func_name=func, get_retry_interval=lambda: interval)
    on_run_failure(job, None, RuntimeError, RuntimeError("boom"), None)
    hint = _run(app, run.id).fix_hint
    assert hint.startswith("Nothing to do: the console runs it again by itself") and expected in hint, hint


@pytest.mark.parametrize(
    "func, trigger, expected, false",
    [
        ("jobs.pulls.run_pull", RunTrigger.SCHEDULE, "the next pull of this data continues", "historical"),
        (
            "jobs.pulls.run_pull",
            RunTrigger.BACKFILL,
            "start the historical backfill again under Integration health",
            "next pull",
        ),
        ("jobs.extracts.run_import", RunTrigger.FILE, "imports it again at its next check of the folder", "Pull now"),
        (
            "jobs.reconcile.run_reconcile",
            RunTrigger.RECONCILE,
            "next reconciliation runs by itself at 03:00",
            "Pull now",
        ),
    ],
)
def test_the_final_hint_fits_the_kind_of_run(app, make, func, trigger, expected, false):
    from jobs.claim import on_run_failure

    run = _live_run(make, trigger)
    job = SimpleNamespace(args=(run.id,), retries_left=0, func_name=func)
    on_run_failure(job, None, RuntimeError, RuntimeError("boom"), None)
    run = _run(app, run.id)
    assert run.status == RunStatus.FAILED
    assert expected in run.fix_hint and false not in run.fix_hint, run.fix_hint


# --------------------------------------------------------------------------- 5. the last try's push hint
# Asserted by tests/test_pushes.py::test_gives_up_after_many_attempts_and_parks_it_for_a_person.


# --------------------------------------------------------------------------- 6. the header is read once
def test_the_reader_keeps_the_header_it_parsed(tmp_path):
    from connectors.extract import DailyExtract

    path = tmp_path / "customers_20260101.csv"
    path.write_text("\ufeff\n DMS_ID ,Modified_At,first_name\nC1,2026-01-01T00:00:00Z,Ann\n", encoding="utf-8")
    extract = DailyExtract(path, "customers")
    assert extract.reader.header is None
    assert len(list(extract)) == 1
    assert extract.reader.header == ["dms_id", "modified_at", "first_name"]
    import jobs.extracts

    assert not hasattr(jobs.extracts, "_carried_fields")


# --------------------------------------------------------------------------- 7. one "skipped" message
def test_every_kind_of_run_is_skipped_with_the_same_words(app, make, tmp_path):
    from jobs.extracts import run_import
    from jobs.pulls import run_pull
    from jobs.reconcile import run_reconcile

    location = make.location()
    runs = [
        make.sync_run(location, status=RunStatus.QUEUED, trigger=trigger, cursor_before=str(tmp_path / "x.csv"))
        for trigger in (RunTrigger.MANUAL, RunTrigger.RECONCILE, RunTrigger.FILE)
    ]
    with app.app_context():
        RunLock(get_redis(), location.id, "customers", owner="another-run").acquire()
        for job, run in zip((run_pull, run_reconcile, run_import), runs):
            assert job(run.id) == {"status": "skipped"}
    errors = {_run(app, run.id).error for run in runs}
    assert errors == {"Skipped: another run of the same data (a pull, an import or a reconciliation) was under way."}


# --------------------------------------------------------------------------- 8. write-back methods named explicitly
def test_write_back_does_not_build_the_method_from_the_staff_noun(monkeypatch):
    from connectors.records import KINDS
    from jobs import push_handlers

    renamed = {**KINDS, "customers": dataclasses.replace(KINDS["customers"], noun="client")}
    monkeypatch.setattr(push_handlers, "KINDS", renamed)
    calls = []
    dms = SimpleNamespace(
        profile=SimpleNamespace(writable_customer_fields=frozenset({"email"})),
        update_customer=lambda dms_id, fields, etag: calls.append((dms_id, fields)) or SimpleNamespace(dms_id=dms_id),
        update_vehicle=lambda *a: pytest.fail("a customer's write-back went to update_vehicle"),
    )
    message = SimpleNamespace(payload={"data_type": "customers", "dms_id": "C7", "fields": {"email": "a@b.test"}})
    assert push_handlers.send_write_back(dms, message, None) == "C7"
    assert calls == [("C7", {"email": "a@b.test"})]


# --------------------------------------------------------------------------- 9. the heartbeat interval
def test_the_heartbeat_is_registered_at_its_interval(monkeypatch):
    from rq import cron

    import jobs.cron
    import jobs.housekeeping

    saved = list(cron._job_data_registry)
    try:
        monkeypatch.setattr(jobs.housekeeping, "HEARTBEAT_INTERVAL", 30)
        cron._job_data_registry.clear()
        importlib.reload(jobs.cron)
        [entry] = [e for e in cron._job_data_registry if e["func"].__name__ == "record_scheduler_heartbeat"]
        assert entry["interval"] == 30
    finally:
        cron._job_data_registry[:] = saved


# --------------------------------------------------------------------------- 10. runs whose job never came
def test_a_queued_run_whose_job_was_lost_no_longer_blocks_its_data(app, make):
    location = make.location()
    lost = make.sync_run(location, status=RunStatus.QUEUED, job_id="sync-run-999999")  # Redis restarted
    with app.app_context():
        run = enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
        assert run is not None and run.job_id
    lost = _run(app, lost.id)
    assert lost.status == RunStatus.CANCELLED and lost.finished_at is not None
    assert "no longer in the job queue" in lost.error and "Pull now" in lost.fix_hint


def test_a_queued_run_never_enqueued_is_dead_after_a_minute_not_two_hours(app, make):
    from webapp.services.runs import active_run

    location = make.location()
    fresh = make.sync_run(location, status=RunStatus.QUEUED, job_id=None)  # being queued this instant
    with app.app_context():
        assert active_run(location.id, "customers").id == fresh.id
        db.session.execute(
            update(SyncRun).where(SyncRun.id == fresh.id).values(started_at=utcnow() - timedelta(minutes=5))
        )
        db.session.commit()
        assert active_run(location.id, "customers") is None
    assert _run(app, fresh.id).status == RunStatus.CANCELLED


@pytest.mark.parametrize("kind", ["pull", "backfill", "reconcile", "import"])
def test_a_run_that_could_not_be_queued_is_cancelled_by_its_enqueue(app, make, sandbox, monkeypatch, tmp_path, kind):
    from jobs.extracts import enqueue_import_if_new
    from webapp.services.runs import enqueue_backfill

    monkeypatch.setattr("webapp.services.runs.get_queue", lambda name: _BrokenQueue())
    (tmp_path / "customers_20990101.csv").write_text("dms_id,modified_at\nC1,2026-01-01T00:00:00Z\n")
    location = make.location(**{**dms_settings(sandbox, "alpha-cdk"), "dms_extract_dir": str(tmp_path)})
    with app.app_context():
        with pytest.raises(redis_lib.ConnectionError):
            if kind == "pull":
                enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
            elif kind == "backfill":
                enqueue_backfill(location.id, "customers")
            elif kind == "reconcile":
                enqueue_reconcile(location.id, "customers")
            else:
                enqueue_import_if_new(db.session.get(Location, location.id), "customers")
    [run] = _runs(app)
    assert run.status == RunStatus.CANCELLED and run.finished_at is not None
    assert run.error == "Not started: the job queue (Redis) could not be reached."
    assert run.fix_hint


def test_pull_now_without_a_queue_answers_and_leaves_no_live_run(app, client, auth, make, sandbox, monkeypatch):
    from tests.factories import PASSWORD
    from webapp.models import Role

    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    monkeypatch.setattr("webapp.services.runs.get_queue", lambda name: _BrokenQueue())
    response = client.post("/integrations/pull", data={"data_type": "customers"}, htmx=True)
    assert response.status_code == 200
    assert "nothing was started" in response.headers["HX-Trigger"]
    [run] = _runs(app)
    assert run.status == RunStatus.CANCELLED


def test_a_webhook_whose_pull_could_not_be_queued_is_accepted_when_the_dms_retries(app, client, make, monkeypatch):
    location = make.location(code="AUTO", webhook_secret="s3cret", dms_vendor="reynolds")
    raw = json.dumps({"event_id": "evt-1", "data_type": "customers"}).encode()

    def deliver():
        stamp = str(int(time.time()))
        return client.post(
            "/integrations/webhooks/AUTO",
            data=raw,
            csrf=False,
            content_type="application/json",
            headers={"X-DMS-Timestamp": stamp, "X-DMS-Signature": sign("s3cret", stamp, raw)},
        )

    with monkeypatch.context() as patch:
        patch.setattr("webapp.services.runs.get_queue", lambda name: _BrokenQueue())
        response = deliver()
        assert response.status_code == 503
    response = deliver()  # the DMS's retry
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["run_id"]
    assert deliver().status_code == 409  # a replay after that is still a duplicate
    with app.app_context():
        statuses = [
            r.status
            for r in db.session.scalars(select(SyncRun).where(SyncRun.location_id == location.id).order_by(SyncRun.id))
        ]
    assert statuses == [RunStatus.CANCELLED, RunStatus.QUEUED]
