"""YAML loading shared by config, Kubernetes manifests and usage files.

Uses libyaml's C loader when PyYAML has it, and refuses "billion laughs"
documents whose aliases would expand past a sane size, and documents nested deeper
than ``MAX_DEPTH`` collections *before* they are composed: libyaml's scanner costs
time proportional to the flow depth for every token (200,000 ``[`` take minutes) and
PyYAML <= 6.0.3 composes nodes recursively in C (50,000 levels crash the process).
Those bounds are ``tagguard.hcl.yamlsafe`` (``yamldecode()`` needs them too, and the HCL package
imports nothing from the rest of tagguard); this module adds reading files with one-line errors.
"""
from __future__ import annotations

from typing import Any

import yaml

from tagguard.hcl.yamlsafe import (  # noqa: F401 - the bounds live with yamldecode(); re-exported here
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    SafeLoader,
    YamlBombError,
    YamlDepthError,
    check_bomb,
    check_depth,
    expanded_size,
)


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
