"""Issue 11 ("one truth in every number") / issue 12 item 5: GPU capacity is counted once.

A workload priced from the nodes it selects is an attribution of a node pool's capacity; when that pool
is priced in the same scan, totals (JSON and text summary, showback, diff, budgets) count the pool only."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from clikit import run_cli
from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.cost.showback import build_showback

NODE_GROUP = """\
resource "aws_eks_node_group" "gpu" {
  cluster_name    = "c"
  node_group_name = "gpu"
  node_role_arn   = "arn:aws:iam::123456789012:role/n"
  subnet_ids      = ["subnet-1"]
  instance_types  = ["g5.12xlarge"]
  labels = {
    pool = "gpu"
  }
  tags = { team = "ml" }
  scaling_config {
    desired_size = 2
    min_size     = 2
    max_size     = 2
  }
}
"""


def deployment(node_selector: str, gpus: int = 4) -> str:
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: infer, namespace: ml, labels: {team: ml}}\n"
            "spec:\n  replicas: 1\n  template:\n    metadata: {labels: {app: x}}\n    spec:\n"
            f"      nodeSelector: {{{node_selector}}}\n"
            f"      containers:\n        - name: c\n          resources: {{limits: {{nvidia.com/gpu: {gpus}}}}}\n")


NODEPOOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: g5-gpu}
spec:
  template:
    metadata:
      labels: {pool: gpu}
    spec:
      nodeClassRef: {name: gpu, group: karpenter.k8s.aws, kind: EC2NodeClass}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [g5.12xlarge]}
"""


def run(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


@pytest.mark.parametrize("selector", ["pool: gpu", "node.kubernetes.io/instance-type: g5.12xlarge"])
def test_workload_on_a_priced_node_group_is_attributed_not_added(tmp_path, selector):
    res, result = run(tmp_path, {"main.tf": NODE_GROUP, "deploy.yaml": deployment(selector)})
    pool, work = res["aws_eks_node_group.gpu"], res["Deployment/ml/infer"]
    assert pool.cost.monthly_usd and work.cost.monthly_usd  # both figures still shown on their resource
    assert work.cost.attributed_from == ["aws_eks_node_group.gpu"]
    assert any(n.startswith("attributed:") and "aws_eks_node_group.gpu" in n for n in work.compute.notes)
    s = result.summary()
    assert s["monthly_usd"] == pytest.approx(pool.cost.monthly_usd, abs=0.01)  # capacity, once
    assert s["gpu_hours_per_month"] == pytest.approx(pool.cost.gpu_hours_per_month)
    assert s["attributed_ai_resources"] == 1
    assert s["attributed_monthly_usd"] == pytest.approx(work.cost.monthly_usd, abs=0.01)
    assert s["unpriced_ai_resources"] == 0
    sb = build_showback(result)
    assert sb["totals"]["monthly_usd"] == pytest.approx(pool.cost.monthly_usd, abs=0.01)
    assert sb["totals"]["gpu_hours"] == pytest.approx(pool.cost.gpu_hours_per_month)
    assert sb["totals"]["attributed_resources"] == 1
    from tagguard.cost.showback import render_markdown, render_text

    for text in (render_text(sb), render_markdown(sb)):
        assert "not added again:" in text and "1 workload running on node pools priced here" in text


def test_json_and_text_say_the_same_and_the_report_validates(tmp_path, monkeypatch):
    import jsonschema

    from tagguard.model import ScanResult

    run(tmp_path, {"main.tf": NODE_GROUP, "deploy.yaml": deployment("pool: gpu")})
    monkeypatch.chdir(tmp_path)
    out = run_cli("scan", str(tmp_path), "-f", "json").output
    rep = json.loads(out)
    jsonschema.validate(rep, json.loads((Path(__file__).parents[1] / "schemas" / "report.schema.json").read_text()))
    work = next(r for r in rep["resources"] if r["address"] == "Deployment/ml/infer")
    assert work["cost"]["attributed_from"] == ["aws_eks_node_group.gpu"]
    back = ScanResult.from_json(rep)  # the figure read back stays out of totals
    assert back.summary()["monthly_usd"] == rep["summary"]["monthly_usd"]
    text = run_cli("scan", str(tmp_path)).output
    assert f"${rep['summary']['monthly_usd']:,.2f}/month" in text
    assert "attributed to 1 workload (counted once, on their node pools)" in text


def test_workload_on_an_unpriced_karpenter_pool_still_counts(tmp_path):
    res, result = run(tmp_path, {"pool.yaml": NODEPOOL, "deploy.yaml": deployment("pool: gpu")})
    work = res["Deployment/ml/infer"]
    assert work.cost.monthly_usd and not work.cost.attributed_from
    assert result.summary()["monthly_usd"] == pytest.approx(work.cost.monthly_usd, abs=0.01)
    assert result.summary()["attributed_ai_resources"] == 0


def test_workload_on_an_unmatched_pool_is_not_attributed(tmp_path):
    tf = NODE_GROUP.replace('instance_types  = ["g5.12xlarge"]', 'instance_types  = ["g6.12xlarge"]')
    res, result = run(tmp_path, {"main.tf": tf,
                                 "deploy.yaml": deployment("node.kubernetes.io/instance-type: g5.12xlarge")})
    work = res["Deployment/ml/infer"]
    assert work.cost.monthly_usd and not work.cost.attributed_from
    s = result.summary()
    assert s["monthly_usd"] == pytest.approx(work.cost.monthly_usd + res["aws_eks_node_group.gpu"].cost.monthly_usd,
                                             abs=0.02)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_diff_adding_a_workload_to_a_priced_pool_adds_no_spend(tmp_path):
    repo = tmp_path / "r"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "commit.gpgsign", "false")
    (repo / "main.tf").write_text(NODE_GROUP)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    (repo / "deploy.yaml").write_text(deployment("pool: gpu"))
    old = os.getcwd()
    os.chdir(repo)
    try:
        out = run_cli("diff", "--base", "HEAD", ".", "-f", "json").output
    finally:
        os.chdir(old)
    rep = json.loads(out)
    assert rep["cost_diff"]["total_delta_monthly_usd"] == 0
    assert rep["cost_diff"]["gpu_hours_delta_per_month"] == 0
    assert rep["diff"]["total_delta_monthly_usd"] == 0


