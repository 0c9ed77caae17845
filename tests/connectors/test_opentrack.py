"""Dealertrack OpenTrack (SOAP 1.1): golden samples, XML safety, envelope shapes, faults and writes.

Real sample responses and the inferred XSDs are vendored under ``tests/schemas/opentrack``
(MIT, see LICENSE.md and SOURCE_COMMIT there). Sandbox answers are validated against the
XSDs after removing the elements a schema does not declare (our documented extensions:
``LastModified``, ``RecordVersion``, ``DataToken``/``MoreData`` ...); the removed names must
all be in :data:`connectors.opentrack_records.EXTENSIONS`.
"""

from __future__ import annotations

import copy
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from lxml import etree

from connectors import (
    APPOINTMENTS,
    CUSTOMERS,
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
from connectors import opentrack_records as otr
from connectors import opentrack_xml as ox
from connectors.base import record_from_dict
from connectors.opentrack import OpenTrackConnector
from tests.waiting import wait_for

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "opentrack"
XS = "{http://www.w3.org/2001/XMLSchema}"
CODE = "write-dealertrack"


def key() -> str:
    """A fresh idempotency key."""
    return str(uuid.uuid4())


def sample(name: str) -> etree._Element:
    """A vendored real sample response, parsed with the adapter's hardened parser."""
    return ox.parse_xml((SCHEMAS / name).read_bytes())


def payload(body: bytes) -> etree._Element:
    """The response element inside a SOAP answer."""
    fault, element = ox.open_envelope(ox.parse_xml(body), response=True)
    assert fault is None
    return element


def assert_valid(xsd_name: str, element: etree._Element) -> None:
    """Validate ``element`` against a vendored XSD, after removing elements it does not declare."""
    xsd = etree.parse(str(SCHEMAS / xsd_name))
    declared = {node.get("name") for node in xsd.iter(f"{XS}element")}
    element = copy.deepcopy(element)
    removed = set()
    for node in list(element.iter()):
        if isinstance(node.tag, str) and ox.local(node.tag) not in declared and node.getparent() is not None:
            removed.add(ox.local(node.tag))
            node.getparent().remove(node)
    assert removed <= otr.EXTENSIONS, f"undeclared elements that are not extensions: {removed - otr.EXTENSIONS}"
    schema = etree.XMLSchema(xsd)
    assert schema.validate(element), f"{xsd_name}: {schema.error_log}"


def wsdl_schema() -> etree.XMLSchema:
    """The STAR transport schema embedded in the WSDL (``content``'s xs:any read laxly)."""
    wsdl = etree.parse(str(SCHEMAS / "webservice.wsdl"))
    embedded = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/}types/" + XS + "schema")
    # a stand-alone copy: the QName prefixes (s0:, s:) are declared on wsdl:definitions
    schema = etree.Element(f"{XS}schema", dict(embedded.attrib), nsmap={"s": XS[1:-1], "s0": ox.TRAN_NS})
    schema.extend(copy.deepcopy(child) for child in embedded)
    for any_node in schema.iter(f"{XS}any"):
        any_node.set("processContents", "lax")
    return etree.XMLSchema(etree.ElementTree(schema))


def assert_request_shape(body: bytes, operation: str, account: str) -> None:
    """A request envelope as the WSDL and OpenTrackAPI.cs describe it."""
    root = ox.parse_xml(body)
    assert root.tag == f"{{{ox.SOAP_NS}}}Envelope"
    header, soap_body = root.find(f"{{{ox.SOAP_NS}}}Header"), root.find(f"{{{ox.SOAP_NS}}}Body")
    token = header.find(f"{{{ox.WSSE_NS}}}Security/{{{ox.WSSE_NS}}}UsernameToken")
    assert token.findtext(f"{{{ox.WSSE_NS}}}Username") == account
    assert token.find(f"{{{ox.WSSE_NS}}}Password").get("Type").endswith("#PasswordText")
    manifest = header.find(f"{{{ox.TRAN_NS}}}PayloadManifest/{{{ox.TRAN_NS}}}manifest")
    process = soap_body.find(f"{{{ox.TRAN_NS}}}ProcessMessage")
    schema = wsdl_schema()
    assert schema.validate(process), schema.error_log
    assert schema.validate(header.find(f"{{{ox.TRAN_NS}}}PayloadManifest")), schema.error_log
    content = process.find(f"{{{ox.TRAN_NS}}}payload/{{{ox.TRAN_NS}}}content")
    assert manifest.get("contentID") == content.get("id") and manifest.get("element") == operation
    request = content[0]
    assert request.tag == operation  # no namespace, as the library sends it
    dealer = ox.children(request[0])
    assert ox.local(request[0].tag) == "Dealer"
    assert dealer["CompanyNumber"] == account and dealer["EnterpriseCode"] == "ZE" and dealer["ServerName"]


