"""Requested, used, idle and unattributed GPU-hours per namespace and taxonomy label, priced.

``collect`` asks Prometheus for per-pod and per-node sums (see ``queries``), chunk by chunk, and
keeps one small record per pod and node: memory grows with pods and nodes, never with samples.
``build`` turns them into the report: GPU-equivalents by ``split``, tags from pod labels with the
namespace's labels inherited, judged by the taxonomy, prices from the rate card by the node's
instance type and capacity type.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tagguard.actuals.cluster import queries as Q
from tagguard.actuals.cluster.promql import PromClient, PromError, prom_duration
from tagguard.actuals.cluster.split import label_name, mig_single, unit

UNATTRIBUTED = "(unattributed)"
NO_LABELS = "(pod labels not exported)"
INSTANCE_TYPE_LABELS = ("label_node_kubernetes_io_instance_type", "label_beta_kubernetes_io_instance_type")
ALLOWLIST_FIX = ("run kube-state-metrics with --metric-labels-allowlist=pods=[{keys}],namespaces=[{keys}],"
                 "nodes=[node.kubernetes.io/instance-type,karpenter.sh/capacity-type,eks.amazonaws.com/capacityType,"
                 "cloud.google.com/gke-spot,nvidia.com/gpu.replicas,nvidia.com/gpu.count,nvidia.com/gpu.sharing-strategy,"
                 "nvidia.com/mig.strategy,nvidia.com/gpu.product]"
                 " (since v2.10 kube_*_labels carry no labels unless allowed)")


@dataclass
class PodAcc:
    namespace: str
    pod: str
    node: str = ""
    points: dict[str, float] = field(default_factory=dict)  # resource -> Σ requested units × samples
    measured: dict[str, float] = field(default_factory=dict)  # the part of points with utilisation data
    used: dict[str, float] = field(default_factory=dict)  # Σ units × samples × mean utilisation
    running: float = 0.0  # Running samples
    run_measured: float = 0.0  # Running samples in chunks where the pod has utilisation data
    run_used: float = 0.0  # Σ Running samples × the chunk's mean utilisation


@dataclass
class ClusterData:
    start: float
    end: float
    step: float  # seconds one sample stands for (the scrape interval)
    resolution: float = 0.0  # the window's alignment (--resolution)
    chunks: int = 0
    pods: dict[tuple[str, str, str], PodAcc] = field(default_factory=dict)
    measured_pods: int = 0
    pod_labels: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    pod_label_series: int = 0
    ns_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    node_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    owners: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    node_provider: dict[str, str] = field(default_factory=dict)  # node -> kube_node_info provider_id
    node_points: dict[str, dict[str, float]] = field(default_factory=dict)
    quotas: list[dict[str, Any]] = field(default_factory=list)
    util_metric: str = ""
    interval_source: str = ""
    init_pods: int = 0  # pods whose effective request came from an init container
    sidecar_pods: int = 0  # pods with a sidecar (restartPolicy Always init container) requesting GPUs
    order_assumed_pods: int = 0  # pods whose figure depends on the unknown order of init containers and sidecars
    by_name_queries: int = 0  # queries for pods alive at no chunk end
    warnings: list[str] = field(default_factory=list)


def align(start: float, end: float, step: float) -> tuple[float, float]:
    s = math.floor(start / step) * step
    e = math.floor(end / step) * step
    if e <= s:
        raise PromError("the window is shorter than one --resolution step")
    return s, e


def pick_util_metric(client: PromClient, sel: Q.Selectors, start: float, end: float) -> Q.Selectors:
    """Use DCGM_FI_PROF_GR_ENGINE_ACTIVE when the cluster exports it (it works per MIG instance),
    else DCGM_FI_DEV_GPU_UTIL; find whether the pod labels are ``pod`` or ``exported_pod`` (series
    scraped with honor_labels: false). Asked of the index, no samples read."""
    from dataclasses import replace

    for metric in ((sel.util_metric,) if sel.util_metric != "auto" else
                   ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL")):
        # exported_pod first: when it exists, `pod` is the exporter's own pod (honor_labels: false)
        for pod, ns in (("exported_pod", "exported_namespace"), ("pod", "namespace")):
            if client.names(f'{metric}{{{pod}!=""}}', start, end):
                return replace(sel, util_metric=metric, pod_label=pod, namespace_label=ns)
    metric = "DCGM_FI_DEV_GPU_UTIL" if sel.util_metric == "auto" else sel.util_metric
    return replace(sel, util_metric=metric)


Key = tuple[str, str, str]
Units = dict[Key, dict[tuple[str, str], float]]  # pod -> (node, resource) -> units
InitUnits = dict[Key, dict[tuple[str, str, str], float]]  # pod -> (node, resource, init container) -> units
BY_NAME_BATCH = 400  # pod names per query for pods alive at no chunk end


def collect(client: PromClient, start: float, end: float, step: float, chunk: float,
            sel: Q.Selectors, parallel: int = 2, interval: float | None = None) -> ClusterData:
    """Per-pod and per-node sums for [start, end) (aligned to ``step``), chunk by chunk: at most
    ``parallel`` chunks in flight, merged in order. ``interval``: the scrape interval in seconds
    (None: detected from the samples of node series)."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    start, end = align(start, end, step)
    chunk = max(step, math.floor(chunk / step) * step)
    data = ClusterData(start=start, end=end, step=0.0, resolution=step)
    sel = pick_util_metric(client, sel, start, end)
    data.util_metric = sel.util_metric
    major = client.major_version()
    left_open = major is not None and major >= 3
    # GPU pods from the index (label sets, no samples): only their Running samples are kept
    app_keys = _series_keys(client.series(Q.request_series(sel), start, end - 0.001))
    init_keys = _series_keys(client.series(Q.request_series(sel, Q.INIT_REQUESTS), start, end - 0.001))
    for key, node in list(app_keys.items()) + list(init_keys.items()):
        if key not in data.pods:
            data.pods[key] = PodAcc(key[0], key[1], node)
    app: Units = {}
    init: InitUnits = {}
    per_sample: list[float] = []
    spans = []
    t0 = start
    while t0 < end:
        t1 = min(end, t0 + chunk)
        spans.append((t0, t1))
        t0 = t1
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as ex:
        pending: deque = deque()
        for t0, t1 in spans:
            pending.append(ex.submit(_fetch, client, sel, t0, t1, left_open, bool(init_keys)))
            if len(pending) >= max(1, parallel):
                _merge(data, app, init, per_sample, pending.popleft().result())
        while pending:
            _merge(data, app, init, per_sample, pending.popleft().result())
    # pods alive at no chunk end (jobs shorter than a chunk): their own raw samples, by name
    whole = f"{int(round((end - start) * 1000))}ms"
    for metric, keys, into in ((Q.APP_REQUESTS, app_keys, app), (Q.INIT_REQUESTS, init_keys, init)):
        missing = sorted({k[1] for k in keys if k not in into})
        for i in range(0, len(missing), BY_NAME_BATCH):
            data.by_name_queries += 1
            answer = client.instant(Q.requests_of(sel, missing[i:i + BY_NAME_BATCH], whole, metric), end - 0.001)
            if metric == Q.INIT_REQUESTS:
                _init_units(init, answer)
            else:
                _units(app, answer)
    data.step = _interval(interval, per_sample) if (data.pods or per_sample or interval) else step  # nothing ran
    data.interval_source = "--scrape-interval" if interval else "detected from kube_node_status_allocatable samples"
    # which init containers are sidecars: label sets from the index (no samples), only when one requests GPUs
    sidecars = ({(lb.get("namespace", ""), lb.get("pod", ""), lb.get("uid", ""), lb.get("container", ""))
                 for lb in client.series(Q.SIDECARS, start, end - 0.001)} if init else set())
    _finish_pods(data, app, init, sidecars)
    _info(client, data, start, end)
    data.quotas = [dict(s.labels, value=s.value) for s in client.instant(Q.quota(prom_duration(end - start)), end)]
    return data


