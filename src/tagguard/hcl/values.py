"""Terraform values as tagguard sees them statically.

Known values are plain Python: ``str``, ``int`` (integral numbers), ``float``,
``bool``, ``None`` (null), ``dict`` (map/object), ``list`` (list/tuple/set).
Two extra kinds carry what cannot be known before ``terraform apply``:

* ``Unknown`` -- a value tagguard cannot know (resource attribute, variable
  without default, ``timestamp()``...).  It carries a human ``reason``.
* ``PartialMap`` -- a map whose visible keys are known but which may hold
  further keys tagguard cannot see (``merge(local.known, var.no_default)``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from collections.abc import Iterable


class EvalError(Exception):
    """An expression that Terraform itself would reject (type error, null access...)."""


class Unknown:
    """A value known only after apply (or never, statically).

    ``error`` is True when the value stands for an evaluation error rather than
    a legitimately unknown input; ``try()``/``can()`` treat those as failures.
    """

    __slots__ = ("reason", "error")

    def __init__(self, reason: str | None = None, error: bool = False) -> None:
        self.reason = reason
        self.error = error

    def __repr__(self) -> str:
        return f"Unknown({self.reason!r})" if self.reason else "Unknown()"


class PartialMap(dict):
    """A map that may hold keys tagguard cannot see (``open``), and why."""

    def __init__(self, *args: Any, open: bool = False, open_reasons: list[str] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.open = open
        self.open_reasons = list(open_reasons or [])

    def __repr__(self) -> str:
        return f"PartialMap({dict.__repr__(self)}, open={self.open}, open_reasons={self.open_reasons!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PartialMap) and (other.open or self.open):
            return dict.__eq__(self, other) and self.open == other.open
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


# --- inspection -----------------------------------------------------------------


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def find_unknown(value: Any, _depth: int = 0) -> Unknown | None:
    """The first ``Unknown`` anywhere inside ``value`` (an open map counts), else None."""
    if value.__class__ is str:  # the common leaf: skips the ABC check below (a str holds nothing)
        return None
    if isinstance(value, Unknown):
        return value
    if _depth > 64:
        return None
    if isinstance(value, PartialMap) and value.open:
        return Unknown("; ".join(value.open_reasons) or "map may hold unknown keys")
    if isinstance(value, Mapping):
        items: Iterable[Any] = value.values()
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = find_unknown(item, _depth + 1)
        if found is not None:
            return found
    return None


def is_wholly_known(value: Any) -> bool:
    return find_unknown(value) is None


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "tuple"
    if isinstance(value, Unknown):
        return "unknown"
    return type(value).__name__


# --- numbers --------------------------------------------------------------------


def norm_number(value: Any) -> Any:
    """Integral floats become ints, as Terraform's numbers have no int/float split."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_number(value: Any) -> str:
    """Render a number the way Terraform does in templates: ``1``, ``1.5``, ``0.0001``."""
    value = norm_number(value)
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise EvalError("cannot render a non-finite number")
    from decimal import Decimal  # only a float reaches here: most modules hold whole numbers only (~5 M instructions)

    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_number(text: str) -> Any:
    text = text.strip()
    try:
        if text.lstrip("+-").isdigit():
            return int(text)
        number = float(text)
    except ValueError:
        raise EvalError(f"cannot convert {text!r} to a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise EvalError(f"cannot convert {text!r} to a number")
    return norm_number(number)


# --- conversions (Terraform's automatic type conversion) ------------------------


def to_string(value: Any, what: str = "value") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return format_number(value)
    if value is None:
        raise EvalError(f"cannot use a null {what} as a string")
    raise EvalError(f"cannot convert {type_name(value)} to string")


def to_number(value: Any) -> Any:
    if is_number(value):
        return norm_number(value)
    if isinstance(value, str):
        return parse_number(value)
    if value is None:
        raise EvalError("cannot use a null value as a number")
    raise EvalError(f"cannot convert {type_name(value)} to number")


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value == "true" and isinstance(value, str):
        return True
    if value == "false" and isinstance(value, str):
        return False
    if value is None:
        raise EvalError("cannot use a null value as a bool")
    raise EvalError(f"cannot convert {type_name(value)} to bool")


def to_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, (set, tuple)):
        return list(value)
    raise EvalError(f"expected a list, got {type_name(value)}")


def to_map(value: Any) -> Mapping:
    if value.__class__ is dict or isinstance(value, Mapping):  # exact dict first: skips the ABC check
        return value
    raise EvalError(f"expected a map, got {type_name(value)}")


def equal(a: Any, b: Any) -> bool:
    """Terraform ``==``: no conversion between types, numbers by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(equal(a[k], b[k]) for k in a)
    return False


def unique(values: Iterable[Any]) -> list:
    """Order-preserving de-duplication with Terraform equality."""
    out: list = []
    for value in values:
        if not any(equal(value, seen) for seen in out):
            out.append(value)
    return out
