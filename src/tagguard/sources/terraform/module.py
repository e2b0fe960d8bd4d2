"""Terraform modules evaluated statically: variables, locals, module calls, providers.

A ``ModuleDef`` is one directory of ``.tf`` files, parsed once.  A
``ModuleInstance`` is one evaluation of it: the root module with tfvars, or a
local module call with its arguments (once per ``count``/``for_each`` key).
Instances are scopes for ``hcl`` expressions: ``lookup("var")`` and friends
return lazy namespaces that evaluate on first access, with cycle detection.
Nothing is executed and nothing is fetched: remote modules are reported, not read.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol
from collections.abc import Iterator

from tagguard.hcl import parse as hcl
from tagguard.hcl.values import PartialMap, Unknown
from tagguard.model import Record

if TYPE_CHECKING:
    from tagguard.sources.terraform.remote import RemoteModules

MAX_MODULE_DEPTH = 12
MAX_INSTANCES = 2_000  # for_each / count fan-out per module call
# module instances per scan: nested for_each multiplies (3 levels of 100 keys: 1,000,000 instances
# from 300 bytes); past this, further module instances are a warning, not evaluated
MAX_MODULE_INSTANCES = 10_000

_PROVIDER_REF = re.compile(r'"?([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)"?\s*=\s*([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)?)')


class VarHints(Protocol):
    """Values a variable may take, with the file that sets each (a dict, or the source's
    lazily read ``*.tfvars`` hints)."""

    def get(self, name: str, /) -> list[tuple[Any, str]] | None: ...


_NO_TYPE = object()


@dataclass(repr=False, eq=False)  # repr and == from Record
class Located(Record):
    """A block together with the file it came from (relative to the scan root)."""

    file: str
    block: Any  # hcl.Block
    # set after the fact, not compared: a variable's parsed type constraint (_NO_TYPE: not parsed yet) and,
    # for a launch template found in another module, the instance that declares it
    type_spec: Any = field(default=_NO_TYPE, compare=False, repr=False)
    owner: Any = field(default=None, compare=False, repr=False)


@dataclass(repr=False, eq=False)  # repr and == from Record
class ModuleDef(Record):
    dir: Path
    files: dict[str, Any] = field(default_factory=dict)  # rel path -> HclFile
    variables: dict[str, Located] = field(default_factory=dict)
    locals: dict[str, tuple[str, Any]] = field(default_factory=dict)  # name -> (file, Attribute)
    outputs: dict[str, tuple[str, Any]] = field(default_factory=dict)
    resources: list[Located] = field(default_factory=list)
    module_calls: list[Located] = field(default_factory=list)
    providers: list[Located] = field(default_factory=list)
    parse_issues: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)
    comments: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    json_files: list[str] = field(default_factory=list)

    def resource(self, rtype: str, name: str) -> Located | None:
        """The resource block ``rtype.name`` of this module (indexed on first use)."""
        index = self.__dict__.get("_by_address")
        if index is None:
            index = {(r.block.labels[0], r.block.labels[1]): r for r in self.resources}
            self.__dict__["_by_address"] = index
        return index.get((rtype, name))

    def comment_lines(self, file: str) -> tuple[dict[int, str], list[int]] | None:
        """``file``'s comments by line and their sorted lines (indexed once per file, not per resource), or
        None when none of them says ``tagguard:ignore``, the only comments the reader looks for."""
        index = self.__dict__.get("_comment_index")
        if index is None:
            index = self.__dict__["_comment_index"] = {}
        if file in index:
            return index[file]
        comments = self.comments.get(file, [])
        hit = None
        if any(text and "tagguard:ignore" in text for _line, text in comments):
            by_line = {line: text for line, text in comments}
            hit = (by_line, sorted(by_line))
        index[file] = hit
        return hit

    def local_sources(self) -> list[tuple[Located, str]]:
        out = []
        for call in self.module_calls:
            src = static_string(call.block.body.get("source"))
            if src and is_local_source(src):
                out.append((call, src))
        return out


def static_string(attr) -> str | None:
    """The value of an attribute that must be a literal string (module source, provider alias)."""
    if attr is None:
        return None
    try:
        value = attr.expr.eval(hcl_empty_scope())
    except Exception:  # noqa: BLE001 - a malformed literal is simply not static
        return None
    return value if isinstance(value, str) else None


def is_local_source(source: str) -> bool:
    return source.startswith("./") or source.startswith("../") or source in (".", "..")


class _EmptyScope:
    def lookup(self, name: str):
        return Unknown(f"{name} is not available here")


_EMPTY = _EmptyScope()


def hcl_empty_scope():
    return _EMPTY


def load_module_def(directory: Path, rel_of: Callable[[Path], str], read: Callable[[Path], bytes | None]) -> ModuleDef:
    """Parse every ``.tf`` file of one directory."""
    mdef = ModuleDef(dir=directory)
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        mdef.parse_issues.append((rel_of(directory), 0, f"cannot list module directory: {exc.strerror or exc}"))
        return mdef
    for name in names:
        path = directory / name
        is_json = name.endswith(".tf.json")
        if not (is_json or name.endswith(".tf")) or not path.is_file():
            continue
        rel = rel_of(path)
        try:
            data = read(path)
        except OSError as exc:  # safeio refusals: outside the repository, not a regular file, over the cap
            reason = getattr(exc, "reason", None)
            detail = getattr(exc, "detail", "")
            message = f"{reason} ({detail})" if reason and detail else reason or exc.strerror or str(exc)
            mdef.parse_issues.append((rel, 0, f"not read: {message}"))
            continue
        if data is None:
            mdef.parse_issues.append((rel, 0, "cannot read file"))
            continue
        if is_json:
            from tagguard.sources.terraform import tfjson

            parsed = tfjson.parse(data, rel)
            mdef.json_files.append(rel)
        else:
            parsed = hcl.parse(data, rel)
        mdef.files[rel] = parsed
        try:
            if not is_json:
                data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if not any("binary" in issue.message for issue in parsed.errors):
                line = data.count(b"\n", 0, exc.start) + 1
                mdef.parse_issues.append((rel, line, f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x});"
                                                     f" Terraform rejects it"))
        for issue in parsed.errors:
            mdef.parse_issues.append((rel, issue.line, issue.message))
        mdef.comments[rel] = list(getattr(parsed, "comments", []) or [])
        _index_blocks(mdef, rel, parsed.body)
    return mdef


def _index_blocks(mdef: ModuleDef, rel: str, body) -> None:
    for block in body.blocks:
        kind, labels = block.type, block.labels
        if kind == "resource" and len(labels) >= 2:
            mdef.resources.append(Located(rel, block))
        elif kind == "variable" and labels:
            mdef.variables[labels[0]] = Located(rel, block)
        elif kind == "locals":
            for name, attr in block.body.attributes.items():
                mdef.locals[name] = (rel, attr)
        elif kind == "output" and labels:
            value = block.body.get("value")
            if value is not None:
                mdef.outputs[labels[0]] = (rel, value)
        elif kind == "module" and labels:
            mdef.module_calls.append(Located(rel, block))
        elif kind == "provider" and labels:
            mdef.providers.append(Located(rel, block))


# --- providers ----------------------------------------------------------------------

class ProviderConf:
    """A provider block's configuration as a module instance sees it.  A plain class, not a dataclass: it is read
    field by field, nothing compares or prints it, and a dataclass's generated methods cost every scan ~0.5 ms.
    Its fields are not changed after it is made (the Terraform walker keeps one default-tag map per configuration).
    Hashed by identity (the walker's key)."""

    __slots__ = ("key", "default_tags", "origin", "region")

    def __init__(self, key: str, default_tags: Any = None, origin: str = "", region: Any = None):
        self.key = key  # "aws" or "aws.gpu"
        self.default_tags = default_tags  # map value (dict / PartialMap / Unknown) or None
        self.origin = origin  # "provider aws.gpu default_tags (main.tf:3)"
        self.region = region


def provider_key_of(resource_type: str) -> str:
    return resource_type.split("_", 1)[0]


# --- instances ------------------------------------------------------------------------

class _Cycle(Exception):
    pass


class _LazyNamespace(Mapping):
    """``var``, ``local`` or ``module`` of one instance: evaluated on first access."""

    def __init__(self, kind: str, names: Callable[[], list[str]], compute: Callable[[str], Any]):
        self._kind = kind
        self._names = names
        self._compute = compute
        self._cache: dict[str, Any] = {}
        self._busy: set = set()

    def __getitem__(self, name: str) -> Any:
        if name in self._cache:
            return self._cache[name]
        if name in self._busy:
            return Unknown(f"{self._kind}.{name} refers to itself (cycle)")
        self._busy.add(name)
        try:
            value = self._compute(name)
        except RecursionError:
            value = Unknown(f"{self._kind}.{name} is nested too deeply to evaluate")
        finally:
            self._busy.discard(name)
        self._cache[name] = value
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


class _AfterApply(Mapping):
    """``aws_iam_role`` / ``data`` roots: every attribute is known only after apply."""

    def __init__(self, prefix: str, reason: str):
        self._prefix = prefix
        self._reason = reason

    def __getitem__(self, name):
        return Unknown(f"{self._prefix}.{name} {self._reason}")

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


class ModuleInstance:
    """One evaluation of a module: a scope for expressions."""

    def __init__(self, loader: Loader, mdef: ModuleDef, prefix: str, *,
                 inputs: dict[str, Callable[[], Any]] | None = None,
                 root_values: dict[str, Any] | None = None,
                 providers: dict[str, ProviderConf] | None = None,
                 depth: int = 0, call_label: str = "", multiplier: int | None = 1,
                 module_key: str = "", manifest: ModuleManifest | None = None, cwd: Path | None = None):
        self.loader = loader
        # "eks.node_group": the key of this call in .terraform/modules/modules.json
        self.module_key = module_key
        self.manifest = manifest if inputs is not None else loader.manifest_for(mdef.dir)
        # instances of this module that `count` on the call (and its ancestors) creates; None = unknown
        self.multiplier = multiplier
        self.mdef = mdef
        self.prefix = prefix  # "" for root, "module.a." / 'module.a["k"].' for children
        self.inputs = inputs  # None for the root module
        self.root_values = root_values or {}
        self.depth = depth
        self.call_label = call_label or "root module"
        self.var = _LazyNamespace("var", lambda: list(mdef.variables), self._variable)
        self.local = _LazyNamespace("local", lambda: list(mdef.locals), self._local)
        self.module = _LazyNamespace("module", lambda: [c.block.labels[0] for c in mdef.module_calls],
                                     self._module_outputs)
        self.providers: dict[str, ProviderConf] = dict(providers or {})
        self._own_providers()
        self._children: dict[str, list[tuple[str, ModuleInstance]] | None] = {}  # None: not instantiated
        # Terraform runs in the root module's directory: path.* and file() paths are relative to it
        self.cwd: Path = cwd if cwd is not None and inputs is not None else mdef.dir
        self.path_obj = {"module": self._path_str(mdef.dir), "root": ".", "cwd": "."}
        # root only: values a variable takes in tfvars files Terraform does not load by itself
        self.var_hints: VarHints = {}
        # children only (set by Loader.instantiate_call): module cycle detection, and the
        # calling instance and call block, to follow an input to its caller's expression
        self.dir_chain: tuple[str, ...] | None = None
        self.parent: ModuleInstance | None = None
        self.call: Located | None = None

    def _path_str(self, p: Path) -> str:
        try:
            rel = os.path.relpath(p, self.cwd)
        except ValueError:
            rel = str(p)
        return "." if rel == "." else Path(rel).as_posix()

    # -- Scope protocol ------------------------------------------------------------
    def lookup(self, name: str) -> Any:
        if name == "var":
            return self.var
        if name == "local":
            return self.local
        if name == "module":
            return self.module
        if name == "path":
            return self.path_obj
        if name == "terraform":
            return {"workspace": self.loader.workspace}
        if name == "data":
            return _DataRoot()
        if name in ("each", "count", "self"):
            return Unknown(f"{name} is not available here")
        return _AfterApply(name, "is known only after apply")

    def read_file(self, rel: str) -> Any:
        """The text of ``rel`` (relative to the root module's directory), None when there is no
        such file, or an ``Unknown`` saying why it is not read (outside the scanned repository,
        not a regular file, over the size cap)."""
        path = (self.cwd / rel) if not os.path.isabs(rel) else Path(rel)
        try:
            data = self.loader.read(path)
        except OSError as exc:
            reason = getattr(exc, "reason", None)
            if reason is None and not os.path.lexists(path):
                return None
            from tagguard.safeio import InputTooLarge, truncate

            if isinstance(exc, InputTooLarge):
                return Unknown(f"file {truncate(rel, 120)} is not read: {exc}")
            return Unknown(f"file {truncate(rel, 120)} is not read: {reason or exc.strerror or exc}")
        if data is None:
            return None
        self.loader.read_log.append(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    def list_files(self, rel: str) -> Any:
        """Files below a directory (relative POSIX paths), for fileset(); never follows into .git.
        A directory outside the scanned repository is an ``Unknown``, never listed."""
        base = (self.cwd / rel) if not os.path.isabs(rel) else Path(rel)
        from tagguard.safeio import inside, truncate

        if not inside(base, self.loader.boundary):
            return Unknown(f"directory {truncate(rel, 120)} is outside the scanned repository and is not listed")
        if not base.is_dir():
            return None
        out: list[str] = []
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".terraform")]
            for name in filenames:
                out.append(Path(os.path.relpath(os.path.join(dirpath, name), base)).as_posix())
            if len(out) > 10_000:
                break
        return out

    # -- variables -----------------------------------------------------------------
    def _variable(self, name: str) -> Any:
        value = self._variable_value(name)
        if isinstance(value, Unknown):
            decl = self.mdef.variables.get(name)
            if decl is not None:
                value = narrow_unknown(self, decl, name, value)
        return value

    def _variable_value(self, name: str) -> Any:
        decl = self.mdef.variables.get(name)
        if decl is None:
            return Unknown(f"var.{name} is not declared in {self.call_label}")
        nullable = True
        nullable_attr = decl.block.body.get("nullable")
        if nullable_attr is not None:
            nv = _safe_eval(nullable_attr.expr, _EMPTY)
            nullable = nv is not False
        if self.inputs is not None:
            if name in self.inputs:
                value = self.inputs[name]()
                if value is None and not nullable:
                    return self._default(decl, name)
                return _apply_type_defaults(decl, value)
            return self._default(decl, name, missing=f"{self.call_label} does not set input `{name}`")
        if name in self.root_values:
            return _apply_type_defaults(decl, self.root_values[name])
        return self._default(decl, name)

    def _default(self, decl: Located, name: str, missing: str | None = None) -> Any:
        default = decl.block.body.get("default")
        if default is None:
            reason = missing or f"var.{name} has no default and no value in tfvars, --var-file, --var or TF_VAR_{name}"
            return Unknown(reason)
        return _apply_type_defaults(decl, _safe_eval(default.expr, self))

    # -- locals / modules --------------------------------------------------------------
    def _local(self, name: str) -> Any:
        entry = self.mdef.locals.get(name)
        if entry is None:
            return Unknown(f"local.{name} is not defined in {self.call_label}")
        return _safe_eval(entry[1].expr, self)

    def _module_outputs(self, name: str) -> Any:
        instances = self.children(name)
        if instances is None:
            refused = self.loader.refused.get((os.path.realpath(self.mdef.dir), name))
            if refused:
                return Unknown(f"module.{name} is not evaluated ({refused}); its outputs are unknown")
            return Unknown(f"module.{name} is a remote module that is not on disk (no `terraform init`) or "
                           "unreadable; its outputs are unknown")
        if not instances:
            return Unknown(f"module.{name} has no instances")
        keyed = [k for k, _ in instances]
        if keyed == [""]:
            return _OutputsView(instances[0][1])
        if all(k.startswith("[") and not k.startswith('["') for k in keyed):
            return [_OutputsView(inst) for _, inst in instances]
        return {json.loads(k[1:-1]) if k.startswith('["') else k: _OutputsView(inst) for k, inst in instances}

    def output(self, name: str) -> Any:
        entry = self.mdef.outputs.get(name)
        if entry is None:
            return Unknown(f"output {name} is not declared in {self.call_label}")
        return _safe_eval(entry[1].expr, self)

    def children(self, call_name: str) -> list[tuple[str, ModuleInstance]] | None:
        if call_name not in self._children:
            self._children[call_name] = self.loader.instantiate_call(self, call_name)
        return self._children[call_name]

    # -- providers -----------------------------------------------------------------------
    def _own_providers(self) -> None:
        for loc in self.mdef.providers:
            block = loc.block
            name = block.labels[0]
            alias = static_string(block.body.get("alias"))
            key = f"{name}.{alias}" if alias else name
            default = None
            origin = ""
            for dt in block.body.blocks_of("default_tags"):
                tags = dt.body.get("tags")
                if tags is not None:
                    default = _safe_eval(tags.expr, self)
                    origin = f"provider {key} default_tags ({loc.file}:{dt.line})"
            labels = block.body.get("default_labels")
            if labels is not None:
                default = _safe_eval(labels.expr, self)
                origin = f"provider {key} default_labels ({loc.file}:{labels.line})"
            region_attr = block.body.get("region")
            region = _safe_eval(region_attr.expr, self) if region_attr is not None else None
            self.providers[key] = ProviderConf(key=key, default_tags=default, origin=origin, region=region)

    def provider_for(self, resource_type: str, provider_ref: str | None) -> ProviderConf | None:
        key = provider_ref or provider_key_of(resource_type)
        conf = self.providers.get(key)
        if conf is None and provider_ref is None:
            return None
        return conf


