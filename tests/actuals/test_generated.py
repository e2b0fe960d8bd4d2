"""The generator's bill against an independent oracle: plain csv + json + jsonschema over the same rows.

The generator encodes what each row is in SkuId (sku-gpu, sku-sagemaker, sku-bedrock are AI), so the
oracle does not reuse tagguard's AI rules, tag parsing or taxonomy code.
"""
import csv
import json
from collections import defaultdict
from decimal import Decimal

import jsonschema

import focus_gen
from tagguard.actuals import coverage, focus
from tagguard.config import load_config

AI_SKUS = {"sku-gpu", "sku-sagemaker", "sku-bedrock"}


def oracle(path):
    schema = json.load(open(focus_gen.Path(__file__).resolve().parents[2] / "schemas" / "taxonomy.default.json"))
    validator = jsonschema.Draft202012Validator(schema)
    out = {"ai": Decimal(0), "alloc": Decimal(0), "bill": Decimal(0), "keys": defaultdict(Decimal),
           "team": defaultdict(Decimal), "spot": defaultdict(Decimal)}
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            cost = Decimal(r["EffectiveCost"])
            out["bill"] += cost
            if r["SkuId"] not in AI_SKUS:
                continue
            out["ai"] += cost
            tags = json.loads(r["Tags"]) if r["Tags"] else {}
            tags = {k[5:] if k.startswith("user:") else k: v for k, v in tags.items()}
            errors = list(validator.iter_errors(tags))
            if not errors:
                out["alloc"] += cost
            bad = set()
            for e in errors:
                if e.validator == "required":
                    bad.update(k for k in e.validator_value if k not in tags)
                else:
                    bad.add(e.absolute_path[0])
            for k in schema["required"]:
                if k not in bad:
                    out["keys"][k] += cost
            team = tags.get("business-unit") if "business-unit" not in bad else None
            out["team"][team or "(unallocated)"] += cost
            if r["PricingCategory"] == "Dynamic":
                out["spot"][team or "(unallocated)"] += cost
    return out


def test_generated_bill_matches_oracle(tmp_path):
    path = focus_gen.write(str(tmp_path / "g.csv"), rows=3000, resources=300, months=2)
    want = oracle(path)
    src = focus.open_source([path])
    (tmp_path / "c.yaml").write_text("bill:\n  top: 10\n", encoding="utf-8")
    cfg = load_config(tmp_path / "c.yaml")
    a = coverage.analyse(src, cfg, coverage.settings_from_config(cfg, shared={"tags": {"cost-allocation": "shared"}}))
    r = coverage.coverage_report(a)["currencies"]["USD"]
    q = lambda d: float(round(d, 6))  # noqa: E731
    assert r["bill_total"] == q(want["bill"])
    assert r["ai_total"] == q(want["ai"])
    assert r["allocated"] == q(want["alloc"])
    assert 0 < r["coverage"] < 1
    for k, v in want["keys"].items():
        assert r["by_key"][k]["allocated"] == q(v), k
    assert {t["team"]: t["ai_cost"] for t in r["by_team"]} == {k: q(v) for k, v in want["team"].items()}
    spot = {p["team"]: p["spot"] for p in r["pricing_by_team"]}
    assert {k: v for k, v in spot.items() if v} == {k: q(v) for k, v in want["spot"].items() if v}


def test_generator_is_deterministic(tmp_path):
    a = focus_gen.write(str(tmp_path / "a.csv"), rows=500, resources=50)
    b = focus_gen.write(str(tmp_path / "b.csv"), rows=500, resources=50)
    assert open(a).read() == open(b).read()
