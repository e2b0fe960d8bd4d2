#!/usr/bin/env python3
"""Build ``policies/ratecard.json`` from the shared GPU pricing catalog.

    python scripts/build_ratecard.py [CATALOG] [--out policies/ratecard.json] [--check]

CATALOG defaults to ``../shared/reference/pricing/gpu_catalog.yaml`` relative
to the repository root.  The catalog is reference data: tagguard never reads
it at run time, only the rate card this script writes.  Nothing is estimated
here: a null price stays null, every price keeps the id of its source, and
the only derived figures (the per-GPU-hour table and the family patterns) are
computed from catalog rows by the rules written below and in
``policies/ratecard.README.md``.

``--check`` writes nothing and exits 1 when the committed file is stale.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CATALOG = REPO / ".." / "shared" / "reference" / "pricing" / "gpu_catalog.yaml"
DEFAULT_OUT = REPO / "policies" / "ratecard.json"
# Cited rates the shared catalog leaves null or does not carry (Cloud TPU per chip, Azure T4 sizes...):
# they fill nulls only, never replace a catalog figure (policies/ratecard_supplement.yaml says how).
DEFAULT_SUPPLEMENT = REPO / "policies" / "ratecard_supplement.yaml"
RATECARD_SCHEMA_VERSION = 1

try:  # the GPU-name normaliser is shared with the runtime catalog
    from tagguard.pricing.gpus import short_gpu_model
except ImportError:  # pragma: no cover - running from a checkout without an install
    sys.path.insert(0, str(REPO / "src"))
    from tagguard.pricing.gpus import short_gpu_model

# Order in which providers/services may supply the per-GPU-hour fallback rate:
# AWS EC2 first (tagguard's main target, and the source with the most rows),
# then GCP and Azure for models AWS does not carry.  SageMaker is never used:
# its ml.* rates include the managed-service premium.
GPU_RATE_PREFERENCE = (("aws", "ec2"), ("gcp", "compute-engine"), ("azure", "virtual-machines"))

# What stands for the size part of a type name in a family pattern.
_SIZE_RE = {"aws": r"[a-z0-9-]+", "gcp": r"[a-z0-9]+", "azure": r"[0-9]+"}


class CatalogError(Exception):
    pass


def _num(value: Any) -> Any:
    """Integral floats become ints (counts, GiB); everything else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _ref(entry: dict[str, Any], key: str, sources: dict[str, Any], where: str) -> str | None:
    src = entry.get(key)
    if src is None:
        return None
    ref = src.get("ref") if isinstance(src, dict) else None
    if ref not in sources:
        raise CatalogError(f"{where}: {key} names unknown source {ref!r}")
    if src.get("url") != sources[ref]["url"]:
        raise CatalogError(f"{where}: {key} url differs from sources[{ref!r}].url")
    return ref


def _spec_refs(entry: dict[str, Any], sources: dict[str, Any], where: str) -> list[str]:
    src = entry.get("specs_source")
    if not src:
        return []
    refs = [r.strip() for r in str(src.get("ref", "")).split("+") if r.strip()]
    for r in refs:
        if r not in sources:
            raise CatalogError(f"{where}: specs_source names unknown source {r!r}")
    return refs


def _esc(name: str) -> str:
    """Escape a type-name fragment ([A-Za-z0-9._-] only) portably: just the dots."""
    if not re.fullmatch(r"[A-Za-z0-9._-]*", name):
        raise CatalogError(f"unexpected character in instance type fragment {name!r}")
    return name.replace(".", r"\.")


def family_of(provider: str, service: str, instance_type: str) -> tuple[str, str, str]:
    """(family name, display pattern, regex matched against the lower-cased type)."""
    if provider == "aws":
        head = instance_type.rsplit(".", 1)[0]  # "p4d" or "ml.g5"
        return head, f"{head}.*", rf"^{_esc(head.lower())}\.{_SIZE_RE['aws']}$"
    if provider == "gcp":
        head = instance_type.rsplit("-", 1)[0]  # "a2-highgpu"
        return head, f"{head}-*", rf"^{_esc(head.lower())}-{_SIZE_RE['gcp']}$"
    if provider == "azure":
        m = re.match(r"^Standard_([A-Za-z]+)(\d+)(.*)$", instance_type)
        if not m:
            raise CatalogError(f"azure/{instance_type}: not a Standard_<series><vCPUs>... size name")
        series, rest = m.group(1), m.group(3)
        name = f"Standard_{series}*{rest}"
        return name, name, rf"^standard_{_esc(series.lower())}{_SIZE_RE['azure']}{_esc(rest.lower())}$"
    raise CatalogError(f"{provider}/{instance_type}: unknown provider")


