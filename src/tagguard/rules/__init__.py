"""Rules turn resources into findings.  Each rule has a doc page in ``rules/docs/<id>.md``.

Every rule is a ``Rule(id, category, default_severity, check)`` in ``rules/registry.py``; the
family checks (``rules/tags.py``, ``rules/propagation.py``, ``rules/cost.py``, ``rules/quota.py``) run
in registration order; readers only state facts on ``Resource`` for them.  Findings that only a source
can produce (parse errors, inputs not scanned) are registered too, with their doc pages, so
``tagguard explain`` and SARIF cover every rule id that can appear.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from collections.abc import Iterable

from tagguard.rules.registry import RULES, Rule, checks

__all__ = ["RULES", "Rule", "RuleDoc", "all_docs", "apply_severities", "get_doc", "known_rule_ids",
           "run_checks"]


@dataclass(frozen=True)
class RuleDoc:
    id: str
    category: str
    severity: str
    summary: str
    body: str  # Markdown: What it checks / Why it matters / Example / Fix

    def section(self, title: str) -> str:
        out, on = [], False
        for line in self.body.splitlines():
            if line.startswith("## "):
                on = line[3:].strip().lower().startswith(title.lower())
                continue
            if on:
                out.append(line)
        return "\n".join(out).strip()


@cache
def all_docs() -> dict[str, RuleDoc]:
    from tagguard.resources import package_file

    docs = {}
    for path in sorted(package_file("tagguard.rules", "docs").glob("*.md")):
        doc = _parse_doc(path.read_text(encoding="utf-8"))
        docs[doc.id] = doc
    return docs


def get_doc(name: str) -> RuleDoc | None:
    """A rule by id (``missing-tag``) or category (``missing_tag``)."""
    docs = all_docs()
    if name in docs:
        return docs[name]
    norm = name.replace("_", "-").lower()
    if norm in docs:
        return docs[norm]
    for doc in docs.values():
        if doc.category == name:
            return doc
    return None


def _parse_doc(text: str) -> RuleDoc:
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---"):
        head, _, body = text[3:].partition("\n---")
        for line in head.strip().splitlines():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    return RuleDoc(id=meta["id"], category=meta["category"], severity=meta.get("severity", "error"),
                   summary=meta.get("summary", ""), body=body.strip())


def known_rule_ids() -> list[str]:
    """Every rule id and category a config's ``rules:`` may name (sorted)."""
    names = set()
    for rule in RULES:
        names.add(rule.id)
        names.add(rule.category)
    for doc in all_docs().values():
        names.add(doc.id)
        names.add(doc.category)
    return sorted(names)


def run_checks(resources, ctx) -> list:
    findings: list = []
    for check in checks():
        findings.extend(check(resources, ctx))
    return findings


def apply_severities(findings: Iterable, overrides: dict[str, str]) -> list:
    """Config ``rules:`` overrides by rule id or category; ``off`` drops the finding; ``on`` keeps
    the rule's own severity (YAML reads a bare ``on`` as true: the config loader turns it back)."""
    out = []
    for f in findings:
        level = overrides.get(f.rule) or overrides.get(f.category)
        if level == "on":
            level = None
        if level == "off":
            continue
        if level:
            f.severity = level
        out.append(f)
    return out
