"""DMS credentials encrypted at rest (Fernet, with key rotation through MultiFernet).

A location's credentials (the dict of its protocol's ``CredentialField`` values) are stored
as one Fernet token of their JSON. The keys come from ``CREDENTIALS_KEYS`` (comma-separated
Fernet keys; the first encrypts, every one decrypts, so a new key is put first and the old
ones stay until ``flask rotate-credentials`` has re-encrypted every location). Without the
setting, a self-hosted install uses a random key generated once into
``instance/credentials_key`` (owner-readable only, never committed) — kept apart from the
secret key so that rotating ``SECRET_KEY`` (which signs sessions) does not lose the
credentials. That file is one machine's: an install whose web servers and workers run on several
machines sets the same ``CREDENTIALS_KEYS`` on each (README, "Production deployment").

Plaintext credentials are only ever held in memory to build a connector; they are never
logged, never put in exceptions and never rendered back into a page.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

from connectors import AuthenticationError
from webapp.config import instance_secret

KEY_FILE_NAME = "credentials_key"


class CredentialsUnreadable(AuthenticationError):
    """Stored credentials cannot be decrypted with any configured key (key lost or replaced).

    An :class:`~connectors.base.AuthenticationError`, so jobs and pages that already handle
    a refused sign-in show its fix hint instead of failing with a crash.
    """

    default_hint = (
        "The stored DMS credentials can no longer be read (the server's encryption key changed). "
        "Ask a Global Admin to enter this location's DMS credentials again (Admin → Locations)."
    )


def _instance_key(instance_dir: Path) -> str:
    """The install's own key under ``instance/``, created on first use."""
    return instance_secret(instance_dir, KEY_FILE_NAME, lambda: Fernet.generate_key().decode())


def configured_keys(app: Flask | None = None) -> tuple[str, ...]:
    """The keys in use, current first: ``CREDENTIALS_KEYS`` or the instance key file."""
    app = app or current_app
    setting = app.config.get("CREDENTIALS_KEYS") or ""
    if isinstance(setting, (list, tuple)):
        keys = tuple(str(k).strip() for k in setting if str(k).strip())
    else:
        keys = tuple(k.strip() for k in str(setting).split(",") if k.strip())
    if keys:
        return keys
    return (_instance_key(Path(app.config.get("INSTANCE_DIR") or app.instance_path)),)


@functools.lru_cache(maxsize=8)
def _multi_fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        # Never echo the key itself.
        raise ValueError(
            "CREDENTIALS_KEYS holds a value that is not a Fernet key (32 url-safe "
            "base64-encoded bytes; make one with `flask new-credentials-key`)"
        ) from None


def _box(app: Flask | None = None) -> MultiFernet:
    return _multi_fernet(configured_keys(app))


def encrypt(credentials: Mapping[str, Any], app: Flask | None = None) -> str:
    """A Fernet token (text) of the credentials' JSON, with the current key."""
    plain = json.dumps(dict(credentials), sort_keys=True, separators=(",", ":")).encode()
    return _box(app).encrypt(plain).decode()


def decrypt(token: str, app: Flask | None = None) -> dict[str, str]:
    """The credentials dict in ``token``; :class:`CredentialsUnreadable` when no key opens it."""
    try:
        plain = _box(app).decrypt(token.encode())
    except InvalidToken:
        raise CredentialsUnreadable("The stored DMS credentials cannot be decrypted") from None
    value = json.loads(plain)
    return {str(k): "" if v is None else str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def rotate(token: str, app: Flask | None = None) -> str:
    """``token`` re-encrypted with the current key (CredentialsUnreadable if no key opens it)."""
    try:
        return _box(app).rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("The stored DMS credentials cannot be decrypted") from None


def new_key() -> str:
    """A fresh Fernet key (for CREDENTIALS_KEYS)."""
    return Fernet.generate_key().decode()
