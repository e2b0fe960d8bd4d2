"""``--format json``: the stable machine contract, described by ``schemas/report.schema.json``."""
from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any, TextIO

from tagguard import __version__
from tagguard.formats.base import Formatter
from tagguard.formats.escape import json_safe
from tagguard.model import Compute, Cost, ScanResult

REPORT_VERSION = "1"


class _Items:
    """A list of the report written one item at a time (``to_json`` called as each item is written)."""

    def __init__(self, objects: Sequence[Any]):
        self.objects = objects

    def __len__(self) -> int:
        return len(self.objects)

    def __iter__(self) -> Iterator[Any]:
        return (o.to_json() for o in self.objects)

    def texts(self, encode: Callable[[Any], str]) -> Iterator[str]:
        """The JSON text of each item, in order."""
        return map(encode, self)


# A memo holds at most this many texts (of one write): equal compute and cost objects are few (17 of each in
# a 2,000-resource module); past the bound every object is encoded on its own, as without the memo.
_MEMO_MAX = 1024
_PLAIN = frozenset((str, int, bool, type(None)))


def _exact_key(values: Sequence[Any]) -> tuple[Any, ...] | None:
    """``values`` as a dict key that two sequences share only when they are written as the same JSON text: each
    value with its exact class (1, 1.0 and True are equal and hash alike, but write as 1, 1.0 and true), a zero
    float as its text (-0.0 == 0.0), a list element by element.  None (no memo) for any other class: a dict, a
    subclass (its own ``__repr__`` or ``__eq__``).  A NaN only matches itself (the same object), which is exact."""
    key: list[tuple[Any, ...]] = []
    for value in values:
        cls = type(value)
        if cls in _PLAIN:
            key.append((cls, value))
        elif cls is float:
            key.append((cls, value) if value else (cls, repr(value)))
        elif cls is list:
            inner = _exact_key(value)
            if inner is None:
                return None
            key.append((cls, inner))
        else:
            return None
    return tuple(key)


_COMPUTE_FIELDS = attrgetter(*(f.name for f in fields(Compute)))  # every field: one added later is in the key
_COST_FIELDS = attrgetter(*(f.name for f in fields(Cost) if f.name != "breakdown"))


def _compute_key(compute: Compute) -> Hashable | None:
    """Equal keys: equal ``to_json`` (every field of a plain ``Compute``, exactly; a subclass is not memoised)."""
    return _exact_key(_COMPUTE_FIELDS(compute)) if type(compute) is Compute else None


def _cost_key(cost: Cost) -> Hashable | None:
    """Equal keys: equal ``to_json``.  The breakdown lines by identity: equal lines are one shared dict
    (``model._shared_line``) that nothing changes in place (least of all while a report is written), so one
    object is one text, and keying by content would cost more than it saves; ``_TextMemo`` keeps every keyed
    cost, so an id cannot be reused by a new object while the memo lives."""
    if type(cost) is not Cost:
        return None
    key = _exact_key(_COST_FIELDS(cost))
    return None if key is None else (key, tuple(map(id, cost.breakdown)))


class _TextMemo:
    """The JSON text of ``obj.to_json()`` for the objects of one write, encoded once per distinct key."""

    def __init__(self, encode: Callable[[Any], str], key: Callable[[Any], Hashable | None]):
        self.encode, self.key = encode, key
        self.texts: dict[Hashable, str] = {}
        self.kept: list[Any] = []  # the keyed objects (and so what their key holds by identity) stay alive

    def text(self, obj: Any) -> str:
        if obj is None:
            return "null"
        key = self.key(obj)
        if key is None:
            return self.encode(obj.to_json())
        text = self.texts.get(key)
        if text is None:
            text = self.encode(obj.to_json())
            if len(self.texts) < _MEMO_MAX:
                self.texts[key] = text
                self.kept.append(obj)
        return text


class _Resources(_Items):
    """The report's resources: ``Resource.to_json`` as text, with each distinct compute and cost encoded once
    per write (2,000 resources of a module have 17 of each) and spliced between the head and the tail."""

    def texts(self, encode: Callable[[Any], str]) -> Iterator[str]:
        sep, colon = _ENCODER.item_separator, _ENCODER.key_separator
        compute_at, cost_at = f"{sep}{json.dumps('compute')}{colon}", f"{sep}{json.dumps('cost')}{colon}"
        computes, costs = _TextMemo(encode, _compute_key), _TextMemo(encode, _cost_key)
        for r in self.objects:
            head, tail = encode(r.json_head()), r.json_tail()  # "{...}": json_head is never empty
            yield "".join((head[:-1], compute_at, computes.text(r.compute), cost_at, costs.text(r.cost),
                           sep + encode(tail)[1:] if tail else "}"))


