"""Issue 15 follow-up: an OpenCost URL never carries credentials into a report, a message or an error.

Before: `cluster opencost http://user:password@host/allocation` wrote the URL as the report's `source` (JSON,
text, every format) and echoed it in every error, and urllib never sent the password anyway. Now such a URL is
refused (as `cluster report --prometheus` refuses one) and the credentials come from the environment:
TAGGUARD_OPENCOST_TOKEN (bearer) or TAGGUARD_OPENCOST_USER + TAGGUARD_OPENCOST_PASSWORD (basic). A real
loopback HTTP server checks the Authorization header it gets.
"""
from __future__ import annotations

import base64
import http.server
import json
import threading

import pytest
from clikit import run_cli

from test_opencost import DOC

SECRET = "s3cr3t-OC-pw"
TOKEN = "tok-9f8e7d-OC"
BODY = json.dumps(DOC).encode()
FORMATS = ("json", "text", "markdown", "sarif", "junit", "github", "html")


class Server:
    """Answers /allocation with DOC when the request carries the expected Authorization header, else 401;
    /moved redirects to ``redirect_to``. Records every request's path and Authorization header."""

    def __init__(self, auth: str | None, redirect_to: str | None = None):
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                got = self.headers.get("Authorization")
                outer.seen.append((self.path, got))
                if self.path.startswith("/moved") and redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                if auth is not None and got != auth:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="opencost"')
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(BODY)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"127.0.0.1:{self.srv.server_port}"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture
def basic():
    s = Server("Basic " + base64.b64encode(f"ocuser:{SECRET}".encode()).decode())
    yield s
    s.close()


def every_format(tmp_path, url, env=None):
    args = ["cluster", "opencost", url]
    files = {}
    for fmt in FORMATS[1:]:
        files[fmt] = tmp_path / f"r.{fmt}"
        args += ["-f", fmt, "-o", files[fmt]]
    res = run_cli(*args, "-f", "json", env={"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), **(env or {})})
    outs = {fmt: p.read_text(encoding="utf-8") for fmt, p in files.items() if p.exists()}
    summary = tmp_path / "summary.md"
    outs["summary"] = summary.read_text(encoding="utf-8") if summary.exists() else ""
    return res, outs


@pytest.mark.parametrize("scheme", ["http", "HTTP", "https", "ftp"])
def test_a_url_with_credentials_is_refused_and_the_password_shown_nowhere(basic, tmp_path, scheme):
    url = f"{scheme}://ocuser:{SECRET}@{basic.base}/allocation?window=30d"
    res, outs = every_format(tmp_path, url)
    assert res.exit_code == 2, res
    assert "the URL carries credentials" in res.output and "TAGGUARD_OPENCOST_USER" in res.output
    assert f"{scheme.lower()}://{basic.base}/allocation" in res.output  # which URL, without them
    assert SECRET not in res.output and "ocuser" not in res.output and "Traceback" not in res.output
    assert not any(SECRET in text for text in outs.values())
    assert basic.seen == []  # nothing was sent with the password in the URL


def test_credentials_from_the_environment_reach_the_server_and_no_output(basic, tmp_path):
    url = f"http://{basic.base}/allocation?window=30d&aggregate=pod"
    res, outs = every_format(tmp_path, url, env={"TAGGUARD_OPENCOST_USER": "ocuser",
                                                 "TAGGUARD_OPENCOST_PASSWORD": SECRET})
    assert res.exit_code == 1, res  # read: the 10 unattributed GPU-hours of DOC are an error
    rep = json.loads(res.stdout)
    assert rep["source"] == url and rep["unattributed"]["gpu_hours"] == 10
    assert basic.seen and all(a and a.startswith("Basic ") for _, a in basic.seen)
    assert set(outs) == set(FORMATS[1:]) | {"summary"} and outs["summary"]
    for fmt, text in outs.items():
        assert SECRET not in text, fmt
        assert base64.b64encode(f"ocuser:{SECRET}".encode()).decode() not in text, fmt
    assert SECRET not in res.output


def test_wrong_credentials_are_one_line_without_the_secret(basic):
    url = f"http://{basic.base}/allocation"
    res = run_cli("cluster", "opencost", url, env={"TAGGUARD_OPENCOST_USER": "ocuser",
                                                  "TAGGUARD_OPENCOST_PASSWORD": "wrong-" + SECRET})
    assert res.exit_code == 2 and "Unauthorized" in res.output and url in res.output
    assert SECRET not in res.output and len(res.output.strip().splitlines()) == 1


def test_a_bearer_token_is_sent_and_not_forwarded_by_a_redirect(tmp_path):
    target = Server(None)
    first = Server(f"Bearer {TOKEN}", redirect_to=f"http://{target.base}/allocation")
    try:
        res = run_cli("cluster", "opencost", f"http://{first.base}/allocation", "-f", "json",
                      env={"TAGGUARD_OPENCOST_TOKEN": TOKEN})
        assert res.exit_code == 1 and first.seen == [("/allocation", f"Bearer {TOKEN}")]
        res = run_cli("cluster", "opencost", f"http://{first.base}/moved", "-f", "json",
                      env={"TAGGUARD_OPENCOST_TOKEN": TOKEN})
        assert res.exit_code == 1, res
        assert target.seen == [("/allocation", None)]  # the other server never sees the token
        assert TOKEN not in res.output
    finally:
        first.close()
        target.close()


@pytest.mark.parametrize("url", [f"http://ocuser:{SECRET}@[::1/allocation", f"HTTPS://a:{SECRET}@b@h[/x"])
def test_a_malformed_url_with_credentials_is_one_line_without_them(url):
    """Bug fixed: a URL urlsplit refuses (an unbalanced [) was taken for a file name, and the error echoed it."""
    res = run_cli("cluster", "opencost", url)
    assert res.exit_code == 2 and "not a valid URL" in res.output, res
    assert SECRET not in res.output and len(res.output.strip().splitlines()) == 1


def test_file_paths_are_not_urls(tmp_path):
    from tagguard.actuals.cluster.opencost import load

    f = tmp_path / "a@b.json"
    f.write_text(json.dumps(DOC), encoding="utf-8")
    assert load(str(f))[1] == str(f)
    assert load("//" + str(f).lstrip("/"))[0] == DOC  # a POSIX path with a leading //, not a host


def test_a_secret_in_the_query_string_reaches_the_server_and_no_output(tmp_path):
    """Bug fixed: the query string was written to the report's `source` as given, so `?token=...` (a proxy's
    auth) reached every format and the PR comment. OpenCost's own parameters are shown; any other value is ***."""
    srv = Server(None)
    try:
        url = f"http://{srv.base}/allocation?window=30d&aggregate=pod&token={TOKEN}#frag"
        res, outs = every_format(tmp_path, url)
        assert res.exit_code == 1, res
        assert srv.seen and all(TOKEN in path for path, _ in srv.seen)  # the request itself is as given
        rep = json.loads(res.stdout)
        assert rep["source"] == f"http://{srv.base}/allocation?window=30d&aggregate=pod&token=***"
        assert TOKEN not in res.output
        for fmt, text in outs.items():
            assert TOKEN not in text, fmt
        srv.close()
        bad = run_cli("cluster", "opencost", f"http://{srv.base}/allocation?window=1d&key={TOKEN}")  # nobody there
        assert bad.exit_code == 2 and "cannot read" in bad.output and "window=1d&key=***" in bad.output
        assert TOKEN not in bad.output
    finally:
        srv.close()
