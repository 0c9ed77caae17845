"""Demo data: three locations on different DMS vendors and protocols (CDK over STAR REST,
Karmak over the console's REST dialect, Dealertrack over OpenTrack SOAP), one user per role,
a few hundred customers and assets each. Deterministic (seeded), so every demo install looks alike.

The portal records are copies of the sandbox DMS's own generated records (same DMS ids),
most linked, some drifted from the DMS and some left out (they exist only in the DMS),
so Last Synced badges, the DMS tab and the sync wizards all have something to show.

Each location also gets two repair-order workfiles (seed 003, DMS Activity): one linked to an
open RO of the sandbox DMS with receipts Posted, Failed, Ready and Void, and one not yet
converted to an RO with a Ready and a Void receipt. Their Posted and Failed receipts are
demo history: they were never sent to the sandbox (exporting the Ready ones really is).

The demo locations point at the sandbox DMS that ``make run`` starts (``SANDBOX_URL``,
default http://127.0.0.1:5001) with the account codes and protocols the sandbox is started
with (webapp/runner.py); their credentials come from the sandbox's own
``connection_settings`` and are stored encrypted like any other location's.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from connectors.records import record_from_dict
from connectors.sandbox.generate import generate
from connectors.sandbox.testing import connection_settings
from webapp.config import sandbox_url as config_sandbox_url
from webapp.domain.fields import portal_values
from webapp.domain.normalise import normalise_vin
from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Payment, PaymentKind, PaymentStatus, Role, User, Workfile, utcnow
from webapp.models.workfile import DmsEventKind, record_event

DEMO_PASSWORD = "demo-password"

# "dms_protocol" and "dms_account" must match the sandbox accounts runner.py starts
# (--account demo-cdk:cdk:300:star ...).
DEMO_LOCATIONS = [
    {
        "code": "NSF",
        "name": "Northside Ford",
        "timezone": "America/Chicago",
        "brands": ["Ford", "Lincoln"],
        "dms_vendor": "cdk",
        "dms_protocol": "star",
        "dms_account": "demo-cdk",
        "customers": 300,
    },
    {
        "code": "MTC",
        "name": "Metro Truck Center",
        "timezone": "America/Denver",
        "brands": ["Freightliner", "Western Star"],
        "dms_vendor": "karmak",
        "dms_protocol": "console",
        "dms_account": "demo-karmak",
        "customers": 240,
        "related_ro_enabled": True,
        "oem_build_data": True,
    },
    {
        "code": "ESC",
        "name": "Eastside Chevrolet",
        "timezone": "America/New_York",
        "brands": ["Chevrolet", "Buick", "GMC"],
        "dms_vendor": "dealertrack",
        "dms_protocol": "opentrack",
        "dms_account": "demo-dealertrack",
        "customers": 280,
    },
]

DEMO_USERS = [
    ("admin@demo.test", "Alex Admin", Role.GLOBAL_ADMIN, None, None),
    ("manager@demo.test", "Morgan Manager", Role.SERVICE_MANAGER, "NSF", None),
    ("advisor@demo.test", "Avery Advisor", Role.SERVICE_ADVISOR, "NSF", "ADV03"),
    ("eastside.manager@demo.test", "Emerson Eastside", Role.SERVICE_MANAGER, "ESC", None),
    ("eastside.advisor@demo.test", "Ellis Eastside", Role.SERVICE_ADVISOR, "ESC", "ADV05"),
    ("metro.advisor@demo.test", "Micah Metro", Role.SERVICE_ADVISOR, "MTC", "ADV07"),
    ("fieldmanager@demo.test", "Frankie Field", Role.FIELD_MANAGER, None, None),
    ("reviewer@demo.test", "Riley Reviewer", Role.REVIEWER, None, None),
]

SANDBOX_SEED = 42  # make run starts the sandbox DMS with --seed 42
DMS_ONLY_SHARE = 0.12  # records only in the DMS: the DMS tab shows them with an add icon
DRIFT_SHARE = 0.15  # linked records that differ from the DMS: the sync wizard has work to do


def _drift(rng: random.Random, values: dict) -> None:
    """Make a portal record differ from its DMS record the way real data drifts."""
    change = rng.choice(["address", "email", "phone", "name"])
    if change == "address" and values.get("address_line1"):
        values["address_line1"] = f"{rng.randint(10, 9999)} {rng.choice(['Oak Ave', 'Main St', 'Elm St'])}"
    elif change == "email" and values.get("email"):
        values["email"] = values["email"].replace("@", ".old@")
    elif change == "phone":
        values["mobile_phone"] = None
    elif values.get("last_name"):
        values["last_name"] = values["last_name"] + "e"


#: Days since the last sync of demo customers and assets (None: never): every Last Synced band
#: (webapp/domain/last_synced.py) has records, so the badges and the Last synced filter show them all.
DEMO_SYNC_DAYS_AGO = (None, None, 3, 12, 29, 45, 80, 120, 400)


def demo_last_synced(rng: random.Random, now: datetime) -> datetime | None:
    """A demo record's Last Synced time: one of :data:`DEMO_SYNC_DAYS_AGO`, at some hour of that day."""
    days_ago = rng.choice(DEMO_SYNC_DAYS_AGO)
    if days_ago is None:
        return None
    return now - timedelta(days=days_ago, hours=rng.randint(0, 23))


