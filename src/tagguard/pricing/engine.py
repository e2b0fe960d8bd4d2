"""Price AI resources in dollars and GPU-hours from a rate card.

``make_pricer(config, options).pricer`` is the one set-up every command prices with (the shipped
rate card with the local one laid over it, the ``pricing`` config, the usage file);
``Pricer(card, config["pricing"]).price_all(resources)`` sets ``resource.cost`` on every AI
resource; ``Pricer.price(resource)`` returns one resource's ``Cost`` without touching it.  Each
pricing model has its function (``PRICING_MODELS``).  Rules (see ``policies/ratecard.README.md``):

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

import dataclasses
import functools
import operator
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable

from tagguard.model import Compute, Cost, Resource
from tagguard.pricing.catalog import Family, InstanceInfo, RateCard, normalize
from tagguard.pricing.placement import FLOOR_KEY, PLACEMENT_FLOOR_KEY

DEFAULT_SPOT_DISCOUNT_PCT = 55.0
DEFAULT_HOURS_PER_MONTH = 730.0
# pricing.unplaced_accelerators: what a GPU request with no node information costs (docs/pricing.md)
UNPLACED_MODES = ("lower-bound", "unpriced")
TERMS = {"1y": "1y", "1yr": "1y", "1": "1y", "1year": "1y", "3y": "3y", "3yr": "3y", "3": "3y", "3year": "3y"}
OVERRIDE_KEYS = ("on_demand", "spot", "reserved_1yr", "reserved_3yr")


class PricingConfigError(ValueError):
    """A bad ``pricing`` / ``commitments`` config value (one-line message)."""


class _Commitment:
    """One configured commitment and what is left of it in one pricing pass (a plain slotted class like
    ``_Rate``: nothing compares or prints it, and a dataclass costs every scan its generated methods)."""

    __slots__ = ("index", "instance_type", "display", "provider", "count", "term", "rate", "remaining")

    def __init__(self, *, index: int, instance_type: str, display: str, provider: str | None, count: int,
                 term: str, rate: float | None, remaining: int):
        self.index = index
        self.instance_type = instance_type  # normalized
        self.display = display
        self.provider = provider
        self.count = count
        self.term = term  # "1y" | "3y"
        self.rate = rate
        self.remaining = remaining

    def fresh(self) -> _Commitment:
        """A copy with the whole count remaining."""
        return _Commitment(index=self.index, instance_type=self.instance_type, display=self.display,
                           provider=self.provider, count=self.count, term=self.term, rate=self.rate,
                           remaining=self.count)


class _Rate:
    # Plain classes with slots, not dataclasses: _Rate, _Facts and _Lines live only inside one pricing call and
    # the generated methods cost ~2.6 ms of every scan's import (issue 13).
    __slots__ = ("usd", "source", "basis", "reason", "extra", "region")

    def __init__(self, usd: float | None, source: str | None = None, basis: str = "", reason: str | None = None,
                 extra: dict[str, Any] | None = None, region: str | None = None):
        self.usd = usd
        self.source = source  # rate-card source id or "config"
        self.basis = basis
        self.reason = reason
        self.extra = extra
        self.region = region  # region the rate is for, when the rate card says


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
    if isinstance(region, str):
        return _norm_region_text(region)
    return _norm_region_text.__wrapped__(str(region))


@functools.lru_cache(maxsize=512)  # a scan has a handful of regions and asks per resource (issue 13: ~5 ms of 2,000)
def _norm_region_text(region: str) -> str:
    r = region.strip().lower().replace(" ", "")
    if re.match(r"^[a-z]+-[a-z]+[0-9]+-[a-z]$", r):  # GCP zone us-central1-a
        r = r.rsplit("-", 1)[0]
    elif re.match(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9][a-z]$", r):  # AWS AZ us-east-1a
        r = r[:-1]
    return r


class _Facts:
    """What pricing one resource starts from (its compute, resolved against the rate card)."""

    __slots__ = ("compute", "itype", "info", "family", "gpu_model", "gpus", "units", "hours", "hours_reason",
                 "assumed", "floor", "no_floor")

    def __init__(self, *, compute: Compute, itype: str | None, info: InstanceInfo | None, family: Family | None,
                 gpu_model: str | None, gpus: float | None, units: int | None, hours: float | None,
                 hours_reason: str | None, assumed: str | None = None, floor: dict[str, Any] | None = None,
                 no_floor: str | None = None):
        self.compute = compute
        self.itype = itype
        self.info = info
        self.family = family
        self.gpu_model = gpu_model
        self.gpus = gpus
        self.units = units
        self.hours = hours
        self.hours_reason = hours_reason
        self.assumed = assumed  # the note when the GPU model comes from pricing.default_accelerators
        self.floor = floor  # placement's floor for a request no node information places
        self.no_floor = no_floor  # why there is none (no priced type offers what it asks for)


class _Lines:
    """The priced lines of one resource, with the reasons (figure unknown) and notes (figure known)."""

    __slots__ = ("lines", "reasons", "notes")

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self.reasons: list[str] = []
        self.notes: list[str] = []


class PricingSetup:
    """What ``make_pricer`` returns: the pricer, the usage file (or ``None``) and, when the usage
    file could not be read, its one-line error and path (the scan reports it; pricing goes on).
    A plain slotted class (nothing compares or prints it; a dataclass's generated methods cost every scan)."""

    __slots__ = ("pricer", "usage", "usage_error", "usage_path")

    def __init__(self, pricer: Pricer, usage: Any = None, usage_error: str | None = None,
                 usage_path: Path | None = None):
        self.pricer = pricer
        self.usage = usage  # tagguard.pricing.usage.Usage
        self.usage_error = usage_error
        self.usage_path = usage_path


def make_pricer(config: Any, options: Any = None, card: RateCard | None = None) -> PricingSetup:
    """The one pricing set-up: every command that prices (scan, plan deltas, spot hints, drift...)
    prices with this, so the figures agree.

    * the rate card: ``card``, else the shipped one with the local rate card of ``tagguard pricing
      refresh`` laid over it (a bad local card is a ``ValueError`` naming it);
    * ``pricing`` config, with the top-level ``commitments`` when it has none
      (a bad value is a ``PricingConfigError``);
    * the usage file: ``options.usage`` (``--usage``, as given) else config ``usage`` (relative to the
      config's directory); one that cannot be read is ``usage_error``, and pricing goes on without it.
    """
    from tagguard.pricing import refresh

    card = card if card is not None else refresh.local_ratecard()
    usage = usage_error = path = None
    flag = getattr(options, "usage", None)
    usage_path = flag or config.section("usage")
    if usage_path:
        path = Path(usage_path)
        if not path.is_absolute() and flag is None:
            path = config.base_dir / path
        from tagguard.pricing import usage as usage_mod  # only with a usage file (2 dataclasses)

        try:
            usage = usage_mod.load_usage(path)
        except ValueError as exc:  # one line naming the file (and line)
            usage_error = str(exc)
    pricing = dict(config.section("pricing") or {})
    if config.section("commitments"):
        pricing.setdefault("commitments", config.section("commitments"))
    return PricingSetup(Pricer(card, pricing), usage, usage_error, path)


def _parse_overrides(overrides: Any) -> dict[str, dict[str, float]]:
    if not isinstance(overrides, dict):
        raise PricingConfigError("pricing.instance_types: expected a mapping of instance type to rates")
    out: dict[str, dict[str, float]] = {}
    for name, rates in overrides.items():
        where = f"pricing.instance_types.{name}"
        if not isinstance(rates, dict):
            raise PricingConfigError(f"{where}: expected a mapping such as {{on_demand: 1.23, spot: 0.5}}")
        unknown = sorted(set(rates) - set(OVERRIDE_KEYS))
        if unknown:
            raise PricingConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(OVERRIDE_KEYS)})")
        out[normalize(name)] = {k: _number(v, f"{where}.{k}") for k, v in rates.items() if v is not None}
    return out


