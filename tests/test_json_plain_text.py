"""The streaming JSON writer writes a resource of plain values (str, int, bool, None; tags and meta of str) from
one format string instead of encoding ``Resource.json_head`` and ``json_tail`` (issue 13).  Its text must be
byte for byte the one ``dumps_report(report_dict(result))`` writes from ``Resource.to_json``, for every value
the format string takes and every value it must leave to the encoder."""
from __future__ import annotations

import io
import json
import itertools
import random

from tagguard.formats import json_format
from tagguard.formats.json_format import JsonFormatter, dumps_report, report_dict
from tagguard.model import Compute, Cost, Finding, Resource, ScanResult


class _Str(str):
    pass


class _Int(int):
    pass


class _Dict(dict):
    pass


class _Sub(Resource):
    def json_head(self):  # type: ignore[override]
        return {**Resource.json_head(self), "sub": True}


_ODD = "é\u202e\x85\ud800\x7f\x00\n\t\"\\/\u2028\ufeff𝄞"

_STRS: list = ["aws_instance.gpu_0", "", _ODD, _Str("s")]
_FILES: list = [None, "main.tf", _ODD, _Str("main.tf"), 3]
_LINES: list = [None, 0, 31, -1, 10**60, True, 1.0, _Int(7), "7"]
_AIS: list = [True, False, 1, 0, None]
_TAGS: list = [{}, {"b": "2", "a": "é", "Name": "gpu-0"}, {"k": _ODD, _ODD: "v"}, {"k": None}, {"k": 1},
               {1: "v"}, {"k": _Str("v")}, {_Str("k"): "v"}, {"k": ["v"]}, _Dict(a="1"), {"k": True}]
_UNRESOLVED: list = [[], ["z", "y"], [_ODD, "a"], [_Str("z")], ("z", "y"), [1, 2]]
_OPEN: list = [False, True, 1, 0, "yes", None]
_METAS: list = [{}, {"module": 'module.team["team000"]'}, {"module": _ODD, _ODD: "x"},
                {"n": 1, "f": -0.0, "b": True, "l": [1, (2.0, "é")]}, {1: "v"}, {"k": None}, {"k": _Str("v")},
                _Dict(module="m"), {"k": {"nested": "x"}}]


def _streamed(result: ScanResult) -> str:
    stream = io.StringIO()
    JsonFormatter().write(result, stream)
    return stream.getvalue()


# how many of each list's first values the format string takes: drawn from those 4 times in 5
_PLAIN = {id(_STRS): 3, id(_FILES): 3, id(_LINES): 5, id(_AIS): 2, id(_TAGS): 3, id(_UNRESOLVED): 3,
          id(_OPEN): 6, id(_METAS): 3}


def _resource(rng: random.Random, i: int) -> Resource:
    def pick(values: list):
        return rng.choice(values[:_PLAIN[id(values)]] if rng.random() < 0.8 else values)

    compute = rng.choice([None, Compute(instance_type="p4d.24xlarge", region=_ODD)])
    cost = rng.choice([None, Cost(hourly_usd=1.5, monthly_usd=1095.0, reason=_ODD)])
    cls = _Sub if i % 17 == 0 else Resource
    return cls(address=pick(_STRS), type=pick(_STRS), source=pick(_STRS), file=pick(_FILES), line=pick(_LINES),
               ai=pick(_AIS), tags=dict(pick(_TAGS)) if i % 5 else pick(_TAGS), unresolved_tags=pick(_UNRESOLVED),
               tags_open=pick(_OPEN), compute=compute, cost=cost, meta=pick(_METAS))


def test_the_plain_text_is_the_encoders_on_every_value_it_takes_or_leaves():
    rng = random.Random(13)
    resources = [_resource(rng, i) for i in range(3000)]
    plain = sum(json_format._plain_text(r, {}) is not None for r in resources if r.__class__ is Resource)
    assert 300 < plain < 2700  # both ways taken often
    result = ScanResult(resources=resources, root=".")
    assert _streamed(result) == dumps_report(report_dict(result))
    for r in resources[:600]:  # one at a time: each resource against its own to_json
        one = ScanResult(resources=[r])
        assert _streamed(one) == dumps_report(report_dict(one)), r


