"""The one data model every part of tagguard speaks.

Sources turn inputs (Terraform, plan JSON, Kubernetes, Helm, live AWS) into
``Resource`` records; rules turn resources into ``Finding`` records; formatters
turn a ``ScanResult`` into output.  Nothing here imports anything heavy.
"""
from __future__ import annotations

import reprlib
import sys
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from tagguard.report_parts import BaselineInfo, BudgetReport, CostDiff, DiffInfo, GpuActuals

# Records held by the hundred thousand (resources, findings and their parts) have ``__slots__`` where
# dataclasses support it (Python >= 3.10): no per-object ``__dict__`` (BENCHMARKS.md, "Kubernetes memory").
_SLOTS: dict[str, Any] = {"slots": True} if sys.version_info >= (3, 10) else {}
# ``repr`` and ``==`` come from ``Record`` (no generated methods to compile on import)
_RECORD: dict[str, Any] = {"repr": False, "eq": False, **_SLOTS}
# Equal short strings and plain price lines repeat across thousands of records (a rate source, the basis
# of a rate, a fix): records keep one object for each (bounded; these values are never changed in place).
_SHARED_MAX = 4096
_shared_strings: dict[str, str] = {}
_shared_lines: dict[tuple, dict[str, Any]] = {}


def shared(value: str) -> str:
    """``value``, or an equal string a record already holds."""
    hit = _shared_strings.get(value)
    if hit is not None:
        return hit
    if len(_shared_strings) < _SHARED_MAX and len(value) <= 256:
        _shared_strings[value] = value
    return value


def _shared_line(line: dict[str, Any]) -> dict[str, Any]:
    """One dict for equal price lines of flat scalar values (the breakdown of replicas priced alike)."""
    try:
        key = tuple((k, v.__class__, v) for k, v in line.items())
        hit = _shared_lines.get(key)
    except TypeError:  # a nested value: kept as it is
        return line
    if hit is not None:
        return hit
    if len(_shared_lines) < _SHARED_MAX:
        _shared_lines[key] = {k: shared(v) if isinstance(v, str) else v for k, v in line.items()}
        return _shared_lines[key]
    return line


class Record:
    """The base of tagguard's dataclasses on the scan's path: their ``repr`` and ``==``, written once here.

    ``@dataclass(repr=False, eq=False)`` on a subclass keeps these instead of the methods dataclasses would
    generate, which Python 3.11 compiles class by class when a module is imported (about 0.3 ms a class, paid
    by every scan).  They give what the generated ones give: the ``repr=True`` fields in order (a recursive
    one as ``...``); equality of two objects of the same class as the tuples of their ``compare=True`` fields,
    ``NotImplemented`` for any other class; no hash, as a non-frozen dataclass with ``eq``
    (tests/test_model_record.py compares both on every subclass)."""

    __slots__ = ()

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)  # type: ignore[arg-type]
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        names = [f.name for f in fields(self) if f.compare]  # type: ignore[arg-type]
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)

    __hash__ = None  # type: ignore[assignment]


# --- severities ---------------------------------------------------------------
ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)
SEVERITY_RANK = {ERROR: 3, WARNING: 2, INFO: 1, "off": 0}

# --- categories (the JSON contract's ``category`` values) --------------------
MISSING_TAG = "missing_tag"
INVALID_VALUE = "invalid_value"
UNRESOLVED_VALUE = "unresolved_value"
PARSE_ERROR = "parse_error"
NOT_PROPAGATED = "not_propagated"
NOT_SCANNED = "not_scanned"
TAG_DRIFT = "tag_drift"  # live tags differ from Terraform state (drift scan)
UNMANAGED = "unmanaged"  # live GPU resource no Terraform state manages (drift scan)


