"""Price Kubernetes GPU workloads from the nodes they select.

A pod that asks for ``nvidia.com/gpu: 1`` says nothing about the node it runs on; the node pools
of the same scan do.  Every GPU workload's nodeSelector, required node affinity and tolerations
(``meta["node_placement"]``, written by ``sources.kubernetes.workloads``) are matched against the pools
found in the same scan (``meta["node_pool"]``): Karpenter NodePools (YAML, rendered charts,
Terraform manifests) and EKS / GKE / AKS node groups from Terraform (labels, taints, instance types).

The rule, stated in each priced resource's notes:

* the pools a pod can land on are those whose taints it tolerates and whose labels / requirements
  satisfy its nodeSelector and one of its required affinity terms; a pod that selects nothing
  (no nodeSelector, no affinity) is matched only to pools it must tolerate a taint of;
* the instance types it can land on are the union of those pools' types (explicit lists, or the
  rate card's types of the families / GPU names / GPU counts a NodePool requires), narrowed by
  the pod's own instance-type constraints and to types with at least as many GPUs as one pod asks for;
* a selector only on node identity labels (``kubernetes.io/hostname``, ``os``, ``arch``) that no pool sets
  chooses no pool (the same as no selector);
* when every such type has the same GPU model, the pod is priced per GPU of that model (sizes of
  one family differ in CPU and memory, not in what a GPU costs), unless the model's per-GPU rate comes
  from another cloud's type than the pool's (AWS g6.xlarge for an L4 of a GKE pool): then at the pool's
  own type, at the pod's share of its GPUs;
* otherwise it is priced on the cheapest type allowed (a lower bound), at the share of the node's
  GPUs the pod takes.

A workload that stays unpriced gets a note saying why (no pool matched, a pool without types...).
``attribute`` then leaves a workload out of totals only while its GPUs fit in what is left of its
priced pools' capacity (units x GPUs per unit); one that asks for more stays counted, with a note.
"""
from __future__ import annotations

import re
from functools import cache
from typing import Any
from collections.abc import Iterable

# Labels every node carries whatever the pool says (set by the kubelet / cloud / Karpenter): a pool
# that does not constrain them may still produce nodes with any value.
_WELL_KNOWN_PREFIXES = ("kubernetes.io/", "node.kubernetes.io/", "topology.kubernetes.io/",
                        "beta.kubernetes.io/", "karpenter.k8s.aws/", "karpenter.sh/",
                        "failure-domain.beta.kubernetes.io/",
                        "eks.amazonaws.com/", "cloud.google.com/", "kubernetes.azure.com/")
INSTANCE_TYPE_KEYS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type",
                      "karpenter.k8s.aws/instance-type")
_FAMILY_KEY = "karpenter.k8s.aws/instance-family"
_GPU_NAME_KEYS = ("karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-accelerator-name")
_GPU_COUNT_KEYS = ("karpenter.k8s.aws/instance-gpu-count", "karpenter.k8s.aws/instance-accelerator-count")
_SIZE_KEY = "karpenter.k8s.aws/instance-size"
MAX_MATCHES = 2_000_000
_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


# --- pools -------------------------------------------------------------------------------------

def pool_record(name: str, labels: dict[str, str], taints: Iterable[dict[str, Any]],
                requirements: Iterable[dict[str, Any]] = (), instance_types: Iterable[str] = (),
                provider: str = "aws", capacity: str | None = None) -> dict[str, Any]:
    """The JSON-able description of a node pool kept in ``Resource.meta["node_pool"]``."""
    reqs = []
    for r in requirements:
        if isinstance(r, dict) and r.get("key"):
            reqs.append({"key": str(r["key"]), "operator": str(r.get("operator") or "In"),
                         "values": [str(v) for v in (r.get("values") or [])]})
    ts = []
    for t in taints:
        if isinstance(t, dict) and t.get("key"):
            ts.append({"key": str(t["key"]), "value": None if t.get("value") is None else str(t["value"]),
                       "effect": _effect(t.get("effect"))})
    return {"name": name, "labels": {str(k): str(v) for k, v in labels.items()}, "taints": ts,
            "requirements": reqs, "instance_types": [str(t) for t in instance_types if t], "provider": provider,
            "capacity": capacity}


def _effect(value: Any) -> str:
    v = str(value or "")
    return {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}.get(
        v.upper(), v)


def parse_aks_taint(text: str) -> dict[str, Any] | None:
    """``key=value:NoSchedule`` (AKS node_taints) -> taint dict."""
    if not isinstance(text, str) or ":" not in text:
        return None
    kv, _, effect = text.rpartition(":")
    key, _, value = kv.partition("=")
    return {"key": key.strip(), "value": value.strip() or None, "effect": effect.strip()} if key.strip() else None


# --- matching ----------------------------------------------------------------------------------

