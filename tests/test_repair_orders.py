"""Repair orders (issue 18): the DMS mirror's ROs and the console's workfiles in one list, with
status / advisor / brand filters, search, keyset paging to the last page, and a pulled RO's page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.fixtures import T0, put_mirror, ro
from webapp.extensions import db
from webapp.models import DmsRecord, Role, Workfile

LIST = "/repair-orders/all"


# --------------------------------------------------------------------------- helpers
def numbers(page) -> list[str]:
    """RO numbers of the list's rows, in order."""
    return [tr["data-number"] for tr in page.select("tr.ro-row")]


def row_of(page, number: str):
    return page.select_one(f'tr.ro-row[data-number="{number}"]')


# --------------------------------------------------------------------------- the list
def test_list_shows_pulled_ros_and_workfiles_in_one_list(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get(LIST))
    wf = f"WF-{repair_order_shop['workfile'].id}"
    assert numbers(page) == [wf, "1003", "1002", "1001", "0999"]  # newest open date first
    assert "No repair orders" not in page.text

    first = row_of(page, "1001")
    assert first["data-source"] == "dms"
    assert first.select_one(".ro-source").text.strip() == "Pulled from the DMS"
    assert first.select_one('td[data-label="Advisor"]').text.strip() == "Amy Advisor"
    # The mirror's name (accents kept), linked to the portal customer with that DMS id.
    customer_link = first.select_one('td[data-label="Customer"] a')
    assert customer_link.text == "Zoë O'Brien-Smith"
    assert customer_link["href"] == f"/customers/{repair_order_shop['customer'].id}"
    vehicle = first.select_one('td[data-label="Vehicle"]').text
    assert "2019 Ford F-150" in vehicle and "1FTFW1ET5DFC10312" in vehicle and "ABC123" in vehicle
    assert first.select_one('td[data-label="Brand"]').text.strip() == "Ford"
    assert "Customer" in first.select_one('td[data-label="Totals"]').text
    assert "69.95" in first.select_one('td[data-label="Totals"]').text
    # 15:00 UTC is 09:00 in Chicago; dates are the location's.
    assert first.select_one('td[data-label="Opened"]').text.strip() == "Nov 02, 2026"

    invoiced = row_of(page, "1002")
    totals = invoiced.select_one('td[data-label="Totals"]').text
    assert "Warranty" in totals and "420.50" in totals and "Internal" in totals and "80.00" in totals
    assert "Customer" not in totals  # only pay types with an amount
    assert invoiced.select_one('td[data-label="Advisor"]').text.strip() == "Bob Booker"  # DMS ids match any case
    assert invoiced.select_one('td[data-label="Customer"]').text.strip() == "Acme Fleet"
    assert invoiced.select_one('td[data-label="Closed"]').text.strip() == "Nov 03, 2026"

    unknown = row_of(page, "1003")
    assert unknown.select_one('td[data-label="Advisor"]').text.strip() == "DMS advisor ZZ"
    assert unknown.select_one('td[data-label="Customer"]').text.strip() == "DMS customer C404"
    assert unknown.select_one('td[data-label="Brand"]').text.strip() == "Lincoln"  # from the portal asset

    workfile = row_of(page, wf)
    assert workfile["data-source"] == "workfile"
    assert workfile.select_one(".ro-source").text.strip() == "Workfile in the console"
    assert workfile.select_one('td[data-label="RO"] a')["href"] == f"/repair-orders/{repair_order_shop['workfile'].id}"
    assert "2,877.67" in workfile.select_one('td[data-label="Totals"]').text

    deleted = row_of(page, "0999")
    assert "ro-deleted" in deleted["class"]
    assert deleted.select_one(".ro-deleted-tag").text == "Deleted in the DMS"


