"""How much of a whole GPU one unit of a Kubernetes extended resource is, and how idle cost is shared.

- Whole devices (``nvidia.com/gpu``, ``amd.com/gpu``, Neuron devices, TPU chips): 1 each.
- MIG slices (``nvidia.com/mig-<g>g.<mem>gb``): ``basis="compute"`` → g / compute slices,
  ``basis="memory"`` → memory slices / 8 (policies/gpu_resources.yaml, per GPU model).
- Time-sliced GPUs (``nvidia.com/gpu.shared``, or ``nvidia.com/gpu`` on a node whose GPU feature
  discovery labels say ``time-slicing``): 1 / replicas (``by="replicas"``); ``by="use"`` splits each
  time-sliced node's GPU-hours among its pods in proportion to their measured use.
- Idle GPU-hours of nodes no pod requested are shared ``proportional`` (to each group's used
  GPU-hours), ``even`` (same share per group), or all to one ``platform`` group, like OpenCost's
  idle sharing; ``none`` keeps idle as its own line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache, cache
from typing import Any

MIG_BASES = ("compute", "memory")
TIME_SLICING = ("replicas", "use")
IDLE_SHARING = ("none", "proportional", "even", "platform")


class SplitError(ValueError):
    pass


def sanitize(name: str) -> str:
    """kube-state-metrics' SanitizeLabelName: every character outside [a-zA-Z0-9_] becomes ``_``."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def label_name(key: str) -> str:
    """The ``label_<k>`` name kube-state-metrics gives a Kubernetes label key (toSnakeCase(Sanitize))."""
    s = sanitize(key)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    return "label_" + s


@lru_cache(maxsize=1)
def policy() -> dict[str, Any]:
    from tagguard.resources import data_file
    from tagguard.yamlio import SafeLoader
    import yaml

    with open(data_file("policies/gpu_resources.yaml"), encoding="utf-8") as fh:
        doc = yaml.load(fh, Loader=SafeLoader)  # noqa: S506 - SafeLoader / CSafeLoader
    return doc


@cache
def resource_table() -> dict[str, tuple[str, str]]:
    """Sanitized resource name (as in kube-state-metrics) -> (Kubernetes name, kind)."""
    out = {}
    for name, spec in (policy().get("resources") or {}).items():
        out[sanitize(name)] = (name, str(spec.get("kind")))
    return out


def resource_regex() -> str:
    """PromQL regex matching every GPU/accelerator resource as kube-state-metrics spells it."""
    names = sorted(resource_table())
    return "|".join(re.escape(n) for n in names) + "|nvidia_com_mig_.*"


_MIG_SANITIZED = re.compile(r"^nvidia_com_mig_([0-9]+)g_([0-9]+)gb(_me)?$")


@dataclass(frozen=True)
class Unit:
    resource: str  # Kubernetes name, e.g. nvidia.com/mig-1g.5gb
    kind: str  # gpu | mig | time-sliced | accelerator | accelerator-core | unknown
    fraction: float | None  # share of one whole device; None = cannot tell
    how: str  # the stated method, e.g. "MIG 1g.5gb = 1/7 compute of A100-40GB"


def mig_fraction(profile: str, basis: str, model: str | None = None) -> tuple[float | None, str]:
    """Share of a whole GPU for a MIG profile (``1g.5gb``), by ``basis``. With ``model`` (a key of
    policies/gpu_resources.yaml ``mig``) only that GPU's geometry counts; without, the GPU models that
    define the profile must agree on it, else it cannot be told without the model."""
    if basis not in MIG_BASES:
        raise SplitError(f"MIG basis must be one of {', '.join(MIG_BASES)}")
    found: list[tuple[str, float]] = []
    geometry = policy().get("mig") or {}
    for name, geo in ({model: geometry[model]} if model is not None and model in geometry else geometry).items():
        mem = (geo.get("profiles") or {}).get(profile)
        if mem is None:
            continue
        g = int(profile.split("g.", 1)[0])
        frac = g / float(geo["compute_slices"]) if basis == "compute" else float(mem) / float(geo["memory_slices"])
        found.append((name, frac))
    if not found:
        return None, f"MIG profile {profile} is not in policies/gpu_resources.yaml"
    fracs = {round(f, 9) for _, f in found}
    if len(fracs) > 1:
        return None, f"MIG profile {profile} is a different share on {', '.join(m for m, _ in found)}"
    frac = found[0][1]
    models = "/".join(m for m, _ in found)
    return frac, f"MIG {profile} = {_ratio(frac)} of {basis} of {models}"


def _ratio(frac: float) -> str:
    from fractions import Fraction

    fr = Fraction(frac).limit_denominator(64)
    return f"{fr.numerator}/{fr.denominator}" if fr.denominator != 1 else str(fr.numerator)


_MIG_PRODUCT = re.compile(r"^(?P<gpu>.+)-MIG-(?P<profile>[0-9]+g\.[0-9]+gb(?:\+me)?)$")


