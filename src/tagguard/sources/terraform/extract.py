"""From one evaluated resource block to a ``Resource``: effective tags and compute.

The per-type knowledge lives in ``kinds.yaml``; the few shapes that need code
(ASG tag blocks, launch-template references, SageMaker endpoint -> endpoint
configuration) are the named extractors at the bottom.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from tagguard.model import Compute, Record
from tagguard.hcl.evaluate import ChildScope
from tagguard.sources.terraform.module import _safe_eval
from tagguard.hcl.values import PartialMap, Unknown

_MISSING = object()
TAG_STYLE = {"aws": "aws", "gcp": "gcp", "azure": "azure"}


@cache
def kinds() -> dict[str, dict]:
    return shipped_yaml("kinds.yaml")


class Kind:
    """A kind spec (a ``kinds.yaml`` entry, or a generic one for ``scope: all``) with what the
    reader asks of it for every resource looked up once: each lookup is exactly the
    ``spec.get(...)`` it replaces."""

    __slots__ = ("spec", "provider", "service", "tags", "tags_origin", "default_tags", "ai", "taggable",
                 "style", "fix_provider", "instance_type", "units", "spot", "accelerator", "extractor",
                 "billed_by_capacity", "provider_key")

    def __init__(self, spec: dict, rtype: str | None = None) -> None:
        self.spec = spec
        # module.provider_key_of(rtype): the key of the resource type's default provider configuration
        self.provider_key = rtype.split("_", 1)[0] if rtype is not None else ""
        self.provider = spec.get("provider")
        self.service = spec.get("service")
        self.tags = spec.get("tags")
        self.tags_origin = f"`{self.tags}`"
        self.default_tags = spec.get("default_tags")
        self.ai = spec.get("ai")
        self.taggable = spec.get("taggable", True)
        self.fix_provider = spec.get("provider", "aws")
        self.style = TAG_STYLE.get(self.fix_provider, "aws")
        self.instance_type = spec.get("instance_type", []) or []
        self.units = spec.get("units", []) or []
        self.spot = spec.get("spot", []) or []
        self.accelerator = spec.get("accelerator")
        self.extractor = spec.get("extractor")
        self.billed_by_capacity = bool(self.instance_type or self.accelerator or self.units or self.extractor)


_KINDS: dict[str, Kind] = {}  # made on first use; only kinds.yaml's types, so bounded by the table


def kind_of(rtype: str) -> Kind | None:
    """The ``Kind`` of a resource type that ``kinds.yaml`` describes, else None."""
    kind = _KINDS.get(rtype)
    if kind is None:
        spec = kinds().get(rtype)
        if spec is None:
            return None
        kind = _KINDS[rtype] = Kind(spec, rtype)
    return kind


PACKAGE = "tagguard.sources.terraform"
SHIPPED_YAML = ("kinds.yaml", "taggable.yaml")


def shipped_yaml(name: str) -> Any:
    """One of this package's YAML data files (``SHIPPED_YAML``), read through its JSON twin
    (``kinds.yaml`` -> ``kinds.json``) when the twin was written from these exact bytes: a Terraform
    scan then needs no YAML parser (importing PyYAML costs more than the rest of reading the tables).
    A missing, stale or broken twin is ignored and the YAML itself is read.  The twins are written by
    ``python -m tagguard.sources.terraform.extract`` (tests/test_scan_speed.py checks they are current)."""
    import json

    from tagguard.resources import package_text
    from tagguard.safeio import sha256_hex

    text = package_text(PACKAGE, name)
    try:
        twin = json.loads(package_text(PACKAGE, _twin_name(name)))
        if isinstance(twin, dict) and twin.get("sha256") == sha256_hex(text.encode("utf-8")):
            return twin["data"]
    except (OSError, ValueError, KeyError):
        pass
    from tagguard import yamlio

    return yamlio.load(text)


def _twin_name(name: str) -> str:
    return name.rsplit(".", 1)[0] + ".json"


def write_json_twins() -> list[str]:
    """(Re)write the JSON twin of every shipped YAML table next to it; returns the paths written."""
    import hashlib
    import json

    from tagguard import yamlio
    from tagguard.resources import package_file

    written = []
    for name in SHIPPED_YAML:
        source = package_file(PACKAGE, name)
        text = source.read_text(encoding="utf-8")
        twin = {"generated_from": name, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
                "data": yamlio.load(text)}
        target = source.with_name(_twin_name(name))
        target.write_text(json.dumps(twin, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        written.append(str(target))
    return written


# --- tag maps ---------------------------------------------------------------------

@dataclass(init=False, repr=False, eq=False)  # repr and == from Record; __init__ written here
class TagMap(Record):
    """A tag map split into what is known, what is unresolved and whether more may exist.

    Its ``__init__`` is written out, not generated: a scan makes about three a resource, and the generated one
    with its three default factories costs ~25 % more per map."""

    __slots__ = ("known", "unresolved", "open", "open_reason", "origins")
    known: dict[str, str]
    unresolved: dict[str, str]  # key -> reason
    open: bool
    open_reason: str | None
    origins: dict[str, str]

    def __init__(self, known: dict[str, str] | None = None, unresolved: dict[str, str] | None = None,
                 open: bool = False, open_reason: str | None = None, origins: dict[str, str] | None = None) -> None:
        self.known = {} if known is None else known
        self.unresolved = {} if unresolved is None else unresolved
        self.open = open
        self.open_reason = open_reason
        self.origins = {} if origins is None else origins

    @classmethod
    def of(cls, value: Any, origin: str) -> TagMap:
        out = cls()
        if value is None or value is _MISSING:
            return out
        if type(value) is not dict:  # a plain dict (most tag maps) is none of the cases below
            return cls._of_other(out, value, origin)
        return cls._fill(out, value, origin)

    @classmethod
    def _of_other(cls, out: TagMap, value: Any, origin: str) -> TagMap:
        if isinstance(value, Unknown):
            out.open = True
            out.open_reason = (f"{origin} is not known statically ({value.reason})" if value.reason
                               else f"{origin} is not known statically")
            return out
        if not isinstance(value, Mapping):
            out.open = True
            out.open_reason = f"{origin} is not a map"
            return out
        if isinstance(value, PartialMap) and value.open:
            out.open = True
            out.open_reason = (f"{origin} merges values tagguard cannot see ({'; '.join(value.open_reasons)})"
                               if value.open_reasons else f"{origin} merges values tagguard cannot see")
        return cls._fill(out, value, origin)

    @staticmethod
    def _fill(out: TagMap, value: Mapping, origin: str) -> TagMap:
        known, origins = out.known, out.origins
        for key, val in value.items():
            key = str(key)
            if type(val) is str:  # nearly every tag value: the checks below would keep it as it is
                known[key] = val
                origins[key] = origin
                continue
            if val is None:
                continue  # Terraform drops null-valued tags
            resolved, text = _tag_value(val)
            if resolved:
                known[key] = text
            else:
                out.unresolved[key] = text
            origins[key] = origin
        return out

    def put(self, key: str, value: Any, origin: str) -> None:
        """``self.absorb(TagMap.of({key: value}, origin))`` for one tag, without building that
        one-key map (ASG ``tag`` blocks: one call per block)."""
        if value is None:
            return  # Terraform drops null-valued tags
        resolved, text = (True, value) if type(value) is str else _tag_value(value)
        if resolved:
            self.known[key] = text
            if self.unresolved:
                self.unresolved.pop(key, None)
        else:
            self.unresolved[key] = text
            self.known.pop(key, None)
        self.origins[key] = origin

    def overlay(self, other: TagMap) -> TagMap:
        """``other`` wins on conflicts (resource tags over provider default tags)."""
        known, unresolved = dict(self.known), dict(self.unresolved)
        known.update(other.known)
        if unresolved:  # nearly always empty: nothing a known value of ``other`` would resolve
            for k in other.known:
                unresolved.pop(k, None)
        if other.unresolved:
            unresolved.update(other.unresolved)
            for k in other.unresolved:
                known.pop(k, None)
        origins = dict(self.origins)
        origins.update(other.origins)
        return TagMap(known, unresolved, self.open or other.open, other.open_reason or self.open_reason, origins)

    def absorb(self, other: TagMap) -> None:
        """``self = self.overlay(other)`` in place, for a map being built that nothing else holds."""
        known, unresolved = self.known, self.unresolved
        known.update(other.known)
        if unresolved:
            for k in other.known:
                unresolved.pop(k, None)
        if other.unresolved:
            unresolved.update(other.unresolved)
            for k in other.unresolved:
                known.pop(k, None)
        self.origins.update(other.origins)
        self.open = self.open or other.open
        self.open_reason = other.open_reason or self.open_reason

    def keys(self) -> list[str]:
        return list(self.known) + [k for k in self.unresolved if k not in self.known]

    def apply_to(self, res) -> None:
        """Set a Resource's tag fields from this map (known, unresolved with reasons, open), as copies."""
        self.give_to(res)
        res.tags = dict(self.known)
        res.tag_origins = dict(self.origins)

    def give_to(self, res) -> None:
        """``apply_to`` for a map that nothing holds or reads afterwards (the reader's effective tags of the
        resource it just made): the resource takes the map's own dicts instead of copies of them."""
        res.tags = self.known
        if self.unresolved:
            res.unresolved_tags = sorted(k for k in self.unresolved if k not in self.known)
            res.unresolved_reasons = {k: self.unresolved[k] for k in res.unresolved_tags}
        else:  # the Resource's own empty ones (a new resource's fields are fresh)
            res.unresolved_tags = []
            res.unresolved_reasons = {}
        res.tags_open = self.open
        res.open_reason = self.open_reason
        res.tag_origins = self.origins


