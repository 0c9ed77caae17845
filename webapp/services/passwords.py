"""Password hashing with argon2id (argon2-cffi).

Werkzeug's default scrypt parameters are below OWASP's minimum; argon2-cffi's default
profile (RFC 9106 low-memory: t=3, m=64 MiB, p=4) is well above it. Tests lower the cost
through ``ARGON2_PROFILE=test`` in the app config to stay fast.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context

_PRODUCTION = PasswordHasher()
# Cheap parameters, only ever selected by the test configuration.
_TEST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
# A hash of a random password, verified against when the account does not exist, so a
# login attempt takes the same time whether or not the e-mail is known.
_DUMMY_HASH: dict[str, str] = {}


def _hasher() -> PasswordHasher:
    if has_app_context() and current_app.config.get("ARGON2_PROFILE") == "test":
        return _TEST
    return _PRODUCTION


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; never raises for a wrong or malformed hash."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def burn_time() -> None:
    """Spend the time one verification takes (unknown e-mail: do not reveal it)."""
    hasher = _hasher()
    key = "test" if hasher is _TEST else "prod"
    if key not in _DUMMY_HASH:
        _DUMMY_HASH[key] = hasher.hash("not-a-real-password")
    verify_password(_DUMMY_HASH[key], "still-not-the-password")