def test_navigation_opens_the_list(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    home = soup(client.get("/"))
    link = next(a for a in home.select("nav.nav a") if a.text.strip() == "Repair orders")
    assert link["href"] == LIST
    old = client.get("/repair-orders?q=1001")  # the old workfile list's address (and its search) lead here
    assert old.status_code == 302 and old.headers["Location"] == f"{LIST}?q=1001"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=open", ["WF", "1001", "0999"]),  # 0999 is open but deleted in the DMS: shown, marked
        ("status=closed", ["1003"]),
        ("status=invoiced", ["1002"]),
        ("status=deleted", ["0999"]),
        ("brand=Lincoln", ["1003", "1002"]),  # 1003 by its portal asset, 1002 by the mirror vehicle
        ("brand=ford", ["WF", "1001", "0999"]),
        ("brand=Ford&status=open", ["WF", "1001", "0999"]),
        ("q=1002", ["1002"]),
        ("q=obrien", ["1001", "0999"]),  # the customer's name, accents and apostrophe ignored
        ("q=acme", ["1002"]),
        ("q=5LMJJ2LT1LEL00001", ["1002"]),  # VIN
        ("q=00001", ["1002"]),  # end of the VIN
        ("q=ABC123", ["1001", "0999"]),  # plate
        ("q=turpin", ["WF"]),  # a workfile's customer
        ("q=2T1BURHE0GC123456", ["WF"]),
        ("q=nothing-like-this", []),
    ],
)
def test_filters_and_search(client, auth, repair_order_shop, query, expected):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    page = soup(response)
    wf = f"WF-{repair_order_shop['workfile'].id}"
    assert numbers(page) == [wf if n == "WF" else n for n in expected]
    if not expected:
        assert "No repair orders match these filters." in page.text


def test_advisor_filter_uses_the_advisors_dms_id(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['other'].id}"))
    assert numbers(page) == ["1002"]
    assert page.select_one(f'#ro-advisor option[value="{repair_order_shop["other"].id}"]').has_attr("selected")
    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['advisor'].id}&status=open"))
    assert numbers(page) == ["1001"]  # workfiles carry no DMS advisor
    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['nodms'].id}"))
    assert numbers(page) == []
    assert "Cal Nodms has no DMS ID" in page.text
    assert "A Service Manager can enter it under Advisors." in page.text  # an advisor cannot open Advisors


def test_manager_is_pointed_at_the_advisors_page(client, auth, make, repair_order_shop):
    manager = make.user(Role.SERVICE_MANAGER, repair_order_shop["location"])
    auth.login(manager.email, PASSWORD)
    page = soup(client.get(f"{LIST}?advisor_id={repair_order_shop['nodms'].id}"))
    assert page.select_one('a[href="/advisors/"], a[href="/advisors"]') is not None


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=lost", "#ro-status-error"),
        ("brand=Toyota", "#ro-brand-error"),
        ("advisor_id=999999", "#ro-advisor-error"),
        ("q=" + "x" * 101, "#ro-q-error"),
    ],
)
def test_bad_filters_are_named_on_their_field(client, auth, repair_order_shop, query, field):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 422
    page = soup(response)
    assert page.select_one(field).text.strip()
    assert len(numbers(page)) == 5  # the filter is not applied; nothing is lost


def test_another_advisor_location_is_refused(client, auth, make, repair_order_shop):
    foreign_advisor = make.user(Role.SERVICE_ADVISOR, make.location(), name="Foreign")
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    response = client.get(f"{LIST}?advisor_id={foreign_advisor.id}")
    assert response.status_code == 422


