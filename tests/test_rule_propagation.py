"""not-propagated is a rule (rules/propagation.py) over facts the readers state (``Resource.unpropagated``):
the reader says which tags do not reach what is billed, the rule says which of them the taxonomy needs."""
from __future__ import annotations

import json

from tagguard.config import Config
from tagguard.model import Resource
from tagguard.rules import propagation
from tagguard.sources.aws.inventory import propagation_fact
from tagguard.sources.base import ScanContext


def _ctx(tmp_path, scope="ai"):
    (tmp_path / "tax.json").write_text(json.dumps({
        "type": "object", "required": ["cost-center"], "properties": {"cost-center": {}, "team": {}}}))
    return ScanContext(Config(raw={"taxonomy": "tax.json", "scope": scope}, path=tmp_path / ".tagguard.yaml"), tmp_path)


def _group(ai=True):
    return Resource(address="arn:aws:autoscaling:us-east-1:1:asg/gpu", type="aws_autoscaling_group", source="aws",
                    ai=ai, tags={"cost-center": "CC-1", "team": "ml", "Name": "gpu"},
                    meta={"account": "1", "region": "us-east-1"})


def test_live_group_fact_names_every_stuck_tag_and_the_rule_reports_the_taxonomy_keys(tmp_path):
    group = _group()
    members = [{"InstanceId": "i-1", "Tags": [{"Key": "Name", "Value": "gpu-1"}]}]
    fact = propagation_fact(group, members, {"cost-center": True, "team": True, "Name": True})
    assert fact is not None and sorted(fact.keys) == ["Name", "cost-center", "team"]  # facts, not policy
    group.unpropagated.append(fact)
    found = list(propagation.check([group], _ctx(tmp_path)))
    assert sorted(f.tag for f in found) == ["cost-center", "team"]  # `Name` is no taxonomy key
    f = next(f for f in found if f.tag == "cost-center")
    assert (f.rule, f.category, f.severity) == ("not-propagated", "not_propagated", "warning")
    assert "did not reach 1 of 1 instance(s) (i-1)" in f.message and f.extra["instances"] == ["i-1"]


def test_a_fact_on_a_resource_that_is_not_ai_is_no_finding(tmp_path):
    group = _group(ai=False)
    group.unpropagated.append(propagation_fact(group, [], {}))
    assert list(propagation.check([group], _ctx(tmp_path, scope="all"))) == []
