"""Run history in SQLite (``--history PATH``): what is new, fixed and still open, and the trend.

Schema (version 1; ``PRAGMA user_version`` holds it)::

    runs(id INTEGER PRIMARY KEY, kind TEXT,            -- 'drift' | 'scan'
         started_at TEXT, finished_at TEXT,            -- UTC ISO 8601
         complete INTEGER,                             -- 0 when errors[] was not empty
         scope TEXT, tool_version TEXT,
         resources INTEGER, ai_resources INTEGER, findings INTEGER, errors INTEGER,
         monthly_usd REAL, gpu_hours REAL,             -- priced AI spend per month
         unallocated_usd REAL, unallocated_gpu_hours REAL)
    findings(run_id INTEGER REFERENCES runs(id), fkey TEXT,   -- JSON [file, address, rule, tag]
             rule TEXT, category TEXT, severity TEXT, address TEXT, tag TEXT,
             account TEXT, region TEXT, message TEXT)
    resources(run_id INTEGER REFERENCES runs(id), address TEXT, type TEXT, account TEXT, region TEXT,
              state TEXT, monthly_usd REAL, gpu_hours REAL, allocated INTEGER)
    errors(run_id INTEGER REFERENCES runs(id), account TEXT, region TEXT, service TEXT, code TEXT, message TEXT)
    cluster_groups(run_id INTEGER REFERENCES runs(id), tag TEXT, value TEXT,  -- per taxonomy value
                   cost_usd REAL, monthly_usd REAL, gpu_hours REAL, used_gpu_hours REAL)

Cluster runs (``tagguard cluster report --history PATH``) are runs of kind 'cluster': started_at /
finished_at are the report's window, monthly_usd is the actual GPU cost as a monthly rate (× 730 h /
window hours), gpu_hours the requested GPU-hours of the window, unallocated_* the unattributed pods'
cost (monthly rate) and GPU-hours, findings the report's findings. ``cluster_groups`` was added
without a version change: it is a new table, which schema-1 readers never look at.

Each run is read against its predecessor and written in one ``BEGIN IMMEDIATE`` transaction
in WAL mode, so concurrent writers form one chain (each run's previous run is the one just
before it); a process killed mid-write leaves earlier runs intact and the partial run
invisible (SQLite rolls it back on the next open).  "Fixed" means a finding of the previous run
of the same kind that is absent now *and* whose account/region was scanned without error this
time; findings in an account or region that failed are "unknown", never "fixed".
"""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
  complete INTEGER NOT NULL, scope TEXT, tool_version TEXT,
  resources INTEGER, ai_resources INTEGER, findings INTEGER, errors INTEGER,
  monthly_usd REAL, gpu_hours REAL, unallocated_usd REAL, unallocated_gpu_hours REAL);