def _tag_value(val: Any) -> tuple[bool, str]:
    """A tag value that is not a string or null: ``(True, text)`` when it is known (numbers,
    booleans), ``(False, why)`` when it is unresolved."""
    if isinstance(val, Unknown):
        return False, val.reason or "known only after apply"
    if isinstance(val, (Mapping, list)):
        return False, "value is not a string"
    return True, _tag_str(val)


def _tag_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- generic paths ---------------------------------------------------------------------

def blocks_named(body, name: str, scope) -> list[tuple[Any, Any]]:
    """Nested blocks ``name`` including expanded ``dynamic "name"`` blocks -> [(body, scope)]."""
    every = getattr(body, "blocks", None)
    if every is None:  # a plan's resource values (plan.py): blocks by name only
        out = [(b.body, scope) for b in body.blocks_of(name)]
        dynamic = [d for d in body.blocks_of("dynamic") if d.labels and d.labels[0] == name]
    else:  # one pass over the body's blocks; static ones first, then the dynamic ones
        out = []
        dynamic = []
        for b in every:
            if b.type == name:
                out.append((b.body, scope))
            elif b.type == "dynamic" and b.labels and b.labels[0] == name:
                dynamic.append(b)
    for dyn in dynamic:
        content = dyn.body.blocks_of("content")
        if not content:
            continue
        iterator = name
        it_attr = dyn.body.get("iterator")
        if it_attr is not None:
            try:
                iterator = it_attr.expr.source_text().strip()
            except Exception:  # noqa: BLE001
                iterator = name
        fe = dyn.body.get("for_each")
        value = _safe_eval(fe.expr, scope) if fe is not None else Unknown("dynamic block without for_each")
        if isinstance(value, Unknown) or (isinstance(value, PartialMap) and value.open):
            why = value.reason if isinstance(value, Unknown) else "; ".join(value.open_reasons)
            unknown = Unknown(f'dynamic "{name}" for_each is not known statically' + (f" ({why})" if why else ""))
            if isinstance(value, PartialMap):  # the entries whose keys are known are still blocks
                for k in sorted(value):
                    out.append((content[0].body, ChildScope(scope, {iterator: {"key": k, "value": value[k]}})))
            unknown_scope = ChildScope(scope, {iterator: {"key": unknown, "value": unknown},
                                               "__dynamic_unknown__": True})
            out.append((content[0].body, unknown_scope))
            continue
        items = (list(value.items()) if isinstance(value, Mapping)
                 else list(enumerate(value)) if isinstance(value, list) else [])
        for k, v in items:
            out.append((content[0].body, ChildScope(scope, {iterator: {"key": k, "value": v}})))
    return out


