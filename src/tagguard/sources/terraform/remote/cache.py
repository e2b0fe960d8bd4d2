"""The module cache: ``$XDG_CACHE_HOME/tagguard/modules/<sha256 of source + version>/``.

An entry is ``meta.json`` (source, version constraint, resolved version, URL, time) and
``tree/`` (the downloaded repository or archive; the module is ``tree/<subdir>``).  An entry is
built in a temporary sibling directory and renamed into place in one step, so a reader sees a
whole entry or none; two runs racing keep the first.  Later runs read entries without network.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from tagguard.safeio import sha256_hex

META = "meta.json"
TREE = "tree"


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tagguard" / "modules"


def key_of(source: str, version: str | None) -> str:
    # safeio's SHA-256: hashlib's digest without loading OpenSSL on every Terraform scan (~12 M instructions)
    return sha256_hex(f"{source.strip()}\n{(version or '').strip()}".encode())[:40]


class ModuleCache:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else default_root()

    def entry(self, source: str, version: str | None) -> Path:
        return self.root / key_of(source, version)

    def lookup(self, source: str, version: str | None) -> dict[str, Any] | None:
        """The entry's metadata (with ``tree``: its directory) or None when not cached."""
        entry = self.entry(source, version)
        try:
            with open(entry / META, "rb") as fh:
                meta = json.loads(fh.read(1 << 20))
        except (OSError, ValueError):
            return None
        tree = entry / TREE
        if not isinstance(meta, dict) or not tree.is_dir():
            return None
        meta["tree"] = tree
        return meta

    def store(self, source: str, version: str | None, fill: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
        """Build an entry with ``fill(tree_dir) -> metadata`` and move it into place atomically."""
        import shutil  # here, not at the top: every Terraform scan imports this module, few store anything
        import tempfile

        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            tree = tmp / TREE
            tree.mkdir()
            meta = dict(fill(tree))
            meta.update({"source": source, "version_constraint": version, "fetched_at": int(time.time())})
            with open(tmp / META, "w", encoding="utf-8") as fh:
                json.dump(meta, fh, indent=1, sort_keys=True)
            final = self.entry(source, version)
            try:
                os.rename(tmp, final)
            except OSError:
                if not (final / META).is_file():
                    raise
                # another run stored it first: keep theirs
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        found = self.lookup(source, version)
        if found is None:
            raise OSError(f"cache entry {final} could not be written")
        return found
