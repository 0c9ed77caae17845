"""A dead or late scheduler, late scheduled jobs and queues without workers show on
Integration health and make ``/healthz`` answer 503 with the reason.

The states are computed from what the real processes write to Redis (RQ's cron-scheduler
registry, the heartbeat job's key, RQ's worker registry); the first tests write those
entries with chosen ages, the last one runs a real scheduler and a real worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Worker

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.waiting import wait_for
from tests.worker_process import worker_env
from webapp.models import Role
from webapp.redis_conn import get_redis
from webapp.services.liveness import SCHEDULER_HEARTBEAT_KEY
from webapp.services.queues import ALL_QUEUES, MAINTENANCE, PULLS

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = "rq:cron_schedulers"


@pytest.fixture()
def strict(app, monkeypatch):
    """/healthz fails on background problems, as in production."""
    monkeypatch.setitem(app.config, "HEALTHZ_REQUIRE_BACKGROUND", True)


@pytest.fixture()
def redis(app):
    return get_redis(app.config["REDIS_URL"])


@pytest.fixture()
def manager(make, client, auth):
    location = make.location(name="Alpha Ford", code="ALPHA")
    user = make.user(Role.SERVICE_MANAGER, location)
    auth.login(user.email, PASSWORD)
    return user


def scheduler_seen(redis, seconds_ago: float) -> None:
    redis.zadd(REGISTRY, {"test-host:1234:scheduler": time.time() - seconds_ago})


def heartbeat(redis, seconds_ago: float) -> None:
    redis.set(SCHEDULER_HEARTBEAT_KEY, time.time() - seconds_ago)


def worker(redis, queues=ALL_QUEUES) -> Worker:
    """A worker registered the way a running one is (this process is its live pid)."""
    registered = Worker(list(queues), connection=redis)
    registered.register_birth()
    return registered


def healthz(client):
    response = client.get("/healthz")
    return response.status_code, response.get_json()


def test_all_running_is_200(client, strict, redis):
    scheduler_seen(redis, 20)
    heartbeat(redis, 30)
    worker(redis)
    status, body = healthz(client)
    assert status == 200, body
    details = body.pop("details")
    assert body == {
        "database": "ok",
        "redis": "ok",
        "scheduler": "ok",
        "scheduled_jobs": "ok",
        "workers": "ok",
        "status": "ok",
    }
    # What the checks saw, ok as they are: the scheduler's check-in and the heartbeat job's last run.
    assert details["scheduler"] == "Running: last seen 20 s ago."
    assert details["scheduled_jobs"] == "Running: the every-minute check job ran 30 s ago."
    assert details["workers"].startswith("1 worker serving every queue")


def test_no_scheduler_ever_is_503(client, strict, redis):
    heartbeat(redis, 30)
    worker(redis)
    status, body = healthz(client)
    assert status == 503
    assert body["scheduler"].startswith("down: Not running: no scheduler is registered")
    assert body["status"] == "failing: scheduler"


@pytest.mark.parametrize("age, state", [(60, "ok"), (100, "late"), (200, "down")])
def test_scheduler_late_then_dead_within_two_minutes(client, strict, redis, age, state):
    scheduler_seen(redis, age)
    heartbeat(redis, 10)
    worker(redis)
    status, body = healthz(client)
    assert body["scheduler"].split(":")[0] == state
    assert status == (200 if state == "ok" else 503)
    if state != "ok":
        assert "last seen" in body["scheduler"].lower()


def test_scheduled_jobs_not_run_is_503(client, strict, redis):
    scheduler_seen(redis, 10)
    heartbeat(redis, 130)
    worker(redis)
    status, body = healthz(client)
    assert status == 503
    assert body["scheduled_jobs"].startswith("late: Waiting: the every-minute check job last ran 2 min ago")


def test_queue_without_worker_and_dead_worker(client, strict, redis):
    scheduler_seen(redis, 10)
    heartbeat(redis, 10)
    partial = worker(redis, queues=[q for q in ALL_QUEUES if q != PULLS])
    status, body = healthz(client)
    assert status == 503 and body["workers"].startswith("down: No worker serves the pulls queue")
    # A worker of this machine whose process is gone (SIGKILL leaves its entry for minutes).
    redis.hset(partial.key, "pid", 2**22 + 12345)
    status, body = healthz(client)
    assert status == 503 and body["workers"].startswith("down: No worker is running")


def test_without_strict_mode_the_checks_are_reported_but_do_not_fail(client, redis):
    status, body = healthz(client)
    assert status == 200
    assert body["scheduler"].startswith("down") and body["workers"].startswith("down")


def test_health_page_panel(client, manager, redis):
    scheduler_seen(redis, 200)
    heartbeat(redis, 10)
    page = soup(client.get("/integrations/"))
    panel = page.select_one("#background")
    assert panel.select_one("h2").text == "Background work"
    rows = {row["id"]: row for row in panel.select("tbody tr")}
    assert rows["background-redis"]["data-state"] == "ok"
    assert rows["background-scheduler"]["data-state"] == "down"
    assert "Not running: last seen 3 min ago" in rows["background-scheduler"].text
    assert "make run restarts a stopped scheduler" in rows["background-scheduler"].text
    assert rows["background-scheduled_jobs"]["data-state"] == "ok"
    assert rows["background-workers"]["data-state"] == "down"
    assert "No worker is running" in rows["background-workers"].text
    assert panel.select_one(".alert-warning") is not None
    assert panel.find_parent(id="health")["aria-live"] == "polite"

    scheduler_seen(redis, 5)
    worker(redis)
    panel = soup(client.get("/integrations/")).select_one("#background")
    assert {row["data-state"] for row in panel.select("tbody tr")} == {"ok"}
    assert panel.select_one(".alert-warning") is None


def test_real_scheduler_and_worker_then_killed(app, client, strict, redis):
    """A real scheduler (``python -m jobs.scheduler``) and a real worker make /healthz green;
    killing each turns it red."""
    env = worker_env(app)
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / "scheduler_health.log", "ab") as log:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "jobs.scheduler", "--url", app.config["REDIS_URL"]],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker_proc = subprocess.Popen(
            [sys.executable, "-m", "jobs.worker"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        body = wait_for(
            lambda: (lambda s, b: b if s == 200 else None)(*healthz(client)), timeout=45, poll=0.25, what="all green"
        )
        assert body["status"] == "ok"
        assert redis.get(SCHEDULER_HEARTBEAT_KEY) is not None  # the worker ran the scheduler's job

        os.killpg(worker_proc.pid, signal.SIGKILL)
        worker_proc.wait(timeout=10)
        status, body = healthz(client)
        assert status == 503 and body["workers"].startswith("down: No worker is running"), body

        os.killpg(scheduler.pid, signal.SIGKILL)
        scheduler.wait(timeout=10)
        # Its last check-in ages; a minute and a half later it is late (simulated by moving it back).
        name = redis.zrange(REGISTRY, 0, -1)[0]
        redis.zadd(REGISTRY, {name: time.time() - 95})
        status, body = healthz(client)
        assert body["scheduler"].startswith("late: Last seen 95 s ago"), body
        assert MAINTENANCE in ALL_QUEUES and status == 503
    finally:
        for proc in (worker_proc, scheduler):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
