"""Loopback servers for remote-module tests: a Terraform module registry and a git smart-HTTP server
(``git http-backend`` behind http.server), both on 127.0.0.1, serving fixture modules written here;
every request is recorded.  Tests import these from ``rmkit`` (a unique module name): ``conftest`` is
a name every test directory has, so ``from conftest import`` picks whichever was imported first."""
from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

GPU_MODULE = {
    "main.tf": '''
variable "instance_type" {
  type    = string
  default = "g5.12xlarge"
}
variable "tags" {
  type    = map(string)
  default = {}
}
resource "aws_instance" "gpu" {
  ami           = "ami-123"
  instance_type = var.instance_type
  tags          = var.tags
}
output "id" { value = aws_instance.gpu.id }
''',
}


def git(*args, cwd=None):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd or "."))
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_repo(root: Path, name: str, files_by_tag: dict) -> Path:
    """A bare repository ``root/name.git`` with one commit per tag (files: path -> text)."""
    work = root / f"{name}-work"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    for tag, files in files_by_tag.items():
        for rel, text in files.items():
            p = work / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", tag, cwd=work)
        git("tag", tag, cwd=work)
    bare = root / f"{name}.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    git("update-server-info", cwd=bare)
    (bare / "git-daemon-export-ok").write_text("")
    return bare


