"""Remote Terraform modules: opt-in download into the user cache, offline reads afterwards.

Off unless ``--fetch-modules`` or ``modules.fetch: true`` in a trusted config (the user-level
config or ``--config``; a scanned repository's own ``.tagguard.yaml`` may not set ``modules``).
Only hosts on ``modules.allowed_hosts`` (default: registry.terraform.io, github.com) are asked,
over HTTPS (plain http only to a loopback address), every request logged to stderr.  What was
downloaded stays in ``$XDG_CACHE_HOME/tagguard/modules`` and is read from there by every later
run, with or without the flag: later scans (pre-commit hooks included) are offline.
See docs/remote-modules.md.
"""
from __future__ import annotations

import glob
import os
import posixpath
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tagguard.sources.terraform.remote.http import FetchError, host_allowed

if TYPE_CHECKING:  # pragma: no cover
    from tagguard.sources.terraform.remote.credentials import Credentials

DEFAULT_ALLOWED_HOSTS = ("registry.terraform.io", "github.com")
MAX_ARCHIVE_BYTES = 256 << 20


class Getter:
    """How a module source is fetched.  A plain slotted class: it lives inside one download, nothing compares or
    prints it, and a dataclass costs every scan (this package is imported by each) its generated methods."""

    __slots__ = ("kind", "url", "host", "subdir", "ref")

    def __init__(self, kind: str, url: str, host: str, subdir: str = "", ref: str | None = None):
        self.kind = kind  # registry | git | archive | http
        self.url = url  # registry address, or clone / download URL (without //subdir and ref)
        self.host = host  # host[:port] asked first
        self.subdir = subdir
        self.ref = ref


def _split_subdir(url: str) -> tuple[str, str]:
    """go-getter's ``URL//subdir?query`` -> (``URL?query``, subdir)."""
    query = ""
    if "?" in url:
        url, query = url.split("?", 1)
        query = "?" + query
    start = url.find("://")
    start = start + 3 if start >= 0 else 0
    idx = url.find("//", start)
    if idx < 0:
        return url + query, ""
    return url[:idx] + query, url[idx + 2:].strip("/")


def classify(source: str) -> Getter:
    """What kind of source ``source`` is; ``FetchError`` for kinds that are never fetched."""
    from tagguard.sources.terraform.remote import registry

    s = source.strip()
    addr = registry.parse(s)
    if addr is not None:
        return Getter("registry", s, addr.host, addr.subdir)
    forced = ""
    m = re.match(r"^([A-Za-z0-9]+)::(.*)$", s)
    if m:
        forced, s = m.group(1).lower(), m.group(2)
        if forced not in ("git", "http", "https"):
            raise FetchError(f"{forced}:: sources are not fetched (only registry, git over https and https archives)")
    if s.startswith("git@") or s.startswith("ssh://") or forced == "git" and s.startswith("ssh:"):
        raise FetchError("git over ssh is not fetched (only https); use a git::https:// source")
    if re.match(r"^(github\.com|bitbucket\.org)/", s):
        s = "https://" + s
        if not forced:
            forced = "git"
    if not re.match(r"^https?://", s):
        raise FetchError("it is not a registry address, a git::https:// URL, github.com/... or an https archive URL")
    url, subdir = _split_subdir(s)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ref = next((v for k, v in query if k == "ref"), None)
    archive = next((v for k, v in query if k == "archive"), None)
    rest = [(k, v) for k, v in query if k not in ("ref", "depth", "archive")]
    clean = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    path = parts.path.lower()
    if forced == "git" or path.endswith(".git"):
        if forced == "git" and re.match(r"^/[^/]+/[^/]+/?$", parts.path) and parts.netloc.lower() == "github.com" \
                and not path.endswith(".git"):
            clean = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + ".git", "", ""))
        return Getter("git", clean, parts.netloc.lower(), subdir, ref)
    if archive or path.endswith((".zip", ".tar.gz", ".tgz", ".tar")):
        return Getter("archive", clean if not archive else clean + "#." + archive, parts.netloc.lower(), subdir)
    return Getter("http", clean, parts.netloc.lower(), subdir)


def _stderr_log(message: str) -> None:
    from tagguard.formats.escape import term

    print(f"tagguard: modules: {term(message)}", file=sys.stderr)