class _OutputsView(Mapping):
    def __init__(self, instance: ModuleInstance):
        self._inst = instance
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name):
        if name not in self._cache:
            self._cache[name] = self._inst.output(name)
        return self._cache[name]

    def __iter__(self):
        return iter(self._inst.mdef.outputs)

    def __len__(self):
        return len(self._inst.mdef.outputs)


class _DataRoot(Mapping):
    def __getitem__(self, name):
        return _AfterApply(f"data.{name}", "is read at plan time")

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


class Candidates(Unknown):
    """An unknown value that the code narrows to a list: a variable's ``validation`` lists the
    allowed values (``contains([...], var.x)``), or tfvars files that are not loaded by
    default set it.  ``origin`` says where the list comes from."""

    __slots__ = ("values", "origin")

    def __init__(self, reason: str | None, values: list[str], origin: str) -> None:
        super().__init__(reason)
        self.values = values
        self.origin = origin

    def __repr__(self) -> str:
        return f"Candidates({self.values!r}, {self.origin!r})"


def narrow_unknown(inst: ModuleInstance, decl: Located, name: str, value: Unknown) -> Unknown:
    """An unknown variable value narrowed by what the code says: its validation's allowed list,
    and (root modules) tfvars files that set it.  Anything else stays a plain ``Unknown``."""
    allowed = validation_allowed(inst, decl, name)
    prior = value.values if isinstance(value, Candidates) else None
    origins: list[str] = [value.origin] if isinstance(value, Candidates) else []
    values: list[str] | None = prior
    if allowed is not None:
        values = [v for v in prior if v in allowed] if prior is not None else list(allowed)
        where = f"{decl.file}:{decl.block.line}"
        origins.append(f"the validation of var.{name} ({where}) allows only these")
    hints = inst.var_hints.get(name) if inst.inputs is None else None
    if hints:
        seen: list[str] = []
        files: list[str] = []
        for hv, hfile in hints:
            for item in (hv if isinstance(hv, list) else [hv]):
                if isinstance(item, str) and item not in seen and (values is None or item in values):
                    seen.append(item)
                    if hfile not in files:
                        files.append(hfile)
        if seen:
            values = seen
            origins.append(f"set in {', '.join(files)}, which Terraform loads only with -var-file")
    if values is None or values == prior:
        return value
    return Candidates(value.reason, values, "; ".join(origins))


