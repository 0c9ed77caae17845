"""One scheduler at a time (issue 22): two real scheduler processes on the test Redis, started
as ``make run`` starts one (webapp.runner.scheduler_command). One holds the scheduler lock and
enqueues; the other stands by, enqueues nothing, and takes over once the holder is killed with
SIGKILL. A holder that loses the lock stops scheduling until it holds it again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
from rq.cron import get_cron_job_history_key
from rq.cron_scheduler_registry import get_registry_key

from tests.waiting import wait_for
from tests.worker_process import ROOT, worker_env
from webapp.redis_conn import get_redis
from webapp.runner import scheduler_command
from webapp.services.liveness import SCHEDULER_LOCK_KEY, scheduler_lock_holder, scheduler_standbys

#: Short, so the standby's take-over is quick; renewed every third of it.
LOCK_TTL = "4"
HEARTBEAT = "jobs.housekeeping.record_scheduler_heartbeat"


class Scheduler:
    """A ``python -m jobs.scheduler`` process in its own process group, logging to a file."""

    def __init__(self, app, log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [*scheduler_command(app.config["REDIS_URL"]), "--lock-ttl", LOCK_TTL],
                cwd=ROOT,
                env=worker_env(app),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def name(self) -> str | None:
        """Its name (``host:pid:id``), from its first log line."""
        found = re.search(r"message=\"scheduler (\S+) started \(lock TTL", self.text)
        return found.group(1) if found else None

    def enqueued(self, func: str = "record_scheduler_heartbeat") -> int:
        """How many times it logged enqueueing ``func`` (RQ's cron logs each enqueue)."""
        return self.text.count(f"Enqueued job {func} to queue")

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signum)
            self.proc.wait(timeout=30)


@pytest.fixture()
def schedulers(app, tmp_path):
    """Start two schedulers; both are stopped (SIGKILL) at the end."""
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    started = [Scheduler(app, ROOT / "test-artifacts" / f"scheduler_single_{n}.log") for n in (1, 2)]
    yield started
    for scheduler in started:
        scheduler.signal(signal.SIGKILL)


def registered(redis) -> list[str]:
    """The cron schedulers registered with RQ (a SIGKILLed one's entry stays until it lapses)."""
    return [name.decode() for name in redis.zrange(get_registry_key(), 0, -1)]


def test_two_schedulers_one_schedules_the_standby_takes_over(app, schedulers, redis_url):
    redis = get_redis(redis_url)
    first, second = schedulers
    names = wait_for(lambda: [s.name() for s in schedulers] if all(s.name() for s in schedulers) else None, 60, "names")
    holder_name = wait_for(lambda: scheduler_lock_holder(redis), 60, "a scheduler to take the lock")
    assert holder_name in names
    holder, standby = (first, second) if holder_name == names[0] else (second, first)
    standby_name = names[1] if holder is first else names[0]
    assert str(holder.proc.pid) == holder_name.split(":")[-2]

    # The standby has asked for the lock and checked in as a standby; the holder has enqueued.
    wait_for(lambda: standby_name in scheduler_standbys(redis), 30, "the standby to check in")
    wait_for(lambda: f"standby: scheduler {holder_name} holds the lock" in standby.text, 30, "the standby's log")
    wait_for(lambda: holder.enqueued() >= 1, 30, "the holder to enqueue its heartbeat")
    # Exactly one schedules: one cron scheduler registered, every heartbeat enqueued is the holder's.
    assert [name.rsplit(":", 1)[0] for name in registered(redis)] == [holder_name]
    assert standby.enqueued() == 0 and standby.enqueued("dispatch_due_pulls") == 0
    assert redis.zcard(get_cron_job_history_key(HEARTBEAT)) == holder.enqueued()

    # Integration health names the holder and counts the standby.
    with app.app_context():
        from webapp.background import background_health

        [scheduler_check] = [c for c in background_health().checks if c.name == "scheduler"]
    assert scheduler_check.ok and f"{holder_name} holds the scheduler lock; 1 standby waiting" in scheduler_check.text

    # kill -9 the holder: its lock lapses and the standby takes over (and enqueues at once).
    holder.signal(signal.SIGKILL)
    assert holder.proc.returncode == -signal.SIGKILL
    wait_for(lambda: scheduler_lock_holder(redis) == standby_name, 60, "the standby to take the lock")
    wait_for(lambda: standby.enqueued() >= 1, 30, "the new holder to enqueue its heartbeat")
    assert f"{standby_name}:1" in registered(redis)
    assert redis.zcard(get_cron_job_history_key(HEARTBEAT)) == holder.enqueued() + standby.enqueued()
    assert standby_name not in scheduler_standbys(redis)


def test_a_holder_that_loses_the_lock_stops_until_it_holds_it_again(app, schedulers, redis_url):
    redis = get_redis(redis_url)
    for scheduler in schedulers[1:]:
        scheduler.signal(signal.SIGTERM)  # one scheduler alone: nobody else may take the lock
    only = schedulers[0]
    name = wait_for(only.name, 60, "its name")
    wait_for(lambda: scheduler_lock_holder(redis) == name, 60, "it to take the lock")
    wait_for(lambda: f"{name}:1" in registered(redis), 30, "its cron scheduler to register")

    # Another process holds the lock now (as after a lapse): it stops and deregisters.
    redis.set(SCHEDULER_LOCK_KEY, "someone-else")
    wait_for(lambda: "lost the scheduler lock (now held by someone-else)" in only.text, 30, "it to notice")
    wait_for(lambda: not [n for n in registered(redis) if n.startswith(f"{name}:")], 30, "it to deregister")
    wait_for(lambda: name in scheduler_standbys(redis), 30, "it to stand by")
    assert scheduler_lock_holder(redis) == "someone-else"

    # The lock is free again: it takes it back, as a new term.
    redis.delete(SCHEDULER_LOCK_KEY)
    wait_for(lambda: scheduler_lock_holder(redis) == name, 30, "it to take the lock back")
    wait_for(lambda: f"{name}:2" in registered(redis), 30, "its second cron scheduler")

    # Redis restarted empty: the lock is gone with everything else; it takes it again.
    redis.flushdb()
    wait_for(lambda: scheduler_lock_holder(redis) == name, 30, "it to take the lock after the flush")
    wait_for(lambda: f"{name}:3" in registered(redis), 30, "its third cron scheduler")
    wait_for(lambda: redis.zcard(get_cron_job_history_key(HEARTBEAT)) == 1, 30, "a heartbeat enqueued again")

    # Stopped politely, it gives the lock back at once for a standby.
    only.signal(signal.SIGTERM)
    assert only.proc.returncode == 0
    assert scheduler_lock_holder(redis) is None
