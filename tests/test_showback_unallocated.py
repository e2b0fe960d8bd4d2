"""Showback's "unallocated" has one definition, used by the headline, every dimension table and JSON:
spend whose billed resource lacks a required key, has an invalid value, or whose tags do not reach it."""
from __future__ import annotations

from pathlib import Path


from clikit import run_cli
from tagguard.config import Config
from tagguard.model import Cost, Finding, Resource, ScanResult
from tagguard.cost.showback import build_showback, render

ROOT = Path(__file__).resolve().parents[1]
FULL = {"business-unit": "research", "project": "llm", "environment": "prod", "cost-center": "C1"}


def res(addr, monthly, **tags):
    return Resource(address=addr, type="aws_instance", source="terraform", ai=True, tags=tags,
                    cost=Cost(monthly_usd=monthly, gpu_hours_per_month=730))


def scan():
    rs = [res("ok", 1000, **FULL),
          res("typo", 2000, **{**FULL, "business-unit": "serach"}),           # invalid value
          res("prodname", 3000, **{**FULL, "environment": "production"}),     # invalid value
          res("nodes", 4000, **FULL)]                                          # tags do not reach the instances
    fs = [Finding("invalid-value", "invalid_value", "error", "typo: bad", address="typo", tag="business-unit",
                  extra={"value": "serach"}),
          Finding("invalid-value", "invalid_value", "error", "prodname: bad", address="prodname", tag="environment",
                  extra={"value": "production"}),
          Finding("not-propagated", "not_propagated", "warning", "nodes: ... so their cost is unallocated",
                  address="nodes", extra={"tags": ["business-unit", "cost-center"]})]
    return ScanResult(resources=rs, findings=fs)


def test_headline_equals_every_table_and_invalid_values_form_no_group():
    sb = build_showback(scan(), Config())
    t = sb["totals"]
    assert t["unallocated_monthly_usd"] == 9000.0 and t["unallocated_share_pct"] == 90.0
    for label, d in sb["dimensions"].items():
        assert d["unallocated"]["monthly_usd"] == 9000.0, label
        assert d["unallocated"]["resources"] == 3, label
        assert sum(r["monthly_usd"] for r in d["rows"]) + d["unallocated"]["monthly_usd"] == t["monthly_usd"]
    values = {r["value"] for d in sb["dimensions"].values() for r in d["rows"]}
    assert "serach" not in values and "production" not in values
    assert [(r["value"], r["monthly_usd"]) for r in sb["dimensions"]["business_unit"]["rows"]] == [("research", 1000.0)]
    why = {r["address"]: r["reasons"] for r in sb["top_unallocated"]}
    assert why["nodes"] == {"business-unit": "not propagated to the billed resource",
                            "cost-center": "not propagated to the billed resource"}
    assert why["typo"] == {"business-unit": 'invalid value "serach"'}
    text = render(sb, "text")
    assert "$9,000.00/month (90.0%)" in text and "(unallocated)     $9,000.00" in text


def test_suppressed_finding_still_leaves_spend_unallocated():
    r = res("bench", 500, Name="bench")
    f = Finding("missing-tag", "missing_tag", "error", "m", address="bench", tag="project", suppressed=True,
                suppression_reason="vendor box")
    sb = build_showback(ScanResult(resources=[r], findings=[f]), Config(raw={"showback": {"dimensions": ["project"]}}))
    assert sb["totals"]["unallocated_monthly_usd"] == 500.0 == sb["dimensions"]["project"]["unallocated"]["monthly_usd"]


