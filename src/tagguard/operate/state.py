"""Which alerts were sent where, in the history database (``--history PATH``).

Our own table next to ``history.py``'s (their schema and ``user_version`` are left alone)::

    alert_state(key TEXT, sink TEXT,             -- the breach and where it went
                kind TEXT, family TEXT, level REAL, severity TEXT,
                first_sent TEXT, last_sent TEXT,  -- UTC ISO 8601
                open INTEGER,                     -- 1 until the breach is no longer reported
                ref TEXT,                         -- the sink's handle (a GitHub issue number)
                PRIMARY KEY(key, sink))

A breach is sent to a sink once; again only when its level rises (a higher threshold; for
unallocated spend and anomalies, ``worsen_pct`` more).  Only a *successful* send is recorded, so
a sink that failed gets the alert again on the next run.
"""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

TABLE = """
CREATE TABLE IF NOT EXISTS alert_state(
  key TEXT NOT NULL, sink TEXT NOT NULL, kind TEXT, family TEXT, level REAL, severity TEXT,
  first_sent TEXT, last_sent TEXT, open INTEGER NOT NULL DEFAULT 1, ref TEXT, title TEXT,
  PRIMARY KEY(key, sink));
"""


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


class AlertState:
    """Open on the history database (created if absent, with history's own schema too)."""

    def __init__(self, path: Path | None, readonly: bool = False):
        """``readonly`` (``--dry-run``): read what was sent, write nothing (not even the table)."""
        self.path = path
        self.readonly = readonly
        self.rows: dict[tuple[str, str], dict] = {}
        self.conn: sqlite3.Connection | None = None
        if path is None or (readonly and not Path(path).exists()):
            return
        from tagguard.state.history import HistoryError, connect

        try:
            if readonly:
                self.conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
                if not self.conn.execute("SELECT name FROM sqlite_master WHERE name='alert_state'").fetchone():
                    return
            else:
                self.conn = connect(path)
                self.conn.executescript(f"BEGIN IMMEDIATE;{TABLE}COMMIT;")
            for row in self.conn.execute("SELECT key, sink, kind, family, level, severity, first_sent, last_sent,"
                                         " open, ref, title FROM alert_state"):
                self.rows[(row[0], row[1])] = dict(zip(("key", "sink", "kind", "family", "level", "severity",
                                                        "first_sent", "last_sent", "open", "ref", "title"), row))
        except sqlite3.DatabaseError as exc:
            raise HistoryError(f"{path}: cannot read alert state ({exc})") from None

    def get(self, key: str, sink: str) -> dict | None:
        return self.rows.get((key, sink))

    def decide(self, alert, sink: str, worsen_pct: float) -> str:
        """``new`` | ``worse`` | ``reopened`` | ``sent`` (already sent, not worse)."""
        row = self.get(alert.key, sink)
        if row is None:
            return "new"
        if not row["open"]:
            return "reopened"
        prev = row["level"] or 0.0
        if alert.kind in ("budget", "unmanaged-gpu"):
            return "worse" if alert.level > prev else "sent"
        return "worse" if alert.level > prev * (1 + worsen_pct / 100.0) else "sent"

    def record(self, alert, sink: str, ref: str | None = None) -> None:
        now = _now()
        row = self.get(alert.key, sink)
        first = row["first_sent"] if row and row["open"] else now
        ref = ref if ref is not None else (row or {}).get("ref")
        self.rows[(alert.key, sink)] = {"key": alert.key, "sink": sink, "kind": alert.kind, "family": alert.family,
                                        "level": alert.level, "severity": alert.severity, "first_sent": first,
                                        "last_sent": now, "open": 1, "ref": ref, "title": alert.title}
        self._write(self.rows[(alert.key, sink)])

    def open_in(self, families: list[str]) -> list[dict]:
        return [r for r in self.rows.values() if r["open"] and r["family"] in families]

    def close(self, key: str, sink: str) -> None:
        row = self.rows.get((key, sink))
        if row is not None:
            row["open"] = 0
            self._write(row)

    def _write(self, row: dict) -> None:
        if self.conn is None or self.readonly:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(
                "INSERT OR REPLACE INTO alert_state(key, sink, kind, family, level, severity, first_sent, last_sent,"
                " open, ref, title) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                tuple(row[k] for k in ("key", "sink", "kind", "family", "level", "severity", "first_sent",
                                       "last_sent", "open", "ref", "title")))
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def finish(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
