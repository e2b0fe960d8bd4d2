"""Presentation helpers every renderer shares: one way to show a dollar figure, one way to count.

Escaping of scanned data lives in ``formats/escape.py``; these only format tagguard's own numbers.
"""
from __future__ import annotations

import math
from typing import Any


def money(value: Any, currency: str = "USD") -> str:
    """Money as every tagguard output shows it, to the cent: ``$29,906.60``, ``$0.42``, ``-$5.00``;
    another currency by its code: ``1,234.50 EUR``.

    ``n/a`` when the figure is unknown (``None``) or not a finite number: never ``$0`` for an unknown."""
    if value is None or isinstance(value, (bool, str, bytes)):
        return "n/a"
    try:  # int, float and Decimal (DuckDB's sums); Decimal keeps its exact digits
        finite = math.isfinite(float(value))
    except (TypeError, ValueError):
        return "n/a"
    if not finite:
        return "n/a"
    sign = "-" if value < 0 else ""
    if currency == "USD":
        return f"{sign}${abs(value):,.2f}"
    return f"{sign}{abs(value):,.2f} {currency}"


def rate(value: Any) -> str:
    """A unit price, to the micro-dollar when it has one: ``$0.000125`` per token, ``$98.32`` or
    ``$1,234.50`` per hour (never fewer than two decimals)."""
    shown = money(value)
    if shown == "n/a":
        return shown
    whole, _, frac = f"{abs(value):,.6f}".partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"{'-' if value < 0 else ''}${whole}.{frac}"


def signed_money(value: Any, currency: str = "USD") -> str:
    """A change in money: ``+$5.00``, ``-$5.00``, ``±$0.00``; ``n/a`` when unknown."""
    shown = money(value, currency)
    if shown == "n/a":
        return shown
    return ("+" if value > 0 else "±" if value == 0 else "") + shown


def plural(n: Any, word: str, plural_word: str | None = None, width: int = 0) -> str:
    """``1 call``, ``2 calls``, ``1,200 tokens``: the count with its noun in the right number."""
    noun = word if n == 1 else (plural_word or word + "s")
    num = f"{n:,}" if isinstance(n, (int, float)) and not isinstance(n, bool) else str(n)
    return f"{num:>{width}} {noun}" if width else f"{num} {noun}"
