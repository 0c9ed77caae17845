"""The sandbox's generated data: deterministic, realistic, and messy on purpose."""

from __future__ import annotations

import re

import httpx

from connectors.sandbox import generate


def rows(data_type, customers=400, vendor="cdk", seed=42, account="a"):
    return list(generate.generate(seed, account, vendor, data_type, customers))


def test_generation_is_deterministic_and_seeded():
    assert rows("customers") == rows("customers")
    assert rows("customers") != rows("customers", seed=43)
    assert rows("repair_orders", 50) == rows("repair_orders", 50)


def test_modified_times_increase_with_generation_order():
    times = [r[4] for r in rows("vehicles")]
    assert times == sorted(times)


def test_vins_have_valid_check_digits_and_legacy_truck_vins_exist():
    vehicles = [r[3] for r in rows("vehicles", 400, "karmak")]
    modern = [v["vin"] for v in vehicles if len(v["vin"]) == 17]
    assert modern and all(generate.vin_check_digit(vin) == vin[8] for vin in modern)
    legacy = [v for v in vehicles if len(v["vin"]) != 17]
    assert legacy and all(v["year"] < 1981 and v["unit_number"] for v in legacy)
    assert generate.vin_check_digit("1M8GDM9AXKP042788") == "X"  # the textbook example


def test_customer_mess_is_present():
    customers = [r[3] for r in rows("customers")]
    assert any(c["kind"] == "business" and not c["company_name"] for c in customers)
    assert any(c["kind"] == "business" and c["company_name"] for c in customers)
    formats = {re.sub(r"\d", "9", p) for c in customers for p in c["phones"]}
    assert len(formats) >= 5
    keys = [(c["first_name"], c["last_name"], tuple(c["emails"])) for c in customers]
    assert len(keys) - len(set(keys)) >= 5  # duplicates
    assert any(not c["address_line1"] and not c["emails"] for c in customers)


def test_repair_orders_use_every_pay_type_and_karmak_has_alternates():
    ros = [r[3] for r in rows("repair_orders", 200, "karmak")]
    assert {line["pay_type"] for ro in ros for line in ro["lines"]} == {"customer", "warranty", "internal"}
    assert any(ro["alternate_of"] for ro in ros)
    assert not any(r[3]["alternate_of"] for r in rows("repair_orders", 200, "cdk"))


def test_problem_json_and_unknown_routes(sandbox):
    response = httpx.get(f"{sandbox.base_url}/v1/write-cdk/customers")
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(problem) and problem["code"] == "CDK-AUTH-FAILED"
    assert httpx.get(f"{sandbox.base_url}/nowhere").status_code == 404


def test_server_starts_fast_and_stops_cleanly(tmp_path):
    import threading

    from connectors.sandbox.testing import running_sandbox

    before = threading.active_count()
    with running_sandbox([("quick", "tekion", 300)], data_dir=tmp_path) as box:
        with box.connect("quick") as dms:
            assert len(list(dms.list_ids("customers"))) == 300
    assert threading.active_count() <= before + 1
