"""The typed result contract (issue 11 item 3, issue 13 first bullet).

`ScanResult` has typed parts instead of the untyped `extra` dict; `ScanContext.options` is a typed
`ScanOptions` that sources and rules read and never write; rules hand results back through typed
`ScanOutputs`, sources through `SourceOutput`. The JSON report keeps its keys.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tagguard.config import Config
from tagguard.formats.json_format import report_dict
from tagguard.model import Finding, ScanResult, UnseenInput
from tagguard.report_parts import BaselineInfo, BudgetReport, CostDiff, DiffInfo
from tagguard.pipeline import scan
from tagguard.sources.base import ScanContext, ScanOptions, SourceOutput

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "tests" / "fixtures" / "plan"


def test_scan_result_has_no_untyped_side_channel():
    names = {f.name for f in dataclasses.fields(ScanResult)}
    assert "extra" not in names
    assert {"unseen", "baseline", "cost_diff", "budgets", "diff", "drift", "history", "showback", "gate"} <= names
    with pytest.raises(TypeError):
        ScanResult(extra={"exit_override": 2})  # type: ignore[call-arg]


def test_options_are_typed_and_rules_do_not_write_into_them(tmp_path):
    (tmp_path / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n'
                                      '  tags = { business-unit = "research" }\n}\n', encoding="utf-8")
    cfg = Config(raw={"budgets": [{"name": "r", "match": {"business-unit": "research"}, "monthly_usd": 10}]},
                 path=tmp_path / ".tagguard.yaml")
    opts = ScanOptions(approved_by="alice", namespace="ml")
    before = dataclasses.replace(opts)
    ctx = ScanContext(cfg, tmp_path, options=opts)
    assert ctx.options is opts and isinstance(ctx.options, ScanOptions)
    result = scan([str(tmp_path)], cfg, options=opts)
    assert opts == before  # nothing wrote back into the options (rules/cost.py set `result_extra` there)
    assert isinstance(result.budgets[0], BudgetReport) and result.budgets[0].over
    assert [f.rule for f in result.findings if f.rule == "over-budget"] == ["over-budget"]


def test_a_mapping_of_known_options_is_accepted_and_an_unknown_key_is_an_error():
    assert ScanOptions.coerce({"helm_bin": "/x/helm", "skip_helm": True}).helm_bin == "/x/helm"
    assert ScanOptions.coerce(None) == ScanOptions()
    with pytest.raises(TypeError, match="unknown scan option.*result_extra"):
        ScanOptions.coerce({"result_extra": {}})


def test_sources_state_unseen_inputs_through_a_method_not_a_bare_code():
    out = SourceOutput()
    with pytest.raises(TypeError, match="must_not_pass"):
        out.exit_override = 2  # the old untyped override would be silently lost
    out.must_not_pass("chart/Chart.yaml", "not rendered: no helm")
    other = SourceOutput()
    other.extend(out)
    assert other.unseen == [UnseenInput("chart/Chart.yaml", "not rendered: no helm", 2)]
    assert other.exit_override == 2


def test_plan_scan_json_keys_unchanged_and_typed_parts(tmp_path):
    plans = sorted(PLAN.glob("*.json"))
    assert plans, "plan fixtures"
    cfg = Config(raw={"budgets": [{"name": "all", "match": {}, "monthly_usd": 1}]}, path=tmp_path / ".tagguard.yaml")
    result = scan([str(plans[0])], cfg)
    assert isinstance(result.cost_diff, CostDiff) and isinstance(result.budgets[0], BudgetReport)
    doc = report_dict(result)
    assert set(doc["cost_diff"]) >= {"total_delta_monthly_usd", "gpu_hours_delta_per_month", "changes",
                                      "unpriced_changes", "by", "resources"}
    assert set(doc["budgets"][0]) >= {"name", "mode", "kind", "match", "monthly_usd", "projected_usd",
                                      "monthly_gpu_hours", "projected_gpu_hours", "resources",
                                      "unpriced_resources", "over", "overage_usd"}
    assert "unseen_inputs" not in doc and "diff" not in doc and "baseline" not in doc


def test_every_part_round_trips_through_the_json_report():
    result = ScanResult(findings=[Finding(rule="not-scanned", category="not_scanned", severity="error", message="m")],
                        unseen=[UnseenInput("c/Chart.yaml", "not rendered")],
                        baseline=BaselineInfo(path="b.json", entries=3, suppressed=1,
                                              grown=[{"file": "f", "address": "a", "rule": "over-budget", "tag": None,
                                                      "baselined": {"monthly_usd": 1.0}, "now": {"monthly_usd": 2.0}}]),
                        cost_diff=CostDiff(total_delta_monthly_usd=5.0, by={"team": []},
                                           more={"dimensions": {"team": "team"}}),
                        budgets=[BudgetReport(name="b", mode="showback", projected_usd=3.0)],
                        diff=DiffInfo(base="main", base_commit="abc", preexisting_findings_hidden=2),
                        drift={"accounts": ["1"]}, history={"new": []}, showback={"totals": {}})
    doc = json.loads(json.dumps(report_dict(result)))
    back = ScanResult()
    back.set_parts(doc)
    for part in ("unseen", "baseline", "cost_diff", "budgets", "diff", "drift", "history", "showback"):
        assert getattr(back, part) == getattr(result, part), part
    assert doc["cost_diff"]["dimensions"] == {"team": "team"}  # keys summarize adds are kept
    assert doc["summary"]["exit_code"] == result.exit_code() == 2


def test_report_json_round_trip_keeps_the_exit_code(tmp_path):
    """`report showback --from` and the Action rebuild a result from JSON: an unseen input survives."""
    from tagguard.commands.report import load_report_json

    result = ScanResult(unseen=[UnseenInput("c/Chart.yaml", "not rendered")])
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report_dict(result)), encoding="utf-8")
    back = load_report_json(path)
    assert back.exit_code() == 2 and back.unseen[0].file == "c/Chart.yaml"
