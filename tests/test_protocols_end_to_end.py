"""Every flow of the console, end to end through the web app, at a location on STAR REST
(CDK) and at a location on Dealertrack OpenTrack SOAP: the test client, a real RQ worker
and the sandbox DMS over loopback HTTP speaking the location's protocol.

Per protocol: a pull fills the mirror with canonical records (the vendor's wire form kept
beside them), the DMS tab finds a DMS customer in the mirror and live, the customer sync
wizard writes back to the DMS, a booked appointment is pushed, receipts are exported once,
and an injected fault fails a pull readably without a partial page, the next pull resuming
from the last good cursor.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.test_appointments import form_data
from tests.test_sync_wizard import dms_record, outbox, person, portal_copy, show, start, step
from webapp.extensions import db
from webapp.models import (
    Appointment,
    DmsRecord,
    OutboxKind,
    Payment,
    PaymentStatus,
    Role,
    RunStatus,
    SyncCursor,
    SyncRun,
    WriteBackMode,
)
from webapp.services import retry_policy

ACCOUNTS = (("e2e-cdk-star", "cdk", 60, "star"), ("e2e-dealertrack", "dealertrack", 60, "opentrack"))
ACCOUNT_OF = {"star": "e2e-cdk-star", "opentrack": "e2e-dealertrack"}
CODE_OF = {"star": "STAR", "opentrack": "OTRK"}

pytestmark = pytest.mark.parametrize("protocol", ["star", "opentrack"])


# --------------------------------------------------------------------------- fixtures and helpers
@pytest.fixture()
def sandbox(tmp_path):
    """A sandbox DMS with one CDK account on STAR REST and one Dealertrack account on OpenTrack."""
    from connectors.sandbox.testing import running_sandbox

    with running_sandbox(ACCOUNTS, data_dir=tmp_path / "sandbox") as running:
        yield running


@pytest.fixture()
def shop(make, sandbox, protocol):
    """A location on ``protocol``, its Service Manager and a Service Advisor with a DMS employee id."""
    account = ACCOUNT_OF[protocol]
    settings = dms_settings(sandbox, account)
    assert settings["dms_protocol"] == protocol
    location = make.location(
        name=f"{protocol.title()} Motors", code=CODE_OF[protocol], brands=["Ford", "Lincoln"], **settings
    )
    manager = make.user(Role.SERVICE_MANAGER, location)
    advisor = make.user(Role.SERVICE_ADVISOR, location, advisor_dms_id="ADV03", name="Janet Smith")
    return {"account": account, "location": location, "manager": manager, "advisor": advisor}


def sign_in(client, user) -> None:
    client.post("/logout")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code in (302, 303), response.status_code


def latest_run(app, location_id, data_type) -> SyncRun:
    with app.app_context():
        run = db.session.scalar(
            select(SyncRun)
            .where(SyncRun.location_id == location_id, SyncRun.data_type == data_type)
            .order_by(SyncRun.id.desc())
            .limit(1)
        )
        db.session.expunge(run)
        return run


def pull_now(app, client, run_jobs, shop, data_type, expect=RunStatus.SUCCEEDED) -> SyncRun:
    """Pull now on the integration health page (as the Service Manager), then work the queue."""
    sign_in(client, shop["manager"])
    response = client.post("/integrations/pull", data={"data_type": data_type}, htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert "started" in response.headers["HX-Trigger"], response.headers["HX-Trigger"]
    run_jobs(["pulls"])
    run = latest_run(app, shop["location"].id, data_type)
    assert run.status == expect, (run.status, run.error, run.fix_hint)
    return run


def mirror(app, location_id, data_type) -> dict[str, DmsRecord]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(DmsRecord).where(DmsRecord.location_id == location_id, DmsRecord.data_type == data_type)
            )
        )
        for row in rows:
            db.session.expunge(row)
        return {row.dms_id: row for row in rows}


def cursor_of(app, location_id, data_type) -> str | None:
    with app.app_context():
        return db.session.scalar(
            select(SyncCursor.cursor).where(SyncCursor.location_id == location_id, SyncCursor.data_type == data_type)
        )


def dms_ids(sandbox, account, data_type) -> set[str]:
    with sandbox.connect(account) as dms:
        return set(dms.list_ids(data_type))


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _digits(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def assert_canonical_equals_dms(payload: dict, stored: dict) -> None:
    """The mirror's canonical payload holds what the DMS holds (instants compared as instants,
    phones by their digits: OpenTrack carries digits only, STAR the text as typed)."""
    assert set(payload) == set(stored), set(payload) ^ set(stored)
    for key, value in stored.items():
        if key == "modified_at":
            assert _instant(payload[key]) == _instant(value), key
        elif key == "phones":
            assert [_digits(p) for p in payload[key]] == [_digits(p) for p in value], key
        else:
            assert payload[key] == value, (key, payload[key], value)


def raw_wire_id(protocol: str, raw: str, data_type: str) -> str:
    """The DMS id read from the vendor's record as received (JSON for STAR, XML for OpenTrack)."""
    if protocol == "star":
        record = json.loads(raw)
        return record["customer_key"] if data_type == "customers" else record["vehicle_key"]
    assert raw.lstrip().startswith("<")
    element = etree.fromstring(raw.encode())
    name = "CustomerNumber" if data_type == "customers" else "VehicleID"
    texts = [e.text for e in element.iter() if etree.QName(e).localname == name]
    assert texts, (name, raw[:300])
    return texts[0]


