"""A write-back the DMS refuses as stale (ETag conflict) is not a dead end (issue 19, item 5).

The conflict is produced as in tests/test_sync_wizard.py: a staff edit in the sandbox DMS
between the wizard's read and the delivery of its write-back.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.test_sync_wizard import apply_after_a_dms_edit, load, outbox, show, start, step
from webapp.extensions import db
from webapp.models import Customer, OutboxStatus, Role, SyncSession, WriteBackMode


def _refused_write_back(customer_case, client, app, sandbox, run_jobs):
    """Apply a write-back after someone changed the record in the DMS; the DMS refuses it."""
    location, advisor, customer, payload = customer_case(write_back_mode=WriteBackMode.PORTAL_AND_DMS)
    wizard = start(client, "customer", customer.id, next_url="/customers?q=sample")
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
        choice_company_name="portal",
    )
    assert message.status == OutboxStatus.FAILED and message.error_code.endswith("ETAG-MISMATCH")
    return location, advisor, customer, payload, wizard, message


def test_conflict_summary_explains_and_offers_start_the_sync_again(
    customer_case,
    client,
    app,
    sandbox,
    run_jobs,
):
    location, advisor, customer, payload, wizard, message = _refused_write_back(
        customer_case, client, app, sandbox, run_jobs
    )
    page = show(client, "customer", customer.id, wizard)
    conflict = page.select_one(".writeback-conflict")
    assert conflict is not None
    text = " ".join(conflict.text.split())
    assert "someone changed this customer in the DMS after this sync read it" in text
    assert "Your changes in the portal were kept" in text and "Last Synced was not set" in text
    form = conflict.select_one("form.restart-sync")
    assert form["method"] == "post" and form["action"] == f"/customers/{customer.id}/sync"
    assert form.select_one("input[name=csrf_token]")["value"]
    assert form.select_one("input[name=next]")["value"] == "/customers?q=sample"
    assert form.button.text.strip() == "Start the sync again"
    assert page.select_one(".sync-summary .wizard-actions a").text.strip() == "Close"
    # The status poll (htmx) shows the same way on.
    polled = soup(client.get(f"/customers/{customer.id}/sync/status?wizard={wizard}", htmx=True))
    assert polled.select_one(".writeback-conflict form.restart-sync button").text.strip() == "Start the sync again"

    # Starting again compares with the DMS's current record; the stale write-back is ended.
    again = start(client, "customer", customer.id, next_url="/customers?q=sample")
    assert again != wizard
    fresh = show(client, "customer", customer.id, again)
    assert "first_name" in {row["data-field"] for row in fresh.select("tr[data-field]")}  # the DMS edit is seen
    [old] = outbox(app)
    assert old.status == OutboxStatus.DISMISSED and "replaced by a new comparison" in old.dismissed_reason.lower()


def test_last_synced_is_stamped_only_when_both_sides_agree(
    customer_case,
    client,
    app,
    sandbox,
    run_jobs,
):
    # A refused write-back: the systems still differ, so Last Synced stays unset.
    location, advisor, customer, payload, wizard, message = _refused_write_back(
        customer_case, client, app, sandbox, run_jobs
    )
    assert load(app, Customer, customer.id).last_synced_at is None


def test_last_synced_waits_for_the_dms_to_take_the_write_back(
    customer_case,
    client,
    app,
    sandbox,
    run_jobs,
):
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
    page = step(client, "customer", customer.id, wizard, "apply")
    assert "Last Synced is set when the DMS confirms" in page.select_one(".writeback-status").text
    assert load(app, Customer, customer.id).last_synced_at is None  # still on its way to the DMS
    run_jobs()
    [message] = outbox(app)
    assert message.status == OutboxStatus.SENT
    after = load(app, Customer, customer.id)
    assert after.last_synced_at is not None
    status = soup(client.get(f"/customers/{customer.id}/sync/status?wizard={wizard}", htmx=True))
    assert "Last Synced was set" in status.select_one(".writeback-status").text


def test_retry_of_a_conflict_opens_a_new_comparison(
    customer_case,
    client,
    app,
    sandbox,
    run_jobs,
    make,
    auth,
):
    location, advisor, customer, payload, wizard, message = _refused_write_back(
        customer_case, client, app, sandbox, run_jobs
    )
    # An advisor may not act on Failed pushes at all.
    assert client.post(f"/integrations/failed/{message.id}/retry").status_code == 403
    # A manager of another location does not see the push.
    other = make.location()
    auth.logout()
    auth.login(make.user(Role.SERVICE_MANAGER, other).email, PASSWORD)
    assert client.post(f"/integrations/failed/{message.id}/retry").status_code == 404
    auth.logout()
    manager = make.user(Role.SERVICE_MANAGER, location)
    auth.login(manager.email, PASSWORD)

    response = client.post(f"/integrations/failed/{message.id}/retry?brand=Ford")
    assert response.status_code == 303
    target = urlparse(response.headers["Location"])
    assert target.path == f"/customers/{customer.id}/sync"
    new_wizard = int(parse_qs(target.query)["wizard"][0])
    # The stale version was not resent: the push is ended as replaced, nothing new is queued.
    [old] = outbox(app)
    assert old.status == OutboxStatus.DISMISSED and "replaced by a new comparison" in old.dismissed_reason.lower()
    assert old.dismissed_by_id == manager.id
    run_jobs()
    in_dms = sandbox.control.get_record("alpha-cdk", "customers", payload["dms_id"])
    assert (in_dms["first_name"], in_dms["last_name"]) == ("Patricia", "Sample")
    with app.app_context():
        fresh = db.session.scalar(select(SyncSession).where(SyncSession.id == new_wizard))
        assert fresh.user_id == manager.id and fresh.record_id == customer.id
        assert fresh.dms_record["first_name"] == "Patricia"  # compared with the DMS's current record
    page = show(client, "customer", customer.id, new_wizard)
    assert "first_name" in {row["data-field"] for row in page.select("tr[data-field]")}
    # Close / Cancel lead back to the Failed pushes list with its filter.
    assert fresh.return_to == "/integrations/failed/?brand=Ford"
    # It left the failed list (and a second Retry changes nothing).
    assert not soup(client.get("/integrations/failed/")).select(f"#push-{message.id}")
    again = client.post(f"/integrations/failed/{message.id}/retry?brand=Ford")
    assert again.status_code == 303 and again.headers["Location"].endswith("/integrations/failed/?brand=Ford")