CREATE TABLE IF NOT EXISTS findings(
  run_id INTEGER NOT NULL REFERENCES runs(id), fkey TEXT NOT NULL, rule TEXT, category TEXT, severity TEXT,
  address TEXT, tag TEXT, account TEXT, region TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS findings_run ON findings(run_id);
CREATE TABLE IF NOT EXISTS resources(
  run_id INTEGER NOT NULL REFERENCES runs(id), address TEXT, type TEXT, account TEXT, region TEXT, state TEXT,
  monthly_usd REAL, gpu_hours REAL, allocated INTEGER);
CREATE INDEX IF NOT EXISTS resources_run ON resources(run_id);
CREATE TABLE IF NOT EXISTS errors(
  run_id INTEGER NOT NULL REFERENCES runs(id), account TEXT, region TEXT, service TEXT, code TEXT, message TEXT);
"""
CLUSTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster_groups(
  run_id INTEGER NOT NULL REFERENCES runs(id), tag TEXT NOT NULL, value TEXT NOT NULL,
  cost_usd REAL, monthly_usd REAL, gpu_hours REAL, used_gpu_hours REAL);
CREATE INDEX IF NOT EXISTS cluster_groups_run ON cluster_groups(run_id);
"""
HOURS_PER_MONTH = 730.0


class HistoryError(Exception):
    """One-line problem with the history database."""


BUSY_TIMEOUT_S = 30.0


def _journal_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL, waiting for other writers. SQLite answers "database is locked" at once, without its busy
    handler, when another connection holds a write lock on a database still in rollback mode (two first runs
    racing on a fresh file: seen in CI); so this retries with a growing pause up to the same timeout."""
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_S
    pause = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            contended = "locked" in str(exc) or "busy" in str(exc)
            if not contended or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
        _journal_wal(conn)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise HistoryError(f"{path}: history schema version {version} is newer than this tagguard "
                               f"({SCHEMA_VERSION})")
        if version == 0:
            conn.executescript(f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;")
        return conn
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: not a tagguard history database ({exc})") from None


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _fkey(f) -> str:
    return json.dumps(list(f.key()))


def record_run(path: Path, result, *, kind: str = "drift", started_at: str | None = None,
               showback: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store ``result`` as a run; return
    ``{"run_id", "previous_run_id", "new", "fixed", "still_open", "unknown", "trend"}``."""
    from tagguard import __version__

    sb = showback or result.showback or {}
    totals = sb.get("totals") or {}
    summary = result.summary()
    unalloc = {r["address"] for r in sb.get("top_unallocated") or []}
    active = result.active_findings()
    conn = connect(path)
    try:
        # Read the previous run and write this one in the same IMMEDIATE transaction: a
        # concurrent writer waits, so "new" and "fixed" are always against the run just before.
        conn.execute("BEGIN IMMEDIATE")
        try:
            prev = conn.execute("SELECT id FROM runs WHERE kind=? ORDER BY id DESC LIMIT 1", (kind,)).fetchone()
            prev_id = prev[0] if prev else None
            prev_rows = conn.execute("SELECT fkey, rule, address, tag, account, region, message FROM findings"
                                     " WHERE run_id=?", (prev_id,)).fetchall() if prev_id else []
            cur = conn.execute(
                "INSERT INTO runs(kind, started_at, finished_at, complete, scope, tool_version, resources,"
                " ai_resources, findings, errors, monthly_usd, gpu_hours, unallocated_usd, unallocated_gpu_hours)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (kind, started_at or _now(), _now(), 0 if result.errors else 1,
                 (result.drift or {}).get("scope"), __version__, summary["resources"],
                 summary["ai_resources"], summary["findings"], len(result.errors),
                 totals.get("monthly_usd", summary["monthly_usd"]),
                 totals.get("gpu_hours", summary["gpu_hours_per_month"]),
                 totals.get("unallocated_monthly_usd"), totals.get("unallocated_gpu_hours")))
            run_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO findings VALUES (?,?,?,?,?,?,?,?,?,?)",
                ((run_id, _fkey(f), f.rule, f.category, f.severity, f.address, f.tag,
                  f.extra.get("account"), f.extra.get("region"), f.message) for f in active))
            conn.executemany(
                "INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?)",
                ((run_id, r.address, r.type, r.meta.get("account"), r.meta.get("region"), r.meta.get("state"),
                  r.cost.monthly_usd if r.cost else None, r.cost.gpu_hours_per_month if r.cost else None,
                  0 if r.address in unalloc else 1) for r in result.resources))
            conn.executemany(
                "INSERT INTO errors VALUES (?,?,?,?,?,?)",
                ((run_id, e.get("account"), e.get("region") or ",".join(e.get("regions") or []), e.get("service"),
                  e.get("code"), e.get("message")) for e in result.errors))
            runs = trend(conn, kind)  # ends with this run, whatever commits next
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        delta = _delta(active, prev_rows, result.errors)
        return {"run_id": run_id, "previous_run_id": prev_id, **delta, "trend": runs}
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot write history ({exc})") from None
    finally:
        conn.close()


def _failed_scopes(errors: list[dict[str, Any]]) -> tuple[set, set]:
    accounts, pairs = set(), set()
    for e in errors:
        if e.get("regions") is not None or e.get("region") is None:
            accounts.add(e.get("account"))
        else:
            pairs.add((e.get("account"), e.get("region")))
    return accounts, pairs


def _delta(active, prev_rows, errors) -> dict[str, Any]:
    now = {_fkey(f): f for f in active}
    prev = {row[0]: row for row in prev_rows}
    bad_accounts, bad_pairs = _failed_scopes(errors)
    new = [now[k] for k in now if k not in prev]
    fixed: list[Any] = []
    unknown: list[Any] = []
    for k, row in prev.items():
        if k in now:
            continue
        acct, region = row[4], row[5]
        (unknown if acct in bad_accounts or (acct, region) in bad_pairs else fixed).append(row)

    def brief_f(f):
        return {"rule": f.rule, "address": f.address, "tag": f.tag, "message": f.message}

    def brief_row(row):
        return {"rule": row[1], "address": row[2], "tag": row[3], "message": row[6]}

    return {"new": [brief_f(f) for f in new], "fixed": [brief_row(r) for r in fixed],
            "still_open": len([k for k in now if k in prev]), "unknown": [brief_row(r) for r in unknown],
            "first_run": not prev_rows and not prev}


