"""One exit rule for every command: ``ScanResult.exit_code()``, and the JSON's ``summary.exit_code`` equals
the process's (issue 11 item 3).

A chart that cannot be rendered (no helm) must not pass silently: exit 2 from `scan`, `diff` (the path the
Action takes on pull requests), `baseline create` and `report showback`; a live scan that could not read
an account or region: exit 3.
"""
from __future__ import annotations

import json
from functools import partial
import os
import shutil
import subprocess
from pathlib import Path

import pytest


from clikit import run_cli
from tagguard.model import EXIT_INCOMPLETE, Finding, ScanResult


tg = partial(run_cli, process=True)  # a real `python -m tagguard`: exit codes and stderr as CI sees them

POD = """apiVersion: v1
kind: Pod
metadata: {name: trainer}
spec:
  containers:
    - name: t
      image: pytorch
      resources: {limits: {nvidia.com/gpu: 8}}
"""


def _env_without_helm(tmp_path: Path) -> dict:
    """Environment changes: PATH with python and git but no helm: the environment of a CI runner without helm."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    git = shutil.which("git")
    assert git, "git is needed for `tagguard diff`"
    os.symlink(git, bindir / "git")
    return {"PATH": str(bindir), "TAGGUARD_APPROVED_BY": None}


def _chart_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    chart = repo / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: trainer\nversion: 0.1.0\n", encoding="utf-8")
    (chart / "templates" / "pod.yaml").write_text(POD, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm",
                    "chart"], check=True)
    return repo


def test_scan_chart_without_helm_json_says_the_process_exit_code(tmp_path):
    env = _env_without_helm(tmp_path)
    repo = _chart_repo(tmp_path)
    proc = tg("scan", "chart", "-f", "json", "-o", "r.json", "-f", "sarif", "-o", "r.sarif", cwd=repo, env=env)
    assert proc.returncode == 2, proc.stderr
    report = json.loads((repo / "r.json").read_text())
    assert report["summary"]["exit_code"] == 2  # was 1 while the process exited 2
    assert report["unseen_inputs"][0]["file"] == "Chart.yaml"  # relative to the root, like findings
    assert "not rendered" in report["unseen_inputs"][0]["reason"]
    sarif = json.loads((repo / "r.sarif").read_text())
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 2


def test_diff_chart_without_helm_exits_2_not_pass(tmp_path):
    """The Action's pull-request path: printed PASS and exited 0 while `scan` exited 2."""
    env = _env_without_helm(tmp_path)
    repo = _chart_repo(tmp_path)
    proc = tg("diff", "--base", "HEAD", "chart/", cwd=repo, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "PASS" not in proc.stdout
    assert "FAIL" in proc.stdout and "not rendered" in proc.stdout
    proc = tg("diff", "--base", "HEAD", "chart/", "-f", "json", cwd=repo, env=env)
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["summary"]["exit_code"] == 2
    proc = tg("diff", "--base", "HEAD", "chart/", "--skip-helm", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_baseline_hides_neither_the_unseen_chart_nor_its_finding(tmp_path):
    env = _env_without_helm(tmp_path)
    repo = _chart_repo(tmp_path)
    proc = tg("baseline", "create", "chart", cwd=repo, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # the baseline was written over a chart never seen
    assert (repo / ".tagguard-baseline.json").is_file()
    assert "not rendered" in proc.stderr
    proc = tg("scan", "chart", "--baseline", ".tagguard-baseline.json", "-f", "json", cwd=repo, env=env)
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    assert report["summary"]["exit_code"] == 2
    (ns,) = [f for f in report["findings"] if f["rule"] == "not-scanned"]
    assert not ns.get("suppressed")  # the reason for exit 2 stays in sight
    assert report["baseline"]["stale"] == []


def test_report_showback_from_a_scan_that_could_not_see_a_chart_exits_2(tmp_path):
    env = _env_without_helm(tmp_path)
    repo = _chart_repo(tmp_path)
    tg("scan", "chart", "-o", "r.json", cwd=repo, env=env)
    proc = tg("report", "showback", "--from", "r.json", cwd=repo, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not rendered" in proc.stderr
    proc = tg("report", "showback", "chart", cwd=repo, env=env)
    assert proc.returncode == 2
    proc = tg("report", "showback", "chart", "--skip-helm", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr  # findings do not gate a showback


def test_drift_incomplete_is_exit_3_in_the_result_and_the_json():
    from tagguard.config import Config
    from tagguard.formats.json_format import report_dict
    from tagguard.sources.aws import LiveScan
    from tagguard.sources.base import SourceOutput

    from tagguard.commands.drift import evaluate_live

    errors = [{"account": "111122223333", "region": "eu-west-1", "service": "ec2", "code": "AccessDenied",
               "message": "not allowed"}]
    result = evaluate_live(LiveScan(SourceOutput(), errors, {"accounts": ["111122223333"]}), Config())
    assert result.exit_code() == EXIT_INCOMPLETE
    report = report_dict(result)
    assert report["summary"]["exit_code"] == 3 and report["errors"] == errors
    clean = evaluate_live(LiveScan(SourceOutput(), [], {"accounts": []}), Config())
    assert clean.exit_code() == 0
    assert report_dict(clean)["errors"] == []  # a drift report always says whether anything failed


def test_aws_source_through_the_pipeline_hands_errors_back_typed(monkeypatch):
    """`aws/__init__.py` wrote `aws_errors` into the options dict, where nothing read them: a silent pass."""
    import tagguard.sources.aws as aws
    from tagguard.config import Config
    from tagguard.pipeline import evaluate
    from tagguard.sources.base import Inventory, ScanContext, SourceOutput

    errors = [{"account": "1", "region": "us-east-1", "service": "sagemaker", "code": "Throttling", "message": "x"}]
    monkeypatch.setattr(aws, "scan_live", lambda config, opts: aws.LiveScan(SourceOutput(), list(errors), {"calls": 3}))
    ctx = ScanContext(Config(), Path.cwd())
    out = aws.AwsSource().collect(Inventory(root=Path.cwd()), ctx)
    result = evaluate(out, ctx, root="aws")
    assert result.errors == errors and result.drift == {"calls": 3}
    assert result.exit_code() == 3 and result.summary()["exit_code"] == 3


def test_exit_rule_order():
    blocking = Finding(rule="missing-tag", category="missing_tag", severity="error", message="m")
    r = ScanResult(findings=[blocking])
    assert r.exit_code() == 1
    r.gate = False
    assert r.exit_code() == 0 and r.summary()["blocking"] == 0
    r.gate = True
    from tagguard.model import UnseenInput

    r.unseen.append(UnseenInput("chart/Chart.yaml", "not rendered"))
    assert r.exit_code() == 2
    r.errors.append({"code": "AccessDenied"})
    assert r.exit_code() == 3  # the higher code wins
    assert r.summary()["exit_code"] == r.exit_code()


@pytest.mark.parametrize("command", ["scan", "baseline create", "report showback"])
def test_a_scan_path_that_does_not_exist_is_a_usage_error(tmp_path, command):
    proc = tg(*command.split(), "no-such-dir", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no-such-dir: no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr
