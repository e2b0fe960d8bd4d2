"""JUnit XML: one test case per resource x rule, passing ones included."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path


from clikit import run_cli
from tagguard.formats.junit import JunitFormatter
from tagguard.model import Finding, Resource, ScanResult

DATA = Path(__file__).parent / "data"


def scan_junit(tmp_path, monkeypatch, *args):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    res = run_cli("scan", "infra", "-f", "junit", *args)
    return ET.fromstring(res.output.encode("utf-8")), res.exit_code


def cases(root):
    return {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}


def test_every_resource_rule_pair_is_a_case(tmp_path, monkeypatch):
    root, code = scan_junit(tmp_path, monkeypatch)
    assert code == 1
    got = cases(root)
    addresses = {"aws_instance.trainer", "aws_instance.inference", "aws_instance.sandbox", "aws_instance.tagged"}
    rules = {"missing-tag", "invalid-value", "unresolved-value"}
    assert set(got) == {(a, r) for a in addresses for r in rules}
    assert root.get("tests") == "12" and root.get("failures") == "2" and root.get("skipped") == "1"
    # suites per file, counts add up
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"main.tf", "ok/main.tf"}
    assert suites["ok/main.tf"].get("tests") == "3" and suites["ok/main.tf"].get("failures") == "0"

    failure = got[("aws_instance.trainer", "missing-tag")].find("failure")
    assert failure is not None and failure.get("type") == "missing-tag"
    assert "cost-center" in failure.get("message")
    assert "fix: add \"cost-center\"" in failure.text
    assert got[("aws_instance.trainer", "missing-tag")].get("line") == "10"
    invalid = got[("aws_instance.inference", "invalid-value")].find("failure")
    assert "production" in invalid.get("message")
    # passing cases have no children
    assert len(list(got[("aws_instance.tagged", "missing-tag")])) == 0
    skipped = got[("aws_instance.sandbox", "missing-tag")].find("skipped")
    assert "research sandbox" in skipped.get("message")


def test_below_fail_on_passes_with_output_and_xml_is_safe():
    res = Resource(address='k8s:Deployment/default/"a&b"', type="Deployment", source="kubernetes", file="k.yaml",
                   line=1, ai=True)
    findings = [
        Finding(rule="unresolved-value", category="unresolved_value", severity="warning",
                message="value of `owner` is {{ .Values.owner }} <unknown> & \x07bell", address=res.address,
                file="k.yaml", line=1, tag="owner"),
        Finding(rule="parse-error", category="parse_error", severity="error", message="bad.yaml:3: invalid YAML",
                file="bad.yaml", line=3),
    ]
    text = JunitFormatter().format(ScanResult(resources=[res], findings=findings))
    root = ET.fromstring(text.encode("utf-8"))  # well-formed despite &, <, control characters
    got = cases(root)
    warn = got[(res.address, "unresolved-value")]
    assert warn.find("failure") is None
    assert "<unknown> &" in warn.find("system-out").text
    parse = got[("bad.yaml", "parse-error")]
    assert parse.find("failure") is not None
    assert root.get("failures") == "1"
