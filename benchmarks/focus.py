"""Benchmark `tagguard bill` on a generated FOCUS bill (default 10 million rows, Parquet, in /tmp).

    python benchmarks/focus.py [--rows 10000000] [--file /tmp/tagguard-focus-10m/bill.parquet] [--runs 3]

Each measurement is a fresh process timed by /usr/bin/time (wall seconds, peak RSS); the median of
--runs is printed. The peer figure comes from the same run: DuckDB alone, in a fresh process with
the same memory_limit and threads, summing EffectiveCost over the same file (the floor any reader
of this file pays), and the same plus a GROUP BY over the tag map and ResourceId.
The file is generated once (benchmarks/focus_gen.py) and not committed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd, cwd=None):
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", tf.name] + cmd
        res = subprocess.run(full, cwd=cwd, capture_output=True, text=True)
        if res.returncode not in (0, 1):
            raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
        wall, rss_kb, user, sys_ = tf.read().split()[-4:]
    return float(wall), int(rss_kb) / 1024, float(user) + float(sys_)


def median_of(cmd, runs, cwd=None):
    got = [timed(cmd, cwd) for _ in range(runs)]
    return (statistics.median(g[0] for g in got), max(g[1] for g in got), statistics.median(g[2] for g in got),
            [round(g[0], 2) for g in got])


PEER = """
import duckdb, sys
con = duckdb.connect(config={"memory_limit": "1GB", "threads": 2})
q = sys.argv[2]
print(con.execute(q.replace("FILE", "read_parquet('" + sys.argv[1] + "')")).fetchall()[:1])
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--file", default="/tmp/tagguard-focus-10m/bill.parquet")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    path = Path(a.file)
    if not path.exists():
        sys.path.insert(0, str(HERE))
        import focus_gen

        print(f"generating {a.rows:,} rows into {path} ...", flush=True)
        focus_gen.write(str(path), a.rows)
    work = Path(tempfile.mkdtemp(prefix="tg-bench-"))
    (work / ".git").mkdir()
    (work / ".tagguard.yaml").write_text("bill:\n  memory_limit: 1GB\n  threads: 2\n  shared:\n"
                                         "    tags: {cost-allocation: shared}\n", encoding="utf-8")
    tg = [sys.executable, "-m", "tagguard"]
    rows = [
        ("tagguard bill coverage (json)", tg + ["bill", "coverage", str(path), "-f", "json", "-o", os.devnull]),
        ("tagguard bill showback (json)", tg + ["bill", "showback", str(path), "-f", "json", "-o", os.devnull]),
        ("peer: DuckDB SELECT sum(EffectiveCost)",
         [sys.executable, "-c", PEER, str(path), "SELECT sum(EffectiveCost) FROM FILE"]),
        ("peer: DuckDB sum GROUP BY Tags, ResourceId, month",
         [sys.executable, "-c", PEER, str(path),
          "SELECT count(*) FROM (SELECT Tags, ResourceId, ChargePeriodStart[1:7], sum(EffectiveCost) FROM FILE "
          "GROUP BY ALL)"]),
    ]
    print(f"file: {path} ({path.stat().st_size / 1e6:.0f} MB), runs: {a.runs}, load average at start: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'what':<52} {'median wall s':>14} {'peak RSS MB':>12} {'median CPU s':>13}  runs")
    for label, cmd in rows:
        wall, rss, cpu, each = median_of(cmd, a.runs, cwd=work)
        print(f"{label:<52} {wall:>14.2f} {rss:>12.0f} {cpu:>13.2f}  {each}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
