"""Benchmark: 10,000 generated Kubernetes manifests through `tagguard scan` (and Checkov, if installed).

Usage: python benchmarks/kubernetes.py [--checkov [/tmp/ckv/bin/checkov]] [--runs 3] [--no-write]

Prints the figures and updates the `## Kubernetes manifests` section of BENCHMARKS.md.
Target: 10,000 manifests in under 3 s wall (whole CLI, C YAML loader).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = 10_000
SECTION = "## Kubernetes manifests"


def manifest(i: int) -> str:
    team = f"team-{i % 50}"
    ns = f"ns-{i % 40}"
    kind = i % 10
    if kind < 5:  # GPU Deployment, half of them missing cost-center on the pods
        extra = f"            cost-center: CC-{1000 + i % 97}\n" if i % 2 else ""
        return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: llm-{i}
  namespace: {ns}
  labels:
    app: llm-{i}
    cost-center: CC-{1000 + i % 97}
spec:
  replicas: {1 + i % 4}
  selector:
    matchLabels: {{app: llm-{i}}}
  template:
    metadata:
      labels:
            app: llm-{i}
            project: proj-{i % 30}
            environment: prod
            business-unit: {team}
{extra}    spec:
      nodeSelector:
        nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
      containers:
        - name: server
          image: vllm/vllm-openai:v0.6.3
          args: ["--model", "meta-llama/Meta-Llama-3-8B-Instruct", "--port", "8000"]
          ports: [{{containerPort: 8000}}]
          resources:
            limits: {{nvidia.com/gpu: {1 + i % 2}, memory: 64Gi}}
            requests: {{cpu: "8", memory: 64Gi}}
"""
    if kind < 7:
        return f"""apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: {ns}
spec:
  selector: {{app: llm-{i}}}
  ports:
    - port: 80
      targetPort: 8000
"""
    if kind == 7:
        return f"""apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata:
  name: train-{i}
  namespace: {ns}
spec:
  runPolicy: {{activeDeadlineSeconds: 36000}}
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        metadata:
          labels: {{project: proj-{i % 30}, environment: dev, business-unit: {team}, cost-center: CC-{i % 97}}}
        spec:
          containers:
            - name: pytorch
              image: pytorch/pytorch:2.4.0
              resources: {{limits: {{nvidia.com/gpu: 8}}}}
    Worker:
      replicas: {1 + i % 8}
      template:
        metadata:
          labels: {{project: proj-{i % 30}, environment: dev}}
        spec:
          containers:
            - name: pytorch
              image: pytorch/pytorch:2.4.0
              resources: {{limits: {{nvidia.com/gpu: 8}}}}
"""
    if kind == 8:
        return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg-{i}
  namespace: {ns}
data:
  config.json: '{{"max_batch": 32, "dtype": "bf16"}}'
"""
    return f"""apiVersion: v1
kind: ResourceQuota
metadata:
  name: quota-{i}
  namespace: {ns}
spec:
  hard:
    requests.nvidia.com/gpu: "{8 + i % 8}"
