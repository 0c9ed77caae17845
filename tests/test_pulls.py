"""Pulls from the sandbox DMS into the mirror, with a real RQ worker."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from jobs import failpoints
from tests.conftest import dms_settings
from webapp.extensions import db
from webapp.models import (
    ChangeHistory,
    ChangeSource,
    Customer,
    DmsRecord,
    RunStatus,
    RunTrigger,
    SyncCursor,
    SyncMode,
    SyncRun,
)
from webapp.services import retry_policy
from webapp.services.runs import enqueue_pull, enqueue_reconcile


def dms_ids(sandbox, account, data_type):
    """Every id the DMS has (through the connector, as a pull would)."""
    with sandbox.connect(account) as dms:
        return set(dms.list_ids(data_type))


def mirror_ids(app, location_id, data_type, include_deleted=False):
    with app.app_context():
        query = select(DmsRecord.dms_id).where(DmsRecord.location_id == location_id, DmsRecord.data_type == data_type)
        if not include_deleted:
            query = query.where(DmsRecord.deleted_at.is_(None))
        return list(db.session.scalars(query))


def pull(app, run_jobs, location_id, data_type, trigger=RunTrigger.MANUAL):
    with app.app_context():
        run = enqueue_pull(location_id, data_type, trigger)
        assert run is not None
        run_id = run.id
    run_jobs()
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        db.session.expunge(run)
        return run


def pull_watching_sql(app, run_jobs, location_id, data_type, listener):
    """``pull`` with ``listener`` told of every SQL statement (SQLAlchemy's
    before_cursor_execute) the pull runs."""
    from sqlalchemy import event

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", listener)
    try:
        return pull(app, run_jobs, location_id, data_type)
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", listener)


@pytest.fixture()
def location(make, sandbox):
    return make.location(name="Alpha Ford", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))


@pytest.mark.parametrize("reader", ["process", "thread"])
def test_full_pull_mirrors_every_record_once(app, run_jobs, sandbox, location, reader, monkeypatch):
    monkeypatch.setattr("jobs.pull_pages.READER", reader)
    expected = dms_ids(sandbox, "alpha-cdk", "customers")
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.SUCCEEDED, run.error
    got = mirror_ids(app, location.id, "customers")
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == expected
    assert run.fetched >= len(expected) and run.created == len(expected) and run.failed == 0
    assert run.cursor_after and run.finished_at
    with app.app_context():
        row = db.session.scalar(select(DmsRecord).where(DmsRecord.location_id == location.id).limit(1))
        assert row.content_hash and row.payload["dms_id"] == row.dms_id
        cursor = db.session.scalar(select(SyncCursor).where(SyncCursor.location_id == location.id))
        assert cursor.cursor == run.cursor_after


def test_repull_writes_nothing_and_catches_edits(app, run_jobs, sandbox, location):
    pull(app, run_jobs, location.id, "customers")
    again = pull(app, run_jobs, location.id, "customers")
    assert again.status == RunStatus.SUCCEEDED and again.created == 0 and again.updated == 0
    some_id = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[3]
    sandbox.control.edit_record("alpha-cdk", "customers", some_id, {"last_name": "Edited-In-DMS"})
    third = pull(app, run_jobs, location.id, "customers")
    assert third.updated == 1 and third.created == 0
    with app.app_context():
        row = db.session.scalar(select(DmsRecord).where(DmsRecord.dms_id == some_id))
        assert row.payload["last_name"] == "Edited-In-DMS" and "edited in dms" in row.name_key


def test_review_mode_flags_drift_and_changes_nothing(app, run_jobs, sandbox, location, make):
    some_id = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[5]
    portal = make.customer(location, dms_id=some_id, first_name="Portal", last_name="Name")
    pull(app, run_jobs, location.id, "customers")
    with app.app_context():
        row = db.session.scalar(select(DmsRecord).where(DmsRecord.dms_id == some_id))
        assert "first_name" in row.drift_fields
        assert db.session.get(Customer, portal.id).first_name == "Portal"
        assert db.session.scalar(select(func.count(ChangeHistory.id))) == 0


def test_automatic_mode_applies_with_change_history(app, run_jobs, sandbox, make):
    location = make.location(sync_mode=SyncMode.AUTOMATIC, **dms_settings(sandbox, "alpha-cdk"))
    some_id = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[7]
    portal = make.customer(location, dms_id=some_id, first_name="Portal", last_name="Name")
    dms_record = sandbox.control.get_record("alpha-cdk", "customers", some_id)
    pull(app, run_jobs, location.id, "customers")
    with app.app_context():
        customer = db.session.get(Customer, portal.id)
        if dms_record.get("kind") != "business":
            assert customer.first_name == dms_record["first_name"]
        assert customer.last_synced_at is not None
        history = db.session.scalars(select(ChangeHistory).where(ChangeHistory.record_id == portal.id)).all()
        assert {h.field for h in history} >= {"last_name"}
        assert all(h.source == ChangeSource.DMS and h.context.get("sync_run_id") for h in history)


def test_vehicles_and_ros_whose_customer_is_missing_still_land(app, run_jobs, sandbox, location):
    run = pull(app, run_jobs, location.id, "repair_orders")
    assert run.status == RunStatus.SUCCEEDED
    assert set(mirror_ids(app, location.id, "repair_orders")) == dms_ids(sandbox, "alpha-cdk", "repair_orders")
    assert run.notes and "is not in the DMS mirror" in run.notes[0]
    with app.app_context():
        row = db.session.scalar(select(DmsRecord).where(DmsRecord.data_type == "repair_orders").limit(1))
        assert row.ro_number and row.owner_dms_id


@pytest.mark.parametrize("fault", ["500", "503", "429", "hang"])
def test_transient_faults_are_retried_and_the_run_completes(app, run_jobs, sandbox, location, fault, monkeypatch):
    monkeypatch.setattr(
        retry_policy, "PULLS", replace(retry_policy.PULLS, cap=0.05)
    )  # honour Retry-After, but do not wait 7 s in tests
    monkeypatch.setattr("jobs.pull_pages.CALL_TIMEOUT", 0.5)
    sandbox.control.inject_fault(fault, count=2, account="alpha-cdk", retry_after=1, hang_seconds=1.5)
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.SUCCEEDED, run.error
    got = mirror_ids(app, location.id, "customers")
    assert sorted(got) == sorted(dms_ids(sandbox, "alpha-cdk", "customers"))


def test_malformed_page_fails_readably_and_stores_nothing_of_it(app, run_jobs, sandbox, location, monkeypatch):
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 25)
    pull(app, run_jobs, location.id, "customers")  # a cursor to start from
    ids = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))
    for dms_id in ids[:60]:
        sandbox.control.edit_record("alpha-cdk", "customers", dms_id, {"city": "Changed"})
    with app.app_context():
        before = db.session.scalar(select(SyncCursor.cursor).where(SyncCursor.location_id == location.id))
    # The next page read (the first of this pull) carries a record without modified_at.
    sandbox.control.inject_fault("bad_record", count=1, account="alpha-cdk")
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.FAILED
    assert "cannot read" in run.error and run.fix_hint
    with app.app_context():
        after = db.session.scalar(select(SyncCursor.cursor).where(SyncCursor.location_id == location.id))
        edited = db.session.scalars(
            select(DmsRecord.payload).where(DmsRecord.location_id == location.id, DmsRecord.dms_id.in_(ids[:60]))
        )
        kept = sum(payload["city"] == "Changed" for payload in edited)
    assert after == before  # the cursor did not pass the bad page
    assert kept == 0  # a page is stored whole or not at all
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.SUCCEEDED
    with app.app_context():
        rows = db.session.scalars(select(DmsRecord).where(DmsRecord.dms_id.in_(ids[:60]))).all()
        assert all(r.payload["city"] == "Changed" for r in rows)


def test_crash_mid_pull_resumes_without_loss(app, run_jobs, sandbox, location, monkeypatch):
    """An exception between storing a page and committing it: the retry loses nothing."""
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 20)
    failpoints.arm("pull.before_commit", nth=3, action="raise")
    try:
        with app.app_context():
            run_id = enqueue_pull(location.id, "customers", RunTrigger.MANUAL).id
        run_jobs()
    finally:
        failpoints.disarm_all()
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.status == RunStatus.RUNNING and "stopped" in run.error  # RQ will retry it
        assert len(mirror_ids(app, location.id, "customers")) == 40  # two pages committed
    # The retry (scheduled with backoff) — run it now.
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from webapp.redis_conn import get_redis

    registry = ScheduledJobRegistry("pulls", connection=get_redis())
    for job_id in registry.get_job_ids():
        Queue("pulls", connection=get_redis()).enqueue_job(registry.job_class.fetch(job_id, connection=get_redis()))
        registry.remove(job_id)
    run_jobs()
    with app.app_context():
        assert db.session.get(SyncRun, run_id).status == RunStatus.SUCCEEDED
    got = mirror_ids(app, location.id, "customers")
    assert sorted(got) == sorted(dms_ids(sandbox, "alpha-cdk", "customers"))


def test_two_pulls_of_the_same_data_never_run_at_once(app, location):
    with app.app_context():
        first = enqueue_pull(location.id, "customers", RunTrigger.SCHEDULE)
        second = enqueue_pull(location.id, "customers", RunTrigger.SCHEDULE)
        other = enqueue_pull(location.id, "repair_orders", RunTrigger.SCHEDULE)
    assert first is not None and second is None and other is not None


def test_reconciliation_marks_deleted_not_removed(app, run_jobs, sandbox, location):
    pull(app, run_jobs, location.id, "customers")
    victim = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[10]
    sandbox.control.delete_record("alpha-cdk", "customers", victim)
    with app.app_context():
        run_id = enqueue_reconcile(location.id, "customers").id
    run_jobs()
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.status == RunStatus.SUCCEEDED and run.deleted == 1
    assert victim not in mirror_ids(app, location.id, "customers")
    assert victim in mirror_ids(app, location.id, "customers", include_deleted=True)


def test_a_reconciliation_queued_under_its_old_job_name_still_runs(app, run_jobs, sandbox, location):
    """Jobs in Redis at an upgrade name moved functions by their old dotted names (jobs.worker.MOVED_JOBS)."""
    from rq import Callback

    from jobs.claim import on_run_failure
    from jobs.worker import AppJob
    from webapp.redis_conn import get_redis
    from webapp.services.runs import enqueue_run

    pull(app, run_jobs, location.id, "customers")
    victim = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[3]
    sandbox.control.delete_record("alpha-cdk", "customers", victim)
    with app.app_context():
        run = SyncRun(
            location_id=location.id, data_type="customers", trigger=RunTrigger.RECONCILE, status=RunStatus.QUEUED
        )
        db.session.add(run)
        db.session.commit()
        enqueue_run(run, "jobs.pulls.run_reconcile", on_failure=Callback("jobs.pulls.on_pull_failure"))
        run_id = run.id
        job = AppJob.fetch(run.job_id, connection=get_redis())
        assert job.failure_callback is on_run_failure  # were the job to die, its run would say so
    run_jobs()
    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.status == RunStatus.SUCCEEDED and run.deleted == 1


def test_bad_credentials_fail_with_a_hint(app, run_jobs, sandbox, make):
    location = make.location(**{**dms_settings(sandbox, "alpha-cdk"), "dms_credentials": {"api_key": "wrong"}})
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.FAILED and "credentials" in run.error
    assert "API key" in run.fix_hint


def test_pull_confirms_approved_update_requests_the_dms_now_carries(app, run_jobs, sandbox, location, make):
    """An approved correction becomes "Confirmed by DMS" once a pull brings its values."""
    from webapp.models.update_request import UpdateRequest, UpdateRequestStatus

    some_id = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[2]
    portal = make.customer(location, dms_id=some_id, first_name="Pat", last_name="Lee")
    approved = make.update_request(
        location, portal, status=UpdateRequestStatus.APPROVED, requested_values={"city": "Zenith Falls"}
    )
    other = make.update_request(
        location, portal, status=UpdateRequestStatus.APPROVED, requested_values={"city": "Nowhere Else"}
    )
    pull(app, run_jobs, location.id, "customers")
    with app.app_context():
        assert db.session.get(UpdateRequest, approved.id).status is UpdateRequestStatus.APPROVED
    sandbox.control.edit_record("alpha-cdk", "customers", some_id, {"city": "ZENITH FALLS"})
    pull(app, run_jobs, location.id, "customers")
    with app.app_context():
        assert db.session.get(UpdateRequest, approved.id).status is UpdateRequestStatus.CONFIRMED
        assert db.session.get(UpdateRequest, other.id).status is UpdateRequestStatus.APPROVED


def test_prefetched_pages_keep_order_raise_errors_in_place_and_stop_early():
    import threading

    from connectors import TransientDmsError
    from jobs.pull_pages import prefetched

    def pages(fail_after=None):
        for n in range(10):
            if n == fail_after:
                raise TransientDmsError("DMS hiccup")
            yield n

    assert list(prefetched(pages())) == list(range(10))
    got = []
    with pytest.raises(TransientDmsError):
        for page in prefetched(pages(fail_after=4)):
            got.append(page)
    assert got == [0, 1, 2, 3], "pages before the error are all handed over first"
    for page in prefetched(pages()):
        if page == 1:
            break
    assert not [t for t in threading.enumerate() if t.name == "pull-prefetch" and t.is_alive()]


def _reading(sandbox, account, data_type, **overrides):
    """The pages a pull's reading process hands over, as the pull gets them."""
    from jobs.pull_pages import _from_reading_process

    settings = {**sandbox.settings(account), "timeout": 5, **overrides}
    return _from_reading_process(sandbox.accounts[account], settings, data_type, None)