def mig_single(labels: dict[str, str]) -> tuple[str | None, str, str] | None:
    """(GPU model key or None, MIG profile, product label) of a node under the GPU operator's MIG
    ``single`` strategy, from GPU feature discovery labels as kube-state-metrics exports them:
    ``nvidia.com/mig.strategy=single`` (set on every GPU node by default, MIG or not) and a
    ``nvidia.com/gpu.product`` ending in ``-MIG-<g>g.<mem>gb`` (set only when the GPUs are split).
    Its ``nvidia.com/gpu`` units are then MIG slices of that profile, not whole GPUs."""
    if labels.get("label_nvidia_com_mig_strategy", "") != "single":
        return None
    product = labels.get("label_nvidia_com_gpu_product", "")
    m = _MIG_PRODUCT.match(product)
    if not m:
        return None
    return _mig_model(m.group("gpu")), m.group("profile"), product


def _mig_model(gpu: str) -> str | None:
    """``NVIDIA-A100-SXM4-40GB`` -> ``A100-40GB``: the policy's MIG model whose family and memory the
    product name carries (the memory may be left out when the family has one size, e.g. A30)."""
    tokens = {t.upper() for t in re.split(r"[-_ ]", gpu)}
    models = [m for m in (policy().get("mig") or {}) if m.split("-", 1)[0].upper() in tokens]
    exact = [m for m in models if m.split("-", 1)[-1].upper() in tokens]
    if len(exact) == 1:
        return exact[0]
    return models[0] if len(models) == 1 else None


def unit(resource: str, *, mig_basis: str = "compute", replicas: float | None = None,
         single: tuple[str | None, str, str] | None = None) -> Unit:
    """What one unit of the sanitized resource ``resource`` is worth in whole devices.
    ``replicas``: the time-slicing replicas of the node (None: not time-sliced / unknown).
    ``single``: the node's MIG single-strategy facts (``mig_single``), when it has them."""
    if single is not None and resource == "nvidia_com_gpu":
        model, profile, product = single
        frac, how = mig_fraction(profile, mig_basis, model)
        how = f"{how} (MIG single strategy: nvidia.com/gpu is a {profile} slice on {product})"
        if frac is not None and replicas:
            return Unit("nvidia.com/gpu", "mig", frac / replicas, f"{how}, time-sliced 1/{_num(replicas)}")
        return Unit("nvidia.com/gpu", "mig", frac, how)
    m = _MIG_SANITIZED.match(resource)
    if m:
        profile = f"{m.group(1)}g.{m.group(2)}gb" + ("+me" if m.group(3) else "")
        frac, how = mig_fraction(profile, mig_basis)
        name = f"nvidia.com/mig-{profile}"
        if frac is not None and replicas:
            return Unit(name, "mig", frac / replicas, f"{how}, time-sliced 1/{_num(replicas)}")
        return Unit(name, "mig", frac, how)
    name, kind = resource_table().get(resource, (resource, "unknown"))
    if kind == "accelerator-core":
        per = float((policy()["resources"][name] or {}).get("per_device", 1))
        return Unit(name, kind, 1.0 / per, f"{name} = 1/{_num(per)} device")
    if kind == "time-sliced" or (kind == "gpu" and replicas):
        if not replicas:
            return Unit(name, "time-sliced", None, f"{name}: time-slicing replicas unknown (no "
                        "nvidia.com/gpu.replicas / nvidia.com/gpu.count node labels exported)")
        return Unit(name, "time-sliced", 1.0 / replicas, f"{name} time-sliced: 1/{_num(replicas)} GPU per replica")
    if kind in ("gpu", "accelerator"):
        return Unit(name, kind, 1.0, f"{name} = 1 device")
    return Unit(name, "unknown", None, f"{resource}: not a resource in policies/gpu_resources.yaml")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def share_idle(idle_cost: float, idle_hours: float, used_by_group: dict[str, float], method: str,
               platform: str | None = None) -> dict[str, Any]:
    """Distribute idle cost/hours over groups; returns ``{method, ratios, cost, hours}``."""
    if method not in IDLE_SHARING:
        raise SplitError(f"idle sharing must be one of {', '.join(IDLE_SHARING)}")
    groups = sorted(g for g in used_by_group)
    ratios: dict[str, float] = {}
    if method == "platform":
        if not platform:
            raise SplitError("idle sharing 'platform' needs --idle-platform GROUP")
        ratios = {platform: 1.0}
    elif method == "even" and groups:
        ratios = {g: 1.0 / len(groups) for g in groups}
    elif method == "proportional":
        total = sum(max(0.0, used_by_group[g]) for g in groups)
        if total > 0:
            ratios = {g: max(0.0, used_by_group[g]) / total for g in groups}
        elif groups:  # nothing used anywhere: fall back to even, and say so
            ratios = {g: 1.0 / len(groups) for g in groups}
            method = "even (no group used any GPU time)"
    return {"method": method, "ratios": {g: round(r, 6) for g, r in ratios.items()},
            "cost": {g: idle_cost * r for g, r in ratios.items()},
            "hours": {g: idle_hours * r for g, r in ratios.items()}}
