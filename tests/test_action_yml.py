"""``action.yml`` and the example workflow are valid for GitHub, and wired to ``tagguard.integrations.gha``
(named apart from tests/security/test_action.py: pytest needs unique basenames in rootdir-less test folders)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def check_jsonschema(builtin, path):
    exe = shutil.which("check-jsonschema")
    cmd = [exe] if exe else [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run([*cmd, "--builtin-schema", builtin, str(path)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def has_check_jsonschema():
    pytest.importorskip("check_jsonschema", reason="check-jsonschema is not installed (pip install -e '.[test]')")


def test_action_yml_is_a_valid_action(has_check_jsonschema, tmp_path):
    proc = check_jsonschema("vendor.github-actions", ROOT / "action.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # the validator does reject a broken action
    bad = tmp_path / "action.yml"
    bad.write_text("name: x\nruns:\n  using: composite\n  steps:\n    - run: echo hi\n")  # run step without shell
    assert check_jsonschema("vendor.github-actions", bad).returncode != 0


def test_example_workflow_is_valid(has_check_jsonschema):
    proc = check_jsonschema("vendor.github-workflows", ROOT / "examples" / "github-workflow.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wf = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write", "security-events": "write"}


def test_action_contract():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = action["inputs"]
    for name in ("paths", "config", "base-ref", "fail-on", "approval-label", "comment-mode", "sarif-upload",
                 "python-version", "tagguard-version", "tagguard-spec"):
        assert name in inputs and inputs[name].get("description"), name
    for name in ("findings", "errors", "warnings", "blocking", "monthly-cost-delta", "markdown-report", "sarif-file",
                 "exit-code"):
        assert name in action["outputs"], name
    steps = action["runs"]["steps"]
    assert action["runs"]["using"] == "composite"
    run = next(s for s in steps if s.get("id") == "run")
    assert run["run"].strip() == "python -I -m tagguard.integrations.gha run"  # -I: the checkout is not on sys.path
    # every input reaches the script through the environment, never pasted into shell code
    for step in steps:
        assert "${{ inputs." not in step.get("run", ""), step.get("name")
    upload = next(s for s in steps if "upload-sarif" in s.get("uses", ""))
    assert "inputs.sarif-upload == 'true'" in upload["if"]
    # the verdict comes after the upload, so SARIF reaches code scanning even when the check fails
    assert steps.index(upload) < len(steps) - 1 and "exit 1" in steps[-1]["run"]
