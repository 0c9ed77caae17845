"""A DMS value the console cannot read never wipes the portal's value (automatic mode).

Found by the freshness benchmark: an address on a special-use domain (``x@demo.test``) failed
validation and was copied to the portal as nothing, with Last Synced stamped.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import dms_settings
from tests.test_pulls import dms_ids, pull
from webapp.domain.fields import portal_values, unreadable_fields
from webapp.extensions import db
from webapp.models import Customer, DmsRecord, RunStatus, SyncMode


def test_reading_values_keeps_addresses_and_finds_the_unreadable():
    payload = {"emails": ["Someone@Demo.Test"], "phones": ["12", "(217) 555-0100"], "first_name": "Ann"}
    values = portal_values("customers", payload)
    assert values["email"] == "someone@demo.test"  # kept, not read as empty
    assert values["mobile_phone"] == "+12175550100"
    assert unreadable_fields("customers", payload) == {"phone"}
    assert unreadable_fields("customers", {"emails": ["not an address"], "phones": []}) == {"email"}
    assert unreadable_fields("vehicles", {"year": "nineteen", "mileage": "", "vin": None}) == {"year"}


def test_an_unreadable_dms_value_keeps_the_portal_value_and_the_difference(app, run_jobs, sandbox, make):
    location = make.location(sync_mode=SyncMode.AUTOMATIC, **dms_settings(sandbox, "alpha-cdk"))
    dms_id = sorted(dms_ids(sandbox, "alpha-cdk", "customers"))[3]
    portal = make.customer(location, dms_id=dms_id, email="old@example.com", phone="+12175550100")
    sandbox.control.edit_record("alpha-cdk", "customers", dms_id, {"emails": ["new@demo.test"], "phones": ["12"]})
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.SUCCEEDED
    with app.app_context():
        customer = db.session.get(Customer, portal.id)
        assert customer.email == "new@demo.test"  # an address the validator refuses is still an address
        assert customer.phone == "+12175550100"  # "12" is not a phone number: the portal keeps its own
        assert customer.last_synced_at is None  # the two systems still differ: not marked synced
        drift = db.session.scalar(
            select(DmsRecord.drift_fields).where(DmsRecord.dms_id == dms_id, DmsRecord.location_id == location.id)
        )
        assert drift == ["phone"]
    assert any("phone could not be read; the portal's value was kept" in note for note in run.notes)
