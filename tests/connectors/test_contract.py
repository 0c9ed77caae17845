"""The read contract, run once per wire protocol over real loopback HTTP.

The paging/cursor properties are properties of a protocol's code path (``[console]``,
``[star]``, ``[opentrack]``; see ``conftest.py``). Which data types a vendor delivers is a
capability of its profile, so that one test runs per vendor on its default protocol (and
for CDK over STAR as well).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import CUSTOMERS, DATA_TYPES, NotSupportedError
from connectors.vendors import VENDOR_CODES, get_profile
from tests.connectors.conftest import PROTOCOLS

PAGE = 17  # deliberately not a divisor of the account size, so the last page is partial

per_protocol = pytest.mark.parametrize("protocol", PROTOCOLS)


def read_all(connector, data_type=CUSTOMERS, cursor=None, page_size=PAGE):
    """Read every page; return (pages, records in order)."""
    pages = list(connector.iter_changes(data_type, cursor=cursor, page_size=page_size))
    return pages, [record for page in pages for record in page.records]


@per_protocol
def test_paging_returns_every_record_exactly_once(contract):
    dms = contract.dms
    pages, records = read_all(dms)
    ids = [r.dms_id for r in records]
    assert len(ids) == len(set(ids)), "a record came twice"
    assert set(ids) == set(dms.list_ids(CUSTOMERS))
    assert len(pages) > 3 and all(p.has_more for p in pages[:-1]) and not pages[-1].has_more
    assert all(r.modified_at.tzinfo is not None and r.etag for r in records)


@pytest.mark.parametrize(
    "code",
    [pytest.param(f"contract-{v}", id=f"{v}-{get_profile(v).protocols[0]}") for v in VENDOR_CODES]
    + [pytest.param("contract-cdk-star", id="cdk-star")],
)
def test_every_pullable_type_pages_exactly_once(code, sandbox, connector_for):
    dms = connector_for(code)
    profile = get_profile(sandbox.accounts[code])
    for data_type in DATA_TYPES:
        if not profile.can_pull(data_type):
            with pytest.raises(NotSupportedError):
                dms.iter_changes(data_type)
            continue
        _, records = read_all(dms, data_type, page_size=50)
        ids = [r.dms_id for r in records]
        assert ids and len(ids) == len(set(ids)) == len(set(dms.list_ids(data_type))), data_type


@per_protocol
def test_reread_from_last_cursor_returns_nothing_new(contract):
    dms = contract.dms
    pages, _ = read_all(dms)
    again, records = read_all(dms, cursor=pages[-1].next_cursor)
    assert records == []
    assert again[-1].next_cursor == pages[-1].next_cursor


@per_protocol
def test_resume_from_every_intermediate_cursor_loses_nothing(contract):
    dms = contract.dms
    pages, records = read_all(dms)
    assert len(pages) > 1  # intermediate cursors exist
    seen_before = 0
    for page in pages:
        seen_before += len(page.records)
        _, rest = read_all(dms, cursor=page.next_cursor)
        assert [r.dms_id for r in rest] == [r.dms_id for r in records[seen_before:]]


@per_protocol
def test_cursor_in_the_future_returns_nothing(contract):
    dms = contract.dms
    future = datetime.now(UTC) + timedelta(days=1)
    _, records = read_all(dms, cursor=dms.cursor_at(future))
    assert records == []


@per_protocol
def test_modified_since_is_inclusive(contract):
    dms = contract.dms
    _, records = read_all(dms)
    pivot = records[len(records) // 2]
    _, since = read_all(dms, cursor=dms.cursor_at(pivot.modified_at))
    assert pivot.dms_id in {r.dms_id for r in since}
    assert all(r.modified_at >= pivot.modified_at for r in since)
    assert {r.dms_id for r in records if r.modified_at >= pivot.modified_at} == {r.dms_id for r in since}


@per_protocol
def test_edits_made_during_a_read_are_caught_by_the_next_read(contract, sandbox):
    code, dms = contract.code, contract.dms
    start, _ = read_all(dms)  # position the cursor at the end of everything so far
    cursor = start[-1].next_cursor
    # Make some new changes, then read them page by page while staff keep editing.
    for n in range(1, 31):
        sandbox.control.edit_record(code, CUSTOMERS, f"C{n:07d}", {"city": f"Before {n}"})
    pages = dms.iter_changes(CUSTOMERS, cursor=cursor, page_size=7)
    first = next(pages)
    already_read = first.records[0].dms_id
    not_yet_read = "C0000030"
    sandbox.control.edit_record(code, CUSTOMERS, already_read, {"city": "Edited mid-read"})
    sandbox.control.edit_record(code, CUSTOMERS, not_yet_read, {"city": "Edited ahead"})
    rest = list(pages)
    final_cursor = rest[-1].next_cursor if rest else first.next_cursor
    _, next_read = read_all(dms, cursor=final_cursor)
    latest = {}
    for record in [*first.records, *(r for p in rest for r in p.records), *next_read]:
        latest[record.dms_id] = record  # later reads win, as in the mirror
    assert latest[already_read].city == "Edited mid-read"
    assert latest[not_yet_read].city == "Edited ahead"
    assert {f"C{n:07d}" for n in range(1, 31)} <= set(latest)
    # and once caught up, nothing more
    assert read_all(dms, cursor=(read_all(dms, cursor=final_cursor)[0][-1].next_cursor))[1] == []


@per_protocol
def test_deleted_records_disappear_from_list_ids(contract, sandbox):
    code, dms = contract.code, contract.dms
    victim = "C0000099"
    assert dms.fetch_one(CUSTOMERS, victim) is not None
    sandbox.control.delete_record(code, CUSTOMERS, victim)
    assert victim not in set(dms.list_ids(CUSTOMERS, page_size=25))
    assert dms.fetch_one(CUSTOMERS, victim) is None


@per_protocol
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page_size=st.integers(min_value=1, max_value=130), stop_after=st.integers(min_value=0, max_value=20))
def test_any_page_size_and_any_resume_point_read_each_record_once(page_size, stop_after, contract):
    dms = contract.dms
    expected = set(dms.list_ids(CUSTOMERS))
    seen, cursor = [], None
    pages = dms.iter_changes(CUSTOMERS, page_size=page_size)
    for number, page in enumerate(pages):  # stop part-way, as a crashed job would
        seen.extend(r.dms_id for r in page.records)
        cursor = page.next_cursor
        if number == stop_after:
            break
    _, rest = read_all(dms, cursor=cursor, page_size=page_size)
    seen.extend(r.dms_id for r in rest)
    assert len(seen) == len(set(seen)) and set(seen) == expected