def validation_allowed(inst: ModuleInstance, decl: Located, name: str) -> list[str] | None:
    """The values a variable's ``validation`` blocks allow, when a condition is built from
    ``contains([...], var.x)`` (also ``alltrue([for t in var.x : contains([...], t)])``, ``&&``,
    ``||`` of such, and ``var.x == null || ...``).  None when the conditions say nothing as plain."""
    out: list[str] | None = None
    for block in decl.block.body.blocks_of("validation"):
        cond = block.body.get("condition")
        if cond is None:
            continue
        try:
            found = _allowed_in(cond.expr, inst, name, 0)
        except RecursionError:
            found = None
        if found is not None:
            out = found if out is None else [v for v in out if v in found]
    return out


def _allowed_in(expr, inst, name: str, depth: int) -> list[str] | None:
    from tagguard.hcl import evaluate as ev

    if depth > 16:
        return None
    if isinstance(expr, ev.FuncCall):
        if expr.name == "contains" and len(expr.args) == 2 and not expr.expand:
            if not _mentions_var(expr.args[1], name):
                return None
            listed = _safe_eval(expr.args[0], inst)
            if isinstance(listed, list) and listed and all(isinstance(v, str) for v in listed):
                return list(dict.fromkeys(listed))
            return None
        if expr.name == "alltrue" and len(expr.args) == 1:
            return _allowed_in(expr.args[0], inst, name, depth + 1)
        return None
    if isinstance(expr, ev.TupleExpr) and len(expr.items) == 1:
        return _allowed_in(expr.items[0], inst, name, depth + 1)
    if isinstance(expr, ev.ForExpr) and expr.key_expr is None and expr.cond is None:
        if not _mentions_var(expr.coll, name):
            return None
        return _allowed_in(expr.value_expr, inst, name, depth + 1)
    if isinstance(expr, ev.BinaryOp) and expr.op == "&&":
        left = _allowed_in(expr.left, inst, name, depth + 1)
        right = _allowed_in(expr.right, inst, name, depth + 1)
        if left is None or right is None:
            return left if right is None else right
        return [v for v in left if v in right]
    if isinstance(expr, ev.BinaryOp) and expr.op == "||":
        sides = [expr.left, expr.right]
        nulls = [s for s in sides if _is_null_check(s, name)]
        rest = [s for s in sides if s not in nulls]
        found = [_allowed_in(s, inst, name, depth + 1) for s in rest]
        if not found:
            return None
        merged: list[str] = []
        for f in found:
            if f is None:  # one side allows anything
                return None
            merged.extend(v for v in f if v not in merged)
        return merged
    return None


