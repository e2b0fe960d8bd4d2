"""Issue 11 item 1: an unknown size is unknown AI-ness, not "not AI" (through the CLI, as a user sees it)."""
from __future__ import annotations

import json
from functools import partial

from clikit import run_cli


tg = partial(run_cli, process=True)  # a real `python -m tagguard`: exit codes and stderr as CI sees them

UNTAGGED = '''variable "itype" {}
resource "aws_instance" "gpu" {
  instance_type = var.itype
}
resource "aws_eks_node_group" "ng" {
  cluster_name   = "c"
  node_role_arn  = "arn"
  subnet_ids     = ["s"]
  instance_types = [var.itype]
  scaling_config {
    desired_size = 1
    min_size     = 1
    max_size     = 1
  }
}
'''


def test_untagged_resources_of_unknown_size_fail_with_a_note(tmp_path):
    (tmp_path / "main.tf").write_text(UNTAGGED)
    proc = tg("scan", str(tmp_path), "-f", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    rules = [(f["rule"], f["address"]) for f in doc["findings"]]
    assert rules.count(("missing-tag", "aws_instance.gpu")) == 4
    assert rules.count(("missing-tag", "aws_eks_node_group.ng")) == 4
    for f in doc["findings"]:
        if f["rule"] == "missing-tag":
            assert f["possibly_ai"] is True and "judged as possibly AI" in f["message"]
    notes = [f for f in doc["findings"] if f["rule"] == "unresolved-size"]
    assert {f["address"] for f in notes} == {"aws_instance.gpu", "aws_eks_node_group.ng"}
    for f in notes:
        assert f["severity"] == "warning" and f["category"] == "unresolved_size"
        assert "var.itype has no default" in f["message"]
        assert "--var itype=<type>" in f["fix"] and "tfvars" in f["fix"] and "validation" in f["fix"]
    by_address = {r["address"]: r for r in doc["resources"]}
    assert by_address["aws_instance.gpu"]["meta"]["possibly_ai"] is True
    assert any("possibly AI" in n for n in by_address["aws_instance.gpu"]["compute"]["notes"])
    assert doc["summary"]["ai_resources"] == 2


def test_with_the_size_given_the_note_goes_away(tmp_path):
    (tmp_path / "main.tf").write_text(UNTAGGED)
    proc = tg("scan", str(tmp_path), "-f", "json", "--var", "itype=p5.48xlarge")
    doc = json.loads(proc.stdout)
    assert not [f for f in doc["findings"] if f["rule"] == "unresolved-size"]
    assert doc["summary"]["monthly_usd"] > 0
    proc = tg("scan", str(tmp_path), "--var", "itype=t3.micro")
    assert proc.returncode == 0 and "PASS" in proc.stdout


def test_possibly_ai_off_in_config_still_warns(tmp_path):
    (tmp_path / "main.tf").write_text(UNTAGGED)
    (tmp_path / ".tagguard.yaml").write_text("possibly_ai: false\n")
    proc = tg("scan", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("[unresolved-size]") == 2
    assert "missing-tag" not in proc.stdout


def test_possibly_ai_must_be_a_boolean(tmp_path):
    (tmp_path / "main.tf").write_text(UNTAGGED)
    (tmp_path / ".tagguard.yaml").write_text("possibly_ai: maybe\n")
    proc = tg("scan", str(tmp_path))
    assert proc.returncode == 2
    assert "possibly_ai" in proc.stderr


def test_explain_unresolved_size_and_accelerator_conflict():
    for rule in ("unresolved-size", "accelerator-conflict"):
        proc = tg("explain", rule)
        assert proc.returncode == 0 and "## Fix" in proc.stdout
