"""Benchmark: memory and time of `tagguard scan` on N Pods in ONE file (issue 13, "Faster while at it").

Usage: python benchmarks/kubernetes_memory.py [--sizes 10000,50000,100000] [--runs 3]
                                              [--checkov [PATH] | --no-checkov] [--checkov-timeout 900] [--no-write]

Generates the files into a temporary directory, runs the whole CLI once per run in a fresh process and
reads that process's peak RSS with ``resource.getrusage(RUSAGE_CHILDREN)`` from a one-child wrapper
(so each figure is one scan's peak, not the maximum over all runs).  Medians of ``--runs``.  Checkov's
kubernetes framework on the smallest file, one run with a timeout, started in the background at the
beginning of the run (it takes minutes) when ``--checkov`` is given or ``.tools/checkov/bin/checkov``
exists: its peak RSS and CPU time are its own, wall times of both are taken on a shared machine.
Prints the figures and replaces the ``## Kubernetes memory`` section of BENCHMARKS.md.
Target: memory flat in the number of objects; 100,000 Pods under 300 MB peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Kubernetes memory (Pods in one file)"
NOTES = "What the figures say"  # a paragraph starting so after the figures is kept on rewrite
# A wrapper with exactly one child: RUSAGE_CHILDREN's ru_maxrss (KiB on Linux) is then that child's peak.
_WRAPPER = ("import resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "p = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,"
            " timeout=float(sys.argv[1]))\n"
            "w = time.perf_counter() - t\n"
            "ru = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
            "print(w, ru.ru_maxrss, p.returncode, ru.ru_utime + ru.ru_stime)\n")


def pod(i: int) -> str:
    extra = f"    cost-center: CC-{1000 + i % 97}\n" if i % 2 else ""  # half of them miss a required tag
    return f"""---
apiVersion: v1
kind: Pod
metadata:
  name: train-{i}
  namespace: ns-{i % 40}
  labels:
    app: train-{i}
    project: proj-{i % 30}
    environment: prod
    business-unit: team-{i % 50}
{extra}spec:
  nodeSelector:
    nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
  containers:
    - name: trainer
      image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
      command: ["python", "train.py"]
      resources:
        limits: {{nvidia.com/gpu: {1 + i % 2}, memory: 64Gi}}
        requests: {{cpu: "8", memory: 64Gi}}
"""


def generate(directory: Path, n: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pods.yaml"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(pod(i))
    return path


def measure(cmd: list[str], timeout: float) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MB, exit code, CPU s) of one run of ``cmd``."""
    # the files are over the default 10 MB per-file cap: raised for the benchmark (a trusted environment variable)
    env = {**os.environ, "TAGGUARD_MAX_FILE_BYTES": "1G"}
    out = subprocess.run([sys.executable, "-c", _WRAPPER, str(timeout), *cmd], capture_output=True, text=True,
                         timeout=timeout + 30, check=True, env=env)
    wall, rss_kib, rc, cpu = out.stdout.split()
    return float(wall), int(rss_kib) / 1024.0, int(rc), float(cpu)


def tagguard_cmd(directory: Path) -> list[str]:
    return [sys.executable, "-m", "tagguard", "scan", str(directory), "--format", "json"]


TARGET_PODS, TARGET_MB = 100_000, 300.0


