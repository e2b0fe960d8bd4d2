"""Hashes: ``md5``, ``sha1``, ``sha256``, ``sha512`` of a string's UTF-8 bytes, hex-encoded
(``hashlib`` imported when one is called: ~8 ms, and most modules hash nothing)."""
from __future__ import annotations

from typing import Any, Callable

from ._common import Table, strict
from ._common import text as _s

FUNCTIONS: Table = {}


def _hasher(name: str) -> Callable[[Any], str]:
    def digest(text: Any) -> str:
        import hashlib

        return hashlib.new(name, _s(text).encode("utf-8")).hexdigest()

    return strict(digest)


for _name in ("md5", "sha1", "sha256", "sha512"):
    FUNCTIONS[_name] = _hasher(_name)
