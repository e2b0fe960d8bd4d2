"""History: the previous run is read and the new one written in one IMMEDIATE transaction, so
concurrent writers (two CI jobs sharing a history file) form one chain: every run's "new" and
"fixed" are relative to the run just before it, never to a stale one."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading

from tagguard.state import history
from tagguard.model import Finding, ScanResult


def finding(addr: str) -> Finding:
    return Finding("missing-tag", "missing_tag", "error", f"{addr}: x", address=addr, tag="x",
                   extra={"account": "1", "region": "us-east-1"})


def test_a_writer_paused_after_reading_cannot_use_a_stale_previous_run(tmp_path, monkeypatch):
    """Writer A is held right after it reads the previous run; writer B runs meanwhile.
    Reading inside the IMMEDIATE transaction makes B wait for A, so B's previous run is A's."""
    db = tmp_path / "h.db"
    history.record_run(db, ScanResult(findings=[finding("base")]), kind="scan")

    a_read = threading.Event()
    b_done = threading.Event()
    real_connect = history.connect

    def connect(path):
        conn = real_connect(path)
        if threading.current_thread().name == "A":
            def trace(sql):
                if "FROM findings" in sql and "SELECT" in sql and not a_read.is_set():
                    a_read.set()
                    b_done.wait(timeout=3)  # with the fix B is blocked on A's lock: give up after 3 s
            conn.set_trace_callback(trace)
        return conn

    monkeypatch.setattr(history, "connect", connect)
    out = {}

    def run(name, addrs):
        out[name] = history.record_run(db, ScanResult(findings=[finding(a) for a in addrs]), kind="scan")
        if name == "B":
            b_done.set()

    ta = threading.Thread(target=run, args=("A", ["base", "a"]), name="A")
    ta.start()
    assert a_read.wait(timeout=30)
    tb = threading.Thread(target=run, args=("B", ["base", "a", "b"]), name="B")
    tb.start()
    ta.join(60)
    tb.join(60)
    a, b = out["A"], out["B"]
    assert a["previous_run_id"] == 1 and a["run_id"] == 2
    assert b["previous_run_id"] == a["run_id"] and b["run_id"] == 3
    assert [x["address"] for x in b["new"]] == ["b"]  # not "a" again: A's run is B's previous run
    assert [t["run_id"] for t in b["trend"]] == [1, 2, 3]


WRITER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from tagguard.state.history import record_run
    from tagguard.model import Finding, ScanResult

    db, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    for i in range(n):
        fs = [Finding("missing-tag", "missing_tag", "error", f"{who}{i}", address=f"{who}-{i}", tag="x",
                      extra={"account": "1", "region": "r"}),
              Finding("missing-tag", "missing_tag", "error", "shared", address="shared", tag="x",
                      extra={"account": "1", "region": "r"})]
        h = record_run(db, ScanResult(findings=fs), kind="scan")
        print(json.dumps({"run_id": h["run_id"], "prev": h["previous_run_id"],
                          "new": sorted(x["address"] for x in h["new"]),
                          "fixed": sorted(x["address"] for x in h["fixed"]),
                          "still_open": h["still_open"], "mine": [f"{who}-{i}"]}), flush=True)
""")


def test_concurrent_writer_processes_form_one_chain(tmp_path):
    db = tmp_path / "h.db"
    history.record_run(db, ScanResult(), kind="scan")  # create the schema once
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(db), f"w{k}", "15"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(6)]
    runs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr
        runs += [json.loads(line) for line in stdout.splitlines()]
    assert len(runs) == 90
    by_id = {r["run_id"]: r for r in runs}
    assert sorted(by_id) == list(range(2, 92))  # every run stored once, ids dense
    conn = sqlite3.connect(str(db))
    stored = {}
    for run_id, addr in conn.execute("SELECT run_id, address FROM findings"):
        stored.setdefault(run_id, set()).add(addr)
    conn.close()
    for run_id, r in by_id.items():
        assert r["prev"] == run_id - 1, r  # never a stale previous run
        prev = stored.get(run_id - 1, set())
        mine = set(r["mine"]) | {"shared"}
        assert set(r["new"]) == mine - prev, r
        assert set(r["fixed"]) == prev - mine, r
        assert r["still_open"] == len(mine & prev)


def test_concurrent_writers_on_a_fresh_database(tmp_path):
    """The schema is created once even when the first runs race for it."""
    db = tmp_path / "fresh.db"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), str(db), f"w{k}", "4"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(6)]
    runs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=240)
        assert p.returncode == 0, stderr
        runs += [json.loads(line) for line in stdout.splitlines()]
    assert sorted(r["run_id"] for r in runs) == list(range(1, 25))
    assert all(r["prev"] == (r["run_id"] - 1 or None) for r in runs), runs


def test_a_fresh_database_whose_write_lock_is_held_is_waited_for(tmp_path):
    """Bug fixed (seen once in CI): SQLite refuses `PRAGMA journal_mode=WAL` at once ("database is locked",
    no busy handler) while another connection holds a write lock on a database still in rollback mode, so a
    first run racing another on a fresh file failed with "not a tagguard history database". It now waits."""
    import threading
    import time

    db = tmp_path / "fresh.db"
    sqlite3.connect(str(db)).close()
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(str(db), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # a writer's RESERVED lock, the file still in rollback mode
        locked.set()
        time.sleep(0.5)
        other.execute("COMMIT")
        other.close()
        done.set()

    t = threading.Thread(target=hold)
    t.start()
    assert locked.wait(10)
    started = time.monotonic()
    conn = history.connect(db)
    waited = time.monotonic() - started
    t.join()
    assert done.is_set() and waited >= 0.3  # it waited for the writer instead of failing at once
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION
    conn.close()
