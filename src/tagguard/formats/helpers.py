"""Presentation helpers every renderer shares: one way to show a dollar figure, one way to count.

Escaping of scanned data lives in ``formats/escape.py``; these only format tagguard's own numbers.
"""
from __future__ import annotations

import math
from typing import Any


def money(value: Any) -> str:
    """US dollars as every tagguard output shows them, to the cent: ``$29,906.60``, ``$0.42``, ``$-5.00``.

    ``n/a`` when the figure is unknown (``None``) or not a finite number: never ``$0`` for an unknown."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "n/a"
    return f"${value:,.2f}"


def plural(n: Any, word: str, plural_word: str | None = None, width: int = 0) -> str:
    """``1 call``, ``2 calls``, ``1,200 tokens``: the count with its noun in the right number."""
    noun = word if n == 1 else (plural_word or word + "s")
    num = f"{n:,}" if isinstance(n, (int, float)) and not isinstance(n, bool) else str(n)
    return f"{num:>{width}} {noun}" if width else f"{num} {noun}"
