"""Alerts from tagguard's JSON reports, routed to the teams that own the spend.

Inputs (any mix, detected by content): a scan / drift / merged report (``resources``; its
``budgets``, unmanaged-GPU findings and, recomputed or embedded, its showback), a showback report
(``report showback -f json``), an LLM usage report (``kind: llm-usage``: token anomalies and token
budgets), the bill's budgets (rows with ``mtd_usd`` / ``forecast_usd``) and a cluster report
(``kind: tagguard-cluster-report``: unattributed GPU spend).

Kinds of alert, each with a stable ``key`` (what "the same breach" means) and a ``level`` (what
"worse" means):

* ``budget``: a budget's month-to-date actual or its forecast to month end crossed a threshold
  (default 50/80/100 % of ``monthly_usd``); key = budget, month, basis; level = threshold crossed.
* ``token-anomaly``: a day of token spend far above its trailing median; key = group and day;
  level = ratio.
* ``unallocated``: a resource without a valid owner costing at least ``unallocated_floor_usd``
  a month; key = address; level = monthly USD.
* ``unmanaged-gpu``: a live GPU resource no Terraform state manages; key = address.

Routing: ``alerts.routes`` (trusted config only) match the alert's taxonomy values
(``{match: {business-unit: research}, sinks: [research-slack]}``); every matching route gets it,
else ``alerts.default``.  Sinks name their secret (URL, token) by environment variable only.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagguard.formats.helpers import money as _money
from tagguard.operate.merge import num

DEFAULT_THRESHOLDS = (50.0, 80.0, 100.0)
SINK_TYPES = ("slack", "teams", "webhook", "github_issues")
KINDS = ("budget", "token-anomaly", "unallocated", "unmanaged-gpu")


class AlertConfigError(Exception):
    """One-line problem in the ``alerts:`` section."""


@dataclass
class Alert:
    kind: str
    key: str
    title: str  # plain text; may hold scanned values (each sink escapes for its format)
    level: float  # higher = worse; re-sent when it rises
    severity: str  # info | warning | critical
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, value): values may be scanned data
    tags: dict[str, str] = field(default_factory=dict)  # taxonomy values the route is chosen by
    fix: str | None = None
    source: str = ""  # the report file
    family: str = ""  # which evaluation produced it: an alert is only resolved when its family was evaluated

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "title": self.title, "level": self.level,
                "severity": self.severity, "facts": [list(f) for f in self.facts], "tags": self.tags,
                "fix": self.fix, "source": self.source}

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:16]


@dataclass
class SinkConfig:
    name: str
    type: str
    url_env: str | None = None
    token_env: str | None = None
    repo: str | None = None
    api_url_env: str | None = None
    labels: list[str] = field(default_factory=list)


@dataclass
class Retry:
    attempts: int = 4
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    timeout_seconds: float = 10.0
    deadline_seconds: float = 120.0  # all sending of one run, retries included


@dataclass
class AlertSettings:
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    unallocated_floor_usd: float = 500.0
    unallocated_max_alerts: int = 20  # resources alerted one by one; the rest is one alert
    worsen_pct: float = 20.0  # unallocated / anomaly levels: re-sent when they grow by this much
    kinds: tuple[str, ...] = KINDS
    routes: list[dict[str, Any]] = field(default_factory=list)
    default: list[str] = field(default_factory=list)
    sinks: dict[str, SinkConfig] = field(default_factory=dict)
    retry: Retry = field(default_factory=Retry)


def _num(raw: dict[str, Any], key: str, default: float, where: str, lo: float = 0.0, hi: float = math.inf) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (lo <= float(value) <= hi):
        raise AlertConfigError(f"{where}.{key}: expected a number from {lo:g} to {hi:g}, got {value!r}"[:300])
    return float(value)


_ENV_NAME = __import__("re").compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_REPO = __import__("re").compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")


def parse_settings(raw: Any, where: str = "alerts") -> AlertSettings:
    """The ``alerts:`` section of a trusted config as settings, or one-line ``AlertConfigError``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise AlertConfigError(f"{where}: expected a mapping")
    known = {"thresholds", "unallocated_floor_usd", "unallocated_max_alerts", "worsen_pct", "kinds", "routes",
             "default", "sinks", "retry"}
    extra = sorted(set(raw) - known)
    if extra:
        raise AlertConfigError(f"{where}.{extra[0]}: unknown key (known: {', '.join(sorted(known))})")
    s = AlertSettings()
    s.thresholds = _thresholds(raw.get("thresholds", list(DEFAULT_THRESHOLDS)), where)
    s.unallocated_floor_usd = _num(raw, "unallocated_floor_usd", 500.0, where)
    s.worsen_pct = _num(raw, "worsen_pct", 20.0, where, 0.0, 10000.0)
    s.unallocated_max_alerts = int(_num(raw, "unallocated_max_alerts", 20, where, 0, 1000))
    kinds = raw.get("kinds", list(KINDS))
    if not isinstance(kinds, list) or any(k not in KINDS for k in kinds):
        raise AlertConfigError(f"{where}.kinds: expected a list of {', '.join(KINDS)}")
    s.kinds = tuple(kinds)
    sinks = raw.get("sinks") or {}
    if not isinstance(sinks, dict):
        raise AlertConfigError(f"{where}.sinks: expected a mapping of sink name to settings")
    for name, sc in sinks.items():
        s.sinks[str(name)] = _sink(str(name), sc, f"{where}.sinks.{name}")
    routes = raw.get("routes") or []
    if not isinstance(routes, list):
        raise AlertConfigError(f"{where}.routes: expected a list of {{match: {{tag: value}}, sinks: [name]}}")
    s.routes = [_route(r, s, f"{where}.routes[{i}]") for i, r in enumerate(routes)]
    s.default = _sink_names(raw.get("default", []), s, f"{where}.default", allow_empty=True)
    s.retry = _retry(raw.get("retry") or {}, f"{where}.retry")
    return s


