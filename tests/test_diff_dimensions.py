"""``tagguard diff`` breaks cost down by the configured dimensions, not fixed tag names."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from clikit import run_cli

from tagguard.cost import diff as costdiff
from tagguard.config import Config
from tagguard.formats.markdown import render_diff as render_markdown
from tagguard.model import Cost, Resource

TAXONOMY = {"type": "object", "required": ["team", "app", "env"],
            "properties": {"team": {"type": "string"}, "app": {"type": "string"},
                           "env": {"enum": ["dev", "prod"]}}}

BASE = '''provider "aws" {
  region = "us-east-1"
}
resource "aws_instance" "a" {
  instance_type = "g5.xlarge"
  tags = { team = "search", app = "ranker", env = "prod" }
}
'''
CHANGED = BASE.replace('"g5.xlarge"', '"g5.12xlarge"') + '''
resource "aws_instance" "b" {
  instance_type = "g5.2xlarge"
  tags = { team = "vision", app = "ocr", env = "dev" }
}
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def make_repo(tmp_path: Path, config: str) -> Path:
    r = tmp_path / "repo"
    (r / "infra").mkdir(parents=True)
    git(r, "init", "-q")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    git(r, "config", "commit.gpgsign", "false")
    (r / "taxonomy.json").write_text(json.dumps(TAXONOMY))
    (r / ".tagguard.yaml").write_text(config)
    (r / "infra" / "main.tf").write_text(BASE)
    git(r, "add", "-A")
    git(r, "commit", "-qm", "base")
    (r / "infra" / "main.tf").write_text(CHANGED)
    return r


def diff_json(repo: Path, home: Path):
    p = run_cli("diff", "--base", "HEAD", "infra", "-f", "json", process=True, cwd=repo, env={"HOME": str(home)})
    assert p.stdout, p.stderr
    return json.loads(p.stdout)


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_diff_uses_the_taxonomy_keys(tmp_path):
    repo = make_repo(tmp_path, "taxonomy: taxonomy.json\n")
    cd = diff_json(repo, tmp_path)["cost_diff"]
    assert list(cd["by"]) == ["team", "app", "env"]
    teams = {g["value"]: g for g in cd["by"]["team"]}
    assert set(teams) == {"search", "vision"}  # not (untagged)
    assert teams["vision"]["delta_monthly_usd"] > 0 and teams["search"]["delta_monthly_usd"] > 0
    assert {g["value"] for g in cd["by"]["env"]} == {"prod", "dev"}
    assert cd["dimensions"] == {"team": "team", "app": "app", "env": "env"}


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_diff_uses_showback_dimensions(tmp_path):
    repo = make_repo(tmp_path, "taxonomy: taxonomy.json\nshowback:\n  dimensions:\n    owning_team: team\n")
    cd = diff_json(repo, tmp_path)["cost_diff"]
    assert list(cd["by"]) == ["team"] and cd["dimensions"] == {"owning_team": "team"}
    assert {g["value"] for g in cd["by"]["team"]} == {"search", "vision"}


def test_summarize_and_markdown_follow_dimensions():
    r = Resource(address="aws_instance.x", type="aws_instance", source="terraform", ai=True,
                 tags={"team": "search", "app": "a|b"}, cost=Cost(monthly_usd=100.0, gpu_hours_per_month=730))
    r.meta.update(action="create", cost_delta_monthly_usd=100.0, cost_before_monthly_usd=0.0)
    cfg = Config(raw={"showback": {"dimensions": {"team": "team", "app": "app"}}})
    cd = costdiff.summarize([r], [], config=cfg)
    assert cd["by"]["team"] == [{"value": "search", "delta_monthly_usd": 100.0, "changes": 1, "unpriced": 0}]
    assert "business-unit" not in cd["by"]
    from tagguard.model import ScanResult

    res = ScanResult(resources=[r])
    for attr, value in (("cost_diff", cd), ("diff", {"base": "HEAD", "added": [], "changed": [], "removed": []})):
        if hasattr(res, "extra"):
            res.extra[attr] = value
        else:  # typed ScanResult fields
            from tagguard.report_parts import CostDiff, DiffInfo

            setattr(res, attr, CostDiff.from_json(value) if attr == "cost_diff" else DiffInfo.from_json(value))
    md = render_markdown(res)
    assert "| Team | Δ $/month | Changes |" in md and "| search | +$100.00 | 1 |" in md
    assert "By app" in md and "a\\|b" in md
