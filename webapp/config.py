"""Settings, read from the environment.

Nothing here silently falls back to an unsafe production value: the secret key comes
from ``SECRET_KEY`` or, on a self-hosted single machine, from a random key generated
once into ``instance/secret_key`` (readable by the owner only).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", ROOT / "instance"))
#: The port ``make run`` starts the sandbox DMS on unless ``SANDBOX_PORT`` says otherwise.
SANDBOX_PORT = "5001"


def sandbox_url(environ: Mapping[str, str] | None = None) -> str:
    """Where the sandbox DMS of ``make run`` listens: ``SANDBOX_URL``, else the loopback
    address on ``SANDBOX_PORT`` (default :data:`SANDBOX_PORT`); ``environ`` defaults to ``os.environ``."""
    environ = os.environ if environ is None else environ
    return environ.get("SANDBOX_URL") or f"http://127.0.0.1:{environ.get('SANDBOX_PORT') or SANDBOX_PORT}"


def instance_secret(instance_dir: Path, name: str, make: Callable[[], str]) -> str:
    """A per-install secret kept in ``instance/<name>``, made with ``make()`` on first use.

    O_EXCL: two processes starting at once must not write two different secrets."""
    instance_dir.mkdir(parents=True, exist_ok=True)
    key_file = instance_dir / name
    if not key_file.exists():
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
    return key_file.read_text().strip()


def _secret_key(instance_dir: Path) -> str:
    """Return ``SECRET_KEY`` or a per-install random key kept under ``instance/``."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    return instance_secret(instance_dir, "secret_key", lambda: secrets.token_hex(32))


def database_url(instance_dir: Path = INSTANCE_DIR) -> str:
    """``DATABASE_URL`` (PostgreSQL in production) or the embedded SQLite file."""
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the driver "postgres://"; we use psycopg 3.
        if url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url[len("postgres://") :]
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    instance_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_dir / 'console.sqlite'}"


def storage_dir_setting(environ: Mapping[str, str] | None = None) -> str:
    """``STORAGE_DIR`` as an absolute path (a relative one is taken from the project folder, so
    every process reads the same folder whatever its working directory); empty when unset."""
    value = ((os.environ if environ is None else environ).get("STORAGE_DIR") or "").strip()
    if not value:
        return ""
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else ROOT / path)


def engine_options(url: str, environ: Mapping[str, str] | None = None) -> dict:
    """SQLAlchemy's engine options: each connection is checked before use (the database server may
    have restarted). On PostgreSQL each process keeps ``DB_POOL_SIZE`` connections open (default:
    the web server's ``THREADS``, else 5), so every request thread has one ready, and opens up to
    ``DB_MAX_OVERFLOW`` more at a peak (default 5). ``environ`` defaults to ``os.environ``."""
    options: dict = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        environ = os.environ if environ is None else environ
        options["pool_size"] = int(environ.get("DB_POOL_SIZE") or environ.get("THREADS") or 5)
        options["max_overflow"] = int(environ.get("DB_MAX_OVERFLOW") or 5)
    return options


