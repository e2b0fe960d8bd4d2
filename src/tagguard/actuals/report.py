"""Text, Markdown and JSON renderings of the bill reports.

Every value that came from a billing file (resource ids, service names, tag values, messages that
quote them, file names) goes through ``term`` (terminal) or ``md_text`` (Markdown).
"""
from __future__ import annotations

import json
from typing import Any

from tagguard.formats.helpers import money as _money

from tagguard.formats.escape import md_text as _md
from tagguard.formats.escape import term as _term


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=str) + "\n"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x * 100:.1f}%"




def _where(row: dict[str, Any]) -> str:
    if row.get("file"):
        return f"{row['file']}:{row['line']}" if row.get("line") else str(row["file"])
    return ""


# --- coverage -----------------------------------------------------------------------------

def coverage_text(r: dict[str, Any]) -> str:
    t = _term
    out: list[str] = []
    out.append(f"AI spend allocation coverage ({r['cost_column']}, {len(r['files'])} file(s), "
               f"months {t(', '.join(r['months'])) or 'none'})\n")
    if r["empty"]:
        out.append("no charges in the input: nothing to measure\n")
    for cur, c in r["currencies"].items():
        out += _coverage_currency_text(r, cur, c)
    if r["training_runs"]:
        out.append("\ncost per training run (jobs named by the bill):\n")
        for tr in r["training_runs"][:10]:
            out.append(f"    {_money(tr['cost'], t(tr['currency'])):>14}  {t(tr['resource_id'])}"
                       f"  team {t(tr['team'])}\n")
    mt = r["malformed_tags"]
    if mt["rows"]:
        out.append(f"\nmalformed Tags JSON: {mt['rows']} row(s), "
                   + ", ".join(_money(v, t(k)) for k, v in mt["cost"].items()) + " (counted as unallocated)\n")
    if r["empty_bill_months"]:
        out.append(f"no charges at all in: {t(', '.join(r['empty_bill_months']))}\n")
    if len(r["currencies"]) > 1:
        out.append(f"several billing currencies ({t(', '.join(r['currencies']))}): reported separately, never summed\n")
    for n in r["notes"]:
        out.append(f"note: {t(n)}\n")
    for p in r["problems"]:
        out.append(f"warning: {t(p)}\n")
    return "".join(out)


def _coverage_currency_text(r: dict[str, Any], cur: str, c: dict[str, Any]) -> list[str]:
    """One billing currency of the coverage report."""
    t = _term
    out: list[str] = []
    m = lambda x, cur=cur: _money(x, t(cur))  # noqa: E731
    out.append(f"\n[{t(cur)}] AI spend {m(c['ai_total'])} of {m(c['bill_total'])} billed "
               f"({_pct(c['ai_share_of_bill'])}); allocated {m(c['allocated'])} = {_pct(c['coverage'])}"
               + (f"; credits {m(c['credits'])}" if c["credits"] else "")
               + (f"; shared platform {m(c['shared_total'])}" if c["shared_total"] else "") + "\n")
    if c["ai_total"] <= 0:
        out.append("  coverage n/a: no positive AI spend in this currency\n")
    out.append("  by required key:\n")
    for k, v in c["by_key"].items():
        out.append(f"    {t(k):<24} {_pct(v['coverage']):>7}  {m(v['allocated'])}\n")
    for title, key, label in (("month", "by_month", "month"), ("account", "by_account", "account"),
                              ("service", "by_service", "service"),
                              ("team (" + t(r["team_key"]) + ")", "by_team", "team")):
        out.append(f"  by {title}:\n")
        for row in c[key][:15]:
            out.append(f"    {t(row[label]):<40} {_pct(row['coverage']):>7}  {m(row['ai_cost'])}\n")
        if len(c[key]) > 15:
            out.append(f"    ... {len(c[key]) - 15} more\n")
    if c["empty_months"]:
        out.append(f"  no AI charges in: {t(', '.join(c['empty_months']))}\n")
    if c["pricing_by_team"]:
        out.append("  pricing by team (spot = PricingCategory Dynamic):\n")
        for row in c["pricing_by_team"]:
            out.append(f"    {t(row['team']):<28} spot {_pct(row['spot_share']):>6}"
                       f"  committed {_pct(row['committed_share']):>6}"
                       f"  on-demand {_pct(row['on_demand_share']):>6}"
                       f"  other {_pct(row['other_share']):>6}  of {m(row['total'])}\n")
    if c["top_unallocated"]:
        out.append(f"  top unallocated resources ({c['unallocated_resources']} in all):\n")
        for row in c["top_unallocated"]:
            where = _where(row)
            out.append(f"    {m(row['cost']):>14}  {t(row['resource_id'])}"
                       f"  [{t(row['service'])}, {t(row['account'])}]"
                       + (f"  fix at {t(where)}" if where else "") + "\n")
            for p in row["problems"][:4]:
                out.append(f"        - {t(p)}\n")
    return out


