"""Benchmark: a full pull into the DMS mirror, against the raw limit and a naive pipeline.

Run: ``.venv/bin/python tests/bench/pull.py`` (``BENCH_SCALE=0.1`` for a tenth of the size).

For SQLite and for PostgreSQL (``bench_pull`` database on 127.0.0.1, created if missing;
skipped with a note if PostgreSQL is not reachable) it measures, with the sandbox DMS in its
own process and the pulls run by a real ``python -m jobs.worker --burst`` process:

- the full pull of 100,000 customers + 100,000+ vehicles + 200,000 ROs with lines
  (times the scale) into the mirror — records/s end to end over HTTP, over the time the
  worker spent in the pull jobs (RQ's started/ended stamps; the burst worker's own
  start-up is printed beside it but is not part of a pull);
- the raw limit: the same rows the pull wrote, as the database stores them, bulk-inserted
  by the database's fastest path (the driver's executemany on SQLite, COPY on PostgreSQL;
  5,000 a batch) into empty copies of their tables with the tables' indexes — records/s.
  The rows are the mirror rows and their search-index rows: the pull writes both in one
  transaction (the DMS tab finds mirror rows through the index), about 3 index rows a
  record (9 a customer). Printed beside it: the mirror rows alone, and the mirror rows
  into a bare copy with only a primary key;
- a naive pipeline: the same records upserted row by row through the ORM with a commit
  each (what a quick job would do) — records/s over a 5,000-record sample;
- an incremental re-pull after 1% of the records changed in the DMS — its time as a
  fraction of the full pull's;
- the worker's peak RSS at this size and at a tenth of it (flat with size).

Targets (issue 4): >= 0.5 x raw, >= 10 x naive, incremental <= 5%, peak RSS <= 250 MB.
Last line: ``pg_ratio_vs_raw= pg_ratio_vs_naive= sqlite_ratio_vs_raw= sqlite_ratio_vs_naive=
incremental_fraction= peak_rss_mb=``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_pull"
NAIVE_SAMPLE = 5000


def log(message: str) -> None:
    print(f"[bench pull] {message}", flush=True)


def start_sandbox(data_dir: str, accounts: list[str]) -> tuple[subprocess.Popen, str]:
    args = [
        sys.executable,
        "-m",
        "connectors.sandbox",
        "--port",
        "0",
        "--data-dir",
        data_dir,
        "--rate-limit",
        "100000000",
    ]
    for account in accounts:
        args += ["--account", account]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    return proc, line.strip().rsplit(" ", 1)[-1]


def job_seconds(redis_url: str) -> float:
    """Time the worker spent inside pull jobs (RQ's started/ended stamps), then forget them.

    This is the pulls' own cost; the burst worker's start-up (imports, connecting) is
    not part of a pull — production workers are long-running — and is reported apart."""
    from redis import Redis
    from rq import Queue
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    connection = Redis.from_url(redis_url)
    registry = FinishedJobRegistry(queue=Queue("pulls", connection=connection))
    total = 0.0
    for job_id in registry.get_job_ids():
        job = Job.fetch_many([job_id], connection=connection)[0]
        if job is not None and job.started_at and job.ended_at:
            total += (job.ended_at - job.started_at).total_seconds()
        # Out of the registry only: deleting the job as well races RQ's last heartbeat,
        # which can re-create the execution's record half-written (KeyError in RQ 2.12).
        registry.remove(job_id)
    return total


def run_worker(env: dict) -> tuple[float, float]:
    """Run a burst worker until the queue is empty; return (seconds, peak RSS MB of worker + horses)."""
    started = time.perf_counter()
    proc = psutil.Popen(
        [sys.executable, "-m", "jobs.worker", "--burst", "pulls"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while proc.poll() is None:
        try:
            rss = max([proc.memory_info().rss] + [c.memory_info().rss for c in proc.children(recursive=True)])
        except psutil.Error:
            rss = 0
        peak = max(peak, rss)
        time.sleep(0.05)
    if proc.returncode != 0:
        raise RuntimeError(f"worker exited with {proc.returncode}")
    return time.perf_counter() - started, peak / 2**20


def prepare_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql"):
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS bench_pull WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE bench_pull"))
        admin.dispose()


def raw_copy(engine, table: str, key: str, *, indexed: bool, where: str = "1 = 1", per_batch: int = 5000):
    """(seconds, rows): bulk-insert every row of ``table`` matching ``where`` into an empty copy
    of it by the database's fastest path, in batches of ``per_batch`` values of ``key`` (so a
    record's search tokens go in together, as the pull writes them). Only the writing is
    timed. ``indexed``: the copy has the table's indexes and constraints, else only a
    primary key on ``key``."""
    from sqlalchemy import Column, MetaData, Table

    metadata = MetaData()  # shared, so the copy's foreign keys find the tables they point at
    source = Table(table, metadata, autoload_with=engine)
    copy_name = f"{table}_rawcopy"
    if indexed:
        copy = source.to_metadata(metadata, name=copy_name)
        for item in (*copy.indexes, *copy.constraints):  # index names are per database, not per table
            if item.name:
                item.name = f"{item.name}_rawcopy"
    else:
        copy = Table(copy_name, metadata, *[Column(c.name, c.type, primary_key=c.name == key) for c in source.columns])
    copy.drop(engine, checkfirst=True)
    copy.create(engine)
    names = ", ".join(c.name for c in source.columns)
    pg = engine.dialect.name == "postgresql"
    seconds, rows, last = 0.0, 0, None
    while True:
        with engine.connect() as conn:
            after = "" if last is None else f" AND {key} > {int(last)}"
            keys = (
                conn.exec_driver_sql(
                    f"SELECT DISTINCT {key} FROM {table} WHERE {where}{after} ORDER BY {key} LIMIT {per_batch}"
                )
                .scalars()
                .all()
            )
            if not keys:
                break
            last = keys[-1]
            batch_sql = f"SELECT {names} FROM {table} WHERE {where}{after} AND {key} <= {int(last)}"
            raw = conn.connection.dbapi_connection
            if pg:  # the rows as COPY text, written back with COPY
                with raw.cursor() as cursor, cursor.copy(f"COPY ({batch_sql}) TO STDOUT") as out:
                    data = b"".join(bytes(chunk) for chunk in out)
                started = time.perf_counter()
                with raw.cursor() as cursor, cursor.copy(f"COPY {copy_name} ({names}) FROM STDIN") as copy_in:
                    copy_in.write(data)
                rows += data.count(b"\n")
            else:  # the rows as stored, written back with the driver's executemany
                batch = raw.execute(batch_sql).fetchall()
                started = time.perf_counter()
                raw.executemany(
                    f"INSERT INTO {copy_name} ({names}) VALUES ({', '.join('?' * len(source.columns))})", batch
                )
                rows += len(batch)
            raw.commit()
            seconds += time.perf_counter() - started
    copy.drop(engine)
    return seconds, rows


def measure(db_url: str, sandbox_url: str, redis_url: str, accounts: dict, tmp: str) -> dict:
    """Full pull, incremental pull, raw insert and naive upsert on one database."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from webapp import create_app
    from webapp.credentials import configured_keys
    from webapp.extensions import db
    from webapp.models import DmsRecord, Location
    from webapp.services.runs import enqueue_pull

    prepare_database(db_url)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench", "TESTING": True}
    )
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "bench",
        "INSTANCE_PATH": tmp,
        "PULL_PAGE_SIZE": "1000",
        "CREDENTIALS_KEYS": ",".join(configured_keys(app)),
    }  # workers decrypt what this app encrypts
    with app.app_context():
        upgrade()
        locations = {}
        for code, (vendor, _types) in accounts.items():
            loc = Location(
                name=code,
                code=code.upper().replace("-", ""),
                timezone="UTC",
                dms_vendor=vendor,
                dms_base_url=sandbox_url,
                dms_account=code,
                dms_credentials={"api_key": f"sandbox-key-{code}"},
            )
            db.session.add(loc)
            db.session.commit()
            locations[code] = loc.id

        def pull_all() -> tuple[float, float]:
            for code, (_vendor, types) in accounts.items():
                for data_type in types:
                    enqueue_pull(locations[code], data_type)
            return run_worker(env)

        full_wall, full_rss = pull_all()
        full_seconds = job_seconds(redis_url)
        records = db.session.scalar(select(func.count(DmsRecord.id)))
        log(
            f"{db_url.split(':')[0]}: full pull of {records} records in {full_seconds:.1f}s of pull jobs "
            f"({records / full_seconds:,.0f}/s; {full_wall:.1f}s with the burst worker's start-up), "
            f"worker peak {full_rss:.0f} MB"
        )

        # 1% of the records change in the DMS, then the regular pull.
        import httpx

        changed = 0
        with httpx.Client(base_url=sandbox_url, timeout=30) as control:
            for code, (_vendor, types) in accounts.items():
                for data_type in types:
                    ids = list(
                        db.session.scalars(
                            select(DmsRecord.dms_id).where(
                                DmsRecord.location_id == locations[code], DmsRecord.data_type == data_type
                            )
                        )
                    )
                    field = {"customers": "city", "vehicles": "plate", "repair_orders": "status"}[data_type]
                    value = {"customers": "Bench City", "vehicles": "BENCH1", "repair_orders": "closed"}[data_type]
                    for dms_id in ids[::100]:
                        control.patch(f"/_control/accounts/{code}/records/{data_type}/{dms_id}", json={field: value})
                        changed += 1
        incremental_wall, _ = pull_all()
        incremental_seconds = job_seconds(redis_url)
        log(
            f"incremental pull after {changed} changes: {incremental_seconds:.2f}s of pull jobs "
            f"({incremental_wall:.2f}s with the burst worker's start-up)"
        )

        # Raw limit: the same rows straight into the same database by its fastest bulk path,
        # with no pipeline: the mirror rows, and the search-index rows the pull writes with
        # them (the DMS tab finds mirror rows through them, so a pull stores both in one
        # transaction), each into an empty copy of its table with that table's indexes. The
        # rows are read back as the database stores them and written, 5,000 a batch, with the
        # driver's executemany (SQLite) or COPY (PostgreSQL); only the writing is timed.
        # Printed beside it: the mirror rows alone, and into a bare copy (primary key only).
        mirror_seconds, _ = raw_copy(db.engine, "dms_record", "id", indexed=True)
        bare_seconds, _ = raw_copy(db.engine, "dms_record", "id", indexed=False)
        token_seconds, tokens = 0.0, 0
        for scope, location_id in db.session.execute(text("SELECT DISTINCT scope, location_id FROM search_token")):
            seconds, count = raw_copy(
                db.engine,
                "search_token",
                "record_id",
                indexed=True,
                per_batch=600,
                where=f"scope = '{scope}' AND location_id = {int(location_id)}",
            )
            token_seconds, tokens = token_seconds + seconds, tokens + count
        raw_rate = records / (mirror_seconds + token_seconds)
        mirror_rate, bare_rate = records / mirror_seconds, records / bare_seconds
        log(
            f"raw limit: {records} mirror rows in {mirror_seconds:.1f}s + their {tokens} search-index rows "
            f"in {token_seconds:.1f}s"
        )

        # Naive: row-by-row ORM upserts, one commit each, over a sample of customers.
        import connectors
        from webapp.services.mirror import content_hash, search_fields

        code = next(iter(accounts))
        sample = []
        with connectors.connect(
            accounts[code][0],
            {"base_url": sandbox_url, "account": code, "api_key": f"sandbox-key-{code}", "timeout": 60},
        ) as dms:
            for page in dms.iter_changes("customers", page_size=1000):
                sample.extend(page.records)
                if len(sample) >= NAIVE_SAMPLE:
                    break
        naive_location = Location(name="naive", code="NAIVE", timezone="UTC", dms_vendor="cdk")
        db.session.add(naive_location)
        db.session.commit()
        started = time.perf_counter()
        for record in sample[:NAIVE_SAMPLE]:
            payload = record.to_dict()
            row = db.session.scalar(
                select(DmsRecord).where(
                    DmsRecord.location_id == naive_location.id,
                    DmsRecord.data_type == "customers",
                    DmsRecord.dms_id == record.dms_id,
                )
            )
            if row is None:
                row = DmsRecord(location_id=naive_location.id, data_type="customers", dms_id=record.dms_id)
                db.session.add(row)
            row.payload, row.content_hash = payload, content_hash(payload)
            row.dms_modified_at = record.modified_at
            for key, value in search_fields("customers", payload).items():
                setattr(row, key, value)
            db.session.commit()
        naive_rate = len(sample[:NAIVE_SAMPLE]) / (time.perf_counter() - started)
        db.session.remove()
        db.engine.dispose()
    pipeline_rate = records / full_seconds
    log(
        f"pipeline {pipeline_rate:,.0f}/s, raw {raw_rate:,.0f}/s (ratio {pipeline_rate / raw_rate:.2f}; "
        f"the mirror rows alone: {mirror_rate:,.0f}/s, ratio {pipeline_rate / mirror_rate:.2f}; into a bare table "
        f"without the mirror's indexes: {bare_rate:,.0f}/s, ratio {pipeline_rate / bare_rate:.2f}), "
        f"naive {naive_rate:,.0f}/s"
    )
    return {
        "ratio_vs_raw": pipeline_rate / raw_rate,
        "ratio_vs_mirror_rows_only": pipeline_rate / mirror_rate,
        "ratio_vs_bare_table": pipeline_rate / bare_rate,
        "ratio_vs_naive": pipeline_rate / naive_rate,
        "incremental_fraction": incremental_seconds / full_seconds,
        "peak_rss_mb": full_rss,
    }


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    customers = int(100_000 * scale)
    ro_customers = int(250_000 * scale)  # the sandbox makes 0.8 ROs per customer: 200,000 ROs
    accounts = {"bench-a": ("cdk", ["customers", "vehicles"]), "bench-b": ("cdk", ["repair_orders"])}
    from webapp.redis_conn import start_embedded_redis

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp:
        redis_proc, redis_url = start_embedded_redis(Path(tmp) / "redis")
        sandbox, sandbox_url = start_sandbox(
            str(Path(tmp) / "sandbox"), [f"bench-a:cdk:{customers}", f"bench-b:cdk:{ro_customers}"]
        )
        try:
            import connectors

            for code, (vendor, types) in accounts.items():  # generate the DMS data before timing
                with connectors.connect(
                    vendor, {"base_url": sandbox_url, "account": code, "api_key": f"sandbox-key-{code}", "timeout": 600}
                ) as dms:
                    for data_type in types:
                        log(f"sandbox {code} {data_type}: {sum(1 for _ in dms.list_ids(data_type)):,} records")
            results["sqlite"] = measure(f"sqlite:///{tmp}/bench.sqlite", sandbox_url, redis_url, accounts, tmp)
            import redis as redis_lib

            redis_lib.Redis.from_url(redis_url).flushdb()
            try:
                results["pg"] = measure(PG_URL, sandbox_url, redis_url, accounts, tmp)
            except Exception as exc:
                log(f"PostgreSQL skipped: {exc}")
        finally:
            sandbox.terminate()
            redis_proc.terminate()
    pg = results.get("pg", {})
    sq = results["sqlite"]
    incremental = max(r["incremental_fraction"] for r in results.values())
    peak = max(r["peak_rss_mb"] for r in results.values())
    log(json.dumps(results))
    print(
        f"pg_ratio_vs_raw={pg.get('ratio_vs_raw', float('nan')):.2f} "
        f"pg_ratio_vs_naive={pg.get('ratio_vs_naive', float('nan')):.1f} "
        f"sqlite_ratio_vs_raw={sq['ratio_vs_raw']:.2f} sqlite_ratio_vs_naive={sq['ratio_vs_naive']:.1f} "
        f"incremental_fraction={incremental:.3f} peak_rss_mb={peak:.0f}"
    )


if __name__ == "__main__":
    main()
