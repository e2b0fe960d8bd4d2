"""The engine-neutral SQL files shipped in ``tagguard/actuals/sql`` and their tiny template syntax.

A file may hold ``{{name}}`` slots. Slots are filled only with fragments built by tagguard itself
(column names from a fixed list, string literals quoted by ``literal``); billing data never becomes
SQL text.
"""
from __future__ import annotations

import re

_SLOT = re.compile(r"\{\{([a-z_]+)\}\}")


def names() -> list[str]:
    from tagguard.resources import package_file

    return sorted(p.name for p in package_file("tagguard.actuals", "sql").iterdir() if p.name.endswith(".sql"))


def load(name: str) -> str:
    from tagguard.resources import package_file

    if name not in names():
        raise ValueError(f"no shipped SQL file {name!r}")
    return (package_file("tagguard.actuals", "sql") / name).read_text(encoding="utf-8")


def render(name: str, slots: dict[str, str]) -> str:
    text = load(name)

    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in slots:
            raise KeyError(f"{name}: no value for slot {{{{{key}}}}}")
        return slots[key]

    return _SLOT.sub(sub, text)


def slots_in(name: str) -> list[str]:
    return sorted(set(_SLOT.findall(load(name))))


def literal(value: str) -> str:
    """A standard SQL string literal (single quotes doubled; no backslash escapes in DuckDB/Trino)."""
    if "\x00" in value:
        raise ValueError("NUL in an SQL literal")
    return "'" + value.replace("'", "''") + "'"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def ident(name: str) -> str:
    """A double-quoted identifier; only plain names are accepted."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain column name: {name!r}")
    return '"' + name + '"'
