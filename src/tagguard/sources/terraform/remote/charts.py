"""Helm charts of ``helm_release`` fetched from their repository (opt-in), cached for offline runs.

The same switch as remote modules (``--fetch-modules`` or ``modules.fetch: true`` in a trusted config),
with its own allowlist: ``modules.chart_hosts`` (default: none, so turning module downloads on asks no
chart host until the runner names one).  Three kinds of chart reference:

- an HTTP(S) chart repository (``repository = "https://host/path"``, ``chart = "name"``): its
  ``index.yaml`` (at most ``MAX_INDEX_BYTES``, parsed with the safe YAML loader and its depth and alias
  limits), the version Helm would pick (``semver.select``), the chart archive at the entry's first URL
  (relative to the repository, or absolute: then its host must be allowed too), checked against the
  entry's ``digest`` when it has one;
- an OCI registry (``repository = "oci://host/path"`` + ``chart``, or ``chart = "oci://host/path/name"``):
  a pull over the registry HTTP API v2 (a bearer token from the realm of ``WWW-Authenticate``
  when the registry asks; the realm's host must be allowed; anonymous unless the runner's environment
  holds a credential for the host asked, ``credentials.py``), the tags listed when ``version`` is a
  constraint rather than a version, the manifest, its ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``
  layer, verified against its sha256 digest;
- a chart archive URL (``chart = "https://host/x-1.0.0.tgz"``).

Every archive is unpacked by ``archive.unpack`` (no links, no ``..``, size and member budget).  Entries
are kept by repository + chart + version under ``$XDG_CACHE_HOME/tagguard/charts`` (``modules.chart_cache_dir``
or ``$TAGGUARD_CHART_CACHE`` move it), built in a temporary directory and renamed into place; later runs
read them without network.  Every request is logged (``tagguard: charts: GET ...``).
See docs/remote-modules.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode, urljoin, urlsplit

from tagguard.sources.terraform.remote.credentials import Credentials
from tagguard.sources.terraform.remote.http import FetchError, host_allowed, is_loopback

DEFAULT_CHART_HOSTS: tuple[str, ...] = ()
ALLOWLIST = "modules.chart_hosts"
MAX_INDEX_BYTES = 32 << 20
MAX_CHART_BYTES = 64 << 20
MAX_MANIFEST_BYTES = 4 << 20
MAX_TOKEN_BYTES = 1 << 20
CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_TYPES = "application/vnd.oci.image.manifest.v1+json"
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class ChartRef:
    kind: str  # repo | oci | url
    repository: str  # https://host/path (repo), host/path of the OCI repository (oci), the archive URL (url)
    chart: str  # chart name ("" for url)
    version: str  # the release's version constraint ("" = the newest release)
    devel: bool = False

    @property
    def host(self) -> str:
        return (urlsplit(self.repository).netloc if self.kind != "oci" else self.repository.split("/", 1)[0]).lower()

    @property
    def label(self) -> str:
        """``host/path/chart@version`` for file names shown to people (never the user's cache path)."""
        base = re.sub(r"^[a-z]+://", "", self.repository).rstrip("/")
        name = f"{base}/{self.chart}" if self.chart else base
        return f"{name}@{self.version or 'latest'}"


def parse_ref(repository: str | None, chart: str, version: str | None, devel: bool = False) -> ChartRef:
    """What the ``helm_release``'s ``repository`` / ``chart`` / ``version`` point at; ``FetchError`` when
    it is not something tagguard fetches (a local repository alias, ssh, a file URL...)."""
    version = (version or "").strip()
    chart = chart.strip()
    repo = (repository or "").strip()
    if not repo:
        if chart.startswith("oci://"):
            path = chart[len("oci://"):].strip("/")
            return ChartRef("oci", _oci_repository(path, chart), "", version, devel)
        if re.match(r"^https?://", chart, re.I):
            return ChartRef("url", chart, "", version, devel)
        raise FetchError(f"chart {chart[:200]!r} names no repository")
    if repo.startswith("oci://"):
        if "/" in chart or not chart:
            raise FetchError(f"chart {chart[:200]!r} is not a chart name of OCI repository {repo[:200]}")
        path = repo[len("oci://"):].strip("/") + "/" + chart
        return ChartRef("oci", _oci_repository(path, repo), "", version, devel)
    if not re.match(r"^https?://", repo, re.I):
        raise FetchError(f"repository {repo[:200]!r} is not an https:// chart repository or an oci:// registry "
                         "(a `helm repo add` alias or a file path is not fetched)")
    if not chart or "/" in chart or chart in (".", ".."):
        raise FetchError(f"chart {chart[:200]!r} is not a chart name")
    return ChartRef("repo", repo.rstrip("/"), chart, version, devel)


def _oci_repository(path: str, given: str) -> str:
    host, _, name = path.partition("/")
    if not host or not name or not _NAME.match(name) or len(name) > 255:
        raise FetchError(f"{given[:200]!r} is not an OCI reference host/repository")
    if ":" in name or "@" in name:
        raise FetchError(f"{given[:200]!r}: put the version in `version`, not in the reference")
    return f"{host.lower()}/{name}"


def _stderr_log(message: str) -> None:
    from tagguard.formats.escape import term

    print(f"tagguard: charts: {term(message)}", file=sys.stderr)


def default_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tagguard" / "charts"


class RemoteCharts:
    """Finds (and, when fetching is on, downloads) charts of ``helm_release`` blocks."""

    def __init__(self, fetch: bool = False, allowed_hosts: list[str] | None = None,
                 cache_root: Path | None = None, log: Callable[[str], None] | None = None,
                 credentials: Credentials | None = None):
        from tagguard.sources.terraform.remote.cache import ModuleCache

        self.fetch = fetch
        self.allowed = [str(h).lower() for h in (DEFAULT_CHART_HOSTS if allowed_hosts is None else allowed_hosts)]
        # TAGGUARD_CHART_TOKEN_<host> / TAGGUARD_CHART_BASIC_<host> of the runner's environment (trusted)
        self.credentials = credentials if credentials is not None else \
            Credentials.from_environment(os.environ, kind="charts")
        self.cache = ModuleCache(cache_root if cache_root is not None else default_root())
        self.log = log or _stderr_log
        self._done: dict[ChartRef, tuple[Path | None, str | None, dict[str, Any]]] = {}
        self._indexes: dict[str, RepoIndex | FetchError] = {}  # one download of a repository's index per run
        self.downloads = 0

    def chart_dir(self, ref: ChartRef) -> tuple[Path | None, str | None, dict[str, Any]]:
        """(chart directory, None, cache metadata) or (None, why it is not available, {})."""
        if ref not in self._done:
            self._done[ref] = self._chart_dir(ref)
        return self._done[ref]

    def _chart_dir(self, ref: ChartRef) -> tuple[Path | None, str | None, dict[str, Any]]:
        hostname, _, port = ref.host.rpartition("@")[2].partition(":")
        if not host_allowed(hostname, int(port) if port.isdigit() else None, self.allowed):
            return None, (f"host {ref.host} is not allowed ({ALLOWLIST}: {', '.join(self.allowed) or 'none'}); "
                          f"add it to {ALLOWLIST} in the user-level config or a --config file"), {}
        source = f"{ref.kind}:{ref.repository} {ref.chart}"
        constraint = ref.version + (" devel" if ref.devel else "")
        meta = self.cache.lookup(source, constraint)
        if meta is None:
            if not self.fetch:
                return None, "it is not in the chart cache either (scan once with --fetch-modules to fill it)", {}
            try:
                meta = self.cache.store(source, constraint, lambda tree: self._download(ref, tree))
            except FetchError as exc:
                return None, f"download failed: {exc}", {}
            except OSError as exc:
                return None, f"the chart cache {self.cache.root} cannot be written: {exc}", {}
            self.downloads += 1
            self.log(f"cached {ref.label} ({meta.get('resolved_version')}) in {Path(meta['tree']).parent}")
        tree = Path(meta["tree"])
        sub = str(meta.get("chart_dir") or ".")
        target = os.path.realpath(tree / sub)
        if not (target == os.path.realpath(tree) or target.startswith(os.path.realpath(tree) + os.sep)) \
                or not os.path.isfile(os.path.join(target, "Chart.yaml")):
            return None, f"the cached chart {ref.label} is damaged (no Chart.yaml); delete {tree.parent}", {}
        return Path(target), None, meta

    # -- downloading ----------------------------------------------------------------
    def _get(self, url: str, limit: int,
             headers: dict[str, str] | None = None) -> tuple[str, int, dict[str, str], bytes]:
        from tagguard.sources.terraform.remote.http import get

        return get(url, self.allowed, limit, self.log, headers, allowlist=ALLOWLIST, credentials=self.credentials)

    def _download(self, ref: ChartRef, tree: Path) -> dict[str, Any]:
        if ref.kind == "repo":
            version, url, digest, data = self._from_repository(ref)
        elif ref.kind == "oci":
            version, url, digest, data = self._from_registry(ref)
        else:
            url = ref.repository
            final, status, _h, data = self._get(url, MAX_CHART_BYTES)
            if status != 200:
                raise FetchError(f"GET {url[:200]} answered {status}" + self._hint(status, url))
            version, digest = ref.version or "", ""
        from tagguard.sources.terraform.remote import archive

        archive.unpack(data, "chart.tgz", tree)
        return {"repository": ref.repository, "chart": ref.chart, "resolved_version": version, "url": url,
                "digest": digest, "bytes": len(data), "chart_dir": _find_chart(tree)}

    def _from_repository(self, ref: ChartRef) -> tuple[str, str, str, bytes]:
        from tagguard.sources.terraform.remote import semver

        index_url = ref.repository + "/index.yaml"
        entries = self._index(index_url).versions_of(ref.chart)
        if not entries:
            raise FetchError(f"chart {ref.chart!r} is not in {index_url[:200]}")
        if not isinstance(entries, list):
            raise FetchError(f"{index_url[:200]}: the entry of chart {ref.chart!r} is not a list of versions")
        by_version: dict[str, dict[str, Any]] = {}
        for e in entries:
            if isinstance(e, dict) and isinstance(e.get("version"), str):
                by_version.setdefault(e["version"], e)
        try:
            chosen = semver.select(list(by_version), ref.version, ref.devel)
        except semver.SemverError as exc:
            raise FetchError(f"version {ref.version[:80]!r}: {exc}") from None
        if chosen is None:
            raise FetchError(f"no version of chart {ref.chart!r} in {index_url[:200]} satisfies "
                             f"{ref.version or 'the newest release'!r}")
        entry = by_version[chosen]
        urls = entry.get("urls")
        if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
            raise FetchError(f"{index_url[:200]}: chart {ref.chart} {chosen} has no download URL")
        url = urljoin(ref.repository + "/", urls[0].strip())
        _final, status, _h, data = self._get(url, MAX_CHART_BYTES)
        if status != 200:
            raise FetchError(f"GET {url[:200]} answered {status}" + self._hint(status, url))
        digest = entry.get("digest")
        got = hashlib.sha256(data).hexdigest()
        if isinstance(digest, str) and digest.strip():
            want = digest.strip().lower().removeprefix("sha256:")
            if want != got:
                raise FetchError(f"{url[:200]}: sha256 {got} does not match the index's digest {want[:64]}; refused")
        return chosen, url, got, data

    def _index(self, index_url: str) -> RepoIndex:
        """A repository's index, downloaded once per run (a failure too is remembered)."""
        if index_url not in self._indexes:
            try:
                _final, status, _h, body = self._get(index_url, MAX_INDEX_BYTES)
                if status != 200:
                    raise FetchError(f"GET {index_url[:200]} answered {status}" + self._hint(status, index_url))
                self._indexes[index_url] = RepoIndex(body, index_url)
            except FetchError as exc:
                self._indexes[index_url] = exc
        got = self._indexes[index_url]
        if isinstance(got, FetchError):
            raise FetchError(str(got))
        return got

    def _hint(self, status: int, url: str) -> str:
        from tagguard.sources.terraform.remote.credentials import CHART_TOKEN_PREFIX, hint

        return hint(status, url, self.credentials, CHART_TOKEN_PREFIX)

    # -- OCI ------------------------------------------------------------------------
    def _from_registry(self, ref: ChartRef) -> tuple[str, str, str, bytes]:
        from tagguard.sources.terraform.remote import semver

        host, name = ref.repository.split("/", 1)
        scheme = "http" if is_loopback(host.rsplit(":", 1)[0] if not host.startswith("[") else host) else "https"
        base = f"{scheme}://{host}/v2/{name}"
        auth = _Auth(self, name)
        tag = ""
        if ref.version:
            try:
                semver.Version(ref.version)
                tag = ref.version
            except semver.SemverError:
                tag = ""
        if not tag:
            listed = [t.replace("_", "+") for t in _tags(auth, f"{base}/tags/list")]
            try:
                tag = semver.select(listed, ref.version, ref.devel) or ""
            except semver.SemverError as exc:
                raise FetchError(f"version {ref.version[:80]!r}: {exc}") from None
            if not tag:
                raise FetchError(f"no tag of {ref.repository} satisfies {ref.version or 'the newest release'!r}")
        oci_tag = tag.replace("+", "_")
        if not _TAG.match(oci_tag):
            raise FetchError(f"{tag[:80]!r} is not an OCI tag")
        url = f"{base}/manifests/{quote(oci_tag)}"
        status, hdrs, body = auth.get(url, MAX_MANIFEST_BYTES, {"Accept": MANIFEST_TYPES})
        if status != 200:
            raise FetchError(f"GET {url[:200]} answered {status}")
        said = hdrs.get("docker-content-digest", "").strip().lower()
        if said and _DIGEST.match(said) and said != "sha256:" + hashlib.sha256(body).hexdigest():
            raise FetchError(f"{url[:200]}: the manifest does not match its Docker-Content-Digest {said}; refused")
        try:
            manifest = json.loads(body)
            layers = [x for x in manifest.get("layers") or [] if isinstance(x, dict)]
        except (ValueError, AttributeError):
            raise FetchError(f"{url[:200]} is not an OCI image manifest") from None
        charts = [x for x in layers if x.get("mediaType") == CHART_LAYER]
        if len(charts) != 1:
            raise FetchError(f"{url[:200]}: the manifest has {len(charts)} Helm chart layers ({CHART_LAYER}), not one")
        digest = str(charts[0].get("digest") or "").lower()
        if not _DIGEST.match(digest):
            raise FetchError(f"{url[:200]}: the chart layer's digest {digest[:80]!r} is not a sha256 digest")
        blob = f"{base}/blobs/{digest}"
        status, _h, data = auth.get(blob, MAX_CHART_BYTES)
        if status != 200:
            raise FetchError(f"GET {blob[:200]} answered {status}")
        if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise FetchError(f"{blob[:200]}: the chart layer does not match its digest; refused")
        return tag, f"oci://{ref.repository}:{tag}", digest, data


MAX_TAG_PAGES = 50
_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?', re.I)


def _tags(auth: _Auth, url: str) -> list[str]:
    """Every tag of the repository, following the ``Link: <...>; rel="next"`` pages (at most ``MAX_TAG_PAGES``)."""
    tags: list[str] = []
    for _page in range(MAX_TAG_PAGES):
        status, hdrs, body = auth.get(url, MAX_MANIFEST_BYTES)
        if status != 200:
            raise FetchError(f"GET {url[:200]} answered {status}")
        try:
            page = json.loads(body).get("tags") or []
        except (ValueError, AttributeError):
            raise FetchError(f"{url[:200]} is not a JSON tag list") from None
        tags.extend(t for t in page if isinstance(t, str))
        m = _NEXT.search(hdrs.get("link", ""))
        if m is None:
            return tags
        url = urljoin(url, m.group(1))
    raise FetchError(f"{url[:200]}: more than {MAX_TAG_PAGES} pages of tags")


class _Auth:
    """Registry access (anonymous, or with the runner's credential of each request's own host): a request
    answered 401 with ``WWW-Authenticate: Bearer realm=...`` is repeated once with a pull token from the
    realm (whose host must be allowed too)."""

    def __init__(self, owner: RemoteCharts, name: str):
        self.owner = owner
        self.name = name
        self.token: str | None = None

    def get(self, url: str, limit: int, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            h = dict(headers or {})
            if self.token:
                h["Authorization"] = f"Bearer {self.token}"
            _final, status, hdrs, body = self.owner._get(url, limit, h)
            if status != 401 or attempt or self.token:
                return status, hdrs, body
            self.token = self._token(hdrs.get("www-authenticate", ""), url)
        return status, hdrs, body

    def _token(self, challenge: str, url: str) -> str:
        if not challenge.lower().startswith("bearer "):
            raise FetchError(f"{url[:200]} needs credentials ({challenge[:80] or 'no WWW-Authenticate'})"
                             + self.owner._hint(401, url))
        params = dict(re.findall(r'([A-Za-z]+)="([^"]*)"', challenge[7:]))
        realm = params.get("realm", "")
        if not realm:
            raise FetchError(f"{url[:200]}: WWW-Authenticate names no realm")
        query = {k: v for k, v in (("service", params.get("service")),
                                   ("scope", params.get("scope") or f"repository:{self.name}:pull")) if v}
        token_url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        _final, status, _h, body = self.owner._get(token_url, MAX_TOKEN_BYTES)
        if status != 200:
            raise FetchError(f"the registry's token endpoint {realm[:200]} answered {status}"
                             + self.owner._hint(status, token_url))
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token or len(token) > 64 << 10 or not token.isprintable():
            raise FetchError(f"the registry's token endpoint {realm[:200]} gave no token")
        return token


_ENTRIES = re.compile(r"^entries:[ \t]*\r?$", re.M)
_TOP_LEVEL = re.compile(r"^[^\s#]", re.M)
_NEXT_CHART = re.compile(r"^(?:  )?[^\s#-]", re.M)
# the line after `entries:`: a chart key, then its list
_FIRST_CHART = re.compile(r"\r?\n  [^\s#-][^\n]*:[ \t]*\r?\n {2,4}- ")


class RepoIndex:
    """A chart repository's ``index.yaml``.  Only the asked chart's versions are parsed when the index has
    the block layout Helm writes (``entries:`` / two-space ``  name:`` keys): public indexes run to tens of
    MB, and YAML-loading all of it costs about a second per MB.  Any other layout is parsed whole.  Either
    way: the safe loader with the depth and alias limits, every problem one ``FetchError`` line with the
    index's line number."""

    def __init__(self, body: bytes, where: str):
        try:
            self.text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FetchError(f"{where[:200]} is not UTF-8 text") from None
        self.where = where
        self._whole: dict[str, Any] | None = None

    def versions_of(self, chart: str) -> Any:
        block = self._block(chart)
        if isinstance(block, tuple):
            first_line, part = block
            return _entries("entries:\n" + part, self.where, first_line - 2).get(chart)
        if block == "absent":
            return None
        if self._whole is None:
            self._whole = _entries(self.text, self.where, 0)
        return self._whole.get(chart)

    def _block(self, chart: str) -> tuple[int, str] | str | None:
        """(line number, text) of ``  <chart>:`` and its list in Helm's layout; "absent" when the index
        has that layout without the chart; None for another layout."""
        top = _ENTRIES.search(self.text)
        if top is None or not _FIRST_CHART.match(self.text, top.end()):
            return None
        end_m = _TOP_LEVEL.search(self.text, top.end())
        end = end_m.start() if end_m else len(self.text)
        names = "|".join(re.escape(q) for q in (chart, f'"{chart}"', f"'{chart}'"))
        key = re.compile(rf"^  (?:{names}):[ \t]*\r?$", re.M).search(self.text, top.end(), end)
        if key is None:
            return "absent"
        stop = _NEXT_CHART.search(self.text, key.end(), end)
        last = stop.start() if stop is not None else end
        return self.text.count("\n", 0, key.start()) + 1, self.text[key.start():last]


def _entries(text: str, where: str, offset: int) -> dict[str, Any]:
    """``entries`` of index text; ``offset``: lines before ``text`` in the index (for messages)."""
    import yaml

    from tagguard import yamlio

    try:
        doc = yamlio.load(text)
    except yamlio.YamlDepthError as exc:
        raise FetchError(f"{where[:200]}:{exc.line + offset}: {exc}") from None
    except yamlio.YamlBombError as exc:
        raise FetchError(f"{where[:200]}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1 + offset}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FetchError(f"{where[:200]}{line}: not valid YAML ({problem})") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise FetchError(f"{where[:200]}: not read ({type(exc).__name__})") from None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, dict):
        raise FetchError(f"{where[:200]} is not a Helm repository index (no `entries` map)")
    return entries


def read_index(body: bytes, where: str) -> dict[str, Any]:
    """All ``entries`` of an index, parsed whole."""
    return _entries(RepoIndex(body, where).text, where, 0)


def _find_chart(tree: Path) -> str:
    """The chart's directory inside the unpacked archive: ``.`` or the one top-level directory with Chart.yaml."""
    if (tree / "Chart.yaml").is_file():
        return "."
    found = sorted(p.name for p in tree.iterdir() if p.is_dir() and (p / "Chart.yaml").is_file())
    if len(found) != 1:
        raise FetchError(f"the archive holds {len(found)} charts at its top level"
                         f" (a directory with Chart.yaml), not one")
    return found[0]


def from_options(config: Any, fetch_flag: bool) -> RemoteCharts:
    """Settings from the trusted config's ``modules`` section (``chart_hosts``, ``chart_cache_dir``) and
    ``--fetch-modules``."""
    section: dict[str, Any] = {}
    if config is not None:
        try:
            section = config.section("modules") or {}
        except Exception:  # noqa: BLE001 - no modules section
            section = {}
    hosts = section.get("chart_hosts")
    cache_dir = section.get("chart_cache_dir") or os.environ.get("TAGGUARD_CHART_CACHE")
    return RemoteCharts(fetch=bool(fetch_flag or section.get("fetch")),
                        allowed_hosts=[str(h) for h in hosts] if isinstance(hosts, list) else None,
                        cache_root=Path(cache_dir) if cache_dir else None)
