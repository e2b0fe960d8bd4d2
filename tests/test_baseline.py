"""Baselines: create, apply, keyed by file + address + rule + tag, stale entries, bad files."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from clikit import run_cli

from tagguard.state.baseline import apply_baseline, load_baseline
from tagguard.model import Finding, ScanResult

DATA = Path(__file__).parent / "data"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def test_create_then_scan_reports_only_new(repo):
    res = run_cli("baseline", "create", "infra")
    assert res.exit_code == 0, res.output
    assert "wrote 2 baseline entries to .tagguard-baseline.json" in res.output
    doc = json.loads((repo / ".tagguard-baseline.json").read_text())
    assert doc["version"] == 1
    keys = [(e["file"], e["address"], e["rule"], e["tag"]) for e in doc["findings"]]
    assert keys == [("infra/main.tf", "aws_instance.inference", "invalid-value", "environment"),
                    ("infra/main.tf", "aws_instance.trainer", "missing-tag", "cost-center")]
    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json")
    assert res.exit_code == 0, res.output
    assert "PASS" in res.output
    assert "baseline .tagguard-baseline.json: hid 2 known finding(s)" in res.output
    # baselined findings are suppressed, not deleted
    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json", "-f", "json")
    report = json.loads(res.output)
    reasons = sorted(f.get("suppression_reason") for f in report["findings"])
    assert reasons == ["baseline", "baseline", "research sandbox, torn down weekly (FIN-42)",
                       "research sandbox, torn down weekly (FIN-42)"]
    assert report["baseline"] == {"path": ".tagguard-baseline.json", "entries": 2, "suppressed": 2, "stale": []}


def test_same_address_in_another_module_is_not_absorbed(repo):
    """Checkov's baseline ignores the file, so this new violation would pass there."""
    assert run_cli("baseline", "create", ".").exit_code == 0
    other = repo / "infra" / "other"
    other.mkdir()
    (other / "main.tf").write_text((repo / "infra" / "main.tf").read_text(), encoding="utf-8")
    res = run_cli("scan", ".", "--baseline", ".tagguard-baseline.json")
    assert res.exit_code == 1
    assert "infra/other/main.tf" in res.output
    assert "aws_instance.trainer: required tag `cost-center` is missing" in res.output


def test_single_file_scan_matches_a_repo_wide_baseline(repo):
    """pre-commit passes file names: the root differs, the keys must not."""
    assert run_cli("baseline", "create").exit_code == 0
    res = run_cli("scan", "infra/main.tf", "--baseline", ".tagguard-baseline.json")
    assert res.exit_code == 0, res.output
    # and from a subdirectory with a baseline path pointing up
    res = run_cli("scan", str(repo / "infra"), "--baseline", str(repo / ".tagguard-baseline.json"))
    assert res.exit_code == 0, res.output


def test_stale_entries_are_reported(repo):
    assert run_cli("baseline", "create", "infra").exit_code == 0
    main = repo / "infra" / "main.tf"
    text = main.read_text().replace('environment   = "production"', 'environment   = "prod"')
    main.write_text(text, encoding="utf-8")
    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json", "-f", "json")
    assert res.exit_code == 0
    info = json.loads(res.output)["baseline"]
    assert info["suppressed"] == 1
    assert info["stale"] == [{"file": "infra/main.tf", "address": "aws_instance.inference",
                              "rule": "invalid-value", "tag": "environment"}]
    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json")
    assert ("1 stale entry (no finding matches now): "
            "infra/main.tf/aws_instance.inference/invalid-value/environment") in res.output
    # a file the scan did not look at is not judged; a deleted file is
    res = run_cli("scan", "infra/ok", "--baseline", ".tagguard-baseline.json", "-f", "json")
    assert json.loads(res.output)["baseline"]["stale"] == []
    main.unlink()
    res = run_cli("scan", "infra", "--baseline", ".tagguard-baseline.json", "-f", "json")
    assert len(json.loads(res.output)["baseline"]["stale"]) == 2


def test_config_baseline_key(repo):
    assert run_cli("baseline", "create", "infra", "-o", "ci/baseline.json").exit_code == 0
    config = repo / ".tagguard.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "baseline: ci/baseline.json\n", encoding="utf-8")
    res = run_cli("scan", "infra")
    assert res.exit_code == 0, res.output
    assert "baseline ci/baseline.json: hid 2" in res.output


@pytest.mark.parametrize("content, reason", [
    (None, "baseline file not found"),
    ("{\n  \"findings\": [,]\n}", ":2: baseline is not valid JSON"),
    ("[]", "not a tagguard baseline"),
    ('{"version": 7, "findings": []}', "unsupported baseline version 7"),
    ('{"findings": [{"file": "a.tf"}]}', "findings[0] needs at least a `rule` string"),
    ('{"findings": [{"rule": "missing-tag", "tag": 3}]}', "findings[0].tag must be a string or null"),
])
def test_bad_baseline_is_one_line_error(repo, content, reason):
    path = repo / "bl.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as exc:
        load_baseline(path)
    assert str(exc.value).startswith(str(path)) and reason in str(exc.value)
    res = run_cli("scan", "infra", "--baseline", path)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("tagguard: error: ") and reason in lines[0]


def test_live_entries_judged_only_by_live_scans(tmp_path):
    path = tmp_path / "bl.json"
    path.write_text(json.dumps({"version": 1, "findings": [
        {"file": None, "address": "arn:aws:ec2:us-east-1:1:instance/i-1", "rule": "missing-tag", "tag": "owner"}]}))
    finding = Finding(rule="missing-tag", category="missing_tag", severity="error",
                      message="m", file="x.tf", address="a", tag="owner")
    result = ScanResult(root=str(tmp_path), findings=[finding])
    assert apply_baseline(result, path).stale == []
    assert not result.findings[0].suppressed
