"""Figures that must agree: a cost's breakdown adds up to its hourly figure, run-to-completion pods are
not priced for 730 h, and GPU families newer than the rate card are AI with a visible note."""
from __future__ import annotations

from pathlib import Path

import pytest

from clikit import run_cli
from tagguard.model import Compute, Resource
from tagguard.pricing import catalog
from tagguard.pricing.engine import Pricer

ROOT = Path(__file__).resolve().parents[1]


def scan_json(path: Path, *extra: str):
    return run_cli("scan", path, "-f", "json", *extra, cwd=path, env={"HOME": str(path)}, process=True).json()


def breakdown_sum(cost) -> float:
    return sum(ln["subtotal_usd_per_hour"] for ln in cost["breakdown"])


# --- 9a: the breakdown adds up to the figure ---------------------------------------------------

PYTORCHJOB = """apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: ft, namespace: ml}
spec:
  runPolicy: {activeDeadlineSeconds: 7200}
  pytorchReplicaSpecs:
    Worker:
      replicas: 8
      template:
        metadata:
          labels: {business-unit: r, project: p, environment: prod, cost-center: c}
        spec:
          nodeSelector: {node.kubernetes.io/instance-type: g5.12xlarge}
          containers:
          - name: t
            image: x
            resources: {limits: {nvidia.com/gpu: 1}}
"""


def test_pytorchjob_worker_breakdown_includes_the_node_share(tmp_path):
    (tmp_path / "job.yaml").write_text(PYTORCHJOB)
    (res,) = [r for r in scan_json(tmp_path)["resources"] if r["address"].endswith("#Worker")]
    cost = res["cost"]
    node = catalog.lookup("g5.12xlarge").on_demand
    assert cost["hourly_usd"] == pytest.approx(node * 8 / 4, abs=0.01)  # 8 pods x 1 of 4 GPUs
    assert breakdown_sum(cost) == pytest.approx(cost["hourly_usd"], abs=0.01)
    (line,) = cost["breakdown"]
    assert line["node_share"] == 0.25 and line["node_usd_per_hour"] == pytest.approx(node)


@pytest.mark.parametrize("model,spot_units", [("on_demand", None), ("spot", None), ("mixed", 3)])
def test_breakdown_sums_to_hourly_for_every_pricing_model(model, spot_units):
    pricer = Pricer(catalog.load(), {})
    for itype, provider, gpus in (("g5.12xlarge", "kubernetes", 2.0), ("p4d.24xlarge", "aws", None)):
        r = Resource(address="x", type="t", source="s", ai=True,
                     compute=Compute(instance_type=itype, provider=provider, gpus_per_unit=gpus, units=5,
                                     pricing_model=model, spot_units=spot_units))
        cost = pricer.price(r)
        assert cost.hourly_usd is not None
        assert sum(ln["subtotal_usd_per_hour"] for ln in cost.breakdown) == pytest.approx(cost.hourly_usd, abs=1e-4)


# --- 9b: bare pods that are not restarted run to completion ----------------------------------------

POD = """apiVersion: v1
kind: Pod
metadata:
  name: once
  namespace: ml
  labels: {{business-unit: r, project: p, environment: prod, cost-center: c}}
spec:
{policy}{deadline}  nodeSelector: {{node.kubernetes.io/instance-type: g5.xlarge}}
  containers:
  - name: t
    image: x
    resources: {{limits: {{nvidia.com/gpu: 1}}}}
"""


@pytest.mark.parametrize("policy", ["OnFailure", "Never"])
def test_run_to_completion_pod_has_no_730_hour_month(tmp_path, policy):
    (tmp_path / "pod.yaml").write_text(POD.format(policy=f"  restartPolicy: {policy}\n", deadline=""))
    d = scan_json(tmp_path)
    (res,) = d["resources"]
    assert res["cost"]["monthly_usd"] is None and res["cost"]["hourly_usd"] > 0
    assert res["cost"]["gpu_hours_per_month"] is None
    assert any(f"restartPolicy {policy}" in n for n in res["compute"]["notes"])
    (f,) = [f for f in d["findings"] if f["rule"] == "unpriced-resource"]
    assert "run-to-completion" in f["message"]


