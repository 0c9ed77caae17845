"""Start a sandbox DMS from tests (this project's and the web app's) and drive its control API.

Usage::

    from connectors.sandbox.testing import running_sandbox

    with running_sandbox([("demo-cdk", "cdk", 300)]) as sandbox:
        dms = sandbox.connect("demo-cdk")              # a DmsConnector (connectors.connect)
        sandbox.control.edit_record("demo-cdk", "customers", "C0000001", {"last_name": "Doe"})
        sandbox.control.inject_fault("500", count=1, account="demo-cdk")
        sandbox.control.count_created("demo-cdk")     # {"customers": 1, ...}

The server runs in a daemon thread of the test process on a free loopback port, with its
SQLite file in a temporary directory removed afterwards. ``sandbox.settings(code)`` gives
the dict ``connectors.connect`` expects (``protocol``, ``base_url``, ``account``,
``credentials``, ``extract_dir``, ``timeout``), ready to store as a location's DMS settings.
An account tuple may name a protocol as its fourth item; it defaults to the vendor's.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .. import connect
from ..base import DmsConnector
from .server import SandboxServer, account_protocol, build_server


def connection_settings(base_url: str, code: str, protocol: str, secret: str) -> dict[str, Any]:
    """What a location stores to reach sandbox account ``code`` over ``protocol``.

    The sandbox serves each protocol under its own root: the console dialect at the server
    root, STAR REST under ``/star`` and OpenTrack SOAP under ``/opentrack``. The account's
    one secret is the console API key, the STAR client secret and the OpenTrack password.
    """
    if protocol == "star":
        return {
            "protocol": protocol,
            "base_url": f"{base_url}/star",
            "account": code,
            "credentials": {"client_id": code, "client_secret": secret},
        }
    if protocol == "opentrack":
        return {
            "protocol": protocol,
            "base_url": f"{base_url}/opentrack",
            "account": code,
            "credentials": {"enterprise_code": "ZE", "server_name": "sandbox", "username": code, "password": secret},
        }
    return {"protocol": protocol, "base_url": base_url, "account": code, "credentials": {"api_key": secret}}


def sandbox_root(base_url: str) -> str:
    """The sandbox server's root (its control API) for a DMS address made by
    :func:`connection_settings`: the reverse of its ``base_url``, for every protocol."""
    from ..protocols import PROTOCOLS

    url = base_url.strip().rstrip("/")
    for protocol in PROTOCOLS:
        suffix = connection_settings("", "", protocol, "")["base_url"]  # "/star", "/opentrack"; "" at the root
        if suffix and url.endswith(suffix):
            return url[: -len(suffix)].rstrip("/")
    return url


class ControlClient:
    """Small client of the sandbox control API (``/_control/...``); methods return parsed JSON."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        """Call the control API and raise on an error status."""
        response = self.client.request(method, f"/_control{path}", json=json)
        response.raise_for_status()
        return response.json()

    def inject_fault(
        self, kind: str, count: int = 1, account: str | None = None, retry_after: int = 7, hang_seconds: float = 3.0
    ) -> Any:
        """Make the next ``count`` API requests fail.

        ``kind``: ``"500"``, ``"503"``, ``"429"`` (with ``Retry-After: retry_after``), ``"hang"``
        (sleeps ``hang_seconds`` before answering), ``"malformed"`` (broken JSON), ``"bad_record"``
        (one record in the page lacks ``modified_at``) or ``"expired_token"`` (401 token expired).
        """
        return self._call(
            "POST",
            "/faults",
            {
                "kind": kind,
                "count": count,
                "account": account,
                "retry_after": retry_after,
                "hang_seconds": hang_seconds,
            },
        )

    def clear_faults(self) -> Any:
        """Disarm every pending fault."""
        return self._call("DELETE", "/faults")

    def get_record(self, account: str, data_type: str, dms_id: str) -> dict[str, Any]:
        """A record exactly as stored in the DMS."""
        return self._call("GET", f"/accounts/{account}/records/{data_type}/{dms_id}")

    def edit_record(self, account: str, data_type: str, dms_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Change fields as dealership staff would in the DMS (new ETag and modified_at)."""
        return self._call("PATCH", f"/accounts/{account}/records/{data_type}/{dms_id}", fields)

    def delete_record(self, account: str, data_type: str, dms_id: str) -> Any:
        """Delete a record in the DMS."""
        return self._call("DELETE", f"/accounts/{account}/records/{data_type}/{dms_id}")

    def lock_appointment(self, account: str, dms_id: str) -> dict[str, Any]:
        """Lock an appointment (as if open on a DMS screen)."""
        return self._call("POST", f"/accounts/{account}/appointments/{dms_id}/lock")

    def unlock_appointment(self, account: str, dms_id: str) -> dict[str, Any]:
        """Unlock an appointment."""
        return self._call("POST", f"/accounts/{account}/appointments/{dms_id}/unlock")

    def count_created(self, account: str) -> dict[str, int]:
        """Records created through the API, per data type (``ro_reservations`` and ``payments`` too)."""
        return self._call("GET", f"/accounts/{account}/created")

    def token_requests(self, account: str) -> int:
        """How many bearer tokens the account has been issued."""
        return self._call("GET", f"/accounts/{account}/token_requests")["count"]

    def advisors(self, account: str) -> list[dict[str, str]]:
        """The DMS's advisors (``ADV09`` is deliberately shared by two people)."""
        return self._call("GET", f"/accounts/{account}/advisors")

    def configure(self, account: str, **settings: Any) -> dict[str, Any]:
        """Set account options: ``require_address``, ``require_email``, ``webhook_url``, ``webhook_secret``."""
        return self._call("PUT", f"/accounts/{account}/settings", settings)

    def send_webhooks(
        self,
        account: str,
        url: str | None = None,
        secret: str | None = None,
        data_type: str | None = None,
        dms_ids: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Send signed change webhooks now (all changes since the last send unless ``dms_ids``).

        Returns one delivery per data type: ``{"data_type", "event_id", "status", "count"}``.
        """
        body: dict[str, Any] = {"url": url, "secret": secret, "data_type": data_type}
        if dms_ids is not None:
            body["dms_ids"] = list(dms_ids)
        return self._call("POST", f"/accounts/{account}/webhooks/send", body)

    def has_account(self, account: str) -> bool:
        """True when this is a sandbox DMS holding ``account`` (False on any error: not a sandbox)."""
        try:
            accounts = self._call("GET", "/accounts")
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(accounts, list) and any(isinstance(a, dict) and a.get("code") == account for a in accounts)

    def write_extract(self, account: str, data_type: str = "customers", directory: str | Path | None = None) -> Path:
        """Write a daily extract CSV into the drop folder; returns its path."""
        result = self._call(
            "POST",
            f"/accounts/{account}/extract",
            {"data_type": data_type, "directory": str(directory) if directory else None},
        )
        return Path(result["path"])


@dataclass
class RunningSandbox:
    """A started sandbox: its URL, accounts, API keys and control client."""

    base_url: str
    accounts: dict[str, str]  # code -> vendor
    api_keys: dict[str, str]  # code -> secret (API key, client secret or password)
    protocols: dict[str, str]  # code -> protocol
    data_dir: Path
    control: ControlClient
    server: SandboxServer = field(repr=False)

    def extract_dir(self, code: str) -> Path:
        """Default drop folder of an account's daily extracts."""
        return self.data_dir / "extracts" / code

    def settings(self, code: str, timeout: float = 5.0) -> dict[str, Any]:
        """The settings dict for :func:`connectors.connect` for account ``code``."""
        return {
            **connection_settings(self.base_url, code, self.protocols[code], self.api_keys[code]),
            "extract_dir": str(self.extract_dir(code)),
            "timeout": timeout,
        }

    def connect(self, code: str, timeout: float = 5.0) -> DmsConnector:
        """A connector for account ``code`` (close it, or use it as a context manager)."""
        return connect(self.accounts[code], self.settings(code, timeout))


def start_sandbox(
    accounts: Sequence[tuple],
    data_dir: str | Path,
    seed: int = 42,
    token_ttl: float = 3600.0,
    rate_limit: int = 100000,
    rate_window: float = 60.0,
) -> RunningSandbox:
    """Start a sandbox in a daemon thread on a free loopback port; stop it with :func:`stop_sandbox`."""
    server = build_server(
        "127.0.0.1",
        0,
        data_dir,
        list(accounts),
        seed=seed,
        token_ttl=token_ttl,
        rate_limit=rate_limit,
        rate_window=rate_window,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="sandbox-dms"
    )
    thread.start()
    server._thread = thread  # type: ignore[attr-defined]
    return RunningSandbox(
        base_url=server.base_url,
        accounts={c: v for c, v, *_ in accounts},
        api_keys={c: f"sandbox-key-{c}" for c, *_ in accounts},
        protocols={c: account_protocol(v, rest[0] if rest else None) for c, v, _, *rest in accounts},
        data_dir=Path(data_dir),
        control=ControlClient(server.base_url),
        server=server,
    )


def stop_sandbox(sandbox: RunningSandbox) -> None:
    """Stop the server thread and close its database."""
    sandbox.control.close()
    sandbox.server.state.stopping.set()
    sandbox.server.shutdown()
    sandbox.server.server_close()
    sandbox.server._thread.join(timeout=5)  # type: ignore[attr-defined]
    sandbox.server.state.store.close()


@contextlib.contextmanager
def running_sandbox(
    accounts: Sequence[tuple] = (("demo-cdk", "cdk", 300),),
    seed: int = 42,
    data_dir: str | Path | None = None,
    token_ttl: float = 3600.0,
    rate_limit: int = 100000,
    rate_window: float = 60.0,
) -> Iterator[RunningSandbox]:
    """Context manager: a sandbox with ``accounts`` = [(code, vendor, customers)] for the block.

    Without ``data_dir`` the database lives in a temporary directory deleted afterwards.
    """
    with contextlib.ExitStack() as stack:
        directory = (
            Path(data_dir)
            if data_dir
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sandbox-dms-")))
        )
        sandbox = start_sandbox(accounts, directory, seed, token_ttl, rate_limit, rate_window)
        try:
            yield sandbox
        finally:
            stop_sandbox(sandbox)
