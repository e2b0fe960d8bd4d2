"""Budgets (chargeback vs showback), approvals (with and without --approved-by), config validation."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clikit import run_cli


FIXTURES = Path(__file__).parent / "fixtures" / "plan"

TF = '''
provider "aws" {
  region = "us-east-1"
  default_tags { tags = { business-unit = "research", cost-center = "CC-1", environment = "dev" } }
}
resource "aws_instance" "a" {
  instance_type = "g5.12xlarge"   # 5.672 x 730 = 4140.56
  tags = { project = "a" }
}
resource "aws_instance" "b" {
  instance_type = "g5.xlarge"     # 1.006 x 730 = 734.38
  tags = { project = "b", business-unit = "search" }
}
'''


def _run(tmp_path: Path, config: str, *args, env=None, files=None):
    (tmp_path / ".tagguard.yaml").write_text(config)
    for name, text in (files or {"main.tf": TF}).items():
        (tmp_path / name).write_text(text)
    res = run_cli("scan", tmp_path, "--config", tmp_path / ".tagguard.yaml", "-f", "json", *args, env=env)
    return res.exit_code, json.loads(res.output) if res.output.startswith("{") else res.output


def _findings(report, rule):
    return [f for f in report["findings"] if f["rule"] == rule]


def test_chargeback_over_budget_is_an_error(tmp_path):
    code, rep = _run(tmp_path,
                     "budgets:\n  - name: research\n    match: {business-unit: research}\n    monthly_usd: 4000\n")
    (f,) = _findings(rep, "over-budget")
    assert f["severity"] == "error" and f["budget"] == "research"
    assert f["projected_usd"] == pytest.approx(4140.56) and f["overage_usd"] == pytest.approx(140.56)
    assert f["file"] == ".tagguard.yaml" and f["line"] == 2 and f["address"] == "budget:research"
    assert code == 1
    assert rep["budgets"][0]["over"] is True


def test_showback_is_a_warning_and_does_not_block(tmp_path):
    code, rep = _run(tmp_path, "budgets:\n  - name: research\n    match: {business-unit: research}\n"
                               "    monthly_usd: 4000\n    mode: showback\n")
    (f,) = _findings(rep, "over-budget")
    assert f["severity"] == "warning"
    assert code == 0


def test_under_budget_list_match_and_gpu_hours(tmp_path):
    cfg = ("budgets:\n  - name: all\n    match: {business-unit: [research, search]}\n    monthly_usd: 5000\n"
           "  - name: gpu\n    match: {business-unit: '*'}\n    monthly_gpu_hours: 3000\n")
    code, rep = _run(tmp_path, cfg)
    by = {b["name"]: b for b in rep["budgets"]}
    assert by["all"]["projected_usd"] == pytest.approx(4874.94) and not by["all"]["over"]
    # 4 GPUs x 730 + 1 GPU x 730 = 3650 GPU-hours
    assert by["gpu"]["projected_gpu_hours"] == pytest.approx(3650) and by["gpu"]["over"]
    (f,) = _findings(rep, "over-budget")
    assert f["budget"] == "gpu" and f["overage_gpu_hours"] == pytest.approx(650)
    assert code == 1


def test_bad_budget_config_is_a_one_line_error(tmp_path):
    code, out = _run(tmp_path, "budgets:\n  - name: x\n    mode: sometimes\n    monthly_usd: 1\n")
    assert code == 2 and "budgets.0.mode" in out and "Traceback" not in out
    code, out = _run(tmp_path, "budgets:\n  - name: x\n")
    assert code == 2 and "budgets.0" in out


APPROVALS = "approvals:\n  monthly_usd_threshold: 5000\n"


def test_needs_approval_without_approver(tmp_path, monkeypatch):
    monkeypatch.delenv("TAGGUARD_APPROVED_BY", raising=False)
    shutil.copy(FIXTURES / "mixed.plan.json", tmp_path / "tfplan.json")
    code, rep = _run(tmp_path, APPROVALS, files={})
    got = {f["address"]: f for f in _findings(rep, "needs-approval")}
    # create p4d.24xlarge +16,029.08; replace p3.2xlarge -> p3.8xlarge +6,701.40; update +3,406.18 stays under
    assert set(got) == {"aws_instance.train", "aws_instance.replaced"}
    assert got["aws_instance.train"]["cost_delta_monthly_usd"] == pytest.approx(16029.08)
    assert code == 1


def test_approved_by_flag_and_env(tmp_path):
    shutil.copy(FIXTURES / "mixed.plan.json", tmp_path / "tfplan.json")
    code, rep = _run(tmp_path, APPROVALS, "--approved-by", "alice", files={})
    fs = _findings(rep, "needs-approval")
    assert fs and all(f["suppressed"] and f["suppression_reason"] == "approved by alice" for f in fs)
    assert code == 0
    code, rep = _run(tmp_path, APPROVALS, files={}, env={"TAGGUARD_APPROVED_BY": "bob"})
    assert all(f["suppressed"] for f in _findings(rep, "needs-approval")) and code == 0


def test_only_listed_approvers_approve(tmp_path):
    shutil.copy(FIXTURES / "mixed.plan.json", tmp_path / "tfplan.json")
    cfg = APPROVALS + "  approvers: [finops-lead]\n"
    code, rep = _run(tmp_path, cfg, "--approved-by", "mallory", files={})
    fs = _findings(rep, "needs-approval")
    assert fs and not any(f.get("suppressed") for f in fs) and "not in approvals.approvers" in fs[0]["message"]
    assert code == 1
    code, rep = _run(tmp_path, cfg, "--approved-by", "finops-lead", files={})
    assert code == 0


def test_gpu_hours_threshold_applies_to_training_only(tmp_path):
    shutil.copy(FIXTURES / "mixed.plan.json", tmp_path / "tfplan.json")
    code, rep = _run(tmp_path, "approvals:\n  gpu_hours_threshold: 1000\n", files={})
    got = {f["address"] for f in _findings(rep, "needs-approval")}
    # aws_instance.train: 8 A100 x 730 h = 5840 GPU-hours, tagged workload=training; the 4-GPU replace is not training
    assert got == {"aws_instance.train"}


def test_hcl_scan_has_no_changes_so_no_approvals(tmp_path):
    code, rep = _run(tmp_path, "approvals:\n  monthly_usd_threshold: 1\n")
    assert not _findings(rep, "needs-approval") and "cost_diff" not in rep
