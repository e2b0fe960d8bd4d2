"""Helm's chart version constraints (the rules of Masterminds/semver v3, which Helm uses).

``version`` of a ``helm_release`` (and ``helm install --version``) is a constraint:

- an exact version (``1.2.3``; a shorter one such as ``1.2`` means ``1.2.x``, as Helm reads it);
- comparisons ``=``, ``!=``, ``>``, ``<``, ``>=`` (``=>``), ``<=`` (``=<``), joined by ``,`` or spaces (AND)
  and ``||`` (OR); a range ``1.2 - 1.4.5`` is ``>= 1.2, <= 1.4.5``;
- wildcards ``x``, ``X``, ``*`` (``1.2.x`` is ``>= 1.2.0, < 1.3.0``; ``*`` is any release);
- ``~1.2.3`` (``~>`` too) is ``>= 1.2.3, < 1.3.0``, ``~1`` is ``>= 1.0.0, < 2.0.0``;
- ``^1.2.3`` is ``>= 1.2.3, < 2.0.0``, ``^0.2.3`` is ``>= 0.2.3, < 0.3.0``, ``^0.0.3`` is ``0.0.3``.

A pre-release (``1.3.0-beta.1``) satisfies an AND group only when a constraint of that group names a
pre-release itself (``>= 1.3.0-0``).  An empty version is ``*``: the newest release, no pre-release
(``devel = true`` makes it ``>0.0.0-0``).  An exact string equal to a listed version wins first, then
the newest listed version that satisfies the constraint, as Helm's repository index lookup does.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

_WS = r"[ \t\n\f\r]"
_CV = (r"v?([0-9xX*]+)(\.[0-9xX*]+)?(\.[0-9xX*]+)?"
       r"(-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_ONE = re.compile(rf"^{_WS}*({_OPS}){_WS}*({_CV}){_WS}*$")
_RANGE = re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*")
_FIND = re.compile(rf"({_OPS}){_WS}*({_CV})")
_VALID = re.compile(rf"^({_WS}*({_OPS}){_WS}*({_CV}){_WS}*)((?:{_WS}+|,{_WS}*)({_OPS}){_WS}*({_CV}){_WS}*)*$")
_VERSION = re.compile(r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(?:-([0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
                      r"(?:\+[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*)?$")
MAX_CONSTRAINT = 256


class SemverError(ValueError):
    """A version or constraint that cannot be read (the message is one line)."""


class Version:
    __slots__ = ("major", "minor", "patch", "pre", "text")

    def __init__(self, text: str):
        m = _VERSION.match(text.strip()) if isinstance(text, str) and len(text) <= MAX_CONSTRAINT else None
        if not m:
            raise SemverError(f"{str(text)[:80]!r} is not a semantic version")
        self.major = int(m.group(1))
        self.minor = int(m.group(2)[1:]) if m.group(2) else 0
        self.patch = int(m.group(3)[1:]) if m.group(3) else 0
        self.pre = m.group(4) or ""
        self.text = text.strip()

    def compare(self, other: Version) -> int:
        a = (self.major, self.minor, self.patch)
        b = (other.major, other.minor, other.patch)
        if a != b:
            return -1 if a < b else 1
        return compare_pre(self.pre, other.pre)

    def __repr__(self) -> str:
        return self.text


def compare_pre(a: str, b: str) -> int:
    """Semantic Versioning precedence of two pre-release strings ("" is a release: it sorts last)."""
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb):
        if x == y:
            continue
        xd, yd = x.isdigit(), y.isdigit()
        if xd and yd:
            return -1 if int(x) < int(y) else 1
        if xd != yd:
            return -1 if xd else 1  # numeric identifiers sort before alphanumeric ones
        return -1 if x < y else 1
    return (len(pa) > len(pb)) - (len(pa) < len(pb))


class _Constraint:
    __slots__ = ("op", "con", "dirty", "minor_dirty", "patch_dirty")

    def __init__(self, text: str):
        m = _ONE.match(text)
        if not m:
            raise SemverError(f"improper constraint {text.strip()[:80]!r}")
        self.op = m.group(1)
        major, minor, patch, pre = m.group(3), m.group(4), m.group(5), m.group(6) or ""
        self.dirty = self.minor_dirty = self.patch_dirty = False
        if _is_x(major):
            ver, self.dirty = "0.0.0" + pre, True
        elif not minor or _is_x(minor[1:]):
            ver, self.dirty, self.minor_dirty = f"{major}.0.0{pre}", True, True
        elif not patch or _is_x(patch[1:]):
            ver, self.dirty, self.patch_dirty = f"{major}{minor}.0{pre}", True, True
        else:
            ver = f"{major}{minor}{patch}{pre}"
        self.con = Version(ver)

    def check(self, v: Version, pre_ok: bool) -> bool:
        if v.pre and not pre_ok:
            return False
        c = self.con
        op = self.op
        if op in ("", "="):
            return self._tilde(v) if self.dirty else v.compare(c) == 0
        if op == "!=":
            return self._not_equal(v)
        if op == ">":
            return self._greater(v)
        if op == "<":
            return v.compare(c) < 0
        if op in (">=", "=>"):
            return v.compare(c) >= 0
        if op in ("<=", "=<"):
            if not self.dirty:
                return v.compare(c) <= 0
            if v.major > c.major:
                return False
            return not (v.major == c.major and v.minor > c.minor and not self.minor_dirty)
        if op in ("~", "~>"):
            return self._tilde(v)
        return self._caret(v)

    def _not_equal(self, v: Version) -> bool:
        c = self.con
        if self.dirty:
            if c.major != v.major:
                return True
            if c.minor != v.minor and not self.minor_dirty:
                return True
            if self.minor_dirty:
                return False
            if c.patch != v.patch and not self.patch_dirty:
                return True
            if self.patch_dirty:
                return bool(v.pre or c.pre) and compare_pre(v.pre, c.pre) != 0
        return v.compare(c) != 0

    def _greater(self, v: Version) -> bool:
        c = self.con
        if not self.dirty:
            return v.compare(c) > 0
        if v.major != c.major:
            return v.major > c.major
        if self.minor_dirty:
            return False
        if self.patch_dirty:
            return v.minor > c.minor
        return v.compare(c) > 0

    def _tilde(self, v: Version) -> bool:
        c = self.con
        if v.compare(c) < 0:
            return False
        if (c.major, c.minor, c.patch) == (0, 0, 0) and not self.minor_dirty and not self.patch_dirty:
            return True  # ~0.0.0, ~*: any
        if v.major != c.major:
            return False
        return self.minor_dirty or v.minor == c.minor

    def _caret(self, v: Version) -> bool:
        c = self.con
        if v.compare(c) < 0:
            return False
        if c.major > 0 or self.minor_dirty:
            return v.major == c.major
        if v.major > 0:
            return False
        if c.minor > 0 or self.patch_dirty:
            return v.minor == c.minor
        if v.minor > 0:
            return False
        return v.patch == c.patch


def _is_x(part: str) -> bool:
    return part in ("x", "X", "*")


class Constraints:
    """``||``-joined groups of constraints that must all hold."""

    def __init__(self, text: str):
        if not isinstance(text, str) or len(text) > MAX_CONSTRAINT:
            raise SemverError("the version constraint is longer than 256 characters")
        text = _RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(9)} ", text)
        self.groups: list[tuple[list[_Constraint], bool]] = []
        for part in text.split("||"):
            if not _VALID.match(part):
                raise SemverError(f"improper constraint {part.strip()[:80]!r}")
            found = [m.group(0) for m in _FIND.finditer(part)] or [part]
            cons = [_Constraint(s) for s in found]
            self.groups.append((cons, any(c.con.pre for c in cons)))

    def check(self, v: Version) -> bool:
        return any(all(c.check(v, pre) for c in cons) for cons, pre in self.groups)


def select(available: Iterable[str], version: str | None, devel: bool = False) -> str | None:
    """The version Helm picks from ``available`` for ``version`` (None: none satisfies it).
    Raises ``SemverError`` for a constraint that cannot be read; unreadable listed versions are skipped."""
    listed = [a for a in available if isinstance(a, str)]
    wanted = (version or "").strip()
    if wanted and wanted in listed:
        return wanted
    if not wanted:
        wanted = ">0.0.0-0" if devel else "*"
    cons = Constraints(wanted)
    best: Version | None = None
    for text in listed:
        try:
            v = Version(text)
        except SemverError:
            continue
        if cons.check(v) and (best is None or v.compare(best) > 0):
            best = v
    return best.text if best is not None else None
