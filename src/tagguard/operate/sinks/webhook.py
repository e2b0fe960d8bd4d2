"""A generic JSON webhook: the alert as data (JSON escaping is the only escaping; control and
bidi characters are emitted as ``\\u`` escapes by the encoder)."""
from __future__ import annotations

from typing import Any

SCHEMA = "tagguard-alert/1"


def payload(alert, state: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "state": state, "id": alert.key_id, **alert.to_json(),
            "facts": {label: value for label, value in alert.facts}}
