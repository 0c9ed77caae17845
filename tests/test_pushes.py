"""Delivery of outbox messages to the sandbox DMS with a real RQ worker: sent once, in order,
retried with backoff when the DMS is down, refused pushes parked with the vendor's fix hint,
and nothing sent that the vendor does not accept."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from connectors import get_profile
from jobs import pushes
from tests.conftest import dms_settings
from tests.waiting import wait_for
from webapp.extensions import db
from webapp.models import (
    Appointment,
    Customer,
    Location,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    PushState,
    Role,
    User,
    utcnow,
)
from webapp.redis_conn import get_redis
from webapp.services import retry_policy
from webapp.services.runs import enqueue_pull


# --------------------------------------------------------------------------- helpers (used by other test files)
def connected_location(make, sandbox, account="alpha-cdk", **fields):
    """A location connected to a sandbox account."""
    code = {"alpha-cdk": "ALPHA", "beta-karmak": "BETA", "gamma-reynolds": "GAMMA"}[account]
    return make.location(
        name=f"{code.title()} Motors", code=code, brands=["Ford", "Lincoln"], **dms_settings(sandbox, account), **fields
    )


def pull_opcodes(app, run_jobs, location):
    """Pull the DMS's opcode list into the mirror (as the nightly pull would)."""
    with app.app_context():
        assert enqueue_pull(location.id, "opcodes") is not None
    run_jobs(["pulls"])


def dms_customer(make, sandbox, location, account="alpha-cdk", index=3, **fields):
    """A portal customer linked to an existing DMS customer (with address and e-mail in the DMS)."""
    with sandbox.connect(account) as dms:
        ids = sorted(dms.list_ids("customers"))
        for dms_id in ids[index:]:
            record = dms.fetch_one("customers", dms_id)
            if record.kind == "person" and record.emails and record.address_line1:
                break
    values = {
        "dms_id": record.dms_id,
        "first_name": record.first_name,
        "last_name": record.last_name,
        "email": record.emails[0],
        "address_line1": record.address_line1,
        "postal_code": record.postal_code,
    }
    values.update(fields)
    return make.customer(location, **values)


def advisor(make, location, dms_id="ADV03", **fields):
    """A service advisor of the location with a DMS employee id."""
    return make.user(Role.SERVICE_ADVISOR, location, advisor_dms_id=dms_id, **fields)


def book(app, location, customer, advisor_user, opcodes=("LOF",), notes="Oil change", **fields) -> int:
    """Book through the service (no pre-flight: some tests want the DMS to refuse)."""
    from webapp.appointments import service

    with app.app_context():
        appointment = service.book(
            db.session.get(Location, location.id),
            customer=db.session.get(Customer, customer.id),
            asset=fields.pop("asset", None),
            advisor=db.session.get(User, advisor_user.id) if advisor_user else None,
            scheduled_at=fields.pop("scheduled_at", datetime(2030, 5, 6, 14, 30, tzinfo=UTC)),
            opcodes=list(opcodes),
            notes=notes,
            dispatch_code=fields.pop("dispatch_code", None),
            brand=fields.pop("brand", None),
            user_id=None,
        )
        return appointment.id


def messages(app, appointment_id=None):
    """Outbox rows (of one appointment), oldest first, detached."""
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if appointment_id is not None:
            query = query.where(OutboxMessage.target_type == "appointment", OutboxMessage.target_id == appointment_id)
        rows = list(db.session.scalars(query))
        for row in rows:
            db.session.expunge(row)
        return rows


def appointment_row(app, appointment_id) -> Appointment:
    with app.app_context():
        row = db.session.get(Appointment, appointment_id)
        db.session.expunge(row)
        return row


def time_passes(app) -> None:
    """As if the backoff delays were over: waiting messages are due and scheduled retries queued."""
    with app.app_context():
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
    redis = get_redis(app.config["REDIS_URL"])
    scheduled = ScheduledJobRegistry("pushes", connection=redis)
    queue = Queue("pushes", connection=redis)
    for job_id in scheduled.get_job_ids():
        queue.enqueue_job(scheduled.job_class.fetch(job_id, connection=redis))
        scheduled.remove(job_id)