@dataclass(**_RECORD)
class Compute(Record):
    """What a resource runs on, per unit, and how many units."""

    instance_type: str | None = None
    accelerator: str | None = None  # short GPU/accelerator model, e.g. "A100"
    gpus_per_unit: float | None = None  # fractional for GPU partitions
    units: int | None = 1  # instances / nodes / replicas; None = unknown
    pricing_model: str = "on_demand"  # on_demand | spot | reserved | mixed
    provider: str | None = None  # aws | gcp | azure | kubernetes
    service: str | None = None  # ec2 | sagemaker | gke | ...
    region: str | None = None
    spot_units: int | None = None  # for pricing_model "mixed": how many units are spot
    hours_per_month: float | None = None  # None: 730 for long-running kinds
    runtime_hours: float | None = None  # for run-to-completion jobs: hours per run
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instance_type": self.instance_type,
            "accelerator": self.accelerator,
            "gpus_per_unit": _num(self.gpus_per_unit),
            "units": self.units,
            "pricing_model": self.pricing_model,
        }
        # unrolled (this runs once per resource of a report): the same keys, in the same order, as _num gives
        value: Any = self.provider
        if value is not None:
            out["provider"] = _num(value) if isinstance(value, float) else value
        value = self.service
        if value is not None:
            out["service"] = _num(value) if isinstance(value, float) else value
        value = self.region
        if value is not None:
            out["region"] = _num(value) if isinstance(value, float) else value
        value = self.spot_units
        if value is not None:
            out["spot_units"] = _num(value)
        value = self.hours_per_month
        if value is not None:
            out["hours_per_month"] = _num(value)
        value = self.runtime_hours
        if value is not None:
            out["runtime_hours"] = _num(value)
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, d: Any) -> Compute | None:
        """The inverse of ``to_json`` (``None`` for a missing or wrong-typed object); a value of the wrong
        type in it is read as unknown (``None``), never as a string that later arithmetic would repeat."""
        if not isinstance(d, dict):
            return None
        comp = cls(instance_type=_opt_str(d.get("instance_type")), accelerator=_opt_str(d.get("accelerator")),
                   gpus_per_unit=_number(d.get("gpus_per_unit")), units=_integer(d.get("units")),
                   pricing_model=_opt_str(d.get("pricing_model")) or "on_demand",
                   provider=_opt_str(d.get("provider")), service=_opt_str(d.get("service")),
                   region=_opt_str(d.get("region")), spot_units=_integer(d.get("spot_units")),
                   hours_per_month=_number(d.get("hours_per_month")), runtime_hours=_number(d.get("runtime_hours")))
        comp.notes = [str(n) for n in d.get("notes") or []] if isinstance(d.get("notes"), list) else []
        return comp


