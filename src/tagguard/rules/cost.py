"""Cost rules: over-budget, needs-approval, unpriced-resource, price-lower-bound, spot-opportunity, spot-risk.

Runs after pricing.  Also computes the cost delta of every change (plan JSON,
or ``tagguard diff`` against a base) and hands ``cost_diff`` and ``budgets``
to the report in ``ctx.outputs`` (typed: ``sources.base.ScanOutputs``).

Heuristics (documented in the rule pages):

* training: a kind that only trains (PyTorchJob, TFJob, MPIJob, XGBoostJob,
  PaddleJob, JAXJob, TrainJob), or any priced compute whose address, or a
  workload tag/label value, says ``train`` / ``fine-tun`` / ``finetun``;
* serving: a SageMaker endpoint, a KServe InferenceService, or an address or
  workload tag/label value saying ``infer``/``serv``/``endpoint``/``online``
  (not ``batch``);
* production: an ``environment`` (or ``env``/``stage``) tag of prod / production / prd.
"""
from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterable, Iterator

from tagguard.formats.helpers import money as _money
from tagguard.model import ERROR, INFO, WARNING, Compute, Finding, Resource

OVER_BUDGET = "over_budget"
NEEDS_APPROVAL = "needs_approval"
UNPRICED = "unpriced"
OPTIMIZATION = "optimization"

TRAINING_KINDS = {"PyTorchJob", "TFJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob", "TrainJob"}
SERVING_TYPES = {"aws_sagemaker_endpoint", "InferenceService", "google_vertex_ai_endpoint"}
WORKLOAD_KEYS = ("workload", "workload-type", "workload_type", "job-type", "purpose", "role", "ml-workload",
                 "app.kubernetes.io/component", "component", "usage", "type")
ENV_KEYS = ("environment", "env", "stage")
_TRAIN = re.compile(r"train|fine-?tun", re.I)
_SERVE = re.compile(r"infer|serv|endpoint|online", re.I)
# The same words as plain substrings, for ASCII text lowered first: re.I's Unicode folding costs ~10x a plain search
# (4.3 vs 0.4 us), and every priced resource is read this way.  Exact: the patterns are ASCII alternations of
# literals (fine-?tun is finetun or fine-tun), so a lowered ASCII text matches one exactly when it contains one of
# them, and in ASCII text a letter matches under re.I exactly when its lower case matches the lower-case literal.
_TRAIN_LOWER = ("train", "finetun", "fine-tun")
_SERVE_LOWER = ("infer", "serv", "endpoint", "online")
_PROD = {"prod", "production", "prd"}
# The workload keys of a tag map, by its key list: resources of a kind carry the same keys, so each list is read
# once instead of a lower() and an 11-way tuple search per tag and resource (~2 us a resource).  Bounded (lists of
# up to 64 keys, 4,096 lists); the answer depends on the keys alone, so a hit is the same answer.
_WORKLOAD_KEYS_OF: dict[tuple[str, ...], tuple[str, ...]] = {}
_MEMO_LISTS, _MEMO_LIST_LEN = 4096, 64


def _words(res: Resource) -> list[str]:
    tags = res.tags
    keys = tuple(tags)
    found = _WORKLOAD_KEYS_OF.get(keys)
    if found is None:
        found = tuple(k for k in keys if k.lower() in WORKLOAD_KEYS)
        if len(keys) <= _MEMO_LIST_LEN and len(_WORKLOAD_KEYS_OF) < _MEMO_LISTS:
            _WORKLOAD_KEYS_OF[keys] = found
    if not found:
        return [res.address]
    return [res.address, *(str(tags[k]) for k in found)]


def is_training(res: Resource) -> bool:
    if res.type in TRAINING_KINDS:
        return True
    for word in _words(res):
        if _says(_TRAIN_LOWER, _TRAIN, word):
            return True
    return False


def _says(literals: tuple[str, ...], folding: re.Pattern[str], word: str) -> bool:
    if word.isascii():
        word = word.lower()
        for literal in literals:
            if literal in word:
                return True
        return False
    return folding.search(word) is not None


def is_serving(res: Resource) -> bool:
    if is_training(res):
        return False
    if res.type in SERVING_TYPES:
        return True
    for word in _words(res):
        if _says(_SERVE_LOWER, _SERVE, word) and "batch" not in word.lower():
            return True
    return False


def is_production(res: Resource) -> bool:
    for k, v in res.tags.items():
        if k.lower() in ENV_KEYS and str(v).lower() in _PROD:
            return True
    return False


