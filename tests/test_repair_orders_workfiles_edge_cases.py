"""Review fixes (C): repair orders, workfiles and DMS Activity.

A pulled RO a workfile links to is listed once; the advisor filter keeps the workfiles the
advisor started; an appointment has one workfile even when two check-ins race; a pulled RO
whose stored copy no longer reads cannot start DMS Activity and its page says truly when the
copy is replaced; fix hints name who can act; one customer-name helper; each list loads the
location's advisors once; History rows can be dated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connectors.records import record_from_dict
from tests.conftest import soup
from tests.factories import PASSWORD
from tests.fixtures import T0, put_mirror
from tests.test_dms_activity import events, url, workfile_row
from tests.test_repair_orders import LIST, numbers, row_of
from tests.test_workfiles import field_error, workfiles
from tests.test_workfiles import shop as workfile_shop
from webapp.extensions import db
from webapp.models import Appointment, DmsEvent, Location, User, Workfile


def _login_in(app, user_id: int):
    """A request context signed in as ``user_id`` (services read through webapp.scoping)."""
    from flask_login import login_user

    context = app.test_request_context()
    context.push()
    login_user(db.session.get(User, user_id))
    return context


# --------------------------------------------------------------------------- the Repair orders list
def test_a_pulled_ro_linked_to_a_workfile_is_listed_once(client, auth, make, repair_order_shop):
    location = repair_order_shop["location"]
    linked = make.workfile(
        location,
        repair_order_shop["customer"],
        repair_order_shop["asset"],
        dms_ro_id="D1001",
        dms_repair_id="1001",
        vehicle_make="Ford",
        customer_name="Zoe Obrien",
    )
    make.workfile(
        location,
        None,
        None,
        dms_ro_id="D1002",
        dms_repair_id="1002",
        customer_name="Acme Fleet",
        vehicle_make="Lincoln",
    )
    auth.login(repair_order_shop["advisor"].email, PASSWORD)

    page = soup(client.get(LIST))
    listed = numbers(page)
    assert listed.count("1001") == 1 and listed.count("1002") == 1
    assert row_of(page, "1001")["data-source"] == "workfile"
    assert row_of(page, "1001").select_one('td[data-label="RO"] a')["href"] == f"/repair-orders/{linked.id}"
    assert row_of(page, "1002")["data-source"] == "workfile"
    assert {"1003", "0999"} <= set(listed)  # ROs no workfile links to are still listed

    for query in ("q=1001", "brand=Ford", "status=open"):
        page = soup(client.get(f"{LIST}?{query}"))
        assert numbers(page).count("1001") == 1, query
        assert row_of(page, "1001")["data-source"] == "workfile", query
    # When a filter leaves the workfile out, the pulled RO stands for it (shown, never lost).
    page = soup(client.get(f"{LIST}?status=invoiced"))
    assert numbers(page) == ["1002"] and row_of(page, "1002")["data-source"] == "dms"


def test_the_advisor_filter_lists_the_workfiles_the_advisor_started(client, auth, make, repair_order_shop):
    location = repair_order_shop["location"]
    started = make.workfile(
        location, None, None, customer_name="Cal's customer", created_by_id=repair_order_shop["nodms"].id
    )
    by_amy = make.workfile(
        location, None, None, customer_name="Amy's customer", created_by_id=repair_order_shop["advisor"].id
    )
    auth.login(repair_order_shop["advisor"].email, PASSWORD)

    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['nodms'].id}"))
    assert numbers(page) == [f"WF-{started.id}"]
    # The notice speaks of DMS ROs only, and that is what it leaves out.
    assert "Cal Nodms has no DMS ID, so no repair order from the DMS can be matched to them." in page.text

    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['advisor'].id}"))
    assert f"WF-{by_amy.id}" in numbers(page) and "1001" in numbers(page)
    assert f"WF-{started.id}" not in numbers(page) and f"WF-{repair_order_shop['workfile'].id}" not in numbers(page)


def test_each_list_loads_the_locations_advisors_once(app, client, auth, make, repair_order_shop, monkeypatch):
    import webapp.appointments.service as appointment_service

    put_mirror(
        app,
        repair_order_shop["location"],
        "appointments",
        [
            {
                "dms_id": "P1",
                "scheduled_at": datetime.now(UTC) + timedelta(days=1),
                "status": "scheduled",
                "advisor_dms_id": "A1",
                "customer_dms_id": "C1",
                "vehicle_dms_id": "V1",
            }
        ],
    )
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    calls = []
    real = appointment_service.advisors
    monkeypatch.setattr(appointment_service, "advisors", lambda location: calls.append(location.id) or real(location))

    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['advisor'].id}"))
    assert "1001" in numbers(page) and calls == [repair_order_shop["location"].id]
    calls.clear()
    page = soup(client.get(f"/appointments/?show=all&advisor_id={repair_order_shop['advisor'].id}"))
    assert page.select_one('tr[data-dms-id="P1"]') is not None and calls == [repair_order_shop["location"].id]


# --------------------------------------------------------------------------- a pulled RO's page
def test_an_unreadable_pulled_ro_says_when_its_copy_is_replaced_and_cannot_start_dms_activity(app, client, auth, make):
    location, advisor, *_ = workfile_shop(make)
    record = make.dms_repair_order(location, dms_id="RO-BAD", opened_at="last tuesday")
    auth.login(advisor.email, PASSWORD)

    page = soup(client.get("/repair-orders/dms/RO-BAD"))
    notice = " ".join(page.select_one(".ro-notice").text.split())
    assert "The next pull from the DMS replaces it" not in notice  # pulls only read what the DMS changed
    assert "replaced once the DMS next changes this repair order" in notice
    assert "Open DMS Activity" not in page.text

    response = client.post(f"/repair-orders/dms/{record.dms_id}/dms-activity")
    assert response.status_code == 303 and response.headers["Location"].endswith("/repair-orders/dms/RO-BAD")
    assert workfiles(app, location.id) == []
    flashed = soup(client.get(response.headers["Location"])).select_one(".flash-error").text
    assert "DMS Activity cannot start from it" in flashed


def test_dms_activity_from_a_pulled_ro_reads_the_parsed_ro(app, client, auth, make):
    """The workfile's total is the RO's totals by pay type added up, its name the mirror's."""
    location, advisor, *_ = workfile_shop(make)
    put_mirror(
        app,
        location,
        "customers",
        [
            {
                "dms_id": "C77",
                "kind": "business",
                "company_name": "Acme Fleet",
                "first_name": "Joe",
                "last_name": "Driver",
            }
        ],
    )
    record = make.dms_repair_order(
        location,
        customer_dms_id="C77",
        lines=[
            {"line_number": 1, "pay_type": "customer", "labor_amount": "40.00", "parts_amount": "29.95"},
            {"line_number": 2, "pay_type": "warranty", "labor_amount": "300.00", "parts_amount": "120.50"},
        ],
    )
    auth.login(advisor.email, PASSWORD)
    assert client.post(f"/repair-orders/dms/{record.dms_id}/dms-activity").status_code == 303
    (workfile,) = workfiles(app, location.id)
    assert (workfile.customer_name, workfile.total, workfile.dms_customer_id) == (
        "Acme Fleet",
        Decimal("490.45"),
        "C77",
    )

    from webapp.dms_activity import service

    ro = record_from_dict(
        "repair_orders",
        {
            "dms_id": "RO-LIVE",
            "ro_number": "5005",
            "modified_at": T0,
            "customer_dms_id": "C77",
            "lines": [{"pay_type": "internal", "labor_amount": "80.00"}],
        },
    )
    context = _login_in(app, advisor.id)
    try:
        found, created = service.start_from_dms_ro(db.session.get(Location, location.id), ro, advisor.id)
        db.session.commit()
        assert created and (found.dms_ro_id, found.dms_repair_id, found.total) == ("RO-LIVE", "5005", Decimal("80.00"))
    finally:
        context.pop()