def _parse_gpu_rates(gpu_rates: Any) -> dict[str, float]:
    from tagguard.pricing.gpus import short_gpu_model

    if not isinstance(gpu_rates, dict):
        raise PricingConfigError("pricing.gpu_hourly_usd: expected a mapping of GPU model to USD per GPU-hour")
    return {short_gpu_model(model) or str(model): _number(usd, f"pricing.gpu_hourly_usd.{model}")
            for model, usd in gpu_rates.items()}


def _parse_default_accelerators(raw: Any) -> dict[str, str]:
    """``pricing.default_accelerators``: extended-resource name -> accelerator model, what a workload's
    ``nvidia.com/gpu`` (etc.) is when nothing in the scan says (no node type, pool or GPU label)."""
    from tagguard.pricing.gpus import short_gpu_model

    if not isinstance(raw, dict):
        raise PricingConfigError("pricing.default_accelerators:"
                                 " expected a mapping of resource name to accelerator model")
    out: dict[str, str] = {}
    for name, model in raw.items():
        if not isinstance(model, str) or not model.strip():
            raise PricingConfigError(f"pricing.default_accelerators.{name}: expected an accelerator model, e.g. A10G")
        out[str(name)] = short_gpu_model(model.strip()) or model.strip()
    return out


def _parse_commitments(raw: Any) -> list[_Commitment]:
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
        known_fields = {"instance_type", "count", "term", "rate_usd_per_hour", "provider", "name", "description"}
        unknown = sorted(set(c) - known_fields)
        if unknown:
            raise PricingConfigError(f"{where}: unknown key {unknown[0]!r}")
        provider = c.get("provider")
        out.append(_Commitment(index=i, instance_type=normalize(itype), display=itype.strip(),
                               provider=str(provider).lower() if provider else None,
                               count=count, term=term, rate=rate, remaining=count))
    return out


