"""Numbers: ``min``, ``max``, ``abs``, ``ceil``, ``floor``, ``signum``, ``pow``, ``log``, ``parseint``, ``sum``."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..values import EvalError, norm_number, to_list, to_number
from ._common import Table, registrar
from ._common import text as _s
from ._common import whole as _int

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


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
