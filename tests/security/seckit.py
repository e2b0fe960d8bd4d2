"""Hostile-repository helpers for tests/security/ (shared by every file here).

Import helpers with ``from seckit import ...`` (a module name of its own: ``from conftest
import`` is ambiguous when several test directories have a conftest.py); the fixtures are
re-exported by ``tests/security/conftest.py``.

Each attack test builds a repository under ``tmp_path`` with a random secret kept
OUTSIDE it (a file next to the repository and an environment variable), runs the
real CLI in a subprocess under an address-space limit and a timeout, and checks
that the secret (plain or base64) shows up in no output, no traceback escaped, and
the run stayed within time and memory.

Fixtures: ``secret``, ``hostile_repo``, ``run_cli``, ``scan_all``, ``loopback``, ``marker``.
Plain helpers: ``assert_no_leak``, ``assert_clean``, ``write``, ``b64_forms``.
"""
from __future__ import annotations

import base64
import http.server
import json
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Sequence

import pytest

DEFAULT_TIMEOUT = 60.0
# A Helm template for an untagged 8-GPU training Job: what a hostile chart renders.
GPU_JOB_TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-train
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: t
          image: x
          resources:
            limits:
              nvidia.com/gpu: 8
"""

DEFAULT_MEMORY = 1536 * 1024 * 1024  # RLIMIT_AS for the child: python + tree-sitter need ~300 MB of address space


# --- secrets ----------------------------------------------------------------------------

@dataclass
class Secret:
    value: str
    file: Path  # outside the repository
    env_name: str = "TAGGUARD_TEST_SECRET"

    def forms(self) -> list[str]:
        return [self.value] + b64_forms(self.value)


def b64_forms(value: str) -> list[str]:
    """Substrings that appear in the base64 of any text containing ``value``, whatever its offset."""
    raw = value.encode()
    out = []
    for pad in range(3):
        enc = base64.b64encode(b"\0" * pad + raw).decode()
        # drop the characters that depend on the bytes before and after the secret
        start = (pad * 4 + 2) // 3 + 1
        out.append(enc[start:-4])
    return [s for s in out if len(s) >= 16]


@pytest.fixture
def secret(tmp_path: Path) -> Secret:
    value = "tgsecret" + secrets.token_hex(16)
    path = tmp_path / "secret"
    path.write_text(value + "\n")
    return Secret(value=value, file=path)


# --- the hostile repository ---------------------------------------------------------------

def write(root: Path, rel: str, text, mode: str = "w") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.fixture
def hostile_repo(tmp_path: Path, secret: Secret) -> Path:
    """``tmp_path/repo``, a git top-level (``git init`` when git exists), next to ``tmp_path/secret``."""
    repo = tmp_path / "repo"
    repo.mkdir()
    if shutil.which("git"):
        subprocess.run(["git", "init", "-q", str(repo)], check=True, capture_output=True)
    else:  # pragma: no cover
        (repo / ".git").mkdir()
    return repo


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A path a hostile program would create; tests assert it never exists."""
    return tmp_path / "PWNED"


# --- running the CLI ------------------------------------------------------------------------

@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_bytes: int
    outputs: dict[str, str] = field(default_factory=dict)  # format -> report text (files)
    timed_out: bool = False

    def all_text(self) -> str:
        return "\n".join([self.stdout, self.stderr] + list(self.outputs.values()))


def _limit(memory: int | None):
    def apply() -> None:
        os.setsid()
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return apply


