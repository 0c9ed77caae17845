"""With Redis down or slow the console keeps working, says what is paused, and answers
actions that need Redis with a readable message instead of a 500.

A second app is built on the test database with ``REDIS_URL`` pointing at a closed port (down)
or at a socket that accepts connections and never answers (slow).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.fixtures import app_with_redis, dispose_app
from webapp.extensions import db
from webapp.models import Role, RunStatus, SyncRun


@pytest.fixture()
def slow_app(app, silent_redis, fresh_throttle):
    other = app_with_redis(app, silent_redis)
    yield other
    dispose_app(other)


@pytest.fixture()
def location(make):
    return make.location(name="Alpha Ford", code="ALPHA")


def _signed_in(down_app, make, location, role):
    user = make.user(role, location)
    client = down_app.test_client()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, "sign-in must work without Redis"
    return client


def test_pages_work_with_redis_down_and_the_banner_says_what_waits(down_app, make, location):
    advisor = _signed_in(down_app, make, location, Role.SERVICE_ADVISOR)
    for url in ("/", "/customers", "/assets", "/appointments/"):
        response = advisor.get(url)
        assert response.status_code == 200, url
        banner = soup(response).select_one("#background-paused")
        assert banner is not None, url
        assert "Background work is paused" in banner.text and "DMS pushes wait" in banner.text
        assert banner["role"] == "status"
    # An advisor cannot open Integration health: the banner says whom to tell instead.
    assert "tell a Service Manager or Global Admin" in banner.text and banner.select_one("a") is None

    manager = _signed_in(down_app, make, location, Role.SERVICE_MANAGER)
    banner = soup(manager.get("/customers")).select_one("#background-paused")
    assert banner.select_one("a")["href"] == "/integrations/"


def test_no_banner_while_redis_answers(app, client, make, location, auth):
    from webapp import background

    background.forget_cached_state()
    user = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(user.email, PASSWORD)
    assert soup(client.get("/customers")).select_one("#background-paused") is None


def test_health_page_shows_redis_down_and_pull_now_answers_readably(down_app, make, location):
    manager = _signed_in(down_app, make, location, Role.SERVICE_MANAGER)
    page = soup(manager.get("/integrations/"))
    assert page.select_one("#background-redis")["data-state"] == "down"
    assert page.select_one("#background-scheduler")["data-state"] == "unknown"

    response = manager.post("/integrations/pull", data={"data_type": "customers"}, htmx=True)
    assert response.status_code == 200
    assert (
        "Pull now needs the job queue (Redis), which cannot be reached: nothing was started"
        in response.headers["HX-Trigger"]
    )
    assert soup(response).select_one("#background-redis")["data-state"] == "down"

    response = manager.post("/integrations/pull", data={"data_type": "customers"})
    assert response.status_code == 303
    assert "nothing was started" in manager.get(response.headers["Location"]).get_data(as_text=True)

    response = manager.post("/integrations/backfill", data={"data_type": "repair_orders"}, htmx=True)
    assert response.status_code == 200  # CDK offers historical repair orders
    assert "nothing was started" in response.headers["HX-Trigger"]
    with down_app.app_context():
        assert not db.session.scalars(
            select(SyncRun).where(SyncRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
        ).all(), "no run may be left waiting for a job that does not exist"


def test_other_actions_that_need_redis_answer_503_with_a_message(down_app, make, location):
    run = make.sync_run(location, status=RunStatus.RUNNING)
    manager = _signed_in(down_app, make, location, Role.SERVICE_MANAGER)
    response = manager.post(f"/integrations/runs/{run.id}/cancel", htmx=True)
    assert response.status_code == 503
    assert "Background work is paused" in response.headers["HX-Trigger"]
    assert response.headers["HX-Reswap"] == "none"
    response = manager.post(f"/integrations/runs/{run.id}/cancel")
    assert response.status_code == 503
    assert "cannot reach Redis" in soup(response).text


def test_healthz_names_redis_when_it_is_down(down_app):
    response = down_app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("down: Unreachable")
    assert body["scheduler"].startswith("unknown")
    assert "redis" in body["status"]


def test_a_hung_redis_costs_a_page_only_the_short_timeout(slow_app, make, location):
    user = make.user(Role.SERVICE_MANAGER, location)
    client = slow_app.test_client()
    started = time.monotonic()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    response = client.get("/customers")
    assert response.status_code == 200
    assert soup(response).select_one("#background-paused") is not None
    response = client.post("/integrations/pull", data={"data_type": "customers"}, htmx=True)
    assert "nothing was started" in response.headers["HX-Trigger"]
    assert time.monotonic() - started < 10
