"""The scheduler's dispatch queues all of a tick's due pulls at once (issue 22, many rooftops):
runs saved together, their jobs queued in one Redis round trip, the longest due first and, at
equal due times, a data type across the locations; a pair with a live run gets no second one."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis as redis_lib
from rq import Queue
from sqlalchemy import select

from jobs import schedule
from webapp.extensions import db
from webapp.models import RunStatus, RunTrigger, SyncRun, utcnow
from webapp.redis_conn import get_redis
from webapp.services.cadences import cadences
from webapp.services.locks import RunLock
from webapp.services.queues import PULLS, get_queue


def _scheduled_runs() -> list[SyncRun]:
    return list(
        db.session.scalars(
            select(SyncRun)
            .where(SyncRun.trigger == RunTrigger.SCHEDULE, SyncRun.status == RunStatus.QUEUED)
            .order_by(SyncRun.id)
        )
    )


def test_one_tick_queues_every_due_pull_of_many_locations_a_data_type_across_the_locations(app, make):
    locations = [make.location() for _ in range(3)]
    with app.app_context():
        # Running since before the latest slot (customers are due again), and alive (its lock is held).
        busy = SyncRun(
            location_id=locations[1].id,
            data_type="customers",
            trigger=RunTrigger.SCHEDULE,
            status=RunStatus.RUNNING,
            started_at=utcnow() - timedelta(hours=2),
        )
        db.session.add(busy)
        db.session.commit()
        assert RunLock(get_redis(), busy.location_id, "customers", owner=str(busy.id)).acquire()
        types = sorted(cadences(locations[0]))
        counts = schedule.dispatch_due_pulls()
        runs = _scheduled_runs()
        queued = get_queue(PULLS).job_ids
        busy_status = db.session.get(SyncRun, busy.id).status

    expected = [
        (location.id, data_type)
        for data_type in types
        for location in locations
        if (location.id, data_type) != (busy.location_id, "customers")
    ]
    assert counts["pulls"] == len(expected) == 3 * len(types) - 1
    assert [(run.location_id, run.data_type) for run in runs] == expected
    assert [run.job_id for run in runs] == [f"sync-run-{run.id}" for run in runs] == queued
    assert busy_status == RunStatus.RUNNING


def test_a_tick_whose_jobs_could_not_be_queued_cancels_its_runs(app, make, monkeypatch):
    gone = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    monkeypatch.setattr("webapp.services.runs.get_queue", lambda name: Queue(name, connection=gone))
    make.location()
    make.location()
    with app.app_context():
        with pytest.raises(redis_lib.ConnectionError):
            schedule.dispatch_due_pulls()
        runs = list(db.session.scalars(select(SyncRun)))
    assert len(runs) > 2
    assert {run.status for run in runs} == {RunStatus.CANCELLED}
    assert {run.error for run in runs} == {"Not started: the job queue (Redis) could not be reached."}
    assert all(run.job_id is None and run.finished_at is not None for run in runs)


def test_a_tick_asks_no_more_of_the_database_for_more_runs_under_way(app, make):
    """The workers behind: every data type of every location has a run queued. A tick then costs the
    same few statements for 2 locations as for 6 (it asked after each run under way before: two
    reconciliations and the due pulls of each location, at every tick)."""
    from sqlalchemy import event

    def statements_of_a_tick_with_every_run_queued() -> int:
        schedule.dispatch_due_pulls()  # queues what was never pulled
        executed = []

        def listener(_conn, _cursor, statement, *_args) -> None:
            executed.append(statement)

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            counts = schedule.dispatch_due_pulls()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert counts == {"pulls": 0, "reconciliations": 0, "imports": 0}
        return len(executed)

    for _ in range(2):
        make.location()
    with app.app_context():
        few = statements_of_a_tick_with_every_run_queued()
    for _ in range(4):
        make.location()
    with app.app_context():
        more = statements_of_a_tick_with_every_run_queued()
    assert more == few
