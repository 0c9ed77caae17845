"""Workfiles staff create (issue 18): a new repair order from the customer page, the vehicle page
or an appointment check-in; receipts with reference and date, voided with a reason; linking a
workfile to an RO the DMS already has (looked up live); DMS Activity on a pulled RO - through
HTTP, against the sandbox DMS and a real RQ worker."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.test_dms_activity import events, setup_workfile, url, workfile_row
from webapp.extensions import db
from webapp.models import DmsRecord, Payment, PaymentStatus, Role, Workfile


def workfiles(app, location_id) -> list[Workfile]:
    with app.app_context():
        rows = list(
            db.session.scalars(select(Workfile).where(Workfile.location_id == location_id).order_by(Workfile.id))
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def receipts(app, workfile_id) -> list[Payment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Payment).where(Payment.workfile_id == workfile_id).order_by(Payment.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def field_error(page, field_id: str) -> str:
    """The error text tied to one input (the field macro's aria-describedby)."""
    node = page.select_one(f"#{field_id}")
    assert node is not None, field_id
    assert node.get("aria-invalid") == "true", f"{field_id} is not marked invalid"
    error = page.select_one(f"#{field_id}-error")
    assert error is not None, f"no error shown for {field_id}"
    return error.text


def shop(make, sandbox=None, account="alpha-cdk"):
    """A (connected) location with an advisor, a DMS-linked customer with two vehicles."""
    settings = dms_settings(sandbox, account) if sandbox is not None else {}
    location = make.location(name="Alpha Collision", code="ALPHA", **settings)
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Janet Smith")
    customer = make.customer(location, first_name="Sharon", last_name="Turpin", dms_id="C900")
    car = make.asset(
        location, customer, year=2012, make="Toyota", model="Corolla", vin="2T1BURHE0GC123456", dms_id="V900"
    )
    truck = make.asset(location, customer, year=2019, make="Ford", model="F-150", vin="1FTFW1ET5DFC10312", dms_id=None)
    return location, advisor, customer, car, truck


# --------------------------------------------------------------------------- creating workfiles
def test_new_repair_order_from_the_customer_page(app, client, auth, make):
    location, advisor, customer, car, truck = shop(make)
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(f"/customers/{customer.id}"))
    link = page.find("a", string="New repair order")
    assert link is not None
    form_page = soup(client.get(link["href"]))
    options = [o.text for o in form_page.select("select#asset_id option")]
    assert options[0] == "No vehicle yet" and len(options) == 3
    assert form_page.select_one("label[for=insurer]") and form_page.select_one("label[for=total]")

    # Bad input: a clear message on the field, nothing created, what was typed kept.
    bad = client.post(link["href"], data={"asset_id": car.id, "insurer": "QUALITY INSURANCE COMPANY", "total": "lots"})
    assert bad.status_code == 422
    bad_page = soup(bad)
    assert "Enter the amount as a number" in field_error(bad_page, "total")
    assert bad_page.select_one("#insurer")["value"] == "QUALITY INSURANCE COMPANY"
    assert client.post(link["href"], data={"asset_id": car.id, "total": "-5"}).status_code == 422
    assert workfiles(app, location.id) == []

    response = client.post(
        link["href"], data={"asset_id": car.id, "insurer": "QUALITY INSURANCE COMPANY", "total": "2,877.67"}
    )
    assert response.status_code == 303
    (workfile,) = workfiles(app, location.id)
    assert response.headers["Location"].endswith(f"/repair-orders/{workfile.id}/dms-activity?tab=properties")
    assert (workfile.customer_id, workfile.asset_id, workfile.customer_name) == (customer.id, car.id, "Sharon Turpin")
    assert workfile.total == Decimal("2877.67") and workfile.insurer == "QUALITY INSURANCE COMPANY"
    assert (workfile.vin, workfile.dms_customer_id, workfile.dms_vehicle_id) == ("2T1BURHE0GC123456", "C900", "V900")
    assert workfile.dms_repair_id is None and workfile.created_by_id == advisor.id
    assert [e[:2] for e in events(app, workfile.id)] == [
        ("workfile_created", None),
        ("customer_id_added", "C900"),
        ("vehicle_id_added", "V900"),
    ]
    activity = soup(client.get(response.headers["Location"]))
    assert activity.h1.text.strip() == f"WF-{workfile.id} - DMS Activity"
    header = activity.select_one(".dms-header").text
    assert "Sharon Turpin" in header and "$2,877.67" in header and "2012 Toyota Corolla" in header
    assert activity.find("button", string="Convert to RO") and activity.select_one("form.dms-link-ro")

    # A vehicle of someone else is refused on the field.
    other = make.asset(location, make.customer(location), dms_id="V901")
    refused = client.post(link["href"], data={"asset_id": other.id})
    assert refused.status_code == 422 and "this customer's vehicles" in field_error(soup(refused), "asset_id")
    # No vehicle yet is allowed; the DMS Vehicle ID stays empty.
    client.post(link["href"], data={"asset_id": 0})
    latest = workfiles(app, location.id)[-1]
    assert latest.asset_id is None and latest.dms_vehicle_id is None and len(workfiles(app, location.id)) == 2


