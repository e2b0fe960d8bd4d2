"""``tagguard pricing refresh``: a local rate card from the AWS Price List API and current spot prices.

Writes ``~/.cache/tagguard/ratecard.local.json`` (or ``$TAGGUARD_LOCAL_RATECARD``, or ``--output``)
atomically (temp file in the same directory + ``os.replace``), with the source and date of every
figure.  ``local_ratecard()`` lays it over the shipped rate card of ``tagguard.pricing.catalog``
(on-demand, spot and 1y/3y standard no-upfront rates of the file's primary region, i.e. the first
``--regions`` value) as a new card; ``engine.make_pricer`` prices with that card, so every price
uses the refreshed figures and cites them as their source.

Calls (read-only): ``pricing:GetProducts`` (endpoint us-east-1; filters as in the AWS Price List
notes: instanceType, regionCode, operatingSystem=Linux, tenancy=Shared, capacitystatus=Used,
preInstalledSw=NA, marketoption=OnDemand) and ``ec2:DescribeSpotPriceHistory`` (Linux/UNIX,
``StartTime=now``: the effective price per AZ; we keep the median across AZs, plus min and max).
"""
from __future__ import annotations

import dataclasses
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable

if TYPE_CHECKING:
    from tagguard.pricing.catalog import RateCard

SCHEMA_KIND = "tagguard-local-ratecard"
PRICE_LIST_DOC = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/price-changes.html"
SPOT_DOC = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSpotPriceHistory.html"
_LOCK = threading.Lock()
_OVERLAID: dict[tuple[Any, ...], tuple[RateCard, RateCard]] = {}  # (file, region, mtime, size, base) -> (base, card)


def local_path() -> Path:
    env = os.environ.get("TAGGUARD_LOCAL_RATECARD")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tagguard" / "ratecard.local.json"


# --- Price List parsing ----------------------------------------------------------

def _filters(instance_type: str, region: str) -> list[dict[str, str]]:
    def f(field: str, value: str) -> dict[str, str]:
        return {"Type": "TERM_MATCH", "Field": field, "Value": value}

    return [f("instanceType", instance_type), f("regionCode", region), f("operatingSystem", "Linux"),
            f("tenancy", "Shared"), f("capacitystatus", "Used"), f("preInstalledSw", "NA"),
            f("marketoption", "OnDemand")]


