"""Quota and optimisation findings from cluster GPU-hours, each with its saving from the rate card.

- ``gpu-quota``: a namespace that requested GPUs has no GPU ResourceQuota, or its quota's used/hard
  reached ``quota_near`` (warning) or the hard limit (error).
- ``gpu-underused``: a workload (namespace + controller) used under ``underuse_threshold`` of the GPU
  time it held; saving = the cost of the unused part (right-size, share or quantize).
- ``commitment-candidate``: a steady long-running workload (ReplicaSet/StatefulSet/DaemonSet, running
  ≥ ``steady_fraction`` of the window) on on-demand capacity; saving = on-demand − 1-year reserved.
- ``spot-candidate``: a training/batch workload (Job) on on-demand; saving = on-demand − spot.
"""
from __future__ import annotations

from typing import Any

STEADY_KINDS = ("ReplicaSet", "StatefulSet", "DaemonSet", "Deployment")
BATCH_KINDS = ("Job",)


def findings(rows, data, opts, pricer, node_rate, window_hours: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    out += _quota(rows, data, opts)
    wl: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        wl.setdefault((r.namespace, r.owner_kind or "Pod", r.owner_name or r.pod), []).append(r)
    for (ns, kind, name), rs in sorted(wl.items()):
        mreq = sum(r.measured_hours for r in rs)
        used = sum(r.used_hours for r in rs)
        where = f"{kind} {ns}/{name}"
        if mreq > 0 and used / mreq < opts.underuse_threshold:
            saving = sum((r.measured_hours - r.used_hours) * r.rate for r in rs if r.rate is not None)
            out.append(_f("gpu-underused", "warning", ns, kind, name,
                          f"{where} used {used / mreq:.0%} of the {mreq:.1f} GPU-hours it held "
                          f"(threshold {opts.underuse_threshold:.0%})",
                          "right-size the GPU request, share the GPU (MIG or time-slicing) or quantize the model",
                          saving, mreq, used))
        od = [r for r in rs if r.capacity in ("on_demand", "on_demand_assumed")]
        if not od:
            continue
        od_hours = sum(r.gpu_hours for r in od)
        if kind in STEADY_KINDS:
            running = sum(r.running_hours for r in rs)
            if window_hours > 0 and running >= opts.steady_fraction * window_hours:
                saving, note = _delta(pricer, od, opts.commitment)
                out.append(_f("commitment-candidate", "info", ns, kind, name,
                              f"{where} ran steadily ({running / window_hours:.0%} of the window in pod-hours) on "
                              f"on-demand capacity ({od_hours:.1f} GPU-hours)",
                              f"cover it with a {opts.commitment.replace('_', ' ')} commitment (reserved instances "
                              "or a savings plan) for its node type" + (f"; {note}" if note else ""),
                              saving, od_hours, None))
        elif kind in BATCH_KINDS:
            saving, note = _delta(pricer, od, "spot")
            out.append(_f("spot-candidate", "info", ns, kind, name,
                          f"{where} (training/batch) ran {od_hours:.1f} GPU-hours on on-demand capacity",
                          "run it on spot capacity with checkpointing (karpenter.sh/capacity-type: spot)"
                          + (f"; {note}" if note else ""), saving, od_hours, None))
    return out


def _delta(pricer, rows, kind: str):
    saving = 0.0
    missing = set()
    for r in rows:
        info = pricer.info(r.instance_type)
        if info is None or r.rate is None or not info.accelerator_count:
            missing.add(r.instance_type or "unknown instance type")
            continue
        alt = info.rate(kind)
        if alt is None:
            missing.add(info.instance_type)
            continue
        saving += r.gpu_hours * (r.rate - alt / float(info.accelerator_count))
    note = (f"the rate card has no {kind.replace('_', ' ')} rate for {', '.join(sorted(missing))}, so the saving "
            "leaves those out") if missing else None
    return (saving if saving > 0 or not missing else None), note


def _f(rule, severity, ns, kind, name, message, fix, saving, gpu_hours, used) -> dict[str, Any]:
    return {"rule": rule, "severity": severity, "namespace": ns, "workload_kind": kind, "workload": name,
            "message": message, "fix": fix, "gpu_hours": round(gpu_hours, 6),
            "used_gpu_hours": None if used is None else round(used, 6),
            "saving_usd": None if saving is None else round(saving, 2)}


def _quota(rows, data, opts) -> list[dict[str, Any]]:
    out = []
    ns_req: dict[str, float] = {}
    for r in rows:
        ns_req[r.namespace] = ns_req.get(r.namespace, 0.0) + r.gpu_hours
    quotas: dict[tuple[str, str, str], dict[str, float]] = {}
    for q in data.quotas:
        quotas.setdefault((q.get("namespace", ""), q.get("resourcequota", ""), q.get("resource", "")), {})[
            q.get("type", "")] = q["value"]
    have = {k[0] for k in quotas}
    for ns in sorted(ns_req):
        if ns not in have and ns_req[ns] > 0:
            out.append({"rule": "gpu-quota", "severity": "warning", "namespace": ns, "workload_kind": None,
                        "workload": None, "message": f"namespace {ns} used {ns_req[ns]:.1f} GPU-hours with no GPU "
                        "ResourceQuota", "fix": f"add a ResourceQuota with requests.nvidia.com/gpu to namespace {ns}",
                        "gpu_hours": round(ns_req[ns], 6), "used_gpu_hours": None, "saving_usd": None})
    for (ns, name, res), v in sorted(quotas.items()):
        hard, used = v.get("hard"), v.get("used")
        if not hard or used is None:
            continue
        ratio = used / hard
        if ratio >= opts.quota_near:
            sev = "error" if ratio >= 1 else "warning"
            out.append({"rule": "gpu-quota", "severity": sev, "namespace": ns, "workload_kind": "ResourceQuota",
                        "workload": name, "message": f"namespace {ns} reached {ratio:.0%} of its {res} quota "
                        f"({used:g} of {hard:g}, peak in the window)",
                        "fix": "raise the quota or move work out before pods stay Pending",
                        "gpu_hours": round(ns_req.get(ns, 0.0), 6), "used_gpu_hours": None, "saving_usd": None})
    return out