def test_reading_process_hands_over_every_page_in_order_then_ends(sandbox, monkeypatch):
    import multiprocessing

    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 40)
    pages = list(_reading(sandbox, "alpha-cdk", "vehicles"))
    seen = [dms_id for _summary, prepared in pages for dms_id in prepared.records]
    assert len(pages) > 2 and sum(summary.count for summary, _ in pages) == len(seen)
    assert set(seen) == dms_ids(sandbox, "alpha-cdk", "vehicles")
    cursors = [summary.next_cursor for summary, _ in pages]
    assert all(cursors) and len(set(cursors)) == len(cursors), "each page moves the cursor on"
    record = pages[0][1].records[seen[0]]
    assert record.payload()["dms_id"] == seen[0] and record.fields["vin"] and record.tokens
    assert not multiprocessing.active_children()


def test_reading_process_stops_when_the_pull_leaves_early(sandbox, monkeypatch):
    import multiprocessing

    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 10)
    for _page in _reading(sandbox, "alpha-cdk", "customers"):
        assert multiprocessing.active_children(), "the reader runs beside the pull"
        break
    assert not multiprocessing.active_children()


def test_reading_process_errors_reach_the_pull_with_their_hint(sandbox):
    from connectors import AuthenticationError

    with pytest.raises(AuthenticationError) as caught:
        list(_reading(sandbox, "alpha-cdk", "customers", credentials={"api_key": "wrong-key"}))
    assert caught.value.fix_hint and caught.value.status == 401


