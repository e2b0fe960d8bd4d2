"""The shipped GPU rate card (``policies/ratecard.json``), loaded lazily once.

``lookup`` finds an instance type of any cloud; ``accelerator_info`` also
recognises sizes missing from the card through the card's instance-family
patterns (``g5.*``, ``a3-highgpu-*``, ``Standard_NC*ads_A100_v4``...);
``gpu_hourly`` gives the per-GPU-hour fallback rate for workloads whose node
type is unknown.  The rate card is built from the shared pricing catalog by
``scripts/build_ratecard.py``; see ``policies/ratecard.README.md``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple
from collections.abc import Callable

from tagguard.model import Record

RATECARD = "ratecard.json"
CLOUD_PROVIDERS = ("aws", "gcp", "azure")
RATE_FIELDS = ("on_demand", "spot", "reserved_1yr", "reserved_3yr")


def data_path(name: str) -> Path:
    """Path of a shipped ``policies/<name>`` file (wheel or checkout)."""
    from tagguard.resources import data_file

    return data_file(f"policies/{name}")


# The card's rows are NamedTuples, not frozen dataclasses: immutable and compared by value all the same, and
# the class costs a quarter as much to create (a frozen dataclass compiles six generated methods when this
# module is imported, which every scan does: 4 ms of its start).  A changed copy is ``row._replace(...)``.


class Source(NamedTuple):
    id: str
    url: str
    date: str
    covers: str | None = None


class InstanceInfo(NamedTuple):
    """One rate-card row.  Rates are USD per hour per instance; ``None`` = no citable source."""

    key: str  # "aws/p4d.24xlarge"
    provider: str
    service: str
    instance_type: str
    accelerator: str  # full name, e.g. "NVIDIA A100 80GB PCIe"
    gpu_model: str  # short model, e.g. "A100"
    accelerator_count: float  # fractional for GPU partitions
    accelerator_memory_gib: float | None
    vcpus: int | None
    memory_gib: float | None
    region: str | None
    on_demand: float | None
    on_demand_source: str | None
    spot: float | None
    spot_source: str | None
    spot_kind: str | None
    spot_discount_pct: float | None
    reserved_1yr: float | None
    reserved_3yr: float | None
    reserved_source: str | None
    reserved_kind: str | None = None
    on_demand_history: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    specs_source: tuple[str, ...] = ()

    def rate(self, kind: str) -> float | None:
        """``kind``: on_demand | spot | reserved_1yr | reserved_3yr."""
        return getattr(self, kind)

    def rate_source(self, kind: str) -> str | None:
        if kind.startswith("reserved"):
            return self.reserved_source if self.rate(kind) is not None else None
        return getattr(self, f"{kind}_source")

    @property
    def gpus(self) -> float:
        return self.accelerator_count


class Family(NamedTuple):
    key: str  # "aws/g5"
    provider: str
    service: str
    family: str
    pattern: str  # display form: "g5.*", "Standard_NC*ads_A100_v4"
    regex: str  # matched against the lower-cased instance type
    gpu_model: str
    accelerator: str | None
    members: tuple[str, ...]
    gpus_from_name: str | None = None  # regex whose group 1 is the GPU count (GCP "-8g")

    def matches(self, normalized: str) -> bool:
        return re.match(self.regex, normalized) is not None

    def gpus_for(self, normalized: str) -> float | None:
        if not self.gpus_from_name:
            return None
        m = re.match(self.gpus_from_name, normalized)
        return float(m.group(1)) if m else None


class GpuRate(NamedTuple):
    gpu_model: str
    usd_per_gpu_hour: float | None
    derived_from: str | None  # rate-card key, e.g. "aws/p5.48xlarge"
    source: str | None
    region: str | None
    reason: str | None = None


@dataclass(repr=False, eq=False)  # repr and == from Record
class RateCard(Record):
    raw: dict[str, Any]
    instances: dict[str, InstanceInfo] = field(default_factory=dict)
    by_name: dict[str, list[InstanceInfo]] = field(default_factory=dict)  # normalized name -> rows
    families: list[Family] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)
    gpu_rates: dict[str, GpuRate] = field(default_factory=dict)
    # Answers of the lookups below by (question, instance type, provider): a scan asks about the same few
    # types thousands of times (each is normalised and matched against the families' patterns).  A card
    # is not changed once it has answered (``pricing.refresh.overlay`` changes a new copy, whose memo
    # ``dataclasses.replace`` starts empty); code that edits a card in place must call ``forget()``.
    _memo: dict[tuple[str, str, str | None], Any] = field(default_factory=dict, init=False, repr=False,
                                                          compare=False)

    @property
    def hours_per_month(self) -> float:
        return float(self.raw.get("hours_per_month", 730))

    # The lookups below read this card only: a pricer given a card (the shipped one, or the shipped
    # one with a local card laid over it) prices from that card and nothing else.

    def forget(self) -> None:
        """Drop the memo of lookups (after changing this card's rows or families in place)."""
        self._memo.clear()

    def _memoised(self, question: str, answer: Callable[[Any, Any], Any], instance_type: Any, provider: Any) -> Any:
        """``answer(instance_type, provider)``, asked once per card for string arguments."""
        if type(instance_type) is not str or (provider is not None and type(provider) is not str):
            return answer(instance_type, provider)
        key = (question, instance_type, provider)
        try:
            return self._memo[key]
        except KeyError:
            pass
        value = answer(instance_type, provider)
        if len(self._memo) < _MEMO_MAX:
            self._memo[key] = value
        return value

    def lookup(self, instance_type: str | None, provider: str | None = None) -> InstanceInfo | None:
        """The row for a type (see the module function ``lookup``)."""
        if not instance_type:
            return None
        return self._memoised("lookup", self._lookup, instance_type, provider)

    def _lookup(self, instance_type: str, provider: str | None) -> InstanceInfo | None:
        want = _provider_filter(provider)
        for name in _candidates(instance_type):
            for info in self.by_name.get(name, ()):
                if want is None or info.provider == want:
                    return info
        return None

    def find_family(self, instance_type: str | None, provider: str | None = None) -> Family | None:
        """The accelerated instance family a type belongs to, even when this size is not in the card."""
        if not instance_type:
            return None
        return self._memoised("family", self._find_family, instance_type, provider)

    def _find_family(self, instance_type: str, provider: str | None) -> Family | None:
        want = _provider_filter(provider)
        for name in _candidates(instance_type):
            for fam in self.families:
                if (want is None or fam.provider == want) and fam.matches(name):
                    return fam
        return None

    def accelerator_info(self, instance_type: str | None,
                         provider: str | None = None) -> tuple[str | None, float | None] | None:
        """``(gpu_model, gpus_per_unit)`` for an accelerated type (see the module function)."""
        return self._memoised("accelerator", self._accelerator_info, instance_type, provider)

    def _accelerator_info(self, instance_type: str | None,
                          provider: str | None) -> tuple[str | None, float | None] | None:
        info = self.lookup(instance_type, provider)
        if info is not None:
            return info.gpu_model, float(info.accelerator_count)
        fam = self.find_family(instance_type, provider)
        if fam is not None:
            return fam.gpu_model, fam.gpus_for(normalize(instance_type or ""))
        if self.unknown_gpu_family(instance_type, provider) is not None:
            return None, None  # accelerated by its name; model and count unknown (not in the card)
        return None

    def unknown_gpu_family(self, instance_type: str | None, provider: str | None = None) -> str | None:
        """The family of a type named by an accelerated scheme that this card does not know."""
        if not instance_type or self.lookup(instance_type, provider) is not None \
                or self.find_family(instance_type, provider):
            return None
        want = _provider_filter(provider)
        for name in _candidates(instance_type):
            for cloud, rx in gpu_schemes():
                if want is not None and cloud != want:
                    continue
                m = rx.match(name)
                if m:
                    return m.group(1)
        return None

    def gpu_hourly(self, gpu_model: str | None) -> GpuRate | None:
        """Per-GPU-hour fallback rate for a GPU model (any spelling: "H100", "nvidia-h100-80gb")."""
        from tagguard.pricing.gpus import short_gpu_model

        if not gpu_model:
            return None
        model = gpu_model if gpu_model in self.gpu_rates else short_gpu_model(gpu_model)
        return self.gpu_rates.get(model) if model else None

    def source(self, source_id: str | None) -> Source | None:
        return self.sources.get(source_id) if source_id else None


_CARD: RateCard | None = None


def load(path: Path | None = None) -> RateCard:
    """The rate card (cached after the first call unless ``path`` is given)."""
    global _CARD
    if path is None and _CARD is not None:
        return _CARD
    source = Path(path) if path is not None else data_path(RATECARD)
    card = _parse(json.loads(source.read_text(encoding="utf-8")))
    if path is None:
        _CARD = card
    return card


def _parse(raw: dict[str, Any]) -> RateCard:
    card = RateCard(raw=raw)
    for sid, s in raw.get("sources", {}).items():
        card.sources[sid] = Source(id=sid, url=s["url"], date=str(s["date"]), covers=s.get("covers"))
    for key, e in raw.get("instances", {}).items():
        info = InstanceInfo(
            key=key,
            provider=e["provider"], service=e["service"], instance_type=e["instance_type"],
            accelerator=e["accelerator"], gpu_model=e["gpu_model"],
            accelerator_count=e["accelerator_count"], accelerator_memory_gib=e.get("accelerator_memory_gib"),
            vcpus=e.get("vcpus"), memory_gib=e.get("memory_gib"), region=e.get("region"),
            on_demand=e.get("on_demand"), on_demand_source=e.get("on_demand_source"),
            spot=e.get("spot"), spot_source=e.get("spot_source"), spot_kind=e.get("spot_kind"),
            spot_discount_pct=e.get("spot_discount_pct"),
            reserved_1yr=e.get("reserved_1yr"), reserved_3yr=e.get("reserved_3yr"),
            reserved_source=e.get("reserved_source"), reserved_kind=e.get("reserved_kind"),
            on_demand_history=tuple(e.get("on_demand_history") or ()),
            notes=tuple(e.get("notes") or ()), specs_source=tuple(e.get("specs_source") or ()),
        )
        card.instances[key] = info
        card.by_name.setdefault(info.instance_type.lower(), []).append(info)
    for key, f in sorted(raw.get("families", {}).items()):
        card.families.append(Family(
            key=key, provider=f["provider"], service=f["service"], family=f["family"], pattern=f["pattern"],
            regex=f["regex"], gpu_model=f["gpu_model"], accelerator=f.get("accelerator"),
            members=tuple(f.get("members") or ()), gpus_from_name=f.get("gpus_from_name"),
        ))
    for model, g in raw.get("gpu_hourly_usd", {}).items():
        card.gpu_rates[model] = GpuRate(
            gpu_model=model, usd_per_gpu_hour=g.get("usd_per_gpu_hour"), derived_from=g.get("derived_from"),
            source=g.get("source"), region=g.get("region"), reason=g.get("reason"),
        )
    return card


# --- names ----------------------------------------------------------------------

def normalize(instance_type: str) -> str:
    """Lower-cased bare type name: GCP ``zones/z/machineTypes/a2-highgpu-1g`` -> ``a2-highgpu-1g``."""
    name = str(instance_type).strip()
    if "/" in name:
        name = name.rstrip("/").rsplit("/", 1)[1]
    return name.lower()


_AZURE_BARE = re.compile(r"^(n[cdv]|nd)[0-9]")
_MEMO_MAX = 4096  # bounded: instance types come from scanned files


def _candidates(instance_type: str) -> tuple[str, ...]:
    name = normalize(instance_type)
    if name and not name.startswith("standard_") and _AZURE_BARE.match(name):
        return (name, "standard_" + name)  # Azure size written without its tier prefix
    return (name,)


def _provider_filter(provider: str | None) -> str | None:
    p = (provider or "").lower()
    return p if p in CLOUD_PROVIDERS else None  # "kubernetes" or None: any cloud


# --- API ------------------------------------------------------------------------

def lookup(instance_type: str | None, provider: str | None = None) -> InstanceInfo | None:
    """The rate-card row for a type: ``p4d.24xlarge``, ``ml.g5.xlarge`` (SageMaker),
    ``a3-highgpu-8g`` (GCP), ``standard_nc24ads_a100_v4`` (Azure, any case).

    ``provider`` (aws | gcp | azure) narrows the search; anything else searches every cloud.
    """
    return load().lookup(instance_type, provider)


def find_family(instance_type: str | None, provider: str | None = None) -> Family | None:
    """The accelerated instance family a type belongs to, even when this size is not in the card."""
    return load().find_family(instance_type, provider)


def accelerator_info(instance_type: str | None, provider: str | None = None) -> tuple[str | None, float | None] | None:
    """``(gpu_model, gpus_per_unit)`` for an accelerated type, else ``None``.

    A size missing from the card but in a known family gives ``(model, None)``
    (count unknown) unless the name encodes the count (GCP ``a3-highgpu-4g``).
    A family the card does not know, named by an accelerated scheme (``g7e.2xlarge``,
    see ``gpu_schemes``), gives ``(None, None)``: AI, model and count unknown.
    """
    return load().accelerator_info(instance_type, provider)


@cache  # compiled on first use (~3 M instructions at import): only a type missing from the card needs them
def gpu_schemes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Naming schemes whose every family is accelerated: a family newer than the card is still GPU/
    accelerator capacity.  AWS p*/g*/gr*/trn*/inf*/dl* (and SageMaker ml.*), GCP A- and G-series
    accelerator-optimized types (a2/a3/a4/g2/g4...), Azure N-series (NC/ND/NG/NV).  Group 1 is the family."""
    return (
        ("aws", re.compile(r"^(?:ml\.)?((?:p|g|gr|trn|inf|dl)[0-9]+[a-z0-9-]*)\.[a-z0-9-]+$")),
        ("gcp", re.compile(r"^((?:a|g)[0-9]+[a-z]*)-[a-z]+-[0-9]+[a-z]*$")),
        ("azure", re.compile(r"^standard_(n[cdgv][a-z]*[0-9]+[a-z0-9_]*)$")),
    )


def unknown_gpu_family(instance_type: str | None, provider: str | None = None) -> str | None:
    """The family of a type that follows an accelerated naming scheme but is not in the card
    (neither the size nor its family): e.g. ``g7e`` for ``g7e.2xlarge``.  ``None`` otherwise."""
    return load().unknown_gpu_family(instance_type, provider)


def known_family(family: str, provider: str | None = "aws") -> bool:
    """Whether the card knows an instance family by name (``g5``, ``p4d``)."""
    want = _provider_filter(provider)
    fam = str(family).lower()
    return any(f.family.lower() == fam and (want is None or f.provider == want) for f in load().families) or \
        any(i.instance_type.lower().split(".")[0] == fam and (want is None or i.provider == want)
            for i in load().instances.values())


def is_accelerated(instance_type: str | None, provider: str | None = None) -> bool:
    return accelerator_info(instance_type, provider) is not None


def gpu_hourly(gpu_model: str | None) -> GpuRate | None:
    """Per-GPU-hour fallback rate for a GPU model (any spelling: "H100", "nvidia-h100-80gb")."""
    return load().gpu_hourly(gpu_model)


def source(source_id: str | None) -> Source | None:
    return load().source(source_id)


def all_instance_types(provider: str | None = None) -> list[str]:
    want = _provider_filter(provider)
    return sorted(i.instance_type for i in load().instances.values() if want is None or i.provider == want)


def suggest(instance_type: str, provider: str | None = None, n: int = 3) -> list[str]:
    """Close rate-card names for a "did you mean" hint."""
    import difflib

    names = {t.lower(): t for t in all_instance_types(provider)}
    hits = difflib.get_close_matches(normalize(instance_type), list(names), n=n, cutoff=0.6)
    return [names[h] for h in hits]