def check(resources: list[Resource], ctx) -> Iterator[Finding]:
    from tagguard.cost import diff as costdiff

    outputs = ctx.outputs
    base = ctx.options.diff_base
    removed: list[dict[str, Any]] = []
    if base is not None:
        removed = costdiff.annotate_against_base(resources, base)
        outputs.removed = removed
    else:
        costdiff.annotate_plan(resources, ctx)
    if base is not None or any(r.source == "plan" and "action" in r.meta for r in resources):
        from tagguard.report_parts import CostDiff  # a change to price: a plain scan makes no CostDiff

        outputs.cost_diff = CostDiff.from_json(costdiff.summarize(resources, removed, config=ctx.config))

    yield from _unpriced(resources)
    yield from _lower_bounds(resources)
    yield from _spot_hints(resources, ctx)

    budgets_raw, approvals_raw = ctx.config.section("budgets"), ctx.config.section("approvals")
    if not budgets_raw and not approvals_raw:
        return  # what follows reads nothing else: a scan without budgets never imports cost.budgets
    from tagguard.cost import budgets as bud

    budgets = bud.load_budgets(budgets_raw)
    if budgets:
        statuses = bud.evaluate(budgets, resources)
        outputs.budgets = [s.report() for s in statuses]
        cfg_file = bud.config_rel(ctx.config, ctx.root)
        for st in statuses:
            if st.budget.kind == "tokens":
                continue
            if st.over:
                yield _over_budget(st, cfg_file, bud.config_line(ctx.config, st.budget.name))
            elif st.lower_bound and st.budget.monthly_usd is not None:
                yield _under_budget_at_a_floor(st, cfg_file, bud.config_line(ctx.config, st.budget.name))

    approvals = bud.load_approvals(approvals_raw)
    if approvals is not None:
        yield from _approvals(resources, approvals, bud.approved_by(ctx.options.approved_by))


# --- unpriced -----------------------------------------------------------------------------

def _unpriced(resources: Iterable[Resource]) -> Iterator[Finding]:
    for r in resources:
        # a monthly figure first: it rules out nearly every resource before the three meta look-ups (the tests
        # only skip, so their order changes nothing)
        if r.cost is not None and r.cost.monthly_usd is not None:
            continue
        if not r.ai or r.meta.get("served_by") or r.meta.get("priced_elsewhere") \
                or r.meta.get("action") in ("delete", "no-op"):
            continue
        if r.compute is None:  # billed per request/storage (models, domains): no capacity to price
            continue
        reason = (r.cost.reason if r.cost is not None else None) or "nothing is known about what this resource runs on"
        what = r.compute.instance_type if r.compute is not None and r.compute.instance_type else r.type
        # a type named like GPU capacity but unknown to the rate card is AI with no figure at all: a warning
        unknown_gpu = r.cost is not None and any(ln.get("unknown_gpu_family") for ln in r.cost.breakdown)
        yield Finding(rule="unpriced-resource", category=UNPRICED, severity=WARNING if unknown_gpu else INFO,
                      address=r.address, file=r.file,
                      line=r.line, resource_type=r.type,
                      message=f"{r.address}: no monthly cost for {what}: {reason}",
                      fix=("add the rate under `pricing.instance_types` (or `pricing.gpu_hourly_usd`),"
                           " or hours/units in a usage file"
                           if "no GPU model" not in reason else
                           "select the node it runs on (nodeSelector / node affinity on an instance type or GPU label),"
                           " or say what the cluster's GPUs are under `pricing.default_accelerators`"
                           " (e.g. `nvidia.com/gpu: A10G`)"),
                      extra={"reason": reason})


def _lower_bounds(resources: Iterable[Resource]) -> Iterator[Finding]:
    """A figure that is a floor (a GPU request no node information places) is not a price: a warning, so the
    total it enters is never read as exact (``Cost.lower_bound``; docs/pricing.md)."""
    for r in resources:
        if not r.ai or r.cost is None or not r.cost.lower_bound or r.meta.get("served_by") \
                or r.meta.get("action") in ("delete", "no-op"):
            continue
        reason = r.cost.reason or "a lower bound"
        yield Finding(rule="price-lower-bound", category=UNPRICED, severity=WARNING, address=r.address, file=r.file,
                      line=r.line, resource_type=r.type,
                      message=f"{r.address}: its cost is a lower bound, {reason}",
                      fix=("select the node it runs on (nodeSelector / node affinity on an instance type or GPU label),"
                           " or say what the cluster's GPUs are under `pricing.default_accelerators`"
                           " (e.g. `nvidia.com/gpu: A10G`); `pricing.unplaced_accelerators: unpriced` leaves such"
                           " requests unpriced instead"),
                      extra={"reason": reason, "lower_bound_monthly_usd": r.cost.monthly_usd})


