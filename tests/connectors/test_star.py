"""STAR REST: the adapter against the sandbox's STAR front end, checked against the published schemas.

Every response body the sandbox sends and every request body the adapter sends in these
tests is validated with jsonschema against the STAR OpenAPI 3.0 documents vendored in
``tests/schemas/star`` (Eclipse Public License 1.0, see its LICENSE).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime as http_date
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from connectors import (
    APPOINTMENTS,
    CUSTOMERS,
    OPCODES,
    REPAIR_ORDERS,
    VEHICLES,
    AuthenticationError,
    ConflictError,
    DmsValidationError,
    MalformedResponseError,
    NotSupportedError,
    TransientDmsError,
    connect,
)
from connectors.base import record_from_dict
from connectors.http import retry_after_seconds
from connectors.sandbox.testing import running_sandbox
from connectors.star import StarConnector, _link_next
from connectors.star_records import RESOURCES, from_star, to_star

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "star"
DOCUMENTS = {
    CUSTOMERS: "customer",
    VEHICLES: "service_vehicle",
    APPOINTMENTS: "service_appointment",
    REPAIR_ORDERS: "repair_order",
    OPCODES: "labor_operation",
}
RESOURCE_SCHEMA = {
    CUSTOMERS: "Customer",
    VEHICLES: "ServiceVehicle",
    APPOINTMENTS: "ServiceAppointment",
    REPAIR_ORDERS: "RepairOrder",
    OPCODES: "LaborOperation",
}
NEW_CUSTOMER = {
    "kind": "person",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phones": ["(555) 010-0199"],
    "emails": ["ada@example.com"],
    "address_line1": "1 Analytical Way",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78701",
    "country": "US",
}


# --------------------------------------------------------------------------- schemas
_DROP = {"example", "examples", "discriminator", "xml", "externalDocs", "deprecated", "readOnly", "writeOnly"}


def _convert(node: Any, name: str | None = None) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (draft 4): ``nullable``, examples, self-references."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    if name and node.get("$ref") == f"#/components/schemas/{name}":
        return {}  # a schema defined as a reference to itself (VehicleReference in service_vehicle) means "any"
    out = {
        k: _convert(v)
        for k, v in node.items()
        if k not in _DROP or not isinstance(v, (str, bool, dict, list)) or k == "properties"
    }
    for key in _DROP:
        if key in node and key != "properties":
            out.pop(key, None)
    if "properties" in node:
        out["properties"] = {k: _convert(v) for k, v in node["properties"].items()}
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def document(name: str) -> dict[str, Any]:
    """One STAR OpenAPI document with its component schemas converted to JSON Schema."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load((SCHEMAS / f"{name}.openapi.yaml").read_text(), Loader=loader)
    doc["components"]["schemas"] = {k: _convert(v, k) for k, v in doc["components"]["schemas"].items()}
    return doc


def validate(doc_name: str, schema: dict[str, Any], instance: Any) -> None:
    """Validate ``instance`` against ``schema`` whose ``$ref``s point into the document's components."""
    doc = document(doc_name)
    root = {**_convert(schema), "components": {"schemas": doc["components"]["schemas"]}}
    jsonschema.Draft4Validator(root).validate(instance)


def validate_component(doc_name: str, component: str, instance: Any) -> None:
    """Validate against ``#/components/schemas/<component>``."""
    validate(doc_name, {"$ref": f"#/components/schemas/{component}"}, instance)


@cache
def _operations() -> list[tuple[re.Pattern, str, str, dict[str, Any]]]:
    """(path regex, document, method, operation) for the resource operations of every document."""
    found = []
    for doc_name in DOCUMENTS.values():
        for template, item in document(doc_name)["paths"].items():
            if template.count("{") > 1:
                continue
            pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/:]+", re.escape(template)) + "$")
            for method, operation in item.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    found.append((pattern, doc_name, method.upper(), operation))
    return found