def coverage_markdown(r: dict[str, Any]) -> str:
    md = _md
    out: list[str] = [f"## AI spend allocation coverage\n\nCost column: `{md(r['cost_column'])}`; "
                      f"{len(r['files'])} file(s); months: {md(', '.join(r['months'])) or 'none'}.\n\n"]
    for cur, c in r["currencies"].items():
        m = lambda x, cur=cur: md(_money(x, cur))  # noqa: E731
        out.append(f"### {md(cur)}\n\n| | |\n|---|---|\n| AI spend | {m(c['ai_total'])} of {m(c['bill_total'])} "
                   f"({_pct(c['ai_share_of_bill'])}) |\n| allocated | {m(c['allocated'])} ({_pct(c['coverage'])}) |\n"
                   f"| credits | {m(c['credits'])} |\n| shared platform | {m(c['shared_total'])} |\n\n")
        out.append("| required key | coverage | allocated |\n|---|---:|---:|\n")
        for k, v in c["by_key"].items():
            out.append(f"| {md(k)} | {_pct(v['coverage'])} | {m(v['allocated'])} |\n")
        for title, key, label in (("team", "by_team", "team"), ("month", "by_month", "month"),
                                  ("account", "by_account", "account"), ("service", "by_service", "service")):
            out.append(f"\n| {title} | coverage | AI spend |\n|---|---:|---:|\n")
            for row in c[key][:25]:
                out.append(f"| {md(row[label])} | {_pct(row['coverage'])} | {m(row['ai_cost'])} |\n")
        if c["top_unallocated"]:
            out.append("\n| unallocated resource | cost | service | what is wrong | fix at |\n|---|---:|---|---|---|\n")
            for row in c["top_unallocated"]:
                out.append(f"| {md(row['resource_id'])} | {m(row['cost'])} | {md(row['service'])} | "
                           f"{md('; '.join(row['problems'][:4]))} | {md(_where(row))} |\n")
        out.append("\n")
    mt = r["malformed_tags"]
    if mt["rows"]:
        out.append(f"Malformed `Tags` JSON: {mt['rows']} row(s), counted as unallocated.\n\n")
    for p in r["problems"]:
        out.append(f"- warning: {md(p)}\n")
    for n in r["notes"]:
        out.append(f"- note: {md(n)}\n")
    return "".join(out)


# --- showback -------------------------------------------------------------------------------

def showback_text(r: dict[str, Any]) -> str:
    t = _term
    out: list[str] = [f"Showback on actual AI spend ({r['cost_column']}; team = `{t(r['team_key'])}`, "
                      f"shared costs split by {t(r['allocate_shared_by'])} spend)\n"]
    for cur, c in r["currencies"].items():
        m = lambda x, cur=cur: _money(x, t(cur))  # noqa: E731
        out.append(f"\n[{t(cur)}] shared platform {m(c['shared_total'])}: {m(c['shared_allocated'])} allocated, "
                   f"{m(c['shared_unallocated'])} not\n")
        out.append(f"  {'team':<24} {'environment':<16} {'mode':<11} {'direct':>14} {'shared':>14} {'total':>14}\n")
        for row in c["rows"]:
            out.append(f"  {t(row['team']):<24} {t(row['environment']):<16} {row['mode']:<11} {m(row['direct']):>14} "
                       f"{m(row['shared']):>14} {m(row['total']):>14}\n")
        if c["chargeback"]:
            out.append("  chargeback: " + ", ".join(f"{t(k)} {m(v)}" for k, v in c["chargeback"].items()) + "\n")
        if c["months"]:
            out.append("  trend: " + " | ".join(t(x) for x in c["months"]) + "\n")
            for row in c["trend"]:
                ch = row["change_last_month"]
                out.append(f"    {t(row['team']):<24} " + " | ".join(m(v) for v in row["months"].values())
                           + (f"  ({ch * 100:+.1f}% last month)" if ch is not None else "") + "\n")
        for label, rows in c["dimensions"].items():
            out.append(f"  by {t(label)}: " + ", ".join(f"{t(x['value'])} {m(x['cost'])}" for x in rows[:10]) + "\n")
    for u in r["shared_not_split"]:
        out.append(f"warning: {t(u['month'])} {_money(u['cost'], t(u['currency']))}: {t(u['reason'])}\n")
    for n in r["notes"]:
        out.append(f"note: {t(n)}\n")
    for p in r["problems"]:
        out.append(f"warning: {t(p)}\n")
    return "".join(out)


def showback_markdown(r: dict[str, Any]) -> str:
    md = _md
    out: list[str] = [f"## Showback on actual AI spend\n\nCost column `{md(r['cost_column'])}`; shared costs split by "
                      f"{md(r['allocate_shared_by'])} spend (never evenly).\n\n"]
    for cur, c in r["currencies"].items():
        m = lambda x, cur=cur: md(_money(x, cur))  # noqa: E731
        out.append(f"### {md(cur)}\n\n"
                   "| team | environment | mode | direct | shared | total |\n|---|---|---|---:|---:|---:|\n")
        for row in c["rows"]:
            out.append(f"| {md(row['team'])} | {md(row['environment'])} | {row['mode']} | {m(row['direct'])} | "
                       f"{m(row['shared'])} | {m(row['total'])} |\n")
        out.append("\n")
    for u in r["shared_not_split"]:
        out.append(f"- warning: {md(u['month'])}: {md(u['reason'])}\n")
    for p in r["problems"]:
        out.append(f"- warning: {md(p)}\n")
    return "".join(out)
