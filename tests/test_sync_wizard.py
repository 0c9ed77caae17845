"""The customer and asset sync wizards against the sandbox DMS over HTTP (issue 6, seed 001).

Each test walks the wizard as a person would (start, choose, confirm, apply) and checks
what the person sees and what lands in the portal database and in the DMS.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.fixtures import _set_owner, connected, dms_record, person, portal_copy
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
    SyncSession,
    WriteBackMode,
)


# --------------------------------------------------------------------------- helpers
def start(client, kind, record_id, next_url=None, status=303):
    """Start the wizard (as the Sync with DMS button does); returns the wizard id."""
    response = client.post(f"/{kind}s/{record_id}/sync", data={"next": next_url or ""})
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    if status != 303:
        return response
    return int(parse_qs(urlparse(response.headers["Location"]).query)["wizard"][0])


def step(client, kind, record_id, wizard, action, status=200, **fields):
    """One wizard step as htmx posts it (choices as ``choice_<attr>="portal"|"dms"``)."""
    data = {"wizard": wizard, "action": action}
    for key, value in fields.items():
        data[key.replace("choice_", "choice-", 1) if key.startswith("choice_") else key] = value
    response = client.post(f"/{kind}s/{record_id}/sync/step", data=data, htmx=True)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return soup(response)


def show(client, kind, record_id, wizard):
    """The wizard's current step as a full page."""
    response = client.get(f"/{kind}s/{record_id}/sync?wizard={wizard}")
    assert response.status_code == 200
    return soup(response)


def shown_fields(page):
    """The fields the wizard shows as differing."""
    return {row["data-field"] for row in page.select("tr[data-field]")}


def checked(page):
    """{field: side} of the checked radios."""
    return {i["name"][len("choice-") :]: i["value"] for i in page.select("input[type=radio][name^=choice-][checked]")}


def history(app, record_type, record_id, syncs=False):
    """Change History of a record: field changes only, or only the sync stamps (``syncs=True``)."""
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(ChangeHistory)
                .where(ChangeHistory.record_type == record_type, ChangeHistory.record_id == record_id)
                .order_by(ChangeHistory.id)
            )
        )
    return [r for r in rows if (r.field == "last_synced_at") == syncs]


def load(app, model, record_id):
    with app.app_context():
        row = db.session.get(model, record_id)
        db.session.expunge(row)
        return row


def outbox(app):
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


# --------------------------------------------------------------------------- comparing
def test_only_differing_fields_are_shown_after_normalisation(customer_case, client):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    page = show(client, "customer", customer.id, wizard)
    # Same phone written two ways and an e-mail differing only in case are not differences.
    assert shown_fields(page) == {"last_name", "city", "company_name"}
    row = page.select_one("tr[data-field=last_name]")
    assert "Samples" in row.text and "Sample" in row.text


def test_single_sided_values_are_preselected(customer_case, client):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    page = show(client, "customer", customer.id, wizard)
    # City only in the DMS, company only in the portal: pre-selected; last name (both) is left to the person.
    assert checked(page) == {"city": "dms", "company_name": "portal"}
    page = step(
        client, "customer", customer.id, wizard, "next", status=422, choice_city="dms", choice_company_name="portal"
    )
    assert "Last name" in page.select_one(".wizard-error").text
    assert page.select_one("li[aria-current=step]").text.strip() == "Compare fields"


def test_select_all_both_ways_and_back_keeps_choices(customer_case, client):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    page = step(client, "customer", customer.id, wizard, "select_all_dms")
    assert checked(page) == {"last_name": "dms", "city": "dms", "company_name": "dms"}
    page = step(client, "customer", customer.id, wizard, "select_all_portal")
    assert checked(page) == {"last_name": "portal", "city": "portal", "company_name": "portal"}
    page = step(
        client,
        "customer",
        customer.id,
        wizard,
        "next",
        choice_last_name="dms",
        choice_city="dms",
        choice_company_name="portal",
    )
    assert page.select_one("li[aria-current=step]").text.strip() == "Confirm"
    page = step(client, "customer", customer.id, wizard, "back")
    assert checked(page) == {"last_name": "dms", "city": "dms", "company_name": "portal"}


