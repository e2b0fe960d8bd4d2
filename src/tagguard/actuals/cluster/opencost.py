"""OpenCost allocation API JSON (``/allocation?window=30d&aggregate=pod`` or ``namespace`` or
``label:<k>``) as an input: GPU-hours, GPU cost and efficiency per allocation, labels judged against
the taxonomy the same way as the Prometheus report (pod labels, namespace labels inherited).

Response shape (opencost ``core/pkg/opencost/allocation_json.go``): ``{"code": 200, "data": [ {name:
Allocation, ...}, ... ]}`` — one map per step. An Allocation carries ``properties`` (``namespace``,
``pod``, ``node``, ``labels``, ``namespaceLabels``), ``gpuHours``, ``gpuCost``, ``gpuCostAdjustment``,
``gpuEfficiency`` (0-1; null when unknown). OpenCost's label keys are Prometheus-sanitized
(``cost_center``), so taxonomy keys are compared in that form. ``__idle__`` and ``__unallocated__``
are OpenCost's own lines (idle capacity; allocations without the aggregated label).
"""
from __future__ import annotations

import json
from typing import Any

from tagguard.actuals.cluster.findings import address, cluster_id, labels_not_exported, without_userinfo
from tagguard.formats.helpers import money, plural
from tagguard.model import ERROR, Finding

MAX_BYTES = 256 * 1024 * 1024
NO_LABELS_FIX = ("aggregate by pod (or by label:<key>) with includeAggregatedMetadata, and make sure "
                 "kube-state-metrics exports pod labels (--metric-labels-allowlist)")


class OpenCostError(ValueError):
    pass


CREDENTIALS_ENV = ("TAGGUARD_OPENCOST_TOKEN", "TAGGUARD_OPENCOST_USER", "TAGGUARD_OPENCOST_PASSWORD")


