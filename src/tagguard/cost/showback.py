"""Showback: who spends what on AI, from a scan or a drift run.

``build_showback(result, config)`` groups the priced AI resources by each taxonomy dimension
(business unit, project, environment, cost center by default; configurable), shows the
unallocated share as its own line, lists the most expensive unallocated GPU resources, and
allocates shared platform costs (``shared_costs: [{name, monthly_usd}]``) to teams in
proportion to their GPU spend (never evenly: a team with no GPU spend gets no share).

Config (``.tagguard.yaml``)::

    showback:
      dimensions:            # label -> tag key (default: the four below)
        business_unit: business-unit
        project: project
        environment: environment
        cost_center: cost-center
      allocate_by: business_unit   # which dimension shared costs are split across (default: the first)
      top: 10                      # how many unallocated resources to list
    shared_costs:
      - {name: model registry, monthly_usd: 1200}

Token spend (``tagguard.llm.token_showback_rows``) is merged through ``extra_rows``: each row is
``{"name": str, "tags": {tag: value}, "monthly_usd": float, "gpu_hours": float?, "kind": "tokens"}``.
A row is allocated like a resource with those tags.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any
from collections.abc import Iterable

from tagguard.formats.helpers import money, plural
from tagguard.model import INVALID_VALUE, MISSING_TAG, NOT_PROPAGATED, UNRESOLVED_VALUE, ScanResult

DEFAULT_DIMENSIONS = {"business_unit": "business-unit", "project": "project",
                      "environment": "environment", "cost_center": "cost-center"}
UNALLOCATED = "(unallocated)"
NOT_SET = "(not set)"  # allocated spend without an optional dimension key (the taxonomy does not require it)


def dimensions(config) -> dict[str, str]:
    """label -> tag key: ``showback.dimensions`` if configured, else the taxonomy's required keys
    (its properties if it requires none), else the default four.  Showback and ``tagguard diff``
    both break spend down by these."""
    raw = (config.section("showback") if config is not None else None) or {}
    dims = raw.get("dimensions") if isinstance(raw, dict) else None
    if isinstance(dims, list):
        return {str(d).replace("-", "_"): str(d) for d in dims}
    if isinstance(dims, dict) and dims:
        return {str(k): str(v) for k, v in dims.items()}
    tax = _taxonomy(config)
    if tax is not None:
        keys = [k for k in tax.required if isinstance(k, str)] or [k for k in tax.properties if isinstance(k, str)]
        if keys:
            return {k.replace("-", "_"): k for k in keys}
    return dict(DEFAULT_DIMENSIONS)


def _settings(config) -> dict[str, Any]:
    raw = (config.section("showback") if config is not None else None) or {}
    dims = dimensions(config)
    allocate_by = raw.get("allocate_by") or next(iter(dims))
    if allocate_by not in dims:
        raise ValueError(f"showback.allocate_by: {allocate_by!r} is not one of the dimensions ({', '.join(dims)})")
    shared = (config.section("shared_costs") if config is not None else None) or []
    for i, s in enumerate(shared):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or \
                isinstance(s.get("monthly_usd"), bool) or not isinstance(s.get("monthly_usd"), (int, float)) or \
                s["monthly_usd"] < 0:
            raise ValueError(f"shared_costs[{i}]: expected {{name: <text>, monthly_usd: <number >= 0>}}")
    return {"dimensions": dict(dims), "allocate_by": allocate_by, "top": int(raw.get("top", 10)), "shared": shared}


def unallocated_reasons(result: ScanResult) -> dict[str, dict[str, str]]:
    """address -> {tag key: why its spend cannot be allocated by that key}.

    The one definition of unallocated spend: the billed resource lacks a required key, has an
    invalid value, or its tags do not propagate to what is billed (and, no silent pass, a required
    value that cannot be known statically).  Suppressed findings count too: a suppression accepts
    the finding, it does not put the tag on the bill.
    """
    out: dict[str, dict[str, str]] = {}
    for f in result.findings:
        if not f.address:
            continue
        if f.category in (MISSING_TAG, INVALID_VALUE):
            value = f.extra.get("value") if isinstance(f.extra, dict) else None
            out.setdefault(f.address, {}).setdefault(f.tag or "(tag map)", _reason(f.category, value))
        elif f.category in (NOT_PROPAGATED, UNRESOLVED_VALUE):
            keys = (f.extra.get("tags") if isinstance(f.extra, dict) else None) or ([f.tag] if f.tag else ["(tags)"])
            why = ("not propagated to the billed resource" if f.category == NOT_PROPAGATED
                   else "value unknown statically")
            for k in keys:
                out.setdefault(f.address, {}).setdefault(str(k), why)
    return out


def _reason(category: str, value: Any = None) -> str:
    if category == MISSING_TAG:
        return "missing"
    return f"invalid value {json.dumps(value)}" if value is not None else "invalid"


def _known(value: Any) -> bool:
    return value is not None and value != ""


def _taxonomy(config):
    if config is None:
        return None
    try:
        return config.taxonomy()
    except Exception:  # a broken taxonomy is reported by the scan itself
        return None


def _r(x: float) -> float:
    return round(float(x), 2)


def build_showback(result: ScanResult, config=None, *, extra_rows: Iterable[dict[str, Any]] | None = None,
                   dimensions: dict[str, str] | None = None, top: int | None = None,
                   actuals: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
    s = _settings(config)
    dims: dict[str, str] = dict(dimensions or s["dimensions"])
    allocate_by = s["allocate_by"] if s["allocate_by"] in dims else next(iter(dims))
    top_n = s["top"] if top is None else top
    why = unallocated_reasons(result)
    rows: list[dict[str, Any]] = []
    unpriced = 0
    attributed: list[float] = []
    floors: list[float] = []  # lower bounds inside the total (Cost.lower_bound)
    for r in result.resources:
        if not r.ai:
            continue
        if r.cost is not None and not r.cost.counted:
            # a share of a node pool this scan already prices: the pool's row carries that spend once
            attributed.append(r.cost.monthly_usd or 0.0)
            continue
        monthly = r.cost.monthly_usd if r.cost else None
        billed_here = r.compute is not None and not (r.meta.get("served_by") or r.meta.get("priced_elsewhere"))
        if monthly is None and billed_here:
            unpriced += 1
        if monthly is not None and r.cost is not None and r.cost.lower_bound:
            floors.append(monthly)
        reasons = dict(why.get(r.address, {}))
        for key in dims.values():  # a dimension whose value cannot be known cannot be allocated either
            if key not in reasons and not _known(r.tags.get(key)) and key in r.unresolved_tags:
                reasons[key] = "value unknown statically"
        rows.append({"name": r.address, "type": r.type, "tags": r.tags, "monthly_usd": monthly or 0.0,
                     "gpu_hours": (r.cost.gpu_hours_per_month if r.cost else None) or 0.0, "kind": "resource",
                     "priced": monthly is not None, "problems": reasons,
                     "account": r.meta.get("account"), "region": r.meta.get("region"), "state": r.meta.get("state")})
    taxonomy = _taxonomy(config)
    for x in extra_rows or ():
        if x.get("unpriced_calls"):  # token rows: calls to models with no price are not in monthly_usd
            unpriced += 1
        tags = dict(x.get("tags") or {})
        for label, key in dims.items():  # rows may carry dimension values directly
            if label in x and key not in tags:
                tags[key] = x[label]
        reasons = {}
        if taxonomy is not None:
            for issue in taxonomy.evaluate({k: v for k, v in tags.items() if _known(v)}, style="generic"):
                if issue.category in (MISSING_TAG, INVALID_VALUE):
                    reasons[issue.tag or "(tag map)"] = _reason(issue.category, issue.value)
        if taxonomy is None:  # no taxonomy to judge by: every dimension is required
            for key in dims.values():
                if key not in reasons and not _known(tags.get(key)):
                    reasons[key] = "missing"
        rows.append({"name": x.get("name", "token spend"), "type": x.get("kind", "tokens"), "tags": tags,
                     "monthly_usd": float(x.get("monthly_usd") or 0.0), "gpu_hours": float(x.get("gpu_hours") or 0.0),
                     "kind": x.get("kind", "tokens"), "priced": True, "problems": reasons})
    total = sum(r["monthly_usd"] for r in rows)
    total_gpu_h = sum(r["gpu_hours"] for r in rows)
    # One definition of "unallocated" everywhere: a row with any reason above is unallocated in the
    # headline and in every dimension table alike, so each table's (unallocated) line is the headline.
    out_dims: dict[str, Any] = {}
    for label, key in dims.items():
        groups: dict[str, dict[str, float]] = {}
        for row in rows:
            known = _known(row["tags"].get(key))
            value = UNALLOCATED if row["problems"] else (str(row["tags"][key]) if known else NOT_SET)
            g = groups.setdefault(value, {"monthly_usd": 0.0, "gpu_hours": 0.0, "resources": 0})
            g["monthly_usd"] += row["monthly_usd"]
            g["gpu_hours"] += row["gpu_hours"]
            g["resources"] += 1
        lines: list[dict[str, Any]] = [
            {"value": v, "monthly_usd": _r(g["monthly_usd"]), "gpu_hours": round(g["gpu_hours"], 2),
             "resources": int(g["resources"]),
             "share_pct": round(100 * g["monthly_usd"] / total, 1) if total else 0.0}
            for v, g in groups.items() if v != UNALLOCATED]
        lines.sort(key=lambda x: (-x["monthly_usd"], x["value"]))
        un = groups.get(UNALLOCATED, {"monthly_usd": 0.0, "gpu_hours": 0.0, "resources": 0})
        out_dims[label] = {"tag": key, "rows": lines,
                           "unallocated": {"monthly_usd": _r(un["monthly_usd"]), "gpu_hours": round(un["gpu_hours"], 2),
                                           "resources": int(un["resources"]),
                                           "share_pct": round(100 * un["monthly_usd"] / total, 1) if total else 0.0}}
    unalloc = [r for r in rows if r["problems"]]
    unalloc_usd = sum(r["monthly_usd"] for r in unalloc)
    top_rows = sorted((r for r in unalloc if r["kind"] == "resource"),
                      key=lambda r: (-r["monthly_usd"], r["name"]))[:top_n]
    shared = _allocate_shared(s["shared"], out_dims[allocate_by])
    extra = {"actuals": cluster_actuals(actuals, dims, rows)} if actuals else {}
    return {
        "dimensions": out_dims,
        "totals": {"monthly_usd": _r(total), "gpu_hours": round(total_gpu_h, 2), "resources": len(rows),
                   "unpriced_resources": unpriced,
                   "unallocated_monthly_usd": _r(unalloc_usd),
                   "unallocated_gpu_hours": round(sum(r["gpu_hours"] for r in unalloc), 2),
                   "unallocated_share_pct": round(100 * unalloc_usd / total, 1) if total else 0.0,
                   "shared_monthly_usd": _r(sum(x["monthly_usd"] for x in s["shared"])),
                   "attributed_resources": len(attributed), "attributed_monthly_usd": _r(sum(attributed)),
                   "lower_bound_resources": len(floors), "lower_bound_monthly_usd": _r(sum(floors))},
        "top_unallocated": [{"address": r["name"], "type": r["type"],
                             "monthly_usd": _r(r["monthly_usd"]) if r["priced"] else None,
                             "gpu_hours": round(r["gpu_hours"], 2), "account": r.get("account"),
                             "region": r.get("region"), "state": r.get("state"),
                             "missing_or_invalid": sorted(r["problems"]),
                             "reasons": dict(sorted(r["problems"].items()))} for r in top_rows],
        "shared_costs": shared,
        "allocate_by": allocate_by,
        **extra,
    }


# --- actual GPU spend from running clusters (`tagguard cluster report -f json`) -----------------

CLUSTER_KIND = "tagguard-cluster-report"
_ACTUAL_FIELDS = ("requested_gpu_hours", "used_gpu_hours", "unmeasured_gpu_hours", "cost_usd")


class ActualsError(ValueError):
    """A cluster report that cannot be read as one: the message names the file and the part."""


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise ActualsError(f"{where}: expected a number, got {json.dumps(v)[:40]}")
    return float(v)


def _check_cluster(name: str, rep: Any) -> tuple[float, dict[str, list[dict[str, Any]]]]:
    """(window hours, by_label) of a cluster report, every figure checked: the file is input."""
    if not isinstance(rep, dict) or rep.get("kind") != CLUSTER_KIND:
        raise ActualsError(f"{name}: not a `tagguard cluster report -f json` output (kind {CLUSTER_KIND!r} expected)")
    window = rep.get("window")
    if not isinstance(window, dict):
        raise ActualsError(f"{name}: window: expected an object")
    hours = _number(window.get("hours"), f"{name}: window.hours")
    if hours <= 0:
        raise ActualsError(f"{name}: window.hours must be positive")
    by_label = rep.get("by_label")
    if not isinstance(by_label, dict):
        raise ActualsError(f"{name}: by_label: expected an object of taxonomy keys")
    out: dict[str, list[dict[str, Any]]] = {}
    for key, lines in by_label.items():
        if not isinstance(lines, list):
            raise ActualsError(f"{name}: by_label.{key}: expected a list")
        for i, line in enumerate(lines):
            if not isinstance(line, dict) or not isinstance(line.get("value"), str):
                raise ActualsError(f"{name}: by_label.{key}[{i}]: expected {{value: <text>, ...}}")
            for f in _ACTUAL_FIELDS:
                _number(line.get(f), f"{name}: by_label.{key}[{i}].{f}")
        out[str(key)] = lines
    if not isinstance(rep.get("totals"), dict):
        raise ActualsError(f"{name}: totals: expected an object")
    for f in ("idle_unallocated_gpu_hours", "idle_unallocated_cost_usd"):
        _number(rep["totals"].get(f), f"{name}: totals.{f}")
    return hours, out


def _add_actual(into: dict[str, dict[str, float]], value: str, line: dict[str, Any], scale: float) -> None:
    g = into.setdefault(value, {"cost_usd": 0.0, "monthly_usd": 0.0, "gpu_hours": 0.0, "used_gpu_hours": 0.0,
                                "measured_gpu_hours": 0.0})
    g["measured_gpu_hours"] += line["requested_gpu_hours"] - line["unmeasured_gpu_hours"]
    g["cost_usd"] += line["cost_usd"]
    g["monthly_usd"] += line["cost_usd"] * scale
    g["gpu_hours"] += line["requested_gpu_hours"]
    g["used_gpu_hours"] += line["used_gpu_hours"]


def cluster_actuals(reports: list[tuple[str, Any]], dims: dict[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Actual GPU spend per dimension value from cluster reports, beside the estimates.

    A report covers a window (``window.hours``); its cost is shown as measured and as a monthly
    rate (× 730 h / window hours), so it stands beside the IaC estimates, which are monthly. The
    actuals are never added to the estimate totals: the cluster's GPUs are the same capacity the
    IaC prices (a node group) - one is what was planned, the other what ran. Pods whose labels
    miss or break the taxonomy are the cluster's own ``(unattributed)`` line; GPUs no pod requested
    are ``idle (no pod)``. Several reports (clusters) add up, each scaled by its own window.
    """
    month = 730.0  # hours per month, as the rate card's monthly figures
    sources = []
    per: dict[str, dict[str, dict[str, float]]] = {label: {} for label in dims}
    totals = {"cost_usd": 0.0, "monthly_usd": 0.0, "gpu_hours": 0.0, "used_gpu_hours": 0.0,
              "unattributed_cost_usd": 0.0, "unattributed_monthly_usd": 0.0, "unattributed_gpu_hours": 0.0,
              "idle_cost_usd": 0.0, "idle_monthly_usd": 0.0, "idle_gpu_hours": 0.0}
    unattributed_values = ("(unattributed)", "(pod labels not exported)")
    for name, rep in reports:
        hours, by_label = _check_cluster(name, rep)
        scale = month / hours
        sources.append({"file": name, "window": {k: rep["window"].get(k) for k in ("start", "end", "hours")},
                        "missing_keys": sorted(k for k in dims.values() if k not in by_label)})
        t = rep["totals"]
        totals["idle_cost_usd"] += float(t["idle_unallocated_cost_usd"])
        totals["idle_monthly_usd"] += float(t["idle_unallocated_cost_usd"]) * scale
        totals["idle_gpu_hours"] += float(t["idle_unallocated_gpu_hours"])
        un = rep.get("unattributed") if isinstance(rep.get("unattributed"), dict) else {}
        tot = {f: _number(t.get(f), f"{name}: totals.{f}") for f in _ACTUAL_FIELDS}
        un_cost = _number(un.get("cost_usd"), f"{name}: unattributed.cost_usd")
        un_hours = _number(un.get("gpu_hours"), f"{name}: unattributed.gpu_hours")
        totals["cost_usd"] += tot["cost_usd"]
        totals["monthly_usd"] += tot["cost_usd"] * scale
        totals["gpu_hours"] += tot["requested_gpu_hours"]
        totals["used_gpu_hours"] += tot["used_gpu_hours"]
        totals["unattributed_cost_usd"] += un_cost
        totals["unattributed_monthly_usd"] += un_cost * scale
        totals["unattributed_gpu_hours"] += un_hours
        for label, key in dims.items():
            seen = {f: 0.0 for f in _ACTUAL_FIELDS}
            for line in by_label.get(key, []):
                value = UNALLOCATED if line["value"] in unattributed_values else line["value"]
                _add_actual(per[label], value, line, scale)
                for f in seen:
                    seen[f] += line[f]
            # pods without this (optional) key, or a report without the key at all: "(not set)"
            rest = {f: tot[f] - seen[f] for f in seen}
            if rest["requested_gpu_hours"] > 1e-6 or rest["cost_usd"] > 0.005:
                _add_actual(per[label], NOT_SET, rest, scale)
    estimate: dict[str, dict[str, dict[str, float]]] = {label: {} for label in dims}
    for label, key in dims.items():
        for r in rows:
            value = UNALLOCATED if r["problems"] else (str(r["tags"][key]) if _known(r["tags"].get(key)) else NOT_SET)
            e = estimate[label].setdefault(value, {"resource": 0.0, "tokens": 0.0})
            e["tokens" if r["kind"] == "tokens" else "resource"] += r["monthly_usd"]
    out_dims = {}
    for label, key in dims.items():
        values = sorted(set(per[label]) | set(estimate[label]), key=lambda v: (v == UNALLOCATED, v))
        lines = []
        for v in values:
            a = per[label].get(v, {})
            e = estimate[label].get(v, {})
            used, req, meas = a.get("used_gpu_hours", 0.0), a.get("gpu_hours", 0.0), a.get("measured_gpu_hours", 0.0)
            lines.append({"value": v, "estimate_monthly_usd": _r(e.get("resource", 0.0)),
                          "tokens_monthly_usd": _r(e.get("tokens", 0.0)),
                          "actual_usd": _r(a.get("cost_usd", 0.0)), "actual_monthly_usd": _r(a.get("monthly_usd", 0.0)),
                          "actual_gpu_hours": round(req, 2), "actual_used_gpu_hours": round(used, 2),
                          "utilisation": round(used / meas, 4) if meas > 1e-9 else None})
        out_dims[label] = {"tag": key, "rows": lines}
    return {"sources": sources, "hours_per_month": month,
            "totals": {k: (_r(v) if k.endswith("usd") else round(v, 2)) for k, v in totals.items()},
            "dimensions": out_dims,
            "note": ("actual = what pods requested while Running, priced at their node's rate (tagguard cluster "
                     "report); monthly = actual × 730 h / the report's window; not added to the estimates: the same "
                     "GPUs, planned vs run")}