@dataclass(**_RECORD)
class Cost(Record):
    """A priced resource.  ``None`` figures mean "not known", never zero."""

    hourly_usd: float | None = None
    monthly_usd: float | None = None
    gpu_hours_per_month: float | None = None
    rate_source: str | None = None  # id of the rate card source, or "config"
    rate_date: str | None = None
    reason: str | None = None  # why a figure is missing
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    # Addresses of the priced node pools of the same scan whose capacity this figure is a share of
    # (a GPU workload priced from the nodes it selects).  Totals count billed capacity once: an
    # attributed figure is shown on its resource but left out of every total (docs/pricing.md).
    attributed_from: list[str] = field(default_factory=list)
    # The figure is a floor, not the price: a GPU request that no node information places, priced at the
    # cheapest per-accelerator rate that could serve it (pricing.unplaced_accelerators; docs/pricing.md).
    lower_bound: bool = False

    def __post_init__(self) -> None:
        if self.rate_source:
            self.rate_source = shared(self.rate_source)
        if self.rate_date:
            self.rate_date = shared(self.rate_date)
        if self.reason:
            self.reason = shared(self.reason)
        if self.breakdown:
            self.breakdown = [_shared_line(ln) if isinstance(ln, dict) else ln for ln in self.breakdown]

    @property
    def counted(self) -> bool:
        """Whether this figure enters totals (summary, showback, diff, budgets)."""
        return not self.attributed_from

    def to_json(self) -> dict[str, Any]:
        hourly, monthly, gpu_hours = self.hourly_usd, self.monthly_usd, self.gpu_hours_per_month
        out: dict[str, Any] = {  # _money and _num inline: once per priced resource of a report
            "hourly_usd": None if hourly is None else round(float(hourly), 2),
            "monthly_usd": None if monthly is None else round(float(monthly), 2),
            "gpu_hours_per_month": _num(gpu_hours) if isinstance(gpu_hours, float) else gpu_hours,
        }
        if self.rate_source:
            out["rate_source"] = self.rate_source
        if self.rate_date:
            out["rate_date"] = self.rate_date
        if self.reason:
            out["reason"] = self.reason
        if self.breakdown:
            out["breakdown"] = [dict(ln) if isinstance(ln, dict) else ln for ln in self.breakdown]  # lines are shared
        if self.attributed_from:
            out["attributed_from"] = list(self.attributed_from)
        if self.lower_bound:
            out["lower_bound"] = True
        return out

    @classmethod
    def from_json(cls, d: Any) -> Cost | None:
        """The inverse of ``to_json`` (``None`` for a missing or wrong-typed object)."""
        if not isinstance(d, dict):
            return None
        breakdown, attributed = d.get("breakdown"), d.get("attributed_from")
        return cls(hourly_usd=_number(d.get("hourly_usd")), monthly_usd=_number(d.get("monthly_usd")),
                   gpu_hours_per_month=_number(d.get("gpu_hours_per_month")),
                   rate_source=_opt_str(d.get("rate_source")), rate_date=_opt_str(d.get("rate_date")),
                   reason=_opt_str(d.get("reason")),
                   breakdown=[b for b in breakdown if isinstance(b, dict)] if isinstance(breakdown, list) else [],
                   attributed_from=([a for a in attributed if isinstance(a, str)]
                                    if isinstance(attributed, list) else []),
                   lower_bound=d.get("lower_bound") is True)


@dataclass(**_RECORD)
class Suppression(Record):
    """An inline ``tagguard:ignore`` directive that applies to a resource."""

    rules: list[str]  # rule ids or categories; ["*"] for all
    reason: str
    file: str | None = None
    line: int | None = None

    def matches(self, finding: Finding) -> bool:
        if "*" in self.rules or "all" in self.rules:
            return True
        return finding.rule in self.rules or finding.category in self.rules


