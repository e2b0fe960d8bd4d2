"""The GitHub Action under a hostile pull request: the token reaches only the step that comments,
third-party actions are pinned by commit SHA, nothing in the checkout runs (not even a committed
``tagguard/`` package shadowing the installed one), and the comment updated in place is one
tagguard wrote (author and marker), never a comment the pull request author planted the marker in.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from tagguard.integrations import gha
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
REPO = "acme/infra"
PR = 7
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def action():
    return yaml.safe_load((ROOT / "action.yml").read_text())


def steps():
    return action()["runs"]["steps"]


# --- action.yml and the example workflow ------------------------------------------------------

def test_only_the_comment_step_gets_the_token():
    with_token = []
    for step in steps():
        env = step.get("env") or {}
        text = json.dumps(env) + json.dumps(step.get("with") or {})
        if "github-token" in text or "github.token" in text or any("TOKEN" in k.upper() for k in env):
            with_token.append(step.get("id") or step.get("name"))
    assert with_token == ["comment"], with_token
    comment = next(s for s in steps() if s.get("id") == "comment")
    assert "tagguard.integrations.gha comment" in comment["run"] and "gha run" not in comment["run"]
    assert comment["working-directory"] == "${{ runner.temp }}"  # not inside the checkout
    run = next(s for s in steps() if s.get("id") == "run")
    assert not any("TOKEN" in k.upper() for k in run.get("env") or {})
    assert (run.get("env") or {}).get("TAGGUARD_DEFER_COMMENT") == "true"
    # the input's own default is the only place the workflow token is named
    assert action()["inputs"]["github-token"]["default"] == "${{ github.token }}"


def test_third_party_actions_are_pinned_by_full_commit_sha():
    for step in steps():
        if "uses" in step and not step["uses"].startswith("./"):
            assert SHA_PIN.match(step["uses"]), step["uses"]
    examples = [ROOT / "examples" / "github-workflow.yml", *sorted((ROOT / "examples" / "workflows").glob("*.yml"))]
    checked = 0
    for path in examples:  # every workflow users copy, not only the first one
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses", "")
                if uses and not uses.startswith("tagguard/tagguard@"):  # the action itself: pinned by its users
                    assert SHA_PIN.match(uses), f"{path.name}: {uses}"
                    checked += 1
    assert checked >= 8


def test_every_python_step_runs_isolated_and_no_input_is_pasted_into_shell():
    for step in steps():
        script = step.get("run", "")
        for line in script.splitlines():
            if re.search(r"\bpython3?\b.* -m ", line) or re.search(r'/bin/python"? -m', line):
                assert " -I " in line, line
        assert "${{" not in script, step.get("name")  # values reach scripts through env only


def test_example_workflow_warns_and_avoids_pull_request_target():
    text = (ROOT / "examples" / "github-workflow.yml").read_text()
    wf = yaml.safe_load(text)
    on = wf.get("on") or wf.get(True)
    assert "pull_request_target" not in on and "pull_request" in on
    assert "never on `pull_request_target`" in text
    checkout = next(s for s in wf["jobs"]["tagguard"]["steps"] if "actions/checkout" in s.get("uses", ""))
    assert checkout["with"]["persist-credentials"] is False


def test_head_config_input_defaults_to_the_base_config():
    inputs = action()["inputs"]
    assert inputs["head-config"]["default"] == "false"
    run = next(s for s in steps() if s.get("id") == "run")
    assert run["env"]["TAGGUARD_HEAD_CONFIG"] == "${{ inputs.head-config }}"


# --- a GitHub REST stand-in on 127.0.0.1 ---------------------------------------------------------

class FakeGithub:
    def __init__(self, me=None):
        self.calls, self.comments, self.next_id, self.me = [], [], 500, me
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, payload):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else None
                fake.calls.append((self.command, urlparse(self.path).path, self.headers.get("Authorization")))
                return body

            def do_GET(self):
                self._body()
                path = urlparse(self.path).path
                if path == "/user":
                    return self._send(200, {"login": fake.me}) if fake.me else \
                        self._send(403, {"message": "Resource not accessible by integration"})
                if path == f"/repos/{REPO}/issues/{PR}/comments":
                    return self._send(200, fake.comments)
                return self._send(404, {"message": "Not Found"})

            def do_POST(self):
                body = self._body()
                fake.next_id += 1
                c = {"id": fake.next_id, "body": body["body"], "user": {"login": fake.me or "github-actions[bot]"},
                     "html_url": f"https://github.test/c/{fake.next_id}"}
                fake.comments.append(c)
                self._send(201, c)

            def do_PATCH(self):
                body = self._body()
                cid = int(urlparse(self.path).path.rsplit("/", 1)[1])
                for c in fake.comments:
                    if c["id"] == cid:
                        c["body"] = body["body"]
                        return self._send(200, c)
                self._send(404, {"message": "Not Found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, login, body):
        self.next_id += 1
        self.comments.append({"id": self.next_id, "body": body, "user": {"login": login},
                              "html_url": f"https://github.test/c/{self.next_id}"})
        return self.next_id

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github():
    fake = FakeGithub()
    yield fake
    fake.close()


def client(fake):
    return gha.Github("t0ken", REPO, api_url=fake.url, timeout=10)


def test_a_planted_marker_in_someone_elses_comment_is_never_edited(github):
    mark = gha.marker()
    planted = github.add("mallory", f"{mark}\nPASS, nothing to see")  # the PR author copies the marker
    quoted = github.add("github-actions[bot]", f"> quoting: {mark}\nold")  # ours, but the marker is not first
    action, comment = gha.upsert_comment(client(github), PR, "### report")
    assert action == "created"
    by_id = {c["id"]: c for c in github.comments}
    assert by_id[planted]["body"] == f"{mark}\nPASS, nothing to see"
    assert by_id[quoted]["body"].endswith("old")
    assert not any(m == "PATCH" for m, _, _ in github.calls)
    # the next run finds the comment it wrote and edits that one
    github.calls.clear()
    action, again = gha.upsert_comment(client(github), PR, "### report 2")
    assert action == "updated" and again["id"] == comment["id"]
    assert by_id[planted]["body"].startswith(mark + "\nPASS")


def test_comment_ids_do_not_capture_each_other(github):
    ours = github.add("github-actions[bot]", f"{gha.marker()}\n<!-- tagguard-report -->\n### scan job")
    action, c = gha.upsert_comment(client(github), PR, "### k8s job", comment_id="k8s")
    assert action == "created" and c["id"] != ours


def test_a_personal_token_may_update_its_own_users_comment():
    fake = FakeGithub(me="ci-bot-user")
    try:
        own = fake.add("ci-bot-user", f"{gha.marker()}\nold")
        fake.add("mallory", f"{gha.marker()}\nplanted")
        action, c = gha.upsert_comment(client(fake), PR, "new")
        assert action == "updated" and c["id"] == own
        # an App token's bot login can be allowed explicitly
        fake.me = None
        app = fake.add("my-app[bot]", f"{gha.marker(comment_id='x')}\nold")
        action, c = gha.upsert_comment(client(fake), PR, "new", comment_id="x", extra_authors="my-app[bot]")
        assert action == "updated" and c["id"] == app
    finally:
        fake.close()


# --- the run step: no token, nothing from the checkout imported -----------------------------------

def env_for(workspace: Path, fake: FakeGithub, **more):
    event = workspace / "event.json"
    event.write_text(json.dumps({"action": "synchronize", "number": PR, "pull_request": {"number": PR, "labels": []}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAGGUARD_", "GITHUB_"))}
    env.update({"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_EVENT_PATH": str(event), "GITHUB_OUTPUT": str(workspace / "out"),
                "GITHUB_STEP_SUMMARY": str(workspace / "summary.md"), "RUNNER_TEMP": str(workspace / "tmp"),
                "NO_COLOR": "1", **more})
    return env


def outputs(workspace: Path):
    out = {}
    path = workspace / "out"
    if path.exists():
        for line in path.read_text().splitlines():
            k, _, v = line.partition("=")
            out[k] = v
    return out


HIJACK = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"


def hostile_checkout(workspace: Path) -> Path:
    repo = workspace / "repo"
    shutil.copytree(DATA / "project", repo)
    marker = workspace / "PWNED"
    for pkg in ("tagguard", "pip", "venv"):
        (repo / pkg).mkdir()
        (repo / pkg / "__init__.py").write_text(HIJACK.format(marker=str(marker)))
        (repo / pkg / "__main__.py").write_text(HIJACK.format(marker=str(marker)))
    (repo / "tagguard" / "gha.py").write_text(HIJACK.format(marker=str(marker)))
    return repo


def test_the_run_step_imports_nothing_from_the_checkout_and_defers_the_comment(tmp_path, github):
    repo = hostile_checkout(tmp_path)
    run = next(s for s in steps() if s.get("id") == "run")["run"].strip()
    env = env_for(tmp_path, github, TAGGUARD_PATHS="infra", TAGGUARD_DEFER_COMMENT="true", TAGGUARD_SARIF="false")
    cmd = run.replace("python ", f"{sys.executable} ", 1)
    proc = subprocess.run(["bash", "-c", cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "PWNED").exists(), "code from the checkout ran"
    out = outputs(tmp_path)
    assert out["exit-code"] == "1" and out["errors"] == "2"
    assert github.calls == []  # no token, no API call: the comment is the next step's job
    body = Path(out["comment-body"]).read_text()
    assert "aws_instance.trainer" in body
    # the comment step (token, outside the checkout) posts it
    comment = next(s for s in steps() if s.get("id") == "comment")["run"].strip()
    env2 = env_for(tmp_path, github, GITHUB_TOKEN="t0ken", BODY_FILE=out["comment-body"])
    proc = subprocess.run(["bash", "-c", comment.replace("python ", f"{sys.executable} ", 1)], cwd=tmp_path,
                          env=env2, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [m for m, _, _ in github.calls] == ["GET", "POST"]
    assert github.comments[-1]["body"].startswith(gha.marker() + "\n")
    assert outputs(tmp_path)["comment-url"].startswith("https://github.test/c/")


def test_control_without_isolation_the_checkout_would_have_run(tmp_path, github):
    """The hijack above is real: plain `python -m tagguard.integrations.gha` imports the committed package."""
    repo = hostile_checkout(tmp_path)
    subprocess.run([sys.executable, "-m", "tagguard.integrations.gha", "--help"], cwd=repo, capture_output=True,
                   timeout=60, env=env_for(tmp_path, github))
    assert (tmp_path / "PWNED").exists()


def test_the_scan_process_gets_no_credentials(tmp_path, monkeypatch):
    seen = {}

    def fake_run(cmd, env=None, **kw):
        seen["cmd"], seen["env"] = cmd, env
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(gha.subprocess, "run", fake_run)
    for k in ("GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_RUNTIME_TOKEN"):
        monkeypatch.setenv(k, "secret-" + k)
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    args = argparse.Namespace(output_dir=str(tmp_path / "o"), token="", approval_label="", base_ref="", command="scan",
                              config="", fail_on="", extra_args=[], baseline="", sarif=False, paths=["--helm-bin=x"],
                              comment_mode="off", comment_id="", exit_code=False, head_config=False,
                              defer_comment=True, comment_author="")
    assert gha.run(args) == 0
    assert not any("secret-" in v for v in seen["env"].values())
    assert seen["cmd"][1] == "-I"
    assert seen["cmd"][-2:] == ["--", "--helm-bin=x"]  # a path is never read as an option


def test_diff_gets_head_config_only_when_asked(tmp_path, monkeypatch):
    if not gha.diff_has_option("--head-config"):
        pytest.skip("this build's diff has no --head-config")
    seen = []
    monkeypatch.setattr(gha.subprocess, "run", lambda cmd, env=None, **kw: seen.append(cmd) or
                        subprocess.CompletedProcess(cmd, 0))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    for head in (False, True):
        args = argparse.Namespace(output_dir=str(tmp_path / "o"), token="", approval_label="", base_ref="abc123",
                                  command="auto", config="", fail_on="", extra_args=[], baseline="", sarif=False,
                                  paths=["."], comment_mode="off", comment_id="", exit_code=False, head_config=head,
                                  defer_comment=True, comment_author="")
        gha.run(args)
    assert "diff" in seen[0] and "--head-config" not in seen[0]
    assert "--head-config" in seen[1]