# --- spot hints -------------------------------------------------------------------------------

def _compute(r: Resource) -> Compute:
    """The compute of a spot-hint candidate: the candidates filter keeps only resources that have one."""
    assert r.compute is not None
    return r.compute


def _spot_hints(resources: list[Resource], ctx) -> Iterator[Finding]:
    candidates = [r for r in resources if r.ai and r.compute is not None and r.cost is not None
                  and r.cost.monthly_usd is not None and r.meta.get("action") not in ("delete",)
                  and not r.meta.get("served_by")]
    # r.compute read directly (the candidates have one): two calls of _compute per candidate less
    train = [r for r in candidates if r.compute is not None and (r.compute.pricing_model or "on_demand") == "on_demand"
             and (r.compute.units or 0) > 0 and is_training(r)]
    if train:
        from copy import deepcopy

        from tagguard.pricing.engine import make_pricer

        pricer = make_pricer(ctx.config, ctx.options).pricer  # the scan's own rate card and config
        for r in train:
            assert r.cost is not None and r.cost.monthly_usd is not None  # candidates have a monthly figure
            shadow_compute = deepcopy(_compute(r))
            shadow_compute.pricing_model = "spot"
            shadow_compute.spot_units = None
            shadow = Resource(address=r.address, type=r.type, source=r.source, ai=True, compute=shadow_compute,
                              meta={k: v for k, v in r.meta.items() if k == "runs_per_month"})
            spot = pricer.price(shadow)
            if spot.monthly_usd is None or spot.monthly_usd >= r.cost.monthly_usd:
                continue
            saving = round(r.cost.monthly_usd - spot.monthly_usd, 2)
            pct = round(100.0 * saving / r.cost.monthly_usd, 1) if r.cost.monthly_usd else 0.0
            line = next((ln for ln in spot.breakdown if ln.get("model") == "spot"), {})
            basis = line.get("basis") or "rate card spot rate"
            if line.get("source") and line.get("spot_kind") != "default_discount":
                basis += f", {line['source']}"
            yield Finding(
                rule="spot-opportunity", category=OPTIMIZATION, severity=INFO, address=r.address, file=r.file,
                line=r.line, resource_type=r.type,
                message=(f"{r.address}: training on on-demand capacity;"
                         f" on spot it would cost {_money(spot.monthly_usd)}"
                         f"/month instead of {_money(r.cost.monthly_usd)}"
                         f" (saves {_money(saving)}, {pct:g}%; spot rate: {basis})"),
                fix="run training on spot capacity with checkpointing (spot market options, capacity_type = \"SPOT\", "
                    "a spot node selector), or suppress with a reason if the job cannot be interrupted",
                extra={"saving_monthly_usd": saving, "on_demand_monthly_usd": round(r.cost.monthly_usd, 2),
                       "spot_monthly_usd": round(spot.monthly_usd, 2), "spot_basis": basis})
    for r in candidates:
        compute = _compute(r)
        model = (compute.pricing_model or "on_demand")
        if model not in ("spot", "mixed") or not is_production(r) or not is_serving(r):
            continue
        what = ("entirely on spot" if model == "spot"
                else f"partly on spot ({compute.spot_units or '?'} of {compute.units or '?'} units)")
        yield Finding(
            rule="spot-risk", category=OPTIMIZATION, severity=INFO, address=r.address, file=r.file, line=r.line,
            resource_type=r.type,
            message=(f"{r.address}: production inference runs {what};"
                     f" a spot interruption takes capacity away with two minutes' notice (or less)"),
            fix=("keep an on-demand base for production serving"
                 " (on_demand_base_capacity, a mixed node pool, or capacity_type = \"ON_DEMAND\")"),
            extra={"pricing_model": model})


# --- budgets ----------------------------------------------------------------------------------

