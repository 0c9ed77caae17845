"""Sign-in throttling that slows attackers down without locking staff out.

Three counters of failed sign-ins, each forgotten ``LOGIN_FAILURE_WINDOW`` seconds after its
last failure:

- per account (the e-mail typed, known or not, so the answers never tell which e-mails
  exist): after ``LOGIN_FREE_FAILURES`` failures, each further try from an *unknown device*
  must wait ``LOGIN_DELAY_BASE`` seconds, doubling with each failure up to ``LOGIN_DELAY_MAX``;
- per client address: the same after ``LOGIN_IP_FREE_FAILURES`` failures (password spraying
  from one address), again for unknown devices only;
- per known device: a browser where the account signed in before carries a signed *device
  cookie* (OWASP "device cookies"). It is not held back by the account's or the address's
  counter (an attacker elsewhere cannot lock the owner out); it has its own counter with the
  same rules, so a stolen cookie buys no extra guesses.

Nothing sleeps on the server (a sleeping worker would be the attacker's denial of service):
a try made too early is answered at once with how long to wait, and its password is not
checked. A Global Admin can clear an account's counter (Admin → Users → Unlock).

The counters live in Redis, so every web process shares them. Redis calls time out after
``LOGIN_THROTTLE_REDIS_TIMEOUT`` seconds; when Redis is slow or down the counters are kept in
this process's memory instead (and Redis is not asked again for ``LOGIN_THROTTLE_REDIS_RETRY``
seconds): sign-in keeps working and keeps being throttled, per process, until Redis is back.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

import redis
from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from webapp.redis_conn import get_redis

DEVICE_COOKIE = "dms_console_device"
DEVICE_COOKIE_SALT = "login-device-cookie"
DEVICE_COOKIE_ENTRIES = 5  # accounts remembered per browser (a shared service-desk PC)
PREFIX = "login-throttle:"


# --------------------------------------------------------------------------- storage
# A counter is two values: the number of failures and the time of the last one. In Redis they
# are the keys ``<PREFIX><key>:n`` (counted with INCR, so parallel tries each count) and
# ``<PREFIX><key>:last``, written in one MULTI/EXEC transaction so a pair always belongs together.
class _MemoryStore:
    """Counters of this process, used while Redis cannot be reached."""

    MAX_KEYS = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[int, float, float]] = {}  # key -> (failures, last failure, expires)

    def get(self, key: str) -> tuple[int, float]:
        with self._lock:
            failures, last, expires = self._data.get(key, (0, 0.0, 0.0))
            if expires < time.time():
                self._data.pop(key, None)
                return 0, 0.0
            return failures, last

    def add(self, key: str, now: float, ttl: int) -> int:
        """Count one failure at ``now``; the new number of failures."""
        with self._lock:
            failures, _last, expires = self._data.get(key, (0, 0.0, 0.0))
            if expires < time.time():
                failures = 0
            if key not in self._data and len(self._data) >= self.MAX_KEYS:
                current = time.time()
                for stale in [k for k, (_n, _l, exp) in self._data.items() if exp < current]:
                    del self._data[stale]
                if len(self._data) >= self.MAX_KEYS:  # still full: drop the one expiring first
                    del self._data[min(self._data, key=lambda k: self._data[k][2])]
            self._data[key] = (failures + 1, now, time.time() + ttl)
            return failures + 1

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_memory = _MemoryStore()
_redis_down_until = 0.0


def _redis() -> redis.Redis | None:
    """The short-time-out, no-retry Redis client, or None without REDIS_URL or while Redis is known down."""
    url = current_app.config.get("REDIS_URL")
    if not url or time.monotonic() < _redis_down_until:
        return None
    return get_redis(url, timeout=float(current_app.config.get("LOGIN_THROTTLE_REDIS_TIMEOUT", 0.5)))


def _redis_failed(error: Exception) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + float(current_app.config.get("LOGIN_THROTTLE_REDIS_RETRY", 30))
    current_app.logger.warning(
        "sign-in throttling: Redis unavailable (%s); counting in this process for now", type(error).__name__
    )


def reset_redis_state() -> None:
    """Forget that Redis was down and every in-memory counter (tests; after a Redis restart)."""
    global _redis_down_until
    _redis_down_until = 0.0
    _memory.clear()


def _load(key: str) -> tuple[int, float]:
    """``(failures, time of the last failure)`` of ``key``; ``(0, 0.0)`` when none is counted."""
    client = _redis()
    if client is not None:
        try:
            failures, last = client.mget(f"{PREFIX}{key}:n", f"{PREFIX}{key}:last")
            return int(failures or 0), float(last or 0.0)
        except (redis.RedisError, OSError, ValueError) as error:
            _redis_failed(error)
    return _memory.get(key)


def _add(key: str, now: float, ttl: int) -> int:
    """Count one failure of ``key`` at ``now`` (forgotten ``ttl`` seconds later); the new count."""
    client = _redis()
    if client is not None:
        try:
            with client.pipeline(transaction=True) as pipe:
                pipe.incr(f"{PREFIX}{key}:n")
                pipe.expire(f"{PREFIX}{key}:n", ttl)
                pipe.set(f"{PREFIX}{key}:last", repr(now), ex=ttl)
                failures, _expired, _set = pipe.execute()
            return int(failures)
        except (redis.RedisError, OSError, ValueError) as error:
            _redis_failed(error)
    return _memory.add(key, now, ttl)


def _delete(key: str) -> bool:
    """Forget ``key``'s counter; False when only this process's memory could be cleared (Redis down)."""
    _memory.delete(key)
    if not current_app.config.get("REDIS_URL"):
        return True  # this process's memory is the only store
    client = _redis()
    if client is None:
        return False
    try:
        client.delete(f"{PREFIX}{key}:n", f"{PREFIX}{key}:last")
        return True
    except (redis.RedisError, OSError) as error:
        _redis_failed(error)
        return False


# --------------------------------------------------------------------------- counters
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def account_key(email: str) -> str:
    """The counter of the account ``email`` (normalised; known or not)."""
    return "acct:" + _digest(email.strip().lower())


def address_key(ip: str) -> str:
    return "ip:" + ip


def device_key(nonce: str) -> str:
    return "dev:" + _digest(nonce)


@dataclass
class Counter:
    """A counter's state: failures so far and the time before which no try is taken."""

    failures: int = 0
    blocked_until: float = 0.0

    def wait_seconds(self, now: float | None = None) -> int:
        """Seconds still to wait (0 = a try is taken now)."""
        return max(0, int(self.blocked_until - (now or time.time()) + 0.999))


