"""Locate shipped data files (policies/, schemas/) in a wheel or a source checkout."""
from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def data_file(relpath: str) -> Path:
    """Path of a shipped data file such as ``schemas/config.schema.json``.

    A wheel carries ``policies/`` and ``schemas/`` inside the package as
    ``tagguard/_data/`` (found with ``importlib.resources``); an editable
    install or a source checkout reads them from the repository root.
    """
    here = Path(__file__).resolve().parent
    try:
        from importlib.resources import files

        packaged = Path(str(files("tagguard") / "_data" / relpath))
    except (ImportError, TypeError, ModuleNotFoundError):  # pragma: no cover - Python < 3.9 or odd loaders
        packaged = here / "_data" / relpath
    if packaged.exists():
        return packaged
    checkout = here.parent.parent / relpath
    if checkout.exists():
        return checkout
    raise FileNotFoundError(f"tagguard data file {relpath!r} is missing from this installation")
