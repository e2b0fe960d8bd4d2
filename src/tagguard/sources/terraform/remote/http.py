"""HTTP GETs for module downloads: every hop (redirects included) checked against the
allowlist, HTTPS except to loopback, bounded size and time."""
from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Callable
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from tagguard.sources.terraform.remote.credentials import Credentials

MAX_REDIRECTS = 5
TIMEOUT = 30.0


class FetchError(Exception):
    """Why a module could not be downloaded (one line, shown in the not-scanned finding)."""


def is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, port: int | None, allowed) -> bool:
    """``host`` is on the allowlist: an entry ``host`` allows any port of it, ``host:port`` only that port."""
    host = (host or "").lower()
    for entry in allowed or ():
        entry = str(entry).strip().lower()
        if entry == host or (port is not None and entry == f"{host}:{port}"):
            return True
    return False


def check_url(url: str, allowed, allowlist: str = "modules.allowed_hosts") -> None:
    if any(ord(ch) < 0x21 or ord(ch) > 0x7e for ch in url):
        raise FetchError(f"{url[:200]!r} has spaces, control or non-ASCII characters; not requested")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("https", "http") or not host:
        raise FetchError(f"{url[:200]!r} is not an https URL")
    if scheme == "http" and not is_loopback(host):
        raise FetchError(f"{parts.netloc} is reached over plain http; only https is used (http only to loopback)")
    if parts.username or parts.password:
        raise FetchError(f"{parts.netloc}: URLs with credentials are not used")
    if not host_allowed(host, parts.port, allowed):
        raise FetchError(f"host {parts.netloc} is not allowed (not in {allowlist})")


def get(url: str, allowed, limit: int, log: Callable[[str], None],
        headers: dict[str, str] | None = None, allowlist: str = "modules.allowed_hosts",
        credentials: Credentials | None = None) -> tuple[str, int, dict[str, str], bytes]:
    """(final URL, status, headers, body) of a GET; redirects are followed by hand, each checked.
    An ``Authorization`` header goes only to the host it was given for, never to a redirect elsewhere;
    Without one, the request carries the runner's credential for its URL's host, if any (``credentials``),
    and so do redirects to the same host and port; a redirect anywhere else carries none."""
    import http.client
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):  # noqa: D102
            return None

    origin = urlsplit(url).netloc.lower()
    headers = dict(headers or {})
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url, allowed, allowlist)
        host = urlsplit(url).hostname or ""
        if urlsplit(url).netloc.lower() != origin:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        hop = dict(headers)
        note = ""
        if credentials is not None and urlsplit(url).netloc.lower() == origin \
                and not any(k.lower() == "authorization" for k in hop):
            value = credentials.header_for(url)
            if value:
                hop["Authorization"] = value
                note = f" (with the runner's credential for {host.lower()})"  # the host, never the value
        handlers: list[urllib.request.BaseHandler] = [NoRedirect()]
        if is_loopback(host):
            handlers.append(urllib.request.ProxyHandler({}))
        opener = urllib.request.build_opener(*handlers)
        req = urllib.request.Request(url, headers={"User-Agent": "tagguard", **hop})
        log(f"GET {url}{note}")
        try:
            resp = opener.open(req, timeout=TIMEOUT)
        except urllib.error.HTTPError as exc:
            resp = exc
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise FetchError(f"GET {url[:200]} failed: {getattr(exc, 'reason', exc)}") from None
        with resp:
            status = resp.status if hasattr(resp, "status") else resp.code
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            if status in (301, 302, 303, 307, 308) and hdrs.get("location"):
                url = urljoin(url, hdrs["location"])
                continue
            try:
                body = resp.read(limit + 1)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                raise FetchError(f"GET {url[:200]}: the answer broke off ({exc.__class__.__name__})") from None
            if len(body) > limit:
                raise FetchError(f"GET {url[:200]}: more than {limit} bytes")
            declared = hdrs.get("content-length", "").strip()
            if declared.isdigit() and len(body) < int(declared):  # urllib returns a short body without a word
                raise FetchError(f"GET {url[:200]}: the answer broke off ({len(body)} of {declared} bytes)")
            return url, status, hdrs, body
    raise FetchError(f"GET {url[:200]}: more than {MAX_REDIRECTS} redirects")
