"""GPU-hours, idle hours, splits and costs from a real Prometheus, checked against hand-computed values.

Scenario (4 h at 1-minute samples, 240 points; window 2026-11-02T00:00Z .. 04:00Z):
  n1 p4d.24xlarge on-demand (Karpenter), 8 × A100; rate 21.957642 / 8 = 2.74470525 $/GPU-h
  n2 g5.xlarge spot (EKS label), 1 × A10G; spot rate 0.52312 $/GPU-h
  n3 g5.12xlarge on-demand, 4 GPUs, no pods: 16 idle GPU-h × 5.672/4
  n4 p4d.24xlarge MIG mixed: 7 × nvidia.com/mig-1g.5gb allocatable (1 GPU = 7/7 compute)
  ml/train-a   Job, n1, 2 GPUs, util 50 %            -> 8 GPU-h, 4 used
  ml/serve-b   ReplicaSet, n2 (spot), 1 GPU, util 10 % -> 4 GPU-h, 0.4 used (under 30 %)
  web/infer-c  ReplicaSet, n1, 1 GPU, util 90 %, no pod labels (namespace labels inherited) -> 4 GPU-h
  bad/x        no owner, n1, 1 GPU, Running 2 h then Succeeded, no cost-center, no DCGM -> 2 GPU-h unattributed
  mig/m1       n4, 1 × mig-1g.5gb, no DCGM (GPU_UTIL is not reported for MIG) -> 4/7 GPU-h (compute)
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from promserver import GOOD, needs_prometheus, OpenMetricsWriter, P4D, pod_series, Prometheus, T0

pytestmark = needs_prometheus

N = 240
TIMES = [T0 + 60 * i for i in range(N)]
G5X_SPOT = 0.52312
G5_12 = 5.672 / 4



def scenario():
    nodes = [
        {"node": "n1", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                  "label_karpenter_sh_capacity_type": "on-demand"},
         "allocatable": {"nvidia_com_gpu": 8}, "provider_id": "aws:///us-east-1a/i-0aaa0000000000001"},
        {"node": "n2", "labels": {"label_node_kubernetes_io_instance_type": "g5.xlarge",
                                  "label_eks_amazonaws_com_capacity_type": "SPOT"},
         "allocatable": {"nvidia_com_gpu": 1}},
        {"node": "n3", "labels": {"label_node_kubernetes_io_instance_type": "g5.12xlarge",
                                  "label_karpenter_sh_capacity_type": "on-demand"},
         "allocatable": {"nvidia_com_gpu": 4}, "provider_id": "aws:///us-east-1b/i-0aaa0000000000003"},
        {"node": "n4", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                  "label_karpenter_sh_capacity_type": "on-demand"},
         "allocatable": {"nvidia_com_mig_1g_5gb": 7}},
    ]
    pods = [
        {"namespace": "ml", "pod": "train-a-x1", "uid": "u1", "node": "n1", "resource": "nvidia_com_gpu", "count": 2,
         "labels": {"label_project": "llm"}, "owner": ("Job", "train-a"), "util": [50, 50]},
        {"namespace": "ml", "pod": "serve-b-7d9f-abcde", "uid": "u2", "node": "n2", "resource": "nvidia_com_gpu",
         "count": 1, "labels": {"label_project": "chat"}, "owner": ("ReplicaSet", "serve-b-7d9f"), "util": [10],
         "model": "NVIDIA A10G"},
        {"namespace": "web", "pod": "infer-c-5c-zzzzz", "uid": "u3", "node": "n1", "resource": "nvidia_com_gpu",
         "count": 1, "labels": {}, "owner": ("ReplicaSet", "infer-c-5c"), "util": [90]},
        {"namespace": "bad", "pod": "x", "uid": "u4", "node": "n1", "resource": "nvidia_com_gpu", "count": 1,
         "labels": {"label_business_unit": "research", "label_project": "adhoc", "label_environment": "dev"},
         "running": lambda i: i < 120, "owner": None},
        {"namespace": "mig", "pod": "m1", "uid": "u5", "node": "n4", "resource": "nvidia_com_mig_1g_5gb", "count": 1,
         "labels": {"label_project": "tiny"}, "owner": ("ReplicaSet", "m1-rs")},
    ]
    namespaces = {
        "ml": {"label_business_unit": "research", "label_environment": "prod", "label_cost_center": "CC-1"},
        "web": dict(GOOD, label_business_unit="product", label_project="site"),
        "bad": {},
        "mig": {"label_business_unit": "platform", "label_environment": "prod", "label_cost_center": "CC-9"},
    }
    quotas = [
        {"namespace": "ml", "resourcequota": "gpu", "resource": "requests.nvidia.com/gpu", "type": "hard", "value": 4},
        {"namespace": "ml", "resourcequota": "gpu", "resource": "requests.nvidia.com/gpu", "type": "used", "value": 3},
        {"namespace": "web", "resourcequota": "gpu", "resource": "requests.nvidia.com/gpu", "type": "hard", "value": 1},
        {"namespace": "web", "resourcequota": "gpu", "resource": "requests.nvidia.com/gpu", "type": "used", "value": 1},
    ]
    return pods, nodes, namespaces, quotas


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    work = tmp_path_factory.mktemp("prom")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    pods, nodes, namespaces, quotas = scenario()
    pod_series(pods, nodes, TIMES, w, namespaces, quotas)
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def prom_nolabels(tmp_path_factory):
    """kube-state-metrics >= 2.10 without --metric-labels-allowlist: kube_pod_labels has no label_*."""
    work = tmp_path_factory.mktemp("prom-nolabels")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    pods, nodes, namespaces, _ = scenario()
    for p in pods:
        p["labels"] = {}
    pod_series(pods, nodes, TIMES, w, {ns: {} for ns in namespaces})
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def run(url, *extra):
    args = ["cluster", "report", "--prometheus", url, "--since", "2026-11-02T00:00:00Z",
            "--until", "2026-11-02T04:00:00Z", "-f", "json", *extra]
    from tagguard.cli import cli as main

    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.output), res.exit_code


def rows(rep, key, name):
    return {r[name]: r for r in rep[key]}


def test_gpu_hours_idle_unattributed_and_costs(prom):
    rep, code = run(prom.url)
    assert code == 1  # 2 GPU-hours are unattributed
    t = rep["totals"]
    assert t["requested_gpu_hours"] == pytest.approx(8 + 4 + 4 + 2 + 4 / 7)
    assert t["used_gpu_hours"] == pytest.approx(4 + 0.4 + 3.6)
    assert t["idle_gpu_hours"] == pytest.approx(4 + 3.6 + 0.4)
    assert t["unmeasured_gpu_hours"] == pytest.approx(2 + 4 / 7)
    assert t["capacity_gpu_hours"] == pytest.approx(32 + 4 + 16 + 4)
    # idle with no pod: n1 32-14, n3 16, n4 4-4/7
    assert t["idle_unallocated_gpu_hours"] == pytest.approx(18 + 16 + (4 - 4 / 7))
    assert t["idle_unallocated_cost_usd"] == pytest.approx(18 * P4D + 16 * G5_12 + (4 - 4 / 7) * P4D)
    assert t["cost_usd"] == pytest.approx((8 + 4 + 2 + 4 / 7) * P4D + 4 * G5X_SPOT)
    idle = {n["node"]: n for n in rep["idle_nodes"]}
    assert idle["n3"]["no_pods"] is True and idle["n3"]["idle_unallocated_gpu_hours"] == pytest.approx(16)
    assert "n2" not in idle

    ns = rows(rep, "by_namespace", "namespace")
    assert ns["ml"]["requested_gpu_hours"] == pytest.approx(12)
    assert ns["ml"]["used_gpu_hours"] == pytest.approx(4.4)
    assert ns["ml"]["capacity_share"] == {"on_demand": pytest.approx(8 / 12), "spot": pytest.approx(4 / 12)}
    assert ns["bad"]["requested_gpu_hours"] == pytest.approx(2)  # Succeeded after 2 h: requests no longer count

    un = rep["unattributed"]
    assert un["gpu_hours"] == pytest.approx(2) and un["pods"] == 1
    assert un["cost_usd"] == pytest.approx(2 * P4D)
    assert any("cost-center" in r["reason"] for r in un["reasons"])

    g = rows(rep, "by_group", "group")
    assert rep["group_by"] == "business-unit"
    assert g["research"]["requested_gpu_hours"] == pytest.approx(12)  # pod project + namespace labels inherited
    assert g["product"]["requested_gpu_hours"] == pytest.approx(4)  # web pod has no labels: all from namespace
    assert g["platform"]["requested_gpu_hours"] == pytest.approx(4 / 7)
    assert g["(unattributed)"]["requested_gpu_hours"] == pytest.approx(2)
    proj = {r["value"]: r for r in rep["by_label"]["project"]}
    assert proj["llm"]["requested_gpu_hours"] == pytest.approx(8)
    assert proj["chat"]["cost_usd"] == pytest.approx(4 * G5X_SPOT)
    assert rep["split"]["units"]["nvidia.com/mig-1g.5gb"].startswith("MIG 1g.5gb = 1/7 of compute")


def test_chunking_gives_the_same_numbers(prom):
    whole, _ = run(prom.url, "--chunk", "4h")
    parts, _ = run(prom.url, "--chunk", "1h")
    assert parts["window"]["chunks"] == 4 and whole["window"]["chunks"] == 1
    for k in ("requested_gpu_hours", "used_gpu_hours", "idle_unallocated_gpu_hours", "cost_usd"):
        assert parts["totals"][k] == pytest.approx(whole["totals"][k])


def test_mig_memory_basis_and_idle_sharing(prom):
    rep, _ = run(prom.url, "--mig-basis", "memory", "--idle-sharing", "proportional")
    g = rows(rep, "by_group", "group")
    assert g["platform"]["requested_gpu_hours"] == pytest.approx(0.5)  # 1g.5gb = 1/8 of A100-40GB memory
    # idle cost shared by used GPU-hours: research 4.4, product 3.6, platform 0 (unmeasured)
    ratios = rep["split"]["idle_sharing"]["ratios"]
    assert ratios["research"] == pytest.approx(4.4 / 8, abs=1e-6)
    assert ratios["product"] == pytest.approx(3.6 / 8, abs=1e-6)
    idle_cost = 18.5 * P4D + 16 * G5_12 + 3.5 * P4D  # n4: 4 GPU-h capacity (7 × 1/8 ... by memory = 3.5) - 0.5
    assert rep["totals"]["idle_unallocated_cost_usd"] == pytest.approx(18 * P4D + 16 * G5_12 + 3.0 * P4D)
    assert g["research"]["shared_idle_cost_usd"] == pytest.approx(rep["totals"]["idle_unallocated_cost_usd"] * 4.4 / 8)
    assert idle_cost > 0
    even, _ = run(prom.url, "--idle-sharing", "platform", "--idle-platform", "platform")
    assert even["split"]["idle_sharing"]["ratios"] == {"platform": 1.0}


def test_findings(prom):
    rep, _ = run(prom.url)
    f = {(x["rule"], x["namespace"], x["workload"]): x for x in rep["findings"]}
    under = f[("gpu-underused", "ml", "serve-b-7d9f")]
    assert under["saving_usd"] == pytest.approx(round(3.6 * G5X_SPOT, 2))
    spot = f[("spot-candidate", "ml", "train-a")]
    assert spot["gpu_hours"] == pytest.approx(8)
    # the rate card has no spot rate for p4d.24xlarge: no made-up saving, and it says so
    assert spot["saving_usd"] is None and "no spot rate" in spot["fix"]
    assert ("commitment-candidate", "web", "infer-c-5c") in f
    assert not any(k[0] == "commitment-candidate" and k[1] == "ml" for k in f)  # serve-b runs on spot
    quota = [x for x in rep["findings"] if x["rule"] == "gpu-quota"]
    assert {(q["namespace"], q["severity"]) for q in quota} == {("web", "error"), ("bad", "warning"),
                                                                ("mig", "warning")}


def test_no_pod_labels_is_said_not_reported_as_untagged(prom_nolabels):
    rep, code = run(prom_nolabels.url)
    assert rep["labels_visible"] is False
    assert any("--metric-labels-allowlist" in w for w in rep["warnings"])
    assert {r["group"] for r in rep["by_group"]} == {"(pod labels not exported)"}


def test_text_and_markdown_escape_cluster_values(prom, tmp_path):
    from tagguard.cli import cli as main

    base = ["cluster", "report", "--prometheus", prom.url, "--since", "2026-11-02T00:00:00Z",
            "--until", "2026-11-02T04:00:00Z"]
    res = CliRunner().invoke(main, base, catch_exceptions=False)
    assert "unattributed" in res.output and "requested" in res.output
    assert "n3 (g5.12xlarge, on_demand): 16.0 GPU-h" in res.output
    md = tmp_path / "r.md"
    CliRunner().invoke(main, base + ["-o", str(md)], catch_exceptions=False)
    assert "| research |" in md.read_text()


def test_unreachable_prometheus_is_one_line_error():
    from tagguard.cli import cli as main
    from promserver import free_port

    res = CliRunner().invoke(main, ["cluster", "report", "--prometheus", f"http://127.0.0.1:{free_port()}",
                                    "--window", "1h"])
    assert res.exit_code == 2
    assert "cannot connect" in res.output and "Traceback" not in res.output


EVIL = "r&d\x1b]8;;http://x\x07|**bold**<img src=x>"


@pytest.fixture(scope="module")
def prom_timesliced(tmp_path_factory):
    """One g5.xlarge (1 A10G) time-sliced 4 ways (GPU feature discovery labels), two pods at 60 % and 20 %."""
    work = tmp_path_factory.mktemp("prom-ts")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "ts1", "labels": {"label_node_kubernetes_io_instance_type": "g5.xlarge",
                                        "label_karpenter_sh_capacity_type": "on-demand",
                                        "label_nvidia_com_gpu_sharing_strategy": "time-slicing",
                                        "label_nvidia_com_gpu_count": "1", "label_nvidia_com_gpu_replicas": "4"},
              "allocatable": {"nvidia_com_gpu": 4}}]
    pods = [{"namespace": "ts", "pod": f"s{i}", "uid": f"t{i}", "node": "ts1", "resource": "nvidia_com_gpu",
             "count": 1, "labels": dict(GOOD, label_project=f"p{i}", label_business_unit=EVIL if i else "research"),
             "owner": ("ReplicaSet", f"s{i}-rs"),
             "util": [u], "model": "NVIDIA A10G"} for i, u in enumerate((60, 20))]
    pod_series(pods, nodes, TIMES, w, {"ts": {}})
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def test_time_slicing_by_replicas_and_by_use(prom_timesliced):
    od = 1.006  # g5.xlarge on demand, 1 GPU
    rep, _ = run(prom_timesliced.url)
    proj = {r["value"]: r for r in rep["by_label"]["project"]}
    assert proj["p0"]["requested_gpu_hours"] == pytest.approx(1.0)  # 1/4 GPU × 4 h
    assert proj["p1"]["requested_gpu_hours"] == pytest.approx(1.0)
    assert proj["p0"]["used_gpu_hours"] == pytest.approx(0.6)
    assert rep["totals"]["idle_unallocated_gpu_hours"] == pytest.approx(2.0)
    assert rep["split"]["units"]["nvidia.com/gpu on ts1"].endswith("1/4 GPU per replica")
    use, _ = run(prom_timesliced.url, "--time-slicing", "use")
    proj = {r["value"]: r for r in use["by_label"]["project"]}
    assert proj["p0"]["requested_gpu_hours"] == pytest.approx(3.0)  # the node's 4 GPU-h × 60/(60+20)
    assert proj["p1"]["cost_usd"] == pytest.approx(1.0 * od)
    assert use["totals"]["requested_gpu_hours"] == pytest.approx(4.0)


def test_label_values_from_the_cluster_are_escaped(prom_timesliced, tmp_path):
    from tagguard.cli import cli

    base = ["cluster", "report", "--prometheus", prom_timesliced.url, "--since", "2026-11-02T00:00:00Z",
            "--until", "2026-11-02T04:00:00Z"]
    out = CliRunner().invoke(cli, base, catch_exceptions=False).output
    assert "\x1b" not in out and "\x07" not in out and "r&d\\x1b" in out
    md = tmp_path / "r.md"
    CliRunner().invoke(cli, base + ["-o", str(md)], catch_exceptions=False)
    text = md.read_text()
    assert "\x1b" not in text and "<img" not in text and "|**bold**" not in text


@pytest.fixture(scope="module")
def prom_gke(tmp_path_factory):
    """GKE nodes (a2-highgpu-1g: the card has on-demand, spot and 1-year committed rates)."""
    work = tmp_path_factory.mktemp("prom-gke")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    it = {"label_node_kubernetes_io_instance_type": "a2-highgpu-1g"}
    nodes = [{"node": "g1", "labels": dict(it), "allocatable": {"nvidia_com_gpu": 1}},
             {"node": "g2", "labels": dict(it), "allocatable": {"nvidia_com_gpu": 1}},
             {"node": "g3", "labels": dict(it, label_cloud_google_com_gke_spot="true"),
              "allocatable": {"nvidia_com_gpu": 1}}]
    pods = [
        {"namespace": "ai", "pod": "serve-1", "uid": "g1", "node": "g1", "resource": "nvidia_com_gpu", "count": 1,
         "labels": dict(GOOD, label_project="serve"), "owner": ("StatefulSet", "serve"), "util": [70]},
        {"namespace": "ai", "pod": "train-1", "uid": "g2", "node": "g2", "resource": "nvidia_com_gpu", "count": 1,
         "labels": dict(GOOD, label_project="train"), "owner": ("Job", "train"), "util": [95]},
        {"namespace": "ai", "pod": "train-2", "uid": "g3", "node": "g3", "resource": "nvidia_com_gpu", "count": 1,
         "labels": dict(GOOD, label_project="train2"), "owner": ("Job", "train2"), "util": [95]},
    ]
    pod_series(pods, nodes, TIMES, w, {"ai": {}}, exported=True)
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def test_commitment_and_spot_savings_from_the_card(prom_gke):
    od, spot, cud = 3.673385, 1.92802, 2.314207  # a2-highgpu-1g in the shipped rate card
    rep, code = run(prom_gke.url)
    assert code == 0
    f = {(x["rule"], x["workload"]): x for x in rep["findings"]}
    assert f[("commitment-candidate", "serve")]["saving_usd"] == pytest.approx(round(4 * (od - cud), 2))
    assert f[("spot-candidate", "train")]["saving_usd"] == pytest.approx(round(4 * (od - spot), 2))
    assert ("spot-candidate", "train2") not in f  # already on GKE spot
    proj = {r["value"]: r for r in rep["by_label"]["project"]}
    assert proj["train2"]["cost_usd"] == pytest.approx(4 * spot) and proj["train2"]["capacity_share"] == {"spot": 1.0}
    assert proj["serve"]["cost_usd"] == pytest.approx(4 * od)
    # dcgm-exporter scraped with honor_labels: false: its pod labels arrive as exported_pod/_namespace
    assert proj["serve"]["used_gpu_hours"] == pytest.approx(4 * 0.7)
    assert rep["totals"]["unmeasured_gpu_hours"] == 0


def _auth_proxy(upstream: str, expected: str):
    """A loopback reverse proxy in front of the real Prometheus that lets through only requests
    carrying ``Authorization: <expected>`` (as a Prometheus behind an auth gateway)."""
    from promserver import gateway

    return gateway(upstream, allow=lambda headers: headers.get("Authorization") == expected)


def test_bearer_and_basic_auth_from_the_environment(prom_gke, monkeypatch):
    import base64

    from tagguard.cli import cli

    args = ["cluster", "report", "--since", "2026-11-02T00:00:00Z", "--until", "2026-11-02T04:00:00Z", "-f", "json"]
    proxy = _auth_proxy(prom_gke.url, "Bearer s3cret")
    try:
        url = f"http://127.0.0.1:{proxy.server_port}"
        res = CliRunner().invoke(cli, args + ["--prometheus", url])
        assert res.exit_code == 2 and "HTTP 401" in res.output and "unauthorized" in res.output
        monkeypatch.setenv("TAGGUARD_PROMETHEUS_TOKEN", "s3cret")
        res = CliRunner().invoke(cli, args + ["--prometheus", url])
        assert res.exit_code == 0 and json.loads(res.output)["totals"]["requested_gpu_hours"] == pytest.approx(12)
        assert "s3cret" not in res.output
    finally:
        proxy.shutdown()
    monkeypatch.delenv("TAGGUARD_PROMETHEUS_TOKEN")
    proxy = _auth_proxy(prom_gke.url, "Basic " + base64.b64encode(b"ops:pa ss").decode())
    try:
        monkeypatch.setenv("TAGGUARD_PROMETHEUS_USER", "ops")
        monkeypatch.setenv("TAGGUARD_PROMETHEUS_PASSWORD", "pa ss")
        res = CliRunner().invoke(cli, args + ["--prometheus", f"http://127.0.0.1:{proxy.server_port}"])
        assert res.exit_code == 0, res.output
    finally:
        proxy.shutdown()
