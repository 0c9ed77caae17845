"""Related RO numbers (seed 002): fetched from the real sandbox DMS on export, on manual close
and on auto-close; never when disabled or unsupported; DMS failures retried, then Retry;
the numbers shown in every place the seed lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from flask import render_template
from sqlalchemy.orm import selectinload

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.fixtures import ALTERNATE, ORIGINAL
from webapp.extensions import db
from webapp.models import Case, CaseStatus, DmsRecord, Location, LookupTrigger, RelatedLookupStatus, Role, User, utcnow
from webapp.services import retry_policy


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch):
    """Keep the transient-failure backoff short (the delays are not what is tested)."""

    monkeypatch.setattr(retry_policy, "RELATED_RO_LOOKUPS", replace(retry_policy.RELATED_RO_LOOKUPS, first=0.01))


def _case(app, case_id) -> Case:
    with app.app_context():
        case = db.session.get(Case, case_id, options=[selectinload(Case.related_ros)])  # read once detached
        db.session.expunge(case)
        return case


def _lookups_queued() -> int:
    from webapp.services.queues import LOOKUPS, get_queue

    return get_queue(LOOKUPS).count


def test_export_fetches_related_ros_and_shows_them_in_additional_info(app, client, auth, karmak, run_jobs):
    auth.login(karmak["manager"].email, PASSWORD)
    case_id = karmak["case"].id
    response = client.post(f"/cases/{case_id}/export")
    assert response.status_code == 303
    case = _case(app, case_id)
    assert case.exported_at is not None
    assert case.related_lookup_status == RelatedLookupStatus.PENDING
    assert case.related_lookup_trigger == LookupTrigger.EXPORT
    # While the job waits, the page says so and polls a self-replacing fragment.
    page = soup(client.get(f"/cases/{case_id}"))
    region = page.select_one("#additional-info .related-ros")
    assert "Checking the DMS…" in region.text
    assert region["hx-trigger"] == "load delay:1s" and region["hx-swap"] == "outerHTML"
    assert region["hx-get"] == f"/cases/{case_id}/related-ros"

    run_jobs()
    case = _case(app, case_id)
    assert case.related_lookup_status == RelatedLookupStatus.DONE
    assert case.related_ro_numbers == [ALTERNATE]  # open in the DMS, returned all the same
    fragment = soup(client.get(f"/cases/{case_id}/related-ros", htmx=True))
    assert not fragment.select_one(".related-ros").has_attr("hx-trigger"), "polling stops when done"
    assert [n.text for n in fragment.select(".related-ro")] == [ALTERNATE]
    page = soup(client.get(f"/cases/{case_id}"))
    info = page.select_one("#additional-info")
    assert info.select_one(".original-ro strong").text == ORIGINAL  # next to the original RO number
    assert [n.text for n in info.select(".related-ro")] == [ALTERNATE]


def test_manual_close_fetches_again(app, client, auth, karmak, run_jobs):
    auth.login(karmak["manager"].email, PASSWORD)
    case_id = karmak["case"].id
    client.post(f"/cases/{case_id}/export")
    run_jobs()
    with app.app_context():  # forget the numbers, so only the close can bring them back
        case = db.session.get(Case, case_id)
        case.related_ros.clear()
        db.session.commit()
    assert client.post(f"/cases/{case_id}/close").status_code == 303
    case = _case(app, case_id)
    assert case.status == CaseStatus.CLOSED and case.closed_by_id == karmak["manager"].id
    assert case.related_lookup_trigger == LookupTrigger.CLOSE
    assert case.related_lookup_status == RelatedLookupStatus.PENDING
    run_jobs()
    case = _case(app, case_id)
    assert case.related_ro_numbers == [ALTERNATE]
    assert case.related_lookup_status == RelatedLookupStatus.DONE


def _mirror_ro(app, location_id, ro_number, status):
    with app.app_context():
        db.session.add(
            DmsRecord(
                location_id=location_id,
                data_type="repair_orders",
                dms_id=ro_number,
                ro_number=ro_number,
                content_hash="x" * 40,
                payload={"ro_number": ro_number, "status": status, "lines": []},
            )
        )
        db.session.commit()


def _idle(app, case_id, days):
    with app.app_context():
        db.session.get(Case, case_id).last_activity_at = utcnow() - timedelta(days=days)
        db.session.commit()


def test_auto_close_closes_by_the_location_rule_and_fetches_related_ros(app, make, karmak, run_jobs):
    from jobs.cases import auto_close_cases

    loc, asset = karmak["location"], karmak["asset"]
    with app.app_context():
        row = db.session.get(Location, loc.id)
        row.case_auto_close_days = 3
        db.session.commit()
    due = karmak["case"]  # RO closed in the DMS, idle 5 days
    _mirror_ro(app, loc.id, ORIGINAL, "closed")
    _idle(app, due.id, 5)
    recent = make.case(loc, asset, ro_number="100009")  # RO closed but touched yesterday
    _mirror_ro(app, loc.id, "100009", "invoiced")
    _idle(app, recent.id, 1)
    ro_open = make.case(loc, asset, ro_number=ALTERNATE)  # idle, but its RO is still open
    _mirror_ro(app, loc.id, ALTERNATE, "open")
    _idle(app, ro_open.id, 10)

    with app.app_context():
        assert auto_close_cases() == {"locations": 1}
    run_jobs()  # the per-location auto-close job, then the lookup it queued
    closed = _case(app, due.id)
    assert closed.status == CaseStatus.CLOSED and closed.closed_automatically and closed.closed_by_id is None
    assert closed.related_lookup_trigger == LookupTrigger.AUTO_CLOSE
    assert closed.related_ro_numbers == [ALTERNATE]
    assert _case(app, recent.id).status == CaseStatus.OPEN
    assert _case(app, ro_open.id).status == CaseStatus.OPEN
    # Run again: nothing more to close, nothing re-fetched.
    with app.app_context():
        from jobs.cases import auto_close_location

        assert auto_close_location(loc.id) == {"closed": 0}


def test_auto_close_rule_without_closed_ro_requirement(app, make, karmak, run_jobs):
    from jobs.cases import auto_close_location

    loc = karmak["location"]
    with app.app_context():
        row = db.session.get(Location, loc.id)
        row.case_auto_close_days, row.case_auto_close_requires_closed_ro = 2, False
        db.session.commit()
    _idle(app, karmak["case"].id, 3)
    with app.app_context():
        assert auto_close_location(loc.id) == {"closed": 1}
    assert _case(app, karmak["case"].id).closed_automatically


def test_disabled_setting_means_no_lookup(app, client, auth, karmak, run_jobs):
    with app.app_context():
        db.session.get(Location, karmak["location"].id).related_ro_enabled = False
        db.session.commit()
    auth.login(karmak["manager"].email, PASSWORD)
    case_id = karmak["case"].id
    client.post(f"/cases/{case_id}/export")
    client.post(f"/cases/{case_id}/close")
    assert _lookups_queued() == 0
    case = _case(app, case_id)
    assert case.exported_at is not None and case.status == CaseStatus.CLOSED
    assert case.related_lookup_status == RelatedLookupStatus.NOT_REQUESTED
    region = soup(client.get(f"/cases/{case_id}")).select_one("#additional-info .related-ros")
    assert "Not enabled for this location" in region.text and not region.has_attr("hx-trigger")


@pytest.mark.parametrize("vendor_fields", [{"dms_vendor": "cdk"}, {"dms_vendor": None}], ids=["cdk", "no-dms"])
def test_vendor_without_the_capability(app, client, auth, make, vendor_fields):
    # Even if the flag were somehow on, a CDK location (or one with no DMS) never looks up.
    loc = make.location(related_ro_enabled=True, **vendor_fields)
    manager = make.user(Role.SERVICE_MANAGER, loc)
    case = make.case(loc, make.asset(loc))
    auth.login(manager.email, PASSWORD)
    client.post(f"/cases/{case.id}/export")
    assert _lookups_queued() == 0
    assert _case(app, case.id).related_lookup_status == RelatedLookupStatus.NOT_REQUESTED
    # The setting is shown disabled with the reason...
    page = soup(client.get("/settings/external-interfaces"))
    select = page.select_one("select#related_ro_enabled")
    assert select.has_attr("disabled")
    help_text = page.select_one("#related_ro_enabled-help").text
    assert "Not available" in help_text and ("does not offer related RO numbers" in help_text or "No DMS" in help_text)
    # ...and a forged POST cannot switch it on (the save still goes through for the rest).
    response = client.post(
        "/settings/external-interfaces",
        data={"write_back_mode": "portal_only", "sync_mode": "review", "related_ro_enabled": "enabled"},
    )
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(Location, loc.id).related_ro_enabled is False


def test_manager_enables_the_setting_for_karmak(app, client, auth, make, sandbox):
    loc = make.location(**dms_settings(sandbox, "beta-karmak"))
    auth.login(make.user(Role.SERVICE_MANAGER, loc).email, PASSWORD)
    page = soup(client.get("/settings/external-interfaces"))
    fieldset = [f for f in page.select("fieldset") if "Other Optional Settings" in f.legend.text][0]
    select = fieldset.select_one("select#related_ro_enabled")
    assert not select.has_attr("disabled")
    assert [o.text for o in select.select("option")] == ["DISABLED", "ENABLED"]
    assert fieldset.find_parent("form").select_one("button[type=submit]").text.strip() == "Save External Interfaces"
    response = client.post(
        "/settings/external-interfaces",
        data={
            "write_back_mode": "portal_only",
            "sync_mode": "review",
            "related_ro_enabled": "enabled",
            "case_auto_close_days": "14",
            "case_auto_close_requires_closed_ro": "y",
        },
    )
    assert response.status_code == 303
    with app.app_context():
        row = db.session.get(Location, loc.id)
        assert row.related_ro_enabled is True
        assert row.case_auto_close_days == 14 and row.case_auto_close_requires_closed_ro is True
    bad = client.post(
        "/settings/external-interfaces",
        data={
            "write_back_mode": "portal_only",
            "sync_mode": "review",
            "related_ro_enabled": "enabled",
            "case_auto_close_days": "0",
        },
    )
    assert bad.status_code == 422
    assert soup(bad).select_one("#case_auto_close_days-error")


def test_transient_failures_are_retried_with_backoff(app, client, auth, karmak, sandbox, run_jobs):
    auth.login(karmak["manager"].email, PASSWORD)
    sandbox.control.inject_fault("503", count=2, account="beta-karmak")
    client.post(f"/cases/{karmak['case'].id}/export")
    run_jobs()
    case = _case(app, karmak["case"].id)
    assert case.related_lookup_status == RelatedLookupStatus.DONE
    assert case.related_ro_numbers == [ALTERNATE]
    assert case.related_lookup_attempts == 3


def test_failure_is_readable_and_retry_works(app, client, auth, karmak, sandbox, run_jobs):
    auth.login(karmak["manager"].email, PASSWORD)
    case_id = karmak["case"].id
    sandbox.control.inject_fault("503", count=50, account="beta-karmak")
    client.post(f"/cases/{case_id}/export")
    run_jobs()
    case = _case(app, case_id)
    assert case.related_lookup_status == RelatedLookupStatus.FAILED
    region = soup(client.get(f"/cases/{case_id}")).select_one("#additional-info .related-ros")
    error = region.select_one(".related-ros-error strong").text
    assert "Stopped after 4 tries: the DMS kept answering with an error on its side" in error
    assert region.select_one(".related-ros-error .help").text.strip()  # the fix hint
    assert not region.has_attr("hx-trigger")
    retry = region.select_one("form button")
    assert retry.text == "Retry"

    sandbox.control.clear_faults()
    response = client.post(f"/cases/{case_id}/related-ros/retry", htmx=True)
    assert "Checking the DMS…" in soup(response).select_one(".related-ros").text
    assert _case(app, case_id).related_lookup_trigger == LookupTrigger.RETRY
    run_jobs()
    case = _case(app, case_id)
    assert case.related_lookup_status == RelatedLookupStatus.DONE and case.related_ro_numbers == [ALTERNATE]


def test_rejected_credentials_fail_with_the_fix_hint(app, client, auth, karmak, run_jobs):
    with app.app_context():
        db.session.get(Location, karmak["location"].id).dms_credentials = {"api_key": "wrong-key"}
        db.session.commit()
    auth.login(karmak["manager"].email, PASSWORD)
    client.post(f"/cases/{karmak['case'].id}/close")
    run_jobs()
    case = _case(app, karmak["case"].id)
    assert case.related_lookup_status == RelatedLookupStatus.FAILED
    assert "credentials" in case.related_lookup_error
    assert case.related_lookup_fix_hint


# --------------------------------------------------------------------------- every place they appear
@pytest.fixture()
def looked_up(app, make, karmak, run_jobs):
    """Case on RO 100004 with its related number 100005 fetched; another case on RO 100005 at
    the same location (so 100005 links to it), and one on 100005 at another location."""
    from jobs.cases import store_related_ros

    loc = karmak["location"]
    linked = make.case(loc, karmak["asset"], ro_number=ALTERNATE)
    other_loc = make.location()
    make.case(other_loc, make.asset(other_loc), ro_number="100099")
    with app.app_context():
        case = db.session.get(Case, karmak["case"].id)
        store_related_ros(case, [ALTERNATE, "100999", ALTERNATE])  # a duplicate is dropped
        case.related_lookup_status = RelatedLookupStatus.DONE
        db.session.commit()
    return {**karmak, "linked": linked}


def _numbers(container):
    return [(n.text, n.get("href")) for n in container.select(".related-ro")]


def test_numbers_on_case_details_link_to_other_cases_at_the_location(client, auth, looked_up):
    auth.login(looked_up["manager"].email, PASSWORD)
    page = soup(client.get(f"/cases/{looked_up['case'].id}"))
    assert _numbers(page.select_one("#additional-info")) == [
        (ALTERNATE, f"/cases/{looked_up['linked'].id}"),  # another case has this RO: a link
        ("100999", None),
    ]  # no case here: plain text


def test_numbers_in_the_optional_table_column(client, auth, looked_up):
    auth.login(looked_up["manager"].email, PASSWORD)
    page = soup(client.get("/cases"))
    assert not page.select('th[data-column="related_ros"]'), "optional column is off by default"
    client.post("/cases/columns", data={"columns": ["ro_number", "related_ros", "status"]})
    for view in ("all", "mine", "watching"):
        with client.application.app_context():
            user = db.session.get(User, looked_up["manager"].id)
            case = db.session.get(Case, looked_up["case"].id)
            case.assigned_to_id = user.id
            if user not in case.watchers:
                case.watchers.append(user)
            db.session.commit()
        page = soup(client.get(f"/cases?view={view}"))
        assert [th.text.strip() for th in page.select("thead th[data-column]")] == [
            "RO Number",
            "Related RO Number(s)",
            "Status",
        ]
        row = page.select_one(f'tr[data-case-id="{looked_up["case"].id}"]')
        assert _numbers(row.select_one('td[data-column="related_ros"]')) == [
            (ALTERNATE, f"/cases/{looked_up['linked'].id}"),
            ("100999", None),
        ]
    client.post("/cases/columns", data={"columns": ["ro_number", "status"]})
    assert not soup(client.get("/cases")).select('[data-column="related_ros"]')


def test_search_finds_a_case_by_related_ro_number_and_shows_them(client, auth, looked_up):
    auth.login(looked_up["manager"].email, PASSWORD)
    response = client.get("/cases?q=100999", htmx=True)
    results = soup(response)
    assert results.select_one("#case-results") and not results.select_one("h1"), "live search: the block only"
    rows = results.select("tbody tr")
    assert [r["data-case-id"] for r in rows] == [str(looked_up["case"].id)]
    assert _numbers(rows[0].select_one('td[data-column="related_ros"]'))[1] == ("100999", None)


def test_asset_cases_section_has_a_related_ro_row(app, looked_up):
    from flask_login import login_user

    from webapp.cases.queries import cases_for_asset
    from webapp.models import Asset

    with app.test_request_context():
        login_user(db.session.get(User, looked_up["manager"].id))
        asset = db.session.get(Asset, looked_up["asset"].id)
        html = render_template("cases/_asset_cases.html", asset=asset, cases=cases_for_asset(asset))
    from bs4 import BeautifulSoup

    section = BeautifulSoup(html, "html.parser").select_one("#asset-cases")
    assert section.select_one("h2").text == "Cases"
    row = section.select_one(f'tr.related-ro-row[data-case-id="{looked_up["case"].id}"]')
    assert row.select_one("th").text == "Related RO Number(s)"
    assert _numbers(row) == [(ALTERNATE, f"/cases/{looked_up['linked'].id}"), ("100999", None)]
    linked_row = section.select_one(f'tr.related-ro-row[data-case-id="{looked_up["linked"].id}"]')
    assert linked_row.select_one("td").text.strip() == "—"


def test_field_manager_sees_them_in_case_information(client, auth, make, looked_up):
    field = make.user(Role.FIELD_MANAGER, None, covers=[looked_up["location"]])
    auth.login(field.email, PASSWORD)
    page = soup(client.get(f"/cases/{looked_up['case'].id}"))
    assert _numbers(page.select_one("#case-information")) == [
        (ALTERNATE, f"/cases/{looked_up['linked'].id}"),
        ("100999", None),
    ]
    assert not page.select("#additional-info")
    assert not page.select("form[method=post] button:-soup-contains('Retry')")


@pytest.mark.parametrize(
    "role, allowed",
    [
        (Role.GLOBAL_ADMIN, True),
        (Role.SERVICE_MANAGER, True),
        (Role.SERVICE_ADVISOR, False),
        (Role.FIELD_MANAGER, False),
        (Role.REVIEWER, False),
    ],
)
def test_only_an_administrator_or_service_manager_changes_the_setting(app, client, auth, make, sandbox, role, allowed):
    loc = make.location(**dms_settings(sandbox, "beta-karmak"))
    if role == Role.FIELD_MANAGER:
        user = make.user(role, None, covers=[loc])
    elif role == Role.REVIEWER:
        user = make.user(role, None)
    else:
        user = make.user(role, loc)
    auth.login(user.email, PASSWORD)
    response = client.post(
        "/settings/external-interfaces",
        data={"write_back_mode": "portal_only", "sync_mode": "review", "related_ro_enabled": "enabled"},
    )
    if allowed:
        assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    else:
        assert response.status_code == 403
    with app.app_context():
        assert db.session.get(Location, loc.id).related_ro_enabled is allowed