# --------------------------------------------------------------------------- 1. pull
def test_pull_fills_the_mirror_with_canonical_records_and_the_wire_form(
    app, client, make, run_jobs, sandbox, shop, protocol
):
    location, account = shop["location"], shop["account"]
    run = pull_now(app, client, run_jobs, shop, "customers")
    expected = dms_ids(sandbox, account, "customers")
    customers = mirror(app, location.id, "customers")
    assert set(customers) == expected and len(expected) == 60
    assert run.created == 60 and run.failed == 0 and run.cursor_after
    for dms_id in sorted(expected)[:5]:
        row = customers[dms_id]
        assert_canonical_equals_dms(row.payload, sandbox.control.get_record(account, "customers", dms_id))
        assert raw_wire_id(protocol, row.raw_payload, "customers") == dms_id
    if protocol == "star":
        assert isinstance(json.loads(customers[min(expected)].raw_payload), dict)
    else:
        assert customers[min(expected)].raw_payload.lstrip().startswith("<")

    # Vehicles: CDK delivers them with the ROs, Dealertrack on demand; Pull now takes either.
    run = pull_now(app, client, run_jobs, shop, "vehicles")
    vehicles = mirror(app, location.id, "vehicles")
    assert set(vehicles) == dms_ids(sandbox, account, "vehicles") and vehicles
    assert run.created == len(vehicles)
    some = sorted(vehicles)[0]
    stored = sandbox.control.get_record(account, "vehicles", some)
    assert_canonical_equals_dms(vehicles[some].payload, stored)
    assert vehicles[some].vin == stored["vin"] and vehicles[some].owner_dms_id == stored["owner_dms_id"]
    raw = vehicles[some].raw_payload
    assert isinstance(json.loads(raw), dict) if protocol == "star" else raw.lstrip().startswith("<")

    # The health page shows the pull; an admin sees a run's records canonical and as received.
    page = soup(client.get("/integrations/"))
    row = page.select_one("#row-customers")
    assert "60 read" in row.text and "60 new" in row.text, row.text
    sign_in(client, make.user(Role.GLOBAL_ADMIN, location))
    customers_run = latest_run(app, location.id, "customers")
    pairs = soup(client.get(f"/integrations/runs/{customers_run.id}")).select(".as-received .raw-pair")
    assert pairs
    canonical, received = (pre.get_text() for pre in pairs[0].select("pre"))
    assert json.loads(canonical)["dms_id"]
    assert ('"customer_key"' in received) if protocol == "star" else ("<CustomerNumber>" in received)