def _allocate_shared(shared: list[dict[str, Any]], dim: dict[str, Any]) -> dict[str, Any]:
    """Split each shared cost across the allocation dimension's values by their share of GPU spend."""
    lines = list(dim["rows"])
    if dim["unallocated"]["monthly_usd"]:
        lines.append({"value": UNALLOCATED, **dim["unallocated"]})
    base = sum(x["monthly_usd"] for x in lines)
    pool = sum(float(s["monthly_usd"]) for s in shared)
    teams = []
    for x in lines:
        frac = x["monthly_usd"] / base if base else 0.0
        per = {s["name"]: _r(float(s["monthly_usd"]) * frac) for s in shared}
        teams.append({"value": x["value"], "direct_usd": x["monthly_usd"], "shared_usd": _r(pool * frac),
                      "total_usd": _r(x["monthly_usd"] + pool * frac), "weight_pct": round(100 * frac, 1),
                      "by_cost": per})
    return {"items": [{"name": s["name"], "monthly_usd": _r(s["monthly_usd"])} for s in shared],
            "method": "proportional to GPU spend", "teams": teams,
            "unassigned_usd": _r(pool) if base == 0 and pool else 0.0}


# --- rendering ---------------------------------------------------------------------

_money = money


def render(sb: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(sb, indent=2) + "\n"
    if fmt == "csv":
        return render_csv(sb)
    if fmt == "markdown":
        return render_markdown(sb)
    if fmt == "text":
        return render_text(sb)
    raise ValueError(f"unknown showback format {fmt!r}")


def _why(row: dict[str, Any]) -> str:
    """`environment` invalid value "production"; `business-unit` not propagated to the billed resource"""
    reasons = row.get("reasons") or {k: "missing or invalid" for k in row.get("missing_or_invalid", [])}
    by_reason: dict[str, list[str]] = {}
    for k, v in reasons.items():  # keys that share a reason are named together
        by_reason.setdefault(v, []).append(k)
    return "; ".join(f"{', '.join(keys)} {why}" for why, keys in by_reason.items())


def _t(text: Any) -> str:
    """Terminal-safe: control characters from tag values are shown escaped, never sent raw."""
    from tagguard.formats.escape import term

    return term(text)


def _attributed(t: dict[str, Any]) -> str:
    """Workloads whose figure is a share of a node pool already in the totals (capacity counted once)."""
    n = t.get("attributed_resources") or 0
    if not n:
        return ""
    return (f"; not added again: {_money(t.get('attributed_monthly_usd') or 0)}/month of {plural(n, 'workload')} "
            "running on node pools priced here")


def _lower_bound(t: dict[str, Any]) -> str:
    """How much of the total is a floor: GPU requests no node information places (docs/pricing.md)."""
    n = t.get("lower_bound_resources") or 0
    if not n:
        return ""
    return (f"; of which {_money(t.get('lower_bound_monthly_usd') or 0)}/month is a lower bound over "
            f"{plural(n, 'resource')}")


def render_text(sb: dict[str, Any]) -> str:
    t = sb["totals"]
    out = [f"AI spend: {_money(t['monthly_usd'])}/month, {t['gpu_hours']:,.0f} GPU-hours/month over "
           f"{plural(t['resources'], 'resource')}"
           + (f" ({t['unpriced_resources']} unpriced)" if t["unpriced_resources"] else "")
           + _attributed(t) + _lower_bound(t),
           "Unallocated (required tags missing, invalid or not reaching the bill): "
           f"{_money(t['unallocated_monthly_usd'])}/month "
           f"({t['unallocated_share_pct']}%), {t['unallocated_gpu_hours']:,.0f} GPU-hours", ""]
    for label, d in sb["dimensions"].items():
        out.append(f"By {_t(label.replace('_', ' '))} (tag `{_t(d['tag'])}`)")
        width = max([len(_t(r["value"])) for r in d["rows"]] + [len("(unallocated)"), 8])
        for r in d["rows"] + [{"value": UNALLOCATED, **d["unallocated"]}]:
            out.append(f"  {_t(r['value']):<{width}}  {_money(r['monthly_usd']):>12}  "
                       f"{r['gpu_hours']:>10,.0f} GPU-h  {r['share_pct']:>5}%")
        out.append("")
    sc = sb["shared_costs"]
    if sc["items"]:
        out.append(f"Shared platform costs ({_money(sum(i['monthly_usd'] for i in sc['items']))}/month, "
                   f"{', '.join(i['name'] for i in sc['items'])}), allocated by {sb['allocate_by'].replace('_', ' ')} "
                   f"{sc['method']}")
        for x in sc["teams"]:
            out.append(f"  {_t(x['value']):<24} direct {_money(x['direct_usd']):>10}  "
                       f"+ shared {_money(x['shared_usd']):>9}"
                       f"  = {_money(x['total_usd']):>10}  ({x['weight_pct']}%)")
        out.append("")
    out += _actuals_text(sb.get("actuals"))
    if sb["top_unallocated"]:
        out.append("Top unallocated GPU resources")
        for r in sb["top_unallocated"]:
            where = " ".join(x for x in (r.get("account"), r.get("region")) if x)
            out.append(f"  {_money(r['monthly_usd']):>10}  {_t(r['address'])}" + (f"  [{_t(where)}]" if where else "")
                       + (f"  unallocated: {_t(_why(r))}" if r["missing_or_invalid"] else ""))
    from tagguard.formats.escape import guard_commands

    return guard_commands("\n".join(out).rstrip() + "\n")


def render_markdown(sb: dict[str, Any]) -> str:
    from tagguard.formats.markdown import code, escape_cell

    # dimension labels and tag keys come from the (possibly the repository's) config: escaped too
    t = sb["totals"]
    out = ["## AI spend showback", "",
           f"**{_money(t['monthly_usd'])}/month**, {t['gpu_hours']:,.0f} GPU-hours/month; "
           f"**unallocated {_money(t['unallocated_monthly_usd'])} ({t['unallocated_share_pct']}%)**"
           f"{_attributed(t)}{_lower_bound(t)}", ""]
    for label, d in sb["dimensions"].items():
        out += [f"### By {escape_cell(label.replace('_', ' '))} ({code(d['tag'], cell=False)})", "",
                "| value | monthly | GPU-hours | share |", "|---|---:|---:|---:|"]
        for r in d["rows"] + [{"value": "_(unallocated)_", **d["unallocated"]}]:
            value = r["value"] if r["value"] == "_(unallocated)_" else escape_cell(r["value"])
            out.append(f"| {value} | {_money(r['monthly_usd'])} | {r['gpu_hours']:,.0f} | {r['share_pct']}% |")
        out.append("")
    sc = sb["shared_costs"]
    if sc["items"]:
        out += [f"### Shared platform costs ({escape_cell(sc['method'])})", "", "| team | direct | shared | total |",
                "|---|---:|---:|---:|"]
        for x in sc["teams"]:
            out.append(f"| {escape_cell(x['value'])} | {_money(x['direct_usd'])} | {_money(x['shared_usd'])} | "
                       f"{_money(x['total_usd'])} |")
        out.append("")
    out += _actuals_markdown(sb.get("actuals"))
    if sb["top_unallocated"]:
        out += ["### Top unallocated GPU resources", "", "| resource | monthly | why unallocated |", "|---|---:|---|"]
        for r in sb["top_unallocated"]:
            out.append(f"| {code(r['address'])} | {_money(r['monthly_usd'])} | {escape_cell(_why(r))} |")
    return "\n".join(out).rstrip() + "\n"


def render_csv(sb: dict[str, Any]) -> str:
    from tagguard.formats.escape import csv_cell

    class _Safe:  # no cell from data opens as a spreadsheet formula
        def __init__(self, w):
            self.w = w

        def writerow(self, row):
            self.w.writerow([csv_cell(x) for x in row])

    buf = io.StringIO()
    w = _Safe(csv.writer(buf, lineterminator="\n"))
    w.writerow(["section", "dimension", "value", "monthly_usd", "gpu_hours", "resources", "share_pct"])
    for label, d in sb["dimensions"].items():
        for r in d["rows"]:
            w.writerow(["dimension", label, r["value"], r["monthly_usd"], r["gpu_hours"], r["resources"],
                        r["share_pct"]])
        u = d["unallocated"]
        w.writerow(["dimension", label, UNALLOCATED, u["monthly_usd"], u["gpu_hours"], u["resources"], u["share_pct"]])
    for x in sb["shared_costs"]["teams"]:
        w.writerow(["shared_allocation", sb["allocate_by"], x["value"], x["total_usd"], "", "", x["weight_pct"]])
    for r in sb["top_unallocated"]:
        w.writerow(["top_unallocated", "", r["address"], r["monthly_usd"], r["gpu_hours"], 1, ""])
    for label, d in ((sb.get("actuals") or {}).get("dimensions") or {}).items():
        for r in d["rows"]:  # actual GPU spend as a monthly rate, beside the estimate rows above
            w.writerow(["actual_gpu", label, r["value"], r["actual_monthly_usd"], r["actual_gpu_hours"], "", ""])
    t = sb["totals"]
    w.writerow(["total", "", "", t["monthly_usd"], t["gpu_hours"], t["resources"], 100.0 if t["monthly_usd"] else 0.0])
    return buf.getvalue()


def _actual_rows(a: dict[str, Any]):
    return [(label, d) for label, d in a["dimensions"].items()]


def _actuals_text(a: dict[str, Any] | None) -> list[str]:
    if not a:
        return []
    t = a["totals"]
    wins = ", ".join(f"{_t(s['window'].get('start'))} .. {_t(s['window'].get('end'))}" for s in a["sources"])
    out = [f"Actual GPU spend in clusters ({wins}): {_money(t['cost_usd'])} for {t['gpu_hours']:,.0f} GPU-hours "
           f"requested, {t['used_gpu_hours']:,.0f} used; {_money(t['monthly_usd'])}/month at that rate; unattributed "
           f"{_money(t['unattributed_monthly_usd'])}/month; GPUs no pod requested "
           f"{_money(t['idle_monthly_usd'])}/month",
           "  (beside the estimates, not added to them: the same GPUs, planned vs run)", ""]
    for label, d in _actual_rows(a):
        out.append(f"By {_t(label.replace('_', ' '))}: estimate vs actual (per month)")
        width = max([len(_t(r["value"])) for r in d["rows"]] + [8])
        out.append(f"  {'':<{width}}  {'IaC estimate':>12}  {'tokens':>10}  {'actual GPU':>12}  {'GPU-h':>9}  util")
        for r in d["rows"]:
            util = f"{r['utilisation']:.0%}" if r["utilisation"] is not None else "-"
            out.append(f"  {_t(r['value']):<{width}}  {_money(r['estimate_monthly_usd']):>12}  "
                       f"{_money(r['tokens_monthly_usd']):>10}  {_money(r['actual_monthly_usd']):>12}  "
                       f"{r['actual_gpu_hours']:>9,.0f}  {util}")
        out.append("")
    return out


def _actuals_markdown(a: dict[str, Any] | None) -> list[str]:
    from tagguard.formats.markdown import escape_cell

    if not a:
        return []
    t = a["totals"]
    out = ["### Actual GPU spend in clusters (beside the estimates)", "",
           f"{_money(t['cost_usd'])} for {t['gpu_hours']:,.0f} GPU-hours requested ({t['used_gpu_hours']:,.0f} used) = "
           f"**{_money(t['monthly_usd'])}/month**; unattributed {_money(t['unattributed_monthly_usd'])}/month; "
           f"GPUs no pod requested {_money(t['idle_monthly_usd'])}/month. Not added to the estimates: the same GPUs, "
           "planned vs run.", ""]
    for label, d in _actual_rows(a):
        out += [f"#### By {escape_cell(label.replace('_', ' '))}", "",
                "| value | IaC estimate / month | tokens / month | actual GPU / month | GPU-hours | utilisation |",
                "|---|---:|---:|---:|---:|---:|"]
        for r in d["rows"]:
            util = f"{r['utilisation']:.0%}" if r["utilisation"] is not None else "-"
            out.append(f"| {escape_cell(r['value'])} | {_money(r['estimate_monthly_usd'])} | "
                       f"{_money(r['tokens_monthly_usd'])} | {_money(r['actual_monthly_usd'])} | "
                       f"{r['actual_gpu_hours']:,.0f} | {util} |")
        out.append("")
    return out
