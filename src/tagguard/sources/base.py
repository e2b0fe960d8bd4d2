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
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Set

from tagguard.model import ERROR, PARSE_ERROR, Finding, Resource

if TYPE_CHECKING:  # pragma: no cover
    from tagguard.config import Config

# Directories never worth walking into.
SKIP_DIRS = {".git", ".terraform", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".hg", ".svn"}


@dataclass
class SourceOutput:
    resources: List[Resource] = field(default_factory=list)
    findings: List[Finding] = field(default_factory=list)
    # An exit code the scan must end with whatever the findings say (2: an input that must not
    # pass silently, such as a chart that could not be rendered for lack of helm).
    exit_override: Optional[int] = None

    def extend(self, other: "SourceOutput") -> None:
        self.resources.extend(other.resources)
        self.findings.extend(other.findings)
        if other.exit_override is not None:
            self.exit_override = max(self.exit_override or 0, other.exit_override)


@dataclass
class Inventory:
    """Every file below the scan root (relative POSIX paths), walked once."""

    root: Path
    files: List[str] = field(default_factory=list)
    claimed: Set[str] = field(default_factory=set)
    problems: List[Finding] = field(default_factory=list)  # symlink loops, unreadable dirs
    stdin: Optional[bytes] = None  # ``tagguard scan -``

    def unclaimed(self, suffixes: Iterable[str]) -> List[str]:
        suffixes = tuple(suffixes)
        return [f for f in self.files if f not in self.claimed and f.endswith(suffixes)]

    def claim(self, paths: Iterable[str]) -> None:
        self.claimed.update(paths)

    def path(self, rel: str) -> Path:
        return self.root / rel if rel != "." else self.root

    def files_by_dir(self) -> Dict[str, List[str]]:
        out: Dict[str, List[str]] = {}
        for f in self.files:
            out.setdefault(posix_dirname(f), []).append(f)
        return out


class ScanContext:
    """What every source receives: the configuration and a few helpers."""

    def __init__(self, config: "Config", root: Path, var_files: Optional[List[Path]] = None,
                 variables: Optional[Dict[str, str]] = None, options: Optional[dict] = None):
        self.config = config
        self.root = root
        self.var_files = var_files or []
        self.variables = variables or {}
        self.options = options or {}

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


def parse_error(file: Optional[str], line: Optional[int], message: str, *, rule: str = "parse-error",
                category: str = PARSE_ERROR, severity: str = ERROR, **extra) -> Finding:
    return Finding(rule=rule, category=category, severity=severity, message=message,
                   file=file, line=line, extra=extra)


def posix_dirname(rel: str) -> str:
    idx = rel.rfind("/")
    return rel[:idx] if idx >= 0 else "."


def walk(root: Path, exclude: Iterable[str] = ()) -> Inventory:
    """List files below ``root`` once, following directory symlinks without looping."""
    import fnmatch

    inv = Inventory(root=root)
    patterns = list(exclude)

    def excluded(rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel + "/", p) for p in patterns)

    if root.is_file():
        inv.root = root.parent
        inv.files.append(root.name)
        return inv
    seen: Set[str] = set()
    stack = [(root, ())]  # (directory, real paths of its ancestors)
    while stack:
        current, ancestors = stack.pop()
        try:
            real = os.path.realpath(current)
        except OSError:
            continue
        if real in ancestors:
            rel = Path(os.path.relpath(current, root)).as_posix()
            inv.problems.append(parse_error(rel, None, f"{rel}: symlink loop (links back to a parent directory); not followed",
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
                is_dir = entry.is_dir()  # follows symlinks
            except OSError:
                continue
            if is_dir:
                if entry.name in SKIP_DIRS or excluded(rel):
                    continue
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