def _mentions_var(expr, name: str) -> bool:
    from tagguard.hcl import evaluate as ev

    if isinstance(expr, ev.Traversal) and isinstance(expr.root, str) and not expr.steps:
        return True  # a for-expression's iteration variable
    try:
        return any(len(r) >= 2 and r[0] == "var" and r[1] == name for r in expr.references())
    except Exception:  # noqa: BLE001
        return False


def _is_null_check(expr, name: str) -> bool:
    from tagguard.hcl import evaluate as ev

    if not (isinstance(expr, ev.BinaryOp) and expr.op == "=="):
        return False
    sides = (expr.left, expr.right)
    return (any(isinstance(s, ev.Literal) and s.value is None for s in sides)
            and any(_mentions_var(s, name) for s in sides))


def _safe_eval(expr, scope) -> Any:
    try:
        return expr.eval(scope)
    except RecursionError:
        return Unknown("expression is nested too deeply to evaluate")
    except Exception as exc:  # noqa: BLE001 - evaluation never stops the scan
        return Unknown(f"cannot evaluate `{_short(expr)}`: {exc}")


def _short(expr) -> str:
    try:
        text = expr.source_text()
    except Exception:  # noqa: BLE001
        return "expression"
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _apply_type_defaults(decl: Located, value: Any) -> Any:
    """Convert a variable's value to its type constraint the way Terraform does where it matters:
    ``optional(type, default)`` object attributes are filled (also inside ``map(object(...))``,
    ``list(object(...))``...), absent optional attributes become null, and primitives convert
    (``number`` -> ``string`` for ``map(string)`` tags, numeric strings -> ``number``)."""
    if value is None or isinstance(value, Unknown):
        return value
    spec = decl.type_spec
    if spec is _NO_TYPE:
        type_attr = decl.block.body.get("type")
        spec = None
        if type_attr is not None:
            try:
                spec = _type_spec(type_attr.expr, 0)
            except Exception:  # noqa: BLE001 - an odd type expression is simply not applied
                spec = None
        decl.type_spec = spec  # parsed once per declaration
    if spec is None:
        return value
    try:
        return _convert(value, spec, 0)
    except RecursionError:
        return value


