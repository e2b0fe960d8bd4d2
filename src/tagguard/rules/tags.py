"""missing-tag, invalid-value, unresolved-value: the taxonomy applied to each resource."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from tagguard.model import INVALID_VALUE, MISSING_TAG, UNRESOLVED_VALUE, Finding, Resource
from tagguard.rules.propagation import stranded_hint
from tagguard.rules.registry import get

# taxonomy issue category -> (rule id, severity), the severity from the one rule registry
RULE_OF = {cat: (rule_id, get(rule_id).default_severity) for cat, rule_id in
           ((MISSING_TAG, "missing-tag"), (INVALID_VALUE, "invalid-value"), (UNRESOLVED_VALUE, "unresolved-value"))}


def in_scope(resource: Resource, scope: str) -> bool:
    if not resource.taggable:
        return False
    return resource.ai or scope == "all"


def reported(resources: Iterable[Resource], scope: str) -> list[Resource]:
    """The resources a report lists: those in scope, and AI resources that take no tags -- so every AI resource, and
    under ``scope: all`` every taggable one (one test per resource, no call of ``in_scope``)."""
    everything = scope == "all"
    return [r for r in resources if r.ai or (everything and r.taggable)]


def check(resources: Iterable[Resource], ctx) -> Iterator[Finding]:
    taxonomy = ctx.config.taxonomy()
    everything = ctx.config.scope == "all"
    for res in resources:
        if not res.taggable or not (res.ai or everything) or res.meta.get("skip_tag_rules"):  # in_scope, inlined
            continue
        issues = taxonomy.evaluate(res.tags, res.unresolved_tags, res.tags_open, res.tag_style,
                                   res.unresolved_reasons, res.open_reason)
        for issue in issues:
            rule, severity = RULE_OF[issue.category]
            fix = issue.fix
            if fix and res.tag_fix_hint and issue.category == MISSING_TAG and not fix.startswith("rename"):
                fix = f"{fix} in {res.tag_fix_hint}"
                if res.unpropagated:  # a controller's own labels that its pods do not get
                    fix += stranded_hint(res, taxonomy)
            extra = {}
            if issue.value is not None:
                extra["value"] = issue.value
            if len(issue.tags) > 1:
                extra["tags"] = list(issue.tags)
            for key in ("role", "account", "region", "chart", "action"):
                if key in res.meta:
                    extra[key] = res.meta[key]
            why = ""
            if res.meta.get("possibly_ai"):  # judged because its size is unknown, not because it is known to be AI
                extra["possibly_ai"] = True
                why = " (judged as possibly AI: its size is unknown, see unresolved-size)"
            yield Finding(rule=rule, category=issue.category, severity=severity,
                          message=f"{res.address}: {issue.message}{why}", address=res.address,
                          file=res.file, line=res.line, tag=issue.tag, resource_type=res.type,
                          fix=fix, extra=extra)
