"""A small Prometheus HTTP API client over the standard library.

The server URL comes only from CLI flags or the environment (trusted), never from a scanned
repository. Credentials: ``TAGGUARD_PROMETHEUS_TOKEN`` (bearer) or ``TAGGUARD_PROMETHEUS_USER`` +
``TAGGUARD_PROMETHEUS_PASSWORD`` (basic). TLS: a CA bundle file, or ``insecure`` to skip checks.
Every response is capped in size (``max_bytes``) and every request has a timeout.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_TIMEOUT = 120.0
MAX_WARNINGS = 50
_LOCK = threading.Lock()


class PromError(Exception):
    """A query that did not give a usable answer: the message says which and why."""


@dataclass
class Sample:
    labels: dict[str, str]
    value: float


@dataclass
class PromClient:
    url: str
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    ca_file: str | None = None
    insecure: bool = False
    token: str | None = None
    user: str | None = None
    password: str | None = None
    queries: int = field(default=0)
    bytes_read: int = field(default=0)
    # ``warnings`` of successful answers (a Thanos/Cortex partial response, a store that timed out): the
    # data may be incomplete, so the report says so and exits 3 (at most MAX_WARNINGS distinct ones kept)
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_env(cls, url: str, **kw: Any) -> PromClient:
        env = os.environ
        return cls(url=url, token=env.get("TAGGUARD_PROMETHEUS_TOKEN") or None,
                   user=env.get("TAGGUARD_PROMETHEUS_USER") or None,
                   password=env.get("TAGGUARD_PROMETHEUS_PASSWORD") or None, **kw)

    def __post_init__(self) -> None:
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(self.url)
        except ValueError as exc:  # an unbalanced [ in the host: one line, without what may be a password
            from tagguard.actuals.cluster.findings import without_userinfo

            raise PromError(f"--prometheus {without_userinfo(self.url)}: not a valid URL: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PromError(f"--prometheus {self.url!r}: expected an http:// or https:// URL")
        if "@" in parts.netloc:  # the URL is printed in messages and reports: never with a password in it
            bare = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
            raise PromError(f"--prometheus {bare}: the URL carries credentials; give them in the environment "
                            "(TAGGUARD_PROMETHEUS_TOKEN, or TAGGUARD_PROMETHEUS_USER and TAGGUARD_PROMETHEUS_PASSWORD)")
        self.url = self.url.rstrip("/")

    # -- transport --------------------------------------------------------------
    def _context(self):
        import ssl

        if not self.url.startswith("https://"):
            return None
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else ssl.create_default_context()
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _post(self, path: str, params: dict[str, str], method: str = "POST") -> Any:
        import base64
        import urllib.error
        import urllib.parse
        import urllib.request

        query = urllib.parse.urlencode(params)
        if method == "GET":
            req = urllib.request.Request(self.url + path + "?" + query, method="GET")
        else:
            req = urllib.request.Request(self.url + path, data=query.encode(), method="POST")
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        req.add_header("Accept", "application/json")
        # unredirected: urllib copies ordinary headers onto the request a redirect makes, to wherever it points
        if self.token:
            req.add_unredirected_header("Authorization", f"Bearer {self.token}")
        elif self.user is not None:
            raw = f"{self.user}:{self.password or ''}".encode()
            req.add_unredirected_header("Authorization", "Basic " + base64.b64encode(raw).decode())
        with _LOCK:
            self.queries += 1
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._context()) as resp:
                data = resp.read(self.max_bytes + 1)
        except urllib.error.HTTPError as exc:
            data = exc.read(min(self.max_bytes, 1 << 20))
            msg = _error_text(data) or exc.reason
            raise PromError(f"{self.url}{path}: HTTP {exc.code}: {msg}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise PromError(f"{self.url}{path}: cannot connect: {reason}") from None
        with _LOCK:
            self.bytes_read += len(data)
        if len(data) > self.max_bytes:
            raise PromError(f"{self.url}{path}: response larger than {self.max_bytes} bytes "
                            "(raise --max-response-mb or narrow the window)")
        try:
            doc = json.loads(data)
        except ValueError:
            raise PromError(f"{self.url}{path}: not a Prometheus API response (invalid JSON)") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            raise PromError(f"{self.url}{path}: {_error_text(data) or 'query failed'}")
        if doc.get("warnings"):
            self._warn(path, doc["warnings"])
        return doc.get("data")

    def _warn(self, path: str, warnings: Any) -> None:
        items = warnings if isinstance(warnings, list) else [warnings]
        with _LOCK:
            for w in items:
                text = f"{path}: {str(w)[:500]}"
                if text not in self.warnings and len(self.warnings) < MAX_WARNINGS:
                    self.warnings.append(text)

    # -- API ----------------------------------------------------------------------
    def instant(self, query: str, time: float) -> list[Sample]:
        """``/api/v1/query`` at ``time`` (unix seconds): an instant vector (or scalar as one sample)."""
        data = self._post("/api/v1/query", {"query": query, "time": _fmt_time(time),
                                            "timeout": f"{int(self.timeout)}s"})
        return _vector(data, query)

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        """``/api/v1/series``: label sets of the series matching ``match`` with samples in [start, end]."""
        data = self._post("/api/v1/series", {"match[]": match, "start": _fmt_time(start), "end": _fmt_time(end)})
        if not isinstance(data, list):
            raise PromError(f"unexpected answer from /api/v1/series for {match[:80]!r}")
        return [{str(k): str(v) for k, v in item.items()} for item in data if isinstance(item, dict)]

    def major_version(self) -> int | None:
        """Prometheus' major version from ``/api/v1/status/buildinfo`` (None when the server, e.g. a
        proxy or another PromQL engine, does not say)."""
        try:
            data = self._post("/api/v1/status/buildinfo", {}, method="GET")
        except PromError:
            return None
        version = str(data.get("version", "")) if isinstance(data, dict) else ""
        head = version.lstrip("v").split(".", 1)[0]
        return int(head) if head.isdigit() else None

    def names(self, match: str, start: float, end: float) -> list[str]:
        """Metric names of the series matching ``match`` in [start, end] (``/api/v1/label/__name__/values``:
        read from the index, no samples)."""
        data = self._post("/api/v1/label/__name__/values",
                          {"match[]": match, "start": _fmt_time(start), "end": _fmt_time(end)}, method="GET")
        return [str(x) for x in data] if isinstance(data, list) else []


def _fmt_time(t: float) -> str:
    return f"{t:.3f}"


def _error_text(data: bytes) -> str | None:
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if isinstance(doc, dict) and doc.get("error"):
        return f"{doc.get('errorType', 'error')}: {str(doc['error'])[:500]}"
    return None


def _vector(data: Any, query: str) -> list[Sample]:
    if not isinstance(data, dict):
        raise PromError(f"unexpected answer to {query[:80]!r}")
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [Sample({}, _num(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        raise PromError(f"expected an instant vector from {query[:80]!r}, got {kind!r}")
    out: list[Sample] = []
    for item in result:
        if not isinstance(item, dict):
            continue
        metric = item.get("metric") or {}
        value = item.get("value")
        if not isinstance(value, list) or len(value) != 2:
            continue
        out.append(Sample({str(k): str(v) for k, v in metric.items()}, _num(value[1])))
    return out


def _num(text: Any) -> float:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return float("nan")
    return v


def parse_duration(text: str) -> float:
    """A Prometheus-style duration (``30d``, ``12h``, ``90m``, ``1h30m``) in seconds."""
    import re

    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
    parts: list[tuple[str, str]] = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration (e.g. 30d, 12h, 90m)")
    return float(sum(int(n) * units[u] for n, u in parts))


def prom_duration(seconds: float) -> str:
    s = int(round(seconds))
    if s <= 0:
        raise ValueError("duration must be positive")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
