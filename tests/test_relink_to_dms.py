"""Re-linking a customer or asset to a DMS record and unlinking it (issue 19, item 10).

"Record not found in the DMS… link it again": the customer's and asset's pages search the DMS
(the live lookup, against the sandbox DMS here), the person picks the record, and the link
changes with Change History, without stamping Last Synced. Unlink clears it. A failed push
refused with NOT-FOUND points to the record's page.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import (
    Asset,
    ChangeHistory,
    ChangeSource,
    Customer,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Role,
    utcnow,
)

DMS_CUSTOMER = "C0000100"


@pytest.fixture()
def connected(make, sandbox):
    """A location on the sandbox's alpha-cdk account, an advisor, and a customer whose DMS record is gone."""
    loc = make.location(name="Alpha Motors", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    stale = make.customer(
        loc, first_name="Gone", last_name="Record", dms_id="GONE-1", last_synced_at=utcnow() - timedelta(days=3)
    )  # in step with the old record once
    with sandbox.connect("alpha-cdk") as dms:
        wanted = dms.fetch_one("customers", DMS_CUSTOMER)
        vehicle = next(dms.iter_changes("vehicles", page_size=5)).records[0]
    return {"loc": loc, "advisor": advisor, "stale": stale, "wanted": wanted, "vehicle": vehicle}


def _customer(app, customer_id: int) -> Customer:
    with app.app_context():
        return db.session.get(Customer, customer_id)


def _history(app, record_type: str, record_id: int) -> list[ChangeHistory]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(ChangeHistory)
                .where(
                    ChangeHistory.record_type == record_type,
                    ChangeHistory.record_id == record_id,
                    ChangeHistory.field == "dms_id",
                )
                .order_by(ChangeHistory.id)
            )
        )


def test_relink_a_customer_by_searching_the_dms(app, client, auth, connected):
    stale, wanted = connected["stale"], connected["wanted"]
    auth.login(connected["advisor"].email, PASSWORD)
    page = soup(client.get(f"/customers/{stale.id}"))
    change = page.find("a", string="Change DMS link")
    assert change is not None and change["href"] == f"/customers/{stale.id}/dms-link"

    found = soup(client.get(change["href"], query_string={"q": DMS_CUSTOMER}))
    row = found.select_one(f".dms-link-results tr[data-dms-id='{DMS_CUSTOMER}']")
    assert row is not None and wanted.last_name in row.get_text()
    form = row.find("form")
    assert form["action"] == f"/customers/{stale.id}/dms-link"
    assert form.find("input", attrs={"name": "csrf_token"}) is not None

    response = client.post(form["action"], data={"dms_id": DMS_CUSTOMER})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/customers/{stale.id}")
    linked = _customer(app, stale.id)
    assert linked.dms_id == DMS_CUSTOMER
    assert linked.last_synced_at is None  # values not compared: not marked as synced
    assert linked.last_name == "Record"  # no values copied
    [entry] = _history(app, "customer", stale.id)
    assert (entry.old_value, entry.new_value, entry.source, entry.changed_by_id) == (
        "GONE-1",
        DMS_CUSTOMER,
        ChangeSource.PORTAL,
        connected["advisor"].id,
    )

    detail = client.get(response.headers["Location"])
    text = detail.get_data(as_text=True)
    assert "now linked to DMS record" in text and "Sync with DMS" in text
    assert soup(detail).select_one("form.sync-button") is not None  # Sync with DMS offered next


def test_link_an_unlinked_asset(app, make, client, auth, connected):
    vehicle = connected["vehicle"]
    asset = make.asset(connected["loc"], vin="1FTFW1ET5DFC10312", dms_id=None)
    auth.login(connected["advisor"].email, PASSWORD)
    page = soup(client.get(f"/assets/{asset.id}"))
    assert page.find("a", string="Link to a DMS record") is not None
    assert page.select_one("form.dms-unlink") is None  # nothing to unlink
    found = soup(client.get(f"/assets/{asset.id}/dms-link", query_string={"q": vehicle.dms_id}))
    assert found.select_one(f".dms-link-results tr[data-dms-id='{vehicle.dms_id}'] button.btn-link-dms") is not None
    response = client.post(f"/assets/{asset.id}/dms-link", data={"dms_id": vehicle.dms_id})
    assert response.status_code == 303
    with app.app_context():
        stored = db.session.get(Asset, asset.id)
        assert stored.dms_id == vehicle.dms_id and stored.last_synced_at is None
    [entry] = _history(app, "asset", asset.id)
    assert (entry.old_value, entry.new_value) == (None, vehicle.dms_id)


def test_a_dms_record_linked_to_another_customer_is_refused(app, make, client, auth, connected):
    stale = connected["stale"]
    other = make.customer(connected["loc"], first_name="Already", last_name="Linked", dms_id=DMS_CUSTOMER)
    auth.login(connected["advisor"].email, PASSWORD)
    found = soup(client.get(f"/customers/{stale.id}/dms-link", query_string={"q": DMS_CUSTOMER}))
    row = found.select_one(f".dms-link-results tr[data-dms-id='{DMS_CUSTOMER}']")
    assert row.find("form") is None and "Already Linked" in row.get_text()

    response = client.post(f"/customers/{stale.id}/dms-link", data={"dms_id": DMS_CUSTOMER})
    assert response.status_code == 409
    error = soup(response).select_one(".dms-link-error")
    assert "already linked to Already Linked" in error.get_text()
    assert error.find("a")["href"] == f"/customers/{other.id}"
    assert _customer(app, stale.id).dms_id == "GONE-1"
    assert _history(app, "customer", stale.id) == []


