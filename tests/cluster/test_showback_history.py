"""The cluster report feeds `report showback` (actual GPU spend beside the estimates) and `--history`.

Uses the scenario of test_prometheus_gpuhours (a real Prometheus): over 2026-11-02 00:00-04:00Z
  research (ml): train-a 8 GPU-h p4d + serve-b 4 GPU-h g5.xlarge spot, used 4 + 0.4
  product (web): 4 GPU-h p4d, used 3.6;  platform (mig): 4/7 GPU-h p4d, unmeasured
  unattributed (bad/x): 2 GPU-h p4d (Running the first 2 h only)
A month is 730 h, so a 4 h window's cost × 182.5 is its monthly rate; a 2 h window's × 365.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from test_prometheus_gpuhours import G5X_SPOT, G5_12, prom  # noqa: F401  (the module's Prometheus fixture)
from promserver import needs_prometheus, P4D

pytestmark = needs_prometheus

RESEARCH = 8 * P4D + 4 * G5X_SPOT


def cluster_json(url, tmp_path, until="2026-11-02T04:00:00Z", *extra):
    from tagguard.cli import cli

    out = tmp_path / f"cluster-{until[11:13]}.json"
    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", url, "--since", "2026-11-02T00:00:00Z",
                                   "--until", until, "-o", str(out), *extra], catch_exceptions=False)
    assert res.exit_code == 1, res.output  # bad/x is unattributed
    return out


def test_showback_puts_actual_gpu_spend_beside_the_estimates(prom, tmp_path):  # noqa: F811
    from tagguard.cost.showback import build_showback
    from tagguard.model import Cost, Resource, ScanResult

    rep = json.loads(cluster_json(prom.url, tmp_path).read_text())
    tags = {"business-unit": "research", "project": "llm", "environment": "prod", "cost-center": "CC-1"}
    scan = ScanResult(resources=[Resource(address="aws_instance.gpu", type="aws_instance", source="terraform", ai=True,
                                          tags=tags, cost=Cost(monthly_usd=3000.0, gpu_hours_per_month=730.0))])
    tokens = [{"name": "openai", "tags": dict(tags), "monthly_usd": 120.0, "kind": "tokens"}]
    sb = build_showback(scan, None, extra_rows=tokens, actuals=[("c.json", rep)])
    assert sb["totals"]["monthly_usd"] == 3120.0  # actuals are beside the estimates, never added to them
    a = sb["actuals"]
    bu = {r["value"]: r for r in a["dimensions"]["business_unit"]["rows"]}
    assert bu["research"]["estimate_monthly_usd"] == 3000.0 and bu["research"]["tokens_monthly_usd"] == 120.0
    assert bu["research"]["actual_usd"] == pytest.approx(RESEARCH, abs=0.01)
    assert bu["research"]["actual_monthly_usd"] == pytest.approx(RESEARCH * 182.5, abs=0.01)
    assert bu["research"]["actual_gpu_hours"] == pytest.approx(12)
    assert bu["research"]["utilisation"] == pytest.approx(4.4 / 12, abs=1e-4)
    assert bu["product"]["actual_monthly_usd"] == pytest.approx(4 * P4D * 182.5, abs=0.01)
    assert bu["product"]["estimate_monthly_usd"] == 0.0
    assert bu["platform"]["utilisation"] is None  # MIG pod without utilisation series: not 0 %
    assert bu["(unallocated)"]["actual_monthly_usd"] == pytest.approx(2 * P4D * 182.5, abs=0.01)
    t = a["totals"]
    assert t["monthly_usd"] == pytest.approx((RESEARCH + (4 + 2 + 4 / 7) * P4D) * 182.5, abs=0.01)
    assert t["unattributed_gpu_hours"] == pytest.approx(2)
    assert t["idle_monthly_usd"] == pytest.approx((18 * P4D + 16 * G5_12 + (4 - 4 / 7) * P4D) * 182.5, abs=0.01)


def test_showback_cli_with_cluster_reports(prom, tmp_path):  # noqa: F811
    from tagguard.cli import cli

    path = cluster_json(prom.url, tmp_path)
    rep = json.loads(path.read_text())
    evil = "r&d\x1b]8;;http://x\x07|**bold**<img src=x>"
    for line in rep["by_label"]["business-unit"]:
        if line["value"] == "product":
            line["value"] = evil
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(rep))
    empty = tmp_path / "repo"
    empty.mkdir()
    res = CliRunner().invoke(cli, ["report", "showback", str(empty), "--cluster", str(path), "-f", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["actuals"]["sources"][0]["window"]["hours"] == 4
    text = CliRunner().invoke(cli, ["report", "showback", str(empty), "--cluster", str(hostile)]).output
    assert "Actual GPU spend in clusters" in text and "\x1b" not in text and "\x07" not in text
    md = CliRunner().invoke(cli, ["report", "showback", str(empty), "--cluster", str(hostile), "-f", "markdown"]).output
    assert "actual GPU / month" in md and "<img" not in md and "|**bold**" not in md
    html = CliRunner().invoke(cli, ["report", "showback", str(empty), "--cluster", str(hostile), "-f", "html"])
    assert html.exit_code == 0 and "does not show --cluster actuals" not in html.output
    assert 'id="actuals"' in html.output and "actual GPU / month" in html.output
    assert "<img" not in html.output and "\x1b" not in html.output and "\x07" not in html.output
    assert "r&amp;d\\x1b]8;;http://x\\x07|**bold**&lt;img src=x&gt;" in html.output  # shown, escaped
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(rep, totals=dict(rep["totals"], cost_usd="12"))))
    res = CliRunner().invoke(cli, ["report", "showback", str(empty), "--cluster", str(bad)])
    assert res.exit_code == 2 and "totals.cost_usd: expected a number" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["report", "showback", str(empty), "--cluster", str(tmp_path / "missing.json")])
    assert res.exit_code == 2


def test_history_records_cluster_runs_and_the_trend(prom, tmp_path):  # noqa: F811
    from tagguard.cli import cli

    db = tmp_path / "h.db"
    first = json.loads(cluster_json(prom.url, tmp_path, "2026-11-02T04:00:00Z", "--history", str(db), "-f", "json")
                       .read_text())
    assert first["history"]["previous_run_id"] is None
    # the first 2 h: bad/x ran all of it, so its unattributed monthly rate doubles
    second = json.loads(cluster_json(prom.url, tmp_path, "2026-11-02T02:00:00Z", "--history", str(db), "-f", "json")
                        .read_text())
    h = second["history"]
    assert h["previous_run_id"] == first["history"]["run_id"]
    un = [r["unallocated_usd"] for r in h["trend"]]
    assert un == [pytest.approx(2 * P4D * 182.5), pytest.approx(2 * P4D * 365)]
    assert [r["at"] for r in h["trend"]] == ["2026-11-02T04:00:00Z", "2026-11-02T02:00:00Z"]
    g = {(x["tag"], x["value"]): x for x in h["groups"]}
    assert g[("business-unit", "(unattributed)")]["change_usd"] == pytest.approx(round(2 * P4D * 182.5, 2), abs=0.02)
    res = CliRunner().invoke(cli, ["history", str(db), "--kind", "cluster", "-f", "json"])
    runs = json.loads(res.output)["runs"]
    assert [r["kind"] for r in runs] == ["cluster", "cluster"]
    assert runs[0]["gpu_hours"] == pytest.approx(8 + 4 + 4 + 2 + 4 / 7)
    with sqlite3.connect(db) as conn:
        n = conn.execute("SELECT count(*) FROM cluster_groups WHERE tag='business-unit'").fetchone()[0]
    assert n == 8  # research, product, platform, (unattributed) in each of the two runs
    text = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", prom.url, "--since", "2026-11-02T00:00:00Z",
                                    "--until", "2026-11-02T04:00:00Z", "--history", str(db)]).output
    assert "history (" in text and "previous cluster run 2" in text
