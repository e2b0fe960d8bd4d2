"""Showback and chargeback on actual spend, with shared platform costs split by usage.

Direct AI spend goes to the team named by its (valid) team tag; spend whose tags fail the taxonomy
stays ``(unallocated)``. Shared platform charges (``bill.shared``: services, name patterns,
resource-id patterns or a tag) are split, per month and currency, across (team, environment) pairs
in proportion to each pair's usage basis (``bill.allocate_shared_by``):

* ``gpu``    - allocated spend on GPU instance time (rate-card instance types, GPU SKUs)
* ``tokens`` - allocated spend on token-billed model calls
* ``ai``     - all allocated AI spend

Never evenly: a team with no basis spend in that month gets nothing, and a month with no basis
spend at all leaves its shared cost unallocated, with the reason. Each environment is in showback
or chargeback mode (``bill.modes``, e.g. ``{prod: chargeback, default: showback}``).
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tagguard.actuals.coverage import UNALLOCATED, ZERO, Analysis, _num



def split_ratios(a: Analysis) -> dict[tuple[str, str], dict[str, Any]]:
    """(month, currency) -> {"shared": Decimal, "basis": {(team, env): Decimal}, "ratios": {(team, env): Decimal},
    "reason": text when the shared cost cannot be split}."""
    s = a.settings
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for ch in a.charges:
        slot = out.setdefault((ch.month, ch.currency), {"shared": ZERO, "basis": {}, "ratios": {}, "reason": None})
        if ch.kind == "shared":
            slot["shared"] += ch.cost
            continue
        if s.allocate_shared_by != "ai" and ch.usage != s.allocate_shared_by:
            continue
        team = ch.value(s.team_key)
        if team is None:
            continue
        pair = (team, ch.value(s.env_key) or "(no environment)")
        slot["basis"][pair] = slot["basis"].get(pair, ZERO) + ch.cost
    for (month, _cur), slot in out.items():
        positive = {p: b for p, b in slot["basis"].items() if b > 0}
        total = sum(positive.values(), ZERO)
        if total <= 0:
            if slot["shared"] != 0:
                slot["reason"] = (f"no allocated {_basis_words(s.allocate_shared_by)} in {month}: "
                                  f"shared cost left unallocated (never split evenly)")
            continue
        slot["ratios"] = {p: b / total for p, b in sorted(positive.items())}
    return out


def _basis_words(basis: str) -> str:
    return {"gpu": "GPU spend", "tokens": "token spend", "ai": "AI spend"}[basis]


def showback(a: Analysis) -> dict[str, Any]:
    s = a.settings
    ratios = split_ratios(a)
    cur_out: dict[str, Any] = {}
    per: dict[str, dict[str, Any]] = {}
    for ch in a.charges:
        c = per.setdefault(ch.currency, {"pairs": {}, "dims": {label: {} for label in s.dimensions}, "trend": {},
                                         "shared_total": ZERO, "shared_unallocated": ZERO})
        if ch.kind == "shared":
            continue
        team = ch.value(s.team_key) or UNALLOCATED
        env = ch.value(s.env_key) or "(no environment)" if team != UNALLOCATED else "-"
        p = c["pairs"].setdefault((team, env), {"direct": ZERO, "shared": ZERO})
        p["direct"] += ch.cost
        for label, key in s.dimensions.items():
            value = ch.value(key) or UNALLOCATED
            c["dims"][label][value] = c["dims"][label].get(value, ZERO) + ch.cost
        t = c["trend"].setdefault(team, {})
        t[ch.month] = t.get(ch.month, ZERO) + ch.cost
    unsplit: list[dict[str, Any]] = []
    for (month, cur), slot in sorted(ratios.items()):
        if slot["shared"] == 0:
            continue
        c = per.setdefault(cur, {"pairs": {}, "dims": {label: {} for label in s.dimensions}, "trend": {},
                                 "shared_total": ZERO, "shared_unallocated": ZERO})
        c["shared_total"] += slot["shared"]
        if not slot["ratios"]:
            c["shared_unallocated"] += slot["shared"]
            unsplit.append({"month": month, "currency": cur, "cost": _num(slot["shared"]), "reason": slot["reason"]})
            continue
        for (team, env), ratio in slot["ratios"].items():
            share = slot["shared"] * ratio
            p = c["pairs"].setdefault((team, env), {"direct": ZERO, "shared": ZERO})
            p["shared"] += share
            t = c["trend"].setdefault(team, {})
            t[month] = t.get(month, ZERO) + share
    for cur, c in sorted(per.items()):
        rows = []
        for (team, env), p in c["pairs"].items():
            mode = "-" if team == UNALLOCATED else s.modes.get(env, s.default_mode)
            rows.append({"team": team, "environment": env, "mode": mode, "direct": _num(p["direct"]),
                         "shared": _num(p["shared"]), "total": _num(p["direct"] + p["shared"])})
        rows.sort(key=lambda r: (r["team"] == UNALLOCATED, -r["total"], r["team"], r["environment"]))
        months = sorted({m for t in c["trend"].values() for m in t if m})
        trend = []
        for team, by_month in sorted(c["trend"].items(), key=lambda kv: (kv[0] == UNALLOCATED, kv[0])):
            values = [_num(by_month.get(m, ZERO)) for m in months]
            trend.append({"team": team, "months": dict(zip(months, values)),
                          "change_last_month": _change(values)})
        chargeback: dict[str, float] = {}
        for r in rows:
            if r["mode"] == "chargeback":
                chargeback[r["team"]] = round(chargeback.get(r["team"], 0.0) + r["total"], 6)
        cur_out[cur] = {
            "rows": rows,
            "dimensions": {label: sorted(({"value": k, "cost": _num(v)} for k, v in vals.items()),
                                         key=lambda r: (r["value"] == UNALLOCATED, -r["cost"], r["value"]))
                           for label, vals in c["dims"].items()},
            "trend": trend,
            "months": months,
            "shared_total": _num(c["shared_total"]),
            "shared_allocated": _num(c["shared_total"] - c["shared_unallocated"]),
            "shared_unallocated": _num(c["shared_unallocated"]),
            "chargeback": chargeback,
        }
    return {
        "kind": "tagguard-bill-showback",
        "cost_column": a.cost_column,
        "files": a.files,
        "team_key": s.team_key,
        "environment_key": s.env_key,
        "allocate_shared_by": s.allocate_shared_by,
        "modes": {**s.modes, "default": s.default_mode},
        "currencies": cur_out,
        "shared_not_split": unsplit,
        "problems": a.problems,
        "notes": a.notes,
    }


def _change(values: list[float]) -> float | None:
    if len(values) < 2 or values[-2] == 0:
        return None
    return round((values[-1] - values[-2]) / abs(values[-2]), 6)


def ratio_rows(a: Analysis) -> list[tuple[str, str, str, str, Decimal, Decimal, int, int]]:
    """(month, currency, team, env, ratio, basis, index, count) for every split: what ``export`` joins on."""
    out = []
    for (month, cur), slot in sorted(split_ratios(a).items()):
        items = list(slot["ratios"].items())
        for i, ((team, env), ratio) in enumerate(items):
            out.append((month, cur, team, env, ratio, slot["basis"][(team, env)], i + 1, len(items)))
    return out
