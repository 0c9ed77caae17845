"""One sentence for a DMS failure, as background jobs show it on runs and records."""
from __future__ import annotations

from connectors import AuthenticationError, DmsError, MalformedResponseError, TransientDmsError


def describe_dms_error(exc: DmsError, attempts: int) -> str:
    """What went wrong, in staff's words (the fix hint is shown beside it)."""
    if isinstance(exc, MalformedResponseError):
        return f"The DMS sent data we cannot read: {exc.message}"
    if isinstance(exc, AuthenticationError):
        return f"The DMS refused our credentials: {exc.message}"
    if isinstance(exc, TransientDmsError):
        return f"The DMS did not answer after {attempts} tries: {exc.message}"
    return exc.message
