"""SQLite storage of the sandbox DMS.

Every record row carries a server-wide change sequence number ``seq``; each write takes the
next number and ``modified_at = max(now, last modified_at)``. So within a data type the
order by ``seq`` is also an order by ``modified_at``, which is what makes paging stable:

* a cursor is "after seq N"; an edited record gets a new, higher seq and therefore moves
  *behind* any reader's position - it is returned later, never skipped;
* ``modified_since`` (inclusive) is a seq-suffix of the type, so it pages the same way;
* all writes go through one lock and one connection, so a lower seq can never become
  visible after a higher one (the classic "gap" that loses rows with concurrent writers).

Record bodies are stored as ready-made JSON text so a page is served by joining strings.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..base import format_datetime
from . import generate

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    code TEXT PRIMARY KEY, vendor TEXT NOT NULL, customers INTEGER NOT NULL, seed INTEGER NOT NULL,
    api_key TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}', ro_next INTEGER NOT NULL DEFAULT 900000);
CREATE TABLE IF NOT EXISTS generated (account TEXT, data_type TEXT, PRIMARY KEY (account, data_type));
CREATE TABLE IF NOT EXISTS records (
    account TEXT NOT NULL, data_type TEXT NOT NULL, dms_id TEXT NOT NULL, seq INTEGER NOT NULL,
    modified_at TEXT NOT NULL, ref TEXT, search TEXT NOT NULL DEFAULT '', body TEXT NOT NULL,
    PRIMARY KEY (account, data_type, dms_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_by_seq ON records (account, data_type, seq);
CREATE INDEX IF NOT EXISTS records_by_ref ON records (account, data_type, ref);
CREATE TABLE IF NOT EXISTS idempotency (
    account TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL, status INTEGER NOT NULL,
    body TEXT NOT NULL, PRIMARY KEY (account, key));
CREATE TABLE IF NOT EXISTS created (
    account TEXT NOT NULL, data_type TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (account, data_type));
"""


