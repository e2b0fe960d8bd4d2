"""``--format html``: one self-contained showback report (inline CSS and SVG, no script, no network).

Sections: headline figures, a bar chart of spend by team (the showback's allocation dimension)
with the unallocated line in its own colour, the unallocated share, the trend from ``--history``,
shared platform costs, actual GPU spend from cluster reports (``--cluster``, beside the estimates),
the top unallocated GPU resources, the violations table and any scan errors.
"""
from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import Any

from tagguard.formats.base import Formatter
from tagguard.formats.escape import term
from tagguard.formats.helpers import money, plural
from tagguard.model import ScanResult
from tagguard.report_parts import GpuActuals

CSS = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#f8fafc;--card:#fff;--bar:#2563eb;--un:#dc2626;--ok:#16a34a;--warn:#d97706}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#111827;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#9ca3af;font-size:12px}
main{max-width:1180px;margin:0 auto;padding:20px 28px 40px}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-bottom:18px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px}
.kpi .v{font-size:24px;font-weight:650}.kpi .l{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi.bad .v{color:var(--un)}.kpi .s{color:var(--muted);font-size:12px;margin-top:4px}
.grid{display:grid;grid-template-columns:3fr 2fr;gap:14px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;margin-bottom:14px}
section h2{font-size:15px;margin:0 0 10px}
table{width:100%;border-collapse:collapse;font-size:12.5px}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;background:#f9fafb}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.sev{display:inline-block;padding:1px 7px;border-radius:9px;font-size:11px;font-weight:600;color:#fff}
.sev.error{background:var(--un)}.sev.warning{background:var(--warn)}.sev.info{background:#0891b2}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.muted{color:var(--muted)}.note{color:var(--muted);font-size:12px;margin:6px 0 0}
svg text{font:12px -apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;fill:#374151}
.errors td{color:#7f1d1d}
"""  # noqa: E501


_money = money


def _e(x: Any) -> str:
    """Data as HTML text or attribute: entities, and control/bidi characters shown as escapes."""
    return escape(term("" if x is None else str(x)), quote=True)


def bar_chart(rows: list[dict[str, Any]], unallocated: dict[str, Any], width: int = 640) -> str:
    items = [(r["value"], r["monthly_usd"], False) for r in rows[:12]]
    if unallocated.get("monthly_usd"):
        items.append(("(unallocated)", unallocated["monthly_usd"], True))
    if not items:
        return '<p class="muted" id="team-chart-empty">No priced AI spend.</p>'
    label_w, bar_h, gap = 150, 24, 8
    top = max(v for _, v, _ in items) or 1.0
    height = len(items) * (bar_h + gap) + 10
    plot = width - label_w - 90
    out = [f'<svg id="team-chart" role="img" aria-label="Monthly spend by team" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, value, un) in enumerate(items):
        y = 5 + i * (bar_h + gap)
        w = max(2.0, plot * value / top)
        color = "var(--un)" if un else "var(--bar)"
        out.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{_e(name[:22])}</text>')
        out.append(f'<rect class="bar{" unallocated" if un else ""}" x="{label_w}" y="{y}" '
                   f'width="{w:.1f}" height="{bar_h}" '
                   f'rx="3" fill="{color}"><title>{_e(name)}: {_e(_money(value))}/month</title></rect>')
        out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{_e(_money(value))}</text>')
    out.append("</svg>")
    return "".join(out)


def share_chart(unallocated: float, total: float, size: int = 180) -> str:
    frac = (unallocated / total) if total else 0.0
    r, c = 70, size / 2
    circ = 2 * 3.141592653589793 * r
    dash = circ * frac
    return (f'<svg id="share-chart" role="img" aria-label="Unallocated share" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}" xmlns="http://www.w3.org/2000/svg">'
            f'<circle cx="{c}" cy="{c}" r="{r}" fill="none" stroke="var(--ok)" stroke-width="26"/>'
            f'<circle class="unallocated-arc" cx="{c}" cy="{c}" r="{r}" fill="none" stroke="var(--un)" '
            f'stroke-width="26" '
            f'stroke-dasharray="{dash:.2f} {circ:.2f}" transform="rotate(-90 {c} {c})"/>'
            f'<text x="{c}" y="{c - 2}" text-anchor="middle" style="font-size:22px;font-weight:650">'
            f'{100 * frac:.1f}%</text>'
            f'<text x="{c}" y="{c + 18}" text-anchor="middle" class="muted">unallocated</text></svg>')


def trend_chart(points: list[dict[str, Any]], width: int = 640, height: int = 200) -> str:
    pts = [p for p in points if p.get("monthly_usd") is not None]
    if len(pts) < 2:
        return ('<p class="muted" id="trend-chart-empty">The trend needs at least two runs recorded with '
                '<code>--history</code>' + (" (1 so far)" if pts else "") + ".</p>")
    pad_l, pad_b, pad_t, pad_r = 70, 28, 12, 16
    top = max(max(p["monthly_usd"] or 0, p.get("unallocated_usd") or 0) for p in pts) or 1.0
    n = len(pts)

    def xy(i, v):
        x = pad_l + (width - pad_l - pad_r) * (i / (n - 1))
        y = pad_t + (height - pad_t - pad_b) * (1 - (v or 0) / top)
        return x, y

    def path(key):
        return " ".join(f"{'M' if i == 0 else 'L'}{xy(i, p.get(key))[0]:.1f},{xy(i, p.get(key))[1]:.1f}"
                        for i, p in enumerate(pts))

    out = [f'<svg id="trend-chart" role="img" aria-label="Spend trend" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">']
    for frac in (0, 0.5, 1):
        y = pad_t + (height - pad_t - pad_b) * (1 - frac)
        out.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{pad_l - 6}" y="{y + 4:.1f}" text-anchor="end">{_e(_money(top * frac))}</text>')
    out.append(f'<path class="trend-total" d="{path("monthly_usd")}" fill="none" stroke="var(--bar)" '
               'stroke-width="2.5"/>')
    out.append(f'<path class="trend-unallocated" d="{path("unallocated_usd")}" fill="none" stroke="var(--un)" '
               'stroke-width="2.5"/>')
    for i, p in enumerate(pts):
        x, y = xy(i, p.get("unallocated_usd"))
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="var(--un)"><title>run {_e(p.get("run_id"))} '
                   f'{_e(p.get("at"))}: unallocated {_e(_money(p.get("unallocated_usd")))}</title></circle>')
        if i in (0, n - 1) or n <= 8:
            out.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">'
                       f'{_e(str(p.get("at", ""))[:10])}</text>')
    out.append("</svg>")
    out.append('<p class="note"><span style="color:var(--bar)">&#9632;</span> AI spend per month &nbsp; '
               '<span style="color:var(--un)">&#9632;</span> unallocated</p>')
    return "".join(out)


def actuals_section(a: dict[str, Any] | None, *, estimates: bool = True) -> str:
    """Actual GPU spend from cluster reports (``report showback --cluster``), beside the estimates:
    the totals, then per taxonomy dimension a table of estimate, token spend and actual spend per month.
    ``estimates=False`` (the page of a cluster report, which has none): the actual spend only.
    Every value from the reports is escaped (``_e``)."""
    if not a:
        return ""
    t = a["totals"]
    wins = ", ".join(f"{_e(s['window'].get('start'))} &ndash; {_e(s['window'].get('end'))}" for s in a["sources"])
    out = ['<section id="actuals"><h2>Actual GPU spend in clusters '
           f'<span class="muted">({wins})</span></h2>'
           f'<p><strong id="actual-monthly">{_money(t["monthly_usd"])}/month</strong> at the measured rate: '
           f'{_money(t["cost_usd"])} for {t["gpu_hours"]:,.0f} GPU-hours requested, {t["used_gpu_hours"]:,.0f} used; '
           f'unattributed {_money(t["unattributed_monthly_usd"])}/month; GPUs no pod requested '
           f'{_money(t["idle_monthly_usd"])}/month.</p>']
    for label, d in a["dimensions"].items():
        rows = "".join(
            f"<tr><td>{_e(r['value'])}</td>"
            + (f"<td class=num>{_money(r['estimate_monthly_usd'])}</td>"
               f"<td class=num>{_money(r['tokens_monthly_usd'])}</td>" if estimates else "")
            + f"<td class=num>{_money(r['actual_monthly_usd'])}</td>"
            f"<td class=num>{r['actual_gpu_hours']:,.0f}</td>"
            f"<td class=num>{'-' if r['utilisation'] is None else format(r['utilisation'], '.0%')}</td></tr>"
            for r in d["rows"])
        out.append(f'<h3>By {_e(label.replace("_", " "))} '
                   f'<span class="muted">(tag <code>{_e(d["tag"])}</code>)</span></h3>'
                   f'<table class="actuals-table" data-dimension="{_e(label)}"><thead><tr><th>value</th>'
                   + ("<th class=num>IaC estimate / month</th><th class=num>tokens / month</th>" if estimates else "")
                   + "<th class=num>actual GPU / month</th><th class=num>GPU-hours</th><th class=num>utilisation</th>"
                   f"</tr></thead><tbody>{rows}</tbody></table>")
    out.append(f'<p class="note">{_e(a.get("note") or "")}.' + (" Not added to the totals above." if estimates else "")
               + "</p></section>")
    return "".join(out)


def _strip(message: str, address) -> str:
    if address and message.startswith(f"{address}: "):
        return message[len(address) + 2:]
    return message


def page_head(h1: str, when: str, scope: str, result: ScanResult) -> str:
    """The document up to ``<main>``: the title, the header line (``scope`` is HTML, its data escaped)."""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>tagguard {h1}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{h1}</h1><p>tagguard &middot; {when}"
            + (f" &middot; {scope}" if scope else "")
            + (" &middot; <strong style=\"color:#fca5a5\">INCOMPLETE: "
               f"{len(result.errors)} error(s)</strong>" if result.errors else "") + "</p></header><main>")


def _hours(v: float) -> str:
    return f"{v:,.1f}"


def actuals_kpis(a: GpuActuals) -> str:
    """The headline of a cluster report: what the GPUs cost, GPU-hours requested and used, idle GPU-hours
    (allocated but unused, and GPUs no pod requested), and the unattributed share of the spend."""
    measured = a.requested_gpu_hours - a.unmeasured_gpu_hours
    if a.used_gpu_hours is None:
        used = "used: not measured"
    else:
        used = f"used {_hours(a.used_gpu_hours)}" + (f" ({a.used_gpu_hours / measured:.0%} of the measured)"
                                                     if measured > 0 else "")
    if a.unmeasured_gpu_hours and a.used_gpu_hours is not None:
        used += f", {_hours(a.unmeasured_gpu_hours)} unmeasured"
    basis = "spend" if a.cost_usd > 0 else "GPU-hours"
    return ('<div class="kpis" id="cluster-kpis">'
            '<div class="kpi"><div class="l">Actual GPU spend</div>'
            f'<div class="v" id="kpi-actual">{_money(a.cost_usd)}</div>'
            f'<div class="s">for the GPU-hours pods requested'
            + (f"; {_money(a.unallocated_cost_usd)} more on GPUs no pod requested" if a.unallocated_cost_usd else "")
            + '</div></div>'
            '<div class="kpi"><div class="l">GPU-hours requested</div>'
            f'<div class="v" id="kpi-requested">{_hours(a.requested_gpu_hours)}</div>'
            f'<div class="s" id="kpi-used">{used}</div></div>'
            '<div class="kpi"><div class="l">Idle GPU-hours</div>'
            f'<div class="v" id="kpi-idle">{_hours(a.idle_gpu_hours + a.unallocated_gpu_hours)}</div>'
            f'<div class="s">{_hours(a.idle_gpu_hours)} allocated but unused, '
            f'{_hours(a.unallocated_gpu_hours)} on GPUs no pod requested</div></div>'
            '<div class="kpi bad"><div class="l">Unattributed share</div>'
            f'<div class="v" id="kpi-unattributed">{a.unattributed_share():.1%}</div>'
            f'<div class="s">of the {basis}: {_money(a.unattributed_cost_usd)} for '
            f'{_hours(a.unattributed_gpu_hours)} GPU-hours no team owns</div></div>'
            "</div>")


def groups_section(a: GpuActuals) -> str:
    """The report's own groups (an OpenCost report: no showback actuals), with the unattributed line."""
    if not a.groups:
        return ""

    def row(g: dict[str, Any]) -> str:
        measured = g["gpu_hours"] - g["unmeasured_gpu_hours"]
        util = f"{g['used_gpu_hours'] / measured:.0%}" if measured > 0 else "-"
        return (f"<tr><td>{_e(g['group'])}</td><td class=num>{_hours(g['gpu_hours'])}</td>"
                f"<td class=num>{_hours(g['used_gpu_hours']) if measured > 0 else '-'}</td>"
                f"<td class=num>{util}</td><td class=num>{_money(g['cost_usd'])}</td></tr>")

    return (f'<section id="groups"><h2>By {_e(a.group_by)}</h2><table id="groups-table"><thead><tr><th>group</th>'
            "<th class=num>GPU-hours</th><th class=num>used GPU-hours</th><th class=num>utilisation</th>"
            f"<th class=num>cost</th></tr></thead><tbody>{''.join(row(g) for g in a.groups[:500])}</tbody></table>"
            + (f'<p class="note">{len(a.groups) - 500} more in the JSON report.</p>' if len(a.groups) > 500 else "")
            + "</section>")


def cluster_page(result: ScanResult, a: GpuActuals) -> str:
    """``cluster report`` / ``cluster opencost -f html``: the actual GPU spend as the headline (there are no IaC
    estimates to show), the spend per team when the command attached it (``showback.actuals``), the findings."""
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    scope = (f"{'OpenCost' if a.kind == 'opencost' else 'Prometheus'} <code>{_e(a.source)}</code>"
             + (f" &middot; {_e(a.window)}" if a.window else ""))
    parts = [page_head("Cluster GPU spend", when, scope, result), actuals_kpis(a)]
    actuals = (result.showback or {}).get("actuals")
    parts.append(actuals_section(actuals, estimates=False) if actuals else groups_section(a))
    parts += findings_sections(result, cluster=True)
    parts.append("</main></body></html>\n")
    return "".join(parts)


class HtmlFormatter(Formatter):
    name = "html"
    human = False

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        if result.gpu_actuals is not None:  # cluster report / cluster opencost: actual spend, no IaC estimates
            return cluster_page(result, result.gpu_actuals)
        sb = result.showback
        if not sb:  # the command computes it with its config (cli.emit): a format computes nothing
            raise ValueError("the html format renders result.showback; none was computed "
                             "(tagguard.cost.showback.build_showback)")
        t = sb["totals"]
        dim = sb["dimensions"][sb["allocate_by"]]
        hist = result.history or {}
        drift = result.drift or {}
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        scope = ""
        if drift:
            scope = (f"{len(drift.get('accounts') or [])} account(s) &times; "
                     f"{len(drift.get('regions') or [])} region(s), "
                     f"{_e(drift.get('calls'))} AWS calls, {_e(drift.get('wall_seconds'))} s")
        elif result.root:
            scope = f"scan of <code>{_e(result.root)}</code>"
        parts = [page_head("AI spend showback", when, scope, result)]
        parts.append('<div class="kpis">'
                     '<div class="kpi"><div class="l">AI spend / month</div>'
                     f'<div class="v" id="kpi-total">{_money(t["monthly_usd"])}</div>'
                     + (f'<div class="l" id="kpi-lower-bound">of which {_money(t["lower_bound_monthly_usd"])} is a '
                        f'lower bound over {plural(t["lower_bound_resources"], "resource")}</div>'
                        if t.get("lower_bound_resources") else "") + '</div>'
                     '<div class="kpi"><div class="l">GPU-hours / month</div>'
                     f'<div class="v">{t["gpu_hours"]:,.0f}</div></div>'
                     '<div class="kpi bad"><div class="l">Unallocated / month</div>'
                     f'<div class="v" id="kpi-unallocated">{_money(t["unallocated_monthly_usd"])}</div></div>'
                     '<div class="kpi bad"><div class="l">Unallocated share</div>'
                     f'<div class="v">{t["unallocated_share_pct"]}%</div></div>'
                     "</div>")
        parts.append('<div class="grid">')
        parts.append(f'<section><h2>Spend by {_e(sb["allocate_by"].replace("_", " "))} '
                     f'<span class="muted">(tag <code>{_e(dim["tag"])}</code>)</span></h2>'
                     + bar_chart(dim["rows"], dim["unallocated"])
                     + f'<p class="note">(unallocated) = AI spend with no <code>{_e(dim["tag"])}</code> tag.</p>'
                     '</section>')
        parts.append("<section><h2>Unallocated share</h2>" + share_chart(t["unallocated_monthly_usd"], t["monthly_usd"])
                     + f'<p class="note">{_money(t["unallocated_monthly_usd"])} of {_money(t["monthly_usd"])} '
                     'per month has '
                     "missing or invalid cost tags.</p></section>")
        parts.append("</div>")
        trend = hist.get("trend") or []
        delta = ""
        if hist and not hist.get("first_run"):
            delta = (f'<p class="note">Since the previous run: <strong>{len(hist.get("new") or [])}</strong> new, '
                     f'<strong>{len(hist.get("fixed") or [])}</strong> fixed, '
                     f'<strong>{_e(hist.get("still_open", 0))}</strong> still open'
                     + (f', {len(hist.get("unknown") or [])} unknown (account/region not scanned)'
                        if hist.get("unknown") else "")
                     + ".</p>")
        parts.append("<section><h2>Trend</h2>" + trend_chart(trend) + delta + "</section>")
        sc = sb.get("shared_costs") or {}
        if sc.get("items"):
            rows = "".join(f"<tr><td>{_e(x['value'])}</td><td class=num>{_money(x['direct_usd'])}</td>"
                           f"<td class=num>{_money(x['shared_usd'])}</td><td class=num>{_money(x['total_usd'])}</td>"
                           f"<td class=num>{x['weight_pct']}%</td></tr>" for x in sc["teams"])
            parts.append(f"<section><h2>Shared platform costs ({_e(', '.join(i['name'] for i in sc['items']))}), "
                         f"{_e(sc['method'])}</h2><table id=\"shared-table\"><thead><tr><th>team</th>"
                         "<th class=num>direct</th>"
                         "<th class=num>shared</th><th class=num>total</th><th class=num>weight</th></tr></thead>"
                         f"<tbody>{rows}</tbody></table></section>")
        parts.append(actuals_section(sb.get("actuals")))
        if sb.get("top_unallocated"):
            rows = "".join(f"<tr><td class=num>{_money(r['monthly_usd'])}</td><td><code>{_e(r['address'])}</code></td>"
                           f"<td>{_e(r.get('account') or '')}</td><td>{_e(r.get('region') or '')}</td>"
                           f"<td>{_e(r.get('state') or '')}</td>"
                           f"<td>{_e(', '.join(r['missing_or_invalid']))}</td></tr>" for r in sb["top_unallocated"])
            parts.append("<section><h2>Top unallocated GPU resources</h2><table id=\"top-table\"><thead><tr>"
                         "<th class=num>monthly</th><th>resource</th><th>account</th><th>region</th><th>state</th>"
                         f"<th>missing / invalid</th></tr></thead><tbody>{rows}</tbody></table></section>")
        parts += findings_sections(result)
        parts.append("</main></body></html>\n")
        return "".join(parts)


def findings_sections(result: ScanResult, *, cluster: bool = False) -> list[str]:
    """The violations table and the inputs not read (the totals exclude them); for a cluster report, why its
    figures may be incomplete (the server's warnings)."""
    parts: list[str] = []
    active = result.active_findings()
    rows = "".join(f"<tr><td><span class=\"sev {_e(f.severity)}\">{_e(f.severity)}</span></td><td>{_e(f.rule)}</td>"
                   f"<td><code>{_e(f.address or f.file or '')}</code></td>"
                   f"<td>{_e(f.extra.get('account') or '')}</td>"
                   f"<td>{_e(f.extra.get('region') or '')}</td><td>{_e(f.tag or '')}</td>"
                   f"<td>{_e(_strip(f.message, f.address))}"
                   + (f"<div class=muted>fix: {_e(f.fix)}</div>" if f.fix else "") + "</td></tr>"
                   for f in active[:2000])
    more = f'<p class="note">{len(active) - 2000} more in the JSON report.</p>' if len(active) > 2000 else ""
    parts.append(f"<section><h2>Violations ({len(active)})</h2><table id=\"violations\"><thead><tr>"
                 "<th>severity</th>"
                 "<th>rule</th><th>resource</th><th>account</th><th>region</th><th>tag</th><th>message</th></tr></thead>"
                 f"<tbody>{rows or '<tr><td colspan=7 class=muted>No violations.</td></tr>'}</tbody></table>"
                 f"{more}</section>")
    if result.errors and cluster:
        items = "".join(f"<li>{_e(e.get('message'))}</li>" for e in result.errors)
        parts.append('<section class="errors"><h2>The figures above may be incomplete</h2>'
                     f'<ul id="errors">{items}</ul></section>')
    elif result.errors:
        rows = "".join(f"<tr><td>{_e(e.get('account') or e.get('profile') or '')}</td>"
                       f"<td>{_e(e.get('region') or ', '.join(e.get('regions') or []))}</td>"
                       f"<td>{_e(e.get('service') or '')}</td>"
                       f"<td>{_e(e.get('code'))}</td><td>{_e(e.get('message'))}</td></tr>" for e in result.errors)
        parts.append("<section class=\"errors\"><h2>Not scanned (the totals above exclude these)</h2>"
                     "<table id=\"errors\">"
                     "<thead><tr><th>account</th><th>region</th><th>service</th><th>code</th><th>message</th>"
                     "</tr></thead>"
                     f"<tbody>{rows}</tbody></table></section>")
    return parts
