"""Baselines: adopt tagguard on a repository that already has violations.

``tagguard baseline create`` records today's findings in
``.tagguard-baseline.json``; ``tagguard scan --baseline FILE`` then marks the
findings recorded there as suppressed (reason ``baseline``) so only new ones
block.  Nothing is deleted: every format still shows what the baseline hid.

Each entry is keyed by file + resource address + rule + tag
(``Finding.key()``).  Keeping the file in the key means a new violation with
the same address in another module (``module.gpu`` is a common name) is not
absorbed by an old entry.  Paths in the file are relative to the baseline
file's own directory, so the key does not depend on which paths a scan was
given (a pre-commit run passes single files; CI passes the repository).

Entries that no longer match a finding are reported as stale, for the files
the scan looked at.

A baseline never absorbs growth: ``over-budget`` and ``needs-approval`` entries
store their figure (monthly $ and GPU-hours per month: projected for a budget,
the change's delta for an approval).  When the figure of the finding now is
larger than the stored one, the finding is not hidden: it comes back with a
message saying what it grew from and to.  An entry of those rules without a
figure (written by an older tagguard) hides nothing: regenerate the baseline.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tagguard.formats.helpers import money
from tagguard.model import NOT_SCANNED, Finding, ScanResult
from tagguard.report_parts import BaselineInfo

BASELINE_VERSION = 1
REASON = "baseline"
Key = tuple[str, str, str, str]
# Rules whose findings carry a figure that can grow: (finding extra key, figure name) pairs.
GROWTH_FIGURES = {
    "over-budget": (("projected_usd", "monthly_usd"), ("projected_gpu_hours", "gpu_hours_per_month")),
    "needs-approval": (("cost_delta_monthly_usd", "monthly_usd"), ("gpu_hours_delta_per_month", "gpu_hours_per_month")),
}
# Growth smaller than this is rounding, not growth.
_TOLERANCE = {"monthly_usd": 0.005, "gpu_hours_per_month": 1e-6}


def figure_of(f: Finding) -> dict[str, float | None] | None:
    """The figure a baseline stores for ``f`` (``None`` for rules whose findings cannot grow)."""
    spec = GROWTH_FIGURES.get(f.rule)
    if spec is None:
        return None
    out: dict[str, float | None] = {}
    for src, name in spec:
        value = f.extra.get(src)
        out[name] = round(float(value), 4) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return out


def grew(stored: dict[str, Any] | None, now: dict[str, float | None] | None) -> list[str]:
    """Which figures of ``now`` are larger than the stored ones (every one when nothing was stored)."""
    if now is None:
        return []
    if not isinstance(stored, dict):
        return [k for k in now] or ["figure"]
    out = []
    for name, value in now.items():
        before = stored.get(name)
        if value is None:
            continue
        if not isinstance(before, (int, float)) or isinstance(before, bool):
            if value > 0:  # a figure appeared where the baseline had none: not covered by it
                out.append(name)
            continue
        if value > before + _TOLERANCE.get(name, 0.0):
            out.append(name)
    return out


def _describe(name: str, value: float | None) -> str:
    if value is None:
        return "unknown"
    if name == "monthly_usd":
        return f"{money(value)}/month"
    return f"{value:,.0f} GPU-hours/month"


def _rebase(file: str, scan_base: Path, baseline_dir: Path) -> str:
    """A finding's file (relative to the scan root) relative to the baseline's directory."""
    if not file or file.startswith("<"):
        return file
    absolute = Path(os.path.abspath(scan_base / file))
    try:
        rel = os.path.relpath(absolute, os.path.abspath(baseline_dir))
    except ValueError:  # another drive on Windows
        return absolute.as_posix()
    return Path(rel).as_posix()


def finding_key(f: Finding, scan_base: Path, baseline_dir: Path) -> Key:
    file, address, rule, tag = f.key()
    return (_rebase(file, scan_base, baseline_dir), address, rule, tag)


def entries_for(result: ScanResult, baseline_path: Path) -> list[dict[str, Any]]:
    """The baseline entries for a scan's active findings (sorted, unique)."""
    base = result.base_dir()
    bdir = baseline_path.parent
    seen: dict[Key, dict[str, Any]] = {}
    for f in result.findings:
        if f.suppressed:  # inline suppressions stay inline
            continue
        key = finding_key(f, base, bdir)
        if key not in seen:
            seen[key] = {"file": key[0] or None, "address": key[1] or None, "rule": key[2],
                         "tag": key[3] or None, "message": f.message}
            figure = figure_of(f)
            if figure is not None:
                seen[key]["figure"] = figure
    return [seen[k] for k in sorted(seen)]


