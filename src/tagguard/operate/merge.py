"""``tagguard merge``: the JSON reports of drift shards (or several repositories' scans) as one.

* resources are de-duplicated by address; when two shards saw the same address, the copy from a
  shard that read the resource's account without error wins;
* findings are de-duplicated by their identity (file, address, rule, tag);
* ``errors[]`` are kept, each naming the shard it came from, so an account an incomplete shard
  could not read stays *unknown* to ``--history`` (never "fixed"). An error is dropped only when
  another shard read the same account over (at least) the same regions without error; it is then
  listed under ``merge.resolved_errors``;
* a shard file that cannot be read or is not a tagguard JSON report is one error (exit 3:
  incomplete), and the other shards are still merged;
* ``showback``, ``budgets`` and ``history`` of the shards are dropped: they describe a shard, not
  the whole; ``tagguard report showback --from MERGED`` recomputes the showback.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from collections.abc import Iterable

MAX_REPORT_BYTES = 512 * 1024 * 1024


def num(value: Any) -> float | None:
    """A number from report data, or None (a string, a bool, a dict, NaN or infinity is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if f == f and f not in (float("inf"), float("-inf")) else None


class Shard:
    def __init__(self, label: str, data: dict[str, Any] | None, problem: str | None = None):
        self.label = label
        self.data = data or {}
        self.problem = problem

    @property
    def drift(self) -> dict[str, Any]:
        d = self.data.get("drift")
        return d if isinstance(d, dict) else {}

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.data.get("errors") or [] if isinstance(e, dict)]

    def failed_regions(self) -> dict[Any, set[str] | None]:
        """account -> regions that failed (None: the whole account failed)."""
        out: dict[Any, set[str] | None] = {}
        for e in self.errors:
            acct = e.get("account")
            if e.get("regions") is not None or e.get("region") is None:
                out[acct] = None
            elif acct not in out or out[acct] is not None:
                out.setdefault(acct, set()).add(str(e.get("region")))  # type: ignore[union-attr]
        return out

    def covers(self, account: Any, regions: set[str] | None) -> bool:
        """This shard read ``account`` over ``regions`` (None: every region it lists) without error."""
        if account is None or str(account) not in {str(a) for a in self.drift.get("accounts") or []}:
            return False
        if any(str(e.get("account")) == str(account) for e in self.errors):
            return False
        if regions is None:
            return False  # a whole-account failure elsewhere: only a shard listing the same regions could cover it
        return set(regions) <= {str(r) for r in self.drift.get("regions") or []}


def read_shard(path: Path) -> Shard:
    label = str(path)
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            return Shard(label, None, f"larger than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return Shard(label, None, f"cannot read ({exc.strerror or exc})")
    except UnicodeDecodeError as exc:
        return Shard(label, None, f"not UTF-8 ({exc.reason} at byte {exc.start})")
    try:
        data = json.loads(text)
    except RecursionError:
        return Shard(label, None, "not JSON (nested too deeply)")
    except ValueError as exc:
        return Shard(label, None, f"line {getattr(exc, 'lineno', 1)}: not JSON ({getattr(exc, 'msg', exc)})")
    if not isinstance(data, dict) or not isinstance(data.get("resources"), list):
        return Shard(label, None, "not a tagguard JSON report (no `resources` list)")
    bad = [i for i, r in enumerate(data["resources"])
           if not isinstance(r, dict) or not isinstance(r.get("address"), str)]
    if bad:
        return Shard(label, None, f"resource #{bad[0] + 1} has no `address`")
    if not isinstance(data.get("findings", []), list) or not isinstance(data.get("errors", []) or [], list):
        return Shard(label, None, "`findings` and `errors` must be lists")
    return Shard(label, data)


def _error_key(e: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in e.items() if k != "shard"}, sort_keys=True, default=str)


def _finding_key(f: dict[str, Any]) -> tuple[str, str, str, str]:
    return (str(f.get("file") or ""), str(f.get("address") or ""), str(f.get("rule") or ""), str(f.get("tag") or ""))


def merge_reports(shards: list[Shard]) -> dict[str, Any]:
    """The merged report document (before the summary is computed): resources, findings, errors,
    drift, unseen_inputs and ``merge`` (what came from where)."""
    good = [s for s in shards if s.problem is None]
    resources, duplicates = _merge_resources(good)
    findings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for s in good:
        for f in s.data.get("findings") or []:
            if isinstance(f, dict) and isinstance(f.get("rule"), str):
                findings.setdefault(_finding_key(f), f)
    errors, resolved = _merge_errors(shards, good)
    merge_info = {
        "shards": [{"file": s.label, "ok": s.problem is None, "problem": s.problem,
                    "accounts": [str(a) for a in s.drift.get("accounts") or []],
                    "complete": s.problem is None and not s.errors,
                    "resources": len(s.data.get("resources") or []), "errors": len(s.errors)} for s in shards],
        "duplicate_resources": duplicates,
        "resolved_errors": resolved,
        "dropped_parts": sorted({k for s in good for k in ("showback", "budgets", "history") if k in s.data}),
    }
    roots = sorted({str(s.data.get("root")) for s in good if s.data.get("root") is not None})
    return {"root": roots[0] if len(roots) == 1 else None,
            "resources": resources,
            "findings": list(findings.values()), "errors": errors, "drift": _merge_drift(shards, good, errors),
            "unseen_inputs": _merge_unseen(good), "merge": merge_info}


