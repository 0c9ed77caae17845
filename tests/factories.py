"""Test-data factories: plain functions that add and commit one record each."""
from __future__ import annotations

import itertools

from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Role, RunStatus, RunTrigger, SyncRun, User

PASSWORD = "correct horse battery"


def _saved(obj):
    """Commit, load every column, and detach so the object is usable outside the context."""
    db.session.add(obj)
    db.session.commit()
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj
_seq = itertools.count(1)


def location(**fields) -> Location:
    """A location (CDK by default)."""
    n = next(_seq)
    values = {"name": f"Location {n}", "code": f"L{n}", "timezone": "America/Chicago", "dms_vendor": "cdk",
              "dms_base_url": "http://127.0.0.1:1", "dms_account": f"acct-{n}", "brands": ["Ford"]}
    values.update(fields)
    loc = Location(**values)
    return _saved(loc)


def user(role: Role = Role.SERVICE_ADVISOR, location: Location | None = None, covers=(), **fields) -> User:
    """A user with password ``PASSWORD``."""
    n = next(_seq)
    values = {"email": f"user{n}@example.test", "name": f"User {n}", "role": role,
              "location_id": location.id if location else None, "password_hash": ""}
    values.update(fields)
    u = User(**values)
    u.set_password(PASSWORD)
    u.covered_locations = [db.session.merge(loc) for loc in covers]
    return _saved(u)


def customer(location: Location, **fields) -> Customer:
    """A person customer."""
    n = next(_seq)
    values = {"location_id": location.id, "first_name": "Pat", "last_name": f"Customer{n}",
              "phone": "+12175550100", "email": f"pat{n}@example.com", "dms_id": f"C{n}"}
    values.update(fields)
    c = Customer(**values)
    return _saved(c)


def asset(location: Location, customer: Customer | None = None, **fields) -> Asset:
    """A vehicle."""
    n = next(_seq)
    values = {"location_id": location.id, "customer_id": customer.id if customer else None,
              "vin": "1FTFW1ET5DFC10312", "year": 2019, "make": "Ford", "model": "F-150", "dms_id": f"V{n}"}
    values.update(fields)
    a = Asset(**values)
    return _saved(a)


def sync_run(location: Location, **fields) -> SyncRun:
    """A finished pull run."""
    values = {"location_id": location.id, "data_type": "customers", "trigger": RunTrigger.SCHEDULE,
              "status": RunStatus.SUCCEEDED, "fetched": 10, "created": 10}
    values.update(fields)
    return _saved(SyncRun(**values))


def world() -> dict:
    """Two locations with one user per role and a customer + asset in each location."""
    a, b = location(name="Alpha Motors", code="ALPHA"), location(name="Beta Trucks", code="BETA", dms_vendor="karmak")
    users = {
        Role.GLOBAL_ADMIN: user(Role.GLOBAL_ADMIN, email="admin@example.test"),
        Role.SERVICE_MANAGER: user(Role.SERVICE_MANAGER, a, email="manager@example.test"),
        Role.SERVICE_ADVISOR: user(Role.SERVICE_ADVISOR, a, email="advisor@example.test", advisor_dms_id="ADV1"),
        Role.FIELD_MANAGER: user(Role.FIELD_MANAGER, None, covers=[a], email="field@example.test"),
        Role.REVIEWER: user(Role.REVIEWER, email="reviewer@example.test"),
    }
    records = {}
    for loc in (a, b):
        c = customer(loc)
        records[loc.code] = {"customer": c, "asset": asset(loc, c), "sync_run": sync_run(loc)}
    return {"a": a, "b": b, "users": users, "records": records}
