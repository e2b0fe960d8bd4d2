"""Rule cases as data: every ``tests/cases/*.yaml`` file holds pass/fail cases.

A case is a few files (Terraform, tfvars, a config), the findings it must
produce (rule, address, tag), and optionally facts about the resources it must
yield (compute, tags).  Adding a case is a few lines of YAML, not a test function.
See ``tests/cases/README.md`` for the format.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from casekit import assert_resources
from tagguard.config import Config
from tagguard.pipeline import scan

CASES_DIR = Path(__file__).parent / "cases"


def _load():
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        if path.name.startswith("kubernetes_"):
            continue  # driven by test_kubernetes_cases.py
        data = yaml.safe_load(path.read_text())
        for case in data["cases"]:
            out.append(pytest.param(data, case, id=f"{path.stem}::{case['name']}"))
    return out


def _write(tmp: Path, files: dict) -> None:
    for rel, text in files.items():
        p = tmp / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def _finding_key(f: dict) -> tuple:
    return (f.get("rule"), f.get("address"), f.get("tag"))


@pytest.mark.parametrize("suite,case", _load())
def test_case(suite, case, tmp_path, monkeypatch):
    _write(tmp_path, case["files"])
    for k, v in (case.get("env") or {}).items():
        monkeypatch.setenv(k, str(v))
    raw = dict(suite.get("config") or {})
    raw.update(case.get("config") or {})
    if "taxonomy" in case:
        (tmp_path / "taxonomy.json").write_text(__import__("json").dumps(case["taxonomy"]))
        raw["taxonomy"] = "taxonomy.json"
    config = Config(raw=raw, path=tmp_path / ".tagguard.yaml")
    result = scan([str(tmp_path / case.get("scan", "."))], config, variables=case.get("vars"))
    rules = case.get("rules") or suite.get("rules")
    got = [f for f in result.findings if not f.suppressed and (rules is None or f.rule in rules)]
    got_keys = sorted((_finding_key(f.to_json()) for f in got), key=str)
    want = case.get("findings") or []
    want_keys = sorted(((w["rule"], w.get("address"), w.get("tag")) for w in want), key=str)
    assert got_keys == want_keys, "\n".join(f.message for f in got)
    for w in want:
        if "message_contains" in w:
            match = [f for f in got if _finding_key(f.to_json()) == (w["rule"], w.get("address"), w.get("tag"))]
            assert any(w["message_contains"] in f.message for f in match), [f.message for f in match]
        if "severity" in w:
            match = [f for f in got if _finding_key(f.to_json()) == (w["rule"], w.get("address"), w.get("tag"))]
            assert all(f.severity == w["severity"] for f in match)
    suppressed = sorted((f.rule, f.address, f.tag) for f in result.findings if f.suppressed)
    want_sup = sorted((w["rule"], w.get("address"), w.get("tag")) for w in case.get("suppressed") or [])
    if "suppressed" in case:
        assert suppressed == want_sup
    assert_resources(case.get("resources"), result.resources)