@dataclass(**_RECORD)
class Unpropagated(Record):
    """A reader's fact: tags set on or around a resource that do not reach what is billed for it (the EC2
    instances an Auto Scaling group or EKS node group launches, the pods a controller runs).

    Readers state it; ``rules/propagation.py`` decides which of the keys the taxonomy cares about and
    reports ``not-propagated``.  Not part of the JSON report."""

    via: str  # terraform | kubernetes | aws: which reader stated it (the finding's wording)
    keys: dict[str, str]  # key -> where it is set (terraform) or its value (kubernetes, aws)
    # the tags that do reach the billed things (None: no one set of them, e.g. live instances that differ)
    reaching: dict[str, str] | None = None
    reaching_unresolved: list[str] = field(default_factory=list)
    why: str = ""  # terraform: why the keys do not reach
    fix: str = ""
    # wording facts: kubernetes {kind, label_where, role, chart}; aws {key: {missing: [...], static: bool}}
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(**_RECORD)
class Resource(Record):
    """One billable (or at least taggable) thing, whatever it was read from."""

    address: str
    type: str
    source: str  # terraform | plan | kubernetes | helm | aws
    file: str | None = None
    line: int | None = None
    ai: bool = False
    taggable: bool = True
    tags: dict[str, str] = field(default_factory=dict)  # known tag values
    unresolved_tags: list[str] = field(default_factory=list)  # keys whose values are unknown
    tags_open: bool = False  # the map may hold keys tagguard cannot see (unknown merge input)
    tag_style: str = "aws"  # aws | gcp | azure | kubernetes: key-case semantics
    compute: Compute | None = None
    cost: Cost | None = None
    suppressions: list[Suppression] = field(default_factory=list)
    # Where the tags came from, for messages: e.g. {"cost-center": "provider default_tags"}
    tag_origins: dict[str, str] = field(default_factory=dict)
    # Why a key in ``unresolved_tags`` is unknown, e.g. {"owner": "var.owner has no default"}
    unresolved_reasons: dict[str, str] = field(default_factory=dict)
    # Why ``tags_open`` is set, e.g. "merge() includes var.extra_tags, which has no default"
    open_reason: str | None = None
    # Where the fix goes, in the source's words, e.g. "the `tags` argument or provider default_tags"
    tag_fix_hint: str | None = None
    # Source-specific facts: account, region, arn, role, chart, change action, module call...
    meta: dict[str, Any] = field(default_factory=dict)
    # Tags that do not reach what is billed (rules/propagation.py judges them; not in the JSON report)
    unpropagated: list[Unpropagated] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = self.json_head()
        out["compute"] = self.compute.to_json() if self.compute else None
        out["cost"] = self.cost.to_json() if self.cost else None
        out.update(self.json_tail())
        return out

    # ``to_json`` in three parts: the JSON writer encodes the keys before ``compute`` and after ``cost`` from
    # these same two definitions, and each distinct compute and cost text once (formats/json_format.py).
    def json_head(self) -> dict[str, Any]:
        """The keys of ``to_json`` before ``compute`` and ``cost``, in order."""
        out: dict[str, Any] = {
            "address": self.address,
            "type": self.type,
            "source": self.source,
            "file": self.file,
            "line": self.line,
            "ai": self.ai,
            "tags": dict(sorted(self.tags.items())),
            "unresolved_tags": sorted(self.unresolved_tags),
        }
        if self.tags_open:
            out["tags_open"] = True
        return out

    def json_tail(self) -> dict[str, Any]:
        """The keys of ``to_json`` after ``compute`` and ``cost``, in order."""
        return {"meta": _jsonable(self.meta)} if self.meta else {}

    @classmethod
    def from_json(cls, d: Any) -> Resource:
        """A resource of a JSON report back (the inverse of ``to_json``: ``to_json(from_json(x)) == x``).

        ``ReportError`` when it is not an object with a string ``address``; other wrong-typed values are
        read as unknown (numbers only when numbers, tags and meta only when mappings)."""
        if not isinstance(d, dict) or not isinstance(d.get("address"), str):
            raise ReportError("a resource is not an object with a string `address`")
        raw_tags, raw_unresolved = d.get("tags"), d.get("unresolved_tags")
        # a null value is kept as null (tagguard never writes one; merge has always kept it)
        tags: dict[str, Any] = ({str(k): v if isinstance(v, str) or v is None else str(v) for k, v in raw_tags.items()}
                                if isinstance(raw_tags, dict) else {})
        unresolved = [str(k) for k in raw_unresolved] if isinstance(raw_unresolved, list) else []
        return cls(address=d["address"], type=str(d.get("type") or ""), source=str(d.get("source") or "json"),
                   file=_opt_str(d.get("file")), line=_integer(d.get("line")), ai=d.get("ai") is True,
                   tags=tags, unresolved_tags=unresolved, tags_open=d.get("tags_open") is True,
                   compute=Compute.from_json(d.get("compute")), cost=Cost.from_json(d.get("cost")),
                   meta=dict(d["meta"]) if isinstance(d.get("meta"), dict) else {})


