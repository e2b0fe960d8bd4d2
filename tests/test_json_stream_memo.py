"""The streaming JSON writer encodes each distinct compute and cost text once per write and splices it between
``Resource.json_head`` and ``Resource.json_tail`` (issue 13).  Its text must be byte for byte the one
``dumps_report(report_dict(result))`` writes from ``Resource.to_json``, on values that compare equal but write
differently (1, 1.0, True; -0.0, 0.0; NaN), in every order."""
from __future__ import annotations

import io
import itertools
import math

from tagguard.formats import json_format
from tagguard.formats.json_format import JsonFormatter, dumps_report, report_dict
from tagguard.model import Compute, Cost, Finding, Resource, ScanResult, _shared_line


class _SubCompute(Compute):
    """A subclass may write differently: never memoised with a plain ``Compute``."""

    def to_json(self):  # type: ignore[override]
        return {**Compute.to_json(self), "sub": True}


class _Str(str):
    pass


def _computes() -> list[Compute | None]:
    base = dict(instance_type="p4d.24xlarge", accelerator="A100", gpus_per_unit=8.0, provider="aws",
                service="ec2", region="us-east-1")
    return [
        None,
        Compute(**base),  # type: ignore[arg-type]
        Compute(**base),  # type: ignore[arg-type]  (equal: one text)
        Compute(**base, units=True),  # type: ignore[arg-type]
        Compute(**base, units=1.0),  # type: ignore[arg-type]
        Compute(**base, units=-0.0),  # type: ignore[arg-type]
        Compute(**base, units=0.0),  # type: ignore[arg-type]
        Compute(**base, units=0),  # type: ignore[arg-type]
        Compute(**base, units=False),  # type: ignore[arg-type]
        Compute(**base, notes=["n"]),  # type: ignore[arg-type]
        Compute(**base, notes=[1]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[True]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[[1.0]]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[[1]]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[{"a": 1}]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[{"a": True}]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[(1,)]),  # type: ignore[arg-type, list-item]
        Compute(**base, notes=[(True,)]),  # type: ignore[arg-type, list-item]
        Compute(**{**base, "region": _Str("us-east-1")}),  # type: ignore[arg-type]
        Compute(gpus_per_unit=0.5, spot_units=3, pricing_model="mixed", hours_per_month=730.0,
                runtime_hours=1.23456, region="é\u202e\ud800"),
        Compute(gpus_per_unit=0.5, spot_units=3, pricing_model="mixed", hours_per_month=730,
                runtime_hours=1.23456, region="é\u202e\ud800"),
        Compute(gpus_per_unit=math.nan),
        Compute(gpus_per_unit=math.nan),
        _SubCompute(**base),  # type: ignore[arg-type]
    ]


def _costs() -> list[Cost | None]:
    line = {"units": 1, "model": "on_demand", "usd_per_hour": 21.957642, "source": "src", "basis": "list price"}
    return [
        None,
        Cost(hourly_usd=21.96, monthly_usd=16029.08, gpu_hours_per_month=5840, rate_source="src",
             rate_date="2026-07-20", breakdown=[dict(line)]),
        Cost(hourly_usd=21.96, monthly_usd=16029.08, gpu_hours_per_month=5840, rate_source="src",
             rate_date="2026-07-20", breakdown=[dict(line)]),  # equal: its line is the same shared dict
        Cost(hourly_usd=21.96, monthly_usd=16029.08, gpu_hours_per_month=5840.0, rate_source="src",
             rate_date="2026-07-20", breakdown=[{**line, "units": True}]),
        Cost(hourly_usd=21.96, monthly_usd=16029.08, gpu_hours_per_month=5840, rate_source="src",
             rate_date="2026-07-20", breakdown=[{**line, "units": 1.0}]),
        Cost(hourly_usd=21.96, monthly_usd=16029.08, gpu_hours_per_month=5840, rate_source="src",
             rate_date="2026-07-20", breakdown=[{**line, "nested": {"a": 1}}]),  # not shared: its own dict
        Cost(hourly_usd=21.96, monthly_usd=16029.08, gpu_hours_per_month=5840, rate_source="src",
             rate_date="2026-07-20", breakdown=[{**line, "nested": {"a": True}}]),
        Cost(hourly_usd=0.0, monthly_usd=0.0, gpu_hours_per_month=0.0, reason="free"),
        Cost(hourly_usd=-0.0, monthly_usd=-0.0, gpu_hours_per_month=-0.0, reason="free"),
        Cost(hourly_usd=0, monthly_usd=0, gpu_hours_per_month=0, reason="free"),
        Cost(hourly_usd=-0.0, gpu_hours_per_month=1),  # a float zero next to 1 / True (the keys' slower path)
        Cost(hourly_usd=-0.0, gpu_hours_per_month=True),  # type: ignore[arg-type]
        Cost(hourly_usd=math.nan, reason="nan"),
        Cost(reason="no rate \u202e for é"),
        Cost(hourly_usd=3.0, monthly_usd=2190.0, attributed_from=["aws_eks_node_group.gpu"]),
        Cost(hourly_usd=3.0, monthly_usd=2190.0, attributed_from=["aws_eks_node_group.gpu"], lower_bound=True),
        Cost(hourly_usd=3.0, monthly_usd=2190.0, lower_bound=True),
        Cost(hourly_usd=3, monthly_usd=2190, lower_bound=1),  # type: ignore[arg-type]
    ]


