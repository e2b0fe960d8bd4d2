"""``--format text``: for people.  Grouped by file, the fix spelled out, colour on a TTY."""
from __future__ import annotations

from typing import Any

from tagguard.formats.base import Formatter
from tagguard.formats.helpers import money, plural
from tagguard.formats.escape import guard_commands, term, term_block
from tagguard.model import ERROR, INFO, WARNING, Finding, ScanResult

_COLORS = {ERROR: "31", WARNING: "33", INFO: "36", "dim": "2", "bold": "1", "green": "32"}


def _paint(text: str, what: str, color: bool) -> str:
    return f"\x1b[{_COLORS[what]}m{text}\x1b[0m" if color else text


def _terminal_width() -> int:
    import shutil

    return max(shutil.get_terminal_size((120, 24)).columns, 60)


def _wrap(text: str, width, indent: int) -> list[str]:
    if not width or len(text) + indent <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width=width - indent, break_long_words=False, break_on_hyphens=False) or [text]


def config_line(info: dict[str, Any]) -> str:
    """``config: PATH (source) · taxonomy: PATH``, with anything from a file name escaped."""
    where = term(str(info.get("path"))) if info.get("path") else "none (built-in defaults)"
    source = info.get("source")
    if source and source not in ("default",):
        where += f" ({term(str(source))})"
    if info.get("user_config"):
        where += f" over {term(str(info['user_config']))}"
    return f"config: {where} · taxonomy: {term(str(info.get('taxonomy') or '(built-in)'))}"


class TextFormatter(Formatter):
    name = "text"
    human = True

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        # On a terminal (colour on) long messages wrap under their column; piped output keeps
        # one line per finding for grep.
        width = _terminal_width() if color else None
        lines: list[str] = []
        if result.config:  # which config and taxonomy judged this run
            lines.append(_paint(config_line(result.config), "dim", color))
        groups: dict[str, list[Finding]] = {}
        for f in result.findings:
            if f.suppressed:
                continue
            groups.setdefault(f.file or "(no file)", []).append(f)
        # Everything from scanned data is shown with its control characters escaped
        # (no terminal escape sequences, no fake lines), and no line can become a
        # GitHub workflow command (``guard_commands`` on the whole output).
        for file in sorted(groups):
            lines.append(_paint(term(file), "bold", color))
            for f in groups[file]:
                where = term(f.line) if f.line else "-"  # an int, unless a JSON report said otherwise
                sev = _paint(f"{f.severity:<7}", f.severity, color)
                rule_id = term(f.rule)
                rule = _paint("[" + rule_id + "]", "dim", color)
                head = _wrap(f"{term(f.message)}  [{rule_id}]", width, 16)
                head[-1] = head[-1][: -len(rule_id) - 2] + rule
                lines.append(f"  {where:>5}  {sev} {head[0]}")
                lines.extend(f"{'':16}{more}" for more in head[1:])
                if f.fix:
                    for i, fix_line in enumerate(term_block(f.fix).split("\n") or [""]):
                        text = ("fix: " if i == 0 else "     ") + fix_line
                        wrapped = _wrap(text, width, 21) if i == 0 else [text]
                        lines.append(f"{'':16}{wrapped[0]}")
                        lines.extend(f"{'':21}{more}" for more in wrapped[1:])
            lines.append("")
        lines.extend(self._summary(result, color))
        return guard_commands("\n".join(lines) + "\n")

    def _summary(self, result: ScanResult, color: bool) -> list[str]:
        s = result.summary()
        sev = s["by_severity"]
        parts = [f"{s['ai_resources']} AI resource{'s' if s['ai_resources'] != 1 else ''}",
                 f"{s['compliant_ai_resources']} compliant"]
        parts.append(f"{sev.get('error', 0)} error{'s' if sev.get('error', 0) != 1 else ''}")
        parts.append(f"{sev.get('warning', 0)} warning{'s' if sev.get('warning', 0) != 1 else ''}")
        if sev.get("info"):
            parts.append(f"{sev['info']} info")
        if s["suppressed"]:
            parts.append(f"{s['suppressed']} suppressed")
        cost = ""
        if s["ai_resources"]:
            cost = f"; {money(s['monthly_usd'])}/month, {s['gpu_hours_per_month']:,} GPU-hours/month"
            if s["unpriced_ai_resources"]:
                cost += f" ({s['unpriced_ai_resources']} unpriced)"
            if s.get("lower_bound_ai_resources"):  # floors of GPU requests no node information places
                cost += (f", of which {money(s.get('lower_bound_monthly_usd') or 0)}/month is a lower bound over "
                         f"{plural(s['lower_bound_ai_resources'], 'resource')} (price-lower-bound)")
            if s.get("attributed_ai_resources"):  # shares of node pools priced in the scan: not added twice
                cost += (f"; {money(s.get('attributed_monthly_usd') or 0)}/month of it attributed to "
                         f"{plural(s['attributed_ai_resources'], 'workload')} (counted once, on their node pools)")
        verdict = "FAIL" if s["exit_code"] else "PASS"
        head = _paint(verdict, ERROR if s["exit_code"] else "green", color)
        out = [f"{head}: " + ", ".join(parts) + cost]
        baseline = result.baseline
        if baseline is not None:  # tagguard.state.baseline.apply_baseline
            stale = baseline.stale
            line = f"baseline {term(baseline.path)}: hid {baseline.suppressed} known finding(s)"
            if baseline.grown:
                line += f"; {len(baseline.grown)} grew past the baselined figure and count again"
            if stale:
                line += (f"; {len(stale)} stale entr{'y' if len(stale) == 1 else 'ies'} (no finding matches now): "
                         + ", ".join(
                             "/".join(term(x) for x in (e.get("file"), e.get("address"), e.get("rule"), e.get("tag"))
                                      if x)
                             for e in stale[:5])
                         + (" ..." if len(stale) > 5 else ""))
            out.append(_paint(line, "dim", color))
        return out
