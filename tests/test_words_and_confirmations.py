"""Issue 19, "What the screens say is true": no promised retry where none is scheduled (and when
one is, when); fix hints that name a screen the reader can open or who can act; an empty search and
a filtered Failed pushes list say what they show, and Retry/Dismiss keep the filter; Cancel in
the sync wizards ends the wizard on the server; irreversible one-click actions ask first."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

import connectors
from connectors.vendors import get_profile
from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.test_related_ros import _case
from tests.test_sync_wizard import history, load, outbox, show, start, step
from webapp.extensions import db
from webapp.models import (
    Appointment,
    Customer,
    OutboxMessage,
    RelatedLookupStatus,
    Role,
    RunStatus,
    SyncSession,
    SyncSessionStatus,
)
from webapp.services import retry_policy


def _promises_a_retry(text: str) -> bool:
    text = text.lower()
    return "automatic" in text or "retried" in text or "by itself" in text


def _text(node) -> str:
    return " ".join(node.get_text(" ").split())


# =========================================================================== 8. "retried automatically"
def test_live_search_with_the_dms_down_promises_nothing_and_offers_to_search_again(make, client, auth, sandbox):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(advisor.email, PASSWORD)
    sandbox.control.inject_fault("503", count=5, account="alpha-cdk")
    page = soup(client.get("/customers?q=Smith&tab=dms&live=1"))
    sandbox.control.clear_faults()
    notice = page.select_one(".dms-unreachable")
    assert notice is not None and not _promises_a_retry(_text(notice)), _text(notice)
    assert page.find("a", string="Search the DMS now") is not None  # what the person can do instead


def test_wizard_start_with_the_dms_down_promises_nothing_and_offers_retry(customer_case, client, sandbox):
    location, advisor, customer, payload = customer_case()
    sandbox.control.inject_fault("503", count=5, account="alpha-cdk")
    page = soup(start(client, "customer", customer.id, status=200))
    sandbox.control.clear_faults()
    alert = page.select_one(".alert-error")
    assert alert is not None and not _promises_a_retry(_text(alert)), _text(alert)
    assert page.find("button", string="Retry") is not None


def test_convert_to_ro_with_the_dms_down_promises_nothing_and_says_what_to_do(app, make, client, auth, sandbox):
    from tests.test_dms_activity import setup_workfile, url

    location, advisor, workfile = setup_workfile(make, sandbox)
    auth.login(advisor.email, PASSWORD)
    sandbox.control.inject_fault("503", count=5, account="alpha-cdk")
    response = client.post(url(workfile, "/convert"))
    sandbox.control.clear_faults()
    assert response.status_code == 422
    error = _text(soup(response).select_one(".dms-reservation-error"))
    assert not _promises_a_retry(error), error
    assert "type the DMS Repair ID by hand" in error and "try again" in error.lower()


def test_a_related_ro_lookup_waiting_for_its_next_try_says_when(
    app,
    client,
    auth,
    karmak,
    sandbox,
    run_jobs,
):
    auth.login(karmak["manager"].email, PASSWORD)
    case_id = karmak["case"].id
    sandbox.control.inject_fault("503", count=1, account="beta-karmak")
    client.post(f"/cases/{case_id}/export")
    run_jobs(["lookups"], retries_within=0)  # try 1 fails; try 2 waits for its back-off
    assert _case(app, case_id).related_lookup_status == RelatedLookupStatus.PENDING
    region = soup(client.get(f"/cases/{case_id}/related-ros"))
    waiting = _text(region.select_one(".related-ros-waiting"))
    assert "Try 1 of" in waiting and "did not get through" in waiting
    assert "again by itself in about" in waiting and "(try 2 of" in waiting  # a retry is scheduled: when
    run_jobs(["lookups"])
    case = _case(app, case_id)
    assert case.related_lookup_status == RelatedLookupStatus.DONE and case.related_lookup_error is None


def test_a_related_ro_lookup_that_gave_up_promises_nothing_and_offers_retry(
    app,
    client,
    auth,
    karmak,
    sandbox,
    run_jobs,
    monkeypatch,
):

    monkeypatch.setattr(retry_policy, "RELATED_RO_LOOKUPS", replace(retry_policy.RELATED_RO_LOOKUPS, first=0.01))
    auth.login(karmak["manager"].email, PASSWORD)
    case_id = karmak["case"].id
    sandbox.control.inject_fault("503", count=50, account="beta-karmak")
    client.post(f"/cases/{case_id}/export")
    run_jobs(["lookups"])
    sandbox.control.clear_faults()
    region = soup(client.get(f"/cases/{case_id}/related-ros"))
    error = _text(region.select_one(".related-ros-error"))
    assert not _promises_a_retry(error), error
    assert region.find("button", string="Retry") is not None


def test_a_pull_waiting_for_its_next_try_says_when(app, make, monkeypatch):
    import jobs.pulls
    from connectors import TransientDmsError
    from webapp.models import SyncRun

    location = make.location()
    run = make.sync_run(location, status=RunStatus.RUNNING)
    calls = []
    monkeypatch.setattr(jobs.pulls, "enqueue_run", lambda *a, **k: calls.append(k))
    with app.app_context():
        row = db.session.get(SyncRun, run.id)
        jobs.pulls.retry_later(row, 1, TransientDmsError("DMS answered 503", status=503, retry_after=7))
        assert calls and calls[0]["delay"] == 7
        assert "about 7 seconds" in row.fix_hint and "try 2 of" in row.fix_hint


def test_a_write_back_waiting_for_the_dms_says_when_it_tries_again(app, customer_case, client):
    from datetime import datetime

    from webapp.models import WriteBackMode

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
    step(client, "customer", customer.id, wizard, "apply")
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage)).one()
        message.error_title = "Not sent yet: the DMS could not be reached; the console tries again automatically"
        message.next_attempt_at = datetime(2030, 6, 1, 14, 5, tzinfo=UTC)  # 09:05 in Chicago
        db.session.commit()
    status = soup(client.get(f"/customers/{customer.id}/sync/status?wizard={wizard}", htmx=True))
    assert "(next try at 09:05)" in _text(status)


# =========================================================================== 9. hints name a screen the reader can open
def _no_screen_they_cannot_open(text: str) -> None:
    assert "External Interfaces" not in text and "user profile" not in text and "user settings" not in text, text


def test_live_search_without_a_dms_sends_staff_to_a_global_admin(make, client, auth):
    location = make.location(dms_vendor=None)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(advisor.email, PASSWORD)
    for path in ("/customers?q=Smith&tab=dms&live=1", "/assets?q=1FT&tab=dms&live=1"):
        page = soup(client.get(path))
        text = " ".join(_text(n) for n in page.select(".alert-warning, .dms-unreachable"))
        assert "Global Admin" in text and "Admin → Locations" in text, text
        _no_screen_they_cannot_open(text)


def test_live_lookup_hints_name_admin_locations():
    from webapp.search import live

    hints = [live.NO_DMS_HINT, live._failure(ValueError("incomplete")).fix_hint]
    for hint in hints:
        assert "Global Admin" in hint and "Admin → Locations" in hint
        _no_screen_they_cannot_open(hint)


@pytest.mark.parametrize("vendor", tuple(connectors.VENDOR_CODES))
def test_advisor_dms_id_hints_name_the_advisors_page_and_who_uses_it(vendor):
    from webapp.navigation import NAV_ITEMS
    from webapp.permissions import ROLE_PERMISSIONS, Permission

    profile = get_profile(vendor)
    for suffix in ("ADVISOR-MISSING", "ADVISOR-INVALID"):
        code = profile.code_for(suffix)
        if code not in profile.catalogue:
            continue
        hint = profile.catalogue[code].fix_hint
        _no_screen_they_cannot_open(hint)
        assert "Service Manager" in hint and "Advisors page" in hint, hint
    # ... and a Service Manager can open the Advisors page (advisors cannot: the hint names who can).
    advisors_item = next(item for item in NAV_ITEMS if item.endpoint == "advisors.index")
    assert advisors_item.label == "Advisors"
    assert advisors_item.permission in ROLE_PERMISSIONS[Role.SERVICE_MANAGER]
    assert Permission.MANAGE_LOCATION_SETTINGS not in ROLE_PERMISSIONS[Role.SERVICE_ADVISOR]


def test_every_catalogue_hint_names_only_screens_its_readers_can_open():
    for vendor in connectors.VENDOR_CODES:
        for entry in get_profile(vendor).catalogue.values():
            _no_screen_they_cannot_open(entry.fix_hint)
            if "Admin → Locations" in entry.fix_hint:
                assert "Global Admin" in entry.fix_hint, entry.fix_hint


def test_background_no_dms_hints_name_who_sets_the_connection_up(app, make):
    from jobs.pushes import _Connection  # the lazily opened DMS connection of a delivery

    location = make.location(dms_vendor=None)
    with app.app_context():
        with pytest.raises(connectors.NotSupportedError) as caught:
            _Connection(location).get()
    assert "Global Admin" in caught.value.fix_hint and "Admin → Locations" in caught.value.fix_hint


# =========================================================================== 14. counts, empty filters, kept filters
def test_an_empty_search_lists_records_instead_of_claiming_matches(make, client, auth, monkeypatch):
    from webapp.search import engine

    location = make.location()
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    for n in range(5):
        make.customer(location, first_name=f"Lee{n}", last_name="Listing")
    auth.login(advisor.email, PASSWORD)
    monkeypatch.setattr(engine, "CANDIDATE_LIMIT", 3)
    count = _text(soup(client.get("/customers")).select_one(".result-count"))
    assert "matches" not in count and "More than" not in count, count
    # A listing is counted exactly and pages to its last record, whatever a search's cap (issue 19).
    assert count == "5 records.", count
    monkeypatch.setattr(engine, "CANDIDATE_LIMIT", 100)
    assert _text(soup(client.get("/customers")).select_one(".result-count")) == "5 records."
    searched = _text(soup(client.get("/customers?q=Listing")).select_one(".result-count"))
    assert searched == "5 matches."


@pytest.fixture()
def failed_pushes(make):
    location = make.location(brands=["Ford", "Kenworth"])
    manager = make.user(Role.SERVICE_MANAGER, location)
    amy = make.user(Role.SERVICE_ADVISOR, location, name="Amy Advisor", advisor_dms_id="A1")
    bob = make.user(Role.SERVICE_ADVISOR, location, name="Bob Booker", advisor_dms_id="B2")
    customer = make.customer(location)
    appointment = make.appointment(location, customer, advisor=amy, brand="Ford")
    push = make.failed_push(location, appointment, brand="Ford")
    return {"location": location, "manager": manager, "amy": amy, "bob": bob, "push": push, "appointment": appointment}


def test_a_filter_that_hides_failures_does_not_say_nothing_is_waiting(client, auth, failed_pushes):
    auth.login(failed_pushes["manager"].email, PASSWORD)
    bob = failed_pushes["bob"]
    # Bob has no failed push of his own, but someone must have booked with him to offer him as a filter.
    page = soup(client.get(f"/integrations/failed/?advisor_id={bob.id}"))
    text = _text(page.select_one("#failed-results"))
    assert "Nothing is waiting" not in text and "every change reached the DMS" not in text, text
    assert "No failed pushes match this filter" in text and "1 failed push is waiting" in text
    assert page.select_one("#failed-results a")["href"] == "/integrations/failed/"  # clear the filter
    page = soup(client.get("/integrations/failed/?brand=Kenworth"))
    assert "No failed pushes match this filter" in _text(page.select_one("#failed-results"))
    # Without a filter the old sentence is still the truth when nothing failed.
    dismissed = soup(client.get(f"/integrations/failed/?show=dismissed&advisor_id={bob.id}"))
    assert "No dismissed pushes match this filter" in _text(dismissed.select_one("#failed-results"))


def test_retry_and_dismiss_keep_the_filter(app, client, auth, failed_pushes):
    auth.login(failed_pushes["manager"].email, PASSWORD)
    push, amy = failed_pushes["push"], failed_pushes["amy"]
    query = f"advisor_id={amy.id}&brand=Ford"
    page = soup(client.get(f"/integrations/failed/?{query}"))
    row = page.select_one(f"#push-{push.id}")
    retry_action = row.select_one("form[action*='/retry']")["action"]
    dismiss_action = row.select_one("form[action*='/dismiss']")["action"]
    for action in (retry_action, dismiss_action):
        assert parse_qs(urlparse(action).query) == {"advisor_id": [str(amy.id)], "brand": ["Ford"]}, action

    retried = client.post(retry_action)
    assert retried.status_code == 303
    assert parse_qs(urlparse(retried.headers["Location"]).query) == {"advisor_id": [str(amy.id)], "brand": ["Ford"]}

    invalid = client.post(dismiss_action, data={"reason": ""})  # re-rendered with the filter still set
    assert invalid.status_code == 422
    assert soup(invalid).select_one("#advisor_id option[selected]")["value"] == str(amy.id)
    dismissed = client.post(dismiss_action, data={"reason": "Booked by phone in the DMS"})
    assert dismissed.status_code == 303
    assert parse_qs(urlparse(dismissed.headers["Location"]).query) == {"advisor_id": [str(amy.id)], "brand": ["Ford"]}
    # Only the filter is carried: nothing else from the query string ends up in the redirect.
    other = client.post(f"/integrations/failed/{push.id}/retry?show=dismissed&next=https://evil.example/")
    assert other.headers["Location"] == "/integrations/failed/?show=dismissed"


# =========================================================================== 17. wizard Cancel ends it on the server
def test_cancel_is_a_csrf_post_with_an_indicator(customer_case, client):
    location, advisor, customer, payload = customer_case()
    wizard = start(client, "customer", customer.id)
    page = show(client, "customer", customer.id, wizard)
    assert page.find("a", string="Cancel") is None
    cancel = page.find("button", string="Cancel")
    assert cancel is not None and cancel["type"] == "submit" and cancel["name"] == "action"
    form = cancel.find_parent("form")
    assert form["method"] == "post" and form["hx-post"] == form["action"]
    assert form.select_one("input[name=csrf_token]") and form.select_one("input[name=wizard]")["value"] == str(wizard)
    assert page.select_one(form["hx-indicator"] + ".htmx-indicator") is not None

    refused = client.post(
        f"/customers/{customer.id}/sync/step", data={"wizard": wizard, "action": "cancel"}, csrf=False
    )
    assert refused.status_code == 400  # no token, no cancel


def test_a_cancelled_wizard_cannot_be_applied(app, customer_case, client):
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
    )  # now on Confirm, with Apply live
    response = client.post(
        f"/customers/{customer.id}/sync/step", data={"wizard": wizard, "action": "cancel"}, htmx=True
    )
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/customers/{customer.id}"
    with app.app_context():
        assert db.session.get(SyncSession, wizard).status == SyncSessionStatus.CANCELLED
    flashes = _text(soup(client.get(f"/customers/{customer.id}")).select_one(".flashes"))
    assert "cancelled" in flashes and "nothing was changed" in flashes

    # Back (or a reload) shows it cancelled, not the Confirm step with Apply.
    page = show(client, "customer", customer.id, wizard)
    assert page.select_one(".sync-cancelled") is not None and page.find("button", string="Apply") is None
    # Apply posted from the old Confirm page anyway: a clear message, nothing written.
    before = load(app, Customer, customer.id)
    page = step(client, "customer", customer.id, wizard, "apply", status=422)
    assert "This sync was cancelled, so nothing was applied" in _text(page.select_one(".wizard-error"))
    after = load(app, Customer, customer.id)
    assert (after.last_name, after.city, after.last_synced_at, after.version) == (
        before.last_name,
        before.city,
        before.last_synced_at,
        before.version,
    )
    assert history(app, "customer", customer.id) == [] and history(app, "customer", customer.id, syncs=True) == []
    assert outbox(app) == []
    with app.app_context():
        assert db.session.get(SyncSession, wizard).status == SyncSessionStatus.CANCELLED
    # A plain (no-JS) Cancel redirects the same way.
    again = start(client, "customer", customer.id)
    plain = client.post(f"/customers/{customer.id}/sync/step", data={"wizard": again, "action": "cancel"})
    assert plain.status_code == 303 and plain.headers["Location"] == f"/customers/{customer.id}"


def test_apply_itself_refuses_a_cancelled_wizard(app, customer_case, client):
    from webapp.sync_wizard import wizard as steps

    location, advisor, customer, payload = customer_case()
    wizard_id = start(client, "customer", customer.id)
    with app.test_request_context():
        from flask_login import login_user

        from webapp.models import Location, User

        login_user(db.session.get(User, advisor.id))
        wizard = db.session.get(SyncSession, wizard_id)
        wizard.status = SyncSessionStatus.CANCELLED
        db.session.commit()
        record = db.session.get(Customer, customer.id)
        with pytest.raises(steps.WizardError, match="cancelled"):
            steps.apply(wizard, record, db.session.get(Location, location.id), advisor.id)


# =========================================================================== 18. confirmation before irreversible actions
def _confirm_script_is_referenced_and_nothing_is_inline(page) -> None:
    scripts = page.find_all("script")
    assert all(s.get("src") for s in scripts), "inline script"
    assert any(s["src"].split("?")[0].endswith("/static/js/confirm.js") for s in scripts)
    for tag in page.find_all(True):
        assert not [a for a in tag.attrs if a.startswith("on")], tag.name


def test_the_confirm_script_is_served(client):
    response = client.get("/static/js/confirm.js")
    assert response.status_code == 200 and "javascript" in response.content_type
    body = response.get_data(as_text=True)
    assert "data-confirm" in body and "window.confirm" in body and "eval(" not in body


def test_cancel_appointment_close_case_and_void_receipt_ask_first(app, make, client, auth):
    from tests.test_dms_activity import setup_workfile, url

    location, advisor, workfile = setup_workfile(make)
    customer = make.customer(location)
    asset = make.asset(location, customer)
    appointment = make.appointment(location, customer, asset, advisor)
    case = make.case(location, asset)
    make.payment(workfile)
    auth.login(advisor.email, PASSWORD)

    page = soup(client.get(f"/appointments/{appointment.id}"))
    form = page.select_one(f"form[action='/appointments/{appointment.id}/cancel']")
    assert "Cancel this appointment?" in form["data-confirm"]
    _confirm_script_is_referenced_and_nothing_is_inline(page)

    page = soup(client.get(f"/cases/{case.id}"))
    form = page.select_one(f"form[action='/cases/{case.id}/close']")
    assert form["data-confirm"].startswith(f"Close case {load(app, type(case), case.id).number}?")
    _confirm_script_is_referenced_and_nothing_is_inline(page)

    page = soup(client.get(url(workfile) + "?tab=payments"))
    form = page.select_one("form[action*='/void']")
    assert form["data-confirm"].startswith("Void the receipt of 1,000.00?")
    _confirm_script_is_referenced_and_nothing_is_inline(page)

    # The server does not depend on the script: a post without it still works.
    assert client.post(f"/appointments/{appointment.id}/cancel").status_code == 303
    with app.app_context():
        assert db.session.get(Appointment, appointment.id).is_cancelled


def test_dismiss_a_push_and_cancel_a_run_ask_first(make, client, auth, failed_pushes):
    auth.login(failed_pushes["manager"].email, PASSWORD)
    page = soup(client.get("/integrations/failed/"))
    form = page.select_one(f"#push-{failed_pushes['push'].id} form.dismiss-form")
    assert "cannot be undone" in form["data-confirm"]
    _confirm_script_is_referenced_and_nothing_is_inline(page)

    run = make.sync_run(failed_pushes["location"], status=RunStatus.RUNNING)
    page = soup(client.get(f"/integrations/runs/{run.id}"))
    form = page.select_one(f"form[hx-post='/integrations/runs/{run.id}/cancel']")
    assert form["hx-confirm"].startswith("Stop this run")
