"""gpu-quota: GPU workloads in a namespace without a ResourceQuota capping their accelerators.

Namespace GPU quotas are how FinOps practice keeps one team from taking a cluster's GPUs: a
namespace whose scanned workloads request ``nvidia.com/gpu`` (or another accelerator resource)
needs a ResourceQuota with ``requests.<resource>`` in ``spec.hard``.  Also counted as a quota:
``kubernetes.namespaces.<ns>.gpu_quota`` in config (the quota lives in another repository), and a
Karpenter NodePool ``limits`` entry on that resource (a cluster-wide cap).  A NodePool that can
launch GPU instances without any accelerator limit is reported too.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from tagguard.model import WARNING, Finding, Resource

RULE, CATEGORY = "gpu-quota", "quota"
K8S_SOURCES = ("kubernetes", "helm")


def check(resources: Iterable[Resource], ctx) -> Iterator[Finding]:
    resources = [r for r in resources if r.source in K8S_SOURCES]
    if not resources:
        return
    # keyed by namespace; None when a resource names none (kept apart, as before)
    quotas: dict[str | None, set[str]] = {}
    invalid: dict[str | None, list[str]] = {}
    namespaces: dict[str | None, Resource] = {}
    cluster_caps: set[str] = set()
    workloads: dict[str | None, list[Resource]] = {}
    nodepools: list[Resource] = []
    for r in resources:
        ns: str | None = r.meta.get("namespace")
        if r.type == "ResourceQuota":
            quotas.setdefault(ns, set()).update(k for k, v in (r.meta.get("gpu_quota") or {}).items() if v is not None)
            if r.meta.get("invalid_gpu_quota_keys"):
                invalid.setdefault(ns, []).extend(r.meta["invalid_gpu_quota_keys"])
        elif r.type == "Namespace":
            namespaces[ns] = r
        elif r.type == "NodePool":
            cluster_caps.update(r.meta.get("gpu_limits") or {})
            if r.meta.get("gpu_capable"):
                nodepools.append(r)
        elif r.ai and r.meta.get("accelerators"):
            workloads.setdefault(ns, []).append(r)
    section = (ctx.config.section("kubernetes") or {}) if ctx is not None else {}
    for ns, spec in (section.get("namespaces") or {}).items():
        if isinstance(spec, dict) and isinstance(spec.get("gpu_quota"), dict):
            quotas.setdefault(str(ns), set()).update(str(k) for k in spec["gpu_quota"])

    for ns in sorted(workloads, key=str):
        ws = sorted(workloads[ns], key=lambda r: (r.file or "", r.line or 0, r.address))
        needed: dict[str, float] = {}
        unknown = False
        for r in ws:
            units = r.compute.units if r.compute else None
            for res, qty in (r.meta.get("accelerators") or {}).items():
                if units is None:
                    unknown = True
                needed[res] = needed.get(res, 0.0) + (qty * units if units is not None else 0.0)
        have = quotas.get(ns, set())
        missing = [k for k in sorted(needed) if k not in have and k not in cluster_caps]
        if not missing:
            continue
        anchor = namespaces.get(ns) or ws[0]
        listed = ", ".join(r.address for r in ws[:3]) + (f" and {len(ws) - 3} more" if len(ws) > 3 else "")
        total = ", ".join(f"{_fmt(needed[k])}{'+' if unknown else ''} {k}" for k in missing)
        wrong = invalid.get(ns) or []
        why = (f"; its ResourceQuota sets {', '.join('`' + w + '`' for w in wrong)}, but quotas on extended "
               "resources only take the `requests.` prefix") if wrong else ""
        keys = ", ".join(f"`requests.{k}`" for k in missing)
        hard = "\n".join(f"    requests.{k}: \"{_fmt(needed[k]) if needed[k] else 1}\"" for k in missing)
        chart = next((r.meta.get("chart") for r in ws if r.meta.get("chart")), None)
        extra = {"namespace": ns, "gpus_requested": {k: needed[k] for k in missing}}
        if chart:
            extra["chart"] = chart
        finding = Finding(
            rule=RULE, category=CATEGORY, severity=WARNING,
            message=(f"namespace `{ns}` runs GPU workloads ({listed}; {total} in all) without a ResourceQuota "
                     f"on {keys}{why}: nothing caps how many GPUs it can take"),
            address=f"Namespace//{ns}", file=anchor.file, line=anchor.line, resource_type="Namespace",
            fix=(f"add a ResourceQuota to namespace {ns}:\napiVersion: v1\nkind: ResourceQuota\nmetadata:\n"
                 f"  name: gpu-quota\n  namespace: {ns}\nspec:\n  hard:\n{hard}"),
            extra=extra)
        _suppress_if_every_workload_does(finding, ws)
        yield finding

    for np in nodepools:
        if np.meta.get("gpu_limits"):
            continue
        reasons = "; ".join(np.meta.get("gpu_reasons") or [])
        yield Finding(
            rule=RULE, category=CATEGORY, severity=WARNING,
            message=(f"{np.address}: this NodePool can launch GPU instances ({reasons}) but its `limits` cap no "
                     "accelerator resource, so Karpenter will add GPU nodes without bound"),
            address=np.address, file=np.file, line=np.line, resource_type="NodePool",
            fix="set spec.limits, e.g. `limits: {nvidia.com/gpu: 16}`", extra={"nodeclass": np.meta.get("nodeclass")})


def _suppress_if_every_workload_does(finding: Finding, workloads: list[Resource]) -> None:
    """The namespace finding is suppressed when each of its GPU workloads suppresses gpu-quota."""
    reasons: list[str] = []
    for r in workloads:
        sup = next((s for s in r.suppressions if s.matches(finding)), None)
        if sup is None:
            return
        reasons.append(sup.reason)
    finding.suppressed = True
    finding.suppression_reason = "; ".join(dict.fromkeys(reasons))


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}"