def created(sandbox, account="alpha-cdk") -> int:
    """Appointments created in the DMS through its API."""
    return sandbox.control.count_created(account).get("appointments", 0)


@pytest.fixture()
def alpha(make, sandbox):
    return connected_location(make, sandbox)


# --------------------------------------------------------------------------- delivery
def test_booking_is_sent_once_with_its_dms_id_recorded(app, run_jobs, sandbox, alpha, make):
    customer = dms_customer(make, sandbox, alpha)
    appointment_id = book(app, alpha, customer, advisor(make, alpha), opcodes=["LOF", "ROT"])
    assert messages(app, appointment_id)[0].status == OutboxStatus.PENDING  # booked without waiting on the DMS
    assert created(sandbox) == 0
    run_jobs(["pushes"])
    row = appointment_row(app, appointment_id)
    [message] = messages(app, appointment_id)
    assert message.status == OutboxStatus.SENT and message.dms_id == row.dms_id and row.dms_id
    assert row.push_state == PushState.SENT
    in_dms = sandbox.control.get_record("alpha-cdk", "appointments", row.dms_id)
    assert in_dms["customer_dms_id"] == customer.dms_id and in_dms["advisor_dms_id"] == "ADV03"
    assert in_dms["opcodes"] == ["LOF", "ROT"] and in_dms["notes"] == "Oil change"
    assert created(sandbox) == 1
    run_jobs(["pushes"])  # nothing left: a second run sends nothing
    assert created(sandbox) == 1


def test_customer_and_vehicle_without_dms_id_are_created_with_the_appointment(app, run_jobs, sandbox, make):
    reynolds = connected_location(make, sandbox, "gamma-reynolds")
    customer = make.customer(reynolds, dms_id=None, first_name="Nia", last_name="Okafor")
    asset = make.asset(reynolds, customer, dms_id=None, vin="1FTFW1ET5DFC10312")
    appointment_id = book(app, reynolds, customer, advisor(make, reynolds), asset=asset)
    run_jobs(["pushes"])
    row = appointment_row(app, appointment_id)
    assert row.push_state == PushState.SENT, messages(app, appointment_id)[0].error_message
    with app.app_context():
        linked = db.session.get(Customer, customer.id).dms_id
    assert linked and sandbox.control.get_record("gamma-reynolds", "customers", linked)["last_name"] == "Okafor"
    assert sandbox.control.get_record("gamma-reynolds", "appointments", row.dms_id)["customer_dms_id"] == linked
    assert sandbox.control.count_created("gamma-reynolds")["customers"] == 1


def test_a_backlog_is_sent_in_chunks_each_once(app, run_jobs, sandbox, alpha, make, monkeypatch):
    """Queued pushes are claimed and recorded in chunks: a new customer shared by several
    appointments of one chunk is created once, a refusal inside the chunk fails only its
    own message, and every appointment reaches the DMS exactly once with its id recorded."""
    monkeypatch.setattr(pushes, "CHUNK_START", 50)
    new_customer = make.customer(alpha, dms_id=None, first_name="Ada", last_name="Byrne")
    adv = advisor(make, alpha)
    ids = [book(app, alpha, new_customer, adv, notes=f"visit {n}") for n in range(4)]
    bad = book(app, alpha, new_customer, adv, dispatch_code="BOGUS")  # refused by CDK on delivery
    ids += [book(app, alpha, new_customer, adv, notes=f"visit {n}") for n in range(4, 7)]
    run_jobs(["pushes"])
    rows = [appointment_row(app, i) for i in ids]
    assert [r.push_state for r in rows] == [PushState.SENT] * 7
    assert created(sandbox) == 7 and len({r.dms_id for r in rows}) == 7
    assert sandbox.control.count_created("alpha-cdk")["customers"] == 1
    with app.app_context():
        linked = db.session.get(Customer, new_customer.id).dms_id
    for n, row in enumerate(rows):
        in_dms = sandbox.control.get_record("alpha-cdk", "appointments", row.dms_id)
        assert in_dms["customer_dms_id"] == linked and in_dms["notes"] == f"visit {n}"
    [refused] = messages(app, bad)
    assert refused.status == OutboxStatus.FAILED and refused.error_code == "CDK-DISPATCH-INVALID"
    assert appointment_row(app, bad).push_state == PushState.FAILED and not appointment_row(app, bad).dms_id


