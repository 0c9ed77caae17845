"""Duplicate scoring for add-from-DMS: scores with reasons."""

from __future__ import annotations

from types import SimpleNamespace

from webapp.domain.duplicates import likely_duplicates, score_asset, score_customer


def portal_customer(**fields):
    values = {
        "first_name": None,
        "last_name": None,
        "company_name": None,
        "phone": None,
        "mobile_phone": None,
        "email": None,
    }
    values.update(fields)
    return SimpleNamespace(**values)


def portal_asset(**fields):
    values = {"vin": None, "unit_number": None, "license_plate": None}
    values.update(fields)
    return SimpleNamespace(**values)


DMS = {
    "first_name": "Zoë",
    "last_name": "O'Brien",
    "company_name": "",
    "phones": ["(217) 555-0100"],
    "emails": ["ZOE@example.com"],
}


def test_same_phone_in_another_format_and_same_name():
    match = score_customer(DMS, portal_customer(first_name="Zoe", last_name="OBrien", phone="+12175550100"))
    assert match.score >= 90
    assert match.reasons[0] == "Same phone (217) 555-0100"
    assert "Same name" in match.reasons


def test_same_email_alone_is_a_likely_duplicate():
    match = score_customer(DMS, portal_customer(first_name="Z.", last_name="Smith", email="zoe@EXAMPLE.com"))
    assert match.reasons == ["Same e-mail zoe@example.com"]
    assert likely_duplicates([match]) == [match]


def test_similar_name_is_reported_with_its_similarity():
    match = score_customer(DMS, portal_customer(first_name="Zoe", last_name="O'Brian"))
    assert match.reasons and match.reasons[0].startswith("Similar name (")
    assert 50 <= match.score < 60


def test_a_different_person_is_not_a_duplicate():
    other = score_customer(DMS, portal_customer(first_name="Robert", last_name="Jones", phone="+13125550000"))
    assert other.reasons == [] and likely_duplicates([other]) == []


def test_assets_match_on_vin_vin_ending_unit_and_plate():
    dms = {"vin": "1fuj-gldr5clbt1234", "unit_number": "U 417", "plate": "abc 123"}
    same = score_asset(dms, portal_asset(vin="1FUJGLDR5CLBT1234"))
    assert same.reasons == ["Same VIN"] and same.score == 90
    ending = score_asset(dms, portal_asset(vin="2FUJGLDR5CLBT1234", unit_number="U417", license_plate="ABC123"))
    assert ending.reasons == ["VIN ends the same (last 8)", "Same unit number", "Same plate"]
    assert ending.score == 100
    ranked = likely_duplicates([same, ending, score_asset(dms, portal_asset(vin="ZZZ"))])
    assert ranked == [ending, same]
