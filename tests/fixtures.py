"""Fixtures that several test modules share, and the helpers they are built from.

Registered as a pytest plugin by tests/conftest.py (``pytest_plugins``), so a test module asks
for one by name instead of importing it from another test module.
"""

from __future__ import annotations

import hashlib
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from connectors.records import record_from_dict
from tests.conftest import CsrfClient, dms_settings
from tests.factories import PASSWORD
from webapp.domain.fields import portal_values
from webapp.domain.normalise import customer_name_key
from webapp.extensions import db
from webapp.models import Asset, DmsRecord, Role, Workfile
from webapp.services.search_index import index_dms_records, tokens_of_dms_payload

# --------------------------------------------------------------------------- repair orders (tests/test_repair_orders.py)
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def put_mirror(app, location, data_type: str, records: list[dict], deleted: set[str] = frozenset()) -> None:
    """Store canonical records in the location's mirror as a pull would (payload = to_dict(), search tokens)."""
    with app.app_context():
        tokens = {}
        for fields in records:
            record = record_from_dict(data_type, {"modified_at": T0, **fields})
            payload = record.to_dict()
            row = DmsRecord(
                location_id=location.id,
                data_type=data_type,
                dms_id=record.dms_id,
                payload=payload,
                content_hash=hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest(),
                deleted_at=T0 if record.dms_id in deleted else None,
            )
            if data_type == "customers":
                row.name_key = customer_name_key(record.first_name, record.last_name, record.company_name)
            elif data_type == "vehicles":
                row.vin, row.owner_dms_id = record.vin or None, record.owner_dms_id
            elif data_type == "repair_orders":
                row.ro_number, row.owner_dms_id = record.ro_number, record.customer_dms_id
            db.session.add(row)
            tokens[record.dms_id] = tokens_of_dms_payload(data_type, record.dms_id, payload)
        db.session.flush()
        index_dms_records(db.session, location.id, data_type, tokens)
        db.session.commit()


def ro(number: str, opened: datetime, **fields) -> dict:
    """A canonical repair order with one customer-pay line."""
    values = {
        "dms_id": f"D{number}",
        "ro_number": number,
        "status": "open",
        "opened_at": opened,
        "lines": [
            {
                "line_number": 1,
                "opcode": "LOF",
                "description": "Oil change",
                "pay_type": "customer",
                "labor_hours": "0.5",
                "labor_amount": "40.00",
                "parts_amount": "29.95",
            }
        ],
    }
    values.update(fields)
    return values


