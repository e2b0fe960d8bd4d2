"""Pods alive at no chunk end and init-container requests, at a 30-second scrape interval.

Scenario (4 h of 30 s samples, 480 points; window 2026-11-02T00:00Z .. 04:00Z), node k1 p4d.24xlarge
on demand, 8 GPUs (21.957642 / 8 $/GPU-h):
  short/job-a  Job, 2 GPUs, exists only from minute 70 to 100 (at no chunk end of 1 h chunks), util 40 %
               -> 60 samples × 30 s = 0.5 h × 2 = 1 GPU-h, 0.4 used
  init/warm    app containers 1 + 1 GPU, init container 4 GPUs -> effective 4 (Kubernetes: max(max init,
               sum app)) × 4 h = 16 GPU-h
  init/small   app container 2 GPUs, init container 1 -> effective 2 × 4 h = 8 GPU-h
  capacity 8 × 4 h = 32 GPU-h; idle with no pod 32 - 25 = 7 GPU-h
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promserver import GOOD, needs_prometheus, OpenMetricsWriter, P4D, pod_series, Prometheus, T0

pytestmark = needs_prometheus

TIMES = [T0 + 30 * i for i in range(480)]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    work = tmp_path_factory.mktemp("prom-init")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "k1", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                       "label_karpenter_sh_capacity_type": "on-demand"},
              "allocatable": {"nvidia_com_gpu": 8}}]
    gpu = {"node": "k1", "resource": "nvidia_com_gpu", "labels": GOOD}
    pods = [
        dict(gpu, namespace="short", pod="job-a.x", uid="s1", count=2, owner=("Job", "job-a"), util=[40, 40],
             alive=lambda i: 140 <= i < 200),
        dict(gpu, namespace="init", pod="warm", uid="s2", containers={"main": 1, "sidecar": 1}, init={"fetch": 4},
             owner=("ReplicaSet", "warm-rs")),
        dict(gpu, namespace="init", pod="small", uid="s3", count=2, init={"prep": 1}, owner=("ReplicaSet", "small-rs")),
    ]
    pod_series(pods, nodes, TIMES, w, {"short": {}, "init": {}})
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def run(url, *extra):
    from tagguard.cli import cli

    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", url, "--since", "2026-11-02T00:00:00Z",
                                   "--until", "2026-11-02T04:00:00Z", "-f", "json", *extra], catch_exceptions=False)
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.output)


@pytest.mark.parametrize("chunk", ["1h", "4h", "90m"])
def test_short_job_and_init_containers(prom, chunk):
    rep = run(prom.url, "--chunk", chunk)
    assert rep["window"]["sample_interval_seconds"] == 30
    ns = {r["namespace"]: r for r in rep["by_namespace"]}
    assert ns["short"]["requested_gpu_hours"] == pytest.approx(1.0)
    assert ns["short"]["used_gpu_hours"] == pytest.approx(0.4)
    assert ns["init"]["requested_gpu_hours"] == pytest.approx(16 + 8)
    t = rep["totals"]
    assert t["requested_gpu_hours"] == pytest.approx(25)
    assert t["capacity_gpu_hours"] == pytest.approx(32)
    assert t["idle_unallocated_gpu_hours"] == pytest.approx(7)
    assert t["cost_usd"] == pytest.approx(25 * P4D)
    assert "1 pod(s) held more through an init container" in rep["split"]["init_containers"]


def test_scrape_interval_flag_overrides_detection(prom):
    rep = run(prom.url, "--scrape-interval", "1m")
    assert rep["window"]["sample_interval_seconds"] == 60
    assert rep["totals"]["requested_gpu_hours"] == pytest.approx(50)  # each sample now stands for 1 minute


def test_pod_names_in_a_query_are_regex_literals():
    from tagguard.actuals.cluster.queries import Selectors, re_literal, requests_of

    assert re_literal("job-a.x") == "job-a\\\\x{2e}x"
    q = requests_of(Selectors(resources="nvidia_com_gpu"), ['a"}) or vector(1) #', "b.c"], "1h")
    assert '"}' not in q.split('pod=~"', 1)[1].split('"}[1h]', 1)[0]


@pytest.fixture(scope="module")
def prom_single(tmp_path_factory):
    """MIG `single` strategy (GPU operator): m1's eight A100-40GB are each split into seven 1g.5gb
    slices, all advertised as nvidia.com/gpu (56 allocatable); GPU feature discovery says so in
    nvidia.com/mig.strategy=single + nvidia.com/gpu.product=...-MIG-1g.5gb. t1 is a T4 node with the
    same default mig.strategy label but no MIG: its nvidia.com/gpu is a whole GPU."""
    work = tmp_path_factory.mktemp("prom-mig-single")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "m1", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                       "label_karpenter_sh_capacity_type": "on-demand",
                                       "label_nvidia_com_mig_strategy": "single",
                                       "label_nvidia_com_gpu_product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"},
              "allocatable": {"nvidia_com_gpu": 56}},
             {"node": "t1", "labels": {"label_node_kubernetes_io_instance_type": "g4dn.xlarge",
                                       "label_karpenter_sh_capacity_type": "on-demand",
                                       "label_nvidia_com_mig_strategy": "single",
                                       "label_nvidia_com_gpu_product": "Tesla-T4"},
              "allocatable": {"nvidia_com_gpu": 1}}]
    pods = [dict(namespace="mig", pod="a", uid="m1", node="m1", resource="nvidia_com_gpu", count=2, labels=GOOD,
                 owner=("ReplicaSet", "a-rs")),
            dict(namespace="t4", pod="b", uid="t1", node="t1", resource="nvidia_com_gpu", count=1, labels=GOOD,
                 owner=("ReplicaSet", "b-rs"))]
    pod_series(pods, nodes, TIMES, w, {"mig": {}, "t4": {}})
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def test_mig_single_strategy_counts_slices_not_gpus(prom_single):
    rep = run(prom_single.url)
    ns = {r["namespace"]: r for r in rep["by_namespace"]}
    assert ns["mig"]["requested_gpu_hours"] == pytest.approx(2 / 7 * 4)  # two 1g.5gb slices = 2/7 of a GPU
    assert ns["mig"]["cost_usd"] == pytest.approx(2 / 7 * 4 * P4D)
    assert ns["t4"]["requested_gpu_hours"] == pytest.approx(4)  # mig.strategy=single without MIG: whole GPU
    assert rep["totals"]["capacity_gpu_hours"] == pytest.approx(8 * 4 + 4)  # 56 slices = 8 GPUs
    assert rep["totals"]["idle_unallocated_gpu_hours"] == pytest.approx(32 - 8 / 7)
    how = rep["split"]["units"]["nvidia.com/gpu on NVIDIA-A100-SXM4-40GB-MIG-1g.5gb"]
    assert how.startswith("MIG 1g.5gb = 1/7 of compute of A100-40GB")
    mem = run(prom_single.url, "--mig-basis", "memory")
    assert {r["namespace"]: r for r in mem["by_namespace"]}["mig"]["requested_gpu_hours"] == pytest.approx(2 / 8 * 4)


def test_a_window_without_data_is_an_empty_report_not_an_error(prom):
    from tagguard.cli import cli

    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", prom.url, "--since", "2026-11-05T00:00:00Z",
                                   "--until", "2026-11-05T01:00:00Z", "-f", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["totals"]["pods"] == 0 and rep["totals"]["requested_gpu_hours"] == 0


def test_pods_without_gpu_node_series_need_the_scrape_interval(tmp_path):
    """GPU pods but no kube_node_status_allocatable of a GPU resource: the interval cannot be told from
    the data; one line saying to give --scrape-interval (exit 2), and with it the hours are counted."""
    om = tmp_path / "s.om"
    w = OpenMetricsWriter(om)
    pods = [dict(namespace="x", pod="p", uid="x1", node="k9", resource="nvidia_com_gpu", count=1, labels=GOOD,
                 owner=("Job", "p"))]
    pod_series(pods, [], TIMES, w, {"x": {}})
    w.close()
    server = Prometheus(tmp_path, om)
    try:
        from tagguard.cli import cli

        args = ["cluster", "report", "--prometheus", server.url, "--since", "2026-11-02T00:00:00Z",
                "--until", "2026-11-02T04:00:00Z", "-f", "json"]
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "--scrape-interval" in res.output and "Traceback" not in res.output
        res = CliRunner().invoke(cli, args + ["--scrape-interval", "30s"])
        assert json.loads(res.output)["totals"]["requested_gpu_hours"] == pytest.approx(4)
    finally:
        server.stop()
