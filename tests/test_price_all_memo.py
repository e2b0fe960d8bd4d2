"""``Pricer.price_all`` prices resources that read alike once (issue 13): same figures as pricing each alone,
each resource its own ``Cost``, commitments and per-resource facts still priced one by one."""
from __future__ import annotations

import dataclasses

from tagguard.model import Compute, Resource
from tagguard.pricing import catalog
from tagguard.pricing.engine import Pricer
from tagguard.pricing.placement import FLOOR_KEY

CARD = catalog.load()


def res(address, meta=None, **compute):
    return Resource(address=address, type="aws_instance", source="terraform", ai=True,
                    compute=Compute(**compute), meta=dict(meta or {}))


def variety():
    """Resources that differ in one priced input each, every one twice (as module instances would)."""
    base = {"instance_type": "p4d.24xlarge", "provider": "aws", "units": 2}
    kinds = [
        base, {**base, "units": 3}, {**base, "region": "eu-west-1"}, {**base, "pricing_model": "spot"},
        {**base, "pricing_model": "mixed", "spot_units": 1}, {**base, "hours_per_month": 100},
        {**base, "gpus_per_unit": 4}, {**base, "gpus_per_unit": 4.0}, {**base, "instance_type": "g5.xlarge"},
        {**base, "instance_type": "nope.huge"}, {"provider": "kubernetes", "accelerator": "A100", "gpus_per_unit": 1},
        {**base, "runtime_hours": 2.0},
    ]
    metas = [None, None, None, None, None, None, None, None, None, None, None, {"runs_per_month": 10}]
    out = []
    for i, (kw, meta) in enumerate(zip(kinds, metas)):
        for copy in range(2):
            out.append(res(f"aws_instance.r{i:02d}_{copy}", meta=meta, **kw))
    out.append(res("aws_instance.zz_job", meta={"run_to_completion": True}, **base))
    out.append(res("aws_instance.zz_job_runs", meta={"runs_per_month": 5}, runtime_hours=3.0, **base))
    out.append(res("aws_instance.zz_job_runs2", meta={"runs_per_month": 6}, runtime_hours=3.0, **base))
    return out


def test_price_all_gives_every_resource_what_pricing_it_alone_gives(monkeypatch):
    pricer = Pricer(CARD, {"region": "us-east-1"})
    resources = variety()
    expected = {r.address: pricer.price(r) for r in resources}
    calls = []
    real = Pricer._price
    monkeypatch.setattr(Pricer, "_price", lambda self, r, pool: calls.append(r.address) or real(self, r, pool))
    pricer.price_all(resources)
    for r in resources:
        assert r.cost == expected[r.address], r.address
        assert [type(v) for v in dataclasses.astuple(r.cost)] == [type(v) for v in
                                                                   dataclasses.astuple(expected[r.address])]
    # each priced input once: the 12 pairs, the job, and the two jobs that differ in runs per month
    assert len(calls) == 12 + 3
    # gpus 4 and 4.0 read alike but are two inputs (their figures' types may differ)
    assert "aws_instance.r06_0" in calls and "aws_instance.r07_0" in calls


def test_each_resource_gets_its_own_cost_and_lists():
    resources = variety()
    Pricer(CARD).price_all(resources)
    a, b = resources[0].cost, resources[1].cost
    assert a == b and a is not b
    assert a.breakdown is not b.breakdown and a.attributed_from is not b.attributed_from
    a.attributed_from.append("x")
    a.reason = "changed"
    a.breakdown.append({"units": 1})
    assert b.attributed_from == [] and b.reason != "changed" and len(b.breakdown) == 1


def test_commitments_are_still_used_up_one_resource_at_a_time():
    pricer = Pricer(CARD, {"commitments": [{"instance_type": "p4d.24xlarge", "count": 3, "term": "1y"}]})
    resources = [res(f"aws_instance.c{i}", instance_type="p4d.24xlarge", provider="aws", units=2,
                     pricing_model="reserved") for i in range(3)]
    pricer.price_all(resources)
    covered = [sum(ln["units"] for ln in r.cost.breakdown if ln.get("commitment") is not None) for r in resources]
    assert covered == [2, 1, 0]


def test_a_floor_or_an_unhashable_fact_is_priced_on_its_own(monkeypatch):
    pricer = Pricer(CARD)
    floor = {"none": "no priced type offers it"}
    resources = [res("k.a", meta={FLOOR_KEY: floor}, provider="kubernetes", gpus_per_unit=1),
                 res("k.b", meta={FLOOR_KEY: floor}, provider="kubernetes", gpus_per_unit=1),
                 res("k.c", meta={"runs_per_month": [1]}, runtime_hours=1.0, provider="aws",
                     instance_type="g5.xlarge"),
                 res("k.d", meta={"runs_per_month": [1]}, runtime_hours=1.0, provider="aws",
                     instance_type="g5.xlarge")]
    expected = {r.address: pricer.price(r) for r in resources}
    calls = []
    real = Pricer._price
    monkeypatch.setattr(Pricer, "_price", lambda self, r, pool: calls.append(r.address) or real(self, r, pool))
    pricer.price_all(resources)
    assert calls == ["k.a", "k.b", "k.c", "k.d"]
    assert all(r.cost == expected[r.address] for r in resources)


def test_a_copy_has_every_field_of_cost_and_its_own_lists():
    from tagguard.model import Cost
    from tagguard.pricing.engine import _copy_cost

    values = {}
    for i, f in enumerate(dataclasses.fields(Cost)):  # a value unlike the default for every field, new ones too
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        values[f.name] = (True if isinstance(default, bool) else [{"n": i}] if isinstance(default, list)
                          else {"n": i} if isinstance(default, dict) else float(i) if f.name.endswith("usd")
                          or f.name.endswith("month") else f"v{i}")
    cost = Cost(**values)
    copy = _copy_cost(cost)
    for f in dataclasses.fields(Cost):
        assert getattr(copy, f.name) == getattr(cost, f.name), f.name
        if isinstance(getattr(cost, f.name), (list, dict)):
            assert getattr(copy, f.name) is not getattr(cost, f.name), f.name


def test_the_per_call_records_are_plain_slotted_classes():
    """No dataclass code generation at import for what lives inside one pricing call (~2.6 ms a scan)."""
    from tagguard.pricing.engine import _Facts, _Lines, _Rate

    for cls in (_Rate, _Facts, _Lines):
        assert not dataclasses.is_dataclass(cls), cls
    rate = _Rate(1.5, "config", "b", region="r")
    assert (rate.usd, rate.source, rate.basis, rate.reason, rate.extra, rate.region) == (1.5, "config", "b", None,
                                                                                          None, "r")
    lines = _Lines()
    assert (lines.lines, lines.reasons, lines.notes) == ([], [], []) and _Lines().lines is not lines.lines
    assert not hasattr(rate, "__dict__") and not hasattr(lines, "__dict__")


def test_without_commitments_the_order_resources_come_in_changes_no_price():
    # price_all sorts by address only when commitments are used up (in that order); any order of the same
    # resources gives every one the price it gets alone, and each distinct input is still priced once
    import random

    pricer = Pricer(CARD, {"region": "us-east-1"})
    expected = {r.address: pricer.price(r) for r in variety()}
    for seed in range(5):
        resources = variety()
        random.Random(seed).shuffle(resources)
        pricer.price_all(resources)
        for r in resources:
            assert r.cost == expected[r.address], (seed, r.address)

