"""``.tagguard.yaml``: lookup, validation against ``schemas/config.schema.json``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from tagguard.resources import data_file

CONFIG_NAMES = (".tagguard.yaml", ".tagguard.yml")
DEFAULT_TAXONOMY = "schemas/taxonomy.default.json"


class ConfigError(Exception):
    """A configuration problem: reported as one line, exit code 2."""


@dataclass
class Config:
    raw: Dict[str, Any] = field(default_factory=dict)
    path: Optional[Path] = None  # None: built-in defaults

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    @property
    def scope(self) -> str:
        return self.raw.get("scope", "ai")

    @property
    def fail_on(self) -> str:
        return self.raw.get("fail_on", "error")

    @property
    def exclude(self) -> List[str]:
        return list(self.raw.get("exclude", []))

    @property
    def rule_overrides(self) -> Dict[str, str]:
        return dict(self.raw.get("rules", {}))

    def section(self, name: str) -> Any:
        return self.raw.get(name)

    def taxonomy_path(self) -> Path:
        rel = self.raw.get("taxonomy")
        if rel is None:
            return data_file(DEFAULT_TAXONOMY)
        return (self.base_dir / rel).resolve()

    _taxonomy: Any = field(default=None, repr=False)

    def taxonomy(self):
        if self._taxonomy is None:
            from tagguard.taxonomy import load_taxonomy

            self._taxonomy = load_taxonomy(self.taxonomy_path())
        return self._taxonomy


def find_config(start: Path) -> Optional[Path]:
    """``.tagguard.yaml`` in ``start`` or a parent, stopping at the repository root."""
    current = start.resolve()
    while True:
        for name in CONFIG_NAMES:
            candidate = current / name
            if candidate.is_file():
                return candidate
        if (current / ".git").exists() or current.parent == current:
            return None
        current = current.parent


def load_config(path: Optional[Path] = None, start: Optional[Path] = None) -> Config:
    if path is None:
        path = find_config(start or Path.cwd())
        if path is None:
            return Config()
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    raw = _read_yaml(path)
    validate_config(raw, path)
    config = Config(raw=raw, path=path)
    tax = config.taxonomy_path()
    if not tax.is_file():
        raise ConfigError(f"{path}: taxonomy file {raw.get('taxonomy')!r} not found (looked at {tax})")
    return config


def _read_yaml(path: Path) -> Dict[str, Any]:
    from tagguard import yamlio

    try:
        data, _text = yamlio.load_file(path, "config")
    except yamlio.YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: config must be a mapping, got {type(data).__name__}")
    return data


def validate_config(raw: Dict[str, Any], path: Path) -> None:
    import jsonschema

    schema = json.loads(data_file("schemas/config.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        line = _line_of(path, err.absolute_path)
        loc = f"{path}:{line}" if line else str(path)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{loc}: {where}: {err.message}{more}")


def _line_of(path: Path, keypath) -> Optional[int]:
    """Best-effort line of a key path in a YAML file, for error messages."""
    keys = [k for k in keypath if isinstance(k, str)]
    if not keys:
        return None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    idx = 0
    found = None
    for key in keys:
        for n in range(idx, len(lines)):
            stripped = lines[n].lstrip(" -")
            if stripped.startswith(f"{key}:") or stripped.startswith(f'"{key}":'):
                found, idx = n + 1, n + 1
                break
    return found
