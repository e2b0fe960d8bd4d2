"""The one way to read data shipped with tagguard.

Two kinds of shipped data:

* ``policies/`` and ``schemas/`` (top level in the repository; a wheel carries them inside the
  package as ``tagguard/_data/``): :func:`data_file`, :func:`read_text`;
* data files that live next to the code inside the package (``sources/terraform/kinds.yaml``,
  ``_checkov/tagguard_checks.py``...): :func:`package_file`, :func:`package_text`.

Both find the package's directory (from its module spec when it was imported from a directory, else
through ``importlib.resources``); a source checkout or an editable install, which has no
``tagguard/_data``, falls back to the repository root. Nothing else in tagguard builds a path to
shipped data from ``__file__``.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

DATA_DIRS = ("policies", "schemas")


def _package_root(package: str) -> Path:
    """The directory of a tagguard package.  A package imported from a directory on disk (a checkout, an
    editable install, an unpacked wheel: nearly every run) names it in its module spec; anything else (a
    zip import) goes through ``importlib.resources``, whose import alone (tempfile, shutil, zipfile, lzma,
    bz2...) costs a scan more than reading every shipped file it needs."""
    import os
    from importlib import import_module

    spec = getattr(import_module(package), "__spec__", None)
    locations = list(getattr(spec, "submodule_search_locations", None) or ())
    if len(locations) == 1 and spec.has_location and os.path.isdir(locations[0]):  # type: ignore[union-attr]
        return Path(locations[0])
    from importlib.resources import files

    return Path(str(files(package)))


@cache
def data_file(relpath: str) -> Path:
    """Path of a shipped data file such as ``schemas/config.schema.json`` (or the directory ``schemas``)."""
    top = relpath.replace("\\", "/").split("/", 1)[0]
    if top not in DATA_DIRS or ".." in relpath.replace("\\", "/").split("/"):
        raise ValueError(f"not a shipped data path: {relpath!r} (expected under {' or '.join(DATA_DIRS)}/)")
    here = _package_root("tagguard")
    packaged = here / "_data" / relpath
    if packaged.exists():
        return packaged
    checkout = here.parent.parent / relpath
    if checkout.exists():
        return checkout
    raise FileNotFoundError(f"tagguard data file {relpath!r} is missing from this installation")


def read_text(relpath: str) -> str:
    """Text of a shipped data file under ``policies/`` or ``schemas/``."""
    return data_file(relpath).read_text(encoding="utf-8")


def package_file(package: str, name: str) -> Path:
    """Path of a data file shipped inside a tagguard package, e.g. ``("tagguard.sources.terraform", "kinds.yaml")``."""
    if not package.startswith("tagguard") or "/" in name or "\\" in name or name in ("", ".", ".."):
        raise ValueError(f"not a tagguard package data file: {package}:{name}")
    path = _package_root(package) / name
    if not path.exists():
        raise FileNotFoundError(f"tagguard data file {package}:{name} is missing from this installation")
    return path


def package_text(package: str, name: str) -> str:
    return package_file(package, name).read_text(encoding="utf-8")
