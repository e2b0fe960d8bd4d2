"""The report's per-resource JSON (``Resource/Compute/Cost.to_json``, ``_jsonable``) is written with inlined,
unrolled code (issue 13: it runs once per resource of every report).  These tests hold it to the plain
definitions it replaced, value for value and type for type, on the inputs the fast paths branch on."""
from __future__ import annotations

import json
from typing import Any

from tagguard.model import Compute, Cost, Resource, _jsonable, _money, _num


class _F(float):
    """A float subclass (numpy's float64 is one): rounded like any float."""


class _S(str):
    """A str subclass key: written as its text."""


def _jsonable_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _compute_plain(c: Compute) -> dict[str, Any]:
    out: dict[str, Any] = {"instance_type": c.instance_type, "accelerator": c.accelerator,
                           "gpus_per_unit": _num(c.gpus_per_unit), "units": c.units, "pricing_model": c.pricing_model}
    for key in ("provider", "service", "region", "spot_units", "hours_per_month", "runtime_hours"):
        value = getattr(c, key)
        if value is not None:
            out[key] = _num(value)
    if c.notes:
        out["notes"] = list(c.notes)
    return out


def _same(a: Any, b: Any) -> None:
    """Equal, with the same types all the way down (1 and 1.0 and True are equal but write differently)."""
    assert json.dumps(a) == json.dumps(b)
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type(next(x for x in b if x == k))
            _same(a[k], b[k])
    elif isinstance(a, list):
        for x, y in zip(a, b):
            _same(x, y)


META = [
    {},
    {"module": "module.gpu"},
    {"module": "m", "n": 3, "flag": True, "none": None, "f": 2.5, "sub": _F(1.23456789)},
    {1: "int key", _S("sub"): "str-subclass key", ("t",): object.__repr__(None)},
    {"node_pool": {"labels": {"a": "b"}, "taints": [{"key": "k", "value": None}], "types": ("g5.xlarge",)}},
    {"set": {3}, "obj": Compute(), "nested": [{"x": [1, (2, 3)]}], "b": _S("text")},
]


def test_jsonable_matches_the_plain_definition() -> None:
    for meta in META:
        _same(_jsonable(meta), _jsonable_plain(meta))


def test_compute_to_json_matches_the_plain_definition() -> None:
    cases = [
        Compute(),
        Compute(instance_type="p4d.24xlarge", accelerator="A100", gpus_per_unit=8.0, units=2, provider="aws",
                service="ec2", region="us-east-1"),
        Compute(gpus_per_unit=0.5, spot_units=3, hours_per_month=730.0, runtime_hours=1.23456, notes=["n"]),
        Compute(provider="gcp", region=_F(2.0), service=_S("gke"), hours_per_month=_F(10.123456)),  # type: ignore[arg-type]
        Compute(region=3.14159, runtime_hours=5, spot_units=0),  # type: ignore[arg-type]
    ]
    for c in cases:
        _same(c.to_json(), _compute_plain(c))


def test_cost_figures_match_money_and_num() -> None:
    for hourly, monthly, hours in [(None, None, None), (1.005, 733.6549, 5840.0), (2, 3, 4), (_F(1.234), 0.0, 1.5),
                                   (1.23456789, _F(9.999), _F(730.0))]:
        got = Cost(hourly_usd=hourly, monthly_usd=monthly, gpu_hours_per_month=hours).to_json()
        _same(got["hourly_usd"], _money(hourly))
        _same(got["monthly_usd"], _money(monthly))
        _same(got["gpu_hours_per_month"], _num(hours))


def test_resource_meta_is_written_through_jsonable() -> None:
    for meta in META:
        res = Resource(address="a.b", type="aws_instance", source="terraform", meta=dict(meta))
        if meta:
            _same(res.to_json()["meta"], _jsonable_plain(meta))
        else:
            assert "meta" not in res.to_json()


def _summary_figures_plain(result: Any) -> dict[str, Any]:
    """``ScanResult.summary``'s cost figures as they were defined before the one-pass loop (issue 13)."""
    ai = [r for r in result.resources if r.ai]
    billed = [r for r in ai if r.compute is not None]
    monthly = [r.cost.monthly_usd for r in ai if r.cost and r.cost.monthly_usd is not None and r.cost.counted]
    gpu_hours = [r.cost.gpu_hours_per_month for r in ai
                 if r.cost and r.cost.gpu_hours_per_month is not None and r.cost.counted]
    attributed = [r.cost.monthly_usd for r in ai if r.cost and r.cost.monthly_usd is not None and not r.cost.counted]
    floors = [r.cost.monthly_usd for r in ai
              if r.cost and r.cost.monthly_usd is not None and r.cost.counted and r.cost.lower_bound]
    out = {"monthly_usd": _money(sum(monthly)) if monthly else 0.0,
           "unpriced_ai_resources": len(billed) - len(monthly) - len(attributed),
           "attributed_ai_resources": len(attributed),
           "attributed_monthly_usd": _money(sum(attributed)) if attributed else 0.0,
           "gpu_hours_per_month": _num(sum(gpu_hours)) if gpu_hours else 0}
    if floors:
        out["lower_bound_ai_resources"] = len(floors)
        out["lower_bound_monthly_usd"] = _money(sum(floors))
    return out


def test_summary_cost_figures_match_the_plain_definition() -> None:
    import itertools

    from tagguard.model import ScanResult

    costs = [None, Cost(), Cost(monthly_usd=0.1, gpu_hours_per_month=730.0), Cost(monthly_usd=0.2),
             Cost(gpu_hours_per_month=1.1), Cost(monthly_usd=3, gpu_hours_per_month=5),
             Cost(monthly_usd=1e16, gpu_hours_per_month=0.3), Cost(monthly_usd=-0.0, lower_bound=True),
             Cost(monthly_usd=0.7, lower_bound=True, gpu_hours_per_month=2.5),
             Cost(monthly_usd=0.3, attributed_from=["pool"], gpu_hours_per_month=9.0),
             Cost(attributed_from=["pool"], lower_bound=True), Cost(monthly_usd=_F(1.25), lower_bound=True)]
    computes = [None, Compute()]
    cases = list(itertools.product([True, False], computes, costs))
    for n in range(len(cases) + 1):  # every prefix: sums in the same order, so the same floats
        resources = [Resource(address=f"r{i}", type="t", source="terraform", ai=ai, compute=compute, cost=cost)
                     for i, (ai, compute, cost) in enumerate(cases[:n])]
        got = ScanResult(resources=resources).summary()
        want = _summary_figures_plain(ScanResult(resources=resources))
        for key, value in want.items():
            _same(got[key], value)
        assert ("lower_bound_ai_resources" in got) == ("lower_bound_ai_resources" in want)
    resources = [Resource(address=f"r{i}", type="t", source="terraform", ai=True, compute=c, cost=k)
                 for i, (c, k) in enumerate(itertools.product(computes, reversed(costs)))]
    got = ScanResult(resources=resources).summary()
    for key, value in _summary_figures_plain(ScanResult(resources=resources)).items():
        _same(got[key], value)
