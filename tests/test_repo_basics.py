"""Repository basics: the declared licence is there, examples point at files that exist, the README
lists every output format, counts read "1 call", messages print values (not Python reprs), and a
fix suggests a real value instead of "<value>"."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tagguard.config import Config
from tagguard.llm.analysis.report import analyse, plural, render
from tagguard.taxonomy import Taxonomy, pattern_example

ROOT = Path(__file__).resolve().parents[1]


def test_license_is_the_full_apache_2_text_pyproject_declares():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    for n in range(1, 10):  # all nine sections
        assert re.search(rf"^\s+{n}\. [A-Z]", text, re.M), n
    assert "END OF TERMS AND CONDITIONS" in text
    assert re.search(r'license\s*=\s*\{\s*text\s*=\s*"Apache-2.0"', (ROOT / "pyproject.toml").read_text())


def test_every_readme_an_example_points_to_exists():
    pointers = []
    for f in (ROOT / "examples").rglob("*"):
        if not f.is_file():
            continue
        text = f.read_text(encoding="utf-8", errors="replace")
        for m in re.finditer(r"see ([\w./-]*README\.md)( in this folder)?", text):
            target = m.group(1)
            path = f.parent / target if m.group(2) or not target.startswith("examples/") else ROOT / target
            pointers.append((f, path))
    assert pointers, "the examples say where their deliberate violations are described"
    for f, path in pointers:
        assert path.is_file(), f"{f.relative_to(ROOT)} points to {path} which does not exist"
    readme = (ROOT / "examples" / "README.md").read_text()
    for sub in ("terraform/", "cluster/", "charts/llm-server/"):
        assert f"`{sub}`" in readme


def _choices(command: str):
    import click

    from tagguard.cli import cli

    cmd = cli
    for part in command.split():
        cmd = cmd.get_command(click.Context(cmd), part)
    (opt,) = [p for p in cmd.params if "--format" in getattr(p, "opts", [])]
    return list(opt.type.choices)


def test_readme_format_lists_name_every_format():
    # the format reference moved from README.md to the documentation site (docs/formats.md, docs/ci.md, ...)
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    readme = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    scan = _choices("scan")
    assert "html" in scan
    line = next(ln for ln in readme.splitlines() if "`--format` (`-f`) picks one of" in ln)
    for fmt in scan:
        assert f"`{fmt}`" in line, fmt
    assert re.search(r"\|\s*`html`\s*\|", readme), "the format table has an html row"
    diff = "|".join(_choices("diff"))
    assert f"`--format\n{diff}`" in readme or f"`--format {diff}`" in readme
    showback = "|".join(_choices("report showback"))
    assert f"`--format\n{showback}`" in readme or f"`--format {showback}`" in readme


def test_plural_helper():
    assert plural(1, "call") == "1 call" and plural(2, "call") == "2 calls" and plural(0, "call") == "0 calls"
    assert plural(1200, "token") == "1,200 tokens" and plural(1, "call", width=5) == "    1 call"


def _one_call(tmp_path: Path) -> Path:
    p = tmp_path / "u.jsonl"
    p.write_text(json.dumps({"v": 1, "ts": "2026-03-02T09:00:00Z", "model": "gpt-4o", "input_tokens": 1,
                             "output_tokens": 0, "service": "bot", "tags": {"business-unit": "research"}}) + "\n"
                 + json.dumps({"v": 1, "ts": "2026-03-02T09:00:00Z", "model": "no-such-model-xyz", "input_tokens": 1,
                               "output_tokens": 0, "service": "other", "tags": {"business-unit": "ads"}}) + "\n")
    return p


def test_one_call_reads_one_call(tmp_path):
    rep = analyse([str(_one_call(tmp_path))], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    text = render(rep, "text") + render(rep, "markdown")
    messages = " ".join(f["message"] for f in rep["findings"])
    assert not re.search(r"\b1 (model )?calls\b", text + messages), text + messages
    assert not re.search(r"\b1 tokens\b", text + messages)
    assert "1 model call (1 token" in messages and "1 call, 1 token not priced" in messages


def test_budget_scope_prints_values_not_reprs(tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_text("".join(json.dumps({"v": 1, "ts": f"2026-03-0{d}T09:00:00Z", "model": "gpt-4o", "input_tokens": 0,
                                     "output_tokens": 2_000_000, "service": "bot",
                                     "tags": {"business-unit": "research"}}) + "\n" for d in (1, 2)))
    budgets = [{"name": "r", "match": {"business-unit": ["research", "labs"]}, "monthly_usd": 1, "kind": "tokens"},
               {"name": "s", "match": {"business-unit": "research"}, "monthly_usd": 1, "kind": "tokens"}]
    rep = analyse([str(p)], Config(raw={"budgets": budgets}, path=tmp_path / ".tagguard.yaml"))
    msgs = {f["address"]: f["message"] for f in rep["findings"] if f["rule"] == "token-budget"}
    assert "(business-unit=research|labs)" in msgs["budget:r"]
    assert "(business-unit=research)" in msgs["budget:s"]
    assert "['" not in " ".join(msgs.values())


SCHEMA = {
    "type": "object", "required": ["team", "app", "env"],
    "$defs": {"slug": {"type": "string", "pattern": "^[a-z][a-z0-9-]{2,30}$"}},
    "properties": {"team": {"type": "string", "minLength": 1}, "app": {"$ref": "#/$defs/slug"},
                   "env": {"enum": ["dev", "prod"]}, "cc": {"type": "string", "pattern": "^CC-[0-9]{4}$"}},
    "if": {"properties": {"env": {"const": "prod"}}, "required": ["env"]},
    "then": {"required": ["owner"], "properties": {"owner": {"type": "string", "examples": ["alice@example.com"]}}},
}


def fixes(tags):
    return {i.tag: i.fix for i in Taxonomy(SCHEMA).evaluate(tags)}


def test_fix_suggests_a_real_value():
    f = fixes({"team": "x", "app": "Bad App", "env": "prod", "cc": "1234"})
    assert f["app"] == 'set "app" = e.g. "aaa" (matching ^[a-z][a-z0-9-]{2,30}$)'
    assert f["cc"] == 'set "cc" = e.g. "CC-0000" (matching ^CC-[0-9]{4}$)'
    assert f["owner"] == 'add "owner" = e.g. "alice@example.com"'  # from the conditional branch
    f = fixes({"env": "qa"})
    assert f["env"] == 'set "env" = one of dev, prod'
    assert f["app"].startswith('add "app" = e.g. "aaa"')
    assert "<value>" not in " ".join(fixes({}).values())
    assert "no allowed values, pattern or example" in fixes({})["team"]


@pytest.mark.parametrize("pattern,example", [("^CC-[0-9]{4}$", "CC-0000"), ("^(dev|prod)$", "dev"),
                                             (r"^[A-Z]{2}-\d+$", "AA-0"), (r"^\p{L}+$", None)])
def test_pattern_example(pattern, example):
    assert pattern_example(pattern) == example