# "a.b[*]" -> (("a", "b"), True, None), "a" -> (("a",), False, "a"): the parts, whether the last one
# ends in [*], and the name of a one-part path; paths come from kinds.yaml and code
_PATHS: dict[str, tuple[tuple[str, ...], bool, str | None]] = {}


def get_path(body, path: str, scope) -> Any:
    """Evaluate ``a.b.c`` where leading parts are nested blocks (or object attributes)."""
    parsed = _PATHS.get(path)
    if parsed is None:
        split = path.split(".")
        parts = tuple(p[:-3] if p.endswith("[*]") else p for p in split)
        parsed = (parts, split[-1].endswith("[*]"), parts[0] if len(parts) == 1 else None)
        if len(_PATHS) < 4096:  # config-declared kinds add paths too: bounded
            _PATHS[path] = parsed
    parts, star_last, single = parsed
    # expr.eval directly, not through module._safe_eval: an expression's eval never raises (it returns
    # an Unknown for what fails: hcl.evaluate.Expr.eval, plan._Expr.eval), so that frame only costs
    if single is not None:  # a top-level attribute: most paths
        attr = body.get(single)
        if attr is None:
            return _MISSING
        value = attr.expr.eval(scope)
        return _first(value) if star_last else value
    current_body, current_scope = body, scope
    for i, part in enumerate(parts[:-1]):
        # a .tf body without nested blocks has none named `part`, static or dynamic (plan values: no .blocks)
        found = blocks_named(current_body, part, current_scope) if getattr(current_body, "blocks", True) else None
        if found:
            current_body, current_scope = found[0]
            continue
        attr = current_body.get(part)
        if attr is None:
            return _MISSING
        value = attr.expr.eval(current_scope)
        for rest in parts[i + 1:]:
            if isinstance(value, list):
                value = value[0] if value else _MISSING
            if isinstance(value, Mapping):
                value = value.get(rest, _MISSING)
            elif isinstance(value, Unknown):
                return value
            else:
                return _MISSING
        return _first(value) if star_last else value
    attr = current_body.get(parts[-1])
    if attr is None:
        return _MISSING
    value = attr.expr.eval(current_scope)
    return _first(value) if star_last else value


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else _MISSING
    return value


