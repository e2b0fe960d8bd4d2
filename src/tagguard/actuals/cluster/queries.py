"""PromQL for GPU-hours, aggregated on the server.

Every query is an instant query at a chunk's end over the chunk (``[D:S]`` subqueries at resolution
S), so Prometheus sums the samples and returns one number per pod / node, never raw series. A
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


RUNNING = 'max by (namespace, pod, uid) (kube_pod_status_phase{phase="Running"}) == 1'


def requests(sel: Selectors, rng: str, step: str) -> str:
    """Requested units × points per (pod, node, resource), counted only while the pod is Running."""
    return (f'sum_over_time((sum by (namespace, pod, uid, node, resource) '
            f'(kube_pod_container_resource_requests{{resource=~"{sel.resources}"}}) '
            f'* on (namespace, pod, uid) group_left() ({RUNNING}))[{rng}:{step}])')


def running(rng: str, step: str) -> str:
    """Points each pod was Running (for steady-workload findings)."""
    return f"sum_over_time(({RUNNING})[{rng}:{step}])"


def util_scale(metric: str) -> float:
    return 0.01 if metric == "DCGM_FI_DEV_GPU_UTIL" else 1.0  # % vs ratio 0-1


def used_sum(sel: Selectors, rng: str, step: str) -> str:
    """Σ utilisation (0-1) over points and devices, per pod (dcgm-exporter's pod/namespace labels)."""
    scale = util_scale(sel.util_metric)
    ns, pod = sel.namespace_label, sel.pod_label
    return (f'sum by ({ns}, {pod}) (sum_over_time(({sel.util_metric}{{{pod}!=""}} * {scale:g})[{rng}:{step}]))')


def used_count(sel: Selectors, rng: str, step: str) -> str:
    ns, pod = sel.namespace_label, sel.pod_label
    return f'sum by ({ns}, {pod}) (count_over_time({sel.util_metric}{{{pod}!=""}}[{rng}:{step}]))'


def node_capacity(sel: Selectors, rng: str, step: str) -> str:
    """Allocatable accelerator units × points per node and resource."""
    return (f'sum by (node, resource) (sum_over_time(kube_node_status_allocatable'
            f'{{resource=~"{sel.resources}"}}[{rng}:{step}]))')


def last(metric: str, rng: str) -> str:
    """The newest series of an info metric in the range (labels only)."""
    return f"last_over_time({metric}[{rng}])"


QUOTA = ('max by (namespace, resourcequota, resource, type) (max_over_time(kube_resourcequota'
         '{{resource=~"(requests\\\\.)?(nvidia\\\\.com|amd\\\\.com|aws\\\\.amazon\\\\.com|google\\\\.com)/.*"}}[{rng}]))')


def quota(rng: str) -> str:
    return QUOTA.format(rng=rng)


def bare_count(rng: str) -> str:
    """The peer figure for benchmarks: one bare count over the whole window."""
    return f'count_over_time(kube_pod_container_resource_requests[{rng}])'
