"""Daily data files: a record counts as changed only when its content changed."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy import select

from jobs.extracts import enqueue_import_if_new
from tests.conftest import dms_settings
from webapp.extensions import db
from webapp.models import DmsRecord, Location, RunStatus, RunTrigger, SyncRun
from webapp.services.runs import enqueue_pull


@pytest.fixture()
def location(make, sandbox):
    return make.location(name="Alpha Ford", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))


def _pull_customers(app, location, run_jobs):
    with app.app_context():
        enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
    run_jobs()
    with app.app_context():
        rows = db.session.scalars(
            select(DmsRecord).where(DmsRecord.location_id == location.id, DmsRecord.data_type == "customers")
        ).all()
        return {row.dms_id: (row.last_changed_at, row.content_hash) for row in rows}


def _import(app, run_jobs, location):
    with app.app_context():
        assert enqueue_import_if_new(db.session.get(Location, location.id), "customers") is not None
    run_jobs()
    with app.app_context():
        run = db.session.scalars(
            select(SyncRun).where(SyncRun.trigger == RunTrigger.FILE).order_by(SyncRun.id.desc())
        ).first()
        db.session.expunge(run)
        return run


def _mirror(app, location):
    with app.app_context():
        rows = db.session.scalars(
            select(DmsRecord).where(DmsRecord.location_id == location.id, DmsRecord.data_type == "customers")
        ).all()
        return {row.dms_id: (row.last_changed_at, row.payload) for row in rows}


def test_a_file_with_one_changed_email_reports_one_change(app, location, sandbox, run_jobs):
    pulled = _pull_customers(app, location, run_jobs)
    assert len(pulled) == 120
    sandbox.control.edit_record("alpha-cdk", "customers", "C0000007", {"emails": ["new.address@example.test"]})
    sandbox.control.write_extract("alpha-cdk", "customers")
    run = _import(app, run_jobs, location)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.fetched, run.created, run.updated, run.unchanged) == (120, 0, 1, 119)
    after = _mirror(app, location)
    assert after["C0000007"][1]["emails"] == ["new.address@example.test"]
    restamped = [dms_id for dms_id, (changed_at, _) in after.items() if changed_at != pulled[dms_id][0]]
    assert restamped == ["C0000007"]  # the others keep their last-changed time (and their row)


def test_columns_a_file_leaves_out_do_not_count_as_changes(app, location, sandbox, run_jobs):
    _pull_customers(app, location, run_jobs)
    path = sandbox.control.write_extract("alpha-cdk", "customers")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    drop = rows[0].index("country")
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows([cells[:drop] + cells[drop + 1 :] for cells in rows])
    run = _import(app, run_jobs, location)
    assert (run.updated, run.unchanged) == (0, 120)


def test_a_file_the_reader_refuses_fails_in_plain_words_once(app, location, sandbox, run_jobs):
    path = sandbox.control.write_extract("alpha-cdk", "customers")
    text = path.read_text(encoding="utf-8-sig")
    path.write_text(text.replace("modified_at", "changed", 1), encoding="utf-8-sig")
    run = _import(app, run_jobs, location)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("The daily data file was not imported:") and "modified_at" in run.error
    assert "checks the folder every minute" in run.fix_hint
    with app.app_context():
        # The same refused file is not tried again every minute.
        assert enqueue_import_if_new(db.session.get(Location, location.id), "customers") is None
