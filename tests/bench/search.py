"""Benchmark: customer/asset search at 1,000,000 customers + 1,000,000 assets (portal and mirror).

Run: ``.venv/bin/python tests/bench/search.py`` (``BENCH_SCALE=0.1`` for a tenth). Runs on
SQLite (temp file) and PostgreSQL (database ``bench_search``, created and dropped here;
``BENCH_PG_URL`` overrides; ``BENCH_SKIP_PG=1`` / ``BENCH_SKIP_SQLITE=1`` skip one;
``BENCH_REUSE=1`` keeps both databases for the next run and reuses them when complete —
for tuning; delete them after changing what is indexed; with it, ``BENCH_LOAD_ONLY=1`` only
builds them, so SQLite and PostgreSQL can be built at once by two processes;
``BENCH_BASELINE_QUERIES`` times fewer baseline searches, which take seconds each at full
scale). For each kind of term it times
a few hundred varied searches through :mod:`webapp.search.engine` (server time, Portal
and DMS tab) and the same searches, as many of them, through a plain ``ILIKE '%term%'``
query over the same columns, then the htmx results fragment end to end through the
Flask app. Last line:
``pg_p95_ms= sqlite_p95_ms= pg_speedup_vs_ilike= sqlite_speedup_vs_ilike= fragment_p95_ms=``
(p95 = the worst kind of term; speedup = the smallest ratio of the baseline's p95 to ours).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import create_engine, func, or_, select, text

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
N = int(1_000_000 * SCALE)
QUERIES = int(os.environ.get("BENCH_QUERIES", "300"))
# The baseline times as many searches as the index does (same terms, both tabs), so both p95s
# are taken over the same sample; lower it only to save time at full scale.
BASELINE_QUERIES = int(os.environ.get("BENCH_BASELINE_QUERIES", str(QUERIES)))
REUSE = bool(os.environ.get("BENCH_REUSE"))  # keep the databases between runs (tuning); reuse them if complete
LOAD_ONLY = bool(os.environ.get("BENCH_LOAD_ONLY"))  # with BENCH_REUSE: only build the databases (e.g. both at once)
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_search")
FIRST = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Zoë José Renée Chloé André"
).split()
LAST = [
    w + s
    for w in (
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
        "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
        "O'Brien Müller Nguyen"
    ).split()
    for s in ("", "son", "ley", "ton", "er", "man", "ford", "well")
]
COMPANY = "Summit Ridge Lakeside Prairie Iron Eagle Valley Northern Coastal Pioneer Keystone Granite".split()
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def rows_for(rng: random.Random, n: int):
    """Yield (customer, asset) value dicts for record ``n``: deterministic, varied, realistic."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    business = rng.random() < 0.1
    company = f"{rng.choice(COMPANY)} {rng.choice(COMPANY)} {n % 97} LLC" if business else None
    phone = f"+1{rng.randrange(201, 989)}{rng.randrange(200, 999)}{rng.randrange(10000):04d}"
    email = f"{first.lower()}.{n}@example.com".replace("ë", "e").replace("é", "e")
    vin = "".join(rng.choice(VIN_CHARS) for _ in range(11)) + f"{n % 1_000_000:06d}"
    customer = {
        "id": n,
        "first_name": first,
        "last_name": last,
        "company_name": company,
        "is_business": business,
        "phone": phone,
        "email": email,
        "dms_id": f"C{n:08d}",
    }
    asset = {
        "id": n,
        "customer_id": n,
        "vin": vin,
        "unit_number": f"U{n % 50000}" if n % 3 == 0 else None,
        "license_plate": f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}{n % 10000:04d}{n // 10000 % 10}",
        "dms_id": f"V{n:08d}",
    }
    return customer, asset


