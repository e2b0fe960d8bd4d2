"""The seam every input kind implements.

A source looks at the scan's file inventory, claims the files it reads (so no
other source reads them again) and returns resources plus the findings only it
can know about (parse errors, charts it could not render, tags that do not
propagate).  One source per module; adding an input kind touches only
``sources/``.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable, Mapping

from tagguard.model import ERROR, EXIT_UNSEEN, PARSE_ERROR, Finding, Record, Resource, UnseenInput

if TYPE_CHECKING:  # pragma: no cover
    from tagguard.config import Config
    from tagguard.report_parts import BudgetReport, CostDiff

# Directories never worth walking into.
SKIP_DIRS = {".git", ".terraform", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".hg", ".svn"}


@dataclass(repr=False, eq=False)  # repr and == from Record
class SourceOutput(Record):
    resources: list[Resource] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # Inputs that must not pass silently (a chart that could not be rendered for lack of helm):
    # the scan ends with their exit code (2) whatever the findings say.
    unseen: list[UnseenInput] = field(default_factory=list)
    # Reads that failed (a live account or region): the scan is incomplete, exit code 3.
    errors: list[dict[str, Any]] = field(default_factory=list)
    # The live scan's statistics (accounts, regions, calls), for the report's ``drift`` part.
    live_stats: dict[str, Any] | None = None

    def extend(self, other: SourceOutput) -> None:
        self.resources.extend(other.resources)
        self.findings.extend(other.findings)
        self.unseen.extend(other.unseen)
        self.errors.extend(other.errors)
        if other.live_stats is not None:
            self.live_stats = other.live_stats

    def must_not_pass(self, file: str | None, reason: str, exit_code: int = EXIT_UNSEEN) -> None:
        """Record an input the scan could not look at: the result's exit code is at least ``exit_code``."""
        self.unseen.append(UnseenInput(file=file, reason=reason, exit_code=exit_code))

    @property
    def exit_override(self) -> int | None:
        return max((u.exit_code for u in self.unseen), default=None)

    @exit_override.setter
    def exit_override(self, value: int | None) -> None:
        raise TypeError("SourceOutput.exit_override is gone: call out.must_not_pass(file, reason) instead")


@dataclass(repr=False, eq=False)  # repr and == from Record
class Inventory(Record):
    """Every file below the scan root (relative POSIX paths), walked once."""

    root: Path
    files: list[str] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    problems: list[Finding] = field(default_factory=list)  # symlink loops, unreadable dirs
    stdin: bytes | None = None  # ``tagguard scan -``

    def unclaimed(self, suffixes: Iterable[str]) -> list[str]:
        suffixes = tuple(suffixes)
        return [f for f in self.files if f not in self.claimed and f.endswith(suffixes)]

    def claim(self, paths: Iterable[str]) -> None:
        self.claimed.update(paths)

    def path(self, rel: str) -> Path:
        return self.root / rel if rel != "." else self.root



