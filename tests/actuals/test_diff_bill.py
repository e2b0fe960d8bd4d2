"""``tagguard diff --bill PATH`` (issue 14): budgets judged on the team's actual run-rate plus the change.

The bill is a small FOCUS CSV written here; every figure is computed by hand:

* November 2026, budget ``research-gpus`` (business-unit=research, GPU): research's GPU charges are
  $10,000 (1 Nov, tag with the ``user:`` prefix) + $6,000 (10 Nov) = $16,000 month to date; the last
  charge day is the 10th, so the run-rate is 16,000 / 10 x 30 = $48,000/month. Not counted: nlp's
  $99,999 (other team), research's $5,000 of S3 (not AI), October's $1,000,000 (other month).
* October 2026 (``--bill-month``): $1,000,000 over 15 of 31 days = $2,066,666.67/month.
* The change adds one g5.12xlarge (list $5.672/h x 730 h) = +$4,140.56/month to research.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from clikit import CliRun, run_cli

pytest.importorskip("duckdb")

BILL = """\
BillingCurrency,ChargeCategory,ChargePeriodStart,ServiceName,ResourceId,Tags,EffectiveCost,SkuId
USD,Usage,2026-11-01T00:00:00Z,Amazon Elastic Compute Cloud,i-1,"{""user:business-unit"": ""research""}",10000.00,p4d.24xlarge
USD,Usage,2026-11-10T00:00:00Z,Amazon Elastic Compute Cloud,i-2,"{""business-unit"": ""research""}",6000.00,p4d.24xlarge
USD,Usage,2026-11-05T00:00:00Z,Amazon Elastic Compute Cloud,i-3,"{""business-unit"": ""nlp""}",99999.00,p4d.24xlarge
USD,Usage,2026-11-05T00:00:00Z,Amazon Simple Storage Service,b-1,"{""business-unit"": ""research""}",5000.00,TimedStorage
USD,Usage,2026-10-15T00:00:00Z,Amazon Elastic Compute Cloud,i-1,"{""business-unit"": ""research""}",1000000.00,p4d.24xlarge
"""  # noqa: E501
TAGS = 'business-unit = "{bu}", project = "llm", cost-center = "CC-1", environment = "prod"'
BASE_TF = ('resource "aws_instance" "train" {\n  instance_type = "p4d.24xlarge"\n  tags = { '
           + TAGS.format(bu="research") + " }\n}\n")
RUN_RATE = 48000.00
DELTA = 4140.56  # 5.672 * 730


def config(limit: float) -> str:
    return (f"budgets:\n  - name: research-gpus\n    match: {{business-unit: research}}\n    monthly_usd: {limit}\n"
            "    mode: chargeback\n")


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def make_repo(tmp_path: Path, limit: float, team: str = "research") -> Path:
    """Base: one p4d.24xlarge of research. Working tree: one g5.12xlarge of ``team`` added."""
    repo = tmp_path / "repo"
    (repo / "infra").mkdir(parents=True)
    git(repo, "init", "-q")
    for k, v in (("user.email", "t@example.com"), ("user.name", "t"), ("commit.gpgsign", "false")):
        git(repo, "config", k, v)
    (repo / ".tagguard.yaml").write_text(config(limit))
    (repo / "infra" / "main.tf").write_text(BASE_TF)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    (repo / "infra" / "main.tf").write_text(
        BASE_TF + 'resource "aws_instance" "serve" {\n  instance_type = "g5.12xlarge"\n  tags = { '
        + TAGS.format(bu=team) + " }\n}\n")
    (tmp_path / "bill.csv").write_text(BILL)
    return repo


def tagguard(repo: Path, *args: str) -> CliRun:
    return run_cli("diff", "--base", "HEAD", "infra", *args, process=True, cwd=repo, timeout=300,
                   env={"COLUMNS": "200", "GITHUB_ACTIONS": None})


def over_budget(report):
    return [f for f in report["findings"] if f["rule"] == "over-budget"]


def test_repo_alone_under_budget_but_the_actual_run_rate_pushes_it_over(tmp_path):
    repo = make_repo(tmp_path, 50000)
    plain = tagguard(repo, "-f", "json")
    assert plain.returncode == 0, plain.stderr
    rep = json.loads(plain.stdout)
    assert not over_budget(rep) and rep["budgets"][0]["over"] is False
    assert rep["budgets"][0]["projected_usd"] < 50000

    run = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "-f", "json")
    assert run.returncode == 1, run.stderr
    rep = json.loads(run.stdout)
    assert rep["summary"]["exit_code"] == 1
    (b,) = rep["budgets"]
    a = b["actual"]
    assert (a["month"], a["mtd_usd"], a["days_covered"], a["days_in_month"]) == ("2026-11", 16000.0, 10, 30)
    assert a["run_rate_usd"] == RUN_RATE and a["change_delta_usd"] == DELTA
    assert a["projected_usd"] == pytest.approx(RUN_RATE + DELTA, abs=0.005)  # 52,140.56
    assert a["overage_usd"] == pytest.approx(RUN_RATE + DELTA - 50000, abs=0.005)  # 2,140.56
    assert a["over"] is True and b["over"] is True
    assert a["files"] == [str(tmp_path / "bill.csv")] and a["cost_column"] == "EffectiveCost"
    (f,) = over_budget(rep)
    assert f["severity"] == "error" and f["file"] == "../.tagguard.yaml" and f["line"] == 2
    for text in ("$48,000.00/month", "+$4,140.56/month from this change", "$52,140.56/month",
                 "$2,140.56 over the $50,000.00 budget", "bill.csv", "2026-11",
                 "$16,000.00 month to date over 10 of 30 days"):
        assert text in f["message"], f["message"]


def test_text_and_markdown_state_run_rate_delta_and_source(tmp_path):
    repo = make_repo(tmp_path, 50000)
    text = tagguard(repo, "--bill", str(tmp_path / "bill.csv"))
    assert text.returncode == 1
    line = next(x for x in text.stdout.splitlines() if x.strip().startswith("research-gpus"))
    for part in ("OVER", "actual $48,000.00/month", "month to date $16,000.00", "10 of 30 days",
                 "+$4,140.56 this change", "= $52,140.56 of $50,000.00"):
        assert part in line, line
    assert f"({tmp_path / 'bill.csv'}, 2026-11, EffectiveCost)" in text.stdout
    md = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "-f", "markdown")
    assert "| research-gpus | chargeback | $48,000.00 | +$4,140.56 | $52,140.56 |" in md.stdout, md.stdout
    assert "bill.csv" in md.stdout and "Budgets (actual run-rate from the bill)" in md.stdout


def test_within_budget_on_the_bill_passes_and_says_so(tmp_path):
    repo = make_repo(tmp_path, 60000)
    run = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "-f", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    rep = json.loads(run.stdout)
    a = rep["budgets"][0]["actual"]
    assert a["over"] is False and a["projected_usd"] == pytest.approx(52140.56, abs=0.005)
    assert a["overage_usd"] == pytest.approx(52140.56 - 60000, abs=0.005)
    assert not over_budget(rep)


def test_an_overage_the_change_does_not_add_to_is_preexisting(tmp_path):
    """Research already runs at $48,000 against $40,000; a change adding only nlp's resources does not
    block, but the budget says over and the finding counts as pre-existing."""
    repo = make_repo(tmp_path, 40000, team="nlp")
    plain = json.loads(tagguard(repo, "-f", "json").stdout)
    run = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "-f", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    rep = json.loads(run.stdout)
    a = rep["budgets"][0]["actual"]
    assert a["change_delta_usd"] == 0 and a["run_rate_usd"] == RUN_RATE and a["over"] is True
    assert not over_budget(rep)
    assert rep["diff"]["preexisting_findings_hidden"] == plain["diff"]["preexisting_findings_hidden"] + 1


def test_an_overage_already_in_the_repository_is_counted_once(tmp_path):
    """Over in the repository (a p4d.24xlarge alone is over $10,000) and on the bill, the change adds
    nothing to it: one pre-existing overage, not two."""
    repo = make_repo(tmp_path, 10000, team="nlp")
    plain = json.loads(tagguard(repo, "-f", "json").stdout)
    assert plain["budgets"][0]["over"] is True and not over_budget(plain)
    rep = json.loads(tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "-f", "json").stdout)
    assert rep["budgets"][0]["actual"]["over"] is True and not over_budget(rep)
    assert rep["diff"]["preexisting_findings_hidden"] == plain["diff"]["preexisting_findings_hidden"]


def test_bill_month_picks_the_month(tmp_path):
    repo = make_repo(tmp_path, 50000)
    run = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "--bill-month", "2026-10", "-f", "json")
    a = json.loads(run.stdout)["budgets"][0]["actual"]
    assert (a["month"], a["mtd_usd"], a["days_covered"], a["days_in_month"]) == ("2026-10", 1000000.0, 15, 31)
    assert a["run_rate_usd"] == pytest.approx(1000000 * 31 / 15, abs=0.005)  # 2,066,666.67
    assert run.returncode == 1
    none = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "--bill-month", "2026-09")
    assert none.returncode == 2 and "no charges in that month" in none.stderr
    bad = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "--bill-month", "2026-13")
    assert bad.returncode == 2 and "not a month" in bad.stderr


def test_unusable_bill_is_one_line_and_exit_2(tmp_path):
    repo = make_repo(tmp_path, 50000)
    broken = tmp_path / "broken.csv"
    broken.write_text(BILL.replace("EffectiveCost", "EffectveCost"))
    run = tagguard(repo, "--bill", str(broken))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.stderr.strip().count("\n") == 0, run.stderr
    assert "--bill" in run.stderr and "EffectiveCost" in run.stderr
    missing = tagguard(repo, "--bill", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_plain_diff_does_not_import_duckdb(tmp_path):
    repo = make_repo(tmp_path, 50000)
    code = ("import sys\nfrom tagguard.cli import cli\n"
            "try:\n    cli.main(['diff', '--base', 'HEAD', 'infra', '-f', 'json', '-o', 'out.json'],"
            " standalone_mode=False)\n"
            "except SystemExit:\n    pass\n"
            "print('DUCKDB' if 'duckdb' in sys.modules else 'NO-DUCKDB')\n")
    env = {**os.environ, "TAGGUARD_USER_CONFIG": ""}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, env=env, timeout=300)
    assert run.stdout.strip().splitlines()[-1] == "NO-DUCKDB", run.stdout + run.stderr
    assert json.loads((repo / "out.json").read_text())["budgets"][0]["name"] == "research-gpus"


def test_bill_budget_output_of_hostile_names_and_notes_is_inert():
    """Budget names (the repository's config) and bill notes (file names) are data in every medium."""
    from tagguard.formats.diff import render_text
    from tagguard.formats.markdown import render_diff as render_markdown
    from tagguard.model import ScanResult
    from tagguard.report_parts import BudgetReport, DiffInfo
    from tests.security.test_output_injection import HOSTILE, assert_log_safe, assert_markdown_inert

    budgets = []
    for i, h in enumerate(HOSTILE):
        actual = {"source": h, "files": [h], "month": "2026-11", "cost_column": "EffectiveCost", "days_covered": 10,
                  "days_in_month": 30, "change_delta_usd": 1.0, "notes": [h], "evaluated": i % 2 == 0,
                  "reason": h, "mtd_usd": 1.0, "run_rate_usd": 3.0, "projected_usd": 4.0, "over": True,
                  "overage_usd": 1.0}
        budgets.append(BudgetReport(name=h, mode=h, monthly_usd=3.0, projected_usd=1.0, actual=actual))
    result = ScanResult(budgets=budgets, diff=DiffInfo(base="main", base_commit="0" * 40, paths=["."]))
    assert_markdown_inert(render_markdown(result))
    assert_log_safe(render_text(result))


def test_bill_without_budgets_says_it_judges_nothing(tmp_path):
    repo = make_repo(tmp_path, 50000)
    (repo / ".tagguard.yaml").write_text("scope: ai\n")
    git(repo, "commit", "-qam", "no budgets")
    run = tagguard(repo, "--bill", str(tmp_path / "bill.csv"))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "--bill: the config has no budgets" in run.stderr


def test_a_repository_overage_the_change_grows_carries_the_bill_figures(tmp_path):
    """Over in both: one finding, the repository's projection and the bill's figures in its message."""
    repo = make_repo(tmp_path, 10000)
    run = tagguard(repo, "--bill", str(tmp_path / "bill.csv"), "-f", "json")
    assert run.returncode == 1
    (f,) = over_budget(json.loads(run.stdout))
    assert "over the $10,000.00 budget" in f["message"]
    assert "with the bill, actual run-rate $48,000.00/month" in f["message"]
    assert f["actual"]["projected_usd"] == pytest.approx(52140.56, abs=0.005)
