"""``tagguard diff`` on real git repositories made in the test."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clikit import run_cli

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")

PROVIDER = '''provider "aws" {
  region = "us-east-1"
  default_tags { tags = { business-unit = "research", environment = "prod" } }
}
'''

MODULE = '''variable "tags" { type = map(string) }
resource "aws_instance" "node" {
  instance_type = "g5.xlarge"
  tags          = var.tags
}
'''

BASE = PROVIDER + '''
resource "aws_instance" "legacy" {          # pre-existing violation: no cost-center
  instance_type = "g5.xlarge"
  tags = { project = "legacy" }
}
resource "aws_instance" "grow" {
  instance_type = "g5.2xlarge"
  tags = { project = "grow", cost-center = "CC-1" }
}
resource "aws_instance" "gone" {
  instance_type = "g5.12xlarge"
  tags = { project = "gone", cost-center = "CC-2" }
}
module "gpu" {
  source = "../modules/gpu"
  tags   = { project = "mod", cost-center = "CC-3" }
}
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    r = tmp_path / "repo"
    (r / "infra").mkdir(parents=True)
    (r / "modules" / "gpu").mkdir(parents=True)
    git(r, "init", "-q")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    git(r, "config", "commit.gpgsign", "false")
    (r / "modules" / "gpu" / "main.tf").write_text(MODULE)
    (r / "infra" / "main.tf").write_text(BASE)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "base")
    return r


def change(repo: Path, commit: bool = True) -> None:
    text = BASE.replace('instance_type = "g5.2xlarge"', 'instance_type = "g5.12xlarge"')
    text = text.replace('''resource "aws_instance" "gone" {
  instance_type = "g5.12xlarge"
  tags = { project = "gone", cost-center = "CC-2" }
}
''', '''resource "aws_instance" "new" {            # new violation: no cost-center
  instance_type = "p4d.24xlarge"
  tags = { project = "llm" }
}
''')
    (repo / "infra" / "main.tf").write_text(text)
    if commit:
        git(repo, "commit", "-qam", "change")


def run(repo: Path, *args: str, cwd: Path | None = None):
    return run_cli("diff", *args, cwd=cwd or repo)


def test_only_new_or_changed_resources_are_reported(repo):
    change(repo)
    res = run(repo, "--base", "HEAD~1", "infra", "-f", "json")
    rep = json.loads(res.output)
    missing = {(f["address"], f["tag"]) for f in rep["findings"] if f["rule"] == "missing-tag"}
    assert missing == {("aws_instance.new", "cost-center")}  # legacy's identical violation is pre-existing
    assert res.exit_code == 1
    d = rep["diff"]
    assert [x["address"] for x in d["added"]] == ["aws_instance.new"]
    assert [(x["address"], x["changed"]) for x in d["changed"]] == [("aws_instance.grow", ["compute", "cost"])]
    assert [x["address"] for x in d["removed"]] == ["aws_instance.gone"]
    assert d["preexisting_findings_hidden"] >= 1
    # the module outside PATHS was read from the base too: its instance is unchanged, not "added"
    assert "module.gpu.aws_instance.node" not in {x["address"] for x in d["added"] + d["changed"]}


def test_cost_delta_and_teams(repo):
    change(repo)
    rep = json.loads(run(repo, "--base", "HEAD~1", "infra", "-f", "json").output)
    d = rep["diff"]
    by = {x["address"]: x["delta_monthly_usd"] for x in d["added"] + d["changed"] + d["removed"]}
    assert by["aws_instance.new"] == pytest.approx(16029.08)        # + p4d.24xlarge
    assert by["aws_instance.grow"] == pytest.approx(4140.56 - 884.76)  # g5.2xlarge -> g5.12xlarge
    assert by["aws_instance.gone"] == pytest.approx(-4140.56)       # - g5.12xlarge
    total = 16029.08 + 4140.56 - 884.76 - 4140.56
    assert rep["cost_diff"]["total_delta_monthly_usd"] == pytest.approx(total, abs=0.01)
    assert d["total_delta_monthly_usd"] == pytest.approx(total, abs=0.01)
    cc = {g["value"]: g["delta_monthly_usd"] for g in rep["cost_diff"]["by"]["cost-center"]}
    assert cc == pytest.approx({"(untagged)": 16029.08, "CC-1": 3255.80, "CC-2": -4140.56}, abs=0.01)


def test_working_tree_changes_without_commit_and_the_tree_is_untouched(repo):
    change(repo, commit=False)
    before = (repo / "infra" / "main.tf").read_text()
    status = git(repo, "status", "--porcelain")
    res = run(repo, "--base", "HEAD", "infra")
    assert (res.exit_code == 1 and "aws_instance.new" in res.output
            and "aws_instance.legacy" not in res.output.split("AI resources:")[0])
    assert (repo / "infra" / "main.tf").read_text() == before
    assert git(repo, "status", "--porcelain") == status


def test_no_change_passes_even_with_preexisting_violations(repo):
    res = run(repo, "--base", "HEAD", "infra")
    assert res.exit_code == 0, res.output
    assert "PASS: ±$0.00/month" in res.output and "pre-existing finding" in res.output


def test_new_directory_not_in_base(repo):
    (repo / "ml").mkdir()
    (repo / "ml" / "main.tf").write_text(PROVIDER + 'resource "aws_instance" "x" {\n  instance_type = "g5.xlarge"\n'
                                         '  tags = { project = "x", cost-center = "C" }\n}\n')
    rep = json.loads(run(repo, "--base", "HEAD", "ml", "-f", "json").output)
    assert [x["address"] for x in rep["diff"]["added"]] == ["aws_instance.x"]
    assert rep["cost_diff"]["total_delta_monthly_usd"] == pytest.approx(734.38)


def test_bad_ref_and_not_a_repo(repo, tmp_path):
    res = run(repo, "--base", "no-such-branch", "infra")
    assert res.exit_code == 2 and "no-such-branch" in res.output
    outside = tmp_path / "plain"
    outside.mkdir()
    res = run(repo, "--base", "HEAD", str(outside), cwd=outside)
    assert res.exit_code == 2 and "not inside a git repository" in res.output


def test_markdown_comment(repo):
    change(repo)
    res = run(repo, "--base", "HEAD~1", "infra", "-f", "markdown")
    md = res.output
    assert md.startswith("<!-- tagguard-report -->\n")
    assert "**+$15,144.32/month**" in md
    assert "| Business unit | Δ $/month | Changes |" in md and "| research | +$15,144.32 | 3 |" in md
    assert "<details" in md and "`tagguard explain missing-tag`" in md
    assert "aws_instance.legacy" not in md


def test_markdown_size_guard_keeps_the_summary():
    from tagguard.formats.diff import MARKER
    from tagguard.formats.markdown import render_diff as render_markdown
    from tagguard.model import ERROR, Finding, ScanResult
    from tagguard.report_parts import CostDiff, DiffInfo

    findings = [Finding(rule="missing-tag", category="missing_tag", severity=ERROR, address=f"aws_instance.r{i}",
                        file="main.tf", line=i, tag="cost-center",
                        message=f"aws_instance.r{i}: required tag `cost-center` is missing " + "x" * 200)
                for i in range(2000)]
    rows = [{"address": f"aws_instance.r{i}", "type": "aws_instance", "file": "main.tf", "line": i,
             "before_monthly_usd": 0.0, "after_monthly_usd": 734.38, "delta_monthly_usd": 734.38} for i in range(2000)]
    result = ScanResult(findings=findings)
    result.diff = DiffInfo(base="main", base_commit="0" * 40, added=rows)
    result.cost_diff = CostDiff(total_delta_monthly_usd=1468760.0, gpu_hours_delta_per_month=1460000,
                                by={"business-unit": [{"value": f"bu{i}", "delta_monthly_usd": 1.0, "changes": 1,
                                                       "unpriced": 0}
                                                      for i in range(500)]})
    md = render_markdown(result)
    assert len(md) <= 65536
    assert md.startswith(MARKER) and "**+$1,468,760.00/month**" in md
    assert "Report truncated" in md
    assert md.count("<details") == md.count("</details>")


def test_json_report_validates_against_schema(repo):
    import jsonschema

    change(repo)
    rep = json.loads(run(repo, "--base", "HEAD~1", "infra", "-f", "json").output)
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(rep, schema)
    assert {"diff", "cost_diff"} <= set(rep)


def test_two_plan_files_in_git(repo):
    """A committed plan JSON is diffed like any other input."""
    fixtures = Path(__file__).parent / "fixtures" / "plan"
    (repo / "plans").mkdir()
    shutil.copy(fixtures / "mixed.plan.json", repo / "plans" / "tfplan.json")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "plan")
    data = json.loads((repo / "plans" / "tfplan.json").read_text())
    for rc in data["resource_changes"]:
        if rc["address"] == "aws_instance.train":
            rc["change"]["after"]["instance_type"] = "p4d.24xlarge"
            rc["change"]["after"]["tags_all"].pop("cost-center")
    (repo / "plans" / "tfplan.json").write_text(json.dumps(data, indent=2))
    rep = json.loads(run(repo, "--base", "HEAD", "plans", "-f", "json").output)
    assert [(x["address"], x["changed"]) for x in rep["diff"]["changed"]] == [("aws_instance.train", ["tags"])]
    assert ({(f["rule"], f["address"]) for f in rep["findings"] if f["severity"] != "info"}
            == {("missing-tag", "aws_instance.train")})


def test_sequential_and_forked_base_scans_agree(repo):
    from tagguard.config import Config
    from tagguard.state.diffing import run_diff

    change(repo)
    out = []
    old = os.getcwd()
    os.chdir(repo)
    try:
        for parallel in (False, True):
            r = run_diff("HEAD~1", ["infra"], Config(raw={}), [], {}, {}, parallel=parallel)
            out.append((r.diff.added, r.diff.changed, r.diff.removed,
                        sorted(f.key() for f in r.findings)))
    finally:
        os.chdir(old)
    assert out[0] == out[1]


def test_budget_breach_only_reported_when_the_change_grows_it(repo):
    (repo / ".tagguard.yaml").write_text("budgets:\n  - name: research\n    match: {business-unit: research}\n"
                                         "    monthly_usd: 1000\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "budget")
    # already over budget in the base, nothing changes: not reported
    rep = json.loads(run(repo, "--base", "HEAD", "infra", "-f", "json").output)
    assert not [f for f in rep["findings"] if f["rule"] == "over-budget"]
    assert rep["budgets"][0]["over"] is True
    change(repo, commit=False)  # +$15,144.32/month for research
    res = run(repo, "--base", "HEAD", "infra", "-f", "json")
    (f,) = [f for f in json.loads(res.output)["findings"] if f["rule"] == "over-budget"]
    assert f["budget"] == "research" and f["file"] == "../.tagguard.yaml" and res.exit_code == 1


def test_several_formats_in_one_diff_run(repo, tmp_path):
    change(repo)
    sarif, md = tmp_path / "r.sarif", tmp_path / "r.md"
    res = run(repo, "--base", "HEAD~1", "infra", "-f", "json", "-f", "sarif")
    assert res.exit_code == 2  # two formats for stdout is a usage error
    res = run(repo, "--base", "HEAD~1", "infra", "-f", "json", "--output-sarif", str(sarif),
              "--output-markdown", str(md))
    rep = json.loads(res.output)
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"missing-tag"}
    assert len([r for r in results if r["ruleId"] == "missing-tag"]) == len(
        [f for f in rep["findings"] if f["rule"] == "missing-tag"])  # SARIF carries only the PR's findings
    assert "<!-- tagguard-report -->" in md.read_text()
