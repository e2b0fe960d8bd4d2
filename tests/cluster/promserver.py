"""A real Prometheus (Debian's `prometheus` package) on 127.0.0.1 with data backfilled by
`promtool tsdb create-blocks-from openmetrics` from series written here, named and labelled as
kube-state-metrics and dcgm-exporter publish them (docs/cluster.md lists the sources)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from collections.abc import Iterable

import pytest

Series = tuple[str, dict[str, str]]


def binaries() -> tuple[str | None, str | None]:
    return shutil.which("prometheus"), shutil.which("promtool")


# Every test module that starts a Prometheus: ``pytestmark = needs_prometheus``.
needs_prometheus = pytest.mark.skipif(not all(binaries()), reason="Debian's prometheus package (prometheus, "
                                      "promtool) is not installed: run scripts/test-deps as root")

# Series the tests write: 2026-11-02T00:00:00Z, an on-demand p4d.24xlarge's rate per GPU-hour, and pod
# labels that satisfy the default taxonomy.
T0 = 1793577600
P4D = 21.957642 / 8
GOOD = {"label_business_unit": "research", "label_project": "llm", "label_environment": "prod",
        "label_cost_center": "CC-1"}


def _labels(lb: dict[str, str]) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in lb.items()) + "}"


class OpenMetricsWriter:
    """Families must be contiguous: call ``family`` once per metric name, then its series."""

    def __init__(self, path: Path):
        self.fh = open(path, "w", encoding="utf-8")
        self.samples = 0

    def family(self, name: str, kind: str = "gauge") -> None:
        self.fh.write(f"# TYPE {name} {kind}\n")

    def series(self, name: str, labels: dict[str, str], points: Iterable[tuple[float, float]]) -> None:
        head = name + _labels(labels) + " "
        w = self.fh.write
        n = 0
        for t, v in points:
            w(f"{head}{v:g} {t:.0f}\n")
            n += 1
        self.samples += n

    def close(self) -> None:
        self.fh.write("# EOF\n")
        self.fh.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Prometheus:
    def __init__(self, workdir: Path, openmetrics: Path, block_hours: int = 24):
        self.workdir = workdir
        self.data = workdir / "tsdb"
        self.data.mkdir(parents=True, exist_ok=True)
        prom, tool = binaries()
        assert prom and tool
        t0 = time.time()
        subprocess.run([tool, "tsdb", "create-blocks-from", "openmetrics",
                        f"--max-block-duration={block_hours}h", str(openmetrics), str(self.data)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=3600)
        self.backfill_seconds = time.time() - t0
        cfg = workdir / "prometheus.yml"
        cfg.write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            [prom, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{self.port}",
             f"--storage.tsdb.path={self.data}", "--storage.tsdb.retention.time=3650d"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=str(workdir))
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("prometheus exited: " + (workdir / "prometheus.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("prometheus did not become ready in 60 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


def _requests(pods: list[dict], w: OpenMetricsWriter, alive) -> None:
    """kube_pod_container_resource_requests (one series per container) and, for pods with init
    containers, kube_pod_init_container_resource_requests."""
    for metric, of in (("kube_pod_container_resource_requests", lambda p: p.get("containers") or {"main": p["count"]}),
                       ("kube_pod_init_container_resource_requests", lambda p: p.get("init") or {})):
        if not any(of(p) for p in pods):
            continue
        w.family(metric)
        for p in pods:
            for c, n in of(p).items():
                lb = {"namespace": p["namespace"], "pod": p["pod"], "uid": p["uid"], "container": c,
                      "node": p["node"], "resource": p["resource"], "unit": "integer"}
                w.series(metric, lb, ((t, n) for _, t in alive(p)))
    # kube_pod_init_container_info (one series per init container; restart_policy="Always" is a
    # sidecar, Kubernetes 1.29+; the label is empty for an ordinary init container, kube-state-metrics >= 2.11)
    if any(p.get("init") for p in pods):
        w.family("kube_pod_init_container_info")
        for p in pods:
            for c in p.get("init") or {}:
                lb = {"namespace": p["namespace"], "pod": p["pod"], "uid": p["uid"], "container": c,
                      "image_spec": "registry.example/init:1", "image": "registry.example/init:1",
                      "image_id": "registry.example/init@sha256:0", "container_id": f"containerd://{p['uid']}{c}",
                      "restart_policy": "Always" if c in p.get("sidecars", ()) else ""}
                w.series("kube_pod_init_container_info", lb, ((t, 1) for _, t in alive(p)))


PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")


def pod_series(pods: list[dict], nodes: list[dict], times: list[float], w: OpenMetricsWriter,
               namespaces: dict[str, dict[str, str]], quotas: list[dict] = (), exported: bool = False) -> None:
    """kube-state-metrics + dcgm-exporter series for ``pods`` on ``nodes`` at ``times``.

    pod: {namespace, pod, uid, node, resource, count, running: set/callable(i)->bool, labels: {label_x: v},
          owner: (kind, name) or None, util: [per-device % or None], model,
          containers: {name: count} (instead of count), init: {init container: count},
          sidecars: names of init containers with restartPolicy Always,
          alive: callable(i)->bool (the pod's series exist only then; default: always)}
    node: {node, labels: {label_...}, allocatable: {resource: n}, provider_id (kube_node_info)}
    """
    def run(p, i):
        r = p.get("running", True)
        return r(i) if callable(r) else bool(r)

    def alive(p):
        """The pod's points: it exists (in the API, so in kube-state-metrics) at ``alive(i)``."""
        a = p.get("alive")
        return [(i, t) for i, t in enumerate(times) if a is None or a(i)]

    _requests(pods, w, alive)
    w.family("kube_pod_status_phase")
    for p in pods:
        for ph in PHASES:
            lb = {"namespace": p["namespace"], "pod": p["pod"], "uid": p["uid"], "phase": ph}
            done = p.get("after", "Succeeded")
            w.series("kube_pod_status_phase", lb,
                     ((t, 1 if (ph == "Running" and run(p, i)) or (ph == done and not run(p, i)) else 0)
                      for i, t in alive(p)))
    w.family("kube_pod_labels")
    for p in pods:
        lb = dict({"namespace": p["namespace"], "pod": p["pod"], "uid": p["uid"]}, **p.get("labels", {}))
        w.series("kube_pod_labels", lb, ((t, 1) for _, t in alive(p)))
    w.family("kube_pod_owner")
    for p in pods:
        kind, name = p.get("owner") or ("<none>", "<none>")
        lb = {"namespace": p["namespace"], "pod": p["pod"], "uid": p["uid"], "owner_kind": kind,
              "owner_name": name, "owner_is_controller": "true" if p.get("owner") else "<none>"}
        w.series("kube_pod_owner", lb, ((t, 1) for _, t in alive(p)))
    w.family("kube_namespace_labels")
    for ns, labels in namespaces.items():
        w.series("kube_namespace_labels", dict({"namespace": ns}, **labels), ((t, 1) for t in times))
    w.family("kube_node_labels")
    for n in nodes:
        w.series("kube_node_labels", dict({"node": n["node"]}, **n.get("labels", {})), ((t, 1) for t in times))
    if any(n.get("provider_id") for n in nodes):
        w.family("kube_node_info")
        for n in nodes:
            lb = {"node": n["node"], "kernel_version": "6.1.0", "os_image": "Bottlerocket OS 1.20.0",
                  "container_runtime_version": "containerd://1.6.28", "kubelet_version": "v1.29.1",
                  "kubeproxy_version": "v1.29.1", "provider_id": n.get("provider_id", ""), "pod_cidr": "",
                  "system_uuid": f"ec2-{n['node']}", "internal_ip": "10.0.0.1"}
            w.series("kube_node_info", lb, ((t, 1) for t in times))
    w.family("kube_node_status_allocatable")
    for n in nodes:
        for res, v in n["allocatable"].items():
            w.series("kube_node_status_allocatable", {"node": n["node"], "resource": res, "unit": "integer"},
                     ((t, v) for t in times))
    if quotas:
        w.family("kube_resourcequota")
        for q in quotas:
            w.series("kube_resourcequota", {k: q[k] for k in ("namespace", "resourcequota", "resource", "type")},
                     ((t, q["value"]) for t in times))
    w.family("DCGM_FI_DEV_GPU_UTIL")
    for p in pods:
        for gpu, util in enumerate(p.get("util") or []):
            if util is None:
                continue
            lb = {"gpu": str(gpu), "UUID": f"GPU-{p['uid']}-{gpu}", "pci_bus_id": f"00000000:{gpu + 16:02X}:00.0",
                  "device": f"nvidia{gpu}", "modelName": p.get("model", "NVIDIA A100-SXM4-40GB"),
                  "Hostname": p["node"], "DCGM_FI_DRIVER_VERSION": "550.54.15", "container": "main",
                  "namespace": p["namespace"], "pod": p["pod"]}
            if exported:  # scraped with honor_labels: false: the exporter pod's own labels win
                lb = dict(lb, exported_namespace=lb.pop("namespace"), exported_pod=lb.pop("pod"),
                          namespace="gpu-operator", pod="nvidia-dcgm-exporter-x7k2p")
            w.series("DCGM_FI_DEV_GPU_UTIL", lb, ((t, util) for i, t in alive(p) if run(p, i)))


def gateway(upstream: str, *, allow=None, edit=None):
    """A loopback reverse proxy in front of a real Prometheus, as an auth gateway or a Thanos querier would be:
    ``allow(headers)`` false answers 401; ``edit(path, answer)`` may change a JSON answer before it is sent.
    Returns the running ``ThreadingHTTPServer`` (``server_port``; ``shutdown()`` it)."""
    import http.server
    import json
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def _forward(self, body=None):
            if allow is not None and not allow(self.headers):
                self.send_response(401)
                self.end_headers()
                self.wfile.write(b'{"status":"error","errorType":"unauthorized","error":"no credentials"}')
                return
            req = urllib.request.Request(upstream + self.path, data=body, method=self.command)
            if body is not None:
                req.add_header("Content-Type", self.headers.get("Content-Type", ""))
            with urllib.request.urlopen(req, timeout=60) as r:
                data = r.read()
            if edit is not None:
                data = json.dumps(edit(self.path, json.loads(data))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._forward()

        def do_POST(self):
            self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
