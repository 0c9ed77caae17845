"""Booking, rescheduling and cancelling through the pages; pre-flight checks stop every bad case
before anything is queued, with the vendor's fix shown inline."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.test_pushes import (
    advisor,
    appointment_row,
    connected_location,
    created,
    dms_customer,
    messages,
    pull_opcodes,
)
from webapp.extensions import db
from webapp.models import Appointment, OutboxMessage, OutboxStatus, PushState, Role


def form_data(customer, advisor_user, **fields):
    data = {
        "customer_id": customer.id,
        "scheduled_at": "2030-05-06T09:30",
        "advisor_id": advisor_user.id if advisor_user else 0,
        "asset_id": 0,
        "opcodes": ["LOF"],
        "notes": "",
        "brand": "",
    }
    data.update(fields)
    return data


@pytest.fixture()
def alpha(make, sandbox, app, run_jobs):
    location = connected_location(make, sandbox)
    pull_opcodes(app, run_jobs, location)
    return location


def outbox_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(OutboxMessage.id)))


def test_book_shows_pending_then_sent(app, client, auth, make, sandbox, alpha, run_jobs):
    adv = advisor(make, alpha)
    customer = dms_customer(make, sandbox, alpha)
    auth.login(adv.email, PASSWORD)
    page = soup(client.get(f"/appointments/new?customer_id={customer.id}"))
    assert {i["value"] for i in page.select("#opcode-options input[name=opcodes]")} >= {"LOF", "BRKF"}
    response = client.post(f"/appointments/new?customer_id={customer.id}", data=form_data(customer, adv, notes="Noise"))
    assert response.status_code == 303
    with app.app_context():
        appointment_id = db.session.scalar(select(Appointment.id))
    detail = soup(client.get(response.headers["Location"]))
    assert detail.select_one("#push-status .push-pending") and detail.select_one("#push-status[hx-get]")
    assert created(sandbox) == 0  # booking did not wait on the DMS
    run_jobs(["pushes"])
    status = soup(client.get(f"/appointments/{appointment_id}/push-status", htmx=True))
    assert status.select_one(".push-sent") and not status.select_one("[hx-get]")  # polling stops
    assert status.select_one(".dms-id").text == appointment_row(app, appointment_id).dms_id
    listing = soup(client.get("/appointments/"))
    assert listing.select_one(f"tr[data-id='{appointment_id}'] .push-sent")
    in_dms = sandbox.control.get_record("alpha-cdk", "appointments", appointment_row(app, appointment_id).dms_id)
    assert in_dms["scheduled_at"].startswith("2030-05-06T14:30")  # 09:30 in Chicago


def test_opcode_search_keeps_ticked_opcodes(client, auth, make, alpha):
    auth.login(advisor(make, alpha).email, PASSWORD)
    page = soup(client.get("/appointments/opcodes?opcode_q=brake&opcodes=LOF", htmx=True))
    values = [i["value"] for i in page.select("input[name=opcodes]")]
    assert values[0] == "LOF" and "BRKF" in values and "ROT" not in values
    assert page.select_one("input[value=LOF]").has_attr("checked")


@pytest.mark.parametrize(
    "case",
    [
        "no_opcode_no_notes",
        "unknown_opcode",
        "no_advisor_id",
        "shared_advisor_id",
        "cdk_address_email",
        "reynolds_business_no_company",
    ],
)
def test_each_preflight_rule_stops_the_bad_case_before_it_is_sent(app, client, auth, make, sandbox, run_jobs, case):
    account = "gamma-reynolds" if case == "reynolds_business_no_company" else "alpha-cdk"
    location = connected_location(
        make,
        sandbox,
        account,
        dms_options={"require_address": True, "require_email": True} if case == "cdk_address_email" else {},
    )
    if account == "alpha-cdk":
        pull_opcodes(app, run_jobs, location)
    adv = advisor(make, location)
    customer = dms_customer(make, sandbox, location, account)
    data = form_data(customer, adv, notes="")
    expected = {
        "no_opcode_no_notes": "CDK-NO-OPCODE-NOTES",
        "unknown_opcode": "CDK-OPCODE-INVALID",
        "no_advisor_id": "CDK-ADVISOR-MISSING",
        "shared_advisor_id": "CDK-ADVISOR-INVALID",
        "cdk_address_email": "CDK-ADDRESS-EMAIL-REQUIRED",
        "reynolds_business_no_company": "RR-LASTNAME-MISSING",
    }[case]
    if case == "no_opcode_no_notes":
        data["opcodes"] = []
    elif case == "unknown_opcode":
        data["opcodes"] = ["LOF", "NOPE1"]
    elif case == "no_advisor_id":
        data["advisor_id"] = make.user(Role.SERVICE_ADVISOR, location, advisor_dms_id=None).id
    elif case == "shared_advisor_id":
        make.user(Role.SERVICE_ADVISOR, location, advisor_dms_id="ADV03", name="Other Advisor")
    elif case == "cdk_address_email":
        customer = make.customer(location, dms_id=customer.dms_id + "X", address_line1=None, email=None)
        data["customer_id"] = customer.id
    elif case == "reynolds_business_no_company":
        customer = make.customer(location, is_business=True, company_name=None, dms_id=None)
        data["customer_id"] = customer.id
        data["opcodes"], data["opcode_text"] = [], "LOF"
    auth.login(adv.email, PASSWORD)
    response = client.post(f"/appointments/new?customer_id={data['customer_id']}", data=data)
    assert response.status_code == 422
    page = soup(response)
    codes = [li["data-code"] for li in page.select("#preflight-findings .finding")]
    assert expected in codes
    from connectors import get_profile

    hint = get_profile(location.dms_vendor).entry(expected).fix_hint
    assert hint in page.select_one("#preflight-findings").text
    assert outbox_count(app) == 0 and created(sandbox, account) == 0  # nothing saved, nothing queued
    if case == "no_opcode_no_notes":  # shown inline on the opcode picker too
        assert "Add at least one opcode" in page.select_one("#opcodes-error").text


def test_reschedule_sends_an_update_and_cancel_a_cancellation(app, client, auth, make, sandbox, alpha, run_jobs):
    adv = advisor(make, alpha)
    customer = dms_customer(make, sandbox, alpha)
    auth.login(adv.email, PASSWORD)
    client.post(f"/appointments/new?customer_id={customer.id}", data=form_data(customer, adv, notes="Noise"))
    run_jobs(["pushes"])
    with app.app_context():
        appointment_id = db.session.scalar(select(Appointment.id))
    response = client.post(
        f"/appointments/{appointment_id}/edit",
        data=form_data(customer, adv, scheduled_at="2030-05-07T11:00", opcodes=["LOF", "ROT"]),
    )
    assert response.status_code == 303
    run_jobs(["pushes"])
    dms_id = appointment_row(app, appointment_id).dms_id
    in_dms = sandbox.control.get_record("alpha-cdk", "appointments", dms_id)
    assert in_dms["opcodes"] == ["LOF", "ROT"] and in_dms["scheduled_at"].startswith("2030-05-07T16:00")
    assert client.post(f"/appointments/{appointment_id}/cancel").status_code == 303
    run_jobs(["pushes"])
    assert sandbox.control.get_record("alpha-cdk", "appointments", dms_id)["status"] == "cancelled"
    assert [m.status for m in messages(app, appointment_id)] == [OutboxStatus.SENT] * 3
    assert created(sandbox) == 1


def test_cancel_before_it_reached_the_dms_sends_nothing(app, client, auth, make, sandbox, alpha, run_jobs):
    adv = advisor(make, alpha)
    customer = dms_customer(make, sandbox, alpha)
    auth.login(adv.email, PASSWORD)
    client.post(f"/appointments/new?customer_id={customer.id}", data=form_data(customer, adv))
    with app.app_context():
        appointment_id = db.session.scalar(select(Appointment.id))
    client.post(f"/appointments/{appointment_id}/cancel")
    run_jobs(["pushes"])
    assert created(sandbox) == 0
    assert appointment_row(app, appointment_id).push_state == PushState.NOT_SENT
    assert [m.status for m in messages(app, appointment_id)] == [OutboxStatus.DISMISSED]


def test_cancelling_says_whether_the_dms_is_told(app, client, auth, make, sandbox, alpha, run_jobs):
    """Before it reached the DMS, nothing is sent there: the question and the message say so."""
    adv = advisor(make, alpha)
    customer = dms_customer(make, sandbox, alpha)
    auth.login(adv.email, PASSWORD)
    client.post(f"/appointments/new?customer_id={customer.id}", data=form_data(customer, adv))
    with app.app_context():
        appointment_id = db.session.scalar(select(Appointment.id))
    page = soup(client.get(f"/appointments/{appointment_id}"))
    asked = page.select_one(f"form[action='/appointments/{appointment_id}/cancel']")["data-confirm"]
    assert "if it has already received it" in asked
    followed = client.post(f"/appointments/{appointment_id}/cancel", follow_redirects=True)
    assert "It had not reached the DMS, so nothing is sent there." in followed.get_data(as_text=True)
    assert "The DMS is being told" not in followed.get_data(as_text=True)
