#!/usr/bin/env python3
"""Benchmark: `tagguard usage` aggregation of 1,000,000 generated tagguard.llm records.

    python benchmarks/llm_usage.py [--records 1000000] [--no-write]

Writes a JSONL file of generated records (20 callers, 6 models, 30 days, prompt
fingerprints, 1% untagged, one unknown model), then runs the full analysis
(parse, price, taxonomy check per caller, daily/weekly tables, anomalies) in a
fresh process for 100,000 and for N records, reporting wall time and peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) of each.  The same peak at
both sizes is the flat-memory check.  Updates the "## LLM token spend" section
of BENCHMARKS.md unless --no-write.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SECTION = "## LLM token spend"
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "openai/gpt-4.1", "anthropic.claude-3-5-sonnet-20240620-v1:0",
          "in-house-model"]


def generate(path: Path, n: int) -> None:
    rnd = random.Random(42)
    callers = []
    for i in range(20):
        tags = {"business-unit": f"bu{i % 5}", "project": f"p{i}", "environment": ["dev", "staging", "prod"][i % 3],
                "cost-center": f"CC-{i:03d}"}
        callers.append((f"svc-{i}", tags))
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(n):
            svc, tags = callers[k % 20]
            if k % 100 == 0:
                tags = {"business-unit": tags["business-unit"]}
            day = 1 + (k * 30 // n)
            rec = {"v": 1, "ts": f"2026-04-{day:02d}T{k % 24:02d}:00:00.000Z", "provider": None,
                   "model": MODELS[k % 6], "input_tokens": rnd.randint(100, 4000),
                   "output_tokens": rnd.randint(10, 800),
                   "cache_read_tokens": 0, "cache_write_tokens": 0, "request_id": f"req-{k}", "latency_ms": 500.0,
                   "service": svc, "prompt_fingerprint": f"fp{k % 50}", "tags": tags}
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")


CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from tagguard.config import Config
from tagguard.llm.analysis.report import analyse
rep = analyse([sys.argv[1]], Config())
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
peak_kib = ru.ru_maxrss
print(json.dumps({"seconds": dt, "cpu_seconds": ru.ru_utime + ru.ru_stime, "peak_mib": peak_kib / 1024,
                  "calls": rep["totals"]["calls"],
                  "cost_usd": rep["totals"]["cost_usd"], "findings": len(rep["findings"]),
                  "malformed": sum(i["malformed"] for i in rep["inputs"])}))
"""


def run(path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        small, big = Path(d) / "small.jsonl", Path(d) / "big.jsonl"
        generate(small, 100_000)
        generate(big, args.records)
        size_mb = big.stat().st_size / 1e6
        r_small = run(small)
        r_big = run(big)
        load = os.getloadavg()
    lines = [
        SECTION,
        "",
        f"`python benchmarks/llm_usage.py` on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({time.strftime('%Y-%m-%d')}). Full `tagguard usage` analysis "
        "(parse, price, taxonomy per caller, daily and"
        " weekly tables, anomalies, budgets) of generated tagguard.llm JSONL: 20 callers, 6 models (one unknown), "
        "30 days,"
        " 50 prompt fingerprints, 1% untagged. Each size runs in a fresh process; peak RSS from `resource.getrusage`.",
        "",
        "| records | file | wall time | CPU time | peak RSS | calls/s (CPU) |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| 100,000 | {size_mb * 100_000 / args.records:.0f} MB | {r_small['seconds']:.2f} s "
        f"| {r_small['cpu_seconds']:.2f} s"
        f" | {r_small['peak_mib']:.0f} MiB | {100_000 / r_small['cpu_seconds']:,.0f} |",
        f"| {args.records:,} | {size_mb:.0f} MB | {r_big['seconds']:.2f} s | {r_big['cpu_seconds']:.2f} s"
        f" | {r_big['peak_mib']:.0f} MiB | {args.records / r_big['cpu_seconds']:,.0f} |",
        "",
        f"Load average during the run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs "
        "(other work"
        " shares the machine, so wall time can exceed CPU time; CPU time includes interpreter start-up and imports).",
        "",
        f"Target: {args.records:,} records in under 10 s with flat memory: CPU time "
        f"{'met' if r_big['cpu_seconds'] < 10 else 'NOT met'}, "
        f"wall time {'met' if r_big['seconds'] < 10 else 'NOT met'}"
        f" at this load. Peak RSS grows by "
        f"{r_big['peak_mib'] - r_small['peak_mib']:+.0f} MiB from 100,000 to {args.records:,} records "
        "(memory follows distinct day x caller x model cells, not calls).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    print(json.dumps({"small": r_small, "big": r_big}))
    if not args.no_write:
        bm = REPO / "BENCHMARKS.md"
        cur = bm.read_text(encoding="utf-8") if bm.exists() else "# Benchmarks\n\n"
        pat = re.compile(r"^## LLM token spend\n.*?(?=^## |\Z)", re.S | re.M)
        cur = pat.sub(lambda m: text + "\n", cur) if pat.search(cur) else cur.rstrip("\n") + "\n\n" + text + "\n"
        bm.write_text(cur, encoding="utf-8")
    ok = r_big["cpu_seconds"] < 10
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
