"""Kubernetes manifests found by content (issue 10): an untagged 8-GPU Pod is judged whatever the
file is called or encoded (pod.json, pod.YAML, UTF-16...), a file that looks like a manifest but
cannot be decoded is a parse error, and hostile nesting is one parse error, never a crash or a hang."""
from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.security.conftest import assert_clean, report, scan_all, write

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "trainer", "labels": {"app": "llm"}},
    "spec": {"containers": [{"name": "t", "image": "x", "resources": {"limits": {"nvidia.com/gpu": 8}}}]},
}
POD_YAML = yaml.safe_dump(POD, sort_keys=False)
OK_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: fine
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: t
          image: x
          resources: {limits: {nvidia.com/gpu: 1}}
"""


def judged(run) -> list:
    doc = report(run)
    return [r for r in doc["resources"] if r["ai"] and r["address"].endswith("trainer")]


@pytest.mark.parametrize("name, data", [
    ("pod.json", json.dumps(POD, indent=2).encode()),
    ("pod.JSON", json.dumps(POD).encode()),
    ("pod.YAML", POD_YAML.encode()),
    ("pod.Yml", POD_YAML.encode()),
    ("pod.yaml", b"\xef\xbb\xbf" + POD_YAML.encode()),  # UTF-8 with a BOM
    ("pod.yaml", POD_YAML.encode("utf-16")),  # UTF-16 with its BOM (what Windows editors write)
    ("pod.yaml", POD_YAML.encode("utf-16-le")),  # UTF-16 without a BOM
    ("pod.yaml", POD_YAML.encode("utf-16-be")),
    ("pod.yaml", POD_YAML.encode("utf-32")),
    ("pod.json", json.dumps(POD).encode("utf-16")),
    ("list.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": [POD]}).encode()),
    ("pods.json", json.dumps({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [POD]}).encode()),
    ("array.json", json.dumps([POD]).encode()),
], ids=["json", "JSON", "YAML", "Yml", "utf8-bom", "utf16-bom", "utf16le", "utf16be", "utf32", "json-utf16",
        "List", "PodList", "array"])
def test_untagged_gpu_pod_is_judged_whatever_its_file(hostile_repo, secret, name, data):
    write(hostile_repo, f"k8s/{name}", data)
    write(hostile_repo, "package.json", '{"name": "app", "version": "1.0.0", "kind": "not k8s"}')  # skipped quietly
    run = scan_all(hostile_repo, secret)
    assert_clean(run, exit_codes=(1,), secret=secret)
    (pod,) = judged(run)
    assert pod["file"] == f"k8s/{name}"
    doc = report(run)
    missing = [f for f in doc["findings"] if f["rule"] == "missing-tag" and f["file"] == f"k8s/{name}"]
    assert missing, doc["findings"]
    assert not [f for f in doc["findings"] if f["file"] == "package.json"]
    assert "PASS" not in run.stdout


@pytest.mark.parametrize("name, data, where", [
    ("pod.yaml", POD_YAML.encode("utf-16") + b"\x00", "UTF-16"),  # an odd byte at the end
    ("pod.yaml", POD_YAML.encode("utf-16-le")[:40] + b"\x00\xd8" + POD_YAML.encode("utf-16-le")[40:], "UTF-16"),
    ("pod.yaml", POD_YAML.encode().replace(b"trainer", b"tr\xffainer"), "UTF-8"),
    ("pod.json", json.dumps(POD).encode().replace(b"trainer", b"tr\xc3ainer"), "UTF-8"),
], ids=["utf16-odd", "utf16-lone-surrogate", "utf8-bad-yaml", "utf8-bad-json"])
def test_manifest_that_cannot_be_decoded_is_a_parse_error(hostile_repo, secret, name, data, where):
    write(hostile_repo, name, data)
    write(hostile_repo, "ok/job.yaml", OK_JOB)
    run = scan_all(hostile_repo, secret)
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = report(run)
    errs = [f for f in doc["findings"] if f["category"] == "parse_error" and f["file"] == name]
    assert len(errs) == 1 and where in errs[0]["message"] and errs[0]["line"], doc["findings"]
    assert errs[0]["severity"] == "error"
    assert any(r["address"].endswith("fine") for r in doc["resources"])  # the rest of the scan went on


def test_invalid_json_manifest_is_a_parse_error_with_line(hostile_repo, secret):
    write(hostile_repo, "pod.json", '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "x",}\n}\n')
    run = scan_all(hostile_repo, secret)
    assert_clean(run, exit_codes=(1,), secret=secret)
    errs = [f for f in report(run)["findings"] if f["file"] == "pod.json"]
    assert len(errs) == 1 and errs[0]["line"] == 4 and "invalid JSON" in errs[0]["message"], errs


@pytest.mark.parametrize("name, text", [
    ("deep.json", '{"apiVersion": "v1", "kind": "Pod", "spec": ' + "[" * 200_000 + "]" * 200_000 + "}"),
    ("deep.yaml", "apiVersion: v1\nkind: Pod\nspec: " + "[" * 200_000 + "]" * 200_000 + "\n"),
    ("deep2.yaml", "apiVersion: v1\nkind: Pod\nspec:\n" + "- " * 60_000 + "x\n"),
    ("deep3.yaml", "apiVersion: v1\nkind: Pod\nspec: " + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "\n"),
], ids=["json-brackets", "yaml-flow", "yaml-block-dashes", "yaml-flow-maps"])
def test_hostile_nesting_is_one_parse_error(hostile_repo, secret, name, text):
    """200,000 `[` took minutes in libyaml's scanner and 50,000 levels crashed PyYAML 6.0.3's composer."""
    write(hostile_repo, name, text)
    write(hostile_repo, "ok/job.yaml", OK_JOB)
    run = scan_all(hostile_repo, secret, timeout=60)
    assert_clean(run, exit_codes=(1,), secret=secret, max_seconds=20, max_rss=600 * 2 ** 20)
    doc = report(run)
    errs = [f for f in doc["findings"] if f["file"] == name]
    assert len(errs) == 1 and errs[0]["category"] == "parse_error", errs
    assert "nest" in errs[0]["message"]  # "nested too deeply" (ours) or libyaml 0.2.5+ "maximum nesting depth"
    assert any(r["address"].endswith("fine") for r in doc["resources"])


def test_manifest_symlink_and_fifo_are_not_read(hostile_repo, secret, tmp_path):
    outside = write(tmp_path, "outside/pod.yaml", POD_YAML.replace("trainer", secret.value))
    (hostile_repo / "k8s").mkdir()
    (hostile_repo / "k8s" / "pod.yaml").symlink_to(outside)
    (hostile_repo / "k8s" / "env.yaml").symlink_to("/proc/self/environ")
    os.mkfifo(hostile_repo / "k8s" / "fifo.yaml")
    write(hostile_repo, "ok/job.yaml", OK_JOB)
    run = scan_all(hostile_repo, secret, timeout=60)
    assert_clean(run, exit_codes=(0, 1), secret=secret, max_seconds=20)
    assert any(r["address"].endswith("fine") for r in report(run)["resources"])


def test_kubernetes_reader_refuses_symlink_out_of_repo(tmp_path):
    """The reader itself (whatever the walk lets through) confines a linked file to the repository."""
    from tagguard.config import Config
    from tagguard.sources.base import Inventory, ScanContext
    from tagguard.sources.kubernetes.source import KubernetesSource

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    secret_pod = write(tmp_path, "pod.yaml", POD_YAML)
    (repo / "pod.yaml").symlink_to(secret_pod)
    write(repo, "in.yaml", POD_YAML.replace("trainer", "inside"))
    (repo / "link.yaml").symlink_to(repo / "in.yaml")
    inv = Inventory(root=repo, files=["pod.yaml", "in.yaml", "link.yaml"])
    out = KubernetesSource().collect(inv, ScanContext(Config(), repo))
    names = sorted(r.address for r in out.resources)
    assert all("trainer" not in n for n in names) and len([n for n in names if "inside" in n]) == 2, names
    assert any("outside the scanned repository" in f.message and f.file == "pod.yaml" for f in out.findings)


def test_any_case_suffixes_reach_the_kubernetes_reader():
    from tagguard.sources import SOURCES

    (suffixes,) = [s for spec, s in SOURCES if spec.endswith("KubernetesSource")]
    for name in ("a.yaml", "a.YAML", "a.Yml", "a.yML", "a.json", "a.Json"):
        assert name.endswith(suffixes), name


def test_kubectl_json_on_stdin_is_judged(tmp_path):
    from tests.security.conftest import run_cli

    data = json.dumps({"apiVersion": "v1", "kind": "List", "items": [POD]}, indent=4).encode("utf-16")
    src = tmp_path / "in.json"
    src.write_bytes(data)
    with open(src, "rb") as fh:
        run = run_cli(["scan", "--no-color", "-f", "json", "-"], cwd=tmp_path, stdin=fh.fileno())
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert [r["address"] for r in doc["resources"] if r["ai"]] and doc["summary"]["ai_resources"] == 1