_PRIMITIVES = {"string", "number", "bool", "any"}


def _type_spec(expr, depth: int) -> Any:
    """A type expression -> ("string"|"number"|"bool"|"any") | ("map"|"list"|"set", T) |
    ("object", {name: (T, optional, default_expr)}) | ("tuple", [T]); None when unknown."""
    from tagguard.hcl import evaluate as ev

    if depth > 32:
        return None
    if isinstance(expr, ev.Traversal) and not expr.steps and expr.root in _PRIMITIVES:
        return expr.root
    if not isinstance(expr, ev.FuncCall) or not expr.args:
        return None
    name, args = expr.name, expr.args
    if name in ("map", "list", "set") and len(args) == 1:
        inner = _type_spec(args[0], depth + 1)
        return (name, inner) if inner is not None else (name, "any")
    if name == "tuple" and isinstance(args[0], ev.TupleExpr):
        return ("tuple", [_type_spec(a, depth + 1) or "any" for a in args[0].items])
    if name == "object" and isinstance(args[0], ev.ObjectExpr):
        attrs = {}
        for key_expr, value_expr in args[0].pairs:
            key = key_expr.eval(_EMPTY)
            if not isinstance(key, str):
                key = key_expr.source_text().strip().strip('"')
            optional, default = False, None
            if isinstance(value_expr, ev.FuncCall) and value_expr.name == "optional" and value_expr.args:
                optional = True
                default = value_expr.args[1] if len(value_expr.args) > 1 else None
                value_expr = value_expr.args[0]
            attrs[key] = (_type_spec(value_expr, depth + 1) or "any", optional, default)
        return ("object", attrs)
    return None


