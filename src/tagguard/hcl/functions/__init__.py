"""Terraform's built-in functions, statically, one module per category.

``function_table(compile_template)`` is the table an HCL compiler binds function calls to
(``hcl.parse`` builds the default one): a name -> a callable taking evaluated arguments.
Nothing here imports the parser or the evaluator's callers: ``templatefile()`` compiles the file
it reads with the ``compile_template(text, filename)`` it is given.  Flags on a callable tell
``evaluate.FuncCall`` how to call it:

* ``special_form`` -- called as ``fn(scope, arg_exprs)`` with unevaluated
  arguments (``try``, ``can``);
* ``needs_scope`` -- called as ``fn(scope, *args)`` (``file``, ``templatefile``).

Unknown arguments propagate as Terraform does: ``strict`` functions return
the first Unknown found anywhere in their arguments, ``shallow`` ones only
look at top-level arguments (``length([var.x])`` is known), the rest handle
Unknowns themselves (``merge``, ``coalesce``, ``lookup``...).  Errors raise
``EvalError``; ``evaluate.call_function`` adds the function name.

Imports stay cheap (this is on the pre-commit path): ``hashlib``, ``ipaddress``, ``datetime``,
``json``, PyYAML and RE2 are imported inside the functions that need them.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._common import Function, Table

if TYPE_CHECKING:
    from .filesystem import CompileTemplate

# The functions of each category module (tests/test_hcl_function_table.py holds this equal to the modules'
# own tables): a function table imports a category at the first lookup of one of its names, so a module
# that calls only merge() imports collection alone, not ten more modules (~1 M instructions each, base64...).
NAMES: dict[str, tuple[str, ...]] = {
    "strings": ("chomp", "endswith", "format", "formatlist", "indent", "join", "lower", "regex", "regexall",
                "replace", "split", "startswith", "strcontains", "strrev", "substr", "title", "trim", "trimprefix",
                "trimspace", "trimsuffix", "upper"),
    "collection": ("alltrue", "anytrue", "chunklist", "coalesce", "coalescelist", "compact", "concat", "contains",
                   "distinct", "element", "flatten", "index", "keys", "length", "lookup", "matchkeys", "merge", "one",
                   "range", "reverse", "setintersection", "setproduct", "setsubtract", "setunion", "slice", "sort",
                   "transpose", "values", "zipmap"),
    "conversion": ("nonsensitive", "sensitive", "tobool", "tolist", "tomap", "tonumber", "toset", "tostring"),
    "numeric": ("abs", "ceil", "floor", "log", "max", "min", "parseint", "pow", "signum", "sum"),
    "encoding": ("base64decode", "base64encode", "jsondecode", "jsonencode", "provider::kubernetes::manifest_decode",
                 "provider::kubernetes::manifest_decode_multi", "urlencode", "yamldecode", "yamlencode"),
    "crypto": ("md5", "sha1", "sha256", "sha512"),
    "network": ("cidrhost", "cidrnetmask", "cidrsubnet"),
    "dates": ("formatdate",),
    "filesystem": ("abspath", "basename", "dirname", "file", "filebase64", "fileexists", "fileset", "templatefile"),
    "special": ("can", "try"),
    "runtime": ("bcrypt", "plantimestamp", "timestamp", "type", "uuid", "uuidv5"),
}
_CATEGORY_OF = {name: category for category, names in NAMES.items() for name in names}

__all__ = ["NAMES", "Function", "Table", "categories", "function_table"]


def categories() -> tuple[ModuleType, ...]:
    """Every category module (imports them all)."""
    return tuple(import_module(f"{__name__}.{category}") for category in NAMES)


class _Table(Mapping[str, Function]):
    """Every function by name; a category's module is imported at the first lookup of one of its names."""

    def __init__(self, compile_template: CompileTemplate) -> None:
        self._compile_template = compile_template
        self._loaded: dict[str, Function] = {}

    def __getitem__(self, name: str) -> Function:
        try:
            return self._loaded[name]
        except KeyError:
            category = _CATEGORY_OF[name]  # KeyError: not a Terraform function
        module = import_module(f"{__name__}.{category}")
        self._loaded.update(module.FUNCTIONS)
        if category == "filesystem":
            self._loaded.update(module.with_templates(self._compile_template))
        return self._loaded[name]

    def get(self, name: str, default: Any = None) -> Any:  # what the compiler calls for every call it binds
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        return self[name] if name in _CATEGORY_OF else default

    def __contains__(self, name: object) -> bool:
        return name in _CATEGORY_OF

    def __iter__(self) -> Iterator[str]:
        return iter(_CATEGORY_OF)

    def __len__(self) -> int:
        return len(_CATEGORY_OF)


def function_table(compile_template: CompileTemplate) -> Mapping[str, Function]:
    """Every function, by name; ``templatefile()`` compiles with ``compile_template``."""
    return _Table(compile_template)