def _over_budget(st, cfg_file: str | None, line: int | None) -> Finding:
    b = st.budget
    parts = []
    if b.monthly_usd is not None and st.overage_usd is not None and st.overage_usd > 0:
        parts.append(f"projected {_money(st.projected_usd)}/month is {_money(st.overage_usd)}"
                     f" over the {_money(b.monthly_usd)} budget")
    if b.monthly_gpu_hours is not None and st.overage_gpu_hours is not None and st.overage_gpu_hours > 0:
        parts.append(f"projected {st.projected_gpu_hours:,.0f} GPU-hours/month is {st.overage_gpu_hours:,.0f} over the "
                     f"{b.monthly_gpu_hours:,.0f} GPU-hour budget")
    match = ", ".join(f"{k}={'|'.join(v)}" for k, v in b.match.items()) or "all AI resources"
    unpriced = (f"; {st.unpriced} matching resource{'s' if st.unpriced != 1 else ''}"
                f" without a known rate not counted" if st.unpriced else "")
    if st.lower_bound:  # a floor over the budget is over it: the overrun is at least this
        unpriced += (f"; {_money(st.lower_bound_usd)} of the projection is a lower bound over {st.lower_bound} "
                     f"resource{'s' if st.lower_bound != 1 else ''}, so the overrun is at least this")
    return Finding(
        rule="over-budget", category=OVER_BUDGET, severity=ERROR if b.mode == "chargeback" else WARNING,
        address=f"budget:{b.name}", file=cfg_file, line=line,
        message=f"budget {b.name!r} ({match}, {b.mode}): " + "; ".join(parts) + unpriced,
        fix="reduce or move the matching resources, or raise the budget in .tagguard.yaml after sign-off",
        extra={"budget": b.name, "mode": b.mode, "projected_usd": round(st.projected_usd, 2),
               "overage_usd": st.overage_usd, "budget_usd": b.monthly_usd,
               "projected_gpu_hours": round(st.projected_gpu_hours, 4), "overage_gpu_hours": st.overage_gpu_hours,
               "budget_gpu_hours": b.monthly_gpu_hours, "resources": st.resources})


def _under_budget_at_a_floor(st, cfg_file: str | None, line: int | None) -> Finding:
    """Under a dollar budget only at the floors of GPU requests no node information places: it holds only if
    they do, which nothing in the scan shows -- never a silent pass."""
    b = st.budget
    match = ", ".join(f"{k}={'|'.join(v)}" for k, v in b.match.items()) or "all AI resources"
    n = st.lower_bound
    return Finding(
        rule="price-lower-bound", category=UNPRICED, severity=WARNING, address=f"budget:{b.name}", file=cfg_file,
        line=line,
        message=(f"budget {b.name!r} ({match}, {b.mode}): projected at least {_money(st.projected_usd)}/month of "
                 f"{_money(b.monthly_usd)}, of which {_money(st.lower_bound_usd)} is a lower bound over {n} "
                 f"resource{'s' if n != 1 else ''}: within the budget only if those floors hold"),
        fix=("say where those workloads run (a nodeSelector / affinity on an instance type or GPU label) or what the "
             "cluster's GPUs are (`pricing.default_accelerators`), so they are priced exactly"),
        extra={"budget": b.name, "mode": b.mode, "projected_usd": round(st.projected_usd, 2),
               "budget_usd": b.monthly_usd, "lower_bound_usd": round(st.lower_bound_usd, 2),
               "lower_bound_resources": n})


# --- approvals --------------------------------------------------------------------------------

def _approvals(resources: Iterable[Resource], ap, approver: str | None) -> Iterator[Finding]:
    for r in resources:
        action = r.meta.get("action")
        if not r.ai or action not in ("create", "update", "replace") or r.meta.get("served_by"):
            continue
        reasons = []
        delta = r.meta.get("cost_delta_monthly_usd")
        if ap.monthly_usd_threshold is not None and delta is not None and delta > ap.monthly_usd_threshold:
            # priced at a floor now, exactly before (or new): it adds at least this
            floor = r.cost is not None and r.cost.lower_bound and not r.meta.get("cost_before_lower_bound")
            reasons.append(f"adds {'at least ' if floor else ''}{_money(delta)}/month "
                           f"(threshold {_money(ap.monthly_usd_threshold)})")
        gpu_delta = r.meta.get("gpu_hours_delta_per_month")
        if ap.gpu_hours_threshold is not None and gpu_delta is not None and gpu_delta > ap.gpu_hours_threshold \
                and is_training(r):
            reasons.append(f"training job adds {gpu_delta:,.0f} GPU-hours/month"
                           f" (threshold {ap.gpu_hours_threshold:,.0f})")
        if not reasons:
            continue
        f = Finding(rule="needs-approval", category=NEEDS_APPROVAL, severity=ERROR, address=r.address, file=r.file,
                    line=r.line, resource_type=r.type,
                    message=f"{r.address}: this change needs cost approval: " + "; ".join(reasons),
                    fix=("get sign-off and re-run with --approved-by NAME"
                         " (the GitHub Action sets TAGGUARD_APPROVED_BY from a PR label)"),
                    extra={"action": action, "cost_delta_monthly_usd": delta, "gpu_hours_delta_per_month": gpu_delta})
        if approver is not None:
            if ap.approvers and approver not in ap.approvers:
                f.message += f" ({approver!r} is not in approvals.approvers)"
            else:
                f.suppressed = True
                f.suppression_reason = f"approved by {approver}"
                f.extra["approved_by"] = approver
        yield f