def test_new_repair_order_from_the_vehicle_page(app, client, auth, make):
    location, advisor, customer, car, truck = shop(make)
    auth.login(advisor.email, PASSWORD)
    link = soup(client.get(f"/assets/{truck.id}")).find("a", string="New repair order")
    form_page = soup(client.get(link["href"]))
    assert "Sharon Turpin" in form_page.select_one(".nwf-customer").text
    assert "2019 Ford F-150" in form_page.select_one(".nwf-vehicle").text
    response = client.post(link["href"], data={"asset_id": truck.id})
    assert response.status_code == 303
    (workfile,) = workfiles(app, location.id)
    assert (workfile.asset_id, workfile.customer_id, workfile.vehicle) == (truck.id, customer.id, "2019 Ford F-150")
    assert workfile.dms_vehicle_id is None  # the truck is not in the DMS: "Vehicle not listed" is next
    # A forged asset_id cannot swap the vehicle: the page's vehicle is the one used.
    client.post(link["href"], data={"asset_id": car.id})
    assert workfiles(app, location.id)[-1].asset_id == truck.id


def test_check_in_an_appointment_starts_its_one_repair_order(app, client, auth, make):
    location, advisor, customer, car, truck = shop(make)
    appointment = make.appointment(location, customer, car, advisor)
    auth.login(advisor.email, PASSWORD)
    link = soup(client.get(f"/appointments/{appointment.id}")).find("a", string="Check in: start repair order")
    assert link is not None
    response = client.post(link["href"], data={})
    assert response.status_code == 303
    (workfile,) = workfiles(app, location.id)
    assert (workfile.appointment_id, workfile.customer_id, workfile.asset_id) == (appointment.id, customer.id, car.id)
    assert events(app, workfile.id)[0][0] == "workfile_created"
    # A second click (or a second advisor) reuses it.
    again = client.post(link["href"], data={})
    assert again.status_code == 303 and len(workfiles(app, location.id)) == 1
    assert again.headers["Location"] == response.headers["Location"]
    page = soup(client.get(link["href"]))
    assert "already checked in" in page.text and page.find("a", string="Open its DMS Activity")


def test_cancelled_appointment_cannot_be_checked_in(app, client, auth, make):
    from webapp.models import AppointmentStatus

    location, advisor, customer, car, truck = shop(make)
    appointment = make.appointment(location, customer, car, advisor, status=AppointmentStatus.CANCELLED)
    auth.login(advisor.email, PASSWORD)
    assert "Check in" not in soup(client.get(f"/appointments/{appointment.id}")).text
    response = client.post(f"/repair-orders/new/appointment/{appointment.id}", data={})
    assert response.status_code == 409 and "cancelled" in soup(response).select_one(".alert-error").text
    assert workfiles(app, location.id) == []


