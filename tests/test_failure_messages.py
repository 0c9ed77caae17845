"""Failure messages say what happened in plain words, what the console does next, and what a person can do."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from connectors import AuthenticationError, MalformedResponseError, TransientDmsError
from jobs.dms_errors import describe_dms_error
from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import Role, RunStatus, RunTrigger, SyncRun
from webapp.services import retry_policy
from webapp.services.runs import enqueue_pull


@pytest.fixture()
def location(make, sandbox):
    return make.location(name="Alpha Ford", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))


def _last_run(app):
    with app.app_context():
        run = db.session.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        db.session.expunge(run)
        return run


def test_describe_blames_the_dms_only_when_it_is_the_cause():
    lock = describe_dms_error(TransientDmsError("the console lost its hold on this pull"), 6)
    assert lock == "Stopped after 6 tries: the console lost its hold on this pull."
    assert "did not answer" not in lock
    busy = describe_dms_error(TransientDmsError("DMS answered 503", status=503), 6)
    assert busy.startswith("Stopped after 6 tries: the DMS kept answering with an error on its side")
    limited = describe_dms_error(TransientDmsError("DMS answered 429", status=429), 4)
    assert "slow down" in limited
    timeout = describe_dms_error(TransientDmsError("the DMS did not answer in time (ReadTimeout)"), 4)
    assert timeout == "Stopped after 4 tries: the DMS did not answer in time (ReadTimeout)."
    assert "sign-in" in describe_dms_error(AuthenticationError("DMS answered 401"), 1)
    assert "cannot read" in describe_dms_error(MalformedResponseError("customers record 'C1': bad"), 1)


def test_lost_lock_is_not_blamed_on_the_dms(app, location, run_jobs, monkeypatch):
    """The run lock lapses under a pull: the message says so, and its fix does not promise a retry
    that will not happen."""
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 10)
    monkeypatch.setattr(retry_policy, "PULLS", replace(retry_policy.PULLS, cap=0.0))
    monkeypatch.setattr("webapp.services.locks.RunLock.renew", lambda self, *a, **k: False)
    with app.app_context():
        enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
    run_jobs()
    run = _last_run(app)
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("The console lost its hold on this run"), run.error  # stopped at once, not retried
    assert "DMS did not answer" not in run.error
    assert "Retried automatically" not in run.fix_hint
    assert "last saved page" in run.fix_hint and "Integration health" in run.fix_hint


def test_dms_errors_on_the_health_page_say_what_happens_next(
    app, client, make, auth, location, sandbox, run_jobs, monkeypatch
):
    monkeypatch.setattr(retry_policy, "PULLS", replace(retry_policy.PULLS, cap=0.0))
    sandbox.control.inject_fault("503", count=20, account="alpha-cdk")
    with app.app_context():
        enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
    run_jobs()
    sandbox.control.clear_faults()
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    row = soup(client.get("/integrations/")).select_one("#row-customers")
    assert "Last pull failed" in row.text
    error = row.select_one(".error-text").text
    assert error.startswith("Stopped after 6 tries: the DMS kept answering with an error on its side"), error
    fix = row.select_one(".hint").text
    assert "the next pull of this data tries again from where this one stopped" in fix
    assert "Integration health" in fix and "Pull now" in fix


def test_wrong_credentials_name_the_screen_that_fixes_them(app, make, sandbox, run_jobs):
    location = make.location(**{**dms_settings(sandbox, "alpha-cdk"), "dms_credentials": {"api_key": "wrong"}})
    with app.app_context():
        enqueue_pull(location.id, "customers", RunTrigger.MANUAL)
    run_jobs()
    run = _last_run(app)
    assert run.status == RunStatus.FAILED and "did not accept the console's sign-in" in run.error
    assert "Admin → Locations" in run.fix_hint
