"""One run, several outputs: ``-f X -o F`` pairs and ``--output-<fmt> FILE``, end to end in a subprocess."""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from clikit import run_cli

DATA = Path(__file__).parent / "data"


def test_one_run_writes_every_format(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "project", repo)
    summary = tmp_path / "step-summary.md"
    proc = run_cli("scan", "infra",
                   "-f", "json", "-o", "out/report.json",
                   "-f", "sarif", "-o", "out/report.sarif",
                   "-f", "text",
                   "--output-junit", "out/junit.xml", "--output-markdown", "out/report.md",
                   "--output-github", "out/annotations.txt",
                   cwd=repo, env={"GITHUB_STEP_SUMMARY": str(summary)}, process=True)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    # text went to stdout, nothing else did
    assert proc.stdout.splitlines()[-1].startswith("FAIL: 4 AI resources")
    out = repo / "out"
    report = json.loads((out / "report.json").read_text())
    sarif = json.loads((out / "report.sarif").read_text())
    assert report["summary"]["findings"] == 2
    assert len([r for r in sarif["runs"][0]["results"] if "suppressions" not in r]) == 2
    assert ET.parse(out / "junit.xml").getroot().get("failures") == "2"
    assert (out / "report.md").read_text().startswith("### tagguard")
    assert (out / "annotations.txt").read_text().count("::error ") == 2
    assert "**FAIL**" in summary.read_text()


def test_two_formats_to_stdout_is_a_usage_error(tmp_path):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    proc = run_cli("scan", "infra", "-f", "json", "-f", "sarif", cwd=tmp_path / "repo", process=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "tagguard: error: only one format can go to stdout; give --output FILE for the others"
