"""``tagguard report review --month YYYY-MM``: the monthly cost review pack.

One self-contained HTML page (inline SVG charts, inline CSS, no script, nothing loaded) and one
Markdown page for the organisation and for each team (the showback's ``allocate_by`` key, e.g.
``business-unit``), from the JSON reports given (scan / drift / merge, LLM usage, bill budgets,
cluster) and the history database:

* spend and GPU-hours by project and environment (and the other showback dimensions);
* month over month: the last complete run of each month in the history (organisation only: the
  history keeps totals per run, not per team; team pages say so);
* budgets and their status (projected from the scan, month-to-date / forecast from the bill,
  token budgets from usage);
* the unallocated share and its top resources, each with the file and line (or account) to fix;
* token spend of the month and its anomalies;
* approvals granted (``needs-approval`` findings suppressed by ``--approved-by``);
* optimisation hints with their monthly savings (spot for training, commitments for steady
  inference, idle or underused GPUs from the cluster report).

Whatever is missing (no history, no usage report) is said on the page with how to provide it.
Every value from the reports is escaped (``formats.escape.html`` / ``md_text``).
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagguard.formats.escape import html as h
from tagguard.formats.escape import md_text
from tagguard.formats.helpers import money as _money

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MOM_MONTHS = 6


class ReviewError(Exception):
    """One-line problem (bad month, unreadable report)."""




def _prev_months(month: str, n: int) -> list[str]:
    y, m = int(month[:4]), int(month[5:7])
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return list(reversed(out))


def month_over_month(history: Path | None, month: str) -> tuple[list[dict[str, Any]], str | None]:
    """Per month (the last ``MOM_MONTHS`` up to ``month``): the last complete run's totals."""
    if history is None:
        return [], "no --history database given: month over month needs `tagguard drift --history PATH` runs"
    if not Path(history).is_file():
        return [], f"{history}: no history database"
    try:
        conn = sqlite3.connect(f"{Path(history).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("SELECT id, finished_at, complete, monthly_usd, gpu_hours, unallocated_usd FROM runs "
                                "ORDER BY id").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise ReviewError(f"{history}: cannot read history ({exc})") from None
    out: list[dict[str, Any]] = []
    for mon in _prev_months(month, MOM_MONTHS):
        of = [r for r in rows if str(r[1]).startswith(mon)]
        done = [r for r in of if r[2]] or of
        if not done:
            out.append({"month": mon, "monthly_usd": None, "gpu_hours": None, "unallocated_usd": None, "run": None,
                        "complete": None})
            continue
        r = done[-1]
        out.append({"month": mon, "monthly_usd": r[3], "gpu_hours": r[4], "unallocated_usd": r[5], "run": r[0],
                    "complete": bool(r[2])})
    return out, None


def classify(data: dict[str, Any]) -> str:
    if data.get("kind") == "llm-usage":
        return "usage"
    if data.get("kind") == "tagguard-cluster-report":
        return "cluster"
    if data.get("kind") == "tagguard-bill-budgets" or (
            isinstance(data.get("budgets"), list) and data["budgets"] and isinstance(data["budgets"][0], dict)
            and "mtd_usd" in data["budgets"][0]):
        return "bill"
    if isinstance(data.get("resources"), list):
        return "infra"
    return "unknown"


def _slug(value: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:40] or "team"
    return f"{base}-{hashlib.sha256(value.encode('utf-8')).hexdigest()[:6]}"


def build(reports: list[tuple[str, dict[str, Any]]], month: str, history: Path | None, config=None) -> dict[str, Any]:
    """The review document: ``{"month", "team_key", "org": page, "teams": {value: page}, "notes"}``."""
    if not MONTH.match(month or ""):
        raise ReviewError(f"--month {month!r}: expected YYYY-MM")
    notes: list[str] = []
    by_kind = _by_kind(reports, notes)
    team_key = _team_key(config)
    result = _infra_result(by_kind.get("infra") or [], notes)
    mom, why = month_over_month(history, month)
    if why:
        notes.append(why)
    review = _Review(month=month, team_key=team_key, config=config, result=result, mom=mom,
                     usage=by_kind.get("usage") or [], bills=by_kind.get("bill") or [],
                     clusters=by_kind.get("cluster") or [])
    return {"month": month, "team_key": team_key, "org": review.page(None),
            "teams": {t: review.page(t) for t in sorted(review.teams())}, "notes": notes}