def known(value: Any) -> bool:
    return value is not _MISSING and value is not None and not isinstance(value, Unknown)


# --- accelerators -------------------------------------------------------------------------

_GCP_GPU = re.compile(r"(gb200|b200|h200|h100|a100|l40s|l40|l4|a10g|a10|t4|v100|p100|p4|k80|tpu[\w-]*)", re.I)


def gpu_from_accelerator_type(name: str) -> str:
    m = _GCP_GPU.search(name or "")
    return m.group(1).upper() if m else name


_CATALOG: Any = None  # tagguard.pricing.catalog once imported (an import statement per call costs more than the answer)


def catalog_info(instance_type: str) -> tuple[str | None, float | None] | None:
    global _CATALOG
    if _CATALOG is None:
        try:
            from tagguard.pricing import catalog
        except ModuleNotFoundError:  # pricing not part of this build
            return None
        _CATALOG = catalog
    try:
        return _CATALOG.accelerator_info(instance_type)
    except Exception:  # noqa: BLE001 - a catalog problem must not stop the scan
        return None


def compute_for(spec: dict | Kind, body, scope, multiplier: int | None, count: int | None,
                unknown: list[str] | None = None, conflicts: list[str] | None = None,
                accelerators: dict[str, Any] | None = None) -> tuple[Compute, bool]:
    """Compute profile and whether the resource is AI, from the kind's paths.

    ``unknown`` collects what about the size could not be resolved (for "possibly AI");
    ``conflicts`` collects accelerator blocks that contradict a machine type's built-in GPUs;
    ``accelerators``: the caller's memo of ``catalog_info`` answers, kept for one scan."""
    kind = spec if isinstance(spec, Kind) else Kind(spec)
    comp = Compute(provider=kind.provider, service=kind.service)
    unknown = unknown if unknown is not None else []
    # the steps below are skipped when the kind has no paths for them, where they would do nothing
    itype = _instance_type(kind, body, scope, comp, unknown) if kind.instance_type else None
    comp.instance_type = itype
    ai = kind.ai == "always"
    if itype:
        # one scan asks one rate card: the same type gets the same answer (a memo hit skips ~5 K instructions
        # of calls down to the card's own memo); bounded, as a scan may name any number of types
        info: Any = accelerators.get(itype, _MISSING) if accelerators is not None else _MISSING
        if info is _MISSING:
            info = catalog_info(itype)
            if accelerators is not None and len(accelerators) < 1024:
                accelerators[itype] = info
        if info is not None:
            comp.accelerator, comp.gpus_per_unit = info
            ai = ai or kind.ai == "instance"
    acc_path = kind.accelerator
    if acc_path and _apply_accelerators(comp, itype, acc_path, body, scope, unknown, conflicts):
        ai = ai or kind.ai == "instance"
    units = _units(kind, body, scope, comp) if kind.units else 1
    # units x count x multiplier, None when any of them is unknown
    comp.units = None if units is None or count is None or multiplier is None else units * count * multiplier
    if kind.spot and _is_spot(kind, body, scope):
        comp.pricing_model = "spot"
    if kind.ai == "never":
        ai = False
    return comp, ai


