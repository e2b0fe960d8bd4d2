"""No silent pass in the Kubernetes reader: accelerators that tagguard cannot size or place are reported,
never dropped as "not AI" (bug hunt B1, B2, B6, B12, B13)."""
from __future__ import annotations

import textwrap

from clikit import run_cli

from tagguard.config import Config
from tagguard.pipeline import scan


def run(tmp_path, text, raw=None):
    (tmp_path / "m.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw=raw or {}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


def rules(result, rule):
    return [f for f in result.findings if f.rule == rule]


FROB = """\
apiVersion: example.org/v1
kind: Frobnicator
metadata: {name: f}
spec:
  template:
    spec:
      containers:
        - {name: c, image: x, resources: {limits: {nvidia.com/gpu: 2}}}
"""


# --- B1: a kind not in the kinds table that requests accelerators ---------------------------------

def test_unknown_kind_requesting_gpus_is_not_scanned_warning(tmp_path):
    res, result = run(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" + FROB)
    (f,) = rules(result, "not-scanned")
    assert f.severity == "warning" and f.file == "m.yaml" and f.line == 5
    assert "Frobnicator" in f.message and "2 nvidia.com/gpu" in f.message and "kubernetes.crds" in f.message
    assert "kubernetes.crds" in (f.fix or "")
    assert not res  # nothing is invented for it: the warning says what to add


def test_unknown_kind_cli_does_not_say_pass(tmp_path):
    (tmp_path / "f.yaml").write_text(FROB, encoding="utf-8")
    run_ = run_cli("scan", str(tmp_path), "--scope", "ai")
    assert "0 warnings" not in run_.stdout and "Frobnicator" in run_.stdout


def test_unknown_kind_without_accelerators_stays_quiet(tmp_path):
    _, result = run(tmp_path, FROB.replace("nvidia.com/gpu: 2", "cpu: 2"))
    assert not rules(result, "not-scanned")


def test_unknown_kind_with_unparsable_gpu_count_is_reported(tmp_path):
    _, result = run(tmp_path, FROB.replace("nvidia.com/gpu: 2", "amd.com/gpu: $N"))
    (f,) = rules(result, "not-scanned")
    assert "amd.com/gpu" in f.message and "$N" in f.message


def test_unknown_kind_added_under_crds_is_read(tmp_path):
    raw = {"kubernetes": {"crds": {"Frobnicator": {"roles": [{"template": "spec.template"}]}}}}
    res, result = run(tmp_path, FROB, raw=raw)
    assert res["Frobnicator/default/f"].compute.gpus_per_unit == 2
    assert not rules(result, "not-scanned")


# --- B2: an accelerator quantity that is not a number ---------------------------------------------

def test_unparsable_gpu_quantity_is_ai_with_unknown_count(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: kubeflow.org/v1
    kind: PyTorchJob
    metadata: {name: p}
    spec:
      pytorchReplicaSpecs:
        Worker:
          replicas: 2
          template:
            spec:
              containers:
                - {name: c, image: x, resources: {limits: {nvidia.com/gpu: $GPU_PER_NODE}}}
    """)
    r = res["PyTorchJob/default/p#Worker"]
    assert r.ai and r.compute.gpus_per_unit is None and r.compute.units == 2
    (f,) = rules(result, "unresolved-size")
    assert f.severity == "warning" and f.file == "m.yaml" and f.line == 1
    assert "$GPU_PER_NODE" in f.message and "nvidia.com/gpu" in f.message and "container `c`" in f.message
    assert "envsubst" in f.fix and "ResourceClaim" not in f.fix  # the fix is for this case only


def test_unparsable_gpu_quantity_next_to_a_known_one_keeps_count_unknown(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: v1
    kind: Pod
    metadata: {name: p}
    spec:
      containers:
        - {name: a, image: x, resources: {limits: {nvidia.com/gpu: 1}}}
        - {name: b, image: x, resources: {limits: {nvidia.com/gpu: PLACEHOLDER}}}
    """)
    r = res["Pod/default/p"]
    assert r.ai and r.compute.gpus_per_unit is None
    assert len(rules(result, "unresolved-size")) == 1


# --- B13: KAI-Scheduler / Run:ai fractional GPUs --------------------------------------------------

def test_gpu_fraction_annotation_is_a_fractional_gpu(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: v1
    kind: Pod
    metadata:
      name: half
      namespace: ml
      annotations: {gpu-fraction: "0.5"}
    spec:
      schedulerName: kai-scheduler
      containers: [{name: c, image: x}]
    """)
    r = res["Pod/ml/half"]
    assert r.ai and r.compute.gpus_per_unit == 0.5
    assert any("gpu-fraction" in n for n in r.compute.notes)


def test_gpu_fraction_on_deployment_pod_template_times_devices(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: d, namespace: ml}
    spec:
      replicas: 3
      template:
        metadata:
          annotations: {gpu-fraction: "0.25", gpu-fraction-num-devices: "2"}
        spec:
          containers: [{name: c, image: x}]
    """)
    r = res["Deployment/ml/d"]
    assert r.ai and r.compute.gpus_per_unit == 0.5 and r.compute.units == 3


def test_gpu_memory_annotation_is_ai_with_unknown_share(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: v1
    kind: Pod
    metadata:
      name: mem
      annotations: {gpu-memory: "2000"}
    spec:
      containers: [{name: c, image: x}]
    """)
    r = res["Pod/default/mem"]
    assert r.ai and r.compute.gpus_per_unit is None
    (f,) = rules(result, "unresolved-size")
    assert "gpu-memory" in f.message and "2000" in f.message


def test_bad_gpu_fraction_is_reported(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: v1
    kind: Pod
    metadata:
      name: bad
      annotations: {gpu-fraction: "half"}
    spec:
      containers: [{name: c, image: x}]
    """)
    assert res["Pod/default/bad"].ai and res["Pod/default/bad"].compute.gpus_per_unit is None
    (f,) = rules(result, "unresolved-size")
    assert "half" in f.message


# --- B12: KAITO Workspace on existing GPU nodes ---------------------------------------------------

def test_kaito_workspace_without_instance_type_is_ai(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: kaito.sh/v1beta1
    kind: Workspace
    metadata: {name: byo, namespace: ml}
    resource:
      labelSelector: {matchLabels: {pool: gpu}}
      partition: {mode: accelerator, count: 2}
    inference: {preset: {name: phi-4}}
    """)
    r = res["Workspace/ml/byo"]
    assert r.ai and r.compute.gpus_per_unit == 2 and r.compute.instance_type is None
    (f,) = rules(result, "unresolved-size")
    assert "resource.instanceType" in f.message and "set `resource.instanceType`" in f.fix


def test_kaito_workspace_without_instance_type_or_partition_is_ai_unknown_size(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: kaito.sh/v1beta1
    kind: Workspace
    metadata: {name: byo, namespace: ml}
    resource:
      count: 3
      labelSelector: {matchLabels: {pool: gpu}}
    inference: {preset: {name: phi-4}}
    """)
    r = res["Workspace/ml/byo"]
    assert r.ai and r.compute.gpus_per_unit is None and r.compute.units == 3
    assert len(rules(result, "unresolved-size")) == 1


# --- B6: Dynamic Resource Allocation ------------------------------------------------------------

DRA = """\
apiVersion: resource.k8s.io/v1
kind: ResourceClaimTemplate
metadata: {name: two-gpus, namespace: ml}
spec:
  spec:
    devices:
      requests:
        - name: gpu
          exactly: {deviceClassName: gpu.nvidia.com, count: 2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: srv, namespace: ml}
spec:
  template:
    spec:
      containers:
        - {name: c, image: x, resources: {claims: [{name: gpu}]}}
      resourceClaims:
        - {name: gpu, resourceClaimTemplateName: two-gpus}
"""


def test_dra_claim_template_gpus(tmp_path):
    res, result = run(tmp_path, DRA)
    r = res["Deployment/ml/srv"]
    assert r.ai and r.compute.gpus_per_unit == 2
    assert not rules(result, "unresolved-size")


def test_dra_claim_template_in_another_file_and_v1beta1(tmp_path):
    tmpl, dep = DRA.split("---\n")
    tmpl = tmpl.replace("resource.k8s.io/v1", "resource.k8s.io/v1beta1").replace(
        "exactly: {deviceClassName: gpu.nvidia.com, count: 2}", "deviceClassName: gpu.amd.com\n          count: 3")
    (tmp_path / "a.yaml").write_text(dep, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(tmpl, encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    (r,) = [r for r in result.resources if r.address == "Deployment/ml/srv"]
    assert r.ai and r.compute.gpus_per_unit == 3


def test_dra_non_gpu_class_is_not_ai(tmp_path):
    res, result = run(tmp_path, DRA.replace("gpu.nvidia.com", "nic.example.com"))
    assert "Deployment/ml/srv" not in res or not res["Deployment/ml/srv"].ai
    assert not rules(result, "unresolved-size")


def test_dra_unresolved_claim_is_possibly_ai(tmp_path):
    res, result = run(tmp_path, DRA.split("---\n")[1])
    r = res["Deployment/ml/srv"]
    assert r.ai and r.meta.get("possibly_ai") and r.compute.gpus_per_unit is None
    (f,) = rules(result, "unresolved-size")
    assert "two-gpus" in f.message and f.file == "m.yaml"
    assert "scan the ResourceClaimTemplate together with the workload" in f.fix


def test_dra_allocation_mode_all_is_unknown_count(tmp_path):
    res, result = run(tmp_path, DRA.replace("count: 2}", "allocationMode: All}"))
    r = res["Deployment/ml/srv"]
    assert r.ai and r.compute.gpus_per_unit is None
    assert len(rules(result, "unresolved-size")) == 1


# --- B9: kubeai Model (GPUs from a named resource profile x count) --------------------------------

KUBEAI = """\
apiVersion: kubeai.org/v1
kind: Model
metadata: {name: llama, namespace: kubeai, labels: {team: ml}}
spec:
  engine: VLLM
  url: hf://x/y
  minReplicas: 2
  resourceProfile: nvidia-gpu-l4:2
"""


def test_kubeai_model_gpus_from_resource_profile(tmp_path):
    res, result = run(tmp_path, KUBEAI)
    r = res["Model/kubeai/llama"]
    assert r.ai and r.compute.gpus_per_unit == 2 and r.compute.units == 2
    assert "team" not in r.tags  # kubeai gives its pods fixed labels, not the Model's
    assert not rules(result, "unresolved-size") and not rules(result, "not-scanned")


def test_kubeai_model_on_cpu_profile_is_not_ai(tmp_path):
    res, result = run(tmp_path, KUBEAI.replace("nvidia-gpu-l4:2", "cpu:4"))
    assert "Model/kubeai/llama" not in res or not res["Model/kubeai/llama"].ai
    assert not rules(result, "unresolved-size")


def test_kubeai_model_on_unknown_profile_is_possibly_ai(tmp_path):
    res, result = run(tmp_path, KUBEAI.replace("nvidia-gpu-l4:2", "my-profile:1"))
    r = res["Model/kubeai/llama"]
    assert r.ai and r.meta.get("possibly_ai") and r.compute.gpus_per_unit is None
    (f,) = rules(result, "unresolved-size")
    assert "my-profile:1" in f.message


def test_other_model_kinds_are_not_kubeai(tmp_path):
    res, result = run(tmp_path, KUBEAI.replace("kubeai.org/v1", "example.com/v1"))
    assert not res and not result.findings


def test_unparsable_gpu_quantity_in_a_training_runtime_reaches_the_trainjob(tmp_path):
    runtime = """\
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: ClusterTrainingRuntime
    metadata: {name: torch-gpu}
    spec:
      mlPolicy: {numNodes: 2}
      template:
        spec:
          replicatedJobs:
            - name: node
              template:
                spec:
                  template:
                    spec:
                      containers:
                        - {name: node, resources: {limits: {nvidia.com/gpu: $GPUS}}}
    """
    (tmp_path / "rt.yaml").write_text(textwrap.dedent(runtime), encoding="utf-8")
    res, result = run(tmp_path, """\
    apiVersion: trainer.kubeflow.org/v1alpha1
    kind: TrainJob
    metadata: {name: ft, namespace: ml}
    spec:
      runtimeRef: {name: torch-gpu}
    """)
    r = res["TrainJob/ml/ft"]
    assert r.ai and r.compute.gpus_per_unit is None and r.compute.units == 2
    (f,) = rules(result, "unresolved-size")
    assert "$GPUS" in f.message and "`node`" in f.message


def test_kaito_workspace_on_a_cpu_size_stays_not_ai(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: kaito.sh/v1beta1
    kind: Workspace
    metadata: {name: cpu, namespace: ml}
    resource: {instanceType: Standard_D4s_v5}
    inference: {preset: {name: phi-4}}
    """)
    assert "Workspace/ml/cpu" not in res and not rules(result, "unresolved-size")