def _by_kind(reports: list[tuple[str, dict[str, Any]]],
             notes: list[str]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """The reports given, grouped by what they are; one that is none of them is a note and skipped."""
    by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for label, data in reports:
        kind = classify(data)
        if kind == "unknown":
            notes.append(f"{label}: not a report the review reads "
                         "(scan, drift, merge, usage, bill budgets, cluster); skipped")
            continue
        by_kind.setdefault(kind, []).append((label, data))
    return by_kind


def _team_key(config) -> str:
    """The tag the showback allocates by (the team of a team page)."""
    from tagguard.cost.showback import _settings

    try:
        settings = _settings(config)
        return settings["dimensions"][settings["allocate_by"]]
    except ValueError as exc:
        raise ReviewError(str(exc)) from None


def _infra_result(infra: list[tuple[str, dict[str, Any]]], notes: list[str]):
    """The scan / drift / merge reports merged into one ``ScanResult`` (``None`` without one), with
    the projected budgets of a single report."""
    from tagguard.operate.merge import Shard, merge_reports, to_result

    if not infra:
        notes.append("no scan/drift report given: spend, unallocated resources, approvals and hints need "
                     "`--from` a `tagguard drift -f json` (or merged) report")
        return None
    doc = merge_reports([Shard(label, data) for label, data in infra])
    result = to_result(doc)
    if len(infra) == 1 and isinstance(infra[0][1].get("budgets"), list):
        from tagguard.report_parts import BudgetReport

        result.budgets = [BudgetReport.from_json(b) for b in infra[0][1]["budgets"] if isinstance(b, dict)]
    elif any(isinstance(d.get("budgets"), list) for _l, d in infra):
        notes.append("budgets projected by several shard reports are not added up; the bill's month-to-date "
                     "budgets (--from a bill budgets report) cover the whole")
    if doc["errors"]:
        notes.append(f"the infrastructure reports are incomplete ({len(doc['errors'])} errors): accounts that "
                     "failed are missing from spend and may hide unallocated resources")
    return result


@dataclass
class _Review:
    """What every page of the review is built from: the merged infrastructure result, the usage,
    bill and cluster reports, and the month over month of the history."""

    month: str
    team_key: str
    config: Any
    result: Any  # ScanResult | None
    mom: list[dict[str, Any]]
    usage: list[tuple[str, dict[str, Any]]]
    bills: list[tuple[str, dict[str, Any]]]
    clusters: list[tuple[str, dict[str, Any]]]

    def teams(self) -> set[str]:
        """Every team with an AI resource, or with token spend in the month."""
        key = self.team_key
        teams: set[str] = set()
        if self.result is not None:
            teams = {str(r.tags.get(key)) for r in self.result.resources if r.ai and r.tags.get(key) not in (None, "")}
        for _label, u in self.usage:
            for row in u.get("daily") or []:
                if isinstance(row, dict) and row.get(key) not in (None, "", "(untagged)") and \
                        str(row.get("period", "")).startswith(self.month):
                    teams.add(str(row[key]))
        return teams

    def page(self, team: str | None) -> dict[str, Any]:
        """The organisation's page (``team`` None) or one team's."""
        p: dict[str, Any] = {"team": team, "month": self.month}
        p.update(self._infra_sections(team))
        p["budgets"] += self._bill_budgets() + self._token_budgets()
        if team is not None:
            p["budgets"] = [b for b in p["budgets"] if team in _as_list((b.get("match") or {}).get(self.team_key))]
        p["tokens"] = self._tokens(team)
        p["hints"] += self._cluster_hints()
        p["hints"].sort(key=lambda x: -(x.get("saving_usd") or 0))
        p["mom"] = self.mom if team is None else []
        return p

    def _scope(self, team: str | None):
        """The infrastructure result, or the part of it the team's tag allocates to the team."""
        result = self.result
        if result is None or team is None:
            return result
        from tagguard.model import ScanResult

        keep = {r.address for r in result.resources if str(r.tags.get(self.team_key)) == team}
        return ScanResult(resources=[r for r in result.resources if r.address in keep],
                          findings=[f for f in result.findings if f.address in keep], errors=result.errors)

    def _infra_sections(self, team: str | None) -> dict[str, Any]:
        """Spend by dimension, unallocated resources (with where to fix them), approvals granted,
        optimisation hints and projected budgets, from the infrastructure reports."""
        from tagguard.cost.showback import build_showback

        sub = self._scope(team)
        if sub is None:
            return {"totals": None, "dimensions": {}, "unallocated": [], "approvals": [], "hints": [], "budgets": []}
        sb = build_showback(sub, self.config, top=20)
        where = {r.address: r for r in sub.resources}
        fixes = {f.address: f.fix for f in sub.active_findings()
                 if f.fix and f.category in ("missing_tag", "invalid_value")}
        return {
            "totals": sb["totals"],
            "dimensions": {label: {"tag": d["tag"], "rows": d["rows"]} for label, d in sb["dimensions"].items()},
            "unallocated": [{**u, "file": where[u["address"]].file if u["address"] in where else None,
                             "line": where[u["address"]].line if u["address"] in where else None,
                             "fix": fixes.get(u["address"])} for u in sb["top_unallocated"]] if team is None else [],
            "approvals": [{"address": f.address, "approved_by": f.extra.get("approved_by"),
                           "delta_usd": f.extra.get("cost_delta_monthly_usd"), "message": f.message}
                          for f in sub.findings if f.rule == "needs-approval" and f.suppressed],
            "hints": [{"rule": f.rule, "address": f.address, "saving_usd": f.extra.get("saving_monthly_usd"),
                       "message": f.message, "fix": f.fix, "file": f.file, "line": f.line}
                      for f in sub.active_findings() if f.category == "optimization"],
            "budgets": [{"name": b.name, "basis": "projected", "limit_usd": b.monthly_usd,
                         "spend_usd": b.projected_usd, "status": "over" if b.over else "within", "match": b.match}
                        for b in ((self.result.budgets if self.result is not None else None) or []) if b.monthly_usd],
        }

    def _bill_budgets(self) -> list[dict[str, Any]]:
        """Month-to-date budgets of the bill budgets reports."""
        out = []
        for _label, b in self.bills:
            for row in b.get("budgets") or []:
                if isinstance(row, dict) and row.get("monthly_usd"):
                    out.append({"name": row.get("name"),
                                "basis": f"month-to-date {b.get('month') or ''}".strip(),
                                "limit_usd": row.get("monthly_usd"), "spend_usd": row.get("mtd_usd"),
                                "forecast_usd": row.get("forecast_usd"), "status": row.get("status"),
                                "match": row.get("match") or {}})
        return out

    def _token_budgets(self) -> list[dict[str, Any]]:
        """Token budgets of the usage reports for the month."""
        out = []
        for _label, u in self.usage:
            for row in u.get("budgets") or []:
                if isinstance(row, dict) and row.get("month") == self.month:
                    out.append({"name": row.get("name"), "basis": "token spend",
                                "limit_usd": row.get("monthly_usd"),
                                "spend_usd": row.get("token_spend_usd"),
                                "forecast_usd": row.get("projected_usd"),
                                "status": "over" if (row.get("used_pct") or 0) >= 100 else "within",
                                "match": row.get("match") or {}})
        return out

    def _tokens(self, team: str | None) -> dict[str, Any]:
        """Token spend of the month (the team's, or all) and its anomalies."""
        from tagguard.operate.merge import num

        tokens = 0.0
        anomalies = []
        for _label, u in self.usage:
            for row in u.get("daily") or []:
                if isinstance(row, dict) and str(row.get("period", "")).startswith(self.month) and \
                        (team is None or str(row.get(self.team_key)) == team):
                    tokens += num(row.get("cost_usd")) or 0.0
            for an in u.get("anomalies") or []:
                if isinstance(an, dict) and str(an.get("date", "")).startswith(self.month) and \
                        (team is None or str((an.get("group") or {}).get(self.team_key)) == team):
                    anomalies.append(an)
        return {"cost_usd": round(tokens, 2), "anomalies": anomalies, "given": bool(self.usage)}

    def _cluster_hints(self) -> list[dict[str, Any]]:
        """Savings the cluster reports found (idle or underused GPUs)."""
        out = []
        for _label, c in self.clusters:
            for f in c.get("findings") or []:
                if isinstance(f, dict) and f.get("saving_usd"):
                    out.append({"rule": f.get("rule"), "address": f"{f.get('namespace')}/{f.get('workload')}",
                                "saving_usd": f.get("saving_usd"), "message": f.get("message"),
                                "fix": f.get("fix"), "file": None, "line": None})
        return out


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(x) for x in str(v).split("|")]