def _thresholds(th: Any, where: str) -> tuple[float, ...]:
    if not isinstance(th, list) or not th or any(
            isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 1000 for t in th):
        raise AlertConfigError(f"{where}.thresholds: expected a list of percentages (0 < t <= 1000), "
                               "e.g. [50, 80, 100]")
    return tuple(sorted({float(t) for t in th}))


def _sink(name: str, sc: Any, w: str) -> SinkConfig:
    """One sink's settings: its type, and the environment variables (never the values) of its secrets."""
    if not isinstance(sc, dict):
        raise AlertConfigError(f"{w}: expected a mapping")
    typ = sc.get("type")
    if typ not in SINK_TYPES:
        raise AlertConfigError(f"{w}.type: expected one of {', '.join(SINK_TYPES)}")
    if "url" in sc or "token" in sc:
        raise AlertConfigError(f"{w}: webhook URLs and tokens are secrets: name the environment variable that "
                               "holds them with url_env / token_env instead")
    allowed = {"type", "url_env", "token_env", "repo", "api_url_env", "labels"}
    bad = sorted(set(sc) - allowed)
    if bad:
        raise AlertConfigError(f"{w}.{bad[0]}: unknown key (known: {', '.join(sorted(allowed))})")
    for k in ("url_env", "token_env", "api_url_env"):
        if sc.get(k) is not None and not (isinstance(sc[k], str) and _ENV_NAME.match(sc[k])):
            raise AlertConfigError(f"{w}.{k}: expected an environment variable name")
    if typ == "github_issues":
        if not (isinstance(sc.get("repo"), str) and _REPO.match(sc["repo"])):
            raise AlertConfigError(f"{w}.repo: expected OWNER/NAME")
        if not sc.get("token_env"):
            raise AlertConfigError(f"{w}.token_env: required "
                                   "(the variable holding a token allowed to write issues)")
    elif not sc.get("url_env"):
        raise AlertConfigError(f"{w}.url_env: required (the environment variable holding the webhook URL)")
    labels = sc.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) and 0 < len(x) <= 50 for x in labels):
        raise AlertConfigError(f"{w}.labels: expected a list of label names")
    return SinkConfig(name=name, type=typ, url_env=sc.get("url_env"), token_env=sc.get("token_env"),
                      repo=sc.get("repo"), api_url_env=sc.get("api_url_env"), labels=list(labels))


