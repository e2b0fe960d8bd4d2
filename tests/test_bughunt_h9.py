"""Bugs found by scanning public AI platform repositories (docs/real-world.md, "Bug hunt, December 2026").

Every fixture here is written by hand to show one bug; nothing is copied from those repositories.
"""
from __future__ import annotations

import textwrap

from tagguard.config import Config
from tagguard.pipeline import scan



# One Deployment address (Deployment/ml/same) whose GPU count each test sets: kaito keeps one address in
# several files of a directory.
SAME_DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: same, namespace: ml}}
    spec:
      template:
        spec:
          nodeSelector: {{node.kubernetes.io/instance-type: g5.12xlarge}}
          containers:
            - {{name: c, image: x, resources: {{limits: {{nvidia.com/gpu: {gpus}}}}}}}
    """)


def run(tmp_path, text, name="m.yaml", raw=None):
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw=raw or {}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


# AIBrix StormService (orchestration.aibrix.ai): spec.replicas role sets, each role `replicas` pod
# groups of `podGroupSize` pods of its own template. 27 GPU samples/tests in vllm-project/aibrix were
# not seen at all (an unknown kind passes silently).
def test_aibrix_stormservice_roles_times_role_sets(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: orchestration.aibrix.ai/v1alpha1
    kind: StormService
    metadata: {name: pd, namespace: llm, labels: {team: not-copied}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: pd}}
      template:
        metadata: {labels: {app: pd}}
        spec:
          roles:
            - name: prefill
              replicas: 3
              podGroupSize: 2
              template:
                metadata: {labels: {team: infer}}
                spec:
                  containers:
                    - name: p
                      image: x
                      resources: {limits: {nvidia.com/gpu: 4}}
            - name: router
              replicas: 1
              template:
                spec:
                  containers: [{name: r, image: y}]
    """)
    pre = res["StormService/llm/pd#prefill"]
    assert pre.ai and pre.compute.gpus_per_unit == 4
    assert pre.compute.units == 2 * 3 * 2
    assert pre.tags == {"team": "infer"}
    router = res.get("StormService/llm/pd#router")
    assert router is None or not router.ai