# --------------------------------------------------------------------------- golden: real samples


def test_real_customer_lookup_sample_maps_to_the_canonical_customer():
    data_type, data = otr.read_record(sample("CustomerLookupResponse.xml")[0])
    customer = record_from_dict(data_type, data)
    assert data_type == CUSTOMERS and customer.dms_id == "1000171"
    assert (customer.first_name, customer.last_name) == ("PAUL", "SHIER")  # the DMS's upper case is kept
    assert customer.kind == "person" and customer.company_name == ""
    assert customer.phones == ("4075558899",)  # BusinessPhone/CellPhone/... "0" mean "none"
    assert customer.emails == ()
    assert (customer.address_line1, customer.city, customer.state) == ("5629 STRAND BLVD", "NAPLES", "FL")
    assert customer.postal_code == "34110"  # 9-digit 341100000
    assert customer.modified_at.isoformat() == "2012-07-16T00:00:00+00:00"  # LastChangeDate, compact


def test_real_vehicle_lookup_sample_maps_to_the_canonical_vehicle():
    data_type, data = otr.read_record(sample("VehicleLookupResponse.xml")[0])
    assert data_type == VEHICLES and data["modified_at"] is None  # the sample carries no change time
    vehicle = record_from_dict(data_type, {**data, "modified_at": "2020-01-01T00:00:00Z"})
    assert (vehicle.dms_id, vehicle.vin) == ("1234", "JF1GD67656G511824")
    assert (vehicle.year, vehicle.make, vehicle.model) == (2006, "SUBARU", "IMPREZA")
    assert vehicle.mileage == 4 and vehicle.engine == "540927"
    assert vehicle.owner_dms_id is None  # CustomerKey 0
    assert vehicle.plate == ""


def test_real_closed_repair_order_sample_maps_lines_and_pay_types():
    root = sample("ClosedRepairOrderLookupResponse.xml")
    records = [record_from_dict(*otr.read_record(node)) for node in root]
    assert len(records) == 57
    ro = records[0]
    assert (ro.dms_id, ro.ro_number, ro.status) == ("36001544", "36001544", "closed")
    assert ro.opened_at.date().isoformat() == "2013-06-18" and ro.closed_at.date().isoformat() == "2013-08-07"
    assert ro.advisor_dms_id == "666" and ro.customer_dms_id is None and ro.mileage_in == 65473
    first = ro.lines[0]
    assert (first.line_number, first.opcode, first.pay_type) == (1, "GC", "internal")
    # the "A" labor row counts; the technician's "L" row repeats it and is not added again
    assert (first.labor_hours, first.labor_amount, first.parts_amount) == (
        Decimal("0.8"),
        Decimal("65"),
        Decimal("291.2"),
    )
    assert [line.opcode for line in ro.lines[:4]] == ["GC", "SI", "OF", "NITRO"]