def _convert(value: Any, spec: Any, depth: int) -> Any:
    if value is None or isinstance(value, Unknown) or spec == "any" or spec is None or depth > 32:
        return value
    if isinstance(spec, str):
        return _convert_primitive(value, spec)
    kind = spec[0]
    if kind == "object" and isinstance(value, Mapping):
        filled = (PartialMap(value, open=value.open, open_reasons=value.open_reasons)
                  if isinstance(value, PartialMap) else dict(value))
        for name, (attr_type, optional, default) in spec[1].items():
            current = filled.get(name)
            if current is None and optional and default is not None:
                current = _safe_eval(default, _EMPTY)
            elif name not in filled and not optional:
                continue  # Terraform would reject the value; leave the error to the lookup
            filled[name] = _convert(current, attr_type, depth + 1)
        return filled
    if kind == "map" and isinstance(value, Mapping):
        out = PartialMap({}, open=value.open, open_reasons=value.open_reasons) if isinstance(value, PartialMap) else {}
        for k, v in value.items():
            out[k] = _convert(v, spec[1], depth + 1)
        return out
    if kind in ("list", "set") and isinstance(value, list):
        return [_convert(v, spec[1], depth + 1) for v in value]
    if kind == "tuple" and isinstance(value, list):
        return [_convert(v, t, depth + 1) if i < len(spec[1]) else v
                for i, (v, t) in enumerate(zip(value, spec[1] + ["any"] * len(value)))]
    return value


def _convert_primitive(value: Any, spec: str) -> Any:
    if spec == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        from tagguard.hcl.values import to_string

        return to_string(value)
    if spec == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if spec == "number" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    if spec == "bool" and value in ("true", "false"):
        return value == "true"
    return value


# --- the loader: module definitions and instances ---------------------------------------

