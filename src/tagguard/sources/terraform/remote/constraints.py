"""Terraform's module version constraints (``version = "~> 1.2, != 1.2.5"``).

Operators ``=`` (or none), ``!=``, ``>``, ``>=``, ``<``, ``<=`` and ``~>`` (the rightmost given
segment may grow: ``~> 1.2`` is ``>= 1.2.0, < 2.0.0``; ``~> 1.2.3`` is ``>= 1.2.3, < 1.3.0``),
joined by commas, all of which must hold.  A pre-release (``1.3.0-beta1``) is selected only by an
exact constraint naming it, as Terraform does.  The newest version that satisfies all is chosen.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_PART = re.compile(r"^\s*(=|!=|>=|<=|~>|>|<)?\s*(\S+)\s*$")


class ConstraintError(ValueError):
    """A version or constraint that cannot be read."""


class Version:
    __slots__ = ("nums", "pre", "text", "given")

    def __init__(self, text: str):
        m = _VERSION.match(text.strip())
        if not m:
            raise ConstraintError(f"{text!r} is not a version")
        self.given = sum(1 for g in m.groups()[:3] if g is not None)
        self.nums = tuple(int(g or 0) for g in m.groups()[:3])
        self.pre = m.group(4) or ""
        self.text = text.strip()

    def key(self) -> tuple:
        # a pre-release sorts before its release; identifiers compare numerically when numeric
        pre: tuple = (1,) if not self.pre else (0,) + tuple(
            (0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre.split("."))
        return self.nums + (pre,)

    def __eq__(self, other) -> bool:
        return isinstance(other, Version) and self.key() == other.key()

    def __lt__(self, other: Version) -> bool:
        return self.key() < other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        return self.text


def parse_constraints(text: str | None) -> list[tuple[str, Version]]:
    if text is None or not text.strip():
        return []
    out = []
    for part in text.split(","):
        m = _PART.match(part)
        if not m:
            raise ConstraintError(f"{text!r}: empty constraint between commas")
        out.append((m.group(1) or "=", Version(m.group(2))))
    return out


def _holds(op: str, want: Version, v: Version) -> bool:
    if op == "=":
        return v == want
    if op == "!=":
        return v != want
    if op == ">":
        return want < v
    if op == ">=":
        return not v < want
    if op == "<":
        return v < want
    if op == "<=":
        return not want < v
    # ~>: at least `want`, and the segments before the last given one stay the same
    if v < want:
        return False
    if want.given <= 1:
        return v.nums[0] == want.nums[0]
    keep = want.given - 1
    return v.nums[:keep] == want.nums[:keep]


def matches(constraints: list[tuple[str, Version]], v: Version) -> bool:
    if v.pre and not any(op == "=" and want == v for op, want in constraints):
        return False  # pre-releases only on an exact match
    return all(_holds(op, want, v) for op, want in constraints)


def newest(available: Iterable[str], constraint: str | None) -> str | None:
    """The newest of ``available`` that satisfies ``constraint`` (None: none does).
    Unreadable version strings in ``available`` are skipped; an unreadable constraint raises."""
    cons = parse_constraints(constraint)
    best: Version | None = None
    for text in available:
        try:
            v = Version(text)
        except ConstraintError:
            continue
        if matches(cons, v) and (best is None or best < v):
            best = v
    return best.text if best is not None else None
