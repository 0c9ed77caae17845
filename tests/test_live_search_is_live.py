"""Issue 19, items 3, 4 and 11: what the DMS says live wins over the mirror's copy.

Against the sandbox DMS over HTTP: the record is edited in the DMS after the mirror has it.

* "Search the DMS now" shows the live values in place of the mirror's row, and refreshes the
  mirror row through the pull's writer (search columns and index follow).
* "Add from DMS" takes the live record and stamps Last Synced; with the DMS down it uses the
  mirror's copy, says so, and does not stamp Last Synced.
* "Not listed - export as new" is offered only after a search that worked; a stale DMS id is
  never reused; the "Exporting the customer…" line polls until the push is done.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import dms_settings, soup
from tests.factories import PASSWORD
from tests.test_dms_activity import sandbox_customer, setup_workfile, url, workfile_row
from webapp.extensions import db
from webapp.models import Customer, DmsRecord, Location, Role

NEW_LAST_NAME = "Livewire"


@pytest.fixture()
def mirrored(make, app, sandbox):
    """A location on the sandbox's alpha-cdk account; a few DMS customers stored in the mirror
    by the pull's own writer (webapp.services.mirror.store_page), then one of them edited in the DMS."""
    from webapp.services.mirror import store_page

    loc = make.location(name="Alpha Motors", code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    with sandbox.connect("alpha-cdk") as dms:
        page = next(dms.iter_changes("customers", page_size=40))
    customers = [c for c in page.records if c.kind == "person" and c.last_name][:5]
    with app.app_context():
        store_page(db.session, db.session.get(Location, loc.id), "customers", customers)
        db.session.commit()
    record = customers[0]
    sandbox.control.edit_record("alpha-cdk", "customers", record.dms_id, {"last_name": NEW_LAST_NAME})
    return {"loc": loc, "advisor": advisor, "record": record, "sandbox": sandbox}


def _mirror_payload(app, loc_id: int, dms_id: str) -> dict:
    with app.app_context():
        return dict(
            db.session.scalar(
                select(DmsRecord.payload).where(
                    DmsRecord.location_id == loc_id, DmsRecord.data_type == "customers", DmsRecord.dms_id == dms_id
                )
            )
        )


def _rows(response) -> dict:
    return {tr["data-dms-id"]: tr for tr in soup(response).select(".dms-results tbody tr")}


# --------------------------------------------------------------------------- item 3
def test_search_the_dms_now_shows_the_live_values_and_refreshes_the_mirror(app, client, auth, mirrored):
    record, loc = mirrored["record"], mirrored["loc"]
    auth.login(mirrored["advisor"].email, PASSWORD)
    # Before asking the DMS the tab shows the mirror's (now stale) copy.
    stale = _rows(client.get("/customers", query_string={"tab": "dms", "q": record.dms_id}))
    assert record.last_name in stale[record.dms_id].get_text()

    response = client.get("/customers", query_string={"tab": "dms", "q": record.dms_id, "live": "1"})
    rows = soup(response).select(".dms-results tbody tr")
    mine = [tr for tr in rows if tr["data-dms-id"] == record.dms_id]
    assert len(mine) == 1  # replaced in place, not listed twice
    assert NEW_LAST_NAME in mine[0].get_text() and record.last_name not in mine[0].get_text()
    assert mine[0].select_one(".tag").get_text() == "live"
    # The mirror row holds the live record now, and its search index follows it.
    assert _mirror_payload(app, loc.id, record.dms_id)["last_name"] == NEW_LAST_NAME
    found = _rows(client.get("/customers", query_string={"tab": "dms", "q": NEW_LAST_NAME}))
    assert record.dms_id in found and "live" not in found[record.dms_id].get_text()


def test_a_mirror_row_newer_than_the_live_record_is_left_alone(app, mirrored):
    from webapp.search import live

    record, loc = mirrored["record"], mirrored["loc"]
    with app.test_request_context(), mirrored["sandbox"].connect("alpha-cdk") as dms:
        older = dms.fetch_one("customers", record.dms_id)
        db.session.execute(
            DmsRecord.__table__.update()
            .where(DmsRecord.dms_id == record.dms_id)
            .values(dms_modified_at=older.modified_at.replace(year=older.modified_at.year + 1))
        )
        db.session.commit()
        assert live.refresh_mirror(db.session, db.session.get(Location, loc.id), "customers", [older]) == []
    assert _mirror_payload(app, loc.id, record.dms_id)["last_name"] == record.last_name


def test_a_failed_mirror_refresh_never_breaks_the_search(app, client, auth, mirrored, monkeypatch):
    """The refresh is a side effect of a GET: when it fails, the live values are still shown."""
    import webapp.services.mirror

    def broken(*args, **kwargs):
        raise RuntimeError("mirror write refused")

    monkeypatch.setattr(webapp.services.mirror, "store_page", broken)
    record, loc = mirrored["record"], mirrored["loc"]
    auth.login(mirrored["advisor"].email, PASSWORD)
    response = client.get("/customers", query_string={"tab": "dms", "q": record.dms_id, "live": "1"})
    assert response.status_code == 200
    assert NEW_LAST_NAME in _rows(response)[record.dms_id].get_text()
    assert _mirror_payload(app, loc.id, record.dms_id)["last_name"] == record.last_name  # left as it was


# --------------------------------------------------------------------------- item 4
def test_add_from_dms_takes_the_live_record_and_stamps_last_synced(app, client, auth, mirrored):
    record = mirrored["record"]
    auth.login(mirrored["advisor"].email, PASSWORD)
    response = client.post("/customers/add-from-dms", data={"dms_id": record.dms_id, "confirm": "1"}, htmx=True)
    assert response.status_code == 200 and "added to the portal" in soup(response).get_text()
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.dms_id == record.dms_id))
        assert customer.last_name == NEW_LAST_NAME
        assert customer.last_synced_at is not None