def generate(engine, location_id: int) -> None:
    """Bulk-load N customers and N assets into the portal and the mirror, with their tokens."""
    from webapp.domain.search_tokens import asset_tokens, customer_tokens, sort_name

    rng = random.Random(7)
    now = "2024-01-01 00:00:00"
    dialect = engine.dialect.name
    batch = {"customer": [], "asset": [], "dms_record": [], "search_token": []}

    def tokens_c(c):
        # Same rules as webapp.domain.search_tokens, minus re-parsing the already-E.164 phone (speed).
        toks = customer_tokens(
            first_name=c["first_name"],
            last_name=c["last_name"],
            company_name=c["company_name"],
            emails=(),
            dms_id=c["dms_id"],
        )
        toks.add("p" + c["phone"][1:][::-1])
        toks.add("e" + c["email"])
        return toks

    def flush():
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            for table, rows in batch.items():
                if not rows:
                    continue
                cols = list(rows[0])
                if dialect == "sqlite":
                    raw.executemany(
                        f'INSERT INTO "{table}" ({",".join(cols)}) VALUES ({",".join("?" * len(cols))})',
                        [tuple(r.values()) for r in rows],
                    )
                else:
                    with raw.cursor().copy(f'COPY "{table}" ({",".join(cols)}) FROM STDIN') as copy:
                        for r in rows:
                            copy.write_row(tuple(r.values()))
                rows.clear()

    for n in range(1, N + 1):
        c, a = rows_for(rng, n)
        batch["customer"].append(
            {
                "id": n,
                "location_id": location_id,
                "dms_id": c["dms_id"],
                "is_business": c["is_business"],
                "first_name": c["first_name"],
                "last_name": c["last_name"],
                "company_name": c["company_name"],
                "phone": c["phone"],
                "email": c["email"],
                "country": "US",
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "sort_name": sort_name(c["first_name"], c["last_name"], c["company_name"], c["is_business"]),
            }
        )
        batch["asset"].append(
            {
                "id": n,
                "location_id": location_id,
                "dms_id": a["dms_id"],
                "customer_id": n,
                "vin": a["vin"],
                "unit_number": a["unit_number"],
                "license_plate": a["license_plate"],
                "year": 2000 + n % 25,
                "make": "Ford",
                "model": "F-150",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
        )
        ctoks, atoks = (
            tokens_c(c),
            asset_tokens(vin=a["vin"], unit_number=a["unit_number"], plate=a["license_plate"], dms_id=a["dms_id"]),
        )
        payload_c = {
            "dms_id": c["dms_id"],
            "kind": "business" if c["is_business"] else "person",
            "first_name": c["first_name"],
            "last_name": c["last_name"],
            "company_name": c["company_name"] or "",
            "phones": [c["phone"]],
            "emails": [c["email"]],
        }
        payload_v = {
            "dms_id": a["dms_id"],
            "vin": a["vin"],
            "unit_number": a["unit_number"] or "",
            "plate": a["license_plate"],
            "year": 2019,
            "make": "Ford",
            "model": "F-150",
            "owner_dms_id": c["dms_id"],
        }
        for offset, data_type, payload, extra in (
            (
                0,
                "customers",
                payload_c,
                {
                    "name_key": " ".join(sorted(t[1:] for t in ctoks if t[0] == "n")),
                    "phone": c["phone"],
                    "email": c["email"],
                    "vin": None,
                    "owner_dms_id": None,
                },
            ),
            (
                N,
                "vehicles",
                payload_v,
                {"name_key": None, "phone": None, "email": None, "vin": a["vin"], "owner_dms_id": c["dms_id"]},
            ),
        ):
            batch["dms_record"].append(
                {
                    "id": n + offset,
                    "location_id": location_id,
                    "data_type": data_type,
                    "dms_id": payload["dms_id"],
                    "payload": json.dumps(payload),
                    "content_hash": "x",
                    "first_pulled_at": now,
                    "last_changed_at": now,
                    **extra,
                }
            )
        for scope, record_id, toks in (("c", n, ctoks), ("a", n, atoks), ("dc", n, ctoks), ("dv", n + N, atoks)):
            batch["search_token"].extend(
                {"scope": scope, "location_id": location_id, "token": t, "record_id": record_id} for t in toks
            )
        if n % 20000 == 0:
            flush()
    flush()


def terms(kind: str, rng: random.Random) -> str:
    """A varied search term of ``kind`` for a random existing record (or, sometimes, none)."""
    n = rng.randrange(1, N + 1)
    return {
        "name": lambda: (
            f"{rng.choice(LAST)[: rng.randrange(3, 7)]}"
            if rng.random() < 0.5
            else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        ),
        "phone": lambda: f"({rng.randrange(201, 989)}) {rng.randrange(200, 999)}-{rng.randrange(10000):04d}",
        "email": lambda: f"{rng.choice(FIRST).lower()}.{n}@example.com",
        "dms_id": lambda: f"C{n:08d}",
        "vin_end": lambda: f"{n % 1_000_000:06d}",
        "unit": lambda: f"U{rng.randrange(50000)}",
        "plate": lambda: f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}{n % 10000:04d}",
        "owner": lambda: f"{rng.choice(FIRST)} {rng.choice(LAST)}",
    }[kind]()


KINDS = {"customers": ("name", "phone", "email", "dms_id"), "vehicles": ("vin_end", "unit", "plate", "owner")}


