"""``schemas/report.schema.json`` describes what ``--format json`` really prints."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from clikit import run_cli
from tagguard.formats.json_format import report_dict
from tagguard.model import Compute, Cost, Finding, Resource, ScanResult

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def check(validator, doc):
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_real_scan_output_matches_schema(tmp_path, monkeypatch, validator):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    assert run_cli("baseline", "create", "infra/ok").exit_code == 0
    res = run_cli("scan", "infra", "-f", "json", "--baseline", ".tagguard-baseline.json")
    doc = json.loads(res.output)
    check(validator, doc)
    assert doc["findings"] and doc["resources"] and any(f.get("suppressed") for f in doc["findings"])
    assert any(r["cost"] and r["cost"]["monthly_usd"] for r in doc["resources"])
    assert "baseline" in doc


def test_edge_values_match_schema(validator):
    res = Resource(address="Deployment/ml/trainer", type="Deployment", source="kubernetes", ai=True, tags_open=True,
                   compute=Compute(accelerator="A100", gpus_per_unit=0.5, units=None, notes=["MIG 3g.40gb"]),
                   cost=Cost(reason="no rate for this accelerator"), meta={"namespace": "ml", "replicas": 2})
    findings = [Finding(rule="parse-error", category="parse_error", severity="error",
                        message="bad.yaml:3: invalid YAML", file="bad.yaml", line=3),
                Finding(rule="tag-drift", category="tag_drift", severity="warning", message="drift",
                        address=res.address, suppressed=True, suppression_reason="accepted",
                        extra={"live": {"owner": "x"}})]
    doc = report_dict(ScanResult(resources=[res], findings=findings, root=None, errors=[{"message": "oops"}]))
    check(validator, doc)


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("summary"),
    lambda d: d["findings"][0].update(severity="fatal"),
    lambda d: d["findings"][0].update(rule="Missing Tag"),
    lambda d: d["resources"][0].update(line=0),
    lambda d: d["findings"][0].update(suppressed=True),  # without a reason
    lambda d: d["summary"]["by_severity"].pop("error"),
])
def test_schema_rejects_broken_reports(validator, mutate):
    res = Resource(address="aws_instance.a", type="aws_instance", source="terraform", file="a.tf", line=1, ai=True)
    f = Finding(rule="missing-tag", category="missing_tag", severity="error", message="m", address=res.address,
                file="a.tf", line=1, tag="owner")
    doc = json.loads(json.dumps(report_dict(ScanResult(resources=[res], findings=[f], root="."))))
    check(validator, doc)
    mutate(doc)
    assert list(validator.iter_errors(doc))
