"""Functions whose value Terraform knows only when it runs (``timestamp()``, ``uuid()``...): always
unknown here, with that reason."""
from __future__ import annotations

from typing import Any, Callable

from ..values import Unknown
from ._common import Table

FUNCTIONS: Table = {}


def _named_unknown(name: str) -> Callable[..., Unknown]:
    def call(*args: Any) -> Unknown:
        return Unknown(f"{name}() is known only when Terraform runs")

    return call


for _name in ("type", "uuid", "timestamp", "bcrypt", "uuidv5", "plantimestamp"):
    FUNCTIONS[_name] = _named_unknown(_name)
