"""TagMap.put is exactly ``absorb(TagMap.of({key: value}))``; Kind reads a kind spec as the reader did."""
from __future__ import annotations

import itertools

from tagguard.hcl.values import PartialMap, Unknown
from tagguard.sources.terraform.extract import TagMap

VALUES = ["ml", "", None, Unknown("var.team has no default"), Unknown(""), 3, 2.0, 2.5, True, False,
          ["a"], {"a": "b"}, PartialMap({"a": "b"})]


def _state(tm: TagMap) -> tuple:
    return (list(tm.known.items()), list(tm.unresolved.items()), tm.open, tm.open_reason, list(tm.origins.items()))


def _start(kind: str) -> TagMap:
    if kind == "empty":
        return TagMap()
    tm = TagMap.of({"team": "ml", "env": Unknown("after apply"), "owner": 7}, "`tags`")
    if kind == "open":
        tm.open, tm.open_reason = True, "`tags` merges values tagguard cannot see"
    return tm


def test_put_is_absorb_of_a_one_key_map() -> None:
    for kind, key, value in itertools.product(("empty", "filled", "open"), ("team", "env", "new"), VALUES):
        by_put, by_absorb = _start(kind), _start(kind)
        by_put.put(key, value, "ASG `tag` block")
        by_absorb.absorb(TagMap.of({key: value}, "ASG `tag` block"))
        assert _state(by_put) == _state(by_absorb), (kind, key, value)


def test_put_in_sequence_keeps_absorb_order() -> None:
    # a key that turns from unresolved to known moves to the end of `known`, as with absorb
    seq = [("a", Unknown("x")), ("b", "1"), ("a", "2"), ("c", None), ("b", 3), ("a", None), ("d", ["l"])]
    by_put, by_absorb = TagMap(), TagMap()
    for key, value in seq:
        by_put.put(key, value, "o")
        by_absorb.absorb(TagMap.of({key: value}, "o"))
    assert _state(by_put) == _state(by_absorb)
    assert list(by_put.known) == ["b", "a"]


def test_kind_reads_the_spec_as_the_reader_did() -> None:
    from tagguard.sources.terraform import extract as ex
    from tagguard.sources.terraform.module import provider_key_of

    assert ex.kind_of("aws_not_a_kind") is None
    for rtype, spec in ex.kinds().items():
        kind = ex.kind_of(rtype)
        assert kind is not None and kind is ex.kind_of(rtype) and kind.spec is spec
        assert (kind.provider, kind.service, kind.tags, kind.ai, kind.taggable) == (
            spec.get("provider"), spec.get("service"), spec.get("tags"), spec.get("ai"), spec.get("taggable", True))
        assert kind.style == ex.TAG_STYLE.get(spec.get("provider", "aws"), "aws")
        assert kind.billed_by_capacity == bool(spec.get("instance_type") or spec.get("accelerator")
                                               or spec.get("units") or spec.get("extractor"))
        assert kind.units == (spec.get("units", []) or []) and kind.spot == (spec.get("spot", []) or [])
        assert kind.provider_key == provider_key_of(rtype)


def test_tag_map_constructs_compares_and_prints_as_the_dataclass_it_was() -> None:
    import dataclasses

    @dataclasses.dataclass
    class Reference:  # TagMap as it was declared (a dataclass)
        known: dict = dataclasses.field(default_factory=dict)
        unresolved: dict = dataclasses.field(default_factory=dict)
        open: bool = False
        open_reason: str | None = None
        origins: dict = dataclasses.field(default_factory=dict)

    def shown(obj) -> str:
        text = repr(obj)
        return "TagMap" + text[text.index("("):]

    cases = [((), {}), (({"a": "1"},), {}), (({"a": "1"}, {"b": "why"}, True, "open", {"a": "`tags`"}), {}),
             ((), {"open": True}), ((), {"origins": {"x": "y"}, "open_reason": "r"}), (({},), {"unresolved": {}})]
    for args, kwargs in cases:
        tm, ref = TagMap(*args, **kwargs), Reference(*args, **kwargs)
        assert shown(ref) == repr(tm)
        for other_args, other_kwargs in cases:
            assert (TagMap(*other_args, **other_kwargs) == tm) == (Reference(*other_args, **other_kwargs) == ref)
    a, b = TagMap(), TagMap()
    a.known["k"] = "v"
    assert b.known == {} and a != b and (a == "TagMap") is False and TagMap.__hash__ is None
    assert not hasattr(TagMap(), "__dict__"), "a map per resource should carry no instance dict"
