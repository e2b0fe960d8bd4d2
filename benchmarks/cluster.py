"""Benchmark: `tagguard cluster report` over 2,000 GPU pods on 250 nodes, 30 days of 1-minute samples.

The data goes through the same route as the tests: OpenMetrics text written here, one day at a
time, backfilled with `promtool tsdb create-blocks-from openmetrics` into a TSDB that a real
Prometheus (Debian package) serves on 127.0.0.1. Series per pod: kube_pod_container_resource_requests,
kube_pod_status_phase{phase="Running"} (the other four phases are left out to keep the backfill
in reach: the query selects phase="Running" by index, so they cost storage, not query time),
DCGM_FI_DEV_GPU_UTIL every minute; per node kube_node_status_allocatable every minute. The info
metrics (kube_pod_labels, kube_pod_owner, kube_namespace_labels, kube_node_labels) get one sample an
hour: the report reads their label sets from the series index (/api/v1/series), never their samples,
and the backfill on 2 shared cores takes minutes per day. 250 nodes × 8 GPUs = 2,000 GPUs, one per pod.

    python benchmarks/cluster.py [--days 30] [--runs 3] [--windows 7,30] [--data DIR] [--profile]

Prints, for each window (7 d and 30 d): median wall time of the report (3 runs), its peak RSS
(the tagguard process, measured with wait4), the number of queries and bytes read, and the peer
figure: one bare ``count_over_time`` over the whole window on the same server.
The TSDB is kept in --data (default /tmp/tagguard-bench-cluster) and reused when complete.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "cluster"))

from promserver import Prometheus, binaries  # noqa: E402

PODS, NODES, GPUS_PER_NODE = 2000, 250, 8
START = 1790812800  # 2026-10-01T00:00:00Z
DAY = 86400
TEAMS = ["research", "product", "platform", "ads", "search"]


def _lb(d):
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


def pods():
    out = []
    for i in range(PODS):
        ns = f"team{i % 20:02d}"
        node = f"ip-10-0-{i // GPUS_PER_NODE // 250}-{i // GPUS_PER_NODE % 250}"
        labels = {"label_project": f"p{i % 37}", "label_environment": "prod"}
        if i % 10 == 0:
            labels = {"label_project": f"p{i % 37}"}  # environment comes from the namespace
        if i % 50 == 0:
            labels = {}  # and these lack a project too: unattributed
        kind = "Job" if i % 3 == 0 else "ReplicaSet"
        out.append({"ns": ns, "pod": f"w{i:04d}", "uid": f"u{i:04d}", "node": node, "labels": labels,
                    "owner": (kind, f"{'train' if kind == 'Job' else 'serve'}-{i % 200:03d}"),
                    "util": (5 if i % 7 == 0 else 35 + i % 60)})
    return out


def write_day(path: Path, day: int) -> int:
    t0 = START + day * DAY
    ts = [str(t0 + 60 * i) for i in range(1440)]
    body = {v: ("\n").join(f"{v} {t}" for t in ts) for v in ("1", "8", "0")}
    hourly = ("\n").join(f"1 {t}" for t in ts[::60])
    n = 0
    ps = pods()
    with open(path, "w", encoding="utf-8") as fh:
        def series(name, labels, value, info=False):
            nonlocal n
            prefix = name + _lb(labels) + " "
            text = hourly if info else body[value]
            fh.write(prefix + text.replace("\n", "\n" + prefix) + "\n")
            n += text.count("\n") + 1

        fh.write("# TYPE kube_pod_container_resource_requests gauge\n")
        for p in ps:
            series("kube_pod_container_resource_requests", {"namespace": p["ns"], "pod": p["pod"], "uid": p["uid"],
                   "container": "main", "node": p["node"], "resource": "nvidia_com_gpu", "unit": "integer"}, "1")
        fh.write("# TYPE kube_pod_status_phase gauge\n")
        for p in ps:
            series("kube_pod_status_phase", {"namespace": p["ns"], "pod": p["pod"], "uid": p["uid"],
                                             "phase": "Running"}, "1")
        fh.write("# TYPE kube_pod_labels gauge\n")
        for p in ps:
            series("kube_pod_labels", dict({"namespace": p["ns"], "pod": p["pod"], "uid": p["uid"]}, **p["labels"]),
                   "1", info=True)
        fh.write("# TYPE kube_pod_owner gauge\n")
        for p in ps:
            series("kube_pod_owner", {"namespace": p["ns"], "pod": p["pod"], "uid": p["uid"],
                                      "owner_kind": p["owner"][0], "owner_name": p["owner"][1],
                                      "owner_is_controller": "true"}, "1", info=True)
        fh.write("# TYPE kube_namespace_labels gauge\n")
        for k in range(20):
            series("kube_namespace_labels", {"namespace": f"team{k:02d}", "label_business_unit": TEAMS[k % 5],
                                             "label_environment": "prod", "label_cost_center": f"CC-{k}"}, "1",
                   info=True)
        fh.write("# TYPE kube_node_labels gauge\n")
        nodes = sorted({p["node"] for p in ps})
        for j, node in enumerate(nodes):
            series("kube_node_labels", {"node": node, "label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                        "label_karpenter_sh_capacity_type": "spot" if j % 4 == 0 else "on-demand"},
                   "1", info=True)
        fh.write("# TYPE kube_node_status_allocatable gauge\n")
        for node in nodes:
            series("kube_node_status_allocatable", {"node": node, "resource": "nvidia_com_gpu", "unit": "integer"}, "8")
        fh.write("# TYPE DCGM_FI_DEV_GPU_UTIL gauge\n")
        for i, p in enumerate(ps):
            prefix = "DCGM_FI_DEV_GPU_UTIL" + _lb({"gpu": str(i % 8), "UUID": f"GPU-{p['uid']}",
                                                    "device": f"nvidia{i % 8}",
                                                    "modelName": "NVIDIA A100-SXM4-40GB", "Hostname": p["node"],
                                                    "container": "main", "namespace": p["ns"], "pod": p["pod"]}) + " "
            fh.write("".join(f"{prefix}{p['util']} {t}\n" for t in ts))
            n += 1440
        fh.write("# EOF\n")
    return n


def build(data: Path, days: int) -> dict:
    marker = data / f"complete-{days}d.json"
    if marker.exists():
        return json.loads(marker.read_text())
    # a shorter complete build is extended day by day (backfilling is the slow part)
    done = sorted((json.loads(m.read_text()) for m in data.glob("complete-*d.json")), key=lambda x: x["days"])
    done = [d for d in done if d["days"] < days][-1:]
    if done:
        samples, gen_s, fill_s, first = (done[0]["samples"], done[0]["generate_s"], done[0]["backfill_s"],
                                         done[0]["days"])
    else:
        if data.exists():
            shutil.rmtree(data)
        (data / "tsdb").mkdir(parents=True)
        samples, gen_s, fill_s, first = 0, 0.0, 0.0, 0
    _, tool = binaries()
    for day in range(first, days):
        om = data / "day.om"
        t = time.time()
        samples += write_day(om, day)
        gen_s += time.time() - t
        t = time.time()
        subprocess.run([tool, "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h", str(om),
                        str(data / "tsdb")], check=True, stdout=subprocess.DEVNULL)
        fill_s += time.time() - t
        om.unlink()
        print(f"  day {day + 1}/{days}: {samples:,} samples, generate {gen_s:.0f} s, backfill {fill_s:.0f} s",
              file=sys.stderr, flush=True)
    info = {"samples": samples, "generate_s": round(gen_s, 1), "backfill_s": round(fill_s, 1), "days": days}
    marker.write_text(json.dumps(info))
    return info


class Served(Prometheus):
    """The benchmark TSDB, already backfilled: only start the server."""

    def __init__(self, workdir: Path):  # noqa: D401 - reuse start/stop of the test helper
        import urllib.request

        from promserver import free_port

        prom, _ = binaries()
        self.workdir, self.data = workdir, workdir / "tsdb"
        cfg = workdir / "prometheus.yml"
        cfg.write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen([prom, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{self.port}",
                                      f"--storage.tsdb.path={self.data}", "--storage.tsdb.retention.time=3650d",
                                      # only for the peer query (one range over 86 M samples); the report's
                                      # chunked queries stay under the default 50 M
                                      "--query.max-samples=200000000",
                                      # keep the backfilled 1-day blocks as they are: no compaction
                                      # competing with the measured queries
                                      "--storage.tsdb.max-block-duration=24h"],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=str(workdir))
        for _ in range(600):
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("prometheus not ready")


def run_report(url: str, days: int, end: int, extra=(), src: str | None = None) -> dict:
    """One `tagguard cluster report` process: wall time, peak RSS (wait4), and its JSON. ``src``: run the
    tagguard of another source tree (e.g. `git archive <commit> src | tar -x -C DIR`: DIR/src)."""
    import tempfile

    args = [sys.executable, "-m", "tagguard", "cluster", "report", "--prometheus", url, "--until", str(end),
            "--window", f"{days}d", "-f", "json", *extra]
    env = dict(os.environ, PYTHONPATH=src) if src else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.time()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise RuntimeError(err.read().decode()[-2000:])
        rep = json.loads(out.read())
    return {"wall_s": wall, "rss_mib": usage.ru_maxrss / 1024.0, "cpu_s": usage.ru_utime + usage.ru_stime,
            "report": rep}


def peer(url: str, days: int, end: int) -> float:
    import urllib.parse
    import urllib.request

    q = f"count(count_over_time(kube_pod_container_resource_requests[{days}d]))"
    t = time.time()
    body = urllib.parse.urlencode({"query": q, "time": str(end - 30)}).encode()
    with urllib.request.urlopen(urllib.request.Request(url + "/api/v1/query", data=body), timeout=600) as r:
        json.loads(r.read())
    return time.time() - t


def profile(url: str, days: int, end: int) -> dict:
    """Server-side time of each kind of query the report sends, one chunk (day) after another, serially,
    from Prometheus' own query stats (``stats=all``: evalTotalTime), and the samples each reads."""
    import urllib.parse
    import urllib.request

    from tagguard.actuals.cluster import queries as Q
    from tagguard.actuals.cluster.split import resource_regex

    sel = Q.Selectors(resources=resource_regex())
    rng = f"{DAY * 1000 - 1}ms"  # Prometheus 2.x: closed ranges
    kinds = {"running (kube_pod_status_phase)": Q.running(rng), "utilisation (DCGM)": Q.used_mean(sel, rng),
             "node capacity": Q.node_capacity(sel, rng), "scrape interval": Q.samples_in(sel, rng),
             "requests at chunk end": Q.requests_now(sel),
             "init requests at chunk end": Q.requests_now(sel, Q.INIT_REQUESTS)}
    out = {k: [0.0, 0] for k in kinds}
    for day in range(days):
        at = end - day * DAY - 0.001
        for k, q in kinds.items():
            body = urllib.parse.urlencode({"query": q, "time": f"{at:.3f}", "stats": "all"}).encode()
            with urllib.request.urlopen(urllib.request.Request(url + "/api/v1/query", data=body), timeout=600) as r:
                st = json.loads(r.read())["data"].get("stats") or {}
            out[k][0] += float((st.get("timings") or {}).get("evalTotalTime", 0.0))
            out[k][1] += int((st.get("samples") or {}).get("totalQueryableSamples", 0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--windows", default=None, help="comma-separated window lengths in days (default: 7 and --days)")
    ap.add_argument("--data", type=Path, default=Path("/tmp/tagguard-bench-cluster"))
    ap.add_argument("--profile", action="store_true", help="also: server-side time per kind of query (stats=all)")
    ap.add_argument("--compare-src", default=None, metavar="DIR",
                    help="also run the report of this source tree (its src/), interleaved, for a before/after")
    a = ap.parse_args()
    if not all(binaries()):
        sys.exit("needs Debian's prometheus package (prometheus, promtool): scripts/test-deps")
    info = build(a.data, a.days)
    print(f"data: {info['samples']:,} samples ({info['days']} d); generate {info['generate_s']} s, "
          f"backfill {info['backfill_s']} s")
    srv = Served(a.data)
    end = START + a.days * DAY
    try:
        wins = [int(x) for x in a.windows.split(",")] if a.windows else sorted({min(7, a.days), a.days})
        for days in wins:
            runs, peers, before = [], [], []
            for _ in range(a.runs):
                runs.append(run_report(srv.url, days, end))
                peers.append(peer(srv.url, days, end))
                if a.compare_src:
                    before.append(run_report(srv.url, days, end, src=a.compare_src))
            rep = runs[-1]["report"]
            t = rep["totals"]
            walls = [r["wall_s"] for r in runs]
            print(f"{days:>2} d: report median {statistics.median(walls):.2f} s "
                  f"(runs {', '.join(f'{w:.2f}' for w in walls)}); "
                  f"CPU median {statistics.median(r['cpu_s'] for r in runs):.2f} s; "
                  f"peak RSS {max(r['rss_mib'] for r in runs):.0f} MiB; {rep['source']['queries']} queries, "
                  f"{rep['source']['bytes_read']:,} bytes; peer bare count_over_time median "
                  f"{statistics.median(peers):.2f} s (runs {', '.join(f'{p:.2f}' for p in peers)}); "
                  f"requested {t['requested_gpu_hours']:,.0f} GPU-h, used {t['used_gpu_hours']:,.0f}, "
                  f"pods {t['pods']}, "
                  f"unattributed {rep['unattributed']['gpu_hours']:,.0f} GPU-h, findings {len(rep['findings'])}",
                  flush=True)
            if before:
                bw = [r["wall_s"] for r in before]
                bt = before[-1]["report"]["totals"]
                print(f"    {a.compare_src}: median {statistics.median(bw):.2f} s "
                      f"(runs {', '.join(f'{w:.2f}' for w in bw)}); "
                      f"peak RSS {max(r['rss_mib'] for r in before):.0f} MiB; "
                      f"requested {bt['requested_gpu_hours']:,.0f} "
                      f"GPU-h, used {bt['used_gpu_hours']:,.0f}", flush=True)
            if a.profile:
                for kind, (secs, samples) in profile(srv.url, days, end).items():
                    print(f"    server, serially: {kind:<32} {secs:6.2f} s  {samples:>13,} samples", flush=True)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