def encode_cursor(seq: int) -> str:
    """Opaque cursor for "after change sequence ``seq``"."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str | None]:
    """Return ``(after_seq, modified_since)`` for a cursor; raises ValueError if unreadable.

    ``since:<ISO time>`` cursors (made by the connector's ``cursor_at``) mean "modified at or
    after that time", inclusive.
    """
    if cursor.startswith("since:"):
        moment = datetime.fromisoformat(cursor[6:])
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return 0, format_datetime(moment)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    kind, _, value = raw.partition(":")
    if kind != "seq":
        raise ValueError("unknown cursor")
    return int(value), None


class Store:
    """The sandbox's database: accounts, records, idempotency keys and create counters."""

    def __init__(self, path: Path | str) -> None:
        self.lock = threading.RLock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")  # a demo/test peer: speed over durability
        self.db.executescript(SCHEMA)
        row = self.db.execute("SELECT MAX(seq), MAX(modified_at) FROM records").fetchone()
        self.last_seq = row[0] or 0
        self.last_modified = row[1] or ""

    def close(self) -> None:
        """Close the database connection."""
        with self.lock:
            self.db.close()

    # ---- accounts
    def ensure_account(self, code: str, vendor: str, customers: int, seed: int, api_key: str) -> None:
        """Create the account, or reset it if it was stored with another vendor/size/seed."""
        with self.lock:
            row = self.db.execute("SELECT vendor, customers, seed FROM accounts WHERE code=?", (code,)).fetchone()
            if row == (vendor, customers, seed):
                self.db.execute("UPDATE accounts SET api_key=? WHERE code=?", (api_key, code))
                return
            self.db.execute("BEGIN")
            for table in ("records", "generated", "idempotency", "created"):
                self.db.execute(f"DELETE FROM {table} WHERE account=?", (code,))
            self.db.execute(
                "INSERT OR REPLACE INTO accounts (code, vendor, customers, seed, api_key, settings) "
                "VALUES (?, ?, ?, ?, ?, '{}')",
                (code, vendor, customers, seed, api_key),
            )
            self.db.execute("COMMIT")

    def accounts(self) -> dict[str, dict[str, Any]]:
        """All accounts as dicts (code, vendor, customers, seed, api_key, settings)."""
        with self.lock:
            rows = self.db.execute("SELECT code, vendor, customers, seed, api_key, settings FROM accounts").fetchall()
        return {
            r[0]: {
                "code": r[0],
                "vendor": r[1],
                "customers": r[2],
                "seed": r[3],
                "api_key": r[4],
                "settings": json.loads(r[5]),
            }
            for r in rows
        }

    def account(self, code: str) -> dict[str, Any] | None:
        """One account or None."""
        return self.accounts().get(code)

    def update_settings(self, code: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into an account's settings and return them."""
        with self.lock:
            account = self.account(code)
            settings = {**account["settings"], **changes}
            self.db.execute("UPDATE accounts SET settings=? WHERE code=?", (json.dumps(settings), code))
            return settings

    def next_ro_number(self, code: str) -> str:
        """Take the next reservable RO number of an account."""
        with self.lock:
            value = self.db.execute("SELECT ro_next FROM accounts WHERE code=?", (code,)).fetchone()[0]
            self.db.execute("UPDATE accounts SET ro_next=ro_next+1 WHERE code=?", (code,))
            return str(value)

    # ---- generation
    def ensure_generated(self, code: str, data_type: str) -> None:
        """Generate a data type of an account the first time it is touched (lazily)."""
        if data_type not in generate.GENERATED_TYPES:
            return  # payments only exist once exported
        with self.lock:
            if self.db.execute("SELECT 1 FROM generated WHERE account=? AND data_type=?", (code, data_type)).fetchone():
                return
            account = self.account(code)
            dumps = json.JSONEncoder(separators=(",", ":")).encode
            rows: list[tuple] = []
            self.db.execute("BEGIN")
            seq = self.last_seq
            for dms_id, ref, search, fields, moment in generate.generate(
                account["seed"], code, account["vendor"], data_type, account["customers"]
            ):
                seq += 1
                stamp = format_datetime(moment)
                body = {"dms_id": dms_id, "modified_at": stamp, "etag": f'"{seq}"', **fields}
                rows.append((code, data_type, dms_id, seq, stamp, ref, search, dumps(body)))
                if len(rows) >= 20000:
                    self.db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                    rows.clear()
            if rows:
                self.db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self.db.execute("INSERT INTO generated VALUES (?, ?)", (code, data_type))
            self.db.execute("COMMIT")
            self.last_seq = seq

    # ---- reads
    def page(
        self, code: str, data_type: str, after_seq: int, since: str | None, limit: int
    ) -> tuple[list[str], int, bool]:
        """Bodies of the next ``limit`` changes; returns ``(bodies, last_seq, has_more)``."""
        self.ensure_generated(code, data_type)
        sql = "SELECT seq, body FROM records WHERE account=? AND data_type=? AND seq>?"
        params: list[Any] = [code, data_type, after_seq]
        if since:
            sql += " AND modified_at>=?"
            params.append(since)
        sql += " ORDER BY seq LIMIT ?"
        params.append(limit + 1)
        with self.lock:
            rows = self.db.execute(sql, params).fetchall()
        has_more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1][0] if rows else after_seq
        return [row[1] for row in rows], last, has_more

    def ids(self, code: str, data_type: str, after: str, limit: int) -> list[str]:
        """Next ``limit`` DMS ids in id order after ``after``."""
        self.ensure_generated(code, data_type)
        with self.lock:
            return [
                r[0]
                for r in self.db.execute(
                    "SELECT dms_id FROM records WHERE account=? AND data_type=? AND dms_id>? ORDER BY dms_id LIMIT ?",
                    (code, data_type, after, limit),
                )
            ]

    def get(self, code: str, data_type: str, dms_id: str) -> dict[str, Any] | None:
        """One record's body as a dict, or None."""
        self.ensure_generated(code, data_type)
        with self.lock:
            row = self.db.execute(
                "SELECT body FROM records WHERE account=? AND data_type=? AND dms_id=?", (code, data_type, dms_id)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def search(self, code: str, data_type: str, terms: Iterable[str], limit: int) -> list[str]:
        """Bodies whose search text contains every term (case-insensitive)."""
        self.ensure_generated(code, data_type)
        sql = "SELECT body FROM records WHERE account=? AND data_type=?"
        params: list[Any] = [code, data_type]
        for term in terms:
            sql += " AND instr(search, ?) > 0"
            params.append(term)
        sql += " ORDER BY dms_id LIMIT ?"
        params.append(limit)
        with self.lock:
            return [r[0] for r in self.db.execute(sql, params)]

    def related(self, code: str, number: str) -> list[str]:
        """RO numbers related to ``number``: its original and every alternate of the same original."""
        self.ensure_generated(code, "repair_orders")
        with self.lock:
            row = self.db.execute(
                "SELECT ref FROM records WHERE account=? AND data_type='repair_orders' AND dms_id=?", (code, number)
            ).fetchone()
            if row is None:
                return []
            original = row[0] or number
            found = {original} | {
                r[0]
                for r in self.db.execute(
                    "SELECT dms_id FROM records WHERE account=? AND data_type='repair_orders' AND ref=?",
                    (code, original),
                )
            }
        found.discard(number)
        return sorted(found)

    def all_since(self, code: str, data_type: str, after_seq: int) -> tuple[list[str], int]:
        """Ids changed after ``after_seq`` (for webhooks) and the highest seq seen."""
        self.ensure_generated(code, data_type)
        with self.lock:
            rows = self.db.execute(
                "SELECT dms_id, seq FROM records WHERE account=? AND data_type=? AND seq>? ORDER BY seq",
                (code, data_type, after_seq),
            ).fetchall()
        return [r[0] for r in rows], (rows[-1][1] if rows else after_seq)

    def iter_bodies(self, code: str, data_type: str) -> list[dict[str, Any]]:
        """Every record of a type (for writing a daily extract)."""
        self.ensure_generated(code, data_type)
        with self.lock:
            return [
                json.loads(r[0])
                for r in self.db.execute(
                    "SELECT body FROM records WHERE account=? AND data_type=? ORDER BY dms_id", (code, data_type)
                )
            ]

    # ---- writes
    def _stamp(self) -> tuple[int, str]:
        """Next seq and a modified_at never earlier than the last one handed out."""
        self.last_seq += 1
        now = format_datetime(datetime.now(UTC))
        self.last_modified = max(now, self.last_modified)
        return self.last_seq, self.last_modified

    def put(
        self,
        code: str,
        data_type: str,
        dms_id: str,
        fields: dict[str, Any],
        *,
        search: str = "",
        ref: str | None = None,
    ) -> dict[str, Any]:
        """Insert or replace a record with a new seq, modified_at and ETag; returns the body."""
        with self.lock:
            self.ensure_generated(code, data_type)
            seq, stamp = self._stamp()
            body = {**fields, "dms_id": dms_id, "modified_at": stamp, "etag": f'"{seq}"'}
            self.db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (code, data_type, dms_id, seq, stamp, ref, search, json.dumps(body, separators=(",", ":"))),
            )
            return body

    def delete(self, code: str, data_type: str, dms_id: str) -> bool:
        """Delete a record (as staff deleting it in the DMS); True if it existed."""
        with self.lock:
            self.ensure_generated(code, data_type)
            return (
                self.db.execute(
                    "DELETE FROM records WHERE account=? AND data_type=? AND dms_id=?", (code, data_type, dms_id)
                ).rowcount
                > 0
            )

    def count_created(self, code: str, data_type: str) -> None:
        """Count one record created through the API (tests prove "no duplicates" with it)."""
        with self.lock:
            self.db.execute(
                "INSERT INTO created VALUES (?, ?, 1) ON CONFLICT (account, data_type) DO UPDATE SET count=count+1",
                (code, data_type),
            )

    def created_counts(self, code: str) -> dict[str, int]:
        """Records created through the API, per data type."""
        with self.lock:
            return dict(self.db.execute("SELECT data_type, count FROM created WHERE account=?", (code,)).fetchall())

    def idempotent_get(self, code: str, key: str) -> tuple[str, int, str] | None:
        """The stored ``(request_hash, status, body)`` of an idempotency key, if any."""
        with self.lock:
            return self.db.execute(
                "SELECT request_hash, status, body FROM idempotency WHERE account=? AND key=?", (code, key)
            ).fetchone()

    def idempotent_put(self, code: str, key: str, request_hash: str, status: int, body: str) -> None:
        """Remember the first result of an idempotency key."""
        with self.lock:
            self.db.execute(
                "INSERT OR IGNORE INTO idempotency VALUES (?, ?, ?, ?, ?)", (code, key, request_hash, status, body)
            )
