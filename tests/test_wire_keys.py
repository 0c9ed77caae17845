"""Nothing outside ``connectors/`` reads a vendor's wire format (DESIGN.md §3).

Features read canonical records only (``connectors.records``); each protocol's names live in
its adapter. The wire vocabularies are taken from the published documents the tests vendor:
every property name of the STAR OpenAPI documents and every element name of the OpenTrack
schemas, less the names that are canonical field names too. A quoted wire name, or a
template attribute of that name, anywhere in ``webapp/`` or ``jobs/`` fails the test; so does
reading the mirror's ``raw_payload`` outside the admin's diagnosis view.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

from connectors.base import Page
from connectors.records import KINDS, PartsInvoiceLine, RepairOrderLine, record_from_dict

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tests" / "schemas"
SOURCES = [
    path
    for folder in ("webapp", "jobs")
    for path in sorted((ROOT / folder).rglob("*"))
    if path.suffix in (".py", ".html", ".js")
    and "vendor" not in path.parts
    and path.is_file()
    and not path.name.startswith("htmx")
]
# The console dialect's token answer (its record keys are the canonical names; its page envelope's
# next_cursor / has_more are also the names of the connector's Page, which features may read).
CONSOLE_WIRE = {"access_token", "expires_in"}
# Our own words that a STAR document happens to use too: the portal's columns are added from the
# models' metadata; this is the rest (a command-line option).
OWN_WORDS = {"location_code"}
# Where the vendor's raw record may be named: the mirror model and writer, the admin's run page, and the
# pull's statistics refresh (which names it to leave it out).
RAW_READERS = {
    "webapp/models/dms_mirror.py",
    "webapp/services/mirror.py",
    "webapp/templates/integrations/run.html",
    "jobs/pulls.py",
}


def _canonical_names() -> set[str]:
    names = {"totals_by_pay_type", "total", "display_name"}
    for kind in KINDS.values():
        names.update(kind.record.__struct_fields__)
    for line in (RepairOrderLine, PartsInvoiceLine):
        names.update(line.__struct_fields__)
    return names


def _portal_columns() -> set[str]:
    from webapp.extensions import db

    importlib.import_module("webapp.models")  # registers every table

    return {column.name for table in db.metadata.tables.values() for column in table.columns}


def _star_names() -> set[str]:
    """STAR property names: snake_case keys of two words or more (``given_name``, ``party_references``)."""
    names: set[str] = set()
    for path in sorted((SCHEMAS / "star").glob("*.yaml")):
        names.update(re.findall(r"^\s+([a-z][a-z0-9]*(?:_[a-z0-9]+)+):\s*$", path.read_text(), re.M))
    return names


def _opentrack_names() -> set[str]:
    """OpenTrack element names made of two words or more (``NameFirst``, ``CustomerKey``)."""
    names: set[str] = set()
    for path in sorted((SCHEMAS / "opentrack").glob("*.xsd")):
        names.update(re.findall(r'name="([A-Za-z][A-Za-z0-9]*)"', path.read_text()))
    return {name for name in names if re.search(r"[a-z][A-Z]", name)}


@pytest.fixture(scope="module")
def wire_names() -> set[str]:
    star, opentrack = _star_names(), _opentrack_names()
    assert len(star) > 50, "the vendored STAR documents are missing from tests/schemas/star"
    assert len(opentrack) > 50, "the vendored OpenTrack schemas are missing from tests/schemas/opentrack"
    page_fields = {field.name for field in dataclasses.fields(Page)}  # the connector's own Page, which features read
    return (star | opentrack | CONSOLE_WIRE) - _canonical_names() - _portal_columns() - OWN_WORDS - page_fields


def _uses(text: str, name: str) -> bool:
    return bool(re.search(rf"""["']{re.escape(name)}["']|\.{re.escape(name)}\b(?!\()""", text))


def test_no_module_outside_connectors_reads_vendor_wire_keys(wire_names):
    found = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        hits = sorted(name for name in wire_names if name in text and _uses(text, name))
        if hits:
            found.append(f"{path.relative_to(ROOT)}: {', '.join(hits)}")
    assert found == []


def test_the_check_catches_a_wire_key(wire_names):
    assert {"given_name", "family_name", "FirstName", "LastName"} <= wire_names
    sample = next(iter(sorted(wire_names)))
    assert _uses(f'value = row.payload.get("{sample}")', sample)
    assert _uses(f"{{{{ row.payload.{sample} }}}}", sample)


def test_raw_vendor_records_are_read_only_for_diagnosis():
    readers = sorted(str(path.relative_to(ROOT)) for path in SOURCES if "raw_payload" in path.read_text())
    assert set(readers) <= RAW_READERS, readers


def test_canonical_records_encode_without_vendor_keys():
    # A record's stored form holds its canonical fields only: the vendor's raw record stays beside it.
    customer = record_from_dict(
        "customers", {"dms_id": "C1", "modified_at": "2026-01-01T00:00:00Z"}, raw={"givenName": "X"}
    )
    assert "raw" not in customer.to_dict() and customer.raw == {"givenName": "X"}
