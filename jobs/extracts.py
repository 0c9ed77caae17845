"""Daily data files (PBS, CDK, Reynolds, Tekion): import the day's extract when it appears.

The vendor drops a CSV into the location's folder. The dispatcher checks it every 15 s;
a file is imported once (its name and modification time are remembered as the cursor of
the pseudo data type ``file:<type>``), in pages, the same way a pull stores pages. Bad
rows are reported with their line numbers and the rest of the file is still read.

A file's record counts as changed only when its content differs from the mirror's copy
(:func:`webapp.services.mirror.unchanged_file_records`): a file carries no ETag, so comparing content
hashes with the pulled records' would call every record changed.
"""

from __future__ import annotations

import os
from itertools import islice
from pathlib import Path

from sqlalchemy import select

from connectors import DmsError
from connectors.extract import DailyExtract, latest_extract
from jobs.claim import LOCK_LOST, LockLost, claim, run_to_execute, skip_run
from jobs.pull_pages import PAGE_SIZE
from webapp.extensions import db
from webapp.models import Location, RunStatus, RunTrigger, SyncCursor, SyncRun, utcnow
from webapp.services.locks import RunLock
from webapp.services.mirror import prepare_page, store_page, unchanged_file_records, without
from webapp.services.runs import FILE_IMPORTED_AGAIN, IMPORT_JOB, start_run


def _file_marker(path: Path) -> str:
    stat = path.stat()
    return f"{path.name}@{int(stat.st_mtime)}:{stat.st_size}"


def _marker_row(location_id: int, data_type: str) -> SyncCursor:
    key = f"file:{data_type}"
    row = db.session.scalar(
        select(SyncCursor).where(SyncCursor.location_id == location_id, SyncCursor.data_type == key)
    )
    if row is None:
        row = SyncCursor(location_id=location_id, data_type=key)
        db.session.add(row)
        db.session.flush()
    return row


def _drop_folder(location: Location) -> Path | None:
    """The location's daily-file folder on this machine (a name is under ``STORAGE_DIR``)."""
    from webapp.storage import drop_folder

    return drop_folder(location.dms_extract_dir)


def enqueue_import_if_new(location: Location, data_type: str) -> SyncRun | None:
    """Queue an import when the newest extract has not been imported yet."""
    folder = _drop_folder(location)
    if folder is None or not folder.is_dir():
        return None
    path = latest_extract(folder, data_type)
    if path is None or _marker_row(location.id, data_type).cursor == _file_marker(path):
        db.session.commit()
        return None
    # The run names the file alone: the worker that imports it finds it in the folder as its own
    # machine mounts the storage.
    return start_run(location.id, data_type, RunTrigger.FILE, IMPORT_JOB, cursor_before=path.name)


def _file_of(location: Location, named: str) -> Path:
    """The file a run names, in the location's folder on this machine (runs queued before names
    alone were recorded carry the whole path: its last part is the name)."""
    folder = _drop_folder(location)
    return folder / Path(named).name if folder is not None and named else Path(named)


def run_import(run_id: int) -> dict | None:
    """Import the extract named by the run, page by page. Re-running it writes nothing new."""
    run = run_to_execute(run_id)
    if run is None:
        return None
    location = db.session.get(Location, run.location_id)
    claimed = claim(run, uses_dms=False)  # a file in a folder: the location's DMS is not asked
    if claimed is None:
        return skip_run(
            run,
            "Nothing to do: the console checks the folder every minute and imports the newest "
            "file in it once the other run has finished.",
        )
    lock, _no_slot = claimed
    try:
        with lock.kept():  # kept alive while the file is read; given back at the end
            run.status = RunStatus.RUNNING
            db.session.commit()
            path = _file_of(location, run.cursor_before or "")
            if not path.is_file():
                run.status = RunStatus.FAILED
                run.error = f"Nothing imported: the daily data file {path.name} is no longer in the folder."
                run.fix_hint = (
                    "Nothing to do if it was replaced: the console checks the folder every minute and "
                    "imports the next file the DMS drops."
                )
            else:
                _import_file(run, location, path, lock)
            run.finished_at = utcnow()
            db.session.commit()
            return {"status": run.status.value, "fetched": run.fetched}
    except BaseException:
        db.session.rollback()
        raise


def _import_file(run: SyncRun, location: Location, path: Path, lock: RunLock) -> None:
    """Read the file page by page into the mirror; a file the reader refuses fails the run."""
    try:
        extract = DailyExtract(path, run.data_type)
        records = iter(extract)
        while page := list(islice(records, PAGE_SIZE)):
            if not lock.renew():  # held until the page is committed: another run may have it now
                raise LockLost()
            # The columns the file carries (its header, as the reader parsed it): a field the file
            # leaves out is not read as emptied.
            carried = frozenset(extract.reader.header) if extract.reader.header is not None else None
            # Changed is decided by content: a file has no ETag, so its hashes never match the pull's.
            prepared = prepare_page(run.data_type, page)
            same = unchanged_file_records(db.session, location, prepared, carried)
            result = store_page(db.session, location, run.data_type, without(prepared, same), run_id=run.id)
            run.fetched += len(page)
            run.created += result.created
            run.updated += result.updated
            run.unchanged += result.unchanged + len(same)
            db.session.commit()
        problems = extract.problems
        run.failed = len(problems)
        run.notes = [f"line {p.line_number}: {p.message}" for p in problems[:25]]
        _marker_row(location.id, run.data_type).cursor = _file_marker(path)
        run.cursor_after = os.path.basename(path)
        run.status = RunStatus.SUCCEEDED
        if problems:
            run.fix_hint = (
                "The rows listed in the notes could not be read and were skipped; the rest of the "
                "file was imported. Correct those records in the DMS: the next daily file brings "
                "them in."
            )
    except LockLost:
        db.session.rollback()  # the file is not marked imported: the next check imports it again
        run.status = RunStatus.FAILED
        run.error = LOCK_LOST
        run.fix_hint = FILE_IMPORTED_AGAIN
    except DmsError as exc:  # the file as a whole is unreadable (e.g. its header lacks a column)
        db.session.rollback()
        _marker_row(location.id, run.data_type).cursor = _file_marker(path)  # not retried every minute
        run.status = RunStatus.FAILED
        run.error = f"The daily data file was not imported: {exc.message}."
        run.fix_hint = (
            "The console imports the next file the DMS drops (it checks the folder every minute). "
            "If that one is refused too, contact the DMS vendor or support with this message."
        )
