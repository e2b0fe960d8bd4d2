"""The FOCUS 1.3 export writes one file for one input, whatever DuckDB's thread count.

The export is a UNION of three branches (pass-through, shared split, cluster-node split) with a window sum per
origin; without an ORDER BY, DuckDB emits rows as its threads finish them, so `bill export --cluster` and
`cluster export-focus` (one code path) wrote the same rows in different orders about one run in two. The order
is now part of the contract: input order, an origin's allocated charges in its place in ratio order.
"""
from __future__ import annotations

import json

import pytest

from billkit import CONFIG, row, write_csv

pytest.importorskip("duckdb")

HOUR = {"ChargePeriodStart": "2026-11-02T01:00:00Z", "ChargePeriodEnd": "2026-11-02T02:00:00Z"}
LATER = {"ChargePeriodStart": "2026-11-02T05:00:00Z", "ChargePeriodEnd": "2026-11-02T06:00:00Z"}
REPORT = {  # the shape `tagguard cluster report -f json` writes (split.nodes), two nodes with machine ids
    "window": {"start": "2026-11-02T00:00:00Z", "end": "2026-11-02T04:00:00Z", "hours": 4.0},
    "group_by": "business-unit",
    "split": {"mig_basis": "compute", "time_slicing": "replicas", "idle_sharing": {"method": "none"}, "nodes": [
        {"node": "n1", "resource_id": "i-0aaa0000000000001", "capacity_gpu_hours": 32.0, "unallocated_ratio": 0.5625,
         "allocations": [{"group": "(unattributed)", "gpu_hours": 2.0, "ratio": 0.0625},
                         {"group": "product", "gpu_hours": 4.0, "ratio": 0.125},
                         {"group": "research", "gpu_hours": 8.0, "ratio": 0.25}]},
        {"node": "n3", "resource_id": "i-0aaa0000000000003", "capacity_gpu_hours": 16.0, "unallocated_ratio": 1.0,
         "allocations": []}]},
}


def test_export_order_is_the_input_order_whatever_the_threads(tmp_path, monkeypatch):
    from clikit import run_cli

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tagguard.yaml").write_text(CONFIG, encoding="utf-8")
    rep = tmp_path / "cluster.json"
    rep.write_text(json.dumps(REPORT), encoding="utf-8")
    rows, expected = [], []
    for i in range(150):  # node n1 (4 allocated rows), n3 (1), another machine and n1 after the window (passed)
        kind = i % 4
        rid = ["i-0aaa0000000000001", "i-0aaa0000000000003", f"i-0bbb{i:013d}", "i-0aaa0000000000001"][kind]
        rows.append(row(ResourceId=rid, SkuId=f"row{i}", EffectiveCost=f"{i + 1}.00", **(LATER if kind == 3 else HOUR)))
        expected += ([(f"row{i}", name) for name in ("(unattributed)", "product", "research", None)] if kind == 0
                     else [(f"row{i}", None)])
    bill = write_csv(tmp_path / "bill.csv", rows)
    outs = []
    for n, (cmd, threads) in enumerate([("bill", "1"), ("bill", "4"), ("cluster", "4"), ("bill", "4"),
                                        ("cluster", "2")]):
        out = tmp_path / f"o{n}.csv"
        args = (["bill", "export", bill, "--cluster", rep] if cmd == "bill"
                else ["cluster", "export-focus", bill, "--report", rep])
        res = run_cli(*args, "--out", out, "--threads", threads)
        assert res.exit_code == 0, res
        outs.append(out.read_bytes())
    assert all(o == outs[0] for o in outs[1:])
    import duckdb

    got = duckdb.connect().execute(
        f"SELECT SkuId, AllocatedResourceName FROM read_csv('{tmp_path / 'o1.csv'}', all_varchar=true, header=true)"
    ).fetchall()
    assert got == expected  # input order; n1's allocated charges in its place, in the report's (ratio) order
