"""A cluster report (Prometheus or OpenCost) as a ``ScanResult``: its findings judged like a scan's.

The config's ``rules:`` overrides apply (a rule or category set to ``off`` drops the finding, another
level replaces its severity), ``fail_on`` (or ``--fail-on``) sets the gate, and ``ScanResult.exit_code``
is the exit rule, as for every command. The report's JSON gets the findings in the scan report's shape
(``Finding.to_json``, which keeps the keys cluster findings had before) and a ``summary``.
"""
from __future__ import annotations

from typing import Any

from tagguard.model import ScanResult


def to_result(rep: dict[str, Any], config: Any, *, actuals: str | None = None,
              incomplete: list[str] | None = None) -> ScanResult:
    """``rep["findings"]`` (``Finding``s) judged, written back as JSON; the result every format renders.

    ``actuals``: the report's name (a Prometheus report): its GPU spend becomes the result's showback
    actuals, so the HTML page shows it per team as `report showback --cluster` does. ``incomplete``: why
    the data may be partial (the server's warnings): the report's ``errors``, exit 3 (``EXIT_INCOMPLETE``)."""
    from tagguard.rules import apply_severities

    findings = apply_severities(list(rep.get("findings") or []), config.rule_overrides)
    errors = [{"file": None, "message": f"the data may be incomplete: the server warned: {w}"}
              for w in incomplete or ()]
    result = ScanResult(findings=findings, fail_on=config.fail_on, config=config.describe(), errors=errors)
    if errors:
        rep["errors"] = errors
    if actuals is not None:
        from tagguard.cost.showback import build_showback

        result.showback = build_showback(ScanResult(), config, actuals=[(actuals, rep)])
    rep["findings"] = [f.to_json() for f in findings]
    s = result.summary()
    rep["summary"] = {"findings": s["findings"], "by_severity": s["by_severity"], "by_category": s["by_category"],
                      "blocking": s["blocking"], "fail_on": result.fail_on, "exit_code": s["exit_code"]}
    return result