def test_pod_with_deadline_has_runtime_and_always_pod_is_long_running(tmp_path):
    (tmp_path / "pod.yaml").write_text(POD.format(policy="  restartPolicy: Never\n",
                                                  deadline="  activeDeadlineSeconds: 5400\n"))
    (res,) = scan_json(tmp_path)["resources"]
    assert res["compute"]["runtime_hours"] == 1.5 and res["cost"]["monthly_usd"] is None
    (tmp_path / "pod.yaml").write_text(POD.format(policy="  restartPolicy: Always\n", deadline=""))
    (res,) = scan_json(tmp_path)["resources"]
    assert res["cost"]["monthly_usd"] == pytest.approx(catalog.lookup("g5.xlarge").on_demand * 730, abs=0.05)
    (tmp_path / "pod.yaml").write_text(POD.format(policy="", deadline=""))  # default Always
    (res,) = scan_json(tmp_path)["resources"]
    assert res["cost"]["monthly_usd"] is not None


# --- 9c: families newer than the rate card ----------------------------------------------------------

@pytest.mark.parametrize("itype,family", [("g7e.2xlarge", "g7e"), ("g9x.2xlarge", "g9x"), ("trn3.48xlarge", "trn3"),
                                          ("ml.g7e.xlarge", "g7e"), ("a4-highgpu-8g", "a4"),
                                          ("Standard_NC40ads_H200_v6", "nc40ads_h200_v6")])
def test_unknown_family_of_a_gpu_scheme_is_ai(itype, family):
    assert catalog.unknown_gpu_family(itype) == family
    assert catalog.accelerator_info(itype) == (None, None)


@pytest.mark.parametrize("itype", ["m5.large", "c7g.xlarge", "t3.micro", "g1-small", "n2-standard-4",
                                   "Standard_D4s_v3", "p4d.24xlarge", "g5.48xlarge"])
def test_plain_or_known_types_are_not_unknown_gpu(itype):
    assert catalog.unknown_gpu_family(itype) is None


def test_unknown_gpu_instance_is_judged_and_warned(tmp_path):
    (tmp_path / "main.tf").write_text('resource "aws_instance" "new" {\n  instance_type = "g9x.2xlarge"\n'
                                      '  tags = { project = "p" }\n}\n')
    d = scan_json(tmp_path)
    (res,) = d["resources"]
    assert res["ai"] is True and res["cost"]["monthly_usd"] is None
    rules = {f["rule"]: f for f in d["findings"]}
    assert "missing-tag" in rules  # judged against the taxonomy, not "not AI"
    f = rules["unpriced-resource"]
    assert f["severity"] == "warning"
    assert "unknown GPU instance type g9x.2xlarge: treated as AI, not priced" in f["message"]


def test_nodepool_keeps_a_new_family_in_its_notes(tmp_path):
    (tmp_path / "k.yaml").write_text(
        "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: gpu}\nspec:\n  template:\n    spec:\n"
        "      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: gpu}\n      requirements:\n"
        "        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [p5, g7e, m5]}\n"
        "---\napiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: gpu}\nspec:\n"
        "  tags: {business-unit: r, project: p, environment: prod, cost-center: c}\n")
    d = scan_json(tmp_path)
    (nc,) = [r for r in d["resources"] if r["address"] == "EC2NodeClass//gpu"]
    notes = " ".join(nc["compute"]["notes"])
    assert "instance-family In [p5, g7e]" in notes and "g7e: unknown GPU instance family" in notes
    quota = [f for f in d["findings"] if f["rule"] == "gpu-quota"]
    assert quota and "['" not in quota[0]["message"]  # values, not Python reprs


def test_pricing_show_names_an_unknown_gpu_family():
    p = run_cli("pricing", "show", "g7e.2xlarge", process=True)
    assert p.returncode == 1  # known to be GPU capacity, no rates (2 is "not a GPU type at all")
    assert "unknown GPU instance type g7e.2xlarge" in p.output


def test_showback_counts_one_resource_in_the_singular():
    from tagguard.model import Cost, ScanResult
    from tagguard.cost.showback import build_showback, render

    r = Resource(address="a", type="t", source="s", ai=True, cost=Cost(monthly_usd=10.0, gpu_hours_per_month=1.0))
    assert "over 1 resource\n" in render(build_showback(ScanResult(resources=[r])), "text")
