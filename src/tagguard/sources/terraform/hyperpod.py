"""SageMaker HyperPod clusters in Terraform (``awscc_sagemaker_cluster``; the AWS provider has no
such resource yet): an AI service whose compute is its ``instance_groups`` list, each an
``instance_type`` (``ml.p5.48xlarge``) x ``instance_count``; tags are a list of ``{key, value}``.

One resource has one compute profile: it is the accelerator group with the most accelerators (all
groups of that type added up), priced at the rate card's SageMaker ``ml.*`` rate when the card has
one (else unpriced with the engine's reason).  Other accelerator groups and CPU groups (the
controller) are named in the compute notes as not in this price; a group whose type or count is not
known statically is named too.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tagguard.hcl.values import Unknown
from tagguard.sources.terraform import extract as ex


def tag_list(value: Any, origin: str) -> ex.TagMap:
    """CloudFormation-style tags (``[{key = "team", value = "ml"}]``) as a TagMap."""
    if isinstance(value, list):
        flat: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, Mapping):
                out = ex.TagMap()
                out.open, out.open_reason = True, f"{origin} holds an entry that is not a {{key, value}} object"
                return out
            key = item.get("key", item.get("Key"))
            val = item.get("value", item.get("Value"))
            if isinstance(key, Unknown):
                out = ex.TagMap()
                out.open = True
                out.open_reason = (f"a tag key in {origin} is not known statically"
                                   + (f" ({key.reason})" if key.reason else ""))
                return out
            if isinstance(key, str):
                flat[key] = val
        return ex.TagMap.of(flat, origin)
    return ex.TagMap.of(value, origin)


def ex_sagemaker_cluster(walker, res, spec, body, scope, inst, effective, defaults, own):
    from tagguard.model import Compute

    res.tag_fix_hint = "`tags` (a list of {key = ..., value = ...}; the awscc provider has no default tags)"
    own = tag_list(ex.get_path(body, "tags", scope), "`tags`")
    effective = defaults.overlay(own) if spec.get("default_tags") else own
    factor = res.compute.units if res.compute is not None else 1  # count / for_each x module multiplier
    comp = Compute(provider=spec.get("provider"), service=spec.get("service"))
    groups = ex.get_path(body, "instance_groups", scope)
    if groups is ex._MISSING and isinstance(getattr(body, "value", None), Mapping):
        groups = body.value.get("instance_groups", groups)  # a plan's values: a list of objects
    if isinstance(groups, Unknown) or not isinstance(groups, list):
        why = f" ({groups.reason})" if isinstance(groups, Unknown) and groups.reason else ""
        comp.units = None
        comp.notes.append(f"instance_groups is not known statically{why}: pass it with --var or a tfvars file")
        res.compute = comp
        return effective, None
    per_type: dict[str, tuple[str | None, float, int | None]] = {}  # type -> (model, gpus per unit, count)
    others: list[str] = []
    cpu: list[tuple[str, str, int | None]] = []
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping):
            others.append(f"instance group {i + 1} is not known statically")
            continue
        name = group.get("instance_group_name")
        label = f"`{name}`" if isinstance(name, str) else f"group {i + 1}"
        itype = group.get("instance_type")
        count = group.get("instance_count")
        n = int(count) if isinstance(count, (int, float)) and not isinstance(count, bool) else None
        if not isinstance(itype, str):
            others.append(f"{label}: instance_type is not known statically")
            continue
        info = ex.catalog_info(itype)
        if info is None or not info[1]:
            cpu.append((label, itype, n))
            continue
        if n is None:
            others.append(f"{label}: instance_count of {itype} is not known statically")
        model, gpus, total = per_type.get(itype, (info[0], float(info[1]), 0))
        per_type[itype] = (model, gpus, None if total is None or n is None else total + n)
    if per_type:
        main = max(per_type, key=lambda t: per_type[t][1] * (per_type[t][2] or 0))
        model, gpus, total = per_type[main]
        comp.instance_type, comp.accelerator, comp.gpus_per_unit = main, model, gpus
        comp.units = None if total is None or factor is None else total * factor
        for t, (_m, _g, c) in per_type.items():
            if t != main:
                others.append(f"{t} x {c if c is not None else '?'} (another accelerator group; not in this price)")
        others.extend(f"{label}: {t} x {c if c is not None else '?'} (no GPUs or AI accelerators; not in this price)"
                      for label, t, c in cpu)
    elif cpu and not others:  # only CPU groups: the first is the cluster's size, without accelerators
        label, main, n = cpu[0]
        comp.instance_type, comp.gpus_per_unit = main, 0
        comp.units = None if n is None or factor is None else n * factor
        others.extend(f"{lb}: {t} x {c if c is not None else '?'} (not in this price)" for lb, t, c in cpu[1:])
    else:
        comp.units = None
        others.extend(f"{lb}: {t} x {c if c is not None else '?'}" for lb, t, c in cpu)
    comp.notes.extend(f"HyperPod instance groups: {o}" for o in others)
    if comp.units is None and comp.instance_type:
        comp.notes.append("instance_count is not known statically: pass it with --var or a tfvars file, or units in a "
                          "usage file")
    res.compute = comp
    return effective, None
