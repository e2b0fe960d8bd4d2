"""One bounded HTTP request with retries: exponential backoff on network errors, 5xx and 429
(``Retry-After`` honoured up to ``max_backoff_seconds``), no redirects, an overall deadline per
run.  The URL is a secret (it came from the environment): it never appears in a message."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

MAX_RESPONSE = 1024 * 1024


@dataclass
class Response:
    ok: bool
    status: int | None
    body: str
    attempts: int
    error: str | None = None
    retryable: bool = False  # failed after every attempt on a network error, 5xx or 429 (the sink is down)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def _opener():
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 - urllib's signature
            return None  # a 3xx is an answer, not a place to send the secret payload

    return urllib.request.build_opener(NoRedirect)


def check_url(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "is not an http(s) URL"
    return None


def request(method: str, url: str, payload: Any, retry, deadline: Deadline,
            headers: dict[str, str] | None = None, sleep=time.sleep) -> Response:
    import http.client
    import urllib.error
    import urllib.request

    problem = check_url(url)
    if problem:
        return Response(False, None, "", 0, f"the configured URL {problem}")
    data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    hdrs = {"User-Agent": "tagguard-alerts", **(headers or {})}
    if data is not None:
        hdrs["Content-Type"] = "application/json; charset=utf-8"
    opener = _opener()
    last_error = "not sent"
    status: int | None = None
    attempts = 0
    for attempt in range(int(retry.attempts)):
        if deadline.left() <= 0:
            last_error += "; gave up: the run's sending deadline passed"
            break
        attempts += 1
        wait = min(retry.max_backoff_seconds, retry.backoff_seconds * (2 ** attempt))
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with opener.open(req, timeout=max(0.1, min(retry.timeout_seconds, deadline.left()))) as resp:
                body = resp.read(MAX_RESPONSE).decode("utf-8", "replace")
                return Response(True, resp.status, body, attempts)
        except urllib.error.HTTPError as exc:
            status = exc.code
            try:
                body = exc.read(2000).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001
                body = ""
            last_error = f"HTTP {exc.code}" + (f": {body[:200]}" if body else "")
            if exc.code != 429 and exc.code < 500:
                return Response(False, status, body, attempts, last_error + " (not retried)")
            ra = exc.headers.get("Retry-After") if exc.headers else None
            if ra and ra.strip().isdigit():
                wait = min(retry.max_backoff_seconds, float(ra.strip()))
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            last_error = f"{type(exc).__name__}: {reason}"
        if attempt + 1 < retry.attempts:
            sleep(max(0.0, min(wait, deadline.left())))
    return Response(False, status, "", attempts,
                    f"{last_error} (after {attempts} attempt{'s' if attempts != 1 else ''})",
                    retryable=True)