def _settings(kind: str) -> tuple[int, int, int]:
    config = current_app.config
    free = int(config["LOGIN_IP_FREE_FAILURES"] if kind == "ip" else config["LOGIN_FREE_FAILURES"])
    return free, int(config["LOGIN_DELAY_BASE"]), int(config["LOGIN_DELAY_MAX"])


def _counter(key: str, failures: int, last: float) -> Counter:
    """The state of ``failures`` the last of which was at ``last``: from the free allowance on, a
    wait after the last failure that doubles with each failure."""
    free, base, cap = _settings(key.split(":", 1)[0])
    if failures < free:
        return Counter(failures)
    return Counter(failures, last + min(cap, base * 2 ** min(failures - free, 30)))


def state(key: str) -> Counter:
    return _counter(key, *_load(key))


def add_failure(key: str) -> Counter:
    """Count one failure (atomically: parallel tries each count). Returns the new state."""
    now = time.time()
    window = int(current_app.config["LOGIN_FAILURE_WINDOW"])
    return _counter(key, _add(key, now, ttl=max(window, 1)), now)


def clear(key: str) -> bool:
    """Forget ``key``'s failures; False when Redis is down and only this process's count was cleared."""
    return _delete(key)


def wait_text(seconds: int) -> str:
    """A wait as staff read it: "30 seconds", "1 minute", "15 minutes"."""
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = (seconds + 59) // 60
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def is_slowed(counter: Counter) -> bool:
    """True when the counter is past its free allowance (shown as 'locked' to admins)."""
    return counter.blocked_until > 0


def account_state(email: str) -> Counter:
    return state(account_key(email))


def unlock_account(email: str) -> bool:
    """Clear the account's counter (Admin → Users → Unlock); only that one, not the counters of the
    addresses or known devices it was tried from. False when Redis is down: then only this web
    process's count was cleared (other processes keep theirs until it lapses)."""
    return clear(account_key(email))


# --------------------------------------------------------------------------- device cookie
def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=DEVICE_COOKIE_SALT)


def _device_entries() -> list[list[str]]:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        entries = _serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) for x in e)]


def known_device_nonce(email: str) -> str | None:
    """The device nonce when this browser signed in to ``email`` before (valid signed cookie)."""
    wanted = _digest(email.strip().lower())
    for account, nonce in _device_entries():
        if account == wanted:
            return nonce
    return None


def remember_device(response: Response, email: str) -> None:
    """Mark this browser as a known device of ``email`` (a signed cookie sent only to /login)."""
    wanted = _digest(email.strip().lower())
    entries = [e for e in _device_entries() if e[0] != wanted]
    nonce = known_device_nonce(email) or secrets.token_urlsafe(18)
    entries = [[wanted, nonce]] + entries[: DEVICE_COOKIE_ENTRIES - 1]
    config = current_app.config
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(entries),
        max_age=int(config["LOGIN_DEVICE_COOKIE_DAYS"]) * 86400,
        path="/login",
        secure=bool(config.get("SESSION_COOKIE_SECURE")),
        httponly=True,
        samesite="Lax",
    )