def test_real_opcode_table_and_parts_transaction_samples():
    records = [otr.read_record(node)[1] for node in sample("ServiceLaborOpcodesTable.xml")]
    first = record_from_dict("opcodes", {**records[0], "modified_at": "2020-01-01T00:00:00Z"})
    assert (first.dms_id, first.description, first.labor_hours) == ("LABOR10", "LABOR10", Decimal("5"))
    assert first.default_pay_type == "customer" and first.active  # DefLinePaymentMethod CP
    assert records[1]["dms_id"] == "LABOR1" and records[1]["description"] == "LABOR OP 1"
    _, part = otr.read_record(sample("PartsTransactionRequestResponse.xml"))
    invoice = record_from_dict("parts_invoices", {**part, "modified_at": "2020-01-01T00:00:00Z"})
    assert invoice.invoice_number == "6007778" and invoice.customer_dms_id == "1070078"  # padding trimmed
    assert invoice.lines[0].part_number == "9655" and invoice.lines[0].unit_price == Decimal("8.65")


def test_real_samples_validate_against_their_own_xsds_except_the_documented_one():
    for name in (
        "CustomerLookupResponse",
        "VehicleLookupResponse",
        "ServiceLaborOpcodesTable",
        "ServiceWritersTable",
        "CustomerAddResponse",
        "AppointmentDeleteResponse",
    ):
        schema = etree.XMLSchema(etree.parse(str(SCHEMAS / f"{name}.xsd")))
        assert schema.validate(sample(f"{name}.xml")), name
    # specs/README.md: this real response fails its own inferred schema; we read it anyway
    schema = etree.XMLSchema(etree.parse(str(SCHEMAS / "AppointmentAddResponse.xsd")))
    assert not schema.validate(sample("AppointmentAddResponse.xml"))


# --------------------------------------------------------------------------- stubbed transport


def stub(connector: OpenTrackConnector, reply) -> list[httpx.Request]:
    """Route the connector's HTTP through ``reply(request) -> httpx.Response``; returns the requests seen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply(request)

    connector.client.close()
    connector.client = httpx.Client(transport=httpx.MockTransport(handler))
    return seen


def stub_connector(sandbox) -> OpenTrackConnector:
    """A Dealertrack connector (its HTTP stubbed by the caller)."""
    return connect("dealertrack", sandbox.settings(CODE))


def answer(inner: bytes | str, element: str, status: int = 200) -> httpx.Response:
    """A SOAP answer wrapping ``inner`` (bytes of a real sample, or XML text)."""
    text = inner.decode("utf-8-sig") if isinstance(inner, bytes) else inner
    return httpx.Response(status, content=ox.response_envelope(text, element))


def test_real_add_answers_give_the_new_numbers_and_real_errors_map(sandbox):
    dms = stub_connector(sandbox)
    for name, element, field, expected in (
        ("CustomerAddResponse.xml", "CustomerAddResponse", "CustomerNumber", "123456789"),
        ("AppointmentAddResponse.xml", "AppointmentAddResponse", "AppointmentNumber", "1387"),
    ):
        stub(dms, lambda request, n=name, e=element: answer((SCHEMAS / n).read_bytes(), e))
        assert dms._success_key(dms.call(element[:-8], ""), field, element) == expected
    # AddRepairOrder: the real answer has the RO number, Success, and a Failure for its lines: the number counts
    real = (SCHEMAS / "AddRepairOrderResponse.xml").read_bytes()
    stub(dms, lambda request: answer(real, "AddRepairOrderResponse"))
    assert dms.reserve_ro_number(key()) == "7080706"
    # without Success it is a refusal: a validation error carrying Dealertrack's own code
    refused = real.replace(b"<RepairOrderNumber>7080706</RepairOrderNumber>", b"").replace(
        b"<Success>\n    <Message>Repair Order successfully created.</Message>\n  </Success>", b""
    )
    assert b"Success" not in refused
    stub(dms, lambda request: answer(refused, "AddRepairOrderResponse"))
    with pytest.raises(DmsValidationError) as caught:
        dms.reserve_ro_number(key())
    assert caught.value.vendor_code == "RO27" and "ServiceWriterID" in caught.value.message
    dms.close()


def test_request_envelope_and_soap_action(sandbox):
    dms = stub_connector(sandbox)
    seen = stub(
        dms,
        lambda request: answer(
            "<CustomerSearchResponse><MoreData>N</MoreData></CustomerSearchResponse>", "CustomerSearchResponse"
        ),
    )
    assert list(dms.iter_changes(CUSTOMERS))[0].records == ()
    request = seen[0]
    assert request.headers["SOAPAction"].strip('"') == ox.SOAP_ACTION
    assert request.headers["Content-Type"].startswith("text/xml")
    assert_request_shape(request.content, "CustomerSearch", CODE)
    dms.close()


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&lol3;</soap:Body></soap:Envelope>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&xxe;</soap:Body></soap:Envelope>"""
GOOD = ox.response_envelope(
    "<CustomerSearchResponse><DataToken>x</DataToken></CustomerSearchResponse>", "CustomerSearchResponse"
)


