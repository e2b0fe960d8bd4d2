"""The Prometheus credentials (TAGGUARD_PROMETHEUS_TOKEN, _USER/_PASSWORD) go to the --prometheus server only,
and a malformed --prometheus URL is one line that does not repeat a password in it.

Before: urllib copies a request's headers onto the request that follows a redirect, so a server (or anything
that can answer for it) that redirected to another host received the bearer token or the basic password.
Now the Authorization header is not sent on after a redirect. A loopback server redirects every request to a
second loopback server that records what it is sent.
"""
from __future__ import annotations

import http.server
import threading

from clikit import run_cli

TOKEN = "prom-tok-77aa"


def _server(handler_body):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            handler_body(self)

        def do_POST(self):
            handler_body(self)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_credentials_are_not_sent_on_to_where_a_redirect_points():
    seen: list[tuple[str, str | None]] = []

    def record(h):
        seen.append((h.path, h.headers.get("Authorization")))
        h.send_response(404)
        h.end_headers()

    target = _server(record)
    first_seen: list[str | None] = []

    def redirect(h):
        first_seen.append(h.headers.get("Authorization"))
        h.send_response(302)
        h.send_header("Location", f"http://127.0.0.1:{target.server_port}{h.path}")
        h.end_headers()

    first = _server(redirect)
    try:
        for env in ({"TAGGUARD_PROMETHEUS_TOKEN": TOKEN},
                    {"TAGGUARD_PROMETHEUS_USER": "u", "TAGGUARD_PROMETHEUS_PASSWORD": TOKEN}):
            seen.clear()
            first_seen.clear()
            res = run_cli("cluster", "report", "--prometheus", f"http://127.0.0.1:{first.server_port}",
                          "--since", "2026-11-02T00:00:00Z", "--until", "2026-11-02T04:00:00Z", env=env)
            assert res.exit_code == 2, res  # the redirected queries fail: one line, no traceback
            assert "Traceback" not in res.output and TOKEN not in res.output
            assert first_seen and all(a for a in first_seen)  # the --prometheus server gets the credentials
            assert seen and all(a is None for _, a in seen), seen  # the other server never does
    finally:
        first.shutdown()
        target.shutdown()


def test_a_malformed_url_is_one_line_without_its_password():
    """Bug fixed: `--prometheus http://u:pw@[::1` was an internal error (urlsplit's ValueError)."""
    res = run_cli("cluster", "report", "--prometheus", f"http://u:{TOKEN}@[::1", "--window", "1h")
    assert res.exit_code == 2, res
    assert res.output.strip() == "tagguard: error: --prometheus http://[::1: not a valid URL: Invalid IPv6 URL"