def build(catalog_path: Path, supplement_path: Path | None = DEFAULT_SUPPLEMENT) -> dict[str, Any]:
    import yaml

    raw_bytes = Path(catalog_path).read_bytes()
    cat = yaml.safe_load(raw_bytes)
    if not isinstance(cat, dict) or "instances" not in cat or "sources" not in cat:
        raise CatalogError(f"{catalog_path}: not a gpu_catalog.yaml (needs 'sources' and 'instances')")
    if cat.get("hours_per_month") != 730:
        raise CatalogError(f"{catalog_path}: expected hours_per_month 730, got {cat.get('hours_per_month')!r}")
    supp_bytes = b""
    if supplement_path is not None and Path(supplement_path).is_file():
        supp_bytes = Path(supplement_path).read_bytes()
    supp = yaml.safe_load(supp_bytes) if supp_bytes else {}
    supp = supp if isinstance(supp, dict) else {}

    sources: dict[str, Any] = {}
    for sid, s in sorted(cat["sources"].items()):
        sources[sid] = {"url": s["url"], "date": str(s["date"]), "covers": s.get("covers"), "kind": s.get("kind")}
    for sid, s in sorted((supp.get("sources") or {}).items()):
        if sid in sources:
            raise CatalogError(f"supplement source {sid!r} is already a catalog source")
        sources[sid] = {"url": s["url"], "date": str(s["date"]), "covers": s.get("covers"), "kind": s.get("kind")}
    _fill_nulls(cat, supp.get("fill") or [], sources)
    _add_rows(cat, supp.get("add") or [], sources)

    instances: dict[str, Any] = {}
    for row in cat["instances"]:
        provider, service, itype = row["provider"], row["service"], row["instance_type"]
        key = f"{provider}/{itype}"
        if key in instances:
            raise CatalogError(f"{key}: listed twice")
        model = short_gpu_model(row["accelerator"])
        if model is None:
            raise CatalogError(f"{key}: no short model for accelerator {row['accelerator']!r}; "
                               "extend tagguard/pricing/gpus.py")
        od_ref = _ref(row, "on_demand_source", sources, key)
        spot_ref = _ref(row, "spot_source", sources, key)
        res_ref = _ref(row, "reserved_source", sources, key)
        for price, ref, what in (
            (row.get("on_demand_usd_per_hour"), od_ref, "on_demand"),
            (row.get("spot_usd_per_hour"), spot_ref, "spot"),
            (row.get("reserved_1yr_usd_per_hour"), res_ref, "reserved_1yr"),
            (row.get("reserved_3yr_usd_per_hour"), res_ref, "reserved_3yr"),
        ):
            if price is not None and ref is None:
                raise CatalogError(f"{key}: {what} has a price but no source")
        history = []
        for h in row.get("on_demand_history") or []:
            href = _ref(h, "source", sources, f"{key} on_demand_history")
            history.append({"date": str(h["date"]), "source": href, "usd_per_hour": h["usd_per_hour"]})
        instances[key] = {
            "provider": provider,
            "service": service,
            "instance_type": itype,
            "accelerator": row["accelerator"],
            "gpu_model": model,
            "accelerator_count": _num(row["accelerator_count"]),
            "accelerator_memory_gib": _num(row.get("accelerator_memory_gib_each")),
            "vcpus": _num(row.get("vcpus")),
            "memory_gib": _num(row.get("memory_gib")),
            "region": row.get("region"),
            "os": row.get("os"),
            "on_demand": row.get("on_demand_usd_per_hour"),
            "on_demand_source": od_ref,
            "on_demand_history": history,
            "spot": row.get("spot_usd_per_hour"),
            "spot_source": spot_ref,
            "spot_kind": row.get("spot_kind"),
            "spot_discount_pct": _num(row.get("spot_discount_pct")),
            "reserved_1yr": row.get("reserved_1yr_usd_per_hour"),
            "reserved_3yr": row.get("reserved_3yr_usd_per_hour"),
            "reserved_source": res_ref,
            "reserved_kind": row.get("reserved_kind"),
            "specs_source": _spec_refs(row, sources, key),
            "notes": list(row.get("notes") or []) + ([row["spot_note"]] if row.get("spot_note") else [])
            + _precut_note(provider, model, od_ref, sources),
        }

    return {
        "schema_version": RATECARD_SCHEMA_VERSION,
        "currency": cat.get("currency", "USD"),
        "hours_per_month": cat["hours_per_month"],
        "built_from": {
            "catalog": "gpu_catalog.yaml",
            "catalog_generated": str(cat.get("generated")),
            "catalog_schema_version": cat.get("schema_version"),
            "catalog_sha256": hashlib.sha256(raw_bytes).hexdigest(),
            "command": "python scripts/build_ratecard.py [path/to/gpu_catalog.yaml]",
            **({"supplement": "policies/ratecard_supplement.yaml",
                "supplement_sha256": hashlib.sha256(supp_bytes).hexdigest()} if supp_bytes else {}),
        },
        "sources": sources,
        "instances": instances,
        "families": _families(instances),
        "gpu_hourly_usd": _accelerator_rates(_gpu_hourly(instances), supp.get("accelerator_rates") or {}, sources),
        **({"attached_gpus": _attached_gpus(supp["attached_gpus"], sources)} if supp.get("attached_gpus") else {}),
    }


