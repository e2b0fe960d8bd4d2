"""Credentials for private module registries and chart repositories: from the environment only.

The environment belongs to the runner (trusted); the scanned repository and its ``.tagguard.yaml`` can
name no credential.  A credential is bound to one host name: it is sent only in requests whose URL has
that host (any port, like a bare host on the allowlist; https, or plain http to loopback only, as
``http.check_url`` allows).  A redirect to another host or port carries no credential at all
(``http.get``); a host that a service discovery document, an index or a token challenge points to gets
only its own credential, if the runner gave one.  Values are never logged, never put in a message, a report
or the cache (``repr`` shows hosts only).

- Module registries and module archives: Terraform's own ``TF_TOKEN_<host>`` (sent as
  ``Authorization: Bearer <value>``).  The host is encoded as Terraform does: periods as ``_`` (a
  literal ``.`` is accepted too), hyphens as ``__`` (or literal), non-ASCII names in punycode
  (``xn--...``); letters in either case.  When two variables name the same host, the one without
  ``__`` wins (the literal spelling is the more specific).
- Chart repositories and OCI registries: ``TAGGUARD_CHART_TOKEN_<host>`` (``Bearer <value>``) or
  ``TAGGUARD_CHART_BASIC_<host>`` (``user:password``, sent as HTTP basic auth; for an OCI registry that
  answers with a token realm, the realm host's own variable is what its token request carries).

See docs/remote-modules.md ("Private registries").
"""
from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

TF_PREFIX = "TF_TOKEN_"
CHART_TOKEN_PREFIX = "TAGGUARD_CHART_TOKEN_"
CHART_BASIC_PREFIX = "TAGGUARD_CHART_BASIC_"
MAX_VALUE = 16 << 10


def host_of_variable(suffix: str) -> str | None:
    """The host name a variable suffix names (``app_terraform_io`` -> ``app.terraform.io``,
    ``xn____caf__dma_fr`` -> ``xn--caf-dma.fr``), or None when it is not a host name."""
    host = suffix.replace("__", "-").replace("_", ".").lower().strip(".")
    if not host or len(host) > 253 or ".." in host:
        return None
    if not all(c.isascii() and (c.isalnum() or c in ".-") for c in host):
        return None
    return host


def _usable(value: str) -> bool:
    """A value that can go in a header line as it is: printable ASCII, no spaces around, bounded."""
    return 0 < len(value) <= MAX_VALUE and all(0x21 <= ord(c) <= 0x7E or c == " " for c in value) \
        and value == value.strip()


class Credentials:
    """``Authorization`` header values by host name (lower case, no port)."""

    def __init__(self, by_host: Mapping[str, str] | None = None, ignored: list[str] | None = None):
        self._by_host = dict(by_host or {})
        self.ignored = list(ignored or [])  # variable names whose value or host was not usable (names only)

    def __repr__(self) -> str:  # never the values
        return f"Credentials(hosts={sorted(self._by_host)})"

    def __bool__(self) -> bool:
        return bool(self._by_host)

    @property
    def hosts(self) -> list[str]:
        return sorted(self._by_host)

    def header_for(self, url: str) -> str | None:
        """The ``Authorization`` value for a request to ``url``, or None."""
        try:
            host = (urlsplit(url).hostname or "").lower().rstrip(".")
        except ValueError:
            return None
        return self._by_host.get(host) if host else None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], *, kind: str) -> Credentials:
        """``kind``: ``modules`` (``TF_TOKEN_<host>``) or ``charts`` (``TAGGUARD_CHART_TOKEN_<host>``,
        ``TAGGUARD_CHART_BASIC_<host>``)."""
        prefixes = {"modules": ((TF_PREFIX, "bearer"),),
                    "charts": ((CHART_TOKEN_PREFIX, "bearer"), (CHART_BASIC_PREFIX, "basic"))}[kind]
        found: dict[str, tuple[int, str]] = {}  # host -> (rank: 0 literal spelling, 1 with `__`), header
        ignored: list[str] = []
        for prefix, scheme in prefixes:  # a host with both chart variables: the token wins
            for name in sorted(environ):
                if not name.startswith(prefix) or len(name) == len(prefix):
                    continue
                value = environ[name]
                host = host_of_variable(name[len(prefix):])
                if host is None or not _usable(value) or (scheme == "basic" and ":" not in value):
                    ignored.append(name)
                    continue
                if scheme == "bearer":
                    header = f"Bearer {value}"
                else:
                    import base64  # only for a Basic credential: not on every Terraform scan

                    header = "Basic " + base64.b64encode(value.encode("ascii")).decode("ascii")
                rank = 1 if "__" in name[len(prefix):] else 0
                if host not in found or rank < found[host][0]:
                    found[host] = (rank, header)
        return cls({h: v for h, (_r, v) in found.items()}, ignored)


def variable_for(host: str, prefix: str = TF_PREFIX) -> str:
    """The variable name that holds a credential for ``host`` (a port is dropped): ``TF_TOKEN_app_terraform_io``."""
    name = (host or "").lower().rsplit("@", 1)[-1]
    name = name.split(":", 1)[0] if not name.startswith("[") else name
    return prefix + name.replace("-", "__").replace(".", "_")


def hint(status: int, url: str, credentials: Credentials | None, prefix: str = TF_PREFIX) -> str:
    """For a 401/403 answer: which variable would carry a credential for the URL's host (names only)."""
    if status not in (401, 403):
        return ""
    host = (urlsplit(url).hostname or "").lower()
    if credentials is not None and credentials.header_for(url):
        return f" (the credential for {host} from the environment was refused)"
    if prefix == TF_PREFIX:
        return f" (a private registry? set {variable_for(host, prefix)} in the environment)"
    return (f" (a private chart repository? set {variable_for(host, CHART_TOKEN_PREFIX)} or "
            f"{variable_for(host, CHART_BASIC_PREFIX)} in the environment)")