def seed_demo(seed: int = 42) -> dict[str, int]:
    """Create the demo data in an empty database. Returns what was created."""
    if db.session.scalar(select(Location.id).limit(1)) is not None:
        raise RuntimeError("The database already has data; demo data is only loaded into an empty one.")
    rng = random.Random(seed)
    # Assets' sync dates come from their own generator, so adding them left the rest of the demo as it was.
    synced_rng = random.Random(seed + 1)
    sandbox_url = config_sandbox_url()
    now = utcnow()
    locations: dict[str, Location] = {}
    created = {"locations": 0, "users": 0, "customers": 0, "assets": 0}
    for spec in DEMO_LOCATIONS:
        # The sandbox's secret for an account is "sandbox-key-<code>" unless started with --api-key.
        dms = connection_settings(
            sandbox_url, spec["dms_account"], spec["dms_protocol"], f"sandbox-key-{spec['dms_account']}"
        )
        location = Location(
            code=spec["code"],
            name=spec["name"],
            timezone=spec["timezone"],
            brands=spec["brands"],
            dms_vendor=spec["dms_vendor"],
            dms_protocol=dms["protocol"],
            dms_base_url=dms["base_url"],
            dms_account=dms["account"],
            dms_credentials=dms["credentials"],
            related_ro_enabled=spec.get("related_ro_enabled", False),
            oem_build_data=spec.get("oem_build_data", False),
        )
        db.session.add(location)
        db.session.flush()
        locations[spec["code"]] = location
        created["locations"] += 1
        # The portal starts as a copy of most of the sandbox DMS's records, some drifted.
        portal_ids: dict[str, int] = {}
        for dms_id, _ref, _search, fields, _modified in generate(
            SANDBOX_SEED, spec["dms_account"], spec["dms_vendor"], "customers", spec["customers"]
        ):
            if rng.random() < DMS_ONLY_SHARE:
                continue
            values = portal_values("customers", fields)
            if rng.random() < DRIFT_SHARE:
                _drift(rng, values)
            customer = Customer(
                location_id=location.id, dms_id=dms_id, **values, last_synced_at=demo_last_synced(rng, now)
            )
            db.session.add(customer)
            db.session.flush()
            portal_ids[dms_id] = customer.id
            created["customers"] += 1
        for dms_id, _ref, _search, fields, _modified in generate(
            SANDBOX_SEED, spec["dms_account"], spec["dms_vendor"], "vehicles", spec["customers"]
        ):
            owner = portal_ids.get(fields.get("owner_dms_id"))
            if owner is None or rng.random() < DMS_ONLY_SHARE:
                continue
            values = portal_values("vehicles", fields)
            checked = normalise_vin(values["vin"])
            db.session.add(
                Asset(
                    location_id=location.id,
                    customer_id=owner,
                    dms_id=dms_id,
                    **values,
                    vin_valid=bool(checked and checked.check_digit_ok is not False and checked.standard),
                    last_synced_at=demo_last_synced(synced_rng, now),
                )
            )
            created["assets"] += 1
    users: dict[str, User] = {}
    for email, name, role, code, dms_id in DEMO_USERS:
        user = User(
            email=email,
            name=name,
            role=role,
            advisor_dms_id=dms_id,
            location_id=locations[code].id if code else None,
            password_hash="",
        )
        user.set_password(DEMO_PASSWORD)
        if role == Role.FIELD_MANAGER:
            user.covered_locations = list(locations.values())
        db.session.add(user)
        users[email] = user
        created["users"] += 1
    db.session.flush()
    created["workfiles"] = 0
    for spec in DEMO_LOCATIONS:
        advisor = next(
            (users[e] for e, _n, r, c, _d in DEMO_USERS if c == spec["code"] and r == Role.SERVICE_ADVISOR),
            users["admin@demo.test"],
        )
        created["workfiles"] += _demo_workfiles(rng, locations[spec["code"]], spec, advisor)
    created["appointments"] = 0
    for spec in DEMO_LOCATIONS:
        advisor = next(
            (users[e] for e, _n, r, c, _d in DEMO_USERS if c == spec["code"] and r == Role.SERVICE_ADVISOR), None
        )
        if advisor is not None:
            created["appointments"] += _demo_appointments(locations[spec["code"]], advisor, now)
    db.session.commit()
    return created