@pytest.fixture()
def repair_order_shop(app, make):
    """Northside-like location (CDK, Chicago time, Ford + Lincoln) with two advisors, a mirror of
    customers, vehicles and ROs, a portal customer/asset linked to one of them, and a workfile."""
    location = make.location(name="Northside Ford", code="NSF", brands=["Ford", "Lincoln"])
    advisor = make.user(Role.SERVICE_ADVISOR, location, name="Amy Advisor", advisor_dms_id="A1")
    other = make.user(Role.SERVICE_ADVISOR, location, name="Bob Booker", advisor_dms_id="a2")
    nodms = make.user(Role.SERVICE_ADVISOR, location, name="Cal Nodms")
    put_mirror(
        app,
        location,
        "customers",
        [
            {"dms_id": "C1", "first_name": "Zoë", "last_name": "O'Brien-Smith", "phones": ["+13125550100"]},
            {"dms_id": "C2", "kind": "business", "company_name": "Acme Fleet", "first_name": "Joe"},
        ],
    )
    put_mirror(
        app,
        location,
        "vehicles",
        [
            {
                "dms_id": "V1",
                "vin": "1FTFW1ET5DFC10312",
                "year": 2019,
                "make": "Ford",
                "model": "F-150",
                "plate": "ABC123",
                "owner_dms_id": "C1",
            },
            {
                "dms_id": "V2",
                "vin": "5LMJJ2LT1LEL00001",
                "year": 2020,
                "make": "Lincoln",
                "model": "Navigator",
                "plate": "LUX1",
                "owner_dms_id": "C2",
            },
        ],
    )
    portal_customer = make.customer(location, first_name="Zoe", last_name="Obrien", dms_id="C1")
    portal_asset = make.asset(location, portal_customer, dms_id="V1")
    # V9 is only in the portal (the DMS vehicle was never pulled): its make comes from the asset.
    make.asset(location, None, dms_id="V9", vin="5LMJJ2LT1LEL00099", make="Lincoln", model="Aviator", year=2021)
    put_mirror(
        app,
        location,
        "repair_orders",
        [
            ro("1001", T0, advisor_dms_id="A1", customer_dms_id="C1", vehicle_dms_id="V1"),
            ro(
                "1002",
                T0 + timedelta(hours=1),
                status="invoiced",
                advisor_dms_id="A2",
                customer_dms_id="C2",
                vehicle_dms_id="V2",
                closed_at=T0 + timedelta(days=1),
                lines=[
                    {
                        "line_number": 1,
                        "opcode": "WAR1",
                        "description": "Warranty repair",
                        "pay_type": "warranty",
                        "labor_hours": "2.0",
                        "labor_amount": "300.00",
                        "parts_amount": "120.50",
                    },
                    {
                        "line_number": 2,
                        "opcode": "INT",
                        "description": "Get ready",
                        "pay_type": "internal",
                        "labor_hours": "1.0",
                        "labor_amount": "80.00",
                        "parts_amount": "0",
                    },
                ],
            ),
            ro(
                "1003",
                T0 + timedelta(hours=2),
                status="closed",
                advisor_dms_id="ZZ",
                customer_dms_id="C404",
                vehicle_dms_id="V9",
                closed_at=T0 + timedelta(hours=5),
            ),
            ro("0999", T0 - timedelta(days=3), customer_dms_id="C1", vehicle_dms_id="V1"),
        ],
        deleted={"D0999"},
    )
    workfile = make.workfile(
        location,
        portal_customer,
        portal_asset,
        dms_repair_id=None,
        customer_name="Turpin, Sharon",
        vehicle_make="Ford",
        vin="2T1BURHE0GC123456",
    )
    with app.app_context():
        db.session.execute(
            update(Workfile).where(Workfile.id == workfile.id).values(created_at=T0 + timedelta(hours=3))
        )
        db.session.commit()
    return {
        "location": location,
        "advisor": advisor,
        "other": other,
        "nodms": nodms,
        "workfile": workfile,
        "customer": portal_customer,
        "asset": portal_asset,
    }


# --------------------------------------------------------------------------- update requests (tests/test_update_requests.py)
@pytest.fixture()
def update_request_shop(make):
    """Two locations; people of each role; a customer in each."""
    alpha = make.location(name="Alpha Motors", code="ALPHA", dms_vendor="dealertrack")
    beta = make.location(name="Beta Trucks", code="BETA", dms_vendor="karmak")
    return {
        "alpha": alpha,
        "beta": beta,
        "advisor": make.user(Role.SERVICE_ADVISOR, alpha, name="Avery Advisor"),
        "advisor2": make.user(Role.SERVICE_ADVISOR, alpha, name="Sam Second"),
        "manager": make.user(Role.SERVICE_MANAGER, alpha, name="Morgan Manager"),
        "beta_advisor": make.user(Role.SERVICE_ADVISOR, beta, name="Blake Beta"),
        "reviewer": make.user(Role.REVIEWER, None, name="Riley Reviewer"),
        "reviewer2": make.user(Role.REVIEWER, None, name="Quinn Reviewer"),
        "customer": make.customer(
            alpha,
            first_name="Jon",
            last_name="Smyth",
            phone="+12175550100",
            email="jon.old@example.com",
            address_line1="1 Old Road",
            city="Springfield",
            state="IL",
            postal_code="62701",
            dms_id="C-100",
        ),
        "beta_customer": make.customer(beta, first_name="Bea", last_name="Trucker", dms_id="C-100"),
    }


# --------------------------------------------------------------------------- sync wizard (tests/test_sync_wizard.py)
def connected(make, sandbox, account="alpha-cdk", **fields):
    """A location connected to a sandbox account, and a signed-in-able advisor of it."""
    location = make.location(**dms_settings(sandbox, account), **fields)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    return location, advisor


