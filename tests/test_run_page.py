"""A finished run's page shows admins the records it wrote: canonical beside what the DMS sent."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import DmsRecord, Role, SyncRun


def _pull_and_open_the_run(app, client, auth, make, sandbox, run_jobs, account: str, role: Role):
    location = make.location(name="Run Page", code="RUNP", **dms_settings(sandbox, account))
    user = make.user(role, location if role != Role.GLOBAL_ADMIN else None)
    auth.login(user.email, PASSWORD)
    if role == Role.GLOBAL_ADMIN:
        client.post("/location", data={"location_id": location.id})
    assert client.post("/integrations/pull", data={"data_type": "customers"}).status_code in (302, 303)
    run_jobs(["pulls"])
    with app.app_context():
        run = db.session.scalar(select(SyncRun).where(SyncRun.location_id == location.id))
        rows = db.session.scalars(select(DmsRecord).where(DmsRecord.location_id == location.id)).all()
        raws = {row.dms_id: row.raw_payload for row in rows}
    return soup(client.get(f"/integrations/runs/{run.id}")), raws


def test_admins_see_what_a_star_dms_sent_beside_the_canonical_record(app, client, auth, make, sandbox, run_jobs):
    page, raws = _pull_and_open_the_run(app, client, auth, make, sandbox, run_jobs, "gamma-reynolds", Role.GLOBAL_ADMIN)
    assert raws and all(raw and '"customer_key"' in raw for raw in raws.values())  # STAR's own JSON
    shown = page.select_one("details.as-received")
    assert shown is not None and "Canonical record" in shown.text and '"customer_key"' in shown.text
    assert "<script" not in str(shown).replace("&lt;script", "")  # DMS text is escaped


def test_the_console_dialect_keeps_no_second_copy_and_says_why(app, client, auth, make, sandbox, run_jobs):
    page, raws = _pull_and_open_the_run(app, client, auth, make, sandbox, run_jobs, "alpha-cdk", Role.GLOBAL_ADMIN)
    assert raws and set(raws.values()) == {None}  # its records are the canonical records: nothing doubled
    assert "the same as the canonical record" in page.select_one("details.as-received").text


def test_managers_do_not_see_raw_records(app, client, auth, make, sandbox, run_jobs):
    page, _ = _pull_and_open_the_run(app, client, auth, make, sandbox, run_jobs, "gamma-reynolds", Role.SERVICE_MANAGER)
    assert page.select_one("details.as-received") is None