# --------------------------------------------------------------------------- one workfile per appointment
def test_two_check_ins_of_one_appointment_at_once_make_one_workfile(app, make):
    from webapp.dms_activity import service

    location, advisor, customer, car, _truck = workfile_shop(make)
    appointment = make.appointment(location, customer, car, advisor)
    context = _login_in(app, advisor.id)
    try:
        here = db.session.get(Location, location.id)
        booked = db.session.get(Appointment, appointment.id)
        first, created = service.new_workfile(
            here, customer=booked.customer, asset=booked.asset, user_id=advisor.id, appointment=booked
        )
        db.session.commit()
        # The second check-in read "not checked in yet" before the first one saved its workfile.
        second, again = service.new_workfile(
            here, customer=booked.customer, asset=booked.asset, user_id=advisor.id, appointment=booked
        )
        db.session.commit()
        assert created and not again and second.id == first.id
    finally:
        context.pop()
    assert [w.id for w in workfiles(app, location.id)] == [first.id]
    assert [e[0] for e in events(app, first.id)].count("workfile_created") == 1


def test_the_database_refuses_a_second_workfile_for_an_appointment(app, make):
    location, advisor, customer, car, _truck = workfile_shop(make)
    appointment = make.appointment(location, customer, car, advisor)
    other = make.location()
    with app.app_context():
        db.session.add(Workfile(location_id=location.id, appointment_id=appointment.id, customer_name="A"))
        db.session.commit()
        db.session.add(Workfile(location_id=location.id, appointment_id=appointment.id, customer_name="B"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        # Workfiles without an appointment are not limited.
        db.session.add_all([Workfile(location_id=other.id, customer_name=n) for n in "CD"])
        db.session.commit()
        assert (
            db.session.scalar(
                select(func.count()).select_from(Workfile).where(Workfile.appointment_id == appointment.id)
            )
            == 1
        )


# --------------------------------------------------------------------------- fix hints name who can act
def test_a_failed_ro_lookup_sends_an_advisor_to_a_service_manager(app, client, auth, make, monkeypatch):
    from webapp.dms_activity import service

    location, advisor, customer, car, _truck = workfile_shop(make)
    workfile = make.workfile(location, customer, car)

    def unreachable(location):
        raise ValueError("The DMS address is not a URL.")

    monkeypatch.setattr(service, "connect", unreachable)
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/link-ro"), data={"ro_number": "100001"})
    assert response.status_code == 422
    error = " ".join(field_error(soup(response), "ro_number").split())
    assert "ask a Service Manager to check the DMS connection on the Integration health page" in error
    assert "can be checked on the Integration health page" not in error


def test_convert_to_ro_without_a_dms_names_who_sets_it_up(app, client, auth, make):
    location, advisor, customer, car, _truck = workfile_shop(make)
    with app.app_context():
        db.session.get(Location, location.id).dms_vendor = None
        db.session.commit()
    workfile = make.workfile(location, customer, car, dms_repair_id=None)
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/convert"))
    assert response.status_code == 422
    hint = " ".join(soup(response).select_one(".dms-reservation-error").text.split())
    assert "ask a Global Admin to set up the DMS connection under Admin → Locations" in hint
    assert workfile_row(app, workfile.id).dms_repair_id is None


# --------------------------------------------------------------------------- written once
@pytest.mark.parametrize(
    "payload, expected",
    [
        ({"kind": "business", "company_name": "Acme Fleet", "first_name": "Joe"}, "Acme Fleet"),
        ({"first_name": " Zoë ", "last_name": "O'Brien"}, "Zoë O'Brien"),
        ({"first_name": "", "last_name": "", "company_name": "Solo Co"}, "Solo Co"),
        ({}, "(no name)"),
    ],
)
def test_one_customer_name_for_every_screen(payload, expected):
    from webapp.repair_orders import queries
    from webapp.search import web

    assert web.customer_name(payload) == expected
    assert web.DmsRow("C1", payload).display_name == expected
    assert queries.customer_name is web.customer_name  # the list, the RO page and DMS Activity use it
    assert web.customer_name(payload, default="") == ("" if expected == "(no name)" else expected)
    assert web.vehicle_label({"year": 2019, "make": "Ford", "model": "F-150"}) == "2019 Ford F-150"
    assert web.DmsRow("V1", {}).vehicle_label == "(unknown vehicle)"


def test_portal_kinds_are_declared_once_and_dead_code_is_gone():
    from webapp.appointments import routes as appointment_routes
    from webapp.dms_activity import service
    from webapp.record_kinds import PORTAL_KINDS, PORTAL_MODELS
    from webapp.repair_orders import appointment_list, queries
    from webapp.repair_orders import routes as ro_routes
    from webapp.search import adding

    assert adding.PORTAL_MODELS is PORTAL_MODELS
    assert not hasattr(ro_routes, "START_ENDPOINT") and not hasattr(appointment_routes, "PAGE_SIZE")
    assert not any(hasattr(kind, name) for kind in PORTAL_KINDS.values() for name in ("tokens", "noun"))
    assert not any(hasattr(service, name) for name in ("ro_total", "_mirror", "_portal", "_mirror_customer_name"))
    assert not any(hasattr(appointment_list, name) for name in ("_dms_after", "_console_after"))
    assert queries.dms_row and queries.key_after and queries.moment_after


def test_sync_wizard_links_the_record_page_through_the_portal_kinds(app):
    from webapp.sync_wizard.wizard import detail_url

    with app.test_request_context():
        assert detail_url("customer", 7) == "/customers/7"
        assert detail_url("asset", 8) == "/assets/8"


# --------------------------------------------------------------------------- History rows
def test_history_rows_can_be_dated(app, make):
    from webapp.models.workfile import DmsEventKind, record_event

    location, *_ = workfile_shop(make)
    workfile = make.workfile(location)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with app.app_context():
        stored = db.session.get(Workfile, workfile.id)
        record_event(stored, DmsEventKind.WORKFILE_CREATED, occurred_at=when)
        record_event(stored, DmsEventKind.RO_LINKED)
        db.session.commit()
        dated, now = db.session.scalars(
            select(DmsEvent.occurred_at).where(DmsEvent.workfile_id == workfile.id).order_by(DmsEvent.id)
        ).all()
    assert dated == when and now > when


def test_receipts_cannot_be_dated_after_today_in_a_location_with_a_broken_time_zone(app, make):
    from webapp.dms_activity.routes import location_today

    location = make.location(timezone="Not/AZone")
    with app.app_context():
        assert location_today(db.session.get(Location, location.id)) == datetime.now(UTC).date()