@pytest.mark.parametrize("role", [Role.FIELD_MANAGER, Role.REVIEWER], ids=lambda r: r.value)
def test_field_managers_and_reviewers_cannot_create_or_edit(app, client, auth, make, role):
    location, advisor, customer, car, truck = shop(make)
    appointment = make.appointment(location, customer, car, advisor)
    workfile = make.workfile(location, customer, car)
    receipt = make.payment(workfile)
    user = make.user(
        role, location if role == Role.FIELD_MANAGER else None, covers=[location] if role == Role.FIELD_MANAGER else ()
    )
    auth.login(user.email, PASSWORD)
    for path in (
        f"/repair-orders/new/customer/{customer.id}",
        f"/repair-orders/new/asset/{car.id}",
        f"/repair-orders/new/appointment/{appointment.id}",
    ):
        assert client.get(path).status_code == 403
        assert client.post(path, data={"asset_id": car.id}).status_code == 403
    assert client.post(url(workfile, "/link-ro"), data={"ro_number": "100001"}).status_code == 403
    assert (
        client.post(
            url(workfile, "/payments"), data={"kind": "customer", "amount": "5", "payer": "x", "method": "cash"}
        ).status_code
        == 403
    )
    assert client.post(url(workfile, f"/payments/{receipt.id}/void"), data={"reason": "x"}).status_code == 403
    assert len(workfiles(app, location.id)) == 1 and receipts(app, workfile.id)[0].status == PaymentStatus.READY


def test_another_locations_customer_vehicle_appointment_and_ro_are_404(app, client, auth, make):
    location, advisor, customer, car, truck = shop(make)
    other = make.location(code="BETA")
    their_customer = make.customer(other)
    their_car = make.asset(other, their_customer)
    their_appointment = make.appointment(other, their_customer, their_car)
    their_ro = make.dms_repair_order(other)
    auth.login(advisor.email, PASSWORD)
    for path in (
        f"/repair-orders/new/customer/{their_customer.id}",
        f"/repair-orders/new/asset/{their_car.id}",
        f"/repair-orders/new/appointment/{their_appointment.id}",
    ):
        assert client.get(path).status_code == 404
        assert client.post(path, data={"asset_id": 0}).status_code == 404
    assert client.post(f"/repair-orders/dms/{their_ro.dms_id}/dms-activity").status_code == 404
    # Another location's vehicle offered for one of ours is refused, never linked.
    response = client.post(f"/repair-orders/new/customer/{customer.id}", data={"asset_id": their_car.id})
    assert response.status_code == 422
    assert workfiles(app, location.id) == [] and workfiles(app, other.id) == []


# --------------------------------------------------------------------------- receipts
def test_receipt_with_reference_and_date_and_the_refusals(app, client, auth, make):
    location, advisor, workfile = setup_workfile(make)
    auth.login(advisor.email, PASSWORD)
    good = {
        "kind": "insurance",
        "amount": "1000.00",
        "payer": "QUALITY INSURANCE COMPANY",
        "method": "check",
        "reference": "Check 20931",
        "received_on": (date.today() - timedelta(days=2)).isoformat(),
    }
    cases = [
        ({"amount": "-25.00"}, "amount", "cannot be negative"),
        ({"amount": "twelve"}, "amount", "Enter the amount as a number"),
        ({"received_on": (date.today() + timedelta(days=3)).isoformat()}, "received_on", "cannot be in the future"),
        ({"method": ""}, "method", "Choose the payment method."),
    ]
    for change, field_id, message in cases:
        response = client.post(url(workfile, "/payments"), data={**good, **change})
        assert response.status_code == 422, change
        page = soup(response)
        assert message in field_error(page, field_id), change
        assert page.select_one("details.dms-add-payment").has_attr("open")
        assert page.select_one("#payer")["value"] == "QUALITY INSURANCE COMPANY"  # nothing typed is lost
    assert receipts(app, workfile.id) == []
    assert client.post(url(workfile, "/payments"), data=good).status_code == 303
    (receipt,) = receipts(app, workfile.id)
    assert (receipt.amount, receipt.method, receipt.reference, receipt.status) == (
        Decimal("1000.00"),
        "check",
        "Check 20931",
        PaymentStatus.READY,
    )
    assert receipt.received_at.date() == date.today() - timedelta(days=2)
    row = soup(client.get(url(workfile) + "?tab=payments")).select_one("table.dms-payments tbody tr")
    assert "ref. Check 20931" in row.text and "1,000.00" in row.text


