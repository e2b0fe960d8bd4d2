"""Terraform's built-in functions, statically.

``FUNCTIONS`` maps a name to a callable taking evaluated arguments.  Flags on
the callable tell ``evaluate.FuncCall`` how to call it:

* ``special_form`` -- called as ``fn(scope, arg_exprs)`` with unevaluated
  arguments (``try``, ``can``);
* ``needs_scope`` -- called as ``fn(scope, *args)`` (``file``, ``templatefile``).

Unknown arguments propagate as Terraform does: ``@strict`` functions return
the first Unknown found anywhere in their arguments, ``@shallow`` ones only
look at top-level arguments (``length([var.x])`` is known), the rest handle
Unknowns themselves (``merge``, ``coalesce``, ``lookup``...).  Errors raise
``EvalError``; ``call_function`` adds the function name.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping
from functools import wraps
from typing import Any, Callable

from .evaluate import MAX_VALUE_CHARS, EvalError, Expr, MapScope, check_chars, spend
from .values import (
    PartialMap,
    Unknown,
    equal,
    find_unknown,
    format_number,
    is_number,
    norm_number,
    to_bool,
    to_list,
    to_map,
    to_number,
    to_string,
    type_name,
    unique,
)

FUNCTIONS: dict[str, Callable[..., Any]] = {}


def register(*names: str, propagate: str = "strict") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register under ``names``; ``propagate``: strict | shallow | none."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        wrapped = fn
        if propagate == "strict":
            wrapped = _strict(fn)
        elif propagate == "shallow":
            wrapped = _shallow(fn)
        for name in names or (fn.__name__.rstrip("_"),):
            FUNCTIONS[name] = wrapped
        return fn

    return decorate


def _strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def call(*args: Any) -> Any:
        for arg in args:
            unknown = find_unknown(arg)
            if unknown is not None:
                return unknown
        return fn(*args)

    return call


def _shallow(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def call(*args: Any) -> Any:
        for arg in args:
            if isinstance(arg, Unknown):
                return arg
        return fn(*args)

    return call


def _closed(value: Any) -> Any:
    """An open PartialMap cannot answer whole-map questions (length, keys...)."""
    if isinstance(value, PartialMap) and value.open:
        return Unknown("map may hold unknown keys: " + "; ".join(value.open_reasons))
    return None


def _s(value: Any) -> str:
    return to_string(value, "argument")


def _int(value: Any) -> int:
    number = to_number(value)
    if not isinstance(number, int):
        raise EvalError(f"{number} is not a whole number")
    return number


# --- maps ---------------------------------------------------------------------------


@register("merge", propagate="none")
def merge(*maps: Any) -> Any:
    out: dict[str, Any] = {}
    reasons: list[str] = []
    for item in maps:
        if item is None:
            continue
        if isinstance(item, Unknown):
            reasons.append(item.reason or "an argument is not known statically")
            continue
        if not isinstance(item, Mapping):
            raise EvalError(f"arguments must be maps or objects, got {type_name(item)}")
        if isinstance(item, PartialMap) and item.open:
            reasons.extend(item.open_reasons)
        out.update(item)
    if reasons:
        return PartialMap(out, open=True, open_reasons=reasons)
    return out


@register("lookup", propagate="none")
def lookup(mapping: Any, key: Any, *default: Any) -> Any:
    if len(default) > 1:
        raise EvalError("lookup takes 2 or 3 arguments")
    for value in (mapping, key):
        if isinstance(value, Unknown):
            return value
    mapping = to_map(mapping)
    key = _s(key)
    if key in mapping:
        return mapping[key]
    if _closed(mapping) is not None:
        return Unknown(f'key "{key}" may come from ' + "; ".join(mapping.open_reasons))
    if default:
        return default[0]
    raise EvalError(f'the map has no key "{key}"')


@register("keys", propagate="shallow")
def keys(mapping: Any) -> Any:
    return _closed(mapping) or sorted(to_map(mapping))


@register("values", propagate="shallow")
def values(mapping: Any) -> Any:
    mapping_ = to_map(mapping)
    return _closed(mapping) or [mapping_[k] for k in sorted(mapping_)]


@register("tomap", propagate="shallow")
def tomap(value: Any) -> Any:
    if value is None:
        return None
    mapping = to_map(value)
    if isinstance(mapping, PartialMap):
        return PartialMap(mapping, open=mapping.open, open_reasons=mapping.open_reasons)
    return dict(mapping)


@register("zipmap", propagate="shallow")
def zipmap(key_list: Any, value_list: Any) -> Any:
    key_list, value_list = to_list(key_list), to_list(value_list)
    unknown = find_unknown(key_list)
    if unknown is not None:
        return unknown
    if len(key_list) != len(value_list):
        raise EvalError("the keys and values lists must have the same length")
    return {_s(k): v for k, v in zip(key_list, value_list)}


@register("transpose")
def transpose(mapping: Any) -> Any:
    out: dict[str, list[str]] = {}
    for key in sorted(to_map(mapping)):
        for item in to_list(mapping[key]):
            out.setdefault(_s(item), []).append(key)
    return {k: sorted(v) for k, v in sorted(out.items())}


# --- strings -------------------------------------------------------------------------


@register("lower")
def lower(text: Any) -> str:
    return _s(text).lower()


@register("upper")
def upper(text: Any) -> str:
    return _s(text).upper()


@register("title")
def title(text: Any) -> str:
    # Go's strings.Title: upper-case letters that follow a non-word character.
    return re.sub(r"(?<!\w)(\w)", lambda m: m.group(1).upper(), _s(text))


@register("trimspace")
def trimspace(text: Any) -> str:
    return _s(text).strip()


@register("trim")
def trim(text: Any, chars: Any) -> str:
    return _s(text).strip(_s(chars))


@register("trimprefix")
def trimprefix(text: Any, prefix: Any) -> str:
    text, prefix = _s(text), _s(prefix)
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text


@register("trimsuffix")
def trimsuffix(text: Any, suffix: Any) -> str:
    text, suffix = _s(text), _s(suffix)
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


@register("chomp")
def chomp(text: Any) -> str:
    return re.sub(r"(\r\n|\n|\r)+$", "", _s(text))


@register("strrev")
def strrev(text: Any) -> str:
    return _s(text)[::-1]


@register("indent")
def indent(spaces: Any, text: Any) -> str:
    text, n = _s(text), _int(spaces)
    check_chars(len(text) + text.count("\n") * max(n, 0), "indent() result")
    return text.replace("\n", "\n" + " " * n)


@register("startswith")
def startswith(text: Any, prefix: Any) -> bool:
    return _s(text).startswith(_s(prefix))


@register("endswith")
def endswith(text: Any, suffix: Any) -> bool:
    return _s(text).endswith(_s(suffix))


@register("strcontains")
def strcontains(text: Any, part: Any) -> bool:
    return _s(part) in _s(text)


@register("substr")
def substr(text: Any, offset: Any, length: Any) -> str:
    text = _s(text)
    start, count = _int(offset), _int(length)
    if start < 0:
        start = max(len(text) + start, 0)
    if start > len(text):
        raise EvalError("offset is beyond the end of the string")
    return text[start:] if count < 0 else text[start : start + count]


@register("join")
def join(separator: Any, *lists: Any) -> str:
    items = [item for lst in lists for item in to_list(lst)]
    if any(item is None for item in items):
        raise EvalError("cannot join a null element")
    separator = _s(separator)
    strings = [_s(item) for item in items]
    check_chars(sum(map(len, strings)) + len(separator) * max(len(strings) - 1, 0), "join() result")
    return separator.join(strings)


@register("split")
def split(separator: Any, text: Any) -> list:
    separator, text = _s(separator), _s(text)
    if separator == "":
        return list(text)
    return text.split(separator)


def _go_replacement(repl: str) -> str:
    """Go's ``$1`` / ``${1}`` / ``${name}`` / ``$$`` to Python's ``\\g<...>``."""
    out = re.sub(r"\\", r"\\\\", repl)
    return re.sub(r"\$(\$|\{(\w+)\}|(\d+)|([A-Za-z_]\w*))", _repl_group, out)


def _repl_group(match: re.Match[str]) -> str:
    if match.group(1) == "$":
        return "$"
    name = match.group(2) or match.group(3) or match.group(4)
    return f"\\g<{name}>"


def _compile_regex(pattern: str) -> Any:
    """``pattern`` on RE2, as Terraform runs it: linear time, no catastrophic backtracking
    (``regex("^(a+)+$", "aaa…!")`` from the scanned repository must not hang the scan)."""
    # RE2 named groups are (?P<name>...) as in Python; (?<name>...) is accepted too.
    pattern = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise EvalError(f"invalid regular expression: {reason}") from None


@register("replace")
def replace(text: Any, search: Any, replacement: Any) -> str:
    text, search, replacement = _s(text), _s(search), _s(replacement)
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        regex = _compile_regex(search[1:-1])
        template = _go_replacement(replacement)
        grown = [len(text)]

        def expand(match: re.Match[str]) -> str:  # counts what the result grows by as it is built
            spend()
            piece = match.expand(template)
            grown[0] += len(piece) - (match.end() - match.start())
            check_chars(grown[0], "replace() result")
            return piece

        return regex.sub(expand, text)
    count = text.count(search) if search else len(text) + 1
    check_chars(len(text) + count * (len(replacement) - len(search)), "replace() result")
    return text.replace(search, replacement)


def _match_value(match: re.Match[str]) -> Any:
    regex = match.re
    if regex.groups == 0:
        return match.group(0)
    if regex.groupindex:
        return {name: match.group(name) for name in regex.groupindex}
    return list(match.groups())


@register("regex")
def regex(pattern: Any, text: Any) -> Any:
    match = _compile_regex(_s(pattern)).search(_s(text))
    if match is None:
        raise EvalError("pattern did not match")
    return _match_value(match)


@register("regexall")
def regexall(pattern: Any, text: Any) -> list:
    return [_match_value(m) for m in _compile_regex(_s(pattern)).finditer(_s(text))]


_FORMAT_RE = re.compile(r"%(?:\[(\d+)\])?([-+ #0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


@register("format")
def format_(fmt: Any, *args: Any) -> str:
    fmt = _s(fmt)
    state = {"next": 0}

    def verb(match: re.Match[str]) -> str:
        explicit, flags, width, precision, kind = match.groups()
        if kind == "%":
            return "%"
        index = int(explicit) - 1 if explicit else state["next"]
        if index >= len(args):
            raise EvalError(f"not enough arguments for {match.group(0)}")
        state["next"] = index + 1
        return _pad(_format_verb(kind, args[index], flags, precision), flags, width)

    return _FORMAT_RE.sub(verb, fmt)


def _format_verb(kind: str, value: Any, flags: str, precision: str | None) -> str:
    if value is None and kind != "v":
        raise EvalError("cannot format a null value")
    if kind == "s":
        text = _s(value)
        return text[: int(precision)] if precision else text
    if precision and int(precision) > 1000:
        raise EvalError(f"%{kind} precision {precision} is more than 1000")
    if kind == "q":
        return json.dumps(_s(value), ensure_ascii=False)
    if kind == "v":
        return _format_v(value)
    if kind == "t":
        return "true" if to_bool(value) else "false"
    return _format_numeric(kind, to_number(value), flags, precision)


def _format_v(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (Mapping, list)):
        return jsonencode(value)
    return _s(value)


def _format_numeric(kind: str, number: Any, flags: str, precision: str | None) -> str:
    sign = "+" if "+" in flags else (" " if " " in flags else "")
    if kind in "dxXob":
        if not isinstance(number, int):
            raise EvalError(f"%{kind} needs a whole number, got {format_number(number)}")
        return format(number, sign + {"d": "d", "x": "x", "X": "X", "o": "o", "b": "b"}[kind])
    if kind in "feEgG":
        spec = f"{sign}.{precision or 6}{kind}" if kind in "feE" else f"{sign}{'.' + precision if precision else ''}{kind}"
        return format(float(number), spec)
    raise EvalError(f"unsupported format verb %{kind}")


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width:
        return text
    size = int(width)
    check_chars(size, "format() width")
    if "-" in flags:
        return text.ljust(size)
    if "0" in flags and text[:1] in "+- " and text[1:2].isdigit():
        return text[0] + text[1:].rjust(size - 1, "0")
    return text.rjust(size, "0" if "0" in flags and text[:1].isdigit() else " ")


@register("formatlist")
def formatlist(fmt: Any, *args: Any) -> list:
    lengths = {len(a) for a in args if isinstance(a, list)}
    if len(lengths) > 1:
        raise EvalError("all list arguments must have the same length")
    if not lengths:
        return [format_(fmt, *args)]
    count = lengths.pop()
    out, size = [], 0
    for i in range(count):
        spend()
        out.append(format_(fmt, *[a[i] if isinstance(a, list) else a for a in args]))
        size += len(out[-1])
        check_chars(size, "formatlist() result")
    return out


# --- conversions ------------------------------------------------------------------------


@register("tostring")
def tostring(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (Mapping, list)):
        raise EvalError(f"cannot convert {type_name(value)} to string")
    return _s(value)


@register("tonumber")
def tonumber(value: Any) -> Any:
    return None if value is None else to_number(value)


@register("tobool")
def tobool(value: Any) -> Any:
    return None if value is None else to_bool(value)


@register("tolist", propagate="shallow")
def tolist(value: Any) -> Any:
    return None if value is None else list(to_list(value))


@register("toset", propagate="shallow")
def toset(value: Any) -> Any:
    if value is None:
        return None
    items = unique(to_list(value))
    if items and all(isinstance(i, str) for i in items):
        return sorted(items)  # Terraform orders sets of strings lexically
    return items


@register("nonsensitive", "sensitive", propagate="none")
def identity(value: Any) -> Any:
    return value


def _named_unknown(name: str) -> Callable[..., Unknown]:
    def call(*args: Any) -> Unknown:
        return Unknown(f"{name}() is known only when Terraform runs")

    return call


for _name in ("type", "uuid", "timestamp", "bcrypt", "uuidv5", "plantimestamp"):
    FUNCTIONS[_name] = _named_unknown(_name)


# --- collections -------------------------------------------------------------------------


@register("length", propagate="shallow")
def length(value: Any) -> Any:
    closed = _closed(value)
    if closed is not None:
        return closed
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, Mapping)):
        return len(value)
    raise EvalError(f"cannot take the length of a {type_name(value)}")


@register("concat", propagate="shallow")
def concat(*lists: Any) -> list:
    return [item for lst in lists for item in to_list(lst)]


@register("coalesce", propagate="none")
def coalesce(*args: Any) -> Any:
    for arg in args:
        if isinstance(arg, Unknown):
            return arg
        if arg is not None and arg != "":
            return arg
    raise EvalError("no non-null, non-empty-string arguments")


@register("coalescelist", propagate="none")
def coalescelist(*args: Any) -> Any:
    for arg in args:
        if isinstance(arg, Unknown):
            return arg
        if to_list(arg):
            return arg
    raise EvalError("no non-empty list arguments")


@register("compact")
def compact(lst: Any) -> list:
    return [item for item in to_list(lst) if item is not None and item != ""]


@register("contains", propagate="shallow")
def contains(lst: Any, value: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    items = list(to_map(lst).values()) if isinstance(lst, Mapping) else to_list(lst)
    if any(equal(item, value) for item in items):
        return True
    unknown = find_unknown(items)
    return unknown if unknown is not None else False


@register("element", propagate="shallow")
def element(lst: Any, index: Any) -> Any:
    items = to_list(lst)
    position = _int(index)
    if not items:
        raise EvalError("cannot use element() with an empty list")
    if position < 0:
        raise EvalError("index must not be negative")
    return items[position % len(items)]


@register("index")
def index(lst: Any, value: Any) -> int:
    for position, item in enumerate(to_list(lst)):
        if equal(item, value):
            return position
    raise EvalError("value not found in list")


def _flatten(items: list, out: list, depth: int = 0) -> list:
    if depth > 64:
        raise EvalError("list nested too deeply")
    for item in items:
        if isinstance(item, list):
            _flatten(item, out, depth + 1)
        else:
            out.append(item)
    return out


@register("flatten")
def flatten(lst: Any) -> list:
    return _flatten(to_list(lst), [])


@register("distinct")
def distinct(lst: Any) -> list:
    return unique(to_list(lst))


@register("reverse", propagate="shallow")
def reverse(lst: Any) -> list:
    return list(reversed(to_list(lst)))


@register("sort")
def sort(lst: Any) -> list:
    return sorted(_s(item) for item in to_list(lst))


@register("slice", propagate="shallow")
def slice_(lst: Any, start: Any, end: Any) -> list:
    items = to_list(lst)
    first, last = _int(start), _int(end)
    if first < 0 or last > len(items) or first > last:
        raise EvalError(f"invalid slice [{first}:{last}] of a list of length {len(items)}")
    return items[first:last]


@register("chunklist", propagate="shallow")
def chunklist(lst: Any, size: Any) -> list:
    items, step = to_list(lst), _int(size)
    if step < 0:
        raise EvalError("chunk size must not be negative")
    if step == 0:
        return [items]
    return [items[i : i + step] for i in range(0, len(items), step)]


@register("one", propagate="shallow")
def one(lst: Any) -> Any:
    items = to_list(lst)
    if len(items) > 1:
        raise EvalError(f"must be a list of zero or one elements, got {len(items)}")
    return items[0] if items else None


@register("alltrue", propagate="shallow")
def alltrue(lst: Any) -> Any:
    return _all_any(to_list(lst), decisive=False)


@register("anytrue", propagate="shallow")
def anytrue(lst: Any) -> Any:
    return _all_any(to_list(lst), decisive=True)


def _all_any(items: list, decisive: bool) -> Any:
    unknown = None
    for item in items:
        if isinstance(item, Unknown):
            unknown = unknown or item
        elif item is None:
            raise EvalError("null element")
        elif to_bool(item) is decisive:
            return decisive
    return unknown if unknown is not None else not decisive


@register("setunion")
def setunion(*sets: Any) -> list:
    return unique(item for s in sets for item in to_list(s))


@register("setintersection")
def setintersection(first: Any, *others: Any) -> list:
    rest = [to_list(o) for o in others]
    return [i for i in unique(to_list(first)) if all(any(equal(i, x) for x in o) for o in rest)]


@register("setsubtract")
def setsubtract(first: Any, second: Any) -> list:
    other = to_list(second)
    return [i for i in unique(to_list(first)) if not any(equal(i, x) for x in other)]


@register("setproduct")
def setproduct(*sets: Any) -> list:
    lists = [to_list(s) for s in sets]
    total = 1
    for lst in lists:
        total *= len(lst)
    spend(total)
    return [list(combo) for combo in itertools.product(*lists)]


@register("matchkeys")
def matchkeys(value_list: Any, key_list: Any, search: Any) -> list:
    values_, keys_, wanted = to_list(value_list), to_list(key_list), to_list(search)
    if len(values_) != len(keys_):
        raise EvalError("values and keys lists must have the same length")
    return [v for v, k in zip(values_, keys_) if any(equal(k, w) for w in wanted)]


@register("range")
def range_(*args: Any) -> list:
    numbers = [to_number(a) for a in args]
    if len(numbers) == 1:
        start, limit, step = 0, numbers[0], 1
    elif len(numbers) == 2:
        start, limit = numbers
        step = 1 if limit >= start else -1
    elif len(numbers) == 3:
        start, limit, step = numbers
    else:
        raise EvalError("range takes 1 to 3 arguments")
    if step == 0 or (step > 0) != (limit >= start) and limit != start:
        raise EvalError("step must move from start towards limit")
    count = max(0, math.ceil((limit - start) / step))
    if count > 1024:
        raise EvalError("more than 1024 elements")
    return [norm_number(start + i * step) for i in range(count)]


# --- numbers -------------------------------------------------------------------------------


def _numbers(args: tuple) -> list:
    if not args:
        raise EvalError("needs at least one argument")
    return [to_number(a) for a in args]


@register("min")
def min_(*args: Any) -> Any:
    return min(_numbers(args))


@register("max")
def max_(*args: Any) -> Any:
    return max(_numbers(args))


@register("abs")
def abs_(number: Any) -> Any:
    return abs(to_number(number))


@register("ceil")
def ceil(number: Any) -> int:
    return math.ceil(to_number(number))


@register("floor")
def floor(number: Any) -> int:
    return math.floor(to_number(number))


@register("signum")
def signum(number: Any) -> int:
    value = to_number(number)
    return (value > 0) - (value < 0)


@register("pow")
def pow_(base: Any, exponent: Any) -> Any:
    return norm_number(math.pow(to_number(base), to_number(exponent)))


@register("log")
def log(number: Any, base: Any) -> Any:
    return norm_number(math.log(to_number(number), to_number(base)))


@register("parseint")
def parseint(text: Any, base: Any) -> int:
    return int(_s(text), _int(base))


@register("sum")
def sum_(lst: Any) -> Any:
    items = to_list(lst) if not isinstance(lst, Mapping) else list(lst.values())
    if not items:
        raise EvalError("cannot sum an empty list")
    return norm_number(sum(to_number(i) for i in items))


# --- encoding ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return norm_number(value)


def _plain_size(value: Any) -> int:
    """About how many characters ``value`` encodes to; counting stops past ``MAX_VALUE_CHARS``
    (a list holding one large string 1024 times is 1024 large strings once encoded)."""
    total = 0
    stack = [value]
    while stack and total <= MAX_VALUE_CHARS:
        spend()
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            for k, v in item.items():
                total += len(str(k)) + 4
                stack.append(v)
        elif isinstance(item, (list, tuple)):
            total += 2
            stack.extend(item)
        else:
            total += 8
    return total


@register("jsonencode")
def jsonencode(value: Any) -> str:
    check_chars(_plain_size(value), "jsonencode() result")
    text = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # Go's encoding/json escapes HTML-significant characters; Terraform shows them so.
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


@register("jsondecode")
def jsondecode(text: Any) -> Any:
    try:
        return json.loads(_s(text), parse_float=lambda t: norm_number(float(t)))
    except ValueError as exc:
        raise EvalError(f"invalid JSON: {exc}") from None


def _yaml_value(value: Any, depth: int = 0) -> Any:
    if depth > 100:
        raise EvalError("YAML nested too deeply")
    if isinstance(value, dict):
        return {_s(k) if k is not None else "null": _yaml_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_value(v, depth + 1) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if is_number(value):
        return norm_number(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value.isoformat() if hasattr(value, "isoformat") else value)


def _yaml_documents(text: str) -> list:
    """Every YAML document of ``text``, refusing documents nested too deep or whose aliases
    expand past ``yamlio.MAX_EXPANDED_NODES`` (they are copied out node by node below)."""
    import yaml

    from tagguard import yamlio

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        yamlio.check_depth(text)
        documents = list(yaml.load_all(text, Loader=loader))
        for doc in documents:
            yamlio.check_bomb(doc, text)
    except (yamlio.YamlDepthError, yamlio.YamlBombError) as exc:
        raise EvalError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise EvalError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    return documents


@register("yamldecode")
def yamldecode(text: Any) -> Any:
    documents = _yaml_documents(_s(text))
    if len(documents) > 1:
        raise EvalError("YAML holds more than one document")
    return _yaml_value(documents[0] if documents else None)


@register("yamlencode")
def yamlencode(value: Any) -> str:
    import yaml

    check_chars(_plain_size(value), "yamlencode() result")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(_plain(value), Dumper=dumper, default_flow_style=False, sort_keys=True, allow_unicode=True)


@register("base64encode")
def base64encode(text: Any) -> str:
    return base64.b64encode(_s(text).encode("utf-8")).decode("ascii")


@register("base64decode")
def base64decode(text: Any) -> str:
    try:
        return base64.b64decode(_s(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalError(f"invalid base64 or not UTF-8: {exc}") from None


@register("urlencode")
def urlencode(text: Any) -> str:
    from urllib.parse import quote

    return quote(_s(text), safe="-._~")


def _hasher(name: str) -> Callable[[Any], str]:
    def digest(text: Any) -> str:
        return hashlib.new(name, _s(text).encode("utf-8")).hexdigest()

    return _strict(digest)


for _name in ("md5", "sha1", "sha256", "sha512"):
    FUNCTIONS[_name] = _hasher(_name)


# --- network ---------------------------------------------------------------------------------


@register("cidrsubnet")
def cidrsubnet(prefix: Any, newbits: Any, netnum: Any) -> str:
    import ipaddress

    network = ipaddress.ip_network(_s(prefix), strict=False)
    new_prefix = network.prefixlen + _int(newbits)
    number = _int(netnum)
    if new_prefix > network.max_prefixlen or number < 0 or number >= 2 ** _int(newbits):
        raise EvalError("not enough address space for the requested subnet")
    size = 2 ** (network.max_prefixlen - new_prefix)
    base = int(network.network_address) + number * size
    return f"{ipaddress.ip_address(base)}/{new_prefix}"


@register("cidrhost")
def cidrhost(prefix: Any, hostnum: Any) -> str:
    import ipaddress

    network = ipaddress.ip_network(_s(prefix), strict=False)
    number = _int(hostnum)
    if number < 0:
        number += network.num_addresses
    if not 0 <= number < network.num_addresses:
        raise EvalError(f"prefix does not accommodate host number {number}")
    return str(ipaddress.ip_address(int(network.network_address) + number))


@register("cidrnetmask")
def cidrnetmask(prefix: Any) -> str:
    import ipaddress

    return str(ipaddress.ip_network(_s(prefix), strict=False).netmask)


# --- dates -----------------------------------------------------------------------------------

_DATE_TOKENS = re.compile(r"'[^']*'|YYYY|YY|MMMM|MMM|MM|M|DD|D|EEEE|EEE|hh|h|HH|H|mm|m|ss|s|AA|aa|ZZZZZ|ZZZZ|ZZZ|Z")


@register("formatdate")
def formatdate(spec: Any, timestamp: Any) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(_s(timestamp).replace("Z", "+00:00"))
    except ValueError:
        raise EvalError(f"not an RFC 3339 timestamp: {timestamp!r}") from None
    return _DATE_TOKENS.sub(lambda m: _date_token(m.group(0), moment), _s(spec))


def _date_token(token: str, moment: Any) -> str:
    if token.startswith("'"):
        return token[1:-1] if len(token) > 2 else "'"
    hour12 = moment.hour % 12 or 12
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    table = {
        "YYYY": f"{moment.year:04d}", "YY": f"{moment.year % 100:02d}",
        "MMMM": moment.strftime("%B"), "MMM": moment.strftime("%b"), "MM": f"{moment.month:02d}", "M": str(moment.month),
        "DD": f"{moment.day:02d}", "D": str(moment.day), "EEEE": moment.strftime("%A"), "EEE": moment.strftime("%a"),
        "hh": f"{moment.hour:02d}", "h": str(moment.hour), "HH": f"{hour12:02d}", "H": str(hour12),
        "mm": f"{moment.minute:02d}", "m": str(moment.minute), "ss": f"{moment.second:02d}", "s": str(moment.second),
        "AA": "AM" if moment.hour < 12 else "PM", "aa": "am" if moment.hour < 12 else "pm",
        "ZZZZZ": f"{zone[:3]}:{zone[3:]}", "ZZZZ": zone, "ZZZ": "UTC" if minutes == 0 else zone,
        "Z": "Z" if minutes == 0 else f"{zone[:3]}:{zone[3:]}",
    }
    return table[token]


# --- paths and files ---------------------------------------------------------------------------


@register("basename")
def basename(path: Any) -> str:
    import posixpath

    text = _s(path).rstrip("/")
    return posixpath.basename(text) if text else ("/" if _s(path) else ".")


@register("dirname")
def dirname(path: Any) -> str:
    import posixpath

    text = _s(path)
    parent = posixpath.dirname(text.rstrip("/") or text)
    return parent or "."


@register("abspath")
def abspath(path: Any) -> str:
    import os
    import posixpath

    return posixpath.normpath(posixpath.join(os.getcwd().replace(os.sep, "/"), _s(path)))


def _trunc(text: str) -> str:
    from tagguard.safeio import truncate

    return truncate(text, 120)


def _reader(scope: Any) -> Callable[[str], str | None] | None:
    return getattr(scope, "read_file", None)


def _read(scope: Any, path: Any) -> Any:
    if isinstance(path, Unknown):
        return path
    reader = _reader(scope)
    if reader is None:
        return Unknown(f"file {_s(path)} cannot be read here")
    text = reader(_s(path))
    if text is None:
        return Unknown(f"file {_trunc(_s(path))} is not readable by tagguard")
    return text  # a str, or an Unknown saying why it is not read (outside the repository, not a regular file...)


def file_(scope: Any, path: Any) -> Any:
    return _read(scope, path)


def fileexists(scope: Any, path: Any) -> Any:
    if isinstance(path, Unknown):
        return path
    reader = _reader(scope)
    if reader is None:
        return Unknown(f"cannot check whether {_trunc(_s(path))} exists here")
    text = reader(_s(path))
    if isinstance(text, Unknown):  # outside the repository: not even its existence is looked at
        return text
    return text is not None


def templatefile(scope: Any, path: Any, variables: Any) -> Any:
    text = _read(scope, path)
    if isinstance(text, Unknown):
        return text
    if isinstance(variables, Unknown):
        return variables
    placeholders = getattr(scope, "template_placeholders", None)
    if placeholders is not None and isinstance(variables, Mapping):
        # Kubernetes manifests (terraform/k8s.py): unknown variables render as placeholders
        variables = placeholders.plain(variables, open_markers=False)
    from .parse import compile_template

    template: Expr = compile_template(text, _s(path))
    return template._ev(_TemplateScope(to_map(variables), scope))


class _TemplateScope(MapScope):
    """Template variables only; file reads go through the calling scope."""

    def __init__(self, variables: Mapping, parent: Any) -> None:
        super().__init__(variables)
        self.parent = parent

    def read_file(self, path: str) -> str | None:
        reader = _reader(self.parent)
        return reader(path) if reader is not None else None

    def list_files(self, path: str) -> list[str] | None:
        lister = getattr(self.parent, "list_files", None)
        return lister(path) if lister is not None else None


def fileset(scope: Any, path: Any, pattern: Any) -> Any:
    """Files below ``path`` matching ``pattern`` (``*``, ``**``, ``?``, ``[...]``, ``{a,b}``), sorted,
    relative to ``path`` -- Terraform's fileset()."""
    if isinstance(path, Unknown):
        return path
    if isinstance(pattern, Unknown):
        return pattern
    lister = getattr(scope, "list_files", None)
    if lister is None:
        return Unknown(f"cannot list {_s(path)} here")
    files = lister(_s(path))
    if isinstance(files, Unknown):
        return files
    if files is None:
        return Unknown(f"directory {_trunc(_s(path))} is not readable by tagguard")
    regex = _glob_regex(_s(pattern))
    return sorted(f for f in files if regex.fullmatch(f))


