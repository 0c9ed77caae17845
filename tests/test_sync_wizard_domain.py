"""The sync wizard's pure logic (webapp.domain.sync): differences, choices and the plan."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.vendors import get_profile
from webapp.domain import sync

KARMAK = get_profile("karmak")


def customer(**values):
    """A portal customer as the comparison sees it (attributes only)."""
    base = {spec.attr: None for spec in sync.FIELDS["customer"]}
    base.update(values)
    return SimpleNamespace(**base)


DMS = {
    "first_name": "Pat",
    "last_name": "Sample",
    "phones": ["217.555.0100", "(217) 555-0199", "217-555-0111"],
    "emails": ["PAT@Example.com"],
    "city": "Springfield",
}


def test_normalised_values_are_not_differences():
    portal = customer(
        first_name="pat",
        last_name="Sample",
        phone="+12175550100",
        mobile_phone="+12175550199",
        email="pat@example.com",
        city="Springfield",
    )
    # Phones and e-mail in other forms are no differences; a name that differs only in case is one,
    # marked formatting-only with nothing pre-selected (issue 19, item 7: "Mcdonald -> McDonald").
    [difference] = sync.compare("customer", portal, DMS)
    assert difference.attr == "first_name" and difference.formatting_only and difference.preselected is None


def test_phones_keep_their_positions_in_the_write_back():
    portal = customer(
        first_name="Pat",
        last_name="Sample",
        phone="+12175550100",
        mobile_phone="+12175550142",
        email="pat@example.com",
        city="Springfield",
    )
    differences = sync.compare("customer", portal, DMS)
    assert [d.attr for d in differences] == ["mobile_phone"]
    result = sync.plan(
        "customer", differences, {"mobile_phone": "portal"}, DMS, write_back=True, writable={"phones"}, profile=KARMAK
    )
    # The phone stays first, the mobile is replaced, the DMS's third number is kept.
    assert result.dms_fields == {"phones": ["217.555.0100", "+12175550142", "217-555-0111"]}


def test_unwritable_fields_are_skipped_with_the_reason():
    portal = customer(
        first_name="Pat",
        last_name="Samples",
        email="pat@example.com",
        city="Springfield",
        phone="+12175550100",
        mobile_phone="+12175550199",
    )
    differences = sync.compare("customer", portal, DMS)
    result = sync.plan(
        "customer", differences, {"last_name": "portal"}, DMS, write_back=True, writable=set(), profile=KARMAK
    )
    assert result.dms_fields == {}
    assert [(s.label, s.reason) for s in result.skipped] == [
        ("Last name", "Karmak Fusion does not accept Last name updates")
    ]


def test_portal_only_sends_nothing_and_says_what_the_dms_keeps():
    portal = customer(
        last_name="Samples",
        first_name="Pat",
        email="pat@example.com",
        city=None,
        phone="+12175550100",
        mobile_phone="+12175550199",
    )
    differences = sync.compare("customer", portal, DMS)
    result = sync.plan(
        "customer",
        differences,
        {"last_name": "portal", "city": "dms"},
        DMS,
        write_back=False,
        writable={"last_name", "city"},
        profile=KARMAK,
    )
    assert result.dms_fields == {} and result.kept_in_dms == ["Last name"]
    assert result.portal_changes == [("city", "City", None, "Springfield")]


def test_locked_fields_refuse_the_dms_value():
    asset = SimpleNamespace(
        vin=None,
        unit_number=None,
        year=2020,
        make="Volvo",
        model="VNL",
        engine_type=None,
        license_plate=None,
        mileage=None,
        oem_build_data={"year": 2020, "make": "Volvo", "model": "VNL", "engine": "D13 455hp"},
    )
    dms = {"year": 2021, "make": "Volvo", "model": "VNR", "engine": "D13"}
    differences = sync.compare("asset", asset, dms, oem_locked=True)
    assert {d.attr: d.locked for d in differences} == {"year": True, "model": True, "engine_type": True}
    assert sync.select_all(differences, sync.DMS) == {"year": "portal", "model": "portal", "engine_type": "portal"}
    with pytest.raises(sync.ChoiceError, match="OEM"):
        sync.validate_choices(differences, {"year": "dms", "model": "portal", "engine_type": "portal"})
    with pytest.raises(sync.ChoiceError, match="cannot be changed"):
        sync.validate_choices(differences, {"vin": "dms"})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from([s.attr for s in sync.FIELDS["customer"]]),
        st.one_of(st.none(), st.text(max_size=12)),
        max_size=6,
    )
)
def test_choices_only_ever_cover_the_differences(values):
    portal = customer(**values)
    differences = sync.compare("customer", portal, DMS)
    for side in sync.SIDES:
        choices = sync.select_all(differences, side)
        assert sync.validate_choices(differences, choices) == choices
    # Single-sided fields are always pre-selected, to the side that has the value.
    for d in differences:
        if d.single_sided:
            assert d.preselected == (sync.PORTAL if d.dms_value in (None, "") else sync.DMS)
