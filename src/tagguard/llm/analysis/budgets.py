"""Token budgets: the ``budgets:`` config applied to LLM token spend.

Same shape as the cost budgets (``budgets:`` in ``.tagguard.yaml``)::

    budgets:
      - name: research-llm
        match: {business-unit: research}      # every tag must match (a list: any of; "*": any value)
        monthly_usd: 5000
        monthly_gpu_hours: 2000               # GPU only; ignored for tokens
        mode: chargeback                      # chargeback (over budget = error) | showback (warning)
        kind: tokens                          # gpu (default) | tokens | all

``kind: gpu`` budgets (the default) are not token budgets and are skipped here; ``kind: all``
budgets cover GPUs and tokens, and ``tagguard usage`` sees only the token part,
so it checks the token spend alone against the whole ``monthly_usd`` (the
showback report adds the two).  For the last month in the data, a month still
in progress is also projected to its end (spend so far / days seen x days in
the month) and a projected overrun is a warning.
"""
from __future__ import annotations

import calendar
from typing import Any
from collections.abc import Sequence

from tagguard.formats.helpers import money
from tagguard.model import ERROR, WARNING, Finding



class BudgetConfigError(ValueError):
    pass


def load_budgets(raw: Any) -> list[dict[str, Any]]:
    """Validated token-relevant budgets (``kind: tokens`` or ``all`` with ``monthly_usd``).

    Validation is ``tagguard.cost.budgets.load_budgets`` (the cost budgets' own loader), so both
    readings of the section agree; its default kind is ``gpu``, which token spend ignores.
    """
    from tagguard.cost import budgets as core
    try:
        loaded = core.load_budgets(raw)
    except core.BudgetConfigError as exc:
        raise BudgetConfigError(str(exc)) from None
    return [{"name": b.name, "match": {k: list(v) for k, v in b.match.items()}, "monthly_usd": float(b.monthly_usd),
             "mode": b.mode, "kind": b.kind}
            for b in loaded if b.kind in ("tokens", "all") and b.monthly_usd is not None]


def matches(match: dict[str, list[str]], tags: dict[str, str]) -> bool:
    """Every key present and equal to one of the listed values (``"*"``: any value)."""
    for k, want in match.items():
        have = tags.get(k)
        if have is None:
            return False
        if "*" not in want and have not in want:
            return False
    return True


def evaluate(budgets: Sequence[dict[str, Any]], agg: Any) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Token spend per budget and calendar month; findings for overruns and projected overruns."""
    if not budgets:
        return [], []
    from tagguard.llm.analysis.aggregate import COST

    spend: dict[tuple, float] = {}
    last_day: dict[str, str] = {}
    matched: dict[int, list[int]] = {}
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
    rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for bi, b in enumerate(budgets):
        months = sorted({m for (i, m) in spend if i == bi}) or ([latest] if latest else [])
        for month in months:
            used = spend.get((bi, month), 0.0)
            row: dict[str, Any] = {"name": b["name"], "month": month, "kind": b["kind"], "mode": b["mode"],
                                   "match": b["match"], "monthly_usd": b["monthly_usd"],
                                   "token_spend_usd": round(used, 2),
                                   "used_pct": round(100.0 * used / b["monthly_usd"], 1) if b["monthly_usd"] else None}
            projected: float | None = None
            if month == latest:
                y, m = int(month[:4]), int(month[5:7])
                days_in = calendar.monthrange(y, m)[1]
                seen = int(last_day[month][8:10])
                if seen < days_in:
                    projected = used / seen * days_in
                    row["projected_usd"] = round(projected, 2)
            rows.append(row)
            # values as written (research, or research|ads for a list), never a Python list repr
            scope = ", ".join(f"{k}={'|'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                              for k, v in b["match"].items()) or "all calls"
            note = (" (token spend alone; kind: all also covers GPUs, see `tagguard report showback`)"
                    if b["kind"] == "all" else "")
            if used > b["monthly_usd"]:
                findings.append(Finding(
                    rule="token-budget", category="over_budget",
                    severity=ERROR if b["mode"] == "chargeback" else WARNING,
                    message=f"budget `{b['name']}` ({scope}): token spend in {month} is {money(used)}, over its "
                            f"{money(b['monthly_usd'])} monthly budget{note}",
                    address=f"budget:{b['name']}", extra={"month": month, "spend_usd": round(used, 2),
                                                         "monthly_usd": b["monthly_usd"], "mode": b["mode"]}))
            elif projected is not None and projected > b["monthly_usd"]:
                findings.append(Finding(
                    rule="token-budget", category="over_budget", severity=WARNING,
                    message=f"budget `{b['name']}` ({scope}): {money(used)} of token spend by {last_day[month]} "
                            f"projects to {money(projected)} for {month}, "
                            f"over its {money(b['monthly_usd'])} monthly budget{note}",
                    address=f"budget:{b['name']}", extra={"month": month, "spend_usd": round(used, 2),
                                                         "projected_usd": round(projected, 2),
                                                         "monthly_usd": b["monthly_usd"], "mode": b["mode"]}))
    return rows, findings
