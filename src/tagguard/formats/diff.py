"""The ``tagguard diff`` result for people: the pieces both renderings share (verdict line, signed
amounts, the cost-diff dimensions) and the text rendering.  The pull-request comment is
``formats.markdown.render_diff``.

Rendering lives here, with the formats, not in ``state.diffing`` (which computes the diff): the two
used to import each other.
"""
from __future__ import annotations

from typing import Any

from tagguard.formats.escape import guard_commands, term, term_block
from tagguard.formats.helpers import money, plural, signed_money
from tagguard.formats.text import TextFormatter
from tagguard.model import ScanResult

# --- rendering --------------------------------------------------------------------------------

MARKER = "<!-- tagguard-report -->"
TEAM_TITLES = {"business-unit": "Business unit", "project": "Project", "cost-center": "Cost center"}
HEAD_TEAM_ROWS = 20


def dimension_titles(cd: dict[str, Any]) -> list[tuple[str, str]]:
    """(tag key, title) per dimension the cost diff was broken down by, in configured order."""
    dims = cd.get("dimensions")
    if isinstance(dims, dict) and dims:
        return [(str(key), str(label).replace("_", " ").replace("-", " ").capitalize()) for label, key in dims.items()]
    return [(k, TEAM_TITLES.get(k, k)) for k in (cd.get("by") or {})]


def parts(result: ScanResult) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``diff`` and ``cost_diff`` parts as the JSON report has them, for the renderers."""
    return (result.diff.to_json() if result.diff is not None else {},
            result.cost_diff.to_json() if result.cost_diff is not None else {})


signed = signed_money  # the name the diff renderers use


def counts(diff: dict[str, Any]) -> str:
    return f"{len(diff['added'])} added, {len(diff['changed'])} changed, {len(diff['removed'])} removed AI resources"


def summary_line(result: ScanResult) -> str:
    diff, cd = parts(result)
    s = result.summary()
    sev = s["by_severity"]
    verdict = "FAIL" if s["exit_code"] else "PASS"
    gpu = cd.get("gpu_hours_delta_per_month") or 0
    text = (f"{verdict}: {signed(cd.get('total_delta_monthly_usd', 0.0))}/month "
            f"({'+' if gpu > 0 else ''}{gpu:,.0f} GPU-hours/month) vs {diff.get('base')}; {counts(diff)}; "
            f"{plural(sev.get('error', 0), 'new error')}, {plural(sev.get('warning', 0), 'warning')}")
    if cd.get("unpriced_changes"):
        text += f"; {plural(cd['unpriced_changes'], 'change')} without a known rate"
    if cd.get("lower_bound_changes"):  # deltas from or to a floor (price-lower-bound)
        text += (f"; {signed(cd.get('lower_bound_delta_monthly_usd'))} of it from "
                 f"{plural(cd['lower_bound_changes'], 'change')} priced at a lower bound")
    hidden = diff.get("preexisting_findings_hidden") or 0
    if hidden:
        text += f"; {plural(hidden, 'pre-existing finding')} not shown"
    return text


def render_text(result: ScanResult, color: bool = False) -> str:
    diff, cd = parts(result)
    lines = [f"tagguard diff against {diff.get('base')} ({str(diff.get('base_commit', ''))[:12]})", ""]
    rows = [("+", x) for x in diff.get("added", [])] + [("~", x) for x in diff.get("changed", [])] + \
           [("-", x) for x in diff.get("removed", [])]
    if rows:
        lines.append("AI resources:")
        for mark, x in rows:
            what = f" ({', '.join(x['changed'])})" if x.get("changed") else ""
            delta = x.get("delta_monthly_usd")
            shown = f"{signed(delta):>14}/month" if delta is not None else f"{'n/a':>14} (no known rate)"
            lines.append(f"  {mark} {x['address']:<60} {shown}{what}")
        lines.append("")
    for key, title in dimension_titles(cd):
        groups = (cd.get("by") or {}).get(key) or []
        if groups:
            lines.append(f"By {title.lower()}:")
            for g in groups:
                extra = f" ({g['unpriced']} unpriced)" if g.get("unpriced") else ""
                lines.append(f"  {g['value']:<40} {signed(g['delta_monthly_usd']):>14}/month{extra}")
            lines.append("")
    lines.extend(bill_lines(result))
    body = TextFormatter().format(result, color=color)
    # addresses and tag values are data: control characters escaped, no line a workflow command
    return guard_commands(term_block("\n".join(lines) + "\n") + body + term(summary_line(result)) + "\n")


def bill_lines(result: ScanResult) -> list[str]:
    """Budgets judged on the bill, for ``tagguard diff``'s text output (values escaped by the caller)."""
    rows = [(b, b.actual) for b in result.budgets or [] if b.actual]
    if not rows:
        return []
    first = rows[0][1]
    out = [f"Budgets on the bill's actual run-rate ({first.get('source')}, {first.get('month') or 'no month'}, "
           f"{first.get('cost_column')}):"]
    for b, a in rows:
        if not a.get("evaluated"):
            out.append(f"  {b.name:<28} not evaluated: {a.get('reason')}")
            continue
        out.append(f"  {b.name:<28} {'OVER' if a['over'] else 'within':<7} actual {money(a['run_rate_usd'])}/month "
                   f"(month to date {money(a['mtd_usd'])}, {a['days_covered']} of {a['days_in_month']} days) "
                   f"{signed_money(a['change_delta_usd'])} this change = {money(a['projected_usd'])} "
                   f"of {money(b.monthly_usd)}")
    for n in first.get("notes") or []:
        out.append(f"  note: {n}")
    return out + [""]