@dataclass(repr=False, eq=False)  # repr and == from Record
class ScanOptions(Record):
    """What the command line tells a scan, beyond the config (typed: sources and rules read it, never write it)."""

    usage: str | None = None  # --usage FILE (None: the config's `usage`)
    skip_helm: bool = False  # --skip-helm: a chart that cannot be rendered is a warning, not exit code 2
    fetch_modules: bool = False  # --fetch-modules: download remote Terraform modules into the user cache
    helm_bin: str | None = None  # --helm-bin
    helm_values: list[str] = field(default_factory=list)  # --helm-values (repeatable)
    release_name: str = "release"  # --release-name
    namespace: str | None = None  # --namespace
    helm_timeout: float | None = None  # --helm-timeout: seconds for all charts together (None: 60)
    approved_by: str | None = None  # --approved-by (else $TAGGUARD_APPROVED_BY)
    diff_base: dict[Any, dict[str, Any]] | None = None  # tagguard diff: the base revision's costdiff.base_index
    aws: Any = None  # tagguard drift through the pipeline: a sources.aws.DriftOptions

    @classmethod
    def coerce(cls, value: ScanOptions | Mapping[str, Any] | None) -> ScanOptions:
        """``ScanOptions`` as given, or built from a mapping of its field names (unknown names are an error)."""
        if isinstance(value, ScanOptions):
            return value
        if not value:
            return cls()
        names = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        unknown = sorted(k for k in value if k not in names)
        if unknown:
            raise TypeError(f"unknown scan option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        kw = dict(value)
        kw["helm_values"] = [str(v) for v in kw.get("helm_values") or ()]
        kw["skip_helm"] = bool(kw.get("skip_helm"))
        kw["release_name"] = kw.get("release_name") or "release"
        return cls(**kw)


@dataclass(repr=False, eq=False)  # repr and == from Record
class ScanOutputs(Record):
    """What rules hand back to the pipeline besides findings (typed, copied onto the ``ScanResult``)."""

    cost_diff: CostDiff | None = None  # rules/cost.py: plan changes or tagguard diff
    budgets: list[BudgetReport] | None = None  # rules/cost.py: configured budgets
    removed: list[dict[str, Any]] = field(default_factory=list)  # tagguard diff: base resources gone from the head


class ScanContext:
    """What every source and rule receives: the configuration, typed options in, typed outputs out."""

    def __init__(self, config: Config, root: Path, var_files: list[Path] | None = None,
                 variables: dict[str, str] | None = None,
                 options: ScanOptions | Mapping[str, Any] | None = None):
        self.config = config
        self.root = root
        self.var_files = var_files or []
        self.variables = variables or {}
        self.options = ScanOptions.coerce(options)
        self.outputs = ScanOutputs()
        self._boundary: Path | None = None

    @property
    def boundary(self) -> Path:
        """The directory reads named by scanned files must stay in: the git top-level of the
        scan root, or the root itself outside git (``safeio.scan_boundary``)."""
        if self._boundary is None:
            from tagguard.safeio import scan_boundary

            self._boundary = scan_boundary(self.root)
        return self._boundary

    @boundary.setter
    def boundary(self, value: Path) -> None:
        self._boundary = value

    def rel(self, path: Path) -> str:
        try:
            return Path(os.path.relpath(path, self.root)).as_posix()
        except ValueError:  # different drive on Windows
            return path.as_posix()


class Source(ABC):
    """One input kind."""

    name: str = "source"

    @abstractmethod
    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        """Read what this source understands from ``inventory`` and claim it."""


def parse_error(file: str | None, line: int | None, message: str, *, rule: str = "parse-error",
                category: str = PARSE_ERROR, severity: str = ERROR, **extra) -> Finding:
    return Finding(rule=rule, category=category, severity=severity, message=message,
                   file=file, line=line, extra=extra)


def posix_dirname(rel: str) -> str:
    idx = rel.rfind("/")
    return rel[:idx] if idx >= 0 else "."


def walk(root: Path, exclude: Iterable[str] = (), boundary: Path | None = None) -> Inventory:
    """List files below ``root`` once.  Symlinks are followed only while they stay inside
    ``boundary`` (default: the git top-level of ``root``, see ``safeio.scan_boundary``); one
    that leaves it is a warning and is never read.  Directory symlinks never loop."""
    import fnmatch

    from tagguard.safeio import inside, scan_boundary

    inv = Inventory(root=root)
    patterns = list(exclude)
    if boundary is None:
        boundary = scan_boundary(root)

    def excluded(rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel + "/", p) for p in patterns)

    def leaves(rel: str) -> None:
        inv.problems.append(parse_error(rel, None, f"{rel}: symlink to a path outside the scanned repository; not read",
                                        severity="warning"))

    if root.is_file():
        inv.root = root.parent
        if inside(root, boundary):
            inv.files.append(root.name)
        else:
            leaves(root.name)
        return inv
    seen: set[str] = set()
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]  # (directory, real paths of its ancestors)
    while stack:
        current, ancestors = stack.pop()
        try:
            real = os.path.realpath(current)
        except OSError:
            continue
        if real in ancestors:
            rel = Path(os.path.relpath(current, root)).as_posix()
            inv.problems.append(parse_error(rel, None,
                                            f"{rel}: symlink loop (links back to a parent directory); not followed",
                                            severity="warning"))
            continue
        if real in seen:  # a second link to a directory already scanned: scanning it again would double-count
            continue
        seen.add(real)
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            rel = Path(os.path.relpath(current, root)).as_posix()
            inv.problems.append(parse_error(rel, None, f"{rel}: cannot read directory ({exc.strerror or exc})"))
            continue
        subdirs = []
        for entry in entries:
            rel = Path(os.path.relpath(entry.path, root)).as_posix()
            try:
                link = entry.is_symlink()
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                continue
            if is_dir and (entry.name in SKIP_DIRS or excluded(rel)):
                continue
            if link and not inside(entry.path, boundary):
                if not excluded(rel):
                    leaves(rel)
                continue
            if is_dir:
                subdirs.append(Path(entry.path))
            else:
                try:
                    if not entry.is_file():
                        continue
                except OSError:
                    continue
                if not excluded(rel):
                    inv.files.append(rel)
        chain = ancestors + (real,)
        stack.extend((d, chain) for d in reversed(subdirs))
    return inv
