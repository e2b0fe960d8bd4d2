"""PromQL for GPU-hours, aggregated on the server.

Every query is an instant query at a chunk's end over the chunk (``[D:S]`` subqueries at resolution
S), so Prometheus sums the samples and returns one number per pod / node, never raw series: GPU pods'
Running points come from a subquery of kube_pod_status_phase, their requested units from
``max_over_time`` of the requests, utilisation as the mean of the raw dcgm-exporter samples. A
window is cut into chunks so one query stays under the server's ``--query.max-samples``.

Points: a chunk [t0, t1) with t0, t1 multiples of S is evaluated at ``t1 - S/2`` over ``[D:S]``:
the aligned subquery points in that range are exactly t0, t0+S, ..., t1-S (D/S points) on both
Prometheus 2.x (closed ranges) and 3.x (left-open ranges), so adjacent chunks never count a
boundary twice. GPU-seconds = Σ points × S.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Selectors:
    resources: str  # regex of sanitized resource names
    util_metric: str = "DCGM_FI_DEV_GPU_UTIL"
    pod_label: str = "pod"  # exported_pod when Prometheus scraped dcgm-exporter with honor_labels: false
    namespace_label: str = "namespace"


def requests(sel: Selectors, rng: str) -> str:
    """Requested units per (pod, node, resource) in the chunk. A pod's GPU requests are immutable
    (extended resources cannot be resized in place), so units × Running points = unit-points; only
    series with a node (scheduled pods) count, so a pod's Pending series (node="") is not added."""
    return (f'sum by (namespace, pod, uid, node, resource) (max_over_time(kube_pod_container_resource_requests'
            f'{{resource=~"{sel.resources}", node!=""}}[{rng}]))')


def running(sel: Selectors, rng: str, step: str) -> str:
    """Points each pod was Running (kube_pod_status_phase is 1/0 per phase), at resolution ``step``;
    pods that ran at least once. GPU pods are picked client-side from ``requests`` (an ``and`` with the
    requests here would read their samples a second time)."""
    return (f'sum by (namespace, pod, uid) (sum_over_time(kube_pod_status_phase{{phase="Running"}}[{rng}:{step}])) > 0')


def util_scale(metric: str) -> float:
    return 0.01 if metric == "DCGM_FI_DEV_GPU_UTIL" else 1.0  # % vs ratio 0-1


def used_mean(sel: Selectors, rng: str) -> str:
    """Each pod's mean utilisation (0-1) over the raw samples of its devices in the chunk
    (dcgm-exporter's pod/namespace labels): one number per pod."""
    scale = util_scale(sel.util_metric)
    ns, pod = sel.namespace_label, sel.pod_label
    return f'avg by ({ns}, {pod}) (avg_over_time({sel.util_metric}{{{pod}!=""}}[{rng}])) * {scale:g}'


def node_capacity(sel: Selectors, rng: str, step: str) -> str:
    """Allocatable accelerator units × points per node and resource."""
    return (f'sum by (node, resource) (sum_over_time(kube_node_status_allocatable'
            f'{{resource=~"{sel.resources}"}}[{rng}:{step}]))')


INFO_METRICS = ("kube_pod_labels", "kube_namespace_labels", "kube_node_labels",
                'kube_pod_owner{owner_is_controller="true"}')
# Info metrics (value 1, labels only) are read with /api/v1/series over the whole window: label
# sets from the index, no samples decoded.


QUOTA = ('max by (namespace, resourcequota, resource, type) (max_over_time(kube_resourcequota'
         '{{resource=~"(requests\\\\.)?(nvidia\\\\.com|amd\\\\.com|aws\\\\.amazon\\\\.com|google\\\\.com)/.*"}}[{rng}]))')


def quota(rng: str) -> str:
    return QUOTA.format(rng=rng)


def bare_count(rng: str) -> str:
    """The peer figure for benchmarks: one bare count over the whole window."""
    return f'count_over_time(kube_pod_container_resource_requests[{rng}])'