#: Times of day (local) and opcodes of the appointments booked in the console for the demo.
DEMO_BOOKINGS = ((1, 8, 30, ["LOF"]), (1, 11, 0, ["ROT", "ALIGN"]), (2, 9, 15, ["BRKF"]))


def _demo_appointments(location: Location, advisor: User, now) -> int:
    """Appointments booked in the console (beside the DMS's own, which the first pull brings):
    queued for the DMS like any booking, so `make run`'s workers push them within seconds."""
    from zoneinfo import ZoneInfo

    from webapp.models import Appointment, AppointmentStatus, OutboxKind, PushState
    from webapp.outbox import enqueue_push

    zone = ZoneInfo(location.timezone)
    today = now.astimezone(zone).date()
    customers = db.session.scalars(
        select(Customer)
        .where(
            Customer.location_id == location.id,
            Customer.email.is_not(None),
            Customer.address_line1.is_not(None),
            Customer.last_name.is_not(None),
        )
        .order_by(Customer.id)
        .limit(20)
    ).all()
    booked = 0
    for customer, (days, hour, minute, opcodes) in zip(customers[::7], DEMO_BOOKINGS):
        asset = db.session.scalar(select(Asset).where(Asset.customer_id == customer.id).order_by(Asset.id).limit(1))
        day = today + timedelta(days=days)
        scheduled = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)
        appointment = Appointment(
            location_id=location.id,
            customer_id=customer.id,
            asset_id=asset.id if asset else None,
            advisor_id=advisor.id,
            scheduled_at=scheduled,
            opcodes=opcodes,
            notes=None,
            brand=(location.brands or [None])[0],
            status=AppointmentStatus.SCHEDULED,
            push_state=PushState.PENDING,
            created_by_id=advisor.id,
        )
        db.session.add(appointment)
        db.session.flush()
        enqueue_push(
            db.session,
            location,
            OutboxKind.APPOINTMENT_CREATE,
            appointment,
            payload={"scheduled_at": scheduled.isoformat(), "opcodes": opcodes},
            advisor_id=appointment.advisor_id,
            brand=appointment.brand,
            user_id=advisor.id,
        )
        booked += 1
    return booked


def _receipt(
    workfile: Workfile,
    location: Location,
    user: User,
    n: int,
    kind: PaymentKind,
    amount: str,
    payer: str,
    method: str,
    status: PaymentStatus,
    at,
    **fields,
) -> Payment:
    payment = Payment(
        location_id=location.id,
        workfile_id=workfile.id,
        kind=kind,
        amount=Decimal(amount),
        payer=payer,
        method=method,
        received_at=at,
        status=PaymentStatus.READY,
        created_by_id=user.id,
        idempotency_key=f"{location.code}-demo-pay-{workfile.id}-{n}",
        **fields,
    )
    db.session.add(payment)
    db.session.flush()
    record_event(
        workfile,
        DmsEventKind.PAYMENT_ADDED,
        user_id=user.id,
        payment=payment,
        detail=f"{kind.label} from {payer}",
        occurred_at=at,
    )
    payment.status = status
    return payment