def _glob_regex(pattern: str) -> Any:
    import re

    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1:end].split(",")) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def manifest_decode_multi(text: Any) -> Any:
    """``provider::kubernetes::manifest_decode_multi``: every YAML document as an object."""
    documents = _yaml_documents(_s(text))
    return [_yaml_value(d) for d in documents if d is not None]


def manifest_decode(text: Any) -> Any:
    """``provider::kubernetes::manifest_decode``: exactly one YAML document."""
    docs = manifest_decode_multi(text)
    if len(docs) != 1:
        raise EvalError(f"expected exactly one YAML document, found {len(docs)}")
    return docs[0]


FUNCTIONS["provider::kubernetes::manifest_decode_multi"] = manifest_decode_multi
FUNCTIONS["provider::kubernetes::manifest_decode"] = manifest_decode

def filebase64(scope: Any, path: Any) -> Any:
    """Terraform's filebase64() for text files (the reader decodes UTF-8); through the same
    confined read as file()."""
    text = _read(scope, path)
    if isinstance(text, Unknown):
        return text
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


for _name, _fn in (("file", file_), ("fileexists", fileexists), ("templatefile", templatefile), ("fileset", fileset),
                   ("filebase64", filebase64)):
    _fn.needs_scope = True  # type: ignore[attr-defined]
    FUNCTIONS[_name] = _fn


