"""The sandbox's Dealertrack OpenTrack front end: SOAP 1.1 ``ProcessMessage`` at ``/opentrack``.

Each request is one envelope (WS-Security UsernameToken = account code + password; the
``Dealer`` element's ``CompanyNumber`` must be the same account). The request element
names the operation; the work is done by :class:`~connectors.sandbox.operations.Operations`
and the answer rendered from the stored canonical bodies with plain string functions
(:mod:`connectors.opentrack_records`). Errors: an ``Error`` element (``Code`` = our catalogue
code such as ``DT-LOCKED``, ``Message``) inside the response element, HTTP 200, as
OpenTrack does; authentication failures, server errors, 503 and 429 are SOAP Faults.
"""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from .. import opentrack_records as otr
from .. import opentrack_xml as ox
from ..vendors import VendorProfile, get_profile
from .operations import Problem, fingerprint, vendor_code

_AUTH_CODES = ("AUTH-FAILED", "TOKEN-EXPIRED")


def _send_fault(
    handler: Any, status: int, faultcode: str, message: str, code: str = "", headers: dict[str, str] | None = None
) -> None:
    """Answer a SOAP 1.1 Fault (our catalogue code in ``detail/Error/Code``)."""
    handler.send(status, ox.fault_envelope(faultcode, message, code), "text/xml; charset=utf-8", headers)


def _send_answer(handler: Any, response_element: str, inner: str) -> None:
    """Answer HTTP 200 with ``inner`` wrapped in the response element and the envelope."""
    handler.send(
        200,
        ox.response_envelope(f"<{response_element}>{inner}</{response_element}>", response_element),
        "text/xml; charset=utf-8",
    )


