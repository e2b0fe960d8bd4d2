"""``tagguard usage``: ingest, price, validate, aggregate; render as text, JSON, Markdown or CSV.

``analyse(paths, config)`` returns the report as a plain dict (the JSON output);
``render(report, fmt)`` turns it into text.  ``token_showback_rows(config)``
feeds token spend into ``tagguard report showback``.
"""
from __future__ import annotations

import csv
import glob
import io
import json
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Sequence

from tagguard.formats.helpers import money, plural, rate
from tagguard.model import ERROR, INFO, PARSE_ERROR, SEVERITY_RANK, WARNING, Finding

REPORT_VERSION = 1
DEFAULT_DIMENSIONS = ("business-unit", "project", "environment", "model")
MAX_PARSE_FINDINGS_PER_FILE = 20
RULE_OF = {"missing_tag": "missing-tag", "invalid_value": "invalid-value", "unresolved_value": "unresolved-value"}


class UsageError(ValueError):
    """A configuration or argument problem: one line, exit code 2."""


def settings(config: Any) -> dict[str, Any]:
    raw = (config.section("llm") if config is not None else None) or {}
    if not isinstance(raw, dict):
        raise UsageError("llm: expected a mapping")

    def num(key: str, default: float, lo: float = 0.0) -> float:
        v = raw.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < lo:
            raise UsageError(f"llm.{key}: expected a number >= {lo:g}, got {v!r}")
        return float(v)

    dims = raw.get("dimensions", list(DEFAULT_DIMENSIONS))
    group = raw.get("anomaly_group_by", ["business-unit", "project"])
    for key, val in (("dimensions", dims), ("anomaly_group_by", group)):
        if not isinstance(val, list) or not val or not all(isinstance(x, str) for x in val):
            raise UsageError(f"llm.{key}: expected a non-empty list of tag keys")
    ta = raw.get("tag_attributes") or {}
    if not isinstance(ta, dict):
        raise UsageError("llm.tag_attributes: expected a mapping of attribute/field name to tag key")
    files = raw.get("usage_files") or []
    if isinstance(files, str):
        files = [files]
    return {
        "dimensions": list(dims),
        "anomaly_group_by": list(group),
        "anomaly_factor": num("anomaly_factor", 3.0, 1.0),
        "anomaly_window_days": int(num("anomaly_window_days", 7, 1)),
        "anomaly_min_history_days": int(num("anomaly_min_history_days", 3, 1)),
        "anomaly_min_usd": num("anomaly_min_usd", 1.0),
        "top": int(num("top", 5, 1)),
        "tag_attributes": {str(k): str(v) for k, v in ta.items()},
        "usage_files": [str(f) for f in files],
        "showback_month": raw.get("showback_month"),
    }


def expand_paths(patterns: Sequence[str], base: Path | None = None) -> list[str]:
    out: list[str] = []
    for p in patterns:
        if p == "-":
            out.append(p)
            continue
        full = p if base is None or Path(p).is_absolute() else str(base / p)
        hits = sorted(glob.glob(full)) if any(c in p for c in "*?[") else [full]
        out.extend(hits)
    return out


def analyse(paths: Sequence[str], config: Any = None, *, since: str | None = None, until: str | None = None,
            period: str = "day", taxonomy: Any = None, prices: Any = None) -> dict[str, Any]:
    """Read, price and aggregate ``paths``; check callers, models, anomalies and budgets; the report."""
    from tagguard.llm.analysis.aggregate import metrics
    from tagguard.llm.analysis.budgets import evaluate as eval_budgets
    from tagguard.llm.analysis.budgets import load_budgets
    from tagguard.llm.analysis.prices import PriceTable
    from tagguard.rules import apply_severities

    s = settings(config)
    if taxonomy is None and config is not None:
        taxonomy = config.taxonomy()
    if prices is None:
        tokens_cfg = ((config.section("pricing") if config is not None else None) or {}).get("tokens")
        prices = PriceTable.load(overrides=tokens_cfg)
    budgets = load_budgets(config.section("budgets") if config is not None else None)

    reader, agg, findings = _ingest(paths, s, taxonomy, prices, since, until)
    callers, caller_findings = _callers(agg)
    unknown, unknown_findings = _unknown_models(agg)
    anomalies, anomaly_findings = _anomalies(agg, s)
    budget_rows, budget_findings = eval_budgets(budgets, agg)
    findings += caller_findings + unknown_findings + anomaly_findings + list(budget_findings)
    findings = apply_severities(findings, dict((config.section("rules") if config is not None else None) or {}))

    tot, unt = agg.totals()
    totals = metrics(tot)
    totals["untagged"] = metrics(unt)
    dims = s["dimensions"]
    days = agg.days()
    report: dict[str, Any] = {
        "tool": "tagguard",
        "kind": "llm-usage",
        "version": REPORT_VERSION,
        "currency": "USD",
        "price_table": prices.describe_source(),
        "inputs": [st.to_json() for st in reader.files],
        "range": {"first_day": days[0] if days else None, "last_day": days[-1] if days else None,
                  "since": since, "until": until, "filtered_out_calls": agg.filtered},
        "totals": totals,
        "by": {d: [{"value": r[d], **{k: v for k, v in r.items() if k not in ("period", d)}}
                   for r in agg.rows([d], period="all")] for d in dims},
        "daily": agg.rows(dims, "day"),
        "weekly": agg.rows(dims, "week"),
        "callers": callers,
        "unknown_models": unknown,
        "anomalies": anomalies,
        "budgets": budget_rows,
        "findings": [f.to_json() for f in findings],
        "summary": _summary(findings, config.fail_on if config is not None else "error"),
    }
    report["_period"] = period
    report["_agg"] = agg
    return report