# AIBrix RayClusterFleet: spec.replicas RayClusters of spec.template.spec (deepseek-r1 samples: 8 GPUs a pod).
def test_aibrix_rayclusterfleet_is_replicas_ray_clusters(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: orchestration.aibrix.ai/v1alpha1
    kind: RayClusterFleet
    metadata: {name: fleet, namespace: llm}
    spec:
      replicas: 2
      selector: {matchLabels: {app: fleet}}
      template:
        metadata: {labels: {app: fleet}}
        spec:
          headGroupSpec:
            template:
              metadata: {labels: {team: a}}
              spec:
                containers:
                  - name: h
                    image: x
                    resources: {limits: {nvidia.com/gpu: 8}}
          workerGroupSpecs:
            - groupName: w
              replicas: 3
              template:
                metadata: {labels: {team: a}}
                spec:
                  containers:
                    - name: w
                      image: x
                      resources: {limits: {nvidia.com/gpu: 8}}
    """)
    head = res["RayClusterFleet/llm/fleet#head"]
    assert head.ai and head.compute.units == 2 and head.compute.gpus_per_unit == 8
    worker = res["RayClusterFleet/llm/fleet#worker:w"]
    assert worker.ai and worker.compute.units == 2 * 3


# --- tagguard diff when the base revision's objects are not all in the local store --------------
# kaito-project/kaito cloned from a snapshot whose large files (safetensors) were absent:
# `tagguard diff --base <old>` stopped with "internal error: IndexError" (git cat-file --batch
# answers `<sha> missing` for such an object, a line with two fields).

def _git(repo, *args):
    import subprocess

    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def _repo_with_lost_blob(tmp_path, lost_name=None):
    import shutil

    import pytest

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n'
                                  '  tags = { project = "p" }\n}\n', encoding="utf-8")
    (repo / "weights.bin").write_bytes(b"\x00\x01 large model weights stand-in")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD").strip()
    if lost_name:
        sha = _git(repo, "rev-parse", f"HEAD:{lost_name}").strip()
        (repo / ".git" / "objects" / sha[:2] / sha[2:]).unlink()  # loose object gone, as in a partial snapshot
    return repo, base


def test_diff_skips_a_base_blob_that_is_not_in_the_store_when_tagguard_does_not_read_it(tmp_path):
    from clikit import run_cli

    repo, base = _repo_with_lost_blob(tmp_path, "weights.bin")
    r = run_cli("diff", "--base", base, str(repo), "-f", "json", cwd=repo)
    assert "internal error" not in r.output
    assert r.exit_code in (0, 1), r.output
    import json

    report = json.loads(r.stdout)
    assert report["diff"] and [x["address"] for x in report["resources"]] == ["aws_instance.gpu"]


def test_diff_stops_with_one_line_when_a_base_file_it_reads_is_not_in_the_store(tmp_path):
    from clikit import run_cli

    repo, base = _repo_with_lost_blob(tmp_path, "main.tf")
    r = run_cli("diff", "--base", base, str(repo), "-f", "text", cwd=repo)
    assert "internal error" not in r.output and "Traceback" not in r.output
    assert r.exit_code == 2
    assert "main.tf" in r.output and "not in the local git object store" in r.output


# kaito-project/kaito: two example files in one directory declare `Workspace/default/workspace-tuning-phi-3`
# on different GPU sizes. `tagguard diff` keyed resources by (directory, address), so the two collided and an
# unchanged tree showed "~ workspace-tuning-phi-3 +$447.49/month (compute, cost)" (and pre-existing findings
# of one could unblock the other).
def test_diff_tells_apart_one_address_declared_in_two_files_of_a_directory(tmp_path):
    import json

    from clikit import run_cli

    repo, _ = _repo_with_lost_blob(tmp_path)
    for name, gpus in (("a", 1), ("b", 4)):
        (repo / f"{name}.yaml").write_text(SAME_DEPLOYMENT.format(gpus=gpus), encoding="utf-8")
    _git(repo, "add", "a.yaml", "b.yaml")
    _git(repo, "commit", "-q", "-m", "two samples")
    (repo / "main.tf").write_text("# only a comment changes\n" + (repo / "main.tf").read_text(encoding="utf-8"),
                                  encoding="utf-8")
    r = run_cli("diff", "--base", "HEAD", str(repo), "-f", "json", cwd=repo)
    assert r.exit_code in (0, 1), r.output
    diff = json.loads(r.stdout)["diff"]
    assert diff["changed"] == [] and diff["added"] == [] and diff["removed"] == []
    assert diff["total_delta_monthly_usd"] == 0

    # one of the two really changes: only that one is an update
    (repo / "b.yaml").write_text((repo / "b.yaml").read_text(encoding="utf-8").replace("gpu: 4", "gpu: 2"),
                                 encoding="utf-8")
    r = run_cli("diff", "--base", "HEAD", str(repo), "-f", "json", cwd=repo)
    diff = json.loads(r.stdout)["diff"]
    assert [c["file"] for c in diff["changed"]] == ["b.yaml"]
    assert diff["added"] == [] and diff["removed"] == []


# kaito again: the base declares `workspace-custom-llm` in two files of a directory, the working tree in
# one new file (both old files gone). One old entry is the new file's rename, the other is removed.
def test_diff_matches_a_renamed_file_of_a_duplicated_address_once(tmp_path):
    import json

    from clikit import run_cli

    repo, _ = _repo_with_lost_blob(tmp_path)
    doc = SAME_DEPLOYMENT
    (repo / "a.yaml").write_text(doc.format(gpus=1), encoding="utf-8")
    (repo / "b.yaml").write_text(doc.format(gpus=4), encoding="utf-8")
    _git(repo, "add", "a.yaml", "b.yaml")
    _git(repo, "commit", "-q", "-m", "two samples")
    (repo / "a.yaml").unlink()
    (repo / "b.yaml").unlink()
    (repo / "c.yaml").write_text(doc.format(gpus=4), encoding="utf-8")
    r = run_cli("diff", "--base", "HEAD", str(repo), "-f", "json", cwd=repo)
    diff = json.loads(r.stdout)["diff"]
    assert diff["added"] == [] and diff["changed"] == []
    assert [x["file"] for x in diff["removed"]] == ["a.yaml"]


# kaito diff, text format: an AI resource without a known rate read "- Deployment/default/x   n/a/month".
def test_diff_text_says_no_rate_instead_of_n_a_per_month(tmp_path):
    from clikit import run_cli

    repo, _ = _repo_with_lost_blob(tmp_path)
    (repo / "gpu.yaml").write_text(textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: unpriced, namespace: ml}
    spec:
      template:
        spec:
          containers: [{name: c, image: x, resources: {limits: {amd.com/gpu: 1}}}]
    """), encoding="utf-8")  # amd.com/gpu: no rate-card type offers it, so no lower bound either (docs/pricing.md)
    _git(repo, "add", "gpu.yaml")
    _git(repo, "commit", "-q", "-m", "gpu")
    (repo / "gpu.yaml").unlink()
    r = run_cli("diff", "--base", "HEAD", str(repo), "-f", "text", cwd=repo)
    line = next(x for x in r.stdout.splitlines() if "Deployment/ml/unpriced" in x)
    assert line.lstrip().startswith("- ")
    assert "n/a/month" not in line and line.rstrip().endswith("n/a (no known rate)")