def test_add_from_dms_with_the_dms_down_uses_the_copy_says_so_and_does_not_stamp(app, client, auth, mirrored):
    record = mirrored["record"]
    mirrored["sandbox"].control.inject_fault("503", count=20, account="alpha-cdk")
    auth.login(mirrored["advisor"].email, PASSWORD)
    response = client.post("/customers/add-from-dms", data={"dms_id": record.dms_id, "confirm": "1"}, htmx=True)
    mirrored["sandbox"].control.clear_faults()
    assert response.status_code == 200
    notice = soup(response).select_one(".added-from-copy")
    assert notice is not None and "last copy pulled from the DMS" in notice.get_text()
    assert "not marked as synced" in notice.get_text()
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.dms_id == record.dms_id))
        assert customer.last_name == record.last_name  # the copy's value
        assert customer.last_synced_at is None


# --------------------------------------------------------------------------- item 11
def _search(client, workfile, q):
    return soup(
        client.get(url(workfile, "/customer-search") + f"?q={q}", htmx=True, headers={"HX-Target": "customers-results"})
    )


def test_export_as_new_is_offered_only_after_a_search_that_worked(app, client, auth, make, sandbox):
    location, advisor, workfile = setup_workfile(make, sandbox)
    record = sandbox_customer(sandbox)
    auth.login(advisor.email, PASSWORD)
    sandbox.control.inject_fault("503", count=20, account="alpha-cdk")
    failed = _search(client, workfile, record.last_name)
    sandbox.control.clear_faults()
    assert failed.select_one("[role=alert]") is not None
    assert "__new__" not in [i["value"] for i in failed.select("input[name=choice]")]
    assert "export as new" not in failed.get_text()
    worked = _search(client, workfile, record.last_name)
    assert [i["value"] for i in worked.select("input[name=choice]")][-1] == "__new__"


def test_a_dms_id_the_dms_no_longer_has_is_not_reused(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile = setup_workfile(
        make, sandbox, customer_fields={"dms_id": "C9999999", "first_name": "Sharon", "last_name": "Turpin"}
    )
    auth.login(advisor.email, PASSWORD)
    response = client.post(url(workfile, "/customer"), data={"choice": "__new__"}, follow_redirects=True)
    assert "no longer has customer C9999999" in soup(response).get_text()
    assert workfile_row(app, workfile.id).dms_customer_id is None
    with app.app_context():
        assert db.session.get(Customer, workfile.customer_id).dms_id is None
    run_jobs(["pushes"])
    new_id = workfile_row(app, workfile.id).dms_customer_id
    assert new_id and new_id != "C9999999"
    assert sandbox.control.count_created("alpha-cdk")["customers"] == 1


def test_a_dms_id_the_dms_still_has_is_reused(app, client, auth, make, sandbox):
    record = sandbox_customer(sandbox)
    location, advisor, workfile = setup_workfile(
        make, sandbox, customer_fields={"dms_id": record.dms_id}, dms_customer_id=None
    )
    auth.login(advisor.email, PASSWORD)
    client.post(url(workfile, "/customer"), data={"choice": "__new__"})
    assert workfile_row(app, workfile.id).dms_customer_id == record.dms_id
    assert sandbox.control.count_created("alpha-cdk").get("customers", 0) == 0


def test_exporting_the_customer_updates_by_itself_until_done(app, client, auth, make, sandbox, run_jobs):
    location, advisor, workfile = setup_workfile(make, sandbox, customer_fields={"dms_id": None})
    auth.login(advisor.email, PASSWORD)
    client.post(url(workfile, "/customer"), data={"choice": "__new__"})
    state = soup(client.get(url(workfile))).select_one(".dms-export-state")
    assert "Exporting the customer" in state.get_text()
    assert state["aria-live"] == "polite" and "every" in state["hx-trigger"] and state["hx-swap"] == "outerHTML"
    poll = client.get(state["hx-get"], htmx=True)
    assert soup(poll).select_one(".dms-export-state")["hx-trigger"] == state["hx-trigger"]  # still going
    run_jobs(["pushes"])
    done = soup(client.get(state["hx-get"], htmx=True)).select_one(".dms-export-state")
    new_id = workfile_row(app, workfile.id).dms_customer_id
    assert done["data-status"] == "sent" and not done.has_attr("hx-trigger")
    assert new_id and new_id in done.get_text()
