"""The optional parts of a ``ScanResult`` that a plain scan never makes: what ``--baseline``, ``tagguard diff``,
budgets and ``cluster report`` add to a result (``ScanResult.baseline``, ``diff``, ``cost_diff``, ``budgets``,
``gpu_actuals``), and read back by ``ScanResult.from_json``.

They are part of the data model (``tagguard.model``) and, like it, import nothing from tagguard.  They live in
their own module because Python 3.11 compiles each dataclass's generated methods when its module is imported
(~0.6 ms a class), and every scan imports ``tagguard.model``: here they cost only the commands that use them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable


@dataclass
class BaselineInfo:
    """What ``--baseline`` did: entries read, findings hidden, stale entries, findings that grew past it."""

    path: str
    entries: int = 0
    suppressed: int = 0
    stale: list[dict[str, Any]] = field(default_factory=list)  # {file, address, rule, tag}
    grown: list[dict[str, Any]] = field(default_factory=list)  # {file, address, rule, tag, figure, baselined, now}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "entries": self.entries, "suppressed": self.suppressed,
                               "stale": list(self.stale)}
        if self.grown:
            out["grown"] = list(self.grown)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BaselineInfo:
        return cls(path=str(d.get("path") or ""), entries=int(d.get("entries") or 0),
                   suppressed=int(d.get("suppressed") or 0), stale=list(d.get("stale") or []),
                   grown=list(d.get("grown") or []))


@dataclass
class BudgetReport:
    """One configured budget: projected spend against its limit (``budgets.BudgetStatus.report``)."""

    name: str
    mode: str
    kind: str = "gpu"
    match: dict[str, Any] = field(default_factory=dict)
    monthly_usd: float | None = None
    projected_usd: float = 0.0
    monthly_gpu_hours: float | None = None
    projected_gpu_hours: float = 0.0
    resources: int = 0
    unpriced_resources: int = 0
    over: bool = False
    overage_usd: float | None = None
    overage_gpu_hours: float | None = None
    evaluated: bool = True
    note: str | None = None
    # matching resources whose figure is a floor (Cost.lower_bound) and their sum, inside projected_usd
    lower_bound_resources: int = 0
    lower_bound_usd: float = 0.0
    # `tagguard diff --bill`: the bill's actual run-rate, the change's delta and their sum (actuals.diffbill)
    actual: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "mode": self.mode, "kind": self.kind, "match": self.match,
                               "monthly_usd": self.monthly_usd, "projected_usd": round(self.projected_usd, 2),
                               "monthly_gpu_hours": self.monthly_gpu_hours,
                               "projected_gpu_hours": round(self.projected_gpu_hours, 4),
                               "resources": self.resources, "unpriced_resources": self.unpriced_resources,
                               "over": self.over}
        if self.monthly_usd is not None:
            out["overage_usd"] = self.overage_usd
        if self.monthly_gpu_hours is not None:
            out["overage_gpu_hours"] = self.overage_gpu_hours
        if self.lower_bound_resources:
            out["lower_bound_resources"] = self.lower_bound_resources
            out["lower_bound_usd"] = round(self.lower_bound_usd, 2)
        if not self.evaluated:
            out["evaluated"] = False
            out["note"] = self.note
        if self.actual is not None:
            out["actual"] = dict(self.actual)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> BudgetReport:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        kw = {k: v for k, v in d.items() if k in names}
        kw.setdefault("name", "")
        kw.setdefault("mode", "chargeback")
        return cls(**kw)


@dataclass
class CostDiff:
    """Monthly cost delta of a change (plan JSON, ``tagguard diff``), in total and per team key."""

    total_delta_monthly_usd: float = 0.0
    gpu_hours_delta_per_month: float = 0
    changes: dict[str, int] = field(default_factory=dict)  # action -> count
    unpriced_changes: int = 0
    by: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # dimension -> [{value, delta_monthly_usd, ...}]
    resources: list[dict[str, Any]] = field(default_factory=list)  # one row per changed AI resource
    # Keys ``costdiff.summarize`` adds that have no field here yet, written to JSON as they are.
    more: dict[str, Any] = field(default_factory=dict)

    _FIELDS = ("total_delta_monthly_usd", "gpu_hours_delta_per_month", "changes", "unpriced_changes", "by", "resources")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in self._FIELDS}
        for k, v in self.more.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CostDiff:
        kw = {k: d[k] for k in cls._FIELDS if k in d}
        return cls(**kw, more={k: v for k, v in d.items() if k not in cls._FIELDS})


@dataclass
class DiffInfo:
    """``tagguard diff``: the base revision and the AI resources added, changed and removed."""

    base: str
    base_commit: str = ""
    paths: list[str] = field(default_factory=list)
    total_delta_monthly_usd: float = 0.0
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    preexisting_findings_hidden: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "base_commit": self.base_commit, "paths": list(self.paths),
                "total_delta_monthly_usd": self.total_delta_monthly_usd, "added": self.added,
                "changed": self.changed, "removed": self.removed,
                "preexisting_findings_hidden": self.preexisting_findings_hidden}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DiffInfo:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        kw = {k: v for k, v in d.items() if k in names}
        kw["base"] = str(kw.get("base") or "")
        return cls(**kw)


@dataclass
class GpuActuals:
    """``cluster report`` / ``cluster opencost``: GPUs actually requested and used, as a ``ScanResult`` (its
    findings) for the scan formats. ``github`` writes the report's own Markdown as the job summary and ``html``
    shows these figures as its headline, instead of the (absent) IaC estimates. ``markdown`` is the report's
    renderer (one renderer per format: never a copy); every string here came from the cluster (untrusted)."""

    kind: str  # "prometheus" | "opencost"
    source: str  # the cluster: its URL without credentials, or the file
    window: str  # "<start> .. <end>", or "" when the input does not say
    requested_gpu_hours: float
    cost_usd: float  # what the requested GPU-hours cost over the window
    used_gpu_hours: float | None  # None: no utilisation measured at all
    unmeasured_gpu_hours: float  # requested GPU-hours without utilisation data (neither used nor idle)
    idle_gpu_hours: float  # allocated to a pod, not used (of the measured GPU-hours)
    unallocated_gpu_hours: float  # allocatable GPUs no pod requested
    unallocated_cost_usd: float
    unattributed_gpu_hours: float  # of pods whose labels miss or break the taxonomy
    unattributed_cost_usd: float
    markdown: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    group_by: str = ""  # the taxonomy key of ``groups``
    # per group: {"group", "gpu_hours", "used_gpu_hours", "unmeasured_gpu_hours", "cost_usd"}
    groups: list[dict[str, Any]] = field(default_factory=list)

    def unattributed_share(self) -> float:
        """The unattributed part of the spend (of the GPU-hours when nothing is priced), 0..1."""
        if self.cost_usd > 0:
            return min(1.0, self.unattributed_cost_usd / self.cost_usd)
        return min(1.0, self.unattributed_gpu_hours / self.requested_gpu_hours) if self.requested_gpu_hours else 0.0
