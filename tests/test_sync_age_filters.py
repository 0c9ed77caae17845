"""Issue 19, item 2: stale and never-synced records can be found.

The Customers and Assets lists filter by Last Synced band (never / ≤ 30 / 31–90 / > 90 days,
the bands of the badge) with a count per band, page to the last record of any list, and the
home page's "never synced" count links to the filtered list. Demo assets cover every band.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.domain.last_synced import BANDS, badge, band_cutoffs
from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Role, utcnow

TZ = "America/Chicago"


def _text(node) -> str:
    return " ".join(node.get_text(" ").split()) if node is not None else ""


def _band_counts(page) -> dict[str, int]:
    """{"all": n, "never": n, ...} from the Last synced filter's links."""
    nav = page.select_one("nav.band-filter")
    assert nav is not None, "no Last synced filter"
    counts = {}
    for link in nav.select("a[data-band]"):
        counts[link["data-band"]] = int(re.search(r"\(([\d,]+)\)", _text(link)).group(1).replace(",", ""))
    return counts


def _ago(days: int, hours: int = 2):
    return utcnow() - timedelta(days=days, hours=hours)


@pytest.fixture()
def shop(app, make):
    """A location with customers (and one asset each) in every band: never 2, recent 3, ageing 1, stale 4."""
    location = make.location(timezone=TZ)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    plan = {
        "never": [None, None],
        "recent": [_ago(1), _ago(10), _ago(25)],
        "ageing": [_ago(60)],
        "stale": [_ago(100), _ago(200), _ago(400), _ago(1000)],
    }
    names: dict[str, list[str]] = {}
    vins: dict[str, list[str]] = {}
    vin_n = 0
    for band, moments in plan.items():
        for n, moment in enumerate(moments):
            customer = make.customer(
                location, first_name=f"{band.title()}{n}", last_name="Bandson", last_synced_at=moment
            )
            vin_n += 1
            vin = f"1FTFW1ET5DF{vin_n:06d}"
            make.asset(location, customer, vin=vin, last_synced_at=moment)
            names.setdefault(band, []).append(f"{band.title()}{n} Bandson")
            vins.setdefault(band, []).append(vin)
    other = make.location(timezone=TZ)  # another location's records are neither counted nor listed
    make.customer(other, first_name="Elsewhere", last_name="Bandson")
    return {"location": location, "advisor": advisor, "names": names, "vins": vins}


def test_the_customers_list_counts_each_band_of_the_location(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get("/customers"))
    assert _band_counts(page) == {"all": 10, "never": 2, "recent": 3, "ageing": 1, "stale": 4}
    nav = page.select_one("nav.band-filter")
    assert nav.get("aria-labelledby") and page.find(id=nav["aria-labelledby"]) is not None
    assert nav.select_one("a[aria-current]")["data-band"] == "all"
    for link in nav.select("a[data-band]"):  # works without JS, htmx-enhanced with the spinner
        assert link["href"] == link["hx-get"] and link["hx-target"] == "#results"
        assert link["hx-indicator"] == "#search-spinner"


@pytest.mark.parametrize("band", BANDS)
def test_filtering_lists_exactly_that_bands_customers(client, auth, shop, band):
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get(f"/customers?band={band}"))
    listed = sorted(_text(a) for a in page.select("table.results-table tbody td:first-child a"))
    assert listed == sorted(shop["names"][band])
    assert page.select_one("nav.band-filter a[aria-current]")["data-band"] == band
    # The search form keeps the band (no JS: a hidden field of the form).
    assert page.select_one('input[name="band"][form="search-form"]')["value"] == band


def test_filtering_lists_exactly_that_bands_assets(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get("/assets"))
    assert _band_counts(page) == {"all": 10, "never": 2, "recent": 3, "ageing": 1, "stale": 4}
    for band in BANDS:
        body = client.get(f"/assets?band={band}").get_data(as_text=True)
        for other, vins in shop["vins"].items():
            for vin in vins:
                assert (vin in body) == (other == band), (band, vin)


def test_the_band_combines_with_the_search_text_and_the_sort(client, auth, shop, make):
    make.customer(shop["location"], first_name="Zed", last_name="Other", last_synced_at=_ago(300))
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get("/customers?q=Bandson&band=stale&sort=last_synced"))
    listed = [_text(a) for a in page.select("table.results-table tbody td:first-child a")]
    assert listed == ["Stale0 Bandson", "Stale1 Bandson", "Stale2 Bandson", "Stale3 Bandson"]  # newest sync first
    assert _text(page.select_one(".result-count")) == "4 matches."
    # The filter links keep the search text and the sort.
    link = page.select_one('nav.band-filter a[data-band="never"]')
    assert parse_qs(urlparse(link["href"]).query) == {"q": ["Bandson"], "sort": ["last_synced"], "band": ["never"]}
    # htmx request: the results block alone, with the filter in it.
    fragment = soup(client.get("/customers?q=Bandson&band=never", headers={"HX-Request": "true"}))
    assert fragment.select_one("nav.band-filter") is not None
    assert sorted(_text(a) for a in fragment.select("tbody td:first-child a")) == ["Never0 Bandson", "Never1 Bandson"]