def test_records_that_match_just_stamp_last_synced(make, sandbox, auth, client, app):
    location, advisor = connected(make, sandbox)
    payload = dms_record(sandbox, "alpha-cdk", "customers", person)
    customer = portal_copy(make, location, "customers", payload)
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "customer", customer.id)
    page = show(client, "customer", customer.id, wizard)
    assert page.select_one("h2").text.strip() == "The records match"
    after = load(app, Customer, customer.id)
    assert after.last_synced_at is not None
    assert history(app, "customer", customer.id) == []  # no field changed...
    [stamp] = history(app, "customer", customer.id, syncs=True)  # ...but the sync is recorded
    assert stamp.source == ChangeSource.SYNC_WIZARD and stamp.changed_by_id == advisor.id


# --------------------------------------------------------------------------- applying
def test_portal_only_applies_locally_with_change_history(customer_case, client, app, sandbox, run_jobs):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id, next_url="/customers?q=sample")
    step(
        client,
        "customer",
        customer.id,
        wizard,
        "next",
        choice_last_name="dms",
        choice_city="dms",
        choice_company_name="portal",
    )
    page = show(client, "customer", customer.id, wizard)
    assert "Portal Only" in page.select_one(".dms-nothing").text
    assert "Company" in page.select_one(".kept-in-dms").text
    assert {li.strong.text for li in page.select(".portal-changes li")} == {"Last name", "City"}
    page = step(client, "customer", customer.id, wizard, "apply")
    assert page.select_one("h2").text.strip() == "Sync applied"
    assert "nothing was sent" in page.select_one(".dms-nothing").text
    assert page.select_one(".wizard-actions a")["href"] == "/customers?q=sample"  # Close returns to the start
    after = load(app, Customer, customer.id)
    assert (after.last_name, after.city, after.company_name) == ("Sample", "Springfield", "Sample Farms")
    assert after.last_synced_at is not None
    rows = history(app, "customer", customer.id)
    assert {(r.field, r.old_value, r.new_value) for r in rows} == {
        ("last_name", "Samples", "Sample"),
        ("city", None, "Springfield"),
    }
    assert {r.source for r in rows} == {ChangeSource.SYNC_WIZARD} and {r.changed_by_id for r in rows} == {advisor.id}
    assert len(history(app, "customer", customer.id, syncs=True)) == 1
    assert outbox(app) == []
    run_jobs()
    assert sandbox.control.get_record("alpha-cdk", "customers", payload["dms_id"])["company_name"] == ""


def test_write_back_sends_portal_values_to_the_dms(customer_case, client, app, sandbox, run_jobs):
    location, advisor, customer, payload = customer_case(write_back_mode=WriteBackMode.PORTAL_AND_DMS)
    wizard = start(client, "customer", customer.id)
    step(
        client,
        "customer",
        customer.id,
        wizard,
        "next",
        choice_last_name="portal",
        choice_city="dms",
        choice_company_name="portal",
    )
    page = show(client, "customer", customer.id, wizard)
    assert {li.strong.text for li in page.select(".dms-sends li")} == {"Last name", "Company"}
    assert not page.select(".dms-skipped li")
    page = step(client, "customer", customer.id, wizard, "apply")
    assert "Queued" in page.select_one(".writeback-status").text
    [message] = outbox(app)
    assert message.kind == OutboxKind.WIZARD_WRITE_BACK and message.idempotency_key.endswith(f"sync-wizard-{wizard}")
    assert message.payload["fields"] == {"last_name": "Samples", "company_name": "Sample Farms"}
    # Applying again (a double click) changes nothing and queues nothing more.
    step(client, "customer", customer.id, wizard, "apply")
    assert len(outbox(app)) == 1 and len(history(app, "customer", customer.id)) == 1
    run_jobs()
    in_dms = sandbox.control.get_record("alpha-cdk", "customers", payload["dms_id"])
    assert (in_dms["last_name"], in_dms["company_name"]) == ("Samples", "Sample Farms")
    status = client.get(f"/customers/{customer.id}/sync/status?wizard={wizard}", htmx=True)
    assert "Sent to the DMS" in soup(status).select_one(".writeback-status").text
    assert load(app, Customer, customer.id).city == "Springfield"


