"""The rule registry, the rule doc pages and the code that builds findings agree (issue 13).

Every ``Rule`` has a doc page with the same id, category and severity in its front matter; every
doc page is a registered rule; every ``Finding(rule="...")`` the code builds names a registered
rule, with the registered default severity or one the registry lists as ``other_severities``.
"""
from __future__ import annotations

import ast
from pathlib import Path
from collections.abc import Iterator

import pytest

import tagguard
from tagguard import rules
from tagguard.model import ERROR, INFO, WARNING
from tagguard.rules import registry
from tagguard.rules.registry import RULES

SRC = Path(tagguard.__file__).parent
DOCS = SRC / "rules" / "docs"
LEVELS = {"ERROR": ERROR, "WARNING": WARNING, "INFO": INFO}


def front_matter(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\n"), f"{path.name}: no front matter"
    head = text[4:].split("\n---", 1)[0]
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta


def _severities(node: ast.expr | None) -> set[str] | None:
    """The severities an expression can have, or None when it is not a literal choice."""
    if node is None:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in LEVELS:
        return {LEVELS[node.id]}
    if isinstance(node, ast.IfExp):
        a, b = _severities(node.body), _severities(node.orelse)
        return a | b if a is not None and b is not None else None
    return None


def finding_sites(root: Path = SRC) -> Iterator[tuple[str, int, str, set[str] | None]]:
    """(file, line, rule id, severities) of every finding the code builds with a literal rule id:
    ``Finding(rule=...)``, ``parse_error(...)`` (default rule parse-error, severity error) and
    ``{"rule": ..., "severity": ...}`` records (the cluster report)."""
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        rel = str(path.relative_to(root.parent))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else (
                    node.func.attr if isinstance(node.func, ast.Attribute) else "")
                if name not in ("Finding", "parse_error"):
                    continue
                kw = {k.arg: k.value for k in node.keywords if k.arg}
                rule = kw.get("rule")
                if rule is None and name == "parse_error":
                    rule_id = "parse-error"
                elif isinstance(rule, ast.Constant) and isinstance(rule.value, str):
                    rule_id = rule.value
                else:
                    continue
                sev = _severities(kw["severity"]) if "severity" in kw else ({ERROR} if name == "parse_error" else None)
                yield rel, node.lineno, rule_id, sev
            elif isinstance(node, ast.Dict):
                keys = {k.value: v for k, v in zip(node.keys, node.values)
                        if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                rule = keys.get("rule")
                if isinstance(rule, ast.Constant) and isinstance(rule.value, str) and "severity" in keys:
                    sev = _severities(keys["severity"])
                    if sev is None and isinstance(keys["severity"], ast.Name):
                        sev = _assigned_severities(tree, keys["severity"].id)
                    yield rel, node.lineno, rule.value, sev


def _assigned_severities(tree: ast.AST, name: str) -> set[str] | None:
    """Severities a local variable is assigned from literals (``sev = "info" if ... else "warning"``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            sev = _severities(node.value)
            if sev is None:
                return None
            found |= sev
    return found or None


def test_rule_ids_are_unique_and_well_formed():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.default_severity in (ERROR, WARNING, INFO), r
        assert r.default_severity not in r.other_severities, r
        assert r.check is not None or r.produced_by, f"{r.id}: neither a check nor a producing module"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_every_rule_has_a_doc_page_that_agrees(rule):
    page = DOCS / f"{rule.id}.md"
    assert page.is_file(), f"{rule.id}: no doc page rules/docs/{rule.id}.md"
    meta = front_matter(page)
    assert meta.get("id") == rule.id
    assert meta.get("category") == rule.category, f"{rule.id}: category {meta.get('category')} in docs"
    assert meta.get("severity") == rule.default_severity, (
        f"{rule.id}: severity {meta.get('severity')!r} in docs, {rule.default_severity!r} in the registry")
    body = page.read_text(encoding="utf-8").split("\n---", 1)[1].lower()
    for other in rule.other_severities:  # when the severity differs, the page says so
        assert other in body, f"{rule.id}: built as {other} too, but its doc page never says when"


def test_every_doc_page_is_a_registered_rule():
    pages = {p.stem for p in DOCS.glob("*.md")}
    assert pages == set(registry.BY_ID), (pages ^ set(registry.BY_ID))
    # and the loader used by `tagguard explain` and SARIF reads the same severity
    for doc in rules.all_docs().values():
        assert doc.severity == registry.get(doc.id).default_severity


def test_every_finding_the_code_builds_is_registered_with_its_severity():
    sites = list(finding_sites())
    assert len(sites) > 30  # the walk found the code, not nothing
    seen_default: dict[str, list[str]] = {}
    problems = []
    for file, line, rule_id, sev in sites:
        rule = registry.BY_ID.get(rule_id)
        if rule is None:
            problems.append(f"{file}:{line}: rule {rule_id!r} is not in rules/registry.py")
            continue
        if sev is None:
            continue
        allowed = {rule.default_severity, *rule.other_severities}
        if not sev <= allowed:
            problems.append(f"{file}:{line}: {rule_id} built with {sorted(sev)}, registry allows {sorted(allowed)}")
        if rule.default_severity in sev:
            seen_default.setdefault(rule_id, []).append(f"{file}:{line}")
    assert not problems, "\n".join(problems)
    # each rule with a literal site is built at its default severity somewhere
    literal = {rule_id for _, _, rule_id, sev in sites if sev is not None and rule_id in registry.BY_ID}
    assert literal - set(seen_default) == set()


def test_the_site_walk_catches_a_disagreement(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text('Finding(rule="missing-tag", severity=WARNING)\n'
                              'parse_error("f", 1, "m", rule="not-a-rule")\n', encoding="utf-8")
    sites = list(finding_sites(pkg))
    assert ("pkg/m.py", 1, "missing-tag", {WARNING}) in sites
    assert ("pkg/m.py", 2, "not-a-rule", {ERROR}) in sites


def test_tags_family_takes_severity_from_the_registry():
    from tagguard.rules.tags import RULE_OF

    for rule_id, severity in RULE_OF.values():
        assert severity == registry.get(rule_id).default_severity


def test_family_checks_run_once_each_in_order():
    names = [c.__name__ for c in registry.checks()]
    assert names == ["tagguard.rules.tags.check", "tagguard.rules.propagation.check", "tagguard.rules.cost.check",
                     "tagguard.rules.quota.check"]


def test_only_rules_build_the_findings_of_a_rule_with_a_check():
    """A rule with a ``check`` owns its findings: readers state facts on ``Resource`` (e.g.
    ``Resource.unpropagated``), they do not build ``not-propagated`` or ``missing-tag`` themselves."""
    owned = {r.id for r in RULES if r.check is not None}
    outside = [f"{file}:{line}: {rule_id}" for file, line, rule_id, _ in finding_sites()
               if rule_id in owned and not file.startswith("tagguard/rules/")
               and not any(file.startswith(p.replace(".", "/")) for p in
                           (registry.get(rule_id).produced_by,) if p)]
    assert not outside, "\n".join(outside)


def test_config_may_name_every_rule_and_category():
    known = set(rules.known_rule_ids())
    for r in RULES:
        assert r.id in known and r.category in known


def test_importing_the_registry_loads_no_rule_family():
    import subprocess
    import sys

    code = ("import sys, tagguard.rules.registry as r; "
            "print(sorted(m for m in sys.modules "
            "if m.startswith('tagguard.rules.') and m != 'tagguard.rules.registry'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
