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

from . import collection, conversion, crypto, dates, encoding, filesystem, network, numeric, runtime, special, strings
from ._common import Function, Table
from .filesystem import CompileTemplate

CATEGORIES = (strings, collection, conversion, numeric, encoding, crypto, network, dates, filesystem, special, runtime)

__all__ = ["CATEGORIES", "CompileTemplate", "Function", "Table", "function_table"]


def function_table(compile_template: CompileTemplate) -> Table:
    """Every function, by name; ``templatefile()`` compiles with ``compile_template``."""
    table: Table = {}
    for category in CATEGORIES:
        table.update(category.FUNCTIONS)
    table.update(filesystem.with_templates(compile_template))
    return table
