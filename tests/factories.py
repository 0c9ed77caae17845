"""Test-data factories: plain functions that add and commit one record each."""

from __future__ import annotations

import itertools
from datetime import UTC

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
    values = {
        "name": f"Location {n}",
        "code": f"L{n}",
        "timezone": "America/Chicago",
        "dms_vendor": "cdk",
        "dms_base_url": "http://127.0.0.1:1",
        "dms_account": f"acct-{n}",
        "brands": ["Ford"],
    }
    values.update(fields)
    loc = Location(**values)
    return _saved(loc)


def user(role: Role = Role.SERVICE_ADVISOR, location: Location | None = None, covers=(), **fields) -> User:
    """A user with password ``PASSWORD``."""
    n = next(_seq)
    values = {
        "email": f"user{n}@example.test",
        "name": f"User {n}",
        "role": role,
        "location_id": location.id if location else None,
        "password_hash": "",
    }
    values.update(fields)
    u = User(**values)
    u.set_password(PASSWORD)
    u.covered_locations = [db.session.merge(loc) for loc in covers]
    return _saved(u)


def customer(location: Location, **fields) -> Customer:
    """A person customer."""
    n = next(_seq)
    values = {
        "location_id": location.id,
        "first_name": "Pat",
        "last_name": f"Customer{n}",
        "phone": "+12175550100",
        "email": f"pat{n}@example.com",
        "dms_id": f"C{n}",
    }
    values.update(fields)
    c = Customer(**values)
    return _saved(c)


def asset(location: Location, customer: Customer | None = None, **fields) -> Asset:
    """A vehicle."""
    n = next(_seq)
    values = {
        "location_id": location.id,
        "customer_id": customer.id if customer else None,
        "vin": "1FTFW1ET5DFC10312",
        "year": 2019,
        "make": "Ford",
        "model": "F-150",
        "dms_id": f"V{n}",
    }
    values.update(fields)
    a = Asset(**values)
    return _saved(a)