def apply_after_a_dms_edit(client, app, sandbox, run_jobs, customer, payload, wizard, **choices):
    """Choose, then apply once a staff edit in the DMS changed the record since the wizard read
    it: the write-back goes out with the old version. Returns the outbox message after delivery."""
    step(client, "customer", customer.id, wizard, "next", **choices)
    sandbox.control.edit_record("alpha-cdk", "customers", payload["dms_id"], {"first_name": "Patricia"})
    step(client, "customer", customer.id, wizard, "apply")
    run_jobs()
    [message] = outbox(app)
    return message


def test_dms_changed_since_start_is_reported(customer_case, client, app, sandbox, run_jobs):
    location, advisor, customer, payload = customer_case(write_back_mode=WriteBackMode.PORTAL_AND_DMS)
    wizard = start(client, "customer", customer.id)
    message = apply_after_a_dms_edit(
        client,
        app,
        sandbox,
        run_jobs,
        customer,
        payload,
        wizard,
        choice_last_name="portal",
        choice_city="dms",
        choice_company_name="dms",
    )
    assert message.status == OutboxStatus.FAILED
    page = soup(client.get(f"/customers/{customer.id}/sync?wizard={wizard}"))
    alert = page.select_one(".writeback-status .alert-error")
    assert alert is not None and "Not written to the DMS" in alert.text and message.error_code in alert.text
    in_dms = sandbox.control.get_record("alpha-cdk", "customers", payload["dms_id"])
    assert (in_dms["last_name"], in_dms["first_name"]) == ("Sample", "Patricia")  # the DMS edit was not overwritten


def test_concurrent_apply_gets_changed_by_someone_else(customer_case, client, app, make, sandbox):
    from tests.conftest import CsrfClient

    location, advisor, customer, payload = customer_case()
    other = make.user(Role.SERVICE_MANAGER, location)
    second = app.test_client()
    assert isinstance(second, CsrfClient)
    second.post("/login", data={"email": other.email, "password": PASSWORD})
    mine = start(client, "customer", customer.id)
    theirs = start(second, "customer", customer.id)
    step(
        client,
        "customer",
        customer.id,
        mine,
        "next",
        choice_last_name="dms",
        choice_city="dms",
        choice_company_name="portal",
    )
    step(
        second,
        "customer",
        customer.id,
        theirs,
        "next",
        choice_last_name="portal",
        choice_city="portal",
        choice_company_name="dms",
    )
    step(client, "customer", customer.id, mine, "apply")
    page = step(second, "customer", customer.id, theirs, "apply", status=422)
    assert "changed by someone else" in page.select_one(".wizard-error").text
    assert page.find("button", string="Start again") is not None
    after = load(app, Customer, customer.id)
    assert (after.last_name, after.company_name) == ("Sample", "Sample Farms")  # the first apply stands
    assert len(history(app, "customer", customer.id)) == 2


# --------------------------------------------------------------------------- refusals
def test_forged_choices_are_refused(customer_case, client, app):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    base = {"choice_last_name": "dms", "choice_city": "dms", "choice_company_name": "portal"}
    for forged in (
        {"choice_email": "dms"},
        {"choice_dms_id": "dms"},
        {"choice_last_name": "browser"},
        {"choice_location_id": "dms"},
    ):
        page = step(client, "customer", customer.id, wizard, "next", status=422, **{**base, **forged})
        assert page.select_one(".wizard-error") is not None
    # A DMS value posted by the browser is never used: the DMS side comes from the server.
    step(client, "customer", customer.id, wizard, "next", **base, **{"dms-last_name": "Forged"})
    step(client, "customer", customer.id, wizard, "apply")
    assert load(app, Customer, customer.id).last_name == "Sample"