class Loader:
    """Parses module directories once and instantiates module calls."""

    def __init__(self, root_dir: Path, rel_of: Callable[[Path], str], read: Callable[[Path], bytes | None],
                 workspace: str = "default", boundary: Path | None = None):
        """``read`` returns a file's bytes or raises ``OSError`` (``safeio.ReadRefused`` for
        refusals); ``boundary`` is the directory module sources and file() stay in."""
        self.root_dir = root_dir
        if boundary is None:
            from tagguard.safeio import scan_boundary

            boundary = scan_boundary(root_dir)
        self.boundary = boundary
        # (real directory of the calling module, call name) -> why the call is not evaluated
        self.refused: dict[tuple[str, str], str] = {}
        self.module_instances = 0  # created so far, against MAX_MODULE_INSTANCES
        self.instances_capped = False
        self.rel_of = rel_of
        self.read = read
        self.workspace = workspace
        self.defs: dict[str, ModuleDef] = {}
        self.remote_calls: list[tuple[ModuleInstance, Located, str]] = []
        self.problems: list[tuple[str, int, str]] = []
        self.instances: list[ModuleInstance] = []
        self.manifests: dict[str, ModuleManifest | None] = {}
        self.read_log: list[Path] = []  # files read by file()/templatefile(), in order
        self.remote: RemoteModules | None = None  # module sources from the user cache (or downloaded, opt-in)
        self.remote_why: dict[str, str] = {}  # module key -> why its remote source is not available

    def manifest_for(self, root_dir: Path) -> ModuleManifest | None:
        """``.terraform/modules/modules.json`` of a root module, read once (None when absent)."""
        key = os.path.realpath(root_dir)
        if key not in self.manifests:
            self.manifests[key] = ModuleManifest.load(root_dir, self)
        return self.manifests[key]

    def module_def(self, directory: Path) -> ModuleDef:
        key = os.path.realpath(directory)
        if key not in self.defs:
            self.defs[key] = load_module_def(directory, self.rel_of, self.read)
        return self.defs[key]

    def instantiate_call(self, parent: ModuleInstance, call_name: str) -> list[tuple[str, ModuleInstance]] | None:
        loc = next((c for c in parent.mdef.module_calls if c.block.labels[0] == call_name), None)
        if loc is None:
            return None
        body = loc.block.body
        source = static_string(body.get("source"))
        if source is None:
            return None
        module_key = f"{parent.module_key}.{call_name}" if parent.module_key else call_name
        child_dir: Path | None
        if is_local_source(source):
            child_dir = (parent.mdef.dir / source).resolve()
            if not self._inside(child_dir) and not self._same_download(parent.mdef.dir, child_dir):
                refused_key = (os.path.realpath(parent.mdef.dir), call_name)
                self.refused[refused_key] = "its source is outside the scanned repository"
                self.problems.append((loc.file, body.get("source").line,
                                      f"module.{call_name}: source {_quote(source)} is "
                                      "outside the scanned repository; not read (scan the directory that holds both)"))
                return None
            if not child_dir.is_dir():
                self.problems.append((loc.file, body.get("source").line,
                                      f"module.{call_name}: source {source!r} is not a directory"))
                return None
        else:
            child_dir = parent.manifest.dir_of(module_key, source) if parent.manifest is not None else None
            if child_dir is None and self.remote is not None:
                child_dir, why = self.remote.module_dir(source, static_string(body.get("version")))
                if why:
                    self.remote_why[module_key] = why
            if child_dir is None:
                return None
        if parent.depth + 1 > MAX_MODULE_DEPTH:
            self.problems.append((loc.file, loc.block.line,
                                  f"module.{call_name}: modules nested deeper than {MAX_MODULE_DEPTH} levels"
                                  f" are not evaluated"))
            return None
        chain = getattr(parent, "dir_chain", None) or (os.path.realpath(parent.mdef.dir),)
        real_child = os.path.realpath(child_dir)
        if real_child in chain:
            loop = chain[chain.index(real_child):] + (real_child,)
            names = " -> ".join(self.rel_of(Path(d)) for d in loop)
            self.refused[(os.path.realpath(parent.mdef.dir), call_name)] = f"module cycle {names}"
            self.problems.append((loc.file, loc.block.line, f"module.{call_name}: module cycle {names}; "
                                  "the call that closes the cycle is not evaluated"))
            return None
        mdef = self.module_def(child_dir)
        keys = self._expand_keys(loc, parent)
        room = MAX_MODULE_INSTANCES - self.module_instances
        if len(keys) > room:
            if not self.instances_capped:
                self.problems.append((loc.file, loc.block.line, f"module.{call_name}: for_each makes more than "
                                      f"{MAX_MODULE_INSTANCES:,} module instances in this scan;"
                                      f" the rest are not evaluated"))
            self.instances_capped = True
            keys = keys[:max(room, 0)]
            if not keys:
                return None
        self.module_instances += len(keys)
        providers = self._child_providers(parent, loc)
        out: list[tuple[str, ModuleInstance]] = []
        for key_suffix, bindings in keys:
            bindings = dict(bindings)
            count = bindings.pop("__count__", 1)
            multiplier = None if count is None or parent.multiplier is None else count * parent.multiplier
            scope = _BoundScope(parent, bindings)
            inputs: dict[str, Callable[[], Any]] = {}
            for name, attr in body.attributes.items():
                if name in ("source", "version", "count", "for_each", "providers", "depends_on"):
                    continue
                inputs[name] = _lazy_input(attr, scope)
            prefix = f"{parent.prefix}module.{call_name}{key_suffix}."
            child = ModuleInstance(self, mdef, prefix, inputs=inputs, providers=providers,
                                   depth=parent.depth + 1,
                                   call_label=f"module.{call_name} ({loc.file}:{loc.block.line})",
                                   multiplier=multiplier, module_key=module_key, manifest=parent.manifest,
                                   cwd=parent.cwd)
            child.dir_chain = chain + (real_child,)
            child.parent, child.call = parent, loc
            out.append((key_suffix, child))
        return out

    def _inside(self, path: Path) -> bool:
        from tagguard.safeio import inside

        return inside(path, self.boundary)

    def _same_download(self, parent_dir: Path, child_dir: Path) -> bool:
        """A local source inside a module from the cache stays in that one download."""
        if self.remote is None:
            return False
        entry = self.remote.entry_of(parent_dir)
        return entry is not None and self.remote.entry_of(child_dir) == entry

    def _expand_keys(self, loc: Located, parent: ModuleInstance) -> list[tuple[str, dict[str, Any]]]:
        return expand_repetition(loc.block.body, parent, f"module.{loc.block.labels[0]}")

    def _child_providers(self, parent: ModuleInstance, loc: Located) -> dict[str, ProviderConf]:
        # Default (unaliased) provider configurations are inherited implicitly.
        inherited = {k: v for k, v in parent.providers.items() if "." not in k}
        attr = loc.block.body.get("providers")
        if attr is not None:
            try:
                text = attr.expr.source_text()
            except Exception:  # noqa: BLE001
                text = ""
            for child_key, parent_key in _PROVIDER_REF.findall(text):
                conf = parent.providers.get(parent_key)
                if conf is not None:
                    inherited[child_key] = conf
                else:
                    inherited.pop(child_key, None)
        return inherited


