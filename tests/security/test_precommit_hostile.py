"""The pre-commit hook with a hostile file name (issue 10): a committed file named
`--helm-bin=h.yaml` reaches `tagguard scan` as a file name and must stay one.  Real
`pre-commit try-repo` on a real git repository, with the hook built from the committed checkout."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.security.conftest import GPU_JOB_TEMPLATE as JOB
from tests.security.conftest import assert_no_leak, Run

ROOT = Path(__file__).resolve().parents[2]
REAL_HELM = ROOT / ".tools" / "bin" / "helm"

CHART_YAML = "apiVersion: v2\nname: llm\nversion: 0.1.0\n"


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def test_hook_passes_manifests_of_any_case_and_ends_with_double_dash():
    import re

    import yaml

    (hook,) = [h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()) if h["id"] == "tagguard"]
    assert hook["entry"].split()[-1] == "--"
    files = re.compile(hook["files"])
    for name in ("k8s/pod.YAML", "pod.Yml", "pod.JSON", "pod.json", "main.tf", "chart/values.yaml"):
        assert files.search(name), name
    assert not files.search("README.md")


@pytest.mark.slow
def test_option_shaped_file_name_is_a_path_in_the_hook(tmp_path, secret, marker):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    helm = str(REAL_HELM) if REAL_HELM.is_file() else shutil.which("helm")
    if not helm:
        pytest.skip("no helm")
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "entry: tagguard scan --\n" in hooks  # everything after `--` is a path

    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True, capture_output=True, timeout=120)
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(checkout)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    repo = tmp_path / "repo"
    (repo / "chart" / "templates").mkdir(parents=True)
    (repo / "chart" / "Chart.yaml").write_text(CHART_YAML)
    (repo / "chart" / "values.yaml").write_text("replicas: 1\n")
    (repo / "chart" / "templates" / "job.yaml").write_text(JOB)
    # `./h.yaml` is a program (and valid YAML); `--helm-bin=h.yaml` is a file that names it
    h = repo / "h.yaml"
    h.write_text(f"#!/bin/sh\ntouch {marker}\n")
    h.chmod(h.stat().st_mode | stat.S_IXUSR)
    (repo / "--helm-bin=h.yaml").write_text("note: a file whose name looks like an option\n")
    git(repo, "init", "-q")
    git(repo, "add", "--", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "PIP_FIND_LINKS": str(wheels),
           "NO_COLOR": "1", "SKIP": "", "GITHUB_TOKEN": secret.value, secret.env_name: secret.value,
           "PATH": f"{Path(helm).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(checkout), "tagguard", "--all-files"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert not marker.exists(), "a file name was read as --helm-bin and ./h.yaml ran\n" + out
    assert_no_leak(Run([], proc.returncode, proc.stdout, proc.stderr, 0.0, 0), secret)
    # the chart was rendered with the helm on PATH and judged: the untagged GPU Job fails the hook
    assert proc.returncode == 1, out
    assert "Failed" in out and "release-train" in out, out
    assert "inside the scanned tree" not in out and "Traceback" not in out, out