# --------------------------------------------------------------------------- 2. DMS tab search
def test_dms_tab_finds_a_customer_in_the_mirror_and_live(app, client, run_jobs, sandbox, shop, protocol):
    account = shop["account"]
    pull_now(app, client, run_jobs, shop, "customers")
    wanted = dms_record(sandbox, account, "customers", lambda r: r.kind == "person" and r.last_name)
    sign_in(client, shop["advisor"])

    page = soup(client.get("/customers", query_string={"tab": "dms", "q": wanted["last_name"]}))
    rows = {tr["data-dms-id"]: tr for tr in page.select(".dms-results tbody tr")}
    assert wanted["dms_id"] in rows and not rows[wanted["dms_id"]].select(".tag")  # from the mirror
    link = page.find("a", string=re.compile("Search the DMS now"))
    assert link is not None and "live=1" in link["href"]

    live = soup(client.get(link["href"], htmx=True))
    notice = live.find(string=re.compile("Looked up live in the DMS"))
    assert notice is not None and not live.select_one(".dms-unreachable")
    found = int(re.search(r"(\d+) records? found", notice).group(1))
    assert found >= 1
    assert wanted["dms_id"] in [tr["data-dms-id"] for tr in live.select(".dms-results tbody tr")]

    # A name only the DMS has (changed there after the pull): the live lookup, through the
    # protocol, is what finds it.
    sandbox.control.edit_record(account, "customers", wanted["dms_id"], {"last_name": "Quillfeather"})
    response = client.get("/customers", query_string={"tab": "dms", "q": "Quillfeather", "live": "1"})
    rows = soup(response).select(".dms-results tbody tr")
    assert [tr["data-dms-id"] for tr in rows] == [wanted["dms_id"]]
    assert rows[0].select_one(".tag").get_text() == "live"
    assert "Quillfeather" in rows[0].get_text()


# --------------------------------------------------------------------------- 3. sync wizard write-back
def test_sync_wizard_write_back_changes_the_record_in_the_dms(app, client, make, run_jobs, sandbox, shop, protocol):
    location, account = shop["location"], shop["account"]
    with app.app_context():
        from webapp.models import Location

        row = db.session.get(Location, location.id)
        row.write_back_mode = WriteBackMode.PORTAL_AND_DMS
        db.session.commit()
    payload = dms_record(
        sandbox,
        account,
        "customers",
        person,
        phones=["(217) 555-0123"],
        emails=["Pat.Sample@Example.COM"],
        last_name="Sample",
        city="Springfield",
        company_name="",
    )
    customer = portal_copy(
        make,
        location,
        "customers",
        payload,
        phone="+12175550123",
        email="pat.sample@example.com",
        last_name="Samples",
        city=None,
        company_name="Sample Farms",
    )
    sign_in(client, shop["advisor"])
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
    page = step(client, "customer", customer.id, wizard, "apply")
    assert page.select_one("h2").text.strip() == "Sync applied"
    assert "Queued" in page.select_one(".writeback-status").text
    [message] = outbox(app)
    assert message.kind == OutboxKind.WIZARD_WRITE_BACK
    assert message.payload["fields"] == {"last_name": "Samples", "company_name": "Sample Farms"}
    run_jobs(["pushes"])
    in_dms = sandbox.control.get_record(account, "customers", payload["dms_id"])
    assert (in_dms["last_name"], in_dms["company_name"]) == ("Samples", "Sample Farms")
    assert in_dms["city"] == "Springfield" and in_dms["first_name"] == payload["first_name"]
    status = client.get(f"/customers/{customer.id}/sync/status?wizard={wizard}", htmx=True)
    assert "Sent to the DMS" in soup(status).select_one(".writeback-status").text
    # The next pull brings the written record back into the mirror.
    pull_now(app, client, run_jobs, shop, "customers")
    row = mirror(app, location.id, "customers")[payload["dms_id"]]
    assert (row.payload["last_name"], row.payload["company_name"]) == ("Samples", "Sample Farms")


