"""``--format markdown``: a pull-request-comment style report.

The pieces are public so other reports (the cost diff, the nightly drift
report) can reuse them and stay under GitHub's comment size limit:

* ``render_summary_line(result)``     the one-line verdict
* ``render_findings_table(findings)`` a table by file and rule, rules linked to their docs
* ``render_details(findings)``        fixes per finding in a collapsible block
* ``details(summary, body)``          a ``<details>`` block
* ``escape_cell(text)``               text safe inside a table cell
* ``rule_url(rule)``                  where a rule's documentation lives
* ``fit(head, sections, limit)``      join sections, truncating the optional ones first
* ``render_report(result, sections_before=..., sections_after=...)`` the whole report
* ``render_diff(result)``             a ``tagguard diff`` result: the pull-request comment

Nothing here imports anything heavy.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any
from collections.abc import Iterable, Sequence

from tagguard.formats.base import Formatter
from tagguard.formats.diff import HEAD_TEAM_ROWS, MARKER, counts, dimension_titles, parts, signed
from tagguard.formats.helpers import money, plural, signed_money
from tagguard.formats.escape import md_code, md_html, md_text
from tagguard.model import ERROR, INFO, WARNING, Finding, ScanResult

# GitHub rejects issue/PR comments longer than 65,536 characters; keep a margin
# for the hidden marker and whatever a caller appends.
GITHUB_COMMENT_LIMIT = 65536
DEFAULT_LIMIT = 60000
RULE_DOCS_URL = "https://tagguard.dev/rules/{rule}"
TRUNCATED_NOTE = ("\n\n> Report truncated to fit GitHub's comment size limit; "
                  "the full report is in the job summary and the SARIF/JSON artifacts.\n")

_SEVERITY_ICON = {ERROR: ":x:", WARNING: ":warning:", INFO: ":information_source:"}


def rule_url(rule: str) -> str:
    """Documentation URL of a rule (``TAGGUARD_RULE_DOCS_URL`` overrides the pattern)."""
    return _rule_url(os.environ.get("TAGGUARD_RULE_DOCS_URL") or RULE_DOCS_URL, str(rule))


@lru_cache(maxsize=1024)
def _rule_url(pattern: str, rule: str) -> str:
    from urllib.parse import quote

    return pattern.replace("{rule}", quote(rule, safe="-_.~", errors="replace"))


def escape_cell(text: str | int | None) -> str:
    """Data as Markdown prose, safe in a table cell or a list item (``escape.md_text``):
    HTML, Markdown syntax, pipes and newlines escaped; @mentions, #refs and autolinks broken."""
    return md_text(text)


def code(text: str | None, cell: bool = True) -> str:
    """Inline code that survives backticks (and, with ``cell``, pipes) inside the text."""
    return md_code(text, cell=cell)


def rule_link(rule: str) -> str:
    """``[rule](docs url)``: the id escaped as text, the URL percent-encoded."""
    return f"[{md_text(rule, code_spans=False)}]({rule_url(rule)})"


def details(summary: str, body: str, open: bool = False) -> str:
    """A collapsible block; ``summary`` is text (escaped here: no Markdown is parsed inside HTML)."""
    attr = " open" if open else ""
    return f"<details{attr}><summary>{md_html(summary)}</summary>\n\n{body.rstrip()}\n\n</details>\n"


_plural = plural


def render_summary_line(result: ScanResult) -> str:
    s = result.summary()
    sev = s["by_severity"]
    verdict = ":x: **FAIL**" if s["exit_code"] else ":white_check_mark: **PASS**"
    parts = [_plural(s["ai_resources"], "AI resource"), f"{s['compliant_ai_resources']} compliant",
             _plural(sev.get(ERROR, 0), "error"), _plural(sev.get(WARNING, 0), "warning")]
    if sev.get(INFO):
        parts.append(f"{sev[INFO]} info")
    if s["suppressed"]:
        parts.append(f"{s['suppressed']} suppressed")
    line = f"{verdict}: " + ", ".join(parts)
    if s["ai_resources"]:
        line += f"; {money(s['monthly_usd'])}/month, {s['gpu_hours_per_month']:,} GPU-hours/month"
        if s["unpriced_ai_resources"]:
            line += f" ({s['unpriced_ai_resources']} unpriced)"
        if s.get("lower_bound_ai_resources"):  # floors of GPU requests no node information places
            line += (f", of which {money(s.get('lower_bound_monthly_usd') or 0)}/month is a lower bound over "
                     f"{plural(s['lower_bound_ai_resources'], 'resource')} (price-lower-bound)")
        if s.get("attributed_ai_resources"):  # shares of node pools priced in the scan: not added twice
            line += (f"; {money(s.get('attributed_monthly_usd') or 0)}/month of it attributed to "
                     f"{plural(s['attributed_ai_resources'], 'workload')} (counted once, on their node pools)")
    return line


