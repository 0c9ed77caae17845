"""Record types round-trip through JSON; the package keeps its documented boundaries."""

from __future__ import annotations

import ast
import json
from datetime import UTC
from pathlib import Path

import pytest

from connectors import DATA_TYPES
from connectors.base import RECORD_TYPES, Page, RepairOrder, record_from_dict

PACKAGE = Path(__file__).resolve().parents[2] / "connectors"


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_records_round_trip_through_json(data_type, connector_for):
    dms = connector_for("contract-karmak")
    page = next(iter(dms.iter_changes(data_type, page_size=5)))
    assert isinstance(page, Page) and page.records
    for record in page.records:
        stored = json.loads(json.dumps(record.to_dict()))
        assert record_from_dict(data_type, stored) == record
        assert record.modified_at.utcoffset().total_seconds() == 0
        assert isinstance(record, RECORD_TYPES[data_type])


def test_repair_order_totals_by_pay_type(connector_for):
    dms = connector_for("contract-cdk")
    ro = dms.fetch_one("repair_orders", "100007")
    assert isinstance(ro, RepairOrder) and ro.lines
    totals = ro.totals_by_pay_type
    assert set(totals) == {"customer", "warranty", "internal"}
    assert sum(totals.values()) == sum(line.labor_amount + line.parts_amount for line in ro.lines)


def test_records_are_frozen(connector_for):
    customer = connector_for("contract-cdk").fetch_one("customers", "C0000001")
    with pytest.raises(AttributeError):
        customer.last_name = "x"


def _python_files():
    return sorted(PACKAGE.rglob("*.py"))


def test_connectors_import_nothing_from_webapp_or_jobs():
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("webapp", "jobs"), f"{path}: imports {name}"


def test_every_module_class_and_public_function_has_a_docstring():
    missing = []
    for path in _python_files():
        tree = ast.parse(path.read_text())
        if not ast.get_docstring(tree):
            missing.append(f"{path.name}: module")
        for node in ast.walk(tree):
            if (
                isinstance(node, (ast.ClassDef, ast.FunctionDef))
                and not node.name.startswith("_")
                and not ast.get_docstring(node)
            ):
                missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert missing == []


def test_record_errors_name_the_data_type_the_record_its_position_and_the_field():
    from connectors import MalformedResponseError

    with pytest.raises(MalformedResponseError) as caught:
        record_from_dict(
            "customers", {"dms_id": "C9", "modified_at": "2026-01-01T00:00:00Z", "phones": [7]}, position=4
        )
    message = caught.value.message
    assert "customers record 'C9' at position 4" in message and "$.phones[0]" in message
    assert (caught.value.data_type, caught.value.dms_id, caught.value.position) == ("customers", "C9", 4)
    with pytest.raises(MalformedResponseError) as missing:
        record_from_dict("vehicles", {"dms_id": "V1"})
    assert "modified_at" in missing.value.message


def test_timestamps_become_utc_and_empty_values_take_the_defaults():

    shifted = record_from_dict(
        "appointments",
        {
            "dms_id": "A1",
            "modified_at": "2026-01-01T02:00:00+02:00",
            "scheduled_at": "2026-01-02T09:00:00",
            "notes": None,
            "opcodes": "",
        },
    )
    assert shifted.modified_at.isoformat() == "2026-01-01T00:00:00+00:00" and shifted.modified_at.tzinfo == UTC
    assert shifted.scheduled_at.tzinfo == UTC and shifted.notes == "" and shifted.opcodes == ()
    ro = record_from_dict("repair_orders", {"dms_id": "100", "modified_at": "2026-01-01T00:00:00Z"})
    assert ro.ro_number == "100"  # a DMS that sends no RO number: staff search by its key


def test_the_raw_vendor_record_rides_beside_the_canonical_one():
    raw = {"customer_key": "C1", "party_references": []}
    with_raw = record_from_dict("customers", {"dms_id": "C1", "modified_at": "2026-01-01T00:00:00Z"}, raw=raw)
    without = record_from_dict("customers", {"dms_id": "C1", "modified_at": "2026-01-01T00:00:00Z"})
    assert with_raw == without and with_raw.raw == raw and "raw" not in with_raw.to_dict()