def test_live_search_returns_the_results_region_only(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    response = client.get(f"{LIST}?q=acme", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert 'id="ro-results"' in body and "<html" not in body and 'id="ro-q"' not in body
    assert numbers(soup(response)) == ["1002"]
    assert "HX-Request" in response.headers["Vary"]


def test_other_locations_ros_are_not_listed(app, client, auth, make, repair_order_shop):
    other = make.location(name="Elsewhere")
    put_mirror(app, other, "repair_orders", [ro("7777", T0 + timedelta(days=1))])
    make.workfile(other, customer_name="Someone Else")
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get(LIST))
    assert "7777" not in numbers(page) and "Someone Else" not in page.text
    assert client.get("/repair-orders/dms/D7777").status_code == 404


def test_empty_location_says_so(client, auth, make):
    location = make.location(name="Quiet Motors")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(advisor.email, PASSWORD)
    page = soup(client.get(LIST))
    assert "No repair orders at Quiet Motors yet" in page.text
    assert page.select("tr.ro-row") == []


@pytest.mark.parametrize(
    "role, status",
    [(Role.FIELD_MANAGER, 403), (Role.REVIEWER, 403), (Role.SERVICE_MANAGER, 200), (Role.GLOBAL_ADMIN, 200)],
)
def test_who_may_read(client, auth, world, role, status):
    auth.login(world["users"][role].email, PASSWORD)
    assert client.get(LIST).status_code == status


# --------------------------------------------------------------------------- keyset paging
def test_next_page_links_reach_every_record_without_offset(app, client, auth, make, repair_order_shop):
    """Several hundred ROs (some sharing an open second) and the workfile: following Next page
    shows each exactly once, newest first, and ends with 'End of the list.'."""
    location = repair_order_shop["location"]
    many = [
        ro(
            f"5{i:04d}",
            T0 - timedelta(days=10) + timedelta(minutes=7 * (i // 3)),
            advisor_dms_id="A1",
            vehicle_dms_id="V2" if i % 4 == 0 else "V1",
        )
        for i in range(320)
    ]
    many.append(ro("NODATE", None))
    put_mirror(app, location, "repair_orders", many)
    extra = make.workfile(location, customer_name="Paged Person", vehicle_make="Lincoln")
    with app.app_context():
        db.session.execute(
            update(Workfile)
            .where(Workfile.id == extra.id)
            .values(created_at=T0 - timedelta(days=10) + timedelta(minutes=7 * 50))
        )  # the same second as three ROs
        db.session.commit()
    auth.login(repair_order_shop["advisor"].email, PASSWORD)

    def walk(url: str) -> tuple[list[str], list[str]]:
        seen, urls = [], []
        while url:
            urls.append(url)
            page = soup(client.get(url))
            rows = numbers(page)
            assert len(rows) <= 50
            seen += rows
            nxt = page.select_one('nav.pager a[rel="next"]')
            url = nxt["href"] if nxt else None
            if url is None:
                assert "End of the list." in page.text
            assert len(urls) < 30
        return seen, urls

    seen, urls = walk(LIST)
    assert len(seen) == len(set(seen)) == 320 + 1 + 5 + 1
    assert "NODATE" == seen[-1]  # no open date: after every dated RO
    assert all("page=" not in u and "offset" not in u for u in urls) and any("after=" in u for u in urls[1:])
    with app.app_context():
        opened = {
            r.ro_number: r.payload.get("opened_at")
            for r in db.session.scalars(
                select(DmsRecord).where(DmsRecord.location_id == location.id, DmsRecord.data_type == "repair_orders")
            )
        }
    dated = [n for n in seen if n in opened and opened[n]]
    assert dated == sorted(dated, key=lambda n: (opened[n][:19], n), reverse=True)
    assert f"WF-{extra.id}" in seen

    # Filters travel with the page links.
    filtered, _ = walk(f"{LIST}?brand=Lincoln&status=open")
    assert set(filtered) == {f"5{i:04d}" for i in range(0, 320, 4)} | {f"WF-{extra.id}"}


def test_a_malformed_page_key_starts_from_the_newest(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    for bad in ("nonsense", "2026-13-45T00:00:00~0~1", "~9~1", "x~y~z"):
        response = client.get(f"{LIST}?after={bad}")
        assert response.status_code == 200
        assert numbers(soup(response))[0] == f"WF-{repair_order_shop['workfile'].id}"


# --------------------------------------------------------------------------- a pulled RO's page
def test_ro_page_shows_lines_totals_customer_vehicle_and_the_cdk_note(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get("/repair-orders/dms/D1002"))
    assert page.select_one("h1").text.strip() == "Repair order 1002"
    lines = page.select("tr.ro-line")
    assert [[td.text.strip() for td in tr.select("td")] for tr in lines] == [
        ["1", "WAR1", "Warranty repair", "2.00", "300.00", "120.50", "420.50", "Warranty"],
        ["2", "INT", "Get ready", "1.00", "80.00", "0.00", "80.00", "Internal"],
    ]
    totals = {div["data-pay-type"]: div.select_one("dd").text for div in page.select(".ro-pay-totals div")}
    assert totals == {"customer": "0.00", "warranty": "420.50", "internal": "80.00"}
    assert page.select_one(".ro-customer").text.count("Acme Fleet") == 1
    vehicle = page.select_one(".ro-vehicle").text
    assert "2020 Lincoln Navigator" in vehicle and "5LMJJ2LT1LEL00001" in vehicle and "LUX1" in vehicle
    assert "Not in the portal yet: add it from the DMS tab of Assets." in vehicle
    note = page.select_one(".vendor-note").text
    assert "Miscellaneous charges and discounts arrive consolidated" in note
    assert page.select_one("form button") is None or "Open DMS Activity" not in page.text  # invoiced: not open


def test_ro_page_links_the_portal_customer_and_vehicle(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get("/repair-orders/dms/D1001"))
    assert page.select_one(".ro-customer a")["href"] == f"/customers/{repair_order_shop['customer'].id}"
    assert page.select_one(".ro-vehicle a")["href"] == f"/assets/{repair_order_shop['asset'].id}"
    assert "Zoë O'Brien-Smith" in page.select_one(".ro-customer").text
    assert "+13125550100" in page.select_one(".ro-customer").text


def test_open_ro_offers_dms_activity_as_a_csrf_form(app, client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get("/repair-orders/dms/D1001"))
    form = next(f for f in page.select("form[method=post]") if "Open DMS Activity" in f.text)
    assert form["action"] == "/repair-orders/dms/D1001/dms-activity"
    assert form.select_one('input[name="csrf_token"]')["value"]
    response = client.post(form["action"])
    assert response.status_code == 303
    assert "/dms-activity" in response.headers["Location"]
    for closed in ("D1003", "D1002", "D0999"):  # closed, invoiced, deleted in the DMS
        assert "Open DMS Activity" not in client.get(f"/repair-orders/dms/{closed}").get_data(as_text=True)


def test_deleted_ro_page_says_so(client, auth, repair_order_shop):
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    page = soup(client.get("/repair-orders/dms/D0999"))
    assert "Deleted in the DMS." in page.select_one(".ro-deleted-notice").text
    assert page.select("tr.ro-line")  # the last version pulled is still shown


def test_ro_page_of_unknown_or_foreign_ro_is_404(client, auth, world):
    auth.login(world["users"][Role.SERVICE_MANAGER].email, PASSWORD)
    own = world["records"]["ALPHA"]["dms_repair_order"].id
    foreign = world["records"]["BETA"]["dms_repair_order"].id
    assert client.get(f"/repair-orders/dms/{own}").status_code == 200
    assert client.get(f"/repair-orders/dms/{foreign}").status_code == 404
    assert client.get("/repair-orders/dms/no-such-ro").status_code == 404
    auth.logout()
    auth.login(world["users"][Role.FIELD_MANAGER].email, PASSWORD)
    assert client.get(f"/repair-orders/dms/{own}").status_code == 403


def test_dms_text_is_escaped(app, client, auth, repair_order_shop):
    put_mirror(
        app,
        repair_order_shop["location"],
        "repair_orders",
        [
            ro(
                "<b>X</b>",
                T0 + timedelta(days=2),
                dms_id="DX",
                lines=[
                    {
                        "line_number": 1,
                        "opcode": "<i>",
                        "description": "<script>alert(1)</script>",
                        "pay_type": "customer",
                    }
                ],
            )
        ],
    )
    auth.login(repair_order_shop["advisor"].email, PASSWORD)
    listing = client.get(LIST).get_data(as_text=True)
    assert "<b>X</b>" not in listing and "&lt;b&gt;X&lt;/b&gt;" in listing
    body = client.get("/repair-orders/dms/DX").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


# --------------------------------------------------------------------------- from the sandbox DMS
def test_ros_pulled_from_the_sandbox_are_listed_and_open(app, client, auth, make, sandbox, run_jobs):
    from webapp.models import RunTrigger
    from webapp.services.runs import enqueue_pull

    location = make.location(name="Alpha Ford", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    for data_type in ("customers", "vehicles", "repair_orders"):
        with app.app_context():
            assert enqueue_pull(location.id, data_type, RunTrigger.MANUAL) is not None
        run_jobs()
    with app.app_context():
        pulled = list(
            db.session.scalars(
                select(DmsRecord).where(DmsRecord.location_id == location.id, DmsRecord.data_type == "repair_orders")
            )
        )
    assert pulled
    auth.login(advisor.email, PASSWORD)
    seen, url = [], LIST
    while url:
        page = soup(client.get(url))
        seen += numbers(page)
        nxt = page.select_one('nav.pager a[rel="next"]')
        url = nxt["href"] if nxt else None
    assert sorted(seen) == sorted(r.ro_number or r.dms_id for r in pulled)
    sample = max(pulled, key=lambda r: len(r.payload.get("lines") or []))
    page = soup(client.get(f"/repair-orders/dms/{sample.dms_id}"))
    assert len(page.select("tr.ro-line")) == len(sample.payload["lines"])
    totals = {
        div["data-pay-type"]: Decimal(div.select_one("dd").text.replace(",", ""))
        for div in page.select(".ro-pay-totals div")
    }
    assert totals == {k: Decimal(v) for k, v in sample.payload["totals_by_pay_type"].items()}
    with_vehicle = next((r for r in pulled if r.payload.get("vehicle_dms_id")), None)
    if with_vehicle is not None:
        row = row_of(soup(client.get(f"{LIST}?q={with_vehicle.ro_number}")), with_vehicle.ro_number)
        assert row.select_one('td[data-label="Vehicle"]').text.strip() != "—"


def test_postgresql_pages_through_the_lists_indexes(app, repair_order_shop):
    """On PostgreSQL a page of either list reads its expression index (migration 0012) in order:
    no sort of the location's rows, whichever page."""
    from flask_login import login_user
    from sqlalchemy import event

    from webapp.models import Location, User
    from webapp.repair_orders import appointment_list, queries

    with app.test_request_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the lists' expression indexes exist on PostgreSQL only (see migration 0012)")
        login_user(db.session.get(User, repair_order_shop["advisor"].id))
        location = db.session.get(Location, repair_order_shop["location"].id)
        statements = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            if "FROM dms_record" in statement and "ORDER BY" in statement:
                statements.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            queries.page(location, queries.Filters(), queries.PageKey("2026-11-02T16:00:00", 0, 10))
            appointment_list.page(location, show="all", after=queries.PageKey("2026-11-02T16:00:00", 0, 10))
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        plans = []
        raw = db.session.connection().connection.cursor()
        raw.execute("SET LOCAL enable_seqscan = off")
        for statement, parameters in statements:
            raw.execute("EXPLAIN " + statement, parameters)
            plans.append(" ".join(row[0] for row in raw.fetchall()))
        db.session.rollback()
    assert len(plans) == 2
    assert "ix_dms_record_ro_opened" in plans[0] and "ix_dms_record_appt_scheduled" in plans[1]
    assert not any(" Sort " in f" {plan} " or plan.startswith("Sort") for plan in plans), plans