"""


def generate(root: Path, per_file: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for f in range(N // per_file):
        docs = [manifest(f * per_file + j) for j in range(per_file)]
        (root / f"m{f:05d}.yaml").write_text("---\n".join(docs))


def timed(cmd, runs: int, env=None):
    """Median and best wall time, and the child's CPU seconds (user + sys) of the median-ish run."""
    import resource

    walls, cpus = [], []
    proc = None
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=env)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), min(walls), proc, statistics.median(cpus)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkov", nargs="?", default=None,
                    const=shutil.which("checkov")
                    or ("/tmp/ckv/bin/checkov" if Path("/tmp/ckv/bin/checkov").exists() else None),
                    help="also time Checkov (minutes); without a path: checkov on PATH or /tmp/ckv/bin/checkov. "
                         "Without this option the Checkov rows already in BENCHMARKS.md are kept")
    ap.add_argument("--no-checkov", action="store_true", help="time tagguard only")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.no_checkov:
        args.checkov = None
    import yaml

    c_loader = hasattr(yaml, "CSafeLoader")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tagguard-k8s-bench-") as tmp:
        tmp = Path(tmp)
        layouts = {"100 files x 100 documents": (tmp / "streams", 100), "10,000 files x 1 document": (tmp / "files", 1)}
        for label, (path, per) in layouts.items():
            generate(path, per)
            out = tmp / "report.json"
            cmd = [sys.executable, "-m", "tagguard", "scan", str(path), "-f", "json", "-o", str(out)]
            med, best, proc, cpu = timed(cmd, args.runs)
            data = json.loads(out.read_text())
            s = data["summary"]
            rows.append(("tagguard", label, med, best, cpu,
                         f"{s['ai_resources']} AI resources, {s['findings']} findings, exit {proc.returncode}"))
            print(f"tagguard  {label:28s} median {med:6.2f} s  best {best:6.2f} s  "
                  f"({s['ai_resources']} AI resources, {s['findings']} findings)", flush=True)
            if args.checkov:
                cmd = [args.checkov, "-d", str(path), "--framework", "kubernetes", "-o", "json", "--quiet",
                       "--compact", "--skip-download"]
                env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
                med, best, proc, cpu = timed(cmd, 1, env=env)
                try:
                    rep = json.loads(proc.stdout)
                    rep = rep[0] if isinstance(rep, list) else rep
                    summ = rep.get("summary", {})
                    what = f"{summ.get('resource_count', '?')} resources, {summ.get('failed', '?')} failed checks"
                except (ValueError, AttributeError, IndexError):
                    what = f"exit {proc.returncode}; output not JSON"
                rows.append(("checkov (kubernetes framework)", label, med, best, cpu, what))
                print(f"checkov   {label:28s} wall   {med:6.2f} s  ({what})", flush=True)
    ckv_version = ""
    if args.checkov:
        ckv_version = subprocess.run([args.checkov, "--version"], capture_output=True, text=True).stdout.strip()
    kept: list = []  # Checkov rows of the last run that timed it (Checkov takes minutes: not re-run by default)
    bench = ROOT / "BENCHMARKS.md"
    if not args.checkov and bench.exists() and SECTION in bench.read_text():
        old_text = bench.read_text()
        start = old_text.index(SECTION)
        nxt = old_text.find("\n## ", start + len(SECTION))
        body = old_text[start:nxt if nxt >= 0 else len(old_text)]
        kept = [ln for ln in body.splitlines() if ln.startswith("| checkov")]
        m = re.search(r"one run for Checkov (\d[\w.]*\d)", body)
        ckv_version = m.group(1) if m else ""
    lines = [SECTION, "",
             f"`python benchmarks/kubernetes.py` on {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"PyYAML C loader: {'yes' if c_loader else 'no'}; {N:,} generated manifests (50% GPU Deployments, "
             "10% PyTorchJobs, Services, ConfigMaps, ResourceQuotas). Whole CLI wall time including start-up, "
             f"median of {args.runs} runs for tagguard, one run for Checkov{f' {ckv_version}' if ckv_version else ''}. "
             "Target: under 3 s.", "",
             f"Machine load average at the start: {os.getloadavg()[0]:.1f} (other jobs share these cores; "
             "CPU seconds are less sensitive to that than wall time).", "",
             "| tool | layout | wall (median) | best wall | CPU (user+sys) | what it reported |",
             "|---|---|---|---|---|---|"]
    for tool, label, med, best, cpu, what in rows:
        lines.append(f"| {tool} | {label} | {med:.2f} s | {best:.2f} s | {cpu:.2f} s | {what} |")
    lines += kept
    if not args.checkov:
        lines += ["", "Checkov was not timed in this run (it is only with `--checkov`; to install it: "
                  "`python -m venv /tmp/ckv && /tmp/ckv/bin/pip install checkov`)"
                  + ("; its rows are kept from the last run that timed it." if kept else ".")]
    lines += ["", "Both layouts parse the same 7,000 documents (Services and ConfigMaps are skipped by their "
              "`kind:` line without being parsed); one file per manifest adds the directory walk and 10,000 "
              "opens (about 0.25 s CPU here). Each document of a multi-document file is still parsed on its own, "
              "so a broken one is one `parse-error` with its file and line and the others are scanned."]
    lines.append("")
    text = "\n".join(lines)
    print()
    print(text)
    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        old = path.read_text() if path.exists() else "# Benchmarks\n"
        if SECTION in old:
            start = old.index(SECTION)
            nxt = old.find("\n## ", start + len(SECTION))
            old = old[:start] + text + ("\n" + old[nxt + 1:] if nxt >= 0 else "")
        else:
            old = old.rstrip("\n") + "\n\n" + text
        path.write_text(old)
    return 0


if __name__ == "__main__":
    sys.exit(main())