def test_void_needs_a_reason_which_history_shows_and_posted_is_refused(app, client, auth, make):
    location, advisor, workfile = setup_workfile(make, dms_repair_id="12345678")
    ready = make.payment(workfile, amount=Decimal("250.00"))
    posted = make.payment(workfile, amount=Decimal("1000.00"))
    with app.app_context():
        db.session.execute(update(Payment).where(Payment.id == posted.id).values(status=PaymentStatus.POSTED))
        db.session.commit()
    auth.login(advisor.email, PASSWORD)
    payments_tab = soup(client.get(url(workfile) + "?tab=payments"))
    forms = payments_tab.select("details.dms-void form")
    assert len(forms) == 1 and forms[0].select_one(f"label[for=void-reason-{ready.id}]")
    assert "reverse it in the DMS" in payments_tab.select_one(f"tr[data-payment-id='{posted.id}']").text

    for without in ({"reason": "  "}, {}):  # a blank reason, or none at all
        blank = client.post(url(workfile, f"/payments/{ready.id}/void"), data=without)
        assert blank.status_code == 422
        assert "Say why the receipt is voided." in field_error(soup(blank), f"void-reason-{ready.id}")
        assert receipts(app, workfile.id)[0].status == PaymentStatus.READY

    done = client.post(
        url(workfile, f"/payments/{ready.id}/void"), data={"reason": "Entered twice"}, follow_redirects=True
    )
    assert "voided" in soup(done).select_one(".flashes").text
    voided = receipts(app, workfile.id)[0]
    assert (voided.status, voided.void_reason, voided.voided_by_id) == (PaymentStatus.VOID, "Entered twice", advisor.id)
    assert "Reason: Entered twice" in soup(client.get(url(workfile) + "?tab=payments")).text
    history = soup(client.get(url(workfile) + "?tab=history"))
    row = history.select_one("tr[data-kind=payment_voided]")
    assert "Receipt voided" in row.text and "Reason: Entered twice" in row.text and "250.00" in row.text
    assert "Reason: Entered twice" in soup(client.get(url(workfile, "/summary"))).text

    refused = client.post(
        url(workfile, f"/payments/{posted.id}/void"), data={"reason": "customer changed mind"}, follow_redirects=True
    )
    assert "it must be reversed in the DMS" in soup(refused).select_one(".flashes").text
    assert receipts(app, workfile.id)[1].status == PaymentStatus.POSTED


# --------------------------------------------------------------------------- link by RO number
def an_open_ro(sandbox, account="alpha-cdk"):
    with sandbox.connect(account) as dms:
        for dms_id in sorted(dms.list_ids("repair_orders")):
            record = dms.fetch_one("repair_orders", dms_id)
            if record.status == "open" and record.customer_dms_id:
                return record
    raise AssertionError("no open RO in the sandbox")