def _attached_gpus(rows: list[dict[str, Any]], sources: dict[str, Any]) -> dict[str, Any]:
    """GPUs a cloud bills on their own, attached to a VM billed on top (GCP N1 + T4): ``<provider>/<model>`` ->
    the GPU-only on-demand rate per GPU-hour, the most one VM takes, and the citation."""
    out: dict[str, Any] = {}
    for r in rows:
        provider, model = r.get("provider"), r.get("gpu_model")
        key = f"{provider}/{model}"
        where = f"supplement attached_gpus {key}"
        if provider not in ("aws", "gcp", "azure"):
            raise CatalogError(f"{where}: unknown provider")
        if short_gpu_model(str(model)) != model:
            raise CatalogError(f"{where}: {model!r} is not a short model name (gpus.py)")
        if key in out:
            raise CatalogError(f"{where}: listed twice")
        if r.get("source") not in sources:
            raise CatalogError(f"{where}: unknown source {r.get('source')!r}")
        rate, most = r.get("usd_per_gpu_hour"), r.get("max_per_vm")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate <= 0:
            raise CatalogError(f"{where}: usd_per_gpu_hour must be a positive number")
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            raise CatalogError(f"{where}: max_per_vm must be a positive integer")
        out[key] = {"provider": provider, "gpu_model": model, "usd_per_gpu_hour": rate, "max_per_vm": most,
                    "attach_to": r.get("attach_to"), "region": r.get("region"), "source": r["source"],
                    "evidence": r.get("evidence"),
                    "note": "GPU only: the VM it is attached to is billed on top"}
    return dict(sorted(out.items()))


def _fill_nulls(cat: dict[str, Any], fills: list[dict[str, Any]], sources: dict[str, Any]) -> None:
    """Supplement rates for catalog rows whose rate is null; a cited catalog rate is never replaced."""
    rows = {(r["provider"], r["instance_type"]): r for r in cat["instances"]}
    for f in fills:
        key = (f["provider"], f["instance_type"])
        where = f"supplement fill {key[0]}/{key[1]}"
        row = rows.get(key)
        if row is None:
            raise CatalogError(f"{where}: no such catalog row")
        if f.get("source") not in sources:
            raise CatalogError(f"{where}: unknown source {f.get('source')!r}")
        if f.get("region") and row.get("region") and f["region"] != row["region"]:
            raise CatalogError(f"{where}: region {f['region']} differs from the catalog row's {row['region']}")
        src = {"ref": f["source"], "url": sources[f["source"]]["url"]}
        filled = []
        if f.get("on_demand_usd_per_hour") is not None and row.get("on_demand_usd_per_hour") is None:
            row["on_demand_usd_per_hour"] = f["on_demand_usd_per_hour"]
            row["on_demand_source"] = src
            filled.append("on-demand")
        if f.get("spot_usd_per_hour") is not None and row.get("spot_usd_per_hour") is None:
            row["spot_usd_per_hour"] = f["spot_usd_per_hour"]
            row["spot_source"] = src
            row["spot_kind"] = "published_spot_price"
            if row.get("on_demand_usd_per_hour"):
                row["spot_discount_pct"] = round(100 * (1 - f["spot_usd_per_hour"] / row["on_demand_usd_per_hour"]), 1)
            filled.append("spot")
        if not filled:
            raise CatalogError(f"{where}: the catalog already has every rate it gives (remove it)")
        row["notes"] = [n for n in (row.get("notes") or []) if "left null" not in n] + [
            f"{' and '.join(filled)} rate from {f['source']} (policies/ratecard_supplement.yaml): the shared catalog "
            "had none"]


