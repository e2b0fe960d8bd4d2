"""GitHub issues: one issue per breach, created when it is first reported, updated (body and a
comment) when it worsens, closed with a comment when a later run no longer reports it.

REST endpoints used (``X-GitHub-Api-Version: 2022-11-28``):
``GET /repos/{repo}/issues?state=open&labels=...`` (find an issue a lost state database forgot,
by the hidden marker in its body), ``POST /repos/{repo}/issues``, ``PATCH /repos/{repo}/issues/{n}``,
``POST /repos/{repo}/issues/{n}/comments``.  The API root is ``https://api.github.com`` unless
the environment names another (``api_url_env``, else ``GITHUB_API_URL``: GitHub Enterprise).

Every scanned value in the Markdown body goes through ``formats.escape.md_text``; the title is
plain text with ``@`` and ``#`` broken (no mentions, no cross-references)."""
from __future__ import annotations

import re
from typing import Any

from tagguard.formats.escape import ZWJ, md_text, term

DEFAULT_API = "https://api.github.com"
LABEL = "tagguard-alert"
_REFS = re.compile(r"[@#]")


def marker(alert, sink: str) -> str:
    return f"<!-- tagguard-alert:{alert.key_id}:{re.sub(r'[^A-Za-z0-9_.-]', '_', sink)} -->"


def title(alert) -> str:
    t = _REFS.sub(lambda m: m.group(0) + ZWJ, term(alert.title))
    return t if len(t) <= 250 else t[:249] + "\u2026"


def body(alert, sink: str, state: str) -> str:
    rows = "\n".join(f"| {md_text(label)} | {md_text(value)} |" for label, value in alert.facts)
    fix = f"\n**Fix:** {md_text(alert.fix)}\n" if alert.fix else ""
    return (f"{marker(alert, sink)}\n**{md_text(alert.severity)}** tagguard alert `{alert.kind}` "
            f"({'worse' if state == 'worse' else 'open'})\n\n| | |\n|---|---|\n{rows}\n{fix}\n"
            f"Source: {md_text(alert.source)}. This issue is updated when the breach worsens and closed when a "
            f"later run no longer reports it.\n")


class GitHubIssues:
    def __init__(self, sink, env: dict[str, str], retry, deadline, request):
        self.sink = sink
        self.token = env.get(sink.token_env or "", "")
        api = env.get(sink.api_url_env or "", "") if sink.api_url_env else ""
        self.api = (api or env.get("GITHUB_API_URL") or DEFAULT_API).rstrip("/")
        self.retry, self.deadline, self._request = retry, deadline, request
        self.labels = list(sink.labels) or [LABEL]
        self._open: list[dict[str, Any]] | None = None
        self._find_error = None

    def missing_secret(self) -> str | None:
        return None if self.token else f"environment variable {self.sink.token_env} is not set"

    def _call(self, method: str, path: str, payload: Any = None):
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}
        return self._request(method, f"{self.api}{path}", payload, self.retry, self.deadline, headers)

    def requests_for(self, alert, state: str, ref: str | None) -> list[tuple[str, str, Any]]:
        """What would be sent (for --dry-run)."""
        repo = self.sink.repo
        if state == "resolved":
            return [("POST", f"/repos/{repo}/issues/{ref}/comments",
                     {"body": "Resolved: the latest run no longer reports this."}),
                    ("PATCH", f"/repos/{repo}/issues/{ref}", {"state": "closed", "state_reason": "completed"})]
        issue = {"title": title(alert), "body": body(alert, self.sink.name, state), "labels": self.labels}
        if ref:
            return [("PATCH", f"/repos/{repo}/issues/{ref}", {**issue, "state": "open"}),
                    ("POST", f"/repos/{repo}/issues/{ref}/comments",
                     {"body": f"{'Worse' if state == 'worse' else 'Reported again'}: {md_text(alert.title)}"})]
        return [("POST", f"/repos/{repo}/issues", issue)]

    def find(self, alert) -> str | None:
        if self._open is None:
            self._open = []
            for page in range(1, 11):
                r = self._call("GET", f"/repos/{self.sink.repo}/issues?state=open&per_page=100&page={page}"
                                      f"&labels={self.labels[0]}")
                if not r.ok:  # cannot tell whether the issue exists: do not risk a duplicate
                    self._open = None
                    self._find_error = r
                    return None
                items = r.json()
                if not isinstance(items, list):
                    break
                self._open += [i for i in items if isinstance(i, dict)]
                if len(items) < 100:
                    break
        m = marker(alert, self.sink.name)
        for i in self._open:
            if m in str(i.get("body") or "") and "pull_request" not in i:
                return str(i.get("number"))
        return None

    def send(self, alert, state: str, ref: str | None):
        """Returns (response of the last call, issue number)."""
        if not ref and state != "resolved":
            self._find_error = None
            ref = self.find(alert)
            if self._find_error is not None:
                return self._find_error, None
        last = None
        for method, path, payload in self.requests_for(alert, state, ref):
            last = self._call(method, path, payload)
            if not last.ok:
                return last, ref
            if method == "POST" and path.endswith("/issues"):
                data = last.json()
                ref = str(data.get("number")) if isinstance(data, dict) and data.get("number") is not None else ref
        return last, ref