def write_baseline(result: ScanResult, path: Path) -> int:
    from tagguard import __version__

    entries = entries_for(result, path)
    doc = {"version": BASELINE_VERSION, "generated_by": f"tagguard {__version__}",
           "note": "Findings accepted when tagguard was adopted. `tagguard scan --baseline` reports only new ones; "
                   "regenerate with `tagguard baseline create`.",
           "findings": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return len(entries)


def load_baseline(path: Path) -> dict[Key, dict[str, Any] | None]:
    """Read a baseline file: entry key -> stored figure (or None); ``ValueError("<file>: reason")`` when unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"{path}: baseline file not found (create it with `tagguard baseline create`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read baseline ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: baseline is not valid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise ValueError(f"{path}: not a tagguard baseline (expected an object with a `findings` list)")
    version = doc.get("version", BASELINE_VERSION)
    if version != BASELINE_VERSION:
        raise ValueError(f"{path}: unsupported baseline version {version!r}"
                         f" (this tagguard reads version {BASELINE_VERSION})")
    keys: dict[Key, dict[str, Any] | None] = {}
    for i, entry in enumerate(doc["findings"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("rule"), str) or not entry["rule"]:
            raise ValueError(f"{path}: findings[{i}] needs at least a `rule` string")
        parts = []
        for name in ("file", "address", "tag"):
            value = entry.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{path}: findings[{i}].{name} must be a string or null")
            parts.append(value or "")
        figure = entry.get("figure")
        if figure is not None and not isinstance(figure, dict):
            raise ValueError(f"{path}: findings[{i}].figure must be an object")
        keys[(parts[0], parts[1], entry["rule"], parts[2])] = figure
    return keys


def apply_baseline(result: ScanResult, path: Path) -> BaselineInfo:
    """Suppress findings recorded in the baseline unless their figure grew; report what it hid, what grew
    and stale entries."""
    path = Path(path)
    keys = load_baseline(path)
    wanted: set[Key] = set(keys)
    grown: list[dict[str, Any]] = []
    # A chart that could not be rendered is not a known finding a baseline can accept: what it
    # hides is unknown, so its finding stays visible (and ScanResult.unseen keeps exit code 2).
    unseen = {(u.file or "") for u in result.unseen}
    base = result.base_dir()
    bdir = path.parent
    matched: set[Key] = set()
    suppressed = 0
    for f in result.findings:
        key = finding_key(f, base, bdir)
        if key not in wanted:
            continue
        matched.add(key)
        if f.suppressed or (f.category == NOT_SCANNED and (f.file or "") in unseen):
            continue
        now = figure_of(f)
        up = grew(keys[key], now)
        if up:
            stored = keys[key] if isinstance(keys[key], dict) else None
            if stored is None:
                f.message += (" (baselined without its figure, so the baseline cannot tell whether it grew; "
                              "regenerate it with `tagguard baseline create`)")
            else:
                f.message += " (grew since the baseline: " + ", ".join(
                    f"from {_describe(n, stored.get(n))} to {_describe(n, (now or {}).get(n))}" for n in up) + ")"
            grown.append({"file": key[0] or None, "address": key[1] or None, "rule": key[2], "tag": key[3] or None,
                          "baselined": stored, "now": now})
            continue
        if not f.suppressed:
            f.suppressed = True
            f.suppression_reason = REASON
            suppressed += 1
    scanned = _scanned_files(result, base, bdir)
    live = any(not r.file for r in result.resources)
    stale = []
    for key in sorted(wanted - matched):
        if _judged(key, scanned, base, bdir, live):
            stale.append({"file": key[0] or None, "address": key[1] or None, "rule": key[2], "tag": key[3] or None})
    info = BaselineInfo(path=_display(path), entries=len(wanted), suppressed=suppressed, stale=stale, grown=grown)
    result.baseline = info
    return info


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path, Path.cwd())
    except ValueError:
        return str(path)
    return Path(rel).as_posix() if not rel.startswith("..") else str(path)


def _scanned_files(result: ScanResult, base: Path, bdir: Path) -> set[str]:
    files: set[str | None] = {r.file for r in result.resources}
    files.update(f.file for f in result.findings)
    return {_rebase(f, base, bdir) for f in files if f}


def _judged(key: Key, scanned: set[str], base: Path, bdir: Path, live: bool) -> bool:
    """Whether this scan saw enough to call an unmatched entry stale."""
    file = key[0]
    if not file:  # entries without a file come from live scans; only a live scan judges them
        return live
    if file in scanned:
        return True
    absolute = Path(os.path.abspath(bdir / file))
    try:
        absolute.relative_to(Path(os.path.abspath(base)))
    except ValueError:
        return False  # outside what was scanned
    return not absolute.exists()  # the file is gone