# --- rendering ----------------------------------------------------------------------------------------

def _bars_svg(rows: list[tuple[str, float]], unit: str = "$") -> str:
    """Horizontal bars, labels escaped; empty input gives a short note instead of a chart."""
    rows = rows[:12]
    if not rows:
        return "<p class=muted>no data</p>"
    top = max(v for _l, v in rows) or 1.0
    bar_h, w, label_w = 22, 640, 220
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{w}" height="{bar_h * len(rows) + 6}" '
             f'viewBox="0 0 {w} {bar_h * len(rows) + 6}">']
    for i, (label, v) in enumerate(rows):
        y = 3 + i * bar_h
        bw = max(1.0, (w - label_w - 90) * (v / top)) if v > 0 else 0
        text = label if len(label) <= 32 else label[:31] + "\u2026"
        val = _money(v) if unit == "$" else f"{v:,.0f} {unit}"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{h(text)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{bw:.1f}" height="{bar_h - 6}" class="bar"/>'
                     f'<text x="{label_w + bw + 6:.1f}" y="{y + 15}">{h(val)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns_svg(mom: list[dict[str, Any]]) -> str:
    vals = [(m["month"], m["monthly_usd"], m["unallocated_usd"]) for m in mom]
    known = [v for _m, v, _u in vals if v is not None]
    if not known:
        return "<p class=muted>no runs recorded in these months</p>"
    top = max(known) or 1.0
    w, hgt, col = 640, 220, 640 // max(1, len(vals))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{w}" height="{hgt + 50}" '
             f'viewBox="0 0 {w} {hgt + 50}">']
    for i, (mon, v, un) in enumerate(vals):
        x = i * col + 10
        if v is not None:
            bh = hgt * v / top
            parts.append(f'<rect x="{x}" y="{hgt - bh + 20:.1f}" width="{col - 20}" height="{bh:.1f}" class="bar"/>')
            if un:
                uh = hgt * min(un, v) / top
                parts.append(f'<rect x="{x}" y="{hgt - uh + 20:.1f}" width="{col - 20}" height="{uh:.1f}" class="un"/>')
            parts.append(f'<text x="{x}" y="{hgt - bh + 15:.1f}">{h(_money(v))}</text>')
        parts.append(f'<text x="{x}" y="{hgt + 40}">{h(mon)}</text>')
    parts.append("</svg>")
    return "".join(parts)


CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:980px;color:#1b1f24}"
       "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccd;padding:.25em .6em;text-align:left}"
       "svg text{font-size:12px;fill:#1b1f24}.bar{fill:#3b6fd8}.un{fill:#d8753b}.muted{color:#667}"
       ".over{color:#b00020;font-weight:bold}")


def _title(p: dict[str, Any], team_key: str) -> str:
    return f"Cost review {p['month']}: " + ("organisation" if p["team"] is None else f"{team_key} {p['team']}")


def render_html(p: dict[str, Any], doc: dict[str, Any], links: dict[str, str]) -> str:
    t = _title(p, doc["team_key"])
    o: list[str] = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
                    "<meta http-equiv=Content-Security-Policy "
                    "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
                    f"<title>{h(t)}</title><style>{CSS}</style></head><body><h1>{h(t)}</h1>"]
    for n in doc["notes"]:
        o.append(f"<p class=muted>Note: {h(n)}</p>")
    tot = p.get("totals")
    if tot:
        gpu_h = f"{float(tot['gpu_hours'] or 0):,.0f}"
        o.append(f"<p>AI spend {h(_money(tot['monthly_usd']))}/month, {h(gpu_h)} GPU-hours; "
                 f"unallocated {h(_money(tot['unallocated_monthly_usd']))} ({h(tot['unallocated_share_pct'])}%).</p>")
    if links:
        o.append("<h2>Teams</h2><ul>"
                 + "".join(f'<li><a href="{h(href)}">{h(name)}</a></li>' for name, href in links.items())
                 + "</ul>")
    if p["mom"]:
        o.append("<h2>Month over month</h2>" + _columns_svg(p["mom"]) +
                 "<table><tr><th>Month</th><th>AI spend</th><th>GPU-hours</th><th>Unallocated</th><th>Run</th></tr>" +
                 "".join(f"<tr><td>{h(m['month'])}</td><td>{h(_money(m['monthly_usd']))}</td>"
                         f"<td>{h(m['gpu_hours'] if m['gpu_hours'] is not None else 'n/a')}</td>"
                         f"<td>{h(_money(m['unallocated_usd']))}</td>"
                         f"<td>{h(m['run'] if m['run'] is not None else 'no run')}"
                         f"{'' if m['complete'] in (None, True) else ' (incomplete)'}</td></tr>"
                         for m in p["mom"]) + "</table>")
    elif p["team"] is not None:
        o.append("<p class=muted>Month over month is on the organisation page "
                 "(the history keeps totals per run, not per team).</p>")
    for _label, d in (p.get("dimensions") or {}).items():
        rows = [(str(r["value"]), float(r["monthly_usd"] or 0)) for r in d["rows"]]
        o.append(f"<h2>Spend by {h(d['tag'])}</h2>" + _bars_svg(rows) +
                 "<table><tr><th>Value</th><th>Monthly</th><th>GPU-hours</th><th>Share</th></tr>" +
                 "".join(f"<tr><td>{h(r['value'])}</td><td>{h(_money(r['monthly_usd']))}</td>"
                         f"<td>{h(r['gpu_hours'])}</td>"
                         f"<td>{h(r['share_pct'])}%</td></tr>" for r in d["rows"]) + "</table>")
    o.append("<h2>Budgets</h2>")
    if p["budgets"]:
        o.append("<table><tr><th>Budget</th><th>Basis</th><th>Spend</th><th>Forecast</th><th>Limit</th>"
                 "<th>Status</th></tr>" +
                 "".join(f"<tr><td>{h(b['name'])}</td><td>{h(b['basis'])}</td><td>{h(_money(b.get('spend_usd')))}</td>"
                         f"<td>{h(_money(b.get('forecast_usd')))}</td><td>{h(_money(b.get('limit_usd')))}</td>"
                         f"<td class=\"{'over' if 'over' in str(b.get('status')) else ''}\">"
                         f"{h(b.get('status'))}</td></tr>"
                         for b in p["budgets"]) + "</table>")
    else:
        o.append("<p class=muted>no budgets in the reports given</p>")
    if p["team"] is None:
        o.append("<h2>Unallocated: top resources</h2>")
        if p["unallocated"]:
            o.append("<table><tr><th>Resource</th><th>Monthly</th><th>Missing or invalid</th>"
                     "<th>Where to fix</th><th>Fix</th></tr>" +
                     "".join(f"<tr><td>{h(u['address'])}</td><td>{h(_money(u['monthly_usd']))}</td>"
                             f"<td>{h(', '.join(map(str, u.get('missing_or_invalid') or [])))}</td>"
                             f"<td>{h(_where(u))}</td><td>{h(u.get('fix') or '')}</td></tr>"
                             for u in p["unallocated"]) + "</table>")
        else:
            o.append("<p class=muted>none</p>")
    tk = p["tokens"]
    o.append("<h2>Token spend</h2>")
    if tk["given"]:
        o.append(f"<p>{h(_money(tk['cost_usd']))} in {h(p['month'])}; {len(tk['anomalies'])} anomalous day(s).</p>")
        if tk["anomalies"]:
            o.append("<table><tr><th>Day</th><th>Group</th><th>Spend</th><th>Ratio</th></tr>" +
                     "".join(f"<tr><td>{h(a.get('date'))}</td>"
                             f"<td>{h(', '.join(f'{k}={v}' for k, v in (a.get('group') or {}).items()))}</td>"
                             f"<td>{h(_money(a.get('cost_usd')))}</td><td>{h(a.get('ratio'))}x</td></tr>"
                             for a in tk["anomalies"]) + "</table>")
    else:
        o.append("<p class=muted>no usage report given (`tagguard usage ... -f json`)</p>")
    o.append("<h2>Approvals granted</h2>")
    o.append(("<table><tr><th>Resource</th><th>Approved by</th><th>Monthly delta</th></tr>" +
              "".join(f"<tr><td>{h(a['address'])}</td><td>{h(a['approved_by'])}</td>"
                      f"<td>{h(_money(a['delta_usd']))}</td></tr>"
                      for a in p["approvals"]) + "</table>") if p["approvals"] else "<p class=muted>none</p>")
    o.append("<h2>Optimisation hints</h2>")
    if p["hints"]:
        total = sum(x.get("saving_usd") or 0 for x in p["hints"])
        o.append(f"<p>Possible savings {h(_money(total))}/month.</p>"
                 "<table><tr><th>Hint</th><th>Resource</th><th>Saving</th><th>How</th></tr>" +
                 "".join(f"<tr><td>{h(x['rule'])}</td><td>{h(x['address'])}</td>"
                         f"<td>{h(_money(x.get('saving_usd')))}</td>"
                         f"<td>{h(x.get('fix') or '')}</td></tr>" for x in p["hints"]) + "</table>")
    else:
        o.append("<p class=muted>none</p>")
    o.append("</body></html>\n")
    return "".join(o)