def _series_keys(series: list[dict[str, str]]) -> dict[Key, str]:
    return {(lb.get("namespace", ""), lb.get("pod", ""), lb.get("uid", "")): lb.get("node", "") for lb in series}


def _fetch(client: PromClient, sel: Q.Selectors, t0: float, t1: float, left_open: bool, with_init: bool):
    at = t1 - 0.001
    ms = int(round((t1 - t0) * 1000))
    rng = f"{ms if left_open else ms - 1}ms"
    return (sel, t1 - t0, client.instant(Q.running(rng), at), client.instant(Q.used_mean(sel, rng), at),
            client.instant(Q.node_capacity(sel, rng), at), client.instant(Q.samples_in(sel, rng), at),
            client.instant(Q.requests_now(sel), at),
            client.instant(Q.requests_now(sel, Q.INIT_REQUESTS), at) if with_init else [])


def _units(into: Units, samples) -> None:
    for s in samples:
        if s.value != s.value:  # NaN
            continue
        lb = s.labels
        key = (lb.get("namespace", ""), lb.get("pod", ""), lb.get("uid", ""))
        into.setdefault(key, {})[(lb.get("node", ""), lb.get("resource", ""))] = s.value


def _init_units(into: InitUnits, samples) -> None:
    for s in samples:
        if s.value != s.value:  # NaN
            continue
        lb = s.labels
        key = (lb.get("namespace", ""), lb.get("pod", ""), lb.get("uid", ""))
        into.setdefault(key, {})[(lb.get("node", ""), lb.get("resource", ""), lb.get("container", ""))] = s.value