@pytest.mark.parametrize("role", [Role.FIELD_MANAGER, Role.REVIEWER])
def test_roles_that_may_not_sync_get_403(make, sandbox, auth, client, app, role):
    location, advisor = connected(make, sandbox)
    payload = dms_record(sandbox, "alpha-cdk", "customers", person)
    customer = portal_copy(make, location, "customers", payload, last_name="Other")
    user = make.user(role, None, covers=[location] if role == Role.FIELD_MANAGER else ())
    auth.login(user.email, PASSWORD)
    assert client.post(f"/customers/{customer.id}/sync").status_code == 403
    assert client.get(f"/customers/{customer.id}/sync").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(SyncSession.id)) is None


def test_foreign_location_records_answer_404(make, sandbox, auth, client):
    location, advisor = connected(make, sandbox)
    elsewhere, _ = connected(make, sandbox, account="beta-karmak")
    payload = dms_record(sandbox, "beta-karmak", "customers")
    foreign = portal_copy(make, elsewhere, "customers", payload, last_name="Other")
    auth.login(advisor.email, PASSWORD)
    assert client.post(f"/customers/{foreign.id}/sync").status_code == 404
    assert client.post(f"/customers/{foreign.id}/sync/step", data={"wizard": 1, "action": "next"}).status_code == 404
    assert client.get(f"/customers/{foreign.id}/sync").status_code == 404


def test_dms_unreachable_shows_a_message_and_retry(customer_case, client, sandbox):
    location, advisor, customer, payload = customer_case()
    sandbox.control.inject_fault("503", count=10, account="alpha-cdk")
    page = soup(start(client, "customer", customer.id, status=200))
    assert "Could not start" in page.select_one("h2").text
    assert page.select_one(".alert-error").text.strip()
    retry = page.find("button", string="Retry")
    assert retry is not None and retry.find_parent("form")["action"] == f"/customers/{customer.id}/sync"
    sandbox.control.clear_faults()
    wizard = start(client, "customer", customer.id)
    assert shown_fields(show(client, "customer", customer.id, wizard)) == {"last_name", "city", "company_name"}


def test_unknown_or_someone_elses_wizard_is_not_used(customer_case, client, make, app, auth):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    other = make.user(Role.SERVICE_ADVISOR, location)
    auth.logout()
    auth.login(other.email, PASSWORD)
    page = step(
        client,
        "customer",
        customer.id,
        wizard,
        "next",
        status=422,
        choice_last_name="dms",
        choice_city="dms",
        choice_company_name="dms",
    )
    assert "no longer open" in page.select_one(".alert-error").text
    assert load(app, Customer, customer.id).last_name == "Samples"


# --------------------------------------------------------------------------- assets
def vehicle_with_owner(record):
    return bool(record.owner_dms_id and record.vin)


def vehicle_and_owner(sandbox, account="beta-karmak"):
    """A DMS vehicle that has an owner, and that owner's DMS record (both as dicts)."""
    payload = dms_record(sandbox, account, "vehicles", vehicle_with_owner)
    return payload, dms_record(sandbox, account, "customers", lambda r: r.dms_id == payload["owner_dms_id"])


def test_oem_build_data_locks_year_make_model_engine(make, sandbox, auth, client, app):
    location, advisor = connected(make, sandbox, account="beta-karmak", oem_build_data=True)
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
        mileage=(payload["mileage"] or 0) + 500,
        oem_build_data={"year": oem_year, "model": "OEM Model"},
    )
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "asset", asset.id)
    page = show(client, "asset", asset.id, wizard)
    assert shown_fields(page) == {"year", "model", "mileage"}
    for attr in ("year", "model"):
        row = page.select_one(f"tr[data-field={attr}]")
        assert row.select_one(".oem-locked") and not row.select(f"input[name=choice-{attr}][value=dms]")
    assert not page.select_one("tr[data-field=mileage]").select(".oem-locked")
    page = step(client, "asset", asset.id, wizard, "select_all_dms")
    assert checked(page) == {"year": "portal", "model": "portal", "mileage": "dms"}
    page = step(
        client,
        "asset",
        asset.id,
        wizard,
        "next",
        status=422,
        choice_year="dms",
        choice_model="portal",
        choice_mileage="dms",
    )
    assert "OEM" in page.select_one(".wizard-error").text
    step(client, "asset", asset.id, wizard, "next", choice_year="portal", choice_model="portal", choice_mileage="dms")
    step(client, "asset", asset.id, wizard, "apply")
    after = load(app, Asset, asset.id)
    assert (after.year, after.model, after.mileage) == (asset.year, "OEM Model", payload["mileage"])


