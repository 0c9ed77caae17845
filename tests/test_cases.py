"""Cases: the All / My / Watching tables, case details, export, close, watching, and the
Field Manager's read-only view across the locations they cover."""

from __future__ import annotations

import pytest

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import Case, CaseColumnPreference, CaseStatus, DmsRecord, Role


@pytest.fixture()
def shop(make):
    """A location with a manager, an advisor and three cases on two assets."""
    loc = make.location(name="Alpha Motors")
    manager = make.user(Role.SERVICE_MANAGER, loc, name="Morgan Manager")
    advisor = make.user(Role.SERVICE_ADVISOR, loc, name="Avery Advisor")
    customer = make.customer(loc, first_name="Dana", last_name="Driver")
    truck = make.asset(loc, customer, make="Freightliner", model="Cascadia", vin="1FUJGLDR5CLBP8834")
    car = make.asset(loc, None)
    cases = [
        make.case(loc, truck, ro_number="200001", assigned_to_id=advisor.id),
        make.case(loc, truck, ro_number="200002"),
        make.case(loc, car, ro_number="200003", assigned_to_id=manager.id),
    ]
    return {"location": loc, "manager": manager, "advisor": advisor, "cases": cases, "truck": truck, "car": car}


def _row_ids(response) -> list[int]:
    return [int(tr["data-case-id"]) for tr in soup(response).select("tbody tr[data-case-id]")]


def test_all_my_and_watching_tables(client, auth, shop, make):
    other = make.location()
    make.case(other, make.asset(other))  # never shown: another location
    auth.login(shop["advisor"].email, PASSWORD)
    ids = [c.id for c in shop["cases"]]
    assert sorted(_row_ids(client.get("/cases"))) == sorted(ids)
    assert _row_ids(client.get("/cases?view=mine")) == [ids[0]]
    assert _row_ids(client.get("/cases?view=watching")) == []
    page = soup(client.get("/cases?view=watching"))
    assert page.select_one('nav.case-tabs a[aria-current="page"]').text == "Watching Cases"
    assert "not watching any case" in page.select_one("#case-results").text