class RemoteModules:
    """Finds (and, when fetching is on, downloads) remote module sources."""

    def __init__(self, fetch: bool = False, allowed_hosts: list[str] | None = None,
                 cache_root: Path | None = None, log: Callable[[str], None] | None = None,
                 credentials: Credentials | None = None):
        from tagguard.sources.terraform.remote.cache import ModuleCache
        from tagguard.sources.terraform.remote.credentials import Credentials

        self.fetch = fetch
        self.allowed = [str(h).lower() for h in (DEFAULT_ALLOWED_HOSTS if allowed_hosts is None else allowed_hosts)]
        # TF_TOKEN_<host> of the runner's environment (trusted; never from the scanned repository)
        self.credentials = credentials if credentials is not None else \
            Credentials.from_environment(os.environ, kind="modules")
        self.cache = ModuleCache(cache_root)
        self.log = log or _stderr_log
        self._done: dict[tuple[str, str], tuple[Path | None, str | None]] = {}
        self.downloads = 0
        self._labels: dict[str, str] = {}

    @property
    def cache_root(self) -> Path:
        return self.cache.root

    def rel_of(self, rel: Callable[[Path], str]) -> Callable[[Path], str]:
        """``rel`` for file names in findings, with files of the cache shown as
        ``~module-cache/<source>@<version>/<path>`` (not the user's cache path)."""
        def show(path: Path) -> str:
            entry = self.entry_of(path)
            if entry is None:
                return rel(path)
            label = self._labels.get(entry)
            if label is None:
                meta = None
                try:
                    import json

                    with open(os.path.join(entry, "meta.json"), "rb") as fh:
                        meta = json.loads(fh.read(1 << 20))
                except (OSError, ValueError):
                    pass
                meta = meta if isinstance(meta, dict) else {}
                version = meta.get("resolved_version") or meta.get("version_constraint") or ""
                label = re.sub(r"://|::", "/", str(meta.get("source") or os.path.basename(entry)))
                label = f"{label}@{version}" if version else label
                self._labels[entry] = label
            inner = os.path.relpath(os.path.realpath(os.fspath(path)), os.path.join(entry, "tree"))
            return f"~module-cache/{label}/{Path(inner).as_posix()}"
        return show

    def entry_of(self, path) -> str | None:
        """The cache entry (its real directory) that ``path`` is inside, or None."""
        real = os.path.realpath(os.fspath(path))
        root = os.path.realpath(self.cache.root) + os.sep
        if not real.startswith(root):
            return None
        return root + real[len(root):].split(os.sep, 1)[0]

    def module_dir(self, source: str, version: str | None) -> tuple[Path | None, str | None]:
        """(directory of the module, None) or (None, why it is not available)."""
        key = (source, version or "")
        if key not in self._done:
            self._done[key] = self._module_dir(source, version)
        return self._done[key]

    def _module_dir(self, source: str, version: str | None) -> tuple[Path | None, str | None]:
        try:
            getter = classify(source)
        except FetchError as exc:
            return None, f"its source cannot be fetched: {exc}"
        host = getter.host.rsplit("@", 1)[-1]
        hostname, _, port = host.partition(":") if not host.startswith("[") else (host, "", "")
        if not host_allowed(hostname, int(port) if port.isdigit() else None, self.allowed):
            return None, (f"host {host} is not allowed (modules.allowed_hosts: {', '.join(self.allowed) or 'none'}); "
                          "add it to modules.allowed_hosts in the user-level config or a --config file")
        meta = self.cache.lookup(source, version)
        if meta is None:
            if not self.fetch:
                return None, "it is not in the module cache either (scan once with --fetch-modules to fill it)"
            try:
                meta = self.cache.store(source, version, lambda tree: self._download(getter, version, tree))
            except FetchError as exc:
                return None, f"download failed: {exc}"
            except OSError as exc:
                return None, f"the module cache {self.cache.root} cannot be written: {exc}"
            self.downloads += 1
            self.log(f"cached {source}" + (f" {meta.get('resolved_version')}" if meta.get("resolved_version") else "")
                     + f" in {Path(meta['tree']).parent}")
        try:
            return _subdir(Path(meta["tree"]), str(meta.get("subdir") or "")), None
        except FetchError as exc:
            return None, str(exc)

    # -- downloading ----------------------------------------------------------------
    def _download(self, getter: Getter, version: str | None, tree: Path, depth: int = 0) -> dict[str, object]:
        from tagguard.sources.terraform.remote import archive, git, registry
        from tagguard.sources.terraform.remote.http import get

        if getter.kind == "registry":
            addr = registry.parse(getter.url)
            if addr is None:  # classify() made a registry Getter only for a source that parses
                raise FetchError(f"{getter.url[:200]!r} is not a registry address")
            chosen, location = registry.resolve(addr, version, self.allowed, self.log, self.credentials)
            try:
                inner = classify(location)
            except FetchError as exc:
                raise FetchError(f"the registry points to {location[:200]!r}: {exc}") from None
            if inner.kind == "registry":
                raise FetchError(f"the registry points to another registry address {location[:200]!r}")
            meta = self._download(inner, None, tree, depth + 1)
            meta["resolved_version"] = chosen
            meta["subdir"] = posixpath.join(str(meta.get("subdir") or ""), getter.subdir).strip("/")
            return meta
        if getter.kind == "git":
            commit = git.clone(getter.url, getter.ref, tree, self.allowed, self.log)
            return {"url": getter.url, "ref": getter.ref, "commit": commit, "subdir": getter.subdir}
        url = getter.url
        name = url
        if getter.kind == "archive" and "#." in url:
            url, ext = url.rsplit("#.", 1)
            name = f"x.{ext}"
        final, status, hdrs, body = get(url, self.allowed, MAX_ARCHIVE_BYTES, self.log, credentials=self.credentials)
        if status != 200 and not (status == 204 and hdrs.get("x-terraform-get")):
            from tagguard.sources.terraform.remote.credentials import hint

            raise FetchError(f"GET {url[:200]} answered {status}" + hint(status, url, self.credentials))
        if getter.kind == "http" and hdrs.get("x-terraform-get") and depth < 2:
            from tagguard.sources.terraform.remote.registry import relative_getter

            inner = classify(relative_getter(hdrs["x-terraform-get"], final))
            meta = self._download(inner, None, tree, depth + 1)
            meta["subdir"] = posixpath.join(str(meta.get("subdir") or ""), getter.subdir).strip("/")
            return meta
        archive.unpack(body, name if getter.kind == "archive" else urlsplit(final).path, tree)
        return {"url": url, "subdir": getter.subdir, "bytes": len(body)}


