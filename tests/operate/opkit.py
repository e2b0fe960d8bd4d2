"""Helpers for tests/operate: a loopback HTTP receiver that records posts, and a fake of the
GitHub issues REST endpoints tagguard uses."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """``fail_first``: answer 503 that many times, then 200; ``always``: an HTTP status for every post."""

    def __init__(self, fail_first: int = 0, always: int = 0, github: bool = False, token: str = "", delay: float = 0.0):
        self.posts = []
        self.delay = delay
        self.fail_first, self.always, self.github, self.token = fail_first, always, github, token
        self.issues = {}
        self.comments = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                return json.loads(raw.decode("utf-8")) if raw else None

            def _send(self, code, obj=None):
                data = json.dumps(obj).encode() if obj is not None else b"ok"
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): that is what the test is about

            def _handle(self, method):
                body = self._body()
                if outer.delay:
                    import time

                    time.sleep(outer.delay)  # a sink that hangs
                with outer.lock:
                    outer.posts.append({"method": method, "path": self.path,
                                        "headers": {k.lower(): v for k, v in self.headers.items()}, "json": body})
                    if outer.always:
                        return self._send(outer.always, {"message": "down"})
                    if outer.fail_first > 0:
                        outer.fail_first -= 1
                        return self._send(503, {"message": "try later"})
                    if not outer.github:
                        return self._send(200)
                    return outer._github(self, method, body)

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

            def do_GET(self):
                self._handle("GET")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _github(self, h, method, body):
        if h.headers.get("Authorization") != f"Bearer {self.token}" or \
                h.headers.get("Accept") != "application/vnd.github+json":
            return h._send(401, {"message": "Bad credentials"})
        path = h.path.split("?")[0]
        m = re.fullmatch(r"(?:/api/v3)?/repos/([^/]+)/([^/]+)/issues(?:/(\d+))?(/comments)?", path)
        if not m:
            return h._send(404, {"message": "Not Found"})
        num = m.group(3)
        if method == "GET" and not num:
            return h._send(200, [i for i in self.issues.values() if i["state"] == "open"])
        if method == "POST" and not num:
            if not isinstance(body.get("title"), str) or not body["title"]:
                return h._send(422, {"message": "Validation Failed"})
            n = len(self.issues) + 1
            self.issues[n] = {"number": n, "state": "open", **body}
            return h._send(201, self.issues[n])
        if num and int(num) in self.issues:
            if method == "PATCH":
                self.issues[int(num)].update(body)
                return h._send(200, self.issues[int(num)])
            if method == "POST" and m.group(4):
                self.comments.append((int(num), body["body"]))
                return h._send(201, {"id": len(self.comments)})
        return h._send(404, {"message": "Not Found"})

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