@dataclass(**_RECORD)
class Finding(Record):
    """What a rule found about a resource (or an input): where, how severe, and how to fix it."""

    rule: str  # kebab-case rule id, e.g. "missing-tag"
    category: str  # snake_case category, e.g. "missing_tag"
    severity: str
    message: str
    address: str | None = None
    file: str | None = None
    line: int | None = None
    tag: str | None = None
    resource_type: str | None = None
    fix: str | None = None
    suppressed: bool = False
    suppression_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fix:
            self.fix = shared(self.fix)
        for k, v in self.extra.items():
            if isinstance(v, str):
                self.extra[k] = shared(v)

    def key(self) -> tuple:
        """Identity of a finding across runs (baseline, diff, history)."""
        return (self.file or "", self.address or "", self.rule, self.tag or "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "address": self.address,
            "file": self.file,
            "line": self.line,
            "tag": self.tag,
            "message": self.message,
        }
        if self.resource_type:
            out["resource_type"] = self.resource_type
        if self.fix:
            out["fix"] = self.fix
        if self.suppressed:
            out["suppressed"] = True
            out["suppression_reason"] = self.suppression_reason
        for k, v in self.extra.items():
            if k not in out:
                out[k] = _jsonable(v)
        return out

    _KEYS = ("rule", "category", "severity", "message", "address", "file", "line", "tag", "resource_type", "fix",
             "suppressed", "suppression_reason")

    @classmethod
    def from_json(cls, d: Any) -> Finding:
        """A finding of a JSON report back (the inverse of ``to_json``); keys it does not know go to ``extra``.

        ``ReportError`` when it is not an object with a string ``rule``."""
        if not isinstance(d, dict) or not isinstance(d.get("rule"), str):
            raise ReportError("a finding is not an object with a string `rule`")
        suppressed = d.get("suppressed") is True
        return cls(rule=d["rule"], category=str(d.get("category") or ""), severity=str(d.get("severity") or ERROR),
                   message=str(d.get("message") or ""), address=_opt_str(d.get("address")),
                   file=_opt_str(d.get("file")), line=_integer(d.get("line")), tag=_opt_str(d.get("tag")),
                   resource_type=_opt_str(d.get("resource_type")), fix=_opt_str(d.get("fix")),
                   suppressed=suppressed,
                   suppression_reason=_opt_str(d.get("suppression_reason")) if suppressed else None,
                   extra={k: v for k, v in d.items() if k not in cls._KEYS})


# --- exit codes (``ScanResult.exit_code``; the CLI's help lists them) ------------------------
EXIT_OK = 0
EXIT_FINDINGS = 1  # blocking findings at --fail-on
EXIT_UNSEEN = 2  # usage/config error, or an input that must not pass silently (a chart without helm)
EXIT_INCOMPLETE = 3  # a live scan could not read everything (an account or region failed; see ``errors``)


@dataclass(repr=False, eq=False)
class UnseenInput(Record):
    """An input tagguard could not look at and that must not pass silently (e.g. a chart without helm).

    Whatever the findings say, a result holding one ends with ``exit_code`` (2 unless said otherwise),
    also when the finding that describes it is hidden (a baseline, a pre-existing finding in a diff)."""

    file: str | None
    reason: str
    exit_code: int = EXIT_UNSEEN

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "reason": self.reason, "exit_code": self.exit_code}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> UnseenInput:
        return cls(file=d.get("file"), reason=str(d.get("reason") or ""),
                   exit_code=int(d.get("exit_code") or EXIT_UNSEEN))


# Optional top-level keys of the JSON report, in the order they are written.
REPORT_PARTS = ("unseen_inputs", "baseline", "cost_diff", "budgets", "diff", "drift", "history", "showback")


