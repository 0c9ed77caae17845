"""Reader for daily data files (CSV extracts) dropped into a folder by PBS, CDK, Reynolds, Tekion.

Real extracts are messy: a UTF-8 byte-order mark at the start, quoted fields with commas
and line breaks, blank lines, the odd row with too few columns or a bad byte. The reader
streams the file, yields every good row with the line number it starts on, and records
each bad row as an :class:`ExtractProblem` (line number + reason) without stopping, so
one broken row never costs the rest of the file.

Multi-valued columns (``phones``, ``emails``) are separated by ``|``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import CUSTOMERS, VEHICLES, DmsError, DmsRecord, record_from_dict

LIST_COLUMNS = ("phones", "emails")
EXTRACT_DATA_TYPES = (CUSTOMERS, VEHICLES)


@dataclass(frozen=True)
class ExtractProblem:
    """A row that could not be read: where it starts, why, and its raw text (shortened)."""

    line_number: int
    message: str
    raw: str = ""


@dataclass(frozen=True)
class ExtractRow:
    """A good row: the line it starts on and its values by column name."""

    line_number: int
    values: dict[str, str]


class ExtractReader:
    """Iterate the rows of one CSV extract; bad rows end up in :attr:`problems`.

    ``required_columns`` must be present in the header (otherwise the whole file is
    refused with :class:`DmsError`) and non-empty in every row.
    """

    def __init__(self, path: Path | str, required_columns: tuple[str, ...] = ("dms_id",)) -> None:
        self.path = Path(path)
        self.required_columns = required_columns
        self.problems: list[ExtractProblem] = []
        #: The columns of the header row (lower case), once iteration has read it; None before.
        self.header: list[str] | None = None

    def __iter__(self) -> Iterator[ExtractRow]:
        """Yield good rows in file order (streamed; the file is never loaded whole)."""
        # utf-8-sig drops a leading BOM; errors="replace" lets us report a bad byte per row
        # instead of failing the whole file.
        with open(self.path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.reader(handle)
            header: list[str] | None = None
            self.header = None
            last_line = 0
            while True:
                start = last_line + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    last_line = reader.line_num
                    self.problems.append(ExtractProblem(start, f"unreadable CSV: {error}"))
                    continue
                last_line = reader.line_num
                if not cells or all(not cell.strip() for cell in cells):
                    continue  # blank line
                if header is None:
                    header = [cell.replace("\ufeff", "").strip().lower() for cell in cells]
                    self.header = header
                    missing = [c for c in self.required_columns if c not in header]
                    if missing:
                        raise DmsError(
                            f"{self.path.name}: header lacks column(s) {', '.join(missing)}",
                            fix_hint="The daily file is not in the expected format; contact support.",
                        )
                    continue
                raw = ",".join(cells)[:200]
                if len(cells) != len(header):
                    self.problems.append(
                        ExtractProblem(start, f"expected {len(header)} columns, found {len(cells)}", raw)
                    )
                    continue
                if any("\ufffd" in cell for cell in cells):
                    self.problems.append(ExtractProblem(start, "row contains bytes that are not valid UTF-8", raw))
                    continue
                values = dict(zip(header, cells))
                empty = [c for c in self.required_columns if not values.get(c, "").strip()]
                if empty:
                    self.problems.append(ExtractProblem(start, f"empty required column(s): {', '.join(empty)}", raw))
                    continue
                yield ExtractRow(start, values)


class DailyExtract:
    """Records of one data type read from a daily extract file; bad rows go to :attr:`problems`.

    >>> extract = DailyExtract("drop/customers_20260101.csv", "customers")
    >>> for customer in extract: ...          # doctest: +SKIP
    >>> extract.problems                       # [ExtractProblem(line_number=17, ...)]
    """

    def __init__(self, path: Path | str, data_type: str) -> None:
        if data_type not in EXTRACT_DATA_TYPES:
            raise ValueError(f"daily extracts carry {', '.join(EXTRACT_DATA_TYPES)}, not {data_type}")
        self.path = Path(path)
        self.data_type = data_type
        self.reader = ExtractReader(path, ("dms_id", "modified_at"))

    @property
    def problems(self) -> list[ExtractProblem]:
        """Bad rows found so far (complete once iteration has finished)."""
        return self.reader.problems

    def __iter__(self) -> Iterator[DmsRecord]:
        """Yield normalised records (Customer or Vehicle)."""
        for row in self.reader:
            data: dict[str, Any] = dict(row.values)
            for column in LIST_COLUMNS:
                if column in data:
                    data[column] = [part.strip() for part in data[column].split("|") if part.strip()]
            try:
                yield record_from_dict(self.data_type, data)
            except (DmsError, ValueError, TypeError) as error:
                self.reader.problems.append(ExtractProblem(row.line_number, f"bad value: {error}"))


def latest_extract(directory: Path | str, data_type: str) -> Path | None:
    """The newest ``<data_type>_*.csv`` in a drop folder (names sort by their timestamp), or None."""
    folder = Path(directory)
    if not folder.is_dir():
        return None
    candidates = sorted(folder.glob(f"{data_type}_*.csv"))
    return candidates[-1] if candidates else None


def resolve_drop_folder(setting: str | Path | None, root: str | Path) -> Path | None:
    """Where a location's drop folder is on this machine: a relative setting (a name such as
    ``northside``) under ``root``, the install's storage that every machine mounts; an absolute
    one as it is (a single machine, or storage mounted at that same path everywhere). None when
    unset, or when a relative name would climb out of ``root`` (``..``)."""
    if not setting or not str(setting).strip():
        return None
    path = Path(str(setting).strip())
    if path.is_absolute():
        return path
    if ".." in path.parts:
        return None
    return Path(root) / path
