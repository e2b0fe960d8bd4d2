"""Tag scopes for model calls: ``with tags(...)`` / ``@tags(...)``, kept in a ContextVar.

A ContextVar gives every thread its own scope (a new thread starts with none)
and every asyncio task a copy of the scope it was created in, so concurrent
requests never see each other's tags.  Nested scopes merge; the inner value
wins for a key set twice.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
from types import MappingProxyType
from typing import Any, Callable
from collections.abc import Mapping

_TAGS: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "tagguard_llm_tags", default=MappingProxyType({}))  # immutable: a shared default must not be mutated

# How a Python keyword becomes a tag key.  None: the default rule (``_`` -> ``-``).
_KEY_MAP: dict[str, str] = {}
_KEY_STYLE = ["kebab"]  # kebab: business_unit -> business-unit; asis: keep the keyword


def set_key_mapping(key_map: Mapping[str, str] | None = None, style: str | None = None) -> None:
    if key_map is not None:
        _KEY_MAP.clear()
        _KEY_MAP.update({str(k): str(v) for k, v in key_map.items()})
    if style is not None:
        if style not in ("kebab", "asis"):
            raise ValueError("key style must be 'kebab' or 'asis'")
        _KEY_STYLE[0] = style


def tag_key(kwarg: str) -> str:
    """``business_unit`` -> ``business-unit`` (or the configured mapping)."""
    mapped = _KEY_MAP.get(kwarg)
    if mapped is not None:
        return mapped
    return kwarg.replace("_", "-") if _KEY_STYLE[0] == "kebab" else kwarg


def _normalise(mapping: Mapping[str, Any] | None, kw: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    if mapping:
        for k, v in mapping.items():  # explicit keys are taken as written
            if v is not None:
                out[str(k)] = str(v)
    for k, v in kw.items():
        if v is not None:
            out[tag_key(k)] = str(v)
    return out


def current_tags() -> dict[str, str]:
    """The tags in force here (a copy)."""
    return dict(_TAGS.get())


class tags:  # noqa: N801 - used as ``with tagguard.llm.tags(...)`` and ``@tagguard.llm.tags(...)``
    """Tag every model call recorded inside this scope.

    ``tags(business_unit="research", project="rag")`` or ``tags({"cost-center": "CC-1"})``;
    a value of None leaves an outer value in place.
    """

    def __init__(self, mapping: Mapping[str, Any] | None = None, **kw: Any):
        self._add = _normalise(mapping, kw)
        self._tokens: list = []

    def __enter__(self) -> dict[str, str]:
        merged = dict(_TAGS.get())
        merged.update(self._add)
        self._tokens.append(_TAGS.set(merged))
        return dict(merged)

    def __exit__(self, *exc: Any) -> None:
        _TAGS.reset(self._tokens.pop())

    async def __aenter__(self) -> dict[str, str]:
        return self.__enter__()

    async def __aexit__(self, *exc: Any) -> None:
        self.__exit__(*exc)

    def __call__(self, fn: Callable) -> Callable:
        add = self._add
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*a: Any, **k: Any) -> Any:
                with tags(add):
                    return await fn(*a, **k)
            return awrapper

        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            with tags(add):
                return fn(*a, **k)
        return wrapper
