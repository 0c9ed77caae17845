"""DMS Activity on a repair order (seed 003): Properties (Convert to RO, DMS ids by hand,
DMS customer/vehicle search with "not listed - export as new"), History rows for every
event, and the printable export summary with its CSV - against the sandbox DMS."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import DmsEvent, OutboxMessage, Role, Workfile


# --------------------------------------------------------------------------- helpers (used by other test files)
def setup_workfile(make, sandbox=None, account="alpha-cdk", customer_fields=None, asset_fields=None, **fields):
    """A connected location, a signed-in-able advisor, and a workfile linked to a customer + asset."""
    settings = dms_settings(sandbox, account) if sandbox is not None else {}
    code = {"alpha-cdk": "ALPHA", "beta-karmak": "BETA", "gamma-reynolds": "GAMMA"}[account]
    location = make.location(name=f"{code.title()} Collision", code=code, **settings)
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Janet Smith")
    customer = make.customer(location, **(customer_fields or {}))
    asset = make.asset(location, customer, **(asset_fields or {}))
    workfile = make.workfile(location, customer, asset, **fields)
    return location, advisor, workfile


def workfile_row(app, workfile_id: int) -> Workfile:
    """The workfile as stored now (detached)."""
    with app.app_context():
        row = db.session.get(Workfile, workfile_id)
        db.session.expunge(row)
        return row


def events(app, workfile_id: int) -> list[tuple[str, str | None, str | None]]:
    """(kind, reference id, who) of every History row, oldest first."""
    with app.app_context():
        rows = db.session.scalars(select(DmsEvent).where(DmsEvent.workfile_id == workfile_id).order_by(DmsEvent.id))
        return [(r.kind.value, r.reference_id, r.completed_by) for r in rows]


def url(workfile, suffix: str = "") -> str:
    return f"/repair-orders/{workfile.id}/dms-activity{suffix}"


def sandbox_customer(sandbox, account="alpha-cdk", index=5):
    """An existing DMS customer with a last name to search by."""
    with sandbox.connect(account) as dms:
        for dms_id in sorted(dms.list_ids("customers"))[index:]:
            record = dms.fetch_one("customers", dms_id)
            if record.kind == "person" and record.last_name:
                return record
    raise AssertionError("no person customer in the sandbox")


# --------------------------------------------------------------------------- pages
def test_ro_list_and_page_lead_to_dms_activity_with_three_tabs(client, auth, make):
    location, advisor, workfile = setup_workfile(make, dms_repair_id="12345678")
    other_location = make.location()
    foreign = make.workfile(other_location, customer_name="Someone Else")
    auth.login(advisor.email, PASSWORD)
    moved = client.get("/repair-orders")  # the old workfile list's address leads to the one list
    assert moved.status_code == 302 and moved.headers["Location"].endswith("/repair-orders/all")
    listing = soup(client.get(moved.headers["Location"]))
    assert "12345678" in listing.select_one("main").text and "Someone Else" not in listing.text
    page = soup(client.get(f"/repair-orders/{workfile.id}"))
    link = page.find("a", string="DMS Activity")
    activity = soup(client.get(link["href"]))
    assert activity.h1.text.strip() == "12345678 - DMS Activity"
    assert [a.text for a in activity.select("nav.dms-tabs a")] == ["Properties", "Payments", "History"]
    header = activity.select_one(".dms-header")
    for text in (
        "12345678",
        "Turpin, Sharon",
        "$2,877.67",
        "QUALITY INSURANCE COMPANY",
        "2012 Toyota Corolla SE 4WD",
        "2T1BURHE0GC123456",
    ):
        assert text in header.text
    assert "CDK" in activity.select_one(".dms-connection").text
    assert client.get(f"/repair-orders/{foreign.id}/dms-activity").status_code == 404


# --------------------------------------------------------------------------- Convert to RO
def test_convert_to_ro_reserves_a_number_once_and_fills_the_repair_id(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox)
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(url(workfile)))
    assert page.find("button", string="Convert to RO")
    response = client.post(url(workfile, "/convert"))
    assert response.status_code == 303
    number = workfile_row(app, workfile.id).dms_repair_id
    assert number
    assert client.post(url(workfile, "/convert")).status_code == 303  # a double click replays the reservation
    assert workfile_row(app, workfile.id).dms_repair_id == number
    assert sandbox.control.count_created("alpha-cdk")["ro_reservations"] == 1
    assert events(app, workfile.id) == [("repair_id_added", number, "Janet Smith")]
    page = soup(client.get(url(workfile)))
    assert page.select_one("#dms_repair_id")["value"] == number
    assert not page.find("button", string="Convert to RO")


def test_reservation_failure_is_explained_and_the_id_can_be_typed_by_hand(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox)
    auth.login(advisor.email, PASSWORD)
    sandbox.control.inject_fault("500", count=1, account="alpha-cdk")
    response = client.post(url(workfile, "/convert"))
    assert response.status_code == 422
    error = soup(response).select_one(".dms-reservation-error")
    assert "could not reserve an RO number" in error.text and "type the DMS Repair ID by hand" in error.text
    assert workfile_row(app, workfile.id).dms_repair_id is None
    response = client.post(
        url(workfile, "/properties"), data={"dms_repair_id": "RO-7781", "dms_customer_id": "", "dms_vehicle_id": ""}
    )
    assert response.status_code == 303
    assert workfile_row(app, workfile.id).dms_repair_id == "RO-7781"
    client.post(url(workfile, "/properties"), data={"dms_repair_id": "RO-7782"})  # corrected later
    assert [e[:2] for e in events(app, workfile.id)] == [
        ("ro_reservation_failed", None),
        ("repair_id_added", "RO-7781"),
        ("repair_id_changed", "RO-7782"),
    ]


def test_vendor_without_reservation_says_so(app, client, auth, make, sandbox):
    location = make.location(
        code="AUTO",
        dms_vendor="automate",
        dms_base_url=sandbox.base_url,
        dms_account="x",
        dms_credentials={"api_key": "y"},
    )
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    workfile = make.workfile(location)
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/convert"))
    assert response.status_code == 422
    assert "does not reserve RO numbers" in soup(response).select_one(".dms-reservation-error").text


def test_closed_ro_ids_cannot_change(app, client, auth, make):
    location, advisor, workfile = setup_workfile(make, dms_repair_id="5001", is_closed=True)
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(url(workfile)))
    assert "This RO is closed" in page.text and not page.find("button", string="Save properties")
    client.post(url(workfile, "/properties"), data={"dms_repair_id": "9999"})
    assert workfile_row(app, workfile.id).dms_repair_id == "5001"
    assert events(app, workfile.id) == []


# --------------------------------------------------------------------------- customer search
def test_customer_search_pick_and_next_sets_the_dms_customer_id(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox)
    record = sandbox_customer(sandbox)
    auth.login(advisor.email, PASSWORD)
    panel = soup(client.get(url(workfile, "/customer-search"), htmx=True, headers={"HX-Target": "customer-search"}))
    assert panel.select_one("#customers-q")["value"] == "Turpin"  # pre-filled with the workfile customer's last name
    results = client.get(
        url(workfile, "/customer-search") + f"?q={record.last_name}",
        htmx=True,
        headers={"HX-Target": "customers-results"},
    )
    page = soup(results)
    values = [i["value"] for i in page.select("input[name=choice]")]
    assert record.dms_id in values and values[-1] == "__new__"
    assert "Customer not listed – export as new customer record" in page.text
    assert client.post(url(workfile, "/customer"), data={"choice": record.dms_id}).status_code == 303
    assert workfile_row(app, workfile.id).dms_customer_id == record.dms_id
    assert events(app, workfile.id) == [("customer_id_added", record.dms_id, "Janet Smith")]


def test_customer_not_listed_is_exported_as_new_and_its_id_filled(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile = setup_workfile(
        make, sandbox, customer_fields={"dms_id": None, "first_name": "Sharon", "last_name": "Turpin"}
    )
    auth.login(advisor.email, PASSWORD)
    assert client.post(url(workfile, "/customer"), data={"choice": "__new__"}).status_code == 303
    assert "Exporting the customer" in soup(client.get(url(workfile))).select_one(".dms-export-state").text
    run_jobs(["pushes"])
    dms_id = workfile_row(app, workfile.id).dms_customer_id
    assert dms_id and sandbox.control.count_created("alpha-cdk")["customers"] == 1
    assert sandbox.control.get_record("alpha-cdk", "customers", dms_id)["last_name"] == "Turpin"
    kinds = [e[:2] for e in events(app, workfile.id)]
    assert kinds == [("customer_export_requested", None), ("customer_id_added", dms_id)]


def test_customer_not_listed_refused_by_the_dms_is_shown_and_logged(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile = setup_workfile(make, sandbox, customer_fields={"dms_id": None})
    auth.login(advisor.email, PASSWORD)
    client.post(url(workfile, "/customer"), data={"choice": "__new__"})
    # The DMS rejects our credentials (twice: the connector renews its token once).
    sandbox.control.inject_fault("expired_token", count=2, account="alpha-cdk")
    run_jobs(["pushes"])
    assert workfile_row(app, workfile.id).dms_customer_id is None
    assert sandbox.control.count_created("alpha-cdk").get("customers", 0) == 0
    state = soup(client.get(url(workfile))).select_one(".dms-export-state")
    assert state["data-status"] == "failed" and "Customer export failed" in state.text
    history = soup(client.get(url(workfile) + "?tab=history")).select("table.dms-history tbody tr")
    assert [tr["data-kind"] for tr in history] == ["customer_export_failed", "customer_export_requested"]
    assert "Customer export failed" in history[0].text
    # The way out: type the DMS Customer ID by hand.
    client.post(url(workfile, "/properties"), data={"dms_customer_id": "C-778"})
    assert workfile_row(app, workfile.id).dms_customer_id == "C-778"
    assert events(app, workfile.id)[-1][:2] == ("customer_id_added", "C-778")


# --------------------------------------------------------------------------- vehicle search
def test_vehicle_search_pick_sets_the_dms_vehicle_id(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox)
    with sandbox.connect("alpha-cdk") as dms:
        vehicle = dms.fetch_one("vehicles", sorted(dms.list_ids("vehicles"))[3])
    auth.login(advisor.email, PASSWORD)
    page = soup(
        client.get(
            url(workfile, "/vehicle-search") + f"?q={vehicle.vin}", htmx=True, headers={"HX-Target": "vehicles-results"}
        )
    )
    assert vehicle.dms_id in [i["value"] for i in page.select("input[name=choice]")]
    assert "Vehicle not listed – export as new vehicle record" in page.text
    client.post(url(workfile, "/vehicle"), data={"choice": vehicle.dms_id})
    assert workfile_row(app, workfile.id).dms_vehicle_id == vehicle.dms_id
    assert events(app, workfile.id)[-1][:2] == ("vehicle_id_added", vehicle.dms_id)


def test_vehicle_not_listed_confirms_make_model_then_exports(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile = setup_workfile(
        make, sandbox, "beta-karmak", asset_fields={"dms_id": None}, dms_customer_id=None
    )
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/vehicle"), data={"choice": "__new__"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/new-vehicle")
    form = soup(client.get(response.headers["Location"]))
    assert form.select_one("#make")["value"] == "Toyota" and form.select_one("#model")["value"] == "Corolla SE 4WD"
    invalid = client.post(url(workfile, "/new-vehicle"), data={"make": "", "model": "Corolla"})
    assert invalid.status_code == 422 and "Enter the make." in soup(invalid).text
    client.post(
        url(workfile, "/new-vehicle"),
        data={"year": "2012", "make": "Toyota", "model": "Corolla", "vin": "2T1BURHE0GC123456"},
    )
    run_jobs(["pushes"])
    dms_id = workfile_row(app, workfile.id).dms_vehicle_id
    assert dms_id and sandbox.control.count_created("beta-karmak")["vehicles"] == 1
    stored = sandbox.control.get_record("beta-karmak", "vehicles", dms_id)
    assert (stored["make"], stored["model"]) == ("Toyota", "Corolla")
    assert [e[0] for e in events(app, workfile.id)] == ["vehicle_export_requested", "vehicle_id_added"]


def test_vehicle_export_refused_plainly_where_the_dms_needs_an_appointment(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox, asset_fields={"dms_id": None})
    auth.login(advisor.email, PASSWORD)
    response = client.post(
        url(workfile, "/new-vehicle"), data={"make": "Toyota", "model": "Corolla"}, follow_redirects=True
    )
    assert "accepts new vehicle records only together with an appointment" in soup(response).select_one(".flashes").text
    with app.app_context():
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


# --------------------------------------------------------------------------- History and the export summary
def test_history_summary_page_and_csv(app, client, auth, make):
    from decimal import Decimal

    from webapp.models import PaymentStatus

    location, advisor, workfile = setup_workfile(make, dms_repair_id="12345678")
    make.payment(workfile, amount=Decimal("1000.00"), status=PaymentStatus.POSTED, reference_id="1234567890019")
    auth.login(advisor.email, PASSWORD)
    client.post(
        url(workfile, "/properties"),
        data={"dms_repair_id": "12345678", "dms_customer_id": "9876543", "dms_vehicle_id": "V-55"},
    )
    client.post(
        url(workfile, "/properties"),
        data={"dms_repair_id": "12345678", "dms_customer_id": "=cmd()", "dms_vehicle_id": "V-55"},
    )
    history = soup(client.get(url(workfile) + "?tab=history"))
    rows = [
        [td.get_text(" ", strip=True) for td in tr.select("td")] for tr in history.select("table.dms-history tbody tr")
    ]
    assert [r[2].split(" was ")[0] for r in rows] == [
        "DMS Customer ID changed",
        "DMS Vehicle ID added",
        "DMS Customer ID added",
    ]  # newest first
    assert rows[2][1] == "Janet Smith" and rows[2][5] == "9876543"
    summary_link = history.find("a", string="Print Export Summary")
    summary = soup(client.get(summary_link["href"]))
    header = summary.select_one(".dms-export-summary-page .dms-header").text
    for text in ("12345678", "Turpin, Sharon", "$2,877.67", "QUALITY INSURANCE COMPANY", "2T1BURHE0GC123456"):
        assert text in header
    assert len(summary.select(".dms-export-summary-page table.dms-history tbody tr")) == 3
    css = client.get("/static/css/dms_activity.css").get_data(as_text=True)
    assert "@media print" in css and ".dms-export-summary-page" in css
    response = client.get(summary.find("a", string="Download CSV")["href"])
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert lines[0] == ["RO Number", "12345678"] and ["Total", "2877.67"] in lines
    table = lines[
        lines.index(["Date", "Completed By", "Description", "Amount $", "Status", "Reference ID", "Detail"]) + 1 :
    ]
    assert [r[2] for r in table] == ["DMS Customer ID changed", "DMS Vehicle ID added", "DMS Customer ID added"]
    assert table[0][5] == "'=cmd()"  # never a live spreadsheet formula


@pytest.mark.parametrize("role", [Role.SERVICE_ADVISOR, Role.SERVICE_MANAGER])
def test_staff_of_another_location_get_404(client, auth, make, role):
    location, _advisor, workfile = setup_workfile(make)
    stranger = make.user(role, make.location())
    auth.login(stranger.email, PASSWORD)
    for path in ("", "?tab=payments", "?tab=history", "/summary", "/summary.csv"):
        assert client.get(url(workfile, path)).status_code == 404
    assert client.post(url(workfile, "/convert")).status_code == 404