def dms_record(sandbox, account, data_type, pick=lambda r: True, **edits):
    """A DMS record of the account (edited in the DMS first when ``edits`` are given), as a dict."""
    with sandbox.connect(account) as dms:
        for dms_id in sorted(dms.list_ids(data_type)):
            record = dms.fetch_one(data_type, dms_id)
            if pick(record):
                break
    if edits:
        sandbox.control.edit_record(account, data_type, record.dms_id, edits)
        with sandbox.connect(account) as dms:
            record = dms.fetch_one(data_type, record.dms_id)
    return record.to_dict()


def portal_copy(factories, location, data_type, payload, **overrides):
    """A portal record holding exactly the DMS values, then ``overrides``."""
    values = {k: v for k, v in portal_values(data_type, payload).items()}
    values.update(overrides)
    if data_type == "customers":
        return factories.customer(location, dms_id=payload["dms_id"], **values)
    customer_id = values.pop("customer_id", None)
    asset = factories.asset(location, None, dms_id=payload["dms_id"], **values)
    return asset if customer_id is None else _set_owner(factories, asset, customer_id)


def _set_owner(make, asset, customer_id):
    with make._app.app_context():
        row = db.session.get(Asset, asset.id)
        row.customer_id = customer_id
        db.session.commit()
        db.session.refresh(row)
        db.session.expunge(row)
        return row


def person(record):
    """A DMS customer that is a person with an e-mail, a phone and an address."""
    return record.kind == "person" and record.emails and record.phones and record.address_line1


@pytest.fixture()
def customer_case(make, sandbox, auth):
    """A CDK location, its advisor (signed in), and a portal customer differing from the DMS in a known way.

    The DMS holds the phone written differently and the e-mail in other case (not differences),
    a different last name (both sides have a value), a city (the portal has none) and no
    company (the portal has one).
    """

    def build(**location_fields):
        location, advisor = connected(make, sandbox, **location_fields)
        payload = dms_record(
            sandbox,
            "alpha-cdk",
            "customers",
            person,
            phones=["(217) 555-0123"],
            emails=["Pat.Sample@Example.COM"],
            last_name="Sample",
            city="Springfield",
            company_name="",
        )
        customer = portal_copy(
            make,
            location,
            "customers",
            payload,
            phone="+12175550123",
            email="pat.sample@example.com",
            last_name="Samples",
            city=None,
            company_name="Sample Farms",
        )
        auth.login(advisor.email, PASSWORD)
        return location, advisor, customer, payload

    return build


# --------------------------------------------------------------------------- related ROs (tests/test_related_ros.py)
# In the sandbox's generated Karmak data every fifth RO is an alternate of the one before it:
# 100005 is an (open) alternate of 100004, so each finds the other.
ORIGINAL, ALTERNATE = "100004", "100005"


@pytest.fixture()
def karmak(make, sandbox):
    """A Karmak location with the feature on, a manager, an advisor and a case on RO 100004."""
    loc = make.location(name="Beta Trucks", **dms_settings(sandbox, "beta-karmak"), related_ro_enabled=True)
    manager = make.user(Role.SERVICE_MANAGER, loc)
    customer = make.customer(loc)
    asset = make.asset(loc, customer)
    case = make.case(loc, asset, ro_number=ORIGINAL)
    return {"location": loc, "manager": manager, "asset": asset, "case": case}


# --------------------------------------------------------------------------- Redis down (tests/test_degraded.py)
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_with_redis(app, url: str):
    from webapp import background, create_app

    other = create_app(
        {
            **{
                key: app.config[key]
                for key in (
                    "TESTING",
                    "SECRET_KEY",
                    "SQLALCHEMY_DATABASE_URI",
                    "ARGON2_PROFILE",
                    "SERVER_NAME",
                    "INSTANCE_DIR",
                )
            },
            "REDIS_URL": url,
            "REDIS_REQUEST_TIMEOUT": 0.3,
            "HEALTHZ_REQUIRE_BACKGROUND": True,
        }
    )
    other.test_client_class = CsrfClient
    background.forget_cached_state()
    return other


def dispose_app(other) -> None:
    with other.app_context():
        db.engine.dispose()  # no idle connection may outlive the test (PostgreSQL TRUNCATE)


@pytest.fixture()
def down_app(app, fresh_throttle):
    other = app_with_redis(app, f"redis://127.0.0.1:{closed_port()}/0")
    yield other
    dispose_app(other)