def _add_rows(cat: dict[str, Any], rows: list[dict[str, Any]], sources: dict[str, Any]) -> None:
    """Rows the catalog does not have at all, each price and spec citing a supplement source."""
    have = {(r["provider"], r["instance_type"]) for r in cat["instances"]}
    for r in rows:
        key = (r["provider"], r["instance_type"])
        where = f"supplement add {key[0]}/{key[1]}"
        if key in have:
            raise CatalogError(f"{where}: the catalog has this row; use `fill` for its null rates")
        src = r.get("source")
        if src not in sources:
            raise CatalogError(f"{where}: unknown source {src!r}")
        ref = {"ref": src, "url": sources[src]["url"]}
        row = {k: r.get(k) for k in ("provider", "service", "instance_type", "accelerator", "accelerator_count",
                                     "vcpus", "memory_gib", "region", "os")}
        row.update({"specs_source": ref, "on_demand_usd_per_hour": r.get("on_demand_usd_per_hour"),
                    "on_demand_source": ref if r.get("on_demand_usd_per_hour") is not None else None,
                    "spot_usd_per_hour": r.get("spot_usd_per_hour"),
                    "spot_source": ref if r.get("spot_usd_per_hour") is not None else None,
                    "spot_kind": "published_spot_price" if r.get("spot_usd_per_hour") is not None else None,
                    "notes": [f"row from {src} (policies/ratecard_supplement.yaml): not in the shared catalog"]
                    + [str(r[k]) for k in ("note", "evidence") if r.get(k)]})
        if row["on_demand_usd_per_hour"] and row["spot_usd_per_hour"]:
            row["spot_discount_pct"] = round(100 * (1 - row["spot_usd_per_hour"] / row["on_demand_usd_per_hour"]), 1)
        cat["instances"].append(row)
        have.add(key)


def _accelerator_rates(table: dict[str, Any], rates: dict[str, Any], sources: dict[str, Any]) -> dict[str, Any]:
    """Per-accelerator-hour rates of accelerators billed by the accelerator (Cloud TPU chips), for models no
    catalog row prices."""
    out = dict(table)
    for model, r in sorted(rates.items()):
        if short_gpu_model(model) != model:
            raise CatalogError(f"supplement accelerator_rates: {model!r} is not a short model name (gpus.py)")
        if out.get(model, {}).get("usd_per_gpu_hour") is not None:
            raise CatalogError(f"supplement accelerator_rates: {model} is already priced by catalog rows")
        if r.get("source") not in sources:
            raise CatalogError(f"supplement accelerator_rates.{model}: unknown source {r.get('source')!r}")
        out[model] = {"usd_per_gpu_hour": r["usd_per_hour"], "derived_from": f"{model} per chip-hour ({r['evidence']})",
                      "on_demand": r["usd_per_hour"], "accelerator_count": 1, "region": r["region"],
                      "source": r["source"]}
    return dict(sorted(out.items()))


# AWS cut P4/P5 (A100/H100/H200) on-demand prices in June 2025; the first
# Price List snapshot with the new prices is dated 2025-06-23 (NOTES.md section 6).
P_CUT_DATE = "2025-06-23"
P_CUT_MODELS = ("A100", "H100", "H200")


def _precut_note(provider: str, model: str, ref: str | None, sources: dict[str, Any]) -> list[str]:
    if provider != "aws" or model not in P_CUT_MODELS or ref is None:
        return []
    date = sources[ref]["date"]
    if date >= P_CUT_DATE:
        return []
    return [f"on-demand source dated {date} predates AWS's June 2025 P4/P5 price reduction "
            f"(first seen in the {P_CUT_DATE} Price List); the current rate may be lower"]


