"""Usage file (Infracost style): how long and how many, per resource address.

    version: 1
    resource_type_default_usage:        # optional, by resource type
      aws_sagemaker_training_job:
        runs_per_month: 4
    resource_usage:
      module.train.aws_instance.gpu[*]: # [*] matches any index or key
        hours_per_month: 120
        units: 4
      kubernetes_job.finetune:
        runtime_hours: 6
        runs_per_month: 8

Keys per entry: ``hours_per_month``, ``units``, ``spot_units``,
``runtime_hours`` (hours per run) and ``runs_per_month``.  An exact address
beats a wildcard pattern, which beats the resource-type default; within one
level the most specific pattern (fewest wildcards) wins.  A bad file raises
``ValueError`` with one line naming the file and line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagguard.model import Resource

KEYS = {
    "hours_per_month": "number",
    "units": "int",
    "spot_units": "int",
    "runtime_hours": "number",
    "runs_per_month": "number",
}
MAX_HOURS_PER_MONTH = 744.0  # 31 days x 24 h


@dataclass
class UsageEntry:
    pattern: str
    values: dict[str, float]
    line: int | None = None
    regex: re.Pattern[str] | None = None
    wildcards: int = 0


@dataclass
class Usage:
    path: Path | None = None
    by_address: dict[str, UsageEntry] = field(default_factory=dict)
    patterns: list[UsageEntry] = field(default_factory=list)
    by_type: dict[str, UsageEntry] = field(default_factory=dict)

    def match(self, resource: Resource) -> UsageEntry | None:
        hit = self.by_address.get(resource.address)
        if hit is not None:
            return hit
        for entry in self.patterns:  # sorted most specific first
            if entry.regex is not None and entry.regex.match(resource.address):
                return entry
        return self.by_type.get(resource.type)

    def apply(self, resource: Resource) -> bool:
        """Set ``compute`` usage fields from the matching entry; ``True`` when one matched."""
        if resource.compute is None:
            return False
        entry = self.match(resource)
        if entry is None:
            return False
        c = resource.compute
        v = entry.values
        if "units" in v:
            c.units = int(v["units"])
        if "spot_units" in v:
            c.spot_units = int(v["spot_units"])
        if "runtime_hours" in v:
            c.runtime_hours = float(v["runtime_hours"])
        if "hours_per_month" in v:
            c.hours_per_month = float(v["hours_per_month"])
        if "runs_per_month" in v:
            resource.meta["runs_per_month"] = float(v["runs_per_month"])
            if c.runtime_hours is None and "hours_per_month" not in v:
                c.notes.append(f"usage: runs_per_month set but no runtime_hours for {resource.address}")
        where = f"{self.path}:{entry.line}" if self.path and entry.line else str(self.path or "usage")
        resource.meta["usage"] = f"{where} ({entry.pattern})"
        return True


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = pattern.split("[*]")
    return re.compile("^" + r"\[[^\]]+\]".join(re.escape(p) for p in parts) + "$")


def _lines(text: str) -> dict[tuple[Any, ...], int]:
    """1-based line of every mapping key and value, by path, for error messages."""
    import yaml

    from tagguard.yamlio import SafeLoader

    out: dict[tuple[Any, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError:
        return out

    def walk(node: Any, path: tuple[Any, ...], depth: int) -> None:
        if depth > 4 or not isinstance(node, yaml.MappingNode):
            return
        for k, v in node.value:
            key = getattr(k, "value", None)
            out[path + (key,)] = k.start_mark.line + 1
            walk(v, path + (key,), depth + 1)

    if root is not None:
        out[()] = root.start_mark.line + 1
        walk(root, (), 0)
    return out


def _read(path: Path, boundary: Path | None) -> tuple[Any, str]:
    """Parse a usage file: a regular file (inside ``boundary`` when given), at most the
    per-file cap; every failure is one ``ValueError`` line naming the file (and line)."""
    import yaml

    from tagguard import safeio, yamlio

    try:
        text = safeio.read_text(path, boundary)
    except safeio.ReadRefused as exc:
        raise ValueError(f"usage file not read: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"{path}: cannot read usage file ({safeio.truncate(reason)})") from None
    try:
        return yamlio.load(text), text
    except yamlio.YamlDepthError as exc:
        raise ValueError(f"{path}:{exc.line}: {exc}") from None
    except yamlio.YamlBombError as exc:
        raise ValueError(f"{path}:1: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}:1: usage file nested too deeply; not read") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}{line}: invalid YAML in usage file: {safeio.truncate(problem)}") from None


def _t(value: Any) -> str:
    """``repr`` of an untrusted value, cut short for messages."""
    from tagguard.safeio import truncate

    return repr(truncate(value, 80)) if isinstance(value, str) else truncate(repr(value), 80)


def load_usage(path: str | Path, boundary: Path | None = None) -> Usage:
    """Load a usage file.  ``boundary``: the directory the file must stay in when the path
    came from the scanned repository (``None`` for ``--usage`` and trusted configs)."""
    path = Path(path)
    data, text = _read(path, boundary)

    lines = _lines(text)

    def fail(keypath: tuple[Any, ...], message: str) -> ValueError:
        line = lines.get(keypath) or lines.get(keypath[:-1]) or lines.get(()) or 1
        return ValueError(f"{path}:{line}: {message}")

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise fail((), f"usage file must be a mapping with version and resource_usage, got {type(data).__name__}")
    unknown = sorted(str(k) for k in set(data) - {"version", "resource_usage", "resource_type_default_usage"})
    if unknown:
        raise fail((unknown[0],), f"unknown top-level key {_t(unknown[0])} (expected version, resource_usage, "
                                  "resource_type_default_usage)")
    if data.get("version") != 1:
        raise fail(("version",), f"usage file version must be 1, got {_t(data.get('version'))}")

    usage = Usage(path=path)
    for section in ("resource_usage", "resource_type_default_usage"):
        block = data.get(section) or {}
        if not isinstance(block, dict):
            raise fail((section,), f"{section} must be a mapping of address to usage values")
        for key, values in block.items():
            kp = (section, key)
            if not isinstance(key, str) or not key.strip():
                raise fail(kp, f"{section}: keys must be resource addresses, got {_t(key)}")
            where = _t(key)[1:-1] if isinstance(key, str) else _t(key)
            if not isinstance(values, dict):
                raise fail(kp, f"{where}: expected a mapping such as {{hours_per_month: 120, units: 4}},"
                               f" got {_t(values)}")
            clean: dict[str, float] = {}
            for name, value in values.items():
                vp = kp + (name,)
                if name not in KEYS:
                    raise fail(vp, f"{where}: unknown usage key {_t(name)} (allowed: {', '.join(KEYS)})")
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise fail(vp, f"{where}.{name}: expected a number, got {_t(value)}")
                if KEYS[name] == "int" and (not float(value).is_integer()):
                    raise fail(vp, f"{where}.{name}: expected a whole number, got {value!r}")
                if value < 0:
                    raise fail(vp, f"{where}.{name}: must not be negative, got {value!r}")
                if name == "hours_per_month" and value > MAX_HOURS_PER_MONTH:
                    raise fail(vp, f"{where}.{name}: {value!r} is more than the {MAX_HOURS_PER_MONTH:g}"
                                   f" hours in a month")
                clean[name] = value
            entry = UsageEntry(pattern=key, values=clean, line=lines.get(kp))
            if section == "resource_type_default_usage":
                usage.by_type[key] = entry
            elif "[*]" in key:
                entry.regex = _pattern_regex(key)
                entry.wildcards = key.count("[*]")
                usage.patterns.append(entry)
            else:
                usage.by_address[key] = entry
    usage.patterns.sort(key=lambda e: (e.wildcards, -len(e.pattern), e.line or 0))
    return usage