def _merge(d: ClusterData, app: Units, init: InitUnits, per_sample: list[float], answers) -> None:
    sel, seconds, run, used, cap, count, req, ireq = answers
    d.chunks += 1
    _units(app, req)
    _init_units(init, ireq)
    util: dict[tuple[str, str], float] = {}
    for s in used:
        if s.value == s.value:
            util[(s.labels.get(sel.namespace_label, ""), s.labels.get(sel.pod_label, ""))] = s.value
    d.measured_pods += len(util)
    for s in run:
        acc = d.pods.get((s.labels.get("namespace", ""), s.labels.get("pod", ""), s.labels.get("uid", "")))
        if acc is None or not s.value or s.value != s.value:
            continue  # not a GPU pod
        acc.running += s.value
        u = util.get((acc.namespace, acc.pod))
        if u is not None:
            acc.run_measured += s.value
            acc.run_used += s.value * min(1.0, max(0.0, u))
    for s in cap:
        per = d.node_points.setdefault(s.labels.get("node", ""), {})
        res = s.labels.get("resource", "")
        per[res] = per.get(res, 0.0) + s.value
    for s in count:
        if s.value and s.value == s.value:
            per_sample.append(seconds / s.value)


def _interval(given: float | None, per_sample: list[float]) -> float:
    if given:
        return float(given)
    if not per_sample:
        raise PromError("cannot tell the scrape interval: no kube_node_status_allocatable samples of a GPU resource "
                        "in the window (give --scrape-interval, e.g. 30s)")
    iv = min(per_sample)  # the chunk where a node series had the most samples per second
    return float(round(iv)) if iv >= 2 else iv


def _finish_pods(d: ClusterData, app: Units, init: InitUnits,
                 sidecars: set[tuple[str, str, str, str]]) -> None:
    """Units × samples per resource. The effective request of a pod is Kubernetes' rule, per resource:
    max(max_i(init_i + sidecars started before i), sum of app containers + sum of sidecars). Sidecars
    are init containers with restartPolicy Always (``sidecars``: namespace, pod, uid, container).
    kube-state-metrics does not give the order of init containers, so every sidecar is counted as
    started before each ordinary init container (the most the pod can hold); the pods where that
    changes the figure are counted in ``order_assumed_pods``."""
    for key in list(d.pods):
        acc = d.pods[key]
        if acc.running <= 0:
            del d.pods[key]
            continue
        eff: dict[str, float] = {}
        for (node, res), n in app.get(key, {}).items():
            eff[res] = eff.get(res, 0.0) + n
            acc.node = node or acc.node
        side: dict[str, float] = {}
        largest: dict[str, float] = {}  # the largest ordinary init container
        for (node, res, container), n in init.get(key, {}).items():
            if key + (container,) in sidecars:
                side[res] = side.get(res, 0.0) + n
            else:
                largest[res] = max(n, largest.get(res, 0.0))
            acc.node = acc.node or node
        held_more = assumed = False
        for res in set(eff) | set(side) | set(largest):
            running = eff.get(res, 0.0) + side.get(res, 0.0)
            first = largest.get(res, 0.0) + side.get(res, 0.0)
            if first > running:
                held_more = True
                # with sidecars in it, the figure would be smaller had they started after that init container
                assumed = assumed or side.get(res, 0.0) > 0
            eff[res] = max(running, first)
        d.init_pods += held_more
        d.sidecar_pods += any(v > 0 for v in side.values())
        d.order_assumed_pods += assumed
        for res, n in eff.items():
            acc.points[res] = n * acc.running
            acc.measured[res] = n * acc.run_measured
            acc.used[res] = n * acc.run_used


