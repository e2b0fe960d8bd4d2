"""Special forms: ``try`` and ``can`` get their argument *expressions* (``fn(scope, arg_exprs)``) and
evaluate them themselves, so a failing argument is an answer, not an error."""
from __future__ import annotations

from typing import Any

from ..evaluate import Expr
from ..values import EvalError, PartialMap, Unknown, find_unknown
from ._common import Table

FUNCTIONS: Table = {}


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