def tgz(files: dict, extra=None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info, data in extra or []:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


class Recorder:
    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()

    def add(self, what):
        with self.lock:
            self.requests.append(what)


class _Server:
    def __init__(self, handler_cls, recorder):
        handler_cls.recorder = recorder
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler for the kit's servers: no request log on stderr, ``_send`` writes one whole answer."""

    recorder: Recorder

    def log_message(self, *a):
        pass

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def git_server(project_root: Path, recorder: Recorder) -> _Server:
    """Smart HTTP git over ``git http-backend`` (CGI) for bare repositories under ``project_root``."""
    backend = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    backend = os.path.join(backend, "git-http-backend")

    class Handler(QuietHandler):
        def _cgi(self, body=b""):
            self.recorder.add(("git", self.command, self.path))
            parts = urlsplit(self.path)
            env = {"GIT_PROJECT_ROOT": str(project_root), "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
                   "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
                   "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1", "GATEWAY_INTERFACE": "CGI/1.1",
                   "SERVER_PROTOCOL": "HTTP/1.1", "PATH": os.environ.get("PATH", "")}
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            out = subprocess.run([backend], input=body, env=env, capture_output=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").split("\r\n"):
                if not line:
                    continue
                k, _, v = line.partition(":")
                if k.lower() == "status":
                    status = int(v.strip().split()[0])
                else:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            self._cgi()

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            self._cgi(self.rfile.read(n))

    return _Server(Handler, recorder)


def registry_server(modules: dict, recorder: Recorder, files: dict) -> _Server:
    """``modules``: "ns/name/provider" -> {version: X-Terraform-Get value}; ``files``: path -> bytes (archives)."""

    class Handler(QuietHandler):
        def do_GET(self):
            self.recorder.add(("registry", "GET", self.path))
            path = urlsplit(self.path).path
            if path == "/.well-known/terraform.json":
                return self._send(200, json.dumps({"modules.v1": "/v1/modules/"}).encode())
            if path in files:
                return self._send(200, files[path])
            if path.startswith("/v1/modules/"):
                rest = path[len("/v1/modules/"):].strip("/").split("/")
                mod = "/".join(rest[:3])
                if mod in modules and len(rest) == 4 and rest[3] == "versions":
                    doc = {"modules": [{"versions": [{"version": v} for v in modules[mod]]}]}
                    return self._send(200, json.dumps(doc).encode())
                if mod in modules and len(rest) == 5 and rest[4] == "download" and rest[3] in modules[mod]:
                    return self._send(204, headers=[("X-Terraform-Get", modules[mod][rest[3]])])
            self._send(404, b"{}")

    return _Server(Handler, recorder)


# --- Helm charts: a chart repository (index.yaml + archives) and an OCI registry, both on 127.0.0.1 ---------

GPU_CHART = {
    "Chart.yaml": "apiVersion: v2\nname: gpu-infer\nversion: {version}\n",
    "values.yaml": "replicas: 1\ngpus: 1\nteam: \"\"\n",
    "templates/deploy.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-server
  labels:
    chart-version: "{{ .Chart.Version }}"
spec:
  replicas: {{ .Values.replicas }}
  template:
    metadata:
      labels:
        team: {{ .Values.team | quote }}
    spec:
      nodeSelector:
        node.kubernetes.io/instance-type: g5.12xlarge
      containers:
        - name: server
          image: vllm/vllm-openai
          resources:
            limits:
              nvidia.com/gpu: {{ .Values.gpus }}
""",
}


def chart_tgz(version: str, name: str = "gpu-infer", files: dict | None = None) -> bytes:
    """A packaged chart (``<name>/Chart.yaml`` ...), as ``helm package`` lays it out."""
    src = files or GPU_CHART
    return tgz({f"{name}/{rel}": text.replace("{version}", version).replace("name: gpu-infer", f"name: {name}")
                for rel, text in src.items()})


def chart_index(entries: dict, base: str = "") -> bytes:
    """``index.yaml`` for ``entries``: chart name -> {version: (archive path or URL, sha256 hex or None)}."""
    lines = ["apiVersion: v1", "entries:"]
    for name, versions in entries.items():
        lines.append(f"  {name}:")
        for version, (url, digest) in versions.items():
            lines += [f"  - name: {name}", f"    version: {version}", "    apiVersion: v2", "    urls:",
                      f"    - {base}{url}"]
            if digest:
                lines.append(f"    digest: {digest}")
    return ("\n".join(lines) + "\n").encode()


def static_server(files: dict, recorder: Recorder, label: str = "charts", broken: set | None = None) -> _Server:
    """Serves ``files`` (path -> bytes); anything else is 404.  Paths in ``broken`` announce more bytes
    than they send, then close the connection (an answer that breaks off)."""
    broken = broken or set()

    class Handler(QuietHandler):
        def do_GET(self):
            self.recorder.add((label, "GET", self.path, self.headers.get("Authorization")))
            body = files.get(urlsplit(self.path).path)
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b"not found"
            cut = urlsplit(self.path).path in broken
            self.send_header("Content-Length", str(len(body) + (1000 if cut else 0)))
            self.end_headers()
            self.wfile.write(body)
            if cut:
                self.close_connection = True

    return _Server(Handler, recorder)


def oci_server(charts: dict, recorder: Recorder, token: str | None = "anon-token", corrupt: set | None = None,
               blob_redirect: str | None = None, page: int = 0, realm: str | None = None) -> _Server:
    """A minimal OCI distribution registry: ``charts`` is repository name -> {tag: chart archive bytes}.
    With ``token``, every /v2/<name>/ request without ``Authorization: Bearer <token>`` is answered 401
    with a ``WWW-Authenticate`` challenge whose realm is this server's /token.  ``corrupt``: tags whose
    blob is served altered (so its digest does not match).  ``blob_redirect``: a base URL blob requests
    are redirected to (307 to ``<base>/<digest>``), as registries send downloads to a storage host.
    ``page``: the tag list comes ``page`` tags at a time, with ``Link: <...?last=T&n=N>; rel="next"``.
    ``realm``: the token endpoint the challenge names instead of this server's /token."""
    import hashlib

    corrupt = corrupt or set()
    blobs: dict[str, bytes] = {}
    manifests: dict[tuple[str, str], bytes] = {}
    for name, tags in charts.items():
        for tag, data in tags.items():
            config = json.dumps({"name": name.rsplit("/", 1)[-1], "version": tag}).encode()
            cdig = "sha256:" + hashlib.sha256(config).hexdigest()
            ldig = "sha256:" + hashlib.sha256(data).hexdigest()
            blobs[cdig] = config
            blobs[ldig] = data + b"tampered" if tag in corrupt else data
            manifests[(name, tag)] = json.dumps({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": cdig,
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": ldig,
                            "size": len(data)}]}).encode()

    class Handler(QuietHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            self.recorder.add(("oci", "GET", self.path, self.headers.get("Authorization")))
            if parts.path == "/token":
                return self._send(200, json.dumps({"token": token}).encode())
            if not parts.path.startswith("/v2/"):
                return self._send(404)
            rest = parts.path[len("/v2/"):]
            for name in charts:
                if not rest.startswith(name + "/"):
                    continue
                if token and self.headers.get("Authorization") != f"Bearer {token}":
                    where = realm or f"http://127.0.0.1:{self.server.server_address[1]}/token"
                    return self._send(401, b"{}", [("WWW-Authenticate", f'Bearer realm="{where}",service="kit",'
                                                                         f'scope="repository:{name}:pull"')])
                what = rest[len(name) + 1:]
                if what == "tags/list":
                    tags = sorted(t.replace("+", "_") for t in charts[name])
                    link = []
                    if page:
                        from urllib.parse import parse_qs

                        last = (parse_qs(parts.query).get("last") or [""])[0]
                        rest_tags = [t for t in tags if t > last]
                        tags = rest_tags[:page]
                        if len(rest_tags) > page:
                            link = [("Link", f'</v2/{name}/tags/list?last={tags[-1]}&n={page}>; rel="next"')]
                    return self._send(200, json.dumps({"name": name, "tags": tags}).encode(), link)
                if what.startswith("manifests/"):
                    tag = what[len("manifests/"):].replace("_", "+")
                    body = manifests.get((name, tag))
                    if body is None:
                        return self._send(404, b"{}")
                    return self._send(200, body, [("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                                  ("Docker-Content-Digest",
                                                   "sha256:" + hashlib.sha256(body).hexdigest())])
                if what.startswith("blobs/") and what[len("blobs/"):] in blobs:
                    if blob_redirect:
                        return self._send(307, b"", [("Location", f"{blob_redirect}/{what[len('blobs/'):]}")])
                    return self._send(200, blobs[what[len("blobs/"):]])
            return self._send(404, b"{}")

    return _Server(Handler, recorder)
