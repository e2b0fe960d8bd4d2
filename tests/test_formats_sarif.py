"""SARIF 2.1.0 output: valid against the official schema, and what GitHub code scanning needs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from clikit import run_cli
from tagguard.formats.sarif import FINGERPRINT_KEY, sarif_dict
from tagguard.model import Finding, Resource, ScanResult
from tagguard.rules import all_docs

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def sarif_schema():
    return json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def validate(doc, schema):
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "repo"


def run_sarif(*args):
    res = run_cli("scan", *args, "-f", "sarif")
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.output), res.exit_code


def test_schema_file_is_the_official_one(sarif_schema):
    assert sarif_schema["title"].startswith("Static Analysis Results Format (SARIF) Version 2.1.0")
    jsonschema.Draft4Validator.check_schema(sarif_schema)
    # the schema really rejects a broken log (so the validation below can fail)
    bad = {"version": "2.1.0", "runs": [{"tool": {"driver": {}}, "results": []}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, sarif_schema, cls=jsonschema.Draft4Validator)


def test_real_scan_is_valid_sarif(project, sarif_schema):
    doc, code = run_sarif("infra")
    assert code == 1
    validate(doc, sarif_schema)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    driver = run["tool"]["driver"]
    assert driver["name"] == "tagguard"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert set(all_docs()) <= set(rule_ids)
    missing = driver["rules"][rule_ids.index("missing-tag")]
    assert "## Why it matters for cost attribution" in missing["help"]["markdown"]
    assert missing["helpUri"].endswith("missing-tag")
    assert missing["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    by_rule = {(r["ruleId"], r["properties"].get("address"), r["properties"].get("tag")): r for r in results}
    trainer = by_rule[("missing-tag", "aws_instance.trainer", "cost-center")]
    loc = trainer["locations"][0]["physicalLocation"]
    # paths relative to the working directory (the repository root in CI), not to the scanned folder
    assert loc["artifactLocation"]["uri"] == "infra/main.tf"
    assert loc["region"]["startLine"] == 10
    assert trainer["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "aws_instance.trainer"
    assert trainer["level"] == "error"
    assert rule_ids[trainer["ruleIndex"]] == "missing-tag"
    assert "Fix:" in trainer["message"]["text"]
    invalid = by_rule[("invalid-value", "aws_instance.inference", "environment")]
    assert invalid["locations"][0]["physicalLocation"]["region"]["startLine"] == 19


def test_inline_suppression_becomes_sarif_suppression(project, sarif_schema):
    doc, _ = run_sarif("infra")
    sandbox = [r for r in doc["runs"][0]["results"]
               if r["properties"].get("address") == "aws_instance.sandbox"]
    assert sandbox, "suppressed findings must stay in the log"
    for r in sandbox:
        (sup,) = r["suppressions"]
        assert sup["kind"] == "inSource"
        assert "research sandbox" in sup["justification"]
    unsuppressed = [r for r in doc["runs"][0]["results"] if "suppressions" not in r]
    assert len(unsuppressed) == 2


def test_fingerprints_survive_moved_lines(project):
    before, _ = run_sarif("infra")
    main = project / "infra" / "main.tf"
    main.write_text("# a comment pushed everything down\n\n\n" + main.read_text(), encoding="utf-8")
    after, _ = run_sarif("infra")

    def prints(doc):
        return {(r["ruleId"], r["properties"].get("address"), r["properties"].get("tag")):
                (r["partialFingerprints"][FINGERPRINT_KEY],
                 r["locations"][0]["physicalLocation"]["region"]["startLine"])
                for r in doc["runs"][0]["results"]}

    b, a = prints(before), prints(after)
    assert b.keys() == a.keys()
    for key in b:
        assert b[key][0] == a[key][0]  # same alert
        assert a[key][1] == b[key][1] + 3  # at its new line
    assert len({v[0] for v in b.values()}) == len(b)  # distinct findings, distinct fingerprints


def test_scanned_file_argument_keeps_repo_relative_paths(project, sarif_schema):
    doc, _ = run_sarif("infra/main.tf")
    validate(doc, sarif_schema)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]}
    assert uris == {"infra/main.tf"}


def test_findings_without_file_attach_to_scan_root(tmp_path, monkeypatch, sarif_schema):
    monkeypatch.chdir(tmp_path)
    res = Resource(address="arn:aws:ec2:us-east-1:123:instance/i-1", type="aws_instance", source="aws", ai=True)
    finding = Finding(rule="missing-tag", category="missing_tag", severity="warning",
                      message="i-1: required tag `owner` is missing", address=res.address, tag="owner")
    plugin = Finding(rule="budget-exceeded", category="budget", severity="info", message="over budget, 50% used",
                     file="infra/main.tf", line=3)
    result = ScanResult(resources=[res], findings=[finding, plugin], root=".")
    doc = sarif_dict(result)
    validate(doc, sarif_schema)
    run = doc["runs"][0]
    loc = run["results"][0]["locations"][0]
    assert loc["physicalLocation"]["artifactLocation"] == {"uri": "./", "uriBaseId": "%SRCROOT%"}
    assert "region" not in loc["physicalLocation"]
    assert loc["logicalLocations"][0]["fullyQualifiedName"] == res.address
    assert run["results"][0]["level"] == "warning"
    # a rule without a doc page still gets a rules[] entry, and info maps to note
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert run["results"][1]["ruleIndex"] == ids.index("budget-exceeded")
    assert run["results"][1]["level"] == "note"


def test_baseline_state_and_external_suppression(project, sarif_schema):
    res = run_cli("baseline", "create", "infra", "-o", ".tagguard-baseline.json")
    assert res.exit_code == 0, res.output
    main = project / "infra" / "main.tf"
    main.write_text(main.read_text().replace('"cost-center" = "CC-1234"', '"cost-center" = ""'), encoding="utf-8")
    doc, code = run_sarif("infra", "--baseline", ".tagguard-baseline.json")
    validate(doc, sarif_schema)
    assert code == 1  # the new invalid value blocks
    results = doc["runs"][0]["results"]
    states = {(r["ruleId"], r["properties"].get("address"), r["properties"].get("tag")): r for r in results}
    old = states[("missing-tag", "aws_instance.trainer", "cost-center")]
    assert old["baselineState"] == "unchanged"
    assert old["suppressions"] == [{"kind": "external", "status": "accepted", "justification": "baseline"}]
    new = states[("invalid-value", "aws_instance.inference", "cost-center")]
    assert new["baselineState"] == "new" and "suppressions" not in new
    assert doc["runs"][0]["properties"]["baseline"]["suppressed"] == 2