def trend(conn: sqlite3.Connection, kind: str | None = None, limit: int = 30) -> list[dict[str, Any]]:
    q = ("SELECT id, kind, finished_at, complete, monthly_usd, unallocated_usd, gpu_hours, unallocated_gpu_hours,"
         " findings, errors FROM runs" + (" WHERE kind=?" if kind else "") + " ORDER BY id DESC LIMIT ?")
    rows = conn.execute(q, ((kind, limit) if kind else (limit,))).fetchall()
    out = []
    for r in reversed(rows):
        out.append({"run_id": r[0], "kind": r[1], "at": r[2], "complete": bool(r[3]), "monthly_usd": r[4],
                    "unallocated_usd": r[5], "gpu_hours": r[6], "unallocated_gpu_hours": r[7],
                    "findings": r[8], "errors": r[9]})
    return out


def record_cluster(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """Store a ``tagguard cluster report`` as a run of kind 'cluster' (window, actual cost as a monthly
    rate, unattributed share, per-taxonomy-value cost); return ``{"run_id", "previous_run_id", "trend",
    "groups_before"}`` (the previous cluster run's cost per group value, for the change per team)."""
    from tagguard import __version__

    w, t, un = report["window"], report["totals"], report["unattributed"]
    scale = HOURS_PER_MONTH / w["hours"] if w.get("hours") else 0.0
    conn = connect(path)
    try:
        conn.executescript(CLUSTER_SCHEMA)
        conn.execute("BEGIN IMMEDIATE")
        try:
            prev = conn.execute("SELECT id FROM runs WHERE kind='cluster' ORDER BY id DESC LIMIT 1").fetchone()
            prev_id = prev[0] if prev else None
            before = {(r[0], r[1]): r[2] for r in conn.execute(
                "SELECT tag, value, monthly_usd FROM cluster_groups WHERE run_id=?", (prev_id,))} if prev_id else {}
            cur = conn.execute(
                "INSERT INTO runs(kind, started_at, finished_at, complete, scope, tool_version, resources,"
                " ai_resources, findings, errors, monthly_usd, gpu_hours, unallocated_usd, unallocated_gpu_hours)"
                " VALUES ('cluster',?,?,?,?,?,?,?,?,0,?,?,?,?)",
                (w["start"], w["end"], 1, str(report.get("source", {}).get("prometheus") or "")[:300], __version__,
                 t.get("pods", 0), t.get("pods", 0), len(report.get("findings") or []),
                 t["cost_usd"] * scale, t["requested_gpu_hours"], un["cost_usd"] * scale, un["gpu_hours"]))
            run_id = cur.lastrowid
            rows = []
            for tag, lines in (report.get("by_label") or {}).items():
                for line in lines:
                    rows.append((run_id, tag, line["value"], line["cost_usd"], line["cost_usd"] * scale,
                                 line["requested_gpu_hours"], line["used_gpu_hours"]))
            conn.executemany("INSERT INTO cluster_groups VALUES (?,?,?,?,?,?,?)", rows)
            runs = trend(conn, "cluster")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        changes = []
        for (_, tag, value, _c, monthly, _h, _u) in rows:
            old = before.get((tag, value))
            if old is not None or prev_id:
                changes.append({"tag": tag, "value": value, "monthly_usd": round(monthly, 2),
                                "previous_monthly_usd": None if old is None else round(old, 2),
                                "change_usd": None if old is None else round(monthly - old, 2)})
        return {"run_id": run_id, "previous_run_id": prev_id, "trend": runs, "groups": changes}
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot write history ({exc})") from None
    finally:
        conn.close()


def read_trend(path: Path, kind: str | None = None, limit: int = 30) -> list[dict[str, Any]]:
    if not Path(path).exists():
        raise HistoryError(f"{path}: no history database (run `tagguard drift --history {path}` first)")
    conn = connect(path)
    try:
        return trend(conn, kind, limit)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot read history ({exc})") from None
    finally:
        conn.close()