def test_unsupported_write_back_is_skipped_and_explained(make, sandbox, auth, client, app, run_jobs):
    # CDK takes vehicle updates only with an appointment: nothing is queued, the preview says why.
    location, advisor = connected(make, sandbox, write_back_mode=WriteBackMode.PORTAL_AND_DMS)
    payload = dms_record(sandbox, "alpha-cdk", "vehicles")
    asset = portal_copy(make, location, "vehicles", payload, mileage=(payload["mileage"] or 0) + 1000)
    owner_dms = payload.get("owner_dms_id")
    if owner_dms:  # the portal agrees on the owner, so the wizard goes straight to the fields
        owner_payload = dms_record(sandbox, "alpha-cdk", "customers", lambda r: r.dms_id == owner_dms)
        owner = portal_copy(make, location, "customers", owner_payload)
        asset = _set_owner(make, asset, owner.id)
    auth.login(advisor.email, PASSWORD)
    wizard = start(client, "asset", asset.id)
    step(client, "asset", asset.id, wizard, "next", choice_mileage="portal")
    page = show(client, "asset", asset.id, wizard)
    skipped = page.select_one(".dms-skipped").text
    assert "Mileage" in skipped and "only together with an appointment" in skipped
    page = step(client, "asset", asset.id, wizard, "apply")
    assert "only together with an appointment" in page.select_one(".dms-skipped").text
    assert outbox(app) == []


def test_fields_the_dms_does_not_accept_are_skipped_others_sent(make, auth, client, app, run_jobs, tmp_path):
    from connectors.sandbox.testing import running_sandbox

    with running_sandbox([("delta-pbs", "pbs", 20)], data_dir=tmp_path / "pbs") as pbs:
        location, advisor = connected(make, pbs, account="delta-pbs", write_back_mode=WriteBackMode.PORTAL_AND_DMS)
        payload = dms_record(pbs, "delta-pbs", "vehicles", lambda r: bool(r.vin))
        owner = None
        if payload.get("owner_dms_id"):
            owner = portal_copy(
                make,
                location,
                "customers",
                dms_record(pbs, "delta-pbs", "customers", lambda r: r.dms_id == payload["owner_dms_id"]),
            )
        asset = portal_copy(
            make,
            location,
            "vehicles",
            payload,
            customer_id=owner.id if owner else None,
            make="Portal Make",
            mileage=(payload["mileage"] or 0) + 42,
        )
        auth.login(advisor.email, PASSWORD)
        wizard = start(client, "asset", asset.id)
        step(client, "asset", asset.id, wizard, "next", choice_make="portal", choice_mileage="portal")
        page = show(client, "asset", asset.id, wizard)
        assert [li.strong.text for li in page.select(".dms-sends li")] == ["Mileage"]
        assert "does not accept Make updates" in page.select_one(".dms-skipped").text
        page = step(client, "asset", asset.id, wizard, "apply")
        assert "does not accept Make updates" in page.select_one(".dms-skipped").text
        [message] = outbox(app)
        assert message.payload["fields"] == {"mileage": asset.mileage}
        run_jobs()
        in_dms = pbs.control.get_record("delta-pbs", "vehicles", payload["dms_id"])
        assert in_dms["mileage"] == asset.mileage and in_dms["make"] == payload["make"]


