"""`tagguard drift` and `tagguard scan` build the showback with one function (`cli.attach_showback`) and the
command's config: the same resources, tags and config give the same spend per team whether they were read
from live AWS or from Terraform (drift used to carry its own copy of the function)."""
from __future__ import annotations

from pathlib import Path

from tagguard import cli
from tagguard.commands import drift as drift_cmd
from tagguard.config import load_config
from tagguard.pipeline import scan
from tagguard.sources.aws import LiveScan
from tagguard.sources.aws.inventory import instance_resource
from tagguard.sources.base import SourceOutput

ACCT, REGION = "111122223333", "us-east-1"
FULL = {"business-unit": "research", "project": "llm", "environment": "prod", "cost-center": "CC-1",
        "team": "vision"}
PARTIAL = {"business-unit": "ads", "project": "rank", "team": "search"}  # no environment, no cost-center
CONFIG = """showback:
  dimensions: [team, project]
  allocate_by: team
shared_costs:
  - {name: model registry, monthly_usd: 1200}
"""
TF = """provider "aws" {
  region = "us-east-1"
}

resource "aws_instance" "train" {
  instance_type = "p4d.24xlarge"
  tags = { %s }
}

resource "aws_instance" "serve" {
  instance_type = "g5.xlarge"
  tags = { %s }
}
"""


def _hcl(tags: dict[str, str]) -> str:
    return ", ".join(f'"{k}" = "{v}"' for k, v in tags.items())


def _live(tags_by_type: dict[str, dict[str, str]]) -> LiveScan:
    resources = [instance_resource({"InstanceId": f"i-{n}", "InstanceType": itype, "State": {"Name": "running"},
                                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}, ACCT, REGION)
                 for n, (itype, tags) in enumerate(tags_by_type.items())]
    return LiveScan(output=SourceOutput(resources=resources), errors=[], stats={"accounts": [ACCT],
                                                                               "regions": [REGION]})


def test_drift_uses_the_one_attach_showback():
    assert drift_cmd.attach_showback is cli.attach_showback


def test_drift_and_scan_showback_agree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.tf").write_text(TF % (_hcl(FULL), _hcl(PARTIAL)), encoding="utf-8")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    config = load_config(Path(cfg), paths=[str(repo)])

    scanned = scan([str(repo)], config)
    cli.attach_showback(scanned, config)
    live = drift_cmd.evaluate_live(_live({"p4d.24xlarge": FULL, "g5.xlarge": PARTIAL}), config)
    drift_cmd.attach_showback(live, config)

    a, b = scanned.showback, live.showback
    assert a["allocate_by"] == b["allocate_by"] == "team"  # the config's, not the default business_unit
    assert list(a["dimensions"]) == list(b["dimensions"]) == ["team", "project"]
    assert a["dimensions"] == b["dimensions"]
    assert a["totals"] == b["totals"] and a["totals"]["unallocated_monthly_usd"] > 0  # serve: no environment
    assert a["shared_costs"] == b["shared_costs"] and a["shared_costs"]
    assert [r["monthly_usd"] for r in a["top_unallocated"]] == [r["monthly_usd"] for r in b["top_unallocated"]]
