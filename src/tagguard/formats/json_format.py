"""``--format json``: the stable machine contract, described by ``schemas/report.schema.json``."""
from __future__ import annotations

import json
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from operator import attrgetter
from typing import Any, TextIO

from tagguard import __version__
from tagguard.formats.base import Formatter
from tagguard.formats.escape import json_safe
from tagguard.model import Compute, Cost, Finding, Resource, ScanResult

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


# At most this many distinct compute and cost pairs are memoised per write (a 2,000-resource module has 17);
# past the bound the memo is off for the rest of the write, so a scan where nothing repeats pays for at most
# this many keys.
_MEMO_MAX = 256


def _names(cls: type, *but: str) -> list[str]:
    """The fields of a dataclass but ``but``: a field added to it later is in the key without a change here."""
    return [f.name for f in fields(cls) if f.name not in but]


_COMPUTE_SCALARS = attrgetter(*_names(Compute, "notes"))
_COST_SCALARS = attrgetter(*_names(Cost, "breakdown", "attributed_from"))

# The memo key is the identity of every value ``to_json`` reads (a list's: its length and its elements').  The
# same objects write the same text: a value is never changed in place while a report is written, and the
# resources being written hold every keyed object (so its values), so an id is not reused meanwhile.  Exact with
# no case to get right (1, 1.0 and True; -0.0 and 0.0; NaN are each other objects), and cheaper than a key of the
# values with their classes (the 2,000-resource module's scan: 25 M instructions fewer, much of it the collector
# walking the small tuples such a key is made of).  It hits because equal values are shared objects: the
# strings and price lines ``model.shared`` keeps, the copies of one price ``price_all`` hands out.


def _compute_ids(compute: Compute | None) -> tuple[int, ...] | None:
    """The key of a compute (``()`` for none); None when it cannot be memoised (a subclass may write otherwise)."""
    if compute is None:
        return ()
    if type(compute) is not Compute or type(compute.notes) is not list:
        return None
    return (*map(id, _COMPUTE_SCALARS(compute)), *map(id, compute.notes))


def _cost_ids(cost: Cost | None) -> tuple[int, ...] | None:
    """The key of a cost (``()`` for none); None when it cannot be memoised."""
    if cost is None:
        return ()
    if type(cost) is not Cost or type(cost.breakdown) is not list or type(cost.attributed_from) is not list:
        return None
    return (*map(id, _COST_SCALARS(cost)), len(cost.breakdown), *map(id, cost.breakdown),
            *map(id, cost.attributed_from))


class _Resources(_Items):
    """The report's resources: ``Resource.to_json`` as text, with the text of each distinct compute and cost
    encoded once per write and spliced between ``Resource.json_head`` and ``json_tail``."""

    def texts(self, encode: Callable[[Any], str]) -> Iterator[str]:
        sep, colon = _ENCODER.item_separator, _ENCODER.key_separator
        compute_at, cost_at = f"{sep}{json.dumps('compute')}{colon}", f"{sep}{json.dumps('cost')}{colon}"

        def middle(compute: Compute | None, cost: Cost | None) -> str:
            return "".join((compute_at, "null" if compute is None else encode(compute.to_json()),
                            cost_at, "null" if cost is None else encode(cost.to_json())))

        memo: dict[tuple[Any, ...], str] = {}
        seen: dict[tuple[str, str], str] = {}
        for r in self.objects:
            compute, cost = r.compute, r.cost
            parts = _plain_text(r, seen) if r.__class__ is Resource else None  # a subclass may write otherwise
            if parts is None:
                head, tail = encode(r.json_head()), r.json_tail()  # "{...}": json_head is never empty
                parts = head[:-1], sep + encode(tail)[1:] if tail else "}"
            key = (_compute_ids(compute), _cost_ids(cost)) if len(memo) < _MEMO_MAX else (None, None)
            text = memo.get(key)  # a key with None (not memoisable) is never stored
            if text is None:
                text = middle(compute, cost)
                if None not in key:
                    memo[key] = text
            yield "".join((parts[0], text, parts[1]))


_QUOTE = encode_basestring  # the C encoder's own text of a str (ensure_ascii=False), where it has one
_TAGS_OPEN = ', "tags_open": true'


# At most this many distinct tag and meta pairs have their text memoised per write (most tags repeat across
# resources: the 2,000-resource module's 12,000 pairs are 570 distinct)
_PAIRS_MAX = 4096


def _quoted_pairs(items: Iterable[tuple[Any, Any]], seen: dict[tuple[str, str], str]) -> str | None:
    """The inside of ``encode(dict(items))`` when every key and value is a plain str (and no key repeats),
    else None.  ``seen`` holds the text of the pairs written before in this write: exact, as equal str
    write equal text, and a hit costs a tuple hash instead of two ``encode_basestring`` calls and a format
    (~12 M instructions on the 2,000-resource module)."""
    quote, pairs = _QUOTE, []
    for pair in items:
        k, v = pair
        if k.__class__ is not str or v.__class__ is not str:
            return None
        text = seen.get(pair)
        if text is None:
            text = f"{quote(k)}: {quote(v)}"
            if len(seen) < _PAIRS_MAX:
                seen[pair] = text
        pairs.append(text)
    return ", ".join(pairs)


