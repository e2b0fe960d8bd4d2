"""Strings: case, trimming, ``substr``, ``join``/``split``, ``replace`` and the ``regex`` family (on
RE2: linear time), ``format``/``formatlist`` (Go's verbs)."""
from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from ..evaluate import EvalError, check_chars, spend
from ..values import format_number, to_bool, to_list, to_number
from ._common import Table, registrar
from ._common import text as _s
from ._common import whole as _int
from .encoding import jsonencode

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


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


@cache  # compiled at the first format() (~1 M instructions at import, for a function few modules call)
def _format_re() -> re.Pattern[str]:
    return re.compile(r"%(?:\[(\d+)\])?([-+ #0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


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

    return _format_re().sub(verb, fmt)


def _format_verb(kind: str, value: Any, flags: str, precision: str | None) -> str:
    if value is None and kind != "v":
        raise EvalError("cannot format a null value")
    if kind == "s":
        text = _s(value)
        return text[: int(precision)] if precision else text
    if precision and int(precision) > 1000:
        raise EvalError(f"%{kind} precision {precision} is more than 1000")
    if kind == "q":
        import json  # lazily: ~7 ms, and most modules never format with %q

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
        spec = (f"{sign}.{precision or 6}{kind}" if kind in "feE"
                else f"{sign}{'.' + precision if precision else ''}{kind}")
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
