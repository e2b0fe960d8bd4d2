"""FOCUS 1.3 allocation columns from a cluster report's split (`tagguard cluster export-focus`).

The cluster of test_prometheus_gpuhours (a real Prometheus), 2026-11-02 00:00-04:00Z. Node n1 (machine
i-0aaa0000000000001, kube_node_info provider_id) has 8 GPUs = 32 GPU-hours of capacity; on it research
held 8 GPU-h (train-a), product 4 (infer-c), unattributed pods 2 (bad/x): ratios 8/32, 4/32, 2/32 and the
unallocated portion 18/32. n3 (i-0aaa0000000000003) ran no pod: all of it is the unallocated portion.
The bill: one hourly charge of each machine inside the window, one of n1 after it (not split).
"""
from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from test_prometheus_gpuhours import prom  # noqa: F401  (the module's Prometheus fixture)
from promserver import needs_prometheus

pytest.importorskip("duckdb")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "actuals"))
from billkit import CONFIG, row, write_csv  # noqa: E402

pytestmark = needs_prometheus

N1, N3 = "i-0aaa0000000000001", "i-0aaa0000000000003"


def read_rows(path):
    import duckdb

    rel = duckdb.connect().execute(f"SELECT * FROM read_csv('{path}', all_varchar=true, header=true)")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def test_node_charges_split_by_team_share_of_gpu_capacity(prom, tmp_path, monkeypatch):  # noqa: F811
    from tagguard.cli import cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tagguard.yaml").write_text(CONFIG, encoding="utf-8")
    rep = tmp_path / "cluster.json"
    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", prom.url, "--since", "2026-11-02T00:00:00Z",
                                   "--until", "2026-11-02T04:00:00Z", "-o", str(rep)], catch_exceptions=False)
    nodes = {n["node"]: n for n in json.loads(rep.read_text())["split"]["nodes"]}
    assert nodes["n1"]["resource_id"] == N1 and nodes["n1"]["unallocated_ratio"] == pytest.approx(18 / 32)
    assert nodes["n2"]["resource_id"] is None  # no kube_node_info provider_id: matches no bill row
    hour = {"ChargePeriodStart": "2026-11-02T01:00:00Z", "ChargePeriodEnd": "2026-11-02T02:00:00Z"}
    bill = write_csv(tmp_path / "bill.csv", [
        row(ResourceId=N1, x_UsageType="USE1-BoxUsage:p4d.24xlarge", EffectiveCost="32.00", BilledCost="40.00",
            Tags=json.dumps({"environment": "prod"}), **hour),
        row(ResourceId=N3, x_UsageType="USE1-BoxUsage:g5.12xlarge", EffectiveCost="5.672", **hour),
        row(ResourceId=N1, x_UsageType="USE1-BoxUsage:p4d.24xlarge", EffectiveCost="32.00",
            ChargePeriodStart="2026-11-02T05:00:00Z", ChargePeriodEnd="2026-11-02T06:00:00Z"),
    ])
    out = tmp_path / "focus13.csv"
    res = CliRunner().invoke(cli, ["cluster", "export-focus", str(bill), "--report", str(rep), "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "cluster node(s) matched by machine id" in res.output
    rows = read_rows(out)
    n1 = [r for r in rows if r["ResourceId"] == N1 and r["ChargePeriodStart"].startswith("2026-11-02T01")]
    by = {r["AllocatedResourceName"]: r for r in n1}
    assert set(by) == {"research", "product", "(unattributed)", None}
    assert all(r["AllocatedMethodId"] == "tagguard-cluster-gpu-hours" for r in n1)
    assert Decimal(by["research"]["EffectiveCost"]) == Decimal("8.0000000000")  # 32 × 8/32
    assert Decimal(by["product"]["EffectiveCost"]) == Decimal("4.0000000000")
    assert Decimal(by["(unattributed)"]["EffectiveCost"]) == Decimal("2.0000000000")
    assert Decimal(by[None]["EffectiveCost"]) == Decimal("18.0000000000")  # GPUs no pod requested
    assert sum(Decimal(r["BilledCost"]) for r in n1) == Decimal(40)  # summable metrics sum to the origin's
    assert sum(Decimal(r["ConsumedQuantity"]) for r in n1) == Decimal(1)
    ratios = [json.loads(r["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"] for r in n1]
    assert sum(ratios) == pytest.approx(1, abs=1e-12)
    research = json.loads(by["research"]["AllocatedMethodDetails"])["Elements"][0]
    assert research["AllocatedRatio"] == pytest.approx(0.25) and research["x_GpuHours"] == pytest.approx(8)
    assert by["research"]["AllocatedResourceId"] == "tagguard:business-unit=research"
    assert json.loads(by["research"]["AllocatedTags"]) == {"business-unit": "research"}
    assert by[None]["AllocatedResourceId"] is None and json.loads(by[None]["AllocatedTags"]) == {}
    assert json.loads(by["(unattributed)"]["AllocatedTags"]) == {}  # no team to name
    for r in n1:  # dimensions and tags are the origin's
        assert r["Tags"] == json.dumps({"environment": "prod"}) and r["x_UsageType"] == "USE1-BoxUsage:p4d.24xlarge"
    (n3,) = [r for r in rows if r["ResourceId"] == N3]
    assert n3["AllocatedResourceId"] is None and n3["AllocatedMethodId"] == "tagguard-cluster-gpu-hours"
    assert Decimal(n3["EffectiveCost"]) == Decimal("5.672")
    (later,) = [r for r in rows if r["ResourceId"] == N1 and r["ChargePeriodStart"].startswith("2026-11-02T05")]
    assert later["AllocatedMethodId"] is None and later["AllocatedTags"] is None  # outside the window: not a split
    assert len(rows) == 4 + 1 + 1


def test_overlapping_reports_for_one_machine_are_refused(prom, tmp_path, monkeypatch):  # noqa: F811
    from tagguard.cli import cli

    monkeypatch.chdir(tmp_path)
    rep = tmp_path / "cluster.json"
    CliRunner().invoke(cli, ["cluster", "report", "--prometheus", prom.url, "--since", "2026-11-02T00:00:00Z",
                             "--until", "2026-11-02T04:00:00Z", "-o", str(rep)], catch_exceptions=False)
    bill = write_csv(tmp_path / "bill.csv", [row(ResourceId=N1, EffectiveCost="1")])
    res = CliRunner().invoke(cli, ["cluster", "export-focus", str(bill), "--report", str(rep), "--report", str(rep),
                                   "--out", str(tmp_path / "o.csv")])
    assert res.exit_code == 2 and "overlapping window" in res.output and "Traceback" not in res.output


def test_bill_export_cluster_is_the_same_split(prom, tmp_path, monkeypatch):  # noqa: F811
    """`tagguard bill export BILL --cluster R` and `tagguard cluster export-focus BILL --report R` are one code path:
    the same file, byte for byte; an unreadable report is one line naming it (exit 2), before the bill is read."""
    from clikit import run_cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tagguard.yaml").write_text(CONFIG, encoding="utf-8")
    rep = tmp_path / "cluster.json"
    run_cli("cluster", "report", "--prometheus", prom.url, "--since", "2026-11-02T00:00:00Z",
            "--until", "2026-11-02T04:00:00Z", "-o", rep)
    hour = {"ChargePeriodStart": "2026-11-02T01:00:00Z", "ChargePeriodEnd": "2026-11-02T02:00:00Z"}
    bill = write_csv(tmp_path / "bill.csv", [
        row(ResourceId=N1, x_UsageType="USE1-BoxUsage:p4d.24xlarge", EffectiveCost="32.00", **hour),
        row(ResourceId=N3, x_UsageType="USE1-BoxUsage:g5.12xlarge", EffectiveCost="5.672", **hour),
    ])
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    res = run_cli("bill", "export", bill, "--cluster", rep, "--out", a)
    assert res.exit_code == 0, res.output
    assert "2 cluster node(s) matched by machine id" in res.output
    assert run_cli("cluster", "export-focus", bill, "--report", rep, "--out", b).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert len([r for r in read_rows(a) if r["AllocatedMethodId"] == "tagguard-cluster-gpu-hours"]) == 4 + 1
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    res = run_cli("bill", "export", bill, "--cluster", bad, "--out", tmp_path / "c.csv")
    assert res.exit_code == 2 and "bad.json: not a readable JSON report" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    res = run_cli("bill", "export", bill, "--out", tmp_path / "d.csv")  # without --cluster: node charges pass through
    assert res.exit_code == 0 and "cluster node" not in res.output
    assert not any(r["AllocatedMethodId"] for r in read_rows(tmp_path / "d.csv"))
