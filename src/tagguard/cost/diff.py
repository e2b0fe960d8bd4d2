"""Cost deltas: what a change adds to (or removes from) the monthly bill, by team.

Two inputs produce the same per-resource facts in ``Resource.meta``:

* a Terraform plan (``sources/terraform/plan.py``): the change's action, and the
  before-state compute, priced here with the same rate card and config;
* ``tagguard diff``: the working tree compared with a base revision by address
  (``base_index`` / ``annotate_against_base``).

Per AI resource that changes: ``meta.action`` (create | update | replace |
delete | no-op), ``meta.cost_before_monthly_usd``, ``meta.cost_delta_monthly_usd``
(create +, delete -, update = after - before; null when either side has no
known rate) and ``meta.gpu_hours_delta_per_month``.  ``summarize`` rolls them
up into ``cost_diff``: totals and the delta per configured dimension
(``showback.dimensions``, else the taxonomy's required keys; ``by`` is keyed by tag key and
``dimensions`` maps label -> tag key), untagged as its own line.
"""
from __future__ import annotations

import os
from typing import Any
from collections.abc import Iterable

from tagguard.model import Compute, Cost, Resource

TEAM_KEYS = ("business-unit", "project", "environment", "cost-center")  # without a config
UNTAGGED = "(untagged)"
CHANGED_ACTIONS = ("create", "update", "replace", "delete")


def _pricer(ctx):
    """``pricing.engine.make_pricer``'s pricer and usage file (the scan's own set-up), or (None, None)."""
    try:
        from tagguard.pricing.engine import make_pricer
    except ModuleNotFoundError:  # pricing not part of this build
        return None, None
    setup = make_pricer(ctx.config, ctx.options)
    return setup.pricer, setup.usage


def _monthly(cost: Cost | None) -> float | None:
    return None if cost is None else cost.monthly_usd


def _gpu_hours(cost: Cost | None) -> float | None:
    return None if cost is None else cost.gpu_hours_per_month


def _set_delta(res: Resource, before: float | None, after: float | None,
               gpu_before: float | None, gpu_after: float | None) -> None:
    res.meta["cost_before_monthly_usd"] = None if before is None else round(before, 2)
    res.meta["cost_delta_monthly_usd"] = None if before is None or after is None else round(after - before, 2)
    res.meta["gpu_hours_delta_per_month"] = (None if gpu_before is None or gpu_after is None
                                             else round(gpu_after - gpu_before, 4))


# --- plan JSON ------------------------------------------------------------------------------

def annotate_plan(resources: list[Resource], ctx) -> None:
    """Price the before-state of every plan change and set the delta on the resource."""
    plan = [r for r in resources if r.source == "plan" and r.ai and "action" in r.meta]
    if not plan:
        return
    shadows: list[tuple[Resource, Resource]] = []
    for r in plan:
        before = r.meta.get("before_compute")
        if isinstance(before, dict):
            shadow = Resource(address=r.address, type=r.type, source="plan", file=r.file, ai=True,
                              compute=Compute.from_json(before),
                              meta={k: v for k, v in r.meta.items() if k == "runs_per_month"})
            shadows.append((r, shadow))
    before_cost: dict[int, Cost] = {}
    if shadows:
        pricer, usage = _pricer(ctx)
        if pricer is not None:
            if usage is not None:
                for _, s in shadows:
                    usage.apply(s)
            pricer.price_all([s for _, s in shadows])
            for r, s in shadows:
                if s.cost is not None:
                    before_cost[id(r)] = s.cost
    for r in plan:
        action = r.meta["action"]
        if r.meta.get("served_by"):
            continue  # its instances are priced on the endpoint
        after_m, after_g = _monthly(r.cost), _gpu_hours(r.cost)
        if r.compute is None and action != "delete":
            after_m = after_g = None
        if action == "create" or ("before_compute" not in r.meta and action == "replace"):
            _set_delta(r, 0.0, after_m, 0.0, after_g)
            continue
        bc = before_cost.get(id(r))
        if "before_compute" not in r.meta:  # not an AI resource before the change
            _set_delta(r, 0.0, after_m, 0.0, after_g)
            continue
        _set_delta(r, _monthly(bc), after_m, _gpu_hours(bc), after_g)
        if bc is not None and bc.reason and r.meta["cost_delta_monthly_usd"] is None:
            r.meta["cost_before_reason"] = bc.reason


# --- tagguard diff: the working tree against a base revision -----------------------------------

def match_key(res: Resource) -> tuple[str, str]:
    """Identity across revisions: the directory of the file and the address."""
    file = res.file or ""
    return (os.path.dirname(file) if res.source != "plan" else file, res.address)


