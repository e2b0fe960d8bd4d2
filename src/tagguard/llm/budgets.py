"""Token budgets: the ``budgets:`` config applied to LLM token spend.

Same shape as the cost budgets (``budgets:`` in ``.tagguard.yaml``)::

    budgets:
      - name: research-llm
        match: {business-unit: research}      # every tag must equal (a list means any of)
        monthly_usd: 5000
        monthly_gpu_hours: 2000               # GPU only; ignored for tokens
        mode: chargeback                      # chargeback (over budget = error) | showback (warning)
        kind: tokens                          # tokens | gpu | all (default all)

``kind: gpu`` budgets are not token budgets and are skipped here; ``kind: all``
budgets cover GPUs and tokens, and ``tagguard usage`` sees only the token part,
so it checks the token spend alone against the whole ``monthly_usd`` (the
showback report adds the two).  For the last month in the data, a month still
in progress is also projected to its end (spend so far / days seen x days in
the month) and a projected overrun is a warning.
"""
from __future__ import annotations

import calendar
from typing import Any, Dict, List, Optional, Sequence

from tagguard.model import ERROR, WARNING, Finding

KINDS = ("tokens", "gpu", "all")
MODES = ("chargeback", "showback")


class BudgetConfigError(ValueError):
    pass


def load_budgets(raw: Any) -> List[Dict[str, Any]]:
    """Validated token-relevant budgets from the ``budgets`` config section."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BudgetConfigError("budgets: expected a list")
    out = []
    for i, b in enumerate(raw):
        w = f"budgets[{i}]"
        if not isinstance(b, dict):
            raise BudgetConfigError(f"{w}: expected a mapping")
        name = b.get("name")
        if not isinstance(name, str) or not name:
            raise BudgetConfigError(f"{w}.name: expected text")
        match = b.get("match") or {}
        if not isinstance(match, dict) or not all(isinstance(v, (str, list)) for v in match.values()):
            raise BudgetConfigError(f"{w}.match: expected a mapping of tag to value (or list of values)")
        kind = b.get("kind", "all")
        if kind not in KINDS:
            raise BudgetConfigError(f"{w}.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
        mode = b.get("mode", "chargeback")
        if mode not in MODES:
            raise BudgetConfigError(f"{w}.mode: expected one of {', '.join(MODES)}, got {mode!r}")
        usd = b.get("monthly_usd")
        if usd is not None and (isinstance(usd, bool) or not isinstance(usd, (int, float)) or usd < 0):
            raise BudgetConfigError(f"{w}.monthly_usd: expected a number >= 0")
        if kind == "gpu" or usd is None:
            continue
        out.append({"name": name, "match": {str(k): ([str(x) for x in v] if isinstance(v, list) else str(v))
                                            for k, v in match.items()},
                    "monthly_usd": float(usd), "mode": mode, "kind": kind})
    return out


def matches(match: Dict[str, Any], tags: Dict[str, str]) -> bool:
    for k, want in match.items():
        have = tags.get(k)
        if isinstance(want, list):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


def evaluate(budgets: Sequence[Dict[str, Any]], agg: Any) -> (List[Dict[str, Any]], List[Finding]):
    """Token spend per budget and calendar month; findings for overruns and projected overruns."""
    if not budgets:
        return [], []
    from tagguard.llm.aggregate import COST

    spend: Dict[tuple, float] = {}
    last_day: Dict[str, str] = {}
    matched: Dict[int, List[int]] = {}
    for ci, caller in enumerate(agg.caller_list):
        matched[ci] = [bi for bi, b in enumerate(budgets) if matches(b["match"], caller.tags)]
    for (day, ci, _model), cell in agg.cube.items():
        month = day[:7]
        if day > last_day.get(month, ""):
            last_day[month] = day
        for bi in matched[ci]:
            k = (bi, month)
            spend[k] = spend.get(k, 0.0) + cell[COST]
    latest = max(last_day) if last_day else None
    rows: List[Dict[str, Any]] = []
    findings: List[Finding] = []
    for bi, b in enumerate(budgets):
        months = sorted({m for (i, m) in spend if i == bi}) or ([latest] if latest else [])
        for month in months:
            used = spend.get((bi, month), 0.0)
            row: Dict[str, Any] = {"name": b["name"], "month": month, "kind": b["kind"], "mode": b["mode"],
                                   "match": b["match"], "monthly_usd": b["monthly_usd"],
                                   "token_spend_usd": round(used, 2),
                                   "used_pct": round(100.0 * used / b["monthly_usd"], 1) if b["monthly_usd"] else None}
            projected: Optional[float] = None
            if month == latest:
                y, m = int(month[:4]), int(month[5:7])
                days_in = calendar.monthrange(y, m)[1]
                seen = int(last_day[month][8:10])
                if seen < days_in:
                    projected = used / seen * days_in
                    row["projected_usd"] = round(projected, 2)
            rows.append(row)
            scope = ", ".join(f"{k}={v}" for k, v in b["match"].items()) or "all calls"
            note = " (token spend alone; kind: all also covers GPUs, see `tagguard report showback`)" if b["kind"] == "all" else ""
            if used > b["monthly_usd"]:
                findings.append(Finding(
                    rule="token-budget", category="over_budget",
                    severity=ERROR if b["mode"] == "chargeback" else WARNING,
                    message=f"budget `{b['name']}` ({scope}): token spend in {month} is ${used:,.2f}, over its "
                            f"${b['monthly_usd']:,.2f} monthly budget{note}",
                    address=f"budget:{b['name']}", extra={"month": month, "spend_usd": round(used, 2),
                                                         "monthly_usd": b["monthly_usd"], "mode": b["mode"]}))
            elif projected is not None and projected > b["monthly_usd"]:
                findings.append(Finding(
                    rule="token-budget", category="over_budget", severity=WARNING,
                    message=f"budget `{b['name']}` ({scope}): ${used:,.2f} of token spend by {last_day[month]} projects "
                            f"to ${projected:,.2f} for {month}, over its ${b['monthly_usd']:,.2f} monthly budget{note}",
                    address=f"budget:{b['name']}", extra={"month": month, "spend_usd": round(used, 2),
                                                         "projected_usd": round(projected, 2),
                                                         "monthly_usd": b["monthly_usd"], "mode": b["mode"]}))
    return rows, findings