def _ingest(paths: Sequence[str], s: dict[str, Any], taxonomy: Any, prices: Any, since: str | None,
            until: str | None) -> tuple[Any, Any, list[Finding]]:
    """Stream every file into an ``Aggregator``; malformed lines are parse errors (the first
    ``MAX_PARSE_FINDINGS_PER_FILE`` per file, then one count)."""
    from tagguard.llm.analysis.aggregate import Aggregator
    from tagguard.llm.analysis.ingest import Reader, TagMapper

    keys = list(getattr(taxonomy, "properties", {}) or {}) + list(getattr(taxonomy, "required", []) or [])
    findings: list[Finding] = []
    per_file_errors: dict[str, int] = {}

    def on_error(file: str, line: int | None, msg: str) -> None:
        n = per_file_errors.get(file, 0) + 1
        per_file_errors[file] = n
        if n <= MAX_PARSE_FINDINGS_PER_FILE:
            findings.append(Finding(rule="parse-error", category=PARSE_ERROR, severity=ERROR,
                                    message=f"{file}{':' + str(line) if line else ''}: {msg}", file=file, line=line))

    reader = Reader(TagMapper(keys, s["tag_attributes"]), on_error)
    agg = Aggregator(prices, taxonomy, since=since, until=until)
    for path in paths:
        agg.add_all(reader.read(path, agg.fast_add))
    for file, n in per_file_errors.items():
        if n > MAX_PARSE_FINDINGS_PER_FILE:
            findings.append(Finding(
                rule="parse-error", category=PARSE_ERROR, severity=ERROR, file=file,
                message=f"{file}: {n - MAX_PARSE_FINDINGS_PER_FILE} more malformed lines not listed "
                        f"({n} in all); the other lines were processed"))
    agg.finish()
    return reader, agg, findings


def _callers(agg: Any) -> tuple[list[dict[str, Any]], list[Finding]]:
    """One row per caller (costliest first) and one finding per caller and issue, not one per call."""
    from tagguard.llm.analysis.aggregate import metrics

    ctot = agg.caller_totals()
    rows, findings = [], []
    for caller in agg.caller_list:
        a = ctot.get(caller.idx)
        if a is None:
            continue
        m = metrics(a)
        entry: dict[str, Any] = {"caller": caller.label(), "service": caller.service,
                                 "tags": dict(sorted(caller.tags.items())),
                                 "untagged": caller.untagged, "first_seen": caller.first_day,
                                 "last_seen": caller.last_day,
                                 "file": caller.first_file, "line": caller.first_line}
        entry.update(m)
        issues = []
        for issue in caller.issues:
            rule = RULE_OF.get(issue.category, issue.category.replace("_", "-"))
            issues.append({"rule": rule, "tag": issue.tag, "message": issue.message})
            tokens = m["input_tokens"] + m["output_tokens"]
            findings.append(Finding(
                rule=rule, category=issue.category, severity=ERROR if issue.category != "unresolved_value" else WARNING,
                message=f"{plural(m['calls'], 'model call')} ({plural(tokens, 'token')}, {money(m['cost_usd'])}) from "
                        f"{caller.label()}: {issue.message}",
                address=f"llm:{caller.label()}", file=caller.first_file, line=caller.first_line, tag=issue.tag,
                resource_type="llm_calls", fix=issue.fix,
                extra={"calls": m["calls"], "tokens": tokens, "cost_usd": m["cost_usd"],
                       "first_seen": caller.first_day, "last_seen": caller.last_day}))
        if issues:
            entry["issues"] = issues
        rows.append(entry)
    rows.sort(key=lambda c: -c["cost_usd"])
    return rows, findings