def _families(instances: dict[str, Any]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for e in instances.values():
        name, pattern, regex = family_of(e["provider"], e["service"], e["instance_type"])
        fam = groups.setdefault(f"{e['provider']}/{name}", {
            "provider": e["provider"], "service": e["service"], "family": name,
            "pattern": pattern, "regex": regex, "members": [], "_models": set(), "_acc": set(),
        })
        if fam["service"] != e["service"]:
            raise CatalogError(f"family {name}: mixes services {fam['service']} and {e['service']}")
        fam["members"].append(e["instance_type"])
        fam["_models"].add(e["gpu_model"])
        fam["_acc"].add(e["accelerator"])
    out: dict[str, Any] = {}
    for fkey, fam in sorted(groups.items()):
        models = fam.pop("_models")
        accs = fam.pop("_acc")
        if len(models) != 1:
            raise CatalogError(f"family {fkey}: members carry different GPU models {sorted(models)}")
        fam["gpu_model"] = models.pop()
        fam["accelerator"] = accs.pop() if len(accs) == 1 else None
        fam["members"] = sorted(fam["members"])
        fam["gpus_from_name"] = _gpus_from_name(fam, instances)
        out[fkey] = fam
    return out


def _gpus_from_name(fam: dict[str, Any], instances: dict[str, Any]) -> str | None:
    """A regex whose group 1 is the GPU count, kept only if every member's name agrees with its count.

    GCP accelerator-optimized names end in ``-<N>g`` (a2-highgpu-8g has 8 GPUs);
    g2-standard-<N> counts vCPUs, so the check rejects it.
    """
    if fam["provider"] != "gcp":
        return None
    regex = rf"^{_esc(fam['family'].lower())}-([0-9]+)g$"
    for member in fam["members"]:
        m = re.match(regex, member.lower())
        count = instances[f"gcp/{member}"]["accelerator_count"]
        if not m or int(m.group(1)) != count:
            return None
    return regex


def _gpu_hourly(instances: dict[str, Any]) -> dict[str, Any]:
    """Per GPU model: on-demand rate / GPU count of the cheapest-per-GPU type, by provider preference."""
    out: dict[str, Any] = {}
    models = sorted({e["gpu_model"] for e in instances.values()})
    for model in models:
        chosen = None
        for provider, service in GPU_RATE_PREFERENCE:
            candidates = []
            for key, e in sorted(instances.items()):
                if (e["gpu_model"] == model and e["provider"] == provider and e["service"] == service
                        and e["on_demand"] is not None and e["accelerator_count"]):
                    candidates.append((e["on_demand"] / e["accelerator_count"], key, e))
            if candidates:
                chosen = min(candidates, key=lambda c: (c[0], c[1]))
                break
        if chosen is None:
            out[model] = {"usd_per_gpu_hour": None, "derived_from": None,
                          "reason": "no type carrying this GPU has a sourced on-demand rate"}
            continue
        per_gpu, key, e = chosen
        out[model] = {
            "usd_per_gpu_hour": per_gpu,
            "derived_from": key,
            "on_demand": e["on_demand"],
            "accelerator_count": e["accelerator_count"],
            "region": e["region"],
            "source": e["on_demand_source"],
        }
    return out


def dumps(card: dict[str, Any]) -> str:
    """Sorted keys; one line per instance, family and GPU rate, so diffs stay readable."""
    def one(v: Any) -> str:
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    lines = ["{"]
    keys = sorted(card)
    for i, k in enumerate(keys):
        v = card[k]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            lines.append(f"{one(k)}:{{")
            sub = sorted(v)
            for j, sk in enumerate(sub):
                lines.append(f"{one(sk)}:{one(v[sk])}" + ("," if j < len(sub) - 1 else ""))
            lines.append("}" + comma)
        else:
            lines.append(f"{one(k)}:{one(v)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("catalog", nargs="?", default=str(DEFAULT_CATALOG), help="path of gpu_catalog.yaml")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="where to write the rate card")
    ap.add_argument("--check", action="store_true", help="exit 1 if --out differs from a fresh build; write nothing")
    ap.add_argument("--supplement", default=str(DEFAULT_SUPPLEMENT),
                    help="cited rates the catalog leaves null (default: policies/ratecard_supplement.yaml)")
    args = ap.parse_args(argv)
    catalog = Path(args.catalog)
    if not catalog.is_file():
        print(f"build_ratecard: {catalog}: catalog not found", file=sys.stderr)
        return 2
    try:
        text = dumps(build(catalog, Path(args.supplement)))
    except CatalogError as exc:
        print(f"build_ratecard: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            print(f"build_ratecard: {out} is stale; run python scripts/build_ratecard.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    card = json.loads(text)
    print(f"wrote {out} ({len(card['instances'])} instance types, {len(card['families'])} families)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
