"""Quota, optimisation and attribution findings from cluster GPU-hours: ``tagguard.model.Finding``s of
registered rules (``rules/registry.py``, ``rules/docs/<id>.md``), so every output format and the
``--fail-on`` gate of a scan apply to them.

- ``gpu-quota``: a namespace that requested GPUs has no GPU ResourceQuota, or its quota's used/hard
  reached ``quota_near`` (warning) or the hard limit (error).
- ``gpu-underused``: a workload (namespace + controller) used under ``underuse_threshold`` of the GPU
  time it held; saving = the cost of the unused part (right-size, share or quantize).
- ``commitment-candidate``: a steady long-running workload (ReplicaSet/StatefulSet/DaemonSet, running
  ≥ ``steady_fraction`` of the window) on on-demand capacity; saving = on-demand − 1-year reserved.
- ``spot-candidate``: a training/batch workload (Job) on on-demand; saving = on-demand − spot.
- ``unattributed-gpu-hours``: a workload whose pods' labels (with the namespace's inherited) miss or
  break the taxonomy ran GPU-hours no team owns.
- ``pod-labels-not-exported``: kube-state-metrics (or OpenCost) gives no pod or namespace labels at all,
  so nothing can be attributed (said once, instead of every workload as untagged).
- ``cluster-data-gap``: GPU-hours the report could not price, GPU resources it could not count, no
  utilisation series: what the figures leave out, with the fix.

There is no file: a finding's location is its address, ``<cluster>/namespaces/<ns>/<Kind>/<name>``
(``<cluster>`` = the Prometheus URL without credentials, query or fragment, or the OpenCost source),
the cluster itself for cluster-wide findings. SARIF attaches such findings to the repository root with
the address as logical location, as it does for live-account (drift) findings (docs/cluster.md).
"""
from __future__ import annotations

from typing import Any

from tagguard.formats.helpers import money, plural
from tagguard.model import ERROR, INFO, WARNING, Finding

STEADY_KINDS = ("ReplicaSet", "StatefulSet", "DaemonSet", "Deployment")
BATCH_KINDS = ("Job",)
OPTIMIZATION = "optimization"