def _url(source: str) -> bool:
    """True for an http(s) URL; ``OpenCostError`` for a URL that carries credentials (``user:password@``,
    whatever the scheme): the source is printed in messages and written to the report, so it never holds
    them (they come from the environment, ``CREDENTIALS_ENV``), and for a URL of another scheme."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(source)
    except ValueError as exc:  # an unbalanced [ in the host
        if "://" not in source:
            return False
        raise OpenCostError(f"{without_userinfo(source)}: not a valid URL: {exc}") from None
    if not parts.scheme or not parts.netloc:  # a path (also //host/share/file.json)
        return False
    scheme = parts.scheme.lower()
    bare = f"{scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    if "@" in parts.netloc:
        raise OpenCostError(f"{bare}: the URL carries credentials; give them in the environment "
                            "(TAGGUARD_OPENCOST_TOKEN, or TAGGUARD_OPENCOST_USER and TAGGUARD_OPENCOST_PASSWORD)")
    if scheme not in ("http", "https"):
        raise OpenCostError(f"{bare}: expected a file or an http:// or https:// URL")
    return True


# OpenCost's /allocation (and /allocation/compute) parameters: shown as given; any other parameter's value is
# shown as *** (a token in a query string, e.g. behind a proxy, must not reach the report or a PR comment).
ALLOCATION_PARAMS = frozenset(p.lower() for p in (
    "window", "aggregate", "step", "resolution", "accumulate", "accumulateBy", "idle", "external", "includeIdle",
    "shareIdle", "shareNamespaces", "shareLabels", "shareCost", "shareSplit", "idleByNode",
    "includeProportionalAssetResourceCosts",
    "includeSharedCostBreakdown", "includeAggregatedMetadata", "reconcile", "shareTenancyCosts", "format", "costUnit",
    "filter", "filterClusters", "filterNodes", "filterNamespaces", "filterControllerKinds", "filterControllers",
    "filterPods", "filterLabels", "filterServices", "filterAnnotations", "offset", "limit"))


def shown(source: str) -> str:
    """What a message and the report say the source is: a path as given; a URL with the values of query
    parameters OpenCost does not define replaced by ``***`` and no fragment."""
    from urllib.parse import unquote_plus, urlsplit, urlunsplit

    try:
        parts = urlsplit(source)
    except ValueError:
        return without_userinfo(source)
    if not parts.scheme or not parts.netloc:
        return source
    pieces = []
    for piece in parts.query.split("&") if parts.query else []:
        key = piece.split("=", 1)[0]
        pieces.append(piece if unquote_plus(key).lower() in ALLOCATION_PARAMS else f"{key}=***")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(pieces), ""))


def _auth(env: Any) -> str | None:
    """The Authorization header from the environment: a bearer token, else basic user and password."""
    import base64

    if env.get("TAGGUARD_OPENCOST_TOKEN"):
        return f"Bearer {env['TAGGUARD_OPENCOST_TOKEN']}"
    if env.get("TAGGUARD_OPENCOST_USER"):
        raw = f"{env['TAGGUARD_OPENCOST_USER']}:{env.get('TAGGUARD_OPENCOST_PASSWORD') or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()
    return None


def load(source: str, timeout: float = 60.0, max_bytes: int = MAX_BYTES, env: Any = None) -> tuple[Any, str]:
    """The parsed JSON from a file path or an http(s) URL given on the command line (trusted).

    A URL's credentials come from ``env`` (default ``os.environ``): ``TAGGUARD_OPENCOST_TOKEN`` (bearer) or
    ``TAGGUARD_OPENCOST_USER`` + ``TAGGUARD_OPENCOST_PASSWORD`` (basic); a URL with ``user:password@`` is refused."""
    if _url(source):
        import os
        import urllib.error
        import urllib.request

        req = urllib.request.Request(source, headers={"Accept": "application/json"})
        auth = _auth(os.environ if env is None else env)
        if auth:  # not sent on to where a redirect points
            req.add_unredirected_header("Authorization", auth)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read(max_bytes + 1)
        except (urllib.error.URLError, OSError) as exc:
            raise OpenCostError(f"{shown(source)}: cannot read: {getattr(exc, 'reason', None) or exc}") from None
    else:
        try:
            with open(source, "rb") as fh:
                raw = fh.read(max_bytes + 1)
        except OSError as exc:
            raise OpenCostError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise OpenCostError(f"{shown(source)}: larger than {max_bytes} bytes")
    try:
        return json.loads(raw), shown(source)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise OpenCostError(f"{shown(source)}{':' + str(line) if line else ''}: not JSON: "
                            f"{getattr(exc, 'msg', str(exc))}") from None


def allocations(doc: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(doc, dict) and "data" in doc:
        if doc.get("code") not in (None, 200):
            raise OpenCostError(f"{where}: OpenCost answered code {doc.get('code')}: {str(doc.get('message'))[:200]}")
        doc = doc["data"]
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise OpenCostError(f"{where}: expected an OpenCost allocation response ({{\"data\": [{{name: allocation}}]}})")
    out = []
    for step in doc:
        if not isinstance(step, dict):
            continue
        for name, alloc in step.items():
            if isinstance(alloc, dict):
                out.append((str(name), alloc))
    return out


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def build(doc: Any, where: str, taxonomy, group_by: str | None = None) -> dict[str, Any]:
    from tagguard.actuals.cluster.gpuhours import UNATTRIBUTED
    from tagguard.actuals.cluster.split import label_name

    cluster = cluster_id(where)

    keys = list(dict.fromkeys(list(taxonomy.required) + list(taxonomy.properties)))
    back = {label_name(k)[len("label_"):]: k for k in keys}
    group_by = group_by or (keys[0] if keys else None)
    groups: dict[str, dict[str, Any]] = {}
    special: dict[str, dict[str, float]] = {}
    reasons: dict[str, int] = {}
    bad_ns: dict[str, dict[str, Any]] = {}  # namespace -> unattributed GPU-hours, cost, allocations, issues
    bad_rows = 0
    no_labels = True
    span: list[str] = []  # the earliest start and the latest end of the allocations' windows
    for name, a in allocations(doc, where):
        _widen(span, a.get("window"))
        hours = _num(a.get("gpuHours")) or 0.0
        cost = (_num(a.get("gpuCost")) or 0.0) + (_num(a.get("gpuCostAdjustment")) or 0.0)
        if hours <= 0 and cost <= 0:
            continue
        if name in ("__idle__", "__unallocated__", "__unmounted__"):
            s = special.setdefault(name, {"gpu_hours": 0.0, "cost_usd": 0.0})
            s["gpu_hours"] += hours
            s["cost_usd"] += cost
            continue
        raw_props = a.get("properties")
        props: dict[str, Any] = raw_props if isinstance(raw_props, dict) else {}
        tags: dict[str, str] = {}
        for src in (props.get("namespaceLabels"), props.get("labels")):
            if isinstance(src, dict):
                for k, v in src.items():
                    if isinstance(v, (str, int, float)) and str(v) != "":
                        tags[back.get(str(k), str(k))] = str(v)
                        no_labels = False
        issues = [i.message for i in taxonomy.evaluate(tags, style="kubernetes")]
        eff = _num(a.get("gpuEfficiency"))
        if issues:
            bad_rows += 1
            for m in issues:
                reasons[m] = reasons.get(m, 0) + 1
            _count_bad(bad_ns, str(props.get("namespace") or ""), hours, cost, issues)
            g = UNATTRIBUTED
        else:
            g = tags.get(group_by, "") if group_by is not None else ""
        row = groups.setdefault(g, {"gpu_hours": 0.0, "cost_usd": 0.0, "used_gpu_hours": 0.0,
                                    "unmeasured_gpu_hours": 0.0, "allocations": 0, "namespaces": set()})
        row["gpu_hours"] += hours
        row["cost_usd"] += cost
        row["allocations"] += 1
        if props.get("namespace"):
            row["namespaces"].add(str(props["namespace"]))
        if eff is None:
            row["unmeasured_gpu_hours"] += hours
        else:
            row["used_gpu_hours"] += hours * max(0.0, min(1.0, eff))
    warnings = []
    if groups and no_labels:
        warnings.append("the OpenCost allocations carry no labels: " + NO_LABELS_FIX)
    rows = [{"group": g, "gpu_hours": round(r["gpu_hours"], 6), "cost_usd": round(r["cost_usd"], 6),
             "used_gpu_hours": round(r["used_gpu_hours"], 6),
             "unmeasured_gpu_hours": round(r["unmeasured_gpu_hours"], 6),
             "allocations": r["allocations"], "namespaces": sorted(r["namespaces"])[:50]}
            for g, r in sorted(groups.items())]
    un = groups.get(UNATTRIBUTED, {"gpu_hours": 0.0, "cost_usd": 0.0})
    if groups and no_labels:
        findings = [labels_not_exported(cluster, un["gpu_hours"], un["cost_usd"], plural(bad_rows, "allocation"),
                                        NO_LABELS_FIX)] if bad_rows else []
    else:
        findings = [_unattributed_finding(cluster, ns, b) for ns, b in sorted(bad_ns.items())]
    return {"kind": "tagguard-opencost-report", "source": where, "group_by": group_by,
            "window": {"start": span[0], "end": span[1]} if span else None, "by_group": rows,
            "idle": {k: {kk: round(vv, 6) for kk, vv in v.items()} for k, v in special.items()},
            "unattributed": {"gpu_hours": round(un["gpu_hours"], 6), "cost_usd": round(un["cost_usd"], 6),
                             "allocations": bad_rows,
                             "reasons": [{"reason": m, "allocations": n}
                                         for m, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))][:50]},
            "findings": findings,
            "warnings": warnings}


def _widen(span: list[str], window: Any) -> None:
    """``span`` = [start, end] widened by an allocation's ``window`` (RFC 3339 strings of one form, compared as
    text); a window that is not two such strings is left out."""
    if not isinstance(window, dict):
        return
    start, end = window.get("start"), window.get("end")
    if not (isinstance(start, str) and isinstance(end, str)) or len(start) > 40 or len(end) > 40:
        return
    if not span:
        span += [start, end]
    else:
        span[0], span[1] = min(span[0], start), max(span[1], end)


def _count_bad(into: dict[str, dict[str, Any]], ns: str, hours: float, cost: float, issues: list[str]) -> None:
    b = into.setdefault(ns, {"gpu_hours": 0.0, "cost_usd": 0.0, "allocations": 0, "issues": {}})
    b["gpu_hours"] += hours
    b["cost_usd"] += cost
    b["allocations"] += 1
    for m in issues:
        b["issues"][m] = None


def _unattributed_finding(cluster: str, ns: str, b: dict[str, Any]) -> Finding:
    """One finding per namespace (OpenCost's allocations are aggregated; a namespace is the finest place
    every aggregation keeps)."""
    issues = list(b["issues"])
    where = f"namespace {ns}" if ns else "allocations without a namespace"
    return Finding(rule="unattributed-gpu-hours", category="unattributed", severity=ERROR,
                   address=address(cluster, ns or None), resource_type="Namespace" if ns else None,
                   message=f"{where}: {plural(b['allocations'], 'allocation')} ran {b['gpu_hours']:.1f} GPU-hours "
                           f"({money(b['cost_usd'])}) that no team owns: " + "; ".join(issues[:5])
                           + (f" (+{len(issues) - 5} more)" if len(issues) > 5 else ""),
                   fix=f"label the pods (or namespace {ns}) with the taxonomy's keys" if ns else
                       "label the pods with the taxonomy's keys",
                   extra={"namespace": ns or None, "gpu_hours": round(b["gpu_hours"], 6),
                          "cost_usd": round(b["cost_usd"], 2), "allocations": b["allocations"]})


def render(rep: dict[str, Any], fmt: str) -> str:
    """Text, Markdown or JSON; ``rep["findings"]`` are ``Finding.to_json`` dicts (``result.to_result``)."""
    from tagguard.actuals.cluster.render import findings_markdown, findings_text

    if fmt == "json":
        return json.dumps(rep, indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        from tagguard.formats.escape import md_cell as esc

        out = [f"## OpenCost GPU allocation by {esc(rep['group_by'])}", "",
               "| group | GPU-hours | used GPU-hours | cost |", "|---|---:|---:|---:|"]
        out += [f"| {esc(r['group'])} | {r['gpu_hours']:,.1f} | {r['used_gpu_hours']:,.1f} | {money(r['cost_usd'])} |"
                for r in rep["by_group"]]
        out += [""] + [f"- {esc(k)}: {v['gpu_hours']:,.1f} GPU-h {money(v['cost_usd'])}"
                       for k, v in rep["idle"].items()]
        out += [f"- unattributed because: {esc(r['reason'])} ({r['allocations']})"
                for r in rep["unattributed"]["reasons"]]
        out += [f"- warning: {esc(w)}" for w in rep["warnings"]]
        out += [""] + findings_markdown(rep)
        return "\n".join(out).rstrip() + "\n"
    from tagguard.formats.escape import guard_commands
    from tagguard.formats.escape import term as esc

    out = [f"OpenCost GPU allocation from {esc(rep['source'])}, by {esc(rep['group_by'])}:"]
    for r in rep["by_group"]:
        out.append(f"  {esc(r['group']):24} {r['gpu_hours']:>12,.1f} GPU-h  used {r['used_gpu_hours']:>10,.1f}  "
                   f"{money(r['cost_usd'])}")
    for k, v in rep["idle"].items():
        out.append(f"  {esc(k):24} {v['gpu_hours']:>12,.1f} GPU-h  {money(v['cost_usd'])}")
    for r in rep["unattributed"]["reasons"]:
        out.append(f"unattributed: {plural(r['allocations'], 'allocation')}: {esc(r['reason'])}")
    out += [f"warning: {esc(w)}" for w in rep["warnings"]]
    out += [""] + findings_text(rep)
    return guard_commands("\n".join(out).rstrip() + "\n")
