"""``--format json``: the stable machine contract, described by ``schemas/report.schema.json``."""
from __future__ import annotations

import json

from tagguard import __version__
from tagguard.formats.base import Formatter
from tagguard.model import ScanResult

REPORT_VERSION = "1"


def report_dict(result: ScanResult) -> dict:
    out = {
        "version": REPORT_VERSION,
        "tool": {"name": "tagguard", "version": __version__},
        "root": result.root,
        "resources": [r.to_json() for r in result.resources],
        "findings": [f.to_json() for f in result.findings],
        "summary": result.summary(),
    }
    if result.errors:
        out["errors"] = result.errors
    for key, value in result.extra.items():
        out.setdefault(key, value)
    return out


class JsonFormatter(Formatter):
    name = "json"

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        return json.dumps(report_dict(result), indent=2, sort_keys=False) + "\n"