# --------------------------------------------------------------------------- asset owner (part 1)
@pytest.fixture()
def owner_case(make, sandbox, auth):
    """A Karmak location whose asset's owner differs: the portal has customer A, the DMS says B."""

    def build(dms_owner_in_portal=True, **location_fields):
        location, advisor = connected(make, sandbox, account="beta-karmak", **location_fields)
        payload, dms_owner = vehicle_and_owner(sandbox)
        portal_owner_payload = dms_record(
            sandbox, "beta-karmak", "customers", lambda r: r.dms_id != payload["owner_dms_id"]
        )
        portal_owner = portal_copy(make, location, "customers", portal_owner_payload)
        in_portal = portal_copy(make, location, "customers", dms_owner) if dms_owner_in_portal else None
        asset = portal_copy(make, location, "vehicles", payload, customer_id=portal_owner.id)
        auth.login(advisor.email, PASSWORD)
        return location, asset, payload, portal_owner, dms_owner, in_portal

    return build


def test_owner_keep_the_portal_customer_and_write_it_back(owner_case, client, app, sandbox, run_jobs):
    location, asset, payload, portal_owner, dms_owner, _ = owner_case(write_back_mode=WriteBackMode.PORTAL_AND_DMS)
    wizard = start(client, "asset", asset.id)
    page = show(client, "asset", asset.id, wizard)
    assert page.select_one("li[aria-current=step]").text.strip() == "Customer"
    labels = page.select_one("fieldset").text
    assert portal_owner.last_name in labels and dms_owner["last_name"] in labels
    page = step(client, "asset", asset.id, wizard, "next", owner="portal")
    assert "All fields match" in page.text
    page = step(client, "asset", asset.id, wizard, "next")
    assert "Customer" in page.select_one(".dms-sends").text
    step(client, "asset", asset.id, wizard, "apply")
    assert load(app, Asset, asset.id).customer_id == portal_owner.id
    run_jobs()
    assert (
        sandbox.control.get_record("beta-karmak", "vehicles", payload["dms_id"])["owner_dms_id"] == portal_owner.dms_id
    )


def test_owner_take_the_dms_customer_adding_it_first(owner_case, client, app):
    location, asset, payload, portal_owner, dms_owner, _ = owner_case(dms_owner_in_portal=False)
    wizard = start(client, "asset", asset.id)
    page = show(client, "asset", asset.id, wizard)
    assert "added from the DMS" in page.select_one("#owner-dms-help").text
    page = step(client, "asset", asset.id, wizard, "next", owner="dms")
    page = step(client, "asset", asset.id, wizard, "back")  # Back keeps the choice
    assert page.select_one("#owner-dms").has_attr("checked")
    step(client, "asset", asset.id, wizard, "next", owner="dms")
    page = step(client, "asset", asset.id, wizard, "next")
    assert "Customer" in page.select_one(".portal-changes").text
    step(client, "asset", asset.id, wizard, "apply")
    with app.app_context():
        added = db.session.scalar(
            select(Customer).where(Customer.location_id == location.id, Customer.dms_id == payload["owner_dms_id"])
        )
        assert added is not None and added.last_name == dms_owner["last_name"]
        assert db.session.get(Asset, asset.id).customer_id == added.id
    rows = history(app, "asset", asset.id)
    assert [(r.field, r.old_value, r.new_value, r.source) for r in rows] == [
        ("customer_id", str(portal_owner.id), str(added.id), ChangeSource.SYNC_WIZARD)
    ]


def test_owner_search_for_another_customer(owner_case, client, app, make):
    location, asset, payload, portal_owner, dms_owner, _ = owner_case()
    third = make.customer(location, first_name="Quincy", last_name="Zebulon", dms_id=None, email=None, phone=None)
    wizard = start(client, "asset", asset.id)
    page = step(client, "asset", asset.id, wizard, "search", owner_q="Zebulon")
    results = page.select(".owner-results input[name=owner_customer_id]")
    assert [r["value"] for r in results] == [str(third.id)]
    step(client, "asset", asset.id, wizard, "next", owner="other", owner_customer_id=str(third.id))
    page = step(client, "asset", asset.id, wizard, "back")
    assert "Quincy Zebulon" in page.select_one("label[for=owner-other]").text
    step(client, "asset", asset.id, wizard, "next", owner="other", owner_customer_id=str(third.id))
    step(client, "asset", asset.id, wizard, "next")
    step(client, "asset", asset.id, wizard, "apply")
    assert load(app, Asset, asset.id).customer_id == third.id


