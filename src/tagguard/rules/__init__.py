"""Rules turn resources into findings.  Each rule has a doc page in ``rules/docs/<id>.md``.

Every rule is a ``Rule(id, category, default_severity, check)`` in ``rules/registry.py``; the
family checks (``rules/tags.py``, ``rules/propagation.py``, ``rules/cost.py``, ``rules/quota.py``) run
in registration order; readers only state facts on ``Resource`` for them.  Findings that only a source
can produce (parse errors, inputs not scanned) are registered too, with their doc pages, so
``tagguard explain`` and SARIF cover every rule id that can appear.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from collections.abc import Iterable

from tagguard.rules.registry import RULES, Rule, checks

if TYPE_CHECKING:
    from tagguard.rules.docpages import RuleDoc

__all__ = ["RULES", "Rule", "all_docs", "apply_severities", "get_doc", "known_rule_ids", "run_checks"]


def all_docs() -> dict[str, RuleDoc]:
    """Every rule's doc page, by id (read once)."""
    from tagguard.rules import docpages

    return docpages.all_docs()


def get_doc(name: str) -> RuleDoc | None:
    """A rule by id (``missing-tag``) or category (``missing_tag``)."""
    from tagguard.rules import docpages

    return docpages.get_doc(name)


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