def _demo_workfiles(rng: random.Random, location: Location, spec: dict, advisor: User) -> int:
    """Two workfiles for the DMS Activity walk-through (seed 003), receipts in every status."""
    now = utcnow()
    customers = {c.dms_id: c for c in db.session.scalars(select(Customer).where(Customer.location_id == location.id))}
    assets = {a.dms_id: a for a in db.session.scalars(select(Asset).where(Asset.location_id == location.id))}
    ro = None
    for dms_id, _ref, _search, fields, modified in generate(
        SANDBOX_SEED, spec["dms_account"], spec["dms_vendor"], "repair_orders", spec["customers"]
    ):
        if (
            fields.get("status") == "open"
            and not fields.get("alternate_of")
            and fields.get("customer_dms_id") in customers
            and fields.get("vehicle_dms_id") in assets
        ):
            ro = record_from_dict("repair_orders", {**fields, "dms_id": dms_id, "modified_at": modified})
            break
    # 1. Linked to an open RO of the DMS: Posted, Failed, Ready and Void receipts.
    count = 0
    if ro is not None:
        customer, asset = customers[ro.customer_dms_id], assets[ro.vehicle_dms_id]
        total = sum(ro.totals_by_pay_type.values(), Decimal("0.00")) or Decimal("2877.67")
        opened = now - timedelta(days=6)
        wf = Workfile(
            location_id=location.id,
            dms_ro_id=ro.dms_id,
            dms_repair_id=ro.ro_number,
            dms_customer_id=customer.dms_id,
            dms_vehicle_id=asset.dms_id,
            customer_id=customer.id,
            asset_id=asset.id,
            customer_name=customer.display_name,
            total=total,
            insurer="QUALITY INSURANCE COMPANY",
            vehicle_year=asset.year,
            vehicle_make=asset.make,
            vehicle_model=asset.model,
            vin=asset.vin,
            created_by_id=advisor.id,
        )
        db.session.add(wf)
        db.session.flush()
        record_event(wf, DmsEventKind.WORKFILE_CREATED, user_id=advisor.id, occurred_at=opened)
        for kind in (DmsEventKind.RO_LINKED, DmsEventKind.REPAIR_ID_ADDED):
            record_event(
                wf,
                kind,
                user_id=advisor.id,
                reference_id=wf.dms_repair_id,
                detail=f"looked up by RO number {wf.dms_repair_id}",
                occurred_at=opened,
            )
        record_event(
            wf, DmsEventKind.CUSTOMER_ID_ADDED, user_id=advisor.id, reference_id=wf.dms_customer_id, occurred_at=opened
        )
        record_event(
            wf, DmsEventKind.VEHICLE_ID_ADDED, user_id=advisor.id, reference_id=wf.dms_vehicle_id, occurred_at=opened
        )
        half = (total / 2).quantize(Decimal("0.01"))
        day = timedelta(days=1)
        posted = _receipt(
            wf,
            location,
            advisor,
            1,
            PaymentKind.INSURANCE,
            str(half),
            "QUALITY INSURANCE COMPANY",
            "insurance",
            PaymentStatus.POSTED,
            opened + day,
            reference="CLM-20931",
            posted_at=opened + 2 * day,
            reference_id=f"{rng.randint(10**12, 10**13 - 1)}",
            export_batch="demo1",
            exported_by_id=advisor.id,
        )
        record_event(
            wf, DmsEventKind.PAYMENT_EXPORT_REQUESTED, user_id=advisor.id, payment=posted, occurred_at=opened + 2 * day
        )
        record_event(
            wf,
            DmsEventKind.PAYMENT_POSTED,
            payment=posted,
            reference_id=posted.reference_id,
            occurred_at=opened + 2 * day,
        )
        failed = _receipt(
            wf,
            location,
            advisor,
            2,
            PaymentKind.CUSTOMER,
            "100.00",
            customer.display_name,
            "card",
            PaymentStatus.FAILED,
            opened + 3 * day,
            reference="AUTH 448812",
            export_batch="demo2",
            exported_by_id=advisor.id,
            failure_reason="The DMS did not answer in time, so the receipt was not posted.",
            failure_hint="Retry the export: the receipt is sent with the same key, so the DMS posts it at most once.",
        )
        record_event(
            wf, DmsEventKind.PAYMENT_EXPORT_REQUESTED, user_id=advisor.id, payment=failed, occurred_at=opened + 3 * day
        )
        record_event(
            wf, DmsEventKind.PAYMENT_FAILED, payment=failed, detail=failed.failure_reason, occurred_at=opened + 3 * day
        )
        _receipt(
            wf,
            location,
            advisor,
            3,
            PaymentKind.CUSTOMER,
            str(max(total - half - Decimal("100.00"), Decimal("25.00"))),
            customer.display_name,
            "check",
            PaymentStatus.READY,
            now - day,
            reference="Check 1042",
        )
        void = _receipt(
            wf,
            location,
            advisor,
            4,
            PaymentKind.ADJUSTMENT,
            "40.00",
            customer.display_name,
            "adjustment",
            PaymentStatus.VOID,
            opened + 4 * day,
            voided_at=opened + 4 * day,
            voided_by_id=advisor.id,
            void_reason="Entered twice",
        )
        record_event(
            wf,
            DmsEventKind.PAYMENT_VOIDED,
            user_id=advisor.id,
            payment=void,
            detail="Reason: Entered twice",
            occurred_at=opened + 4 * day,
        )
        count += 1
    # 2. Not converted to an RO yet (Convert to RO, or link an RO by number): Ready and Void.
    by_id = {c.id: c for c in customers.values()}
    taken = customers[ro.customer_dms_id].id if ro else None
    owner = next(
        a for a in sorted(assets.values(), key=lambda a: a.id) if a.customer_id in by_id and a.customer_id != taken
    )
    customer = by_id[owner.customer_id]
    started = now - timedelta(days=1)
    wf = Workfile(
        location_id=location.id,
        customer_id=customer.id,
        asset_id=owner.id,
        customer_name=customer.display_name,
        total=Decimal("1480.25"),
        insurer=None,
        vehicle_year=owner.year,
        vehicle_make=owner.make,
        vehicle_model=owner.model,
        vin=owner.vin,
        dms_customer_id=customer.dms_id,
        dms_vehicle_id=owner.dms_id,
        created_by_id=advisor.id,
    )
    db.session.add(wf)
    db.session.flush()
    record_event(wf, DmsEventKind.WORKFILE_CREATED, user_id=advisor.id, occurred_at=started)
    record_event(
        wf,
        DmsEventKind.CUSTOMER_ID_ADDED,
        user_id=advisor.id,
        reference_id=customer.dms_id,
        detail="from the linked portal customer",
        occurred_at=started,
    )
    record_event(
        wf,
        DmsEventKind.VEHICLE_ID_ADDED,
        user_id=advisor.id,
        reference_id=owner.dms_id,
        detail="from the linked portal vehicle",
        occurred_at=started,
    )
    _receipt(
        wf,
        location,
        advisor,
        1,
        PaymentKind.CUSTOMER,
        "500.00",
        customer.display_name,
        "card",
        PaymentStatus.READY,
        started,
        reference="AUTH 310077",
    )
    void = _receipt(
        wf,
        location,
        advisor,
        2,
        PaymentKind.CUSTOMER,
        "50.00",
        customer.display_name,
        "cash",
        PaymentStatus.VOID,
        started,
        voided_at=started,
        voided_by_id=advisor.id,
        void_reason="Wrong amount; re-entered as a card receipt",
    )
    record_event(
        wf,
        DmsEventKind.PAYMENT_VOIDED,
        user_id=advisor.id,
        payment=void,
        detail="Reason: Wrong amount; re-entered as a card receipt",
        occurred_at=started,
    )
    return count + 1