def test_a_reading_process_that_dies_is_a_transient_error(sandbox, monkeypatch):
    import multiprocessing
    import os
    import signal

    from connectors import TransientDmsError

    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 5)
    pages = _reading(sandbox, "alpha-cdk", "customers")
    next(pages)
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
    with pytest.raises(TransientDmsError, match="stopped unexpectedly"):
        for _page in pages:  # what was already in the pipe still arrives
            pass


def test_a_growing_mirror_gets_fresh_statistics_of_its_lookup_columns_once(
    app, run_jobs, sandbox, location, monkeypatch
):
    """PostgreSQL: a pull that grows the mirror refreshes the planner's statistics once, of
    the columns lookups use, not the payloads."""
    from sqlalchemy import text

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("statistics are refreshed on PostgreSQL only")
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 10)
    monkeypatch.setattr("jobs.pulls.ANALYZE_AT", 5)
    analyzed = []

    def seen(_conn, _cursor, statement, *_args):
        if statement.startswith("ANALYZE"):
            analyzed.append(statement)

    run = pull_watching_sql(app, run_jobs, location.id, "customers", seen)
    assert run.status == RunStatus.SUCCEEDED and 40 <= run.created < 160
    mirror = [s for s in analyzed if s.startswith("ANALYZE dms_record")]
    assert len(mirror) == 1 and analyzed.count("ANALYZE search_token") == 1
    assert "dms_id" in mirror[0] and "owner_dms_id" in mirror[0]
    assert "payload" not in mirror[0] and "drift_fields" not in mirror[0]
    with app.app_context():
        columns = set(db.session.scalars(text("SELECT attname FROM pg_stats WHERE tablename = 'dms_record'")))
    assert {"location_id", "data_type", "dms_id"} <= columns