def test_optional_dimension_without_value_is_not_set_and_unknown_value_is_unallocated():
    # `team` is a dimension the taxonomy does not require: a row without it is allocated (it passes the
    # taxonomy) and shows as "(not set)" in the team table, not as unallocated in one table only.
    cfg = Config(raw={"showback": {"dimensions": {"bu": "business-unit", "team": "team"}}})
    unknown = res("u", 50, **FULL)
    unknown.unresolved_tags = ["team"]  # e.g. var.team with no default: the bill's value is unknown
    sb = build_showback(ScanResult(resources=[res("a", 100, **FULL, team="x"), res("b", 300, **FULL), unknown]), cfg)
    assert sb["totals"]["unallocated_monthly_usd"] == 50.0
    assert sb["dimensions"]["bu"]["unallocated"]["monthly_usd"] == 50.0
    assert sb["dimensions"]["team"]["unallocated"]["monthly_usd"] == 50.0
    assert {r["value"]: r["monthly_usd"] for r in sb["dimensions"]["team"]["rows"]} == {"x": 100.0, "(not set)": 300.0}
    assert sb["top_unallocated"][0]["reasons"] == {"team": "value unknown statically"}


def test_unresolved_value_finding_is_unallocated():
    r = res("hidden", 70, **FULL)
    f = Finding("unresolved-value", "unresolved_value", "warning", "m", address="hidden", tag="project")
    sb = build_showback(ScanResult(resources=[r], findings=[f]), Config())
    assert sb["totals"]["unallocated_monthly_usd"] == 70.0 == sb["dimensions"]["project"]["unallocated"]["monthly_usd"]


def test_token_rows_with_invalid_values_are_unallocated():
    rows = [{"name": "svc-a", "tags": dict(FULL), "monthly_usd": 10.0, "kind": "tokens"},
            {"name": "svc-b", "tags": {**FULL, "environment": "production"}, "monthly_usd": 30.0, "kind": "tokens"}]
    sb = build_showback(ScanResult(), Config(), extra_rows=rows)
    assert sb["totals"]["unallocated_monthly_usd"] == 30.0
    assert [r["value"] for r in sb["dimensions"]["environment"]["rows"]] == ["prod"]


def test_markdown_escapes_values_and_reasons():
    r = res("x|y", 100, **{**FULL, "environment": "a|b<script>"})
    f = Finding("invalid-value", "invalid_value", "error", "m", address="x|y", tag="environment",
                extra={"value": "a|b<script>"})
    md = render(build_showback(ScanResult(resources=[r], findings=[f]), Config()), "markdown")
    assert "<script>" not in md and "a\\|b&lt;script&gt;" in md


def test_examples_terraform_one_truth(tmp_path):
    env = {"HOME": str(tmp_path)}
    p = run_cli("report", "showback", ROOT / "examples" / "terraform", "-f", "json",
                env=env, cwd=tmp_path, process=True)
    assert p.returncode == 0, p.stderr
    sb = p.json()
    un = sb["totals"]["unallocated_monthly_usd"]
    assert un > 0
    for label, d in sb["dimensions"].items():
        assert d["unallocated"]["monthly_usd"] == un, label
        assert "production" not in {r["value"] for r in d["rows"]}
    nodes = [r for r in sb["top_unallocated"] if "aws_eks_node_group" in r["address"]]
    assert nodes and all(r["reasons"].get("business-unit") == "not propagated to the billed resource" for r in nodes)
    html = run_cli("scan", ROOT / "examples" / "terraform", "-f", "html", env=env, cwd=tmp_path, process=True)
    assert f"${un:,.0f}" in html.stdout


def test_kubernetes_stranded_labels_name_their_keys(tmp_path):
    (tmp_path / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: train\n  namespace: ml\n"
        "  labels: {business-unit: research, project: llm, environment: prod, cost-center: C1}\n"
        "spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n"
        "      - name: t\n        image: x\n        resources: {limits: {nvidia.com/gpu: 1}}\n")
    proc = run_cli("scan", tmp_path, "-f", "json", env={"HOME": str(tmp_path)}, cwd=tmp_path, process=True)
    findings = proc.json()["findings"]
    (np,) = [f for f in findings if f["rule"] == "not-propagated"]
    assert sorted(np["tags"]) == ["business-unit", "cost-center", "environment", "project"]
