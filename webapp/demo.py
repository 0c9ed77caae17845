"""Demo data: three locations on different DMS vendors and protocols (CDK over STAR REST,
Karmak over the console's REST dialect, Dealertrack over OpenTrack SOAP), one user per role,
a few hundred customers and assets each. Deterministic (seeded), so every demo install looks alike.

The portal records are copies of the sandbox DMS's own generated records (same DMS ids),
most linked, some drifted from the DMS and some left out (they exist only in the DMS),
so Last Synced badges, the DMS tab and the sync wizards all have something to show.

The demo locations point at the sandbox DMS that ``make run`` starts (``SANDBOX_URL``,
default http://127.0.0.1:5001) with the account codes and protocols the sandbox is started
with (webapp/runner.py); their credentials come from the sandbox's own
``connection_settings`` and are stored encrypted like any other location's.
"""
from __future__ import annotations

import os
import random
from datetime import timedelta

from sqlalchemy import select

from connectors.sandbox.generate import generate
from connectors.sandbox.testing import connection_settings
from webapp.domain.fields import portal_values
from webapp.domain.normalise import normalise_vin

from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Role, User, utcnow

DEMO_PASSWORD = "demo-password"

# "dms_protocol" and "dms_account" must match the sandbox accounts runner.py starts
# (--account demo-cdk:cdk:300:star ...).
DEMO_LOCATIONS = [
    {
        "code": "NSF", "name": "Northside Ford", "timezone": "America/Chicago", "brands": ["Ford", "Lincoln"],
        "dms_vendor": "cdk", "dms_protocol": "star", "dms_account": "demo-cdk", "customers": 300,
    },
    {
        "code": "MTC", "name": "Metro Truck Center", "timezone": "America/Denver", "brands": ["Freightliner", "Western Star"],
        "dms_vendor": "karmak", "dms_protocol": "console", "dms_account": "demo-karmak", "customers": 240,
        "related_ro_enabled": True, "oem_build_data": True,
    },
    {
        "code": "ESC", "name": "Eastside Chevrolet", "timezone": "America/New_York", "brands": ["Chevrolet", "Buick", "GMC"],
        "dms_vendor": "dealertrack", "dms_protocol": "opentrack", "dms_account": "demo-dealertrack", "customers": 280,
    },
]

DEMO_USERS = [
    ("admin@demo.test", "Alex Admin", Role.GLOBAL_ADMIN, None, None),
    ("manager@demo.test", "Morgan Manager", Role.SERVICE_MANAGER, "NSF", None),
    ("advisor@demo.test", "Avery Advisor", Role.SERVICE_ADVISOR, "NSF", "ADV03"),
    ("eastside.manager@demo.test", "Emerson Eastside", Role.SERVICE_MANAGER, "ESC", None),
    ("eastside.advisor@demo.test", "Ellis Eastside", Role.SERVICE_ADVISOR, "ESC", "ADV05"),
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


def seed_demo(seed: int = 42) -> dict[str, int]:
    """Create the demo data in an empty database. Returns what was created."""
    if db.session.scalar(select(Location.id).limit(1)) is not None:
        raise RuntimeError("The database already has data; demo data is only loaded into an empty one.")
    rng = random.Random(seed)
    sandbox_url = os.environ.get("SANDBOX_URL", "http://127.0.0.1:5001")
    now = utcnow()
    locations: dict[str, Location] = {}
    created = {"locations": 0, "users": 0, "customers": 0, "assets": 0}
    for spec in DEMO_LOCATIONS:
        # The sandbox's secret for an account is "sandbox-key-<code>" unless started with --api-key.
        dms = connection_settings(sandbox_url, spec["dms_account"], spec["dms_protocol"],
                                  f"sandbox-key-{spec['dms_account']}")
        location = Location(
            code=spec["code"], name=spec["name"], timezone=spec["timezone"], brands=spec["brands"],
            dms_vendor=spec["dms_vendor"], dms_protocol=dms["protocol"], dms_base_url=dms["base_url"],
            dms_account=dms["account"], dms_credentials=dms["credentials"],
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
                SANDBOX_SEED, spec["dms_account"], spec["dms_vendor"], "customers", spec["customers"]):
            if rng.random() < DMS_ONLY_SHARE:
                continue
            values = portal_values("customers", fields)
            if rng.random() < DRIFT_SHARE:
                _drift(rng, values)
            days_ago = rng.choice([None, None, 3, 12, 29, 45, 80, 120, 400])
            customer = Customer(location_id=location.id, dms_id=dms_id, **values,
                                last_synced_at=None if days_ago is None
                                else now - timedelta(days=days_ago, hours=rng.randint(0, 23)))
            db.session.add(customer)
            db.session.flush()
            portal_ids[dms_id] = customer.id
            created["customers"] += 1
        for dms_id, _ref, _search, fields, _modified in generate(
                SANDBOX_SEED, spec["dms_account"], spec["dms_vendor"], "vehicles", spec["customers"]):
            owner = portal_ids.get(fields.get("owner_dms_id"))
            if owner is None or rng.random() < DMS_ONLY_SHARE:
                continue
            values = portal_values("vehicles", fields)
            checked = normalise_vin(values["vin"])
            db.session.add(Asset(location_id=location.id, customer_id=owner, dms_id=dms_id, **values,
                                 vin_valid=bool(checked and checked.check_digit_ok is not False and checked.standard)))
            created["assets"] += 1
    for email, name, role, code, dms_id in DEMO_USERS:
        user = User(email=email, name=name, role=role, advisor_dms_id=dms_id,
                    location_id=locations[code].id if code else None, password_hash="")
        user.set_password(DEMO_PASSWORD)
        if role == Role.FIELD_MANAGER:
            user.covered_locations = list(locations.values())
        db.session.add(user)
        created["users"] += 1
    db.session.commit()
    return created
