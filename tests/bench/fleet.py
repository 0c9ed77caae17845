"""Benchmark: many rooftops — 200 locations pulled on their cadences by one scheduler and a fixed set of workers.

Run (production-like; about 16 minutes: 2-4 of set-up and first pulls, 10 measured, 1-3 to finish)::

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \\
        FLEET_WORKERS=4 .venv/bin/python tests/bench/fleet.py

The whole stack runs as ``make run`` runs it (``python -m webapp.runner``: the sandbox DMS, the RQ
workers, the scheduler ``python -m jobs.scheduler``, gunicorn; see tests/bench/_stack.py), with
``PULL_WORKERS`` = ``FLEET_WORKERS`` (default 4) and ``INTERACTIVE_WORKERS`` =
``FLEET_INTERACTIVE_WORKERS`` (default 1; every worker also takes the scheduler's dispatch ticks,
first). With ``DATABASE_URL`` (PostgreSQL) set it uses a database ``bench_fleet`` on that server
(created, dropped at the end); with ``REDIS_URL`` set, database 9 of that Redis (``BENCH_REDIS_DB``,
flushed); without them SQLite and the embedded Redis, as ``make run``.

Set-up: ``FLEET_LOCATIONS`` (200) sandbox DMS accounts of ``FLEET_CUSTOMERS`` (30) customers each
(with vehicles, appointments, ROs... in the sandbox generator's proportions), the eight vendors in
turn and each vendor's wire protocols in turn (STAR REST, the console REST dialect, OpenTrack SOAP),
in four US time zones; one console location per account with its vendor, protocol and credentials.
The demo's locations are made inactive, so the scheduler serves exactly the bench's. Each data type
the scheduler pulls every N minutes (the vendor's minutes; "Auto" catch-ups every 60; "Comes with
RO" on the RO cadence) gets the location setting ``cadence_overrides`` = N / ``FLEET_CADENCE_DIVISOR``
(3) minutes, rounded half up, at least 1 (CDK ROs every 1 minute instead of 3, customers every 5
instead of 15): 316 pulls a minute instead of the vendors' 125. Nightly data types keep their night.
The measurement starts once every data type has been pulled once and the runs queued or running are
down to 2 per pull worker (or stop going down over a minute or so: the workers do not keep up, and
the figures say by how much). During it, staff edit customers in the DMS (``FLEET_EDITS_PER_MIN``,
default one per location a minute, random accounts), so pulls have changes to bring.

Measured over ``FLEET_MINUTES`` (10 x ``BENCH_SCALE``, at least 2) minutes, from the SyncRun rows:

- *slots*: every due time (webapp/services/cadences.py: ``GRID_EPOCH`` + the pair's grid offset +
  k x cadence) of every (location, data type) pulled every N minutes whose whole period lies in the
  window;
- a slot is *served* by the first run of its (location, data type) queued (the SyncRun's
  ``started_at``) within its period that serves a slot as the scheduler counts it (a scheduled run
  not skipped or cancelled; a Pull now / webhook / file run queued, running or succeeded); a slot
  without one is a *missed run*;
- ``lag`` of a served slot = its run's ``finished_at`` - the slot (its due time): how long after the
  due time the DMS's changes were in the console. A run not finished when the measurement ends (up
  to 3 minutes after the window) counts with the lag it had then. Printed beside it: the queueing
  lag (``started_at`` - slot: the 15-s scheduler tick and the dispatch), per data type and per
  cadence, and runs that failed;
- ``scheduler_cpu_pct``: the scheduler's share of one core, x 100: the CPU seconds of the scheduler
  process (psutil) plus the seconds its dispatch ticks (``jobs.schedule.dispatch_due_pulls``, every
  15 s, run in a worker) took (RQ's job start and end: wall time, at least their CPU time), over the
  wall seconds of the window. Each part is printed beside it;
- for the worker sizing: the pull jobs' seconds in the workers (RQ's job start and end; the fork
  and bookkeeping around each job come on top), hence the worker-seconds a run and how many workers
  were busy on average, and the workers' CPU (psutil, their work-horses and pull readers included).

Targets (issue 22): lag p95 <= 30 s past the due time, no missed runs, scheduler CPU <= 10 %. The
line before the figures says which are met; the exit status is 0 unless the bench itself broke.
``BENCH_KEEP=1`` keeps the temporary directory (the stack's log ``runner.log``). Progress goes to
stderr. Last line:
``locations=<n> workers=<n> lag_p95_s=<n> lag_max_s=<n> missed_runs=<n> scheduler_cpu_pct=<n>``.
"""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from _stack import (
    ConsoleApp,
    Stack,
    drop_postgres_database,
    interrupt_on_sigterm,
    log,
    p95,
    prepare_environment,
    seed_sandbox,
)

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
LOCATIONS = int(os.environ.get("FLEET_LOCATIONS", "200"))
MINUTES = float(os.environ.get("FLEET_MINUTES", str(max(2.0, 10 * SCALE))))
WORKERS = int(os.environ.get("FLEET_WORKERS", "4"))
INTERACTIVE_WORKERS = int(os.environ.get("FLEET_INTERACTIVE_WORKERS", "1"))
CUSTOMERS = int(os.environ.get("FLEET_CUSTOMERS", "30"))
CADENCE_DIVISOR = float(os.environ.get("FLEET_CADENCE_DIVISOR", "3"))
EDITS_PER_MIN = float(os.environ.get("FLEET_EDITS_PER_MIN", str(LOCATIONS)))
BENCH_DB = "bench_fleet"
BENCH_REDIS_DB = os.environ.get("BENCH_REDIS_DB", "9")

ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
WARMUP_TIMEOUT = 1200.0
STUCK_SAMPLES = 30  # warm-up samples (2 s apart) whose lowest backlog is not below the 30 before: not catching up
DRAIN_TIMEOUT = 180.0
SAMPLE_EVERY = 5.0  # seconds between CPU samples; dispatch ticks are collected every 6th sample