def _info(client: PromClient, d: ClusterData, start: float, end: float) -> None:
    """Pod, namespace and node labels and pod owners: label sets of the window's series. A pod whose
    labels changed in the window has several; the one with the most labels is kept."""
    def keep(into, key, labels):
        old = into.get(key)
        if old is None or len(labels) > len(old):
            into[key] = labels

    pod_labels, ns_labels, node_labels, owners, node_info = (client.series(m, start, end) for m in Q.INFO_METRICS)
    for lb in node_info:  # the cloud's id of the node's machine: what a bill's ResourceId names
        if lb.get("provider_id"):
            d.node_provider[lb.get("node", "")] = lb["provider_id"]
    for lb in pod_labels:
        d.pod_label_series += 1
        keep(d.pod_labels, (lb.get("namespace", ""), lb.get("pod", "")), _labels(lb))
    for lb in ns_labels:
        keep(d.ns_labels, lb.get("namespace", ""), _labels(lb))
    for lb in node_labels:
        keep(d.node_labels, lb.get("node", ""), _labels(lb))
    for lb in owners:
        d.owners[(lb.get("namespace", ""), lb.get("pod", ""))] = (lb.get("owner_kind", ""), lb.get("owner_name", ""))


def _labels(lb: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in lb.items() if k.startswith("label_")}


# --- report -------------------------------------------------------------------------------------

@dataclass
class Options:
    group_by: str | None = None  # taxonomy key; default: the taxonomy's first required key
    mig_basis: str = "compute"
    time_slicing: str = "replicas"
    idle_sharing: str = "none"
    idle_platform: str | None = None
    underuse_threshold: float = 0.3
    steady_fraction: float = 0.9
    quota_near: float = 0.9
    commitment: str = "reserved_1yr"


@dataclass
class PodRow:
    namespace: str
    pod: str
    node: str
    owner_kind: str
    owner_name: str
    gpu_hours: float  # requested GPU-equivalent hours
    measured_hours: float  # the part of gpu_hours with utilisation data
    used_hours: float  # measured_hours × mean utilisation
    running_hours: float
    tags: dict[str, str]
    issues: list[str]
    group: str
    capacity: str
    instance_type: str
    rate: float | None  # USD per GPU-hour
    rate_note: str | None
    units: list[str]


def capacity_type(labels: dict[str, str]) -> str:
    k = labels.get("label_karpenter_sh_capacity_type", "").lower()
    e = labels.get("label_eks_amazonaws_com_capacity_type", "").upper()
    if k == "spot" or e == "SPOT" or labels.get("label_cloud_google_com_gke_spot", "").lower() == "true" \
            or labels.get("label_cloud_google_com_gke_preemptible", "").lower() == "true":
        return "spot"
    if k == "reserved" or e == "CAPACITY_BLOCK":
        return "reserved"
    if k == "on-demand" or e == "ON_DEMAND":
        return "on_demand"
    return "on_demand_assumed"


def replicas_of(labels: dict[str, str]) -> float | None:
    """Time-slicing replicas per GPU from GPU feature discovery labels, None when not time-sliced."""
    strategy = labels.get("label_nvidia_com_gpu_sharing_strategy", "")
    try:
        reps = float(labels.get("label_nvidia_com_gpu_replicas", "0"))
        count = float(labels.get("label_nvidia_com_gpu_count", "0"))
    except ValueError:
        return None
    if strategy in ("time-slicing", "mps") and reps > 0 and count > 0 and reps > count:
        return reps / count
    return None


