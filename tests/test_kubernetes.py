"""Kubernetes reader: streams, APIs for other sources, the kind table, cron, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tagguard.config import Config, ConfigError, validate_config
from tagguard.pipeline import scan
from tagguard.sources.base import ScanContext
from tagguard.sources.kubernetes.cron import runs_per_month
from tagguard.sources.kubernetes.kinds import load_table
from tagguard.sources.kubernetes.manifests import parse_stream, split_stream
from tagguard.sources.kubernetes.source import resources_from_manifest_objects, resources_from_yaml_text

ROOT = Path(__file__).resolve().parent.parent
GPU_POD = ("apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, labels: {{team: t}}}}\n"
           "spec: {{containers: [{{name: a, resources: {{limits: {{nvidia.com/gpu: 1}}}}}}]}}\n")


def _ctx(raw=None, tmp=None, **options):
    config = Config(raw=raw or {}, path=(tmp / ".tagguard.yaml") if tmp else None)
    return ScanContext(config, tmp or Path("."), options=options)


def test_ten_thousand_document_stream_with_one_broken_document(tmp_path):
    docs = [GPU_POD.format(i=i) for i in range(10_000)]
    docs[5000] = "apiVersion: v1\nkind: Pod\nmetadata: {name: [broken}\n"
    (tmp_path / "big.yaml").write_text("---\n".join(docs))
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    assert len([r for r in result.resources if r.type == "Pod"]) == 9_999
    errors = [f for f in result.findings if f.rule == "parse-error"]
    assert len(errors) == 1 and errors[0].line == 5000 * 5 + 3


def test_split_stream_line_numbers_and_markers():
    text = "a: 1\n---\nb: 2\n--- # comment\nc: 3\n...\n--- {d: 4}\n"
    assert [(n, t.strip()) for n, t in split_stream(text)] == [(1, "a: 1"), (2, "b: 2"), (4, "c: 3"), (7, "--- {d: 4}")]
    assert parse_stream("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n--- |\n  literal\n", "f").docs[0].line == 1


def test_deeply_nested_document_is_a_parse_error_not_a_crash():
    text = "apiVersion: v1\nkind: Pod\nspec: " + "[" * 20000 + "]" * 20000 + "\n"
    text += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: after}\n"
    parsed = parse_stream(text, "deep.yaml")
    assert [d.obj["metadata"]["name"] for d in parsed.docs] == ["after"]
    (err,) = parsed.findings
    # PyYAML <= 6.0.3 builds the nodes and tagguard's depth guard stops it (line of the document);
    # libyaml in PyYAML >= 6.0.4 refuses the flow itself (line of the nesting). Either is one finding.
    assert err.file == "deep.yaml" and err.line in (1, 3)
    assert "nested too deeply" in err.message or "nesting depth" in err.message


def test_kinds_tagguard_does_not_read_are_not_parsed():
    text = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [broken\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata: {name: [broken\n")
    parsed = parse_stream(text, "f.yaml")
    assert [f.line for f in parsed.findings] == [7]


def test_non_utf8_manifest_is_reported(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes(b"apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n")
    (tmp_path / "binary.yml").write_bytes(b"\xff\xfe\x00\x01")
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    errs = [f for f in result.findings if f.rule == "parse-error"]
    assert [(f.file, f.line) for f in errs] == [("latin1.yaml", 3)]


def test_embedded_manifest_objects_api_for_terraform(tmp_path):
    objs = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ml"},
             "spec": {"replicas": 2, "template": {"metadata": {"labels": {"team": "a"}},
                                                   "spec": {"containers": [{"name": "c", "resources": {
                                                       "limits": {"nvidia.com/gpu": 4}}}]}}}},
            {"not": "kubernetes"}, "scalar"]
    out = resources_from_manifest_objects(objs, "main.tf", 12, _ctx(tmp=tmp_path),
                                          meta={"terraform_address": "kubernetes_manifest.d"})
    (res,) = out.resources
    assert (res.address, res.file, res.line, res.source) == ("Deployment/ml/d", "main.tf", 12, "kubernetes")
    assert res.meta["terraform_address"] == "kubernetes_manifest.d"
    assert res.compute.units == 2 and res.compute.gpus_per_unit == 4 and res.ai


def test_embedded_yaml_text_offsets_lines(tmp_path):
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: [x\n"
    out = resources_from_yaml_text(text, "main.tf", 40, _ctx(tmp=tmp_path))
    assert [r.address for r in out.resources] == ["Pod/default/a"]
    (err,) = out.findings
    assert err.line == 46 and err.message.startswith("main.tf:46:")


def test_kind_table_is_complete_and_loads_via_data_file():
    table = load_table(None)
    for kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "PyTorchJob",
                 "TFJob", "MPIJob", "XGBoostJob", "TrainJob", "Notebook", "RayCluster", "RayJob", "RayService",
                 "InferenceService", "JobSet", "LeaderWorkerSet", "Job.batch.volcano.sh"):
        spec = table.kinds[kind]
        assert spec["roles"] and spec["workload"] in ("service", "job", "daemon"), kind
    assert table.lookup("Job", "batch.volcano.sh/v1alpha1") is table.kinds["Job.batch.volcano.sh"]
    assert table.lookup("Job", "batch/v1") is table.kinds["Job"]
    assert table.accelerator_weight("nvidia.com/mig-3g.40gb") == pytest.approx(3 / 7)
    assert table.accelerator_weight("gpu.intel.com/millicores") is None
    assert table.accelerator_weight("cpu") is None


def test_config_crds_and_accelerators_validate():
    good = {"kubernetes": {"crds": {"Foo": {"roles": [{"template": "spec.template"}]}},
                           "accelerator_resources": {"example.com/npu": 1}},
            "helm": {"bin": "tools/helm", "values": ["v.yaml"], "charts": {"charts/a": {"namespace": "x"}}}}
    validate_config(good, Path(".tagguard.yaml"))
    for bad in ({"kubernetes": {"crds": {"Foo": {"roles": [{"replicas": ["x"]}]}}}},
                {"kubernetes": {"namespace": {}}},
                {"helm": {"charts": {"a": {"valuez": []}}}}):
        with pytest.raises(ConfigError):
            validate_config(bad, Path(".tagguard.yaml"))


@pytest.mark.parametrize("schedule,runs", [
    ("0 2 * * *", 30.4167), ("*/15 * * * *", 2920.0), ("0 0 * * 1-5", 21.7262), ("0 0 1 * *", 1.0),
    ("@hourly", 730.0), ("CRON_TZ=UTC 30 4 * * 0", 4.3452), ("0 0 1 1 *", 1 / 12), ("bad", None), (None, None),
    ("0 0 * * mon,wed", 8.6905), ("61 * * * *", None),
])
def test_cron_runs_per_month(schedule, runs):
    got = runs_per_month(schedule)
    assert got == (pytest.approx(runs, rel=1e-3) if runs is not None else None)


def test_cli_reads_a_manifest_stream_from_stdin():
    stream = GPU_POD.format(i=1).encode()
    proc = subprocess.run([sys.executable, "-m", "tagguard", "scan", "-", "-f", "json"], input=stream,
                          capture_output=True, cwd=str(ROOT))
    data = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert {f["address"] for f in data["findings"] if f["rule"] == "missing-tag"} == {"Pod/default/p1"}
    assert all(f["file"] == "<stdin>" for f in data["findings"] if f["rule"] == "missing-tag")


def test_cli_examples_cluster():
    proc = subprocess.run([sys.executable, "-m", "tagguard", "scan", "examples/cluster", "-f", "json"],
                          capture_output=True, cwd=str(ROOT))
    data = json.loads(proc.stdout)
    assert proc.returncode == 1
    rules = {(f["rule"], f["address"]) for f in data["findings"]}
    assert ("gpu-quota", "Namespace//research") in rules
    assert ("gpu-quota", "NodePool//gpu") in rules
    assert ("not-propagated", "PyTorchJob/research/finetune-llama#Worker") in rules
    assert ("missing-tag", "EC2NodeClass//gpu") in rules
    compliant = {"Deployment/inference/vllm-llama3", "RayCluster/inference/batch-embeddings#worker:gpu"}
    assert not [f for f in data["findings"] if f["address"] in compliant]
    assert not [f for f in data["findings"] if f["rule"] == "gpu-quota" and "inference" in f["address"]]


def test_fast_loader_types_scalars_like_pyyaml_safe_load():
    # sources.kubernetes.manifests builds plain maps/lists/strings/decimal ints itself; everything else must come out
    # exactly as PyYAML's safe loader makes it (YAML 1.1: octal, hex, underscores, yes/no, floats, merges).
    import yaml

    from tagguard.sources.kubernetes.manifests import _load

    doc = ("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: '1', b: \"2\"}}\n"
           "n: [0, 7, 010, 0x1F, 1_000, +3, -4, 08, 1.5, .inf, yes, no, on, ~, null, '', 2024-01-02, ١٢]\n"
           "base: &b {cpu: '1', gpu: 2}\nmerged: {<<: *b, gpu: 4}\nshared: [*b, *b]\n"
           "nested: {x: {y: [{z: 12}, 'a: b', 3g]}}\n")
    ours = _load(doc)
    assert ours == yaml.safe_load(doc)
    assert [type(x) for x in ours["n"][:6]] == [int] * 6 and ours["n"][2] == 8
    assert ours["shared"][0] is ours["shared"][1]  # aliases stay shared, as in PyYAML
    assert _load("a: 1\n") == {"a": 1} and _load("0: x\n") == {0: "x"}
