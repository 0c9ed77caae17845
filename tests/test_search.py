"""Customer and asset search: every kind of term, hostile input, paging and the URL state."""

from __future__ import annotations

import pytest

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import Asset, Customer, Role


@pytest.fixture()
def shop(make):
    """A location with an advisor, a few customers and assets, and a second location."""
    loc = make.location(name="Alpha Motors", code="ALPHA")
    other = make.location(name="Beta Trucks", code="BETA")
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    zoe = make.customer(
        loc,
        first_name="Zoë",
        last_name="O'Brien-Smith",
        phone="(217) 555-0100",
        email="Zoe.OBrien@Example.COM",
        dms_id="C0000042",
    )
    acme = make.customer(
        loc,
        first_name=None,
        last_name=None,
        company_name="Acme Hauling LLC",
        is_business=True,
        phone="+1 312 555 7788",
        email="fleet@acme.test",
        dms_id="C0000077",
    )
    bob = make.customer(
        loc, first_name="Robert", last_name="Smith", phone="217.555.0199", email="bob@example.com", dms_id="C0000100"
    )
    truck = make.asset(
        loc, acme, vin="1fuj gldr 5 cl bt 1234", unit_number="u-417", license_plate="abc 123", dms_id="V0000077"
    )
    legacy = make.asset(
        loc,
        zoe,
        vin="CE1234567890",
        unit_number=None,
        license_plate="ZOE1",
        dms_id="V0000042",
        year=1979,
        make="Peterbilt",
        model="359",
    )
    foreign = make.customer(other, first_name="Zoë", last_name="Elsewhere", phone="(217) 555-0100")
    return {
        "loc": loc,
        "advisor": advisor,
        "zoe": zoe,
        "acme": acme,
        "bob": bob,
        "truck": truck,
        "legacy": legacy,
        "foreign": foreign,
    }


def _names(response) -> list[str]:
    return [a.get_text(strip=True) for a in soup(response).select(".results-table tbody tr td:first-child a")]


def _customers(client, q, **params):
    return client.get("/customers", query_string={"q": q, **params})


@pytest.mark.parametrize(
    "term, expected",
    [
        ("zoe", ["Zoë O'Brien-Smith"]),  # accent-free
        ("OBRIEN", ["Zoë O'Brien-Smith"]),  # apostrophe dropped, case ignored
        ("smith zo", ["Zoë O'Brien-Smith"]),  # any order, partial words
        ("smi", ["Zoë O'Brien-Smith", "Robert Smith"]),  # prefix of a word
        ("acme haul", ["Acme Hauling LLC"]),  # company
        ("217-555-0100", ["Zoë O'Brien-Smith"]),  # phone, another format
        ("+12175550100", ["Zoë O'Brien-Smith"]),  # phone, E.164
        ("555 0199", ["Robert Smith"]),  # end of a phone number
        ("zoe.obrien@example.com", ["Zoë O'Brien-Smith"]),  # e-mail, stored lower-case
        ("fleet@", ["Acme Hauling LLC"]),  # start of an e-mail
        ("C0000100", ["Robert Smith"]),  # DMS id
    ],
)
def test_customer_search_understands_each_kind_of_term(client, auth, shop, term, expected):
    auth.login(shop["advisor"].email, PASSWORD)
    response = _customers(client, term)
    assert response.status_code == 200
    assert sorted(_names(response)) == sorted(expected)


