"""Every rule id a finding can carry, in one table: ``Rule(id, category, default_severity, check)``.

``check`` is the rule family's function ``check(resources, ctx) -> Iterable[Finding]`` (one module
per family under ``tagguard/rules/``); a family check yields findings of every rule registered with
it, and runs once per scan, in registration order.  Rules whose findings only a source, a command
or the diff can produce (a parse error, drift) have ``check=None``
and name where they come from in ``produced_by``.

``default_severity`` is the severity a finding has unless the rule's doc page says when it differs
(``other_severities``: e.g. a budget overrun is an error under chargeback, a warning under
showback); the doc page's front matter states the same default, and ``tests/test_rule_registry.py``
checks both against each other and against the ``Finding(...)`` calls in the code.  Importing this
module imports no rule family (they load on first use), so ``tagguard scan`` stays light.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, NamedTuple
from collections.abc import Iterable

from tagguard.model import ERROR, INFO, WARNING

Check = Callable[[Any, Any], Iterable[Any]]


def _family(module: str) -> Check:
    """The ``check`` of a rule family module, imported when first called."""

    def check(resources, ctx):
        return import_module(module).check(resources, ctx)

    check.__qualname__ = check.__name__ = f"{module}.check"
    return check


TAGS = _family("tagguard.rules.tags")
COST = _family("tagguard.rules.cost")
QUOTA = _family("tagguard.rules.quota")
PROPAGATION = _family("tagguard.rules.propagation")


# A NamedTuple, not a frozen dataclass: as immutable, and a quarter of the cost to create (every scan imports
# this module; a frozen dataclass compiles six generated methods).
class Rule(NamedTuple):
    id: str
    category: str
    default_severity: str
    check: Check | None = None
    # for check=None: the module that builds these findings; with a check: the one other module that
    # may (a command that judges live data: tagguard cluster, diff --bill)
    produced_by: str = ""
    other_severities: tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    # taxonomy (rules/tags.py)
    Rule("missing-tag", "missing_tag", ERROR, TAGS),
    Rule("invalid-value", "invalid_value", ERROR, TAGS),
    Rule("unresolved-value", "unresolved_value", WARNING, TAGS),
    # tags set where they never reach what is billed (rules/propagation.py, from facts readers state)
    Rule("not-propagated", "not_propagated", WARNING, PROPAGATION),
    # cost (rules/cost.py)
    Rule("unpriced-resource", "unpriced", INFO, COST,
         other_severities=(WARNING,)),  # warning when the GPU itself is unknown
    Rule("price-lower-bound", "unpriced", WARNING, COST),  # a GPU request no node information places
    Rule("spot-opportunity", "optimization", INFO, COST),
    Rule("spot-risk", "optimization", INFO, COST),
    Rule("over-budget", "over_budget", ERROR, COST, produced_by="tagguard.actuals.diffbill",  # diff --bill
         other_severities=(WARNING,)),  # warning for a showback budget
    Rule("needs-approval", "needs_approval", ERROR, COST),
    # Kubernetes quota (rules/quota.py; `tagguard cluster` reports the same rule from live data)
    Rule("gpu-quota", "quota", WARNING, QUOTA, produced_by="tagguard.actuals.cluster.findings",
         other_severities=(ERROR,)),  # live usage at or over the quota
    # actual GPU-hours of running clusters (`tagguard cluster report` / `cluster opencost`)
    Rule("unattributed-gpu-hours", "unattributed", ERROR, produced_by="tagguard.actuals.cluster"),
    Rule("pod-labels-not-exported", "unattributed", ERROR, produced_by="tagguard.actuals.cluster.findings"),
    Rule("gpu-underused", "optimization", WARNING, produced_by="tagguard.actuals.cluster.findings"),
    Rule("commitment-candidate", "optimization", INFO, produced_by="tagguard.actuals.cluster.findings"),
    Rule("spot-candidate", "optimization", INFO, produced_by="tagguard.actuals.cluster.findings"),
    Rule("cluster-data-gap", "not_scanned", WARNING, produced_by="tagguard.actuals.cluster.findings"),
    # facts only a reader can state
    Rule("parse-error", "parse_error", ERROR, produced_by="tagguard.sources",
         other_severities=(WARNING,)),  # an input deliberately not read (symlink out, template, limit)
    Rule("not-scanned", "not_scanned", INFO, produced_by="tagguard.sources",
         other_severities=(WARNING, ERROR)),  # may hide GPUs / helm missing
    Rule("invalid-suppression", "invalid_suppression", WARNING, produced_by="tagguard.sources"),
    Rule("unresolved-size", "unresolved_size", WARNING, produced_by="tagguard.sources.terraform"),
    Rule("accelerator-conflict", "accelerator_conflict", WARNING, produced_by="tagguard.sources.terraform"),
    Rule("uncalled-module", "uncalled_module", INFO, produced_by="tagguard.sources.terraform.callers"),
    Rule("unmanaged-resource", "unmanaged", WARNING, produced_by="tagguard.sources.aws.state"),
    Rule("tag-drift", "tag_drift", WARNING, produced_by="tagguard.sources.aws.state"),
    # diff and LLM usage
    Rule("config-changed", "config_changed", WARNING, produced_by="tagguard.state.diffing"),
    Rule("unknown-model", "unknown_model", WARNING, produced_by="tagguard.llm.analysis.report"),
    Rule("token-anomaly", "anomaly", WARNING, produced_by="tagguard.llm.analysis.report"),
    Rule("token-budget", "over_budget", ERROR, produced_by="tagguard.llm.analysis.budgets",
         other_severities=(WARNING,)),  # showback budgets and projected overruns
)

BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def get(rule_id: str) -> Rule:
    return BY_ID[rule_id]


def checks() -> list[Check]:
    """Each family check once, in the order its first rule is registered."""
    out: list[Check] = []
    for rule in RULES:
        if rule.check is not None and rule.check not in out:
            out.append(rule.check)
    return out