TARGET_LAG_P95 = 30.0
TARGET_MISSED = 0
TARGET_SCHEDULER_CPU = 10.0


def accounts() -> list[tuple[str, str, int, str]]:
    """(sandbox account, vendor, customers, protocol): vendors in turn, each vendor's protocols in turn."""
    from connectors import VENDOR_CODES, get_profile

    made = []
    for n in range(LOCATIONS):
        vendor = VENDOR_CODES[n % len(VENDOR_CODES)]
        protocols = get_profile(vendor).protocols
        made.append((f"fleet-{n + 1:03d}", vendor, CUSTOMERS, protocols[(n // len(VENDOR_CODES)) % len(protocols)]))
    return made


def location_code(account: str) -> str:
    return "F" + account.rsplit("-", 1)[1]


def shortened(minutes: int) -> int:
    """The bench's cadence for a vendor cadence of ``minutes``: divided, rounded half up, at least 1."""
    return max(1, math.floor(minutes / CADENCE_DIVISOR + 0.5))


# --------------------------------------------------------------------------- console state
@dataclass(frozen=True)
class Pair:
    """One (location, data type) the scheduler pulls every ``minutes``."""

    location_id: int
    code: str
    vendor: str
    data_type: str
    minutes: int
    vendor_minutes: int


class FleetConsole(ConsoleApp):
    """Sets up the bench's locations and reads their runs."""

    def set_up(self, sandbox_url: str, fleet: list[tuple[str, str, int, str]]) -> list[Pair]:
        """Make the other locations inactive and add one location per account, cadences shortened."""
        from sqlalchemy import update

        from connectors.sandbox.testing import connection_settings
        from webapp.extensions import db
        from webapp.models import Location
        from webapp.services.cadences import cadences

        db.session.execute(update(Location).values(is_active=False))
        made = []
        for n, (account, vendor, _customers, protocol) in enumerate(fleet):
            dms = connection_settings(sandbox_url, account, protocol, f"sandbox-key-{account}")
            location = Location(
                code=location_code(account),
                name=f"Fleet rooftop {account.rsplit('-', 1)[1]} ({vendor})",
                timezone=ZONES[n % len(ZONES)],
                brands=["Ford"],
                dms_vendor=vendor,
                dms_protocol=dms["protocol"],
                dms_base_url=dms["base_url"],
                dms_account=account,
                dms_credentials=dms["credentials"],
                is_active=True,
            )
            vendor_minutes = {t: c.minutes for t, c in cadences(location).items() if c.minutes is not None}
            location.cadence_overrides = {t: shortened(m) for t, m in vendor_minutes.items()}
            made.append((location, vendor_minutes))
            db.session.add(location)
        db.session.commit()
        pairs = [
            Pair(location.id, location.code, location.dms_vendor, data_type, shortened(minutes), minutes)
            for location, vendor_minutes in made
            for data_type, minutes in vendor_minutes.items()
        ]
        self.done()
        return pairs

    @staticmethod
    def scheduled_types(codes: list[str]) -> dict[int, list[str]]:
        """Every data type the scheduler pulls (by interval or nightly) of each location, by id."""
        from sqlalchemy import select

        from webapp.extensions import db
        from webapp.models import Location
        from webapp.services.cadences import cadences

        found = {
            location.id: [t for t, c in cadences(location).items() if c.scheduled]
            for location in db.session.scalars(select(Location).where(Location.code.in_(codes)))
        }
        ConsoleApp.done()
        return found

    @staticmethod
    def warmup_state(types: dict[int, list[str]]) -> tuple[int, int]:
        """(data types of the fleet not pulled successfully yet, runs queued or running)."""
        from sqlalchemy import func, select

        from webapp.extensions import db
        from webapp.models import RunStatus, RunTrigger, SyncRun

        pulled = set(
            db.session.execute(
                select(SyncRun.location_id, SyncRun.data_type)
                .where(SyncRun.status == RunStatus.SUCCEEDED, SyncRun.trigger != RunTrigger.RECONCILE)
                .distinct()
            ).all()
        )
        active = db.session.scalar(
            select(func.count()).where(SyncRun.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
        )
        ConsoleApp.done()
        missing = sum(1 for location_id, kinds in types.items() for t in kinds if (location_id, t) not in pulled)
        return missing, active


# --------------------------------------------------------------------------- during the window
class CpuMeter:
    """CPU seconds of a changing set of processes: per pid, its last sample minus its first
    (``children``: with the reaped children's time, e.g. a worker's work-horses)."""

    def __init__(self, children: bool = False) -> None:
        self.children = children
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def sample(self, procs: list[psutil.Process]) -> None:
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            total = times.user + times.system
            if self.children:
                total += times.children_user + times.children_system
            self.first.setdefault(proc.pid, total)
            self.last[proc.pid] = total

    @property
    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)

    @property
    def processes(self) -> int:
        return len(self.first)


@dataclass
class JobTimes:
    """Start and end of RQ jobs, by id (collected from the queues' registries)."""

    spans: dict[str, tuple[datetime, datetime, datetime | None]] = field(default_factory=dict)

    def collect(self, queue_name: str, func_name: str | None = None) -> None:
        from rq.job import Job
        from rq.registry import FailedJobRegistry, FinishedJobRegistry

        from webapp.services.queues import get_queue

        queue = get_queue(queue_name)
        ids = [
            job_id
            for registry in (FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue))
            for job_id in registry.get_job_ids()
            if job_id not in self.spans
        ]
        for start in range(0, len(ids), 500):
            for job in Job.fetch_many(ids[start : start + 500], connection=queue.connection):
                if job is None or job.started_at is None or job.ended_at is None:
                    continue
                if func_name is not None and job.func_name != func_name:
                    continue
                self.spans[job.id] = (job.started_at, job.ended_at, job.enqueued_at)

    def within(self, start: datetime, end: datetime) -> list[tuple[float, float | None]]:
        """(seconds in the job, seconds it waited in its queue) of the jobs that ended in [start, end]."""
        naive_start, naive_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
        found = []
        for began, ended, queued in self.spans.values():
            began, ended = began.replace(tzinfo=None), ended.replace(tzinfo=None)
            if naive_start <= ended <= naive_end:
                waited = (began - queued.replace(tzinfo=None)).total_seconds() if queued else None
                found.append(((ended - began).total_seconds(), waited))
        return found


class Window:
    """What runs beside the pulls while they are measured: staff edits in the DMS, CPU samples,
    the dispatch ticks' and pull jobs' times."""

    def __init__(self, stack: Stack, fleet: list[tuple[str, str, int, str]]) -> None:
        self.stack = stack
        self.fleet = fleet
        self.scheduler = CpuMeter()
        self.workers = CpuMeter(children=True)
        self.sandbox = CpuMeter()
        self.dispatch = JobTimes()
        self.pulls = JobTimes()
        self.edits = 0
        self.edit_errors = 0
        self.scheduler_pids: set[int] = set()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._edit, daemon=True),
            threading.Thread(target=self._sample, daemon=True),
        ]

    def start(self) -> None:
        self._sample_once()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self._sample_once()
        self._collect_jobs()

    def _processes(self) -> tuple[list[psutil.Process], list[psutil.Process]]:
        sandbox = []
        try:
            for proc in psutil.Process(self.stack.proc.pid).children():
                try:
                    if "connectors.sandbox" in proc.cmdline():
                        sandbox.append(proc)
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        return self.stack.workers(), sandbox

    def _sample_once(self) -> None:
        scheduler = self.stack.scheduler()
        if scheduler is not None:
            self.scheduler.sample([scheduler])
            self.scheduler_pids.add(scheduler.pid)
        workers, sandbox = self._processes()
        self.workers.sample(workers)
        self.sandbox.sample(sandbox)

    def _collect_jobs(self) -> None:
        from webapp.services.queues import MAINTENANCE, PULLS

        try:
            self.dispatch.collect(MAINTENANCE, "jobs.schedule.dispatch_due_pulls")
            self.pulls.collect(PULLS)
        except Exception as error:  # a busy Redis: the next collection catches up
            log(f"could not read the job registries: {error!r}")

    def _sample(self) -> None:
        n = 0
        while not self._stop.wait(SAMPLE_EVERY):
            self._sample_once()
            n += 1
            if n % 6 == 0:  # the dispatch ticks are kept 300 s (result_ttl): read them every 30 s
                self._collect_jobs()

    def _edit(self) -> None:
        """Staff edits in the DMS: a new e-mail address of a random customer of a random account."""
        from connectors.sandbox.generate import customer_id
        from connectors.sandbox.testing import ControlClient

        if EDITS_PER_MIN <= 0:
            return
        rng = random.Random(22)
        control = ControlClient(self.stack.sandbox_url, timeout=30)
        gap = 60.0 / EDITS_PER_MIN
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                account = rng.choice(self.fleet)
                dms_id = customer_id(rng.randint(1, account[2]))
                try:
                    control.edit_record(
                        account[0], "customers", dms_id, {"emails": [f"fleet-{uuid.uuid4().hex[:10]}@example.com"]}
                    )
                    self.edits += 1
                except Exception:
                    self.edit_errors += 1
                next_at += gap
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        finally:
            control.close()


# --------------------------------------------------------------------------- the figures
@dataclass
class Slot:
    pair: Pair
    due: datetime
    run: object | None = None  # the SyncRun serving it

    @property
    def lag(self) -> float | None:
        if self.run is None or self.run.finished_at is None:
            return None
        return (self.run.finished_at - self.due).total_seconds()

    @property
    def queued_after(self) -> float | None:
        return None if self.run is None else (self.run.started_at - self.due).total_seconds()


def slots_in(pairs: list[Pair], start: datetime, end: datetime) -> list[Slot]:
    """Every due time of every pair whose whole period lies in [start, end]."""
    from webapp.services.cadences import GRID_EPOCH, grid_offset

    found = []
    for pair in pairs:
        period = timedelta(minutes=pair.minutes)
        origin = GRID_EPOCH + grid_offset(pair.location_id, pair.data_type, pair.minutes)
        due = origin + -((origin - start) // period) * period  # the first due time at or after start
        while due + period <= end:
            found.append(Slot(pair, due))
            due += period
    return found


def serves_a_slot(run) -> bool:
    """As the scheduler counts runs (webapp.services.cadences.SERVES_A_PULL_SLOT)."""
    from webapp.models import RunTrigger
    from webapp.services.cadences import NOT_SERVING, ON_REQUEST_SERVING, ON_REQUEST_TRIGGERS

    if run.trigger == RunTrigger.SCHEDULE:
        return run.status not in NOT_SERVING
    return run.trigger in ON_REQUEST_TRIGGERS and run.status in ON_REQUEST_SERVING


def match_runs(slots: list[Slot], runs: list) -> None:
    """Give each slot the first run of its pair that started within its period and serves a slot."""
    by_pair: dict[tuple[int, str], list] = {}
    for run in sorted(runs, key=lambda r: r.started_at):
        if serves_a_slot(run):
            by_pair.setdefault((run.location_id, run.data_type), []).append(run)
    for slot in slots:
        period = timedelta(minutes=slot.pair.minutes)
        for run in by_pair.get((slot.pair.location_id, slot.pair.data_type), ()):
            if slot.due <= run.started_at < slot.due + period:
                slot.run = run
                break


def lags(slots: list[Slot], measured_until: datetime) -> list[float]:
    """The lag of every served slot; a run still under way counts with the lag it had at the end."""
    return [
        slot.lag if slot.lag is not None else (measured_until - slot.due).total_seconds()
        for slot in slots
        if slot.run is not None
    ]


def describe(label: str, slots: list[Slot], measured_until: datetime) -> str:
    served = [slot for slot in slots if slot.run is not None]
    if not served:
        return f"{label}: {len(slots)} slots, none served"
    values = lags(slots, measured_until)
    queued = [slot.queued_after for slot in served]
    return (
        f"{label}: {len(slots)} slots, {len(slots) - len(served)} missed; lag p50 {statistics.median(values):.1f} "
        f"p95 {p95(values):.1f} max {max(values):.1f} s; queued p95 {p95(queued):.1f} s after the due time"
    )


def summary(pairs: list[Pair], slots: list[Slot], measured_until: datetime) -> list[str]:
    """Per data type and per cadence."""
    lines = []
    for data_type in sorted({pair.data_type for pair in pairs}):
        lines.append(describe(f"  {data_type}", [s for s in slots if s.pair.data_type == data_type], measured_until))
    for minutes in sorted({pair.minutes for pair in pairs}):
        chosen = [s for s in slots if s.pair.minutes == minutes]
        lines.append(describe(f"  every {minutes} min", chosen, measured_until))
    return lines


def rate_per_minute(pairs: list[Pair], vendor: bool = False) -> float:
    return sum(1 / (pair.vendor_minutes if vendor else pair.minutes) for pair in pairs)


def main() -> int:
    interrupt_on_sigterm()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    env = prepare_environment(
        tmp, BENCH_DB, BENCH_REDIS_DB, {"PULL_WORKERS": str(WORKERS), "INTERACTIVE_WORKERS": str(INTERACTIVE_WORKERS)}
    )
    from webapp.models import RunStatus, utcnow  # after the environment: the app reads it on import

    fleet = accounts()
    log(f"seeding the sandbox DMS: {LOCATIONS} accounts of {CUSTOMERS} customers")
    seed_sandbox(tmp / "instance" / "sandbox", fleet)
    stack = Stack(env, tmp / "runner.log")
    console = window = None
    broke = False
    try:
        log(f"starting the stack ({WORKERS} pull workers, {INTERACTIVE_WORKERS} interactive; log {stack.log_path})")
        stack.start()
        console = FleetConsole()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not every staff edit's request
        pairs = console.set_up(stack.sandbox_url, fleet)
        codes = sorted({pair.code for pair in pairs})
        types = console.scheduled_types(codes)
        log(
            f"{len(codes)} locations, {len(pairs)} data types pulled every N minutes "
            f"({rate_per_minute(pairs):.0f} pulls a minute; {rate_per_minute(pairs, vendor=True):.0f} at the "
            f"vendors' cadences); waiting for the first pull of each of the {sum(map(len, types.values()))} "
            "scheduled data types"
        )
        warm_from, last_report = time.monotonic(), 0.0
        backlog: list[int] = []  # runs queued or running, one a sample, once every data type was pulled
        while True:
            missing, active = console.warmup_state(types)
            if missing == 0:
                backlog.append(active)
                if active <= 2 * WORKERS:
                    break
                # It goes up at each dispatch tick and down between: compare the lows of two spans.
                if len(backlog) >= 2 * STUCK_SAMPLES and min(backlog[-STUCK_SAMPLES:]) >= min(
                    backlog[-2 * STUCK_SAMPLES : -STUCK_SAMPLES]
                ):
                    log(f"the backlog ({active} runs queued or running) no longer shrinks: measuring as it is")
                    break
            if time.monotonic() - warm_from > WARMUP_TIMEOUT:
                log(f"warm-up not over after {WARMUP_TIMEOUT:.0f} s ({missing} never pulled, {active} queued)")
                break
            if time.monotonic() - last_report >= 30:
                last_report = time.monotonic()
                log(f"warm-up: {missing} data types not pulled yet, {active} runs queued or running")
            time.sleep(2)
        warmup_s = time.monotonic() - warm_from
        log(f"warm-up done after {warmup_s:.0f} s; measuring for {MINUTES:g} minutes")
        window = Window(stack, fleet)
        start = utcnow()
        started_clock = time.monotonic()
        window.start()
        time.sleep(MINUTES * 60)
        end = utcnow()
        wall = time.monotonic() - started_clock
        slots = slots_in(pairs, start, end)
        log(f"window over ({len(slots)} due times); waiting up to {DRAIN_TIMEOUT:.0f} s for their last runs")
        drain_until = time.monotonic() + DRAIN_TIMEOUT
        while True:
            runs = console.runs(since=start)
            match_runs(slots, runs)
            pending = [s for s in slots if s.run is not None and s.run.status in (RunStatus.QUEUED, RunStatus.RUNNING)]
            if not pending or time.monotonic() > drain_until:
                break
            time.sleep(2)
        measured_until = utcnow()
        window.stop()
        restarts = stack.log_text().count("exited with code")
    except BaseException as error:
        broke = True
        log(f"the bench broke: {error!r}")
        raise
    finally:
        if window is not None and not window._stop.is_set():
            window._stop.set()
        if console is not None:
            console.close()
        log("stopping the stack")
        stack.stop()
        if env.get("DATABASE_URL"):
            try:
                drop_postgres_database(env["DATABASE_URL"])
                log(f"dropped the database {BENCH_DB}")
            except Exception as error:
                log(f"could not drop the database {BENCH_DB}: {error!r}")
        if KEEP or broke:
            log(f"kept {tmp} (runner.log there)")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    served = [s for s in slots if s.run is not None]
    values = lags(slots, measured_until)
    missed = len(slots) - len(served)
    unfinished = sum(1 for s in served if s.run.finished_at is None)
    failed = [s for s in served if s.run.status == RunStatus.FAILED]
    lag_p95 = p95(values) if values else float("nan")
    lag_max = max(values) if values else float("nan")
    # The scheduler: its process plus its dispatch ticks in the workers.
    ticks = window.dispatch.within(start, end)
    tick_seconds = sum(seconds for seconds, _ in ticks)
    scheduler_cpu_pct = 100 * (window.scheduler.seconds + tick_seconds) / wall
    # The workers' work: pull jobs (runs, their tries and waits for a busy DMS) that ended in the window.
    jobs = window.pulls.within(start, end)
    job_seconds = sum(seconds for seconds, _ in jobs)
    runs_in_window = [r for r in runs if r.started_at < end]
    busy = job_seconds / wall
    mean_run = job_seconds / max(1, len(runs_in_window))
    per_second = len(runs_in_window) / wall

    print(
        f"stack: python -m webapp.runner; {'PostgreSQL' if env.get('DATABASE_URL') else 'SQLite'}, "
        f"{'Redis ' + env['REDIS_URL'] if env.get('REDIS_URL') else 'embedded Redis'}; {WORKERS} pull workers, "
        f"{INTERACTIVE_WORKERS} interactive; {len(codes)} locations of {CUSTOMERS} customers, "
        f"cadences / {CADENCE_DIVISOR:g}; warm-up {warmup_s:.0f} s; window {wall / 60:.1f} min"
    )
    print(
        f"due: {rate_per_minute(pairs):.0f} pulls a minute at the bench's cadences "
        f"({rate_per_minute(pairs, vendor=True):.0f} at the vendors'); {len(runs_in_window)} runs started in the "
        f"window ({per_second:.2f}/s); {window.edits} staff edits in the DMS"
        + (f" ({window.edit_errors} refused)" if window.edit_errors else "")
    )
    print(describe("all data types", slots, measured_until))
    for line in summary(pairs, slots, measured_until):
        print(line)
    if unfinished or failed:
        errors = sorted({(s.run.error or "").split(".")[0][:100] for s in failed})
        print(f"  {unfinished} runs still under way at the end; {len(failed)} failed: {' / '.join(errors[:3])}")
    print(
        f"scheduler: scheduler process {window.scheduler.seconds:.1f} CPU s (pids {sorted(window.scheduler_pids)}); "
        f"{len(ticks)} dispatch ticks in the workers, {tick_seconds:.1f} s in all"
        + (
            f" (median {statistics.median(s for s, _ in ticks):.2f} s, max {max(s for s, _ in ticks):.2f} s, "
            f"queued before starting p95 {p95([w for _, w in ticks if w is not None]):.1f} s)"
            if ticks
            else ""
        )
        + f"; over {wall:.0f} s: {scheduler_cpu_pct:.1f} % of a core"
    )
    print(
        f"workers: {len(jobs)} pull jobs ended in the window, {job_seconds:.0f} worker-seconds "
        f"({busy:.2f} workers busy on average, {100 * busy / WORKERS:.0f} % of {WORKERS}); "
        f"{mean_run:.2f} worker-seconds a run; workers' CPU {100 * window.workers.seconds / wall:.0f} % of a core "
        f"({window.workers.processes} processes), the sandbox DMS's {100 * window.sandbox.seconds / wall:.1f} %; "
        f"{restarts} process exits in the runner's log"
    )
    print(
        f"sizing: pulls/s x worker-seconds a run = {per_second:.2f} x {mean_run:.2f} = {per_second * mean_run:.2f} "
        f"workers busy; at the vendors' cadences {rate_per_minute(pairs, vendor=True) / 60 * mean_run:.2f}"
    )
    checks = [
        (f"lag p95 {lag_p95:.1f} <= {TARGET_LAG_P95:g} s", lag_p95 <= TARGET_LAG_P95),
        (f"missed runs {missed} <= {TARGET_MISSED}", missed <= TARGET_MISSED),
        (
            f"scheduler CPU {scheduler_cpu_pct:.1f} <= {TARGET_SCHEDULER_CPU:g} %",
            scheduler_cpu_pct <= TARGET_SCHEDULER_CPU,
        ),
    ]
    print("targets: " + "; ".join(f"{text} {'met' if ok else 'MISSED'}" for text, ok in checks))
    print(
        f"locations={len(codes)} workers={WORKERS} lag_p95_s={lag_p95:.1f} lag_max_s={lag_max:.1f} "
        f"missed_runs={missed} scheduler_cpu_pct={scheduler_cpu_pct:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
