"""The kind -> pod template table (``policies/kubernetes_kinds.yaml``) plus config additions.

Users add their own CRDs under ``kubernetes.crds`` in ``.tagguard.yaml`` (same shape as the
shipped table) and more accelerator resource names under ``kubernetes.accelerator_resources``.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

_FACTOR = re.compile(r"^\s*(?P<path>[^|]*?)\s*(?:-\s*(?P<minus>\d+))?\s*(?:\|\s*(?P<default>\d+)\s*)?$")
MIG = re.compile(r"^nvidia\.com/mig-(\d+)g")


@dataclass
class KindTable:
    kinds: dict[str, dict[str, Any]]
    accelerators: dict[str, Any]  # resource name or glob -> weight (number or "mig")
    accelerator_labels: list[str]
    instance_type_labels: list[str]
    spot_labels: dict[str, list[str]]
    spot_taints: list[str]
    _exact: dict[str, Any] = field(default_factory=dict)
    _globs: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, weight in self.accelerators.items():
            if any(c in name for c in "*?["):
                self._globs.append((name, weight))
            else:
                self._exact[name] = weight

    def lookup(self, kind: str, api_version: str) -> dict[str, Any] | None:
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        if group:
            hit = self.kinds.get(f"{kind}.{group}")
            if hit is not None:
                return hit
        spec = self.kinds.get(kind)
        if spec is None:
            return None
        want = spec.get("group")
        if want is not None and want != group:
            return None
        return spec

    def share_unknown(self, resource: str) -> bool:
        """A share of one GPU by memory or cores (``volcano.sh/gpu-memory: 1024``): whose size alone says
        no GPU count (table weight ``memory``)."""
        weight = self._exact.get(resource)
        if weight is None:
            weight = next((w for pattern, w in self._globs if fnmatch.fnmatchcase(resource, pattern)), None)
        return weight == "memory"

    def accelerator_weight(self, resource: str) -> float | None:
        """GPU-equivalents of one unit of ``resource``, or ``None`` when it is not an accelerator."""
        weight = self._exact.get(resource)
        if weight is None:
            for pattern, w in self._globs:
                if fnmatch.fnmatchcase(resource, pattern):
                    weight = w
                    break
        if weight is None:
            return None
        if weight == "mig":
            m = MIG.match(resource)
            return int(m.group(1)) / 7.0 if m else 1.0
        if weight == "vgpu":
            return vgpu_share(resource)
        if weight == "memory":
            return 1.0  # an accelerator; its share is unknown alone (``share_unknown``)
        try:
            return float(weight)
        except (TypeError, ValueError):
            return 1.0


# NVIDIA vGPU profile `<GRID|NVIDIA>_<board>-<frame buffer GB><series>` (GRID_T4-1Q, NVIDIA_A10-4Q)
VGPU = re.compile(r"^nvidia\.com/(?:GRID|NVIDIA)_([A-Za-z0-9]+)-(\d+)[A-Za-z]{1,2}$")
# frame buffer (GB) of one GPU of the boards vGPU profiles are named after
_VGPU_BOARD_GB = {"M10": 8, "M60": 8, "P4": 8, "P6": 16, "P40": 24, "P100": 16, "P100X": 16, "V100": 16,
                  "V100X": 16, "V100D": 32, "V100DX": 32, "V100S": 32, "T4": 16, "RTX6000": 24, "RTX8000": 48,
                  "A2": 16, "A10": 24, "A16": 16, "A30": 24, "A40": 48, "A100": 40, "A100X": 40, "A100D": 80,
                  "A100DX": 80, "L2": 24, "L4": 24, "L20": 48, "L40": 48, "L40S": 48, "H100": 80, "H100XM": 80,
                  "H100L": 94, "H200X": 141}


def vgpu_share(resource: str) -> float:
    """The share of one GPU a vGPU profile holds (its frame buffer over the board's); 1 when unknown."""
    m = VGPU.match(resource)
    board = _VGPU_BOARD_GB.get(m.group(1).upper()) if m else None
    if not m or not board:
        return 1.0
    return min(int(m.group(2)) / board, 1.0) or 1.0


_CACHE: dict[int, tuple[Any, KindTable]] = {}


def load_table(config: Any = None) -> KindTable:
    key = id(config)
    hit = _CACHE.get(key)
    # the config is kept with its table: an id reused by a later config object never gets a stale table
    if hit is not None and hit[0] is config:
        return hit[1]
    from tagguard import yamlio
    from tagguard.resources import data_file

    raw = yamlio.load(data_file("policies/kubernetes_kinds.yaml").read_text(encoding="utf-8"))
    kinds = dict(raw.get("kinds") or {})
    accel = dict(raw.get("accelerator_resources") or {})
    labels = raw.get("node_labels") or {}
    section = (config.section("kubernetes") if config is not None else None) or {}
    for name, spec in (section.get("crds") or {}).items():
        if isinstance(spec, dict):
            kinds[name] = spec
    for name, weight in (section.get("accelerator_resources") or {}).items():
        accel[name] = weight
    table = KindTable(
        kinds=kinds,
        accelerators=accel,
        accelerator_labels=list(labels.get("accelerator") or []),
        instance_type_labels=list(labels.get("instance_type") or []),
        spot_labels={k: [str(v).lower() for v in vs] for k, vs in (labels.get("spot") or {}).items()},
        spot_taints=list(labels.get("spot_taints") or []),
    )
    if len(_CACHE) > 16:
        _CACHE.clear()
    _CACHE[key] = (config, table)
    return table


# --- paths ---------------------------------------------------------------------------------

def get_path(obj: Any, path: str | None, root: Any = None) -> Any:
    """``spec.template`` -> obj["spec"]["template"]; ``.`` is ``obj``; ``$.x`` starts at ``root``."""
    if path is None:
        return None
    if path == ".":
        return obj
    cur = obj
    if path.startswith("$."):
        cur, path = (root if root is not None else obj), path[2:]
    for part in path.split("."):
        if isinstance(cur, list) and part.isdigit():  # `componentSpecs.0.spec`: a list item by index
            i = int(part)
            cur = cur[i] if i < len(cur) else None
            if cur is None:
                return None
            continue
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
        if cur is None:
            return None
    return cur


def join(*parts: str | None) -> str:
    return ".".join(p for p in parts if p and p != ".") or "."


def as_count(value: Any) -> int | None:
    """A replica-like count; ``None`` when it is not a literal non-negative integer."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def resolve_units(role: dict[str, Any], item: Any, root: dict[str, Any]) -> tuple[int | None, str | None]:
    """Pods this role makes (replicas x multipliers); ``(None, why)`` when not a literal."""
    switch = role.get("enabled")
    if switch is not None and get_path(item, str(switch), root) is False:
        return 0, None  # switched off (NIMPipeline `enabled: false`): no pods
    if stopped(role.get("stopped_when"), item, root):
        return 0, None  # KubeVirt `runStrategy: Halted`: no pods
    units: int | None = None
    why = None
    found = False
    for alt in role.get("replicas") or []:
        if isinstance(alt, (int, float)) and not isinstance(alt, bool):
            units, found = int(alt), True
            break
        value = get_path(item, str(alt), root)
        if value is None:
            continue
        found = True
        units = as_count(value)
        if units is None:
            why = f"`{alt}` is {value!r}, not a number"
        break
    if not found:
        units = int(role.get("default_replicas", 1))
    if units is None:
        return None, why
    factors = role.get("multiply") or []
    cond = role.get("if_absent")
    if isinstance(cond, dict) and get_path(item, str(cond.get("path")), root) is None:
        factors = cond.get("multiply") or []
    for factor in factors:
        m = _FACTOR.match(str(factor))
        if not m:
            continue
        path, _, divisor = m.group("path").partition("/")  # "a/b": a divided by b (b absent or 0: 1)
        value = get_path(item, path, root)
        n: int | None
        if value is None:
            n = int(m.group("default") or 1)
        else:
            n = as_count(value)
            if n is None:
                return None, f"`{path}` is {value!r}, not a number"
            if divisor:
                d = get_path(item, divisor.strip(), root)
                d = as_count(d) if d is not None else 1
                if d is None:
                    return None, f"`{divisor.strip()}` is not a number"
                n = max(n // max(d, 1), 1)
            n -= int(m.group("minus") or 0)
        units *= max(n, 0)
    return units, None


def stopped(when: Any, item: Any, root: Any) -> str | None:
    """``{path: [values]}``: the first field whose value is one of its values, as ``path: value``; else None."""
    if not isinstance(when, dict):
        return None
    for path, values in when.items():
        value = get_path(item, str(path), root)
        if value is not None and isinstance(values, list) and \
                any(str(value).lower() == str(v).lower() for v in values if not isinstance(v, (dict, list))):
            return f"{path}: {str(value)[:80]}"
    return None


def iter_roles(spec: dict[str, Any], obj: dict[str, Any]):
    """Yield ``(role name or None, role entry, item, item path)`` for every pod template of ``obj``."""
    roles = spec.get("roles") or []
    multi = len(roles) > 1 or any("each" in r for r in roles)
    for role in roles:
        if not isinstance(role, dict):
            continue
        each = role.get("each")
        if each:
            coll = get_path(obj, str(each))
            if isinstance(coll, dict):
                for key, item in coll.items():
                    if isinstance(item, dict):
                        yield f"{role.get('role_prefix', '')}{key}", role, item, f"{each}.{key}"
            elif isinstance(coll, list):
                key_field = role.get("role_key", "name")
                for i, item in enumerate(coll):
                    if isinstance(item, dict):
                        name = item.get(key_field)
                        name = str(name) if name is not None else str(i)
                        yield f"{role.get('role_prefix', '')}{name}", role, item, f"{each}[{name}]"
            continue
        name = role.get("role") if multi else None
        yield name, role, obj, ""


# kubeai resource profile names: which accelerator resource a `<profile>:<count>` is (CPU profiles: none)
_PROFILE_RESOURCE = (
    (re.compile(r"^cpu\b|^cpu$", re.I), None),
    (re.compile(r"amd|\bmi\d{3}", re.I), "amd.com/gpu"),
    (re.compile(r"tpu", re.I), "google.com/tpu"),
    (re.compile(r"neuron|inferentia|trainium|\binf\d|\btrn\d", re.I), "aws.amazon.com/neuron"),
    (re.compile(r"gaudi|habana", re.I), "habana.ai/gaudi"),
    (re.compile(r"gpu|nvidia|cuda|^(?:[ahbl]\d{1,3}s?|l40s?|t4|v100|gh200|gb200)\b", re.I), "nvidia.com/gpu"),
)


def _profile(value: Any, unknown: list[str] | None) -> dict[str, Any] | None:
    """kubeai ``resourceProfile: nvidia-gpu-l4:2`` -> ``{"nvidia.com/gpu": "2"}``; None for a CPU profile;
    a profile whose name says nothing about accelerators is described in ``unknown``."""
    text = str(value).strip()
    name, _, count = text.rpartition(":") if ":" in text else (text, "", "1")
    for pattern, resource in _PROFILE_RESOURCE:
        if pattern.search(name):
            return {resource: count} if resource else None
    if unknown is not None:
        unknown.append(f"resource profile {text[:80]!r} does not say whether it holds accelerators (its "
                       "definition is in the operator's config, not in the scanned files)")
    return None


def _sections(entry: dict[str, Any], holder: Any, qfield: str) -> dict[str, Any]:
    """``format: sections``: ``{limits: {gpu: "2", gpuType: ...}, requests: {...}}`` (Dynamo) -> one container's
    ``resources``; the resource is the ``name`` field of each section, else ``resource``."""
    out: dict[str, Any] = {}
    if not isinstance(holder, dict):
        return out
    for part in ("limits", "requests"):
        sec = holder.get(part)
        if not isinstance(sec, dict) or sec.get(qfield) is None:
            continue
        name = sec.get(str(entry["name"])) if entry.get("name") else None
        name = name if isinstance(name, str) and name else entry.get("resource")
        if isinstance(name, str):
            out[part] = {name: sec[qfield]}
    return out


_GPU_ITEMS_MAX = 256  # distinct containers kept from one `gpus` list (numeric counts are summed, never capped)


def _list_gpus(entry: dict[str, Any], items: list[Any], root: dict[str, Any], unknown: list[str] | None
               ) -> list[dict[str, Any]]:
    """A ``gpus`` path that is a list: one entry per item; numeric counts of one resource summed into one
    container (a hostile list of a million devices is one sum, not a million containers)."""
    sums: dict[str, float] = {}
    other: list[dict[str, Any]] = []
    one_entry = {"gpus": [{**entry, "path": "."}]}
    for item in items:
        if not isinstance(item, dict):
            continue
        for c in declared_gpus(one_entry, item, root, unknown):
            limits = c["resources"].get("limits") if isinstance(c.get("resources"), dict) else None
            if isinstance(limits, dict) and len(limits) == 1 and len(c["resources"]) == 1:
                (name, qty), = limits.items()
                if isinstance(qty, (int, float)) and not isinstance(qty, bool):
                    sums[name] = sums.get(name, 0) + qty
                    continue
            if len(other) < _GPU_ITEMS_MAX:
                other.append(c)
    return [{"resources": {"limits": {k: v}}} for k, v in sums.items()] + other


def declared_gpus(role: dict[str, Any], item: Any, root: dict[str, Any], unknown: list[str] | None = None
                  ) -> list[dict[str, Any]]:
    """Container-like ``{"resources": {"limits": {...}}}`` objects for a role's ``gpus`` entries
    (accelerators declared outside ``resources``: SparkApplication ``gpu: {name, quantity}``; kubeai
    ``resourceProfile: <profile>:<count>`` with ``format: profile``); what cannot be told goes to ``unknown``."""
    out: list[dict[str, Any]] = []
    for entry in role.get("gpus") or []:
        if not isinstance(entry, dict) or not entry.get("path"):
            continue
        holder = get_path(item, str(entry["path"]), root)
        if holder is None:
            continue
        if isinstance(holder, list):  # KubeVirt `devices.gpus: [{name, deviceName}]`: one entry per item
            out.extend(_list_gpus(entry, holder, root, unknown))
            continue
        qfield = str(entry.get("quantity") or "quantity")
        if entry.get("format") == "sections":
            res = _sections(entry, holder, qfield)
            if res:
                out.append({"resources": res})
            continue
        if qfield.isdigit():  # a literal count ("1": every item is one device)
            qty: Any = int(qfield)
        elif qfield == ".":
            qty = holder
        elif isinstance(holder, dict):
            qty = holder.get(qfield)
        else:
            continue
        if entry.get("format") == "profile":
            limits = _profile(qty, unknown)
            if limits:
                out.append({"resources": {"limits": limits}})
            continue
        when = entry.get("when")
        if isinstance(when, dict) and not (isinstance(holder, dict) and
                                           all(str(holder.get(k)) == str(v) for k, v in when.items())):
            continue  # KAITO `partition: {mode: accelerator, count: 2}`: GPUs only in accelerator mode
        name = entry.get("resource")
        if name is None and isinstance(holder, dict):
            name = holder.get(str(entry.get("name") or "name"))
        if not isinstance(name, str) or qty is None:
            continue
        out.append({"resources": {"limits": {name: qty}}})
    return out
