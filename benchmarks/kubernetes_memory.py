"""Benchmark: memory and time of `tagguard scan` on N Pods in ONE file (issue 13, "Faster while at it").

Usage: python benchmarks/kubernetes_memory.py [--sizes 10000,50000,100000] [--runs 3]
                                              [--checkov [PATH]] [--checkov-timeout 900] [--no-write]

Generates the files into a temporary directory, runs the whole CLI once per run in a fresh process and
reads that process's peak RSS with ``resource.getrusage(RUSAGE_CHILDREN)`` from a one-child wrapper
(so each figure is one scan's peak, not the maximum over all runs).  Medians of ``--runs``.  Checkov's
kubernetes framework on the smallest file, one run with a timeout, when ``--checkov`` is given or
``.tools/checkov/bin/checkov`` exists.  Prints the figures and replaces the
``## Kubernetes memory`` section of BENCHMARKS.md.
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
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Kubernetes memory (Pods in one file)"
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


def measure(cmd: List[str], timeout: float) -> Tuple[float, float, int, float]:
    """(wall s, peak RSS MB, exit code, CPU s) of one run of ``cmd``."""
    # the files are over the default 10 MB per-file cap: raised for the benchmark (a trusted environment variable)
    env = {**os.environ, "TAGGUARD_MAX_FILE_BYTES": "1G"}
    out = subprocess.run([sys.executable, "-c", _WRAPPER, str(timeout), *cmd], capture_output=True, text=True,
                         timeout=timeout + 30, check=True, env=env)
    wall, rss_kib, rc, cpu = out.stdout.split()
    return float(wall), int(rss_kib) / 1024.0, int(rc), float(cpu)


def tagguard_cmd(directory: Path) -> List[str]:
    return [sys.executable, "-m", "tagguard", "scan", str(directory), "--format", "json"]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,50000,100000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkov", nargs="?", const="", default=None,
                    help="Checkov executable (default .tools/checkov/bin/checkov when it exists)")
    ap.add_argument("--checkov-timeout", type=float, default=900.0)
    ap.add_argument("--timeout", type=float, default=1800.0, help="per tagguard run")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    checkov = args.checkov or None
    default_ckv = ROOT / ".tools" / "checkov" / "bin" / "checkov"
    if checkov is None and default_ckv.exists():
        checkov = str(default_ckv)

    rows = []
    ckv_row = None
    with tempfile.TemporaryDirectory(prefix="tg-k8s-mem-") as tmp:
        for n in sizes:
            d = Path(tmp) / f"pods-{n}"
            f = generate(d, n)
            mb = f.stat().st_size / 1e6
            runs = [measure(tagguard_cmd(d), args.timeout) for _ in range(args.runs)]
            codes = {r[2] for r in runs}
            wall = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            cpu = statistics.median(r[3] for r in runs)
            rows.append((n, mb, wall, cpu, rss, sorted(codes)))
            print(f"tagguard {n:>7,} Pods ({mb:.1f} MB): wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB "
                  f"({rss * 1024 * 1024 / n / 1024:.1f} KB/Pod), exit {sorted(codes)}, runs {len(runs)}", flush=True)
        if checkov and sizes:
            n = sizes[0]
            d = Path(tmp) / f"pods-{n}"
            try:
                wall, rss, rc, cpu = measure([checkov, "-d", str(d), "--framework", "kubernetes", "--quiet",
                                              "--compact", "-o", "json"], args.checkov_timeout)
                ckv_row = (n, wall, cpu, rss, rc)
                print(f"checkov  {n:>7,} Pods: wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB, exit {rc}")
            except subprocess.TimeoutExpired:
                ckv_row = (n, None, None, None, None)
                print(f"checkov  {n:>7,} Pods: over the {args.checkov_timeout:.0f} s timeout")

    if len(rows) >= 2:
        (n0, _, _, _, r0, _), (n1, _, _, _, r1, _) = rows[0], rows[-1]
        slope = (r1 - r0) * 1024 / (n1 - n0)
        print(f"marginal memory: {slope:.2f} KB per additional Pod")
    if args.no_write:
        return 0
    lines = [SECTION, "",
             f"`python benchmarks/kubernetes_memory.py` - N Pods (GPU, nodeSelector, half missing a required tag) in "
             f"one YAML file, whole CLI (`TAGGUARD_MAX_FILE_BYTES=1G tagguard scan DIR --format json`), a fresh process per run, peak RSS from "
             f"`getrusage`; medians of {args.runs}. {platform.python_implementation()} {platform.python_version()}, "
             f"{os.cpu_count()} CPUs shared with other jobs (wall times are noisy; CPU and RSS less so).", "",
             "| Pods | file | wall | CPU | peak RSS | per Pod |", "|---:|---:|---:|---:|---:|---:|"]
    for n, mb, wall, cpu, rss, _codes in rows:
        lines.append(f"| {n:,} | {mb:.0f} MB | {wall:.1f} s | {cpu:.1f} s | {rss:.0f} MB | "
                     f"{rss * 1024 / n:.1f} KB |")
    if len(rows) >= 2:
        lines += ["", f"Marginal memory {slope:.2f} KB per additional Pod ({rows[0][0]:,} -> {rows[-1][0]:,})."]
    if ckv_row:
        n, wall, cpu, rss, rc = ckv_row
        lines += ["", (f"Checkov (`--framework kubernetes`), same {n:,}-Pod file, same run, one run: "
                       + (f"wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB." if wall is not None
                          else f"did not finish within {args.checkov_timeout:.0f} s."))]
    block = "\n".join(lines) + "\n"
    bench = ROOT / "BENCHMARKS.md"
    old = bench.read_text(encoding="utf-8") if bench.exists() else "# Benchmarks\n"
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + block + (old[nxt:] if nxt >= 0 else "")
    else:
        anchor = old.find("\n## ", old.find("## Kubernetes manifests") + 1) if "## Kubernetes manifests" in old else -1
        new = old[:anchor + 1] + block + "\n" + old[anchor + 1:] if anchor >= 0 else old.rstrip("\n") + "\n\n" + block
    bench.write_text(new, encoding="utf-8")
    print(json.dumps({"written": str(bench.relative_to(ROOT)), "section": SECTION}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
