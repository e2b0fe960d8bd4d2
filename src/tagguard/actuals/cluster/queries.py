"""PromQL for GPU-hours, aggregated on the server.

Every per-sample read is a raw range function (``sum_over_time``, ``avg_over_time``) in an instant
query at a chunk's end, so Prometheus sums the samples and returns one number per pod / node, never
raw series. Raw ranges decode each sample once and materialise nothing; a ``[D:1m]`` subquery
materialises every point and cost 2.5× as much (BENCHMARKS.md). So:

- Running time: ``sum_over_time(kube_pod_status_phase{phase="Running"}[D])`` counts the pod's
  Running samples; × the scrape interval (detected from how many samples a node series has in a chunk,
  or ``--scrape-interval``) it is seconds. A failed scrape is a missing sample (not filled by lookback).
- Requested units: GPU requests are immutable, so one value per pod is enough. The GPU request series
  are listed from the index (``/api/v1/series``, no samples); their values come from an instant query
  at each chunk's end (pods alive then, reading only the last chunk of each series); the pods alive at
  no chunk end (short jobs) are read with a raw ``max_over_time`` over the window, selected by name.
- Utilisation: the mean of the raw dcgm-exporter samples of the pod's devices in the chunk.
- Node capacity: ``sum_over_time(kube_node_status_allocatable[D])`` (unit-samples per node).

Chunk [t0, t1) is read at ``t1 - 1 ms``: Prometheus 2.x ranges are closed ([t - D, t]), so the range
is ``D - 1ms`` (= [t0, t1 - 1ms]); 3.x ranges are left-open ((t - D, t]), so it is ``D``. Adjacent
chunks never count a sample twice.
"""
from __future__ import annotations

from dataclasses import dataclass

APP_REQUESTS = "kube_pod_container_resource_requests"
INIT_REQUESTS = "kube_pod_init_container_resource_requests"
POD_KEY = "namespace, pod, uid, node, resource"


@dataclass(frozen=True)
class Selectors:
    resources: str  # regex of sanitized resource names
    util_metric: str = "DCGM_FI_DEV_GPU_UTIL"
    pod_label: str = "pod"  # exported_pod when Prometheus scraped dcgm-exporter with honor_labels: false
    namespace_label: str = "namespace"


def request_series(sel: Selectors, metric: str = APP_REQUESTS) -> str:
    """Selector of the GPU request series of scheduled pods (``node!=""``: a pod's Pending series,
    without a node, is not a GPU held)."""
    return f'{metric}{{resource=~"{sel.resources}", node!=""}}'


# Sidecar containers (Kubernetes 1.29+): init containers with restartPolicy Always keep running beside the
# app containers. kube-state-metrics >= 2.11 puts the policy in this info metric's restart_policy label.
SIDECARS = 'kube_pod_init_container_info{restart_policy="Always"}'


def _agg(metric: str) -> str:
    # app containers' requests add up; init containers are kept per container (ordinary ones run one at
    # a time and the largest counts, sidecars add up: gpuhours decides once it knows which is which)
    return f"max by ({POD_KEY}, container)" if metric == INIT_REQUESTS else f"sum by ({POD_KEY})"


def requests_now(sel: Selectors, metric: str = APP_REQUESTS) -> str:
    """Units per (pod, node, resource) of the pods alive at the evaluation time (per init container)."""
    return f"{_agg(metric)} ({request_series(sel, metric)})"


def requests_of(sel: Selectors, pods: list[str], rng: str, metric: str = APP_REQUESTS) -> str:
    """Units of the named pods over ``rng`` (raw samples of just their series)."""
    alt = "|".join(re_literal(p) for p in pods)
    return (f'{_agg(metric)} (max_over_time({metric}{{resource=~"{sel.resources}", node!="", '
            f'pod=~"{alt}"}}[{rng}]))')


def running(rng: str) -> str:
    """Running samples of each pod that ran in the range (kube_pod_status_phase is 1/0 per phase)."""
    return f'sum by (namespace, pod, uid) (sum_over_time(kube_pod_status_phase{{phase="Running"}}[{rng}])) > 0'


def util_scale(metric: str) -> float:
    return 0.01 if metric == "DCGM_FI_DEV_GPU_UTIL" else 1.0  # % vs ratio 0-1


def used_mean(sel: Selectors, rng: str) -> str:
    """Each pod's mean utilisation (0-1) over the raw samples of its devices in the chunk
    (dcgm-exporter's pod/namespace labels): one number per pod."""
    scale = util_scale(sel.util_metric)
    ns, pod = sel.namespace_label, sel.pod_label
    return f'avg by ({ns}, {pod}) (avg_over_time({sel.util_metric}{{{pod}!=""}}[{rng}])) * {scale:g}'


def node_capacity(sel: Selectors, rng: str) -> str:
    """Allocatable accelerator units × samples per node and resource."""
    return (f'sum by (node, resource) (sum_over_time(kube_node_status_allocatable'
            f'{{resource=~"{sel.resources}"}}[{rng}]))')


def samples_in(sel: Selectors, rng: str) -> str:
    """The most samples any GPU node's allocatable series has in the range: chunk length / this = the
    scrape interval (GPU resources only: a node's cpu, memory, pods... series would be read for nothing)."""
    return f'max(count_over_time(kube_node_status_allocatable{{resource=~"{sel.resources}"}}[{rng}]))'



INFO_METRICS = ("kube_pod_labels", "kube_namespace_labels", "kube_node_labels",
                'kube_pod_owner{owner_is_controller="true"}', "kube_node_info")
# Info metrics (value 1, labels only) are read with /api/v1/series over the whole window: label
# sets from the index, no samples decoded.


QUOTA = ('max by (namespace, resourcequota, resource, type) (max_over_time(kube_resourcequota'
         '{{resource=~"(requests\\\\.)?(nvidia\\\\.com|amd\\\\.com|aws\\\\.amazon\\\\.com|google\\\\.com)/.*"}}[{rng}]))')


def quota(rng: str) -> str:
    return QUOTA.format(rng=rng)


def re_literal(text: str) -> str:
    """``text`` as an RE2 literal inside a PromQL double-quoted string: every character outside
    [A-Za-z0-9_-] becomes ``\\\\x{HEX}`` (a PromQL-escaped backslash, then RE2's hex escape), so no
    value from the server can end the string or add regex syntax."""
    return "".join(c if (c.isascii() and (c.isalnum() or c in "-_")) else f"\\\\x{{{ord(c):x}}}" for c in text)