def test_every_field_value_alone():
    base = dict(address="a", type="t", source="terraform")
    cases: list[dict] = []
    cases += [{"address": v} for v in _STRS] + [{"type": v} for v in _STRS] + [{"source": v} for v in _STRS]
    cases += [{"file": v} for v in _FILES] + [{"line": v} for v in _LINES] + [{"ai": v} for v in _AIS]
    cases += [{"tags": v} for v in _TAGS] + [{"unresolved_tags": v} for v in _UNRESOLVED]
    cases += [{"tags_open": v} for v in _OPEN] + [{"meta": v} for v in _METAS]
    for case, compute, cost in itertools.product(cases, [None, Compute()], [None, Cost(reason="r")]):
        one = ScanResult(resources=[Resource(**{**base, **case}, compute=compute, cost=cost)])
        assert _streamed(one) == dumps_report(report_dict(one)), case


def test_plain_resources_are_written_without_json_head_or_json_tail(monkeypatch):
    calls = []
    head, tail = Resource.json_head, Resource.json_tail
    monkeypatch.setattr(Resource, "json_head", lambda self: calls.append("head") or head(self))
    monkeypatch.setattr(Resource, "json_tail", lambda self: calls.append("tail") or tail(self))
    plain = [Resource(address=f"aws_instance.gpu_{i}", type="aws_instance", source="terraform", file="main.tf",
                      line=i, ai=True, tags={"b": "2", "a": "é"}, unresolved_tags=["owner"], tags_open=i % 2 == 0,
                      meta={"module": "module.x"} if i % 3 else {}) for i in range(6)]
    text = _streamed(ScanResult(resources=plain))
    assert calls == []  # before: two calls per resource
    assert text == dumps_report(report_dict(ScanResult(resources=plain)))
    calls.clear()
    # a value it does not take goes to the encoder through json_head and json_tail
    _streamed(ScanResult(resources=[Resource(address="a", type="t", source="s", line=1.0)]))
    assert calls == ["head", "tail"]


def test_plain_text_keys_are_json_heads_and_json_tails():
    """A key added to ``json_head`` or ``json_tail`` must be added to the format string too."""
    r = Resource(address="a", type="t", source="s", tags_open=True, meta={"m": "x"})
    parts = json_format._plain_text(r, {})
    assert parts is not None
    head, tail = parts
    assert list(json.loads(head + "}")) == list(r.json_head())
    assert list(json.loads("{" + tail[2:])) == list(r.json_tail())


class _SubFinding(Finding):
    def to_json(self):  # type: ignore[override]
        return {**Finding.to_json(self), "sub": True}


_OPT: list = [None, "x", _ODD, "", _Str("x"), 3]
_EXTRAS: list = [{}, {"tags": ["business-unit", "project"]}, {"value": ""}, {"value": _ODD, _ODD: [_ODD]},
                 {"fix": "extra fix"}, {"resource_type": "rt", "suppressed": "s", "suppression_reason": "r"},
                 {"rule": "never", "message": "never", "line": "never"}, {"value": 1}, {"value": None},
                 {"tags": ("a", "b")}, {"tags": ["a", 1]}, {"tags": [["a"]]}, {"tags": [_Str("a")]},
                 {"v": _Str("x")}, {1: "x"}, {_Str("k"): "x"}, {"v": {"a": "b"}}, {"v": -0.0}, {"v": True}, {"v": []},
                 _Dict(value="x")]
_FPLAIN = {id(_OPT): 4, id(_LINES): 5, id(_EXTRAS): 7, id(_AIS): 2}


