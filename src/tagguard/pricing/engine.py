"""Price AI resources in dollars and GPU-hours from the shipped rate card.

``Pricer(config["pricing"]).price_all(resources)`` sets ``resource.cost`` on
every AI resource; ``Pricer.price(resource)`` returns one resource's ``Cost``
without touching it.  Rules (see ``policies/ratecard.README.md``):

* hourly = per-unit rate x units, split by pricing model: ``on_demand``,
  ``spot`` (the type's spot rate, else on-demand less ``spot_discount_pct``,
  default 55), ``mixed`` (``spot_units`` at spot, the rest on-demand) and
  ``reserved``.  ``commitments`` cover that many non-spot units across all
  matching resources, first come in address order, at the committed rate;
  units of a ``reserved`` resource that no commitment covers are priced
  on-demand (that is what an unmatched reservation costs) and say so.
* monthly = hourly x hours: ``compute.hours_per_month``, else runtime x runs
  for run-to-completion jobs (``compute.runtime_hours`` and
  ``meta["runs_per_month"]``; unknown runs -> monthly ``None``), else 730.
* GPU-hours per month = GPUs per unit x units x hours.
* Rate precedence: ``pricing.instance_types`` (config) > rate card (less the
  negotiated ``discount_pct`` for on-demand list rates) > derived (spot by
  default discount; per-GPU rate for Kubernetes workloads without a node
  type).  No rate -> ``None`` with a reason, never a made-up number.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Iterable

from tagguard.model import Compute, Cost, Resource

DEFAULT_SPOT_DISCOUNT_PCT = 55.0
DEFAULT_HOURS_PER_MONTH = 730.0
TERMS = {"1y": "1y", "1yr": "1y", "1": "1y", "1year": "1y", "3y": "3y", "3yr": "3y", "3": "3y", "3year": "3y"}
OVERRIDE_KEYS = ("on_demand", "spot", "reserved_1yr", "reserved_3yr")


class PricingConfigError(ValueError):
    """A bad ``pricing`` / ``commitments`` config value (one-line message)."""


@dataclass
class _Commitment:
    index: int
    instance_type: str  # normalized
    display: str
    provider: str | None
    count: int
    term: str  # "1y" | "3y"
    rate: float | None
    remaining: int


@dataclass
class _Rate:
    usd: float | None
    source: str | None = None  # rate-card source id or "config"
    basis: str = ""
    reason: str | None = None
    extra: dict[str, Any] | None = None
    region: str | None = None  # region the rate is for, when the rate card says


def _number(value: Any, where: str, minimum: float = 0.0, maximum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PricingConfigError(f"{where}: expected a number, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and {maximum:g}" if maximum is not None else ""
        raise PricingConfigError(f"{where}: {value!r} is out of range (between {minimum:g}{upper})")
    return float(value)


def _norm_region(region: str | None) -> str | None:
    if not region:
        return None
    r = str(region).strip().lower().replace(" ", "")
    if re.match(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$", r):  # GCP zone us-central1-a
        r = r.rsplit("-", 1)[0]
    elif re.match(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$", r):  # AWS AZ us-east-1a
        r = r[:-1]
    return r


class Pricer:
    def __init__(self, config_section: dict[str, Any] | None = None):
        from tagguard.pricing import catalog
        from tagguard.pricing.gpus import short_gpu_model

        cfg = dict(config_section or {})
        self._catalog = catalog
        self.card = catalog.load()
        self.spot_discount_pct = _number(cfg.get("spot_discount_pct", DEFAULT_SPOT_DISCOUNT_PCT),
                                         "pricing.spot_discount_pct", 0, 100)
        self.discount_pct = _number(cfg.get("discount_pct", 0), "pricing.discount_pct", 0, 100)
        self.region: str | None = cfg.get("region")
        self.instance_types: dict[str, dict[str, float]] = {}
        overrides = cfg.get("instance_types") or {}
        if not isinstance(overrides, dict):
            raise PricingConfigError("pricing.instance_types: expected a mapping of instance type to rates")
        for name, rates in overrides.items():
            where = f"pricing.instance_types.{name}"
            if not isinstance(rates, dict):
                raise PricingConfigError(f"{where}: expected a mapping such as {{on_demand: 1.23, spot: 0.5}}")
            unknown = sorted(set(rates) - set(OVERRIDE_KEYS))
            if unknown:
                raise PricingConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(OVERRIDE_KEYS)})")
            self.instance_types[catalog.normalize(name)] = {
                k: _number(v, f"{where}.{k}") for k, v in rates.items() if v is not None}
        self.gpu_hourly_usd: dict[str, float] = {}
        gpu_rates = cfg.get("gpu_hourly_usd") or {}
        if not isinstance(gpu_rates, dict):
            raise PricingConfigError("pricing.gpu_hourly_usd: expected a mapping of GPU model to USD per GPU-hour")
        for model, usd in gpu_rates.items():
            self.gpu_hourly_usd[short_gpu_model(model) or str(model)] = _number(usd, f"pricing.gpu_hourly_usd.{model}")
        self.commitments = self._parse_commitments(cfg.get("commitments") or [])

    # --- config ------------------------------------------------------------------

    def _parse_commitments(self, raw: Any) -> list[_Commitment]:
        if not isinstance(raw, list):
            raise PricingConfigError("commitments: expected a list of {instance_type, count, term}")
        out = []
        for i, c in enumerate(raw):
            where = f"commitments[{i}]"
            if not isinstance(c, dict):
                raise PricingConfigError(f"{where}: expected a mapping with instance_type, count and term")
            itype = c.get("instance_type")
            if not isinstance(itype, str) or not itype.strip():
                raise PricingConfigError(f"{where}.instance_type: required (e.g. p4d.24xlarge)")
            count = c.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise PricingConfigError(f"{where}.count: expected a whole number of instances, got {count!r}")
            term = TERMS.get(str(c.get("term", "")).strip().lower())
            if term is None:
                raise PricingConfigError(f"{where}.term: expected 1y or 3y, got {c.get('term')!r}")
            rate = c.get("rate_usd_per_hour")
            rate = None if rate is None else _number(rate, f"{where}.rate_usd_per_hour")
            unknown = sorted(set(c) - {"instance_type", "count", "term", "rate_usd_per_hour", "provider", "name", "description"})
            if unknown:
                raise PricingConfigError(f"{where}: unknown key {unknown[0]!r}")
            provider = c.get("provider")
            out.append(_Commitment(index=i, instance_type=self._catalog.normalize(itype), display=itype.strip(),
                                   provider=str(provider).lower() if provider else None,
                                   count=count, term=term, rate=rate, remaining=count))
        return out

    def _fresh_pool(self) -> list[_Commitment]:
        return [_Commitment(**{**c.__dict__, "remaining": c.count}) for c in self.commitments]

    # --- entry points ------------------------------------------------------------

    def price(self, resource: Resource) -> Cost:
        """The resource's cost, commitments applied as if it were the only resource; sets nothing."""
        if resource.compute is None:
            return Cost(reason="nothing is known about what this resource runs on")
        return self._price(resource, self._fresh_pool())

    def price_all(self, resources: Iterable[Resource]) -> None:
        """Set ``cost`` on every AI resource; commitments are used up in address order."""
        pool = self._fresh_pool()
        ai = [r for r in resources if r.ai]
        for r in sorted(ai, key=lambda r: (r.address, r.file or "", r.line or 0)):
            if r.compute is None:
                r.cost = Cost(reason="nothing is known about what this resource runs on")
            else:
                r.cost = self._price(r, pool)

    # --- pricing -----------------------------------------------------------------

    def _price(self, resource: Resource, pool: list[_Commitment]) -> Cost:
        c: Compute = resource.compute  # type: ignore[assignment]
        cat = self._catalog
        itype = c.instance_type.strip() if c.instance_type else None
        info = cat.lookup(itype, c.provider) if itype else None
        acc = cat.accelerator_info(itype, c.provider) if itype else None
        family = cat.find_family(itype, c.provider) if itype and info is None else None
        gpu_model = (info.gpu_model if info else acc[0] if acc else None) or c.accelerator
        reasons: list[str] = []
        notes: list[str] = []

        gpus = c.gpus_per_unit
        if gpus is None and info is not None:
            gpus = float(info.accelerator_count)
        elif gpus is None and acc is not None:
            gpus = acc[1]

        hours, hours_reason = self._hours(resource)
        units = c.units

        # Split the units by how they are bought.
        model = (c.pricing_model or "on_demand").lower().replace("-", "_")
        groups: list[tuple[str, int | None]]
        if model == "spot":
            groups = [("spot", units)]
        elif model == "mixed":
            if units is not None and c.spot_units is None:
                reasons.append("pricing model mixed but the number of spot units is unknown")
                groups = [("on_demand", None), ("spot", None)]
            else:
                spot = None if units is None else min(max(int(c.spot_units or 0), 0), units)
                groups = [("spot", spot), ("on_demand", None if units is None else units - spot)]
        elif model in ("reserved", "committed"):
            groups = [("reserved", units)]
        else:
            if model != "on_demand":
                notes.append(f"unknown pricing model {c.pricing_model!r} priced on-demand")
            groups = [("on_demand", units)]

        lines: list[dict[str, Any]] = []
        known = units is not None and not reasons
        if units is None:
            reasons.append("number of units (instances / replicas / nodes) unknown")
        for kind, n in groups:
            if n == 0:
                continue
            if kind == "spot":
                lines.append(self._line(n, "spot", self._spot(itype, info, gpu_model, gpus, family)))
                continue
            remaining = n
            if itype and n is not None:
                for com in pool:
                    if remaining <= 0:
                        break
                    if com.remaining <= 0 or com.instance_type != cat.normalize(itype):
                        continue
                    if com.provider and info is not None and com.provider != info.provider:
                        continue
                    take = min(com.remaining, remaining)
                    com.remaining -= take
                    remaining -= take
                    lines.append(self._line(take, "reserved", self._committed(com, itype, info), term=com.term,
                                            commitment=com.index))
            if remaining == 0:
                continue
            rate = self._on_demand(itype, info, gpu_model, gpus, family)
            line = self._line(remaining, "on_demand", rate)
            if kind == "reserved":
                what = "these units" if remaining is None else f"{remaining} unit{'s' if remaining != 1 else ''}"
                msg = f"pricing model reserved but no `commitments` entry covers {what}: priced on-demand"
                line["note"] = msg
                notes.append(msg)
            lines.append(line)

        share = self._node_share(c, info, gpus)
        if share is not None:
            for line in lines:
                if line["_usd"] is not None:
                    line["node_usd_per_hour"] = round(line["_usd"], 6)
                    line["_usd"] *= share
                    line["usd_per_hour"] = round(line["_usd"], 6)
                    line["node_share"] = round(share, 4)
                    if line["units"] is not None:  # the subtotal is what the figure adds up: share included
                        line["subtotal_usd_per_hour"] = round(line["_usd"] * line["units"], 6)
            notes.append(f"pods use {gpus:g} of the {info.accelerator_count:g} GPUs of a {itype} node: "
                         f"priced at {share:.0%} of the node's rate")
        for line in lines:
            if line["usd_per_hour"] is None and line.get("reason"):
                reasons.append(line["reason"])
        rated = [ln for ln in lines if ln["usd_per_hour"] is not None]
        if known and len(rated) == len(lines):
            hourly: float | None = sum(ln["units"] * ln["_usd"] for ln in lines)
        else:
            hourly = None

        monthly = None
        if hourly is not None:
            if hours is None:
                reasons.append(hours_reason or "hours per month unknown")
            else:
                monthly = hourly * hours

        gpu_hours = None
        if gpus is not None and units is not None and hours is not None:
            gpu_hours = gpus * units * hours
        elif gpus is None and itype and (family is not None or any(ln.get("unknown_gpu_family") for ln in lines)):
            reasons.append(f"GPUs per unit unknown for {itype} (size not in the rate card)")
        elif gpus is None and gpu_model and hourly is None:
            pass  # the rate reason already explains it
        elif hours is None and hourly is None and hours_reason and hours_reason not in reasons:
            reasons.append(hours_reason)

        notes.extend(self._region_notes(c, rated))
        ids = list(dict.fromkeys(ln["source"] for ln in rated if ln.get("source")))
        dates = list(dict.fromkeys(ln["date"] for ln in rated if ln.get("date")))
        reason_text = "; ".join(dict.fromkeys(reasons + notes)) or None
        return Cost(
            hourly_usd=hourly,
            monthly_usd=monthly,
            gpu_hours_per_month=gpu_hours,
            rate_source=", ".join(ids) or None,
            rate_date=", ".join(dates) or None,
            reason=reason_text,
            breakdown=[{k: v for k, v in ln.items() if k not in ("region", "_usd")} for ln in lines],
        )

    @staticmethod
    def _node_share(c: Compute, info, gpus: float | None) -> float | None:
        """A Kubernetes pod pinned to a node type pays for the GPUs it takes, not the whole node."""
        if c.provider != "kubernetes" or info is None or not gpus:
            return None
        total = float(info.accelerator_count or 0)
        if total <= 0 or gpus >= total:
            return None
        return gpus / total

    def _hours(self, resource: Resource) -> tuple[float | None, str | None]:
        c = resource.compute
        assert c is not None
        if c.hours_per_month is not None:
            return float(c.hours_per_month), None
        if c.runtime_hours is None and resource.meta.get("run_to_completion"):
            return None, ("run-to-completion job with no known duration (no activeDeadlineSeconds): GPUs are "
                          "reported, no monthly figure; set hours_per_month or runtime_hours in a usage file")
        if c.runtime_hours is not None:
            runs = resource.meta.get("runs_per_month")
            if isinstance(runs, (int, float)) and not isinstance(runs, bool):
                return float(c.runtime_hours) * float(runs), None
            return None, (f"run-to-completion job ({c.runtime_hours:g} h per run) with an unknown number of runs "
                          "per month; set runs_per_month or hours_per_month in the usage file")
        return DEFAULT_HOURS_PER_MONTH, None

    def _line(self, units: int | None, model: str, rate: _Rate, **extra: Any) -> dict[str, Any]:
        src = self._catalog.source(rate.source) if rate.source and rate.source != "config" else None
        line: dict[str, Any] = {"units": units, "model": model, "_usd": rate.usd}
        line.update({k: v for k, v in extra.items() if v is not None})
        line["usd_per_hour"] = None if rate.usd is None else round(rate.usd, 6)
        if rate.usd is not None and units is not None:
            line["subtotal_usd_per_hour"] = round(rate.usd * units, 6)
        line["source"] = rate.source
        if src is not None:
            line["date"] = src.date
        if rate.basis:
            line["basis"] = rate.basis
        if rate.extra:
            line.update(rate.extra)
        if rate.reason:
            line["reason"] = rate.reason
        if rate.region:
            line["region"] = rate.region
        return line

    # --- rates (per unit, per hour) -------------------------------------------------

    def _override(self, itype: str | None, key: str) -> float | None:
        if not itype:
            return None
        return self.instance_types.get(self._catalog.normalize(itype), {}).get(key)

    def _on_demand(self, itype: str | None, info, gpu_model: str | None, gpus: float | None,
                   family, negotiated: bool = True) -> _Rate:
        d = self.discount_pct if negotiated else 0.0
        cfg = self._override(itype, "on_demand")
        if cfg is not None:
            return _Rate(cfg, "config", f"pricing.instance_types.{itype}.on_demand")
        if info is not None:
            if info.on_demand is None:
                why = info.notes[0] if info.notes else "no citable source"
                return _Rate(None, reason=(f"no public on-demand rate for {info.instance_type} in the rate card "
                                           f"({why}); set pricing.instance_types.{info.instance_type}.on_demand"))
            basis = "list price" + (f" less {d:g}% negotiated discount (pricing.discount_pct)" if d else "")
            return _Rate(info.on_demand * (1 - d / 100), info.on_demand_source, basis, region=info.region)
        if itype:
            if family is not None:
                what = f"an accelerated {family.gpu_model} type of family {family.pattern}, but this size is not in the rate card"
            else:
                unknown = self._catalog.unknown_gpu_family(itype)
                if unknown is not None:
                    return _Rate(None, reason=(f"unknown GPU instance type {itype}: treated as AI, not priced (family "
                                               f"{unknown} follows a GPU naming scheme but is not in the rate card); "
                                               f"set pricing.instance_types.{itype}.on_demand to price it"),
                                 extra={"unknown_gpu_family": unknown})
                what = "not in the rate card and not a known GPU/accelerator family"
            return _Rate(None, reason=f"{itype}: {what}; set pricing.instance_types.{itype}.on_demand to price it")
        return self._per_gpu(gpu_model, gpus, d)

    def _per_gpu(self, gpu_model: str | None, gpus: float | None, d: float) -> _Rate:
        """Kubernetes workloads with no node type: per-GPU-hour rate x GPUs per unit."""
        from tagguard.pricing.gpus import short_gpu_model

        if not gpu_model:
            return _Rate(None, reason="no instance type and no GPU model: nothing to price")
        model = gpu_model if gpu_model in self.gpu_hourly_usd else (short_gpu_model(gpu_model) or gpu_model)
        if gpus is None:
            return _Rate(None, reason=f"{model}: number of GPUs per unit unknown")
        if model in self.gpu_hourly_usd:
            per = self.gpu_hourly_usd[model]
            return _Rate(per * gpus, "config", f"pricing.gpu_hourly_usd.{model} x {gpus:g} GPU",
                         extra={"usd_per_gpu_hour": per})
        g = self._catalog.gpu_hourly(model)
        if g is None or g.usd_per_gpu_hour is None:
            why = g.reason if g is not None and g.reason else "not in the rate card"
            return _Rate(None, reason=f"no per-GPU-hour rate for {model} ({why}); set pricing.gpu_hourly_usd.{model}")
        per = g.usd_per_gpu_hour * (1 - d / 100)
        basis = f"per-GPU on-demand rate of {g.derived_from} x {gpus:g} GPU" + (
            f", less {d:g}% negotiated discount" if d else "")
        return _Rate(per * gpus, g.source, basis, extra={"usd_per_gpu_hour": per}, region=g.region)

    def _spot(self, itype, info, gpu_model, gpus, family) -> _Rate:
        cfg = self._override(itype, "spot")
        if cfg is not None:
            return _Rate(cfg, "config", f"pricing.instance_types.{itype}.spot")
        if info is not None and info.spot is not None:
            return _Rate(info.spot, info.spot_source, "rate card spot rate",
                         extra={"spot_kind": info.spot_kind}, region=info.region)
        base = self._on_demand(itype, info, gpu_model, gpus, family, negotiated=False)
        if base.usd is None:
            return _Rate(None, reason=(base.reason or "no on-demand rate") + " (spot is derived from it)", extra=base.extra)
        pct = self.spot_discount_pct
        return _Rate(base.usd * (1 - pct / 100), base.source,
                     f"on-demand ({base.basis}) less the default spot discount {pct:g}% (pricing.spot_discount_pct)",
                     extra={"spot_kind": "default_discount", "spot_discount_pct": pct}, region=base.region)

    def _committed(self, com: _Commitment, itype: str, info) -> _Rate:
        if com.rate is not None:
            return _Rate(com.rate, "config", f"commitments[{com.index}].rate_usd_per_hour")
        key = "reserved_1yr" if com.term == "1y" else "reserved_3yr"
        cfg = self._override(itype, key)
        if cfg is not None:
            return _Rate(cfg, "config", f"pricing.instance_types.{itype}.{key}")
        if info is not None and info.rate(key) is not None:
            return _Rate(info.rate(key), info.reserved_source, f"rate card {com.term} committed rate",
                         extra={"reserved_kind": info.reserved_kind} if info.reserved_kind else None,
                         region=info.region)
        return _Rate(None, reason=(f"no {com.term} committed rate for {itype} in the rate card (no citable source); "
                                   f"set rate_usd_per_hour on commitments[{com.index}]"))

    def _region_notes(self, c: Compute, rated: list[dict[str, Any]]) -> list[str]:
        where = _norm_region(c.region or self.region)
        if not where:
            return []
        out = []
        for region in dict.fromkeys(ln.get("region") for ln in rated if ln.get("region")):
            if _norm_region(region) != where:
                out.append(f"rates are {region} list prices; this resource is in {c.region or self.region} "
                           "and its price there may differ")
        return out