def test_bands_are_the_badges_bands_in_the_locations_days(app, make):
    """One definition: a record is listed in the band its badge shows, right at the local midnight."""
    from webapp.search import engine

    location = make.location(timezone=TZ)
    now = utcnow()
    recent_from, ageing_from = band_cutoffs(now, TZ)
    second = timedelta(seconds=1)
    moments = [recent_from, recent_from - second, ageing_from, ageing_from - second, now, None]
    for moment in moments:
        make.customer(location, last_synced_at=moment)
    with app.app_context():
        base = select(Customer).where(Customer.location_id == location.id)
        for band in BANDS:
            rows = db.session.scalars(base.where(engine.band_condition(Customer.last_synced_at, band, now, TZ))).all()
            assert rows and {badge(c.last_synced_at, now, TZ).band for c in rows} == {band}
        counts = engine.band_counts(db.session, base, Customer.last_synced_at, now, TZ)
        assert counts == {"all": 6, "never": 1, "recent": 2, "ageing": 2, "stale": 1}


def _many_customers(app, location, count: int, never_every: int = 8) -> list[int]:
    ids = []
    with app.app_context():
        now = utcnow()
        for n in range(count):
            moment = None if n % never_every == 0 else now - timedelta(days=n % 200, hours=1)
            customer = Customer(
                location_id=location.id, first_name=f"Many{n}", last_name="Pager", dms_id=f"M{n}", last_synced_at=moment
            )
            db.session.add(customer)
            db.session.flush()
            ids.append(customer.id)
        db.session.commit()
    return ids


def test_paging_by_last_synced_reaches_the_last_of_250_customers(app, client, auth, make):
    location = make.location(timezone=TZ)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    ids = _many_customers(app, location, 250)
    auth.login(advisor.email, PASSWORD)
    first = soup(client.get("/customers?sort=last_synced"))
    assert _text(first.select_one(".result-count")) == "250 records."
    assert "Page 1 of 10" in _text(first.select_one("nav.pager"))
    assert "+" not in _text(first.select_one("nav.pager"))
    last_link = first.select_one("nav.pager a[href*='page=10']")
    assert last_link is not None and "Last" in _text(last_link)
    last = soup(client.get(last_link["href"]))
    rows = last.select("table.results-table tbody tr")
    assert len(rows) == 25
    assert "Page 10 of 10" in _text(last.select_one("nav.pager"))
    # Sorted by Last synced, the never-synced come last, by id: the very last customer is the last never-synced.
    last_never = max(i for n, i in enumerate(ids) if n % 8 == 0)
    assert rows[-1].select_one("a")["href"] == f"/customers/{last_never}"
    # Every record is on some page.
    seen = set()
    for n in range(1, 11):
        page = soup(client.get(f"/customers?sort=last_synced&page={n}"))
        seen |= {a["href"] for a in page.select("table.results-table tbody td:first-child a")}
    assert seen == {f"/customers/{i}" for i in ids}
    # A page past the end shows the last page, not an empty "Page 11 of 10".
    past = soup(client.get("/customers?sort=last_synced&page=11"))
    assert "Page 10 of 10" in _text(past.select_one("nav.pager"))
    assert len(past.select("table.results-table tbody tr")) == 25


def test_paging_a_band_reaches_its_last_record(app, client, auth, make):
    location = make.location(timezone=TZ)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    ids = _many_customers(app, location, 250, never_every=2)  # 125 never synced: more than the old cap of 100
    auth.login(advisor.email, PASSWORD)
    first = soup(client.get("/customers?band=never"))
    assert _band_counts(first)["never"] == 125
    assert _text(first.select_one(".result-count")) == "125 records."
    assert "Page 1 of 5" in _text(first.select_one("nav.pager"))
    seen = []
    for n in range(1, 6):
        page = soup(client.get(f"/customers?band=never&page={n}"))
        seen += [a["href"] for a in page.select("table.results-table tbody td:first-child a")]
    assert sorted(seen) == sorted(f"/customers/{i}" for n, i in enumerate(ids) if n % 2 == 0)
    last = page
    # The pager's links keep the band.
    prev = last.select_one("nav.pager a[rel=prev]")
    assert parse_qs(urlparse(prev["href"]).query)["band"] == ["never"]


def test_the_home_pages_never_synced_count_links_to_the_filtered_list(client, auth, shop):
    auth.login(shop["advisor"].email, PASSWORD)
    home = soup(client.get("/"))
    link = next(a for a in home.select("a[href]") if "never synced" in _text(a))
    assert "2" in _text(link)
    url = urlparse(link["href"])
    assert url.path == "/customers" and parse_qs(url.query) == {"band": ["never"]}
    listed = soup(client.get(link["href"]))
    assert sorted(_text(a) for a in listed.select("table.results-table tbody td:first-child a")) == sorted(
        shop["names"]["never"]
    )


def test_demo_assets_cover_every_band(app):
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        now = utcnow()
        for location in db.session.scalars(select(Location)):
            for model in (Customer, Asset):
                bands = {
                    badge(moment, now, location.timezone).band
                    for moment in db.session.scalars(
                        select(model.last_synced_at).where(model.location_id == location.id)
                    )
                }
                assert bands == set(BANDS), (location.code, model.__name__, bands)


def test_a_search_keeps_the_band_links_without_the_locations_counts(client, auth, shop):
    """The counts describe the location's list, not a search's matches (and would cost a scan of
    the location at every keystroke): a search shows the band links without them."""
    auth.login(shop["advisor"].email, PASSWORD)
    page = soup(client.get("/customers", query_string={"q": "zz-no-such-name", "band": "never"}))
    nav = page.select_one("nav.band-filter")
    assert nav is not None and nav.select_one("a[aria-current]")["data-band"] == "never"
    assert nav.select(".band-count") == []
