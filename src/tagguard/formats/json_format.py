"""``--format json``: the stable machine contract, described by ``schemas/report.schema.json``."""
from __future__ import annotations

import json

from tagguard import __version__
from tagguard.formats.base import Formatter
from tagguard.formats.escape import json_safe
from tagguard.model import ScanResult

REPORT_VERSION = "1"


def report_dict(result: ScanResult) -> dict:
    out = {
        "version": REPORT_VERSION,
        "tool": {"name": "tagguard", "version": __version__},
        "root": result.root,
        **({"config": result.config} if result.config else {}),
        "resources": [r.to_json() for r in result.resources],
        "findings": [f.to_json() for f in result.findings],
        "summary": result.summary(),
    }
    if result.errors or result.drift is not None:  # a drift report always says whether anything failed
        out["errors"] = result.errors
    for key, value in result.parts_json().items():
        out.setdefault(key, value)
    return out


def dumps_report(report: dict) -> str:
    """Indented envelope, one line per resource and finding.

    Readable and diff-friendly, and fast: each item goes through the C encoder
    (``indent`` would force the pure-Python one, ~10x slower on big scans).
    """
    parts = ["{"]
    keys = list(report)
    for i, key in enumerate(keys):
        value = report[key]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(value, list) and value:
            items = [f"    {json.dumps(item, ensure_ascii=False)}" for item in value]
            parts.append(f"  {json.dumps(key)}: [\n" + ",\n".join(items) + f"\n  ]{comma}")
        else:
            parts.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    parts.append("}")
    return json_safe("\n".join(parts) + "\n")  # no raw C1/bidi characters, no lone surrogates


class JsonFormatter(Formatter):
    name = "json"

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        return dumps_report(report_dict(result))
