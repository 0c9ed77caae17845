"""Admin -> Locations "Test connection": sign in, then read one record of each data type.

The test is time-limited as a whole (``budget`` seconds) and per call (``call_timeout``),
so a hanging DMS cannot hold the request. Each row says what worked and, for what did not,
the error's title and its plain-language fix hint. Credentials are never part of a result
or of a log line.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import connectors
from connectors import AuthenticationError, DmsError, NotSupportedError, TransientDmsError
from connectors.records import kind_of

log = logging.getLogger(__name__)

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class CheckResult:
    """One row of the test: ``status`` is ok, failed or skipped (not tried)."""

    name: str
    status: str
    detail: str
    error_class: str | None = None
    title: str | None = None
    fix_hint: str | None = None

    @property
    def ok(self) -> bool:
        """True when this step worked."""
        return self.status == OK


def _failure(name: str, exc: DmsError) -> CheckResult:
    return CheckResult(
        name,
        FAILED,
        str(exc.message if hasattr(exc, "message") else exc),
        error_class=type(exc).__name__,
        title=exc.title,
        fix_hint=exc.fix_hint,
    )


def _read_one(dms: Any, data_type: str, timeout: float) -> int:
    """Read the first page (of one record) of ``data_type``; the number of records it held."""
    pages = iter(dms.iter_changes(data_type, page_size=1, timeout=timeout))
    try:
        page = next(pages, None)
    finally:
        close = getattr(pages, "close", None)
        if close:
            close()
    return len(page.records) if page is not None else 0


def run_connection_test(
    vendor: str, settings: Mapping[str, Any], *, call_timeout: float, budget: float
) -> list[CheckResult]:
    """Sign in to ``vendor`` with ``settings`` (what ``connectors.connect`` takes) and read one
    record of each data type the vendor offers; one :class:`CheckResult` per step."""
    deadline = time.monotonic() + budget
    profile = connectors.get_profile(vendor)
    data_types = [t for t in connectors.DATA_TYPES if profile.can_pull(t)]
    try:
        dms = connectors.connect(vendor, {**settings, "timeout": call_timeout})
    except ValueError as exc:  # incomplete settings or a protocol the vendor does not offer
        return [
            CheckResult(
                "Sign-in",
                FAILED,
                str(exc),
                error_class="ValueError",
                title="Incomplete settings",
                fix_hint="Fill in every DMS field of this location, then test again.",
            )
        ]
    except ImportError:
        return [
            CheckResult(
                "Sign-in",
                FAILED,
                "This protocol is not available in this version of the console.",
                error_class="ImportError",
                title="Protocol not available",
                fix_hint="Choose another protocol the DMS offers.",
            )
        ]
    results: list[CheckResult] = []
    # Only a read that worked shows the DMS accepted the credentials: a 404 or unreadable data can
    # come before or without a sign-in, and a refusal made here (no call) says nothing about it.
    signed_in = False
    answered = False  # the DMS answered something; False while every step was refused here or not tried
    try:
        for data_type in data_types:
            name = kind_of(data_type).label
            remaining = deadline - time.monotonic()
            if remaining <= 0.5:
                results.append(CheckResult(name, SKIPPED, "Not tried: the test's time limit was reached."))
                continue
            try:
                count = _read_one(dms, data_type, min(call_timeout, remaining))
            except (AuthenticationError, TransientDmsError) as exc:
                refused = isinstance(exc, AuthenticationError)
                if not signed_in and (refused or not answered):
                    # refused, or no answer at all: the other data types would fare the same
                    why = "sign-in failed" if refused else "the DMS did not answer"
                    results.insert(0, _failure("Sign-in", exc))
                    results += [
                        CheckResult(kind_of(t).label, SKIPPED, f"Not tried: {why}.")
                        for t in data_types[data_types.index(data_type) :]
                    ]
                    return results
                results.append(_failure(name, exc))
                continue
            except NotSupportedError as exc:
                answered = answered or exc.status is not None  # no status: refused here, nothing was sent
                results.append(
                    CheckResult(
                        name,
                        SKIPPED,
                        exc.message,
                        error_class=type(exc).__name__,
                        title=exc.title,
                        fix_hint=exc.fix_hint,
                    )
                )
            except DmsError as exc:
                answered = True
                results.append(_failure(name, exc))
            except Exception:  # a connector bug must not take the page down; details go to the log
                answered = True  # unknown: it may have failed after the DMS answered
                log.exception("connection test: reading %s from %s failed unexpectedly", data_type, vendor)
                results.append(
                    CheckResult(
                        name,
                        FAILED,
                        "Unexpected error; the details are in the server log.",
                        error_class="Error",
                        title="Unexpected error",
                        fix_hint="Contact support with the time of this test.",
                    )
                )
            else:
                results.append(CheckResult(name, OK, "Read 1 record." if count else "Readable; no records yet."))
                if not signed_in:
                    signed_in = answered = True
                    results.insert(0, CheckResult("Sign-in", OK, "The DMS accepted the credentials."))
    finally:
        dms.close()
    if not signed_in and not answered:
        why = "no data type was read from the DMS" if data_types else "this DMS offers no data type to read"
        results.insert(0, CheckResult("Sign-in", SKIPPED, f"Not tried: {why}."))
    # The DMS answered but no read worked: whether it accepted the credentials is not known, so no
    # Sign-in row claims either; the rows below say what failed and how to fix it.
    return results
