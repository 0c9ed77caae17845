"""One search everywhere: the booking form finds customers as the Customers page does, assets are
found by year/make/model, customers by e-mail domain, and DMS-tab phones read as the portal's."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.domain.search_tokens import ASSET, asset_plan, asset_tokens, customer_plan, customer_tokens
from webapp.extensions import db
from webapp.models import Asset, DmsRecord, Role, SearchToken


@pytest.fixture()
def shop(make):
    loc = make.location(name="Alpha Motors", code="ALPHA")
    other = make.location(name="Beta Trucks", code="BETA")
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    betty = make.customer(
        loc, first_name="Betty", last_name="Bryant", phone="(608) 933-1162", email="betty@acme.com", dms_id="C0000501"
    )
    carl = make.customer(
        loc,
        first_name="Carl",
        last_name="Mendez",
        phone="+1 414 555 0190",
        email="carl.mendez@mail.acme.com",
        dms_id="C0000502",
    )
    dora = make.customer(
        loc, first_name="Dora", last_name="Acme", phone="+1 414 555 0111", email="dora@example.org", dms_id="C0000503"
    )
    outsider = make.customer(
        other, first_name="Betty", last_name="Bryant", phone="(608) 933-1162", email="betty.b@acme.com"
    )
    cascadia = make.asset(
        loc,
        betty,
        vin="1FUJGLDR5CSBM1234",
        year=2019,
        make="Freightliner",
        model="Cascadia",
        unit_number="T-12",
        license_plate="WI 123",
    )
    older = make.asset(loc, carl, vin="1FUJGLDR7ASBM5678", year=2017, make="Freightliner", model="Cascadia")
    pete = make.asset(loc, dora, vin="1XPWD40X1ED215307", year=2019, make="Peterbilt", model="579")
    return {
        "loc": loc,
        "other": other,
        "advisor": advisor,
        "betty": betty,
        "carl": carl,
        "dora": dora,
        "outsider": outsider,
        "cascadia": cascadia,
        "older": older,
        "pete": pete,
    }


def _booking_names(client, q):
    response = client.get("/appointments/customers", query_string={"q": q}, htmx=True)
    assert response.status_code == 200
    return [a.get_text(strip=True) for a in soup(response).select("li a")]


def _table_names(response):
    assert response.status_code == 200
    return [a.get_text(strip=True) for a in soup(response).select(".results-table tbody tr td:first-child a")]


# ----------------------------------------------------------------------------- booking form
@pytest.mark.parametrize("term", ["Betty Bryant", "bryant betty", "(608) 933-1162", "608-933-1162", "933 1162"])
def test_booking_form_finds_the_customer_as_the_customers_page_does(client, auth, shop, term):
    auth.login(shop["advisor"].email, PASSWORD)
    assert _booking_names(client, term) == ["Betty Bryant"]  # never the other location's Betty
    assert _table_names(client.get("/customers", query_string={"q": term})) == ["Betty Bryant"]


def test_booking_form_search_is_the_customers_page_search_for_every_kind_of_term(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    for term in ("betty bry", "+16089331162", "C0000501", "betty@acme.com", "@acme.com", "bryant"):
        assert _booking_names(client, term) == _table_names(client.get("/customers", query_string={"q": term})), term


def test_booking_form_lists_phones_as_the_portal_shows_them(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    response = client.get("/appointments/customers", query_string={"q": "betty"}, htmx=True)
    text = soup(response).select_one("li small").get_text(" ", strip=True)
    assert "(608) 933-1162" in text and "+16089331162" not in text


# ----------------------------------------------------------------------------- e-mail domain
@pytest.mark.parametrize("term", ["@acme.com", "acme.com", "ACME.COM", "@acme"])
def test_customers_are_found_by_e_mail_domain(client, auth, shop, term):
    auth.login(shop["advisor"].email, PASSWORD)
    names = _table_names(client.get("/customers", query_string={"q": term}))
    assert "Betty Bryant" in names and "Carl Mendez" in names  # mail.acme.com is at acme.com too
    assert len(names) == len(set(names))
    if term.startswith("@"):
        assert "Dora Acme" not in names  # "@…" is only a domain


def test_e_mail_domain_tokens_and_plan():
    tokens = customer_tokens(first_name="Carl", emails=("Carl@Mail.ACME.com",))
    assert {"dmail.acme.com", "dacme.com"} <= tokens and "dcom" not in tokens
    assert ("dacme.com",) in customer_plan("@acme.com").alternatives
    assert ("dacme.com",) in customer_plan("acme.com").alternatives
    assert ("ebob@acme.com",) in customer_plan("bob@acme.com").alternatives


# ----------------------------------------------------------------------------- year / make / model
@pytest.mark.parametrize(
    "term, expected",
    [
        ("2019 Freightliner Cascadia", ["1FUJGLDR5CSBM1234"]),
        ("cascadia 2019", ["1FUJGLDR5CSBM1234"]),
        ("Freightliner", ["1FUJGLDR5CSBM1234", "1FUJGLDR7ASBM5678"]),
        ("freight casc", ["1FUJGLDR5CSBM1234", "1FUJGLDR7ASBM5678"]),
        ("2019", ["1FUJGLDR5CSBM1234", "1XPWD40X1ED215307"]),
        ("peterbilt 579", ["1XPWD40X1ED215307"]),
    ],
)
def test_assets_are_found_by_year_make_and_model(client, auth, shop, term, expected):
    auth.login(shop["advisor"].email, PASSWORD)
    response = client.get("/assets", query_string={"q": term})
    assert response.status_code == 200
    vins = [td.get_text(" ", strip=True).split()[0] for td in soup(response).select(".results-table tbody td.vin")]
    assert sorted(vins) == sorted(expected)


def test_vehicle_words_leave_owner_vin_unit_and_plate_search_as_they_were(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    for term in ("2019 cascadia", "betty bryant", "BM1234", "T-12", "wi123", "1FUJGLDR5CSBM1234"):
        response = client.get("/assets", query_string={"q": term})
        vins = [td.get_text(" ", strip=True).split()[0] for td in soup(response).select(".results-table tbody td.vin")]
        assert vins == ["1FUJGLDR5CSBM1234"], term


def test_vehicle_tokens_and_plan():
    tokens = asset_tokens(vin="1FUJGLDR5CSBM1234", year=2019, make="Freightliner", model="Cascadia")
    assert {"n2019", "nfreightliner", "ncascadia", "wfreightliner cascadia", "w2019 freightliner"} <= tokens
    assert ("n2019", "nfreightliner", "ncascadia") in asset_plan("2019 Freightliner Cascadia").alternatives


def test_dms_vehicles_are_found_by_year_make_and_model(app, client, auth, make, shop):
    from webapp.services.search_index import index_dms_records, tokens_of_dms_payload

    payload = {"vin": "3AKJHHDR9LSLA4321", "year": 2020, "make": "Freightliner", "model": "Cascadia"}
    with app.app_context():
        db.session.add(
            DmsRecord(
                location_id=shop["loc"].id, data_type="vehicles", dms_id="V9001", payload=payload, content_hash="x"
            )
        )
        db.session.commit()
        index_dms_records(
            db.session, shop["loc"].id, "vehicles", {"V9001": tokens_of_dms_payload("vehicles", "V9001", payload)}
        )
        db.session.commit()
    auth.login(shop["advisor"].email, PASSWORD)
    response = client.get("/assets", query_string={"q": "2020 cascadia", "tab": "dms"})
    assert [tr["data-dms-id"] for tr in soup(response).select(".dms-results tbody tr")] == ["V9001"]


def test_reindex_gives_existing_assets_their_vehicle_words(app, client, auth, shop):
    """Assets indexed before this version have no year/make/model tokens: `flask reindex-search` adds them."""
    location_id = shop["loc"].id
    with app.app_context():
        stale = asset_tokens(vin="1FUJGLDR5CSBM1234", unit_number="T12", plate="WI123")
        cascadia_id = shop["cascadia"].id
        db.session.execute(delete(SearchToken).where(SearchToken.scope == ASSET, SearchToken.record_id == cascadia_id))
        db.session.add_all(
            SearchToken(scope=ASSET, location_id=location_id, token=t, record_id=cascadia_id) for t in stale
        )
        db.session.commit()
    auth.login(shop["advisor"].email, PASSWORD)
    assert "1FUJGLDR5CSBM1234" not in client.get("/assets", query_string={"q": "2019 cascadia"}).get_data(as_text=True)
    result = app.test_cli_runner().invoke(args=["reindex-search", "--location", "ALPHA"])
    assert result.exit_code == 0, result.output
    assert "Search index rebuilt for 1 location(s)." in result.output
    assert "1FUJGLDR5CSBM1234" in client.get("/assets", query_string={"q": "2019 cascadia"}).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Asset.make).where(Asset.id == cascadia_id)) == "Freightliner"


def test_editing_make_or_model_reindexes_the_asset(app, client, auth, shop):
    with app.app_context():
        asset = db.session.get(Asset, shop["pete"].id)
        asset.model = "389"
        db.session.commit()
    auth.login(shop["advisor"].email, PASSWORD)
    assert "1XPWD40X1ED215307" in client.get("/assets", query_string={"q": "peterbilt 389"}).get_data(as_text=True)
    assert "1XPWD40X1ED215307" not in client.get("/assets", query_string={"q": "peterbilt 579"}).get_data(as_text=True)


# ----------------------------------------------------------------------------- DMS-tab phones
def test_dms_tab_phones_read_as_the_portal_shows_them(app, client, auth, shop):
    raw = {"C9001": ["608.933.1162"], "C9002": ["+14145550190"], "C9003": ["(414)555-0111 "]}
    with app.app_context():
        for dms_id, phones in raw.items():
            db.session.add(
                DmsRecord(
                    location_id=shop["loc"].id,
                    data_type="customers",
                    dms_id=dms_id,
                    payload={"first_name": "Dms", "last_name": dms_id, "phones": phones},
                    content_hash="x",
                )
            )
        db.session.commit()
    auth.login(shop["advisor"].email, PASSWORD)
    rows = soup(client.get("/customers", query_string={"tab": "dms"})).select(".dms-results tbody tr")
    shown = {tr["data-dms-id"]: tr.select("td")[1].get_text(strip=True) for tr in rows}
    assert shown == {"C9001": "(608) 933-1162", "C9002": "(414) 555-0190", "C9003": "(414) 555-0111"}
    page = soup(client.get("/customers", query_string={"q": "betty"}))
    portal = page.select_one(".results-table tbody tr td:nth-of-type(2)")
    assert portal.get_text(strip=True) == "(608) 933-1162"  # the same filter as the portal's
