"""Budgets on actual spend: each ``budgets:`` entry's month-to-date actual and a forecast to month end.

The budgets are the ones a scan checks (``tagguard.cost.budgets.load_budgets``: ``match`` on tag values,
``monthly_usd``, ``mode``, ``kind``). On the bill:

* ``kind: gpu`` sums AI charges whose usage is GPU time, ``tokens`` token-billed calls, ``all`` all AI
  spend; shared platform charges are not in any budget;
* a charge matches when its tags (provider prefixes stripped) carry every ``match`` key with an
  accepted value; a charge with malformed Tags matches nothing;
* month-to-date = the month's matching spend in USD (budgets are in USD; other currencies are reported,
  not converted); forecast = month-to-date / days the bill covers x days in the month (a linear
  run-rate; the bill's last charge day is how far the month is covered);
* ``monthly_gpu_hours`` is not evaluated on the bill (FOCUS quantities are not GPU-hours in general).

``run_rates(paths, config)`` is the entry point for ``tagguard diff --bill PATH``: it returns, per
budget, the actual month-to-date and forecast a change's monthly delta can be added to.
"""
from __future__ import annotations

import calendar
from decimal import Decimal
from typing import Any
from collections.abc import Sequence

from tagguard.actuals import BillError
from tagguard.actuals.coverage import ZERO, Analysis, _num
from tagguard.formats.helpers import money

USAGE_OF_KIND = {"gpu": ("gpu",), "tokens": ("tokens",), "all": ("gpu", "tokens", "ai")}


def _load(config):
    from tagguard.cost.budgets import BudgetConfigError, load_budgets

    try:
        return load_budgets(config.section("budgets") if config is not None else None)
    except BudgetConfigError as exc:
        raise BillError(str(exc)) from None


def _matches(budget, tags: dict[str, str]) -> bool:
    for key, wanted in budget.match.items():
        value = tags.get(key)
        if value in (None, ""):
            return False
        if "*" not in wanted and value not in wanted:
            return False
    return True


def budget_report(a: Analysis, config, month: str | None = None) -> dict[str, Any]:
    budgets = _load(config)
    months = sorted({t["month"] for t in a.totals if t["month"]})
    if month is None:
        month = months[-1] if months else None
    last_day = max((t["last_day"] for t in a.totals if t["month"] == month and t.get("last_day")), default=None)
    out: dict[str, Any] = {"kind": "tagguard-bill-budgets", "cost_column": a.cost_column, "files": a.files,
                           "month": month, "budgets": [], "problems": list(a.problems), "notes": list(a.notes)}
    if month is None or last_day is None:
        out["notes"].append("no charges in the bill: no month to measure budgets on")
        return out
    year, mon = (int(x) for x in month.split("-"))
    days_in_month = calendar.monthrange(year, mon)[1]
    days_covered = int(last_day[8:10])
    out.update({"days_covered": days_covered, "days_in_month": days_in_month, "last_charge_day": last_day})
    other_currencies = sorted({ch.currency for ch in a.charges if ch.month == month and ch.currency != "USD"})
    if other_currencies:
        out["notes"].append(f"budgets are in USD; spend in {', '.join(other_currencies)} is not converted or counted")
    for b in budgets:
        mtd = ZERO
        charges = 0
        if b.monthly_usd is not None:
            usages = USAGE_OF_KIND[b.kind]
            for ch in a.charges:
                if ch.month != month or ch.currency != "USD" or ch.kind != "ai" or ch.usage not in usages:
                    continue
                if ch.verdict.malformed or not _matches(b, ch.verdict.tags):
                    continue
                mtd += ch.cost
                charges += ch.rows
        forecast = mtd * Decimal(days_in_month) / Decimal(days_covered) if days_covered else None
        row: dict[str, Any] = {"name": b.name, "mode": b.mode, "kind": b.kind, "match": b.match,
                               "monthly_usd": b.monthly_usd, "mtd_usd": _num(mtd),
                               "forecast_usd": _num(forecast) if forecast is not None else None, "rows": charges}
        if b.monthly_usd is None:
            row["status"] = "not evaluated"
            row["reason"] = "monthly_gpu_hours budgets are not evaluated on the bill"
        elif mtd > Decimal(str(b.monthly_usd)):
            row["status"] = "over"
        elif forecast is not None and forecast > Decimal(str(b.monthly_usd)):
            row["status"] = "forecast over"
        else:
            row["status"] = "within"
        if b.monthly_usd is not None and b.monthly_gpu_hours is not None:
            row["reason"] = "monthly_gpu_hours is not evaluated on the bill"
        out["budgets"].append(row)
    return out


def blocking(report: dict[str, Any]) -> bool:
    """A chargeback budget over (or forecast over) its monthly_usd."""
    return any(b["mode"] == "chargeback" and b["status"] in ("over", "forecast over") for b in report["budgets"])


def run_rates(paths: Sequence[str], config, month: str | None = None, cost_column: str | None = None
              ) -> dict[str, dict[str, Any]]:
    """For ``tagguard diff --bill PATH``: budget name -> {month, mtd_usd, forecast_usd, days_covered,
    days_in_month, status}. Raises BillError (one line) on unusable input."""
    from tagguard.actuals.coverage import analyse, settings_from_config
    from tagguard.actuals.focus import open_source

    settings = settings_from_config(config, cost_column=cost_column)
    source = open_source(list(paths), cost_column=settings.cost_column, memory_limit=settings.memory_limit,
                         threads=settings.threads)
    report = budget_report(analyse(source, config, settings), config, month)
    return {b["name"]: {"month": report["month"], "mtd_usd": b["mtd_usd"], "forecast_usd": b["forecast_usd"],
                        "days_covered": report.get("days_covered"), "days_in_month": report.get("days_in_month"),
                        "status": b["status"]} for b in report["budgets"]}


def budgets_text(r: dict[str, Any]) -> str:
    from tagguard.actuals.report import _term as t

    out: list[str] = [f"Budgets on actual spend ({r['cost_column']}), month {t(r['month'] or 'n/a')}"
                      + (f": bill covers {r['days_covered']} of {r['days_in_month']} days"
                         f" (last charge {t(r['last_charge_day'])})"
                         if r.get("days_covered") else "") + "\n"]
    for b in r["budgets"]:
        limit = money(b["monthly_usd"])
        fc = money(b["forecast_usd"])
        out.append(f"  {t(b['name']):<28} {b['status']:<14} month-to-date {money(b['mtd_usd'])}  forecast {fc}  "
                   f"budget {limit}  ({b['mode']}, {b['kind']})\n")
        if b.get("reason"):
            out.append(f"      {t(b['reason'])}\n")
    if not r["budgets"]:
        out.append("  no budgets configured (budgets: in .tagguard.yaml)\n")
    for n in r["notes"]:
        out.append(f"note: {t(n)}\n")
    for p in r["problems"]:
        out.append(f"warning: {t(p)}\n")
    return "".join(out)