def _instance_type(kind: Kind, body, scope, comp: Compute, unknown: list[str]) -> str | None:
    """The first of the kind's instance-type paths that is known (or narrowed to GPU candidates)."""
    for path in kind.instance_type:
        value = get_path(body, path, scope)
        if isinstance(value, str):  # known(value) too: a str is not _MISSING, None or an Unknown
            return value
        if isinstance(value, Unknown):
            itype = size_from_unknown(comp, path, value, unknown, kind.provider)
            if itype:
                return itype
    return None


def _apply_accelerators(comp: Compute, itype: str | None, acc_path: str, body, scope, unknown: list[str],
                        conflicts: list[str] | None) -> bool:
    """Accelerator blocks (``guest_accelerator``...) on ``comp``; whether there are any."""
    acc = _accelerators(body, acc_path, scope)
    if acc is None:
        return False
    model, gpus = acc
    if comp.gpus_per_unit and comp.accelerator and itype:
        # A2/A3/G2 machine types come with their GPUs: a matching guest_accelerator block
        # describes the same GPUs, it does not add to them
        same = (short_model(model) == short_model(comp.accelerator)
                and (gpus is None or gpus == comp.gpus_per_unit))
        if not same and conflicts is not None:
            shown = f"{gpus:g} x {model}" if gpus is not None else f"{model} (count unknown)"
            conflicts.append(f"{itype} has {comp.gpus_per_unit:g} x {comp.accelerator} built in,"
                             f" but `{acc_path}` "
                             f"asks for {shown}")
    else:
        comp.accelerator = comp.accelerator or model
        comp.gpus_per_unit = (comp.gpus_per_unit or 0) + gpus if gpus is not None else comp.gpus_per_unit
        if gpus is None:
            unknown.append(f"the GPU count of `{acc_path}` is not known statically")
    return True


def _units(kind: Kind, body, scope, comp: Compute) -> int | None:
    """Units per instance from the kind's unit paths (1 when none is set; None, with a note, when unknown)."""
    for path in kind.units:
        value = get_path(body, path, scope)
        if isinstance(value, (int, float)) and not isinstance(value, bool):  # and so known(value)
            return int(value)
        if isinstance(value, Unknown):
            why = f" ({value.reason})" if value.reason else ""
            comp.notes.append(f"{path} is not known statically{why}:"
                              f" pass it with --var or a tfvars file, or units in a usage file")
            return None
    return 1


def _is_spot(kind: Kind, body, scope) -> bool:
    """Whether one of the kind's spot conditions holds."""
    for cond in kind.spot:
        if cond.get("always"):
            return True
        value = get_path(body, cond["path"], scope)
        if not known(value):
            continue
        want = cond.get("equals")
        if isinstance(want, str) and isinstance(value, str) and value.lower() == want.lower():
            return True
        if want is not None and value == want:
            return True
    return False