def _route(r: Any, s: AlertSettings, w: str) -> dict[str, Any]:
    """One route: the taxonomy values it matches (each a list of strings) and the sinks (already defined)."""
    if not isinstance(r, dict) or not isinstance(r.get("match"), dict) or not r["match"]:
        raise AlertConfigError(f"{w}.match: expected a mapping of taxonomy key to value (or list of values)")
    for k, v in r["match"].items():
        vals = v if isinstance(v, list) else [v]
        if not vals or not all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in vals):
            raise AlertConfigError(f"{w}.match.{k}: expected a value or a list of values")
    _sink_names(r.get("sinks"), s, f"{w}.sinks")
    return {"match": {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in r["match"].items()},
            "sinks": list(r["sinks"])}


def _retry(rt: Any, where: str) -> Retry:
    if not isinstance(rt, dict):
        raise AlertConfigError(f"{where}: expected a mapping")
    return Retry(attempts=int(_num(rt, "attempts", 4, where, 1, 10)),
                 backoff_seconds=_num(rt, "backoff_seconds", 1.0, where, 0, 60),
                 max_backoff_seconds=_num(rt, "max_backoff_seconds", 30.0, where, 0, 300),
                 timeout_seconds=_num(rt, "timeout_seconds", 10.0, where, 0.1, 120),
                 deadline_seconds=_num(rt, "deadline_seconds", 120.0, where, 1, 3600))


