"""Customers: the DMS tab's three states, add-from-DMS against the sandbox, duplicate check, detail page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import ChangeHistory, ChangeSource, Customer, DmsRecord, Role


def put_in_mirror(app, location_id: int, data_type: str, records) -> None:
    """Copy connector records into the DMS mirror (what the pull job does)."""
    from webapp.services.search_index import index_dms_records, tokens_of_dms_payload

    with app.app_context():
        rows = [
            DmsRecord(
                location_id=location_id,
                data_type=data_type,
                dms_id=r.dms_id,
                payload=r.to_dict(),
                content_hash="x",
                owner_dms_id=getattr(r, "owner_dms_id", None) or getattr(r, "customer_dms_id", None),
            )
            for r in records
        ]
        db.session.add_all(rows)
        db.session.commit()
        index_dms_records(
            db.session,
            location_id,
            data_type,  # idempotent with the flush hook
            {row.dms_id: tokens_of_dms_payload(data_type, row.dms_id, row.payload) for row in rows},
        )
        db.session.commit()


@pytest.fixture()
def connected(make, app, sandbox):
    """A location connected to the sandbox's alpha-cdk account, its first customers in the mirror."""
    loc = make.location(name="Alpha Motors", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    with sandbox.connect("alpha-cdk") as dms:
        page = next(dms.iter_changes("customers", page_size=40))
    customers = [c for c in page.records if c.kind == "person" and c.last_name][:10]
    put_in_mirror(app, loc.id, "customers", customers)
    return {"loc": loc, "advisor": advisor, "customers": customers, "sandbox": sandbox}


def _dms_rows(response):
    return soup(response).select(".dms-results tbody tr")


def test_dms_tab_shows_dms_only_and_already_added_rows(make, client, auth, connected):
    first, second = connected["customers"][:2]
    make.customer(connected["loc"], first_name=second.first_name, last_name=second.last_name, dms_id=second.dms_id)
    auth.login(connected["advisor"].email, PASSWORD)
    rows = {tr["data-dms-id"]: tr for tr in _dms_rows(client.get("/customers", query_string={"tab": "dms"}))}
    assert first.dms_id in rows and second.dms_id in rows
    add = rows[first.dms_id].select_one("button.btn-add")
    assert not add.has_attr("disabled") and add["aria-label"].startswith("Add ")
    added = rows[second.dms_id].select_one("button.btn-add")
    assert added.has_attr("disabled") and added["title"] == "Already in portal"
    # Searching the DMS tab by name finds the mirrored record.
    found = _dms_rows(
        client.get("/customers", query_string={"tab": "dms", "q": f"{first.last_name} {first.first_name}"})
    )
    assert first.dms_id in [tr["data-dms-id"] for tr in found]


def test_dms_tab_asks_the_dms_live_when_the_mirror_has_nothing(client, auth, connected):
    with connected["sandbox"].connect("alpha-cdk") as dms:
        wanted = dms.fetch_one("customers", "C0000100")
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.get("/customers", query_string={"tab": "dms", "q": wanted.dms_id})
    rows = _dms_rows(response)
    assert [tr["data-dms-id"] for tr in rows] == [wanted.dms_id]
    assert rows[0].select_one(".tag").get_text() == "live"


def test_dms_tab_says_when_the_dms_is_unreachable(client, auth, connected):
    connected["sandbox"].control.inject_fault("503", count=5, account="alpha-cdk")
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.get("/customers", query_string={"tab": "dms", "q": "nobody-in-the-mirror", "live": "1"})
    assert response.status_code == 200
    alert = soup(response).select_one(".dms-unreachable")
    assert alert is not None and "DMS unreachable" in alert.get_text()
    assert alert.select("p")[1].get_text(strip=True)  # the fix hint


def test_unconfigured_dms_is_unreachable_too(make, client, auth):
    loc = make.location(dms_base_url="http://127.0.0.1:1", dms_credentials={"api_key": "k"})
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    auth.login(advisor.email, PASSWORD)
    response = client.get("/customers", query_string={"tab": "dms", "q": "smith"})
    assert "DMS unreachable" in soup(response).select_one(".dms-unreachable").get_text()


def test_add_from_dms_end_to_end(app, client, auth, connected):
    record = connected["customers"][0]
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.post("/customers/add-from-dms", data={"dms_id": record.dms_id, "q": ""}, htmx=True)
    assert response.status_code == 200
    assert "added to the portal" in soup(response).get_text()
    assert "refreshResults" in response.headers["HX-Trigger"]
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.dms_id == record.dms_id))
        assert customer.location_id == connected["loc"].id
        assert (customer.first_name, customer.last_name) == (record.first_name, record.last_name)
        assert customer.last_synced_at is not None
        if record.phones:
            assert customer.phone.startswith("+")
        history = db.session.scalars(select(ChangeHistory).where(ChangeHistory.record_id == customer.id)).all()
        assert {h.field for h in history} >= {"dms_id", "first_name", "last_name"}
        assert {h.source for h in history} == {ChangeSource.DMS}
        assert {h.changed_by_id for h in history} == {connected["advisor"].id}
        customer_id = customer.id
    # On the next refresh the row shows the disabled icon, and the portal tab has it with its badge.
    rows = {tr["data-dms-id"]: tr for tr in _dms_rows(client.get("/customers?tab=dms"))}
    assert rows[record.dms_id].select_one("button.btn-add")["title"] == "Already in portal"
    portal = soup(client.get("/customers", query_string={"q": record.last_name}))
    link = portal.select_one(f'a[href="/customers/{customer_id}"]')
    assert link is not None
    badge = link.find_parent("tr").select_one("[data-band=recent]")
    assert "Synced today" in badge.get_text() and badge["title"].startswith("Last synced ")
    # Adding again does not duplicate.
    client.post("/customers/add-from-dms", data={"dms_id": record.dms_id}, htmx=True)
    with app.app_context():
        assert len(db.session.scalars(select(Customer).where(Customer.dms_id == record.dms_id)).all()) == 1