@pytest.mark.parametrize(
    "term, expected_vin",
    [
        ("1FUJGLDR5CLBT1234", "1FUJGLDR5CLBT1234"),  # full VIN
        ("1fujgl", "1FUJGLDR5CLBT1234"),  # start
        ("LBT1234", "1FUJGLDR5CLBT1234"),  # end (last 7)
        ("CLBT1234", "1FUJGLDR5CLBT1234"),  # last 8
        ("U417", "1FUJGLDR5CLBT1234"),  # unit number
        ("abc-123", "1FUJGLDR5CLBT1234"),  # plate
        ("acme", "1FUJGLDR5CLBT1234"),  # owner's company
        ("o'brien", "CE1234567890"),  # owner's name
        ("567890", "CE1234567890"),  # end of a legacy VIN
        ("V0000042", "CE1234567890"),  # DMS id
    ],
)
def test_asset_search_understands_each_kind_of_term(client, auth, shop, term, expected_vin):
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get("/assets", query_string={"q": term}))
    assert [td.get_text(" ", strip=True).split(" ")[0] for td in page.select(".results-table td.vin")] == [expected_vin]


def test_stored_values_are_normalised_and_legacy_vins_flagged(app, shop):
    with app.app_context():
        zoe = db.session.get(Customer, shop["zoe"].id)
        assert (zoe.phone, zoe.email) == ("+12175550100", "zoe.obrien@example.com")
        truck, legacy = db.session.get(Asset, shop["truck"].id), db.session.get(Asset, shop["legacy"].id)
        assert (truck.vin, truck.unit_number, truck.license_plate) == ("1FUJGLDR5CLBT1234", "U417", "ABC123")
        assert truck.vin_valid is False  # check digit fails: flagged, kept
        assert legacy.vin == "CE1234567890" and legacy.vin_valid is None