def test_a_dms_id_the_dms_does_not_have_is_refused(app, client, auth, connected):
    stale = connected["stale"]
    auth.login(connected["advisor"].email, PASSWORD)
    response = client.post(f"/customers/{stale.id}/dms-link", data={"dms_id": "C9999999"})
    assert response.status_code == 422
    assert "has no record C9999999" in soup(response).select_one(".dms-link-error").get_text()
    assert _customer(app, stale.id).dms_id == "GONE-1"


def test_unlink_clears_the_dms_id_with_change_history(app, client, auth, connected):
    stale = connected["stale"]
    auth.login(connected["advisor"].email, PASSWORD)
    form = soup(client.get(f"/customers/{stale.id}")).select_one("form.dms-unlink")
    assert form is not None and form["action"] == f"/customers/{stale.id}/dms-unlink"
    assert "GONE-1" in form["data-confirm"]  # asked first (static/js/confirm.js)

    # A post that does not name the DMS id shown (stale page, a double submit) changes nothing.
    assert client.post(form["action"], data={"dms_id": "OTHER"}).status_code == 303
    assert _customer(app, stale.id).dms_id == "GONE-1"

    response = client.post(form["action"], data={"dms_id": "GONE-1"})
    assert response.status_code == 303
    assert _customer(app, stale.id).dms_id is None
    assert _customer(app, stale.id).last_synced_at is None  # in step with no DMS record now
    [entry] = _history(app, "customer", stale.id)
    assert (entry.old_value, entry.new_value, entry.changed_by_id) == ("GONE-1", None, connected["advisor"].id)
    page = soup(client.get(f"/customers/{stale.id}"))
    assert page.find("a", string="Link to a DMS record") is not None


def test_roles_without_sync_and_other_locations_are_refused(app, make, client, auth, connected):
    stale = connected["stale"]
    other_loc = make.location(name="Beta", code="BETA")
    foreign_customer = make.customer(other_loc, dms_id="B-1")
    foreign_asset = make.asset(other_loc, dms_id="BV-1")
    field = make.user(Role.FIELD_MANAGER, connected["loc"])
    auth.login(field.email, PASSWORD)
    assert client.get(f"/customers/{stale.id}/dms-link").status_code == 403
    assert client.post(f"/customers/{stale.id}/dms-link", data={"dms_id": DMS_CUSTOMER}).status_code == 403
    assert client.post(f"/customers/{stale.id}/dms-unlink", data={"dms_id": "GONE-1"}).status_code == 403
    auth.logout()

    auth.login(connected["advisor"].email, PASSWORD)
    assert client.get(f"/customers/{foreign_customer.id}/dms-link").status_code == 404
    assert client.post(f"/customers/{foreign_customer.id}/dms-link", data={"dms_id": DMS_CUSTOMER}).status_code == 404
    assert client.post(f"/customers/{foreign_customer.id}/dms-unlink", data={"dms_id": "B-1"}).status_code == 404
    assert client.get(f"/assets/{foreign_asset.id}/dms-link").status_code == 404
    assert client.post(f"/assets/{foreign_asset.id}/dms-unlink", data={"dms_id": "BV-1"}).status_code == 404
    assert _customer(app, foreign_customer.id).dms_id == "B-1"
    with app.app_context():
        assert db.session.get(Asset, foreign_asset.id).dms_id == "BV-1"


def test_link_and_unlink_need_the_csrf_token(app, client, auth, connected):
    stale = connected["stale"]
    auth.login(connected["advisor"].email, PASSWORD)
    assert client.post(f"/customers/{stale.id}/dms-link", data={"dms_id": DMS_CUSTOMER}, csrf=False).status_code == 400
    assert client.post(f"/customers/{stale.id}/dms-unlink", data={"dms_id": "GONE-1"}, csrf=False).status_code == 400
    assert _customer(app, stale.id).dms_id == "GONE-1"


def test_failed_push_not_found_offers_the_record_page(app, make, client, auth, connected):
    stale = connected["stale"]
    manager = make.user(Role.SERVICE_MANAGER, connected["loc"])
    with app.app_context():
        db.session.add(
            OutboxMessage(
                location_id=connected["loc"].id,
                kind=OutboxKind.CUSTOMER_PUSH,
                target_type="customer",
                target_id=stale.id,
                payload={},
                idempotency_key="ALPHA-relink-1",
                status=OutboxStatus.FAILED,
                attempts=1,
                error_code="CDK-NOT-FOUND",
                error_title="Record not found in the DMS",
                error_kind="refused",
                fix_hint="The record no longer exists in the DMS.",
            )
        )
        db.session.commit()
    auth.login(manager.email, PASSWORD)
    row = soup(client.get("/integrations/failed/")).select_one("tr.failed-push")
    fix = row.find("a", string="Link the customer to the right DMS record")
    assert fix is not None and fix["href"] == f"/customers/{stale.id}#dms-link"


def test_the_not_found_hint_says_where_to_link_again():
    from connectors.vendors._common import COMMON_ERRORS

    title, hint = COMMON_ERRORS["NOT-FOUND"]
    assert title == "Record not found in the DMS"
    assert "Change DMS link" in hint and "Sync with DMS" in hint
