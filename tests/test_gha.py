"""``python -m tagguard.integrations.gha`` against a GitHub REST stand-in on 127.0.0.1 that records every call."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tagguard.integrations import gha
DATA = Path(__file__).parent / "data"
REPO = "acme/infra"
PR = 7


class FakeGithub:
    """Issue comments with GitHub's pagination (Link headers), recording requests."""

    def __init__(self):
        self.calls = []
        self.comments = []
        self.next_id = 1000
        self.fail_status = None
        self.events = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def add(self, body):
        self.next_id += 1
        self.comments.append({"id": self.next_id, "body": body, "html_url": f"https://github.test/c/{self.next_id}",
                              "user": {"login": "github-actions[bot]", "type": "Bot"}})
        return self.next_id

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, status, payload, headers=None):
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

            def _record(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.calls.append({"method": self.command, "path": self.path, "body": body,
                                   "auth": self.headers.get("Authorization"), "accept": self.headers.get("Accept")})
                return body

            def do_GET(self):
                self._record()
                url = urlparse(self.path)
                if url.path == f"/repos/{REPO}/issues/{PR}/comments":
                    collection = fake.comments
                elif url.path == f"/repos/{REPO}/issues/{PR}/events":
                    collection = fake.events
                else:
                    return self._send(404, {"message": "Not Found"})
                q = parse_qs(url.query)
                per, page = int(q.get("per_page", ["30"])[0]), int(q.get("page", ["1"])[0])
                items = collection[(page - 1) * per: page * per]
                headers = {}
                if page * per < len(collection):
                    nxt = f"{fake.url}{url.path}?per_page={per}&page={page + 1}"
                    headers["Link"] = f'<{nxt}>; rel="next", <{fake.url}{url.path}?page=99>; rel="last"'
                self._send(200, items, headers)

            def do_POST(self):
                body = self._record()
                if fake.fail_status:
                    return self._send(fake.fail_status, {"message": "Resource not accessible by integration"})
                if urlparse(self.path).path != f"/repos/{REPO}/issues/{PR}/comments":
                    return self._send(404, {"message": "Not Found"})
                cid = fake.add(body["body"])
                self._send(201, fake.comments[-1] | {"id": cid})

            def do_PATCH(self):
                body = self._record()
                cid = int(urlparse(self.path).path.rsplit("/", 1)[1])
                for c in fake.comments:
                    if c["id"] == cid:
                        c["body"] = body["body"]
                        return self._send(200, c)
                self._send(404, {"message": "Not Found"})

        return Handler


@pytest.fixture
def github():
    fake = FakeGithub()
    yield fake
    fake.close()


@pytest.fixture
def workspace(tmp_path):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    return tmp_path


def event(tmp_path, labels=(), number=PR, action="synchronize", base=None, **more):
    payload = {"action": action, "number": number, **more,
               "pull_request": {"number": number, "labels": [{"name": lb} for lb in labels],
                                "base": {"sha": base, "ref": "main"} if base else {}}}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return path


def run_gha(workspace, github, *args, labels=(), extra_env=None, event_fields=None, cwd=None):
    out = workspace / "github_output"
    summary = workspace / "summary.md"
    env = {**os.environ, "GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": "t0ken",
           "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(event(workspace, labels, **(event_fields or {}))),
           "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(workspace / "tmp"),
           "NO_COLOR": "1", **(extra_env or {})}
    for k in ("TAGGUARD_COMMAND", "TAGGUARD_COMMENT_MODE", "TAGGUARD_PATHS", "TAGGUARD_FAIL_ON",
              "TAGGUARD_APPROVAL_LABEL", "TAGGUARD_APPROVED_BY"):
        env.pop(k, None)
    proc = subprocess.run([sys.executable, "-m", "tagguard.integrations.gha", *args], cwd=cwd or workspace / "repo",
                          env=env, capture_output=True, text=True, timeout=120)
    outputs = {}
    if out.exists():
        for line in out.read_text().splitlines():
            k, _, v = line.partition("=")
            outputs[k] = v
    return proc, outputs


def test_update_mode_finds_the_marker_on_page_two_and_edits_in_place(workspace, github):
    for i in range(150):
        github.add(f"unrelated comment {i}")
    github.comments[129]["body"] = gha.marker() + "\nold report"
    target = github.comments[129]["id"]
    proc, outputs = run_gha(workspace, github, "run", "infra", "--approval-label", "cost-approved")
    assert proc.returncode == 0, proc.stderr  # the verdict travels in the exit-code output
    methods = [(c["method"], urlparse(c["path"]).path) for c in github.calls]
    assert methods == [("GET", f"/repos/{REPO}/issues/{PR}/comments"), ("GET", f"/repos/{REPO}/issues/{PR}/comments"),
                       ("PATCH", f"/repos/{REPO}/issues/comments/{target}")]
    assert "page=2" in github.calls[1]["path"]
    assert all(c["auth"] == "Bearer t0ken" and c["accept"] == "application/vnd.github+json" for c in github.calls)
    body = github.comments[129]["body"]
    assert body.startswith(gha.marker() + "\n### tagguard")
    assert "aws_instance.trainer" in body and "old report" not in body
    assert len(github.comments) == 150
    # annotations went to the log, outputs to GITHUB_OUTPUT, the summary to the job summary
    assert "::error file=infra/main.tf,line=10,title=tagguard missing-tag (cost-center)::" in proc.stdout
    assert outputs["exit-code"] == "1" and outputs["errors"] == "2" and int(outputs["findings"]) >= 2
    assert outputs["blocking"] == "2" and outputs["suppressed"] == "2" and outputs["command"] == "scan"
    assert outputs["approved"] == "false" and outputs["approved-by"] == ""
    assert float(outputs["monthly-cost"]) > 0 and outputs["monthly-cost-delta"] == ""
    assert Path(outputs["markdown-report"]).read_text().startswith("### tagguard")
    assert json.loads(Path(outputs["sarif-file"]).read_text())["version"] == "2.1.0"
    assert outputs["comment-url"] == f"https://github.test/c/{target}"
    assert "**FAIL**" in (workspace / "summary.md").read_text()


def test_update_mode_creates_when_no_marker_and_new_mode_always_creates(workspace, github):
    github.add("hello")
    proc, outputs = run_gha(workspace, github, "run", "infra")
    assert [c["method"] for c in github.calls] == ["GET", "POST"]
    assert github.comments[-1]["body"].startswith(gha.marker())
    github.calls.clear()
    proc, _ = run_gha(workspace, github, "run", "infra", "--comment-mode", "new")
    assert [c["method"] for c in github.calls] == ["POST"]
    assert len(github.comments) == 3
    # a second job on the same PR keeps its own comment
    github.calls.clear()
    run_gha(workspace, github, "run", "infra", "--comment-id", "k8s")
    assert [c["method"] for c in github.calls] == ["GET", "POST"]
    assert github.comments[-1]["body"].startswith("<!-- tagguard-report id=k8s -->")


def test_comment_off_and_exit_code_flag(workspace, github):
    proc, outputs = run_gha(workspace, github, "run", "infra", "--comment-mode", "off", "--exit-code")
    assert proc.returncode == 1
    assert github.calls == []
    proc, outputs = run_gha(workspace, github, "run", "infra/ok", "--comment-mode", "off", "--exit-code")
    assert proc.returncode == 0 and outputs["exit-code"] == "0" and outputs["errors"] == "0"


def test_forbidden_comment_is_a_warning_not_a_crash(workspace, github):
    github.fail_status = 403
    proc, outputs = run_gha(workspace, github, "run", "infra")
    assert proc.returncode == 0
    assert "::warning title=tagguard::cannot write the pull request comment: GitHub API 403" in proc.stdout
    assert "read-only token" in proc.stdout
    assert outputs["exit-code"] == "1"


def test_approver_from_a_labeled_event_or_the_label_events(workspace, github):
    # the labeled event itself names who added the label: no API call
    proc, _ = run_gha(workspace, github, "approved", "cost-approved", labels=["cost-approved"],
                      event_fields={"action": "labeled", "label": {"name": "cost-approved"},
                                    "sender": {"login": "alice"}})
    assert proc.returncode == 0 and proc.stdout.strip() == "alice" and github.calls == []
    # a later push: the issue's label events (paginated) say who added it last
    github.events = [{"event": "commented", "actor": {"login": "x"}}] * 120 + [
        {"event": "labeled", "label": {"name": "cost-approved"}, "actor": {"login": "bob"}},
        {"event": "labeled", "label": {"name": "infra"}, "actor": {"login": "mallory"}}]
    proc, _ = run_gha(workspace, github, "approved", "cost-approved", labels=["cost-approved", "infra"])
    assert proc.stdout.strip() == "bob"
    assert [urlparse(c["path"]).path for c in github.calls] == [f"/repos/{REPO}/issues/{PR}/events"] * 2
    # nobody can be named: the label itself
    github.events = []
    proc, _ = run_gha(workspace, github, "approved", "cost-approved", labels=["cost-approved"])
    assert proc.stdout.strip() == "label:cost-approved"
    # no label, no approval
    proc, _ = run_gha(workspace, github, "approved", "cost-approved", labels=["infra"])
    assert proc.returncode == 1 and proc.stdout.strip() == ""


PLAN = {"format_version": "1.2", "terraform_version": "1.9.0",
        "configuration": {"provider_config": {
            "aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}},
        }},
        "resource_changes": [{
            "address": "aws_instance.trainer", "mode": "managed", "type": "aws_instance", "name": "trainer",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": ["create"], "before": None, "after_unknown": {"id": True},
                       "after": {"instance_type": "p4d.24xlarge", "ami": "ami-1",
                                 "tags": {"business-unit": "research", "project": "llm", "environment": "prod",
                                          "cost-center": "CC-1"},
                                 "tags_all": {"business-unit": "research", "project": "llm", "environment": "prod",
                                              "cost-center": "CC-1"}}}}]}


