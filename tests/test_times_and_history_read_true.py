"""Issue 19, "What the screens say is true": one time filter, every time in the record's
location's zone (update requests, failed pushes, the 7-day table), and a Change History
that reads like the rest of the portal (form labels, formatted phones, names, local times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import soup
from tests.test_update_requests import _login
from webapp.models import ChangeHistory, ChangeSource, Role

LA = ZoneInfo("America/Los_Angeles")
# 23:30 UTC on Jan 15 is 15:30 on Jan 15 in Los Angeles (PST) and 18:30 in New York (EST).
LATE_UTC = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)


# --------------------------------------------------------------------------- one filter
def test_one_time_filter_registered_in_one_place(app):
    from webapp import template_filters
    from webapp.appointments import routes as appointment_routes
    from webapp.search import web

    timeish = sorted(name for name in app.jinja_env.filters if "time" in name or "zone" in name)
    assert timeish == ["local_time"], timeish
    assert app.jinja_env.filters["local_time"] is template_filters.local_time
    assert not hasattr(appointment_routes, "local_time") and not hasattr(web, "local_time")


def test_the_filter_shows_the_records_zone_and_says_utc_without_one(app):
    from webapp.models import Location
    from webapp.template_filters import local_time

    la = Location(name="West", code="W", timezone="America/Los_Angeles")
    with app.test_request_context():
        assert local_time(LATE_UTC, la) == "Jan 15, 2026 15:30"
        assert local_time("2026-01-15T23:30:00Z", la, "%b %d %H:%M") == "Jan 15 15:30"  # DMS payloads' ISO text
        assert local_time(None, la) == ""
    with app.app_context():
        assert local_time(LATE_UTC) == "Jan 15, 2026 23:30 UTC"  # no location: UTC, and it says so


# --------------------------------------------------------------------------- update requests
@pytest.fixture()
def two_zones(make):
    """A Los Angeles and a New York location, an advisor in LA, a reviewer who sees both."""
    west = make.location(name="West Coast Ford", code="WEST", timezone="America/Los_Angeles")
    east = make.location(name="East Coast Ford", code="EAST", timezone="America/New_York")
    advisor = make.user(Role.SERVICE_ADVISOR, west, name="Wes Advisor")
    customer = make.customer(west, first_name="Dana", last_name="West")
    request = make.update_request(west, customer, requested_by=advisor, created_at=LATE_UTC)
    return {
        "west": west,
        "east": east,
        "advisor": advisor,
        "customer": customer,
        "request": request,
        "reviewer": make.user(Role.REVIEWER, None, name="Riley Reviewer"),
    }


def test_update_request_times_are_the_locations_on_list_detail_and_review(client, two_zones):
    request = two_zones["request"]
    _login(client, two_zones["advisor"])
    listing = soup(client.get("/update-requests"))
    assert "Jan 15, 2026 15:30" in listing.select_one("table.ur-list tbody").get_text()
    detail = soup(client.get(f"/update-requests/{request.id}")).select_one("dl.facts").get_text()
    assert "Jan 15, 2026 15:30" in detail and "UTC" not in detail and "23:30" not in detail
    customer_page = soup(client.get(f"/customers/{two_zones['customer'].id}")).get_text()
    assert "Jan 15, 2026 15:30" in customer_page and "2026-01-15 23:30" not in customer_page

    # A Reviewer sees Los Angeles and New York: the record's zone, named.
    _login(client, two_zones["reviewer"])
    queue = soup(client.get("/review/update-requests")).select_one("table.ur-queue tbody").get_text()
    assert "Jan 15, 2026 15:30 PST" in queue
    review = soup(client.get(f"/review/update-requests/{request.id}")).select_one("dl.facts").get_text()
    assert "Jan 15, 2026 15:30 PST" in review and "23:30" not in review


# --------------------------------------------------------------------------- failed pushes
def test_failed_push_times_are_the_locations(client, make):
    west = make.location(name="West Coast Ford", code="WEST", timezone="America/Los_Angeles")
    manager = make.user(Role.SERVICE_MANAGER, west)
    customer = make.customer(west)
    appointment = make.appointment(west, customer, scheduled_at=LATE_UTC)
    make.failed_push(west, appointment, last_attempt_at=LATE_UTC + timedelta(minutes=5))
    _login(client, manager)
    row = soup(client.get("/integrations/failed/")).select_one("tr.failed-push").get_text(" ", strip=True)
    assert "Appointment Jan 15, 2026 15:30" in row and "UTC" not in row
    assert "last tried Jan 15, 2026 15:35" in row


# --------------------------------------------------------------------------- the 7-day table
def test_records_per_day_are_the_locations_seven_days(client, make):
    west = make.location(name="West Coast Ford", code="WEST", timezone="America/Los_Angeles")
    manager = make.user(Role.SERVICE_MANAGER, west)
    today_utc = datetime.now(UTC).date()
    expected: dict[str, int] = {}
    for days_ago in range(1, 6):
        # 02:00 UTC is the previous evening in Los Angeles: counted on that local day.
        started = datetime.combine(today_utc - timedelta(days=days_ago), datetime.min.time(), UTC) + timedelta(hours=2)
        make.sync_run(west, started_at=started, finished_at=started + timedelta(minutes=1), fetched=100 + days_ago)
        expected[started.astimezone(LA).strftime("%a %d %b")] = 100 + days_ago
    _login(client, manager)
    page = soup(client.get("/integrations/"))
    table = next(t for t in page.select("table") if t.caption and "per day" in t.caption.get_text())
    days = [th.get_text(strip=True) for th in table.select("thead th")]
    counts = [td.get_text(strip=True) for td in table.select("tbody td")]
    today_la = datetime.now(LA).date()
    assert days == [(today_la - timedelta(days=6 - i)).strftime("%a %d %b") for i in range(7)]
    shown = dict(zip(days, counts))
    for day, fetched in expected.items():
        assert shown[day] == str(fetched), (day, shown)
    assert sum(int(n.replace(",", "")) for n in counts) == sum(expected.values())


# --------------------------------------------------------------------------- Change History
def test_change_history_reads_like_the_rest_of_the_portal(app, client, make):
    from webapp.domain.fields import ASSET_FIELDS, CUSTOMER_FIELDS
    from webapp.extensions import db
    from webapp.models import Asset, Customer
    from webapp.models.change_history import record_change

    west = make.location(name="West Coast Ford", code="WEST", timezone="America/Los_Angeles")
    advisor = make.user(Role.SERVICE_ADVISOR, west)
    first_owner = make.customer(west, first_name="Olive", last_name="Oldowner")
    new_owner = make.customer(west, first_name="Nina", last_name="Newowner")
    customer = make.customer(west, first_name="Dana", last_name="West", mobile_phone="+12085557728")
    asset = make.asset(west, new_owner)
    with app.app_context():
        person = db.session.get(Customer, customer.id)
        record_change(
            record=person, field="mobile_phone", old=None, new="+12085557728", source=ChangeSource.PORTAL
        ).changed_at = LATE_UTC
        record_change(
            record=person, field="last_synced_at", old=None, new=LATE_UTC.isoformat(), source=ChangeSource.SYNC_WIZARD
        )
        vehicle = db.session.get(Asset, asset.id)
        record_change(
            record=vehicle, field="customer_id", old=first_owner.id, new=new_owner.id, source=ChangeSource.SYNC_WIZARD
        )
        record_change(record=vehicle, field="engine_type", old="V6", new="V8", source=ChangeSource.DMS)
        db.session.commit()
        assert db.session.query(ChangeHistory).count() == 4
    _login(client, advisor)

    history = soup(client.get(f"/customers/{customer.id}")).select_one("table.history")
    phone = history.select_one('tr[data-field="mobile_phone"]')
    cells = [td.get_text(" ", strip=True) for td in phone.select("td")]
    assert cells[0] == "Jan 15, 2026 15:30"  # when: the location's time, not UTC
    assert cells[2] == next(spec.label for spec in CUSTOMER_FIELDS if spec.attr == "mobile_phone")
    assert "(208) 555-7728" in cells[3] and "+1208" not in cells[3]
    synced = history.select_one('tr[data-field="last_synced_at"]').get_text(" ", strip=True)
    assert "Jan 15, 2026 15:30" in synced and "2026-01-15T23:30" not in synced

    history = soup(client.get(f"/assets/{asset.id}")).select_one("table.history")
    owner = history.select_one('tr[data-field="customer_id"]')
    assert owner.select_one(".old").get_text(strip=True) == "Olive Oldowner"  # not "261"
    assert owner.select_one(".new").get_text(strip=True) == "Nina Newowner"
    assert "Customer id" not in owner.get_text()
    assert owner.select_one(".new a")["href"] == f"/customers/{new_owner.id}"
    engine = [td.get_text(strip=True) for td in history.select_one('tr[data-field="engine_type"]').select("td")]
    assert engine[2] == next(spec.label for spec in ASSET_FIELDS if spec.attr == "engine_type")
