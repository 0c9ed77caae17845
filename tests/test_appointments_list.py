"""The Appointments list (issue 18): appointments pulled from the DMS beside those booked in the
console, one list marked by source (a DMS copy of a console booking shown once), advisor and
brand filters, times in the location's time zone, key paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.test_repair_orders import put_mirror
from webapp.extensions import db
from webapp.models import DmsRecord, Role

LIST = "/appointments/"


def soon(days: int, hour: int = 15) -> datetime:
    """A whole hour ``days`` from now (UTC)."""
    now = datetime.now(UTC)
    return (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def appt(dms_id: str, when: datetime | None, **fields) -> dict:
    values = {"dms_id": dms_id, "scheduled_at": when, "opcodes": ["LOF"], "status": "scheduled"}
    values.update(fields)
    return values


def rows(page) -> list[tuple[str, str]]:
    """(source, id) of each row: the console id, or the DMS id of a pulled one."""
    return [(tr["data-source"], tr.get("data-id") or tr.get("data-dms-id")) for tr in page.select("tr.appointment-row")]


@pytest.fixture()
def shop(app, make):
    location = make.location(name="Northside Ford", code="NSF", brands=["Ford", "Lincoln"])
    amy = make.user(Role.SERVICE_ADVISOR, location, name="Amy Advisor", advisor_dms_id="A1")
    bob = make.user(Role.SERVICE_ADVISOR, location, name="Bob Booker", advisor_dms_id="B2")
    put_mirror(app, location, "customers", [{"dms_id": "C1", "first_name": "Dana", "last_name": "Driver"}])
    put_mirror(
        app,
        location,
        "vehicles",
        [
            {"dms_id": "V1", "vin": "1FTFW1ET5DFC10312", "year": 2019, "make": "Ford", "model": "F-150"},
            {"dms_id": "V2", "vin": "5LMJJ2LT1LEL00001", "year": 2020, "make": "Lincoln", "model": "Navigator"},
        ],
    )
    customer = make.customer(location, first_name="Dana", last_name="Driver", dms_id="C1")
    asset = make.asset(location, customer, dms_id="V1")
    booked = make.appointment(location, customer, asset, amy, scheduled_at=soon(2, 14), dms_id="P-SAME")
    put_mirror(
        app,
        location,
        "appointments",
        [
            appt("P1", soon(1), advisor_dms_id="b2", customer_dms_id="C1", vehicle_dms_id="V2"),
            appt(
                "P2",
                soon(3),
                advisor_dms_id="A1",
                customer_dms_id="C1",
                vehicle_dms_id="V1",
                opcodes=[],
                notes="Rattle at the back",
            ),
            appt("P-SAME", soon(2, 14), advisor_dms_id="A1", customer_dms_id="C1", vehicle_dms_id="V1"),
            appt(
                "P-PAST", soon(-40), advisor_dms_id="A1", customer_dms_id="C1", vehicle_dms_id="V1", status="completed"
            ),
            appt("P-CANC", soon(5), advisor_dms_id="A1", customer_dms_id="C404", status="cancelled"),
        ],
    )
    return {"location": location, "amy": amy, "bob": bob, "booked": booked, "customer": customer}


def test_pulled_and_booked_appointments_in_one_list(client, auth, shop):
    auth.login(shop["amy"].email, PASSWORD)
    page = soup(client.get(LIST))
    booked = str(shop["booked"].id)
    # Upcoming: soonest first; the DMS's copy of the console booking (P-SAME) is shown once, as the booking.
    assert rows(page) == [("dms", "P1"), ("console", booked), ("dms", "P2")]
    p1 = page.select_one('tr[data-dms-id="P1"]')
    assert p1.select_one(".appointment-source").text == "Pulled from the DMS"
    assert p1.select_one('td[data-label="Advisor"]').text.strip() == "Bob Booker"
    assert p1.select_one('td[data-label="Brand"]').text.strip() == "Lincoln"
    assert p1.select_one('td[data-label="Vehicle"]').text.strip() == "2020 Lincoln Navigator"
    assert p1.select_one('td[data-label="Customer"] a')["href"] == f"/customers/{shop['customer'].id}"
    assert p1.select_one('td[data-label="DMS"]').text.strip() == "Scheduled"
    # 15:00 UTC shown in Chicago time.
    expected = soon(1).astimezone(__import__("zoneinfo").ZoneInfo("America/Chicago")).strftime("%H:%M")
    assert p1.select_one('td[data-label="When"]').text.strip().endswith(expected)
    mine = page.select_one(f'tr[data-id="{booked}"]')
    assert mine.select_one(".appointment-source").text == "Booked in the console"
    assert mine.select_one(".push-pending")
    assert page.select_one('tr[data-dms-id="P2"] td[data-label="Work"]').text.strip() == "Rattle at the back"


def test_all_and_cancelled_tabs_include_pulled_ones(client, auth, shop):
    auth.login(shop["amy"].email, PASSWORD)
    everything = rows(soup(client.get(f"{LIST}?show=all")))
    assert everything == [
        ("dms", "P-CANC"),
        ("dms", "P2"),
        ("console", str(shop["booked"].id)),
        ("dms", "P1"),
        ("dms", "P-PAST"),
    ]  # latest first
    cancelled = soup(client.get(f"{LIST}?show=cancelled"))
    assert rows(cancelled) == [("dms", "P-CANC")]
    customer = cancelled.select_one('tr[data-dms-id="P-CANC"] td[data-label="Customer"]')
    assert customer.text.strip() == "DMS customer C404"
    assert rows(soup(client.get(f"{LIST}?show=failed"))) == []  # push failures are the console's own


@pytest.mark.parametrize(
    "query, expected",
    [
        ("advisor_id={amy}", ["console:{booked}", "dms:P2"]),
        ("advisor_id={bob}", ["dms:P1"]),
        ("brand=Lincoln", ["dms:P1"]),
        ("brand=ford", ["console:{booked}", "dms:P2"]),
        ("brand=Ford&advisor_id={bob}", []),
    ],
)
def test_advisor_and_brand_filters(client, auth, shop, query, expected):
    auth.login(shop["amy"].email, PASSWORD)
    ids = {"amy": shop["amy"].id, "bob": shop["bob"].id, "booked": shop["booked"].id}
    page = soup(client.get(f"{LIST}?{query.format(**ids)}"))
    assert [f"{s}:{i}" for s, i in rows(page)] == [e.format(**ids) for e in expected]
    if not expected:
        assert "No upcoming appointments for these filters" in page.text


def test_empty_upcoming_says_where_the_others_are(app, client, auth, make):
    location = make.location(name="Quiet Ford")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    put_mirror(app, location, "appointments", [appt("OLD", soon(-90), status="completed")])
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(LIST))
    assert "No upcoming appointments." in page.text
    link = page.find("a", string="All")
    assert link is not None and client.get(link["href"]).status_code == 200
    assert rows(soup(client.get(link["href"]))) == [("dms", "OLD")]


@pytest.mark.parametrize("query", ["brand=Toyota", "advisor_id=999999", "show=nonsense"])
def test_bad_filters_are_refused_with_a_message(client, auth, shop, query):
    auth.login(shop["amy"].email, PASSWORD)
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one('#appointment-results [role="alert"]').text.strip()
    assert len(rows(page)) == 3  # the rest of the list is still there


def test_paging_reaches_every_pulled_appointment(app, client, auth, shop):
    many = [appt(f"M{i:03d}", soon(10) + timedelta(minutes=15 * (i // 2)), advisor_dms_id="A1") for i in range(130)]
    put_mirror(app, shop["location"], "appointments", many)
    auth.login(shop["amy"].email, PASSWORD)
    seen, url, pages = [], f"{LIST}?show=upcoming", 0
    while url:
        page = soup(client.get(url))
        seen += rows(page)
        nxt = page.select_one('nav.pager a[rel="next"]')
        url = nxt["href"] if nxt else None
        pages += 1
        assert pages < 10
    assert pages == 3
    assert len(seen) == len(set(seen)) == 130 + 3
    assert {i for s, i in seen if i.startswith("M")} == {f"M{i:03d}" for i in range(130)}


def test_other_locations_appointments_are_not_listed(app, client, auth, make, shop):
    put_mirror(app, make.location(), "appointments", [appt("FOREIGN", soon(1))])
    auth.login(shop["amy"].email, PASSWORD)
    assert ("dms", "FOREIGN") not in rows(soup(client.get(f"{LIST}?show=all")))


def test_pulled_from_the_sandbox_are_listed(app, client, auth, make, sandbox, run_jobs):
    from webapp.models import RunTrigger
    from webapp.services.runs import enqueue_pull

    location = make.location(name="Alpha Ford", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    for data_type in ("customers", "vehicles", "appointments"):
        with app.app_context():
            assert enqueue_pull(location.id, data_type, RunTrigger.MANUAL) is not None
        run_jobs()
    with app.app_context():
        pulled = set(
            db.session.scalars(
                select(DmsRecord.dms_id).where(
                    DmsRecord.location_id == location.id, DmsRecord.data_type == "appointments"
                )
            )
        )
    assert pulled
    auth.login(advisor.email, PASSWORD)
    seen, url = [], f"{LIST}?show=all"
    while url:
        page = soup(client.get(url))
        seen += [i for s, i in rows(page) if s == "dms"]
        nxt = page.select_one('nav.pager a[rel="next"]')
        url = nxt["href"] if nxt else None
    assert sorted(seen) == sorted(pulled)