def _tolerated(taint: dict[str, Any], tolerations: list[dict[str, Any]]) -> bool:
    for tol in tolerations:
        if not isinstance(tol, dict):
            continue
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        key = tol.get("key")
        op = tol.get("operator") or "Equal"
        if not key:
            if op == "Exists":
                return True
            continue
        if key != taint["key"]:
            continue
        if op == "Exists" or str(tol.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def _well_known(key: str) -> bool:
    return key.startswith(_WELL_KNOWN_PREFIXES)


def _pool_values(pool: dict[str, Any], key: str) -> tuple[list[str] | None, bool]:
    """(values a node of the pool may have for ``key`` (None = any), whether the key may be absent)."""
    if key in pool["labels"]:
        return [pool["labels"][key]], False
    allowed: list[str] | None = None
    excluded: list[str] = []
    exists = False
    for r in pool["requirements"]:
        if r["key"] != key:
            continue
        if r["operator"] == "In":
            allowed = r["values"] if allowed is None else [v for v in allowed if v in r["values"]]
        elif r["operator"] == "NotIn":
            excluded.extend(r["values"])
        elif r["operator"] in ("Exists", "Gt", "Lt"):
            exists = True
    if key in INSTANCE_TYPE_KEYS and pool["instance_types"]:
        types = pool["instance_types"]
        allowed = types if allowed is None else [v for v in allowed if v in types]
    if allowed is not None:
        return [v for v in allowed if v not in excluded], False
    if exists or excluded or _well_known(key):
        return None, not exists  # unconstrained: any value (the cloud or Karpenter sets it)
    return [], True  # a custom label the pool does not put on its nodes


def _expr_ok(pool: dict[str, Any], expr: dict[str, Any]) -> bool:
    key = str(expr.get("key"))
    op = expr.get("operator")
    vals = [str(v) for v in expr.get("values") or []]
    have, may_be_absent = _pool_values(pool, key)
    if op == "In":
        return have is None or any(v in vals for v in have)
    if op == "NotIn":
        return have is None or not have or any(v not in vals for v in have)
    if op == "Exists":
        return have is None or bool(have)
    if op == "DoesNotExist":
        return may_be_absent or have is None
    if op in ("Gt", "Lt"):
        if have is None:
            return True
        lim = _num(vals[0]) if vals else None
        return lim is not None and any((_num(v) or 0) > lim if op == "Gt" else (_num(v) or 0) < lim for v in have)
    return False


def pool_matches(pool: dict[str, Any], want: dict[str, Any]) -> bool:
    for taint in pool["taints"]:
        if taint["effect"] in _SCHEDULE_EFFECTS and not _tolerated(taint, want.get("tolerations") or []):
            return False
    for k, v in (want.get("node_selector") or {}).items():
        if not _expr_ok(pool, {"key": k, "operator": "In", "values": [v]}):
            return False
    terms = want.get("terms") or []
    if terms and not any(all(_expr_ok(pool, e) for e in t) for t in terms):
        return False
    return True


# Labels that tell one node from another of the same pool (every node has its own hostname, every pool
# its os / arch): selecting on them says nothing about which pool a pod runs on, unless a pool of the
# scan sets them itself.
_NODE_IDENTITY_KEYS = ("kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
                       "beta.kubernetes.io/os", "beta.kubernetes.io/arch")


def _sets_key(pool: dict[str, Any] | None, key: str) -> bool:
    return pool is not None and (key in pool["labels"] or any(r["key"] == key for r in pool["requirements"]))


def _selects_anything(want: dict[str, Any], pool: dict[str, Any] | None = None) -> bool:
    """Whether the pod's nodeSelector / required affinity chooses among pools: a selector only on node
    identity labels (``kubernetes.io/hostname: node-7``) that ``pool`` does not set is no such evidence,
    the same as no selector at all."""
    def evidence(key: Any) -> bool:
        return str(key) not in _NODE_IDENTITY_KEYS or _sets_key(pool, str(key))

    if any(evidence(k) for k in (want.get("node_selector") or {})):
        return True
    return any(any(isinstance(e, dict) and evidence(e.get("key")) for e in t) for t in want.get("terms") or [])


# --- instance types --------------------------------------------------------------------------

def _catalog_types(provider: str) -> list[tuple[str, Any]]:
    from tagguard.pricing import catalog

    card = id(catalog.load())
    hit = _TYPES_CACHE.get((provider, card))
    if hit is not None:
        return hit
    out = []
    for t in catalog.all_instance_types(provider):
        info = catalog.lookup(t, provider)
        if info is not None and info.gpu_model and info.accelerator_count:
            out.append((t, info))
    if any(key[1] != card for key in _TYPES_CACHE):  # another rate card: the old lists are stale
        _TYPES_CACHE.clear()
    _TYPES_CACHE[(provider, card)] = out
    return out


_TYPES_CACHE: dict[tuple[str, int], list[tuple[str, Any]]] = {}


def _short(name: str) -> str:
    from tagguard.pricing.gpus import short_gpu_model

    return (short_gpu_model(name) or name).upper()


def _type_ok(t: str, info: Any, pool_or_want: list[dict[str, Any]]) -> bool:
    """Whether a catalog type satisfies every requirement / expression in the list."""
    family = t.split(".")[0]
    for r in pool_or_want:
        key, op, vals = r["key"], r.get("operator") or "In", [str(v) for v in r.get("values") or []]
        if key in INSTANCE_TYPE_KEYS:
            have = t
        elif key == _FAMILY_KEY:
            have = family
        elif key in _GPU_NAME_KEYS:
            have = _short(info.gpu_model)
            vals = [_short(v) for v in vals]
        elif key in _GPU_COUNT_KEYS:
            have = str(int(info.accelerator_count))
        elif key == _SIZE_KEY:
            have = t.split(".", 1)[1] if "." in t else ""
        elif key == "karpenter.k8s.aws/instance-category":
            m = re.match(r"[a-z]+", family)
            have = m.group(0) if m else family
        else:
            continue
        if op == "In" and have not in vals:
            return False
        if op == "NotIn" and have in vals:
            return False
        if op in ("Gt", "Lt") and vals:
            a, b = _num(have), _num(vals[0])
            if a is None or b is None or (a <= b if op == "Gt" else a >= b):
                return False
    return True


def pool_types(pool: dict[str, Any]) -> list[str]:
    """The GPU instance types a pool can launch that the rate card knows."""
    from tagguard.pricing import catalog

    if pool["instance_types"]:
        return [t for t in pool["instance_types"] if catalog.lookup(t, pool.get("provider")) is not None]
    constraining = [r for r in pool["requirements"]
                    if r["key"] in INSTANCE_TYPE_KEYS + (_FAMILY_KEY, _SIZE_KEY, "karpenter.k8s.aws/instance-category")
                    + _GPU_NAME_KEYS + _GPU_COUNT_KEYS]
    if not constraining or pool.get("provider") != "aws":
        return []  # a pool that may launch anything: nothing to narrow to
    return [t for t, info in _catalog_types("aws") if _type_ok(t, info, constraining)]


def _want_exprs(want: dict[str, Any]) -> list[dict[str, Any]]:
    exprs = [{"key": k, "operator": "In", "values": [v]} for k, v in (want.get("node_selector") or {}).items()]
    terms = want.get("terms") or []
    if len(terms) == 1:
        exprs.extend(terms[0])
    return exprs


# --- the pass ----------------------------------------------------------------------------------

def resolve(resources: list[Any], card: Any = None) -> None:
    """Give priceable placement to GPU workloads that lack it (mutates ``compute``).  Types are
    ranked by the rates of ``card``, the one the scan prices with (default: the shipped card)."""
    # The GPU workloads placement is for, picked first: a scan with none (Terraform capacity alone) reads no node
    # pool.  Each is tested again at its turn, as before: placing a workload only ever sets an instance type, so the
    # ones picked are the ones the test can pass (issue 13).
    workloads = [r for r in resources if r.compute is not None and r.ai and r.compute.provider == "kubernetes"
                 and not r.compute.instance_type]
    pools = [(r, r.meta["node_pool"]) for r in resources if isinstance(r.meta.get("node_pool"), dict)] \
        if workloads else []
    known_keys = {k for _r, p in pools for k in list(p["labels"]) + [q["key"] for q in p["requirements"]]}
    budget = MAX_MATCHES  # workloads x pools is bounded: time stays linear in the input
    scan = _Scan(resources, pools)
    for r in workloads:
        want = r.meta.get("node_placement")
        c = r.compute
        if c is None or not r.ai or c.provider != "kubernetes" or c.instance_type:
            continue
        budget -= len(pools)
        if budget < 0:
            c.notes.append(f"placement not derived: more than {MAX_MATCHES:,} workload x node pool pairs in one scan")
            continue
        want = dict(want) if isinstance(want, dict) else {}
        _tpu_slice_note(c, want)
        # ExtendedResourceToleration (enabled on EKS, GKE, AKS): a pod asking for nvidia.com/gpu
        # tolerates the `nvidia.com/gpu` taint without writing it
        accels = r.meta.get("accelerators") if isinstance(r.meta.get("accelerators"), dict) else {}
        want["tolerations"] = list(want.get("tolerations") or []) + [
            {"key": str(k), "operator": "Exists"} for k in accels]
        if not c.accelerator and accels:
            _model_from_resource_names(c, accels, card)
        try:
            _resolve_one(r, c, want, pools, known_keys, card, scan)
        except Exception as exc:  # noqa: BLE001 - a broken rate card is the pricing engine's to report
            c.notes.append(f"placement not derived ({type(exc).__name__})")
    for _r, pool in pools:
        pool.pop("_types", None)
    for r in resources:
        r.meta.pop(SHARING_KEY, None)  # a reader's fact for the floor, not part of the report


TPU_TOPOLOGY_KEY = "cloud.google.com/gke-tpu-topology"

# GPUs passed through whole to VMs (KubeVirt, Kata): the device plugin names the resource after the PCI device,
# chip first (nvidia.com/TU104GL_Tesla_T4, GA100_A100_PCIE_40GB, AD102GL_L40S); NVIDIA vGPU profiles name the
# board and the frame buffer (nvidia.com/GRID_T4-1Q, NVIDIA_L40S-12Q: the reader counts the share of the board)
# The regexes of this module are compiled on first use (each getter is cached, so the pattern is the same
# object every call): most scans never reach them, and compiling one at import costs ~1 M instructions.
@cache
def _passthrough() -> re.Pattern[str]:
    return re.compile(r"^nvidia\.com/(?:G[KMPVAHB]|TU|AD)[0-9]{2,3}[A-Z]{0,3}_([A-Za-z0-9_]{1,120})$")


@cache
def _vgpu() -> re.Pattern[str]:
    return re.compile(r"^nvidia\.com/(?:GRID|NVIDIA)_([A-Za-z0-9]{1,16})-[0-9]{1,4}[A-Za-z]{1,2}$")


def named_models(resource: str) -> tuple[str, list[str]] | None:
    """``("passthrough" | "vGPU", the GPU models its name names)`` for an NVIDIA passthrough or vGPU resource, each
    ``_``-separated word of the name read as a GPU model alone (``Tesla_T4`` -> T4; the chip code GA100 is not
    the A100, the word A100 is); ``None`` for any other resource."""
    from tagguard.pricing.gpus import short_gpu_model

    m = _passthrough().match(resource)
    kind = "passthrough"
    if m is None:
        m, kind = _vgpu().match(resource), "vGPU"
    if m is None:
        return None
    models = [x for x in (short_gpu_model(w) for w in m.group(1).split("_") if w) if x]
    return kind, list(dict.fromkeys(models))


def _model_from_resource_names(c: Any, accels: dict[str, Any], card: Any = None) -> None:
    """A workload asking only for passthrough GPUs / vGPU profiles whose names name one GPU model with a
    per-GPU rate on the card is priced per GPU of that model, as a GPU-model node label is (a vGPU at its share
    of the board: the reader's GPU count is that share).  Otherwise nothing is set: the floor says why."""
    from tagguard.pricing import catalog

    found = [(str(n), named_models(str(n))) for n in accels]
    if any(x is None for _n, x in found):
        return
    models = {m for _n, x in found if x is not None for m in x[1]}
    if len(models) != 1 or any(x is not None and len(x[1]) != 1 for _n, x in found):
        return
    model = models.pop()
    rates = card if card is not None else catalog.load()
    g = rates.gpu_hourly(model)
    if g is None or g.usd_per_gpu_hour is None:
        return
    c.accelerator = model
    kinds = sorted({x[0] for _n, x in found if x is not None})
    c.notes.append(f"GPU model {model} from the resource name{'s' if len(found) > 1 else ''} "
                   f"{', '.join(n[:_MAX_SHOWN] for n, _x in found[:4])} ({' and '.join(kinds)}): priced per {model} "
                   "GPU" + (", at the profile's share of the board" if "vGPU" in kinds else ""))


def _tpu_slice_note(c: Any, want: dict[str, Any]) -> None:
    """GKE TPU: ``gke-tpu-topology: 4x4`` is a slice of 16 chips; with 4 chips per pod that is 4 hosts per
    slice.  The cost counts chips (pods x chips per pod); say how many slices that is, or that the pod count
    is not a whole number of slices (the slice cannot be scheduled as written)."""
    topo = (want.get("node_selector") or {}).get(TPU_TOPOLOGY_KEY)
    if not isinstance(topo, str) or not re.fullmatch(r"[0-9]{1,4}(x[0-9]{1,4}){1,2}", topo.strip()):
        return
    chips = 1
    for part in topo.strip().split("x"):
        chips *= int(part)
    per_pod = c.gpus_per_unit
    if not chips or not per_pod or chips % per_pod:
        c.notes.append(f"TPU slice topology {topo} ({chips} chips) is not a whole number of hosts of {per_pod:g} "
                       "chips per pod")
        return
    hosts = int(chips // per_pod)
    if c.units is None:
        return
    if c.units % hosts:
        c.notes.append(f"TPU slice topology {topo} is {chips} chips = {hosts} hosts of {per_pod:g} chips, but the "
                       f"workload makes {c.units} pods, not a multiple of {hosts}: the slice is not what it asks for")
    else:
        c.notes.append(f"TPU slice topology {topo}: {chips} chips = {hosts} host{'s' if hosts != 1 else ''} of "
                       f"{per_pod:g} chips; "
                       f"{c.units // hosts} slice{'s' if c.units // hosts != 1 else ''}, priced per chip")


def _matching(want: dict[str, Any], pools: list[tuple[Any, dict[str, Any]]]) -> list[tuple[Any, dict[str, Any]]]:
    matched = []
    for res, pool in pools:
        if not pool_matches(pool, want):
            continue
        tainted = any(t["effect"] in _SCHEDULE_EFFECTS for t in pool["taints"])
        if not _selects_anything(want, pool) and not tainted:
            continue  # a pod that selects nothing could land on any untainted pool: not evidence
        matched.append((res, pool))
    return matched


def _without_unknown_keys(want: dict[str, Any], known: set) -> tuple[dict[str, Any], list[str]]:
    """The request minus custom labels that no pool of the scan sets (they cannot be checked here)."""
    dropped: list[str] = []
    sel = {}
    for k, v in (want.get("node_selector") or {}).items():
        if k in known or _well_known(k):
            sel[k] = v
        else:
            dropped.append(f"{k}={v}")
    terms = []
    for t in want.get("terms") or []:
        kept = [e for e in t if e.get("key") in known or _well_known(str(e.get("key")))]
        dropped.extend(str(e.get("key")) for e in t if e not in kept)
        terms.append(kept)
    return {**want, "node_selector": sel, "terms": [t for t in terms if t] if all(terms) else []}, dropped


def _chooses_a_pool(want: dict[str, Any], known: set) -> bool:
    """Whether what is left of a selector can tell the scan's pools apart: a label some pool sets, or an
    instance-type / GPU label.  A zone, capacity type or os alone cannot (any pool may have any of them): the
    pod's other labels, which no pool sets, are what chose its pool, one outside the scan."""
    keys = [str(k) for k in (want.get("node_selector") or {})]
    keys += [str(e.get("key")) for t in want.get("terms") or [] for e in t if isinstance(e, dict)]
    return _selects_anything(want) and any(k in known or k in _GPU_NAMING_KEYS for k in keys)


def _resolve_one(r: Any, c: Any, want: dict[str, Any], pools: list[tuple[Any, dict[str, Any]]],
                 known_keys: set | None = None, card: Any = None, scan: _Scan | None = None) -> None:
    from tagguard.pricing import catalog

    matched = _matching(want, pools)
    relaxed: list[str] = []
    if not matched and pools and known_keys is not None:
        loose, relaxed = _without_unknown_keys(want, known_keys)
        if relaxed and _chooses_a_pool(loose, known_keys):
            matched = _matching(loose, pools)
        if not matched:
            relaxed = []
    exprs = _want_exprs(want)
    own_types = [v for e in exprs if e["key"] in INSTANCE_TYPE_KEYS and e.get("operator") == "In"
                 for v in e.get("values") or []]
    gpus = c.gpus_per_unit or 0
    types: list[str] = []
    via = ""
    unknown_pools: list[str] = []  # matched pools that may launch types nobody names: not in the figure
    if matched:
        for _res, pool in matched:
            if "_types" not in pool:  # once per pool per scan, not per workload
                pool["_types"] = pool_types(pool)
            if not pool["_types"]:
                unknown_pools.append(pool["name"])
            for t in pool["_types"]:
                if t not in types:
                    types.append(t)
        r.meta["_placement_pools"] = [res for res, _p in matched]  # for attribute(); popped there
        names = ", ".join(f"{p['name']}" for _r, p in matched[:5]) + (" ..." if len(matched) > 5 else "")
        via = f"node pool{'s' if len(matched) > 1 else ''} {names} (matched by nodeSelector/affinity/tolerations)"
        if relaxed:
            via += (f"; it also asks for {', '.join(dict.fromkeys(relaxed))}, which no node pool in the scanned files "
                    "sets (not checked)")
        if not types:
            c.notes.append(f"lands on {via}, whose instance types are not known: not priced; list the types in "
                           "the pool (instance_types / a node.kubernetes.io/instance-type requirement)")
            return
    elif len(own_types) > 1:
        types = [t for t in own_types if catalog.lookup(t, "aws") is not None or catalog.lookup(t) is not None]
        via = "its own instance-type affinity"
    elif _own_type_keys(exprs):
        # no pool in the scan, but the pod itself names the family / GPU name / size it needs (Karpenter
        # well-known labels): the rate card's types that satisfy them are where it can run
        unknown = _unknown_own_names(exprs, card)
        if unknown:
            c.notes.append(f"its own node selector names {unknown}, which the rate card does not know: not priced "
                           "(nothing is read from the name); set pricing.instance_types.<type>.on_demand or "
                           "pricing.gpu_hourly_usd to price it")
            return
        types = [t for t, _i in _catalog_types("aws")]
        via = f"its own node selector ({', '.join(_own_type_keys(exprs))})"
        if _selects_anything(want) and pools:
            via += "; no node pool in the scanned files matches it"
    else:
        unset = _labels_no_pool_sets(want, known_keys or set()) if _selects_anything(want) else None
        if unset and scan is not None:
            # it selects only custom labels no node pool of the scan sets: it lands on a pool not in the scan,
            # still on a node offering what it asks for -- the same floor, over the rate card's types
            _floor(r, c, want, scan, card, unset=unset)
        elif _selects_anything(want) and pools:
            c.notes.append("no node pool in the scanned files matches its nodeSelector/affinity/tolerations: "
                           "GPU model and instance type unknown")
        elif not _selects_anything(want) and scan is not None:
            _floor(r, c, want, scan, card)  # no node information at all: the cheapest that could serve it
        return
    _price_from_types(r, c, via, types, exprs, gpus, unknown_pools, card)


# --- no node information: a stated lower bound ---------------------------------------------------

CLOUDS = ("aws", "gcp", "azure")
_CLOUD_OF_TYPE_PREFIX = (("aws_", "aws"), ("google_", "gcp"), ("azurerm_", "azure"), ("azapi_", "azure"))
_CLOUD_OF_KIND = {"EC2NodeClass": "aws", "AKSNodeClass": "azure", "GCENodeClass": "gcp"}
# GPU models that NVIDIA MIG partitions (nvidia.com/mig-<g>g.<mem>gb runs only on these)
MIG_MODELS = ("A100", "A30", "H100", "H200", "H20", "GH200", "B200", "B300")
_MIG = "nvidia.com/mig-"  # a prefix: str.startswith answers what the regex ^nvidia\.com/mig- did, uncompiled
FLOOR_KEY = "_unplaced_floor"  # Resource.meta: the floor the pricing engine may use (popped by attribute())
# Resource.meta: why the type placement chose is the cheapest of several (a lower bound; popped by attribute())
PLACEMENT_FLOOR_KEY = "_placement_lower_bound"
_OPEN_POOL_KEYS = INSTANCE_TYPE_KEYS + (_FAMILY_KEY, _SIZE_KEY, "karpenter.k8s.aws/instance-category") + \
    _GPU_NAME_KEYS + _GPU_COUNT_KEYS


class _Scan:
    """What the scan says that a workload with no node information is floored by: its node pools and the
    clouds it targets (computed once, on first use)."""

    def __init__(self, resources: list[Any], pools: list[tuple[Any, dict[str, Any]]]) -> None:
        self.resources = resources
        self.pools = pools
        self._evidence: tuple[dict[str, set[str]], set[str]] | None = None
        self._by_dir: dict[str, tuple[tuple[str, ...], str]] = {}
        self.memo: dict[tuple, tuple] = {}  # (resources, GPUs per pod, landable pools, clouds) -> _floor_of's answer
        self._sharing: tuple[dict[str, Any] | None] | None = None

    def sharing(self) -> dict[str, Any] | None:
        """The NVIDIA device plugin's GPU sharing the scanned files declare (time-slicing replicas, MIG strategy
        single; the Kubernetes reader puts it on the GPU workloads it reads), or None."""
        if self._sharing is None:
            found = next((r.meta[SHARING_KEY] for r in self.resources
                          if isinstance(r.meta.get(SHARING_KEY), dict)), None)
            self._sharing = (found,)
        return self._sharing[0]

    def clouds_for(self, file: str | None) -> tuple[tuple[str, ...], str]:
        """(the clouds a workload of ``file`` is floored over, where that comes from): the clouds of resources
        in its own directory or a directory above it; else of the capacity the whole scan declares (node pools,
        instances, Karpenter node classes: not a bucket of another sample); else every cloud."""
        import posixpath

        if self._evidence is None:
            self._evidence = scan_clouds_by_dir(self.resources)
        by_dir, capacity = self._evidence
        start = posixpath.dirname(str(file or "").replace("\\", "/"))
        hit = self._by_dir.get(start)
        if hit is not None:
            return hit
        found: set[str] = set()
        d = start
        while True:
            found |= by_dir.get(d, set())
            if not d:
                break
            d = posixpath.dirname(d)
        if found:
            where = "clouds of the resources in its directory or above"
        elif capacity:
            found, where = capacity, "clouds of the node pools and instances the scan declares"
        else:
            found, where = set(CLOUDS), "nothing in the scan names a cloud"
        out = (tuple(x for x in CLOUDS if x in found), where)
        if len(self._by_dir) < _MEMO_MAX:
            self._by_dir[start] = out
        return out


@cache
def _capacity_type() -> re.Pattern[str]:
    """Terraform types that are compute capacity (an instance, a node group, a VM scale set...), GPU or not."""
    return re.compile(r"instance|node_group|node_pool|virtual_machine|kubernetes_cluster|autoscaling_group|"
                      r"launch_template|compute_environment|compute_cluster|tpu")


def _clouds_of(r: Any) -> tuple[set[str], bool]:
    """(the clouds a resource belongs to, whether it is capacity: compute, a node pool, a node class)."""
    found: set[str] = set()
    t = str(r.type or "")
    for prefix, cloud in _CLOUD_OF_TYPE_PREFIX:
        if t.startswith(prefix):
            found.add(cloud)
    capacity = t in _CLOUD_OF_KIND or bool(found and _capacity_type().search(t))
    if t in _CLOUD_OF_KIND:
        found.add(_CLOUD_OF_KIND[t])
    if r.source == "aws":
        found.add("aws")
    pool = r.meta.get("node_pool")
    if isinstance(pool, dict) and pool.get("provider") in CLOUDS:
        found.add(str(pool["provider"]))
        capacity = True
    c = r.compute
    if c is not None and c.provider in CLOUDS:
        found.add(str(c.provider))
        capacity = True
    return found, capacity


def scan_clouds_by_dir(resources: Iterable[Any]) -> tuple[dict[str, set[str]], set[str]]:
    """The clouds of the scan's resources per directory (AWS/Google/Azure Terraform resources and plans, live AWS
    resources, node pools -- EKS node groups and Karpenter NodePools AWS, GKE pools GCP, AKS pools Azure --,
    Karpenter node classes, AI resources of a cloud), and those of its capacity alone."""
    import posixpath

    by_dir: dict[str, set[str]] = {}
    capacity: set[str] = set()
    for r in resources:
        found, is_capacity = _clouds_of(r)
        if not found:
            continue
        by_dir.setdefault(posixpath.dirname(str(r.file or "").replace("\\", "/")), set()).update(found)
        if is_capacity:
            capacity |= found
    return by_dir, capacity


def _open_pool(pool: dict[str, Any]) -> bool:
    """A pool that names no instance type and constrains none (a Karpenter NodePool with no type
    requirement): it may launch any type, the cheapest GPU type included."""
    return not pool["instance_types"] and not any(q["key"] in _OPEN_POOL_KEYS for q in pool["requirements"])


def _floor(r: Any, c: Any, want: dict[str, Any], scan: _Scan, card: Any = None,
           unset: list[tuple[str, str, list[str]]] | None = None) -> None:
    """A GPU request with no nodeSelector, required affinity or GPU label: the cheapest per-accelerator
    on-demand rate among the types that could serve it -- the GPU node pools of the scan that offer the
    resource (when no pool it may land on could launch any type), else every rate-card type of the clouds the
    scan targets that offers it -- kept in ``meta[FLOOR_KEY]`` for the pricing engine, which uses it under
    ``pricing.unplaced_accelerators: lower-bound`` (the default).  When nothing fits, ``meta[FLOOR_KEY]`` says
    why (``{"none": reason}``) and the resource stays unpriced.  Workloads that ask for the same thing and may
    land on the same pools share one answer (memo): time stays linear in the number of workloads.

    ``unset``: the pod selects only custom labels that no node pool of the scan sets (``pool: a100``).  It runs
    on a pool that is not in the scanned files, still on a node offering what it asks for: the same floor, over
    the rate card's types (no pool of the scan is a candidate: none matches), the note naming those labels."""
    accels = r.meta.get("accelerators") if isinstance(r.meta.get("accelerators"), dict) else {}
    if not accels or c.accelerator or not c.gpus_per_unit:
        return  # no request to floor, or the model is known (priced per GPU of it)
    names = tuple(sorted(str(k) for k in accels))
    landable = () if unset else tuple(i for i, (_res, pool) in enumerate(scan.pools) if pool_matches(pool, want))
    clouds = scan.clouds_for(r.file)
    # a selector only on node identity labels (kubernetes.io/hostname...) chooses no pool: said as such
    identity = bool(want.get("node_selector") or want.get("terms"))
    key = (names, float(c.gpus_per_unit), landable, clouds, identity)
    hit = scan.memo.get(key)
    if hit is None:
        hit = _floor_of(names, float(c.gpus_per_unit), [scan.pools[i] for i in landable], clouds, identity, card)
        hit = _per_share(hit, names, clouds[0], scan.sharing(), card)
        if len(scan.memo) < _MEMO_MAX:
            scan.memo[key] = hit
    floor, pools, types = hit
    if unset:
        said = _unset_text(unset, card)
        floor = ({"none": f"{floor['none']}; {said}", "unset": said} if "none" in floor else
                 {**floor, "unplaced": said, "unset": said, "fix": _UNSET_FIX})
    r.meta[FLOOR_KEY] = floor  # one dict per answer, read only (a copy per pod only with its own labels)
    if pools:
        r.meta["_placement_pools"] = list(pools)  # for attribute(); popped there
        r.meta["placement_types"] = types


_MEMO_MAX = 4096
_UNPLACED = "no node selector, affinity or GPU label says which GPU it gets"
_UNPLACED_IDENTITY = ("its node selector / affinity names only node identity labels (kubernetes.io/hostname, os, "
                      "arch), no node pool, instance type or GPU label")


def _floor_of(names: tuple[str, ...], gpus: float, landable: list[tuple[Any, dict[str, Any]]],
              where: tuple[tuple[str, ...], str], identity: bool = False,
              card: Any = None) -> tuple[dict[str, Any], tuple[Any, ...], list[str]]:
    """(the floor, or ``{"none": why}``; the GPU pool resources it comes from; their candidate types)."""
    from tagguard.pricing import catalog

    vendors = {_vendor_of_resource(n) for n in names}
    shown = ", ".join(names)
    if None in vendors or len(vendors) != 1:
        why = "is not an accelerator resource the rate card knows" if None in vendors else "mixes accelerator vendors"
        return {"none": f"no lower bound: {shown} {why}"}, (), []
    vendor = vendors.pop()
    mig = any(n.startswith(_MIG) for n in names)
    rates = card if card is not None else catalog.load()

    def fits(info: Any) -> bool:
        if info is None or not info.gpu_model or not info.accelerator_count or info.on_demand is None:
            return False
        model_vendor, mig_capable = _model_facts(info.gpu_model)
        if model_vendor != vendor:
            return False
        if mig:
            return mig_capable
        return _devices(info) >= gpus - 1e-9  # one pod's accelerators fit on one node

    gpu_pools: list[tuple[Any, dict[str, Any]]] = []
    open_pools: list[str] = []
    types: list[str] = []
    for res, pool in landable:
        if "_types" not in pool:
            pool["_types"] = pool_types(pool)
        offered = [t for t in pool["_types"] if fits(rates.lookup(t) or rates.lookup(t, pool.get("provider")))]
        if offered:
            gpu_pools.append((res, pool))
            types.extend(t for t in offered if t not in types)
        elif _open_pool(pool):
            open_pools.append(pool["name"])
    what = f"{'/'.join(names)} x {gpus:g} per pod" if len(names) > 1 or gpus != 1 else shown
    from_pools = bool(gpu_pools) and not open_pools
    if from_pools:
        pool_names = ", ".join(p["name"] for _r, p in gpu_pools[:5]) + (" ..." if len(gpu_pools) > 5 else "")
        among = (f"the types of the scan's GPU node pool{'s' if len(gpu_pools) > 1 else ''} offering {shown} "
                 f"({pool_names})")
        infos = [(t, rates.lookup(t)) for t in types]
    else:
        clouds, why_clouds = where
        infos = _card_types(clouds, rates)
        among = (f"every {'/'.join(clouds)} instance type on the rate card offering {shown} ({why_clouds}"
                 + (f"; node pool {', '.join(open_pools[:5])} may launch any type" if open_pools else "") + ")")
    priced: list[tuple[str, Any]] = [(t, i) for t, i in infos if i is not None and fits(i)]
    # GPUs billed on their own, attached to a VM billed on top (GCP N1 + T4): no instance type carries them, and
    # their GPU-only rate can be below every type's (T4 $0.35 < g2-standard-4's L4 $0.707): still a floor
    attached = [] if from_pools or mig else _attached_candidates(where[0], vendor, gpus, rates)
    if not priced and not attached:
        if vendor == "tpu" and not from_pools and "gcp" in where[0]:
            return _floor_per_chip(rates, shown, identity), (), []
        return {"none": f"no lower bound: no instance type among {among} with an on-demand rate fits {what}"}, (), []
    if attached:
        among += (f" and the {'/'.join(sorted({a['provider'] for a in attached}))} GPUs billed apart from the VM "
                  f"they are attached to ({', '.join(a['gpu_model'] for a in attached)})")
    best_type = min(((float(i.on_demand) / _devices(i), t) for t, i in priced), default=None)
    best_att = min(attached, key=lambda a: (float(a["usd_per_gpu_hour"]), a["gpu_model"]), default=None)
    if best_att is not None and (best_type is None or float(best_att["usd_per_gpu_hour"]) < best_type[0]):
        named, named_model = _names_say(names, rates)
        floor = {"instance_type": None, "provider": best_att["provider"], "gpu_model": best_att["gpu_model"],
                 "usd_per_accelerator_hour": float(best_att["usd_per_gpu_hour"]), "among": among,
                 "candidates": len(priced) + len(attached), "source": best_att.get("source"),
                 "region": best_att.get("region"),
                 "gpu_only": f"GPU only; the {best_att.get('attach_to') or 'VM'} VM it is attached to comes on top",
                 "unplaced": "; ".join(x for x in (named, _UNPLACED_IDENTITY if identity else _UNPLACED) if x)}
        if named_model:
            floor["named_model"] = named_model
        return floor, (), []
    # the cheapest per accelerator; a tie goes to the first cloud of CLOUDS, then the first name
    t, info = min(priced, key=lambda x: (float(x[1].on_demand) / _devices(x[1]),
                                         CLOUDS.index(x[1].provider) if x[1].provider in CLOUDS else len(CLOUDS), x[0]))
    per = float(info.on_demand) / _devices(info)
    named, named_model = _names_say(names, rates)
    floor = {"instance_type": t, "provider": info.provider, "gpu_model": info.gpu_model,
             "usd_per_accelerator_hour": per, "among": among, "candidates": len(priced),
             "unplaced": "; ".join(x for x in (named, _UNPLACED_IDENTITY if identity else _UNPLACED) if x)}
    if float(info.accelerator_count) < 1:  # a VM with part of one GPU: its whole rate per advertised GPU
        floor.update(rate_only=True, source=info.on_demand_source, region=info.region,
                     among=f"{among}; {t} has {_fraction(float(info.accelerator_count))} of one {info.gpu_model} "
                           f"(a vGPU), which the device plugin there advertises as one nvidia.com/gpu: its whole VM "
                           f"rate is the rate of that one GPU")
    if named_model:
        floor["named_model"] = named_model  # pricing.gpu_hourly_usd may price it (the engine's config)
    if from_pools:
        return floor, tuple(res for res, _p in gpu_pools), [x for x, _i in priced]
    return floor, (), []


# Resource.meta: the GPU sharing the scan declares (sources/kubernetes/sharing.py writes it under this key)
SHARING_KEY = "_gpu_sharing"
_WHOLE = ("whole GPUs: one nvidia.com/gpu is taken as a whole GPU, as no device-plugin time-slicing or MIG config is "
          "in the scanned files (on a time-sliced or MIG cluster it is a share of one, and this figure above it)")


def _per_share(hit: tuple[dict[str, Any], tuple[Any, ...], list[str]], names: tuple[str, ...],
               clouds: tuple[str, ...], sharing: dict[str, Any] | None,
               card: Any = None) -> tuple[dict[str, Any], tuple[Any, ...], list[str]]:
    """A floor of a bare ``nvidia.com/gpu`` request per share of a GPU when the scan configures the device plugin
    to share GPUs: time-slicing with N replicas advertises each GPU N times (1/N of the floor's per-GPU rate; the
    largest N the scan declares), MIG strategy single advertises MIG slices (at most the smallest, 1/7 of the
    cheapest MIG-capable GPU of the same clouds).  Without such a config the floor says it assumes whole GPUs."""
    from tagguard.pricing import catalog

    floor, pools, types = hit
    if "none" in floor or names != ("nvidia.com/gpu",) or floor.get("usd_per_accelerator_hour") is None:
        return hit
    if sharing is None:
        return {**floor, "share": _WHOLE}, pools, types
    rates = card if card is not None else catalog.load()
    per = float(floor["usd_per_accelerator_hour"])
    info = rates.lookup(floor["instance_type"], floor.get("provider")) if floor.get("instance_type") else None
    source = floor.get("source") or (info.on_demand_source if info is not None else None)
    region = floor.get("region") or (info.region if info is not None else None)
    said: list[str] = []
    if sharing.get("mig_single_at"):
        mig = [(float(i.on_demand) / float(i.accelerator_count) / 7, t, i) for t, i in _card_types(clouds, rates)
               if i is not None and i.on_demand is not None and i.accelerator_count and i.gpu_model
               and _model_facts(i.gpu_model) == ("nvidia", True)]
        where = str(sharing["mig_single_at"])[:_MAX_SHOWN * 2]
        if mig:
            slice_rate, t, i = min(mig, key=lambda x: (x[0], x[1]))
            said.append(f"MIG strategy single ({where}): one nvidia.com/gpu may be a MIG slice, at least 1/7 of one "
                        f"{i.gpu_model} ({t})")
            if slice_rate < per:
                per, source, region = slice_rate, i.on_demand_source, i.region
        else:
            said.append(f"MIG strategy single ({where}): no MIG-capable type of {'/'.join(clouds)} on the rate card")
    n = sharing.get("replicas")
    if isinstance(n, int) and n > 1:
        where = str(sharing.get("replicas_at") or "")[:_MAX_SHOWN * 2]
        said.append(f"the device plugin time-slices each GPU {n} ways (sharing.timeSlicing replicas: {n}, {where}): "
                    f"one nvidia.com/gpu is 1/{n} of one")
        per = per / n
    return ({**floor, "usd_per_accelerator_hour": per, "rate_only": True, "source": source, "region": region,
             "share": "per share: " + "; ".join(said)}, pools, types)


def _attached_candidates(clouds: tuple[str, ...], vendor: str | None, gpus: float, rates: Any) -> list[dict[str, Any]]:
    """The rate card's GPUs billed apart from their VM (``attached_gpus``) in ``clouds`` of ``vendor`` that one VM
    takes ``gpus`` of."""
    raw = getattr(rates, "raw", None)
    table = raw.get("attached_gpus") if isinstance(raw, dict) else None
    if not isinstance(table, dict):
        return []
    out = []
    for row in table.values():
        if not isinstance(row, dict) or row.get("provider") not in clouds:
            continue
        rate, most = _num(row.get("usd_per_gpu_hour")), _num(row.get("max_per_vm"))
        if rate is None or rate <= 0 or most is None or most < gpus - 1e-9:
            continue
        if _model_facts(str(row.get("gpu_model") or ""))[0] != vendor:
            continue
        out.append(row)
    return out


def _names_say(names: tuple[str, ...], rates: Any) -> tuple[str, str | None]:
    """Why passthrough / vGPU resource names did not price a request per GPU of their model (the text, and the
    one model they name when the card only lacks its rate); ``("", None)`` for other resources."""
    found = [(n, named_models(n)) for n in names]
    said = []
    models: set[str] = set()
    for n, x in found:
        if x is None:
            continue
        kind, ms = x
        shown = n[:_MAX_SHOWN]
        models.update(ms)
        if not ms:
            said.append(f"the {kind} resource {shown} names no GPU model tagguard knows")
        elif len(ms) > 1:
            said.append(f"the {kind} resource {shown} names several GPU models ({', '.join(ms)})")
        else:
            g = rates.gpu_hourly(ms[0])
            if g is None or g.usd_per_gpu_hour is None:
                said.append(f"the {kind} resource {shown} names {ms[0]}, which has no per-GPU rate on the rate card "
                            f"(pricing.gpu_hourly_usd.{ms[0]} would price it)")
    if not said and len(models) > 1:
        said.append(f"its resources name several GPU models ({', '.join(sorted(models))})")
    one = models.pop() if len(models) == 1 and all(x is not None for _n, x in found) else None
    return "; ".join(said), one


_MODEL_FACTS: dict[str, tuple[str, bool]] = {}
# (clouds, id(card)) -> (the card, its types): the card is kept so that its id cannot be reused by another
_CARD_TYPES: dict[tuple[tuple[str, ...], int], tuple[Any, list[tuple[str, Any]]]] = {}


def _devices(info: Any) -> float:
    """The GPUs a type's device plugin advertises: its GPU count, or one for a VM with part of one GPU (Azure
    NVadsA10 v5 below NV36ads: 1/6, 1/3, 1/2 of an A10 as an NVIDIA vGPU, which the driver in the VM and so the
    device plugin see as one GPU).  A pod asking one nvidia.com/gpu can land there and pay the whole VM: the floor
    takes that VM's rate per GPU, never the rate divided by the fraction (6 x too high for the 1/6 size), and a
    pod asking two does not fit on it."""
    count = float(info.accelerator_count)
    return 1.0 if 0 < count < 1 else count


def _fraction(count: float) -> str:
    return f"1/{round(1 / count)}" if count > 0 and abs(1 / count - round(1 / count)) < 0.01 else f"{count:g}"


def _model_facts(model: str) -> tuple[str, bool]:
    """(the vendor of an accelerator model, whether NVIDIA MIG partitions it), once per model name."""
    hit = _MODEL_FACTS.get(model)
    if hit is None:
        hit = (_vendor_of_model(model), _short(model) in MIG_MODELS)
        if len(_MODEL_FACTS) < _MEMO_MAX:
            _MODEL_FACTS[model] = hit
    return hit


def _card_types(clouds: tuple[str, ...], rates: Any) -> list[tuple[str, Any]]:
    """The rate card's accelerated types of ``clouds`` with their rows in ``rates``, once per card."""
    key = (clouds, id(rates))
    hit = _CARD_TYPES.get(key)
    if hit is not None and hit[0] is rates:
        return hit[1]
    types = [(t, rates.lookup(t, cloud)) for cloud in clouds for t, _i in _catalog_types(cloud)]
    if any(card is not rates for card, _t in _CARD_TYPES.values()):  # another card: the old lists are stale
        _CARD_TYPES.clear()
    _CARD_TYPES[key] = (rates, types)
    return types


def _floor_per_chip(rates: Any, shown: str, identity: bool = False) -> dict[str, Any]:
    """Cloud TPU has no instance type on the rate card: the cheapest per-chip rate of a TPU generation."""
    chips = [(m, g) for m, g in rates.gpu_rates.items()
             if m in _NON_NVIDIA["tpu"] and g.usd_per_gpu_hour is not None]
    if not chips:
        return {"none": f"no lower bound: no TPU generation on the rate card has a per-chip rate for {shown}"}
    model, g = min(chips, key=lambda x: (float(x[1].usd_per_gpu_hour), x[0]))
    return {"instance_type": None, "provider": "gcp", "gpu_model": model,
            "usd_per_accelerator_hour": float(g.usd_per_gpu_hour),
            "among": f"the TPU generations on the rate card ({', '.join(sorted(m for m, _g in chips))})",
            "candidates": len(chips), "unplaced": _UNPLACED_IDENTITY if identity else _UNPLACED}


_OWN_TYPE_KEYS = (_FAMILY_KEY, _SIZE_KEY, "karpenter.k8s.aws/instance-category") + _GPU_NAME_KEYS + _GPU_COUNT_KEYS
# Node labels that say which instance type or accelerator a node has: a pod selecting one is placed by it (or
# left with what its value says), never floored as if it had selected nothing
_GPU_NAMING_KEYS = frozenset(INSTANCE_TYPE_KEYS + _OWN_TYPE_KEYS + (
    "nvidia.com/gpu.product", "nvidia.com/gpu.family", "nvidia.com/gpu.count", "nvidia.com/gpu.machine",
    "cloud.google.com/gke-accelerator", "cloud.google.com/gke-tpu-accelerator", "cloud.google.com/machine-family",
    TPU_TOPOLOGY_KEY, "amd.com/gpu.product-name", "accelerator", "node.kubernetes.io/instance-family"))
# Well-known labels that name a node pool: one no pool of the scan carries names a pool not in the scanned files
_POOL_NAME_KEYS = frozenset(("karpenter.sh/nodepool", "eks.amazonaws.com/nodegroup", "cloud.google.com/gke-nodepool",
                             "kubernetes.azure.com/agentpool", "agentpool", "alpha.eksctl.io/nodegroup-name"))
_UNSET_FIX = ("declare that node pool in the scanned files (with its instance types), set "
              "pricing.default_accelerators, or select an instance-type or GPU label (node.kubernetes.io/instance-type,"
              " nvidia.com/gpu.product) to price exactly")


def _labels_no_pool_sets(want: dict[str, Any], known: set) -> list[tuple[str, str, list[str]]] | None:
    """The labels a pod's nodeSelector / required affinity asks for that no node pool of the scan sets -- custom
    labels, or a well-known pool-name label no pool carries -- when they are what chooses its node: ``(key,
    operator, values)``.  ``None`` when something else decides (a label some pool of the scan sets, with other
    values or behind a taint; an instance-type or GPU label) or there is no such label."""
    exprs = [(str(k), "In", [str(v)]) for k, v in (want.get("node_selector") or {}).items()]
    exprs += [(str(e.get("key")), str(e.get("operator") or "In"), [str(v) for v in e.get("values") or []])
              for t in want.get("terms") or [] for e in t if isinstance(e, dict)]
    out: list[tuple[str, str, list[str]]] = []
    for key, op, vals in exprs:
        if key in known or key in _GPU_NAMING_KEYS:
            return None
        if key in _NODE_IDENTITY_KEYS or op in ("NotIn", "DoesNotExist"):
            continue  # says nothing about the pool (a node without the label satisfies NotIn / DoesNotExist)
        if _well_known(key) and key not in _POOL_NAME_KEYS:
            continue  # zone, capacity type...: every pool may have it, it says nothing about the GPU
        out.append((key, op, vals))
    return out or None


# Custom label keys whose name says they hold an instance type, family or GPU model: only their wording in the
# note depends on it (the value is never read as a type: a label's text is the cluster owner's, not the cloud's)
@cache
def _typeish_key() -> re.Pattern[str]:
    return re.compile(r"(?i)instance.?type|instance.?family|machine.?type|vm.?size|sku|gpu|accelerator")


_MAX_SHOWN = 64


def _card_names(rates: Any) -> set[str]:
    """Lower-cased instance types, families (``g5``, ``p4d``) and GPU models of a card's accelerated types."""
    key = ("names", id(rates))
    hit = _CARD_NAMES.get(key)
    if hit is not None and hit[0] is rates:
        return hit[1]
    names: set[str] = set()
    for t, _info in _card_types(CLOUDS, rates):
        names.add(t.lower())
        if "." in t:
            names.add(t.split(".", 1)[0].lower())
    names.update(str(m).lower() for m in getattr(rates, "gpu_rates", {}) or {})
    _CARD_NAMES.clear()  # one card at a time
    _CARD_NAMES[key] = (rates, names)
    return names


_CARD_NAMES: dict[tuple[str, int], tuple[Any, set[str]]] = {}


def _unset_text(unset: list[tuple[str, str, list[str]]], card: Any = None) -> str:
    """What a floor over labels no pool sets says about them (bounded: five labels, 64 characters a value)."""
    from tagguard.pricing import catalog

    rates = card if card is not None else catalog.load()

    def cut(v: str) -> str:
        return v if len(v) <= _MAX_SHOWN else v[:_MAX_SHOWN] + "..."

    shown = []
    for key, op, vals in unset[:5]:
        if op == "In" and len(vals) == 1:
            shown.append(f"{cut(key)}={cut(vals[0])}")
        else:
            shown.append(f"{cut(key)} {op}" + (f" [{', '.join(cut(v) for v in vals[:4])}"
                                               f"{', ...' if len(vals) > 4 else ''}]" if vals else ""))
    more = f" and {len(unset) - 5} more" if len(unset) > 5 else ""
    pl = len(unset) > 1
    text = (f"its node selector / affinity asks for {', '.join(shown)}{more}, which no node pool in the scanned "
            f"files sets (label{'s' if pl else ''} of a pool not in the scan)")
    typeish = [(k, v) for k, op, vals in unset[:5] if _typeish_key().search(k) and op == "In" for v in vals[:4]]
    if typeish:
        names = _card_names(rates)
        unknown = [v for _k, v in typeish if v.strip().lower() not in names]
        known = [v for _k, v in typeish if v.strip().lower() in names]
        if unknown:
            text += (f"; {', '.join(cut(v) for v in unknown)} {'is' if len(unknown) == 1 else 'are'} no instance "
                     "type, family or GPU model on the rate card (a custom label's text is not read as one)")
        if known:
            text += (f"; {', '.join(cut(v) for v in known)} {'is' if len(known) == 1 else 'are'} on the rate card, "
                     "but a custom label is not read as the node's type or GPU")
    return text


def _unknown_own_names(exprs: list[dict[str, Any]], card: Any = None) -> str:
    """"instance family g7e" when a pod's own Karpenter family / GPU-name selector (In) allows only values the
    rate card does not know (a family too new for the card): said as such, not as 'no type fits'."""
    from tagguard.pricing import catalog

    rates = card if card is not None else catalog.load()
    names = _card_names(rates)
    for e in exprs:
        key, vals = str(e.get("key")), [str(v) for v in e.get("values") or []]
        if e.get("operator") != "In" or not vals or key not in (_FAMILY_KEY,) + _GPU_NAME_KEYS:
            continue
        if key == _FAMILY_KEY:
            known = [v for v in vals if v.strip().lower() in names]
        else:
            known = [v for v in vals if _short(v).lower() in names]
        if not known:
            what = "instance family" if key == _FAMILY_KEY else "GPU"
            shown = ", ".join(v[:_MAX_SHOWN] for v in vals[:4]) + (", ..." if len(vals) > 4 else "")
            return f"{what} {shown} ({key})"
    return ""


def _own_type_keys(exprs: list[dict[str, Any]]) -> list[str]:
    """The Karpenter well-known keys a pod's own selector constrains instance types by (In / Gt / Lt)."""
    return list(dict.fromkeys(str(e["key"]) for e in exprs
                              if e["key"] in _OWN_TYPE_KEYS and e.get("operator") in ("In", "Gt", "Lt")))


# Which accelerators an extended resource can be: a pod asking for aws.amazon.com/neuron lands only on
# Inferentia / Trainium types, one asking for nvidia.com/gpu only on NVIDIA ones.
_NON_NVIDIA = {"neuron": ("Inferentia", "Inferentia2", "Trainium", "Trainium2"), "tpu": ("TPU v4", "TPU v5e", "TPU v5p",
               "TPU v6e"), "gaudi": ("Gaudi", "Gaudi2", "Gaudi3"), "amd": ("MI300X", "MI250")}


def _vendor_of_resource(name: str) -> str | None:
    if name.startswith("aws.amazon.com/neuron"):
        return "neuron"
    if name == "google.com/tpu":
        return "tpu"
    if name.startswith("habana.ai/"):
        return "gaudi"
    if name.startswith("amd.com/"):
        return "amd"
    if name.startswith("nvidia.com/"):
        return "nvidia"
    return None


def _vendor_of_model(model: str) -> str:
    for vendor, models in _NON_NVIDIA.items():
        if model in models:
            return vendor
    return "nvidia"


def _price_from_types(r: Any, c: Any, via: str, types: list[str], exprs: list[dict[str, Any]], gpus: float,
                      unknown_pools: list[str], card: Any = None) -> None:
    """Narrow the candidate types by the pod's own constraints, its accelerator kind and its GPU count, then
    price: one accelerator model -> per accelerator of that model; several -> the cheapest per accelerator
    among the types that have a rate (a lower bound over the priced pools), the others named."""
    from tagguard.pricing import catalog

    accels = r.meta.get("accelerators") if isinstance(r.meta.get("accelerators"), dict) else {}
    vendors = {v for v in (_vendor_of_resource(str(k)) for k in accels) if v}
    infos = []
    for t in types:
        rates = card if card is not None else catalog.load()  # the rates the scan prices with
        info = rates.lookup(t) or rates.lookup(t, "aws")
        if info is None or not info.accelerator_count or not info.gpu_model:
            continue
        if exprs and not _type_ok(t, info, exprs):
            continue
        if c.accelerator and _short(info.gpu_model) != _short(c.accelerator):
            continue
        if vendors and _vendor_of_model(info.gpu_model) not in vendors:
            continue
        if gpus and info.accelerator_count < gpus:
            continue
        infos.append((t, info))
    if not infos:
        c.notes.append(f"lands on {via}, but none of its GPU instance types ({', '.join(types[:8])}"
                       f"{' ...' if len(types) > 8 else ''}) fits {gpus:g} {'/'.join(sorted(accels)) or 'GPU'} "
                       "per pod: not priced")
        return
    left_out = ""
    if unknown_pools:
        left_out = (f"; node pool{'s' if len(unknown_pools) > 1 else ''} {', '.join(unknown_pools[:5])} may also take "
                    "it, but no instance type is known there, so the figure covers the pools whose types are known")
    models = list(dict.fromkeys(_short(i.gpu_model) for _t, i in infos))
    allowed = ", ".join(t for t, _i in infos[:8]) + (" ..." if len(infos) > 8 else "")
    r.meta["placement_types"] = [t for t, _i in infos]
    rates = card if card is not None else catalog.load()
    if len(models) == 1:
        c.accelerator = infos[0][1].gpu_model
        g = rates.gpu_hourly(c.accelerator)
        rate_cloud = str(g.derived_from).split("/", 1)[0] if g is not None and g.derived_from else None
        clouds = sorted({str(i.provider) for _t, i in infos})
        if clouds == [rate_cloud] or rate_cloud is None and clouds == ["aws"]:
            c.notes.append(f"placement: lands on {via}; every type it allows ({allowed}) has {models[0]} accelerators, "
                           f"so it is priced per {models[0]} accelerator{left_out}")
            return
        # the per-GPU rate of a model comes from one cloud's type (aws/g6.xlarge for L4): a pod on a GKE
        # or AKS pool pays that pool's own rate per GPU, the price of its node type at the pod's share
        priced_types = [x for x in infos if x[1].on_demand is not None]
        if not priced_types:
            c.instance_type = infos[0][0]  # the engine then names the missing rate
            c.notes.append(f"placement: lands on {via}; none of its {models[0]} types ({allowed}, "
                           f"{'/'.join(clouds)}) has a rate in the rate card: not priced{left_out}")
            return
        own = min(priced_types, key=lambda x: float(x[1].on_demand or 0) / x[1].accelerator_count)
        c.instance_type = own[0]
        if len(priced_types) > 1:
            r.meta[PLACEMENT_FLOOR_KEY] = (f"it may land on several {models[0]} types ({allowed}); priced on the "
                                           f"cheapest per accelerator of them, {own[0]}")
        c.notes.append(f"placement: lands on {via}; every type it allows ({allowed}) has {models[0]} accelerators: "
                       f"priced per {models[0]} accelerator at the rate of the pool's own type {own[0]} "
                       f"({own[1].provider})"
                       + (f", not the per-GPU rate of {g.derived_from}" if g is not None and g.derived_from else "")
                       + ("; the cheapest per accelerator of them, a lower bound" if len(priced_types) > 1 else "")
                       + left_out)
        return

    def rate(item):
        return item[1].on_demand / item[1].accelerator_count

    priced = [x for x in infos if x[1].on_demand is not None]
    no_rate = [t for t, i in infos if i.on_demand is None]
    if not priced:
        c.instance_type = infos[0][0]  # the engine then names the missing rate
        c.notes.append(f"placement: lands on {via}; none of the types it allows ({allowed}, {', '.join(models)}) "
                       f"has a rate in the rate card: not priced{left_out}")
        return
    cheapest = min(priced, key=rate)
    c.instance_type = cheapest[0]
    c.accelerator = cheapest[1].gpu_model
    r.meta[PLACEMENT_FLOOR_KEY] = (f"it may land on several GPU models ({', '.join(models)}); priced on the "
                                   f"cheapest per accelerator among the types with a rate, {cheapest[0]}")
    c.notes.append(f"placement: lands on {via}; it allows {allowed} ({', '.join(models)}): priced on the cheapest "
                   f"per accelerator among the types with a rate, {cheapest[0]}, a lower bound over the priced pools"
                   + (f"; {', '.join(no_rate[:5])} {'have' if len(no_rate) > 1 else 'has'} no rate in the rate card "
                      "and {} left out".format('are' if len(no_rate) > 1 else 'is') if no_rate else "") + left_out)


# --- one truth in every number ------------------------------------------------------------------

def attribute(resources: list[Any]) -> None:
    """After pricing: a GPU workload priced from nodes whose pools are themselves priced in the same scan
    is an attribution of that capacity, not more of it (``cost.attributed_from``; left out of totals).

    The pools are those the placement pass matched, or, for a pod pinned to an instance type, the pools
    its nodeSelector/affinity/tolerations match that offer that type.  Only when every such pool has a
    figure of its own (an EKS/GKE/AKS node group with a size) is the workload attributed; a pod on a
    Karpenter NodePool (no figure: the pods carry the spend) or on an unpriced pool stays counted."""
    pools: list[tuple[Any, dict[str, Any]]] | None = None  # read at the first priced workload (none: never)
    budget = MAX_MATCHES
    types_of: dict[int, list[str]] = {}
    used: dict[int, float] = {}  # GPUs of each pool already attributed to earlier workloads
    for r in resources:
        matched = r.meta.pop("_placement_pools", None)
        r.meta.pop(FLOOR_KEY, None)  # read by the pricing engine, done with
        r.meta.pop(PLACEMENT_FLOOR_KEY, None)
        c, cost = r.compute, r.cost
        if c is None or cost is None or not r.ai or c.provider != "kubernetes" or cost.monthly_usd is None:
            continue
        if pools is None:  # this pass changes no node_pool, so they read the same at any point of it
            pools = [(res, res.meta["node_pool"]) for res in resources if isinstance(res.meta.get("node_pool"), dict)]
        if not pools:
            continue
        wanted_types = ([str(t) for t in r.meta.get("placement_types") or []]
                        or ([c.instance_type] if c.instance_type else []))
        if matched is None:
            if not c.instance_type:
                continue  # not priced from a node type
            budget -= len(pools)
            if budget < 0:
                continue
            want = dict(r.meta["node_placement"]) if isinstance(r.meta.get("node_placement"), dict) else {}
            accels = r.meta.get("accelerators") if isinstance(r.meta.get("accelerators"), dict) else {}
            want["tolerations"] = list(want.get("tolerations") or []) + [
                {"key": str(k), "operator": "Exists"} for k in accels]
            matched = [res for res, _p in _matching(want, pools)]
        by_id = {id(res): pool for res, pool in pools}
        sources = []
        for res in matched:
            pool = by_id.get(id(res))
            if pool is None:
                continue
            if id(res) not in types_of:
                types_of[id(res)] = pool_types(pool)
            if wanted_types and not any(t in types_of[id(res)] for t in wanted_types):
                continue  # the pool cannot launch the type the workload is priced on
            sources.append(res)
        if not sources:
            continue
        unpriced = [s.address for s in sources
                    if s.cost is None or s.cost.monthly_usd is None or not s.cost.counted
                    or s.meta.get("priced_elsewhere")]
        if unpriced:
            c.notes.append(f"its figure counts in totals: it may land on {', '.join(unpriced[:5])}, whose capacity "
                           "has no figure of its own in this scan")
            continue
        if not _take_capacity(c, sources, used):
            continue
        cost.attributed_from = [s.address for s in sources]
        c.notes.append(f"attributed: its cost is a share of the capacity of {', '.join(cost.attributed_from[:5])}"
                       f"{' ...' if len(sources) > 5 else ''}, which is priced in this scan; totals count that "
                       "capacity once and leave this figure out (docs/pricing.md)")


def _pool_gpus(res: Any) -> float | None:
    """GPUs a priced pool holds: its units x GPUs per unit (the figure its own cost counts)."""
    from tagguard.pricing import catalog

    pc = res.compute
    if pc is None or pc.units is None:
        return None
    per = pc.gpus_per_unit
    if per is None and pc.instance_type:
        info = catalog.lookup(pc.instance_type, pc.provider)
        per = float(info.accelerator_count) if info is not None and info.accelerator_count else None
    return None if per is None else float(pc.units) * float(per)


def _take_capacity(c: Any, sources: list[Any], used: dict[int, float]) -> bool:
    """Attribute the workload's GPUs to what is left of its pools' capacity; False (with a note) when it
    asks for more than is left: then its figure is not a share of that capacity and counts in totals."""
    demand = None if c.units is None or c.gpus_per_unit is None else float(c.units) * float(c.gpus_per_unit)
    caps = [(s, _pool_gpus(s)) for s in sources]
    unknown = [s.address for s, cap in caps if cap is None]
    names = ", ".join(s.address for s in sources[:5]) + (" ..." if len(sources) > 5 else "")
    pl = len(sources) > 1
    if demand is None or unknown:
        what = "its number of GPUs" if demand is None else f"the GPU capacity of {', '.join(unknown[:5])}"
        c.notes.append(f"its figure counts in totals: {what} is unknown, so it cannot be shown to fit in node "
                       f"pool{'s' if pl else ''} {names}")
        return False
    total = sum(cap for _s, cap in caps if cap is not None)
    taken = sum(min(used.get(id(s), 0.0), cap) for s, cap in caps if cap is not None)
    free = total - taken
    if demand > free + 1e-9:
        c.notes.append(f"its figure counts in totals: it asks {demand:g} GPU{'s' if demand != 1 else ''}, "
                       f"node pool{'s' if pl else ''} {names} "
                       f"{'have' if pl else 'has'} {total:g}"
                       + (f", {taken:g} of them already attributed to other workloads" if taken else "")
                       + ": beyond the pool's capacity it is not a share of it"
                       + (f" (an upper bound: up to {free:g} GPU{'s' if free != 1 else ''} of it may be capacity "
                          "the pool's figure also counts)"
                          if free > 0 else ""))
        return False
    left = demand
    for s, cap in caps:
        if left <= 0 or cap is None:
            break
        take = min(left, cap - min(used.get(id(s), 0.0), cap))
        used[id(s)] = used.get(id(s), 0.0) + take
        left -= take
    return True


# --- Terraform node groups -----------------------------------------------------------------------

NODE_GROUP_TYPES = ("aws_eks_node_group", "google_container_node_pool", "azurerm_kubernetes_cluster_node_pool")


def terraform_pool(rtype: str, body: Any, scope: Any, address: str, res: Any) -> dict[str, Any] | None:
    """A node group's labels, taints and instance types (what its nodes carry), or None."""
    from tagguard.sources.terraform import extract as ex

    def val(b, s, path):
        v = ex.get_path(b, path, s)
        return v if ex.known(v) else None

    def str_map(v) -> dict[str, str]:
        if not isinstance(v, dict):
            return {}
        return {str(k): ("true" if x is True else "false" if x is False else str(x))
                for k, x in v.items() if ex.known(x) and x is not None}

    labels: dict[str, str] = {}
    taints: list[dict[str, Any]] = []
    types: list[str] = []
    provider = "aws"
    if rtype == "aws_eks_node_group":
        labels = str_map(val(body, scope, "labels"))
        name = val(body, scope, "node_group_name")
        if isinstance(name, str):
            labels["eks.amazonaws.com/nodegroup"] = name
        cap = val(body, scope, "capacity_type")
        if isinstance(cap, str):
            labels["eks.amazonaws.com/capacityType"] = cap.upper()
        for tb, ts in ex.blocks_named(body, "taint", scope):
            taints.append({"key": val(tb, ts, "key"), "value": val(tb, ts, "value"), "effect": val(tb, ts, "effect")})
        listed = val(body, scope, "instance_types")
        if isinstance(listed, list):
            types = [t for t in listed if isinstance(t, str)]
    elif rtype == "google_container_node_pool":
        provider = "gcp"
        name = val(body, scope, "name")
        if isinstance(name, str):
            labels["cloud.google.com/gke-nodepool"] = name
        for nb, ns in ex.blocks_named(body, "node_config", scope):
            labels.update(str_map(val(nb, ns, "labels")))
            for tb, ts in ex.blocks_named(nb, "taint", ns):
                taints.append({"key": val(tb, ts, "key"), "value": val(tb, ts, "value"),
                               "effect": val(tb, ts, "effect")})
            mt = val(nb, ns, "machine_type")
            if isinstance(mt, str):
                types = [mt]
    elif rtype == "azurerm_kubernetes_cluster_node_pool":
        provider = "azure"
        labels = str_map(val(body, scope, "node_labels"))
        name = val(body, scope, "name")
        if isinstance(name, str):
            labels["agentpool"] = name
            labels["kubernetes.azure.com/agentpool"] = name
        for text in val(body, scope, "node_taints") or []:
            t = parse_aks_taint(text)
            if t:
                taints.append(t)
        vm = val(body, scope, "vm_size")
        if isinstance(vm, str):
            types = [vm]
    else:
        return None
    if not types and res.compute is not None and res.compute.instance_type:
        types = [res.compute.instance_type]
    taints = [t for t in taints if isinstance(t.get("key"), str)]
    return pool_record(address, labels, taints, (), types, provider=provider)


# --- pools declared as inputs of module calls that are not evaluated ------------------------------

MAX_INPUT_CHARS = 512 * 1024


@cache
def _heredoc() -> re.Pattern[str]:
    return re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n(.*?)\n[ \t]*\1[ \t]*$", re.S | re.M)


@cache
def _interp() -> re.Pattern[str]:
    return re.compile(r"\$\{[^{}\n]*\}")


@cache
def _directive() -> re.Pattern[str]:
    return re.compile(r"^[ \t]*%\{[^}\n]*\}[ \t]*$", re.M)


def _label_map(value: Any) -> dict[str, str]:
    """``{a: b}`` or ``[{a: b}, {c: d}]`` (the karpenter-resources chart's list form)."""
    out: dict[str, str] = {}
    items = value if isinstance(value, list) else [value]
    for m in items:
        if isinstance(m, dict):
            for k, v in m.items():
                if isinstance(v, (str, int, float, bool)):
                    out[str(k)] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pools_in_yaml(doc: Any, fallback: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if not isinstance(doc, dict):
        return out
    np = doc.get("nodePool")
    if isinstance(np, dict):  # values of a karpenter NodePool chart: {name, nodePool: {labels, taints, requirements}}
        name = str(doc.get("name") or fallback)
        labels = {**_label_map(np.get("labels")), "karpenter.sh/nodepool": name}
        out.append(pool_record(f"NodePool {name}", labels, np.get("taints") or [], np.get("requirements") or []))
    elif doc.get("kind") == "NodePool" and str(doc.get("apiVersion", "")).startswith("karpenter.sh/"):
        name = str(_dict(doc.get("metadata")).get("name") or fallback)
        tpl = _dict(_dict(doc.get("spec")).get("template"))
        spec = _dict(tpl.get("spec"))
        labels = {**_label_map(_dict(tpl.get("metadata")).get("labels")),
                  "karpenter.sh/nodepool": name}
        out.append(pool_record(f"NodePool {name}", labels, spec.get("taints") or [], spec.get("requirements") or []))
    return out


def _node_groups(value: Any, prefix: str) -> list[dict[str, Any]]:
    """terraform-aws-modules/eks ``eks_managed_node_groups`` / ``self_managed_node_groups`` shapes."""
    out: list[dict[str, Any]] = []
    if not isinstance(value, dict):
        return out
    for key, ng in value.items():
        if not isinstance(ng, dict):
            continue
        types = ng.get("instance_types")
        types = [t for t in types if isinstance(t, str)] if isinstance(types, list) else []
        if not types and isinstance(ng.get("instance_type"), str):
            types = [ng["instance_type"]]
        labels = _label_map(ng.get("labels") if isinstance(ng.get("labels"), dict) else {})
        raw_taints = ng.get("taints")
        taints = (list(raw_taints.values()) if isinstance(raw_taints, dict)
                  else raw_taints if isinstance(raw_taints, list) else [])
        taints = [{"key": t.get("key"), "value": t.get("value"), "effect": t.get("effect")}
                  for t in taints if isinstance(t, dict) and isinstance(t.get("key"), str)]
        out.append(pool_record(f"{prefix}[{key}]", labels, taints, (), types))
    return out


def module_input_pools(inst: Any, call: Any, name: str) -> list[Any]:
    """Node pools a module call that was not evaluated declares in its inputs: Karpenter NodePools
    written as YAML heredocs (NodePool manifests or karpenter-resources chart values) and EKS
    module node groups.  Returned as non-taggable records that only placement pricing reads."""
    from tagguard import yamlio
    from tagguard.model import Resource
    from tagguard.sources.terraform.module import _safe_eval

    address = f"{inst.prefix}module.{name}"
    body = call.block.body
    found: list[tuple[dict[str, Any], int]] = []
    for attr_name, attr in getattr(body, "attributes", {}).items():
        try:
            text = attr.expr.source_text()[:MAX_INPUT_CHARS]
        except Exception:  # noqa: BLE001
            continue
        if attr_name in ("eks_managed_node_groups", "self_managed_node_groups"):
            value = _safe_eval(attr.expr, inst)
            for rec in _node_groups(value, f"{address}.{attr_name}"):
                found.append((rec, attr.line))
            continue
        if "nodePool" not in text and "NodePool" not in text:
            continue
        for m in _heredoc().finditer(text):
            yaml_text = m.group(2)
            for _ in range(8):  # nested interpolations `${a ? "x: ${b}" : ""}`, innermost first
                yaml_text, n = _interp().subn("\x00", yaml_text)
                if not n:
                    break
            # a line that is only an interpolation inserts YAML of its own (unknown): left out
            yaml_text = "\n".join(ln for ln in yaml_text.split("\n") if ln.strip() != "\x00")
            yaml_text = _directive().sub("", yaml_text.replace("\x00", "unknown"))
            import textwrap

            try:
                docs = [yamlio.load(part) for part in re.split(r"^---[ \t]*$", textwrap.dedent(yaml_text), flags=re.M)]
            except Exception:  # noqa: BLE001 - not YAML (or not after the placeholders): nothing to learn
                continue
            line = attr.line + text.count("\n", 0, m.start()) + 1
            for doc in docs:
                for rec in _pools_in_yaml(doc, attr_name):
                    found.append((rec, line))
    out = []
    for rec, line in found:
        out.append(Resource(address=f"{address}:{rec['name']}", type="NodePool" if rec["name"].startswith("NodePool ")
                            else "eks_managed_node_group", source="terraform", file=call.file, line=line,
                            taggable=False, meta={"node_pool": rec, "declared_in": address}))
    return out
