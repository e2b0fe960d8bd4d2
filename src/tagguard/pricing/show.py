"""``tagguard pricing show TYPE``: one rate-card row, with every rate's source."""
from __future__ import annotations

import json
from typing import Any

from tagguard.formats.helpers import money as _money
from tagguard.formats.helpers import rate as _rate

UNKNOWN = "unknown (no citable source)"
EXIT_OK, EXIT_NO_RATES, EXIT_UNKNOWN = 0, 1, 2

_RATES = (
    ("on_demand", "on-demand"),
    ("spot", "spot"),
    ("reserved_1yr", "1y commit"),
    ("reserved_3yr", "3y commit"),
)






def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _source_json(catalog, sid: str | None) -> dict[str, Any] | None:
    src = catalog.source(sid)
    if src is None:
        return None
    return {"id": src.id, "url": src.url, "date": src.date}


def render_pricing_show(instance_type: str, provider: str | None = None, fmt: str = "text") -> tuple[str, int]:
    """Text (or JSON) describing ``instance_type`` and an exit code.

    0: in the rate card; 1: recognised as an accelerated family but this size
    has no rates; 2: unknown type (with "did you mean" suggestions).
    """
    from tagguard.pricing import catalog

    hours = catalog.load().hours_per_month
    info = catalog.lookup(instance_type, provider)
    if info is None:
        return _render_unknown(catalog, instance_type, provider, fmt)

    rates: dict[str, Any] = {}
    for kind, _label in _RATES:
        usd = info.rate(kind)
        entry: dict[str, Any] = {
            "usd_per_hour": usd,
            "usd_per_month": None if usd is None else usd * hours,
            "usd_per_gpu_hour": None if usd is None or not info.accelerator_count else usd / info.accelerator_count,
            "source": _source_json(catalog, info.rate_source(kind)) if usd is not None else None,
        }
        if kind == "spot" and usd is not None:
            entry["spot_kind"] = info.spot_kind
            entry["spot_discount_pct"] = info.spot_discount_pct
        if kind.startswith("reserved") and usd is not None and info.reserved_kind:
            entry["reserved_kind"] = info.reserved_kind
        rates[kind] = entry

    if fmt == "json":
        doc = {
            "instance_type": info.instance_type,
            "provider": info.provider,
            "service": info.service,
            "region": info.region,
            "gpu_model": info.gpu_model,
            "accelerator": info.accelerator,
            "accelerator_count": info.accelerator_count,
            "accelerator_memory_gib": info.accelerator_memory_gib,
            "vcpus": info.vcpus,
            "memory_gib": info.memory_gib,
            "hours_per_month": hours,
            "rates": rates,
            "on_demand_history": [dict(h, source=_source_json(catalog, h.get("source")))
                                  for h in info.on_demand_history],
            "specs_source": [_source_json(catalog, s) for s in info.specs_source],
            "notes": list(info.notes),
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n", EXIT_OK

    region = info.region or "region not stated by the source"
    lines: list[str] = [f"{info.instance_type}  ({info.provider} {info.service}, {region})"]
    mem = f", {_num(info.accelerator_memory_gib)} GiB each" if info.accelerator_memory_gib else ""
    lines.append(f"  accelerator  {_num(info.accelerator_count)} x {info.accelerator} [{info.gpu_model}]{mem}")
    host = []
    if info.vcpus is not None:
        host.append(f"{info.vcpus} vCPU")
    if info.memory_gib is not None:
        host.append(f"{_num(info.memory_gib)} GiB memory")
    if host:
        lines.append(f"  host         {', '.join(host)}")
    lines.append(f"  rates (USD, Linux list prices; month = {_num(hours)} h):")
    for kind, label in _RATES:
        r = rates[kind]
        if r["usd_per_hour"] is None:
            extra = ""
            if kind == "spot":
                extra = "; tagguard applies the default spot discount (pricing.spot_discount_pct, 55%) to on-demand"
            lines.append(f"    {label:<10} {UNKNOWN}{extra}")
            continue
        per_gpu = f", {_rate(r['usd_per_gpu_hour'])}/GPU-h" if r["usd_per_gpu_hour"] is not None else ""
        lines.append(f"    {label:<10} {_rate(r['usd_per_hour'])}/h{per_gpu}, {_money(r['usd_per_month'])}/month")
        src = r["source"]
        if src:
            lines.append(f"               source: {src['id']} ({src['date']}) {src['url']}")
        if kind == "spot" and info.spot_kind:
            pct = f", {_num(info.spot_discount_pct)}% below on-demand" if info.spot_discount_pct is not None else ""
            lines.append(f"               kind: {info.spot_kind}{pct}")
    if info.on_demand_history:
        lines.append("  on-demand history:")
        for h in info.on_demand_history:
            lines.append(f"    {h['date']}  {_rate(h['usd_per_hour'])}/h  ({h['source']})")
    if info.notes:
        lines.append("  notes:")
        lines.extend(f"    - {n}" for n in info.notes)
    return "\n".join(lines) + "\n", EXIT_OK


def _render_unknown(catalog, instance_type: str, provider: str | None, fmt: str) -> tuple[str, int]:
    fam = catalog.find_family(instance_type, provider)
    hints = catalog.suggest(instance_type, provider)
    if fam is not None:
        hints = hints or list(fam.members[:3])
        gpus = fam.gpus_for(catalog.normalize(instance_type))
        code = EXIT_NO_RATES
        message = (f"{instance_type} is not in the rate card, but it belongs to the accelerated family "
                   f"{fam.pattern} ({fam.gpu_model}, {fam.provider} {fam.service}); "
                   + (f"{_num(gpus)} GPUs per the name; " if gpus is not None else "GPU count unknown; ")
                   + "no rates (set pricing.instance_types in .tagguard.yaml to price it)")
    elif catalog.unknown_gpu_family(instance_type, provider) is not None:
        code = EXIT_NO_RATES
        message = (f"unknown GPU instance type {instance_type}:"
                   f" family {catalog.unknown_gpu_family(instance_type, provider)} "
                   "follows a GPU naming scheme but is not in the rate card; scans treat it as AI, not priced "
                   f"(set pricing.instance_types.{instance_type}.on_demand in .tagguard.yaml to price it)")
    else:
        code = EXIT_UNKNOWN
        where = f" for provider {provider}" if provider else ""
        message = (f"unknown instance type {instance_type!r}{where}:"
                   f" not in the rate card and not a known GPU/accelerator family")
    if fmt == "json":
        doc = {"instance_type": instance_type, "error": message, "did_you_mean": hints,
               "family": None if fam is None else {"pattern": fam.pattern, "gpu_model": fam.gpu_model,
                                                   "provider": fam.provider, "service": fam.service,
                                                   "members": list(fam.members)}}
        return json.dumps(doc, indent=2, sort_keys=True) + "\n", code
    text = message
    if hints:
        text += "\n  did you mean: " + ", ".join(hints) + "?"
    return text + "\n", code