def test_the_worker_does_the_work_horses_set_up_once(app):
    """What every forked job would repeat is done before the fork, and no database
    connection is left open to be shared with the work-horses."""
    import sys

    from connectors.http import _tls_context
    from jobs.worker import preload

    preload(app)
    assert "httpcore" in sys.modules and _tls_context.cache_info().currsize == 1
    with app.app_context():
        assert db.engine.pool.checkedout() == 0 and db.engine.pool.checkedin() == 0
        assert db.engine.dialect.server_version_info is not None  # the first-connection queries are done


def test_an_edit_rewrites_search_tokens_only_when_they_change(app, run_jobs, sandbox, location, make):
    """Editing what a record is not found by (its city) leaves its index rows alone; editing
    its name replaces them; both rows take the new payload, and drift is worked out again."""
    import json

    from sqlalchemy import text

    from webapp.search.engine import search_mirror

    pull(app, run_jobs, location.id, "customers")
    quiet_id, renamed_id = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[7:9]
    make.customer(location, dms_id=renamed_id, first_name="Portal", last_name="Person")
    with app.app_context():
        row_ids = dict(
            db.session.execute(
                select(DmsRecord.dms_id, DmsRecord.id).where(
                    DmsRecord.location_id == location.id, DmsRecord.dms_id.in_([quiet_id, renamed_id])
                )
            )
            .tuples()
            .all()
        )

    def index_rows(dms_id):
        with app.app_context():
            return set(
                db.session.scalars(
                    text("SELECT token FROM search_token WHERE scope = 'dc' AND record_id = :record"),
                    {"record": row_ids[dms_id]},
                )
            )

    rewritten = set()  # the records whose index rows a statement deleted

    def seen(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().upper().startswith("DELETE FROM SEARCH_TOKEN"):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            for value in values:
                value = json.loads(value) if isinstance(value, str) and value.startswith("[") else value
                rewritten.update(value if isinstance(value, list) else [])

    quiet_before, renamed_before = index_rows(quiet_id), index_rows(renamed_id)
    sandbox.control.edit_record("alpha-cdk", "customers", quiet_id, {"city": "Quietville"})
    sandbox.control.edit_record("alpha-cdk", "customers", renamed_id, {"last_name": "Zyxwvuts"})
    run = pull_watching_sql(app, run_jobs, location.id, "customers", seen)
    assert run.updated == 2 and run.created == 0
    assert row_ids[renamed_id] in rewritten and row_ids[quiet_id] not in rewritten
    assert index_rows(quiet_id) == quiet_before
    renamed_after = index_rows(renamed_id)
    assert "nzyxwvuts" in renamed_after and renamed_after != renamed_before
    with app.app_context():
        rows = {
            row.dms_id: row
            for row in db.session.scalars(
                select(DmsRecord).where(
                    DmsRecord.location_id == location.id, DmsRecord.dms_id.in_([quiet_id, renamed_id])
                )
            )
        }
        assert rows[quiet_id].payload["city"] == "Quietville"
        assert rows[renamed_id].payload["last_name"] == "Zyxwvuts" and "zyxwvuts" in rows[renamed_id].name_key
        assert "last_name" in rows[renamed_id].drift_fields and rows[quiet_id].drift_fields is None
        found = search_mirror(
            db.session,
            select(DmsRecord).where(DmsRecord.location_id == location.id),
            location.id,
            "customers",
            "Zyxwvuts",
        )
        assert [row.dms_id for row in found.rows] == [renamed_id]


def test_key_lookups_probe_the_unique_index_even_with_stale_statistics(app, make):
    """PostgreSQL: a location's mirror grown from 20 rows to 20,000 since the last ANALYZE
    (as during a first pull) is still searched key by key, not scanned and filtered; so
    are its search-index rows when a page's records have theirs replaced."""
    from sqlalchemy import text

    from webapp.models.base import keyed
    from webapp.services.search_index import tokens_delete

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("a PostgreSQL planner question")
    location = make.location(name="Stale Stats", code="STALE")
    insert_rows = text(
        "INSERT INTO dms_record (location_id, data_type, dms_id, payload, content_hash, first_pulled_at, "
        "last_changed_at) SELECT :location, 'customers', 'C' || n, '{}', 'x', now(), now() "
        "FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
    )
    insert_tokens = text(
        "INSERT INTO search_token (scope, location_id, token, record_id) SELECT 'dc', :location, "
        "'n' || word, id FROM dms_record, unnest(ARRAY['ann', 'lee', 'moss']) AS word "
        "WHERE location_id = :location AND id > :after"
    )
    with app.app_context():
        db.session.execute(insert_rows, {"location": location.id, "first": 1, "last": 20})
        db.session.execute(insert_tokens, {"location": location.id, "after": 0})
        last_id = db.session.scalar(
            text("SELECT max(id) FROM dms_record WHERE location_id = :location"), {"location": location.id}
        )
        db.session.commit()
        db.session.execute(text("ANALYZE dms_record"))
        db.session.execute(text("ANALYZE search_token"))
        db.session.execute(insert_rows, {"location": location.id, "first": 21, "last": 20_000})
        db.session.execute(insert_tokens, {"location": location.id, "after": last_id})
        statement = keyed(
            db.session,
            select(DmsRecord.id, DmsRecord.dms_id).where(
                DmsRecord.location_id == location.id, DmsRecord.data_type == "customers"
            ),
            DmsRecord.dms_id,
            [f"C{n}" for n in range(5_000, 6_000)],
        )
        compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
        lookup = db.session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()[0]["Plan"]
        record_ids = [row.id for row in db.session.execute(statement)]
        assert len(record_ids) == 1000
        removal = tokens_delete(db.session.connection(), "dc", location.id, record_ids)
        compiled = removal.compile(db.engine, compile_kwargs={"literal_binds": True})
        removal_plan = db.session.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar()[0]["Plan"]
        db.session.execute(removal)
        left = db.session.scalar(
            text("SELECT count(*) FROM search_token WHERE location_id = :location"), {"location": location.id}
        )
        db.session.rollback()
    assert left == 3 * 19_000

    def scans(node, table):
        if node.get("Relation Name") == table and node["Node Type"] != "ModifyTable":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child, table)

    (scan,) = scans(lookup, "dms_record")
    assert "dms_id" in scan.get("Index Cond", ""), scan
    assert "dms_id" not in scan.get("Filter", ""), scan
    found, target = sorted(scans(removal_plan, "search_token"), key=lambda node: node["Node Type"])
    assert "record_id" in found.get("Index Cond", "") and "record_id" not in found.get("Filter", ""), found
    assert target["Node Type"] == "Tid Scan", target