# --- special forms ----------------------------------------------------------------------------


def _attempt(expr: Expr, scope: Any) -> Any:
    """(ok, value): ok is False when the expression fails to evaluate."""
    try:
        value = expr._ev(scope)
    except EvalError:
        return False, None
    if isinstance(value, Unknown) and value.error:
        return False, None
    return True, value


def try_(scope: Any, args: list[Expr]) -> Any:
    for expr in args:
        ok, value = _attempt(expr, scope)
        if not ok:
            continue
        # An open PartialMap (merge with an unknown map) still succeeded: keep it.
        unknown = find_unknown(dict(value) if isinstance(value, PartialMap) else value)
        if unknown is not None:
            return Unknown(f"try() cannot tell whether `{expr.source_text()}` succeeds: {unknown.reason}")
        return value
    raise EvalError("no expression succeeded")


def can(scope: Any, args: list[Expr]) -> Any:
    if len(args) != 1:
        raise EvalError("can() takes one argument")
    ok, value = _attempt(args[0], scope)
    if not ok:
        return False
    unknown = find_unknown(value)
    return unknown if unknown is not None else True


for _name, _fn in (("try", try_), ("can", can)):
    _fn.special_form = True  # type: ignore[attr-defined]
    FUNCTIONS[_name] = _fn