def _unknown_models(agg: Any) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Models missing from the token price table, most tokens first: a row and a finding each."""
    rows, findings = [], []
    for (model, provider), u in sorted(agg.unknown_models.items(), key=lambda kv: -kv[1][1]):
        calls, tokens, file, line, from_rec, rec_usd = u
        label = model or "(no model name)"
        how = (f"; {from_rec:,} of them priced from the spend recorded in the log ({money(rec_usd)})"
               if from_rec else "")
        rows.append({"model": model, "provider": provider, "calls": calls, "tokens": tokens,
                     "priced_from_record_calls": from_rec, "file": file, "line": line})
        findings.append(Finding(
            rule="unknown-model", category="unknown_model", severity=WARNING,
            message=f"model `{label}`{' (' + provider + ')' if provider else ''} is not in the token price table: "
                    f"{plural(calls, 'call')}, {plural(tokens, 'token')} not priced{how}",
            address=f"llm-model:{label}", file=file, line=line, resource_type="llm_model",
            fix="add it under pricing.tokens.models (per-million-token rates or hourly_usd) or map it with "
                "pricing.tokens.aliases to a listed model",
            extra={"calls": calls, "tokens": tokens}))
    return rows, findings


def _anomalies(agg: Any, s: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Days whose spend is ``anomaly_factor`` x the trailing median of their group, with a finding each."""
    anomalies = agg.anomalies(s["anomaly_group_by"], s["anomaly_factor"], s["anomaly_window_days"],
                              s["anomaly_min_history_days"], s["anomaly_min_usd"], s["top"])
    findings = []
    for an in anomalies:
        who = ", ".join(f"{k}={v}" for k, v in an["group"].items())
        tops = an.get("top_prompts")
        lead = (f"top prompt {tops[0]['prompt_fingerprint']} ({tops[0]['output_tokens']:,} output tokens)" if tops
                else f"top caller {an['top_callers'][0]['caller']} "
                     f"({an['top_callers'][0]['output_tokens']:,} output tokens)"
                if an["top_callers"] else "")
        findings.append(Finding(
            rule="token-anomaly", category="anomaly", severity=WARNING,
            message=f"{who}: {money(an['cost_usd'])} of token spend on {an['date']} is {an['ratio']}x the trailing "
                    f"{s['anomaly_window_days']}-day median ({money(an['trailing_median_usd'])})"
                    + (f"; {lead}" if lead else ""),
            address=f"llm:{who}", resource_type="llm_calls",
            extra={"date": an["date"], "ratio": an["ratio"], "cost_usd": an["cost_usd"]}))
    return anomalies, findings


def _summary(findings: list[Finding], fail_on: str) -> dict[str, Any]:
    """Counts by severity, the blocking ones (at or above ``fail_on``) and the exit code they give."""
    threshold = SEVERITY_RANK.get(fail_on, 3)
    blocking = [f for f in findings if SEVERITY_RANK.get(f.severity, 0) >= threshold]
    by_sev = {ERROR: 0, WARNING: 0, INFO: 0}
    for f in findings:
        by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
    return {"findings": len(findings), "by_severity": by_sev, "blocking": len(blocking),
            "fail_on": fail_on, "exit_code": 1 if blocking else 0}


# --- rendering ---------------------------------------------------------------------
def _usd(x: float) -> str:
    return money(x) if x >= 0.01 or x == 0 else rate(round(x, 4))  # a fraction of a cent: $0.0042


def _tok(r: dict[str, Any]) -> str:
    return f"{r['input_tokens']:,} in / {r['output_tokens']:,} out"


def render(report: dict[str, Any], fmt: str, period: str | None = None) -> str:
    period = period or report.get("_period", "day")
    if fmt == "json":
        clean = {k: v for k, v in report.items() if not k.startswith("_")}
        return json.dumps(clean, indent=2, sort_keys=False) + "\n"
    if fmt == "csv":
        return render_csv(report, period)
    if fmt == "markdown":
        return render_markdown(report, period)
    return render_text(report, period)