def _subdir(tree: Path, subdir: str) -> Path:
    """``tree/subdir`` (one ``*`` segment may match a single directory, as go-getter allows), kept inside ``tree``."""
    clean = posixpath.normpath(subdir.replace("\\", "/")) if subdir else "."
    if clean.startswith("../") or clean == ".." or clean.startswith("/"):
        raise FetchError(f"subdirectory {subdir[:200]!r} leaves the downloaded module")
    target = tree / clean
    if "*" in clean:
        found = [p for p in glob.glob(str(tree / clean)) if os.path.isdir(p)]
        if len(found) != 1:
            raise FetchError(f"subdirectory {subdir[:200]!r} matches {len(found)} directories of the download, not one")
        target = Path(found[0])
    real, root = os.path.realpath(target), os.path.realpath(tree)
    if real != root and not real.startswith(root + os.sep):
        raise FetchError(f"subdirectory {subdir[:200]!r} leaves the downloaded module")
    if not os.path.isdir(real):
        raise FetchError(f"subdirectory {subdir[:200]!r} is not in the downloaded module")
    return Path(real)


def from_options(config, fetch_flag: bool) -> RemoteModules:
    """Settings from the trusted config's ``modules`` section and ``--fetch-modules``."""
    section: dict[str, Any] = {}
    if config is not None:
        try:
            section = config.section("modules") or {}
        except Exception:  # noqa: BLE001 - no modules section
            section = {}
    fetch = bool(fetch_flag or section.get("fetch"))
    hosts = section.get("allowed_hosts")
    cache_dir = section.get("cache_dir") or os.environ.get("TAGGUARD_MODULE_CACHE")
    return RemoteModules(fetch=fetch, allowed_hosts=list(hosts) if isinstance(hosts, list) else None,
                         cache_root=Path(cache_dir) if cache_dir else None)