def _resources() -> list[Resource]:
    metas: list[dict] = [{}, {"module": "module.gpu"}, {"n": 1, "f": -0.0, "b": True, "l": [1, (2.0, "é")]}]
    out = []
    computes, costs = _computes(), _costs()
    for i, (compute, cost) in enumerate(itertools.product(computes, costs)):
        out.append(Resource(address=f"aws_instance.gpu_{i}\u202e", type="aws_instance", source="terraform",
                            file="main.tf" if i % 3 else None, line=i or None, ai=bool(i % 2),
                            tags={"b": "2", "a": "é"} if i % 4 else {}, unresolved_tags=["z", "y"] if i % 5 else [],
                            tags_open=i % 7 == 0, compute=compute, cost=cost, meta=metas[i % len(metas)]))
    for compute, cost in itertools.product(reversed(computes), reversed(costs)):  # every pair in the other order
        out.append(Resource(address="x", type="t", source="plan", compute=compute, cost=cost))
    return out


def _streamed(result: ScanResult) -> str:
    stream = io.StringIO()
    JsonFormatter().write(result, stream)
    return stream.getvalue()


def test_the_streamed_report_is_the_report_dicts_text_on_varied_resources():
    resources = _resources()
    findings = [Finding(rule="missing-tag", category="missing_tag", severity="error", message="m", address="x")]
    result = ScanResult(resources=resources, findings=findings, root=".")
    assert _streamed(result) == dumps_report(report_dict(result))
    # one resource at a time: each splice on its own against its own to_json
    for r in resources:
        one = ScanResult(resources=[r])
        assert _streamed(one) == dumps_report(report_dict(one)), r


def test_past_the_memo_bound_every_object_is_encoded_on_its_own(monkeypatch):
    monkeypatch.setattr(json_format, "_MEMO_MAX", 2)
    result = ScanResult(resources=_resources())
    assert _streamed(result) == dumps_report(report_dict(result))


def test_equal_computes_and_costs_are_encoded_once_per_write(monkeypatch):
    calls = {"compute": 0, "cost": 0}
    compute_to_json, cost_to_json = Compute.to_json, Cost.to_json

    def counted_compute(self):
        calls["compute"] += 1
        return compute_to_json(self)

    def counted_cost(self):
        calls["cost"] += 1
        return cost_to_json(self)

    monkeypatch.setattr(Compute, "to_json", counted_compute)
    monkeypatch.setattr(Cost, "to_json", counted_cost)
    line = {"units": 1, "usd_per_hour": 1.5}
    resources = [Resource(address=f"r{i}", type="t", source="terraform",
                          compute=Compute(instance_type=("a", "b")[i % 2], gpus_per_unit=1.0, notes=["x"]),
                          cost=Cost(hourly_usd=(1.5, 3.0)[i % 2], breakdown=[dict(line)]))
                 for i in range(100)]
    text = _streamed(ScanResult(resources=resources))
    assert calls == {"compute": 2, "cost": 2}
    assert text == dumps_report(report_dict(ScanResult(resources=resources)))
    # past the bound the memo is off: the two pairs it holds are not looked up either
    monkeypatch.setattr(json_format, "_MEMO_MAX", 2)
    calls.update(compute=0, cost=0)
    resources[2].compute = Compute(instance_type="c")  # a third pair, then the first two again
    assert _streamed(ScanResult(resources=resources)) == dumps_report(report_dict(ScanResult(resources=resources)))
    assert calls == {"compute": 2 + 98 + 100, "cost": 2 + 98 + 100}  # the memo's, the rest, report_dict's


def test_the_memo_keys_are_the_identity_of_every_value():
    compute_ids, cost_ids = json_format._compute_ids, json_format._cost_ids
    eight, other_eight = 8.0, float("8.0")
    assert eight == other_eight and eight is not other_eight
    one = Compute(instance_type="g5", gpus_per_unit=eight, notes=["n"])
    assert compute_ids(one) == compute_ids(Compute(instance_type="g5", gpus_per_unit=eight, notes=["n"]))
    assert compute_ids(one) != compute_ids(Compute(instance_type="g5", gpus_per_unit=other_eight, notes=["n"]))
    assert compute_ids(one) != compute_ids(Compute(instance_type="g5", gpus_per_unit=eight, notes=["n", "n"]))
    for a, b in [(1, True), (1, 1.0), (0.0, -0.0), (math.nan, float("nan"))]:  # equal or alike, written apart
        assert compute_ids(Compute(units=a)) != compute_ids(Compute(units=b))  # type: ignore[arg-type]
    assert compute_ids(None) == () == cost_ids(None)
    assert compute_ids(_SubCompute()) is None
    shared = _shared_line({"units": 1, "usd_per_hour": 1.5})
    assert shared is _shared_line({"units": 1, "usd_per_hour": 1.5})
    assert cost_ids(Cost(breakdown=[shared])) == cost_ids(Cost(breakdown=[shared]))
    nested = {"units": 1, "nested": {"a": 1}}  # not shared: each cost has its own dict, keyed apart
    one_cost, other_cost = Cost(breakdown=[dict(nested)]), Cost(breakdown=[dict(nested)])  # both alive
    assert cost_ids(one_cost) != cost_ids(other_cost)
    # a line and an attribution are told apart however many of each there are
    lines_only, attributed_only = Cost(breakdown=[shared]), Cost(attributed_from=[shared])  # type: ignore[list-item]
    assert cost_ids(lines_only) != cost_ids(attributed_only)
