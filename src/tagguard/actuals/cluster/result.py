"""A cluster report (Prometheus or OpenCost) as a ``ScanResult``: its findings judged like a scan's.

The config's ``rules:`` overrides apply (a rule or category set to ``off`` drops the finding, another
level replaces its severity), ``fail_on`` (or ``--fail-on``) sets the gate, and ``ScanResult.exit_code``
is the exit rule, as for every command. The report's JSON gets the findings in the scan report's shape
(``Finding.to_json``, which keeps the keys cluster findings had before) and a ``summary``.
"""
from __future__ import annotations

from typing import Any, Callable

from tagguard.model import ScanResult
from tagguard.report_parts import GpuActuals


def to_result(rep: dict[str, Any], config: Any, *, actuals: str | None = None,
              incomplete: list[str] | None = None,
              render: Callable[[dict[str, Any], str], str] | None = None) -> ScanResult:
    """``rep["findings"]`` (``Finding``s) judged, written back as JSON; the result every format renders.

    ``actuals``: the report's name (a Prometheus report): its GPU spend becomes the result's showback
    actuals, so the HTML page shows it per team as `report showback --cluster` does. ``incomplete``: why
    the data may be partial (the server's warnings): the report's ``errors``, exit 3 (``EXIT_INCOMPLETE``).
    ``render``: the report's own renderer (``render(rep, fmt)``); the result's ``gpu_actuals`` (the headline
    ``html`` shows) gets its Markdown, which ``github`` writes as the job summary, rendered when written (so it
    has what is added to ``rep`` later, such as ``history``)."""
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
    result.gpu_actuals = headline(rep, (lambda: render(rep, "markdown")) if render is not None else None)
    s = result.summary()
    rep["summary"] = {"findings": s["findings"], "by_severity": s["by_severity"], "by_category": s["by_category"],
                      "blocking": s["blocking"], "fail_on": result.fail_on, "exit_code": s["exit_code"]}
    return result


def headline(rep: dict[str, Any], markdown: Callable[[], str] | None = None) -> GpuActuals:
    """The figures of a Prometheus (``tagguard-cluster-report``) or an OpenCost report that lead its HTML page."""
    un = rep.get("unattributed") or {}
    if rep.get("kind") == "tagguard-opencost-report":
        rows = rep.get("by_group") or []
        hours = sum(r["gpu_hours"] for r in rows)
        unmeasured = sum(r["unmeasured_gpu_hours"] for r in rows)
        used = sum(r["used_gpu_hours"] for r in rows)
        idle = rep.get("idle") or {}
        return GpuActuals(kind="opencost", source=str(rep.get("source") or ""), window=_opencost_window(rep),
                          requested_gpu_hours=hours, cost_usd=sum(r["cost_usd"] for r in rows),
                          used_gpu_hours=used if hours > unmeasured else None, unmeasured_gpu_hours=unmeasured,
                          idle_gpu_hours=max(0.0, hours - unmeasured - used),
                          unallocated_gpu_hours=sum(v.get("gpu_hours", 0.0) for v in idle.values()),
                          unallocated_cost_usd=sum(v.get("cost_usd", 0.0) for v in idle.values()),
                          unattributed_gpu_hours=un.get("gpu_hours", 0.0),
                          unattributed_cost_usd=un.get("cost_usd", 0.0), markdown=markdown,
                          group_by=str(rep.get("group_by") or ""), groups=_groups(rows))
    t, w = rep["totals"], rep["window"]
    measured = t["requested_gpu_hours"] - t["unmeasured_gpu_hours"]
    return GpuActuals(kind="prometheus", source=str(rep["source"].get("prometheus") or ""),
                      window=f"{w['start']} .. {w['end']}", requested_gpu_hours=t["requested_gpu_hours"],
                      cost_usd=t["cost_usd"], used_gpu_hours=t["used_gpu_hours"] if measured > 0 else None,
                      unmeasured_gpu_hours=t["unmeasured_gpu_hours"], idle_gpu_hours=t["idle_gpu_hours"],
                      unallocated_gpu_hours=t["idle_unallocated_gpu_hours"],
                      unallocated_cost_usd=t["idle_unallocated_cost_usd"],
                      unattributed_gpu_hours=un.get("gpu_hours", 0.0), unattributed_cost_usd=un.get("cost_usd", 0.0),
                      markdown=markdown, group_by=str(rep.get("group_by") or ""),
                      groups=_groups([dict(r, gpu_hours=r["requested_gpu_hours"]) for r in rep.get("by_group") or []]))


def _groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"group": r["group"], "gpu_hours": r["gpu_hours"], "used_gpu_hours": r["used_gpu_hours"],
             "unmeasured_gpu_hours": r["unmeasured_gpu_hours"], "cost_usd": r["cost_usd"]} for r in rows]


def _opencost_window(rep: dict[str, Any]) -> str:
    w = rep.get("window") or {}
    return f"{w['start']} .. {w['end']}" if w.get("start") and w.get("end") else ""
