"""Review D: background health, settings, supervisor helpers, the uploads bench and the area stylesheets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask_login import login_user
from rq import Worker
from rq.utils import utcformat

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp import background
from webapp.extensions import db
from webapp.models import DmsRecord, Location, Role, User
from webapp.redis_conn import get_redis
from webapp.services import liveness
from webapp.services.queues import ALL_QUEUES

ROOT = Path(__file__).resolve().parents[1]
CSS = ROOT / "webapp" / "static" / "css"


# --------------------------------------------------------------------------- 1. workers by heartbeat
@pytest.fixture()
def redis(app):
    return get_redis(app.config["REDIS_URL"])


def _registered_worker(redis) -> Worker:
    worker = Worker(list(ALL_QUEUES), connection=redis)
    worker.register_birth()
    return worker


def test_a_worker_this_process_cannot_see_counts_while_its_heartbeat_is_fresh(app, redis):
    """Same hostname, a pid this process cannot see (another container's pid namespace): alive."""
    worker = _registered_worker(redis)
    redis.hset(worker.key, "pid", 2**22 + 12345)
    redis.set(liveness.PID_NAMESPACE_KEY.format(worker.name), "pid:[another-container]")
    with app.app_context():
        assert [w.name for w in background.live_workers(redis)] == [worker.name]
        check = background.background_health().checks[-1]
    assert check.name == "workers" and check.state == "ok", check


def test_a_dead_worker_of_this_pid_namespace_is_gone_at_once(app, redis):
    """The console's own workers record their pid namespace: one of ours whose process died is
    dropped at once, without waiting for its heartbeat to lapse."""
    from jobs.worker import AppWorker

    worker = AppWorker(list(ALL_QUEUES), connection=redis)
    worker.register_birth()
    assert redis.get(liveness.PID_NAMESPACE_KEY.format(worker.name)).decode() == liveness.pid_namespace()
    redis.hset(worker.key, "pid", 2**22 + 12345)  # no such process here
    with app.app_context():
        assert background.live_workers(redis) == []
    worker.register_death()
    assert redis.get(liveness.PID_NAMESPACE_KEY.format(worker.name)) is None


def test_a_worker_whose_heartbeat_lapsed_is_gone(app, redis):
    worker = _registered_worker(redis)
    assert worker.worker_ttl == 420
    redis.hset(worker.key, "last_heartbeat", utcformat(datetime.now(UTC) - timedelta(seconds=400)))
    with app.app_context():
        assert [w.name for w in background.live_workers(redis)] == [worker.name]  # within its ttl
    redis.hset(worker.key, "last_heartbeat", utcformat(datetime.now(UTC) - timedelta(seconds=421)))
    with app.app_context():
        assert background.live_workers(redis) == []
        check = background.background_health().checks[-1]
    assert check.state == "down" and check.text.startswith("No worker is running"), check


# --------------------------------------------------------------------------- 2. the test event reads in scope
class _FakeControl:
    def __init__(self):
        self.sent = []

    def send_webhooks(self, account, url=None, secret=None, data_type=None, dms_ids=None):
        self.sent.append(list(dms_ids))
        return [{"status": 202}]

    def close(self):
        pass


def _record(location, dms_id):
    return DmsRecord(location_id=location.id, data_type="customers", dms_id=dms_id, payload={}, content_hash="x")


def test_test_event_picks_a_record_of_the_users_location_only(app, make):
    from webapp.settings import webhook_setup as hooks

    mine = make.location(code="MINE", dms_vendor="reynolds", webhook_secret="s1")
    other = make.location(code="OTHER", dms_vendor="reynolds", webhook_secret="s2")
    manager = make.user(Role.SERVICE_MANAGER, mine)
    with app.app_context():
        db.session.add_all([_record(mine, "MINE-1"), _record(other, "OTHER-1")])
        db.session.commit()
    with app.test_request_context("/settings/external-interfaces"):
        login_user(db.session.get(User, manager.id))
        control = _FakeControl()
        assert hooks.send_test_event(db.session.get(Location, mine.id), control).ok
        hooks.send_test_event(db.session.get(Location, other.id), control)
    assert control.sent == [["MINE-1"], ["TEST"]]  # another location's record is never read


# --------------------------------------------------------------------------- 3. one set of words
def test_redis_down_is_said_in_the_same_words_everywhere(app):
    assert list(background.LABELS) == ["redis", "scheduler", "scheduled_jobs", "workers"]
    assert background.REDIS_DOWN_CONSEQUENCES in background.PAUSED_MESSAGE
    assert background.REDIS_DOWN_CONSEQUENCES in background.ACTION_PAUSED_MESSAGE
    assert not hasattr(background.BackgroundHealth, "get")


def test_banner_and_redis_line_use_the_shared_words(down_app, make):
    location = make.location(code="ALPHA")
    user = make.user(Role.SERVICE_MANAGER, location)
    client = down_app.test_client()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    page = soup(client.get("/integrations/"))
    banner = page.select_one("#background-paused").text
    assert banner.startswith(f"{background.PAUSED_TITLE}: {background.PAUSED_MESSAGE}"), banner
    assert background.REDIS_DOWN_CONSEQUENCES in page.select_one("#background-redis").text
    labels = [row.select_one("th").text for row in page.select("#background tbody tr")]
    assert labels == list(background.LABELS.values())


# --------------------------------------------------------------------------- 4. one prctl helper
def test_prctl_helper_reports_success_and_refusal():
    from webapp import runner
    from webapp.redis_conn import prctl

    assert prctl(-1, 0) is False  # no such option: refused, not raised
    assert not hasattr(runner.Child("x"), "pids_seen")
    # In a child process (the test run must not become a subreaper itself).
    code = "from webapp.runner import become_subreaper; import sys; sys.exit(0 if become_subreaper() else 1)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == (0 if sys.platform == "linux" else 1)


# --------------------------------------------------------------------------- 5. one page helper
def test_webhook_answer_as_a_whole_page_keeps_the_related_ro_field_as_the_page_shows_it(client, make, auth):
    location = make.location(code="GAMMA", dms_vendor="reynolds")
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    page = soup(client.get("/settings/external-interfaces"))
    answer = soup(client.post("/settings/external-interfaces/webhook-secret"))  # no htmx: the whole page
    for shown in (page, answer):
        field = shown.select_one("select[name=related_ro_enabled]")
        assert field.has_attr("disabled")
        assert "does not offer related RO numbers" in shown.text
    assert answer.select_one("#webhook-new-secret") is not None


# --------------------------------------------------------------------------- 6. the sandbox's roots, one default
@pytest.mark.parametrize("protocol", ["console", "star", "opentrack"])
def test_sandbox_root_reverses_connection_settings(protocol):
    from connectors.sandbox.testing import connection_settings, sandbox_root

    url = connection_settings("http://127.0.0.1:5001", "acct", protocol, "secret")["base_url"]
    assert sandbox_root(url) == sandbox_root(url + "/") == "http://127.0.0.1:5001"


def test_sandbox_url_has_one_default():
    from webapp.config import sandbox_url

    assert sandbox_url({}) == "http://127.0.0.1:5001"
    assert sandbox_url({"SANDBOX_PORT": "6001"}) == "http://127.0.0.1:6001"
    assert sandbox_url({"SANDBOX_URL": "http://dms.test:9", "SANDBOX_PORT": "6001"}) == "http://dms.test:9"


def test_a_star_location_under_the_configured_sandbox_is_recognised(app, make, monkeypatch):
    from webapp.settings.webhook_setup import is_sandbox_address

    monkeypatch.setitem(app.config, "SANDBOX_URL", "http://127.0.0.1:7001/")
    star = make.location(code="STAR", dms_vendor="reynolds", dms_base_url="http://127.0.0.1:7001/star")
    elsewhere = make.location(code="REAL", dms_vendor="reynolds", dms_base_url="https://dms.example.com/star")
    with app.app_context():
        assert is_sandbox_address(star) and not is_sandbox_address(elsewhere)


# --------------------------------------------------------------------------- 7. settings, wiring
@pytest.mark.parametrize(
    "value, required", [(None, True), ("1", True), ("0", False), ("false", False), ("No", False), ("yes", True)]
)
def test_healthz_require_background_is_a_setting(monkeypatch, value, required):
    from webapp.config import Config

    if value is None:
        monkeypatch.delenv("HEALTHZ_REQUIRE_BACKGROUND", raising=False)
    else:
        monkeypatch.setenv("HEALTHZ_REQUIRE_BACKGROUND", value)
    assert Config().HEALTHZ_REQUIRE_BACKGROUND is required


def test_healthz_reads_the_setting_not_the_environment(app, client, monkeypatch):
    monkeypatch.setenv("HEALTHZ_REQUIRE_BACKGROUND", "1")  # read once, into the config: ignored here
    assert app.config["HEALTHZ_REQUIRE_BACKGROUND"] is False
    assert client.get("/healthz").status_code == 200
    monkeypatch.setitem(app.config, "HEALTHZ_REQUIRE_BACKGROUND", True)
    assert client.get("/healthz").status_code == 503  # no scheduler or worker runs beside the suite


def test_background_is_set_up_by_the_app_factory(app):
    from webapp.home import bp

    assert all(getattr(f, "__name__", "") != "_background_state" for f in bp.deferred_functions)
    assert app.jinja_env.globals["background_paused"] is background.background_paused


# --------------------------------------------------------------------------- 8. the uploads bench
def _bench():
    spec = importlib.util.spec_from_file_location("bench_uploads", ROOT / "tests" / "bench" / "uploads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_uploads_bench_fails_when_a_file_is_refused_for_being_busy():
    bench = _bench()
    good = {"rgba.png": "stored 4000x4000 image/png 69 kB", bench.REFUSED: "refused: The image has too many pixels"}
    assert bench.unexpected(good) == []
    busy = {**good, "rgba.webp": "refused: The server is busy checking other screenshots right now."}
    assert bench.unexpected(busy) == ["rgba.webp: refused: The server is busy checking other screenshots right now."]
    stored_too = {**good, bench.REFUSED: "stored 6320x6320 image/png 1 kB"}
    assert bench.unexpected(stored_too) == [f"{bench.REFUSED}: stored 6320x6320 image/png 1 kB"]
    assert bench.unexpected({"rgba.png": "stored"}) == ["rgba.png: stored", f"{bench.REFUSED}: missing"]


# --------------------------------------------------------------------------- 9. area stylesheets
def test_area_rules_live_in_their_area_sheets(app):
    app_css = (CSS / "app.css").read_text()
    for area_class in (".raw-pair", ".dms-", ".ro-", ".appointment-filters"):
        assert area_class not in app_css, area_class
    assert ".table-wrap" in app_css
    assert ".raw-pair" in (CSS / "integrations.css").read_text()
    assert ".dms-void" in (CSS / "dms_activity.css").read_text()
    assert ".ro-filters" in (CSS / "repair_orders.css").read_text()
    assert "css/repair_orders.css" in app.jinja_env.globals["page_assets"]["css"]


def test_wide_tables_are_wrapped(client, make, auth):
    location = make.location(code="GAMMA", dms_vendor="reynolds")
    admin = make.user(Role.GLOBAL_ADMIN, None)
    auth.login(admin.email, PASSWORD)
    users = soup(client.get("/admin/users"))
    assert users.select_one(".table-wrap > table.table") is not None
    client.post("/location", data={"location_id": location.id})
    health = soup(client.get("/integrations/"))
    assert health.select_one(".table-wrap > table.health") is not None
    assert health.select_one(".table-wrap > table.background-checks") is not None


def test_webhook_deliveries_use_the_generic_wrapper(app, client, make, auth):
    from webapp.settings.webhook_setup import record_delivery

    location = make.location(code="GAMMA", dms_vendor="reynolds", webhook_secret="set")
    with app.app_context():
        record_delivery(location.id, "accepted", 202, event_id="e-1", data_type="customers")
    auth.login(make.user(Role.SERVICE_MANAGER, location).email, PASSWORD)
    section = soup(client.get("/settings/external-interfaces")).select_one("#webhook")
    assert section.select_one(".table-wrap > table tr.delivery") is not None
    assert section.select_one(".ro-table-wrap") is None