class Pricer:
    """Per-GPU-hour rate of a node from the rate card: instance rate / GPUs per instance."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[float | None, str | None, Any | None]] = {}

    def rate(self, instance_type: str, capacity: str) -> tuple[float | None, str | None, Any | None]:
        key = (instance_type, capacity)
        if key not in self._cache:
            self._cache[key] = self._rate(instance_type, capacity)
        return self._cache[key]

    def info(self, instance_type: str):
        from tagguard.pricing import catalog

        return catalog.lookup(instance_type) if instance_type else None

    def _rate(self, instance_type: str, capacity: str):
        if not instance_type:
            return None, ("node has no node.kubernetes.io/instance-type label in kube_node_labels; allow it with "
                          "--metric-labels-allowlist=nodes=[node.kubernetes.io/instance-type]"), None
        info = self.info(instance_type)
        if info is None or not info.accelerator_count:
            return None, f"instance type {instance_type} is not in the rate card", None
        kind = {"spot": "spot", "reserved": "reserved_1yr"}.get(capacity, "on_demand")
        note = None
        value = info.rate(kind)
        if value is None and kind != "on_demand":
            value = info.on_demand
            note = f"no {kind} rate for {instance_type} in the rate card: priced on demand"
        if value is None:
            return None, f"the rate card has no price for {instance_type}", info
        return value / float(info.accelerator_count), note, info


class _Units:
    """GPU-equivalents and prices of the report: how each resource was counted (``units``), what could
    not be priced (``unpriced``), by the node's labels (MIG, time-slicing replicas, instance type)."""

    def __init__(self, data: ClusterData, opts: Options) -> None:
        self.data, self.opts = data, opts
        self.step_h = data.step / 3600.0
        self.node_rep = {n: replicas_of(lb) for n, lb in data.node_labels.items()}
        self.node_mig = {n: mig_single(lb) for n, lb in data.node_labels.items()}
        self.pricer = Pricer()
        self.how: dict[str, str] = {}
        self.unpriced: dict[str, dict[str, Any]] = {}

    def to_gpu(self, res: str, pts: float, node: str) -> float | None:
        single = self.node_mig.get(node)
        u = unit(res, mig_basis=self.opts.mig_basis, replicas=self.node_rep.get(node), single=single)
        where = f" on {node}" if u.kind == "time-sliced" else (f" on {single[2]}" if single and u.kind == "mig"
                                                                 and res == "nvidia_com_gpu" else "")
        self.how[u.resource + where] = u.how
        return None if u.fraction is None else pts * u.fraction * self.step_h

    def node_rate(self, node: str):
        lb = self.data.node_labels.get(node, {})
        itype = next((lb[k] for k in INSTANCE_TYPE_LABELS if lb.get(k)), "")
        cap = capacity_type(lb)
        rate, note, _ = self.pricer.rate(itype, cap)
        return itype, cap, rate, note

    def not_priced(self, note: str | None, hours: float, node: str) -> None:
        u = self.unpriced.setdefault(note or "unpriced", {"reason": note, "gpu_hours": 0.0, "nodes": set()})
        u["gpu_hours"] += hours
        u["nodes"].add(node)


def _warnings(data: ClusterData, keys: list[str], labels_visible: bool) -> list[str]:
    warnings = list(data.warnings)
    if data.pods and not labels_visible:
        warnings.append("kube-state-metrics exports no pod or namespace labels (kube_pod_labels "
                        f"{'has no label_* labels' if data.pod_label_series else 'is absent'}): GPU-hours cannot be "
                        "attributed to teams and are reported as " + NO_LABELS + ", not as untagged; fix: "
                        + ALLOWLIST_FIX.format(keys=",".join(keys)))
    if data.pods and not data.measured_pods:
        warnings.append(f"no {data.util_metric} series with pod labels: used GPU-hours unknown (dcgm-exporter needs "
                        "--kubernetes, and its pod/namespace labels must reach Prometheus)")
    return warnings


def _pod_rows(data: ClusterData, u: _Units, taxonomy, label_to_key: dict[str, str], group_by: str | None,
              labels_visible: bool, unknown_units: dict[str, float]) -> list[PodRow]:
    rows: list[PodRow] = []
    for (ns, pod, _uid), acc in data.pods.items():
        gh = gm = gu = 0.0
        names = []
        for res, pts in acc.points.items():
            v = u.to_gpu(res, pts, acc.node)
            names.append(res)
            if v is None:
                unknown_units[res] = unknown_units.get(res, 0.0) + pts * u.step_h
                continue
            gh += v
            gm += u.to_gpu(res, acc.measured.get(res, 0.0), acc.node) or 0.0
            gu += u.to_gpu(res, acc.used.get(res, 0.0), acc.node) or 0.0
        if gh <= 0:
            continue
        tags = _tags(data.ns_labels.get(ns, {}), label_to_key)
        tags.update(_tags(data.pod_labels.get((ns, pod), {}), label_to_key))
        issues = [i.message for i in taxonomy.evaluate(tags, style="kubernetes")]
        if issues:
            group = NO_LABELS if not labels_visible else UNATTRIBUTED
        else:
            group = str(tags.get(group_by, "")) if group_by else ""
        itype, cap, rate, note = u.node_rate(acc.node)
        if rate is None:
            u.not_priced(note, gh, acc.node or "(unscheduled)")
        okind, oname = data.owners.get((ns, pod), ("", ""))
        rows.append(PodRow(ns, pod, acc.node, okind, oname, gh, gm, gu, acc.running * u.step_h, tags, issues, group,
                           cap, itype, rate, note, names))
    return rows


