"""Advisors' DMS ids: duplicates and missing ids highlighted; fixing one re-queues the
appointments that failed because of it."""

from __future__ import annotations

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.test_pushes import advisor, book, connected_location, dms_customer, messages
from webapp.models import OutboxStatus, Role


def test_duplicates_and_missing_ids_are_highlighted(client, auth, make, sandbox):
    location = connected_location(make, sandbox)
    a, b = advisor(make, location, "ADV05", name="Ann"), advisor(make, location, "adv05", name="Ben")
    c = make.user(Role.SERVICE_ADVISOR, location, advisor_dms_id=None, name="Cat")
    auth.login(make.user(Role.SERVICE_MANAGER, location, advisor_dms_id="ADV01").email, PASSWORD)
    page = soup(client.get("/advisors/"))
    assert (
        "Duplicate" in page.select_one(f"#advisor-{a.id} .problem").text
        and "Ben" in page.select_one(f"#advisor-{a.id} .problem").text
    )
    assert "row-highlight-error" in page.select_one(f"#advisor-{b.id}")["class"]
    assert "Missing" in page.select_one(f"#advisor-{c.id} .problem").text


def test_fixing_an_advisor_id_requeues_the_appointments_it_broke(app, client, auth, make, sandbox, run_jobs):
    location = connected_location(make, sandbox, "gamma-reynolds")
    adv = advisor(make, location, "ADV09")  # shared by two people in the DMS: refused there
    appointment_id = book(app, location, dms_customer(make, sandbox, location, "gamma-reynolds"), adv)
    run_jobs(["pushes"])
    assert messages(app, appointment_id)[0].error_code == "RR-ADVISOR-INVALID"
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    assert "1 failed push" in soup(client.get("/advisors/")).select_one(f"#advisor-{adv.id}").text
    response = client.post(f"/advisors/{adv.id}", data={"advisor_dms_id": "ADV04"}, follow_redirects=True)
    assert "1 failed appointment push queued again" in soup(response).select_one("#flashes").text
    run_jobs(["pushes"])
    assert messages(app, appointment_id)[0].status == OutboxStatus.SENT
    bad = client.post(f"/advisors/{adv.id}", data={"advisor_dms_id": "ADV 04!"})
    assert bad.status_code == 422 and soup(bad).select_one(f"#dms-id-{adv.id}-error")


def test_dms_rules_are_saved_for_preflight(app, client, auth, make, sandbox):
    from webapp.extensions import db
    from webapp.models import Location

    location = connected_location(make, sandbox)
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    client.post("/advisors/dms-rules", data={"require_email": "y"})
    with app.app_context():
        assert db.session.get(Location, location.id).dms_options == {"require_address": False, "require_email": True}
