"""The JSON report read back through the model: ScanResult/Resource/Finding.from_json are the one reader
of the contract (report showback --from, merge, review, alerts, cost deltas), and they lose nothing."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from clikit import run_cli
from tagguard.formats.json_format import report_dict
from tagguard.model import Compute, Cost, Finding, ReportError, Resource, ScanResult

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ["examples", "examples/terraform", "examples/cluster", "examples/charts",
          "tests/fixtures/plan/mixed.plan.json"]


def _scan(target: str) -> dict:
    env = {}
    if (ROOT / ".tools" / "bin" / "helm").is_file():  # scripts/get-helm: the chart is rendered, not unseen
        env["PATH"] = str(ROOT / ".tools" / "bin") + os.pathsep + os.environ.get("PATH", "")
    p = run_cli("scan", ROOT / target, "-f", "json", cwd=ROOT, env=env, process=True)
    assert p.returncode in (0, 1, 2), p.stderr
    return p.json()


@pytest.fixture(scope="module")
def reports():
    return {t: _scan(t) for t in INPUTS}


def test_the_examples_cover_every_part_of_a_resource_and_finding(reports):
    resources = [r for d in reports.values() for r in d["resources"]]
    findings = [f for d in reports.values() for f in d["findings"]]
    assert any(r.get("meta") for r in resources) and any(r["unresolved_tags"] for r in resources)
    assert any((r.get("compute") or {}).get("notes") for r in resources)
    assert any((r.get("cost") or {}).get("rate_source") for r in resources)
    assert any(f.get("suppressed") for f in findings) and any(f.get("fix") for f in findings)
    assert any("cost_diff" in d for d in reports.values())  # unseen inputs: test_result_contract.py


@pytest.mark.parametrize("target", INPUTS)
def test_items_round_trip_exactly(reports, target):
    d = reports[target]
    assert d["resources"] or d.get("unseen_inputs"), target
    for r in d["resources"]:
        assert Resource.from_json(r).to_json() == r
    for f in d["findings"]:
        assert Finding.from_json(f).to_json() == f


@pytest.mark.parametrize("target", INPUTS)
def test_report_round_trips(reports, target):
    d = reports[target]
    back = json.loads(json.dumps(report_dict(ScanResult.from_json(d))))
    want, got = copy.deepcopy(d), back
    # summary.monthly_usd is rounded from the unrounded per-resource figures; read back, only the rounded
    # per-resource figures are there, so the total can differ by under half a cent per priced resource
    priced = sum(1 for r in d["resources"] if (r.get("cost") or {}).get("monthly_usd") is not None)
    assert abs(got["summary"].pop("monthly_usd") - want["summary"].pop("monthly_usd")) <= 0.005 * priced + 1e-9
    assert got == want
    assert ScanResult.from_json(d).exit_code() == d["summary"]["exit_code"]


def test_fail_on_is_the_callers(reports):
    d = reports["examples/terraform"]
    assert ScanResult.from_json(d).blocking() and not ScanResult.from_json(d, gate=False).blocking()
    assert len(ScanResult.from_json(d, fail_on="warning").blocking()) > len(ScanResult.from_json(d).blocking())


def test_wrong_typed_values_are_unknown_not_strings():
    r = Resource.from_json({"address": "a", "ai": "yes", "line": "7", "tags": ["x"], "meta": "m",
                            "compute": {"units": "99999999", "gpus_per_unit": True, "hours_per_month": float("nan"),
                                        "notes": "n"},
                            "cost": {"monthly_usd": "12", "hourly_usd": float("inf"), "breakdown": "b"}})
    assert (r.ai, r.line, r.tags, r.meta) == (False, None, {}, {})
    assert (r.compute.units, r.compute.gpus_per_unit, r.compute.hours_per_month,
            r.compute.notes) == (None, None, None, [])
    assert (r.cost.monthly_usd, r.cost.hourly_usd, r.cost.breakdown) == (None, None, [])
    assert Compute.from_json("x") is None and Cost.from_json([1]) is None
    assert Resource.from_json({"address": "a", "tags": {"k": 3, "n": None}}).tags == {"k": "3", "n": None}


@pytest.mark.parametrize("doc,message", [
    ([], "no `resources` list"),
    ({"resources": {}}, "no `resources` list"),
    ({"resources": [{"type": "t"}]}, "resource #1: a resource is not an object with a string `address`"),
    ({"resources": [], "findings": [{"rule": "x"}, {"category": "c"}]}, "finding #2"),
    ({"resources": [], "findings": {"a": 1}}, "`findings` must be a list"),
    ({"resources": [], "errors": "boom"}, "`errors` must be a list"),
])
def test_not_a_report_is_a_report_error(doc, message):
    with pytest.raises(ReportError, match=message):
        ScanResult.from_json(doc)


def test_report_showback_from_names_the_file_and_the_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resources": [{"address": "a"}, 3]}))
    p = run_cli("report", "showback", "--from", bad, process=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert f"{bad}: resource #2: a resource is not an object" in p.stderr


def test_report_showback_from_keeps_what_the_old_reader_dropped(reports, tmp_path):
    """The hand-written reader dropped compute notes, spot units, run hours, rate sources and tags_open."""
    from tagguard.commands.report import load_report_json

    d = reports["examples/cluster"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(d))
    back = load_report_json(path)
    assert [r.to_json() for r in back.resources] == d["resources"]