class ModuleManifest:
    """Module directories a previous ``terraform init`` left in ``.terraform/modules/modules.json``.

    Entries are ``{"Key": "eks.node_group", "Source": ..., "Version": ..., "Dir": ...}``; ``Key`` is
    the dotted chain of call names (no instance keys), ``Dir`` is relative to the root module.
    Nothing is downloaded: a call without an entry (or whose directory is gone) stays not scanned.
    """

    def __init__(self, root_dir: Path, entries: dict[str, dict[str, Any]]):
        self.root_dir = root_dir
        self.entries = entries
        self.stale: dict[str, str] = {}  # key -> why the entry was not used
        self.boundary: Path | None = None  # set by load(): the directory module sources stay in

    @classmethod
    def load(cls, root_dir: Path, loader: Loader) -> ModuleManifest | None:
        # TF_DATA_DIR relocates .terraform, as it does for terraform itself
        path = root_dir / (os.environ.get("TF_DATA_DIR") or ".terraform") / "modules" / "modules.json"
        if not path.is_file():
            return None
        rel = loader.rel_of(path)
        try:
            data = loader.read(path)
        except OSError as exc:
            data = None
            if getattr(exc, "reason", None):
                loader.problems.append((rel, 0, f"module manifest not read: {exc}; remote modules are not scanned"))
                return None
        if data is None:
            loader.problems.append((rel, 0, "cannot read the module manifest; remote modules are not scanned"))
            return None
        try:
            from tagguard.safeio import load_json

            doc = load_json(data, rel)
            modules = doc.get("Modules") if isinstance(doc, dict) else None
            if not isinstance(modules, list):
                raise ValueError("no `Modules` list")
        except (ValueError, UnicodeDecodeError) as exc:
            line = getattr(exc, "lineno", 1)
            loader.problems.append((rel, line, f"invalid module manifest ({str(exc).splitlines()[0]});"
                                               f" remote modules are not scanned"))
            return None
        entries = {}
        for entry in modules:
            if isinstance(entry, dict) and isinstance(entry.get("Key"), str) and isinstance(entry.get("Dir"), str):
                entries[entry["Key"]] = entry
        manifest = cls(root_dir, entries)
        manifest.boundary = loader.boundary
        return manifest

    def dir_of(self, key: str, source: str) -> Path | None:
        entry = self.entries.get(key)
        if entry is None:
            self.stale[key] = ("it has no entry in .terraform/modules/modules.json"
                               " (run `terraform init` after adding it)")
            return None
        recorded = entry.get("Source")
        if isinstance(recorded, str) and _norm_source(recorded) != _norm_source(source):
            self.stale[key] = (f"modules.json holds source {recorded!r}, not {source!r} (run `terraform init` again)")
            return None
        directory = (self.root_dir / entry["Dir"]).resolve()
        boundary = getattr(self, "boundary", None)
        if boundary is not None:
            from tagguard.safeio import inside, truncate

            if not inside(directory, boundary):
                self.stale[key] = (f"its directory {truncate(entry['Dir'], 120)} from modules.json"
                                   f" is outside the scanned repository")
                return None
        if not directory.is_dir():
            self.stale[key] = f"its directory {entry['Dir']} from modules.json is missing"
            return None
        return directory


def _norm_source(source: str) -> str:
    """Comparable form: Terraform records ``registry.terraform.io/x/y/aws`` for ``x/y/aws`` and
    ``git::https://github.com/o/r.git`` for ``github.com/o/r``."""
    s = source.strip().lower()
    s = re.sub(r"^(git::|hg::|s3::|gcs::)", "", s)
    s = re.sub(r"^(https?|ssh|git)://", "", s)
    s = re.sub(r"^git@([^:/]+):", r"\1/", s)
    for prefix in ("registry.terraform.io/", "registry.opentofu.org/"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    s = re.sub(r"\.git(?=$|//|\?)", "", s)
    return s.rstrip("/")


def _quote(text: str) -> str:
    from tagguard.safeio import truncate

    return repr(truncate(text, 120))


def _lazy_input(attr: hcl.Attribute, scope: _BoundScope) -> Callable[[], Any]:
    """A module input evaluated on first read, once."""
    return _memo(lambda: _safe_eval(attr.expr, scope))


def _memo(fn: Callable[[], Any]) -> Callable[[], Any]:
    box: list[Any] = []

    def get():
        if not box:
            box.append(fn())
        return box[0]

    return get


class _BoundScope:
    """A scope with ``each``/``count`` bound, delegating the rest to a module instance."""

    def __init__(self, parent, bindings: dict[str, Any]):
        self._parent = parent
        self._bindings = bindings

    def lookup(self, name: str) -> Any:
        if name in self._bindings:
            return self._bindings[name]
        return self._parent.lookup(name)

    def read_file(self, rel: str):
        return self._parent.read_file(rel)

    def list_files(self, rel: str):
        return self._parent.list_files(rel)


def bound_scope(parent, bindings: dict[str, Any]):
    return _BoundScope(parent, bindings) if bindings else parent


def expand_repetition(body, scope, what: str) -> list[tuple[str, dict[str, Any]]]:
    """``count`` / ``for_each`` of a resource or module call -> [(address suffix, bindings)].

    An unknown ``for_each`` or ``count`` gives one instance whose ``each``/``count``
    values are unknown, so the configuration is still checked once.
    """
    fe = body.get("for_each")
    if fe is not None:
        value = _safe_eval(fe.expr, scope)
        if isinstance(value, Unknown) or (isinstance(value, PartialMap) and value.open):
            reason = value.reason if isinstance(value, Unknown) else "; ".join(value.open_reasons)
            unknown = Unknown(f"{what} for_each is not known statically ({reason})")
            return [("[*]", {"each": {"key": unknown, "value": unknown}})]
        items: list[tuple[Any, Any]]
        if isinstance(value, Mapping):
            items = list(value.items())
        elif isinstance(value, list):
            items = [(v, v) for v in value]
        else:
            return [("", {"each": {"key": Unknown(f"{what} for_each is not a map or set"),
                                   "value": Unknown(f"{what} for_each is not a map or set")}})]
        out = []
        for k, v in items[:MAX_INSTANCES]:
            key = k if isinstance(k, str) else (json.dumps(k) if not isinstance(k, Unknown) else "*")
            out.append((f"[{json.dumps(key)}]", {"each": {"key": k, "value": v}}))
        return out
    count = body.get("count")
    if count is not None:
        value = _safe_eval(count.expr, scope)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            reason = value.reason if isinstance(value, Unknown) else f"count is {value!r}"
            return [("", {"count": {"index": Unknown(f"{what} count is not known statically ({reason})")},
                          "__count__": None})]
        n = int(value)
        return [("", {"count": {"index": 0}, "__count__": n})]
    return [("", {})]
