"""FOCUS 1.3 export of the allocation.

The 1.3 split-allocation rules are checked as the spec states them (FOCUS_Spec 1.3 column files
allocatedmethodid.md, allocatedmethoddetails.md, allocatedresourceid.md, allocatedtags.md and the attribute
data_generator_calculated_split_cost_allocation_handling.md). The FinOps Foundation's focus-validator
(PyPI focus-validator 2.2.1; Python >= 3.12, so it lives in its own environment named by
$TAGGUARD_FOCUS_VALIDATOR) ships only its FOCUS 1.2 model offline (1.3 is downloaded at run time, which
tests must not do): it checks that the export is exactly as conformant as its input.
"""
import json
import os
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from billkit import HAND_ROWS, write_csv
from clikit import run_cli


def export(tmp, src, cfg, out, *extra):
    res = run_cli("bill", "export", src, "--config", cfg, "--out", out, *extra, cwd=tmp)
    assert res.exit_code == 0, res.output
    return res.output


def read_rows(path):
    con = duckdb.connect()
    if str(path).endswith(".csv"):
        rel = con.execute(f"SELECT * FROM read_csv('{path}', all_varchar=true, header=true)")
    else:
        rel = con.execute(f"SELECT * FROM read_parquet('{path}')")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r)) for r in rel.fetchall()]


def check_focus13_split(rows, origin_rows, summable=("EffectiveCost", "BilledCost", "ConsumedQuantity")):
    """The FOCUS 1.3 split-allocation rules, as the spec states them."""
    split = [r for r in rows if r["AllocatedMethodId"] is not None]
    plain = [r for r in rows if r["AllocatedMethodId"] is None]
    for r in plain:  # not a split: every allocation column null
        assert r["AllocatedMethodDetails"] is None and r["AllocatedResourceId"] is None
        assert r["AllocatedResourceName"] is None and r["AllocatedTags"] is None
    groups = defaultdict(list)
    for r in split:
        assert r["AllocatedResourceId"] is not None  # allocated portion: not null
        assert r["AllocatedResourceName"] is not None  # null iff AllocatedResourceId null
        details = json.loads(r["AllocatedMethodDetails"])
        assert isinstance(details["Elements"], list) and len(details["Elements"]) >= 1
        for el in details["Elements"]:
            assert isinstance(el["AllocatedRatio"], (int, float))
            assert "UsageQuantity" not in el or "UsageUnit" in el
            for k in el:  # custom keys: x_ + PascalCase
                assert k in ("AllocatedRatio", "UsageUnit", "UsageQuantity") or (k.startswith("x_") and k[2].isupper())
        tags = json.loads(r["Tags"]) if r["Tags"] else {}
        alloc_tags = json.loads(r["AllocatedTags"])
        assert isinstance(alloc_tags, dict)
        assert not set(alloc_tags) & set(tags)  # MUST NOT repeat tags already in Tags
        key = tuple((c, r[c]) for c in ("ChargePeriodStart", "ResourceId", "ServiceName", "Tags", "x_UsageType",
                                        "SubAccountId"))
        groups[key].append(r)
    origins = defaultdict(list)
    for o in origin_rows:
        key = tuple((c, o[c]) for c in ("ChargePeriodStart", "ResourceId", "ServiceName", "Tags", "x_UsageType",
                                        "SubAccountId"))
        origins[key].append(o)
    assert set(groups) <= set(origins)
    for key, parts in groups.items():
        n_origins = len(origins[key])
        ratio = sum(Decimal(str(json.loads(p["AllocatedMethodDetails"])["Elements"][0]["AllocatedRatio"]))
                    for p in parts)
        assert abs(ratio - n_origins) < Decimal("1e-12")  # per origin, ratios sum to 1
        for col in summable:  # summable metrics sum exactly to the origin's
            got = sum(Decimal(str(p[col])) for p in parts if p[col] not in (None, ""))
            want = sum(Decimal(str(o[col])) for o in origins[key] if o[col] not in (None, ""))
            assert got == want, (col, key)
        for p in parts:  # non-summable columns and dimensions: the origin's
            for c in ("BillingCurrency", "ChargeCategory", "PricingCategory", "ConsumedUnit", "ServiceCategory"):
                assert p[c] == origins[key][0][c]
    return split, plain


def test_export_hand_bill(hand_bill, tmp_path):
    tmp, path, cfg = hand_bill
    out = tmp / "out" / "focus13.csv"
    msg = export(tmp, path, cfg, out)
    assert "1 shared charges split into 2 allocated rows (1 left unallocated)" in msg
    rows = read_rows(out)
    origin = read_rows(path)
    split, plain = check_focus13_split(rows, origin)
    assert len(rows) == len(HAND_ROWS) - 1 + 2
    by_team = {json.loads(r["AllocatedTags"])["business-unit"]: r for r in split}
    assert Decimal(by_team["research"]["EffectiveCost"]) + Decimal(by_team["search"]["EffectiveCost"]) == 12
    assert Decimal(by_team["research"]["EffectiveCost"]) == Decimal(12 * 90 / 110).quantize(Decimal("1e-10"))
    ratio = json.loads(by_team["research"]["AllocatedMethodDetails"])["Elements"][0]
    assert ratio["x_Basis"] == "gpu" and ratio["x_BasisCost"] == 90
    assert by_team["research"]["AllocatedMethodId"] == "tagguard-shared-by-gpu-spend"
    assert by_team["research"]["AllocatedResourceId"] == "tagguard:business-unit=research/environment=prod"
    # the March shared charge (no basis) passes through unsplit
    march = [r for r in plain if r["ServiceName"] == "Amazon CloudWatch"]
    assert len(march) == 1 and march[0]["ChargePeriodStart"].startswith("2026-03")