@pytest.mark.parametrize("fault", ["503", "500"])
def test_dms_down_waits_and_goes_through_once(app, run_jobs, sandbox, alpha, make, fault):
    customer = dms_customer(make, sandbox, alpha)
    ids = [book(app, alpha, customer, advisor(make, alpha), notes=f"visit {n}") for n in range(3)]
    sandbox.control.inject_fault(fault, count=4, account="alpha-cdk")
    for _ in range(6):
        run_jobs(["pushes"])
        waiting = [m for m in messages(app) if m.status == OutboxStatus.PENDING]
        if not waiting:
            break
        tried = [m for m in waiting if m.attempts]
        assert tried and all(m.error_kind == "transient" and m.next_attempt_at > utcnow() for m in tried)  # backing off
        time_passes(app)
    assert [m.status for m in messages(app)] == [OutboxStatus.SENT] * 3
    assert created(sandbox) == 3  # nothing lost, nothing sent twice
    assert len({appointment_row(app, i).dms_id for i in ids}) == 3


def test_rate_limit_retry_after_is_honoured(app, run_jobs, sandbox, alpha, make, monkeypatch):

    monkeypatch.setattr(retry_policy, "PUSHES", replace(retry_policy.PUSHES, first=1.0))
    customer = dms_customer(make, sandbox, alpha)
    appointment_id = book(app, alpha, customer, advisor(make, alpha))
    sandbox.control.inject_fault("429", count=1, account="alpha-cdk", retry_after=120)
    before = utcnow()
    run_jobs(["pushes"])
    [message] = messages(app, appointment_id)
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    assert message.next_attempt_at >= before + timedelta(seconds=119)
    assert len(ScheduledJobRegistry("pushes", connection=get_redis(app.config["REDIS_URL"]))) == 1
    time_passes(app)
    run_jobs(["pushes"])
    assert messages(app, appointment_id)[0].status == OutboxStatus.SENT and created(sandbox) == 1


def test_timeout_after_the_dms_created_it_does_not_duplicate(app, run_jobs, sandbox, alpha, make, monkeypatch):
    """The DMS answers too late: the console gives up, but the DMS made the appointment.
    The resend carries the same idempotency key, so the DMS returns the first result."""
    monkeypatch.setattr(pushes, "CALL_TIMEOUT", 0.5)
    customer = dms_customer(make, sandbox, alpha)
    appointment_id = book(app, alpha, customer, advisor(make, alpha))
    sandbox.control.inject_fault("hang", count=1, account="alpha-cdk", hang_seconds=1.5)
    run_jobs(["pushes"])
    assert messages(app, appointment_id)[0].status == OutboxStatus.PENDING
    wait_for(lambda: created(sandbox) == 1, what="the DMS to finish the request it was holding")
    time_passes(app)
    run_jobs(["pushes"])
    [message] = messages(app, appointment_id)
    assert message.status == OutboxStatus.SENT and message.attempts == 2
    assert created(sandbox) == 1


def test_gives_up_after_many_attempts_and_parks_it_for_a_person(app, run_jobs, sandbox, alpha, make, monkeypatch):

    monkeypatch.setattr(retry_policy, "PUSHES", replace(retry_policy.PUSHES, tries=2))
    appointment_id = book(app, alpha, dms_customer(make, sandbox, alpha), advisor(make, alpha))
    sandbox.control.inject_fault("503", count=5, account="alpha-cdk")
    run_jobs(["pushes"])
    time_passes(app)
    run_jobs(["pushes"])
    [message] = messages(app, appointment_id)
    assert message.status == OutboxStatus.FAILED and "unreachable" in message.error_title
    assert appointment_row(app, appointment_id).push_state == PushState.FAILED
    # Its hint names who retries it, and where.
    assert "A Service Manager" in message.fix_hint and "Failed pushes" in message.fix_hint, message.fix_hint


