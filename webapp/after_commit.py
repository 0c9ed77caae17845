"""Work that must follow a commit: queued on the session, run once its transaction commits,
forgotten when the transaction rolls back.

Jobs that read rows written in the request (a push delivery, a notification e-mail) must not
be queued before those rows are visible, nor at all when they are not written. A module
registers a handler for its kind of work (:func:`handler`) and queues items with :func:`defer`.
A savepoint rolled back inside the transaction does not forget what the rest of it queued.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "dms-console.after-commit"
_HANDLERS: dict[str, Callable[[list[Any]], None]] = {}


def handler(kind: str) -> Callable[[Callable[[list[Any]], None]], Callable[[list[Any]], None]]:
    """Register the function run with the items of ``kind`` after each commit that has some."""

    def register(func: Callable[[list[Any]], None]) -> Callable[[list[Any]], None]:
        _HANDLERS[kind] = func
        return func

    return register


def defer(session: Session, kind: str, item: Any) -> None:
    """Run ``kind``'s handler with ``item`` once the session's transaction commits (each item once)."""
    pending = session.info.setdefault(_KEY, {}).setdefault(kind, [])
    if item not in pending:
        pending.append(item)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for kind, items in (session.info.pop(_KEY, None) or {}).items():
        _HANDLERS[kind](items)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """The transaction's rows were never written: nothing to do for them. A savepoint's rollback
    (its outer transaction goes on, and may commit) forgets nothing."""
    if previous_transaction.parent is None:
        session.info.pop(_KEY, None)