class Config:
    """Configuration for a running console, built from the environment."""

    def __init__(self) -> None:
        self.INSTANCE_DIR = INSTANCE_DIR
        self.SECRET_KEY = _secret_key(INSTANCE_DIR)
        self.SQLALCHEMY_DATABASE_URI = database_url(INSTANCE_DIR)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        # Empty: `make run` (webapp/runner.py) starts an embedded Redis and sets REDIS_URL for its processes.
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
        https = self.PREFERRED_URL_SCHEME == "https"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = https
        self.SESSION_COOKIE_NAME = "dms_console_session"
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=int(os.environ.get("SESSION_HOURS", "12")))
        # The lifetime runs from sign-in (webapp/auth/login.py checks the server-side row), so the
        # cookie is sent only when the session changes. Re-sent on every response, a poll answered
        # just after a POST put back the cookie from before it and the POST's message was lost.
        self.SESSION_REFRESH_EACH_REQUEST = False
        # Remember-me is not offered; these harden the cookie should anyone turn it on.
        self.REMEMBER_COOKIE_DURATION = timedelta(days=1)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = https
        # Uploads (update-request screenshots) are at most 10 MB; forms far less.
        self.MAX_CONTENT_LENGTH = 12 * 1024 * 1024
        self.MAX_FORM_MEMORY_SIZE = 500 * 1024
        self.MAX_FORM_PARTS = 200
        self.WTF_CSRF_TIME_LIMIT = 8 * 3600
        # Sign-in throttling (webapp/auth/throttle.py): growing waits per account and per address
        # for unknown devices, known devices (signed cookie) counted on their own; no lock-out.
        self.LOGIN_FREE_FAILURES = int(os.environ.get("LOGIN_FREE_FAILURES", "5"))
        self.LOGIN_IP_FREE_FAILURES = int(os.environ.get("LOGIN_IP_FREE_FAILURES", "30"))
        self.LOGIN_DELAY_BASE = int(os.environ.get("LOGIN_DELAY_BASE", "30"))  # seconds, doubles per failure
        self.LOGIN_DELAY_MAX = int(os.environ.get("LOGIN_DELAY_MAX", "900"))
        self.LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", str(24 * 3600)))
        self.LOGIN_DEVICE_COOKIE_DAYS = int(os.environ.get("LOGIN_DEVICE_COOKIE_DAYS", "180"))
        self.LOGIN_THROTTLE_REDIS_TIMEOUT = float(os.environ.get("LOGIN_THROTTLE_REDIS_TIMEOUT", "0.5"))
        self.LOGIN_THROTTLE_REDIS_RETRY = float(os.environ.get("LOGIN_THROTTLE_REDIS_RETRY", "30"))
        # Reverse proxies in front of the console (X-Forwarded-For hops to trust): 0 = none.
        # The audit log and the per-address throttle use the address this yields.
        self.PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))
        # Flask-Limiter (webhooks): a slow or absent Redis must not turn requests into 500s.
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        self.RATELIMIT_ENABLED = True
        self.RATELIMIT_HEADERS_ENABLED = False
        self.RATELIMIT_STRATEGY = "moving-window"
        # Live DMS lookups on the request path are user-initiated and time-limited.
        self.DMS_LOOKUP_TIMEOUT = float(os.environ.get("DMS_LOOKUP_TIMEOUT", "8"))
        # Admin -> Locations "Test connection": the whole test (sign-in + one record per data
        # type) stops after this many seconds; each call also keeps to DMS_LOOKUP_TIMEOUT.
        self.DMS_TEST_TIMEOUT = float(os.environ.get("DMS_TEST_TIMEOUT", "20"))
        # Fernet keys for the DMS credentials stored at rest, comma-separated: the first
        # encrypts, all decrypt (rotation). Empty = a key generated once into
        # instance/credentials_key (webapp.credentials): that machine's alone, so an install on
        # several machines sets the same CREDENTIALS_KEYS on each.
        self.CREDENTIALS_KEYS = os.environ.get("CREDENTIALS_KEYS", "")
        # Files every machine of an install needs (screenshots, daily data files): under this
        # folder, shared storage when there are several machines. Empty = <instance>/uploads
        # (webapp.storage).
        self.STORAGE_DIR = storage_dir_setting()
        # The sandbox DMS of `make run`: External Interfaces offers its test event to locations whose
        # DMS address is under it (webapp/settings/webhook_setup.py).
        self.SANDBOX_URL = sandbox_url()
        # The console's address as the DMS reaches it, where that differs from the staff's (a proxy,
        # another host name): the webhook address External Interfaces shows. Empty: the request's own.
        self.WEBHOOK_BASE_URL = os.environ.get("WEBHOOK_BASE_URL", "").strip()
        # /healthz answers 503 when the scheduler, the scheduled jobs or the workers are not ok;
        # HEALTHZ_REQUIRE_BACKGROUND=0 (a web-only deployment) reports them without failing on them.
        self.HEALTHZ_REQUIRE_BACKGROUND = os.environ.get("HEALTHZ_REQUIRE_BACKGROUND", "1").strip().lower() not in (
            "0",
            "false",
            "no",
            "off",
        )
        # E-mail to requesters when their update request is decided (webapp/notifications): only when
        # SMTP_HOST and SMTP_FROM are set. Sent by a background job, never on the request path.
        self.SMTP_HOST = os.environ.get("SMTP_HOST", "").strip()
        self.SMTP_PORT = int(os.environ.get("SMTP_PORT", "") or "587")
        self.SMTP_FROM = os.environ.get("SMTP_FROM", "").strip()
        self.SMTP_USER = os.environ.get("SMTP_USER", "")
        self.SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
        self.SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "1").strip().lower() not in ("0", "false", "no", "off")