@pytest.mark.parametrize(
    "body, words",
    [
        (BOMB, "DTD"),
        (XXE, "DTD"),
        (b"<soap:Envelope", "not well-formed"),
        (GOOD[: len(GOOD) // 2], "not well-formed"),
        (b"", "empty"),
        (b'{"items": []}', "not well-formed"),
        (GOOD.replace(ox.SOAP_NS.encode(), b"http://www.w3.org/2003/05/soap-envelope"), "SOAP 1.1"),
        (GOOD.replace(ox.TRAN_NS.encode(), b"urn:wrong"), "STAR transport namespace"),
    ],
)
def test_hostile_or_broken_xml_is_a_malformed_response(sandbox, body, words):
    dms = stub_connector(sandbox)
    stub(dms, lambda request: httpx.Response(200, content=body))
    started = time.perf_counter()
    with pytest.raises(MalformedResponseError) as caught:
        next(iter(dms.iter_changes(CUSTOMERS)))
    assert words in caught.value.message and caught.value.data_type == CUSTOMERS and caught.value.fix_hint
    assert time.perf_counter() - started < 1.0
    dms.close()


def test_parser_never_expands_entities_even_without_the_doctype_guard():
    parser = ox._PARSER
    root = etree.fromstring(XXE, parser)
    assert "root:" not in etree.tostring(root, encoding="unicode")


def test_unknown_elements_any_order_and_missing_elements_are_tolerated(sandbox):
    dms = stub_connector(sandbox)
    record = (
        "<CustomerSearchResult><Surprise><Deep>1</Deep></Surprise><LastModified>2024-01-02T03:04:05Z"
        "</LastModified><ZipCode>123456789</ZipCode><CustomerNumber>77</CustomerNumber></CustomerSearchResult>"
    )
    stub(
        dms,
        lambda request: answer(
            f"<CustomerSearchResponse><MoreData>N</MoreData>{record}<DataToken>t1</DataToken></CustomerSearchResponse>",
            "CustomerSearchResponse",
        ),
    )
    page = next(iter(dms.iter_changes(CUSTOMERS)))
    customer = page.records[0]
    assert customer.dms_id == "77" and customer.postal_code == "12345-6789" and customer.first_name == ""
    assert page.next_cursor == "t1" and not page.has_more
    dms.close()


# --------------------------------------------------------------------------- against the sandbox


@pytest.mark.parametrize(
    "data_type, xsd",
    [
        (CUSTOMERS, "CustomerSearchResponse.xsd"),
        (VEHICLES, "VehicleInventoryResponse.xsd"),
        (APPOINTMENTS, "AppointmentLookupResponse.xsd"),
        (REPAIR_ORDERS, "OpenRepairOrderLookupResponse.xsd"),
        ("opcodes", "ServiceLaborOpcodesTable.xsd"),
    ],
)
def test_sandbox_pages_validate_against_the_xsds_and_requests_match_the_wsdl(data_type, xsd, connector_for):
    dms = connector_for("contract-dealertrack")
    pages = dms.iter_changes(data_type, page_size=7)
    for _ in range(2):
        page = next(pages)
        assert page.records
        assert_valid(xsd, payload(dms.last_response))
        assert_request_shape(dms.last_request, otr.FEEDS[data_type].request, "contract-dealertrack")


def test_sandbox_parts_transactions_validate_per_document(connector_for):
    dms = connector_for("contract-dealertrack")
    page = next(iter(dms.iter_changes("parts_invoices", page_size=5)))
    documents = payload(dms.last_response).findall("PartTransaction")
    assert len(documents) == len(page.records) == 5
    for document in documents:
        assert_valid("PartsTransactionRequestResponse.xsd", document)


def test_sandbox_lookups_and_searches_validate(connector_for):
    dms = connector_for("contract-dealertrack")
    customer = dms.fetch_one(CUSTOMERS, "C0000001")
    assert_valid("CustomerLookupResponse.xsd", payload(dms.last_response))
    assert_request_shape(dms.last_request, "CustomerLookup", "contract-dealertrack")
    vehicle = dms.fetch_one(VEHICLES, "V0000001")
    assert_valid("VehicleLookupResponse.xsd", payload(dms.last_response))
    found = dms.search_vehicles(vehicle.vin)
    assert_valid("VehicleSearchResponse.xsd", payload(dms.last_response))
    assert [v.dms_id for v in found] == ["V0000001"] and found[0].plate == vehicle.plate
    assert "C0000001" in {c.dms_id for c in dms.search_customers(customer.last_name, limit=200)}
    assert_valid("CustomerSearchResponse.xsd", payload(dms.last_response))
    assert dms.fetch_one(CUSTOMERS, "C9999999") is None


def test_sandbox_records_equal_what_the_dms_stores(sandbox, connector_for):
    dms = connector_for("contract-dealertrack")
    for data_type, dms_id in (
        (CUSTOMERS, "C0000002"),
        (VEHICLES, "V0000003"),
        (APPOINTMENTS, "A0000002"),
        (REPAIR_ORDERS, "100001"),
        ("parts_invoices", "PI0000001"),
        ("opcodes", "LOF"),
    ):
        stored = sandbox.control.get_record("contract-dealertrack", data_type, dms_id)
        record = dms.fetch_one(data_type, dms_id)
        assert record.etag == stored["etag"] and record.modified_at == record_from_dict(data_type, stored).modified_at
        assert isinstance(record.raw, str) and record.raw.startswith("<")
        if data_type == CUSTOMERS:  # OpenTrack keeps phone digits only; everything else round-trips
            assert list(record.phones) == [otr.phone_to_wire(p) for p in stored["phones"]]
            stored = {**stored, "phones": list(record.phones)}
        if data_type == APPOINTMENTS:  # AppointmentDateTime is YYYYMMDDHHMM
            assert record.scheduled_at == record_from_dict(data_type, stored).scheduled_at
        expected = record_from_dict(data_type, stored).to_dict()
        got = record.to_dict()
        got.pop("raw", None), expected.pop("raw", None)
        assert got == expected, data_type


# --------------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    "kind, error",
    [
        ("500", TransientDmsError),
        ("503", TransientDmsError),
        ("429", TransientDmsError),
        ("malformed", MalformedResponseError),
        ("bad_record", MalformedResponseError),
        ("expired_token", AuthenticationError),
    ],
)
def test_every_injected_fault_maps(kind, error, sandbox, connector_for):
    dms = connector_for(CODE)
    next(iter(dms.iter_changes(CUSTOMERS, page_size=10)))
    sandbox.control.inject_fault(kind, account=CODE, retry_after=9)
    with pytest.raises(error) as caught:
        next(iter(dms.iter_changes(CUSTOMERS, page_size=10)))
    assert caught.value.fix_hint
    if kind == "429":
        assert caught.value.retry_after == 9 and caught.value.status == 429
    if kind in ("500", "503"):
        assert caught.value.status == int(kind) and caught.value.vendor_code == "DT-SERVER-ERROR"
    if kind == "expired_token":
        assert caught.value.vendor_code == "DT-TOKEN-EXPIRED"
        assert "OpenTrack user and password under Admin → Locations" in caught.value.fix_hint
    if kind == "bad_record":
        assert caught.value.position == 5 and caught.value.dms_id and "LastModified" in caught.value.message
    if kind == "malformed":
        assert "not well-formed" in caught.value.message
    assert len(next(iter(dms.iter_changes(CUSTOMERS, page_size=10))).records) == 10


def test_hang_is_transient_and_wrong_password_is_authentication(sandbox, connector_for):
    dms = connector_for(CODE)
    sandbox.control.inject_fault("hang", account=CODE, hang_seconds=1.0)
    with pytest.raises(TransientDmsError):
        next(iter(dms.iter_changes(CUSTOMERS, page_size=10, timeout=0.3)))
    settings = sandbox.settings(CODE)
    for wrong in ({"password": "nope"}, {"username": "contract-dealertrack"}):
        bad = {**settings, "credentials": {**settings["credentials"], **wrong}}
        with connect("dealertrack", bad) as other, pytest.raises(AuthenticationError) as caught:
            other.fetch_one(CUSTOMERS, "C0000001")
        assert caught.value.vendor_code == "DT-AUTH-FAILED" and "Admin → Locations" in caught.value.fix_hint


def test_an_account_of_another_protocol_is_refused_like_bad_credentials(sandbox):
    settings = sandbox.settings(CODE)
    settings["credentials"] = {**settings["credentials"], "username": "write-cdk", "password": "sandbox-key-write-cdk"}
    with connect("dealertrack", {**settings, "account": "write-cdk"}) as dms, pytest.raises(AuthenticationError):
        dms.fetch_one(CUSTOMERS, "C0000001")


# --------------------------------------------------------------------------- writes

NEW = {
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


def test_a_create_retried_after_a_lost_answer_yields_one_record(sandbox, connector_for):
    dms = connector_for(CODE)
    before = sandbox.control.count_created(CODE).get(CUSTOMERS, 0)
    same = key()
    sandbox.control.inject_fault("hang", account=CODE, hang_seconds=0.8)  # the DMS works on, the answer is lost
    with pytest.raises(TransientDmsError):
        dms.create_customer(NEW, same, timeout=0.2)
    wait_for(lambda: sandbox.control.count_created(CODE).get(CUSTOMERS, 0) == before + 1, what="the held create")
    created = dms.create_customer(NEW, same)  # the retry, with the same key in ExternalCrossReferenceKey
    assert sandbox.control.count_created(CODE)[CUSTOMERS] == before + 1
    assert created.last_name == "Lovelace" and created.phones == ("5550100199",) and created.postal_code == "78701"
    with pytest.raises(DmsValidationError) as caught:
        dms.create_customer({**NEW, "last_name": "Byron"}, same)
    assert caught.value.vendor_code == "DT-IDEMPOTENCY-MISMATCH"


def test_create_request_carries_the_key_and_validates_as_an_envelope(sandbox, connector_for):
    dms = connector_for(CODE)
    same = key()
    dms.create_customer(NEW, same)
    # the last request is the read-back lookup; rebuild the create exactly as sent to check its shape
    sent = []
    original = dms.client.post

    def spy(url, content, **kwargs):
        sent.append(content)
        return original(url, content=content, **kwargs)

    dms.client.post = spy
    dms.create_customer(NEW, same)
    assert_request_shape(sent[0], "CustomerAdd", CODE)
    request = ox.open_envelope(ox.parse_xml(sent[0]), False)[1]
    assert ox.find(ox.find(request, "Customer"), "ExternalCrossReferenceKey").text == same


def test_update_with_a_stale_version_is_a_conflict_and_writable_fields_are_checked(sandbox, connector_for):
    dms = connector_for(CODE)
    customer = dms.fetch_one(CUSTOMERS, "C0000011")
    sandbox.control.edit_record(CODE, CUSTOMERS, "C0000011", {"first_name": "STAFF"})
    with pytest.raises(ConflictError) as caught:
        dms.update_customer("C0000011", {"city": "TAMPA"}, etag=customer.etag)
    assert caught.value.status == 412 and not caught.value.locked
    fresh = dms.fetch_one(CUSTOMERS, "C0000011")
    updated = dms.update_customer("C0000011", {"city": "TAMPA", "phones": ["407 555 8899"]}, etag=fresh.etag)
    assert updated.city == "TAMPA" and updated.first_name == "STAFF" and updated.phones == ("4075558899",)
    with pytest.raises(NotSupportedError):
        dms.update_vehicle("V0000001", {"plate": "X"}, etag=None)  # vehicles only with an appointment
    vehicle = dms.fetch_one(VEHICLES, "V0000001")
    moved = dms.update_vehicle("V0000001", {"mileage": 99999, "plate": "NEW1"}, etag=vehicle.etag, for_appointment=True)
    assert (moved.mileage, moved.plate) == (99999, "NEW1")
    made = dms.create_vehicle(
        {"vin": "1FTFW1E50PFA00001", "year": 2023, "make": "FORD", "model": "F-150", "owner_dms_id": "C0000011"},
        key(),
        for_appointment=True,
    )
    assert made.vin == "1FTFW1E50PFA00001" and made.owner_dms_id == "C0000011" and made.year == 2023


def test_appointments_add_update_locked_and_delete(sandbox, connector_for):
    dms = connector_for(CODE)
    fields = {
        "customer_dms_id": "C0000001",
        "vehicle_dms_id": "V0000001",
        "advisor_dms_id": "ADV02",
        "scheduled_at": "2026-12-01T15:30:00Z",
        "opcodes": ["LOF", "ROT"],
        "notes": "Noise at 40 mph",
    }
    same = key()
    created = dms.create_appointment(fields, same)
    assert dms.create_appointment(fields, same).dms_id == created.dms_id
    assert created.opcodes == ("LOF", "ROT") and created.notes == "Noise at 40 mph"
    assert created.scheduled_at.isoformat() == "2026-12-01T15:30:00+00:00" and created.advisor_dms_id == "ADV02"
    moved = dms.update_appointment(created.dms_id, {"scheduled_at": "2026-12-02T09:00:00Z"}, etag=created.etag)
    assert moved.scheduled_at.day == 2
    sandbox.control.lock_appointment(CODE, created.dms_id)
    with pytest.raises(ConflictError) as caught:
        dms.update_appointment(created.dms_id, {"advisor_dms_id": "ADV03"})
    assert caught.value.locked and caught.value.vendor_code == "DT-LOCKED" and caught.value.fix_hint
    sandbox.control.unlock_appointment(CODE, created.dms_id)
    cancelled = dms.cancel_appointment(created.dms_id)
    assert cancelled.status == "cancelled"
    with pytest.raises(DmsValidationError) as caught:
        dms.create_appointment({**fields, "advisor_dms_id": ""}, key())
    assert caught.value.vendor_code == "DT-ADVISOR-MISSING"


def test_ro_number_reservation_and_payment_export_at_dealertrack(sandbox, connector_for):
    dms = connector_for(CODE)
    same = key()
    number = dms.reserve_ro_number(same)
    assert dms.reserve_ro_number(same) == number and dms.reserve_ro_number(key()) != number
    receipt = {"ro_number": "100003", "amount": Decimal("125.50"), "method": "card", "payer": "customer"}
    same = key()
    posted = dms.export_payment(receipt, same)
    assert dms.export_payment(receipt, same).dms_id == posted.dms_id
    assert posted.amount == Decimal("125.50") and posted.status == "posted" and posted.ro_number == "100003"
    assert sandbox.control.count_created(CODE)["payments"] == 1
    with pytest.raises(DmsValidationError) as caught:
        dms.export_payment({"ro_number": "100003", "amount": "0"}, key())
    assert caught.value.vendor_code == "DT-PAYMENT-INVALID" and caught.value.fix_hint
    with pytest.raises(NotSupportedError):
        dms.related_ro_numbers("100003")
    with pytest.raises(NotSupportedError):
        dms.iter_changes("special_orders")
