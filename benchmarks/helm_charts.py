"""helm_release charts from the user's chart cache vs the same charts vendored in the repository.

    python benchmarks/helm_charts.py [--releases 10] [--runs 3] [--index-charts 2000]

Two copies of one Terraform root module with ``--releases`` ``helm_release`` blocks (one GPU Deployment
chart each, distinct chart names) are scanned in the same run:

* ``vendored``: each chart is a directory in the repository (``chart = "./charts/<name>"``);
* ``cache``: ``repository`` + ``chart`` + ``version``; fetched once with ``--fetch-modules`` from a chart
  repository on 127.0.0.1 into a fresh ``$XDG_CACHE_HOME``, then every timed scan reads the cache
  offline (the server is stopped).

Each figure is a fresh ``tagguard scan`` process (real helm, ``--helm-bin``); median of ``--runs``.
Both scans must find the same resources.  Also times reading one chart's versions from a generated
``index.yaml`` of ``--index-charts`` charts: the chart's block only (Helm's layout) vs a whole parse.
Writes its section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "remote_modules"))

RELEASE = '''resource "helm_release" "r{i}" {{
  name      = "r{i}"
  namespace = "ml"
  {source}
  values    = ["replicas: 2"]
  set {{
    name  = "team"
    value = "ml"
  }}
}}
'''


def helm_bin() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    return str(local) if local.is_file() else "helm"


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def index_figures(charts: int) -> tuple[float, float, int]:
    from tagguard.sources.terraform.remote.charts import RepoIndex, read_index

    lines = ["apiVersion: v1", "entries:"]
    for i in range(charts):
        lines.append(f"  chart{i}:")
        for v in range(10):
            lines += [f"  - name: chart{i}", f"    version: 1.{v}.0", "    digest: " + "a" * 64, "    urls:",
                      f"    - charts/chart{i}-1.{v}.0.tgz", "    description: |", "      A chart.",
                      "    created: 2026-01-01T00:00:00Z"]
    body = ("\n".join(lines) + "\n").encode()
    start = time.perf_counter()
    whole = read_index(body, "index.yaml")[f"chart{charts // 2}"]
    t_whole = time.perf_counter() - start
    start = time.perf_counter()
    sliced = RepoIndex(body, "index.yaml").versions_of(f"chart{charts // 2}")
    t_slice = time.perf_counter() - start
    assert sliced == whole
    return t_whole, t_slice, len(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--releases", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--index-charts", type=int, default=2000)
    args = ap.parse_args()
    from rmkit import GPU_CHART, Recorder, chart_index, chart_tgz, static_server

    from _report import machine, update_section

    work = Path(tempfile.mkdtemp(prefix="tagguard-bench-charts-"))
    files, entries = {}, {}
    for i in range(args.releases):
        data = chart_tgz("1.0.0", name=f"gpu{i}")
        files[f"/gpu{i}-1.0.0.tgz"] = data
        entries[f"gpu{i}"] = {"1.0.0": (f"gpu{i}-1.0.0.tgz", hashlib.sha256(data).hexdigest())}
    files["/index.yaml"] = chart_index(entries)
    srv = static_server(files, Recorder())
    cache_repo, vendored = work / "cache", work / "vendored"
    cache_repo.mkdir()
    vendored.mkdir()
    (cache_repo / "main.tf").write_text("".join(RELEASE.format(
        i=i, source=f'repository = "http://{srv.host}"\n  chart     = "gpu{i}"\n  version   = "^1"')
        for i in range(args.releases)))
    (vendored / "main.tf").write_text("".join(RELEASE.format(i=i, source=f'chart     = "./charts/gpu{i}"')
                                              for i in range(args.releases)))
    for i in range(args.releases):
        for rel, text in GPU_CHART.items():
            p = vendored / "charts" / f"gpu{i}" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text.replace("{version}", "1.0.0").replace("name: gpu-infer", f"name: gpu{i}"))
    conf = work / "user.yaml"
    conf.write_text(f'modules:\n  chart_hosts: ["{srv.host}"]\n')
    env = dict(os.environ, XDG_CACHE_HOME=str(work / "xdg-cache"), TAGGUARD_USER_CONFIG=str(conf))
    base = [sys.executable, "-m", "tagguard", "scan", "-f", "json", "--helm-bin", helm_bin()]
    first_wall, first_cpu, _ = timed([*base, "--fetch-modules", str(cache_repo)], env)
    srv.stop()
    walls: dict[str, list[float]] = {"vendored": [], "cache": []}
    cpus: dict[str, list[float]] = {"vendored": [], "cache": []}
    found: dict[str, list[str]] = {}
    for _ in range(args.runs):  # interleaved, so load drifts hit both
        for label, repo in (("vendored", vendored), ("cache", cache_repo)):
            wall, cpu, out = timed([*base, str(repo)], env)
            walls[label].append(wall)
            cpus[label].append(cpu)
            found[label] = sorted(r["address"] for r in json.loads(out)["resources"])
    assert found["vendored"] == found["cache"] and len(found["cache"]) == args.releases, found
    t_whole, t_slice, size = index_figures(args.index_charts)
    load = os.getloadavg()[0]

    def row(label: str, what: str) -> str:
        return (f"| {what} | {statistics.median(walls[label]):.2f} s | "
                f"{', '.join(f'{w:.2f}' for w in walls[label])} | {statistics.median(cpus[label]):.2f} s |")

    ratio = statistics.median(walls["cache"]) / statistics.median(walls["vendored"])
    vendored_row = row("vendored", 'the repository (`chart = "./charts/x"`)')
    cache_row = row("cache", "chart cache, offline")
    body = (f"`python benchmarks/helm_charts.py --releases {args.releases} --runs {args.runs} "
            f"--index-charts {args.index_charts}` ({machine()}; load average {load:.1f} at the end). "
            f"A root module with {args.releases} `helm_release` blocks, one GPU Deployment chart each, rendered by "
            f"helm ({'.tools/bin/helm' if '.tools' in helm_bin() else 'on PATH'}) with the release's values: "
            f"{args.releases} resources, the same in both scans. Fresh `tagguard scan -f json` process per figure, "
            "interleaved; median of the runs.\n"
            "\n"
            "| charts read from | median wall | runs (s) | median CPU |\n"
            "|---|---:|---|---:|\n"
            f"{vendored_row}\n"
            f"{cache_row}\n"
            f"| first run, `--fetch-modules` ({args.releases} archives + 1 index over loopback) | {first_wall:.2f} s "
            f"| 1 run | {first_cpu:.2f} s |\n"
            "\n"
            f"Cache / vendored: {ratio:.2f}. Target: the cached charts as fast as vendored ones (the same helm run per "
            "release; the cache adds a lookup and a directory walk per chart).\n"
            "\n"
            f"Reading one chart's versions from a generated `index.yaml` of {args.index_charts:,} charts x 10 versions "
            f"({size / 1e6:.1f} MB), in process: whole-file YAML load {t_whole:.2f} s, the chart's block only "
            f"(Helm's layout) {t_slice:.3f} s ({t_whole / max(t_slice, 1e-9):.0f}x).\n")
    update_section("helm_release charts: from the chart cache vs vendored", body)
    print(body)


if __name__ == "__main__":
    main()