def render_csv(report: dict[str, Any], period: str) -> str:
    rows = report["weekly" if period == "week" else "daily"]
    metric_cols = ["calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
                   "unpriced_calls", "unpriced_tokens"]
    dims = [k for k in (rows[0] if rows else {}) if k not in metric_cols and k != "period"
            and k not in ("priced_from_record_calls", "proxy_cache_hits")]
    from tagguard.formats.escape import csv_cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([csv_cell(x) for x in ["period"] + dims + metric_cols])
    for r in rows:  # values come from usage logs: none may open as a spreadsheet formula
        w.writerow([csv_cell(x)
                    for x in [r["period"]] + [r.get(d, "") for d in dims] + [r.get(c, 0) for c in metric_cols]])
    return buf.getvalue()


def _inputs_line(report: dict[str, Any]) -> list[str]:
    out = []
    for i in report["inputs"]:
        bad = f", {i['malformed']} malformed" if i["malformed"] else ""
        out.append(f"{i['file']}: {plural(i['records'], 'call')} ({i['format'] or 'no records'}){bad}")
    return out


def render_text(report: dict[str, Any], period: str) -> str:
    t = report["totals"]
    u = t["untagged"]
    lines = ["LLM token spend"]
    rng = report["range"]
    if rng["first_day"]:
        lines[0] += f" {rng['first_day']} .. {rng['last_day']}"
    lines.append("")
    for x in _inputs_line(report):
        lines.append(f"  input  {x}")
    lines.append(f"  total  {_usd(t['cost_usd'])}  {plural(t['calls'], 'call')}  {_tok(t)}")
    share = (100.0 * u["cost_usd"] / t["cost_usd"]) if t["cost_usd"] else 0.0
    lines.append(f"  untagged  {_usd(u['cost_usd'])} ({share:.1f}% of cost)  {plural(u['calls'], 'call')}  {_tok(u)}")
    if t.get("unpriced_calls"):
        lines.append(f"  unpriced  {plural(t['unpriced_calls'], 'call')}, {plural(t['unpriced_tokens'], 'token')} "
                     "(unknown models, not in the total)")
    for dim, rows in report["by"].items():
        lines.append("")
        lines.append(f"By {dim}:")
        for r in rows[:15]:
            lines.append(f"  {r['value']:<28} {_usd(r['cost_usd']):>14}  "
                         f"{plural(r['calls'], 'call', width=9)}  {_tok(r)}")
        if len(rows) > 15:
            lines.append(f"  ... {len(rows) - 15} more")
    if report["anomalies"]:
        lines.append("")
        lines.append("Anomalies:")
        for a in report["anomalies"]:
            who = ", ".join(f"{k}={v}" for k, v in a["group"].items())
            lines.append(f"  {a['date']}  {who}: {_usd(a['cost_usd'])} = {a['ratio']}x median "
                         f"{_usd(a['trailing_median_usd'])}")
            for p in a.get("top_prompts", [])[:3]:
                lines.append(f"      prompt {p['prompt_fingerprint']}: {p['output_tokens']:,} output tokens")
            for c in a["top_callers"][:3]:
                lines.append(f"      caller {c['caller']}: {c['output_tokens']:,} output tokens, {_usd(c['cost_usd'])}")
    if report["budgets"]:
        lines.append("")
        lines.append("Budgets (token spend):")
        for b in report["budgets"]:
            proj = f", projected {_usd(b['projected_usd'])}" if "projected_usd" in b else ""
            lines.append(f"  {b['name']} {b['month']}: {_usd(b['token_spend_usd'])} of {_usd(b['monthly_usd'])}{proj} "
                         f"({b['mode']})")
    fs = report["findings"]
    if fs:
        lines.append("")
        lines.append("Findings:")
        for f in fs:
            lines.append(f"  {f['severity']:<7} {f['rule']:<15} {f['message']}")
            if f.get("fix"):
                lines.append(f"          fix: {f['fix']}")
    s = report["summary"]
    lines.append("")
    lines.append(f"{s['findings']} findings ({s['by_severity'].get('error', 0)} errors, "
                 f"{s['by_severity'].get('warning', 0)} warnings); "
                 f"{s['blocking']} blocking at --fail-on {s['fail_on']}")
    # usage logs are untrusted: control characters shown escaped, no line a workflow command
    from tagguard.formats.escape import guard_commands, term_block

    return guard_commands(term_block("\n".join(lines) + "\n"))