def _merge_resources(good: list[Shard]) -> tuple[list[dict[str, Any]], int]:
    """Resources by address, first seen first; a copy from a shard that read the resource's
    account without error replaces one from a shard that did not.  And how many were duplicates."""
    failed_by_shard = {id(s): s.failed_regions() for s in good}

    def clean_in(shard: Shard, resource: dict[str, Any]) -> bool:
        acct = (resource.get("meta") or {}).get("account")
        return acct not in failed_by_shard[id(shard)]

    resources: dict[str, tuple[dict[str, Any], Shard]] = {}
    duplicates = 0
    for s in good:
        for r in s.data["resources"]:
            addr = r["address"]
            if addr in resources:
                duplicates += 1
                kept, kept_shard = resources[addr]
                if not clean_in(kept_shard, kept) and clean_in(s, r):
                    resources[addr] = (r, s)
                continue
            resources[addr] = (r, s)
    return [r for r, _s in resources.values()], duplicates


def _error_regions(e: dict[str, Any]) -> set[str] | None:
    """The regions an error is about (None: the whole account)."""
    if e.get("regions") is not None:
        return {str(r) for r in e["regions"]}
    if e.get("region") is not None:
        return {str(e["region"])}
    return None


def _merge_errors(shards: list[Shard], good: list[Shard]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every shard's errors once, each naming its shard, and an unreadable shard as one error;
    an error another shard covers (read the same account and regions cleanly) is resolved instead."""
    errors: list[dict[str, Any]] = []
    resolved: list[dict[str, Any]] = []
    seen_errors: set[str] = set()
    for s in shards:
        if s.problem is not None:
            errors.append({"account": None, "region": None, "service": None, "code": "ShardUnreadable",
                           "shard": s.label, "message": f"{s.label}: {s.problem}; the accounts this shard covers are "
                                                          "unknown in the merged report"})
            continue
        for e in s.errors:
            key = _error_key(e)
            if key in seen_errors:
                continue
            seen_errors.add(key)
            acct, regions = e.get("account"), _error_regions(e)
            coverer = next((o for o in good if o is not s and o.covers(acct, regions)), None)
            if coverer is not None:
                resolved.append({**e, "shard": s.label, "covered_by": coverer.label})
            else:
                errors.append({**e, "shard": s.label})
    return errors, resolved


def _merge_unseen(good: list[Shard]) -> list[dict[str, Any]]:
    unseen: list[dict[str, Any]] = []
    seen_unseen: set[str] = set()
    for s in good:
        for u in s.data.get("unseen_inputs") or []:
            if isinstance(u, dict):
                k = json.dumps(u, sort_keys=True, default=str)
                if k not in seen_unseen:
                    seen_unseen.add(k)
                    unseen.append(u)
    return unseen


def _merge_drift(shards: list[Shard], good: list[Shard], errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The shards' drift scopes as one (None when no shard is a drift report and none failed)."""
    drifts = [s.drift for s in good if s.drift]
    if not drifts and not any(s.problem for s in shards):
        return None

    def union(key: str) -> list[Any]:
        return sorted({str(x) for d in drifts for x in d.get(key) or []})

    scopes = sorted({str(d.get("scope")) for d in drifts if d.get("scope")})
    return {"accounts": union("accounts"), "regions": union("regions"), "services": union("services"),
            "scope": scopes[0] if len(scopes) == 1 else ",".join(scopes) or None,
            "complete": not errors,
            "calls": int(sum(num(d.get("calls")) or 0 for d in drifts)),
            "wall_seconds": max([num(d.get("wall_seconds")) or 0.0 for d in drifts] or [0.0]),
            "sum_task_seconds": round(sum(num(d.get("sum_task_seconds")) or 0.0 for d in drifts), 3),
            "shards": len(shards)}


def to_result(doc: dict[str, Any]):
    """A merged document as a ``ScanResult`` (the same reading as ``report showback --from``)."""
    from tagguard.model import ScanResult

    return ScanResult.from_json(doc)  # drift and unseen inputs too


def merged_json(doc: dict[str, Any], result) -> str:
    from tagguard.formats.json_format import dumps_report, report_dict

    out = report_dict(result)
    out["merge"] = doc["merge"]
    return dumps_report(out)


def merge_paths(paths: Iterable[Path]):
    shards = [read_shard(Path(p)) for p in paths]
    doc = merge_reports(shards)
    return doc, to_result(doc)


def uncovered_accounts(history: Path, doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Errors for the accounts the previous drift run in ``history`` saw that no readable shard
    covers now (a shard failed, or an account left the shard lists): their findings are
    *unknown* in this run, never "fixed"."""
    import sqlite3

    if not Path(history).is_file():
        return []
    covered = {str(a) for s in doc["merge"]["shards"] if s["ok"] for a in s["accounts"]}
    covered |= {str((r.get("meta") or {}).get("account")) for r in doc["resources"]}
    try:
        conn = sqlite3.connect(f"{Path(history).resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute("SELECT id FROM runs WHERE kind='drift' ORDER BY id DESC LIMIT 1").fetchone()
            if row is None:
                return []
            accounts = {a for (a,) in conn.execute(
                "SELECT account FROM findings WHERE run_id=? UNION SELECT account FROM resources WHERE run_id=?",
                (row[0], row[0])) if a is not None}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return []  # record_run reports an unreadable history itself
    return [{"account": a, "region": None, "regions": [], "service": None, "code": "NotCovered",
             "message": f"account {a} was in the previous drift run but no readable shard covers it now: "
                        "its findings are unknown, not fixed"} for a in sorted(str(x) for x in accounts - covered)]

