"""Command line: ``python -m connectors.sandbox [flags]``.

Flags:
  --host 127.0.0.1          address to bind (keep it on loopback: the control API has no auth)
  --port 5001               port (0 = pick a free one; the chosen URL is printed)
  --data-dir instance/sandbox   where the SQLite database and daily extracts live
  --seed 42                 seed of the generated data
  --account CODE:VENDOR:CUSTOMERS[:PROTOCOL]   repeatable; e.g. demo-cdk:cdk:300:star. The secret
                            (API key / client secret / password) is sandbox-key-CODE; PROTOCOL
                            (console, star, opentrack) defaults to the vendor's first
  --api-key CODE=KEY        repeatable; override an account's API key
  --token-ttl 3600          bearer token lifetime in seconds
  --rate-limit 100000       requests per account per rate window (then 429 + Retry-After)
  --rate-window 60          rate window in seconds
  --verbose                 log every request
The server prints ``Sandbox DMS listening on <url>`` when ready and stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import build_server


def parse_account(text: str) -> tuple[str, str, int, str | None]:
    """Parse ``CODE:VENDOR:CUSTOMERS[:PROTOCOL]``."""
    try:
        code, vendor, customers, *rest = text.split(":")
        if len(rest) > 1:
            raise ValueError(text)
        return code, vendor.lower(), int(customers), (rest[0].lower() if rest else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CODE:VENDOR:CUSTOMERS[:PROTOCOL], got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m connectors.sandbox", description="Sandbox DMS server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--data-dir", default="instance/sandbox")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--account", action="append", type=parse_account, default=[])
    parser.add_argument("--api-key", action="append", default=[])
    parser.add_argument("--token-ttl", type=float, default=3600.0)
    parser.add_argument("--rate-limit", type=int, default=100000)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    accounts = args.account or [("demo-cdk", "cdk", 300), ("demo-karmak", "karmak", 300)]
    api_keys = dict(item.split("=", 1) for item in args.api_key)
    server = build_server(
        args.host,
        args.port,
        args.data_dir,
        accounts,
        seed=args.seed,
        token_ttl=args.token_ttl,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        api_keys=api_keys,
        verbose=args.verbose,
    )

    def stop(signum: int, frame: object) -> None:
        """Signal handler: stop serving (the main loop then closes the database)."""
        # shutdown() blocks until serve_forever returns, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Sandbox DMS listening on {server.base_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.state.stopping.set()
        server.server_close()
        server.state.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
