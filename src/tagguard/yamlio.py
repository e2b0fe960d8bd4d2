"""YAML loading shared by config, Kubernetes manifests and usage files.

Uses libyaml's C loader when PyYAML has it, and refuses "billion laughs"
documents whose aliases would expand past a sane size, and documents nested deeper
than ``MAX_DEPTH`` collections *before* they are composed: libyaml's scanner costs
time proportional to the flow depth for every token (200,000 ``[`` take minutes) and
PyYAML <= 6.0.3 composes nodes recursively in C (50,000 levels crash the process).
Those bounds are ``tagguard.hcl.yamlsafe`` (``yamldecode()`` needs them too, and the HCL package
imports nothing from the rest of tagguard); callers catch ``YamlDepthError``/``YamlBombError`` and
``yaml.YAMLError`` and name their own file and line.
"""
from __future__ import annotations

from typing import Any

import yaml

from tagguard.hcl.yamlsafe import (  # noqa: F401 - the bounds live with yamldecode(); re-exported here
    MAX_DEPTH,
    SafeLoader,
    YamlBombError,
    YamlDepthError,
    check_bomb,
    check_depth,
)


def load(text: str) -> Any:
    check_depth(text)
    value = yaml.load(text, Loader=SafeLoader)  # noqa: S506 - safe loader
    check_bomb(value, text)
    return value

