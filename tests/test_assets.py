"""Assets: DMS tab, add-from-DMS (owner linked, VIN normalised) and the detail page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.test_customers import put_in_mirror
from webapp.extensions import db
from webapp.models import Asset, ChangeHistory, DmsRecord, Role


@pytest.fixture()
def connected(make, app, sandbox):
    """A location on the sandbox's alpha-cdk account with its first vehicles in the mirror."""
    loc = make.location(name="Alpha Motors", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    with sandbox.connect("alpha-cdk") as dms:
        vehicles = next(dms.iter_changes("vehicles", page_size=10)).records
    put_in_mirror(app, loc.id, "vehicles", vehicles)
    return {"loc": loc, "advisor": advisor, "vehicles": vehicles}


def test_add_vehicle_from_dms_links_its_owner_and_shows_already_in_portal(app, make, client, auth, connected):
    vehicle = next(v for v in connected["vehicles"] if v.owner_dms_id)
    owner = make.customer(connected["loc"], dms_id=vehicle.owner_dms_id)
    auth.login(connected["advisor"].email, PASSWORD)
    rows = soup(client.get("/assets", query_string={"tab": "dms", "q": vehicle.vin[-6:]})).select(
        ".dms-results tr[data-dms-id]"
    )
    assert vehicle.dms_id in [tr["data-dms-id"] for tr in rows]
    response = client.post("/assets/add-from-dms", data={"dms_id": vehicle.dms_id}, htmx=True)
    assert response.status_code == 200 and "added to the portal" in response.get_data(as_text=True)
    with app.app_context():
        asset = db.session.scalar(select(Asset).where(Asset.dms_id == vehicle.dms_id))
        assert asset.customer_id == owner.id and asset.vin == vehicle.vin.upper() and asset.last_synced_at
        fields = set(db.session.scalars(select(ChangeHistory.field).where(ChangeHistory.record_type == "asset")))
        assert {"dms_id", "vin", "customer_id"} <= fields
        asset_id = asset.id
    again = soup(client.get("/assets", query_string={"tab": "dms", "q": vehicle.dms_id}))
    assert again.select_one(f'tr[data-dms-id="{vehicle.dms_id}"] button.btn-add')["title"] == "Already in portal"
    portal = soup(client.get("/assets", query_string={"q": vehicle.vin}))
    assert portal.select_one(f'a[href="/assets/{asset_id}"]') is not None


def test_duplicate_vehicle_by_vin(make, client, auth, connected):
    vehicle = connected["vehicles"][0]
    make.asset(connected["loc"], None, vin=vehicle.vin, dms_id=None)
    auth.login(connected["advisor"].email, PASSWORD)
    panel = soup(client.post("/assets/add-from-dms", data={"dms_id": vehicle.dms_id}, htmx=True))
    assert "Same VIN" in [li.get_text() for li in panel.select(".reasons li")]


def test_asset_detail_shows_fields_owner_ros_and_its_cases_section(app, make, client, auth, connected):
    loc = connected["loc"]
    owner = make.customer(loc, first_name="Ann", last_name="Lee", dms_id="C0000005")
    asset = make.asset(
        loc, owner, vin="1ftfw1et5dfc10312", dms_id="V0000005", oem_build_data={"engine": "3.5L V6 <EcoBoost>"}
    )
    with app.app_context():
        db.session.add_all(
            [
                DmsRecord(
                    location_id=loc.id,
                    data_type="repair_orders",
                    dms_id="RO5",
                    content_hash="x",
                    owner_dms_id="C0000005",
                    payload={"ro_number": "RO5", "status": "open", "vehicle_dms_id": "V0000005"},
                ),
                DmsRecord(
                    location_id=loc.id,
                    data_type="repair_orders",
                    dms_id="RO6",
                    content_hash="x",
                    owner_dms_id="C0000005",
                    payload={"ro_number": "RO6-OTHER-VEHICLE", "vehicle_dms_id": "V9"},
                ),
            ]
        )
        db.session.commit()
    auth.login(connected["advisor"].email, PASSWORD)
    page = soup(client.get(f"/assets/{asset.id}"))
    text = page.get_text()
    assert "1FTFW1ET5DFC10312" in text and "3.5L V6 <EcoBoost>" in text and "Ann Lee" in text
    assert "RO5" in text and "RO6-OTHER-VEHICLE" not in text
    cases = page.select_one("#asset-cases")
    assert cases.select_one("h2").get_text(strip=True) == "Cases"
    assert "No cases for this asset." in cases.get_text()