def _content_schema(doc_name: str, holder: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of a response or request body object (following ``$ref`` to components)."""
    if "$ref" in holder:
        kind, name = holder["$ref"].split("/")[-2:]
        holder = document(doc_name)["components"][kind][name]
    for media, content in (holder.get("content") or {}).items():
        if "json" in media:
            return content.get("schema")
    return None


def check_exchange(method: str, path: str, body: Any, status: int, content: bytes) -> str:
    """Validate one recorded request/response pair; returns what it was checked against."""
    doc_name, operation = "customer", None
    for pattern, op_doc, op_method, op in _operations():
        if op_method == method and pattern.match(path):
            doc_name, operation = op_doc, op
            break
    if body is not None and operation is not None and "requestBody" in operation:
        schema = _content_schema(doc_name, operation["requestBody"])
        assert schema is not None
        validate(doc_name, schema, body)
    if status >= 400:
        problem = json.loads(content)
        validate_component(doc_name, "ErrorDetail", problem)
        validate_component(doc_name, "ProblemDetail", problem)
        return "error"
    if operation is None:
        if path.startswith("/service-appointments/") and path.endswith(":cancel"):
            validate_component("service_appointment", "ServiceAppointment", json.loads(content))
            return "ServiceAppointment (cancel)"
        return "unpublished"
    response = operation["responses"].get(str(status)) or operation["responses"].get("default")
    assert response is not None, f"{method} {path} answered {status}, not in the document"
    schema = _content_schema(doc_name, response)
    if schema is not None:
        validate(doc_name, schema, json.loads(content))
    return f"{doc_name} {method} {status}"


class Recorder:
    """Wraps a connector's transport and keeps every request and response."""

    def __init__(self, connector: StarConnector) -> None:
        self.exchanges: list[tuple[str, str, Any, int, bytes]] = []
        transport = connector.transport
        original = transport._send

        def send(method, path, *, params=None, json_body=None, headers, timeout):
            answer = original(method, path, params=params, json_body=json_body, headers=headers, timeout=timeout)
            if answer.headers.get("X-Injected-Fault") != "malformed":  # deliberately truncated JSON
                self.exchanges.append((method, path, json_body, answer.status_code, answer.content))
            return answer

        transport._send = send

    def check_all(self) -> dict[str, int]:
        """Validate every recorded exchange; returns a count per kind."""
        counts: dict[str, int] = {}
        for exchange in self.exchanges:
            kind = check_exchange(*exchange)
            counts[kind] = counts.get(kind, 0) + 1
        return counts


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def star_box(tmp_path_factory):
    """A sandbox with STAR accounts of its own (CDK's second protocol included) and a console one."""
    accounts = [
        ("star-tekion", "tekion", 45, "star"),
        ("star-reynolds", "reynolds", 30, "star"),
        ("star-cdk", "cdk", 30, "star"),
        ("console-cdk", "cdk", 10, "console"),
    ]
    with running_sandbox(accounts, data_dir=tmp_path_factory.mktemp("star")) as box:
        yield box


@pytest.fixture
def star(star_box):
    """Factory of connectors with a recorder; every exchange is schema-checked after the test."""
    opened = []

    def make(code="star-tekion", timeout=5.0, record=True):
        connector = star_box.connect(code, timeout=timeout)
        recorder = Recorder(connector) if record else None
        opened.append((connector, recorder))
        return connector

    yield make
    star_box.control.clear_faults()
    for connector, recorder in opened:
        connector.close()
        if recorder is not None:
            recorder.check_all()


def key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


# --------------------------------------------------------------------------- tests
def test_connect_builds_the_star_connector(star):
    dms = star()
    assert isinstance(dms, StarConnector) and dms.PROTOCOL == "star" and dms.LABEL == "STAR REST"
    assert [f.name for f in StarConnector.CREDENTIALS] == ["client_id", "client_secret"]


@pytest.mark.parametrize("data_type", list(DOCUMENTS))
def test_pages_and_records_validate_against_the_published_schemas(data_type, star_box):
    dms = star_box.connect("star-tekion")
    recorder = Recorder(dms)
    try:
        records = [r for page in dms.iter_changes(data_type, page_size=7) for r in page.records]
        assert records and len({r.dms_id for r in records}) == len(records)
        one = dms.fetch_one(data_type, records[0].dms_id)
        assert one == records[0] or one.dms_id == records[0].dms_id
    finally:
        dms.close()
    counts = recorder.check_all()
    assert counts.get(f"{DOCUMENTS[data_type]} GET 200", 0) >= 2, counts


@pytest.mark.parametrize("data_type", list(DOCUMENTS))
def test_mapping_round_trips_canonical_to_star_and_back(data_type, star_box):
    with star_box.connect("star-tekion") as dms:
        page = next(iter(dms.iter_changes(data_type, page_size=25)))
    assert page.records
    for record in page.records:
        canonical = record.to_dict()
        resource = to_star(data_type, canonical)
        validate_component(DOCUMENTS[data_type], RESOURCE_SCHEMA[data_type], resource)
        assert record_from_dict(data_type, from_star(data_type, resource)) == record
        # request bodies (no extension properties) keep the values as well
        body = to_star(data_type, canonical, meta=False)
        assert "last_updated_date_time" not in body and "etag" not in body
        again = from_star(data_type, body)
        assert record_from_dict(data_type, {**again, "modified_at": record.modified_at, "etag": record.etag}) == record


def test_mapping_uses_the_spec_field_names():
    customer = to_star(
        CUSTOMERS, {"dms_id": "C1", "modified_at": "2026-01-01T00:00:00Z", "etag": '"1"', **NEW_CUSTOMER}
    )
    party = customer["party_references"][0]
    assert party["individual_name"] == {"given_name": "Ada", "family_name": "Lovelace"}
    assert {c["communication_channel_type"] for c in party["communication_channels"]} == {"PHONE", "EMAIL"}
    assert party["address_references"][0]["state_province"] == "TX"
    vehicle = to_star(
        VEHICLES,
        {
            "dms_id": "V1",
            "vin": "1FTFW1E50PFA00000",
            "year": 2020,
            "plate": "ABC123",
            "mileage": 1200,
            "owner_dms_id": "C1",
        },
    )
    assert vehicle["vehicle_identifier"]["vin"] == "1FTFW1E50PFA00000"
    assert vehicle["vehicle_identifier"]["model_year"] == "2020"
    assert vehicle["garage_item_reference"]["parties"][0]["party_key"] == "C1"
    ro = to_star(
        REPAIR_ORDERS,
        {
            "dms_id": "100001",
            "ro_number": "100001",
            "status": "invoiced",
            "lines": [
                {
                    "line_number": 1,
                    "opcode": "LOF",
                    "description": "Oil",
                    "pay_type": "warranty",
                    "labor_hours": "0.5",
                    "labor_amount": "40.00",
                    "parts_amount": "25.10",
                }
            ],
        },
    )
    assert ro["repair_order_line_items"][0]["pay_types"] == ["WARRANTY"]
    assert from_star(REPAIR_ORDERS, ro)["status"] == "invoiced"
    for data_type, resource in ((CUSTOMERS, customer), (VEHICLES, vehicle), (REPAIR_ORDERS, ro)):
        validate_component(DOCUMENTS[data_type], RESOURCE_SCHEMA[data_type], resource)


def test_paging_resume_and_modified_since_over_star(star):
    dms = star()
    pages = list(dms.iter_changes(CUSTOMERS, page_size=8))
    records = [r for p in pages for r in p.records]
    assert len(records) == len({r.dms_id for r in records}) == len(set(dms.list_ids(CUSTOMERS, page_size=10)))
    assert all(p.has_more for p in pages[:-1]) and not pages[-1].has_more
    seen = 0
    for page in pages:
        seen += len(page.records)
        rest = [r.dms_id for p in dms.iter_changes(CUSTOMERS, cursor=page.next_cursor, page_size=8) for r in p.records]
        assert rest == [r.dms_id for r in records[seen:]]
    pivot = records[len(records) // 2]
    since = [r for p in dms.iter_changes(CUSTOMERS, cursor=dms.cursor_at(pivot.modified_at)) for r in p.records]
    assert {r.dms_id for r in since} == {r.dms_id for r in records if r.modified_at >= pivot.modified_at}
    future = dms.cursor_at(datetime.now(UTC) + timedelta(days=1))
    assert [r for p in dms.iter_changes(CUSTOMERS, cursor=future) for r in p.records] == []


def test_staff_edits_and_locks_show_up_through_star(star, star_box):
    dms = star()
    end = list(dms.iter_changes(APPOINTMENTS, page_size=50))[-1].next_cursor
    appointment = next(iter(dms.iter_changes(APPOINTMENTS, page_size=1))).records[0]
    star_box.control.lock_appointment("star-tekion", appointment.dms_id)
    changed = [r for p in dms.iter_changes(APPOINTMENTS, cursor=end) for r in p.records]
    assert [r.dms_id for r in changed] == [appointment.dms_id] and changed[0].locked
    with pytest.raises(ConflictError) as caught:
        dms.update_appointment(appointment.dms_id, {"notes": "from the portal"}, etag=changed[0].etag)
    assert caught.value.locked and caught.value.status == 409
    star_box.control.unlock_appointment("star-tekion", appointment.dms_id)


def test_if_match_conflict_is_a_conflict_error(star, star_box):
    dms = star()
    customer = dms.fetch_one(CUSTOMERS, "C0000003")
    star_box.control.edit_record("star-tekion", CUSTOMERS, "C0000003", {"first_name": "Changed-in-DMS"})
    with pytest.raises(ConflictError) as caught:
        dms.update_customer("C0000003", {"city": "Portal City"}, etag=customer.etag)
    assert caught.value.status == 412 and not caught.value.locked
    assert star_box.control.get_record("star-tekion", CUSTOMERS, "C0000003")["city"] != "Portal City"
    fresh = dms.fetch_one(CUSTOMERS, "C0000003")
    updated = dms.update_customer("C0000003", {"city": "Portal City", "phones": ["555-0100"]}, etag=fresh.etag)
    assert updated.city == "Portal City" and updated.first_name == "Changed-in-DMS" and updated.phones == ("555-0100",)
    assert updated.emails == fresh.emails and updated.etag != fresh.etag


def test_idempotent_create_replay_creates_one_record(star, star_box):
    dms = star()
    before = star_box.control.count_created("star-tekion").get(CUSTOMERS, 0)
    same = key()
    first = dms.create_customer(NEW_CUSTOMER, same)
    replay = dms.create_customer(NEW_CUSTOMER, same)
    assert replay.dms_id == first.dms_id and replay.etag == first.etag
    assert star_box.control.count_created("star-tekion")[CUSTOMERS] == before + 1
    assert dms.fetch_one(CUSTOMERS, first.dms_id).last_name == "Lovelace"
    with pytest.raises(DmsValidationError) as caught:
        dms.create_customer({**NEW_CUSTOMER, "last_name": "Byron"}, same)
    assert caught.value.vendor_code == "TEK-IDEMPOTENCY-MISMATCH" or caught.value.vendor_code.endswith(
        "IDEMPOTENCY-MISMATCH"
    )
    assert star_box.control.count_created("star-tekion")[CUSTOMERS] == before + 1


def test_appointment_vehicle_create_update_cancel(star, star_box):
    dms = star()
    vehicle = dms.create_vehicle(
        {
            "vin": "1FTFW1E50PFA00000",
            "year": 2023,
            "make": "Ford",
            "model": "F-150",
            "owner_dms_id": "C0000001",
            "mileage": 10,
        },
        key(),
    )
    assert vehicle.vin == "1FTFW1E50PFA00000" and vehicle.year == 2023 and vehicle.owner_dms_id == "C0000001"
    fields = {
        "customer_dms_id": "C0000001",
        "vehicle_dms_id": vehicle.dms_id,
        "advisor_dms_id": "ADV02",
        "scheduled_at": "2026-12-01T15:00:00Z",
        "opcodes": ["LOF"],
        "notes": "wait",
    }
    same = key()
    created = dms.create_appointment(fields, same)
    assert dms.create_appointment(fields, same).dms_id == created.dms_id
    assert created.opcodes == ("LOF",) and created.vehicle_dms_id == vehicle.dms_id and created.notes == "wait"
    moved = dms.update_appointment(created.dms_id, {"scheduled_at": "2026-12-02T15:00:00Z"}, etag=created.etag)
    assert moved.scheduled_at == datetime(2026, 12, 2, 15, tzinfo=UTC)
    with pytest.raises(ConflictError):
        dms.cancel_appointment(created.dms_id, created.etag)
    cancelled = dms.cancel_appointment(created.dms_id, moved.etag)
    assert cancelled.status == "cancelled" and cancelled.etag != moved.etag


def test_reynolds_rules_and_unpublished_types(star, star_box):
    dms = star("star-reynolds")
    with pytest.raises(NotSupportedError) as caught:
        dms.create_customer(NEW_CUSTOMER, key())
    assert caught.value.vendor_code == "RR-PUSH-NEEDS-APPOINTMENT"
    assert dms.create_customer(NEW_CUSTOMER, key(), for_appointment=True).last_name == "Lovelace"
    with pytest.raises(NotSupportedError):
        dms.iter_changes(OPCODES)
    for data_type in ("parts_invoices", "special_orders"):
        records = [r for p in dms.iter_changes(data_type, page_size=20) for r in p.records]
        assert records and {r.dms_id for r in records} == set(dms.list_ids(data_type, page_size=7))
    same = key()
    number = dms.reserve_ro_number(same)
    assert dms.reserve_ro_number(same) == number and dms.reserve_ro_number(key()) != number
    receipt = {"ro_number": "100003", "amount": "99.50", "method": "card", "payer": "customer"}
    same = key()
    posted = dms.export_payment(receipt, same)
    assert dms.export_payment(receipt, same).dms_id == posted.dms_id and str(posted.amount) == "99.50"
    with pytest.raises(NotSupportedError):
        dms.related_ro_numbers("100005")


def test_search_over_star(star):
    dms = star()
    customer = dms.fetch_one(CUSTOMERS, "C0000002")
    digits = "".join(ch for ch in customer.phones[0] if ch.isdigit())[-10:]
    assert "C0000002" in {c.dms_id for c in dms.search_customers(f"{digits[:3]}.{digits[3:6]}.{digits[6:]}")}
    vehicle = dms.fetch_one(VEHICLES, "V0000005")
    assert "V0000005" in {v.dms_id for v in dms.search_vehicles(vehicle.vin[-6:])}
    assert dms.search_customers("  ") == []


def test_expired_token_is_renewed_once(star, star_box):
    dms = star()
    next(iter(dms.iter_changes(CUSTOMERS, page_size=5)))
    before = star_box.control.token_requests("star-tekion")
    star_box.control.inject_fault("expired_token", account="star-tekion")
    assert len(next(iter(dms.iter_changes(CUSTOMERS, page_size=5))).records) == 5
    assert star_box.control.token_requests("star-tekion") == before + 1
    star_box.control.inject_fault("expired_token", count=2, account="star-tekion")
    with pytest.raises(AuthenticationError) as caught:
        next(iter(dms.iter_changes(CUSTOMERS, page_size=5)))
    assert caught.value.vendor_code == "TEK-TOKEN-EXPIRED"


def test_short_lived_tokens_are_renewed_before_expiry(tmp_path):
    with running_sandbox([("short", "tekion", 10, "star")], data_dir=tmp_path, token_ttl=5.0) as box:
        with box.connect("short") as dms:
            next(iter(dms.iter_changes(CUSTOMERS, page_size=5)))
            next(iter(dms.iter_changes(CUSTOMERS, page_size=5)))
        assert box.control.token_requests("short") == 2


def test_wrong_secret_and_other_protocol_accounts_are_refused(star_box):
    settings = star_box.settings("star-tekion")
    settings["credentials"] = {**settings["credentials"], "client_secret": "wrong"}
    with connect("tekion", settings) as dms, pytest.raises(AuthenticationError) as caught:
        dms.fetch_one(CUSTOMERS, "C0000001")
    assert "client secret" in caught.value.fix_hint and caught.value.status == 401
    console = star_box.settings("console-cdk")
    as_star = {
        **console,
        "protocol": "star",
        "base_url": console["base_url"] + "/star",
        "credentials": {"client_id": "console-cdk", "client_secret": star_box.api_keys["console-cdk"]},
    }
    with connect("cdk", as_star) as dms, pytest.raises(AuthenticationError):
        dms.fetch_one(CUSTOMERS, "C0000001")


@pytest.mark.parametrize(
    "kind, error",
    [
        ("500", TransientDmsError),
        ("503", TransientDmsError),
        ("429", TransientDmsError),
        ("malformed", MalformedResponseError),
        ("bad_record", MalformedResponseError),
    ],
)
def test_faults_map_to_error_classes(kind, error, star, star_box):
    dms = star("star-cdk")
    next(iter(dms.iter_changes(CUSTOMERS, page_size=10)))
    star_box.control.inject_fault(kind, account="star-cdk", retry_after=13)
    with pytest.raises(error) as caught:
        next(iter(dms.iter_changes(CUSTOMERS, page_size=10)))
    assert caught.value.fix_hint
    if kind == "429":
        assert caught.value.retry_after == 13 and caught.value.vendor_code == "CDK-RATE-LIMITED"
    if kind in ("500", "503"):
        assert caught.value.status == int(kind)
    if kind == "bad_record":
        assert caught.value.data_type == CUSTOMERS and caught.value.position == 5
        assert caught.value.dms_id and caught.value.dms_id in str(caught.value)
    assert len(next(iter(dms.iter_changes(CUSTOMERS, page_size=10))).records) == 10


def test_hang_past_the_timeout_is_transient(star, star_box):
    dms = star("star-cdk")
    next(iter(dms.iter_changes(CUSTOMERS, page_size=3)))
    star_box.control.inject_fault("hang", account="star-cdk", hang_seconds=1.5)
    with pytest.raises(TransientDmsError):
        next(iter(dms.iter_changes(CUSTOMERS, page_size=3, timeout=0.3)))


def test_retry_after_seconds_or_http_date_and_link_header():
    assert retry_after_seconds("7") == 7.0
    later = datetime.now(UTC) + timedelta(seconds=120)
    assert 100 < retry_after_seconds(http_date(later, usegmt=True)) <= 120
    assert retry_after_seconds("not a date") is None and retry_after_seconds(None) is None
    assert (
        _link_next('<https://x/a?page_token=abc>; rel="next", <https://x/a>; rel="self"')
        == "https://x/a?page_token=abc"
    )
    assert _link_next('<https://x/a>; rel="self"') is None


def test_every_resource_has_a_kebab_case_path():
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", path) for path, _ in RESOURCES.values())


def test_schema_checks_have_teeth():
    with pytest.raises(jsonschema.ValidationError):
        validate_component("customer", "Customer", {"party_references": "not a list"})
    with pytest.raises(jsonschema.ValidationError):
        validate_component("service_appointment", "ServiceAppointment", {"appointment_status_type": "SCHEDULED"})
    with pytest.raises(jsonschema.ValidationError):
        validate_component("customer", "ErrorDetail", {"type": "about:blank", "status": 500})
    with pytest.raises(jsonschema.ValidationError):  # the collection envelope of the document
        check_exchange("GET", "/customers", None, 200, b'{"data": {"customer_key": "C1"}}')
    assert check_exchange("GET", "/customers", None, 200, b'{"data": [], "has_more": false}') == "customer GET 200"
