"""Collections: maps (``merge``, ``lookup``, ``keys``...), lists and sets (``length``, ``concat``,
``flatten``, ``setproduct``...), ``range``."""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from ..evaluate import spend
from ..values import (EvalError, PartialMap, Unknown, equal, find_unknown, norm_number, to_bool, to_list, to_map,
                      to_number, type_name, unique)
from ._common import Table, registrar
from ._common import closed as _closed
from ._common import text as _s
from ._common import whole as _int

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


# --- maps -----------------------------------------------------------------------------


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
        # an exact dict (the common case) skips the slower ABC check: the same answer
        if item.__class__ is not dict and not isinstance(item, Mapping):
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