def run_cli(args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
            secret: Secret | None = None, timeout: float = DEFAULT_TIMEOUT,
            memory: int | None = DEFAULT_MEMORY, stdin: int | None = None,
            outputs: dict[str, Path] | None = None) -> Run:
    """``python -m tagguard ARGS`` under RLIMIT_AS and a timeout; stdin is a pipe nobody writes
    to (so a read of /dev/stdin would hang, not see EOF) unless ``stdin`` is given."""
    full_env = dict(os.environ)
    full_env.pop("GITHUB_ACTIONS", None)
    full_env["NO_COLOR"] = "1"
    full_env["COLUMNS"] = "200"
    if secret is not None:
        full_env[secret.env_name] = secret.value
        full_env["GITHUB_TOKEN"] = secret.value
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "tagguard", *args]
    out_dir = Path(cwd or ".")
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    stdout_f = open(tmp / f"tg-sec-{os.getpid()}-{secrets.token_hex(4)}.out", "w+b")
    stderr_f = open(stdout_f.name + ".err", "w+b")
    keep_stdin = None
    if stdin is None:
        r, w = os.pipe()  # never written, never closed until the end: /dev/stdin would block
        stdin, keep_stdin = r, w
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=str(out_dir), env=full_env, stdin=stdin, stdout=stdout_f,
                            stderr=stderr_f, preexec_fn=_limit(memory))
    timed_out = False
    rss = 0
    status = 0
    try:
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rss = usage.ru_maxrss * 1024
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                rss = usage.ru_maxrss * 1024
                break
            time.sleep(0.02)
    finally:
        proc.returncode = os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status
        if keep_stdin is not None:
            os.close(stdin)
            os.close(keep_stdin)
    seconds = time.monotonic() - start
    stdout_f.seek(0)
    stderr_f.seek(0)
    out, err = stdout_f.read().decode("utf-8", "replace"), stderr_f.read().decode("utf-8", "replace")
    for f in (stdout_f, stderr_f):
        f.close()
        os.unlink(f.name)
    texts = {}
    for fmt, path in (outputs or {}).items():
        texts[fmt] = Path(path).read_text(encoding="utf-8", errors="replace") if Path(path).exists() else ""
    return Run(list(args), proc.returncode, out, err, seconds, rss, texts, timed_out)


def scan_all(target: Path, secret: Secret | None = None, *, extra: Sequence[str] = (),
             out_dir: Path | None = None, cwd: Path | None = None, **kw) -> Run:
    """``tagguard scan TARGET`` once, with text on stdout and json, sarif and markdown reports
    written next to (never inside) the scanned repository."""
    out_dir = out_dir or Path(target).resolve().parent.parent / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "r.json", "sarif": out_dir / "r.sarif", "markdown": out_dir / "r.md"}
    args = ["scan", "--no-color", "-f", "text", "--output-json", str(files["json"]),
            "--output-sarif", str(files["sarif"]), "--output-markdown", str(files["markdown"]), *extra,
            "--", str(target)]
    for f in files.values():
        if f.exists():
            f.unlink()
    return run_cli(args, cwd=cwd or Path(target).resolve().parent, secret=secret, outputs=files, **kw)


# --- assertions -----------------------------------------------------------------------------

def assert_no_leak(run: Run, secret: Secret) -> None:
    text = run.all_text()
    for form in secret.forms():
        assert form not in text, f"secret leaked ({form[:12]}...) in output of {run.args}"


def assert_clean(run: Run, *, exit_codes: Iterable[int] = (0, 1), max_seconds: float = 30.0,
                 max_rss: int | None = None, secret: Secret | None = None,
                 formats: Iterable[str] = ("json", "sarif", "markdown")) -> None:
    """No timeout, no traceback, an expected exit code, every report written, no secret."""
    assert not run.timed_out, f"timed out after {run.seconds:.1f}s: {run.args}\n{run.stderr[-2000:]}"
    assert "Traceback" not in run.all_text(), run.stderr[-3000:]
    assert "internal error" not in run.all_text().lower(), run.stderr[-3000:]
    assert run.returncode in tuple(exit_codes), f"exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.seconds <= max_seconds, f"took {run.seconds:.1f}s"
    if max_rss is not None:
        assert run.max_rss_bytes <= max_rss, f"peak RSS {run.max_rss_bytes / 2**20:.0f} MiB > {max_rss / 2**20:.0f} MiB"
    for fmt in formats:
        if fmt in run.outputs:
            assert run.outputs[fmt], f"{fmt} report missing or empty"
    if "json" in run.outputs and run.outputs["json"]:
        json.loads(run.outputs["json"])
    if secret is not None:
        assert_no_leak(run, secret)


def report(run: Run) -> dict:
    return json.loads(run.outputs["json"])


def messages(run: Run) -> list[str]:
    doc = report(run)
    return [f.get("message", "") for f in doc.get("findings", [])] + [str(e) for e in doc.get("errors", [])]


# --- a loopback server that records every request -----------------------------------------

class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self):  # noqa: N802
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *a):  # quiet
        pass


@dataclass
class Loopback:
    url: str
    hits: list[str]


@pytest.fixture
def loopback():
    """An HTTP server on 127.0.0.1; ``loopback.hits`` lists every request path it received."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Loopback(url=f"http://127.0.0.1:{server.server_address[1]}", hits=server.hits)  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
