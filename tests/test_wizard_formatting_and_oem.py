"""Issue 19, items 6 and 7: what the sync wizard and the pulls say about formatting-only
differences and OEM build data is true (sandbox DMS over HTTP, as tests/test_sync_wizard.py).

* 'Mcdonald' / 'McDonald', 'Zoe' / 'Zoë', 'OBRIEN' / "O'Brien" are differences, marked
  "only formatting differs", pre-selected neither way, and can be synced both ways; pulls
  flag them as drift (review mode) or take the DMS's formatting with Change History
  (automatic mode).
* The OEM lock covers only the fields the asset's own OEM build data holds, and a locked
  value reaches the DMS only when the person ticks "Also write it to the DMS" for it.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import dms_settings
from tests.factories import PASSWORD
from tests.test_pulls import pull
from tests.test_sync_wizard import (
    checked,
    connected,
    dms_record,
    history,
    load,
    outbox,
    person,
    portal_copy,
    show,
    shown_fields,
    start,
    step,
    vehicle_and_owner,
)
from webapp.extensions import db
from webapp.models import Asset, ChangeHistory, ChangeSource, Customer, DmsRecord, SyncMode, WriteBackMode


# --------------------------------------------------------------------------- item 7: formatting only
def test_formatting_only_differences_are_shown_unselected_and_sync_both_ways(
    make, sandbox, auth, client, app, run_jobs
):
    location, advisor = connected(make, sandbox, write_back_mode=WriteBackMode.PORTAL_AND_DMS)
    payload = dms_record(
        sandbox,
        "alpha-cdk",
        "customers",
        person,
        first_name="Zoë",
        last_name="Mcdonald",
        address_line1="12 O'Brien Road",
    )
    customer = portal_copy(
        make, location, "customers", payload, first_name="Zoe", last_name="McDonald", address_line1="12 OBRIEN ROAD"
    )
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "customer", customer.id)
    page = show(client, "customer", customer.id, wizard)
    assert shown_fields(page) == {"first_name", "last_name", "address_line1"}
    for attr in ("first_name", "last_name", "address_line1"):
        row = page.select_one(f"tr[data-field={attr}]")
        note = row.select_one(".formatting-note")
        assert note is not None and note.text.strip() == "only formatting differs"
        # Both choices are there, keyboard-reachable radios described by the note.
        for side in ("portal", "dms"):
            radio = row.select_one(f"input[type=radio][name=choice-{attr}][value={side}]")
            assert radio is not None and radio["aria-describedby"] == note["id"]
    assert checked(page) == {}  # neither side is pre-selected

    # Next without a choice is refused, naming the fields (a formatting fix needs a decision).
    page = step(client, "customer", customer.id, wizard, "next", status=422)
    error = page.select_one(".wizard-error").text
    assert "First name" in error and "Last name" in error and "Address" in error
    page = step(client, "customer", customer.id, wizard, "select_all_dms")
    assert checked(page) == {"first_name": "dms", "last_name": "dms", "address_line1": "dms"}

    step(
        client,
        "customer",
        customer.id,
        wizard,
        "next",
        choice_first_name="dms",
        choice_last_name="portal",
        choice_address_line1="dms",
    )
    page = show(client, "customer", customer.id, wizard)
    assert {li.strong.text for li in page.select(".portal-changes li")} == {"First name", "Address"}
    assert [li.strong.text for li in page.select(".dms-sends li")] == ["Last name"]
    step(client, "customer", customer.id, wizard, "apply")

    after = load(app, Customer, customer.id)
    assert (after.first_name, after.last_name, after.address_line1) == ("Zoë", "McDonald", "12 O'Brien Road")
    assert {(r.field, r.old_value, r.new_value) for r in history(app, "customer", customer.id)} == {
        ("first_name", "Zoe", "Zoë"),
        ("address_line1", "12 OBRIEN ROAD", "12 O'Brien Road"),
    }
    [message] = outbox(app)
    assert message.payload["fields"] == {"last_name": "McDonald"}
    run_jobs()
    assert sandbox.control.get_record("alpha-cdk", "customers", payload["dms_id"])["last_name"] == "McDonald"


def _case_swapped(make, sandbox, location):
    """A portal customer equal to its DMS record but for the case of the last name."""
    payload = dms_record(
        sandbox, "alpha-cdk", "customers", lambda r: person(r) and r.last_name and r.last_name != r.last_name.upper()
    )
    customer = portal_copy(make, location, "customers", payload, last_name=payload["last_name"].upper())
    return payload, customer


def test_review_mode_pull_flags_a_formatting_only_difference(app, run_jobs, sandbox, make):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))  # review mode (the default)
    payload, customer = _case_swapped(make, sandbox, location)
    pull(app, run_jobs, location.id, "customers")
    with app.app_context():
        row = db.session.scalar(
            select(DmsRecord).where(DmsRecord.location_id == location.id, DmsRecord.dms_id == payload["dms_id"])
        )
        assert row.drift_fields == ["last_name"]
        assert db.session.get(Customer, customer.id).last_name == payload["last_name"].upper()


def test_automatic_mode_pull_takes_the_dms_formatting_with_change_history(app, run_jobs, sandbox, make):
    location = make.location(sync_mode=SyncMode.AUTOMATIC, **dms_settings(sandbox, "alpha-cdk"))
    payload, customer = _case_swapped(make, sandbox, location)
    pull(app, run_jobs, location.id, "customers")
    with app.app_context():
        assert db.session.get(Customer, customer.id).last_name == payload["last_name"]
        [change] = db.session.scalars(
            select(ChangeHistory).where(
                ChangeHistory.record_type == "customer",
                ChangeHistory.record_id == customer.id,
                ChangeHistory.field == "last_name",
            )
        ).all()
        assert change.source == ChangeSource.DMS
        assert (change.old_value, change.new_value) == (payload["last_name"].upper(), payload["last_name"])


# --------------------------------------------------------------------------- item 6: the OEM lock
def _oem_asset(make, sandbox, **location_fields):
    """A Karmak location with OEM build data and write-back; an asset whose OEM build data holds
    Year and Model (not Make); Year, Model and Make differ from the DMS."""
    location, advisor = connected(
        make,
        sandbox,
        account="beta-karmak",
        oem_build_data=True,
        write_back_mode=WriteBackMode.PORTAL_AND_DMS,
        **location_fields,
    )
    payload, owner_payload = vehicle_and_owner(sandbox)
    owner = portal_copy(make, location, "customers", owner_payload)
    oem_year = (payload["year"] or 2000) - 1
    asset = portal_copy(
        make,
        location,
        "vehicles",
        payload,
        customer_id=owner.id,
        year=oem_year,
        model="OEM Model",
        make="Portal Make",
        oem_build_data={"year": oem_year, "model": "OEM Model", "trim": "Sleeper"},
    )
    return location, advisor, payload, asset


def test_oem_lock_only_what_the_asset_has_oem_data_for_and_never_send_it_unasked(
    make, sandbox, auth, client, app, run_jobs
):
    location, advisor, payload, asset = _oem_asset(make, sandbox)
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "asset", asset.id)
    page = show(client, "asset", asset.id, wizard)
    assert shown_fields(page) == {"year", "make", "model"}
    for attr in ("year", "model"):
        row = page.select_one(f"tr[data-field={attr}]")
        assert row.select_one(".oem-locked") and not row.select(f"input[name=choice-{attr}][value=dms]")
        assert row.select_one(f"input[type=checkbox][name=send-{attr}]:not([checked])")
    # No OEM build data for Make: not locked, the DMS value can be chosen.
    make_row = page.select_one("tr[data-field=make]")
    assert not make_row.select(".oem-locked") and make_row.select("input[name=choice-make][value=dms]")

    # "Select All Portal" keeps the OEM values in the portal but does not send them to the DMS.
    page = step(client, "asset", asset.id, wizard, "select_all_portal")
    assert checked(page) == {"year": "portal", "model": "portal", "make": "portal"}
    step(client, "asset", asset.id, wizard, "next", choice_year="portal", choice_model="portal", choice_make="portal")
    page = show(client, "asset", asset.id, wizard)
    assert [li.strong.text for li in page.select(".dms-sends li")] == ["Make"]
    assert "Year" in page.select_one(".oem-kept").text and "Model" in page.select_one(".oem-kept").text
    page = step(client, "asset", asset.id, wizard, "apply")
    assert "Year" in page.select_one(".oem-kept").text
    [message] = outbox(app)
    assert message.payload["fields"] == {"make": "Portal Make"}
    run_jobs()
    in_dms = sandbox.control.get_record("beta-karmak", "vehicles", payload["dms_id"])
    assert (in_dms["year"], in_dms["model"], in_dms["make"]) == (payload["year"], payload["model"], "Portal Make")
    after = load(app, Asset, asset.id)
    assert (after.year, after.model) == (asset.year, "OEM Model")


def test_a_locked_value_is_sent_when_the_person_ticks_it(make, sandbox, auth, client, app, run_jobs):
    location, advisor, payload, asset = _oem_asset(make, sandbox)
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "asset", asset.id)
    step(
        client,
        "asset",
        asset.id,
        wizard,
        "next",
        choice_year="portal",
        choice_model="portal",
        choice_make="dms",
        **{"send-year": "1"},
    )
    page = show(client, "asset", asset.id, wizard)
    assert [li.strong.text for li in page.select(".dms-sends li")] == ["Year"]
    assert "Model" in page.select_one(".oem-kept").text
    page = step(client, "asset", asset.id, wizard, "back")
    assert page.select_one("input[type=checkbox][name=send-year][checked]")
    step(
        client,
        "asset",
        asset.id,
        wizard,
        "next",
        choice_year="portal",
        choice_model="portal",
        choice_make="dms",
        **{"send-year": "1"},
    )
    step(client, "asset", asset.id, wizard, "apply")
    [message] = outbox(app)
    assert message.payload["fields"] == {"year": asset.year}
    run_jobs()
    in_dms = sandbox.control.get_record("beta-karmak", "vehicles", payload["dms_id"])
    assert (in_dms["year"], in_dms["model"]) == (asset.year, payload["model"])
    assert load(app, Asset, asset.id).make == payload["make"]


def test_send_is_refused_for_a_field_that_is_not_locked(make, sandbox, auth, client, app):
    location, advisor, payload, asset = _oem_asset(make, sandbox)
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "asset", asset.id)
    step(
        client,
        "asset",
        asset.id,
        wizard,
        "next",
        status=422,
        choice_year="portal",
        choice_model="portal",
        choice_make="send",
    )
    assert outbox(app) == []