def test_other_locations_are_never_found(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    assert "Zoë Elsewhere" not in _names(_customers(client, "zoe"))
    assert _names(_customers(client, "elsewhere")) == []


def test_renaming_a_customer_reindexes_it(app, client, auth, shop):
    with app.app_context():
        bob = db.session.get(Customer, shop["bob"].id)
        bob.last_name = "Jönsson"
        db.session.commit()
    auth.login(shop["advisor"].email, PASSWORD)
    assert _names(_customers(client, "jonsson")) == ["Robert Jönsson"]
    assert _names(_customers(client, "robert smith")) == []


@pytest.mark.parametrize(
    "term",
    [
        "%",
        "_",
        "%%__",
        "'",
        '"; DROP TABLE customer; --',
        "\\",
        "\\%",
        "x" * 10_000,
        "🚚 zoë",
        "\x00\x01\x1b[31m",
        "<script>alert(1)</script>",
        "   ",
        "@",
        "+",
        "-- --",
    ],
)
def test_hostile_terms_never_fail(client, auth, shop, term):
    auth.login(shop["advisor"].email, PASSWORD)
    for url in ("/customers", "/assets"):
        for tab in ("portal", "dms"):
            response = client.get(url, query_string={"q": term, "tab": tab, "page": "x", "sort": "%"})
            assert response.status_code == 200, (url, tab)
            assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
    # Wildcards are taken literally: '%' does not match everyone.
    assert _names(_customers(client, "%")) == []


def test_search_box_caps_what_can_be_typed_at_what_is_searched(client, auth, shop):
    """A pasted 10,000-character term is cut in the browser: the URL stays under the web
    server's request-line limit (gunicorn answers 414 beyond ~4 KB)."""
    from webapp.domain.search_tokens import QUERY_MAX

    auth.login(shop["advisor"].email, PASSWORD)
    for url in ("/customers", "/assets"):
        assert soup(client.get(url)).select_one("input#q")["maxlength"] == str(QUERY_MAX)


def test_live_search_returns_the_results_fragment_and_keeps_the_url(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    fragment = client.get("/customers?q=smith", htmx=True)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and "results-table" in body
    assert fragment.headers.get("Vary") and "HX-Request" in fragment.headers["Vary"]
    # The same URL without htmx is the whole page with the term in the box (shareable, Back works).
    page = soup(client.get("/customers?q=smith"))
    assert page.select_one("input#q")["value"] == "smith"
    form = page.select_one("form#search-form")
    assert form["method"] == "get" and form["hx-push-url"] == "true"
    assert page.select_one("#search-spinner.htmx-indicator") is not None


def test_paging_and_sort(make, client, auth, shop):
    for n in range(30):
        make.customer(shop["loc"], first_name=f"Pat{n:02d}", last_name="Paging", dms_id=None, phone=None)
    auth.login(shop["advisor"].email, PASSWORD)
    first = soup(_customers(client, "paging"))
    assert "30 matches" in first.select_one(".result-count").get_text()
    names = [a.get_text(strip=True) for a in first.select(".results-table tbody td:first-child a")]
    assert names[:2] == ["Pat00 Paging", "Pat01 Paging"] and len(names) == 25
    next_link = first.select_one(".pager a[rel=next]")["href"]
    second = soup(client.get(next_link))
    assert [a.get_text(strip=True) for a in second.select(".results-table tbody td:first-child a")] == [
        f"Pat{n} Paging" for n in range(25, 30)
    ]
    newest = soup(_customers(client, "paging", sort="newest"))
    assert newest.select_one(".results-table tbody td:first-child a").get_text(strip=True) == "Pat29 Paging"


def test_browsing_without_a_term_lists_customers_a_to_z(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    assert _names(client.get("/customers")) == ["Acme Hauling LLC", "Zoë O'Brien-Smith", "Robert Smith"]


def test_reindex_command_rebuilds_a_lost_index(app, client, auth, shop):
    """`flask reindex-search` makes records searchable again when their tokens are gone
    (records that existed before the search migration, or written outside the ORM)."""
    from sqlalchemy import delete, update

    from webapp.models import SearchToken

    with app.app_context():
        db.session.execute(delete(SearchToken))
        db.session.execute(update(Customer).values(sort_name=None))
        db.session.commit()
    auth.login(shop["advisor"].email, PASSWORD)
    assert _names(_customers(client, "zoe")) == []

    result = app.test_cli_runner().invoke(args=["reindex-search", "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    assert "ALPHA Alpha Motors: 3 customers, 2 assets" in result.output
    assert _names(_customers(client, "zoe")) == ["Zoë O'Brien-Smith"]
    assets = client.get("/assets", query_string={"q": "U417"})
    assert [a.get_text(strip=True) for a in soup(assets).select(".results-table tbody tr td:first-child a")]
    with app.app_context():
        assert db.session.get(Customer, shop["bob"].id).sort_name == "smith robert"


def test_reindex_command_refuses_an_unknown_location(app):
    result = app.test_cli_runner().invoke(args=["reindex-search", "--location", "NOPE"])
    assert result.exit_code != 0
    assert "No location with code NOPE" in result.output


def test_two_word_names_take_the_pair_fast_path_or_the_word_by_word_search(client, auth, make, monkeypatch):
    """Every word is a beginning, whichever path answers: 'ann lee' starts with the word pairs
    ('ann lee...') and completes word by word; 'an lee' (no pair starts so) goes word by word;
    when the pairs alone fill the cap the page still says there are more."""
    from webapp.search import engine

    loc = make.location()
    advisor = make.user(Role.SERVICE_ADVISOR, loc)
    for first, last in [("Ann", "Lee"), ("Ann", "Leeds"), ("Anna", "Lee"), ("Lee", "Annison"), ("Bob", "Lee")]:
        make.customer(loc, first_name=first, last_name=last)
    auth.login(advisor.email, PASSWORD)
    everyone = ["Ann Lee", "Ann Leeds", "Anna Lee", "Lee Annison"]
    for term in ("ann lee", "lee ann", "an lee", "LEE  Ann"):
        assert sorted(_names(_customers(client, term))) == everyone, term
    assert _names(_customers(client, "bob lee")) == ["Bob Lee"]
    monkeypatch.setattr(engine, "CANDIDATE_LIMIT", 1)  # the pair scan alone fills a cap of 1 (+1)
    response = _customers(client, "ann lee")
    assert len(_names(response)) == 1
    assert "More than 1 matches" in soup(response).select_one(".result-count").get_text()
