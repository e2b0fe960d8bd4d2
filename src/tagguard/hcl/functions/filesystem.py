"""Paths and files: ``basename``, ``dirname``, ``abspath``; ``file``, ``fileexists``, ``fileset``,
``filebase64`` read through the scope's confined ``read_file``/``list_files`` (never the disk
directly); ``templatefile`` from ``with_templates(compile_template)``."""
from __future__ import annotations

import base64
import os
import posixpath
import re
from collections.abc import Mapping
from typing import Any, Callable

from ..evaluate import Expr, MapScope
from ..values import Unknown, to_map
from ._common import Table, registrar, shorten
from ._common import text as _s

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)
CompileTemplate = Callable[[str, str], Expr]


@register("basename")
def basename(path: Any) -> str:
    text = _s(path).rstrip("/")
    return posixpath.basename(text) if text else ("/" if _s(path) else ".")


@register("dirname")
def dirname(path: Any) -> str:
    text = _s(path)
    parent = posixpath.dirname(text.rstrip("/") or text)
    return parent or "."


@register("abspath")
def abspath(path: Any) -> str:
    return posixpath.normpath(posixpath.join(os.getcwd().replace(os.sep, "/"), _s(path)))


def _trunc(text: str) -> str:
    return shorten(text, 120)


def _reader(scope: Any) -> Callable[[str], str | None] | None:
    return getattr(scope, "read_file", None)


def _read(scope: Any, path: Any) -> Any:
    if isinstance(path, Unknown):
        return path
    reader = _reader(scope)
    if reader is None:
        return Unknown(f"file {_s(path)} cannot be read here")
    text = reader(_s(path))
    if text is None:
        return Unknown(f"file {_trunc(_s(path))} is not readable by tagguard")
    return text  # a str, or an Unknown saying why it is not read (outside the repository, not a regular file...)


def file_(scope: Any, path: Any) -> Any:
    return _read(scope, path)


def fileexists(scope: Any, path: Any) -> Any:
    if isinstance(path, Unknown):
        return path
    reader = _reader(scope)
    if reader is None:
        return Unknown(f"cannot check whether {_trunc(_s(path))} exists here")
    text = reader(_s(path))
    if isinstance(text, Unknown):  # outside the repository: not even its existence is looked at
        return text
    return text is not None


def with_templates(compile_template: CompileTemplate) -> Table:
    """``templatefile()``, compiling the file it reads with ``compile_template(text, filename)``
    (``hcl.parse.compile_template`` in the table ``hcl.parse`` compiles with: the functions do not
    import the parser that calls them)."""

    def templatefile(scope: Any, path: Any, variables: Any) -> Any:
        text = _read(scope, path)
        if isinstance(text, Unknown):
            return text
        if isinstance(variables, Unknown):
            return variables
        placeholders = getattr(scope, "template_placeholders", None)
        if placeholders is not None and isinstance(variables, Mapping):
            # Kubernetes manifests (terraform/k8s.py): unknown variables render as placeholders
            variables = placeholders.plain(variables, open_markers=False)
        template: Expr = compile_template(text, _s(path))
        return template._ev(_TemplateScope(to_map(variables), scope))

    templatefile.needs_scope = True  # type: ignore[attr-defined]
    return {"templatefile": templatefile}


class _TemplateScope(MapScope):
    """Template variables only; file reads go through the calling scope."""

    def __init__(self, variables: Mapping, parent: Any) -> None:
        super().__init__(variables)
        self.parent = parent

    def read_file(self, path: str) -> str | None:
        reader = _reader(self.parent)
        return reader(path) if reader is not None else None

    def list_files(self, path: str) -> list[str] | None:
        lister = getattr(self.parent, "list_files", None)
        return lister(path) if lister is not None else None


def fileset(scope: Any, path: Any, pattern: Any) -> Any:
    """Files below ``path`` matching ``pattern`` (``*``, ``**``, ``?``, ``[...]``, ``{a,b}``), sorted,
    relative to ``path`` -- Terraform's fileset()."""
    if isinstance(path, Unknown):
        return path
    if isinstance(pattern, Unknown):
        return pattern
    lister = getattr(scope, "list_files", None)
    if lister is None:
        return Unknown(f"cannot list {_s(path)} here")
    files = lister(_s(path))
    if isinstance(files, Unknown):
        return files
    if files is None:
        return Unknown(f"directory {_trunc(_s(path))} is not readable by tagguard")
    regex = _glob_regex(_s(pattern))
    return sorted(f for f in files if regex.fullmatch(f))


def _glob_regex(pattern: str) -> Any:
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
                i = end
        elif c == "{":
            end = pattern.find("}", i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append("(?:" + "|".join(re.escape(a) for a in pattern[i + 1:end].split(",")) + ")")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def filebase64(scope: Any, path: Any) -> Any:
    """Terraform's filebase64() for text files (the reader decodes UTF-8); through the same
    confined read as file()."""
    text = _read(scope, path)
    if isinstance(text, Unknown):
        return text
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


_READERS: tuple[tuple[str, Any], ...] = (("file", file_), ("fileexists", fileexists), ("fileset", fileset),
                                         ("filebase64", filebase64))
for _name, _fn in _READERS:
    _fn.needs_scope = True
    FUNCTIONS[_name] = _fn