def render_baseline_line(result: ScanResult) -> str | None:
    info = result.baseline
    if info is None:
        return None
    stale = info.stale
    text = (f"Baseline {code(info.path or 'baseline')} hid "
            f"{_plural(info.suppressed, 'known finding')}")
    if stale:
        n = len(stale)
        text += (f"; {n} stale entr{'y' if n == 1 else 'ies'} no longer match{'es' if n == 1 else ''} a finding "
                 f"(regenerate the baseline with `tagguard baseline create`)")
    return text + "."


def render_findings_table(findings: Sequence[Finding], *, link_docs: bool = True,
                          show_suppressed: bool = False, budget: int | None = None) -> str:
    """A Markdown table of findings sorted by file, line and rule.  With ``budget`` rows stop
    once the table is that long (``fit`` would cut the rest anyway; escaping them is wasted)."""
    rows = [f for f in findings if show_suppressed or not f.suppressed]
    if not rows:
        return ""
    rows = sorted(rows, key=lambda f: (f.file or "", f.line or 0, f.rule, f.address or "", f.tag or ""))
    head = "| File | Resource | Rule | Tag | Severity | Message |\n|---|---|---|---|---|---|\n"
    out: list[str] = [head]
    size = len(head)
    for f in rows:
        where = escape_cell(f.file or "(no file)") + (f":{escape_cell(f.line)}" if f.line else "")
        rule = rule_link(f.rule) if link_docs else escape_cell(f.rule)
        sev = f"{_SEVERITY_ICON.get(f.severity, '')} {f.severity}".strip()
        if f.suppressed:
            sev += f" (suppressed: {escape_cell(f.suppression_reason or 'no reason')})"
        message = f.message
        if f.address and message.startswith(f"{f.address}: "):
            message = message[len(f.address) + 2:]
        out.append(f"| {where} | {code(f.address)} | {rule} | {code(f.tag)} | {sev} | {escape_cell(message)} |\n")
        size += len(out[-1])
        if budget is not None and size > budget:
            break
    return "".join(out)


def render_rule_counts(findings: Sequence[Finding]) -> str:
    """A compact table: findings per file and rule."""
    counts: dict[tuple[str, str], int] = {}
    for f in findings:
        if f.suppressed:
            continue
        k = (f.file or "(no file)", f.rule)
        counts[k] = counts.get(k, 0) + 1
    if not counts:
        return ""
    out = ["| File | Rule | Findings |\n|---|---|---:|\n"]
    for (file, rule), n in sorted(counts.items()):
        out.append(f"| {escape_cell(file)} | {rule_link(rule)} | {n} |\n")
    return "".join(out)