def _sink_names(value: Any, s: AlertSettings, where: str, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or (not value and not allow_empty) or not all(isinstance(x, str) for x in value):
        raise AlertConfigError(f"{where}: expected a list of sink names")
    for name in value:
        if name not in s.sinks:
            raise AlertConfigError(f"{where}: no sink named {name!r} under alerts.sinks"[:300])
    return list(value)


def route(alert: Alert, s: AlertSettings) -> list[str]:
    """The sinks an alert goes to: every route whose ``match`` its taxonomy values satisfy, else the default."""
    out: list[str] = []
    for r in s.routes:
        if all(k in alert.tags and str(alert.tags[k]) in vals for k, vals in r["match"].items()):
            out.extend(x for x in r["sinks"] if x not in out)
    return out or list(s.default)


# --- reading reports -----------------------------------------------------------------------------------

def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _match_tags(match: Any) -> dict[str, str]:
    """A budget's ``match`` as the taxonomy values to route by (a single value per key; lists joined by |)."""
    out: dict[str, str] = {}
    if isinstance(match, dict):
        for k, v in match.items():
            out[str(k)] = "|".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    return out


def _budget_alerts(rows: list[dict[str, Any]], s: AlertSettings, source: str, month: str | None,
                   family: str) -> list[Alert]:
    out: list[Alert] = []
    for b in rows:
        if not isinstance(b, dict) or not b.get("name"):
            continue
        limit = b.get("monthly_usd")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
            continue
        m = b.get("month") or month or "current"
        bases: list[tuple[str, float]] = []
        for basis, key in (("month-to-date", "mtd_usd"), ("month-to-date", "token_spend_usd"),
                           ("forecast", "forecast_usd"), ("forecast", "projected_usd")):
            v = b.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and basis not in [x[0] for x in bases]:
                bases.append((basis, float(v)))
        for basis, value in bases:
            pct = 100.0 * value / float(limit)
            crossed = [t for t in s.thresholds if pct >= t]
            if not crossed:
                continue
            t = crossed[-1]
            sev = "critical" if t >= 100 else "warning" if t >= 80 else "info"
            name = str(b["name"])
            out.append(Alert(
                kind="budget", key=f"budget|{name}|{m}|{basis}", level=t, severity=sev,
                title=f"Budget {name}: {basis} {_money(value)} is {pct:.0f}% of {_money(limit)} ({m})",
                facts=[("Budget", name), ("Month", str(m)), ("Basis", basis), ("Spend", _money(value)),
                       ("Limit", _money(limit)), ("Used", f"{pct:.1f}% (threshold {t:g}%)"),
                       ("Scope", ", ".join(f"{k}={v}" for k, v in _match_tags(b.get("match")).items()) or "all")],
                tags=_match_tags(b.get("match")), source=source, family=family,
                fix="review the spend behind this budget (tagguard report showback) or change its monthly_usd"))
    return out


def _unallocated_alerts(top: list[dict[str, Any]], s: AlertSettings, source: str, family: str,
                        tags_by_address: dict[str, dict[str, str]], total_usd: float | None = None) -> list[Alert]:
    """One alert per unallocated resource at or above the floor, the costliest
    ``unallocated_max_alerts`` of them; the rest of the unallocated spend (beyond those, or beyond a
    showback report's own top list) is one more alert, so nothing above the floor goes unsaid."""
    out = []
    rows = [r for r in top
            if isinstance(r, dict) and r.get("address") and isinstance(r.get("monthly_usd"), (int, float))
            and not isinstance(r.get("monthly_usd"), bool)]
    rows.sort(key=lambda r: (-float(r["monthly_usd"]), str(r["address"])))
    qualifying = [r for r in rows if float(r["monthly_usd"]) >= s.unallocated_floor_usd]
    for r in qualifying[:s.unallocated_max_alerts]:
        usd = float(r["monthly_usd"])
        addr = str(r["address"])
        missing = ", ".join(map(str, r.get("missing_or_invalid") or [])) or "owner tags"
        out.append(Alert(
            kind="unallocated", key=f"unallocated|{addr}", level=usd,
            severity="warning", title=f"Unallocated spend {_money(usd)}/month: {addr}",
            facts=[("Resource", addr), ("Monthly", _money(usd)), ("Missing or invalid", missing),
                   ("Account", str(r.get("account") or "-")), ("Region", str(r.get("region") or "-"))],
            tags={k: str(v) for k, v in (tags_by_address.get(addr) or {}).items()}, source=source, family=family,
            fix=f"tag it with {missing} (the taxonomy's owner keys) in Terraform, "
                "or in the cloud for unmanaged resources"))
    alerted = sum(a.level for a in out)
    listed = sum(float(r["monthly_usd"]) for r in rows)
    total = max(listed, float(total_usd)) if isinstance(total_usd, (int, float)) else listed
    rest = round(total - alerted, 2)
    more = len(qualifying) - len(out)
    if rest >= s.unallocated_floor_usd and (more > 0 or total - listed > 0.005):
        out.append(Alert(
            kind="unallocated", key="unallocated|rest", level=rest, severity="warning",
            title=f"Unallocated spend {_money(rest)}/month beyond the {len(out)} resource(s) alerted individually",
            facts=[("Monthly", _money(rest)), ("Resources above the floor not listed", str(more) if more > 0 else "-"),
                   ("Total unallocated", _money(total))],
            source=source, family=family,
            fix="tagguard report showback --top N lists them; tag them with the taxonomy's owner keys"))
    return out


def _cluster_alerts(report: dict[str, Any], s: AlertSettings, source: str) -> list[Alert]:
    """Unattributed GPU spend in a ``tagguard cluster report`` (pods without valid owner labels),
    scaled from the report's window to a month, at or above ``unallocated_floor_usd``."""
    un = report.get("unattributed") or {}
    if not isinstance(un, dict) or not isinstance(report.get("window") or {}, dict):
        return []
    hours = num((report.get("window") or {}).get("hours")) or 0.0
    cost = num(un.get("cost_usd"))
    if cost is None or hours <= 0:
        return []
    monthly = float(cost) * 730.0 / hours
    if monthly < s.unallocated_floor_usd:
        return []
    where = str((report.get("source") or {}).get("prometheus") or (report.get("source") or {}).get("file") or source)
    reasons = "; ".join(f"{r.get('reason')} ({r.get('pods')} pods)" for r in (un.get("reasons") or [])[:3]
                        if isinstance(r, dict))
    pods = ", ".join(f"{e.get('namespace')}/{e.get('pod')}" for e in (un.get("examples") or [])[:3]
                     if isinstance(e, dict))
    return [Alert(kind="unallocated", key=f"unallocated|cluster|{where}", level=round(monthly, 2), severity="warning",
                  title=f"Unattributed GPU spend {_money(monthly)}/month in the cluster ({un.get('pods', 0)} pods)",
                  facts=[("Cluster", where), ("Per month", _money(monthly)),
                         ("In the window", f"{_money(cost)} over {hours:g} h"),
                         ("GPU-hours", f"{num(un.get('gpu_hours')) or 0.0:,.1f}"), ("Reasons", reasons or "-"),
                         ("Largest pods", pods or "-")],
                  source=source, family="unallocated:cluster",
                  fix="label the workloads with the taxonomy's owner keys (pod template labels or namespace labels)")]


def _showback_of(report: dict[str, Any], config) -> dict[str, Any] | None:
    sb = report.get("showback")
    if isinstance(sb, dict) and isinstance(sb.get("top_unallocated"), list):
        return sb
    from tagguard.operate.merge import to_result
    from tagguard.cost.showback import build_showback

    doc: dict[str, Any] = {"resources": report.get("resources") or [],
                           "findings": [f for f in report.get("findings") or []
                                        if isinstance(f, dict) and "rule" in f],
                           "errors": [], "root": report.get("root")}
    try:
        return build_showback(to_result(doc), config, top=len(doc["resources"]))
    except Exception as exc:  # noqa: BLE001 - reported, the other alerts still go out
        raise ValueError(f"showback could not be computed ({type(exc).__name__}: {exc})") from None


def alerts_from_report(
    report: dict[str, Any], s: AlertSettings, source: str, config=None
) -> tuple[list[Alert], list[str]]:
    """The alerts one report raises, and the families it evaluated (for resolving)."""
    if report.get("kind") == "llm-usage":
        return _usage_alerts(report, s, source)
    if report.get("kind") == "tagguard-cluster-report":
        if "unallocated" in s.kinds:
            return _cluster_alerts(report, s, source), ["unallocated:cluster"]
        return [], []
    if report.get("kind") not in (None, "tagguard-bill-budgets"):
        raise ValueError(f"a {str(report.get('kind'))[:60]} report raises no alerts "
                         "(give `tagguard bill budgets -f json`, "
                         "`tagguard usage -f json`, `tagguard cluster report -f json`, "
                         "a drift/scan/merge or showback JSON)")
    if report.get("kind") == "tagguard-bill-budgets" or (
            isinstance(report.get("budgets"), list) and report["budgets"] and isinstance(report["budgets"][0], dict)
            and "mtd_usd" in report["budgets"][0]):
        if "budget" in s.kinds:  # bill budgets (month-to-date actuals and forecast)
            return (_budget_alerts(report.get("budgets") or [], s, source, report.get("month"), "budget:bill"),
                    ["budget:bill"])
        return [], []
    if isinstance(report.get("top_unallocated"), list) and "totals" in report:  # a showback report
        if "unallocated" in s.kinds:
            return (_unallocated_alerts(report["top_unallocated"], s, source, "unallocated", {},
                                        (report.get("totals") or {}).get("unallocated_monthly_usd")),
                    ["unallocated"])
        return [], []
    if not isinstance(report.get("resources"), list):
        raise ValueError("not a tagguard report this command reads (scan, drift, merge, showback, usage or bill JSON)")
    return _infra_alerts(report, s, source, config)


def _usage_alerts(report: dict[str, Any], s: AlertSettings, source: str) -> tuple[list[Alert], list[str]]:
    """An LLM usage report: its token spend anomalies and token budgets."""
    alerts: list[Alert] = []
    families: list[str] = []
    if "token-anomaly" in s.kinds:
        families.append("token-anomaly")
        alerts += [_token_anomaly(an, source) for an in report.get("anomalies") or [] if isinstance(an, dict)]
    if "budget" in s.kinds:
        families.append("budget:tokens")
        alerts += _budget_alerts(report.get("budgets") or [], s, source, None, "budget:tokens")
    return alerts, families


def _token_anomaly(an: dict[str, Any], source: str) -> Alert:
    group = {str(k): str(v) for k, v in _dict(an.get("group")).items()}
    who = ", ".join(f"{k}={v}" for k, v in group.items()) or "all"
    ratio = num(an.get("ratio")) or 0.0
    return Alert(
        kind="token-anomaly", key=f"token-anomaly|{who}|{an.get('date')}", level=ratio, severity="warning",
        title=f"Token spend anomaly: {who} spent {_money(an.get('cost_usd'))} on {an.get('date')} "
              f"({ratio:g}x the trailing median)",
        facts=[("Group", who), ("Day", str(an.get("date"))), ("Spend", _money(an.get("cost_usd"))),
               ("Trailing median", _money(an.get("trailing_median_usd"))), ("Ratio", f"{ratio:g}x")],
        tags=group, source=source, family="token-anomaly",
        fix="look at the top callers and prompts of that day (tagguard usage ... -f markdown)")


def _infra_alerts(report: dict[str, Any], s: AlertSettings, source: str,
                  config) -> tuple[list[Alert], list[str]]:
    """A scan / drift / merged report: its projected budgets, unmanaged GPUs and unallocated spend.
    An incomplete report (with errors) resolves no unmanaged-GPU or unallocated alert."""
    alerts: list[Alert] = []
    families: list[str] = []
    tags_by_address = {str(r.get("address")): {str(k): str(v) for k, v in _dict(r.get("tags")).items()}
                       for r in report["resources"] if isinstance(r, dict)}
    if "budget" in s.kinds and isinstance(report.get("budgets"), list):
        families.append("budget:scan")
        rows = [{**b, "projected_usd": b.get("projected_usd")} for b in report["budgets"]
                if isinstance(b, dict) and b.get("evaluated", True) is not False]
        alerts += _budget_alerts(rows, s, source, None, "budget:scan")
    if "unmanaged-gpu" in s.kinds and report.get("drift") is not None:
        families.append("unmanaged-gpu")
        alerts += _unmanaged_gpu_alerts(report, source, tags_by_address)
    if "unallocated" in s.kinds:
        families.append("unallocated")
        sb = _showback_of(report, config)
        alerts += _unallocated_alerts((sb or {}).get("top_unallocated") or [], s, source, "unallocated",
                                      tags_by_address,
                                      ((sb or {}).get("totals") or {}).get("unallocated_monthly_usd"))
    if report.get("errors"):
        families = [f for f in families if f not in ("unmanaged-gpu", "unallocated")]  # incomplete: resolve nothing
    return alerts, families


def _unmanaged_gpu_alerts(report: dict[str, Any], source: str,
                          tags_by_address: dict[str, dict[str, str]]) -> list[Alert]:
    """One alert per active ``unmanaged`` finding of a drift report on an AI or GPU resource."""
    alerts = []
    by_addr = {str(r.get("address")): r for r in report["resources"] if isinstance(r, dict)}
    for f in report.get("findings") or []:
        if not isinstance(f, dict) or f.get("category") != "unmanaged" or f.get("suppressed"):
            continue
        r = by_addr.get(str(f.get("address"))) or {}
        comp = _dict(r.get("compute"))
        gpus = int((num(comp.get("gpus_per_unit")) or 0) * (num(comp.get("units")) or 1))
        if r and not (r.get("ai") or gpus):
            continue
        addr = str(f.get("address"))
        alerts.append(Alert(
            kind="unmanaged-gpu", key=f"unmanaged-gpu|{addr}", level=1.0, severity="warning",
            title=f"Unmanaged GPU resource: {addr}",
            facts=[("Resource", addr), ("Type", str(r.get("type") or f.get("resource_type") or "-")),
                   ("Instance", str(comp.get("instance_type") or "-")), ("GPUs", str(gpus or "-")),
                   ("Account", str(_dict(r.get("meta")).get("account")
                                   or f.get("account") or "-")),
                   ("Monthly", _money(_dict(r.get("cost")).get("monthly_usd")))],
            tags=tags_by_address.get(addr, {}), source=source, family="unmanaged-gpu",
            fix=str(f.get("fix") or "import it into Terraform or terminate it")))
    return alerts


def read_report(path: Path) -> dict[str, Any]:
    text_problem = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        text_problem = f"cannot read ({exc.strerror or exc})"
    except UnicodeDecodeError as exc:
        text_problem = f"not UTF-8 ({exc.reason})"
    except RecursionError:
        text_problem = "not JSON (nested too deeply)"
    except ValueError as exc:
        text_problem = f"line {getattr(exc, 'lineno', 1)}: not JSON ({getattr(exc, 'msg', exc)})"
    if text_problem:
        raise ValueError(text_problem)
    if not isinstance(data, dict):
        raise ValueError("not a tagguard JSON report (not an object)")
    return data


# --- sending -------------------------------------------------------------------------------------------

def build_payload(sink: SinkConfig, alert: Alert, state: str) -> Any:
    if sink.type == "slack":
        from tagguard.operate.sinks import slack

        return slack.payload(alert, state)
    if sink.type == "teams":
        from tagguard.operate.sinks import teams

        return teams.payload(alert, state)
    from tagguard.operate.sinks import webhook

    return webhook.payload(alert, state)


def dispatch(alerts: list[Alert], families: list[str], s: AlertSettings, state, *, dry_run: bool,
             env: dict[str, str], request=None, sleep=None) -> list[dict[str, Any]]:
    """Send each alert to its routes' sinks unless already sent (and not worse); close what a
    family evaluated this run no longer reports.  Never raises for a sink: each delivery says
    ``sent``, ``skipped``, ``failed`` (with the reason) or, with ``dry_run``, ``would send``."""
    d = _Dispatcher(s, state, dry_run=dry_run, env=env, request=request, sleep=sleep)
    out: list[dict[str, Any]] = []
    current = set()
    for alert in alerts:
        sinks = route(alert, s)
        if not sinks:
            out.append({"alert": alert.to_json(), "sink": None, "state": "unrouted", "action": "failed",
                        "error": "no route matches and alerts.default names no sink"})
            continue
        for name in sinks:
            current.add((alert.key, name))
            out.append(d.deliver(alert, name))
    # resolved: open in the state, of a family evaluated now, not reported now
    for row in state.open_in(families):
        if (row["key"], row["sink"]) in current or row["sink"] not in s.sinks:
            continue
        out.append(d.resolve(row))
    return out


class _Dispatcher:
    """One run's sending: the HTTP deadline all deliveries share, one GitHub issues client per
    sink, and the sinks that failed for good in this run (not attempted again)."""

    def __init__(self, s: AlertSettings, state, *, dry_run: bool, env: dict[str, str], request, sleep) -> None:
        import time

        from tagguard.operate.sinks import _http

        self.s, self.state, self.dry_run, self.env = s, state, dry_run, env
        self._request = request or _http.request
        self._sleep = sleep or time.sleep
        self.deadline = _http.Deadline(s.retry.deadline_seconds)
        self._gh: dict[str, Any] = {}
        self.down: dict[str, str] = {}  # sink name -> why it failed (retried to exhaustion)

    def call(self, method, url, payload, retry, dl, headers=None):
        return self._request(method, url, payload, retry, dl, headers, sleep=self._sleep)

    def github(self, sink: SinkConfig):
        from tagguard.operate.sinks.github_issues import GitHubIssues

        if sink.name not in self._gh:
            self._gh[sink.name] = GitHubIssues(sink, self.env, self.s.retry, self.deadline, self.call)
        return self._gh[sink.name]

    def deliver(self, alert: Alert, name: str) -> dict[str, Any]:
        """One alert to one sink: skipped when already sent and not worse, else sent (or what
        would be sent, or why it was not)."""
        sink = self.s.sinks[name]
        decision = self.state.decide(alert, name, self.s.worsen_pct)
        rec: dict[str, Any] = {"alert": alert.to_json(), "sink": name, "sink_type": sink.type, "state": decision}
        if decision == "sent":
            rec["action"] = "skipped"
            rec["reason"] = "already sent; not worse"
            return rec
        ref = (self.state.get(alert.key, name) or {}).get("ref")
        held = self._would_send(sink, alert, decision, ref) if self.dry_run else self._not_attempted(sink)
        if held:
            rec.update(held)
            return rec
        resp, ref = self._send(sink, alert, decision, ref)
        rec["attempts"] = resp.attempts if resp else 0
        if resp is not None and resp.ok:
            rec["action"] = "sent"
            if ref:
                rec["ref"] = ref
            self.state.record(alert, name, ref=ref)
        else:
            rec.update(action="failed", error=(resp.error if resp else "not sent"))
        return rec

    def _would_send(self, sink: SinkConfig, alert: Alert, decision: str, ref) -> dict[str, Any]:
        if sink.type == "github_issues":
            return {"action": "would send", "requests": [{"method": m, "path": p, "json": j}
                                                         for m, p, j in self.github(sink).requests_for(alert, decision,
                                                                                                       ref)]}
        return {"action": "would send", "payload": build_payload(sink, alert, decision)}

    def _not_attempted(self, sink: SinkConfig) -> dict[str, Any] | None:
        """Why a delivery is not attempted: its secret is not set, or the sink failed earlier in
        this run (retried to exhaustion: the deadline is not spent on it again)."""
        name = sink.name
        if sink.type == "github_issues":
            missing = self.github(sink).missing_secret() or (
                f"not attempted: this sink failed earlier in this run ({self.down[name]})"
                if name in self.down else None)
            return {"action": "failed", "error": missing} if missing else None
        if not self.env.get(sink.url_env or ""):
            return {"action": "failed", "error": f"environment variable {sink.url_env} is not set"}
        if name in self.down:
            return {"action": "failed", "attempts": 0,
                    "error": f"not attempted: this sink failed earlier in this run ({self.down[name]})"}
        return None

    def _send(self, sink: SinkConfig, alert: Alert, decision: str, ref):
        """The response (``None`` when nothing was sent) and the issue reference after sending."""
        if sink.type == "github_issues":
            resp, ref = self.github(sink).send(alert, decision, ref)
        else:
            resp = self.call("POST", self.env.get(sink.url_env or ""), build_payload(sink, alert, decision),
                             self.s.retry, self.deadline)
        if resp is not None and not resp.ok and resp.retryable:
            self.down[sink.name] = resp.error or "failed"
        return resp, ref

    def resolve(self, row: dict[str, Any]) -> dict[str, Any]:
        """Close an open alert no longer reported (its GitHub issue too)."""
        sink = self.s.sinks[row["sink"]]
        ghost = Alert(kind=row["kind"] or "", key=row["key"], title=row["title"] or row["key"], level=row["level"] or 0,
                      severity=row["severity"] or "info", family=row["family"] or "")
        rec: dict[str, Any] = {"alert": ghost.to_json(), "sink": row["sink"], "sink_type": sink.type,
                               "state": "resolved"}
        if self.dry_run:
            rec["action"] = "would send" if sink.type == "github_issues" and row["ref"] else "would close"
            return rec
        if sink.type == "github_issues" and row["ref"]:
            g = self.github(sink)
            missing = g.missing_secret()
            if missing:
                rec.update(action="failed", error=missing)
                return rec
            resp, _ref = g.send(ghost, "resolved", row["ref"])
            rec["attempts"] = resp.attempts if resp else 0
            if resp is None or not resp.ok:
                rec.update(action="failed", error=(resp.error if resp else "not sent"))
                return rec
        self.state.close(row["key"], row["sink"])
        rec["action"] = "closed"
        return rec
