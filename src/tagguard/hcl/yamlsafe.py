"""Bounded YAML reading: libyaml's C loader when PyYAML has it, and refusals of "billion laughs"
documents whose aliases would expand past a sane size and of documents nested deeper than
``MAX_DEPTH`` collections *before* they are composed: libyaml's scanner costs time proportional
to the flow depth for every token (200,000 ``[`` take minutes) and PyYAML <= 6.0.3 composes nodes
recursively in C (50,000 levels crash the process).

Here, inside the HCL package, because ``yamldecode()`` of a scanned repository needs exactly this
and ``tagguard.hcl`` imports nothing from the rest of tagguard; ``tagguard.yamlio`` (config,
manifests, usage files) builds on it.  Imported only when YAML is read (PyYAML costs ~50 ms).
"""
from __future__ import annotations

from typing import Any

import yaml

SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C loader when PyYAML has it

MAX_EXPANDED_NODES = 1_000_000
MAX_DEPTH = 256  # nested collections per document; real manifests and configs stay under 30


class YamlDepthError(ValueError):
    """A document nested deeper than ``MAX_DEPTH``; ``line`` is 1-based within the text."""

    def __init__(self, line: int, limit: int = MAX_DEPTH):
        self.line = line
        super().__init__(f"YAML nested too deeply (more than {limit} levels); not read")


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """Raise ``YamlDepthError`` when a document of ``text`` nests more than ``limit`` collections.

    Free for ordinary documents: only one with more than ``limit`` collection indicators
    (``[``, ``{``, ``- ``, ``? ``) is walked, as parser events (no nodes are built), stopping at
    the first level too deep, so the walk costs at most ``limit`` per token."""
    if text.count("[") + text.count("{") + text.count("- ") + text.count("? ") + text.count("-\n") <= limit:
        return
    from yaml.events import CollectionEndEvent, CollectionStartEvent

    depth = 0
    try:
        for event in yaml.parse(text, Loader=SafeLoader):
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > limit:
                    mark = event.start_mark
                    raise YamlDepthError((mark.line + 1) if mark is not None else 1, limit)
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # invalid YAML: the real load reports it (with its line) within the depth seen so far


class YamlBombError(ValueError):
    pass


def expanded_size(value: Any, limit: int = MAX_EXPANDED_NODES) -> int:
    """Number of nodes the value would have if every alias were copied out."""
    memo: dict = {}

    def size(v: Any) -> int:
        if isinstance(v, (dict, list)):
            key = id(v)
            if key in memo:
                return memo[key]
            memo[key] = limit + 1  # a self-reference is a bomb
            items = v.items() if isinstance(v, dict) else enumerate(v)
            total = 1
            for _, child in items:
                total += size(child)
                if total > limit:
                    break
            memo[key] = total
            return total
        return 1

    return size(value)


def check_bomb(value: Any, text: str) -> None:
    if "*" in text and "&" in text:  # only documents with anchors and aliases can blow up
        if expanded_size(value) > MAX_EXPANDED_NODES:
            raise YamlBombError(f"YAML aliases expand to more than {MAX_EXPANDED_NODES:,} nodes (alias bomb?); refused")