# --------------------------------------------------------------------------- 4. appointment push
def test_booked_appointment_is_pushed_to_the_dms(app, client, make, run_jobs, sandbox, shop, protocol):
    location, account = shop["location"], shop["account"]
    pull_now(app, client, run_jobs, shop, "opcodes")
    payload = dms_record(sandbox, account, "customers", lambda r: r.kind == "person" and r.emails and r.address_line1)
    customer = make.customer(
        location,
        dms_id=payload["dms_id"],
        first_name=payload["first_name"],
        last_name=payload["last_name"],
        email=payload["emails"][0],
        address_line1=payload["address_line1"],
        postal_code=payload["postal_code"],
    )
    before = sandbox.control.count_created(account).get("appointments", 0)
    sign_in(client, shop["advisor"])
    new = soup(client.get(f"/appointments/new?customer_id={customer.id}"))
    assert "LOF" in {i["value"] for i in new.select("#opcode-options input[name=opcodes]")}
    response = client.post(
        f"/appointments/new?customer_id={customer.id}",
        data=form_data(customer, shop["advisor"], notes="Noise at the front"),
    )
    assert response.status_code == 303, soup(response).select_one("#preflight-findings")
    with app.app_context():
        appointment_id = db.session.scalar(select(Appointment.id))
    detail = soup(client.get(response.headers["Location"]))
    assert detail.select_one("#push-status .push-pending")
    assert sandbox.control.count_created(account).get("appointments", 0) == before  # booking did not wait

    run_jobs(["pushes"])
    with app.app_context():
        dms_id = db.session.get(Appointment, appointment_id).dms_id
    assert dms_id
    status = soup(client.get(f"/appointments/{appointment_id}/push-status", htmx=True))
    assert status.select_one(".push-sent") and status.select_one(".dms-id").text == dms_id
    detail = soup(client.get(f"/appointments/{appointment_id}"))
    assert detail.select_one("#push-status .push-sent"), detail.select_one("#push-status")
    in_dms = sandbox.control.get_record(account, "appointments", dms_id)
    assert in_dms["customer_dms_id"] == payload["dms_id"]
    assert in_dms["scheduled_at"].startswith("2030-05-06T14:30")  # 09:30 in Chicago
    assert in_dms["opcodes"] == ["LOF"] and in_dms["advisor_dms_id"] == "ADV03"
    assert sandbox.control.count_created(account).get("appointments", 0) == before + 1


