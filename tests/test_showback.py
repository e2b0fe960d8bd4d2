"""Showback figures checked against hand-computed values."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tagguard.config import Config
from tagguard.model import Cost, Finding, Resource, ScanResult
from tagguard.cost.showback import build_showback, render


def res(addr, monthly, gpu_h, **tags):
    return Resource(address=addr, type="aws_instance", source="aws", ai=True, tags=tags,
                    cost=Cost(monthly_usd=monthly, gpu_hours_per_month=gpu_h))


def result():
    rs = [res("a", 3000, 730,
              **{"business-unit": "research", "project": "llm", "environment": "prod", "cost-center": "C1"}),
          res("b", 1000, 730, **{"business-unit": "ads", "project": "rank", "environment": "dev", "cost-center": "C2"}),
          res("c", 1000, 1460, project="llm")]
    fs = [Finding("missing-tag", "missing_tag", "error", "c: missing", address="c", tag=t)
          for t in ("business-unit", "environment", "cost-center")]
    return ScanResult(resources=rs, findings=fs)


def test_dimensions_unallocated_and_proportional_shared_costs():
    cfg = Config(raw={"shared_costs": [{"name": "registry", "monthly_usd": 500},
                                       {"name": "monitoring", "monthly_usd": 250}]})
    sb = build_showback(result(), cfg)
    bu = sb["dimensions"]["business_unit"]
    assert [(r["value"], r["monthly_usd"]) for r in bu["rows"]] == [("research", 3000.0), ("ads", 1000.0)]
    assert bu["unallocated"] == {"monthly_usd": 1000.0, "gpu_hours": 1460.0, "resources": 1, "share_pct": 20.0}
    proj = sb["dimensions"]["project"]
    # c has project=llm but is unallocated (missing keys): unallocated in every table, like the headline
    assert proj["rows"][0] == {"value": "llm", "monthly_usd": 3000.0, "gpu_hours": 730.0, "resources": 1,
                               "share_pct": 60.0}
    assert proj["unallocated"] == bu["unallocated"]
    assert sb["totals"]["unallocated_monthly_usd"] == 1000.0 and sb["totals"]["unallocated_share_pct"] == 20.0
    teams = {t["value"]: t for t in sb["shared_costs"]["teams"]}
    # 750 shared split 3000:1000:1000 -> 450 / 150 / 150, not 250 each
    assert teams["research"]["shared_usd"] == 450.0 and teams["research"]["total_usd"] == 3450.0
    assert teams["ads"]["shared_usd"] == 150.0 and teams["(unallocated)"]["shared_usd"] == 150.0
    assert teams["research"]["by_cost"] == {"registry": 300.0, "monitoring": 150.0}
    assert [r["address"] for r in sb["top_unallocated"]] == ["c"]


def test_token_rows_are_allocated_like_resources():
    rows = [{"name": "openai gpt-4o", "tags": {"business-unit": "ads"}, "monthly_usd": 200.0, "kind": "tokens"},
            {"name": "untagged key", "monthly_usd": 50.0, "kind": "tokens"}]
    sb = build_showback(result(), None, extra_rows=rows)
    bu = {r["value"]: r["monthly_usd"] for r in sb["dimensions"]["business_unit"]["rows"]}
    assert bu["ads"] == 1000.0  # the token row names only its business unit: project etc. are missing
    assert sb["dimensions"]["business_unit"]["unallocated"]["monthly_usd"] == 1250.0
    assert sb["totals"]["monthly_usd"] == 5250.0


def test_custom_dimensions_and_bad_shared_costs():
    cfg = Config(raw={"showback": {"dimensions": {"team": "business-unit"}}})
    sb = build_showback(result(), cfg)
    assert list(sb["dimensions"]) == ["team"] and sb["allocate_by"] == "team"
    with pytest.raises(ValueError, match=r"shared_costs\[0\]"):
        build_showback(result(), Config(raw={"shared_costs": [{"name": "x", "monthly_usd": "lots"}]}))


def test_renderings():
    sb = build_showback(result(), Config(raw={"shared_costs": [{"name": "registry", "monthly_usd": 500}]}))
    text = render(sb, "text")
    assert "Unallocated (required tags missing, invalid or not reaching the bill): $1,000.00/month (20.0%)" in text
    assert "research" in text and "allocated by business unit proportional to GPU spend" in text
    md = render(sb, "markdown")
    assert "| research | $3,000.00 |" in md and "### Top unallocated GPU resources" in md
    rows = list(csv.reader(io.StringIO(render(sb, "csv"))))
    assert rows[0][0] == "section"
    assert ["dimension", "business_unit", "(unallocated)", "1000.0", "1460.0", "1", "20.0"] in rows
    assert json.loads(render(sb, "json"))["totals"]["monthly_usd"] == 5000.0


def test_report_showback_over_iac_paths(tmp_path):
    import subprocess
    import sys

    (tmp_path / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n'
                                      '  tags = { "business-unit" = "research" }\n}\n')
    p = subprocess.run([sys.executable, "-m", "tagguard", "report", "showback", str(tmp_path), "-f", "json"],
                       capture_output=True, text=True, cwd=tmp_path,
                       env={**__import__("os").environ, "HOME": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    sb = json.loads(p.stdout)
    assert sb["dimensions"]["business_unit"]["rows"] == []  # unallocated (project etc. missing) in every table
    assert sb["totals"]["monthly_usd"] == pytest.approx(21.957642 * 730, abs=0.01)
    assert sb["totals"]["unallocated_monthly_usd"] == sb["totals"]["monthly_usd"]  # project etc. missing


def test_unpriced_unallocated_resource_is_not_shown_as_zero_dollars():
    job = Resource(address="Job/ml/train", type="Job", source="kubernetes", ai=True, tags={},
                   cost=Cost(monthly_usd=None, gpu_hours_per_month=None, reason="no known duration"))
    miss = Finding(rule="missing-tag", category="missing_tag", severity="error", message="m",
                   address="Job/ml/train", tag="cost-center")
    sb = build_showback(ScanResult(resources=[job], findings=[miss]), Config())
    (row,) = sb["top_unallocated"]
    assert row["monthly_usd"] is None
    line = [ln for ln in render(sb, "text").splitlines() if "Job/ml/train" in ln][0]
    assert "n/a" in line and "$" not in line