def parse_price_item(item: dict[str, Any]) -> dict[str, Any]:
    """On-demand and standard reserved (effective hourly) rates from one ``PriceList`` item."""
    out: dict[str, Any] = {"on_demand": None, "reserved_1yr": None, "reserved_3yr": None,
                           "sku": (item.get("product") or {}).get("sku"),
                           "publication_date": item.get("publicationDate")}
    terms = item.get("terms") or {}
    for term in (terms.get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if dim.get("unit") == "Hrs":
                usd = float((dim.get("pricePerUnit") or {}).get("USD", "0") or 0)
                if usd > 0:
                    out["on_demand"] = usd
    best: dict[str, float] = {}
    for term in (terms.get("Reserved") or {}).values():
        attrs = term.get("termAttributes") or {}
        if attrs.get("OfferingClass", "standard") != "standard":
            continue
        lease = attrs.get("LeaseContractLength")
        years = {"1yr": 1, "3yr": 3}.get(lease) if isinstance(lease, str) else None
        if not years:
            continue
        hourly, upfront = 0.0, 0.0
        for dim in (term.get("priceDimensions") or {}).values():
            usd = float((dim.get("pricePerUnit") or {}).get("USD", "0") or 0)
            if dim.get("unit") == "Hrs":
                hourly += usd
            elif dim.get("unit") == "Quantity":
                upfront += usd
        effective = hourly + upfront / (8760 * years)
        key = f"reserved_{years}yr"
        if effective > 0 and (key not in best or attrs.get("PurchaseOption") == "No Upfront"):
            best[key] = effective
    out.update({k: round(v, 6) for k, v in best.items()})
    return out


def fetch_on_demand(pricing, instance_type: str, region: str) -> dict[str, Any] | None:
    rates = None
    kwargs: dict[str, Any] = {"ServiceCode": "AmazonEC2", "Filters": _filters(instance_type, region),
                              "FormatVersion": "aws_v1", "MaxResults": 100}
    while True:
        resp = pricing.get_products(**kwargs)
        for raw in resp.get("PriceList") or []:
            item = json.loads(raw) if isinstance(raw, str) else raw
            parsed = parse_price_item(item)
            if parsed["on_demand"] is not None:
                rates = parsed
        token = resp.get("NextToken")
        if not token:
            return rates
        kwargs["NextToken"] = token


def fetch_spot(ec2, instance_types: list[str], now: datetime) -> dict[str, dict[str, Any]]:
    import statistics  # here: every priced scan imports this module (local_ratecard), few refresh

    per_az: dict[str, dict[str, float]] = {}
    for i in range(0, len(instance_types), 50):
        kwargs: dict[str, Any] = {"InstanceTypes": instance_types[i:i + 50], "ProductDescriptions": ["Linux/UNIX"],
                                  "StartTime": now, "MaxResults": 1000}
        while True:
            resp = ec2.describe_spot_price_history(**kwargs)
            for e in resp.get("SpotPriceHistory") or []:
                az = e.get("AvailabilityZone") or e.get("AvailabilityZoneId") or "?"
                per_az.setdefault(e["InstanceType"], {}).setdefault(az, float(e["SpotPrice"]))
            token = resp.get("NextToken")
            if not token:
                break
            kwargs["NextToken"] = token
    return {t: {"spot": round(statistics.median(v.values()), 6), "spot_min": min(v.values()),
                "spot_max": max(v.values()), "spot_azs": len(v)} for t, v in per_az.items() if v}


def default_types() -> list[str]:
    from tagguard.pricing import catalog

    return sorted({i.instance_type for i in catalog.load().instances.values()
                   if i.provider == "aws" and i.service == "ec2"})


def refresh(regions: list[str], *, types: Iterable[str] | None = None, output: Path | None = None,
            pricing_client=None, ec2_clients: dict[str, Any] | None = None, session=None,
            now: datetime | None = None) -> dict[str, Any]:
    """Query the Price List API and spot history; write the local rate card; return a summary."""
    if not regions:
        raise ValueError("pricing refresh needs at least one region (--regions us-east-1,...)")
    now = now or datetime.now(timezone.utc)
    date = now.strftime("%Y-%m-%d")
    types = sorted(set(types or default_types()))
    if session is None and (pricing_client is None or ec2_clients is None):
        import boto3

        session = boto3.Session()
    if pricing_client is None:
        from botocore.config import Config

        pricing_client = session.client("pricing", region_name="us-east-1",
                                        config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
    ec2_clients = dict(ec2_clients or {})
    pl_id, spot_id = f"aws-price-list-{date}", f"aws-spot-price-history-{date}"
    instances: dict[str, Any] = {}
    missing: list[str] = []
    for region in regions:
        for t in types:
            od = fetch_on_demand(pricing_client, t, region)
            if od is None:
                missing.append(f"{t}@{region}")
                continue
            row = instances.setdefault(f"aws/{t}", {"instance_type": t, "rates": {}})
            row["rates"].setdefault(region, {}).update(
                {"on_demand": od["on_demand"], "reserved_1yr": od.get("reserved_1yr"),
                 "reserved_3yr": od.get("reserved_3yr"), "on_demand_source": pl_id, "sku": od.get("sku")})
        ec2 = ec2_clients.get(region) or session.client("ec2", region_name=region)
        for t, sp in fetch_spot(ec2, types, now).items():
            row = instances.setdefault(f"aws/{t}", {"instance_type": t, "rates": {}})
            row["rates"].setdefault(region, {}).update({**sp, "spot_source": spot_id})
    card = {
        "kind": SCHEMA_KIND, "schema_version": 1, "generated_at": now.replace(microsecond=0).isoformat(),
        "primary_region": regions[0], "regions": list(regions),
        "sources": {
            pl_id: {"url": PRICE_LIST_DOC, "date": date,
                    "covers": "EC2 Linux shared-tenancy on-demand and standard reserved rates (pricing:GetProducts)"},
            spot_id: {"url": SPOT_DOC, "date": date,
                      "covers": "EC2 Linux/UNIX spot price per AZ at refresh time; median across AZs"},
        },
        "instances": dict(sorted(instances.items())),
        "not_found": missing,
    }
    path = Path(output) if output is not None else local_path()
    write_atomic(path, json.dumps(card, indent=1, sort_keys=False) + "\n")
    return {"path": str(path), "types": len(types), "regions": list(regions), "rows": len(instances),
            "not_found": missing, "date": date}


def write_atomic(path: Path, text: str) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- overlay ---------------------------------------------------------------------

def local_ratecard(card: RateCard | None = None, path: Path | None = None, region: str | None = None) -> RateCard:
    """The rate card to price with: ``card`` (default: the shipped one) with the local rate card
    (``tagguard pricing refresh``) laid over it when that file exists, else ``card`` itself.

    The overlay is a new ``RateCard``: ``card`` is never changed, so nothing else in the process
    sees rates it did not ask for.  Read once per (file, size, mtime, region).  A file that is
    not a local rate card is a ``ValueError`` naming it.
    """
    from tagguard.pricing import catalog

    base = card if card is not None else catalog.load()
    path = Path(path) if path is not None else local_path()
    try:
        if not path.is_file():
            return base
        st = path.stat()
    except OSError:
        return base
    key = (str(path), region, st.st_mtime_ns, st.st_size, id(base))
    with _LOCK:
        hit = _OVERLAID.get(key)
        if hit is not None and hit[0] is base:
            return hit[1]
        try:
            local = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable local rate card ({exc})") from None
        if not isinstance(local, dict) or local.get("kind") != SCHEMA_KIND:
            raise ValueError(f"{path}: not a tagguard local rate card (kind != {SCHEMA_KIND!r})")
        overlaid = overlay(base, local, region)
        _OVERLAID.clear()
        _OVERLAID[key] = (base, overlaid)
        return overlaid


def overlay(card: RateCard, local: dict[str, Any], region: str | None = None) -> RateCard:
    """A copy of ``card`` with the rates of ``local`` (a local rate card's JSON) for ``region``
    (default: its primary region): on-demand, spot and 1y/3y standard no-upfront rates."""
    from tagguard.pricing import catalog

    card = dataclasses.replace(card, instances=dict(card.instances), sources=dict(card.sources),
                               by_name={k: list(v) for k, v in card.by_name.items()})
    for sid, s in (local.get("sources") or {}).items():
        card.sources[sid] = catalog.Source(id=sid, url=s.get("url", ""), date=str(s.get("date", "")),
                                           covers=s.get("covers"))
    want = region or local.get("primary_region")
    for key, row in (local.get("instances") or {}).items():
        info = card.instances.get(key)
        rates = (row.get("rates") or {}).get(want)
        if info is None or not rates:
            continue
        changes: dict[str, Any] = {"region": want}
        if rates.get("on_demand") is not None:
            changes.update(on_demand=rates["on_demand"], on_demand_source=rates.get("on_demand_source"))
        if rates.get("spot") is not None:
            changes.update(spot=rates["spot"], spot_source=rates.get("spot_source"), spot_kind="market")
        if rates.get("reserved_1yr") is not None or rates.get("reserved_3yr") is not None:
            changes.update(reserved_1yr=rates.get("reserved_1yr"), reserved_3yr=rates.get("reserved_3yr"),
                           reserved_source=rates.get("on_demand_source"), reserved_kind="standard no upfront")
        new = info._replace(**changes)
        card.instances[key] = new
        rows = card.by_name.get(info.instance_type.lower(), [])
        card.by_name[info.instance_type.lower()] = [new if r.key == key else r for r in rows]
    return card
