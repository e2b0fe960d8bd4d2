"""The pre-commit hook, for real: build the wheel, `pre-commit try-repo` this checkout on a git repo
with a violation, see it fail with the message, fix the file, see it pass."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tagguard.config import Config
from tagguard.pipeline import build_inventory

ROOT = Path(__file__).resolve().parent.parent

MAIN_TF = """\
resource "aws_instance" "trainer" {
  ami           = "ami-0123456789"
  instance_type = "p4d.24xlarge"
  tags          = local.tags
}
"""
TAGS_TF = """\
locals {
  tags = {
    business-unit = "research"
    project       = "llm"
    environment   = "prod"
%s  }
}
"""


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


def test_hook_manifest():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "tagguard"]
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["language"] == "python" and hook["pass_filenames"] is True
    import re

    files = re.compile(hook["files"])
    exclude = re.compile(hook["exclude"])
    for name in ("main.tf", "prod.tfvars", "k8s/job.yaml", "chart/values.yml", "plan.json",
                 "chart/templates/_helpers.tpl"):
        assert files.search(name) and not exclude.search(name), name
    for name in (".pre-commit-config.yaml", "sub/.tagguard.yaml", ".tagguard-baseline.json"):
        assert exclude.search(name), name
    assert not files.search("README.md")


def test_a_chart_file_means_its_chart(tmp_path, monkeypatch):
    chart = tmp_path / "charts" / "llm"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: llm\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates" / "deploy.yaml").write_text("kind: Deployment\n")
    sub = chart / "charts" / "worker"
    (sub / "templates").mkdir(parents=True)
    (sub / "Chart.yaml").write_text("apiVersion: v2\nname: worker\nversion: 0.1.0\n")
    (sub / "templates" / "job.yaml").write_text("kind: Job\n")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "job.yaml").write_text("kind: Job\n")
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for arg in ("charts/llm/values.yaml", "charts/llm/templates/deploy.yaml",
                "charts/llm/charts/worker/templates/job.yaml"):
        inv = build_inventory([arg], Config())
        assert inv.root.resolve() == chart.resolve(), arg
        assert {"Chart.yaml", "values.yaml", "templates/deploy.yaml", "charts/worker/Chart.yaml"} <= set(inv.files)
    # a manifest outside any chart stays itself, next to a chart file
    inv = build_inventory(["k8s/job.yaml", "charts/llm/values.yaml"], Config())
    assert inv.root.resolve() == tmp_path.resolve()
    assert "k8s/job.yaml" in inv.files and "charts/llm/Chart.yaml" in inv.files
    assert "charts/llm/templates/deploy.yaml" in inv.files


@pytest.mark.slow
def test_pre_commit_try_repo_fails_then_passes(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    # try-repo reads the hook repository from git: use a clone of the committed checkout, so work in
    # progress elsewhere in the tree (untracked files) cannot make the result depend on timing
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True, capture_output=True, timeout=120)

    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(checkout)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert list(wheels.glob("tagguard-*.whl"))

    repo = tmp_path / "repo"
    module = repo / "infra" / "gpu"
    module.mkdir(parents=True)
    (module / "main.tf").write_text(MAIN_TF)
    (module / "tags.tf").write_text(TAGS_TF % "")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pc-home"), "PIP_FIND_LINKS": str(wheels),
           "NO_COLOR": "1", "SKIP": ""}
    env.pop("GITHUB_STEP_SUMMARY", None)

    def hook(*files):
        return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(checkout), "tagguard",
                               "--files", *files], cwd=repo, env=env, capture_output=True, text=True, timeout=600)

    # only the locals file changed: the whole module is evaluated, the finding is in main.tf
    proc = hook("infra/gpu/tags.tf")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "tagguard (AI resource tags)" in out and "Failed" in out
    assert "aws_instance.trainer: required tag `cost-center` is missing" in out
    assert "main.tf" in out and "fix: add \"cost-center\"" in out

    (module / "tags.tf").write_text(TAGS_TF % '    cost-center   = "CC-1234"\n')
    git(repo, "add", ".")
    proc = hook("infra/gpu/tags.tf")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Passed" in out
