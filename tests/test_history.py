"""History database: new / fixed / still open, unknown for failed scopes, and crash safety."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from clikit import run_cli

from tagguard.state.history import HistoryError, read_trend, record_run
from tagguard.model import Finding, ScanResult


def f(addr, tag, account="1", region="us-east-1"):
    return Finding("missing-tag", "missing_tag", "error", f"{addr}: {tag}", address=addr, tag=tag,
                   extra={"account": account, "region": region})


def test_new_fixed_still_open_and_unknown(tmp_path):
    db = tmp_path / "h.db"
    r1 = ScanResult(findings=[f("a", "x"), f("b", "x"), f("c", "x", account="2")])
    h1 = record_run(db, r1, showback={"totals": {"monthly_usd": 100.0, "unallocated_monthly_usd": 60.0}})
    assert h1["first_run"] and h1["run_id"] == 1
    # b fixed; c's account failed this time (unknown, not fixed); d new
    r2 = ScanResult(findings=[f("a", "x"), f("d", "y")],
                    errors=[{"account": "2", "region": None, "regions": ["us-east-1"], "code": "AccessDenied"}])
    h2 = record_run(db, r2, showback={"totals": {"monthly_usd": 100.0, "unallocated_monthly_usd": 40.0}})
    assert [x["address"] for x in h2["new"]] == ["d"]
    assert [x["address"] for x in h2["fixed"]] == ["b"]
    assert [x["address"] for x in h2["unknown"]] == ["c"]
    assert h2["still_open"] == 1
    trend = read_trend(db)
    assert [t["unallocated_usd"] for t in trend] == [60.0, 40.0] and trend[1]["complete"] is False


def test_not_a_database_is_one_line_error(tmp_path):
    bad = tmp_path / "x.db"
    bad.write_text("this is not sqlite" * 100)
    with pytest.raises(HistoryError, match="not a tagguard history database"):
        record_run(bad, ScanResult())


CHILD = textwrap.dedent("""
    import sys, time
    from tagguard.state.history import record_run
    from tagguard.model import Finding, ScanResult

    calls = [0]

    class SlowKey(Finding):
        # key() is first called while the run's findings are inserted, inside the transaction
        def key(self):
            calls[0] += 1
            if calls[0] == 500:
                print("mid-write", flush=True)
                time.sleep(60)
            return super().key()

    r = ScanResult(findings=[SlowKey("missing-tag", "missing_tag", "error", "m", address=f"r{i}", tag="t") for i in range(1000)])
    record_run(sys.argv[1], r)
""")  # noqa: E501


def test_killed_writer_leaves_earlier_runs_intact(tmp_path):
    db = tmp_path / "h.db"
    record_run(db, ScanResult(findings=[f("a", "x")]))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.strip() == "mid-write"  # the run row and 500 findings are written, not committed
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    conn = sqlite3.connect(str(db))
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 1
    conn.close()
    h = record_run(db, ScanResult(findings=[]))
    assert h["run_id"] == 2 and [x["address"] for x in h["fixed"]] == ["a"]


def test_history_command_text_and_json(tmp_path):
    db = tmp_path / "h.db"
    record_run(db, ScanResult(), showback={"totals": {"monthly_usd": 1000.0, "unallocated_monthly_usd": 500.0}})
    record_run(db, ScanResult(), showback={"totals": {"monthly_usd": 1000.0, "unallocated_monthly_usd": 300.0}})
    p = run_cli("history", db)
    assert p.returncode == 0 and "30.0%" in p.stdout and "(-$200.00)" in p.stdout
    p = run_cli("history", tmp_path / "none.db")
    assert p.returncode == 2 and p.stderr.startswith("tagguard: error:") and "no history database" in p.stderr
