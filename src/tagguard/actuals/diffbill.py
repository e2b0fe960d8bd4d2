"""``tagguard diff --bill PATH``: judge each budget on the team's ACTUAL run-rate plus the change.

A scan prices what one repository declares; a team's budget is spent by everything it runs. With a
FOCUS bill, each budget's figure becomes

    actual run-rate (the bill's month to date / days it covers x days in the month)
    + the change's monthly delta for that budget (head projection - base projection, same policy)

and a budget is over when that figure, or the repository's own projection, exceeds ``monthly_usd``
(the repository may declare what the bill does not show yet). As with the repository-only judgement,
an overage the change does not add to (delta <= 0) is pre-existing: reported in ``budgets`` with its
figures, counted as a hidden pre-existing finding, never blocking an unrelated change.

The bill is read (DuckDB) before anything is scanned, so an unusable bill is one line and exit 2.
Nothing here is imported unless ``--bill`` is given.  What it adds to ``BudgetReport.actual`` is
rendered by the formats (``formats.diff.bill_lines``, the PR comment in ``formats.markdown``).
"""
from __future__ import annotations

from typing import Any
from collections.abc import Sequence

from tagguard.formats.helpers import money as _money
from tagguard.formats.helpers import signed_money as _signed

EPS = 0.005


def read_bill(paths: Sequence[str], config, month: str | None = None) -> dict[str, Any]:
    """The bill's budget report (``actuals.budgets.budget_report``) for ``month`` (default: its latest)."""
    from tagguard.actuals.budgets import budget_report
    from tagguard.actuals.coverage import analyse, settings_from_config
    from tagguard.actuals.focus import open_source

    settings = settings_from_config(config)
    source = open_source(list(paths), cost_column=settings.cost_column, memory_limit=settings.memory_limit,
                         threads=settings.threads)
    report = budget_report(analyse(source, config, settings), config, month)
    report["paths"] = [str(p) for p in paths]
    return report




def _source(bill: dict[str, Any]) -> str:
    files = bill.get("files") or bill.get("paths") or []
    shown = ", ".join(str(f) for f in files[:3])
    return shown + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def apply(result, base_budgets: dict[str, dict[str, Any]], bill: dict[str, Any], config, root) -> int:
    """Add the bill's actual run-rate to every budget of ``result`` (``BudgetReport.actual``), raise or
    add ``over-budget`` findings the change causes; return how many pre-existing overages were hidden."""
    from tagguard.cost import budgets as bud
    from tagguard import rules
    from tagguard.model import ERROR, WARNING, Finding
    from tagguard.rules.cost import OVER_BUDGET

    rates = {b["name"]: b for b in bill.get("budgets") or []}
    notes = list(bill.get("notes") or []) + list(bill.get("problems") or [])
    hidden = 0
    for b in result.budgets or []:
        rate = rates.get(b.name)
        base = base_budgets.get(b.name) or {}
        delta = round(b.projected_usd - float(base.get("projected_usd") or 0.0), 2)
        actual: dict[str, Any] = {"source": _source(bill), "files": list(bill.get("files") or []),
                                  "month": bill.get("month"), "cost_column": bill.get("cost_column"),
                                  "days_covered": bill.get("days_covered"), "days_in_month": bill.get("days_in_month"),
                                  "change_delta_usd": delta, "notes": notes}
        b.actual = actual
        run_rate = None if rate is None else rate.get("forecast_usd")
        if b.monthly_usd is None or rate is None or run_rate is None:
            actual.update(evaluated=False, reason=(
                "monthly_gpu_hours budgets are not evaluated on the bill" if b.monthly_usd is None else
                "the bill has no charges to measure this budget on" if rate is not None else
                "the bill was read without this budget"))
            continue
        repo_over = b.over  # the repository's own overage: its finding was already kept or counted as hidden
        total = round(float(run_rate) + delta, 2)
        over = total > b.monthly_usd + EPS
        actual.update(evaluated=True, mtd_usd=rate.get("mtd_usd"), run_rate_usd=round(float(run_rate), 2),
                      projected_usd=total, over=over, overage_usd=round(total - b.monthly_usd, 2))
        if not over:
            continue
        b.over = True
        existing = next((f for f in result.findings
                         if f.rule == "over-budget" and f.extra.get("budget") == b.name), None)
        if delta <= EPS:
            if existing is None and not repo_over:
                hidden += 1  # over on the bill already; this change adds nothing to it
            continue
        said = (f"with the bill, actual run-rate {_money(actual['run_rate_usd'])}/month ({_source(bill)}, "
                f"{actual['month']}: {_money(actual['mtd_usd'])} month to date over {actual['days_covered']} of "
                f"{actual['days_in_month']} days) {_signed(delta)}/month from this change = {_money(total)}/month, "
                f"{_money(actual['overage_usd'])} over the {_money(b.monthly_usd)} budget")
        if existing is not None:
            existing.message += "; " + said
            existing.extra["actual"] = {k: v for k, v in actual.items() if k != "notes"}
            continue
        match = ", ".join(f"{k}={'|'.join(v)}" for k, v in b.match.items()) or "all AI resources"
        f = Finding(rule="over-budget", category=OVER_BUDGET, severity=ERROR if b.mode == "chargeback" else WARNING,
                    address=f"budget:{b.name}", file=bud.config_rel(config, root), line=bud.config_line(config, b.name),
                    message=(f"budget {b.name!r} ({match}, {b.mode}): the repository projects "
                             f"{_money(b.projected_usd)}/month, but " + said),
                    fix=("reduce or move the matching resources, or raise the budget in .tagguard.yaml after sign-off "
                         f"(the team already runs at {_money(actual['run_rate_usd'])}/month on the bill)"),
                    extra={"budget": b.name, "mode": b.mode, "projected_usd": total,
                           "overage_usd": actual["overage_usd"],
                           "budget_usd": b.monthly_usd, "repository_projected_usd": round(b.projected_usd, 2),
                           "actual": {k: v for k, v in actual.items() if k != "notes"}})
        result.findings.extend(rules.apply_severities([f], config.rule_overrides))
    return hidden