def _node_rows(data: ClusterData, u: _Units, rows: list[PodRow]) -> list[dict[str, Any]]:
    """Per node: GPU capacity over the window and the part no pod requested (unallocated idle)."""
    req_by_node: dict[str, float] = {}
    for r in rows:
        req_by_node[r.node] = req_by_node.get(r.node, 0.0) + r.gpu_hours
    nodes = []
    for node, per in sorted(data.node_points.items()):
        cap_h = sum(v for v in (u.to_gpu(res, pts, node) for res, pts in per.items()) if v is not None)
        idle = max(0.0, cap_h - req_by_node.get(node, 0.0))
        itype, cap, rate, note = u.node_rate(node)
        if rate is None and idle > 0:
            u.not_priced(note, idle, node)
        nodes.append({"node": node, "instance_type": itype or None, "capacity_type": cap,
                      "capacity_gpu_hours": cap_h, "requested_gpu_hours": req_by_node.get(node, 0.0),
                      "idle_unallocated_gpu_hours": idle, "usd_per_gpu_hour": rate,
                      "idle_cost_usd": idle * rate if rate is not None else None,
                      "no_pods": req_by_node.get(node, 0.0) == 0})
    return nodes


def _agg(rows: list[PodRow], key_fn) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        k = key_fn(r)
        if k is None:
            continue
        a = out.get(k)
        if a is None:
            a = out[k] = _empty()
        _add(a, r)
    return out


def _by_label(rows: list[PodRow], k: str) -> dict[str, dict[str, Any]]:
    return _agg(rows, lambda r: (str(r.tags[k]) if (not r.issues and k in r.tags) else (r.group if r.issues else None)))


def build(data: ClusterData, taxonomy, opts: Options, source: dict[str, Any]) -> dict[str, Any]:
    """The report document. Its ``findings`` are ``tagguard.model.Finding``s
    (``actuals.cluster.result.to_result`` turns them into JSON and a gated ``ScanResult``)."""
    from tagguard.actuals.cluster import findings as F
    from tagguard.actuals.cluster.split import share_idle

    hours = (data.end - data.start) / 3600.0
    keys = list(dict.fromkeys(list(taxonomy.required) + list(taxonomy.properties)))
    label_to_key: dict[str, str] = {}
    for k in keys:
        label_to_key.setdefault(label_name(k), k)
    group_by = opts.group_by or (keys[0] if keys else None)
    labels_visible = any(data.pod_labels.values()) or any(data.ns_labels.values())
    warnings = _warnings(data, keys, labels_visible)
    u = _Units(data, opts)
    unknown_units: dict[str, float] = {}
    rows = _pod_rows(data, u, taxonomy, label_to_key, group_by, labels_visible, unknown_units)
    if opts.time_slicing == "use":
        _split_by_use(rows, data, u.node_rep, u.step_h, u.to_gpu)
    nodes = _node_rows(data, u, rows)
    by_ns = _agg(rows, lambda r: r.namespace)
    by_group = _agg(rows, lambda r: r.group)
    by_label = {k: _by_label(rows, k) for k in keys}
    totals = _agg(rows, lambda r: "").get("", _empty())
    idle_h = sum(n["idle_unallocated_gpu_hours"] for n in nodes)
    idle_c = sum(n["idle_cost_usd"] or 0.0 for n in nodes)
    cap_h = sum(n["capacity_gpu_hours"] for n in nodes)
    sharing: dict[str, Any] = share_idle(idle_c, idle_h, {g: a["used_gpu_hours"] for g, a in by_group.items()
                                          if g not in (UNATTRIBUTED, NO_LABELS)},
                         opts.idle_sharing, opts.idle_platform) if opts.idle_sharing != "none" else \
        {"method": "none", "ratios": {}, "cost": {}, "hours": {}}
    for g, c in sharing["cost"].items():
        a = by_group.setdefault(g, _empty())
        a["shared_idle_cost_usd"] = c
        a["shared_idle_gpu_hours"] = sharing["hours"][g]

    cluster = F.cluster_id(str(source.get("prometheus") or "cluster"))
    finds = F.findings(rows, data, opts, u.pricer, hours, cluster)
    finds += F.unattributed(rows, cluster, labels_visible, ALLOWLIST_FIX.format(keys=",".join(keys)))
    node_split = _node_split(rows, nodes, data.node_provider, sharing["ratios"])
    report = {
        "kind": "tagguard-cluster-report",
        "window": {"start": _iso(data.start), "end": _iso(data.end), "hours": hours,
                   "resolution_seconds": data.resolution, "sample_interval_seconds": data.step,
                   "sample_interval_from": data.interval_source, "chunks": data.chunks},
        "source": dict(source, util_metric=data.util_metric),
        "group_by": group_by,
        "labels_visible": labels_visible,
        "totals": dict(_finish(totals), capacity_gpu_hours=cap_h, idle_unallocated_gpu_hours=idle_h,
                       idle_unallocated_cost_usd=idle_c, pods=len(rows), nodes=len(nodes)),
        "by_namespace": [dict(namespace=k, **_finish(v)) for k, v in sorted(by_ns.items())],
        "by_group": [dict(group=k, **_finish(v)) for k, v in sorted(by_group.items())],
        "by_label": {k: [dict(value=v, **_finish(a)) for v, a in sorted(rows_.items())]
                     for k, rows_ in by_label.items()},
        "unattributed": _unattributed(rows),
        "idle_nodes": [n for n in nodes if n["idle_unallocated_gpu_hours"] > 0],
        "split": _split_doc(data, opts, sharing, u.how, node_split),
        "unpriced": [{"reason": x["reason"], "gpu_hours": x["gpu_hours"], "nodes": sorted(x["nodes"])[:20]}
                     for x in u.unpriced.values()],
        "unknown_resources": [{"resource": k, "unit_hours": v} for k, v in sorted(unknown_units.items())],
        "findings": finds,
        "warnings": warnings,
    }
    finds += F.data_gaps(report, cluster, bool(data.pods) and not data.measured_pods)
    return report


