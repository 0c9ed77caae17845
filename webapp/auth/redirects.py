"""The one check for every ``next`` / return-to address: a path on this site, nothing else.

Browsers are lenient where servers are strict: they drop TAB, CR and LF anywhere in a URL,
turn ``\\`` into ``/``, and read ``//host`` as another site. So ``/%09/evil.example`` (a path
to Python) becomes ``//evil.example`` (another site) to the browser. A value is accepted only
when it is printable ASCII without a backslash, parses (with :func:`urllib.parse.urlsplit`)
to no scheme and no host, and starts with a single ``/`` — checked on the value and on
its percent-decoded forms, so encoded variants cannot slip through either.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_LENGTH = 1000


def _plain(value: str) -> bool:
    """Printable ASCII, no space, no backslash (what a browser could reinterpret)."""
    return all(0x21 <= ord(ch) <= 0x7E for ch in value) and "\\" not in value


def _local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unbalanced "[" in what would be the host
        return False
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def _decoded_safe(value: str) -> bool:
    """A percent-decoded form: no control character, still a local path, no backslash in
    the path (spaces and accents are fine here: they were encoded in the value itself)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    path = value.split("?", 1)[0].split("#", 1)[0]
    return "\\" not in path and _local_path(value)


def safe_next(value: str | None, fallback: str | None = None, *, max_length: int = MAX_LENGTH) -> str | None:
    """``value`` when it is a path on this site, else ``fallback``.

    Refused: other hosts (``//host``, ``https://host``), schemes (``javascript:``), TAB/CR/LF
    and other control characters or spaces, backslashes, non-ASCII, and any of those hidden
    behind percent-encoding (decoded up to three times).
    """
    if not isinstance(value, str) or not value or len(value) > max_length:
        return fallback
    if not _plain(value) or not _local_path(value):
        return fallback
    candidate = value
    for _ in range(3):
        decoded = unquote(candidate)
        if decoded == candidate:
            return value
        if not _decoded_safe(decoded):
            return fallback
        candidate = decoded
    return value if unquote(candidate) == candidate else fallback
