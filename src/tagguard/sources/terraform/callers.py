"""A changed file in a local child module is judged as its callers see it.

``tagguard scan infra/modules/gpu-box/main.tf`` (and the pre-commit hook, which passes changed
files) must evaluate the module through the root modules of the repository that call it,
directly or through other local modules, with their provider ``default_tags`` and arguments.
This module finds those callers: every ``.tf``/``.tf.json`` file up to the repository's git
top-level (the read boundary) is searched, cheaply, for ``source = "./..."``/``"../..."`` that
resolves to the module's directory, then again for the callers' callers.  The directories found
are added to the scan; their own resources and findings are not reported (they are not the
changed files), only the changed module's, at its lines.

Nothing is executed and nothing outside the boundary is read (``safeio``); the search is one
directory walk and one regular-expression pass per ``.tf`` file that mentions ``source``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

TF_SIBLINGS = (".tf", ".tf.json", ".tfvars", ".tfvars.json")
# `source = "./x"` / `"../x"` as an attribute on its own line (HCL), or `"source": "./x"` (JSON)
_SOURCE_HCL = re.compile(rb'(?m)^[ \t]*source[ \t]*=[ \t]*"(\.\.?(?:/[^"\r\n]*)?)"')
_SOURCE_JSON = re.compile(rb'"source"[ \t\r\n]*:[ \t\r\n]*"(\.\.?(?:/[^"\r\n]*)?)"')
_SKIP = {".git", ".terraform", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".hg", ".svn"}
MAX_FILES = 50_000  # .tf files searched per repository
MAX_DEPTH = 12  # caller chain length (Terraform's module nesting in practice is far less)

def callers_index(boundary: Path) -> dict[str, set[str]]:
    """callee directory (real path) -> directories (real paths) whose .tf files call it locally."""
    key = os.path.realpath(boundary)
    from tagguard import safeio

    index: dict[str, set[str]] = {}
    stack = [key]
    seen_dirs: set[str] = set()
    files = 0
    while stack and files < MAX_FILES:
        current = stack.pop()
        if current in seen_dirs:
            continue
        seen_dirs.add(current)
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name not in _SKIP and not name.startswith("."):
                        stack.append(entry.path)
                    continue
                if not name.endswith((".tf", ".tf.json")) or not entry.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            files += 1
            try:
                data = safeio.read_bytes(entry.path, key)
            except OSError:
                continue
            if b"source" not in data:
                continue
            pattern = _SOURCE_JSON if name.endswith(".json") else _SOURCE_HCL
            for m in pattern.finditer(data):
                try:
                    src = m.group(1).decode("utf-8")
                except UnicodeDecodeError:
                    continue
                callee = os.path.realpath(os.path.join(current, src))
                if callee != current and safeio.inside(callee, key):
                    index.setdefault(callee, set()).add(current)
    return index


def caller_chain(module_dir: str, index: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """(every directory that calls ``module_dir`` directly or through other modules, the direct callers)."""
    direct = sorted(index.get(module_dir, ()))
    out: list[str] = []
    seen = {module_dir}
    frontier = list(direct)
    depth = 0
    while frontier and depth < MAX_DEPTH:
        nxt: list[str] = []
        for d in frontier:
            if d in seen:
                continue
            seen.add(d)
            out.append(d)
            nxt.extend(sorted(index.get(d, ())))
        frontier = nxt
        depth += 1
    return out, direct


def add_callers(inv, module_dirs: list[Path], seen: set[str]) -> None:
    """Add the caller modules of each changed module to ``inv`` and record, on the inventory,
    which directories were added only as callers (``tf_caller_dirs``) and what was searched
    for each changed module (``tf_focus``: rel dir -> {callers, searched, boundary})."""
    from tagguard.safeio import scan_boundary

    root = Path(os.path.realpath(inv.root))
    original_dirs = {_dirname(f) for f in inv.files if f.endswith(TF_SIBLINGS)}  # Terraform the user named
    focus: dict[str, dict] = dict(getattr(inv, "tf_focus", {}) or {})
    added: set[str] = set(getattr(inv, "tf_caller_dirs", set()) or set())
    indexes: dict[str, dict[str, set[str]]] = {}  # one walk per repository per scan (files change between scans)
    for module_dir in dict.fromkeys(os.path.realpath(d) for d in module_dirs):
        rel_module = _rel(module_dir, root)
        boundary = scan_boundary(module_dir)
        in_git = (Path(boundary) / ".git").exists() or os.path.lexists(os.path.join(boundary, ".git"))
        info = {"callers": [], "searched": in_git, "boundary": str(boundary)}
        focus[rel_module] = info
        if not in_git:
            continue  # outside a repository there is no "up to the repository root" to search
        if str(boundary) not in indexes:
            indexes[str(boundary)] = callers_index(Path(boundary))
        chain, direct = caller_chain(module_dir, indexes[str(boundary)])
        info["callers"] = [_rel(d, root) for d in direct]
        for caller in chain:
            rel_dir = _rel(caller, root)
            if rel_dir not in original_dirs:
                added.add(rel_dir)
            prefix = "" if rel_dir == "." else rel_dir + "/"
            try:
                names = sorted(os.listdir(caller))
            except OSError:
                continue
            for name in names:
                if name.endswith(TF_SIBLINGS) and os.path.isfile(os.path.join(caller, name)):
                    rel = prefix + name
                    if rel not in seen:
                        seen.add(rel)
                        inv.files.append(rel)
    inv.tf_focus = focus
    inv.tf_caller_dirs = added


def _rel(path: str, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return Path(path).as_posix()


def _dirname(rel: str) -> str:
    idx = rel.rfind("/")
    return rel[:idx] if idx >= 0 else "."


def uncalled_note(rel_dir: str, info: dict | None, inst, unknown_vars: list[tuple[str, str, int]]):
    """The info finding for a changed module that nothing in the repository calls."""
    from tagguard.model import INFO, Finding

    if info is None:
        return None
    names = ", ".join(f"var.{n}" for n, _f, _l in unknown_vars[:6]) + (" ..." if len(unknown_vars) > 6 else "")
    where = ("no module in the repository calls it (searched every .tf file up to the git top-level)"
             if info.get("searched") else "it is not inside a git repository, so its callers were not searched")
    file, line = (unknown_vars[0][1], unknown_vars[0][2]) if unknown_vars else (None, None)
    return Finding(
        rule="uncalled-module", category="uncalled_module", severity=INFO, file=file, line=line,
        address=None,
        message=(f"module {rel_dir}: {where}; it is scanned as a root module, and "
                 + (f"its inputs {names} have no value" if len(unknown_vars) > 1
                    else f"its input {names} has no value")),
        fix="scan the root module that calls it, or give the inputs with --var / --var-file")
