"""Kubernetes rule cases as data: ``tests/cases/kubernetes_*.yaml``.

Same format as ``tests/cases/README.md`` describes, plus:
suite-level ``taxonomy`` (used unless a case gives its own), ``options`` (scan options such as
``namespace``), ``stdin`` (text fed as ``tagguard scan -``), and ``findings_include`` (findings that
must be among the results, for cases that only care about one of several).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from casekit import assert_resources
from tagguard.config import Config
from tagguard.pipeline import scan

CASES_DIR = Path(__file__).parent / "cases"


def _load():
    out = []
    for path in sorted(CASES_DIR.glob("kubernetes_*.yaml")):
        data = yaml.safe_load(path.read_text())
        for case in data["cases"]:
            out.append(pytest.param(data, case, id=f"{path.stem}::{case['name']}"))
    return out


def _key(f) -> tuple:
    return (f.rule, f.address, f.tag)


@pytest.mark.parametrize("suite,case", _load())
def test_case(suite, case, tmp_path):
    for rel, text in (case.get("files") or {}).items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    raw = dict(suite.get("config") or {})
    raw.update(case.get("config") or {})
    taxonomy = case.get("taxonomy", suite.get("taxonomy"))
    if taxonomy is not None:
        (tmp_path / "taxonomy.json").write_text(json.dumps(taxonomy))
        raw["taxonomy"] = "taxonomy.json"
    config = Config(raw=raw, path=tmp_path / ".tagguard.yaml")
    options = dict(suite.get("options") or {})
    options.update(case.get("options") or {})
    stdin = case.get("stdin")
    paths = ["-"] if stdin is not None and not case.get("files") else [str(tmp_path / case.get("scan", "."))]
    result = scan(paths, config, options=options, stdin=stdin.encode() if stdin is not None else None)

    rules = case.get("rules") or suite.get("rules")
    got = [f for f in result.findings if not f.suppressed and (rules is None or f.rule in rules)]
    messages = "\n".join(f"{f.rule} {f.address} {f.tag}: {f.message}" for f in got)
    want = case.get("findings") or []
    if "findings_include" not in case:
        assert sorted(map(_key, got), key=str) == sorted(((w["rule"], w.get("address"), w.get("tag")) for w in want),
                                                        key=str), messages
    for w in list(want) + list(case.get("findings_include") or []):
        match = [f for f in got if _key(f) == (w["rule"], w.get("address"), w.get("tag"))]
        assert match, f"no {w} in:\n{messages}"
        if "message_contains" in w:
            needles = w["message_contains"] if isinstance(w["message_contains"], list) else [w["message_contains"]]
            for needle in needles:
                assert any(needle in f.message for f in match), [f.message for f in match]
        if "fix_contains" in w:
            assert any(w["fix_contains"] in (f.fix or "") for f in match), [f.fix for f in match]
        for field in ("severity", "file", "line"):
            if field in w:
                assert all(getattr(f, field) == w[field] for f in match), [(getattr(f, field), f.message) for f in match]
        if "extra" in w:
            for f in match:
                for k, v in w["extra"].items():
                    assert f.extra.get(k) == v, (k, f.extra)
    if "suppressed" in case:
        sup = sorted(((f.rule, f.address, f.tag) for f in result.findings if f.suppressed), key=str)
        assert sup == sorted(((w["rule"], w.get("address"), w.get("tag")) for w in case["suppressed"]), key=str)
    if "exit_code" in case:
        assert result.exit_code() == case["exit_code"]
    assert_resources(case.get("resources"), result.resources, rel=1e-3)
