"""Demo data: two locations on different DMS vendors, one user per role, a few hundred
customers and assets each. Deterministic (seeded), so every demo install looks alike.

The demo locations point at the sandbox DMS that ``make run`` starts (``SANDBOX_URL``,
default http://127.0.0.1:5001) with the account codes the sandbox is started with.
"""
from __future__ import annotations

import os
import random
import string
from datetime import timedelta

import phonenumbers
from sqlalchemy import select
from vininfo import Vin

from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Role, User, utcnow

DEMO_PASSWORD = "demo-password"

DEMO_LOCATIONS = [
    {
        "code": "NSF", "name": "Northside Ford", "timezone": "America/Chicago", "brands": ["Ford", "Lincoln"],
        "dms_vendor": "cdk", "dms_account": "demo-cdk", "customers": 300,
        "makes": [("Ford", ["F-150", "Escape", "Explorer", "Transit", "Bronco"]), ("Lincoln", ["Navigator", "Aviator"])],
        "wmi": ["1FT", "1FM", "3FA", "5LM"],
    },
    {
        "code": "MTC", "name": "Metro Truck Center", "timezone": "America/Denver", "brands": ["Freightliner", "Western Star"],
        "dms_vendor": "karmak", "dms_account": "demo-karmak", "customers": 240, "related_ro_enabled": True,
        "oem_build_data": True,
        "makes": [("Freightliner", ["Cascadia", "M2 106", "114SD"]), ("Western Star", ["49X", "57X"])],
        "wmi": ["1FU", "3AK", "5KK"],
    },
]

DEMO_USERS = [
    ("admin@demo.test", "Alex Admin", Role.GLOBAL_ADMIN, None, None),
    ("manager@demo.test", "Morgan Manager", Role.SERVICE_MANAGER, "NSF", None),
    ("advisor@demo.test", "Avery Advisor", Role.SERVICE_ADVISOR, "NSF", "ADV1001"),
    ("fieldmanager@demo.test", "Frankie Field", Role.FIELD_MANAGER, None, None),
    ("reviewer@demo.test", "Riley Reviewer", Role.REVIEWER, None, None),
]

FIRST = ["James", "Maria", "Robert", "Linda", "Michael", "Patricia", "David", "Jennifer", "José", "Zoë",
         "William", "Elizabeth", "Chen", "Aisha", "Thomas", "Sarah", "Dmitri", "Fatima", "Kevin", "Renée"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Garcia", "Martínez", "Nguyen", "O'Brien", "Kowalski",
        "Anderson", "Taylor", "Thomas", "Hernández", "Moore", "Jackson", "Lee", "Müller", "Patel", "White", "Harris"]
COMPANIES = ["Acme Logistics", "Blue Ridge Haulers", "Prairie Freight LLC", "Summit Plumbing", "Rocky Mtn Movers",
             "Lone Star Landscaping", "Great Lakes Delivery", "Eagle Construction", "Metro Cab Co", "Sunrise Bakery"]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Industrial Pkwy", "Elm St", "Lakeview Rd", "Commerce Blvd"]
CITIES = [("Springfield", "IL", "627"), ("Denver", "CO", "802"), ("Austin", "TX", "787"), ("Madison", "WI", "537")]
AREA_CODES = ["217", "303", "512", "608", "312", "720"]
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
YEAR_CODES = {2015: "F", 2016: "G", 2017: "H", 2018: "J", 2019: "K", 2020: "L", 2021: "M", 2022: "N", 2023: "P", 2024: "R", 2025: "S"}


def _phone(rng: random.Random) -> str:
    """A plausible US number in E.164 (validated by the phonenumbers library)."""
    while True:
        raw = f"+1{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(1000, 9999)}"
        number = phonenumbers.parse(raw)
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _vin(rng: random.Random, wmi: str, year: int) -> str:
    """A 17-character VIN whose check digit is valid (checked with vininfo)."""
    body = wmi + "".join(rng.choice(VIN_CHARS) for _ in range(5))
    tail = YEAR_CODES[year] + "".join(rng.choice(VIN_CHARS) for _ in range(2)) + "".join(rng.choice(string.digits) for _ in range(5))
    for check in "0123456789X":
        vin = body + check + tail
        if Vin(vin).verify_checksum(check_year=False):
            return vin
    raise AssertionError("no check digit fits")  # unreachable: one of 0-9/X always does


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
        location = Location(
            code=spec["code"], name=spec["name"], timezone=spec["timezone"], brands=spec["brands"],
            dms_vendor=spec["dms_vendor"], dms_base_url=sandbox_url, dms_account=spec["dms_account"],
            dms_api_key=f"sandbox-key-{spec['dms_account']}",
            related_ro_enabled=spec.get("related_ro_enabled", False),
            oem_build_data=spec.get("oem_build_data", False),
        )
        db.session.add(location)
        db.session.flush()
        locations[spec["code"]] = location
        created["locations"] += 1
        for i in range(spec["customers"]):
            business = rng.random() < 0.2
            city, state, zip3 = rng.choice(CITIES)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            days_ago = rng.choice([None, None, 3, 12, 29, 45, 80, 120, 400])
            customer = Customer(
                location_id=location.id,
                dms_id=f"C{spec['code']}{i + 1:06d}" if rng.random() < 0.85 else None,
                is_business=business,
                first_name=None if business else first,
                last_name=None if business else last,
                company_name=rng.choice(COMPANIES) if business else None,
                phone=_phone(rng),
                mobile_phone=_phone(rng) if rng.random() < 0.5 else None,
                email=f"{first}.{last}{i}@example.com".lower().replace("'", "") if rng.random() < 0.8 else None,
                address_line1=f"{rng.randint(10, 9999)} {rng.choice(STREETS)}",
                city=city, state=state, postal_code=f"{zip3}{rng.randint(10, 99)}",
                last_synced_at=None if days_ago is None else now - timedelta(days=days_ago, hours=rng.randint(0, 23)),
            )
            db.session.add(customer)
            db.session.flush()
            created["customers"] += 1
            for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
                make, models = rng.choice(spec["makes"])
                year = rng.randint(2015, 2025)
                legacy = rng.random() < 0.05 and spec["code"] == "MTC"
                vin = f"{rng.choice(spec['wmi'])}{rng.randint(10000000, 99999999)}" if legacy else _vin(rng, rng.choice(spec["wmi"]), year)
                db.session.add(Asset(
                    location_id=location.id, customer_id=customer.id,
                    dms_id=f"V{spec['code']}{created['assets'] + 1:06d}",
                    vin=vin, vin_valid=not legacy,
                    unit_number=f"U{rng.randint(100, 999)}" if business else None,
                    year=year, make=make, model=rng.choice(models),
                    license_plate=f"{rng.choice(string.ascii_uppercase)}{rng.choice(string.ascii_uppercase)}{rng.randint(1000, 9999)}",
                    mileage=rng.randint(1000, 250000),
                    last_synced_at=customer.last_synced_at,
                ))
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
