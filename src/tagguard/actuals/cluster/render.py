"""Text, JSON and Markdown for a cluster GPU-hours report. Every value that came from the cluster
(namespace, pod, label values, node names) is untrusted: escaped for the terminal or Markdown."""
from __future__ import annotations

import json
from typing import Any

from tagguard.formats.helpers import plural

FORMATS = ("text", "json", "markdown")


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=False, allow_nan=False, default=_default) + "\n"
    if fmt == "markdown":
        return markdown(report)
    return text(report)


def _default(o: Any) -> Any:
    if isinstance(o, (set, tuple)):
        return sorted(o)
    raise TypeError(type(o).__name__)


def _h(v: Any) -> str:
    return "-" if v is None else f"{v:,.1f}"


def _usd(v: Any) -> str:
    from tagguard.formats.helpers import money

    return "-" if v is None else money(v)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{v:.0%}"


def _cap(share: dict[str, float]) -> str:
    return " ".join(f"{k.replace('_', '-')} {v:.0%}" for k, v in share.items()) or "-"


COLS = ("requested GPU-h", "used GPU-h", "idle GPU-h", "unmeasured GPU-h", "util", "cost", "idle cost", "capacity")


def _cells(r: dict[str, Any]) -> list[str]:
    return [_h(r["requested_gpu_hours"]), _h(r["used_gpu_hours"]), _h(r["idle_gpu_hours"]),
            _h(r["unmeasured_gpu_hours"]), _pct(r.get("utilisation")), _usd(r["cost_usd"]),
            _usd(r["idle_cost_usd"]), _cap(r.get("capacity_share") or {})]


def text(rep: dict[str, Any]) -> str:
    from tagguard.formats.escape import guard_commands, term

    w = rep["window"]
    t = rep["totals"]
    out = [f"tagguard cluster report: {w['start']} .. {w['end']} ({w['hours']:g} h, one sample = "
           f"{w['sample_interval_seconds']:g} s, {w['chunks']} chunk(s)); "
           f"utilisation from {rep['source']['util_metric']}",
           "",
           f"GPU capacity      {_h(t['capacity_gpu_hours'])} GPU-h on {t['nodes']} node(s)",
           f"requested         {_h(t['requested_gpu_hours'])} GPU-h  {_usd(t['cost_usd'])}  ({t['pods']} pod(s))",
           f"used              {_h(t['used_gpu_hours'])} GPU-h  {_usd(t['used_cost_usd'])}",
           f"idle (allocated)  {_h(t['idle_gpu_hours'])} GPU-h  {_usd(t['idle_cost_usd'])}",
           f"idle (no pod)     {_h(t['idle_unallocated_gpu_hours'])} GPU-h  {_usd(t['idle_unallocated_cost_usd'])}",
           f"unmeasured        {_h(t['unmeasured_gpu_hours'])} GPU-h (no utilisation series for the pod)",
           f"unattributed      {_h(rep['unattributed']['gpu_hours'])} GPU-h  {_usd(rep['unattributed']['cost_usd'])}"
           f"  ({rep['unattributed']['pods']} pod(s) whose labels miss or break the taxonomy)",
           ""]
    out += _table_text(f"by {term(rep['group_by'])}", "group", rep["by_group"], term,
                       extra=lambda r: f"  + shared idle {_usd(r.get('shared_idle_cost_usd'))}"
                       if r.get("shared_idle_cost_usd") is not None else "")
    out += _table_text("by namespace", "namespace", rep["by_namespace"], term)
    if rep["unattributed"]["reasons"]:
        out.append("unattributed because:")
        for r in rep["unattributed"]["reasons"]:
            out.append(f"  {r['pods']} pod(s): {term(r['reason'])}")
        out.append("")
    if rep["idle_nodes"]:
        out.append("idle GPU capacity (allocatable, requested by no pod):")
        for n in rep["idle_nodes"][:50]:
            out.append(f"  {term(n['node'])} ({term(n['instance_type'] or '?')}, {n['capacity_type']}): "
                       f"{_h(n['idle_unallocated_gpu_hours'])} GPU-h {_usd(n['idle_cost_usd'])}"
                       + ("  no GPU pods" if n["no_pods"] else ""))
        out.append("")
    sp = rep["split"]
    out.append(f"split: MIG by {sp['mig_basis']}, time-slicing by {sp['time_slicing']}, idle sharing "
               f"{sp['idle_sharing']['method']}" + (" " + ", ".join(f"{term(k)} {v:.1%}" for k, v in
                                                    sp["idle_sharing"]["ratios"].items())
                                                    if sp["idle_sharing"]["ratios"] else ""))
    for k, v in sp["units"].items():
        out.append(f"  {term(k)}: {term(v)}")
    out.append("")
    out += findings_text(rep)
    for u in rep["unpriced"]:
        out.append(f"not priced: {_h(u['gpu_hours'])} GPU-h: {term(u['reason'])}")
    for u in rep["unknown_resources"]:
        out.append(f"not counted: {term(u['resource'])} ({_h(u['unit_hours'])} unit-hours): share of a GPU unknown")
    for wmsg in rep["warnings"]:
        out.append(f"warning: {term(wmsg)}")
    out += [term(x) for x in history_lines(rep.get("history"))]
    # a label value like `##[stop-commands]` in a CI log must stay text (term escapes controls only)
    return guard_commands("\n".join(out).rstrip() + "\n")