def test_owner_search_refuses_a_foreign_customer(owner_case, client, app, make, sandbox):
    location, asset, payload, portal_owner, dms_owner, _ = owner_case()
    elsewhere = make.location(code="FAR")
    foreign = make.customer(elsewhere, last_name="Faraway")
    wizard = start(client, "asset", asset.id)
    page = step(client, "asset", asset.id, wizard, "next", status=422, owner="other", owner_customer_id=str(foreign.id))
    assert "not one of this location's customers" in page.select_one(".wizard-error").text
    assert load(app, Asset, asset.id).customer_id == portal_owner.id


# --------------------------------------------------------------------------- entry points
def test_sync_buttons_on_detail_pages_and_search_rows(customer_case, client):
    location, advisor, customer, payload = customer_case()
    page = soup(client.get(f"/customers/{customer.id}"))
    form = page.select_one("form.sync-button")
    assert form["action"] == f"/customers/{customer.id}/sync" and form.button.text == "Sync with DMS"
    page = soup(client.get("/customers?q=Samples"))
    row_form = page.select_one("#results form.sync-button")
    assert row_form is not None and row_form["action"] == f"/customers/{customer.id}/sync"
    assert re.match(r"^/customers\?", row_form.select_one("input[name=next]")["value"])


def test_close_never_leaves_the_site(customer_case, client):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id, next_url="https://evil.example/")
    page = show(client, "customer", customer.id, wizard)
    # Cancel is a button now (it ends the wizard on the server); it goes back to the record, not off-site.
    assert page.find("button", string="Cancel")["value"] == "cancel"
    response = client.post(f"/customers/{customer.id}/sync/step", data={"wizard": wizard, "action": "cancel"})
    assert response.status_code == 303 and response.headers["Location"] == f"/customers/{customer.id}"


def test_asset_sync_buttons_on_detail_page_and_search_rows(owner_case, client):
    location, asset, payload, portal_owner, dms_owner, _ = owner_case()
    form = soup(client.get(f"/assets/{asset.id}")).select_one("form.sync-button")
    assert form["action"] == f"/assets/{asset.id}/sync" and form.button.text == "Sync with DMS"
    row_form = soup(client.get(f"/assets?q={asset.vin}")).select_one("#results form.sync-button")
    assert row_form is not None and row_form["action"] == f"/assets/{asset.id}/sync"


def test_records_without_a_dms_link_cannot_be_synced(make, sandbox, auth, client):
    location, advisor = connected(make, sandbox)
    customer = make.customer(location, dms_id=None)
    auth.login(advisor.email, PASSWORD)
    assert soup(client.get(f"/customers/{customer.id}")).select_one("form.sync-button") is None
    page = soup(start(client, "customer", customer.id, status=200))
    assert "not linked to a DMS record" in page.select_one(".alert-error").text
    assert page.find("button", string="Retry") is None


def test_apply_racing_another_save_loses_at_the_database(customer_case, client, app):
    """Someone saves between the wizard's version check and its write: optimistic locking refuses it."""
    from sqlalchemy import event, text
    from sqlalchemy.orm import Session

    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    step(
        client,
        "customer",
        customer.id,
        wizard,
        "next",
        choice_last_name="dms",
        choice_city="dms",
        choice_company_name="portal",
    )
    raced = []

    def someone_else_saves(session, flush_context, instances):
        if raced or not any(isinstance(o, Customer) for o in session.dirty):
            return
        raced.append(True)
        with db.engine.begin() as conn:
            conn.execute(
                text("UPDATE customer SET version = version + 1, city = 'Shelbyville' WHERE id = :id"),
                {"id": customer.id},
            )

    event.listen(Session, "before_flush", someone_else_saves)
    try:
        page = step(client, "customer", customer.id, wizard, "apply", status=422)
    finally:
        event.remove(Session, "before_flush", someone_else_saves)
    assert raced and "changed by someone else" in page.select_one(".wizard-error").text
    after = load(app, Customer, customer.id)
    assert (after.last_name, after.city) == ("Samples", "Shelbyville")
    assert history(app, "customer", customer.id) == []