def render_details(findings: Sequence[Finding], budget: int | None = None) -> str:
    """One bullet per active finding with its fix, grouped by file (``budget``: as for the table)."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        if not f.suppressed:
            groups.setdefault(f.file or "(no file)", []).append(f)
    out: list[str] = []
    size = 0
    for file in sorted(groups):
        out.append(f"**{escape_cell(file)}**\n\n")
        for f in sorted(groups[file], key=lambda x: (x.line or 0, x.rule, x.tag or "")):
            where = f"line {escape_cell(f.line)}: " if f.line else ""
            out.append(f"- {where}{escape_cell(f.message)} ({rule_link(f.rule)})\n")
            if f.fix:
                out.append(f"  - fix: {escape_cell(f.fix)}\n")
            size += len(out[-1]) + (len(out[-2]) if f.fix else 0)
            if budget is not None and size > budget:
                return "".join(out) + "\n"
        out.append("\n")
    return "".join(out)


def render_suppressed(findings: Sequence[Finding]) -> str:
    rows = [f for f in findings if f.suppressed]
    if not rows:
        return ""
    out = []
    for f in sorted(rows, key=lambda x: (x.file or "", x.line or 0, x.rule)):
        where = escape_cell(f.file or "(no file)") + (f":{escape_cell(f.line)}" if f.line else "")
        out.append(f"- {where} {code(f.address, cell=False)} {escape_cell(f.rule)}"
                   f"{' ' + code(f.tag, cell=False) if f.tag else ''}: "
                   f"{escape_cell(f.suppression_reason or 'no reason given')}\n")
    return "".join(out)


def fit(head: str, sections: Iterable[str], limit: int = DEFAULT_LIMIT, note: str = TRUNCATED_NOTE) -> str:
    """Join ``head`` and ``sections`` within ``limit`` characters.

    ``head`` (the summary) is never cut.  Sections are added in order; the first
    one that does not fit is cut at a line boundary (an open ``<details>`` is
    closed) and the rest are dropped, followed by ``note``.
    """
    sections = [s for s in sections if s]
    if len(head) + sum(len(s) for s in sections) <= limit or len(head) >= limit:
        return head + "".join(sections)
    text = head
    for section in sections:
        if len(text) + len(section) + len(note) <= limit:
            text += section
            continue
        room = limit - len(text) - len(note) - len("\n</details>\n")
        if room > 0:
            cut = section[:room]
            cut = cut[:cut.rfind("\n") + 1] if "\n" in cut else ""
            if cut.count("<details") > cut.count("</details>"):
                cut += "\n</details>\n"
            text += cut
        break
    return text + note


def render_report(result: ScanResult, *, title: str = "tagguard", limit: int = DEFAULT_LIMIT,
                  sections_before: Sequence[str] = (), sections_after: Sequence[str] = ()) -> str:
    """The whole report.  ``sections_before`` go right after the summary (e.g. a cost diff)."""
    head = [f"### {escape_cell(title)}\n\n", render_summary_line(result), "\n\n"]
    baseline = render_baseline_line(result)
    if baseline:
        head.append(baseline + "\n\n")
    for err in result.errors:
        head.append(f"> :warning: {escape_cell(err.get('message') or str(err))}\n\n")
    active = [f for f in result.findings if not f.suppressed]
    sections: list[str] = list(sections_before)
    if active:
        sections.append(render_rule_counts(active) + "\n")
        sections.append(details(f"{_plural(len(active), 'finding')}", render_findings_table(active, budget=limit),
                                open=len(active) <= 20))
        sections.append(details("How to fix", render_details(active, budget=limit)))
    suppressed = render_suppressed(result.findings)
    if suppressed:
        n = len([f for f in result.findings if f.suppressed])
        sections.append(details(f"{_plural(n, 'suppressed finding')}", suppressed))
    sections.extend(sections_after)
    return fit("".join(head), sections, limit)


# --- a `tagguard diff` result: the pull-request comment ------------------------------------


def _diff_team_table(groups: list[dict[str, Any]], title: str, limit: int | None = None) -> str:
    shown = groups if limit is None else groups[:limit]
    out = [f"| {title} | Δ $/month | Changes |\n|---|---:|---:|\n"]
    for g in shown:
        unpriced = f" ({g['unpriced']} unpriced)" if g.get("unpriced") else ""
        out.append(f"| {escape_cell(g['value'])} | {signed(g['delta_monthly_usd'])} | {g['changes']}{unpriced} |\n")
    if limit is not None and len(groups) > limit:
        out.append(f"| … {len(groups) - limit} more (see details) | | |\n")
    return "".join(out)


def _diff_changes_table(diff: dict[str, Any]) -> str:
    out = ["| | Resource | File | Before $/month | After $/month | Δ $/month |\n|---|---|---|---:|---:|---:|\n"]
    for mark, key in (("added", "added"), ("changed", "changed"), ("removed", "removed")):
        for x in diff.get(key, []):
            what = f" ({', '.join(x['changed'])})" if x.get("changed") else ""
            where = escape_cell(x.get("file") or "") + (f":{x['line']}" if x.get("line") else "")
            before = "" if x.get("before_monthly_usd") is None else money(x["before_monthly_usd"])
            after = "" if x.get("after_monthly_usd") is None else money(x["after_monthly_usd"])
            out.append(f"| {mark}{what} | {code(x['address'])} | {where} | {before} | {after} | "
                       f"{signed(x.get('delta_monthly_usd'))} |\n")
    return "".join(out)


def _bill_budget_rows(result: ScanResult) -> str | None:
    """The Budgets table of the PR comment when a bill was given."""
    rows = [(b, b.actual) for b in result.budgets or [] if b.actual]
    if not rows:
        return None
    first = rows[0][1]
    out = [f"Actual run-rate from {escape_cell(first.get('source') or '')} "
           f"({escape_cell(first.get('month') or 'no month')}, "
           f"{escape_cell(first.get('cost_column') or '')}).\n\n",
           "| Budget | Mode | Actual run-rate $/month | Δ this change | With change "
           "| Repository $/month | Budget $/month | Over |\n"
           "|---|---|---:|---:|---:|---:|---:|---|\n"]
    for b, a in rows:
        cap = "" if b.monthly_usd is None else money(b.monthly_usd)
        if not a.get("evaluated"):
            out.append(f"| {escape_cell(b.name)} | {escape_cell(b.mode)} | n/a | "
                       f"{signed_money(a['change_delta_usd'])} | "
                       f"{escape_cell(a.get('reason') or '')} | {money(b.projected_usd)} | {cap} | "
                       f"{':x:' if b.over else ''} |\n")
            continue
        out.append(f"| {escape_cell(b.name)} | {escape_cell(b.mode)} | {money(a['run_rate_usd'])} | "
                   f"{signed_money(a['change_delta_usd'])} | {money(a['projected_usd'])} | "
                   f"{money(b.projected_usd)} | {cap} | "
                   f"{':x:' if b.over else ''} |\n")
    if first.get("notes"):
        out.append("\nNotes on the bill:\n\n" + "".join(f"- {escape_cell(n)}\n" for n in first["notes"]))
    return "".join(out)


def render_diff(result: ScanResult, limit: int | None = None) -> str:
    """A ``tagguard diff`` result as the PR comment: marker, summary (never cut), team table, then
    collapsible details."""
    limit = limit or DEFAULT_LIMIT
    diff, cd = parts(result)
    s = result.summary()
    verdict = ":x: **FAIL**" if s["exit_code"] else ":white_check_mark: **PASS**"
    gpu = cd.get("gpu_hours_delta_per_month") or 0
    sev = s["by_severity"]
    line = (f"{verdict} · **{signed(cd.get('total_delta_monthly_usd', 0.0))}/month** "
            f"({'+' if gpu > 0 else ''}{gpu:,.0f} GPU-hours/month) · {counts(diff)} · "
            f"{plural(sev.get('error', 0), 'new error')}, {plural(sev.get('warning', 0), 'warning')}")
    if cd.get("unpriced_changes"):
        line += f" · {cd['unpriced_changes']} without a known rate"
    if cd.get("lower_bound_changes"):  # deltas from or to a floor (price-lower-bound)
        line += (f" · {signed(cd.get('lower_bound_delta_monthly_usd'))} of it from "
                 f"{plural(cd['lower_bound_changes'], 'change')} priced at a lower bound")
    hidden = diff.get("preexisting_findings_hidden") or 0
    if hidden:
        line += f" · {plural(hidden, 'pre-existing finding')} not shown"
    head = [MARKER, "\n", f"### tagguard cost diff against {code(diff.get('base'))} "
            f"({str(diff.get('base_commit', ''))[:12]})\n\n", line, "\n\n"]
    by = cd.get("by") or {}
    dims = [(k, t) for k, t in dimension_titles(cd) if by.get(k)]
    if dims:
        head.append(_diff_team_table(by[dims[0][0]], escape_cell(dims[0][1]), HEAD_TEAM_ROWS) + "\n")
    sections: list[str] = []
    blocking = [f for f in result.findings if not f.suppressed]
    if blocking:
        rules = sorted({f.rule for f in blocking})
        links = ", ".join(f"{rule_link(r)} ({code(f'tagguard explain {r}', cell=False)})" for r in rules)
        sections.append(details(f"{len(blocking)} finding{'s' if len(blocking) != 1 else ''} "
                                "on new or changed resources",
                                render_findings_table(blocking) + f"\nRules: {links}\n",
                                open=len(blocking) <= 20))
        sections.append(details("How to fix", render_details(blocking)))
    approved = [f for f in result.findings if f.suppressed]
    if approved:
        sections.append(details(f"{len(approved)} approved or suppressed", render_suppressed(approved)))
    for key, title in dims[1:]:
        sections.append(details(f"By {title.lower()}", _diff_team_table(by[key], escape_cell(title))))
    if dims and len(by[dims[0][0]]) > HEAD_TEAM_ROWS:
        sections.append(details(f"By {dims[0][1].lower()} (all)",
                                _diff_team_table(by[dims[0][0]], escape_cell(dims[0][1]))))
    if diff.get("added") or diff.get("changed") or diff.get("removed"):
        sections.append(details("Changed AI resources", _diff_changes_table(diff)))
    budgets = [b.to_json() for b in result.budgets or []]
    if any(b.get("actual") for b in budgets):
        sections.append(details("Budgets (actual run-rate from the bill)", _bill_budget_rows(result) or "", open=True))
    elif budgets:
        rows = ["| Budget | Mode | Projected $/month | Budget $/month | Over |\n|---|---|---:|---:|---|\n"]
        for b in budgets:
            cap = "" if b.get("monthly_usd") is None else money(b["monthly_usd"])
            floor = b.get("lower_bound_resources")  # part of the projection is a lower bound: "at least"
            rows.append(f"| {escape_cell(b['name'])} | {escape_cell(b['mode'])} | "
                        f"{'≥ ' if floor else ''}{money(b['projected_usd'])} | {cap} | "
                        f"{':x:' if b.get('over') else ':warning: lower bound' if floor else ''} |\n")
        sections.append(details("Budgets", "".join(rows)))
    return fit("".join(head), [s if s.endswith("\n") else s + "\n" for s in sections], limit)


class MarkdownFormatter(Formatter):
    name = "markdown"
    human = False

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        if result.diff is not None:  # a `tagguard diff` result: the PR comment
            return render_diff(result)
        return render_report(result)
