"""`tagguard checkov-dir`: the taxonomy as Checkov custom checks, run by a real Checkov in its own venv.

Checkov is not a tagguard dependency (it pins old boto3 and pulls ~100 packages). The end-to-end test
runs when a Checkov executable is found: $TAGGUARD_CHECKOV, `checkov` on PATH, .tools/checkov (made by
scripts/test-deps), or /tmp/ckv/bin/checkov
(`python -m venv /tmp/ckv && /tmp/ckv/bin/pip install checkov`); otherwise it is skipped.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clikit import run_cli


DATA = Path(__file__).parent / "data"

K8S = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: llm-server, namespace: ml}
spec:
  selector: {matchLabels: {app: llm}}
  template:
    metadata:
      labels: {app: llm, project: llm}
    spec:
      containers:
        - name: server
          image: vllm/vllm-openai
          resources: {limits: {nvidia.com/gpu: 1}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ml}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: finetune, namespace: ml}
spec:
  pytorchReplicaSpecs:
    Worker:
      replicas: 4
      template:
        metadata:
          labels: {business-unit: research, project: llm, environment: prod, cost-center: CC-1}
        spec:
          containers:
            - name: pytorch
              image: pytorch
              resources: {limits: {nvidia.com/gpu: 8}}
"""


def find_checkov():
    repo_venv = str(Path(__file__).resolve().parent.parent / ".tools" / "checkov" / "bin" / "checkov")
    for candidate in (os.environ.get("TAGGUARD_CHECKOV"), shutil.which("checkov"), repo_venv, "/tmp/ckv/bin/checkov"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def test_checkov_dir_writes_checks_for_the_configured_taxonomy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taxonomy.json").write_text(json.dumps({
        "type": "object", "required": ["team"], "properties": {"team": {"enum": ["ml", "data"]}}}))
    (tmp_path / ".tagguard.yaml").write_text("version: 1\ntaxonomy: taxonomy.json\n")
    res = run_cli("checkov-dir", "--output-dir", "checks")
    assert res.exit_code == 0, res.output
    out = Path(res.output.strip())
    assert out == (tmp_path / "checks").resolve()
    assert sorted(p.name for p in out.iterdir()) == ["__init__.py", "tagguard_checkov.data", "tagguard_checks.py"]
    data = json.loads((out / "tagguard_checkov.data").read_text())
    assert data["taxonomy"]["required"] == ["team"]
    tf = data["terraform"]["resources"]
    assert tf["aws_instance"]["tags"] == "tags"
    assert tf["google_container_node_pool"]["tags"] == "node_config.resource_labels"
    assert "aws_launch_template" not in tf  # never AI on its own
    assert "p4d.24xlarge" in data["terraform"]["accelerated_instance_types"]
    assert "t3.micro" not in data["terraform"]["accelerated_instance_types"]
    assert {"Deployment", "PyTorchJob", "CronJob"} <= set(data["kubernetes"]["kinds"])
    assert "nvidia.com/gpu" in data["kubernetes"]["accelerator_resources"]
    # the default directory is keyed by the taxonomy: another taxonomy, another directory
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = run_cli("checkov-dir").output.strip()
    (tmp_path / "taxonomy.json").write_text(json.dumps({"type": "object", "required": ["owner"]}))
    second = run_cli("checkov-dir").output.strip()
    assert first != second and Path(first).is_dir() and Path(second).is_dir()


@pytest.mark.slow
def test_checkov_enforces_the_taxonomy(tmp_path, monkeypatch):
    checkov = find_checkov()
    if checkov is None:
        pytest.skip("Checkov is not installed (python -m venv /tmp/ckv && /tmp/ckv/bin/pip install checkov)")
    work = tmp_path / "repo"
    shutil.copytree(DATA / "project", work)
    (work / "k8s").mkdir()
    (work / "k8s" / "gpu.yaml").write_text(K8S)
    monkeypatch.chdir(work)
    checks = run_cli("checkov-dir", "--output-dir", str(tmp_path / "checks")).output.strip()
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "WARNING"}
    proc = subprocess.run([checkov, "-d", str(work), "--framework", "terraform", "kubernetes",
                           "--external-checks-dir", checks, "--check", "CKV_TAGGUARD_1,CKV_TAGGUARD_2",
                           "-o", "json", "--compact", "--skip-download"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    results = {}
    for rep in reports:
        for status in ("passed_checks", "failed_checks"):
            for c in (rep.get("results") or {}).get(status, []):
                results[(c["check_id"], c["resource"])] = (status, c.get("details") or [])
    status, details = results[("CKV_TAGGUARD_1", "aws_instance.trainer")]
    assert status == "failed_checks" and "required tag `cost-center` is missing" in details
    status, details = results[("CKV_TAGGUARD_1", "aws_instance.inference")]
    assert status == "failed_checks" and any("production" in d for d in details)
    assert results[("CKV_TAGGUARD_1", "aws_instance.tagged")][0] == "passed_checks"
    # Checkov's weaker evaluation, as documented: provider default_tags are not merged
    assert "required tag `business-unit` is missing" in results[("CKV_TAGGUARD_1", "aws_instance.trainer")][1]
    assert results[("CKV_TAGGUARD_2", "Deployment.ml.llm-server")][0] == "failed_checks"
    assert results[("CKV_TAGGUARD_2", "PyTorchJob.ml.finetune")][0] == "passed_checks"  # CRD listed in the kinds
    assert ("CKV_TAGGUARD_2", "Deployment.ml.web") not in results  # no GPU: not judged