def cluster_id(url: str) -> str:
    """A Prometheus (or OpenCost) URL as a stable, credential-free name: ``scheme://host[:port]/path``
    (no user:password, no query, no fragment). A file path is kept as it is."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def without_userinfo(url: str) -> str:
    """``url`` with any ``user:password@`` after its scheme removed; never raises (also for a URL ``urlsplit``
    refuses, such as an unbalanced ``[`` in the host), so a message can name a malformed URL safely."""
    import re

    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1", url)


def address(cluster: str, namespace: str | None = None, kind: str | None = None, name: str | None = None) -> str:
    """The pseudo-location of a cluster finding (its ``Finding.address``; ``file`` stays None)."""
    out = cluster
    if namespace is not None:
        out += f"/namespaces/{namespace}"
        if kind and name is not None:
            out += f"/{kind}/{name}"
    return out


def _extra(ns, kind, name, gpu_hours, used=None, saving=None, **more) -> dict[str, Any]:
    """The keys the JSON report had before findings were ``Finding``s (kept: other tools read them)."""
    out = {"namespace": ns, "workload_kind": kind, "workload": name, "gpu_hours": round(gpu_hours, 6),
           "used_gpu_hours": None if used is None else round(used, 6),
           "saving_usd": None if saving is None else round(saving, 2)}
    out.update(more)
    return out


def findings(rows, data, opts, pricer, window_hours: float, cluster: str) -> list[Finding]:
    out: list[Finding] = _quota(rows, data, opts, cluster)
    wl: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        wl.setdefault((r.namespace, r.owner_kind or "Pod", r.owner_name or r.pod), []).append(r)
    for (ns, kind, name), rs in sorted(wl.items()):
        where = f"{kind} {ns}/{name}"
        addr = address(cluster, ns, kind, name)
        under = _underused(rs, opts, where, addr, ns, kind, name)
        if under is not None:
            out.append(under)
        out += _capacity(rs, opts, pricer, window_hours, where, addr, ns, kind, name)
    return out


def _underused(rs, opts, where, addr, ns, kind, name) -> Finding | None:
    mreq = sum(r.measured_hours for r in rs)
    used = sum(r.used_hours for r in rs)
    if mreq <= 0 or used / mreq >= opts.underuse_threshold:
        return None
    saving = sum((r.measured_hours - r.used_hours) * r.rate for r in rs if r.rate is not None)
    return Finding(rule="gpu-underused", category=OPTIMIZATION, severity=WARNING, address=addr,
                   resource_type=kind,
                   message=f"{where} used {used / mreq:.0%} of the {mreq:.1f} GPU-hours it held "
                           f"(threshold {opts.underuse_threshold:.0%}); the unused part cost {money(saving)}",
                   fix="right-size the GPU request, share the GPU (MIG or time-slicing) or quantize the model",
                   extra=_extra(ns, kind, name, mreq, used, saving))


def _capacity(rs, opts, pricer, window_hours, where, addr, ns, kind, name) -> list[Finding]:
    od = [r for r in rs if r.capacity in ("on_demand", "on_demand_assumed")]
    if not od:
        return []
    od_hours = sum(r.gpu_hours for r in od)
    if kind in STEADY_KINDS:
        running = sum(r.running_hours for r in rs)
        if window_hours <= 0 or running < opts.steady_fraction * window_hours:
            return []
        saving, note = _delta(pricer, od, opts.commitment)
        return [Finding(rule="commitment-candidate", category=OPTIMIZATION, severity=INFO, address=addr,
                        resource_type=kind,
                        message=f"{where} ran steadily ({running / window_hours:.0%} of the window in pod-hours) on "
                                f"on-demand capacity ({od_hours:.1f} GPU-hours)" + _saving(saving),
                        fix=f"cover it with a {opts.commitment.replace('_', ' ')} commitment (reserved instances "
                            "or a savings plan) for its node type" + (f"; {note}" if note else ""),
                        extra=_extra(ns, kind, name, od_hours, None, saving))]
    if kind in BATCH_KINDS:
        saving, note = _delta(pricer, od, "spot")
        return [Finding(rule="spot-candidate", category=OPTIMIZATION, severity=INFO, address=addr,
                        resource_type=kind,
                        message=f"{where} (training/batch) ran {od_hours:.1f} GPU-hours on on-demand capacity"
                                + _saving(saving),
                        fix="run it on spot capacity with checkpointing (karpenter.sh/capacity-type: spot)"
                            + (f"; {note}" if note else ""),
                        extra=_extra(ns, kind, name, od_hours, None, saving))]
    return []


def _saving(saving: float | None) -> str:
    return "" if saving is None else f"; saving {money(saving)}"


def _delta(pricer, rows, kind: str):
    saving = 0.0
    missing = set()
    for r in rows:
        info = pricer.info(r.instance_type)
        if info is None or r.rate is None or not info.accelerator_count:
            missing.add(r.instance_type or "unknown instance type")
            continue
        alt = info.rate(kind)
        if alt is None:
            missing.add(info.instance_type)
            continue
        saving += r.gpu_hours * (r.rate - alt / float(info.accelerator_count))
    note = (f"the rate card has no {kind.replace('_', ' ')} rate for {', '.join(sorted(missing))}, so the saving "
            "leaves those out") if missing else None
    return (saving if saving > 0 or not missing else None), note


def _quota(rows, data, opts, cluster: str) -> list[Finding]:
    out = []
    ns_req: dict[str, float] = {}
    for r in rows:
        ns_req[r.namespace] = ns_req.get(r.namespace, 0.0) + r.gpu_hours
    quotas: dict[tuple[str, str, str], dict[str, float]] = {}
    for q in data.quotas:
        quotas.setdefault((q.get("namespace", ""), q.get("resourcequota", ""), q.get("resource", "")), {})[
            q.get("type", "")] = q["value"]
    have = {k[0] for k in quotas}
    for ns in sorted(ns_req):
        if ns not in have and ns_req[ns] > 0:
            out.append(Finding(rule="gpu-quota", category="quota", severity=WARNING, address=address(cluster, ns),
                               resource_type="Namespace",
                               message=f"namespace {ns} used {ns_req[ns]:.1f} GPU-hours with no GPU ResourceQuota",
                               fix=f"add a ResourceQuota with requests.nvidia.com/gpu to namespace {ns}",
                               extra=_extra(ns, None, None, ns_req[ns])))
    for (ns, name, res), v in sorted(quotas.items()):
        hard, used = v.get("hard"), v.get("used")
        if not hard or used is None:
            continue
        ratio = used / hard
        if ratio >= opts.quota_near:
            out.append(Finding(rule="gpu-quota", category="quota", severity=ERROR if ratio >= 1 else WARNING,
                               address=address(cluster, ns, "ResourceQuota", name), resource_type="ResourceQuota",
                               message=f"namespace {ns} reached {ratio:.0%} of its {res} quota "
                                       f"({used:g} of {hard:g}, peak in the window)",
                               fix="raise the quota or move work out before pods stay Pending",
                               extra=_extra(ns, "ResourceQuota", name, ns_req.get(ns, 0.0))))
    return out


def unattributed(rows, cluster: str, labels_visible: bool, label_fix: str) -> list[Finding]:
    """One ``unattributed-gpu-hours`` per workload whose pods miss or break the taxonomy; or, when the
    cluster exports no labels at all, one ``pod-labels-not-exported`` (nothing could be attributed)."""
    bad = [r for r in rows if r.issues]
    if not bad:
        return []
    hours = sum(r.gpu_hours for r in bad)
    cost = sum(r.gpu_hours * r.rate for r in bad if r.rate is not None)
    if not labels_visible:
        return [labels_not_exported(cluster, hours, cost, plural(len(bad), "pod"), label_fix)]
    wl: dict[tuple[str, str, str], list[Any]] = {}
    for r in bad:
        wl.setdefault((r.namespace, r.owner_kind or "Pod", r.owner_name or r.pod), []).append(r)
    out = []
    for (ns, kind, name), rs in sorted(wl.items()):
        gh = sum(r.gpu_hours for r in rs)
        priced = [r for r in rs if r.rate is not None]
        usd = sum(r.gpu_hours * r.rate for r in priced) if priced else None
        issues = list(dict.fromkeys(m for r in rs for m in r.issues))
        out.append(Finding(rule="unattributed-gpu-hours", category="unattributed", severity=ERROR,
                           address=address(cluster, ns, kind, name), resource_type=kind,
                           message=f"{kind} {ns}/{name} ran {gh:.1f} GPU-hours ({money(usd)}) that no team owns: "
                                   + "; ".join(issues[:5]) + (f" (+{len(issues) - 5} more)" if len(issues) > 5 else ""),
                           fix=f"label the pods of {kind} {ns}/{name} (its pod template) or namespace {ns} with the "
                               "taxonomy's keys",
                           extra=_extra(ns, kind, name, gh, None, None, cost_usd=None if usd is None else round(usd, 2),
                                        pods=len(rs))))
    return out


def labels_not_exported(cluster: str, hours: float, cost: float | None, what: str, fix: str) -> Finding:
    return Finding(rule="pod-labels-not-exported", category="unattributed", severity=ERROR, address=cluster,
                   message=f"the cluster exports no pod or namespace labels: {hours:.1f} GPU-hours ({money(cost)}) of "
                           f"{what} cannot be attributed to teams (reported as one line, not as untagged)",
                   fix=fix, extra={"gpu_hours": round(hours, 6), "cost_usd": None if cost is None else round(cost, 2)})


def data_gaps(rep: dict[str, Any], cluster: str, no_util: bool) -> list[Finding]:
    """What the report's figures leave out: unpriced GPU-hours, GPU resources of unknown share, no
    utilisation series (``cluster-data-gap``; never a silent pass)."""
    out = []
    for u in rep["unpriced"]:
        nodes = u["nodes"]
        out.append(Finding(rule="cluster-data-gap", category="not_scanned", severity=WARNING, address=cluster,
                           tag="unpriced: " + str(u["reason"])[:100],
                           message=f"{u['gpu_hours']:.1f} GPU-hours on {plural(len(nodes), 'node')} "
                                   f"({', '.join(nodes[:5])}{', ...' if len(nodes) > 5 else ''}) are not priced: "
                                   f"{u['reason']}; the cost figures leave them out",
                           fix="label nodes with node.kubernetes.io/instance-type (and allow it in kube-state-metrics) "
                               "or add the instance type to the rate card (`pricing.rates` in the config)",
                           extra={"gpu_hours": round(u["gpu_hours"], 6), "reason": u["reason"]}))
    for u in rep["unknown_resources"]:
        out.append(Finding(rule="cluster-data-gap", category="not_scanned", severity=WARNING, address=cluster,
                           tag=f"resource:{u['resource']}",
                           message=f"{u['unit_hours']:.1f} unit-hours of {u['resource']} are not counted: "
                                   "its share of a GPU is unknown",
                           fix="see docs/cluster.md for the GPU resources tagguard counts (MIG profiles, "
                               "time-slicing labels of GPU feature discovery)",
                           extra={"unit_hours": round(u["unit_hours"], 6), "resource": u["resource"]}))
    if no_util:
        metric = rep["source"].get("util_metric") or "DCGM utilisation"
        out.append(Finding(rule="cluster-data-gap", category="not_scanned", severity=WARNING, address=cluster,
                           tag="utilisation",
                           message=f"no {metric} series with pod labels: used and idle GPU-hours are unknown and "
                                   "underused GPUs cannot be found",
                           fix="run dcgm-exporter with --kubernetes and keep its pod/namespace labels when "
                               "Prometheus scrapes it"))
    return out