def snapshot(res: Resource) -> dict[str, Any]:
    """What a base resource looked like (for matching and for the removed list)."""
    return {
        "address": res.address, "type": res.type, "file": res.file, "line": res.line, "ai": res.ai,
        "tags": dict(res.tags), "unresolved_tags": sorted(res.unresolved_tags), "tags_open": res.tags_open,
        "compute": res.compute.to_json() if res.compute else None,
        "monthly_usd": _monthly(res.cost), "gpu_hours_per_month": _gpu_hours(res.cost),
        "tag_style": res.tag_style, "served_by": res.meta.get("served_by"),
        "attributed_from": list(res.cost.attributed_from) if res.cost is not None else [],
        "lower_bound": res.cost is not None and res.cost.lower_bound,
    }


def match_keys(resources: Iterable[Resource]) -> list[tuple[str, str]]:
    """``match_key`` of each resource; where one directory declares an address twice (the same
    Kubernetes name in two sample files), the file tells them apart, and within one file the order."""
    resources = list(resources)
    keys = [match_key(r) for r in resources]
    counts: dict[tuple[str, str], int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    out: list[tuple[str, str]] = []
    nth: dict[tuple[str, str], int] = {}
    for k, r in zip(keys, resources):
        if counts[k] > 1:
            k = (r.file or "", r.address)
            n = nth[k] = nth.get(k, 0) + 1
            if n > 1:
                k = (k[0], f"{r.address}\x00{n}")
        out.append(k)
    return out


def base_index(resources: Iterable[Resource]) -> dict[tuple[str, str], dict[str, Any]]:
    resources = list(resources)
    return dict(zip(match_keys(resources), (snapshot(r) for r in resources)))


def changes(before: dict[str, Any], res: Resource) -> list[str]:
    """What differs: ``tags``, ``compute`` and/or ``cost`` (empty: unchanged)."""
    now = snapshot(res)
    out = []
    if any(before.get(k) != now.get(k) for k in ("tags", "unresolved_tags", "tags_open")):
        out.append("tags")
    if before.get("compute") != now.get("compute") or before.get("ai") != now.get("ai"):
        out.append("compute")
    a, b = before.get("monthly_usd"), now.get("monthly_usd")
    if (a is None) != (b is None) or (a is not None and abs(a - b) > 0.005):
        out.append("cost")
    return out


def annotate_against_base(resources: list[Resource],
                          base: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``meta.action`` and the deltas on the working-tree resources; return the removed ones."""
    seen = set()
    keys = match_keys(resources)
    taken = set(keys)  # base entries a working-tree resource matches exactly are not up for the fallback
    family: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (directory, address) -> base keys
    for k, before in base.items():
        family.setdefault((os.path.dirname(before.get("file") or ""), before.get("address") or ""), []).append(k)
    for r, key in zip(resources, keys):
        old = base.get(key)
        if old is None and r.source != "plan":
            # an address declared twice in a directory on one side only (one of the two files renamed or
            # removed): match one base entry of the same directory and address, an unchanged one first
            free = [k for k in family.get((os.path.dirname(r.file or ""), r.address), ())
                    if k not in seen and k not in taken]
            if free:
                key = next((k for k in free if not changes(base[k], r)), free[0])
                old = base[key]
        seen.add(key)
        after_m = None if r.meta.get("served_by") else _monthly(r.cost)
        after_g = None if r.meta.get("served_by") else _gpu_hours(r.cost)
        if r.cost is not None and not r.cost.counted:  # a share of a pool priced in this scan: not added again
            after_m, after_g = 0.0, 0.0
        if old is None:
            r.meta["action"] = "create"
            if r.ai and not r.meta.get("served_by"):
                _set_delta(r, 0.0, after_m, 0.0, after_g)
            continue
        what = changes(old, r)
        if what:
            r.meta["action"] = "update"
            r.meta["changed"] = what
        else:
            r.meta["action"] = "no-op"
            r.meta["skip_tag_rules"] = True
        if r.ai and not r.meta.get("served_by"):
            before_m = (0.0 if not old.get("ai") or old.get("served_by") or old.get("attributed_from")
                        else old.get("monthly_usd"))
            before_g = (0.0 if not old.get("ai") or old.get("served_by") or old.get("attributed_from")
                        else old.get("gpu_hours_per_month"))
            _set_delta(r, before_m, after_m, before_g, after_g)
            if old.get("lower_bound") and before_m:
                r.meta["cost_before_lower_bound"] = True  # the base figure was a floor (Cost.lower_bound)
    removed = []
    for key, old in base.items():
        if key not in seen:
            removed.append(old)
    return removed


# --- roll-up ------------------------------------------------------------------------------------

def tag_value(tags: dict[str, str], key: str, style: str = "aws") -> str | None:
    if key in tags:
        return tags[key]
    if style == "azure":
        for k, v in tags.items():
            if k.casefold() == key.casefold():
                return v
    return None


def summarize(resources: Iterable[Resource], removed: Iterable[dict[str, Any]] = (), config=None,
              dimensions: dict[str, str] | None = None) -> dict[str, Any]:
    """``cost_diff``: every AI change with its delta, totals, and the delta per dimension."""
    if dimensions is None:
        if config is not None:
            from tagguard.cost.showback import dimensions as configured

            dimensions = configured(config)
        else:
            dimensions = {k.replace("-", "_"): k for k in TEAM_KEYS}
    keys = list(dict.fromkeys(dimensions.values()))
    rows: list[dict[str, Any]] = []
    for r in resources:
        action = r.meta.get("action")
        if not r.ai or action not in CHANGED_ACTIONS or r.meta.get("served_by"):
            continue
        before = r.meta.get("cost_before_monthly_usd")
        delta = r.meta.get("cost_delta_monthly_usd")
        after = None if r.cost is None or r.compute is None else r.cost.monthly_usd
        if r.cost is not None and not r.cost.counted:
            after = 0.0  # attributed to a node pool priced in this scan: that pool carries the figure
        floors = [side for side, lb in (("before", r.meta.get("cost_before_lower_bound")),
                                        ("after", r.cost is not None and r.cost.lower_bound and r.cost.counted))
                  if lb]
        rows.append(_row(r.address, r.type, action, r.file, r.line, before, after, delta,
                         r.meta.get("gpu_hours_delta_per_month"), r.tags, r.tag_style,
                         None if r.cost is None else r.cost.reason, keys, floors))
    for old in removed:
        if not old.get("ai") or old.get("served_by"):
            continue
        m = 0.0 if old.get("attributed_from") else old.get("monthly_usd")
        g = 0.0 if old.get("attributed_from") else old.get("gpu_hours_per_month")
        rows.append(_row(old["address"], old["type"], "delete", old.get("file"), old.get("line"), m, 0.0,
                         None if m is None else -round(m, 2), None if g is None else -g, old.get("tags") or {},
                         old.get("tag_style", "aws"), None if m is not None else "no known rate", keys,
                         ["before"] if old.get("lower_bound") and m else []))
    rows.sort(key=lambda x: (-(abs(x["delta_monthly_usd"]) if x["delta_monthly_usd"] is not None else -1),
                             x["address"]))
    known = [x["delta_monthly_usd"] for x in rows if x["delta_monthly_usd"] is not None]
    gpu = [x["gpu_hours_delta_per_month"] for x in rows if x["gpu_hours_delta_per_month"] is not None]
    counts = {a: 0 for a in CHANGED_ACTIONS}
    for x in rows:
        counts[x["action"]] = counts.get(x["action"], 0) + 1
    by: dict[str, list[dict[str, Any]]] = {}
    for key in keys:
        groups: dict[str, dict[str, Any]] = {}
        for x in rows:
            value = x["teams"].get(key) or UNTAGGED
            g = groups.setdefault(value, {"value": value, "delta_monthly_usd": 0.0, "changes": 0, "unpriced": 0})
            g["changes"] += 1
            if x["delta_monthly_usd"] is None:
                g["unpriced"] += 1
            else:
                g["delta_monthly_usd"] = round(g["delta_monthly_usd"] + x["delta_monthly_usd"], 2)
        by[key] = sorted(groups.values(),
                         key=lambda g: (g["value"] == UNTAGGED, -abs(g["delta_monthly_usd"]), g["value"]))
    out = {
        "total_delta_monthly_usd": round(sum(known), 2),
        "gpu_hours_delta_per_month": round(sum(gpu), 4) if gpu else 0,
        "changes": counts,
        "unpriced_changes": len(rows) - len(known),
        "by": by,
        "dimensions": dict(dimensions),
        "resources": rows,
    }
    floored = [x for x in rows if x.get("lower_bound") and x["delta_monthly_usd"] is not None]
    if floored:  # deltas from or to a floor: not exact (docs/pricing.md)
        out["lower_bound_changes"] = len(floored)
        out["lower_bound_delta_monthly_usd"] = round(sum(x["delta_monthly_usd"] for x in floored), 2)
    return out


def _row(address, rtype, action, file, line, before, after, delta, gpu_delta, tags, style, reason,
         keys: Iterable[str] = TEAM_KEYS, floors: list[str] | None = None) -> dict[str, Any]:
    row = {
        "address": address, "type": rtype, "action": action, "file": file, "line": line,
        "before_monthly_usd": None if before is None else round(before, 2),
        "after_monthly_usd": None if after is None else round(after, 2),
        "delta_monthly_usd": None if delta is None else round(delta, 2),
        "gpu_hours_delta_per_month": gpu_delta,
        "teams": {k: tag_value(tags or {}, k, style) for k in keys},
    }
    if delta is None and reason:
        row["reason"] = reason
    if floors:  # which side's figure is a lower bound (Cost.lower_bound): the delta is not exact
        row["lower_bound"] = list(floors)
    return row