def test_link_by_ro_number_found_not_found_and_dms_down(app, client, auth, make, sandbox):
    location, advisor, customer, car, truck = shop(make, sandbox)
    workfile = make.workfile(location, customer, truck, dms_customer_id=None, dms_vehicle_id=None)
    ro = an_open_ro(sandbox)
    auth.login(advisor.email, PASSWORD)

    missing = client.post(url(workfile, "/link-ro"), data={"ro_number": "NO-SUCH-RO"})
    assert missing.status_code == 422
    assert "The DMS has no repair order NO-SUCH-RO." in field_error(soup(missing), "ro_number")
    empty = client.post(url(workfile, "/link-ro"), data={"ro_number": ""})
    assert empty.status_code == 422 and "Enter the RO number" in field_error(soup(empty), "ro_number")

    sandbox.control.inject_fault("503", count=10, account="alpha-cdk")
    down = client.post(url(workfile, "/link-ro"), data={"ro_number": ro.ro_number})
    sandbox.control.clear_faults()
    assert down.status_code == 422
    assert "could not be reached" in field_error(soup(down), "ro_number")
    assert soup(down).select_one("#ro_number")["value"] == ro.ro_number
    assert workfile_row(app, workfile.id).dms_repair_id is None
    assert [e[:2] for e in events(app, workfile.id)] == [("ro_link_failed", ro.ro_number)]

    linked = client.post(url(workfile, "/link-ro"), data={"ro_number": ro.ro_number}, follow_redirects=True)
    assert f"Linked to DMS repair order {ro.ro_number}" in soup(linked).select_one(".flashes").text
    row = workfile_row(app, workfile.id)
    assert (row.dms_repair_id, row.dms_ro_id) == (ro.ro_number, ro.dms_id)
    assert (row.dms_customer_id, row.dms_vehicle_id) == (ro.customer_dms_id, ro.vehicle_dms_id)
    expected = ["ro_link_failed", "ro_linked", "repair_id_added", "customer_id_added"]
    expected += ["vehicle_id_added"] if ro.vehicle_dms_id else []
    assert [e[0] for e in events(app, workfile.id)] == expected
    assert soup(linked).select_one(".dms-header-ro").text == ro.ro_number

    # The same RO cannot be linked to a second workfile.
    second = make.workfile(location, customer, car)
    refused = client.post(url(second, "/link-ro"), data={"ro_number": ro.ro_number})
    assert refused.status_code == 422
    assert f"{ro.ro_number} is already linked to RO {ro.ro_number}" in field_error(soup(refused), "ro_number")
    assert workfile_row(app, second.id).dms_ro_id is None


def test_link_when_the_dms_cannot_be_reached_at_all(app, client, auth, make):
    location, advisor, customer, car, truck = shop(make)  # points at a closed port
    workfile = make.workfile(location, customer, car)
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/link-ro"), data={"ro_number": "100001"})
    assert response.status_code == 422
    assert "could not be reached" in field_error(soup(response), "ro_number")


# --------------------------------------------------------------------------- DMS Activity from a pulled RO
def pull(app, run_jobs, location_id, data_type):
    from webapp.models import RunTrigger
    from webapp.services.runs import enqueue_pull

    with app.app_context():
        assert enqueue_pull(location_id, data_type, RunTrigger.MANUAL) is not None
    run_jobs()