def screenshot_png(size=(64, 48), colour=(30, 90, 160)) -> bytes:
    """A small PNG, as a DMS screenshot would be."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def update_request(
    location: Location,
    customer: Customer,
    requested_by: User | None = None,
    requested_values: dict | None = None,
    **fields,
):
    """A pending customer-info update request with a real stored (re-encoded) screenshot."""
    import io

    from webapp import uploads
    from webapp.models import UpdateRequest

    stored = uploads.store(uploads.clean_screenshot(io.BytesIO(screenshot_png())))
    values = requested_values or {"email": f"new.{next(_seq)}@example.com"}
    current = db.session.get(Customer, customer.id)
    values_before = {attr: getattr(current, attr) for attr in values}
    row = {
        "location_id": location.id,
        "customer_id": customer.id,
        "requested_by_id": requested_by.id if requested_by else None,
        "requested_values": values,
        "previous_values": values_before,
        "screenshot_name": stored.name,
        "screenshot_mime": stored.mime,
        "screenshot_width": stored.width,
        "screenshot_height": stored.height,
        "screenshot_bytes": stored.size,
    }
    row.update(fields)
    return _saved(UpdateRequest(**row))


def sync_run(location: Location, **fields) -> SyncRun:
    """A finished pull run."""
    values = {
        "location_id": location.id,
        "data_type": "customers",
        "trigger": RunTrigger.SCHEDULE,
        "status": RunStatus.SUCCEEDED,
        "fetched": 10,
        "created": 10,
    }
    values.update(fields)
    return _saved(SyncRun(**values))


def case(location: Location, asset: Asset, **fields):
    """An open case on ``asset`` for an RO number."""
    from webapp.models import Case

    n = next(_seq)
    values = {
        "location_id": location.id,
        "asset_id": asset.id,
        "customer_id": asset.customer_id,
        "ro_number": f"RO{n}",
        "complaint": "Check engine light",
    }
    values.update(fields)
    return _saved(Case(**values))


def appointment(
    location: Location, customer: Customer, asset: Asset | None = None, advisor: User | None = None, **fields
):
    """A scheduled appointment tomorrow at 09:00 UTC (not queued: use the pages or services for that)."""
    from datetime import datetime, timedelta

    from webapp.models import Appointment

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    values = {
        "location_id": location.id,
        "customer_id": customer.id,
        "asset_id": asset.id if asset else None,
        "advisor_id": advisor.id if advisor else None,
        "scheduled_at": tomorrow,
        "opcodes": ["LOF"],
        "notes": "Oil change",
    }
    values.update(fields)
    return _saved(Appointment(**values))


def failed_push(location: Location, appointment, **fields):
    """An appointment push the DMS refused (the failed-push queue's row)."""
    from webapp.models import OutboxKind, OutboxMessage, OutboxStatus, PushState

    n = next(_seq)
    values = {
        "location_id": location.id,
        "kind": OutboxKind.APPOINTMENT_CREATE,
        "target_type": "appointment",
        "target_id": appointment.id,
        "payload": {},
        "idempotency_key": f"{location.code}-test-{n}",
        "status": OutboxStatus.FAILED,
        "attempts": 1,
        "error_code": "CDK-NO-OPCODE-NOTES",
        "error_title": "No opcode and no notes on the appointment",
        "error_kind": "refused",
        "fix_hint": "Add at least one opcode or some text in the notes, then push the appointment again.",
        "advisor_id": appointment.advisor_id,
    }
    values.update(fields)
    row = _saved(OutboxMessage(**values))
    from sqlalchemy import update

    from webapp.models import Appointment

    db.session.execute(update(Appointment).where(Appointment.id == appointment.id).values(push_state=PushState.FAILED))
    db.session.commit()
    return row


def workfile(location: Location, customer: Customer | None = None, asset: Asset | None = None, **fields):
    """An open repair-order workfile (header like seed 003's), linked to a customer/asset when given."""
    from decimal import Decimal

    from webapp.models import Workfile

    values = {
        "location_id": location.id,
        "customer_id": customer.id if customer else None,
        "asset_id": asset.id if asset else None,
        "customer_name": "Turpin, Sharon",
        "total": Decimal("2877.67"),
        "insurer": "QUALITY INSURANCE COMPANY",
        "vehicle_year": 2012,
        "vehicle_make": "Toyota",
        "vehicle_model": "Corolla SE 4WD",
        "vin": "2T1BURHE0GC123456",
    }
    values.update(fields)
    return _saved(Workfile(**values))


def payment(workfile, **fields):
    """A Ready receipt on ``workfile``."""
    from decimal import Decimal

    from webapp.models import Payment, PaymentKind, PaymentStatus

    n = next(_seq)
    values = {
        "location_id": workfile.location_id,
        "workfile_id": workfile.id,
        "kind": PaymentKind.CUSTOMER,
        "amount": Decimal("1000.00"),
        "payer": "Sharon Turpin",
        "method": "card",
        "status": PaymentStatus.READY,
        "idempotency_key": f"test-pay-{workfile.id}-{n}",
    }
    values.update(fields)
    return _saved(Payment(**values))


def dms_repair_order(
    location: Location,
    dms_id: str | None = None,
    customer_dms_id: str | None = None,
    vehicle_dms_id: str | None = None,
    **payload,
):
    """A repair order in the location's DMS mirror, as a pull leaves it (canonical record dict)."""
    import hashlib

    from webapp.models import DmsRecord

    n = next(_seq)
    dms_id = dms_id or f"{location.code}-RO{n}"
    data = {
        "dms_id": dms_id,
        "ro_number": dms_id,
        "status": "open",
        "customer_dms_id": customer_dms_id,
        "vehicle_dms_id": vehicle_dms_id,
        "lines": [
            {
                "line_number": 1,
                "opcode": "LOF",
                "description": "Oil change",
                "pay_type": "customer",
                "labor_hours": "0.5",
                "labor_amount": "40.00",
                "parts_amount": "29.95",
                "total": "69.95",
            }
        ],
    }
    data.update(payload)
    row = DmsRecord(
        location_id=location.id,
        data_type="repair_orders",
        dms_id=dms_id,
        payload=data,
        content_hash=hashlib.sha1(repr(sorted(data.items())).encode()).hexdigest(),
        owner_dms_id=customer_dms_id,
        ro_number=data["ro_number"],
    )
    return _saved(row)


class DmsKey:
    """A mirror record named in URLs by its DMS id: ``.id`` is what the route takes."""

    def __init__(self, record) -> None:
        self.record = record
        self.id = record.dms_id
        self.location_id = record.location_id


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
        records[loc.code] = {
            "customer": c,
            "asset": asset(loc, c),
            "update_request": update_request(loc, c, users[Role.SERVICE_ADVISOR]),
            "sync_run": sync_run(loc),
        }
        records[loc.code]["case"] = case(loc, records[loc.code]["asset"])
        advisor = users[Role.SERVICE_ADVISOR] if loc is a else user(Role.SERVICE_ADVISOR, loc, advisor_dms_id="ADV2")
        records[loc.code]["advisor"] = advisor
        records[loc.code]["appointment"] = appointment(loc, c, records[loc.code]["asset"], advisor)
        records[loc.code]["push"] = failed_push(loc, records[loc.code]["appointment"])
        records[loc.code]["workfile"] = workfile(loc, c, records[loc.code]["asset"])
        records[loc.code]["payment"] = payment(records[loc.code]["workfile"])
        records[loc.code]["dms_repair_order"] = DmsKey(
            dms_repair_order(loc, customer_dms_id=c.dms_id, vehicle_dms_id=records[loc.code]["asset"].dms_id)
        )
    return {"a": a, "b": b, "users": users, "records": records}
