"""One run, several outputs: ``-f X -o F`` pairs and ``--output-<fmt> FILE``, end to end in a subprocess."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

DATA = Path(__file__).parent / "data"


def tagguard(cwd, *args, env=None):
    return subprocess.run([sys.executable, "-m", "tagguard", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})}, timeout=120)


def test_one_run_writes_every_format(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(DATA / "project", repo)
    summary = tmp_path / "step-summary.md"
    proc = tagguard(repo, "scan", "infra",
                    "-f", "json", "-o", "out/report.json",
                    "-f", "sarif", "-o", "out/report.sarif",
                    "-f", "text",
                    "--output-junit", "out/junit.xml", "--output-markdown", "out/report.md",
                    "--output-github", "out/annotations.txt",
                    env={"GITHUB_STEP_SUMMARY": str(summary)})
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
    proc = tagguard(tmp_path / "repo", "scan", "infra", "-f", "json", "-f", "sarif")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "tagguard: error: only one format can go to stdout; give --output FILE for the others"