def _where(u: dict[str, Any]) -> str:
    if u.get("file"):
        return f"{u['file']}:{u['line']}" if u.get("line") else str(u["file"])
    return f"account {u.get('account') or '?'} {u.get('region') or ''}".strip()


def render_markdown(p: dict[str, Any], doc: dict[str, Any], links: dict[str, str]) -> str:
    o = [f"# {md_text(_title(p, doc['team_key']))}", ""]
    for n in doc["notes"]:
        o.append(f"> Note: {md_text(n)}")
    tot = p.get("totals")
    if tot:
        o += ["", f"AI spend {md_text(_money(tot['monthly_usd']))}/month, "
                  f"{float(tot['gpu_hours'] or 0):,.0f} GPU-hours; unallocated "
                  f"{md_text(_money(tot['unallocated_monthly_usd']))} ({tot['unallocated_share_pct']}%)."]
    if links:
        o += ["", "## Teams", ""] + [f"- [{md_text(name)}]({href})" for name, href in links.items()]
    if p["mom"]:
        o += ["", "## Month over month", "", "| Month | AI spend | GPU-hours | Unallocated |", "|---|---|---|---|"]
        o += [f"| {m['month']} | {_money(m['monthly_usd'])} | "
              f"{m['gpu_hours'] if m['gpu_hours'] is not None else 'n/a'} | "
              f"{_money(m['unallocated_usd'])} |" for m in p["mom"]]
    for _label, d in (p.get("dimensions") or {}).items():
        o += ["", f"## Spend by {md_text(d['tag'])}", "",
              "| Value | Monthly | GPU-hours | Share |", "|---|---|---|---|"]
        o += [f"| {md_text(r['value'])} | {_money(r['monthly_usd'])} | {r['gpu_hours']} | {r['share_pct']}% |"
              for r in d["rows"]]
    o += ["", "## Budgets", ""]
    if p["budgets"]:
        o += ["| Budget | Basis | Spend | Forecast | Limit | Status |", "|---|---|---|---|---|---|"]
        o += [f"| {md_text(b['name'])} | {md_text(b['basis'])} | {_money(b.get('spend_usd'))} | "
              f"{_money(b.get('forecast_usd'))} | "
              f"{_money(b.get('limit_usd'))} | {md_text(b.get('status'))} |" for b in p["budgets"]]
    else:
        o.append("No budgets in the reports given.")
    if p["team"] is None:
        o += ["", "## Unallocated: top resources", ""]
        if p["unallocated"]:
            o += ["| Resource | Monthly | Missing or invalid | Where to fix | Fix |", "|---|---|---|---|---|"]
            o += [f"| {md_text(u['address'])} | {_money(u['monthly_usd'])} | "
                  f"{md_text(', '.join(map(str, u.get('missing_or_invalid') or [])))} | "
                  f"{md_text(_where(u))} | {md_text(u.get('fix') or '')} |" for u in p["unallocated"]]
        else:
            o.append("None.")
    tk = p["tokens"]
    o += ["", "## Token spend", ""]
    if tk["given"]:
        o.append(f"{_money(tk['cost_usd'])} in {p['month']}; {len(tk['anomalies'])} anomalous day(s).")
        o += [f"- {md_text(a.get('date'))}: "
              f"{md_text(', '.join(f'{k}={v}' for k, v in (a.get('group') or {}).items()))} "
              f"{_money(a.get('cost_usd'))} ({md_text(a.get('ratio'))}x)" for a in tk["anomalies"]]
    else:
        o.append("No usage report given.")
    o += ["", "## Approvals granted", ""]
    o += [f"- {md_text(a['address'])}: approved by {md_text(a['approved_by'])} ({_money(a['delta_usd'])}/month)"
          for a in p["approvals"]] or ["None."]
    o += ["", "## Optimisation hints", ""]
    if p["hints"]:
        o.append(f"Possible savings {_money(sum(x.get('saving_usd') or 0 for x in p['hints']))}/month.")
        o += [f"- {md_text(x['rule'])} {md_text(x['address'])}: saves {_money(x.get('saving_usd'))}/month. "
              f"{md_text(x.get('fix') or '')}"
              for x in p["hints"]]
    else:
        o.append("None.")
    return "\n".join(o) + "\n"


def write_pack(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    links_html = {t: f"team-{_slug(t)}.html" for t in doc["teams"]}
    links_md = {t: f"team-{_slug(t)}.md" for t in doc["teams"]}
    for name, page, lh, lm in [("org", doc["org"], links_html, links_md)] + \
            [(f"team-{_slug(t)}", p, {}, {}) for t, p in doc["teams"].items()]:
        for ext, text in (("html", render_html(page, doc, lh)), ("md", render_markdown(page, doc, lm))):
            path = out_dir / f"{name}.{ext}"
            path.write_text(text, encoding="utf-8")
            written.append(path)
    (out_dir / "review.json").write_text(json.dumps(doc, indent=1, default=str, ensure_ascii=True), encoding="utf-8")
    written.append(out_dir / "review.json")
    return written
