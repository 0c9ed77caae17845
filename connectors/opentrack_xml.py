"""OpenTrack (Dealertrack) SOAP: the envelope, safe parsing and the element helpers.

Used by the connector (:mod:`connectors.opentrack`: builds requests, reads responses), by
the sandbox front end (:mod:`connectors.sandbox.opentrack_api`: reads requests, renders
responses) and by the record mapping (:mod:`connectors.opentrack_records`), so both sides
agree on the envelope.

Facts from the published material (``/work/shared/specs/opentrack``): one SOAP 1.1
operation ``ProcessMessage``; a WS-Security ``UsernameToken`` and a ``PayloadManifest`` in
the header; the request element (``CustomerSearch`` ...) inside ``payload/content``; each
request starts with a ``Dealer`` element (``EnterpriseCode``, ``CompanyNumber``,
``ServerName``); an OpenTrack error is an ``Error`` element (``Code``, ``Message``) in the
response element.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
TRAN_NS = "http://www.starstandards.org/webservices/2005/10/transport"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
SOAP_ACTION = "http://www.starstandards.org/webservices/2005/10/transport/operations/ProcessMessage"

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    dtd_validation=False,
    remove_comments=True,
    remove_pis=True,
)


class XmlRefused(ValueError):
    """The bytes are not acceptable XML (malformed, a DTD/entity declaration, truncated)."""


def parse_xml(body: bytes) -> etree._Element:
    """Parse untrusted XML: no DTD, no entity expansion, no network; any DOCTYPE is refused."""
    if not body or not body.strip():
        raise XmlRefused("empty body")
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise XmlRefused("the document declares a DTD or entities, which is refused")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as error:
        raise XmlRefused(f"not well-formed XML ({error})") from None
    if root.getroottree().docinfo.doctype:
        raise XmlRefused("the document declares a DTD, which is refused")
    return root


# --------------------------------------------------------------------------- small helpers


def x(value: Any) -> str:
    """Escape a value for element text (None -> empty)."""
    if value is None:
        return ""
    return escape(str(value))


def el(name: str, value: Any) -> str:
    """``<name>value</name>`` (``<name/>`` when empty)."""
    text = x(value)
    return f"<{name}>{text}</{name}>" if text else f"<{name}/>"


def children(node: etree._Element) -> dict[str, str]:
    """Child element texts by local name (first wins; namespaces ignored; any order).

    The hot loop of every read (it runs for every child of every record): kept lean on purpose.
    """
    out: dict[str, str] = {}
    for child in node:
        tag = child.tag
        if tag.__class__ is not str:
            continue  # comments, processing instructions
        if tag[0] == "{":
            tag = tag[tag.index("}") + 1 :]
        if tag not in out:
            text = child.text
            out[tag] = text.strip() if text else ""
    return out


def local(tag: Any) -> str:
    """The local name of an element tag."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def find(node: etree._Element, name: str) -> etree._Element | None:
    """First child with local name ``name``."""
    for child in node:
        if local(child.tag) == name:
            return child
    return None


# --------------------------------------------------------------------------- envelope


def request_envelope(operation_xml: str, element: str, username: str, password: str) -> bytes:
    """The SOAP 1.1 request: WS-Security UsernameToken (PasswordText) + PayloadManifest + payload."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:wsse="{WSSE_NS}" xmlns:tran="{TRAN_NS}">'
        f"<soap:Header><wsse:Security><wsse:UsernameToken><wsse:Username>{x(username)}</wsse:Username>"
        f'<wsse:Password Type="{PASSWORD_TEXT}">{x(password)}</wsse:Password></wsse:UsernameToken></wsse:Security>'
        f'<tran:PayloadManifest><tran:manifest contentID="Content0" namespaceURI="" element="{element}" '
        f'version="1.0"/></tran:PayloadManifest></soap:Header>'
        f'<soap:Body><tran:ProcessMessage><tran:payload><tran:content id="Content0">{operation_xml}'
        f"</tran:content></tran:payload></tran:ProcessMessage></soap:Body></soap:Envelope>"
    ).encode()


def response_envelope(response_xml: str, element: str) -> bytes:
    """The SOAP 1.1 response carrying ``response_xml`` the same way."""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:tran="{TRAN_NS}"><soap:Header>'
        f'<tran:PayloadManifest><tran:manifest contentID="Content0" namespaceURI="" element="{element}" '
        f'version="1.0"/></tran:PayloadManifest></soap:Header>'
        f'<soap:Body><tran:ProcessMessageResponse><tran:payload><tran:content id="Content0">{response_xml}'
        f"</tran:content></tran:payload></tran:ProcessMessageResponse></soap:Body></soap:Envelope>"
    ).encode()


def fault_envelope(faultcode: str, message: str, code: str = "") -> bytes:
    """A SOAP 1.1 Fault (``faultcode`` like ``soap:Server`` or ``wsse:FailedAuthentication``)."""
    detail = f"<detail><Error><Code>{x(code)}</Code><Message>{x(message)}</Message></Error></detail>" if code else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:wsse="{WSSE_NS}"><soap:Body><soap:Fault>'
        f"<faultcode>{x(faultcode)}</faultcode><faultstring>{x(message)}</faultstring>{detail}"
        f"</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


def dealer_xml(enterprise_code: str, company_number: str, server_name: str) -> str:
    """The ``Dealer`` element every request starts with."""
    return (
        f"<Dealer>{el('EnterpriseCode', enterprise_code)}{el('CompanyNumber', company_number)}"
        f"{el('ServerName', server_name)}</Dealer>"
    )


def open_envelope(root: etree._Element, response: bool) -> tuple[etree._Element | None, etree._Element | None]:
    """``(Fault, payload element)`` of a parsed envelope; raises XmlRefused on a wrong shape/namespace."""
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise XmlRefused(f"root element is {root.tag!r}, not a SOAP 1.1 Envelope ({SOAP_NS})")
    body = root.find(f"{{{SOAP_NS}}}Body")
    if body is None:
        raise XmlRefused("SOAP envelope has no Body")
    fault = body.find(f"{{{SOAP_NS}}}Fault")
    if fault is not None:
        return fault, None
    wrapper = body.find(f"{{{TRAN_NS}}}{'ProcessMessageResponse' if response else 'ProcessMessage'}")
    if wrapper is None:
        raise XmlRefused("SOAP Body has no ProcessMessage element in the STAR transport namespace")
    payload = wrapper.find(f"{{{TRAN_NS}}}payload")
    content = payload.find(f"{{{TRAN_NS}}}content") if payload is not None else None
    if content is None or len(content) == 0:
        raise XmlRefused("ProcessMessage has no payload/content element")
    return None, content[0]
