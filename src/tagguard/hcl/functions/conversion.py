"""Type conversions: ``tostring``, ``tonumber``, ``tobool``, ``tolist``, ``toset``, ``tomap``, and
``sensitive``/``nonsensitive`` (the value itself)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..values import EvalError, PartialMap, to_bool, to_list, to_map, to_number, type_name, unique
from ._common import Table, registrar
from ._common import text as _s

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


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


@register("tomap", propagate="shallow")
def tomap(value: Any) -> Any:
    if value is None:
        return None
    mapping = to_map(value)
    if isinstance(mapping, PartialMap):
        return PartialMap(mapping, open=mapping.open, open_reasons=mapping.open_reasons)
    return dict(mapping)
