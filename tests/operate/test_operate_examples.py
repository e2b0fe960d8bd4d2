"""The nightly sharding examples: a valid workflow, an Indexed Job, and only tagguard options that exist."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from clikit import run_cli

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "examples" / "workflows" / "nightly-drift-shards.yml"
CRONJOB = ROOT / "examples" / "kubernetes" / "drift-shards-cronjob.yaml"


def scripts():
    wf = yaml.safe_load(WORKFLOW.read_text())
    for job in wf["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield step["run"]
    for doc in yaml.safe_load_all(CRONJOB.read_text()):
        if doc["kind"] == "CronJob":
            for c in doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
                yield "\n".join(c["args"])


def test_every_tagguard_option_in_the_examples_exists():
    used = []
    for script in scripts():
        text = re.sub(r"\$\([^()]*\)", "X", script.replace("\\\n", " "))  # $(date -u ...) is not tagguard's
        for m in re.finditer(r"\btagguard ((?:report )?[a-z]+)([^\n;|&]*)", text):
            cmd, rest = m.group(1), m.group(2)
            opts = re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", rest)
            help_text = run_cli(*cmd.split(), "--help").stdout
            assert "Usage:" in help_text, cmd
            for o in opts:
                assert re.search(rf"(^|[\s,]){re.escape(o)}[\s,=]", help_text, re.M), f"tagguard {cmd}: no option {o}"
            used.append(cmd)
    assert {"drift", "merge", "alerts", "report review"} <= set(used)


def test_cronjob_is_an_indexed_job_with_secrets_from_a_secret():
    docs = list(yaml.safe_load_all(CRONJOB.read_text()))
    shards = next(d for d in docs if d["metadata"]["name"] == "tagguard-drift-shards")
    job = shards["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] >= job["parallelism"]
    assert "JOB_COMPLETION_INDEX" in "\n".join(job["template"]["spec"]["containers"][0]["args"])
    merge = next(d for d in docs if d["metadata"]["name"] == "tagguard-drift-merge")
    c = merge["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert c["envFrom"][0]["secretRef"]["name"]
    cfg = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["alerts.yaml"]
    assert "https://" not in cfg and "url_env" in cfg


def test_workflow_is_valid():
    pytest.importorskip("check_jsonschema")
    exe = shutil.which("check-jsonschema")
    cmd = [exe] if exe else [sys.executable, "-m", "check_jsonschema"]
    p = subprocess.run([*cmd, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
