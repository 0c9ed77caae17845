"""Benchmark: 10,000 queued appointment pushes delivered by 2 workers vs the connector in a loop.

Run: ``.venv/bin/python tests/bench/push.py`` (``BENCH_SCALE=0.1`` for 1,000 pushes).
A sandbox DMS runs in this process; the console uses a temporary SQLite database and an
embedded Redis. Step 1 times a plain loop calling ``create_appointment`` directly (the
floor; the connector is created before the clock starts, its token fetch is timed);
step 2 books the same number of appointments through the outbox (one transaction per 500
bookings), starts two real ``python -m jobs.worker pushes`` processes and waits until they
are listening, then times from queueing one drain job per worker until every message is
sent. Worker start-up (interpreter, imports, the app: a once-per-deployment cost of a
long-running service, as the direct loop's own imports and connector are) is printed but
not timed; everything per drain is timed (RQ dequeue and fork, the job's DMS connection
and token, claims, loads, commits). Last line:
``pushes_per_s=<outbox throughput> overhead_ratio=<outbox time / direct time>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
N = max(10, int(10_000 * SCALE))
WORKERS = 2


def main() -> None:
    """Run both measurements and print the figures."""
    from connectors.sandbox.testing import running_sandbox
    from webapp.redis_conn import start_embedded_redis

    tmp = Path(tempfile.mkdtemp(prefix="bench-push-"))
    redis_proc, redis_url = start_embedded_redis(tmp / "redis")
    db_url = f"sqlite:///{tmp / 'console.sqlite'}"
    os.environ.update(
        {"REDIS_URL": redis_url, "DATABASE_URL": db_url, "INSTANCE_PATH": str(tmp / "instance"), "SECRET_KEY": "bench"}
    )
    try:
        with running_sandbox(
            (("bench-direct", "cdk", 50), ("bench-outbox", "cdk", 50)), data_dir=tmp / "dms"
        ) as sandbox:
            direct = _direct(sandbox)
            outbox, startup = _outbox(sandbox, db_url, redis_url)
            assert sandbox.control.count_created("bench-outbox")["appointments"] == N, "lost or duplicated pushes"
    finally:
        redis_proc.terminate()
    print(f"direct loop: {N} creates in {direct:.2f}s ({N / direct:.0f}/s)")
    print(
        f"outbox + {WORKERS} workers: {N} pushes in {outbox:.2f}s ({N / outbox:.0f}/s); "
        f"worker start-up, not timed: {startup:.2f}s"
    )
    print(f"pushes_per_s={N / outbox:.1f} overhead_ratio={outbox / direct:.2f}")


def _fields(customer_dms_id: str, n: int) -> dict:
    return {
        "customer_dms_id": customer_dms_id,
        "vehicle_dms_id": None,
        "advisor_dms_id": "ADV03",
        "scheduled_at": datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        "opcodes": ["LOF"],
        "notes": f"bench {n}",
        "dispatch_code": "",
    }


def _direct(sandbox) -> float:
    """The floor: one connector, create_appointment in a loop."""
    with sandbox.connect("bench-direct", timeout=30) as dms:
        customer = sorted(dms.list_ids("customers"))[0]
        started = time.perf_counter()
        for n in range(N):
            dms.create_appointment(_fields(customer, n), f"direct-{n}")
        return time.perf_counter() - started


def _outbox(sandbox, db_url: str, redis_url: str) -> tuple[float, float]:
    """Book N appointments (outbox rows), then time 2 worker processes delivering them.

    Returns (delivery seconds, worker start-up seconds)."""
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Appointment, Customer, Location, OutboxKind, Role, User
    from webapp.outbox import enqueue_push

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url, "TESTING": True})
    settings = sandbox.settings("bench-outbox")
    with app.app_context():
        upgrade(revision="heads")  # tolerate migrations of concurrent work not yet chained
        location = Location(
            name="Bench",
            code="BENCH",
            dms_vendor="cdk",
            dms_base_url=settings["base_url"],
            dms_account="bench-outbox",
            dms_credentials=settings["credentials"],
        )
        db.session.add(location)
        db.session.flush()
        with sandbox.connect("bench-outbox") as dms:
            customer_dms_id = sorted(dms.list_ids("customers"))[0]
        customer = Customer(location_id=location.id, dms_id=customer_dms_id, first_name="Bench", last_name="Mark")
        advisor = User(
            email="adv@bench.test",
            name="Adv",
            role=Role.SERVICE_ADVISOR,
            location_id=location.id,
            advisor_dms_id="ADV03",
            password_hash="x",
        )
        db.session.add_all([customer, advisor])
        db.session.commit()
        from webapp.redis_conn import get_redis

        get_redis().set(f"dms-console:push-wake:{location.id}", 99, ex=3600)  # no wake-ups while booking
        for start in range(0, N, 500):
            for n in range(start, min(N, start + 500)):
                fields = _fields(customer_dms_id, n)
                appointment = Appointment(
                    location_id=location.id,
                    customer_id=customer.id,
                    advisor_id=advisor.id,
                    scheduled_at=fields["scheduled_at"],
                    opcodes=["LOF"],
                    notes=fields["notes"],
                )
                db.session.add(appointment)
                db.session.flush()
                enqueue_push(db.session, location, OutboxKind.APPOINTMENT_CREATE, appointment)
            db.session.commit()
        get_redis().delete(f"dms-console:push-wake:{location.id}")
        location_id = location.id
    from rq import Queue, Worker
    from sqlalchemy import func, select

    from webapp.models import OutboxMessage, OutboxStatus

    redis = get_redis(redis_url)
    queue = Queue("pushes", connection=redis)
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url}
    # Workers are long-running services: start them first (interpreter, imports, app) and
    # time from the moment the drain jobs are queued. Start-up is reported on its own line.
    spawned = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "jobs.worker", "pushes"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(WORKERS)
    ]
    try:
        while len(Worker.all(queue=queue)) < WORKERS:
            if any(proc.poll() is not None for proc in workers):
                raise RuntimeError("a worker exited at start-up")
            time.sleep(0.02)
        startup = time.perf_counter() - spawned
        started = time.perf_counter()
        for _ in range(WORKERS):  # one drain job per worker (as two bookings' wake-ups would queue)
            queue.enqueue("jobs.pushes.deliver_pushes", location_id, job_timeout=3600)
        from rq.registry import StartedJobRegistry

        started_jobs = StartedJobRegistry("pushes", connection=redis)
        with app.app_context():
            while True:  # wait for the queue to run dry (cheap Redis reads), then count in the database
                while queue.count or started_jobs.count:
                    time.sleep(0.05)  # this process also serves the sandbox: poll lightly
                left = dict(
                    db.session.execute(
                        select(OutboxMessage.status, func.count(OutboxMessage.id))
                        .where(OutboxMessage.status != OutboxStatus.SENT)
                        .group_by(OutboxMessage.status)
                    ).all()
                )
                db.session.rollback()
                if not left:
                    break
                if not left.get(OutboxStatus.PENDING) and not left.get(OutboxStatus.SENDING):
                    raise RuntimeError(f"pushes did not go through: {left}")
                time.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        for proc in workers:
            proc.terminate()  # warm shutdown
        for proc in workers:
            proc.wait(timeout=60)
    return elapsed, startup


if __name__ == "__main__":
    main()