@dataclass(repr=False, eq=False)
class ScanResult(Record):
    """Everything one run found: the resources, the findings, and the optional parts of the report."""

    resources: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    root: str | None = None  # what was scanned (paths are relative to it)
    errors: list[dict[str, Any]] = field(default_factory=list)  # inputs that failed to read: exit code 3
    fail_on: str = ERROR
    # False: findings are reported but do not set the exit code (showback, baseline create);
    # unseen inputs and incomplete reads still do.
    gate: bool = True
    unseen: list[UnseenInput] = field(default_factory=list)  # inputs that must not pass silently: exit 2
    baseline: BaselineInfo | None = None  # scan --baseline
    cost_diff: CostDiff | None = None  # plan JSON with changes, tagguard diff
    budgets: list[BudgetReport] | None = None  # None: no budgets configured
    diff: DiffInfo | None = None  # tagguard diff
    drift: dict[str, Any] | None = None  # tagguard drift: the live scan's statistics (sources.aws.scan_live)
    history: dict[str, Any] | None = None  # --history: history.record_run's new/fixed/trend document
    showback: dict[str, Any] | None = None  # showback.build_showback's document (HTML, history)
    config: dict[str, Any] | None = None  # config.Config.describe(): {path, taxonomy, sha256, source}
    gpu_actuals: GpuActuals | None = None  # cluster report / cluster opencost: the report's headline and Markdown

    def base_dir(self) -> Path:
        """The directory the findings' file paths are relative to."""
        from pathlib import Path

        root = Path(self.root or ".")
        try:
            if root.is_file():
                return root.parent
        except OSError:
            pass
        return root

    def active_findings(self) -> list[Finding]:
        return [f for f in self.findings if not f.suppressed]

    def blocking(self) -> list[Finding]:
        if not self.gate:
            return []
        threshold = SEVERITY_RANK.get(self.fail_on, 3)
        return [f for f in self.active_findings() if SEVERITY_RANK.get(f.severity, 0) >= threshold]

    def exit_code(self) -> int:
        """The whole exit rule, for every command: the JSON's ``summary.exit_code`` is this.

        An input that must not pass silently (2) or a live scan that could not read everything (3)
        wins over the findings, the higher code first; else 1 with blocking findings, else 0."""
        codes = [u.exit_code for u in self.unseen]
        if self.errors:
            codes.append(EXIT_INCOMPLETE)
        if codes:
            return max(codes)
        return EXIT_FINDINGS if self.blocking() else EXIT_OK

    def parts_json(self) -> dict[str, Any]:
        """The optional top-level keys of the JSON report (``REPORT_PARTS``) that this result has."""
        out: dict[str, Any] = {}
        if self.unseen:
            out["unseen_inputs"] = [u.to_json() for u in self.unseen]
        if self.baseline is not None:
            out["baseline"] = self.baseline.to_json()
        if self.cost_diff is not None:
            out["cost_diff"] = self.cost_diff.to_json()
        if self.budgets is not None:
            out["budgets"] = [b.to_json() for b in self.budgets]
        if self.diff is not None:
            out["diff"] = self.diff.to_json()
        for key in ("drift", "history", "showback"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_json(cls, report: Any, *, fail_on: str = ERROR, gate: bool = True) -> ScanResult:
        """A ``--format json`` report (scan, drift, diff, merge) back into a result: the one reader of the
        contract.  ``formats.json_format.report_dict(ScanResult.from_json(x)) == x`` for the reports tagguard
        writes (``summary`` is recomputed; the report does not record ``--fail-on``, so pass it).

        ``ReportError`` (a ``ValueError``) names what is wrong when ``report`` is not a tagguard report."""
        if not isinstance(report, dict) or not isinstance(report.get("resources"), list):
            raise ReportError("not a tagguard JSON report (no `resources` list)")
        for key in ("findings", "errors"):
            if not isinstance(report.get(key) or [], list):
                raise ReportError(f"`{key}` must be a list")
        resources, findings = [], []
        for i, r in enumerate(report["resources"]):
            try:
                resources.append(Resource.from_json(r))
            except ReportError as exc:
                raise ReportError(f"resource #{i + 1}: {exc}") from None
        for i, f in enumerate(report.get("findings") or []):
            try:
                findings.append(Finding.from_json(f))
            except ReportError as exc:
                raise ReportError(f"finding #{i + 1}: {exc}") from None
        result = cls(resources=resources, findings=findings, root=_opt_str(report.get("root")),
                     errors=list(report.get("errors") or []), fail_on=fail_on, gate=gate,
                     config=report["config"] if isinstance(report.get("config"), dict) else None)
        result.set_parts(report)
        return result

    def set_parts(self, report: dict[str, Any]) -> None:
        """Read the optional parts back from a JSON report (the inverse of ``parts_json``)."""
        from tagguard.report_parts import BaselineInfo, BudgetReport, CostDiff, DiffInfo

        if isinstance(report.get("unseen_inputs"), list):
            self.unseen = [UnseenInput.from_json(u) for u in report["unseen_inputs"] if isinstance(u, dict)]
        if isinstance(report.get("baseline"), dict):
            self.baseline = BaselineInfo.from_json(report["baseline"])
        if isinstance(report.get("cost_diff"), dict):
            self.cost_diff = CostDiff.from_json(report["cost_diff"])
        if isinstance(report.get("budgets"), list):
            self.budgets = [BudgetReport.from_json(b) for b in report["budgets"] if isinstance(b, dict)]
        if isinstance(report.get("diff"), dict):
            self.diff = DiffInfo.from_json(report["diff"])
        for key in ("drift", "history", "showback"):
            if isinstance(report.get(key), dict):
                setattr(self, key, report[key])

    def summary(self) -> dict[str, Any]:
        active = self.active_findings()
        by_sev = {s: 0 for s in SEVERITIES}
        by_cat: dict[str, int] = {}
        for f in active:
            by_sev[f.severity] = by_sev.get(f.severity, 0) + 1
            by_cat[f.category] = by_cat.get(f.category, 0) + 1
        ai = [r for r in self.resources if r.ai]
        billed = 0
        monthly: list[float] = []
        gpu_hours: list[float] = []
        attributed: list[float] = []  # shares of a node pool priced in the same scan: billed capacity counts once
        floors: list[float] = []  # inside monthly: GPU requests no node information places (Cost.lower_bound)
        for r in ai:  # one pass (summed by sum() below: the same additions in the same order as ever)
            if r.compute is not None:
                billed += 1
            cost = r.cost
            if not cost:
                continue
            figure = cost.monthly_usd
            if not cost.counted:
                if figure is not None:
                    attributed.append(figure)
                continue
            if figure is not None:
                monthly.append(figure)
                if cost.lower_bound:
                    floors.append(figure)
            if cost.gpu_hours_per_month is not None:
                gpu_hours.append(cost.gpu_hours_per_month)
        failing = {f.address for f in active if f.address and f.severity == ERROR}
        out: dict[str, Any] = {
            "resources": len(self.resources),
            "ai_resources": len(ai),
            "compliant_ai_resources": len([r for r in ai if r.address not in failing]),
            "findings": len(active),
            "suppressed": len(self.findings) - len(active),
            "by_severity": by_sev,
            "by_category": dict(sorted(by_cat.items())),
            "blocking": len(self.blocking()),
            "monthly_usd": _money(sum(monthly)) if monthly else 0.0,
            "unpriced_ai_resources": billed - len(monthly) - len(attributed),
            "attributed_ai_resources": len(attributed),
            "attributed_monthly_usd": _money(sum(attributed)) if attributed else 0.0,
            "gpu_hours_per_month": _num(sum(gpu_hours)) if gpu_hours else 0,
            "exit_code": self.exit_code(),
        }
        if floors:  # only when there are any: "monthly_usd is at least", not "is"
            out["lower_bound_ai_resources"] = len(floors)
            out["lower_bound_monthly_usd"] = _money(sum(floors))
        return out


class ReportError(ValueError):
    """A JSON report that ``from_json`` cannot read (the message says what; the caller adds the file)."""


def _number(value: Any) -> float | None:
    """A number from report data as it is (an int stays an int), or None: a string, a bool, NaN or
    infinity is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def _integer(value: Any) -> int | None:
    n = _number(value)
    if n is None:
        return None
    return int(n) if float(n).is_integer() else None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _money(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _num(value: Any) -> Any:
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        return round(value, 4)
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):  # str keys and str/int/bool/None values (nearly all) taken as they are
        out = {}
        for k, v in value.items():
            c = v.__class__
            out[k if k.__class__ is str else str(k)] = (
                v if c is str or c is int or c is bool or v is None else _jsonable(v))
        return out
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
