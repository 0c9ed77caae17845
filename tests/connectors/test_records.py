"""Record types round-trip through JSON; the package keeps its documented boundaries."""
from __future__ import annotations

import ast
import json
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
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and not node.name.startswith("_") \
                    and not ast.get_docstring(node):
                missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert missing == []
