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
