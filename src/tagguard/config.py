"""``.tagguard.yaml``: lookup, trust, merging and validation against ``schemas/config.schema.json``.

Trust (docs/configuration-trust.md): the scanned repository is untrusted, so its
``.tagguard.yaml`` may set *policy* (taxonomy, rules, budgets, scope, fail_on...) but never
a program to run, a file outside the repository or a network location.  Those come from
flags, the environment, the user-level config (``$TAGGUARD_USER_CONFIG``, else
``$XDG_CONFIG_HOME/tagguard/config.yaml``, else ``~/.config/tagguard/config.yaml``) or a
file named with ``--config``.  The user-level config is read first; the repository's (or
``--config``) policy is merged over it.

Lookup: ``.tagguard.yaml`` (or ``.yml``) in the *scanned* path or a parent, up to the
repository root (the directory holding ``.git``), never from the current directory.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Sequence

from tagguard.model import Record
from tagguard.resources import data_file
from tagguard.safeio import sha256_hex

CONFIG_NAMES = (".tagguard.yaml", ".tagguard.yml")
DEFAULT_TAXONOMY = "schemas/taxonomy.default.json"
USER_CONFIG_ENV = "TAGGUARD_USER_CONFIG"
MAX_CONFIG_BYTES = 1024 * 1024

# Sections that decide what leaves the machine: never in a repository config.
TRUSTED_SECTIONS: dict[str, str] = {
    "modules": "module and chart downloads and their hosts are the runner's choice: --fetch-modules, or modules "
               "in the user-level config",
    "alerts": "alert routes and sinks decide where data is sent: the user-level config or a --config file",
}
# Where a key a repository config may not set goes instead.
PROGRAM_KEYS: dict[tuple[str, ...], str] = {
    ("helm", "bin"): "--helm-bin PATH, or helm.bin in the user-level config",
}
# Keys that size what tagguard itself uses (memory, threads): a pull request must not choose them.
RESOURCE_KEYS: dict[tuple[str, ...], str] = {
    ("bill", "memory_limit"): "--memory-limit, or bill.memory_limit in the user-level config or a --config file",
    ("bill", "threads"): "--threads, or bill.threads in the user-level config or a --config file",
}
# Keys naming files to read: inside the repository in a repository config.
PATH_KEYS: list[tuple[tuple[str, ...], str]] = [
    (("taxonomy",), "taxonomy in the user-level config or in a file named with --config"),
    (("usage",), "--usage FILE, or usage in the user-level config"),
    (("baseline",), "--baseline FILE, or baseline in the user-level config"),
    (("terraform", "var_files", "*"), "--var-file FILE, or terraform.var_files in the user-level config"),
    (("helm", "values", "*"), "--helm-values FILE, or helm.values in the user-level config"),
    (("helm", "charts", "*", "values", "*"), "--helm-values FILE, or helm.charts in the user-level config"),
    (("llm", "usage_files", "*"), "FILES arguments of `tagguard usage`, or llm.usage_files in the user-level config"),
]
# Compiled at first use through re's own (bounded) cache, like the other patterns here: a config without
# paths never needs them (compiling both at import costs ~2 M instructions a run).
_URL = r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//|\\\\)"  # scheme: (http:, file:, s3:...), //host, \\host
_GLOB = r"[*?\[]"


class ConfigError(Exception):
    """A configuration problem: reported as one line, exit code 2."""


@dataclass(repr=False, eq=False)  # repr and == from Record
class Config(Record):
    raw: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the config relative paths resolve against; None: built-in defaults
    trusted: bool = True  # False: the scanned repository's own file (policy only)
    origin: str = "default"  # repository | --config | user | default | base revision REF
    user_path: Path | None = None  # the user-level config merged underneath, if any
    repo_root: Path | None = None  # the repository a repository config belongs to
    sha256: str | None = None  # of the config file's bytes
    display_path: str | None = None  # how reports name the config (e.g. "REF:.tagguard.yaml")

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
    def exclude(self) -> list[str]:
        return list(self.raw.get("exclude", []))

    @property
    def rule_overrides(self) -> dict[str, str]:
        """Severity per rule id or category; ``on`` (the rule's default severity) is no override."""
        return {k: v for k, v in (self.raw.get("rules") or {}).items() if v != "on"}

    def section(self, name: str) -> Any:
        return self.raw.get(name)

    def taxonomy_path(self) -> Path:
        rel = self.raw.get("taxonomy")
        if rel is None:
            return data_file(DEFAULT_TAXONOMY)
        return (self.base_dir / os.path.expanduser(str(rel))).resolve()

    _taxonomy: Any = field(default=None, repr=False)
    _taxonomy_label: str | None = field(default=None, repr=False)

    def taxonomy(self):
        if self._taxonomy is None:
            from tagguard.taxonomy import load_taxonomy

            path = self.taxonomy_path()
            root = None  # the built-in taxonomy: shipped schemas only
            if self.raw.get("taxonomy") is not None:
                # `$ref`s stay inside the repository; a taxonomy a trusted config names elsewhere
                # may reference files next to it.
                root = self.repo_root if self.repo_root and _within(str(path), os.path.realpath(self.repo_root)) \
                    else path.parent
            self._taxonomy = load_taxonomy(path, root=root)
        return self._taxonomy

    def use_taxonomy(self, taxonomy, label: str) -> None:
        """Judge with an already loaded taxonomy (the base revision's, for ``tagguard diff``)."""
        self._taxonomy = taxonomy
        self._taxonomy_label = label

    def describe(self) -> dict[str, Any]:
        """What reports say about the config and taxonomy used: ``{path, taxonomy, sha256, ...}``."""
        tax = self.taxonomy()
        tax_path = self._taxonomy_label or (str(tax.path) if getattr(tax, "path", None) else None)
        if self.raw.get("taxonomy") is None and self._taxonomy_label is None:
            tax_path = "(built-in) " + DEFAULT_TAXONOMY
        out: dict[str, Any] = {
            "path": self.display_path or (str(self.path) if self.path and self.origin != "default" else None),
            "taxonomy": tax_path,
            "sha256": self.sha256,
            "source": self.origin,
        }
        digest = getattr(tax, "sha256", None)
        if digest:
            out["taxonomy_sha256"] = digest
        if self.user_path is not None:
            out["user_config"] = str(self.user_path)
        return out


# --- lookup ------------------------------------------------------------------------------

def find_config(start: Path) -> Path | None:
    """``.tagguard.yaml`` in ``start`` or a parent, stopping at the repository root."""
    current = Path(os.path.abspath(start))
    if not current.is_dir():
        current = current.parent
    while True:
        for name in CONFIG_NAMES:
            candidate = current / name
            if os.path.lexists(candidate):  # also a FIFO or a dangling link: loading says what is wrong
                return candidate
        if (current / ".git").exists() or current.parent == current:
            return None
        current = current.parent


def repository_root(start: Path) -> Path | None:
    """The directory holding ``.git`` at or above ``start``; None outside git."""
    current = start.resolve()
    if not current.is_dir():
        current = current.parent
    while True:
        if (current / ".git").exists():
            return current
        if current.parent == current:
            return None
        current = current.parent


def user_config_path() -> Path | None:
    """The user-level config's path (it may not exist); None when disabled (TAGGUARD_USER_CONFIG="")."""
    env = os.environ.get(USER_CONFIG_ENV)
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tagguard" / "config.yaml"


def _starts(paths: Sequence[str]) -> list[Path]:
    out = []
    for p in paths:
        if p == "-" or not p:
            continue
        out.append(Path(p))
    return out or [Path.cwd()]


def lookup_config(paths: Sequence[str]) -> Path | None:
    """The repository config governing the scanned ``paths`` (None: none).

    Every path must be governed by the same config: paths in repositories with different
    configs (or one with a config and one without) are a ConfigError naming both.
    """
    found: dict[str | None, tuple[Path, Path | None]] = {}
    for start in _starts(paths):
        cfg = find_config(start if start.exists() else _existing_parent(start))
        key = os.path.abspath(cfg) if cfg else None  # not resolved: a symlinked config is judged as a link
        found.setdefault(key, (start, cfg))
    if len(found) > 1:
        (a, (pa, _)), (b, (pb, _)) = list(found.items())[:2]
        raise ConfigError(f"{pa} and {pb} are governed by different configs ({a or 'none'} and {b or 'none'}); "
                          "scan them in separate runs, or name one config for all with --config")
    return next(iter(found.values()))[1]


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


# --- loading -------------------------------------------------------------------------------

def load_config(path: Path | None = None, start: Path | None = None,
                paths: Sequence[str] | None = None, trusted: bool | None = None,
                use_user_config: bool = True) -> Config:
    """Load the config for a run.

    ``path``: a file named with ``--config`` (trusted unless ``trusted=False``). Otherwise the
    repository config is looked up from the scanned ``paths`` (or ``start``) and is untrusted.
    The user-level config, when present, is merged underneath either.
    """
    user = _load_user_config() if use_user_config else None
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        origin = "--config"
        is_trusted = True if trusted is None else trusted
    else:
        path = lookup_config(list(paths)) if paths is not None else find_config(start or Path.cwd())
        origin = "repository"
        is_trusted = False if trusted is None else trusted
    if path is None:
        if user is not None:
            return _finish(user, user)
        return Config()
    root = repository_root(path.parent) or path.parent.resolve()
    if not is_trusted and not _within(os.path.realpath(path), os.path.realpath(root)):
        raise ConfigError(f"{path}: the repository's config is a symbolic link leaving the repository ({root});"
                          f" refused")
    if os.path.islink(path) and os.path.exists(path):
        path = Path(os.path.realpath(path))  # paths in it are relative to the file itself
    raw, lines, digest = _read(path)
    check_trust(raw, path, lines, root, trusted=is_trusted)
    config = Config(raw=raw, path=path, trusted=is_trusted, origin=origin, repo_root=root, sha256=digest)
    if user is not None:
        config.raw = merge(user.raw, raw)
        config.user_path = user.path
    return _finish(config, config)


def load_config_text(data: bytes, path: Path, label: str, repo_root: Path, trusted: bool = False,
                     origin: str = "repository") -> Config:
    """A config whose bytes were read elsewhere (``git cat-file``: the base revision's), as if it
    were at ``path``; errors name ``label`` (``REF:.tagguard.yaml``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: cannot read config (not UTF-8: {exc.reason})") from None
    raw, lines = _parse(text, Path(label))
    check_trust(raw, path, lines, repo_root, trusted=trusted, label=label)
    config = Config(raw=raw, path=path, trusted=trusted, origin=origin, repo_root=repo_root,
                    sha256=sha256_hex(data), display_path=label)
    user = _load_user_config()
    if user is not None:
        config.raw = merge(user.raw, raw)
        config.user_path = user.path
    return config


def user_or_default_config() -> Config:
    """The user-level config alone (or the built-in defaults): a base revision without a config."""
    user = _load_user_config()
    return _finish(user, user) if user is not None else Config()


def _finish(config: Config, owner: Config) -> Config:
    if owner.raw.get("taxonomy") is not None:
        tax = config.taxonomy_path()
        if not tax.is_file():
            raise ConfigError(f"{owner.path}: taxonomy file {owner.raw.get('taxonomy')!r} not found (looked at {tax})")
    return config


def _load_user_config() -> Config | None:
    path = user_config_path()
    if path is None:
        return None
    explicit = os.environ.get(USER_CONFIG_ENV)
    if not path.is_file():
        if explicit:
            raise ConfigError(f"{path}: user-level config not found (${USER_CONFIG_ENV})")
        return None
    raw, _lines, digest = _read(path)
    _absolutize(raw, path.parent)
    return Config(raw=raw, path=path, trusted=True, origin="user", sha256=digest)


def _read(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int], str]:
    try:
        if not path.is_file():
            raise ConfigError(f"{path}: config is not a regular file")
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror or exc})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: config is larger than {MAX_CONFIG_BYTES // 1024} KB; refused")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: cannot read config (not UTF-8: {exc.reason})") from None
    raw, lines = _parse(text, path)
    return raw, lines, sha256_hex(data)


def _parse(text: str, path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    from tagguard import yamlio

    try:
        data = yamlio.load(text)
    except yamlio.YamlBombError as exc:
        raise ConfigError(f"{path}:1: {exc}") from None
    except Exception as exc:  # yaml.YAMLError
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{line}: invalid YAML in config: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: config must be a mapping, got {type(data).__name__}")
    lines = line_map(text)
    normalize(data)
    validate_config(data, path, lines)
    return data, lines


def normalize(raw: dict[str, Any]) -> None:
    """YAML 1.1 reads bare ``off``/``on`` (and no/yes) as booleans: as severities they mean off / on."""
    rules = raw.get("rules")
    if isinstance(rules, dict):
        for key, value in list(rules.items()):
            if value is False:
                rules[key] = "off"
            elif value is True:
                rules[key] = "on"


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


# --- trust ---------------------------------------------------------------------------------

def _match(raw: Any, pattern: tuple[str, ...], prefix: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(key path, value) of every value under ``pattern`` (``*``: any key or index)."""
    if not pattern:
        yield prefix, raw
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        if isinstance(raw, dict):
            items = list(raw.items())
        elif isinstance(raw, list):
            items = list(enumerate(raw))
        elif isinstance(raw, str) and not rest:  # llm.usage_files: a string or a list
            yield prefix, raw
            return
        else:
            return
        for k, v in items:
            yield from _match(v, rest, prefix + (k,))
    elif isinstance(raw, dict) and head in raw:
        yield from _match(raw[head], rest, prefix + (head,))


def check_trust(raw: dict[str, Any], path: Path, lines: dict[tuple[str, ...], int], root: Path,
                trusted: bool, label: str | None = None) -> None:
    """A repository config may set policy, never a program, a path outside ``root`` or a URL."""
    if trusted:
        return
    where_file = label or str(path)
    for section, why in TRUSTED_SECTIONS.items():
        if section in raw:
            raise ConfigError(f"{where_file}:{_line(lines, (section,))}: {section}: not allowed in the repository's "
                              f"config ({why})")
    for keypath, instead in PROGRAM_KEYS.items():
        for kp, _value in _match(raw, keypath):
            raise ConfigError(f"{where_file}:{_line(lines, kp)}: {_dotted(kp)}: the repository's config cannot name a "
                              f"program to run (a pull request could make tagguard run its own code); use {instead}")
    for keypath, instead in RESOURCE_KEYS.items():
        for kp, _value in _match(raw, keypath):
            raise ConfigError(f"{where_file}:{_line(lines, kp)}: {_dotted(kp)}: the repository's config cannot size "
                              f"tagguard's memory or threads (a pull request could exhaust the runner); use {instead}")
    real_root = Path(os.path.realpath(root))
    for pattern, instead in PATH_KEYS:
        for kp, value in _match(raw, pattern):
            if not isinstance(value, str):
                continue
            problem = path_problem(value, path.parent, real_root)
            if problem:
                raise ConfigError(f"{where_file}:{_line(lines, kp)}: {_dotted(kp)}: {_short(repr(value))} {problem}; "
                                  f"the repository's config may only name files inside the repository ({root}); "
                                  f"instead use {instead}")


def path_problem(value: str, base: Path, real_root: Path) -> str | None:
    """Why ``value`` (relative to ``base``) may not be read on the word of the repository; None: fine."""
    if value == "-":
        return None
    if re.match(_URL, value) and not re.match(r"^[A-Za-z]:[\\/]", value):
        return "is a network location (tagguard never fetches what the repository names)"
    if value.startswith("~") or os.path.isabs(value) or re.match(r"^[A-Za-z]:[\\/]", value):
        return "is an absolute path, outside the repository"
    static = re.split(_GLOB, value, maxsplit=1)[0] if re.search(_GLOB, value) else value
    if re.search(_GLOB, value):
        static = static.rpartition("/")[0]
        if any(part == ".." for part in re.split(r"[\\/]", value)):
            return "leaves the repository (`..`)"
    target = os.path.realpath(os.path.join(str(base), static))
    lexical = os.path.normpath(os.path.join(os.path.realpath(str(base)), static))
    for candidate in (target, lexical):
        if not _within(candidate, str(real_root)):
            return "resolves outside the repository" + (" (through a symbolic link)" if candidate == target and
                                                          _within(lexical, str(real_root)) else "")
    return None


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _absolutize(raw: dict[str, Any], base: Path) -> None:
    """Paths in the user-level config are relative to it: make them absolute before merging."""
    patterns = [p for p, _ in PATH_KEYS] + list(PROGRAM_KEYS)
    for pattern in patterns:
        for kp, value in list(_match(raw, pattern)):
            if isinstance(value, str) and value != "-" and not re.match(_URL, value):
                _set(raw, kp, str(base / os.path.expanduser(value)))


def _set(raw: Any, keypath: tuple[Any, ...], value: Any) -> None:
    node = raw
    for k in keypath[:-1]:
        node = node[k]
    if isinstance(node, dict) or isinstance(node, list):
        node[keypath[-1]] = value
    else:  # a string usage_files: the parent holds it
        parent = raw
        for k in keypath[:-2]:
            parent = parent[k]
        parent[keypath[-2]] = value


def _dotted(keypath: Sequence[Any]) -> str:
    out = ""
    for k in keypath:
        out += ("." if out else "") + _short(_key_text(k))
    return out or "(top level)"


def _short(text: str, limit: int = 80) -> str:
    """Long keys and values from a config are cut in messages."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


# --- validation ------------------------------------------------------------------------------

def line_map(text: str) -> dict[tuple[str, ...], int]:
    """Line of every key and list item, by key path (keys as strings, list indexes as "0", "1"...)."""
    import yaml

    from tagguard.yamlio import SafeLoader

    try:
        root = yaml.compose(text, Loader=SafeLoader)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[str, ...], int] = {}
    seen = set()
    stack: list[tuple[Any, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, prefix = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                kp = prefix + (str(key),)
                out.setdefault(kp, key_node.start_mark.line + 1)
                stack.append((value_node, kp))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                kp = prefix + (str(i),)
                out.setdefault(kp, item.start_mark.line + 1)
                stack.append((item, kp))
    return out


def _line(lines: dict[tuple[str, ...], int], keypath: Sequence[Any]) -> int:
    kp = tuple(_key_text(k) for k in keypath)
    while kp:
        if kp in lines:
            return lines[kp]
        kp = kp[:-1]
    return 1


def _key_text(k: Any) -> str:
    if k is True:
        return "on"
    if k is False:
        return "off"
    return str(k)


def validate_config(raw: dict[str, Any], path: Path, lines: dict[tuple[str, ...], int] | None = None) -> None:
    """Schema errors (the first by line, with the count of others) and rule ids, as one ConfigError line."""
    import jsonschema
    from jsonschema.exceptions import best_match

    if lines is None:
        try:
            lines = line_map(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            lines = {}
    schema = json.loads(data_file("schemas/config.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[tuple[int, str]] = []
    for err in validator.iter_errors(raw):
        if err.context:
            err = best_match(err.context) or err
        keypath, message = _explain(err)
        problems.append((_line(lines, keypath), f"{_dotted(keypath)}: {message}"))
    problems.extend(_rule_problems(raw, lines))
    if problems:
        problems.sort(key=lambda p: p[0])
        line, message = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{path}:{line}: {message}{more}")


def _explain(err) -> tuple[tuple[Any, ...], str]:
    from difflib import get_close_matches

    keypath = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list(err.schema.get("properties") or {})
        extras = [k for k in err.instance if k not in allowed]
        if extras:
            key = extras[0]
            near = get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else (f"; allowed: {', '.join(allowed)}" if allowed else "")
            return keypath + (key,), f"unknown key '{_short(str(key))}'{hint}"
    if err.validator == "enum":
        choices = ", ".join(map(str, err.validator_value))
        return keypath, f"{_short(json.dumps(err.instance, default=str))} is not one of {choices}"
    return keypath, _short(err.message, 300)


def known_rule_names() -> list[str]:
    from tagguard.rules import known_rule_ids

    return known_rule_ids()


def _rule_problems(raw: dict[str, Any], lines) -> list[tuple[int, str]]:
    rules = raw.get("rules")
    if not isinstance(rules, dict):
        return []
    from difflib import get_close_matches

    known = known_rule_names()
    out = []
    for key in rules:
        if str(key) in known:
            continue
        near = get_close_matches(str(key).replace("_", "-").lower(), known, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'?" if near else "see `tagguard explain --list`"
        out.append((_line(lines, ("rules", key)), f"rules.{_short(str(key))}: unknown rule id or category; {hint}"))
    return out