def findings_text(rep: dict[str, Any]) -> list[str]:
    """The findings (``Finding.to_json`` dicts; savings are in their messages) and the gate's verdict."""
    from tagguard.formats.escape import term

    out = []
    if rep.get("findings"):
        out.append("findings:")
        for f in rep["findings"]:
            out.append(f"  [{f['severity']}] {f['rule']}: {term(f['message'])}")
            if f.get("fix"):
                out.append(f"      fix: {term(f['fix'])}")
        out.append("")
    for e in rep.get("errors") or ():
        out.append(f"incomplete: {term(e['message'])}")
    s = rep.get("summary")
    if s:
        out += [f"{plural(s['findings'], 'finding')}, {s['blocking']} at or above --fail-on {s['fail_on']}: "
                f"exit {s['exit_code']}", ""]
    return out


def findings_markdown(rep: dict[str, Any]) -> list[str]:
    from tagguard.formats.escape import md_cell

    out = [f"- **incomplete**: {md_cell(e['message'])}" for e in rep.get("errors") or ()]
    out += [""] if out else []
    if not rep.get("findings"):
        return out
    out += ["### Findings", "", "| severity | rule | finding | fix | saving |", "|---|---|---|---|---:|"]
    for f in rep["findings"]:
        out.append(f"| {f['severity']} | {f['rule']} | {md_cell(f['message'])} | {md_cell(f.get('fix') or '')} | "
                   f"{_usd(f.get('saving_usd'))} |")
    return out + [""]


def history_lines(h: dict[str, Any] | None) -> list[str]:
    """The trend of recorded cluster runs (actual cost per month, unattributed) and the biggest changes
    per group since the previous run."""
    if not h:
        return []
    runs = h.get("trend") or []
    out = ["", f"history ({h.get('path')}): run {h['run_id']}"
           + (f", previous cluster run {h['previous_run_id']}" if h.get("previous_run_id") else " (first cluster run)")]
    for r in runs[-6:]:
        out.append(f"  run {r['run_id']} window ending {r['at']}: {_usd(r['monthly_usd'])}/month actual, "
                   f"unattributed {_usd(r['unallocated_usd'])}/month, {_h(r['gpu_hours'])} GPU-h")
    moved = sorted((g for g in h.get("groups") or [] if g.get("change_usd")), key=lambda g: -abs(g["change_usd"]))
    for g in moved[:10]:
        out.append(f"  {g['tag']}={g['value']}: {_usd(g['previous_monthly_usd'])} -> {_usd(g['monthly_usd'])}/month")
    return out


def _table_text(title: str, key: str, rows: list[dict[str, Any]], esc, extra=None) -> list[str]:
    if not rows:
        return []
    names = [esc(r[key]) for r in rows]
    width = max(12, max(len(n) for n in names))
    out = [f"{title}:", f"  {'':{width}}  " + "  ".join(f"{c:>14}" for c in COLS[:-1]) + "  capacity"]
    for n, r in zip(names, rows):
        cells = _cells(r)
        out.append(f"  {n:{width}}  " + "  ".join(f"{c:>14}" for c in cells[:-1]) + f"  {cells[-1]}"
                   + (extra(r) if extra else ""))
    out.append("")
    return out


def markdown(rep: dict[str, Any]) -> str:
    from tagguard.formats.escape import md_cell

    w, t = rep["window"], rep["totals"]
    out = [f"## GPU-hours {w['start']} .. {w['end']}", "",
           f"Utilisation from `{rep['source']['util_metric']}`; one sample = {w['sample_interval_seconds']:g} s.", "",
           "| | GPU-hours | cost |", "|---|---:|---:|",
           f"| capacity | {_h(t['capacity_gpu_hours'])} | |",
           f"| requested | {_h(t['requested_gpu_hours'])} | {_usd(t['cost_usd'])} |",
           f"| used | {_h(t['used_gpu_hours'])} | {_usd(t['used_cost_usd'])} |",
           f"| idle (allocated) | {_h(t['idle_gpu_hours'])} | {_usd(t['idle_cost_usd'])} |",
           f"| idle (no pod) | {_h(t['idle_unallocated_gpu_hours'])} | {_usd(t['idle_unallocated_cost_usd'])} |",
           f"| unmeasured | {_h(t['unmeasured_gpu_hours'])} | |",
           f"| **unattributed** | {_h(rep['unattributed']['gpu_hours'])} | {_usd(rep['unattributed']['cost_usd'])} |",
           ""]
    for title, key, rows in ((f"By {md_cell(rep['group_by'])}", "group", rep["by_group"]),
                             ("By namespace", "namespace", rep["by_namespace"])):
        if not rows:
            continue
        out += [f"### {title}", "", "| | " + " | ".join(COLS) + " |", "|---|" + "---:|" * (len(COLS) - 1) + "---|"]
        for r in rows:
            out.append(f"| {md_cell(r[key])} | " + " | ".join(md_cell(c) for c in _cells(r)) + " |")
        out.append("")
    if rep["unattributed"]["reasons"]:
        out += ["### Unattributed", ""] + [f"- {r['pods']} pod(s): {md_cell(r['reason'])}"
                                          for r in rep["unattributed"]["reasons"]] + [""]
    out += findings_markdown(rep)
    notes = [f"not priced: {_h(u['gpu_hours'])} GPU-h: {u['reason']}" for u in rep["unpriced"]] + \
        [f"warning: {x}" for x in rep["warnings"]]
    out += [f"- {md_cell(n)}" for n in notes]
    hist = history_lines(rep.get("history"))
    if hist:
        out += ["", "### History", ""] + [f"- {md_cell(x.strip())}" for x in hist[1:]]
    return "\n".join(out).rstrip() + "\n"
