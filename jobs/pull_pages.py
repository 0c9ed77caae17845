"""Reading a pull's pages: the DMS's changes, page by page, parsed and prepared for the mirror
while the pull job (jobs/pulls.py) writes the previous page.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import NamedTuple

from connectors import TransientDmsError
from webapp.models import Location
from webapp.services.mirror import PreparedPage, prepare_page
from webapp.services.runs import NEXT_PULL_CONTINUES

PAGE_SIZE = int(os.environ.get("PULL_PAGE_SIZE", "1000"))
CALL_TIMEOUT = 30.0  # seconds per DMS request during a pull
PREFETCH_PAGES = int(os.environ.get("PULL_PREFETCH_PAGES", "2"))  # pages read ahead while one is written
# Where a pull reads and prepares its pages while it writes the previous one: "process" (a
# forked reading process: the two use two cores) or "thread" (one core; where fork is not
# available, or to debug). See pages_of.
READER = os.environ.get("PULL_READER", "process" if hasattr(os, "fork") else "thread")


class PageSummary(NamedTuple):
    """What the pull loop needs of a page besides its prepared records."""

    count: int
    next_cursor: str | None
    earliest_change: datetime | None  # the oldest modification time in the page (None: empty page)
    more_pages: bool = False  # more pages follow


def _prepared(dms, data_type: str, resume: str | None) -> Iterator[tuple[PageSummary, PreparedPage]]:
    """The DMS's pages of changes from ``resume`` on, each summarised, with its
    :func:`~webapp.services.mirror.prepare_page` work done."""
    for page in dms.iter_changes(data_type, cursor=resume, page_size=PAGE_SIZE):
        earliest = min(r.modified_at for r in page.records) if page.records else None
        summary = PageSummary(len(page.records), page.next_cursor, earliest, page.has_more)
        yield summary, prepare_page(data_type, page.records)


def pages_of(dms, location: Location, data_type: str, resume: str | None) -> Iterator:
    """The prepared pages of the changes from ``resume`` on, read ahead of the writing.

    Reading a page (HTTP, JSON, parsing) and preparing it (encoding, hashing, normalising,
    search tokens) is half of a pull's work, and the writing of the previous page the other
    half. In a thread the two still take turns on the interpreter lock; in a reading process
    they run on two cores at once (tests/bench/pull.py).
    """
    if READER == "process":
        return _first_here_then_reading_process(dms, location, data_type, resume)
    return prefetched(_prepared(dms, data_type, resume))


def _first_here_then_reading_process(dms, location: Location, data_type: str, resume: str | None) -> Iterator:
    """The first page read here, the pages after it (if any) by a reading process: most pulls are
    one page of a few changes, and forking a reader for them cost more than the rest of the pull."""
    pages = _prepared(dms, data_type, resume)
    first = next(pages, None)
    pages.close()
    if first is None:
        return
    yield first
    if first[0].more_pages:
        settings = {**location.connector_settings(), "timeout": CALL_TIMEOUT}
        yield from _from_reading_process(location.dms_vendor, settings, data_type, first[0].next_cursor)


def _from_reading_process(vendor: str, settings: dict, data_type: str, resume: str | None) -> Iterator:
    """Yield what :func:`_reading_process` sends: pages in order, then its error if it had one.

    The process is forked (it starts at once and inherits the configuration) and owns its
    own DMS connection; it never touches the database. Pages cross a pipe that holds about
    one page, so at most a page or two are read ahead and memory stays flat. Leaving the
    loop early stops the process.
    """
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    reader = context.Process(
        target=_reading_process,
        args=(sender, vendor, settings, data_type, resume),
        name=f"pull-reader-{data_type}",
        daemon=True,
    )
    reader.start()
    sender.close()
    try:
        while True:
            try:
                item, error = receiver.recv()
            except EOFError:
                raise TransientDmsError(
                    "the console's process reading the DMS stopped unexpectedly",
                    fix_hint=f"{NEXT_PULL_CONTINUES} If it happens again, contact support with the time of this run.",
                ) from None
            if error is not None:
                raise error
            if item == _FINISHED:
                return
            yield item
    finally:
        receiver.close()
        reader.join(timeout=1)
        if reader.is_alive():
            reader.terminate()
            reader.join(timeout=5)


_FINISHED = "finished"


def _reading_process(sender, vendor: str, settings: dict, data_type: str, resume: str | None) -> None:
    """The reading process: fetch, parse and prepare each page, and send it to the pull."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the worker's handlers: stopping it stops it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops this
    gc.freeze()  # what it inherits is the pull's, not garbage: collections need not walk it
    import connectors

    try:
        with connectors.connect(vendor, settings) as dms:
            for item in _prepared(dms, data_type, resume):
                sender.send((item, None))
        sender.send((_FINISHED, None))
    except BaseException as exc:
        try:
            sender.send((None, exc))
        except (OSError, EOFError):
            return  # the pull is gone: nobody to tell
        except Exception:
            sender.send(
                (None, TransientDmsError(f"the console could not read from the DMS ({type(exc).__name__}: {exc})"))
            )


_DONE = object()


def prefetched(pages: Iterable, depth: int = PREFETCH_PAGES) -> Iterator:
    """Yield ``pages`` while a helper thread already fetches the next ones from the DMS.

    The DMS works on its page, and the helper prepares it, while this worker writes the
    previous one to the database, so they overlap instead of taking turns. The iterator
    (and the connector's HTTP session) is used by the helper thread only; its errors are
    raised here, in order, after the pages that came before them. Leaving the loop early
    stops the thread at its next page.
    """
    if depth <= 0:
        yield from pages
        return
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        handoff.put((page, None), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            item = (_DONE, None)
        except BaseException as exc:  # handed to the consumer, raised there
            item = (None, exc)
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    thread = threading.Thread(target=fetch, name="pull-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            page, error = handoff.get()
            if error is not None:
                raise error
            if page is _DONE:
                return
            yield page
    finally:
        stop.set()
        thread.join(timeout=CALL_TIMEOUT + 5)
