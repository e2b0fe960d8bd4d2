"""Sidecar containers (Kubernetes 1.29+: an init container with ``restartPolicy: Always``) keep running
beside the app containers, so their requests add up instead of taking the max like ordinary init
containers. kube-state-metrics (>= 2.11) says which init container is a sidecar in
``kube_pod_init_container_info{restart_policy="Always"}``; it does not say the order of the init
containers, so an ordinary init container is counted with every sidecar of its pod (the most the pod
can hold) and the report says for how many pods that assumption mattered.

Scenario (4 h of 30 s samples; window 2026-11-02T00:00Z .. 04:00Z), node k1 p4d.24xlarge on demand,
8 GPUs (21.957642 / 8 $/GPU-h), by hand:
  side/mesh  app 1 GPU, sidecar `proxy` 1 GPU, init `fetch` 1 GPU
             Kubernetes: max(fetch + sidecars before it <= 1 + 1, app + sidecars = 1 + 1) = 2
             -> 2 × 4 h = 8 GPU-h (counted as an init container: max(1, 1) = 1 -> 4 GPU-h)
  side/big   app 1 GPU, sidecar `logger` 1 GPU, init `warm` 4 GPUs
             order unknown: max(4 + 1, 1 + 1) = 5 (4 if `logger` came after `warm`) -> 5 × 4 h = 20 GPU-h
  side/plain app 2 GPUs, init `prep` 1 GPU, no sidecar -> max(1, 2) = 2 × 4 h = 8 GPU-h
  requested 8 + 20 + 8 = 36 GPU-h; k1 has 16 GPUs: capacity 64 GPU-h, idle with no pod 64 - 36 = 28
"""
from __future__ import annotations

import json

import pytest
from clikit import run_cli

from promserver import GOOD, needs_prometheus, OpenMetricsWriter, P4D, pod_series, Prometheus, T0

pytestmark = needs_prometheus

TIMES = [T0 + 30 * i for i in range(480)]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    work = tmp_path_factory.mktemp("prom-sidecar")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "k1", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                       "label_karpenter_sh_capacity_type": "on-demand"},
              "allocatable": {"nvidia_com_gpu": 16}}]
    gpu = {"node": "k1", "resource": "nvidia_com_gpu", "labels": GOOD}
    pods = [
        dict(gpu, namespace="side", pod="mesh", uid="c1", count=1, init={"proxy": 1, "fetch": 1}, sidecars={"proxy"},
             owner=("ReplicaSet", "mesh-rs")),
        dict(gpu, namespace="side", pod="big", uid="c2", count=1, init={"logger": 1, "warm": 4}, sidecars={"logger"},
             owner=("ReplicaSet", "big-rs")),
        dict(gpu, namespace="plain", pod="p", uid="c3", count=2, init={"prep": 1}, owner=("ReplicaSet", "p-rs")),
    ]
    pod_series(pods, nodes, TIMES, w, {"side": {}, "plain": {}})
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


@pytest.mark.parametrize("chunk", ["1h", "90m"])
def test_sidecars_add_up_with_the_app_containers(prom, chunk):
    res = run_cli(*["cluster", "report", "--prometheus", prom.url, "--since", "2026-11-02T00:00:00Z",
                   "--until", "2026-11-02T04:00:00Z", "-f", "json", "--chunk", chunk])
    assert res.exit_code in (0, 1), res.output
    rep = json.loads(res.output)
    ns = {r["namespace"]: r for r in rep["by_namespace"]}
    assert ns["side"]["requested_gpu_hours"] == pytest.approx(8 + 20)
    assert ns["plain"]["requested_gpu_hours"] == pytest.approx(8)
    t = rep["totals"]
    assert t["requested_gpu_hours"] == pytest.approx(36)
    assert t["idle_unallocated_gpu_hours"] == pytest.approx(64 - 36)
    assert t["cost_usd"] == pytest.approx(36 * P4D)
    how = rep["split"]["init_containers"]
    assert "2 pod(s) with GPU sidecar containers" in how
    assert "1 pod(s) where the order of init containers and sidecars" in how


def test_short_sidecar_pod_read_by_name(tmp_path):
    """A pod alive at no chunk end: its init requests come from the by-name read, per container too."""
    om = tmp_path / "s.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "k1", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge"},
              "allocatable": {"nvidia_com_gpu": 8}}]
    pods = [dict(namespace="side", pod="short", uid="c9", node="k1", resource="nvidia_com_gpu", count=1,
                 init={"proxy": 1, "fetch": 1}, sidecars={"proxy"}, labels=GOOD, owner=("Job", "short"),
                 alive=lambda i: 140 <= i < 200)]
    pod_series(pods, nodes, TIMES, w, {"side": {}})
    w.close()
    server = Prometheus(tmp_path, om)
    try:
        res = run_cli(*["cluster", "report", "--prometheus", server.url, "--since", "2026-11-02T00:00:00Z",
                       "--until", "2026-11-02T04:00:00Z", "-f", "json", "--chunk", "1h"])
        assert res.exit_code in (0, 1), res.output
        # 60 samples × 30 s = 0.5 h × (app 1 + sidecar 1)
        assert json.loads(res.output)["totals"]["requested_gpu_hours"] == pytest.approx(1.0)
    finally:
        server.stop()
