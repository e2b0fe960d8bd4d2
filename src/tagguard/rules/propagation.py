"""not-propagated: tags the taxonomy cares about that are set but never reach what is billed.

Readers only state the fact (``Resource.unpropagated``: which keys are set where, and which tags do
reach the billed instances or pods); this rule decides which of those keys matter under the taxonomy
and words the finding:

* Terraform: keys set on an Auto Scaling group (without ``propagate_at_launch``), an EKS node group or
  provider ``default_tags`` that the taxonomy requires of the launched instances' tags (conditional
  requirements included) and that those tags lack;
* Kubernetes: labels on a controller's own ``metadata.labels`` that its pods lack and that the
  taxonomy names or requires of the pod labels;
* live AWS: group tags the taxonomy names whose value did not reach (some of) the group's instances.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from tagguard.model import MISSING_TAG, NOT_PROPAGATED, Finding, Resource, Unpropagated
from tagguard.rules.registry import get

RULE = "not-propagated"


def relevant_keys(fact: Unpropagated, res: Resource, taxonomy) -> list[str]:
    """The keys of ``fact`` the taxonomy cares about, in the reader's order (Terraform) or sorted."""
    if fact.via == "aws":  # what reached differs per instance: the keys the taxonomy names
        named = list(dict.fromkeys(list(taxonomy.required) + list(taxonomy.properties)))
        return [k for k in named if k in fact.keys]
    reaching = dict(fact.reaching or {})
    unresolved = list(fact.reaching_unresolved)
    missing = [i.tag for i in taxonomy.evaluate(reaching, unresolved, False, res.tag_style)
               if i.category == MISSING_TAG and i.tag]
    if fact.via == "kubernetes":  # any key the taxonomy names, or requires of the pod labels
        known = set(taxonomy.required) | set(taxonomy.properties) | set(missing)
        return sorted(k for k in fact.keys if k in known)
    # terraform: required of the instances' tags and absent from them, in the taxonomy's order
    order = [k for k in taxonomy.required if k not in reaching and k not in unresolved]
    order += [k for k in missing if k not in order]
    return [k for k in order if k in fact.keys]


def check(resources: Iterable[Resource], ctx) -> Iterator[Finding]:
    scope = ctx.config.scope
    taxonomy = None
    for res in resources:
        for fact in res.unpropagated:
            # GPU capacity whose cost goes unallocated; a controller's pods also under `scope: all`
            if not (res.ai or (fact.via == "kubernetes" and scope == "all")):
                continue
            if taxonomy is None:
                taxonomy = ctx.config.taxonomy()
            keys = relevant_keys(fact, res, taxonomy)
            if keys:
                yield from _WORDING[fact.via](res, fact, keys)


def stranded_hint(res: Resource, taxonomy) -> str:
    """For a controller's missing-tag fix: the labels it carries itself that its pods do not get."""
    for fact in res.unpropagated:
        if fact.via == "kubernetes":
            keys = relevant_keys(fact, res, taxonomy)
            if keys:
                return (f" (the {fact.detail.get('kind')}'s own metadata.labels has {_ticked(keys)}, "
                        "but controller labels do not reach its pods: move them)")
    return ""


def _ticked(keys: Iterable[str]) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def _finding(res: Resource, message: str, fix: str, **kw) -> Finding:
    rule = get(RULE)
    return Finding(rule=RULE, category=NOT_PROPAGATED, severity=rule.default_severity, message=message,
                   address=res.address, resource_type=res.type, fix=fix, **kw)


def _terraform(res: Resource, fact: Unpropagated, lost: list[str]) -> Iterator[Finding]:
    by_place: dict[str, list[str]] = {}
    for k in lost:
        by_place.setdefault(fact.keys[k], []).append(f"`{k}`")
    where = "; ".join(f"{', '.join(keys)} on {place}" for place, keys in by_place.items())
    yield _finding(res, f"{res.address}: {where} never reach the EC2 instances it launches ({fact.why}), "
                        "so their cost is unallocated", fact.fix,
                   file=res.file, line=res.line, tag=lost[0] if len(lost) == 1 else None, extra={"tags": lost})


def _kubernetes(res: Resource, fact: Unpropagated, stranded: list[str]) -> Iterator[Finding]:
    kind, many = fact.detail.get("kind", res.type), len(stranded) > 1
    extra: dict = {"tags": list(stranded)}
    for key in ("role", "chart"):
        if fact.detail.get(key):
            extra[key] = fact.detail[key]
    yield _finding(
        res, f"{res.address}: label{'s' if many else ''} {_ticked(stranded)} {'are' if many else 'is'} set on the "
             f"{kind}'s own metadata.labels, which {kind} does not copy to its pods; cost allocation by pod labels "
             f"will not see {'them' if many else 'it'}",
        f"copy {', '.join(f'`{k}: {fact.keys[k]}`' for k in stranded)} to {fact.detail.get('label_where')}",
        file=res.file, line=res.line, extra=extra)


def _aws(res: Resource, fact: Unpropagated, keys: list[str]) -> Iterator[Finding]:
    is_ng = res.type == "aws_eks_node_group"
    what = "node group" if is_ng else "Auto Scaling group"
    for key in keys:
        value = fact.keys[key]
        missing = list(fact.detail[key]["missing"])
        members, static = fact.detail[key]["members"], fact.detail[key]["static"]
        if members:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            msg = (f"{res.address}: {what} tag `{key}` = \"{value}\" did not reach {len(missing)} of "
                   f"{members} instance(s) ({shown}); EC2 bills instance-hours to the instance's own tags")
        else:
            msg = (f"{res.address}: {what} tag `{key}` = \"{value}\" has PropagateAtLaunch=false, so instances "
                   "it launches will not carry it")
        if is_ng:
            fix = ("EKS does not copy node group tags to instances: put the tags in the node group's launch "
                   "template TagSpecifications (instance and volume), then roll the node group")
        elif static:
            fix = f"set PropagateAtLaunch=true on tag `{key}` (applies to new instances; tag running ones too)"
        else:
            fix = f"tag the running instances with `{key}` = \"{value}\" (they were launched before the tag was set)"
        yield _finding(res, msg, fix, tag=key,
                       extra={"account": res.meta.get("account"), "region": res.meta.get("region"),
                              "instances": missing[:50], "live_tags": dict(res.tags)})


_WORDING = {"terraform": _terraform, "kubernetes": _kubernetes, "aws": _aws}