def test_watch_and_unwatch_from_the_table_and_the_case(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    case_id = shop["cases"][1].id
    row = soup(client.get("/cases")).select_one(f'tr[data-case-id="{case_id}"]')
    form = row.select_one("form.watch-form")
    assert form["hx-post"] == f"/cases/{case_id}/watch" and form.select_one("button")["aria-pressed"] == "false"
    swapped = soup(client.post(form["hx-post"], data={"compact": "1"}, htmx=True))
    assert swapped.select_one("form.watch-form")["action"] == f"/cases/{case_id}/unwatch"
    assert swapped.select_one("button")["aria-pressed"] == "true"
    assert _row_ids(client.get("/cases?view=watching")) == [case_id]
    # From the case page, without htmx: back to the case.
    response = client.post(f"/cases/{case_id}/unwatch", data={"next": f"/cases/{case_id}"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/cases/{case_id}")
    assert _row_ids(client.get("/cases?view=watching")) == []
    for off_site in ("//evil.example", "/\t/evil.example", "/%09/evil.example", "/\\evil.example"):
        assert (
            client.post(f"/cases/{case_id}/watch", data={"next": off_site})
            .headers["Location"]
            .endswith(f"/cases/{case_id}")
        ), off_site


def test_search_sort_and_paging(app, client, auth, shop, make, monkeypatch):
    auth.login(shop["manager"].email, PASSWORD)
    ids = [c.id for c in shop["cases"]]
    assert _row_ids(client.get("/cases?q=200002")) == [ids[1]]  # RO number
    assert sorted(_row_ids(client.get("/cases?q=cascadia"))) == ids[:2]  # asset
    assert sorted(_row_ids(client.get("/cases?q=driver"))) == ids[:2]  # customer
    assert _row_ids(client.get(f"/cases?q=CS-{ids[2]:06d}")) == [ids[2]]  # case number
    assert "No case matches" in soup(client.get("/cases?q=nothing-like-this")).text
    assert _row_ids(client.get("/cases?sort=ro_number&dir=asc")) == ids
    assert _row_ids(client.get("/cases?sort=ro_number&dir=desc")) == ids[::-1]
    header = soup(client.get("/cases?sort=ro_number&dir=asc")).select_one('th[data-column="ro_number"] a')
    assert "dir=desc" in header["href"]  # clicking again reverses

    import webapp.cases.queries as queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    first = client.get("/cases?sort=number&dir=asc")
    assert _row_ids(first) == ids[:2]
    pager = soup(first).select_one("nav.pager")
    assert "Page 1 of 2" in pager.text
    second = client.get(pager.select_one("a[rel=next]")["href"])
    assert _row_ids(second) == ids[2:]


def test_column_choice_is_remembered_per_user(app, client, auth, shop):
    auth.login(shop["manager"].email, PASSWORD)
    default = [th["data-column"] for th in soup(client.get("/cases")).select("thead th[data-column]")]
    assert "related_ros" not in default and "ro_number" in default
    chooser = soup(client.get("/cases")).select_one("details.column-chooser")
    assert {i["value"] for i in chooser.select("input[name=columns]")} >= {"related_ros", "ro_number"}
    response = client.post("/cases/columns", data={"columns": ["related_ros", "ro_number", "bogus"], "view": "mine"})
    assert response.status_code == 303 and "view=mine" in response.headers["Location"]
    with app.app_context():
        assert db.session.get(CaseColumnPreference, shop["manager"].id).columns == ["ro_number", "related_ros"]
    page = soup(client.get("/cases"))
    assert [th["data-column"] for th in page.select("thead th[data-column]")] == ["ro_number", "related_ros"]
    assert page.select_one("#col-related_ros").has_attr("checked")
    auth.logout()
    auth.login(shop["advisor"].email, PASSWORD)  # someone else keeps the defaults
    assert [th["data-column"] for th in soup(client.get("/cases")).select("thead th[data-column]")] == default


def test_case_details_sections(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    case = shop["cases"][0]
    page = soup(client.get(f"/cases/{case.id}"))
    assert page.select_one("h1").text.startswith(f"Case CS-{case.id:06d}")
    info = page.select_one("#case-information")
    assert info.select_one("h2").text == "Case Information"
    assert info.select_one(".case-ro-number").text == "200001"
    assert "Avery Advisor" in info.text and "Dana Driver" in info.text and "Cascadia" in info.text
    extra = page.select_one("#additional-info")
    assert extra.select_one("h2").text == "Additional Info"
    assert extra.select_one(".original-ro strong").text == "200001"
    assert {b.text.strip() for b in page.select(".case-actions button")} >= {"Export", "Close case"}


def test_edit_export_and_close_by_hand(app, client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    case = shop["cases"][1]
    response = client.post(
        f"/cases/{case.id}/edit",
        data={"assigned_to_id": str(shop["manager"].id), "complaint": "Brakes squeal", "notes": "Parts ordered"},
    )
    assert response.status_code == 303
    bad = client.post(f"/cases/{case.id}/edit", data={"assigned_to_id": "999999", "notes": "x" * 9000})
    assert bad.status_code == 422 and soup(bad).select_one("#notes-error")
    assert client.post(f"/cases/{case.id}/export").status_code == 303
    assert client.post(f"/cases/{case.id}/close").status_code == 303
    page = soup(client.get(f"/cases/{case.id}"))
    flashes = page.select_one("#flashes").text
    assert f"Case CS-{case.id:06d} exported without an RO summary" in flashes
    assert f"Case CS-{case.id:06d} closed." in flashes
    with app.app_context():
        row = db.session.get(Case, case.id)
        assert (row.assigned_to_id, row.complaint, row.notes) == (shop["manager"].id, "Brakes squeal", "Parts ordered")
        assert row.exported_at and row.exported_by_id == shop["advisor"].id
        assert row.status == CaseStatus.CLOSED and row.closed_by_id == shop["advisor"].id
        assert not row.closed_automatically
    info = page.select_one("#case-information")
    assert "by Avery Advisor" in info.text and "Closed" in page.select_one("h1").text
    assert not page.select("form[action$='/close']"), "no Close button on a closed case"
    again = client.post(f"/cases/{case.id}/close")
    assert again.status_code == 303


def test_new_case_from_an_ro_in_the_mirror_or_an_asset(app, client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    with app.app_context():
        db.session.add(
            DmsRecord(
                location_id=shop["location"].id,
                data_type="repair_orders",
                dms_id="300001",
                ro_number="300001",
                content_hash="y" * 40,
                payload={"ro_number": "300001", "status": "open", "vehicle_dms_id": shop["truck"].dms_id},
            )
        )
        db.session.commit()
    response = client.post(
        "/cases/new", data={"ro_number": "300001", "complaint": "No start", "assigned_to_id": str(shop["advisor"].id)}
    )
    assert response.status_code == 303
    with app.app_context():
        case = db.session.scalar(db.select(Case).where(Case.ro_number == "300001"))
        assert case.asset_id == shop["truck"].id and case.customer_id == shop["truck"].customer_id
        assert [w.id for w in case.watchers] == [shop["advisor"].id]  # the opener watches it
    unknown = client.post("/cases/new", data={"ro_number": "999999"})
    assert unknown.status_code == 422 and "No vehicle here matches" in soup(unknown).select_one("#ro_number-error").text
    assert client.post("/cases/new", data={}).status_code == 422
    assert client.post("/cases/new", data={}, htmx=True).status_code == 422  # the form block alone (was a 500)
    from_asset = client.post("/cases/new", data={"ro_number": "999999", "asset_id": str(shop["car"].id)})
    assert from_asset.status_code == 303


# --------------------------------------------------------------------------- field managers
@pytest.fixture()
def coverage(make, shop):
    """A Field Manager covering Alpha and Beta (not Gamma), each with a case."""
    beta, gamma = make.location(name="Beta Trucks"), make.location(name="Gamma Cars")
    beta_case = make.case(beta, make.asset(beta), ro_number="400001")
    gamma_case = make.case(gamma, make.asset(gamma), ro_number="500001")
    field = make.user(Role.FIELD_MANAGER, None, covers=[shop["location"], beta])
    return {"field": field, "beta_case": beta_case, "gamma_case": gamma_case}


def test_field_manager_reads_across_covered_locations_only(client, auth, shop, coverage):
    auth.login(coverage["field"].email, PASSWORD)
    page = client.get("/cases")
    ids = _row_ids(page)
    assert sorted(ids) == sorted([c.id for c in shop["cases"]] + [coverage["beta_case"].id])
    assert not soup(page).select("nav.case-tabs"), "only the All table across locations"
    assert not soup(page).select("form.watch-form")
    assert {td.text for td in soup(page).select("tbody td:nth-of-type(2)")} == {"Alpha Motors", "Beta Trucks"}
    assert client.get(f"/cases/{coverage['beta_case'].id}").status_code == 200
    assert client.get(f"/cases/{coverage['gamma_case'].id}").status_code == 404
    assert client.get(f"/cases/{coverage['gamma_case'].id}/related-ros").status_code == 404


def test_field_manager_case_details_are_read_only(app, client, auth, shop, coverage):
    auth.login(coverage["field"].email, PASSWORD)
    case_id = coverage["beta_case"].id
    page = soup(client.get(f"/cases/{case_id}"))
    info = page.select_one("#case-information")
    assert info.select_one(".related-ros"), "related RO numbers are in Case Information"
    assert not page.select("#additional-info")
    assert not page.select("main form"), "no forms at all"
    for action in ("export", "close", "watch", "unwatch", "edit", "related-ros/retry"):
        assert client.post(f"/cases/{case_id}/{action}").status_code == 403, action
    assert client.post("/cases/new", data={"ro_number": "1"}).status_code == 403
    with app.app_context():
        row = db.session.get(Case, case_id)
        assert row.status == CaseStatus.OPEN and row.exported_at is None and not row.watchers


def test_field_manager_may_choose_their_columns(app, client, auth, coverage):
    auth.login(coverage["field"].email, PASSWORD)
    assert client.post("/cases/columns", data={"columns": ["related_ros"]}).status_code == 303
    page = soup(client.get("/cases"))
    assert [th["data-column"] for th in page.select("thead th[data-column]")] == ["related_ros"]


def test_cases_of_another_location_are_not_found(client, auth, shop, make):
    other = make.location()
    foreign = make.case(other, make.asset(other))
    auth.login(shop["manager"].email, PASSWORD)
    for url in (f"/cases/{foreign.id}", f"/cases/{foreign.id}/related-ros"):
        assert client.get(url).status_code == 404
    for action in ("export", "close", "watch"):
        assert client.post(f"/cases/{foreign.id}/{action}").status_code == 404
    assert client.get(f"/cases/new?asset_id={make.asset(other).id}").status_code == 404


def test_asset_page_lists_its_cases_with_a_related_ro_row(client, auth, shop, make):
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get(f"/assets/{shop['truck'].id}"))
    section = page.select_one("#asset-cases")
    assert section is not None
    shown = [int(tr["data-case-id"]) for tr in section.select("tbody tr[data-case-id]:not(.related-ro-row)")]
    assert sorted(shown) == sorted(c.id for c in shop["cases"][:2])
    assert [th.text for th in section.select(".related-ro-row-label")] == ["Related RO Number(s)"] * 2
    assert section.select_one('a[href^="/cases/new"]') is not None
    empty = soup(client.get(f"/assets/{shop['car'].id}")).select_one("#asset-cases")
    assert len(empty.select("tbody tr[data-case-id]:not(.related-ro-row)")) == 1


def test_export_sends_the_case_with_its_ro_summary(app, client, auth, shop):
    """Export records what went to the DMS side: the case and its RO summary from the DMS mirror."""
    auth.login(shop["advisor"].email, PASSWORD)
    with_ro, without_ro = shop["cases"][0], shop["cases"][2]
    with app.app_context():
        db.session.add(
            DmsRecord(
                location_id=shop["location"].id,
                data_type="repair_orders",
                dms_id="200001",
                ro_number="200001",
                content_hash="z" * 40,
                payload={
                    "ro_number": "200001",
                    "status": "closed",
                    "lines": [{"op": "brakes"}, {"op": "oil"}, {"op": "tyres"}],
                },
            )
        )
        db.session.commit()
    client.post(f"/cases/{with_ro.id}/export")
    page = soup(client.get(f"/cases/{with_ro.id}"))
    assert "exported with the RO 200001 summary" in page.select_one("#flashes").text
    assert page.select_one("#case-information .case-export-summary").text.strip() == (
        "Sent with the RO 200001 summary: Closed · 3 lines"
    )
    with app.app_context():
        sent = db.session.get(Case, with_ro.id).export_summary
        assert sent["case_number"] == f"CS-{with_ro.id:06d}" and sent["ro_number"] == "200001"
        assert sent["ro"]["status"] == "closed" and sent["ro"]["lines"] == 3
        assert sent["asset"]["vin"] == "1FUJGLDR5CLBP8834" and sent["customer"]["name"] == "Dana Driver"

    client.post(f"/cases/{without_ro.id}/export")
    page = soup(client.get(f"/cases/{without_ro.id}"))
    assert "without an RO summary" in page.select_one("#case-information .case-export-summary").text
    with app.app_context():
        assert db.session.get(Case, without_ro.id).export_summary["ro"] is None
