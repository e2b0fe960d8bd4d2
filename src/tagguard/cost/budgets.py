"""Budgets (chargeback / showback) and approval thresholds from ``.tagguard.yaml``.

```yaml
budgets:
  - name: research-gpus
    match: {business-unit: research}      # every key must match (value or list of values, "*" = any)
    monthly_usd: 50000                    # and/or
    monthly_gpu_hours: 20000
    mode: chargeback                      # chargeback (default: over budget is an error) | showback (warning)
    kind: gpu                             # gpu (default) | tokens | all
approvals:
  monthly_usd_threshold: 5000             # one change adding more than this per month needs approval
  gpu_hours_threshold: 2000               # a training job over this many GPU-hours per month needs approval
  approvers: [alice, finops-team]         # optional: who may approve (--approved-by / TAGGUARD_APPROVED_BY)
```

The projected monthly total of a budget is the sum over the matching AI
resources of the scanned state (for a plan: the state after apply; deleted
resources count 0).  A lower bound (``Cost.lower_bound``: a GPU request no node
information places) counts at its floor: over the budget at the floor is over it;
under it, the budget holds only if the floors do, and ``rules/cost.py`` says so
with a ``price-lower-bound`` warning on the budget.  ``kind: tokens`` budgets are for LLM token spend, which
the infrastructure scan does not see: they are accepted, reported as not
evaluated here, and left to the LLM usage scan (``tagguard.llm``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

from tagguard.model import Resource
from tagguard.report_parts import BudgetReport

MODES = ("chargeback", "showback")
KINDS = ("gpu", "tokens", "all")
APPROVED_ENV = "TAGGUARD_APPROVED_BY"


class BudgetConfigError(ValueError):
    pass


@dataclass
class Budget:
    name: str
    match: dict[str, list[str]]
    monthly_usd: float | None = None
    monthly_gpu_hours: float | None = None
    mode: str = "chargeback"
    kind: str = "gpu"
    index: int = 0

    def matches(self, res: Resource) -> bool:
        if self.kind == "gpu" and res.source == "llm":
            return False
        if self.kind == "tokens" and res.source != "llm":
            return False
        for key, wanted in self.match.items():
            value = _tag(res, key)
            if value is None:
                return False
            if "*" not in wanted and value not in wanted:
                return False
        return True


@dataclass
class BudgetStatus:
    budget: Budget
    projected_usd: float = 0.0
    projected_gpu_hours: float = 0.0
    resources: int = 0
    unpriced: int = 0
    lower_bound: int = 0  # matching resources whose figure is a floor (Cost.lower_bound)
    lower_bound_usd: float = 0.0
    addresses: list[str] = field(default_factory=list)

    @property
    def overage_usd(self) -> float | None:
        if self.budget.monthly_usd is None:
            return None
        return round(self.projected_usd - self.budget.monthly_usd, 2)

    @property
    def overage_gpu_hours(self) -> float | None:
        if self.budget.monthly_gpu_hours is None:
            return None
        return round(self.projected_gpu_hours - self.budget.monthly_gpu_hours, 4)

    @property
    def over(self) -> bool:
        return bool((self.overage_usd is not None and self.overage_usd > 0)
                    or (self.overage_gpu_hours is not None and self.overage_gpu_hours > 0))

    def report(self) -> BudgetReport:
        """The typed part of the scan result (``ScanResult.budgets``)."""
        b = self.budget
        return BudgetReport(name=b.name, mode=b.mode, kind=b.kind, match=b.match, monthly_usd=b.monthly_usd,
                            projected_usd=round(self.projected_usd, 2), monthly_gpu_hours=b.monthly_gpu_hours,
                            projected_gpu_hours=round(self.projected_gpu_hours, 4), resources=self.resources,
                            unpriced_resources=self.unpriced, over=self.over, overage_usd=self.overage_usd,
                            overage_gpu_hours=self.overage_gpu_hours, evaluated=b.kind != "tokens",
                            lower_bound_resources=self.lower_bound, lower_bound_usd=round(self.lower_bound_usd, 2),
                            note=("token budgets are evaluated by the LLM usage scan, not the infrastructure scan"
                                  if b.kind == "tokens" else None))

    def to_json(self) -> dict[str, Any]:
        b = self.budget
        out: dict[str, Any] = {"name": b.name, "mode": b.mode, "kind": b.kind, "match": b.match,
                               "monthly_usd": b.monthly_usd, "projected_usd": round(self.projected_usd, 2),
                               "monthly_gpu_hours": b.monthly_gpu_hours,
                               "projected_gpu_hours": round(self.projected_gpu_hours, 4),
                               "resources": self.resources, "unpriced_resources": self.unpriced,
                               "over": self.over}
        if b.monthly_usd is not None:
            out["overage_usd"] = self.overage_usd
        if b.monthly_gpu_hours is not None:
            out["overage_gpu_hours"] = self.overage_gpu_hours
        if self.lower_bound:
            out["lower_bound_resources"] = self.lower_bound
            out["lower_bound_usd"] = round(self.lower_bound_usd, 2)
        if b.kind == "tokens":
            out["evaluated"] = False
            out["note"] = "token budgets are evaluated by the LLM usage scan, not the infrastructure scan"
        return out


def _tag(res: Resource, key: str) -> str | None:
    if key in res.tags:
        return res.tags[key]
    if res.tag_style == "azure":
        for k, v in res.tags.items():
            if k.casefold() == key.casefold():
                return v
    return None


def _num(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise BudgetConfigError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)


def load_budgets(raw: Any) -> list[Budget]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise BudgetConfigError("budgets: expected a list of {name, match, monthly_usd | monthly_gpu_hours}")
    out = []
    names = set()
    for i, b in enumerate(raw):
        where = f"budgets[{i}]"
        if not isinstance(b, dict):
            raise BudgetConfigError(f"{where}: expected a mapping")
        name = b.get("name")
        if not isinstance(name, str) or not name:
            raise BudgetConfigError(f"{where}.name: required")
        if name in names:
            raise BudgetConfigError(f"{where}.name: duplicate budget name {name!r}")
        names.add(name)
        match = b.get("match") or {}
        if not isinstance(match, dict):
            raise BudgetConfigError(f"{where}.match: expected a tag map such as {{business-unit: research}}")
        norm = {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in match.items()}
        usd = _num(b.get("monthly_usd"), f"{where}.monthly_usd")
        gpu = _num(b.get("monthly_gpu_hours"), f"{where}.monthly_gpu_hours")
        if usd is None and gpu is None:
            raise BudgetConfigError(f"{where}: set monthly_usd and/or monthly_gpu_hours")
        mode = b.get("mode", "chargeback")
        if mode not in MODES:
            raise BudgetConfigError(f"{where}.mode: expected chargeback or showback, got {mode!r}")
        kind = b.get("kind", "gpu")
        if kind not in KINDS:
            raise BudgetConfigError(f"{where}.kind: expected gpu, tokens or all, got {kind!r}")
        out.append(Budget(name=name, match=norm, monthly_usd=usd, monthly_gpu_hours=gpu, mode=mode, kind=kind, index=i))
    return out


def evaluate(budgets: list[Budget], resources: Iterable[Resource]) -> list[BudgetStatus]:
    """Projected monthly totals of the matching AI resources, per budget."""
    # billed capacity once: a workload's attributed share of a node pool priced in the scan is not added again
    ai = [r for r in resources if r.ai and not r.meta.get("served_by") and (r.cost is None or r.cost.counted)]
    out = []
    for b in budgets:
        st = BudgetStatus(b)
        if b.kind != "tokens":
            for r in ai:
                if not b.matches(r):
                    continue
                st.resources += 1
                st.addresses.append(r.address)
                if r.cost is None or r.cost.monthly_usd is None:
                    st.unpriced += 1
                else:
                    st.projected_usd += r.cost.monthly_usd
                    if r.cost.lower_bound:
                        st.lower_bound += 1
                        st.lower_bound_usd += r.cost.monthly_usd
                if r.cost is not None and r.cost.gpu_hours_per_month is not None:
                    st.projected_gpu_hours += r.cost.gpu_hours_per_month
        out.append(st)
    return out


@dataclass
class Approvals:
    monthly_usd_threshold: float | None = None
    gpu_hours_threshold: float | None = None
    approvers: list[str] = field(default_factory=list)


def load_approvals(raw: Any) -> Approvals | None:
    if not raw:
        return None
    if not isinstance(raw, dict):
        raise BudgetConfigError("approvals: expected a mapping with monthly_usd_threshold and/or gpu_hours_threshold")
    approvers = raw.get("approvers") or []
    if not isinstance(approvers, list) or not all(isinstance(a, str) for a in approvers):
        raise BudgetConfigError("approvals.approvers: expected a list of names")
    out = Approvals(_num(raw.get("monthly_usd_threshold"), "approvals.monthly_usd_threshold"),
                    _num(raw.get("gpu_hours_threshold"), "approvals.gpu_hours_threshold"), list(approvers))
    if out.monthly_usd_threshold is None and out.gpu_hours_threshold is None:
        return None
    return out


def approved_by(flag: str | None) -> str | None:
    """``--approved-by NAME``, else the ``TAGGUARD_APPROVED_BY`` environment variable (set by the Action)."""
    name = flag or os.environ.get(APPROVED_ENV)
    name = name.strip() if isinstance(name, str) else None
    return name or None


def config_line(config, name: str) -> int | None:
    """Line of ``name: <budget>`` in the config file, for the finding's location."""
    path = getattr(config, "path", None)
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    in_budgets = False
    for n, line in enumerate(lines, 1):
        if line.startswith("budgets:"):
            in_budgets = True
            continue
        if in_budgets and line and not line[0].isspace() and not line.startswith("-"):
            in_budgets = False
        if in_budgets:
            stripped = line.strip().lstrip("-").strip()
            if stripped.startswith("name:") and stripped[5:].strip().strip("'\"") == name:
                return n
    return None


def config_rel(config, root) -> str | None:
    path = getattr(config, "path", None)
    if path is None:
        return None
    try:
        return os.path.relpath(path, root).replace(os.sep, "/")
    except ValueError:
        return str(path)