def test_order_per_record_and_a_refusal_holds_back_only_its_record(app, run_jobs, sandbox, alpha, make):
    from webapp.outbox import enqueue_push

    customer = dms_customer(make, sandbox, alpha)
    adv = advisor(make, alpha)
    first = book(app, alpha, customer, adv, notes="first")
    run_jobs(["pushes"])
    bad = book(app, alpha, customer, adv, dispatch_code="BOGUS")  # refused by CDK on delivery
    with app.app_context():
        appointment = db.session.get(Appointment, first)
        location = db.session.get(Location, alpha.id)
        appointment.notes = "second"
        enqueue_push(db.session, location, OutboxKind.APPOINTMENT_UPDATE, appointment)
        bad_row = db.session.get(Appointment, bad)
        enqueue_push(db.session, location, OutboxKind.APPOINTMENT_UPDATE, bad_row)  # waits behind its refused create
        enqueue_push(db.session, location, OutboxKind.APPOINTMENT_CANCEL, appointment)
        db.session.commit()
    run_jobs(["pushes"])
    first_msgs, bad_msgs = messages(app, first), messages(app, bad)
    assert [m.status for m in first_msgs] == [OutboxStatus.SENT] * 3
    assert [m.sent_at for m in first_msgs] == sorted(m.sent_at for m in first_msgs)
    dms_id = appointment_row(app, first).dms_id
    assert sandbox.control.get_record("alpha-cdk", "appointments", dms_id)["status"] == "cancelled"
    assert [m.status for m in bad_msgs] == [OutboxStatus.FAILED, OutboxStatus.PENDING]
    assert bad_msgs[0].error_code == "CDK-DISPATCH-INVALID"


def test_what_the_vendor_does_not_accept_is_never_sent(app, run_jobs, sandbox, make):
    from webapp.outbox import enqueue_push

    reynolds = connected_location(make, sandbox, "gamma-reynolds")
    karmak = connected_location(make, sandbox, "beta-karmak")
    customer = make.customer(reynolds, dms_id=None)
    karmak_customer = make.customer(karmak)
    with app.app_context():
        enqueue_push(
            db.session,
            db.session.get(Location, reynolds.id),
            OutboxKind.CUSTOMER_PUSH,
            db.session.get(Customer, customer.id),
        )
        enqueue_push(
            db.session,
            db.session.get(Location, karmak.id),
            OutboxKind.PAYMENT_EXPORT,
            db.session.get(Customer, karmak_customer.id),
            payload={"ro_number": "1", "amount": "9"},
        )
        db.session.commit()
    run_jobs(["pushes"])
    customer_push, payment = messages(app)
    assert customer_push.status == OutboxStatus.FAILED and customer_push.error_kind == "unsupported"
    # In the vendor profile's one wording of what it does not do, with its catalogue entry.
    assert customer_push.error_code == "RR-PUSH-NEEDS-APPOINTMENT" and customer_push.error_message == (
        get_profile("reynolds").refusal_text("accepts customers only together with an appointment.")
    )
    assert payment.status == OutboxStatus.FAILED and payment.error_code == "KAR-NOT-SUPPORTED"
    assert payment.error_message == get_profile("karmak").refusal_text(pushes.PAYMENT_EXPORT_REFUSED)
    assert payment.error_message.startswith("Karmak Fusion does not take payment exports")
    assert customer_push.attempts == 1 and not sandbox.control.count_created("gamma-reynolds").get("customers")


def test_every_kind_of_outbox_message_has_one_handler():
    """A kind without a handler could be queued and never sent: the one table covers every kind."""
    assert set(pushes.HANDLERS) == set(OutboxKind)


def test_cron_sweep_delivers_rows_whose_wake_up_was_lost(app, run_jobs, sandbox, alpha, make):
    from jobs.schedule import wake_due_pushes as deliver_due_pushes

    appointment_id = book(app, alpha, dms_customer(make, sandbox, alpha), advisor(make, alpha))
    get_redis(app.config["REDIS_URL"]).flushdb()  # the queued job is lost (Redis restarted)
    assert run_jobs(["pushes"]) == 0
    with app.app_context():
        assert deliver_due_pushes() == 1
    run_jobs(["pushes"])
    assert messages(app, appointment_id)[0].status == OutboxStatus.SENT and created(sandbox) == 1