def _split_doc(data: ClusterData, opts: Options, sharing: dict[str, Any], how: dict[str, str],
               node_split: list[dict[str, Any]]) -> dict[str, Any]:
    """The split methods and ratios of the report (the JSON's ``split``)."""
    return {"mig_basis": opts.mig_basis, "time_slicing": opts.time_slicing,
            "used": f"requested GPU-hours × the pod's mean {data.util_metric} "
                    "(raw samples of its devices), per chunk",
            "idle_sharing": {"method": sharing["method"], "ratios": sharing["ratios"],
                             "platform": opts.idle_platform},
            "units": dict(sorted(how.items())),
            "nodes": node_split,
            "init_containers": (
                "effective request = max(largest init container + the pod's sidecars, sum of app containers "
                "+ sidecars) per resource (Kubernetes' rule; sidecars are init containers with restartPolicy "
                "Always, kube_pod_init_container_info restart_policy); "
                f"{data.init_pods} pod(s) held more through an init container; "
                f"{data.sidecar_pods} pod(s) with GPU sidecar containers; "
                f"{data.order_assumed_pods} pod(s) where the order of init containers and sidecars (not "
                "exported by kube-state-metrics) matters: every sidecar counted as started before each "
                "init container, the most the pod can hold")}


def resource_id(provider_id: str) -> str:
    """The id a cloud bill (FOCUS ResourceId) gives the node's machine, from kube_node_info's
    provider_id: ``aws:///us-east-1a/i-0abc`` -> ``i-0abc``, ``gce://proj/zone/name`` -> ``name``,
    ``azure:///subscriptions/...`` -> ``/subscriptions/...`` (lower case, as Azure bills spell it)."""
    scheme, _, rest = provider_id.partition("://")
    if scheme == "azure":
        return rest.lower()
    return rest.rstrip("/").rsplit("/", 1)[-1] if rest else ""


def _node_split(rows, nodes, providers: dict[str, str], idle_ratios: dict[str, float]) -> list[dict[str, Any]]:
    """Per node: each group's share of the node's GPU capacity over the window (requested GPU-hours /
    capacity GPU-hours); the rest is the unallocated portion, or is spread by the idle-sharing ratios.
    A bill's charge for the node's machine is split by these ratios (FOCUS allocation columns)."""
    by_node: dict[str, dict[str, float]] = {}
    for r in rows:
        g = by_node.setdefault(r.node, {})
        g[r.group] = g.get(r.group, 0.0) + r.gpu_hours
    out = []
    for n in nodes:
        cap = n["capacity_gpu_hours"]
        groups = by_node.get(n["node"], {})
        base = max(cap, sum(groups.values()))
        if base <= 0:
            continue
        ratios = {g: h / base for g, h in groups.items()}
        idle = max(0.0, 1.0 - sum(ratios.values()))
        for name, share in idle_ratios.items():
            ratios[name] = ratios.get(name, 0.0) + idle * share
        if idle_ratios:
            idle = 0.0
        pid = providers.get(n["node"], "")
        out.append({"node": n["node"], "provider_id": pid or None, "resource_id": resource_id(pid) or None,
                    "capacity_gpu_hours": round(cap, 6),
                    "allocations": [{"group": g, "gpu_hours": round(groups.get(g, 0.0), 6), "ratio": round(x, 9)}
                                    for g, x in sorted(ratios.items()) if x > 0],
                    "unallocated_ratio": round(idle, 9)})
    return out