def test_a_budget_counts_the_pool_once(tmp_path, monkeypatch):
    (tmp_path / "main.tf").write_text(NODE_GROUP)
    (tmp_path / "deploy.yaml").write_text(deployment("pool: gpu"))
    cfg = tmp_path / "budget.yaml"
    cfg.write_text("budgets:\n  - name: ml\n    match: {team: ml}\n    monthly_usd: 9000\n")
    monkeypatch.chdir(tmp_path)
    out = run_cli("scan", tmp_path, "--config", cfg, "-f", "json").output
    rep = json.loads(out)
    b = rep["budgets"][0]
    assert b["projected_usd"] == pytest.approx(rep["summary"]["monthly_usd"], abs=0.01)
    assert b["over"] is False  # $8,281.12 of node group, not + $2,937.52 of the workload on it


# --- a local chart that a helm_release renders is judged once, through the release ---------------

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: inf\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\ngpus: 1\nnodeSelector: {node.kubernetes.io/instance-type: g5.xlarge}\n",
    "templates/d.yaml": ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-server\n"
                         "spec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n"
                         "      nodeSelector: {{ toJson .Values.nodeSelector }}\n      containers:\n        - name: s\n"
                         "          image: x\n          resources:\n            limits:\n"
                         "              nvidia.com/gpu: {{ .Values.gpus }}\n"),
}

RELEASE = """\
resource "helm_release" "vllm" {
  name      = "vllm"
  namespace = "serving"
  chart     = "./charts/inf"
  values    = [yamlencode({ replicas = 2 })]
}
"""


def _helm() -> str:
    import shutil

    local = Path(__file__).resolve().parent.parent / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    pytest.skip("no helm binary: run scripts/get-helm")


def _chart(root: Path, tf: str = RELEASE):
    for name, text in {**{f"charts/inf/{k}": v for k, v in CHART.items()}, "main.tf": tf}.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return scan([str(root)], Config(raw={}, path=root / ".tagguard.yaml"), options={"helm_bin": _helm()})


def test_chart_rendered_by_a_helm_release_is_judged_once_through_the_release(tmp_path):
    result = _chart(tmp_path)
    ai = [r for r in result.resources if r.ai]
    assert [r.address for r in ai] == ["helm_release.vllm/Deployment/serving/vllm-server"]  # not the defaults copy
    r = ai[0]
    assert r.compute.units == 2 and (r.file, r.line) == ("main.tf", 1)
    assert any("judged through helm_release.vllm" in n for n in r.compute.notes)
    assert result.summary()["monthly_usd"] == pytest.approx(r.cost.monthly_usd, abs=0.01)
    assert not any(f.file and f.file.startswith("charts/") for f in result.findings)


def test_chart_no_release_renders_is_still_read_with_its_defaults(tmp_path):
    result = _chart(tmp_path, tf='resource "aws_s3_bucket" "b" {\n  bucket = "x"\n}\n')
    assert [r.address for r in result.resources if r.ai] == ["Deployment/default/release-server"]