def _md_table(headers: list[str], rows: Iterable[list[Any]]) -> list[str]:
    """Every cell is data (usage logs are untrusted): escaped as Markdown text, code spans kept."""
    from tagguard.formats.escape import md_text

    out = ["| " + " | ".join(md_text(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(md_text(x) for x in r) + " |")
    return out


def render_markdown(report: dict[str, Any], period: str) -> str:
    from tagguard.formats.escape import md_text

    t = report["totals"]
    u = t["untagged"]
    rng = report["range"]
    lines = [f"## LLM token spend"
             f"{' ' + md_text(rng['first_day']) + ' to ' + md_text(rng['last_day']) if rng['first_day'] else ''}", ""]
    lines += _md_table(["", "cost", "calls", "input tokens", "output tokens"], [
        ["total", _usd(t["cost_usd"]), f"{t['calls']:,}", f"{t['input_tokens']:,}", f"{t['output_tokens']:,}"],
        ["untagged", _usd(u["cost_usd"]), f"{u['calls']:,}", f"{u['input_tokens']:,}", f"{u['output_tokens']:,}"],
    ])
    if t.get("unpriced_calls"):
        lines += ["", f"{plural(t['unpriced_calls'], 'call')} ({plural(t['unpriced_tokens'], 'token')}) "
                      f"use{'s' if t['unpriced_calls'] == 1 else ''} models without a price and "
                      f"{'is' if t['unpriced_calls'] == 1 else 'are'} not in the cost."]
    for dim, rows in report["by"].items():
        lines += ["", f"### By {md_text(dim)}", ""]
        lines += _md_table([dim, "cost", "calls", "input tokens", "output tokens"],
                           [[r["value"], _usd(r["cost_usd"]), f"{r['calls']:,}", f"{r['input_tokens']:,}",
                             f"{r['output_tokens']:,}"] for r in rows[:25]])
    if report["anomalies"]:
        lines += ["", "### Anomalies", ""]
        lines += _md_table(["date", "group", "cost", "x median", "top prompt / caller"], [
            [a["date"], ", ".join(f"{k}={v}" for k, v in a["group"].items()), _usd(a["cost_usd"]), a["ratio"],
             (a["top_prompts"][0]["prompt_fingerprint"] if a.get("top_prompts") else
              (a["top_callers"][0]["caller"] if a["top_callers"] else ""))] for a in report["anomalies"]])
    if report["budgets"]:
        lines += ["", "### Budgets (token spend)", ""]
        lines += _md_table(["budget", "month", "spend", "budget", "projected", "mode"], [
            [b["name"], b["month"], _usd(b["token_spend_usd"]), _usd(b["monthly_usd"]),
             _usd(b["projected_usd"]) if "projected_usd" in b else "", b["mode"]] for b in report["budgets"]])
    if report["findings"]:
        lines += ["", "### Findings", ""]
        lines += _md_table(["severity", "rule", "message"],
                           [[f["severity"], f"`{f['rule']}`", f["message"]] for f in report["findings"]])
    return "\n".join(lines) + "\n"


# --- showback -------------------------------------------------------------------------
def token_showback_rows(config: Any = None, paths: Sequence[str] | None = None, month: str | None = None,
                        report: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Token spend as showback rows, one per caller (tag set / service), for one calendar month.

    Rows: ``{"name", "tags", "monthly_usd", "kind": "tokens", "period", "calls", "input_tokens",
    "output_tokens", "unpriced_calls"}``.  Files: ``paths`` or ``llm.usage_files`` (relative to the
    config file).  Month: ``month``, ``llm.showback_month``, or the latest month in the data.
    """
    from tagguard.llm.analysis.aggregate import COST, metrics

    s = settings(config)
    if report is None:
        if paths is None:
            base = config.base_dir if config is not None else None
            paths = expand_paths(s["usage_files"], base)
        if not paths:
            return []
        report = analyse(paths, config)
    month = month or s["showback_month"]
    agg = report["_agg"]
    days = agg.days()
    if not days:
        return []
    if month is None:
        month = days[-1][:7]
    acc: dict[int, list] = {}
    for (day, ci, _model), cell in agg.cube.items():
        if not day.startswith(month):
            continue
        a = acc.get(ci)
        if a is None:
            a = acc[ci] = [0] * len(cell)
            a[COST] = 0.0
        for i, v in enumerate(cell):
            a[i] += v
    out = []
    for ci, a in acc.items():
        caller = agg.caller_list[ci]
        m = metrics(a)
        out.append({"name": "tokens: " + caller.label(), "tags": dict(caller.tags),
                    "monthly_usd": round(m["cost_usd"], 2),
                    "kind": "tokens", "period": month, "service": caller.service, "untagged": caller.untagged,
                    "calls": m["calls"], "input_tokens": m["input_tokens"], "output_tokens": m["output_tokens"],
                    "unpriced_calls": m.get("unpriced_calls", 0)})
    out.sort(key=lambda x: -x["monthly_usd"])
    return out