def _finding(rng: random.Random, i: int) -> Finding:
    def pick(values: list):
        return rng.choice(values[:_FPLAIN[id(values)]] if rng.random() < 0.8 else values)

    def text():
        return rng.choice(["missing-tag", "", _ODD] if rng.random() < 0.9 else ["x", _Str("x"), None, 1])

    cls = _SubFinding if i % 17 == 0 else Finding
    f = cls(rule=text(), category=rng.choice(["missing_tag", _ODD, _Str("c")]),  # the summary sorts them
            severity=text(), message=text(), address=pick(_OPT), file=pick(_OPT),
            line=pick(_LINES), tag=pick(_OPT), resource_type=pick(_OPT), suppressed=pick(_AIS),
            suppression_reason=pick(_OPT))
    f.fix = pick(_OPT)  # set as given, past __post_init__ (which shares str values)
    f.extra = dict(pick(_EXTRAS)) if i % 5 else pick(_EXTRAS)
    return f


def test_the_finding_text_is_the_encoders_on_every_value_it_takes_or_leaves():
    rng = random.Random(21)
    findings = [_finding(rng, i) for i in range(3000)]
    plain = sum(json_format._finding_text(f) is not None for f in findings if f.__class__ is Finding)
    assert 300 < plain < 2700  # both ways taken often
    result = ScanResult(findings=findings, root=".")
    assert _streamed(result) == dumps_report(report_dict(result))
    for f in findings[:600]:
        one = ScanResult(findings=[f])
        assert _streamed(one) == dumps_report(report_dict(one)), f


def test_plain_findings_are_written_without_to_json(monkeypatch):
    calls = []
    to_json = Finding.to_json
    monkeypatch.setattr(Finding, "to_json", lambda self: calls.append(1) or to_json(self))
    findings = [Finding(rule="missing-tag", category="missing_tag", severity="error", message=f"m{i} é",
                        address=f"a.b_{i}", file="main.tf", line=i, tag="owner", resource_type="aws_instance",
                        fix="add it", extra={"tags": ["a", "b"]} if i % 2 else {"value": ""}) for i in range(6)]
    text = _streamed(ScanResult(findings=findings))
    assert calls == []  # before: one call per finding
    assert text == dumps_report(report_dict(ScanResult(findings=findings)))
    calls.clear()
    _streamed(ScanResult(findings=[Finding(rule="r", category="c", severity="error", message="m", line=1.0)]))
    assert calls == [1]


def _tagged(n: int) -> list[Resource]:
    return [Resource(address=f"aws_instance.gpu_{i}", type="aws_instance", source="terraform",
                     tags={"Name": f"gpu-{i}", "team": "ml", "env": _ODD}, meta={"module": "module.x"})
            for i in range(n)]


def test_a_repeated_tag_or_meta_pair_is_encoded_once_per_write(monkeypatch):
    quoted: list[str] = []
    quote = json_format._QUOTE
    monkeypatch.setattr(json_format, "_QUOTE", lambda s: quoted.append(s) or quote(s))
    resources = _tagged(10)
    _streamed(ScanResult(resources=resources))
    assert quoted.count("team") == quoted.count("ml") == quoted.count("module") == 1  # before: 10 each
    assert quoted.count("Name") == 10  # a pair with a new value is a new pair
    quoted.clear()
    _streamed(ScanResult(resources=resources))  # each write its own memo
    assert quoted.count("team") == 1


def test_past_the_pair_bound_pairs_are_encoded_each_time(monkeypatch):
    monkeypatch.setattr(json_format, "_PAIRS_MAX", 2)
    result = ScanResult(resources=_tagged(50) + _resources_of_odd_pairs())
    assert _streamed(result) == dumps_report(report_dict(result))


def _resources_of_odd_pairs() -> list[Resource]:
    # equal pairs of other classes never share a text: only exact str pairs are memoised
    return [Resource(address="a", type="t", source="s", tags={"team": v}, meta={"module": v})
            for v in ["ml", _Str("ml"), "ml", None, 1, "m\u202el", "ml"]]
