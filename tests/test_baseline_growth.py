"""A baseline never absorbs growth (issue 11 item 4).

`baseline create` stores the figure of every `over-budget` and `needs-approval` finding (monthly $ and
GPU-hours per month); on `scan --baseline`, such a finding whose figure grew past the stored one comes back,
with a message saying what it grew from and to. Before: raising a node group from 3 to 8 p5 instances after
`baseline create` gave `PASS ... suppressed; $354,620/month`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from clikit import run_cli
from tagguard.state.baseline import apply_baseline, write_baseline
from tagguard.model import Finding, ScanResult

NODE_GROUP = '''resource "aws_eks_node_group" "train" {
  cluster_name    = "ml"
  node_group_name = "train"
  node_role_arn   = "arn:aws:iam::123456789012:role/eks-node"
  subnet_ids      = ["subnet-0a"]
  instance_types  = ["p5.48xlarge"]
  scaling_config {
    desired_size = DESIRED
    min_size     = 0
    max_size     = 16
  }
  tags = { business-unit = "research", project = "llm" }
}
'''
CONFIG = "budgets:\n  - name: research\n    match: {business-unit: research}\n    monthly_usd: 100000\n"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAGGUARD_APPROVED_BY", raising=False)
    (tmp_path / ".tagguard.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "infra").mkdir()
    return tmp_path


def _nodes(repo: Path, n: int) -> None:
    (repo / "infra" / "main.tf").write_text(NODE_GROUP.replace("DESIRED", str(n)), encoding="utf-8")


def test_node_group_growing_from_3_to_8_p5_comes_back(repo):
    _nodes(repo, 3)
    res = run_cli("baseline", "create", "infra")
    assert res.exit_code == 0, res.output
    doc = json.loads((repo / ".tagguard-baseline.json").read_text())
    (entry,) = [e for e in doc["findings"] if e["rule"] == "over-budget"]
    three = entry["figure"]["monthly_usd"]
    assert three > 100000 and entry["figure"]["gpu_hours_per_month"] == pytest.approx(3 * 8 * 730)
    assert [e for e in doc["findings"] if e["rule"] == "missing-tag"]  # the other findings are baselined too

    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json")  # unchanged: the baseline holds
    assert res.exit_code == 0, res.output

    _nodes(repo, 8)
    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json", "-f", "json")
    assert res.exit_code == 1, res.output  # was PASS with every finding suppressed
    rep = json.loads(res.output)
    (f,) = [f for f in rep["findings"] if f["rule"] == "over-budget"]
    assert not f.get("suppressed")
    assert f"grew since the baseline: from ${three:,.2f}/month to ${f['projected_usd']:,.2f}/month" in f["message"]
    assert "from 17,520 GPU-hours/month to 46,720 GPU-hours/month" in f["message"]
    assert f["projected_usd"] == pytest.approx(three * 8 / 3, rel=1e-3)
    # what did not grow stays hidden; the report says what grew
    assert all(x.get("suppressed") for x in rep["findings"] if x["rule"] == "missing-tag")
    assert rep["baseline"]["grown"][0]["rule"] == "over-budget"
    assert rep["summary"]["exit_code"] == 1
    text = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json").output
    assert "FAIL" in text and "1 grew past the baselined figure" in text

    _nodes(repo, 2)  # shrinking is fine
    assert run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json").exit_code == 0


def _approval(delta, gpu):
    return Finding(rule="needs-approval", category="needs_approval", severity="error", address="aws_instance.x",
                   file="main.tf", line=1, message="aws_instance.x: this change needs cost approval",
                   extra={"cost_delta_monthly_usd": delta, "gpu_hours_delta_per_month": gpu})


def test_needs_approval_growth_in_gpu_hours_alone_comes_back(tmp_path):
    path = tmp_path / "b.json"
    write_baseline(ScanResult(findings=[_approval(6000.0, 2920.0)], root=str(tmp_path)), path)
    same = ScanResult(findings=[_approval(6000.0, 2920.0)], root=str(tmp_path))
    assert apply_baseline(same, path).suppressed == 1 and same.exit_code() == 0
    more = ScanResult(findings=[_approval(6000.0, 5840.0)], root=str(tmp_path))
    info = apply_baseline(more, path)
    assert info.suppressed == 0 and more.exit_code() == 1
    assert "from 2,920 GPU-hours/month to 5,840 GPU-hours/month" in more.findings[0].message
    assert info.grown[0]["baselined"] == {"monthly_usd": 6000.0, "gpu_hours_per_month": 2920.0}


def test_a_figure_appearing_where_none_was_known_is_growth(tmp_path):
    path = tmp_path / "b.json"
    write_baseline(ScanResult(findings=[_approval(None, 2920.0)], root=str(tmp_path)), path)
    now = ScanResult(findings=[_approval(9000.0, 2920.0)], root=str(tmp_path))
    apply_baseline(now, path)
    assert now.exit_code() == 1 and "from unknown to $9,000.00/month" in now.findings[0].message


def test_old_baseline_without_figures_hides_no_growable_finding(tmp_path):
    """An entry written before figures were stored cannot tell growth: the finding is not hidden."""
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"version": 1, "findings": [
        {"file": "main.tf", "address": "aws_instance.x", "rule": "needs-approval", "tag": None},
        {"file": "main.tf", "address": "aws_instance.x", "rule": "missing-tag", "tag": "owner"}]}))
    missing = Finding(rule="missing-tag", category="missing_tag", severity="error", address="aws_instance.x",
                      file="main.tf", tag="owner", message="owner missing")
    result = ScanResult(findings=[_approval(6000.0, 0.0), missing], root=str(tmp_path))
    info = apply_baseline(result, path)
    assert missing.suppressed and not result.findings[0].suppressed
    assert "regenerate it with `tagguard baseline create`" in result.findings[0].message
    assert info.grown[0]["baselined"] is None


def test_figure_must_be_an_object(tmp_path):
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"version": 1, "findings": [{"rule": "over-budget", "figure": 3}]}))
    with pytest.raises(ValueError, match=r"findings\[0\]\.figure must be an object"):
        apply_baseline(ScanResult(), path)