class Pricer:
    """Prices resources from ``card`` with the ``pricing`` config section's settings.

    ``region``: where resources without a region of their own run (config ``pricing.region``);
    a rate of another region is priced and noted.
    """

    def __init__(self, card: RateCard, config_section: dict[str, Any] | None = None):
        cfg = dict(config_section or {})
        self.card = card
        self.spot_discount_pct = _number(cfg.get("spot_discount_pct", DEFAULT_SPOT_DISCOUNT_PCT),
                                         "pricing.spot_discount_pct", 0, 100)
        self.discount_pct = _number(cfg.get("discount_pct", 0), "pricing.discount_pct", 0, 100)
        self.region: str | None = cfg.get("region")
        self.instance_types = _parse_overrides(cfg.get("instance_types") or {})
        self.gpu_hourly_usd = _parse_gpu_rates(cfg.get("gpu_hourly_usd") or {})
        self.default_accelerators = _parse_default_accelerators(cfg.get("default_accelerators") or {})
        mode = cfg.get("unplaced_accelerators", "lower-bound")
        if mode not in UNPLACED_MODES:
            raise PricingConfigError(f"pricing.unplaced_accelerators: expected lower-bound or unpriced, got {mode!r}")
        self.unplaced_accelerators: str = mode
        self.commitments = _parse_commitments(cfg.get("commitments") or [])

    def _fresh_pool(self) -> list[_Commitment]:
        return [c.fresh() for c in self.commitments]

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
        # Without commitments a price depends only on the compute and a few meta facts: resources priced
        # alike (replicas, module instances) are priced once and each gets its own copy (issue 13).
        memo: dict[tuple[Any, ...], Cost] | None = None if pool else {}
        # Only commitments make a price depend on the order; without them the sort (a key tuple per resource) is
        # skipped: each resource is priced from its own inputs, or gets a copy of what they price to.
        for r in sorted(ai, key=lambda r: (r.address, r.file or "", r.line or 0)) if pool else ai:
            if r.compute is None:
                r.cost = Cost(reason="nothing is known about what this resource runs on")
                continue
            key = _memo_key(r) if memo is not None else None
            if key is None:
                r.cost = self._price(r, pool)
                continue
            try:
                hit = memo.get(key)  # type: ignore[union-attr]
            except TypeError:  # an unhashable meta value: priced on its own
                r.cost = self._price(r, pool)
                continue
            if hit is None:
                hit = self._price(r, pool)
                if not _flat_cost(hit):
                    r.cost = hit
                    continue
                memo[key] = hit  # type: ignore[index]
            r.cost = _copy_cost(hit)

    # --- pricing -----------------------------------------------------------------

    def _price(self, resource: Resource, pool: list[_Commitment]) -> Cost:
        f = self._facts(resource)
        out = _Lines()
        model = (f.compute.pricing_model or "on_demand").lower().replace("-", "_")
        by_model = PRICING_MODELS.get(model)
        if by_model is None:
            out.notes.append(f"unknown pricing model {f.compute.pricing_model!r} priced on-demand")
            by_model = PRICING_MODELS["on_demand"]
        by_model(self, f, pool, out)
        if f.assumed:
            out.notes.append(f.assumed)
        if f.no_floor:
            out.reasons.append(f.no_floor)
        known = f.units is not None and not out.reasons
        if f.units is None:
            out.reasons.append("number of units (instances / replicas / nodes) unknown")
        self._apply_node_share(f, out)
        cost = self._total(f, out, known)
        if f.floor is not None and cost.hourly_usd is not None:
            cost.lower_bound = True
            cost.reason = "; ".join(x for x in (self._floor_note(f, cost), cost.reason) if x)
        return cost

    @staticmethod
    def _floor_note(f: _Facts, cost: Cost) -> str:
        """What a lower bound says about itself (also the ``price-lower-bound`` finding's message)."""
        from tagguard.formats.helpers import money, rate

        fl = f.floor or {}
        figure = (f"{money(cost.monthly_usd)}/month" if cost.monthly_usd is not None
                  else f"{rate(cost.hourly_usd)}/hour")
        if fl.get("why"):
            return f"at least {figure}: {fl['why']}"
        what = f"{fl.get('instance_type')} ({fl.get('gpu_model')})" if fl.get("instance_type") else fl.get("gpu_model")
        per = rate(fl.get("usd_per_accelerator_hour"))
        unplaced = fl.get("unplaced") or "no node selector, affinity or GPU label says which GPU it gets"
        unit = "chip-hour" if str(fl.get("gpu_model") or "").startswith("TPU") else "GPU-hour"
        fix = fl.get("fix") or "set a nodeSelector or pricing.default_accelerators to price exactly"
        gpu_only = f" ({fl['gpu_only']})" if fl.get("gpu_only") else ""
        share = f"; {fl['share']}" if fl.get("share") else ""
        return (f"at least {figure}: {unplaced}; priced at the cheapest per-accelerator on-demand rate, {what} at "
                f"{per}/{unit}{gpu_only}, among {fl.get('among')}{share}; {fix}")

    def _facts(self, resource: Resource) -> _Facts:
        c: Compute = resource.compute  # type: ignore[assignment]
        itype = c.instance_type.strip() if c.instance_type else None
        info = self.card.lookup(itype, c.provider) if itype else None
        acc = self.card.accelerator_info(itype, c.provider) if itype else None
        family = self.card.find_family(itype, c.provider) if itype and info is None else None
        gpus = c.gpus_per_unit
        if gpus is None and info is not None:
            gpus = float(info.accelerator_count)
        elif gpus is None and acc is not None:
            gpus = acc[1]
        hours, hours_reason = self._hours(resource)
        gpu_model = (info.gpu_model if info else acc[0] if acc else None) or c.accelerator
        assumed = None
        if gpu_model is None and itype is None and self.default_accelerators:
            gpu_model, assumed = self._default_accelerator(resource)
        floor, no_floor = None, None
        if itype and isinstance(resource.meta.get(PLACEMENT_FLOOR_KEY), str):
            floor = {"why": resource.meta[PLACEMENT_FLOOR_KEY]}  # the cheapest of several types placement allows
        elif gpu_model is None and itype is None and self.unplaced_accelerators == "lower-bound":
            floor = resource.meta.get(FLOOR_KEY) if isinstance(resource.meta.get(FLOOR_KEY), dict) else None
            if floor is not None and floor.get("named_model") in self.gpu_hourly_usd:
                # a passthrough GPU's name names a model the card has no rate for, but the config does
                gpu_model, floor = str(floor["named_model"]), None
            elif floor is not None and "none" in floor:  # why no type could floor it: part of the reason
                no_floor, floor = str(floor["none"]), None
            elif floor is not None and floor.get("instance_type") and not floor.get("rate_only"):
                itype = str(floor["instance_type"])
                info = self.card.lookup(itype, floor.get("provider"))
                gpu_model = info.gpu_model if info is not None else None
            elif floor is not None:
                gpu_model = floor.get("gpu_model")
        elif gpu_model is None and itype is None and isinstance(resource.meta.get(FLOOR_KEY), dict) \
                and resource.meta[FLOOR_KEY].get("unset"):
            # pricing.unplaced_accelerators: unpriced -- still say which labels no node pool of the scan sets
            no_floor = f"{resource.meta[FLOOR_KEY]['unset']}: GPU model and instance type unknown"
        return _Facts(compute=c, itype=itype, info=info, family=family, gpu_model=gpu_model,
                      gpus=gpus, units=c.units, hours=hours, hours_reason=hours_reason, assumed=assumed, floor=floor,
                      no_floor=no_floor)

    def _default_accelerator(self, resource: Resource) -> tuple[str | None, str | None]:
        """The configured model when every accelerator resource the workload requests maps to the same one."""
        names = resource.meta.get("accelerators")
        if not isinstance(names, dict) or not names:
            return None, None
        models = {self.default_accelerators.get(str(n)) for n in names}
        if len(models) != 1 or None in models:
            return None, None
        model = models.pop()
        shown = ", ".join(sorted(str(n) for n in names))
        return model, (f"GPU model assumed: {shown} is {model} by pricing.default_accelerators (nothing in the scan "
                       "says which node it runs on; a nodeSelector, node affinity or GPU label would)")

    # One function per pricing model (``compute.pricing_model``): each adds the resource's lines.

    def _price_on_demand(self, f: _Facts, pool: list[_Commitment], out: _Lines) -> None:
        """Commitments that match cover what they can; the rest is on-demand."""
        self._bought(f, f.units, pool, out, reserved=False)

    def _price_reserved(self, f: _Facts, pool: list[_Commitment], out: _Lines) -> None:
        """Commitments cover what they can; uncovered units cost on-demand, and say so."""
        self._bought(f, f.units, pool, out, reserved=True)

    def _price_spot(self, f: _Facts, pool: list[_Commitment], out: _Lines) -> None:
        """Every unit at the spot rate (commitments do not cover spot capacity)."""
        if f.units != 0:
            out.lines.append(self._line(f.units, "spot", self._spot(f)))

    def _price_mixed(self, f: _Facts, pool: list[_Commitment], out: _Lines) -> None:
        """``spot_units`` at spot, the rest as on-demand; unknown split -> no total."""
        c = f.compute
        if f.units is not None and c.spot_units is None:
            out.reasons.append("pricing model mixed but the number of spot units is unknown")
            self._bought(f, None, pool, out, reserved=False)
            out.lines.append(self._line(None, "spot", self._spot(f)))
            return
        spot = None if f.units is None else min(max(int(c.spot_units or 0), 0), f.units)
        if spot != 0:
            out.lines.append(self._line(spot, "spot", self._spot(f)))
        rest = None if f.units is None or spot is None else f.units - spot
        self._bought(f, rest, pool, out, reserved=False)

    def _bought(self, f: _Facts, n: int | None, pool: list[_Commitment], out: _Lines, reserved: bool) -> None:
        """``n`` non-spot units: commitments first (address order across resources), then on-demand."""
        if n == 0:
            return
        remaining = n
        if f.itype and n is not None and f.floor is None:  # a floor's type is not what runs: no commitment
            remaining = self._commit(f, n, pool, out)
        if remaining == 0:
            return
        line = self._line(remaining, "on_demand", self._on_demand(f))
        if reserved:
            what = "these units" if remaining is None else f"{remaining} unit{'s' if remaining != 1 else ''}"
            msg = f"pricing model reserved but no `commitments` entry covers {what}: priced on-demand"
            line["note"] = msg
            out.notes.append(msg)
        out.lines.append(line)

    def _commit(self, f: _Facts, n: int, pool: list[_Commitment], out: _Lines) -> int:
        """Take up to ``n`` units from the matching commitments; the units left over."""
        assert f.itype is not None
        remaining = n
        for com in pool:
            if remaining <= 0:
                break
            if com.remaining <= 0 or com.instance_type != normalize(f.itype):
                continue
            if com.provider and f.info is not None and com.provider != f.info.provider:
                continue
            take = min(com.remaining, remaining)
            com.remaining -= take
            remaining -= take
            out.lines.append(self._line(take, "reserved", self._committed(com, f.itype, f.info), term=com.term,
                                        commitment=com.index))
        return remaining

    def _apply_node_share(self, f: _Facts, out: _Lines) -> None:
        share = self._node_share(f.compute, f.info, f.gpus)
        if share is None:
            return
        assert f.info is not None and f.gpus is not None
        for line in out.lines:
            if line["_usd"] is not None:
                line["node_usd_per_hour"] = round(line["_usd"], 6)
                line["_usd"] *= share
                line["usd_per_hour"] = round(line["_usd"], 6)
                line["node_share"] = round(share, 4)
                if line["units"] is not None:  # the subtotal is what the figure adds up: share included
                    line["subtotal_usd_per_hour"] = round(line["_usd"] * line["units"], 6)
        out.notes.append(f"pods use {f.gpus:g} of the {f.info.accelerator_count:g} GPUs of a {f.itype} node: "
                         f"priced at {share:.0%} of the node's rate")

    def _total(self, f: _Facts, out: _Lines, known: bool) -> Cost:
        lines, reasons = out.lines, out.reasons
        for line in lines:
            if line["usd_per_hour"] is None and line.get("reason"):
                reasons.append(line["reason"])
        rated = [ln for ln in lines if ln["usd_per_hour"] is not None]
        hourly: float | None = None
        if known and len(rated) == len(lines):
            hourly = sum(ln["units"] * ln["_usd"] for ln in lines)
        monthly = None
        if hourly is not None:
            if f.hours is None:
                reasons.append(f.hours_reason or "hours per month unknown")
            else:
                monthly = hourly * f.hours
        gpu_hours = None
        if f.gpus is not None and f.units is not None and f.hours is not None:
            gpu_hours = f.gpus * f.units * f.hours
        elif f.gpus is None and f.itype and (f.family is not None or any(ln.get("unknown_gpu_family") for ln in lines)):
            reasons.append(f"GPUs per unit unknown for {f.itype} (size not in the rate card)")
        elif f.gpus is None and f.gpu_model and hourly is None:
            pass  # the rate reason already explains it
        elif f.hours is None and hourly is None and f.hours_reason and f.hours_reason not in reasons:
            reasons.append(f.hours_reason)
        out.notes.extend(self._region_notes(f.compute, rated))
        ids = list(dict.fromkeys(ln["source"] for ln in rated if ln.get("source")))
        dates = list(dict.fromkeys(ln["date"] for ln in rated if ln.get("date")))
        return Cost(
            hourly_usd=hourly,
            monthly_usd=monthly,
            gpu_hours_per_month=gpu_hours,
            rate_source=", ".join(ids) or None,
            rate_date=", ".join(dates) or None,
            reason="; ".join(dict.fromkeys(reasons + out.notes)) or None,
            breakdown=[{k: v for k, v in ln.items() if k not in ("region", "_usd")} for ln in lines],
        )

    @staticmethod
    def _node_share(c: Compute, info: InstanceInfo | None, gpus: float | None) -> float | None:
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
        src = self.card.source(rate.source) if rate.source and rate.source != "config" else None
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
        return self.instance_types.get(normalize(itype), {}).get(key)

    def _on_demand(self, f: _Facts, negotiated: bool = True) -> _Rate:
        itype, info, family = f.itype, f.info, f.family
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
                what = (f"an accelerated {family.gpu_model} type of family {family.pattern},"
                        f" but this size is not in the rate card")
            else:
                unknown = self.card.unknown_gpu_family(itype)
                if unknown is not None:
                    return _Rate(None, reason=(f"unknown GPU instance type {itype}: treated as AI, not priced (family "
                                               f"{unknown} follows a GPU naming scheme but is not in the rate card); "
                                               f"set pricing.instance_types.{itype}.on_demand to price it"),
                                 extra={"unknown_gpu_family": unknown})
                what = "not in the rate card and not a known GPU/accelerator family"
            return _Rate(None, reason=f"{itype}: {what}; set pricing.instance_types.{itype}.on_demand to price it")
        if f.floor and (f.floor.get("gpu_only") or f.floor.get("rate_only")) and f.gpus is not None:
            # a floor at the GPU-only rate of a GPU billed apart from its VM (GCP N1 + T4): the rate card's
            # ``attached_gpus`` row, not the per-GPU rate of a type carrying that model; or per share of a GPU
            # the device plugin time-slices / MIG-partitions (``rate_only``)
            fl = f.floor
            per = float(fl["usd_per_accelerator_hour"]) * (1 - d / 100)
            what = "GPU-only on-demand rate" if fl.get("gpu_only") else "on-demand rate per share"
            basis = (f"{what} of a {fl.get('provider')} {fl.get('gpu_model')} x {f.gpus:g} GPU"
                     + (f", less {d:g}% negotiated discount" if d else "")
                     + "".join(f" ({fl[k]})" for k in ("gpu_only", "share") if fl.get(k)))
            return _Rate(per * f.gpus, fl.get("source"), basis, extra={"usd_per_gpu_hour": per},
                         region=fl.get("region"))
        return self._per_gpu(f.gpu_model, f.gpus, d)

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
        g = self.card.gpu_hourly(model)
        if g is None or g.usd_per_gpu_hour is None:
            why = g.reason if g is not None and g.reason else "not in the rate card"
            return _Rate(None, reason=f"no per-GPU-hour rate for {model} ({why}); set pricing.gpu_hourly_usd.{model}")
        per = g.usd_per_gpu_hour * (1 - d / 100)
        basis = f"per-GPU on-demand rate of {g.derived_from} x {gpus:g} GPU" + (
            f", less {d:g}% negotiated discount" if d else "")
        return _Rate(per * gpus, g.source, basis, extra={"usd_per_gpu_hour": per}, region=g.region)

    def _spot(self, f: _Facts) -> _Rate:
        itype, info = f.itype, f.info
        cfg = self._override(itype, "spot")
        if cfg is not None:
            return _Rate(cfg, "config", f"pricing.instance_types.{itype}.spot")
        if info is not None and info.spot is not None:
            return _Rate(info.spot, info.spot_source, "rate card spot rate",
                         extra={"spot_kind": info.spot_kind}, region=info.region)
        base = self._on_demand(f, negotiated=False)
        if base.usd is None:
            return _Rate(None, reason=(base.reason or "no on-demand rate") + " (spot is derived from it)",
                         extra=base.extra)
        pct = self.spot_discount_pct
        return _Rate(base.usd * (1 - pct / 100), base.source,
                     f"on-demand ({base.basis}) less the default spot discount {pct:g}% (pricing.spot_discount_pct)",
                     extra={"spot_kind": "default_discount", "spot_discount_pct": pct}, region=base.region)

    def _committed(self, com: _Commitment, itype: str, info: InstanceInfo | None) -> _Rate:
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


