"""The Terraform module registry protocol (https://developer.hashicorp.com/terraform/internals/module-registry-protocol).

``[host/]namespace/name/provider[//subdir]``: service discovery at
``https://host/.well-known/terraform.json`` gives the ``modules.v1`` base URL; ``<base>/ns/name/provider/versions``
lists versions (``{"modules": [{"versions": [{"version": "1.2.0"}]}]}``); the newest one the
``version`` constraint allows is downloaded from ``<base>/ns/name/provider/<version>/download``,
whose ``X-Terraform-Get`` header (or JSON ``location``) is the real source, relative to that URL.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote, urljoin, urlsplit

from tagguard.sources.terraform.remote import constraints
from tagguard.sources.terraform.remote.credentials import Credentials, hint
from tagguard.sources.terraform.remote.http import FetchError, get, is_loopback

DEFAULT_HOST = "registry.terraform.io"
_LABEL = r"[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?"
_ADDR = re.compile(rf"^(?:(?P<host>[0-9A-Za-z.-]+\.[0-9A-Za-z-]+(?::\d+)?|localhost(?::\d+)?)/)?"
                   rf"(?P<ns>{_LABEL})/(?P<name>{_LABEL})/(?P<provider>[0-9a-z]{{1,64}})"
                   r"(?://(?P<sub>[^?]*))?$")
MAX_JSON = 4 << 20


@dataclass
class RegistryAddress:
    host: str
    namespace: str
    name: str
    provider: str
    subdir: str

    @property
    def path(self) -> str:
        return "/".join(quote(p, safe="") for p in (self.namespace, self.name, self.provider))


def parse(source: str) -> RegistryAddress | None:
    """A registry address, or None when ``source`` is not one (``github.com/o/r`` is a git source)."""
    m = _ADDR.match(source.strip())
    if not m:
        return None
    host = (m.group("host") or DEFAULT_HOST).lower()
    if host in ("github.com", "bitbucket.org"):
        return None
    return RegistryAddress(host, m.group("ns"), m.group("name"), m.group("provider"), (m.group("sub") or "").strip("/"))


def _json(body: bytes, what: str):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FetchError(f"{what}: not JSON ({str(exc).splitlines()[0]})") from None


def discover(host: str, allowed, log: Callable[[str], None], credentials: Credentials | None = None) -> str:
    """The ``modules.v1`` base URL of ``host`` (service discovery)."""
    scheme = "http" if is_loopback(urlsplit(f"//{host}").hostname or "") else "https"
    url = f"{scheme}://{host}/.well-known/terraform.json"
    final, status, _h, body = get(url, allowed, MAX_JSON, log, credentials=credentials)
    if status != 200:
        raise FetchError(f"{host} has no module registry (service discovery {url} answered {status})"
                         + hint(status, url, credentials))
    doc = _json(body, url)
    base = doc.get("modules.v1") if isinstance(doc, dict) else None
    if not isinstance(base, str) or not base:
        raise FetchError(f"{host} does not offer modules.v1 in {url}")
    base = urljoin(final, base)
    return base if base.endswith("/") else base + "/"


def resolve(addr: RegistryAddress, constraint: str | None, allowed, log: Callable[[str], None],
            credentials: Credentials | None = None) -> tuple[str, str]:
    """(version chosen, source to download it from: X-Terraform-Get resolved against the download URL).
    ``credentials`` (``TF_TOKEN_<host>``): each request carries the token of its own URL's host only."""
    base = discover(addr.host, allowed, log, credentials)
    url = urljoin(base, f"{addr.path}/versions")
    final, status, _h, body = get(url, allowed, MAX_JSON, log, credentials=credentials)
    if status == 404:
        raise FetchError(f"module {addr.namespace}/{addr.name}/{addr.provider} is not in the registry at {addr.host}")
    if status != 200:
        raise FetchError(f"version listing {url} answered {status}" + hint(status, url, credentials))
    doc = _json(body, url)
    versions = []
    for mod in (doc.get("modules") or []) if isinstance(doc, dict) else []:
        for v in (mod.get("versions") or []) if isinstance(mod, dict) else []:
            if isinstance(v, dict) and isinstance(v.get("version"), str):
                versions.append(v["version"])
    try:
        chosen = constraints.newest(versions, constraint)
    except constraints.ConstraintError as exc:
        raise FetchError(f"version constraint {constraint!r} cannot be read: {exc}") from None
    if chosen is None:
        shown = ", ".join(versions[:8]) + (" ..." if len(versions) > 8 else "")
        raise FetchError(f"no version of {addr.namespace}/{addr.name}/{addr.provider} matches {constraint!r} "
                         f"(available: {shown or 'none'})")
    url = urljoin(base, f"{addr.path}/{quote(chosen, safe='')}/download")
    final, status, hdrs, body = get(url, allowed, MAX_JSON, log, credentials=credentials)
    location = hdrs.get("x-terraform-get")
    if not location and status == 200 and body.strip():
        doc = _json(body, url)
        location = doc.get("location") if isinstance(doc, dict) else None
    if status not in (200, 204) or not isinstance(location, str) or not location:
        raise FetchError(f"download {url} answered {status} without X-Terraform-Get" + hint(status, url, credentials))
    return chosen, relative_getter(location, final)


def relative_getter(location: str, base_url: str) -> str:
    """Resolve a go-getter location relative to the URL it came from (``./x.tgz``, ``/a/b.zip``)."""
    if location.startswith(("./", "../", "/")) and not location.startswith("//"):
        return urljoin(base_url, location)
    return location
