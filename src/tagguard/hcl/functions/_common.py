"""What every category of functions shares: the table each one fills, how unknown arguments
propagate, and argument conversions."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from ..values import EvalError, PartialMap, Unknown, find_unknown, to_number, to_string

Function = Callable[..., Any]
Table = dict[str, Function]


def registrar(table: Table) -> Callable[..., Callable[[Function], Function]]:
    """A ``@register(*names, propagate=...)`` decorator that fills ``table``."""

    def register(*names: str, propagate: str = "strict") -> Callable[[Function], Function]:
        """Register under ``names`` (default: the function's name without a trailing ``_``);
        ``propagate``: strict | shallow | none."""

        def decorate(fn: Function) -> Function:
            wrapped = fn
            if propagate == "strict":
                wrapped = strict(fn)
            elif propagate == "shallow":
                wrapped = shallow(fn)
            for name in names or (fn.__name__.rstrip("_"),):
                table[name] = wrapped
            return fn

        return decorate

    return register


def strict(fn: Function) -> Function:
    """The first Unknown anywhere in the arguments is the result."""

    @wraps(fn)
    def call(*args: Any) -> Any:
        for arg in args:
            unknown = find_unknown(arg)
            if unknown is not None:
                return unknown
        return fn(*args)

    return call


def shallow(fn: Function) -> Function:
    """An Unknown argument is the result; Unknowns inside collections are the function's business."""

    @wraps(fn)
    def call(*args: Any) -> Any:
        for arg in args:
            if isinstance(arg, Unknown):
                return arg
        return fn(*args)

    return call


def closed(value: Any) -> Any:
    """An open PartialMap cannot answer whole-map questions (length, keys...)."""
    if isinstance(value, PartialMap) and value.open:
        return Unknown("map may hold unknown keys: " + "; ".join(value.open_reasons))
    return None


def text(value: Any) -> str:
    """An argument as a string."""
    return to_string(value, "argument")


def whole(value: Any) -> int:
    """An argument as a whole number."""
    number = to_number(value)
    if not isinstance(number, int):
        raise EvalError(f"{number} is not a whole number")
    return number


def shorten(value: str, n: int = 120) -> str:
    """``value`` cut to about ``n`` characters for a reason text (the cut says how much was left out)."""
    if len(value) <= n:
        return value
    return f"{value[:n]}… ({len(value) - n} more characters)"