def test_dms_activity_from_a_pulled_ro_then_receipt_posted(app, client, auth, make, sandbox, run_jobs):
    location, advisor, *_ = shop(make, sandbox)
    for data_type in ("customers", "vehicles", "repair_orders"):
        pull(app, run_jobs, location.id, data_type)
    ro = an_open_ro(sandbox)
    with app.app_context():
        record = db.session.scalar(
            select(DmsRecord).where(
                DmsRecord.location_id == location.id,
                DmsRecord.data_type == "repair_orders",
                DmsRecord.dms_id == ro.dms_id,
            )
        )
        assert record is not None  # the pull mirrored it
        names = db.session.scalar(
            select(DmsRecord.payload).where(
                DmsRecord.location_id == location.id,
                DmsRecord.data_type == "customers",
                DmsRecord.dms_id == ro.customer_dms_id,
            )
        )
    auth.login(advisor.email, PASSWORD)
    response = client.post(f"/repair-orders/dms/{ro.dms_id}/dms-activity")
    assert response.status_code == 303
    (workfile,) = workfiles(app, location.id)
    assert response.headers["Location"].endswith(f"/repair-orders/{workfile.id}/dms-activity?tab=properties")
    assert (workfile.dms_ro_id, workfile.dms_repair_id, workfile.dms_customer_id) == (
        ro.dms_id,
        ro.ro_number,
        ro.customer_dms_id,
    )
    expected_name = (
        names["company_name"]
        if names.get("kind") == "business" and names.get("company_name")
        else f"{names['first_name']} {names['last_name']}".strip()
    )
    assert workfile.customer_name == expected_name
    assert workfile.total == sum((line.total for line in ro.lines), Decimal("0.00"))
    page = soup(client.get(response.headers["Location"]))
    assert page.h1.text.strip() == f"{ro.ro_number} - DMS Activity"
    # Again: the same workfile, no second one.
    again = client.post(f"/repair-orders/dms/{ro.dms_id}/dms-activity")
    assert again.headers["Location"] == response.headers["Location"] and len(workfiles(app, location.id)) == 1
    assert client.post("/repair-orders/dms/NOT-PULLED/dms-activity").status_code == 404

    # Seed 003 step 3 on it: a receipt, exported for real, Posted.
    client.post(
        url(workfile, "/payments"),
        data={"kind": "customer", "amount": "100.00", "payer": expected_name, "method": "card", "reference": "AUTH 1"},
    )
    exported = client.post(url(workfile, "/payments/export"))
    assert exported.status_code == 303
    run_jobs(["pushes"])
    (receipt,) = receipts(app, workfile.id)
    assert receipt.status == PaymentStatus.POSTED and receipt.reference_id
    assert sandbox.control.count_created("alpha-cdk").get("payments", 0) == 1


def test_pulled_ro_with_its_customer_in_the_portal_links_the_portal_records(app, client, auth, make):
    location, advisor, customer, car, truck = shop(make)
    ro = make.dms_repair_order(location, customer_dms_id="C900", vehicle_dms_id="V900")
    auth.login(advisor.email, PASSWORD)
    assert client.post(f"/repair-orders/dms/{ro.dms_id}/dms-activity").status_code == 303
    (workfile,) = workfiles(app, location.id)
    assert (workfile.customer_id, workfile.asset_id, workfile.customer_name) == (customer.id, car.id, "Sharon Turpin")
    assert workfile.vin == "2T1BURHE0GC123456" and workfile.total == Decimal("69.95")
    assert [e[0] for e in events(app, workfile.id)] == [
        "workfile_created",
        "ro_linked",
        "repair_id_added",
        "customer_id_added",
        "vehicle_id_added",
    ]


def test_link_keeps_the_workfiles_dms_ids_and_says_where_the_ro_differs(app, client, auth, make, sandbox):
    location, advisor, customer, car, truck = shop(make, sandbox)  # customer C900 / vehicle V900 in the portal
    auth.login(advisor.email, PASSWORD)
    client.post(f"/repair-orders/new/customer/{customer.id}", data={"asset_id": car.id})
    (workfile,) = workfiles(app, location.id)
    ro = an_open_ro(sandbox)
    page = soup(client.post(url(workfile, "/link-ro"), data={"ro_number": ro.ro_number}, follow_redirects=True))
    warning = page.select_one(".flash-warning").text
    assert f"The DMS RO is for DMS customer {ro.customer_dms_id}" in warning and "C900" in warning
    row = workfile_row(app, workfile.id)
    assert (row.dms_repair_id, row.dms_customer_id, row.dms_vehicle_id) == (ro.ro_number, "C900", "V900")
