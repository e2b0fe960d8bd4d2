"""Rule cases as data: every ``tests/cases/*.yaml`` file is a suite of pass/fail cases, run here.

A case is a few files (Terraform, Kubernetes, tfvars, a config) or stdin, the findings it must
produce (rule, address, tag), and optionally facts about the resources it must yield (compute,
tags).  Adding a case is a few lines of YAML, not a test function.  Every file is validated against
``schemas/rule-case.schema.json`` first: a key the runner does not know is an error naming the file
and the case, never silently ignored.  See ``tests/cases/README.md`` for the format.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from casekit import assert_resources, validate_suite
from tagguard.config import Config
from tagguard.pipeline import scan

CASES_DIR = Path(__file__).parent / "cases"


def _load(directory: Path = CASES_DIR):
    out = []
    for path in sorted(directory.glob("*.yaml")):
        suite = yaml.safe_load(path.read_text(encoding="utf-8"))
        problems = validate_suite(suite, path.name)
        cases = suite.get("cases") if isinstance(suite, dict) else None
        if not isinstance(cases, list) or not cases:
            out.append(pytest.param(suite, {"name": "(suite)"}, problems, id=f"{path.stem}::(suite)"))
            continue
        for i, case in enumerate(cases):
            name = case.get("name", f"#{i + 1}") if isinstance(case, dict) else f"#{i + 1}"
            mine = [p for p in problems if not p.startswith(f"{path.name}: case ") or
                    p.startswith(f"{path.name}: case {name!r}")]
            out.append(pytest.param(suite, case, mine, id=f"{path.stem}::{name}"))
    return out


def _key(f) -> tuple:
    return (f.rule, f.address, f.tag)


def _want_key(w: dict) -> tuple:
    return (w["rule"], w.get("address"), w.get("tag"))


def _scan(suite: dict, case: dict, tmp_path: Path, monkeypatch):
    for rel, text in (case.get("files") or {}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    for k, v in (case.get("env") or {}).items():
        monkeypatch.setenv(k, str(v))
    raw = dict(suite.get("config") or {})
    raw.update(case.get("config") or {})
    taxonomy = case.get("taxonomy", suite.get("taxonomy"))
    if taxonomy is not None:
        (tmp_path / "taxonomy.json").write_text(json.dumps(taxonomy), encoding="utf-8")
        raw["taxonomy"] = "taxonomy.json"
    config = Config(raw=raw, path=tmp_path / ".tagguard.yaml")
    options = dict(suite.get("options") or {})
    options.update(case.get("options") or {})
    stdin = case.get("stdin")
    paths = ["-"] if stdin is not None and not case.get("files") else [str(tmp_path / case.get("scan", "."))]
    variables = {k: str(v) for k, v in (case.get("vars") or {}).items()} or None
    return scan(paths, config, variables=variables, options=options,
                stdin=stdin.encode() if stdin is not None else None)


@pytest.mark.parametrize("suite,case,problems", _load())
def test_case(suite, case, problems, tmp_path, monkeypatch):
    assert not problems, "\n".join(problems)
    result = _scan(suite, case, tmp_path, monkeypatch)

    rules = case.get("rules") or suite.get("rules")
    got = [f for f in result.findings if not f.suppressed and (rules is None or f.rule in rules)]
    messages = "\n".join(f"{f.rule} {f.address} {f.tag}: {f.message}" for f in got)
    want = case.get("findings") or []
    if "findings_include" not in case:
        assert sorted(map(_key, got), key=str) == sorted(map(_want_key, want), key=str), messages
    for w in list(want) + list(case.get("findings_include") or []):
        match = [f for f in got if _key(f) == _want_key(w)]
        assert match, f"no {w} in:\n{messages}"
        if "message_contains" in w:
            needles = w["message_contains"] if isinstance(w["message_contains"], list) else [w["message_contains"]]
            for needle in needles:
                assert any(needle in f.message for f in match), [f.message for f in match]
        if "fix_contains" in w:
            assert any(w["fix_contains"] in (f.fix or "") for f in match), [f.fix for f in match]
        for field in ("severity", "file", "line"):
            if field in w:
                values = [(getattr(f, field), f.message) for f in match]
                assert all(getattr(f, field) == w[field] for f in match), values
        for k, v in (w.get("extra") or {}).items():
            assert all(f.extra.get(k) == v for f in match), (k, [f.extra for f in match])
    if "suppressed" in case:
        sup = sorted((_key(f) for f in result.findings if f.suppressed), key=str)
        assert sup == sorted(map(_want_key, case["suppressed"]), key=str)
    if "exit_code" in case:
        assert result.exit_code() == case["exit_code"]
    assert_resources(case.get("resources"), result.resources, rel=case.get("tolerance", 1e-6))


# --- the runner itself --------------------------------------------------------------------------

def test_case_names_are_unique_within_a_file():
    for path in sorted(CASES_DIR.glob("*.yaml")):
        names = [c["name"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]
        assert len(names) == len(set(names)), (path.name, sorted({n for n in names if names.count(n) > 1}))


@pytest.mark.parametrize("suite,where,needle", [
    ({"cases": [{"name": "a", "files": {}, "finding": []}]}, "case 'a'", "'finding' was unexpected"),
    ({"cases": [{"name": "b", "files": {}, "findings": [{"rule": "missing-tag", "messag_contains": "x"}]}]},
     "case 'b': findings/0", "'messag_contains' was unexpected"),
    ({"rule": ["missing-tag"], "cases": [{"name": "c", "files": {}}]}, "suite", "'rule' was unexpected"),
    ({"cases": [{"name": "d", "files": {}, "findings": [{"rule": "missing-tag", "severity": "fatal"}]}]},
     "case 'd': findings/0/severity", "'fatal' is not one of"),
    ({"cases": [{"name": "e"}]}, "case 'e'", "is not valid under any of the given schemas"),  # nothing to scan
])
def test_an_unknown_or_wrong_key_is_an_error_naming_the_file_and_the_case(suite, where, needle):
    problems = validate_suite(suite, "terraform_x.yaml")
    assert any(p.startswith(f"terraform_x.yaml: {where}: ") and needle in p for p in problems), problems


def test_every_case_file_is_valid():
    problems = [p for path in sorted(CASES_DIR.glob("*.yaml"))
                for p in validate_suite(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)]
    assert not problems, "\n".join(problems)


def test_a_broken_suite_fails_its_cases_instead_of_being_skipped(tmp_path, monkeypatch):
    """An unknown key reaches ``test_case`` as a failure naming file and case (the case is not dropped)."""
    (tmp_path / "bad.yaml").write_text("cases:\n  - name: x\n    files: {}\n    findngs: []\n", encoding="utf-8")
    [param] = _load(tmp_path)
    suite, case, problems = param.values
    with pytest.raises(AssertionError, match="bad.yaml: case 'x': .*'findngs' was unexpected"):
        test_case(suite, case, problems, tmp_path, monkeypatch)