def test_add_a_record_only_the_live_dms_has(app, client, auth, connected):
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.post("/customers/add-from-dms", data={"dms_id": "C0000110"})
    assert response.status_code == 303  # without JavaScript: straight to the new customer
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.dms_id == "C0000110"))
        assert response.headers["Location"].endswith(f"/customers/{customer.id}")


def test_duplicate_check_shows_reasons_and_lets_the_user_add_anyway(app, make, client, auth, connected):
    record = next(c for c in connected["customers"] if c.phones)
    make.customer(
        connected["loc"],
        first_name=record.first_name,
        last_name=record.last_name,
        phone=record.phones[0],
        email="someone.else@example.com",
        dms_id=None,
    )
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.post("/customers/add-from-dms", data={"dms_id": record.dms_id}, htmx=True)
    panel = soup(response)
    assert "Possible duplicates" in panel.select_one("h2").get_text()
    reasons = [li.get_text() for li in panel.select(".reasons li")]
    assert any(r.startswith("Same phone") for r in reasons) and "Same name" in reasons
    assert int(panel.select_one(".score").get_text()) >= 90
    assert panel.select_one("a[href^='/customers/']").get_text() == "Open this one"
    with app.app_context():
        assert db.session.scalar(select(Customer).where(Customer.dms_id == record.dms_id)) is None
    confirm = panel.select_one("input[name=confirm]")
    assert confirm["value"] == "1"
    client.post("/customers/add-from-dms", data={"dms_id": record.dms_id, "confirm": "1"}, htmx=True)
    with app.app_context():
        assert db.session.scalar(select(Customer).where(Customer.dms_id == record.dms_id)) is not None


def test_add_from_dms_without_a_record_or_with_an_unknown_one(client, auth, connected):
    auth.login(connected["advisor"].email, PASSWORD)
    assert client.post("/customers/add-from-dms", data={}, htmx=True).status_code == 422
    missing = client.post("/customers/add-from-dms", data={"dms_id": "C9999999"}, htmx=True)
    assert missing.status_code == 422 and "has no record" in missing.get_data(as_text=True)


def test_detail_page_shows_profile_assets_dms_history_and_escapes_dms_text(app, make, client, auth, connected):
    loc = connected["loc"]
    customer = make.customer(loc, first_name="<b>Ann</b>", last_name="Lee", dms_id="C0000001")
    make.asset(loc, customer, vin="1FTFW1ET5DFC10312", dms_id="V0000001")
    with app.app_context():
        db.session.add_all(
            [
                DmsRecord(
                    location_id=loc.id,
                    data_type="repair_orders",
                    dms_id="RO1",
                    content_hash="x",
                    owner_dms_id="C0000001",
                    payload={"ro_number": "RO-77<script>x</script>", "status": "closed", "vehicle_dms_id": "V0000001"},
                ),
                DmsRecord(
                    location_id=loc.id,
                    data_type="appointments",
                    dms_id="AP1",
                    content_hash="x",
                    owner_dms_id="C0000001",
                    payload={
                        "scheduled_at": "2024-05-01T15:00:00Z",
                        "status": "scheduled",
                        "notes": "<img src=x onerror=alert(1)>",
                    },
                ),
            ]
        )
        entry_customer = db.session.get(Customer, customer.id)
        from webapp.models.change_history import record_change

        record_change(
            record=entry_customer,
            field="email",
            old="old@example.com",
            new="new@example.com",
            source=ChangeSource.PORTAL,
        )
        db.session.commit()
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.get(f"/customers/{customer.id}")
    html = response.get_data(as_text=True)
    assert "<script>x</script>" not in html and "<img src=x" not in html and "<b>Ann</b>" not in html
    page = soup(response)
    assert page.select_one("h1").get_text(strip=True).startswith("<b>Ann</b> Lee")
    assert "RO-77<script>x</script>" in page.get_text()
    assert "Not Synced with DMS" in page.select_one("[data-band=never]").get_text()
    history = page.select(".history tbody tr")
    assert "old@example.com" in history[0].get_text() and "new@example.com" in history[0].get_text()
    assert page.select_one('a[href^="/assets/"]') is not None
    # "Sync with DMS" starts the sync wizard (its own issue) from the detail page.
    assert [b.get_text(strip=True) for b in page.select("main button, main a") if "Sync with DMS" in b.get_text()] == [
        "Sync with DMS"
    ]