def _report(result: ScanResult, items: Callable[[Sequence[Any]], Any],
            resources: Callable[[Sequence[Any]], Any] | None = None) -> dict:
    out = {
        "version": REPORT_VERSION,
        "tool": {"name": "tagguard", "version": __version__},
        "root": result.root,
        **({"config": result.config} if result.config else {}),
        "resources": (resources or items)(result.resources),
        "findings": items(result.findings),
        "summary": result.summary(),
    }
    if result.errors or result.drift is not None:  # a drift report always says whether anything failed
        out["errors"] = result.errors
    for key, value in result.parts_json().items():
        out.setdefault(key, value)
    return out


def report_dict(result: ScanResult) -> dict:
    return _report(result, lambda objects: [o.to_json() for o in objects])


# json.dumps(x, ensure_ascii=False) without a new JSONEncoder per item (iter_report: _one_encoder)
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_ENCODE = _ENCODER.encode


def _one_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode`` for the items of one report (dicts), through one C encoder: ``encode`` makes a new
    one (and a float formatter) for every item, a tenth of the report's write.  Where this interpreter's C
    encoder is missing or takes other arguments, ``encode`` itself.  One per report, never shared: the C
    encoder's circular-reference marks are not safe across threads."""
    try:
        from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

        made = c_make_encoder({}, _ENCODER.default, encode_basestring, None, _ENCODER.key_separator,
                              _ENCODER.item_separator, False, False, True)
        probe = {"a": [1, 2.5, None, True, "\u00e9\x7f"], "b": {"c": 1e300, "d": -0.0}}
        if "".join(made(probe, 0)) != _ENCODER.encode(probe):
            return _ENCODER.encode
    except (ImportError, TypeError, ValueError):
        return _ENCODER.encode

    def encode(item: Any) -> str:
        nonlocal made
        if not isinstance(item, dict):
            return _ENCODER.encode(item)
        try:
            return "".join(made(item, 0))
        except BaseException:  # its circular-reference marks may be left half-filled: a new one next time
            made = c_make_encoder({}, _ENCODER.default, encode_basestring, None, _ENCODER.key_separator,
                                  _ENCODER.item_separator, False, False, True)
            raise

    return encode


def _safe(text: str) -> str:
    """``json_safe(text)``; ASCII text without DEL (nearly every item) has nothing it would escape,
    and says so in O(1) + one memchr instead of a regex scan."""
    return text if text.isascii() and "\x7f" not in text else json_safe(text)


def iter_report(report: dict) -> Iterator[str]:
    """The text of ``dumps_report(report)`` in pieces: a list (or ``_Items``) one item per piece, so a
    report of 100,000 resources is never one string nor one list of dicts in memory."""
    yield "{"
    encode = _one_encoder()
    keys = list(report)
    for i, key in enumerate(keys):
        value = report[key]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(value, (list, _Items)) and len(value):
            yield f"\n  {json.dumps(key)}: [\n"
            sep = "    "
            for text in value.texts(encode) if isinstance(value, _Items) else map(encode, value):
                yield _safe(sep + text)  # no raw C1/bidi, no lone surrogates
                sep = ",\n    "
            yield f"\n  ]{comma}"
        else:
            value = [] if isinstance(value, _Items) else value
            yield _safe(f"\n  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    yield "\n}\n"


def dumps_report(report: dict) -> str:
    """Indented envelope, one line per resource and finding.

    Readable and diff-friendly, and fast: each item goes through the C encoder
    (``indent`` would force the pure-Python one, ~10x slower on big scans).
    """
    return "".join(iter_report(report))


class JsonFormatter(Formatter):
    name = "json"
    streaming = True

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        return dumps_report(report_dict(result))

    def write(self, result: ScanResult, stream: TextIO, *, color: bool = False) -> None:
        """The same text as ``format``, written resource by resource and finding by finding (in writes of
        about 64 KB: one write per item costs more than encoding it)."""
        batch: list[str] = []
        size = 0
        for piece in iter_report(_report(result, _Items, _Resources)):
            batch.append(piece)
            size += len(piece)
            if size >= 65536:
                stream.write("".join(batch))
                batch.clear()
                size = 0
        if batch:
            stream.write("".join(batch))