def load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on Linux
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkov", nargs="?", const="", default=None,
                    help="Checkov executable (default .tools/checkov/bin/checkov when it exists)")
    ap.add_argument("--no-checkov", action="store_true", help="do not run Checkov")
    ap.add_argument("--checkov-timeout", type=float, default=900.0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="per tagguard run")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    checkov = args.checkov or None
    default_ckv = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    if checkov is None and default_ckv.exists():
        checkov = str(default_ckv)
    if args.no_checkov:
        checkov = None

    rows = []
    ckv: dict = {}
    load_start = load()
    with tempfile.TemporaryDirectory(prefix="tg-k8s-mem-") as tmp:
        dirs = {n: Path(tmp) / f"pods-{n}" for n in sizes}
        files = {n: generate(d, n) for n, d in dirs.items()}
        thread = None
        if checkov and sizes:
            n_ckv = sizes[0]

            def run_checkov() -> None:
                try:
                    ckv["row"] = measure([checkov, "-d", str(dirs[n_ckv]), "--framework", "kubernetes", "--quiet",
                                          "--compact", "-o", "json"], args.checkov_timeout)
                except subprocess.TimeoutExpired:
                    ckv["row"] = None
                ckv["n"] = n_ckv

            thread = threading.Thread(target=run_checkov, daemon=True)
            thread.start()
        for n in sizes:
            mb = files[n].stat().st_size / 1e6
            runs = [measure(tagguard_cmd(dirs[n]), args.timeout) for _ in range(args.runs)]
            codes = sorted({r[2] for r in runs})
            wall = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            cpu = statistics.median(r[3] for r in runs)
            rows.append((n, mb, wall, cpu, rss, codes, [round(r[1]) for r in runs]))
            print(f"tagguard {n:>7,} Pods ({mb:.1f} MB): wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB "
                  f"({rss * 1024 / n:.1f} KB/Pod), exit {codes}, runs {[round(r[1]) for r in runs]} MB", flush=True)
        if thread is not None:
            thread.join(args.checkov_timeout + 60)
            row = ckv.get("row")
            if row:
                print(f"checkov  {ckv['n']:>7,} Pods: wall {row[0]:.1f} s, CPU {row[3]:.1f} s, "
                      f"peak RSS {row[1]:.0f} MB, exit {row[2]}")
            else:
                print(f"checkov  {sizes[0]:>7,} Pods: did not finish within {args.checkov_timeout:.0f} s")
    load_end = load()

    slope = None
    if len(rows) >= 2:
        (n0, *_a), (n1, *_b) = rows[0], rows[-1]
        slope = (rows[-1][4] - rows[0][4]) * 1024 / (n1 - n0)
        print(f"marginal memory: {slope:.2f} KB per additional Pod")
    at_target = next((r for r in rows if r[0] == TARGET_PODS), None)
    if args.no_write:
        return 0
    lines = [SECTION, "",
             f"`python benchmarks/kubernetes_memory.py --runs {args.runs}` "
             f"({time.strftime('%Y-%m-%d', time.gmtime())}): "
             "N GPU Pods (nodeSelector, half missing a required tag) in one YAML file, whole CLI "
             "(`TAGGUARD_MAX_FILE_BYTES=1G tagguard scan DIR --format json`; the files are over the default 10 MB "
             "per-file cap), a fresh process per run, peak RSS from `getrusage`; medians of "
             f"{args.runs}. {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs "
             f"shared with other engineers' jobs (load average {load_start} at start, {load_end} at end; wall "
             "times are noisy, CPU and RSS much less)" + (", Checkov running at the same time on the "
                                                          "smallest file." if ckv else "."), "",
             "| Pods | file | wall | CPU | peak RSS (runs) | per Pod |", "|---:|---:|---:|---:|---:|---:|"]
    for n, mb, wall, cpu, rss, _codes, each in rows:
        lines.append(f"| {n:,} | {mb:.0f} MB | {wall:.1f} s | {cpu:.1f} s | "
                     f"{rss:.0f} MB ({', '.join(map(str, each))}) | {rss * 1024 / n:.1f} KB |")
    lines.append("")
    if slope is not None:
        lines.append(f"Marginal memory: {slope:.2f} KB per additional Pod ({rows[0][0]:,} -> {rows[-1][0]:,}).")
    if at_target is not None:
        met = at_target[4] < TARGET_MB
        lines.append(f"Target ({TARGET_PODS:,} Pods under {TARGET_MB:.0f} MB peak RSS): "
                     f"{'met' if met else 'not met'}, {at_target[4]:.0f} MB "
                     f"({at_target[4] / TARGET_MB:.2f} of the limit).")
    row = ckv.get("row")
    if ckv:
        n = ckv.get("n", sizes[0])
        mine = next(r for r in rows if r[0] == n)
        if row:
            wall, rss, rc, cpu = row
            lines += ["", (f"Checkov (`.tools/checkov`, `--framework kubernetes --compact -o json`), "
                           f"the same {n:,}-Pod file in the same run, one run: wall {wall:.1f} s, CPU {cpu:.1f} s, "
                           f"peak RSS {rss:.0f} MB (exit {rc}). tagguard on that file: "
                           f"{rss / mine[4]:.1f}x less memory, {cpu / mine[3]:.1f}x less CPU.")]
        else:
            lines += ["", f"Checkov on the same {n:,}-Pod file did not finish within {args.checkov_timeout:.0f} s."]
    block = "\n".join(lines) + "\n"
    bench = ROOT / "BENCHMARKS.md"
    old = bench.read_text(encoding="utf-8") if bench.exists() else "# Benchmarks\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        keep = ""
        notes = old.find("\n" + NOTES, start)
        if notes >= 0 and (nxt < 0 or notes < nxt):  # the hand-written analysis below the figures stays
            keep = old[notes:nxt] if nxt >= 0 else old[notes:]
            keep = "\n" + keep.strip("\n") + "\n"
        new = old[:start] + block + keep + (old[nxt:] if nxt >= 0 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    bench.write_text(new, encoding="utf-8")
    print(json.dumps({"written": str(bench.relative_to(ROOT)), "section": SECTION}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