def test_export_allocated_tags_never_repeat_origin_tags(hand_bill):
    tmp, path, cfg = hand_bill
    rows = list(HAND_ROWS)
    rows[8] = dict(rows[8], Tags=json.dumps({"cost-allocation": "shared", "environment": "prod"}))
    write_csv(path, rows)
    out = tmp / "o.csv"
    export(tmp, path, cfg, out)
    split = [r for r in read_rows(out) if r["AllocatedMethodId"]]
    assert split and all(set(json.loads(r["AllocatedTags"])) == {"business-unit"} for r in split)


def test_export_parquet_generated(tmp_path):
    import focus_gen

    src = focus_gen.write(str(tmp_path / "g.parquet"), rows=4000, resources=200)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("bill:\n  shared:\n    tags: {cost-allocation: shared}\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    out = tmp_path / "o.parquet"
    export(tmp_path, src, cfg, out)
    rows = read_rows(out)
    origin = read_rows(src)
    split, _plain = check_focus13_split(rows, origin)
    assert split
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == sum(Decimal(o["EffectiveCost"]) for o in origin)


def _validator_failures(binary: str, data: Path) -> dict:
    py = Path(binary).parent / "python"
    pkg = subprocess.run([str(py), "-c",
                          "import focus_validator, os; "
                          "print(os.path.dirname(os.path.dirname(focus_validator.__file__)))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    report = data.with_suffix(".xml")
    # focus-validator opens rules/currency_codes.csv relative to the working directory, and exits 0 on failures
    subprocess.run([binary, "--data-file", str(data), "--validate-version", "1.2.0.1", "--block-download",
                    "--output-type", "unittest", "--output-destination", str(report)],
                   cwd=pkg, capture_output=True, text=True, timeout=600, check=True)
    bad = {}
    for tc in ET.parse(report).iter("testcase"):
        for kind in ("failure", "error"):
            el = tc.find(kind)
            if el is not None:
                bad[tc.get("name")] = el.get("message")
    return bad


@pytest.mark.slow
def test_focus_validator_export_as_conformant_as_input(tmp_path):
    # scripts/test-deps installs it in .tools/focus-validator when the machine has a Python >= 3.12
    local = Path(__file__).resolve().parents[2] / ".tools" / "focus-validator" / "bin" / "focus-validator"
    binary = os.environ.get("TAGGUARD_FOCUS_VALIDATOR") or (str(local) if local.is_file() else None)
    if not binary or not Path(binary).is_file():
        pytest.skip("no focus-validator: scripts/test-deps installs it when a Python >= 3.12 exists, "
                    "or set TAGGUARD_FOCUS_VALIDATOR to its binary (PyPI focus-validator>=2.1)")
    import focus_gen

    src = Path(focus_gen.write(str(tmp_path / "in.csv"), rows=2000, resources=100))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("bill:\n  shared:\n    tags: {cost-allocation: shared}\n", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    out = tmp_path / "out.csv"
    export(tmp_path, src, cfg, out)
    assert any(r["AllocatedMethodId"] for r in read_rows(out))
    before = _validator_failures(binary, src)
    after = _validator_failures(binary, out)
    assert set(after) <= set(before), {k: after[k] for k in set(after) - set(before)}


def test_csv_export_writes_focus_dates_from_typed_parquet(hand_bill):
    """Parquet exports type ChargePeriodStart as a timestamp; the CSV export writes FOCUS's UTC text form."""
    tmp, path, cfg = hand_bill
    pq = tmp / "typed.parquet"
    duckdb.connect().execute(
        f"""COPY (SELECT * REPLACE (CAST(ChargePeriodStart AS TIMESTAMPTZ) AS ChargePeriodStart,
                                    CAST(ChargePeriodEnd AS TIMESTAMP) AS ChargePeriodEnd)
                  FROM read_csv('{path}', all_varchar=true) WHERE json_valid(Tags) OR Tags IS NULL)
            TO '{pq}' (FORMAT parquet)""")
    out = tmp / "typed.csv"
    export(tmp, pq, cfg, out)
    rows = read_rows(out)
    assert rows and all(r["ChargePeriodStart"].endswith("Z") and "T" in r["ChargePeriodStart"] for r in rows)
    assert {r["ChargePeriodStart"] for r in rows} >= {"2026-01-05T00:00:00Z", "2026-03-02T00:00:00Z"}
    assert "2026-01-05T01:00:00Z" in {r["ChargePeriodEnd"] for r in rows}
    assert any(r["AllocatedMethodId"] for r in rows)
