"""``flask seed-demo``: three locations, one user per role, a few hundred customers each."""

from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Role, User


def test_seed_demo_loads_and_refuses_twice(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.test" in result.output
    with app.app_context():
        locations = db.session.scalars(select(Location)).all()
        assert len({loc.dms_vendor for loc in locations}) == 3
        assert {u.role for u in db.session.scalars(select(User))} == set(Role)
        for loc in locations:
            assert db.session.scalar(select(func.count(Customer.id)).where(Customer.location_id == loc.id)) >= 200
            assert db.session.scalar(select(func.count(Asset.id)).where(Asset.location_id == loc.id)) >= 200
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0 and "already has data" in again.output
    for email in (
        "admin@demo.test",
        "manager@demo.test",
        "advisor@demo.test",
        "fieldmanager@demo.test",
        "reviewer@demo.test",
    ):
        response = client.post("/login", data={"email": email, "password": "demo-password"})
        assert response.status_code == 302, email
        client.post("/logout")


def test_seed_demo_books_appointments_in_the_console_queued_for_the_dms(app, client):
    """The Appointments list shows both sources from the first minute: the DMS's come with the first
    pull, and each location has appointments booked in the console, queued for the DMS."""
    from webapp.models import Appointment, OutboxMessage, PushState

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        for loc in db.session.scalars(select(Location)):
            booked = db.session.scalars(select(Appointment).where(Appointment.location_id == loc.id)).all()
            assert len(booked) == 3, loc.code
            assert all(a.push_state == PushState.PENDING and a.advisor_id and a.opcodes for a in booked)
            queued = db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.location_id == loc.id))
            assert queued >= 3
    client.post("/login", data={"email": "advisor@demo.test", "password": "demo-password"})
    listing = client.get("/appointments/?tab=upcoming")
    assert listing.status_code == 200 and "Booked in the console" in listing.get_data(as_text=True)


def test_create_user_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["create-user", "--email", "Boss@Example.test", "--name", "Boss"],
        input="a long enough password\na long enough password\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "boss@example.test"))
        assert user.role == Role.GLOBAL_ADMIN and user.password_hash.startswith("$argon2id$")


def test_seed_demo_gives_each_location_two_workfiles_with_receipts_in_every_status(app, client):
    """Seed 003 can be walked at once: DMS Activity has workfiles with Ready/Posted/Void/Failed receipts."""
    from bs4 import BeautifulSoup

    from webapp.models import DmsEvent, Payment, PaymentStatus, Workfile

    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        for loc in db.session.scalars(select(Location)):
            workfiles = db.session.scalars(select(Workfile).where(Workfile.location_id == loc.id)).all()
            assert len(workfiles) == 2, loc.code
            statuses = set(db.session.scalars(select(Payment.status).where(Payment.location_id == loc.id)))
            assert {PaymentStatus.READY, PaymentStatus.POSTED, PaymentStatus.VOID, PaymentStatus.FAILED} <= statuses
            linked = [w for w in workfiles if w.dms_repair_id]
            assert len(linked) == 1 and linked[0].dms_ro_id and linked[0].customer_id and linked[0].asset_id
            assert any(w.dms_repair_id is None for w in workfiles)  # one is left to Convert to RO
            for w in workfiles:
                assert db.session.scalar(select(func.count(DmsEvent.id)).where(DmsEvent.workfile_id == w.id)) >= 3
            voids = db.session.scalars(
                select(Payment).where(Payment.location_id == loc.id, Payment.status == PaymentStatus.VOID)
            ).all()
            assert all(p.void_reason for p in voids)
        wf_id = db.session.scalar(
            select(Workfile.id).join(Location).where(Location.code == "NSF", Workfile.dms_repair_id.is_not(None))
        )
    client.post("/login", data={"email": "advisor@demo.test", "password": "demo-password"})
    page = BeautifulSoup(
        client.get(f"/repair-orders/{wf_id}/dms-activity?tab=payments").get_data(as_text=True), "html.parser"
    )
    assert {tr["data-status"] for tr in page.select("table.dms-payments tbody tr")} == {
        "ready",
        "posted",
        "void",
        "failed",
    }
    assert "Entered twice" in page.text
    history = BeautifulSoup(
        client.get(f"/repair-orders/{wf_id}/dms-activity?tab=history").get_data(as_text=True), "html.parser"
    )
    assert "Payment posted" in history.text and "Reason: Entered twice" in history.text