def _split_by_use(rows, data, node_rep, step_h, to_gpu) -> None:
    """Time-sliced nodes: each pod gets the node's GPU-hours × its share of the node's measured use."""
    by_node: dict[str, list[PodRow]] = {}
    for r in rows:
        if node_rep.get(r.node):
            by_node.setdefault(r.node, []).append(r)
    for node, rs in by_node.items():
        cap = sum(v for v in (to_gpu(res, pts, node) for res, pts in data.node_points.get(node, {}).items())
                  if v is not None)
        total = sum(r.used_hours for r in rs)
        if total <= 0 or cap <= 0 or any(r.measured_hours < r.gpu_hours for r in rs):
            continue  # without use measured for every sharing pod, replicas stay the split
        for r in rs:
            r.gpu_hours = r.measured_hours = cap * r.used_hours / total


def _tags(labels: dict[str, str], label_to_key: dict[str, str]) -> dict[str, str]:
    out = {}
    for k, v in labels.items():
        if v == "":
            continue  # kube-state-metrics exports an absent allowed label as an empty value
        out[label_to_key.get(k, k[len("label_"):])] = v
    return out


def _empty() -> dict[str, Any]:
    return {"requested_gpu_hours": 0.0, "used_gpu_hours": 0.0, "idle_gpu_hours": 0.0, "unmeasured_gpu_hours": 0.0,
            "cost_usd": 0.0, "used_cost_usd": 0.0, "idle_cost_usd": 0.0, "unpriced_gpu_hours": 0.0,
            "capacity": {}, "pods": 0}


def _add(a: dict[str, Any], r: PodRow) -> None:
    a["pods"] += 1
    a["requested_gpu_hours"] += r.gpu_hours
    a["unmeasured_gpu_hours"] += max(0.0, r.gpu_hours - r.measured_hours)
    a["used_gpu_hours"] += r.used_hours
    a["idle_gpu_hours"] += max(0.0, r.measured_hours - r.used_hours)
    cap = "on_demand" if r.capacity == "on_demand_assumed" else r.capacity
    a["capacity"][cap] = a["capacity"].get(cap, 0.0) + r.gpu_hours
    if r.rate is None:
        a["unpriced_gpu_hours"] += r.gpu_hours
        return
    a["cost_usd"] += r.gpu_hours * r.rate
    a["used_cost_usd"] += r.used_hours * r.rate
    a["idle_cost_usd"] += max(0.0, r.measured_hours - r.used_hours) * r.rate


def _finish(a: dict[str, Any]) -> dict[str, Any]:
    out = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in a.items() if k != "capacity"}
    total = sum(a["capacity"].values())
    out["capacity_share"] = {k: round(v / total, 6) for k, v in sorted(a["capacity"].items())} if total else {}
    meas = a["requested_gpu_hours"] - a["unmeasured_gpu_hours"]
    out["utilisation"] = round(a["used_gpu_hours"] / meas, 6) if meas > 0 else None
    return out


def _unattributed(rows: list[PodRow]) -> dict[str, Any]:
    bad = [r for r in rows if r.issues]
    reasons: dict[str, int] = {}
    for r in bad:
        for m in r.issues:
            reasons[m] = reasons.get(m, 0) + 1
    return {"gpu_hours": round(sum(r.gpu_hours for r in bad), 6),
            "cost_usd": round(sum(r.gpu_hours * r.rate for r in bad if r.rate is not None), 6),
            "pods": len(bad),
            "reasons": [{"reason": m, "pods": n} for m, n in sorted(reasons.items(), key=lambda x: (-x[1], x[0]))][:50],
            "examples": [{"namespace": r.namespace, "pod": r.pod, "gpu_hours": round(r.gpu_hours, 6)}
                         for r in sorted(bad, key=lambda r: -r.gpu_hours)[:20]]}


def _iso(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
