"""The daily-extract CSV reader: quoting, BOM, blank lines, bad rows with line numbers."""

from __future__ import annotations

import pytest

from connectors import CUSTOMERS, NotSupportedError
from connectors.extract import DailyExtract, ExtractReader, latest_extract

HEADER = "dms_id,modified_at,kind,first_name,last_name,company_name,phones,emails,address_line1,city\r\n"


def write(tmp_path, text: str | bytes, name="customers_20260101.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_bom_quoting_and_blank_lines(tmp_path):
    path = write(
        tmp_path,
        "\ufeff"
        + HEADER
        + 'C1,2026-01-01T00:00:00Z,person,Ann,"O\'Neil, Jr.",,"(555) 123-4567|555.987.6543",ann@x.com,'
        '"1 Main St\nSuite 4",Austin\r\n'
        "\r\n\r\n"
        'C2,2026-01-02T00:00:00Z,business,,Smith,"Smith ""Big"" Hauling",,,,Reno\r\n',
    )
    extract = DailyExtract(path, CUSTOMERS)
    records = list(extract)
    assert extract.problems == []
    assert [r.dms_id for r in records] == ["C1", "C2"]
    assert records[0].last_name == "O'Neil, Jr." and records[0].address_line1 == "1 Main St\nSuite 4"
    assert records[0].phones == ("(555) 123-4567", "555.987.6543")
    assert records[1].company_name == 'Smith "Big" Hauling' and records[1].kind == "business"


def test_bad_rows_are_reported_with_line_numbers_and_the_rest_is_read(tmp_path):
    lines = [
        HEADER.strip(),  # 1
        "C1,2026-01-01T00:00:00Z,person,Ann,Lee,,,,,Austin",  # 2 good
        "C2,2026-01-01T00:00:00Z,person,Bob",  # 3 too few columns
        "",  # 4 blank
        ",2026-01-01T00:00:00Z,person,No,Id,,,,,Austin",  # 5 empty dms_id
        'C3,2026-01-01T00:00:00Z,person,Cy,"Multi\nLine",,,,,Austin',  # 6-7 good, two lines
        "C4,not-a-date,person,Dee,Fox,,,,,Austin",  # 8 bad timestamp
        "C5,2026-01-01T00:00:00Z,person,Eve,Gray,,,,,Austin,EXTRA",  # 9 too many columns
        "C6,2026-01-01T00:00:00Z,person,Fay,Hill,,,,,Austin",  # 10 good
    ]
    raw = ("\r\n".join(lines) + "\r\n").encode()
    raw += b"C7,2026-01-01T00:00:00Z,person,Gil,\xff\xfeBad,,,,,Austin\r\n"  # 11 invalid UTF-8
    raw += b"C8,2026-01-01T00:00:00Z,person,Hal,Ives,,,,,Austin\r\n"  # 12 good
    extract = DailyExtract(write(tmp_path, raw), CUSTOMERS)
    assert [r.dms_id for r in extract] == ["C1", "C3", "C6", "C8"]
    assert [(p.line_number, p.message.split(":")[0].split(" ")[0]) for p in extract.problems] == [
        (3, "expected"),
        (5, "empty"),
        (8, "bad"),
        (9, "expected"),
        (11, "row"),
    ]
    assert "C2" in extract.problems[0].raw


def test_header_only_with_bom_and_missing_required_column(tmp_path):
    assert list(ExtractReader(write(tmp_path, "\ufeffdms_id,city\r\n"))) == []
    with pytest.raises(Exception) as caught:
        list(ExtractReader(write(tmp_path, "id,city\r\nC1,Austin\r\n", "customers_x.csv")))
    assert "dms_id" in str(caught.value)


@pytest.mark.parametrize("account", ["contract-cdk", "contract-cdk-star"])
def test_sandbox_writes_extract_that_the_connector_reads(account, sandbox, connector_for, tmp_path):
    """Every protocol's connector reads the vendor's daily files (CDK over the console dialect and over STAR)."""
    dms = connector_for(account)
    path = sandbox.control.write_extract(account, CUSTOMERS, directory=tmp_path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, like the vendors' files
    assert latest_extract(tmp_path, CUSTOMERS) == path
    extract = dms.read_daily_extract(CUSTOMERS, path)
    from_file = {r.dms_id: r for r in extract}
    assert extract.problems == []
    assert set(from_file) == set(dms.list_ids(CUSTOMERS))
    live = dms.fetch_one(CUSTOMERS, "C0000002")
    assert from_file["C0000002"].phones == live.phones and from_file["C0000002"].last_name == live.last_name
    # default drop folder from settings
    sandbox.control.write_extract(account, "vehicles")
    assert len(list(dms.read_daily_extract("vehicles"))) == len(list(dms.list_ids("vehicles")))


def test_vendor_without_daily_file(connector_for):
    with pytest.raises(NotSupportedError):
        connector_for("contract-karmak").read_daily_extract(CUSTOMERS)