def _plain_text(r: Resource, seen: dict[tuple[str, str], str]) -> tuple[str, str] | None:
    """The text ``encode(r.json_head())`` without its closing brace, and the text after the cost
    (``json_tail``'s keys and the closing brace), for a resource of plain values (str, int, bool, None; tags
    and meta of str): one format string with each key's text written once here, where the C encoder builds
    and walks a dict and encodes every key of every resource again (on the 2,000-resource module, ~33 M
    instructions).  Exact: for these classes the encoder writes ``encode_basestring(s)``, ``int.__repr__``,
    true/false/null, with ", " and ": " (``_ENCODER``); anything else (a subclass, a float, a list, a non-str
    tag) is None, and the caller encodes ``json_head`` and ``json_tail`` as before."""
    address, type_, source, file, line, ai = r.address, r.type, r.source, r.file, r.line, r.ai
    tags, unresolved, meta = r.tags, r.unresolved_tags, r.meta
    if (address.__class__ is not str or type_.__class__ is not str or source.__class__ is not str
            or (file is not None and file.__class__ is not str) or (line is not None and line.__class__ is not int)
            or ai.__class__ is not bool or tags.__class__ is not dict or unresolved.__class__ is not list
            or meta.__class__ is not dict):
        return None
    quote = _QUOTE
    tag_text = _quoted_pairs(sorted(tags.items()), seen) if tags else ""
    if tag_text is None:
        return None
    if unresolved:
        keys = sorted(unresolved)
        if any(k.__class__ is not str for k in keys):
            return None
        unresolved_text = ", ".join(map(quote, keys))
    else:
        unresolved_text = ""
    if meta:
        meta_text = _quoted_pairs(meta.items(), seen)
        if meta_text is None:
            return None
        tail = f', "meta": {{{meta_text}}}}}'
    else:
        tail = "}"
    head = (f'{{"address": {quote(address)}, "type": {quote(type_)}, "source": {quote(source)}, '
            f'"file": {"null" if file is None else quote(file)}, "line": {"null" if line is None else line}, '
            f'"ai": {"true" if ai else "false"}, "tags": {{{tag_text}}}, "unresolved_tags": [{unresolved_text}]'
            f'{_TAGS_OPEN if r.tags_open else ""}')
    return head, tail


class _Findings(_Items):
    """The report's findings: ``_finding_text`` for a finding of plain values, else ``Finding.to_json`` encoded."""

    def texts(self, encode: Callable[[Any], str]) -> Iterator[str]:
        for f in self.objects:
            text = _finding_text(f) if f.__class__ is Finding else None  # a subclass may write otherwise
            yield encode(f.to_json()) if text is None else text


def _optional(value: Any) -> str | None:
    """The encoder's text of None or a plain str; None for any other value."""
    return "null" if value is None else _QUOTE(value) if value.__class__ is str else None


def _finding_text(f: Finding) -> str | None:
    """``encode(f.to_json())`` for a finding of plain values (str or None; an int line; extra values a str or a
    list of str under str keys), from one format string like ``_plain_text`` (the dict and the encoder's walk
    of its ten keys cost ~15 K instructions a finding).  None for anything else: the caller encodes ``to_json``."""
    rule, category, severity, message, line = f.rule, f.category, f.severity, f.message, f.line
    address, file, tag = _optional(f.address), _optional(f.file), _optional(f.tag)
    if (rule.__class__ is not str or category.__class__ is not str or severity.__class__ is not str
            or message.__class__ is not str or (line is not None and line.__class__ is not int)
            or address is None or file is None or tag is None):
        return None
    quote = _QUOTE
    parts = [f'{{"rule": {quote(rule)}, "category": {quote(category)}, "severity": {quote(severity)}, '
             f'"address": {address}, "file": {file}, "line": {"null" if line is None else line}, "tag": {tag}, '
             f'"message": {quote(message)}']
    written: tuple[str, ...] = _FINDING_KEYS  # the keys to_json writes before extra (an extra one is not written)
    resource_type, fix = f.resource_type, f.fix
    if resource_type:
        if resource_type.__class__ is not str:
            return None
        parts.append(f', "resource_type": {quote(resource_type)}')
        written += ("resource_type",)
    if fix:
        if fix.__class__ is not str:
            return None
        parts.append(f', "fix": {quote(fix)}')
        written += ("fix",)
    if f.suppressed:
        reason = _optional(f.suppression_reason)
        if reason is None:
            return None
        parts.append(f', "suppressed": true, "suppression_reason": {reason}')
        written += ("suppressed", "suppression_reason")
    extra = f.extra
    if extra.__class__ is not dict:
        return None
    for k, v in extra.items():
        if k.__class__ is not str:
            return None
        if k in written:
            continue
        if v.__class__ is str:
            parts.append(f", {quote(k)}: {quote(v)}")
        elif v.__class__ is list and all(x.__class__ is str for x in v):
            parts.append(f", {quote(k)}: [{', '.join(map(quote, v))}]")
        else:
            return None
    parts.append("}")
    return "".join(parts)


_FINDING_KEYS = ("rule", "category", "severity", "address", "file", "line", "tag", "message")


def _report(result: ScanResult, items: Callable[[Sequence[Any]], Any],
            resources: Callable[[Sequence[Any]], Any] | None = None,
            findings: Callable[[Sequence[Any]], Any] | None = None) -> dict:
    out = {
        "version": REPORT_VERSION,
        "tool": {"name": "tagguard", "version": __version__},
        "root": result.root,
        **({"config": result.config} if result.config else {}),
        "resources": (resources or items)(result.resources),
        "findings": (findings or items)(result.findings),
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
        for piece in iter_report(_report(result, _Items, _Resources, _Findings)):
            batch.append(piece)
            size += len(piece)
            if size >= 65536:
                stream.write("".join(batch))
                batch.clear()
                size = 0
        if batch:
            stream.write("".join(batch))
