"""Connector error classes and the vendor error catalogue row.

Every failure a connector reports derives from :class:`DmsError` and carries a
plain-language ``fix_hint`` the UI can show as-is. This module imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One row of a vendor's error catalogue: the vendor's code, a title and a fix hint."""

    code: str
    title: str
    fix_hint: str
    #: True for the rows taken from the seed 000 appointment-failure list.
    from_seed: bool = False


class DmsError(Exception):
    """Base of every connector error.

    ``fix_hint`` is plain language for dealership staff and can be shown as-is;
    ``vendor_code`` is the DMS's own error code when it sent one.
    """

    default_hint = "Try again later. If it keeps failing, contact support with this message."

    def __init__(
        self,
        message: str,
        *,
        fix_hint: str | None = None,
        vendor_code: str | None = None,
        entry: CatalogueEntry | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.entry = entry
        self.vendor_code = vendor_code or (entry.code if entry else None)
        self.fix_hint = fix_hint or (entry.fix_hint if entry else self.default_hint)
        self.status = status

    @property
    def title(self) -> str:
        """Catalogue title when known, otherwise the message."""
        return self.entry.title if self.entry else self.message


class TransientDmsError(DmsError):
    """Worth retrying later: timeout, connection refused, 5xx, or 429 rate limiting.

    ``retry_after`` is the DMS's Retry-After in seconds (``None`` when it gave none);
    jobs should wait at least that long.
    """

    default_hint = "The DMS is busy or unreachable; try again in a few minutes."

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthenticationError(DmsError):
    """The DMS rejected the credentials (wrong API key, account, or a token that can't be renewed)."""

    default_hint = (
        "The DMS did not accept the console's sign-in. Ask a Global Admin to check the dealer account "
        "and the DMS credentials (Admin → Locations)."
    )


class NotSupportedError(DmsError):
    """The vendor (or this location's DMS setup) does not offer the capability asked for."""

    default_hint = "This DMS does not support this action; do it directly in the DMS."


class DmsValidationError(DmsError):
    """The DMS refused the data; ``entry`` is the vendor catalogue row (title + fix hint)."""

    default_hint = "The DMS refused the data. Correct it and retry."


class ConflictError(DmsError):
    """The record changed in the DMS since we read it (ETag mismatch) or it is locked.

    For a locked appointment ``entry`` carries the vendor catalogue row; ``locked`` tells
    the two cases apart.
    """

    default_hint = "The record was changed in the DMS since it was read. Reload it and apply the change again."

    def __init__(self, message: str, *, locked: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.locked = locked


class MalformedResponseError(DmsError):
    """The DMS answered something we cannot read; names the record or page position."""

    default_hint = (
        "The DMS sent data the console could not read. Try again in a few minutes; if it keeps "
        "happening, contact support with this message."
    )

    def __init__(
        self,
        message: str,
        *,
        data_type: str | None = None,
        dms_id: str | None = None,
        position: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.data_type = data_type
        self.dms_id = dms_id
        self.position = position
