"""Every seed-000 error provoked through the sandbox ends in the failed-push queue with the
catalogue's hint; Retry after a fix succeeds; Dismiss keeps its reason in history; the badge counts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connectors import get_profile
from tests.conftest import soup
from tests.factories import PASSWORD
from tests.test_pushes import advisor, appointment_row, book, connected_location, created, dms_customer, messages
from webapp.extensions import db
from webapp.models import ChangeHistory, OutboxStatus, Role

ACCOUNT = {"CDK": "alpha-cdk", "RR": "gamma-reynolds"}


def _provoke(app, make, sandbox, code):
    """Book an appointment the DMS will refuse with ``code`` (pre-flight is bypassed on purpose)."""
    account = ACCOUNT[code.split("-")[0]]
    location = connected_location(make, sandbox, account)
    customer = dms_customer(make, sandbox, location, account)
    adv = advisor(make, location)
    kwargs = {}
    if code.endswith("NO-OPCODE-NOTES"):
        kwargs = {"opcodes": [], "notes": ""}
    elif code == "RR-OPCODE-INVALID":
        kwargs = {"opcodes": ["NOPE1"]}
    elif code == "RR-ADVISOR-INVALID":
        adv = advisor(make, location, dms_id="ADV09")  # unique here, shared by two people in the DMS
    elif code == "RR-LASTNAME-MISSING":
        customer = make.customer(location, dms_id=None, is_business=True, company_name=None)
    elif code == "CDK-ADDRESS-EMAIL-REQUIRED":
        sandbox.control.configure(account, require_address=True, require_email=True)
        customer = make.customer(location, dms_id=None, address_line1=None, email=None)
    elif code == "CDK-DISPATCH-INVALID":
        kwargs = {"dispatch_code": "BOGUS"}
    appointment_id = book(app, location, customer, adv, **kwargs)
    return location, adv, appointment_id, account


@pytest.mark.parametrize(
    "code",
    [
        "RR-OPCODE-INVALID",
        "RR-ADVISOR-INVALID",
        "RR-LASTNAME-MISSING",
        "RR-NO-OPCODE-NOTES",
        "CDK-NO-OPCODE-NOTES",
        "CDK-ADDRESS-EMAIL-REQUIRED",
        "CDK-DISPATCH-INVALID",
    ],
)
def test_seed_000_errors_land_in_the_queue_with_their_hint(app, client, auth, make, sandbox, run_jobs, code):
    location, adv, appointment_id, account = _provoke(app, make, sandbox, code)
    run_jobs(["pushes"])
    [message] = messages(app, appointment_id)
    assert message.status == OutboxStatus.FAILED and message.error_code == code
    entry = get_profile(location.dms_vendor).entry(code)
    assert entry.from_seed and message.fix_hint == entry.fix_hint
    manager = make.user(Role.SERVICE_MANAGER, location)
    auth.login(manager.email, PASSWORD)
    page = soup(client.get("/integrations/failed/"))
    row = page.select_one(f"#push-{message.id}")
    assert row["data-code"] == code and entry.title in row.text and entry.fix_hint in row.text
    assert row.select_one(f"a[href='/appointments/{appointment_id}']")  # the record to fix
    assert page.select_one(".nav-badge").text.startswith("1")
    assert created(sandbox, account) == 0


@pytest.mark.parametrize("account", ["alpha-cdk", "gamma-reynolds"])
def test_locked_appointment_fails_with_close_it_then_retry_succeeds(
    app, client, auth, make, sandbox, run_jobs, account
):
    location = connected_location(make, sandbox, account)
    adv = advisor(make, location)
    appointment_id = book(app, location, dms_customer(make, sandbox, location, account), adv)
    run_jobs(["pushes"])
    dms_id = appointment_row(app, appointment_id).dms_id
    sandbox.control.lock_appointment(account, dms_id)
    manager = make.user(Role.SERVICE_MANAGER, location)
    auth.login(manager.email, PASSWORD)
    client.post(
        f"/appointments/{appointment_id}/edit",
        data={
            "customer_id": appointment_row(app, appointment_id).customer_id,
            "scheduled_at": "2030-06-01T08:00",
            "advisor_id": adv.id,
            "asset_id": 0,
            "opcode_text": "LOF",
            "opcodes": ["LOF"],
            "notes": "Oil",
            "brand": "",
        },
    )
    run_jobs(["pushes"])
    update = messages(app, appointment_id)[-1]
    assert update.status == OutboxStatus.FAILED and update.error_code.endswith("-LOCKED")
    assert "Close the appointment in the DMS, then retry" in update.fix_hint
    detail = soup(client.get(f"/appointments/{appointment_id}"))
    assert "Close the appointment in the DMS, then retry" in detail.select_one("#push-status").text
    sandbox.control.unlock_appointment(account, dms_id)
    assert client.post(f"/integrations/failed/{update.id}/retry").status_code == 303
    run_jobs(["pushes"])
    assert messages(app, appointment_id)[-1].status == OutboxStatus.SENT
    assert sandbox.control.get_record(account, "appointments", dms_id)["scheduled_at"].startswith("2030-06-01")
    with app.app_context():
        history = db.session.scalars(select(ChangeHistory).where(ChangeHistory.record_type == "outbox_message")).all()
        assert [h.context["action"] for h in history] == ["retry"] and history[0].changed_by_id == manager.id


def test_retry_without_a_fix_is_refused_and_dismiss_needs_a_reason(app, client, auth, make, sandbox, run_jobs):
    location, adv, appointment_id, _ = _provoke(app, make, sandbox, "CDK-NO-OPCODE-NOTES")
    run_jobs(["pushes"])
    [message] = messages(app, appointment_id)
    manager = make.user(Role.SERVICE_MANAGER, location)
    auth.login(manager.email, PASSWORD)
    response = client.post(f"/integrations/failed/{message.id}/retry", follow_redirects=True)
    assert "Not retried" in soup(response).select_one("#flashes").text
    assert messages(app, appointment_id)[0].status == OutboxStatus.FAILED
    refused = client.post(f"/integrations/failed/{message.id}/dismiss", data={"reason": ""})
    assert refused.status_code == 422 and soup(refused).select_one(f"#reason-{message.id}-error")
    assert (
        client.post(
            f"/integrations/failed/{message.id}/dismiss", data={"reason": "Customer booked by phone in CDK"}
        ).status_code
        == 303
    )
    assert messages(app, appointment_id)[0].status == OutboxStatus.DISMISSED
    page = soup(client.get("/integrations/failed/?show=dismissed"))
    assert "Customer booked by phone in CDK" in page.select_one(f"#push-{message.id}").text
    assert not soup(client.get("/integrations/failed/")).select_one(".nav-badge")
    with app.app_context():
        [entry] = db.session.scalars(select(ChangeHistory).where(ChangeHistory.record_type == "outbox_message"))
        assert entry.context["reason"] == "Customer booked by phone in CDK" and entry.changed_by_id == manager.id


def test_filters_by_advisor_and_brand(app, client, auth, make, sandbox, run_jobs):
    location = connected_location(make, sandbox)
    customer = dms_customer(make, sandbox, location)
    dana, marco = advisor(make, location, "ADV01", name="Dana"), advisor(make, location, "ADV02", name="Marco")
    ford = book(app, location, customer, dana, opcodes=[], notes="", brand="Ford")
    lincoln = book(app, location, customer, marco, opcodes=[], notes="", brand="Lincoln")
    run_jobs(["pushes"])
    ids = {a: messages(app, a)[0].id for a in (ford, lincoln)}
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)

    def shown(url):
        return {int(tr["id"].split("-")[1]) for tr in soup(client.get(url, htmx=True)).select("tr.failed-push")}

    assert shown("/integrations/failed/") == set(ids.values())
    assert shown(f"/integrations/failed/?advisor_id={dana.id}") == {ids[ford]}
    assert shown("/integrations/failed/?brand=Lincoln") == {ids[lincoln]}