def p(values, q):
    """The q-quantile (ms)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def ilike(session, model, location_id, term, data_type=None):
    """The baseline: what a Flask-Admin-style list view runs (a filtered, sorted page) with a plain
    ``ILIKE '%term%'`` over the same columns our search covers: on the portal table, or on the DMS
    mirror's columns when ``data_type`` is given. The owner's name of an asset lives on its customer,
    so it is searched through the join such a view makes for a searchable relation column
    ("customer.last_name"). A mirror vehicle's unit number and plate exist only inside its JSON
    payload, not as columns, so the baseline leaves them out (which only makes it cheaper)."""
    from sqlalchemy.orm import aliased

    from webapp.models import Asset, Customer, DmsRecord

    pattern = f"%{term}%"
    extra, joins = (), ()
    if data_type == "customers":
        cols = (DmsRecord.name_key, DmsRecord.phone, DmsRecord.email, DmsRecord.dms_id)
        model, extra = DmsRecord, (DmsRecord.data_type == "customers",)
    elif data_type == "vehicles":
        owner = aliased(DmsRecord)
        cols = (DmsRecord.vin, DmsRecord.dms_id, owner.name_key)
        model, extra = DmsRecord, (DmsRecord.data_type == "vehicles",)
        joins = (
            (
                owner,
                (owner.location_id == DmsRecord.location_id)
                & (owner.data_type == "customers")
                & (owner.dms_id == DmsRecord.owner_dms_id),
            ),
        )
    elif model is Customer:
        cols = (
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
            Customer.phone,
            Customer.mobile_phone,
            Customer.email,
            Customer.dms_id,
        )
    else:
        cols = (
            Asset.vin,
            Asset.unit_number,
            Asset.license_plate,
            Asset.dms_id,
            Customer.first_name,
            Customer.last_name,
            Customer.company_name,
        )
        joins = ((Customer, Customer.id == Asset.customer_id),)
    query = select(model)
    for target, on in joins:
        query = query.outerjoin(target, on)
    query = query.where(model.location_id == location_id, *extra, or_(*(c.ilike(pattern) for c in cols)))
    return session.scalars(query.order_by(model.id).limit(25)).all()


def load(db, Location, User, Role) -> int:
    """Create the bench location and user, then the N customers and assets; returns the location id."""
    loc = Location(name="Bench", code="BENCH", timezone="America/Chicago")
    db.session.add(loc)
    db.session.commit()
    user = User(
        email="bench@example.test", name="Bench", role=Role.SERVICE_ADVISOR, location_id=loc.id, password_hash=""
    )
    user.set_password("correct horse battery")
    db.session.add(user)
    db.session.commit()
    generate(db.engine, loc.id)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            for seq, value in (("customer_id_seq", N), ("asset_id_seq", N), ("dms_record_id_seq", 2 * N)):
                conn.execute(text(f"SELECT setval('{seq}', {value + 1})"))
    location_id = loc.id
    db.session.remove()  # no transaction of ours open while vacuuming
    settle(db.engine)
    return location_id


def settle(engine) -> None:
    """ANALYZE; on PostgreSQL VACUUM too: what autovacuum does to a table soon after a bulk load.

    Without a visibility map, index-only scans visit the heap for every entry. A VACUUM run
    while another transaction still holds an older snapshot cannot mark the new pages
    all-visible, so it is repeated (a few times at most) until it has.
    """
    if engine.dialect.name != "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
        return
    visible = "SELECT relallvisible::float / greatest(relpages, 1) FROM pg_class WHERE relname = 'search_token'"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
        for _ in range(5):
            if conn.scalar(text(visible)) >= 0.99:
                break
            time.sleep(5)
            conn.execute(text("VACUUM search_token"))
        print(f"[postgresql] search_token all-visible: {conn.scalar(text(visible)):.0%}", file=sys.stderr)


def run(url: str, label: str) -> dict:
    """Build the data on ``url`` and time everything; returns the figures."""
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Asset, Customer, DmsRecord, Location, Role, User
    from webapp.search import engine as search

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": None,
            "ARGON2_PROFILE": "test",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    t0 = time.perf_counter()
    with app.app_context():
        db.create_all()  # same tables as the migrations (tests/test_migrations.py proves it)
        loc = db.session.scalar(select(Location).where(Location.code == "BENCH")) if REUSE else None
        if loc is not None and db.session.scalar(select(func.count(Customer.id))) == N:
            location_id = loc.id  # BENCH_REUSE: the data of an earlier run is still there
            db.session.remove()
            settle(db.engine)
        else:
            location_id = load(db, Location, User, Role)
    print(
        f"[{label}] loaded {N:,} customers + {N:,} assets (portal and mirror) in {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
    )
    if LOAD_ONLY:
        return {}

    results: dict = {"kinds": {}}
    rng = random.Random(11)
    with app.app_context():
        session = db.session
        for data_type, kinds in KINDS.items():
            model = Customer if data_type == "customers" else Asset
            for kind in kinds:
                ours, base_times = [], []
                batch = [terms(kind, rng) for _ in range(QUERIES)]
                for term in batch:
                    for tab in ("portal", "dms"):
                        start = time.perf_counter()
                        if tab == "portal":
                            fn = search.search_customers if data_type == "customers" else search.search_assets
                            fn(session, select(model).where(model.location_id == location_id), location_id, term)
                        else:
                            search.search_mirror(
                                session,
                                select(DmsRecord).where(DmsRecord.location_id == location_id),
                                location_id,
                                data_type,
                                term,
                            )
                        ours.append(time.perf_counter() - start)
                        session.rollback()
                for term in batch[:BASELINE_QUERIES]:
                    for tab in ("portal", "dms"):  # the same searches as timed above
                        start = time.perf_counter()
                        ilike(
                            session,
                            model,
                            location_id,
                            term.replace("(", "").replace(")", ""),
                            data_type if tab == "dms" else None,
                        )
                        base_times.append(time.perf_counter() - start)
                        session.rollback()
                results["kinds"][kind] = {
                    "p50": p(ours, 0.5),
                    "p95": p(ours, 0.95),
                    "ilike_p50": p(base_times, 0.5),
                    "ilike_p95": p(base_times, 0.95),
                }
                print(
                    f"[{label}] {kind:8s} p50 {p(ours, 0.5):6.2f} ms  p95 {p(ours, 0.95):6.2f} ms   "
                    f"ILIKE p50 {p(base_times, 0.5):8.1f} ms  p95 {p(base_times, 0.95):8.1f} ms",
                    file=sys.stderr,
                )
    results["p95"] = max(k["p95"] for k in results["kinds"].values())
    results["speedup"] = min(k["ilike_p95"] / k["p95"] for k in results["kinds"].values())

    # The htmx results fragment, end to end through the app (routing, auth, search, template).
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.test", "password": "correct horse battery"})
    times = []
    for i in range(QUERIES):
        data_type = "customers" if i % 2 == 0 else "vehicles"
        kind = KINDS[data_type][i % 4]
        url_ = f"/{'customers' if data_type == 'customers' else 'assets'}"
        tab = "dms" if i % 4 in (1, 2) else "portal"
        start = time.perf_counter()
        response = client.get(url_, query_string={"q": terms(kind, rng), "tab": tab}, headers={"HX-Request": "true"})
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        assert b"<html" not in response.data
    results["fragment_p95"] = p(times, 0.95)
    print(f"[{label}] fragment p50 {p(times, 0.5):.2f} ms p95 {p(times, 0.95):.2f} ms", file=sys.stderr)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def main() -> None:
    """Run SQLite then PostgreSQL; print the summary line last."""
    tmp = Path(tempfile.gettempdir()) / f"bench-search-{N}" if REUSE else Path(tempfile.mkdtemp(prefix="bench-search-"))
    tmp.mkdir(exist_ok=True)
    sqlite = None if os.environ.get("BENCH_SKIP_SQLITE") else run(f"sqlite:///{tmp / 'bench.sqlite'}", "sqlite")
    pg = None
    if not os.environ.get("BENCH_SKIP_PG"):
        from sqlalchemy.engine import make_url

        url = make_url(PG_URL)
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database})
            if exists and not REUSE:
                conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
            if not exists or not REUSE:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        try:
            pg = run(PG_URL, "postgresql")
        finally:
            if not REUSE:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            admin.dispose()
    if LOAD_ONLY:
        return
    fragment = max(r["fragment_p95"] for r in (sqlite, pg) if r)
    print(f"pg_p95_ms={pg['p95']:.2f} " if pg else "pg_p95_ms=skipped ", end="")
    print(f"sqlite_p95_ms={sqlite['p95']:.2f} " if sqlite else "sqlite_p95_ms=skipped ", end="")
    print(f"pg_speedup_vs_ilike={pg['speedup']:.1f} " if pg else "pg_speedup_vs_ilike=skipped ", end="")
    print(f"sqlite_speedup_vs_ilike={sqlite['speedup']:.1f} " if sqlite else "sqlite_speedup_vs_ilike=skipped ", end="")
    print(f"fragment_p95_ms={fragment:.2f}")


if __name__ == "__main__":
    main()