def route(handler: Any, method: str, parts: list[str], query: dict[str, str]) -> None:
    """Serve one OpenTrack SOAP request (POST ``/opentrack`` or ``/opentrack/webservice.asmx``)."""
    if method != "POST" or parts not in ([], ["webservice.asmx"], ["WebService.asmx"]):
        return _send_fault(
            handler, 405 if method != "POST" else 404, "soap:Client", "POST a SOAP envelope to /opentrack"
        )
    try:
        root = ox.parse_xml(handler.raw_body)
        fault, request = ox.open_envelope(root, response=False)
        if request is None:
            raise ox.XmlRefused("a request cannot be a Fault")
    except ox.XmlRefused as error:
        return _send_fault(handler, 500, "soap:Client", f"unreadable request: {error}")
    header = root.find(f"{{{ox.SOAP_NS}}}Header")
    token = header.find(f".//{{{ox.WSSE_NS}}}UsernameToken") if header is not None else None
    username = password = ""
    if token is not None:
        username = (token.findtext(f"{{{ox.WSSE_NS}}}Username") or "").strip()
        password = token.findtext(f"{{{ox.WSSE_NS}}}Password") or ""
    dealer = ox.children(ox.find(request, "Dealer")) if ox.find(request, "Dealer") is not None else {}
    ops = handler.state.ops
    known = handler.state.store.account(username)
    profile = get_profile(known["vendor"]) if known else None
    account = ops.check_secret(username, password)
    if (
        account is None
        or account["settings"].get("protocol") != "opentrack"
        or dealer.get("CompanyNumber") != account["code"]
        or not dealer.get("EnterpriseCode")
    ):
        code = vendor_code(Problem(401, "AUTH-FAILED", ""), profile)
        return _send_fault(
            handler,
            500,
            "wsse:FailedAuthentication",
            "The security token could not be authenticated or authorized",
            code,
        )
    operation = ox.local(request.tag)
    response_element = _RESPONSE.get(operation, operation + "Response")
    try:
        headers, fault = ops.admit(account)
        handler.extra_headers.update(headers)
        if fault is not None and fault["kind"] == "malformed":
            body = ox.response_envelope(
                f"<{response_element}><CustomerSearchResult><CustomerNumber>C00", response_element
            )
            return handler.send(
                200, body[: len(body) // 2], "text/xml; charset=utf-8", {"X-Injected-Fault": "malformed"}
            )
        bad_record = fault is not None and fault["kind"] == "bad_record"
        inner = _dispatch(handler, account, profile, operation, request, bad_record)
    except Problem as problem:
        code = vendor_code(problem, profile)
        suffix = problem.code
        if suffix in _AUTH_CODES or problem.status == 401:
            return _send_fault(handler, 500, "wsse:FailedAuthentication", problem.detail, code)
        if problem.status in (429, 500, 503):
            return _send_fault(handler, problem.status, "soap:Server", problem.detail, code, problem.headers)
        return _send_answer(
            handler, response_element, f"<Error>{ox.el('Code', code)}{ox.el('Message', problem.detail)}</Error>"
        )
    return _send_answer(handler, response_element, inner)


_RESPONSE = {
    "ServiceLaborOpcodesTableRequest": "ServiceLaborOpcodesTable",
    "ServiceWritersTableRequest": "ServiceWritersTable",
    "PartsTransactions": "PartsTransactionsResponse",
}
_FEED_BY_REQUEST = {feed.request: (data_type, feed) for data_type, feed in otr.FEEDS.items()}


def _parms(request: etree._Element, name: str | None) -> dict[str, str]:
    node = ox.find(request, name) if name else None
    return ox.children(node) if node is not None else ox.children(request)


def _dispatch(
    handler: Any,
    account: dict[str, Any],
    profile: VendorProfile,
    operation: str,
    request: etree._Element,
    bad_record: bool,
) -> str:
    """Run one operation; returns the inner XML of the response element."""
    ops = handler.state.ops
    company = account["code"]
    if operation in _FEED_BY_REQUEST:
        data_type, feed = _FEED_BY_REQUEST[operation]
        parms = _parms(request, feed.parms)
        key = parms.get(feed.lookup_key) or ox.children(request).get(feed.lookup_key)
        if key:  # a single-record lookup through the search/lookup operation
            ops.check_pull(profile, data_type)
            return _lookup(ops, account, data_type, key, company)
        if data_type == "customers" and any(parms.get(n) for n in ("LastName", "FirstName", "Phone", "Email")):
            query = " ".join(parms.get(n, "") for n in ("LastName", "FirstName", "Phone", "Email") if parms.get(n))
            limit = int(parms.get("MaxRecords") or 25)
            texts = ops.search_texts(account, "customers", query, limit)
            return "".join(otr.customer_search_result(json.loads(t), company) for t in texts)
        return _feed_page(ops, account, profile, data_type, feed, parms, company, bad_record)
    if operation == "VehicleSearch":
        parms = _parms(request, "SearchParms")
        query = parms.get("VIN") or parms.get("LastSixOfVIN") or parms.get("StockNumber") or parms.get("LicenseNumber")
        if not query:
            return ""
        texts = ops.search_texts(account, "vehicles", query, int(parms.get("MaxRecords") or 25))
        return "".join(otr.vehicle_search_result(json.loads(t), company) for t in texts)
    if operation == "CustomerLookup":
        return _lookup(ops, account, "customers", ox.children(request).get("CustomerNumber", ""), company)
    if operation == "VehicleLookup":
        f = ox.children(request)
        return _lookup(ops, account, "vehicles", f.get("StockNumber") or f.get("VIN", ""), company)
    if operation in ("CustomerAdd", "VehicleAdd", "AppointmentAdd"):
        return _create(handler, account, profile, operation, request)
    if operation in ("CustomerUpdate", "VehicleUpdate", "AppointmentUpdate", "AppointmentDelete"):
        return _update(handler, account, profile, operation, request)
    if operation == "AddRepairOrder":
        f = ox.children(ox.find(request, "RepairOrder") if ox.find(request, "RepairOrder") is not None else request)
        number, _ = ops.reserve_ro_number(account, profile, idempotency_key=f.get("ExternalCrossReferenceKey", ""))
        return (
            ox.el("RepairOrderNumber", number)
            + "<Success><Message>Repair Order successfully created.</Message></Success>"
        )
    if operation == "PaymentAdd":
        node = ox.find(request, "Payment")
        f = ox.children(node) if node is not None else {}
        data = {
            "ro_number": f.get("RepairOrderNumber"),
            "amount": f.get("Amount"),
            "method": f.get("PaymentMethod"),
            "payer": f.get("Payer"),
            "received_at": f.get("ReceivedDateTime") or None,
        }
        _, body, _ = ops.export_payment(
            account,
            profile,
            data,
            idempotency_key=f.get("ExternalCrossReferenceKey", ""),
            request_hash=fingerprint("PaymentAdd", data),
        )
        return (
            "<Success><Message>Payment successfully added.</Message>"
            + ox.el("ReceiptNumber", body["dms_id"])
            + "</Success>"
            + otr.payment_element(body)
        )
    raise Problem(400, "BAD-REQUEST", f"unknown OpenTrack operation {operation}")


def _lookup(ops: Any, account: dict[str, Any], data_type: str, key: str, company: str) -> str:
    """One record rendered for a lookup answer (``NOT-FOUND`` Error when absent)."""
    body = ops.get(account, data_type, key)
    return otr.LOOKUP_RENDERERS[data_type](body, company)


def _feed_page(
    ops: Any,
    account: dict[str, Any],
    profile: VendorProfile,
    data_type: str,
    feed: otr.Feed,
    parms: dict[str, str],
    company: str,
    bad_record: bool,
) -> str:
    """One page of changes, oldest change first: records + ``DataToken`` + ``MoreData``."""
    since = parms.get(feed.since) or parms.get("UpdatedDateTimeStart") or None
    token = parms.get("DataToken") or None
    try:
        limit = int(parms.get("MaxRecords") or 500)
    except ValueError:
        raise Problem(400, "BAD-REQUEST", "MaxRecords is not a number") from None
    bodies, next_token, has_more = ops.changes(
        account, profile, data_type, cursor=token, modified_since=since, limit=limit, bad_record=bad_record
    )
    render = otr.RENDERERS[data_type]
    records = "".join(render(body, company) for body in bodies)
    head = ox.el("DataToken", next_token)
    more = ox.el("MoreData", otr.yn(has_more))
    # CustomerSearchResponse.xsd lists DataToken first; elsewhere it is our extension, sent last.
    return head + records + more if data_type == "customers" else records + head + more


def _key(node: etree._Element | None) -> str:
    return ox.children(node).get("ExternalCrossReferenceKey", "") if node is not None else ""


def _create(
    handler: Any, account: dict[str, Any], profile: VendorProfile, operation: str, request: etree._Element
) -> str:
    ops = handler.state.ops
    if operation == "CustomerAdd":
        node, data_type = ox.find(request, "Customer"), "customers"
        data = otr.customer_fields_from_wire(node) if node is not None else {}
    elif operation == "VehicleAdd":
        node, data_type = ox.find(request, "Vehicle"), "vehicles"
        data = otr.vehicle_fields_from_wire(node) if node is not None else {}
    else:
        node, data_type = ox.find(request, "Appointment"), "appointments"
        data = otr.appointment_fields_from_wire(node) if node is not None else {}
    for_appointment = otr.flag(ox.children(node).get("ForAppointment")) if node is not None else False
    _, body, _ = ops.create(
        account,
        profile,
        data_type,
        data,
        idempotency_key=_key(node),
        request_hash=fingerprint(operation, data),
        for_appointment=for_appointment,
    )
    number = {"customers": "CustomerNumber", "vehicles": "StockNumber", "appointments": "AppointmentNumber"}[data_type]
    noun = {"customers": "Customer", "vehicles": "Vehicle", "appointments": "Appointment"}[data_type]
    return f"<Success><Message>{noun} successfully added.</Message>{ox.el(number, body['dms_id'])}</Success>"


def _update(
    handler: Any, account: dict[str, Any], profile: VendorProfile, operation: str, request: etree._Element
) -> str:
    ops = handler.state.ops
    if operation == "AppointmentDelete":
        f = ox.children(request)
        ops.update(
            account,
            profile,
            "appointments",
            f.get("AppointmentNumber", ""),
            {},
            if_match=f.get("RecordVersion") or None,
            cancel=True,
        )
        return "<Success><Message>Appointment successfully deleted.</Message></Success>"
    name, data_type, key, reader = {
        "CustomerUpdate": ("Customer", "customers", "CustomerNumber", otr.customer_fields_from_wire),
        "VehicleUpdate": ("Vehicle", "vehicles", "StockNumber", otr.vehicle_fields_from_wire),
        "AppointmentUpdate": ("Appointment", "appointments", "AppointmentNumber", otr.appointment_fields_from_wire),
    }[operation]
    node = ox.find(request, name)
    if node is None:
        raise Problem(400, "BAD-REQUEST", f"{operation} has no {name} element")
    f = ox.children(node)
    data = reader(node)
    data.pop("dms_id", None)
    ops.update(
        account,
        profile,
        data_type,
        f.get(key, ""),
        data,
        if_match=f.get("RecordVersion") or None,
        for_appointment=otr.flag(f.get("ForAppointment")),
    )
    return f"<Success><Message>{name} successfully updated.</Message></Success>"
