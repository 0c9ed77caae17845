"""STAR REST: :class:`DmsConnector` for vendors that publish the STAR OpenAPI resources.

The published STAR documents (``customer``, ``service_vehicle``, ``service_appointment``,
``repair_order``, ``labor_operation``; OpenAPI 3.0) define the resources and their field
names; this module maps them to the canonical records both ways:

=====================  ===========================  =========================
canonical data type    STAR resource                path
=====================  ===========================  =========================
customers              Customer                     ``/customers``
vehicles               ServiceVehicle               ``/service-vehicles``
appointments           ServiceAppointment           ``/service-appointments``
repair_orders          RepairOrder                  ``/repair-orders``
opcodes                LaborOperation               ``/labor-operations``
parts_invoices         (not published)             ``/parts-invoices``
special_orders         (not published)             ``/special-orders``
payments               (not published)             ``/payments``
=====================  ===========================  =========================

Where the documents are silent the STAR API guideline style is followed (and written
down in the README): OAuth2 client-credentials tokens at ``POST {base}/oauth2/token``;
collections ``{"data": [...], "has_more"}`` ordered by the DMS's change sequence, the
next page given by an RFC 8288 ``Link: <...>; rel="next"`` header carrying an opaque
``page_token`` (offsets could skip rows edited during a read); ``filter=updated_since:<ISO>``
for modified-since reads (inclusive); every record carries the extension properties
``last_updated_date_time`` and ``etag``; ETag/If-Match on ``PUT`` replacements,
``Idempotency-Key`` on creates, ``POST .../{key}:cancel`` to cancel an appointment, and
errors as RFC 7807 problem details (``application/problem+json``) that also satisfy the
documents' ``ErrorDetail`` schema (``code`` is the vendor's error code).

The mapping functions (:func:`to_star`, :func:`from_star`) are plain functions over dicts
so the sandbox's STAR front end renders pages with them cheaply.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from .adapter import ProtocolConnector
from .base import (APPOINTMENTS, CUSTOMERS, OPCODES, PARTS_INVOICES, PAYMENTS, REPAIR_ORDERS, SPECIAL_ORDERS,
                   VEHICLES, Appointment, AuthenticationError, CredentialField, DmsRecord, MalformedResponseError,
                   Page, Payment, TransientDmsError, format_datetime, json_ready, record_from_dict)
from .http import HttpTransport, loads_exact, retry_after_seconds
from .vendors import VendorProfile

#: canonical data type -> (STAR resource path, key property, resource label)
RESOURCES: dict[str, tuple[str, str]] = {
    CUSTOMERS: ("customers", "customer_key"),
    VEHICLES: ("service-vehicles", "service_vehicle_key"),
    APPOINTMENTS: ("service-appointments", "service_appointment_key"),
    REPAIR_ORDERS: ("repair-orders", "repair_order_key"),
    OPCODES: ("labor-operations", "labor_operation_key"),
    PARTS_INVOICES: ("parts-invoices", "parts_invoice_key"),
    SPECIAL_ORDERS: ("special-orders", "special_order_key"),
    PAYMENTS: ("payments", "payment_key"),
}
#: STAR resource path -> canonical data type
DATA_TYPE_OF_PATH = {path: data_type for data_type, (path, _) in RESOURCES.items()}
#: The extension properties every record carries (the documents have no change time or ETag per record).
MODIFIED = "last_updated_date_time"
ETAG = "etag"

PAY_TYPE_TO_STAR = {"customer": "CUSTOMER_PAY", "warranty": "WARRANTY", "internal": "INTERNAL"}
PAY_TYPE_FROM_STAR = {v: k for k, v in PAY_TYPE_TO_STAR.items()}
APPOINTMENT_STATUS_TO_STAR = {"scheduled": "CONFIRMED", "arrived": "ARRIVED", "completed": "FULFILLED",
                              "cancelled": "CANCELLED"}
APPOINTMENT_STATUS_FROM_STAR = {**{v: k for k, v in APPOINTMENT_STATUS_TO_STAR.items()},
                                "CHECKED_IN": "arrived", "IN_PROGRESS": "arrived", "READY": "arrived",
                                "CLOSED": "completed", "PARTIALLY_FULFILLED": "completed",
                                "NO_SHOW": "cancelled", "NO_SHOW_CONFIRMED": "cancelled", "DECLINED": "cancelled",
                                "REJECTED": "cancelled", "EXPIRED": "cancelled", "FAILED": "cancelled"}
RO_STATUS_TO_STAR = {"open": ("OPEN", "OPEN"), "closed": ("CLOSED", "CLOSED"), "invoiced": ("CLOSED", "INVOICE")}
TOKEN_MARGIN = 30.0


def _s(value: Any) -> str | None:
    """A non-empty string or None (STAR properties are omitted rather than sent empty)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return format_datetime(value)
    return str(value)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` when ``value`` is a non-empty string/collection."""
    if isinstance(value, (list, dict)):
        if value:
            target[key] = value
        return
    text = _s(value)
    if text is not None:
        target[key] = text


def _ident(identifiers: Any, kind: str) -> str | None:
    """The value of the ``identifier_type == kind`` entry of an Identifiers list."""
    for item in identifiers or ():
        if isinstance(item, dict) and item.get("identifier_type") == kind:
            return item.get("value")
    return None


def _first(items: Any) -> dict[str, Any]:
    """The first object of a list (an empty dict when there is none)."""
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return {}


def _int(value: Any) -> int | None:
    """An int from a STAR string, or None."""
    if value is None or value == "":
        return None
    return int(value)


# --------------------------------------------------------------------------- canonical -> STAR

def _customer_to_star(c: Mapping[str, Any]) -> dict[str, Any]:
    # The hot path of every customer page the sandbox serves: plain dict work only.
    get = c.get
    business = get("kind") == "business"
    party: dict[str, Any] = {"party_type": "ORGANIZATION" if business else "PERSON", "org_indicator": business}
    dms_id = get("dms_id")
    if dms_id:
        party["party_key"] = dms_id = str(dms_id)
    first, last = get("first_name"), get("last_name")
    if first or last:
        name = {}
        if first:
            name["given_name"] = first
        if last:
            name["family_name"] = last
        party["individual_name"] = name
    if get("company_name"):
        party["party_name"] = get("company_name")
    address = {star: get(canonical) for canonical, star in _ADDRESS if get(canonical)}
    if address:
        address["address_types"] = ["BUSINESS" if business else "HOME"]
        party["address_references"] = [address]
    phones, emails = get("phones"), get("emails")
    if phones or emails:
        party["communication_channels"] = [{"communication_channel_type": "PHONE", "value": p} for p in phones or ()] \
            + [{"communication_channel_type": "EMAIL", "value": e} for e in emails or ()]
    if dms_id:
        return {"customer_key": dms_id, "customer_id": dms_id, "party_references": [party]}
    return {"party_references": [party]}


_ADDRESS = (("address_line1", "address_line1"), ("address_line2", "address_line2"), ("city", "city"),
            ("state", "state_province"), ("postal_code", "postal_code"), ("country", "country_code"))


def _vehicle_to_star(v: Mapping[str, Any]) -> dict[str, Any]:
    ident: dict[str, Any] = {}
    _put(ident, "vin", v.get("vin"))
    _put(ident, "fleet_vehicle_key", v.get("unit_number"))
    _put(ident, "model_year", v.get("year"))
    _put(ident, "primary_make", v.get("make"))
    _put(ident, "primary_model", v.get("model"))
    license_: dict[str, Any] = {}
    _put(license_, "plate_number", v.get("plate"))
    _put(license_, "jurisdiction_name", v.get("plate_state"))
    _put(ident, "license", license_)
    summary: dict[str, Any] = {}
    _put(summary, "engine", v.get("engine"))
    _put(ident, "vehicle_summary", summary)
    out: dict[str, Any] = {}
    _put(out, "service_vehicle_key", v.get("dms_id"))
    _put(out, "service_vehicle_id", v.get("dms_id"))
    _put(out, "vehicle_identifier", ident)
    if v.get("mileage") not in (None, ""):
        out["odometer"] = {"value": str(v["mileage"]), "codes": [{"code": "MI"}]}
    if v.get("owner_dms_id"):
        out["garage_item_reference"] = {"ownership_status_type": "CURRENT_OWNER", "parties": [
            {"party_key": str(v["owner_dms_id"]), "party_type": "CUSTOMER"}]}
    return out


def _appointment_to_star(a: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "service_appointment_key", a.get("dms_id"))
    _put(out, "service_appointment_id", a.get("dms_id"))
    out["appointment_status_type"] = APPOINTMENT_STATUS_TO_STAR.get(a.get("status") or "scheduled", "UNKNOWN")
    out["appointment_types"] = ["SERVICE"]
    period: dict[str, Any] = {}
    _put(period, "start_date_time", a.get("scheduled_at"))
    _put(out, "appointment_period", period)
    if a.get("customer_dms_id"):
        out["customers"] = [{"customer_key": str(a["customer_dms_id"])}]
    if a.get("vehicle_dms_id"):
        out["vehicle_asset"] = {"vehicle_asset_key": str(a["vehicle_dms_id"])}
    if a.get("advisor_dms_id"):
        out["assigned_dealer_staff"] = [{"party_key": str(a["advisor_dms_id"]), "party_type": "EMPLOYEE",
                                         "party_relationship_types": ["SERVICE_ADVISOR"]}]
    if a.get("opcodes"):
        out["service_requests"] = [{"service_type": "SERVICE",
                                    "service_codes": [{"code": str(op)} for op in a["opcodes"]]}]
    if a.get("notes"):
        out["narratives"] = [{"narrative_type": "INFO", "narrative_desc": str(a["notes"])}]
    if a.get("dispatch_code"):
        out["identifiers"] = [{"identifier_type": "DISPATCH_CODE", "value": str(a["dispatch_code"])}]
    if "locked" in a:
        out["locked_indicator"] = bool(a.get("locked"))
    return out


def _amount(value: Any) -> dict[str, Any]:
    return {"amount": str(value if value not in (None, "") else "0.00"), "currency_code": "USD"}


def _repair_order_to_star(r: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "repair_order_key", r.get("dms_id"))
    _put(out, "repair_order_id", r.get("dms_id"))
    identifiers = []
    for kind, name in (("RO_NUMBER", "ro_number"), ("CUSTOMER_KEY", "customer_dms_id"),
                       ("ALTERNATE_OF", "alternate_of")):
        if r.get(name):
            identifiers.append({"identifier_type": kind, "value": str(r[name])})
    _put(out, "identifiers", identifiers)
    status, stage = RO_STATUS_TO_STAR.get(r.get("status") or "open", ("OTHER", "OTHER"))
    summary: dict[str, Any] = {"current_repair_status_type": status, "current_repair_stage_type": stage}
    period: dict[str, Any] = {}
    _put(period, "start_date_time", r.get("opened_at"))
    _put(period, "complete_date_time", r.get("closed_at"))
    _put(summary, "repair_order_duration", period)
    out["repair_status_summary"] = summary
    if r.get("advisor_dms_id"):
        out["staff_assignments"] = [{"staff_key": str(r["advisor_dms_id"]), "role_types": ["SERVICE_ADVISOR"]}]
    if r.get("vehicle_dms_id"):
        out["vehicle_reference"] = {"vehicle_reference_key": str(r["vehicle_dms_id"])}
    if r.get("mileage_in") not in (None, ""):
        out["vehicle_snapshots"] = [{"snapshot_type": "CHECK_IN", "vehicle_states": [
            {"vehicle_state_name": "ODOMETER", "value": str(r["mileage_in"])}]}]
    lines = []
    for line in r.get("lines") or ():
        job: dict[str, Any] = {}
        if line.get("opcode"):
            job["operation_codes"] = [{"code": str(line["opcode"])}]
        _put(job, "operation_name", line.get("description"))
        job["job_actual_hours"] = str(line.get("labor_hours") if line.get("labor_hours") not in (None, "") else "0")
        lines.append({"sequential_line_number": str(line.get("line_number") or 0),
                      "pay_types": [PAY_TYPE_TO_STAR.get(line.get("pay_type") or "customer", "CUSTOMER_PAY")],
                      "service_jobs": [job],
                      "financial_summary": {"currency_code": "USD",
                                            "actual_labor_amount": _amount(line.get("labor_amount")),
                                            "actual_parts_amount": _amount(line.get("parts_amount"))}})
    _put(out, "repair_order_line_items", lines)
    return out


def _opcode_to_star(o: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _put(out, "labor_operation_key", o.get("dms_id"))
    _put(out, "labor_operation_id", o.get("dms_id"))
    if o.get("dms_id"):
        out["labor_operation_codes"] = [{"code": str(o["dms_id"])}]
    _put(out, "labor_operation_description", o.get("description"))
    if o.get("labor_hours") not in (None, ""):
        out["flat_rate_units"] = str(o["labor_hours"])
    out["pay_type"] = PAY_TYPE_TO_STAR.get(o.get("default_pay_type") or "customer", "CUSTOMER_PAY")
    out["effective_period"] = {"active_indicator": bool(o.get("active", True))}
    return out


def _generic_to_star(data_type: str, d: Mapping[str, Any]) -> dict[str, Any]:
    """Types the published documents do not cover: snake_case canonical fields, STAR key name."""
    out = {k: v for k, v in d.items() if k not in ("dms_id", "modified_at", "etag")}
    out[RESOURCES[data_type][1]] = d.get("dms_id")
    return out


_TO_STAR = {CUSTOMERS: _customer_to_star, VEHICLES: _vehicle_to_star, APPOINTMENTS: _appointment_to_star,
            REPAIR_ORDERS: _repair_order_to_star, OPCODES: _opcode_to_star}


def to_star(data_type: str, canonical: Mapping[str, Any], *, meta: bool = True) -> dict[str, Any]:
    """Render a canonical record dict as the STAR resource of ``data_type``.

    With ``meta`` the extension properties ``last_updated_date_time`` and ``etag`` are set
    from ``modified_at``/``etag`` (responses); request bodies leave them out.
    """
    render = _TO_STAR.get(data_type)
    out = render(canonical) if render else _generic_to_star(data_type, canonical)
    if meta:
        if canonical.get("modified_at") is not None:
            out[MODIFIED] = _s(canonical["modified_at"])
        if canonical.get("etag"):
            out[ETAG] = canonical["etag"]
    return out


# --------------------------------------------------------------------------- STAR -> canonical

def _customer_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    parties = s.get("party_references")
    party = parties[0] if parties and isinstance(parties[0], dict) else {}
    out: dict[str, Any] = {"dms_id": s.get("customer_key") or s.get("customer_id")}
    out["kind"] = "business" if party.get("org_indicator") is True or party.get("party_type") == "ORGANIZATION" \
        else "person"
    name = party.get("individual_name")
    if name:
        if "given_name" in name:
            out["first_name"] = name["given_name"]
        if "family_name" in name:
            out["last_name"] = name["family_name"]
    if "party_name" in party:
        out["company_name"] = party["party_name"]
    addresses = party.get("address_references")
    if addresses and isinstance(addresses[0], dict):
        address = addresses[0]
        for canonical, star in _ADDRESS:
            if star in address:
                out[canonical] = address[star]
    phones, emails = [], []
    for channel in party.get("communication_channels") or ():
        kind, value = channel.get("communication_channel_type"), channel.get("value")
        if not value:
            continue
        if kind == "EMAIL":
            emails.append(value)
        elif kind in _PHONE_TYPES:
            phones.append(value)
    out["phones"], out["emails"] = phones, emails
    return out


_PHONE_TYPES = frozenset(("PHONE", "CELL", "SMS", "VOICE"))


def _vehicle_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    ident = s.get("vehicle_identifier") or {}
    license_ = ident.get("license") or {}
    out: dict[str, Any] = {"dms_id": s.get("service_vehicle_key") or s.get("service_vehicle_id"),
                           "vin": ident.get("vin") or "", "unit_number": ident.get("fleet_vehicle_key") or "",
                           "year": _int(ident.get("model_year")), "make": ident.get("primary_make") or "",
                           "model": ident.get("primary_model") or "",
                           "engine": (ident.get("vehicle_summary") or {}).get("engine") or "",
                           "plate": license_.get("plate_number") or "",
                           "plate_state": license_.get("jurisdiction_name") or "",
                           "mileage": _int((s.get("odometer") or {}).get("value")), "owner_dms_id": None}
    for party in (s.get("garage_item_reference") or {}).get("parties") or ():
        if party.get("party_key"):
            out["owner_dms_id"] = party["party_key"]
            break
    return out


def _appointment_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    advisor = _first(s.get("assigned_dealer_staff"))
    opcodes = [code.get("code") for request in s.get("service_requests") or ()
               for code in request.get("service_codes") or () if code.get("code")]
    narrative = _first(s.get("narratives"))
    return {"dms_id": s.get("service_appointment_key") or s.get("service_appointment_id"),
            "customer_dms_id": _first(s.get("customers")).get("customer_key"),
            "vehicle_dms_id": (s.get("vehicle_asset") or {}).get("vehicle_asset_key"),
            "advisor_dms_id": advisor.get("party_key"),
            "scheduled_at": (s.get("appointment_period") or {}).get("start_date_time"),
            "opcodes": opcodes, "notes": narrative.get("narrative_desc") or "",
            "status": APPOINTMENT_STATUS_FROM_STAR.get(s.get("appointment_status_type") or "", "scheduled"),
            "dispatch_code": _ident(s.get("identifiers"), "DISPATCH_CODE") or "",
            "locked": bool(s.get("locked_indicator"))}


def _repair_order_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    summary = s.get("repair_status_summary") or {}
    period = summary.get("repair_order_duration") or {}
    status_type, stage = summary.get("current_repair_status_type"), summary.get("current_repair_stage_type")
    if stage == "INVOICE":
        status = "invoiced"
    elif status_type in ("CLOSED", "COMPLETED", "VOIDED", "CANCELLED") or stage in ("CLOSED", "VEHICLE_DELIVERED"):
        status = "closed"
    else:
        status = "open"
    mileage = None
    for snapshot in s.get("vehicle_snapshots") or ():
        for state in snapshot.get("vehicle_states") or ():
            if state.get("vehicle_state_name") == "ODOMETER":
                mileage = _int(state.get("value"))
    lines = []
    for item in s.get("repair_order_line_items") or ():
        job = _first(item.get("service_jobs"))
        money = item.get("financial_summary") or {}
        pay_types = item.get("pay_types") or ["CUSTOMER_PAY"]
        lines.append({"line_number": _int(item.get("sequential_line_number")) or 0,
                      "opcode": _first(job.get("operation_codes")).get("code") or "",
                      "description": job.get("operation_name") or "",
                      "pay_type": PAY_TYPE_FROM_STAR.get(pay_types[0], "customer"),
                      "labor_hours": job.get("job_actual_hours"),
                      "labor_amount": (money.get("actual_labor_amount") or {}).get("amount"),
                      "parts_amount": (money.get("actual_parts_amount") or {}).get("amount")})
    identifiers = s.get("identifiers")
    return {"dms_id": s.get("repair_order_key") or s.get("repair_order_id"),
            "ro_number": _ident(identifiers, "RO_NUMBER") or s.get("repair_order_key"),
            "status": status, "opened_at": period.get("start_date_time"), "closed_at": period.get("complete_date_time"),
            "advisor_dms_id": _first(s.get("staff_assignments")).get("staff_key"),
            "customer_dms_id": _ident(identifiers, "CUSTOMER_KEY"),
            "vehicle_dms_id": (s.get("vehicle_reference") or {}).get("vehicle_reference_key"),
            "mileage_in": mileage, "lines": lines, "alternate_of": _ident(identifiers, "ALTERNATE_OF")}


def _opcode_from_star(s: Mapping[str, Any]) -> dict[str, Any]:
    return {"dms_id": s.get("labor_operation_key") or s.get("labor_operation_id"),
            "description": s.get("labor_operation_description") or "", "labor_hours": s.get("flat_rate_units"),
            "default_pay_type": PAY_TYPE_FROM_STAR.get(s.get("pay_type") or "", "customer"),
            "active": (s.get("effective_period") or {}).get("active_indicator", True) is not False}


_FROM_STAR = {CUSTOMERS: _customer_from_star, VEHICLES: _vehicle_from_star, APPOINTMENTS: _appointment_from_star,
              REPAIR_ORDERS: _repair_order_from_star, OPCODES: _opcode_from_star}


def from_star(data_type: str, resource: Mapping[str, Any]) -> dict[str, Any]:
    """Read a STAR resource of ``data_type`` into a canonical record dict.

    ``modified_at``/``etag`` come from the extension properties; a record without them
    keeps them absent (the record parser then reports it as malformed).
    """
    parse = _FROM_STAR.get(data_type)
    if parse is None:
        out = {k: v for k, v in resource.items() if k not in (MODIFIED, ETAG, RESOURCES[data_type][1])}
        out["dms_id"] = resource.get(RESOURCES[data_type][1])
    else:
        out = parse(resource)
    if MODIFIED in resource:
        out["modified_at"] = resource[MODIFIED]
    if resource.get(ETAG):
        out["etag"] = resource[ETAG]
    return out


def _link_next(header: str | None) -> str | None:
    """The target of the ``rel="next"`` link of an RFC 8288 Link header."""
    if not header:
        return None
    for match in re.finditer(r'<([^>]*)>\s*((?:;\s*[^,;]+)*)', header):
        params = match.group(2)
        if re.search(r';\s*rel="?([^";]*\s)?next(\s[^";]*)?"?', params):
            return match.group(1)
    return None


# --------------------------------------------------------------------------- transport

class StarTransport(HttpTransport):
    """:class:`HttpTransport` with OAuth2 client-credentials tokens (form-encoded, RFC 6749 §4.4)."""

    def __init__(self, base_url: str, account: str, client_id: str, client_secret: str, profile: Any,
                 timeout: float = 10.0, scope: str | None = None) -> None:
        super().__init__(base_url, account, client_secret, profile, timeout=timeout, token_path="/oauth2/token")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope

    def _fetch_token(self, timeout: float | None) -> str:
        """POST ``grant_type=client_credentials`` with the client id and secret; keep the token and its expiry."""
        form = {"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret}
        if self.scope:
            form["scope"] = self.scope
        try:
            response = self.client.post(self.token_path, data=form, headers={"Accept": "application/json"},
                                        timeout=self.timeout if timeout is None else timeout)
        except httpx.TimeoutException as error:
            raise TransientDmsError(f"the DMS token service did not answer in time ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise TransientDmsError(f"could not reach the DMS token service: {error}") from error
        if response.status_code in (400, 401, 403):
            try:
                reason = response.json().get("error_description") or response.json().get("error") or ""
            except (ValueError, AttributeError):
                reason = ""
            raise AuthenticationError(
                f"the DMS refused our STAR client credentials ({response.status_code}{': ' + reason if reason else ''})",
                status=response.status_code,
                entry=self.profile.entry(self.profile.code_for("AUTH-FAILED")))
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientDmsError(f"the DMS token service answered {response.status_code}",
                                    retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                                    status=response.status_code)
        if response.status_code >= 300:
            raise AuthenticationError(f"the DMS token service answered {response.status_code}",
                                      status=response.status_code)
        try:
            data = loads_exact(response.content)
        except ValueError as error:
            raise MalformedResponseError(f"the DMS sent an unreadable token response: {error}") from error
        return self._accept_token(data)


# --------------------------------------------------------------------------- connector

class StarConnector(ProtocolConnector):
    """A :class:`DmsConnector` for one dealer account over STAR REST."""

    PROTOCOL = "star"
    LABEL = "STAR REST"
    CREDENTIALS = (
        CredentialField("client_id", "Client ID", help="OAuth2 client ID the vendor issued for this dealer."),
        CredentialField("client_secret", "Client secret", secret=True,
                        help="OAuth2 client secret (the vendor may call it the API key)."),
    )

    def __init__(self, profile: VendorProfile, base_url: str, account: str, credentials: Mapping[str, str],
                 timeout: float = 10.0, extract_dir: str | Path | None = None) -> None:
        self.profile = profile
        self.account = account
        self.extract_dir = Path(extract_dir) if extract_dir else None
        self.transport = StarTransport(base_url, account, credentials["client_id"], credentials["client_secret"],
                                       profile, timeout=timeout, scope=credentials.get("scope") or None)

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    # ---- helpers
    def _path(self, data_type: str, key: str | None = None, suffix: str = "") -> str:
        path = "/" + RESOURCES[data_type][0]
        if key is not None:
            path += "/" + quote(key, safe="") + suffix
        return path

    def _parse(self, data_type: str, item: Any, position: int | None = None) -> DmsRecord:
        """Parse one STAR resource, naming its position and key when it is malformed."""
        if not isinstance(item, dict):
            raise MalformedResponseError(f"{data_type} record at position {position} is not an object",
                                         data_type=data_type, position=position)
        key = item.get(RESOURCES[data_type][1])
        try:
            canonical = from_star(data_type, item)
        except (ValueError, TypeError, AttributeError, ArithmeticError) as error:
            raise MalformedResponseError(f"{data_type} record {key!r} at position {position}: {error}",
                                         data_type=data_type, dms_id=key, position=position) from error
        # record_from_dict's errors already name the data type, the record, its position and the field.
        return record_from_dict(data_type, canonical, raw=item, position=position)

    def _record_response(self, data_type: str, response: Any) -> DmsRecord:
        data = self.transport._json(response, f"{data_type} record", data_type)
        if isinstance(data, dict) and response.headers.get("ETag") and not data.get(ETAG):
            data[ETAG] = response.headers["ETag"]
        return self._parse(data_type, data)

    # ---- pulls
    def iter_changes(self, data_type: str, cursor: str | None = None, page_size: int = 500,
                     timeout: float | None = None) -> Iterator[Page]:
        """Yield pages of changes since ``cursor`` (see :meth:`DmsConnector.iter_changes`)."""
        self._check_pull(data_type)
        return self._pages(data_type, cursor, page_size, timeout)

    @staticmethod
    def _cursor_params(cursor: str | None) -> dict[str, Any]:
        if not cursor:
            return {}
        if cursor.startswith("since:"):
            return {"filter": "updated_since:" + cursor[6:]}
        return {"page_token": cursor}

    @staticmethod
    def _cursor_from_link(link: str | None) -> str | None:
        """Our opaque cursor from the ``next`` link: its page token, or its updated_since window."""
        if not link:
            return None
        query = parse_qs(urlsplit(link).query)
        if query.get("page_token"):
            return query["page_token"][-1]
        for value in query.get("filter", []):
            if value.startswith("updated_since:"):
                return "since:" + value[len("updated_since:"):]
        return None

    def _pages(self, data_type: str, cursor: str | None, page_size: int, timeout: float | None) -> Iterator[Page]:
        """The lazy page loop behind :meth:`iter_changes` (``{data, has_more}`` pages, next page in the Link header)."""
        path = self._path(data_type)

        def fetch(cursor: str | None, number: int) -> Any:
            """One page's answer."""
            return self.transport.request("GET", path, params={"limit": page_size, **self._cursor_params(cursor)},
                                          timeout=timeout)

        def read(response: Any, number: int) -> tuple:
            """The page's records (built later), next cursor and whether more follows."""
            data = self.transport._json(response, f"{data_type} page {number}", data_type)
            items = data.get("data") if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise MalformedResponseError(f"{data_type} page {number} has no data list", data_type=data_type)
            return (lambda: tuple(self._parse(data_type, item, position) for position, item in enumerate(items)),
                    self._cursor_from_link(_link_next(response.headers.get("Link"))), bool(data.get("has_more")))

        return self._read_pages(data_type, cursor, fetch, read)

    def list_ids(self, data_type: str, page_size: int = 5000, timeout: float | None = None) -> Iterator[str]:
        """Yield every DMS key of ``data_type`` (streamed, in key order)."""
        self._check_pull(data_type)
        return self._ids(data_type, page_size, timeout)

    def _ids(self, data_type: str, page_size: int, timeout: float | None) -> Iterator[str]:
        after = ""
        path = f"/{RESOURCES[data_type][0]}-keys"
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if after:
                params["start_after"] = after
            data = self.transport.get_json(path, params=params, timeout=timeout, what=f"{data_type} key list")
            keys = data.get("data") if isinstance(data, dict) else None
            if not isinstance(keys, list):
                raise MalformedResponseError(f"{data_type} key list is malformed", data_type=data_type)
            yield from (str(k) for k in keys)
            if not data.get("has_more") or not keys:
                return
            after = str(keys[-1])

    def fetch_one(self, data_type: str, dms_id: str, timeout: float | None = None) -> DmsRecord | None:
        """One record with its ETag, or None when the DMS does not have it."""
        if data_type not in RESOURCES:
            raise ValueError(f"unknown data type {data_type!r}")
        response = self.transport.request("GET", self._path(data_type, dms_id), timeout=timeout, allow_404=True)
        if response.status_code == 404:
            return None
        return self._record_response(data_type, response)

    # ---- live lookups
    def _search(self, data_type: str, query: str, limit: int, timeout: float | None) -> list[Any]:
        """``filter=q:<text>`` on the resource."""
        if not query.strip():
            return []
        data = self.transport.get_json(self._path(data_type), params={"filter": "q:" + query.strip(), "limit": limit},
                                       timeout=timeout, what=f"{data_type} search")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError(f"{data_type} search result is malformed", data_type=data_type)
        return [self._parse(data_type, item, position) for position, item in enumerate(items)]

    # ---- writes
    @staticmethod
    def _params(for_appointment: bool) -> dict[str, str] | None:
        return {"for_appointment": "true"} if for_appointment else None

    def _create(self, data_type: str, fields: Mapping[str, Any], idempotency_key: str, timeout: float | None,
                for_appointment: bool = False) -> Any:
        """POST the STAR resource with its Idempotency-Key (also sent as the create's external business key)."""
        body = to_star(data_type, {**fields, "dms_id": idempotency_key}, meta=False)
        response = self.transport.request("POST", self._path(data_type), json_body=body,
                                          headers={"Idempotency-Key": idempotency_key},
                                          params=self._params(for_appointment), timeout=timeout)
        return self._record_response(data_type, response)

    def _replace(self, data_type: str, dms_id: str, fields: Mapping[str, Any], etag: str | None,
                 timeout: float | None, for_appointment: bool = False) -> Any:
        """PUT the whole resource (current values merged with ``fields``) with If-Match.

        Merge-patch would replace whole arrays (phones and e-mails share one array), so the
        connector reads the record, applies the change and replaces it; If-Match carries the
        caller's ETag (or the one just read), so a change made in between is a conflict.
        """
        current = self.fetch_one(data_type, dms_id, timeout=timeout)
        if current is None:
            response = self.transport.request("PUT", self._path(data_type, dms_id),
                                              json_body=to_star(data_type, {**fields, "dms_id": dms_id}, meta=False),
                                              headers={"If-Match": etag} if etag else {}, timeout=timeout)
            return self._record_response(data_type, response)
        merged = {**current.to_dict(), **{k: json_ready(v) for k, v in fields.items()}}
        body = to_star(data_type, merged, meta=False)
        response = self.transport.request("PUT", self._path(data_type, dms_id), json_body=body,
                                          headers={"If-Match": etag or current.etag or "*"},
                                          params=self._params(for_appointment), timeout=timeout)
        return self._record_response(data_type, response)

    def _send_create(self, data_type: str, fields: Mapping[str, Any], idempotency_key: str, for_appointment: bool,
                     timeout: float | None) -> Any:
        """POST the STAR resource (see :meth:`_create`)."""
        return self._create(data_type, fields, idempotency_key, timeout, for_appointment)

    def _send_update(self, data_type: str, dms_id: str, fields: Mapping[str, Any], etag: str | None,
                     for_appointment: bool, timeout: float | None) -> Any:
        """PUT the whole resource with If-Match (see :meth:`_replace`)."""
        return self._replace(data_type, dms_id, fields, etag, timeout, for_appointment)

    def _send_cancel(self, dms_id: str, etag: str | None, timeout: float | None) -> Appointment:
        """``POST /service-appointments/{key}:cancel``."""
        response = self.transport.request("POST", self._path(APPOINTMENTS, dms_id, ":cancel"),
                                          headers={"If-Match": etag} if etag else {}, timeout=timeout)
        return self._record_response(APPOINTMENTS, response)

    # ---- lookups and exports (not in the published documents: STAR guideline style)
    def _send_reservation(self, idempotency_key: str, timeout: float | None) -> str:
        """``POST /repair-order-number-reservations``."""
        response = self.transport.request("POST", "/repair-order-number-reservations", json_body={},
                                          headers={"Idempotency-Key": idempotency_key}, timeout=timeout)
        data = self.transport._json(response, "RO number reservation")
        if not isinstance(data, dict) or not data.get("repair_order_number"):
            raise MalformedResponseError("RO number reservation has no repair_order_number")
        return str(data["repair_order_number"])

    def _send_payment(self, payment: Mapping[str, Any], idempotency_key: str, timeout: float | None) -> Payment:
        """``POST /payments``."""
        body = {k: json_ready(v) for k, v in payment.items()}
        response = self.transport.request("POST", self._path(PAYMENTS), json_body=body,
                                          headers={"Idempotency-Key": idempotency_key}, timeout=timeout)
        return self._record_response(PAYMENTS, response)

    def _send_related(self, ro_number: str, timeout: float | None) -> list[str]:
        """``GET /repair-orders/{key}/related-repair-orders``."""
        data = self.transport.get_json(self._path(REPAIR_ORDERS, ro_number, "/related-repair-orders"),
                                       timeout=timeout, what="related RO list")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise MalformedResponseError("related RO list is malformed")
        return [str(item.get("repair_order_id") or item.get("repair_order_key")) for item in items
                if isinstance(item, dict)]