# --------------------------------------------------------------------------- 5. payment export
def test_exported_receipts_are_posted_to_the_dms_once(app, client, make, run_jobs, sandbox, shop, protocol):
    location, account = shop["location"], shop["account"]
    customer = make.customer(location)
    asset = make.asset(location, customer)
    workfile = make.workfile(location, customer, asset, dms_repair_id="12345678")
    receipts = [make.payment(workfile, amount=Decimal(f"{100 * (n + 1)}.00")) for n in range(3)]
    url = f"/repair-orders/{workfile.id}/dms-activity"
    sign_in(client, shop["advisor"])
    response = client.post(f"{url}/payments/export")
    assert response.status_code == 303 and "/payments/exporting?batch=" in response.headers["Location"]
    exporting = response.headers["Location"]
    assert client.post(f"{url}/payments/export").status_code == 303  # a double click claims nothing more
    run_jobs(["pushes"])
    progress = soup(client.get(exporting, htmx=True)).select_one("#export-progress")
    assert "Export finished: 3 posted" in progress.text, progress.text
    with app.app_context():
        stored = [
            (p.status, p.reference_id)
            for p in db.session.scalars(select(Payment).where(Payment.workfile_id == workfile.id).order_by(Payment.id))
        ]
    assert [s for s, _ in stored] == [PaymentStatus.POSTED] * 3
    refs = [r for _, r in stored]
    assert all(refs) and len(set(refs)) == 3
    assert sandbox.control.count_created(account).get("payments", 0) == 3
    for ref, receipt in zip(refs, receipts):
        in_dms = sandbox.control.get_record(account, "payments", ref)
        assert (in_dms["ro_number"], in_dms["amount"]) == ("12345678", f"{receipt.amount:.2f}")
    # Exporting again posts nothing more.
    client.post(f"{url}/payments/export")
    run_jobs(["pushes"])
    assert sandbox.control.count_created(account).get("payments", 0) == 3
    table = soup(client.get(f"{url}?tab=payments")).select("table.dms-payments tbody tr")
    assert [tr["data-status"] for tr in table] == ["posted"] * 3


# --------------------------------------------------------------------------- failure
def test_malformed_page_fails_the_pull_readably_and_the_next_pull_resumes(
    app, client, run_jobs, sandbox, shop, protocol, monkeypatch
):
    """Page 1 arrives; page 2 is cut off mid-answer. The run fails with a readable error and
    fix hint, page 2 writes nothing, the cursor stays after page 1, and the next Pull now
    continues from there."""
    from jobs import pull_pages

    location, account = shop["location"], shop["account"]
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 25)
    monkeypatch.setattr("jobs.pull_pages.READER", "thread")  # the hook below runs in this process
    monkeypatch.setattr(retry_policy, "PULLS", replace(retry_policy.PULLS, cap=0.05))
    original = pull_pages.prepare_page
    pages = []

    def prepare_then_break_the_next_page(data_type, records):
        pages.append(len(records))
        if len(pages) == 1:  # the next request of the DMS (page 2) gets a truncated answer
            httpx.post(
                f"{sandbox.base_url}/_control/faults", json={"kind": "malformed", "count": 10, "account": account}
            ).raise_for_status()
        return original(data_type, records)

    monkeypatch.setattr("jobs.pull_pages.prepare_page", prepare_then_break_the_next_page)
    failed = pull_now(app, client, run_jobs, shop, "customers", expect=RunStatus.FAILED)
    sandbox.control.clear_faults()
    assert pages[0] == 25
    assert failed.error and failed.fix_hint, (failed.error, failed.fix_hint)
    assert "cannot read" in failed.error and "customers page" in failed.error, failed.error
    assert "Traceback" not in failed.error and len(failed.error) < 500
    # The fault is armed once page 1 is prepared, and the connectors fetch page 2 only when it
    # is asked for (they read ahead from page 2 on), so page 2 is the cut-off one: page 1 is
    # kept whole and nothing of page 2.
    kept = failed.created
    assert kept == 25 and failed.fetched == kept, (kept, failed.fetched, pages)
    after_page_one = failed.cursor_after
    assert after_page_one and cursor_of(app, location.id, "customers") == after_page_one
    assert len(mirror(app, location.id, "customers")) == kept
    row = soup(client.get("/integrations/")).select_one("#row-customers")
    assert "Last pull failed" in row.text and failed.fix_hint in row.text, row.text

    monkeypatch.setattr("jobs.pull_pages.prepare_page", original)
    resumed = pull_now(app, client, run_jobs, shop, "customers")
    assert resumed.cursor_before == after_page_one
    assert resumed.created == 60 - kept and resumed.fetched == 60 - kept  # from the last good cursor
    assert set(mirror(app, location.id, "customers")) == dms_ids(sandbox, account, "customers")
    row = soup(client.get("/integrations/")).select_one("#row-customers")
    assert "Last pull failed" not in row.text
