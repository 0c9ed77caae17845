"""One sentence for a DMS failure, as background jobs show it on runs and records (the wait
before the next try is :mod:`webapp.services.retry_policy`'s).

It says what happened in plain words and blames the DMS only when the DMS is the cause; the
fix hint shown beside it says what the console does next and what a person can do.
"""

from __future__ import annotations

import math

from connectors import AuthenticationError, DmsError, MalformedResponseError, TransientDmsError


def _sentence(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def describe_dms_error(exc: DmsError, attempts: int) -> str:
    """What went wrong, in staff's words (the fix hint is shown beside it); ``attempts``: how many
    times the request was made (1 when the job does not retry)."""
    if isinstance(exc, MalformedResponseError):
        return f"The DMS sent data the console cannot read: {exc.message}"
    if isinstance(exc, AuthenticationError):
        return f"The DMS did not accept the console's sign-in (dealer account or credentials): {exc.message}"
    if isinstance(exc, TransientDmsError):
        again = attempts > 1
        tries = f"{attempts} tries" if again else "one try"
        return _sentence(f"Stopped after {tries}: {_transient(exc, again)}")
    return _sentence(exc.message)


def describe_failed_try(exc: TransientDmsError, attempt: int, of: int) -> str:
    """One try of several did not get through (the next is queued): what the DMS did."""
    return _sentence(f"Try {attempt} of {of} did not get through: {_transient(exc, False)}")


def _transient(exc: TransientDmsError, again: bool) -> str:
    status = exc.status or 0
    if status == 429:
        return f"the DMS {'kept asking' if again else 'asked'} the console to slow down (too many requests)"
    if status >= 500:
        return f"the DMS {'kept answering' if again else 'answered'} with an error on its side ({exc.message})"
    return exc.message  # timeouts and connection errors name their cause themselves


def in_about(delay: float) -> str:
    """``delay`` seconds as a fix hint says it: "about a second", "about 8 seconds"."""
    seconds = max(1, math.ceil(delay))
    return "about a second" if seconds == 1 else f"about {seconds} seconds"
