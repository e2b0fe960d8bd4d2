"""YAML loading shared by config, Kubernetes manifests and usage files.

Uses libyaml's C loader when PyYAML has it, and refuses "billion laughs"
documents whose aliases would expand past a sane size, and documents nested deeper
than ``MAX_DEPTH`` collections *before* they are composed: libyaml's scanner costs
time proportional to the flow depth for every token (200,000 ``[`` take minutes) and
PyYAML <= 6.0.3 composes nodes recursively in C (50,000 levels crash the process).
"""
from __future__ import annotations

from typing import Any

import yaml

try:  # pragma: no cover - depends on the PyYAML build
    SafeLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover
    SafeLoader = yaml.SafeLoader  # type: ignore[misc]

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


def load(text: str) -> Any:
    check_depth(text)
    value = yaml.load(text, Loader=SafeLoader)  # noqa: S506 - safe loader
    check_bomb(value, text)
    return value


class YamlFileError(ValueError):
    """A YAML file that cannot be read or parsed: ``str()`` is one line naming file and line."""


def load_file(path, what: str = "file"):
    """Read and parse a YAML file; every failure is a one-line ``YamlFileError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise YamlFileError(f"{path}: cannot read {what} ({reason})") from None
    try:
        return load(text), text
    except YamlDepthError as exc:
        raise YamlFileError(f"{path}:{exc.line}: {exc}") from None
    except YamlBombError as exc:
        raise YamlFileError(f"{path}:1: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlFileError(f"{path}{line}: invalid YAML in {what}: {problem}") from None