def test_approval_label_lets_a_costly_change_through(workspace, github):
    from tagguard.rules import all_docs

    if "needs-approval" not in all_docs():
        pytest.skip("this build has no needs-approval rule (cost approvals)")
    plan_dir = workspace / "plan"
    plan_dir.mkdir()
    (plan_dir / ".tagguard.yaml").write_text("version: 1\napprovals:\n  monthly_usd_threshold: 1000\n")
    (plan_dir / "tfplan.json").write_text(json.dumps(PLAN))
    proc, outputs = run_gha(workspace, github, "run", "tfplan.json", "--approval-label", "cost-approved", cwd=plan_dir)
    assert outputs["exit-code"] == "1", proc.stdout + proc.stderr
    assert "needs-approval" in proc.stdout
    assert float(outputs["monthly-cost-delta"]) > 1000
    github.events = [{"event": "labeled", "label": {"name": "cost-approved"}, "actor": {"login": "carol"}}]
    proc, outputs = run_gha(workspace, github, "run", "tfplan.json", "--approval-label", "cost-approved",
                            labels=["cost-approved"], cwd=plan_dir)
    assert outputs["exit-code"] == "0", proc.stdout + proc.stderr
    assert outputs["approved"] == "true" and outputs["approved-by"] == "carol"
    report = json.loads(Path(outputs["json-report"]).read_text())
    (approved,) = [f for f in report["findings"] if f["rule"] == "needs-approval"]
    assert approved["suppressed"] and "carol" in approved["suppression_reason"]
    assert "The `cost-approved` label is set (approver: carol)" in github.comments[-1]["body"]


