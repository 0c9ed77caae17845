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
import json
import secrets
import threading
import time
from dataclasses import dataclass

import redis
from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from redis.backoff import NoBackoff
from redis.retry import Retry

DEVICE_COOKIE = "dms_console_device"
DEVICE_COOKIE_SALT = "login-device-cookie"
DEVICE_COOKIE_ENTRIES = 5  # accounts remembered per browser (a shared service-desk PC)
PREFIX = "login-throttle:"


# --------------------------------------------------------------------------- storage
class _MemoryStore:
    """Counters of this process, used while Redis cannot be reached."""

    MAX_KEYS = 20_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, tuple[dict, float]] = {}

    def get(self, key: str) -> dict:
        with self._lock:
            value, expires = self._data.get(key, ({}, 0.0))
            if expires < time.time():
                self._data.pop(key, None)
                return {}
            return dict(value)

    def put(self, key: str, value: dict, ttl: int) -> None:
        with self._lock:
            if len(self._data) >= self.MAX_KEYS:
                now = time.time()
                for stale in [k for k, (_v, exp) in self._data.items() if exp < now]:
                    del self._data[stale]
                if len(self._data) >= self.MAX_KEYS:  # still full: drop the oldest
                    del self._data[min(self._data, key=lambda k: self._data[k][1])]
            self._data[key] = (dict(value), time.time() + ttl)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_memory = _MemoryStore()
_clients: dict[tuple[str, float], redis.Redis] = {}
_redis_down_until = 0.0


def _redis() -> redis.Redis | None:
    """A Redis client with short time-outs and no retries, or None while Redis is known down."""
    url = current_app.config.get("REDIS_URL")
    if not url or time.monotonic() < _redis_down_until:
        return None
    timeout = float(current_app.config.get("LOGIN_THROTTLE_REDIS_TIMEOUT", 0.5))
    client = _clients.get((url, timeout))
    if client is None:
        client = _clients[(url, timeout)] = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False)
    return client


def _redis_failed(error: Exception) -> None:
    global _redis_down_until
    _redis_down_until = time.monotonic() + float(current_app.config.get("LOGIN_THROTTLE_REDIS_RETRY", 30))
    current_app.logger.warning("sign-in throttling: Redis unavailable (%s); counting in this process for now",
                               type(error).__name__)


def reset_redis_state() -> None:
    """Forget that Redis was down and every in-memory counter (tests; after a Redis restart)."""
    global _redis_down_until
    _redis_down_until = 0.0
    _memory.clear()


def _load(key: str) -> dict:
    client = _redis()
    if client is not None:
        try:
            raw = client.get(PREFIX + key)
            return json.loads(raw) if raw else {}
        except (redis.RedisError, OSError, ValueError) as error:
            _redis_failed(error)
    return _memory.get(key)


def _save(key: str, value: dict, ttl: int) -> None:
    client = _redis()
    if client is not None:
        try:
            client.set(PREFIX + key, json.dumps(value), ex=ttl)
            return
        except (redis.RedisError, OSError) as error:
            _redis_failed(error)
    _memory.put(key, value, ttl)


def _delete(key: str) -> None:
    _memory.delete(key)
    client = _redis()
    if client is not None:
        try:
            client.delete(PREFIX + key)
        except (redis.RedisError, OSError) as error:
            _redis_failed(error)


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


def state(key: str) -> Counter:
    data = _load(key)
    return Counter(int(data.get("failures", 0)), float(data.get("until", 0.0)))


def _settings(kind: str) -> tuple[int, int, int]:
    config = current_app.config
    free = int(config["LOGIN_IP_FREE_FAILURES"] if kind == "ip" else config["LOGIN_FREE_FAILURES"])
    return free, int(config["LOGIN_DELAY_BASE"]), int(config["LOGIN_DELAY_MAX"])


def add_failure(key: str) -> Counter:
    """Count one failure; from the free allowance on, set a doubling wait. Returns the new state."""
    kind = key.split(":", 1)[0]
    free, base, cap = _settings(kind)
    counter = state(key)
    counter.failures += 1
    if counter.failures >= free:
        delay = min(cap, base * 2 ** min(counter.failures - free, 30))
        counter.blocked_until = time.time() + delay
    window = int(current_app.config["LOGIN_FAILURE_WINDOW"])
    _save(key, {"failures": counter.failures, "until": counter.blocked_until}, ttl=max(window, 1))
    return counter


def clear(key: str) -> None:
    _delete(key)


def is_slowed(counter: Counter) -> bool:
    """True when the counter is past its free allowance (shown as 'locked' to admins)."""
    return counter.blocked_until > 0


def account_state(email: str) -> Counter:
    return state(account_key(email))


def unlock_account(email: str) -> None:
    """Clear the account's counter (Admin → Users → Unlock)."""
    clear(account_key(email))


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
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps(entries),
                        max_age=int(config["LOGIN_DEVICE_COOKIE_DAYS"]) * 86400, path="/login",
                        secure=bool(config.get("SESSION_COOKIE_SECURE")), httponly=True, samesite="Lax")