def short_model(name: str | None) -> str | None:
    from tagguard.pricing.gpus import short_gpu_model

    return short_gpu_model(name) or (name.upper() if name else None)


def size_from_unknown(comp: Compute, path: str, value: Unknown, unknown: list[str], provider: str | None) -> str | None:
    """An instance type tagguard cannot resolve.  When the code narrows it to a list of candidates
    (a validation's allowed values, tfvars files) and every candidate has GPUs, the resource IS
    AI: the cheapest candidate is priced, and the notes say so.  When no candidate has GPUs it
    is not AI.  Otherwise the size stays unknown and ``unknown`` says why."""
    from tagguard.sources.terraform.module import Candidates

    if not isinstance(value, Candidates) or not value.values:
        why = value.reason or "known only after apply"
        unknown.append(f"`{path}` is not known statically ({why})")
        return None
    listed = ", ".join(value.values)
    gpu = [v for v in value.values if catalog_info(v) is not None]
    if not gpu:
        comp.notes.append(f"{path} is one of {listed} ({value.origin}); none has GPUs or AI accelerators")
        return None
    if len(gpu) < len(value.values):
        unknown.append(f"`{path}` is one of {listed} ({value.origin}); {', '.join(gpu)} "
                       f"{'has' if len(gpu) == 1 else 'have'} GPUs, the others do not")
        return None
    chosen = _cheapest(gpu, provider)
    comp.notes.append(f"{path} is one of {listed} ({value.origin}); every one has GPUs, so it is AI; "
                      f"priced at the cheapest, {chosen}: pass the real value with --var or a tfvars file "
                      f"to price it exactly")
    return chosen


def _cheapest(types: list[str], provider: str | None) -> str:
    try:
        from tagguard.pricing.refresh import local_ratecard
    except ModuleNotFoundError:  # pricing not part of this build
        return types[0]
    try:  # the card the scan prices with: the shipped one, with the local one of `pricing refresh` over it
        card = local_ratecard()
    except Exception:  # noqa: BLE001 - a bad local card is the pricing step's to report
        card = None

    def rate(t: str) -> float:
        try:
            info = card.lookup(t, provider) if card is not None else None
        except Exception:  # noqa: BLE001 - a catalog problem must not stop the scan
            info = None
        value = info.rate("on_demand") if info is not None else None
        return value if value is not None else float("inf")

    return min(types, key=rate)  # ties and unpriced: the first listed


def _accelerators(body, path: str, scope) -> tuple[str, float | None] | None:
    *head, last = path.split(".")
    holder_body, holder_scope = body, scope
    for part in head:
        found = blocks_named(holder_body, part, holder_scope)
        if not found:
            return None
        holder_body, holder_scope = found[0]
    entries: list[tuple[Any, Any]] = []
    for b, s in blocks_named(holder_body, last, holder_scope):
        entries.append((get_path(b, "type", s) if b.get("type") is not None else get_path(b, "core_type", s),
                        get_path(b, "count", s) if b.get("count") is not None else get_path(b, "core_count", s)))
    attr = holder_body.get(last) if not entries else None  # .tf.json: a property is both block and attribute
    if attr is not None:  # attribute-as-block syntax: guest_accelerator = [{type = ..., count = ...}]
        value = _safe_eval(attr.expr, holder_scope)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    entries.append((item.get("type"), item.get("count")))
    if not entries:
        return None
    model, total = None, 0.0
    for typ, cnt in entries:
        if isinstance(typ, str):
            model = model or gpu_from_accelerator_type(typ)
        if isinstance(cnt, (int, float)) and not isinstance(cnt, bool):
            total += cnt
        elif cnt is _MISSING:
            total += 1
        else:
            return (model or "GPU", None)
    if total == 0:
        return None
    return (model or "GPU", total)


if __name__ == "__main__":  # python -m tagguard.sources.terraform.extract: refresh the JSON twins
    for path in write_json_twins():
        print(path)
