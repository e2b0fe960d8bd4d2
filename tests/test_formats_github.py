"""``--format github``: workflow commands with correct escaping, plus the job summary."""
from __future__ import annotations

import shutil
from pathlib import Path


from clikit import run_cli
from tagguard.formats.github import GithubFormatter, escape_data, escape_property, workflow_command
from tagguard.model import Finding, ScanResult

DATA = Path(__file__).parent / "data"


def parse_command(line):
    """Undo GitHub's escaping the way the runner does."""
    assert line.startswith("::")
    head, _, message = line[2:].partition("::")
    command, _, props = head.partition(" ")
    def unesc(s):
        return s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")

    fields = {}
    for item in props.split(",") if props else []:
        k, _, v = item.partition("=")
        fields[k] = unesc(v)
    return command, fields, unesc(message)


def test_escaping_round_trips():
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    nasty = "dir,with:colon/100%/main.tf"
    line = workflow_command("error", "line1\nline2: 100%, done", file=nasty, line=7, title="t: x, y")
    assert "\n" not in line
    command, fields, message = parse_command(line)
    assert command == "error"
    assert fields == {"file": nasty, "line": "7", "title": "t: x, y"}
    assert message == "line1\nline2: 100%, done"


def test_annotations_from_a_real_scan(tmp_path, monkeypatch):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    summary = tmp_path / "summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = run_cli("scan", "infra", "-f", "github")
    assert res.exit_code == 1
    commands = [parse_command(ln) for ln in res.output.splitlines() if ln.startswith("::")]
    assert len(commands) == 2  # suppressed findings are not annotated
    by_title = {c[1]["title"]: c for c in commands}
    cmd, fields, message = by_title["tagguard missing-tag (cost-center)"]
    assert cmd == "error"
    assert fields["file"] == "infra/main.tf" and fields["line"] == "10"
    assert message.startswith("aws_instance.trainer: required tag `cost-center` is missing\nfix: ")
    assert res.output.splitlines()[-1].startswith("FAIL: 4 AI resources")
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("previous step\n")  # appended, not overwritten
    assert "**FAIL**" in text and "aws_instance.trainer" in text


def test_no_summary_without_env_and_severity_mapping(tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.chdir(tmp_path)
    findings = [Finding(rule="unresolved-value", category="unresolved_value", severity="warning", message="w",
                        file="a.tf", line=2),
                Finding(rule="x", category="x", severity="info", message="i")]
    out = GithubFormatter().format(ScanResult(findings=findings, root="."))
    lines = out.splitlines()
    assert lines[0] == "::warning file=a.tf,line=2,title=tagguard unresolved-value::w"
    assert lines[1] == "::notice title=tagguard x::i"
    assert not list(tmp_path.iterdir())