_MEMO_META = (PLACEMENT_FLOOR_KEY, "run_to_completion", "runs_per_month")
# every field of Compute but its notes (which pricing never reads): a field added later is in the key by itself
_COMPUTE_VALUES = operator.attrgetter(*(f.name for f in dataclasses.fields(Compute) if f.name != "notes"))
_FLAT = (str, int, float, bool, type(None))


def _memo_key(r: Resource) -> tuple[Any, ...] | None:
    """Everything ``Pricer._price`` reads of ``r`` (values with their types), or ``None`` when ``r`` has a
    placement floor (a dict, priced on its own)."""
    meta = r.meta
    if FLOOR_KEY in meta:
        return None
    c = r.compute
    assert c is not None
    values = _COMPUTE_VALUES(c)
    key: tuple[Any, ...] = (values, tuple(map(type, values)))
    if meta:
        if not meta.keys().isdisjoint(_MEMO_META):  # one C call: the generator ran for every resource (~3 k instr.)
            key += tuple((k, meta[k].__class__, meta[k]) for k in _MEMO_META if k in meta)
        acc = meta.get("accelerators")
        if acc is not None:
            key += (("accelerators", acc.__class__, tuple(acc) if isinstance(acc, dict) else acc),)
    return key


def _copy_cost(cost: Cost) -> Cost:
    """A copy with its own lists, made without ``Cost.__init__``: the strings and lines of ``cost`` are the shared
    ones its ``__post_init__`` picked (a constructor call, or a loop over the fields, costs ~2.4 us a copy, this
    0.4 us; ``tests/test_price_all_memo.py`` checks that every field of ``Cost`` is copied)."""
    new = Cost.__new__(Cost)
    new.hourly_usd = cost.hourly_usd
    new.monthly_usd = cost.monthly_usd
    new.gpu_hours_per_month = cost.gpu_hours_per_month
    new.rate_source = cost.rate_source
    new.rate_date = cost.rate_date
    new.reason = cost.reason
    new.breakdown = list(cost.breakdown)
    new.attributed_from = list(cost.attributed_from)
    new.lower_bound = cost.lower_bound
    return new


def _flat_cost(cost: Cost) -> bool:
    """Whether a copy of ``cost`` with its own lists shares nothing that could be changed in place."""
    return all(isinstance(v, _FLAT) for ln in cost.breakdown for v in ln.values())


# compute.pricing_model -> the function that prices it (anything else: on-demand, with a note)
PRICING_MODELS: dict[str, Callable[[Pricer, _Facts, list[_Commitment], _Lines], None]] = {
    "on_demand": Pricer._price_on_demand,
    "spot": Pricer._price_spot,
    "mixed": Pricer._price_mixed,
    "reserved": Pricer._price_reserved,
    "committed": Pricer._price_reserved,
}