def test_counts_and_cost_delta_from_the_report():
    report = {"summary": {"findings": 3, "blocking": 1, "suppressed": 2, "monthly_usd": 10.5,
                          "by_severity": {"error": 1, "warning": 1, "info": 1}},
              "cost_diff": {"total_delta_monthly_usd": -1234.5}}
    counts = gha.count(report)
    assert counts == {"findings": 3, "errors": 1, "warnings": 1, "suppressed": 2, "blocking": 1,
                      "monthly-cost": 10.5, "monthly-cost-delta": -1234.5}
    assert gha.count({"summary": {}})["monthly-cost-delta"] == ""


def test_comment_subcommand_and_link_parsing(workspace, github):
    body = workspace / "body.md"
    body.write_text("hello\n")
    proc, _ = run_gha(workspace, github, "comment", "--body-file", str(body))
    assert proc.returncode == 0 and proc.stdout.startswith("created https://github.test/c/")
    proc, _ = run_gha(workspace, github, "comment", "--body-file", str(body))
    assert proc.stdout.startswith("updated ")
    assert gha._next_link('<https://x/a?page=2>; rel="next", <https://x/a?page=5>; rel="last"') == "https://x/a?page=2"
    assert gha._next_link('<https://x/a?page=5>; rel="last"') is None


def test_pull_request_runs_diff_against_the_base(workspace, github):
    if gha.diff_base_option() is None:
        pytest.skip("this build has no `tagguard diff` command")
    repo = workspace / "repo"
    main = repo / "infra" / "main.tf"
    new = main.read_text()
    main.unlink()
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    base = rev.stdout.strip()
    main.write_text(new)  # the pull request adds the violating module
    proc, outputs = run_gha(workspace, github, "run", "infra", event_fields={"base": base})
    assert outputs["command"] == "diff", proc.stdout + proc.stderr
    assert outputs["exit-code"] == "1", proc.stdout + proc.stderr
    assert "::error file=infra/main.tf,line=10,title=tagguard missing-tag (cost-center)::" in proc.stdout
    assert float(outputs["monthly-cost-delta"]) > 0
    sarif = json.loads(Path(outputs["sarif-file"]).read_text())
    assert any(r["ruleId"] == "missing-tag" for r in sarif["runs"][0]["results"])
    import jsonschema

    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(sarif, schema, cls=jsonschema.Draft4Validator)
    assert github.comments and "aws_instance.trainer" in github.comments[-1]["body"]
    assert (workspace / "summary.md").read_text().strip()
