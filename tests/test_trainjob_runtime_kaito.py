"""Issue 12 polish (H14): a TrainJob's GPUs from the (Cluster)TrainingRuntime it references, and a KAITO
Workspace on a GPU size the rate card does not know."""
from __future__ import annotations

import textwrap

from tagguard.config import Config
from tagguard.pipeline import scan

RUNTIME = """\
apiVersion: trainer.kubeflow.org/v1alpha1
kind: ClusterTrainingRuntime
metadata: {name: torch-gpu}
spec:
  mlPolicy: {numNodes: 2, torch: {numProcPerNode: auto}}
  template:
    spec:
      replicatedJobs:
        - name: dataset-initializer
          template:
            spec:
              template:
                spec:
                  containers:
                    - name: dataset-initializer
                      resources: {limits: {nvidia.com/gpu: 8}}
        - name: node
          template:
            spec:
              template:
                metadata: {labels: {team: ml}}
                spec:
                  nodeSelector: {node.kubernetes.io/instance-type: g5.12xlarge}
                  containers:
                    - name: node
                      resources: {limits: {nvidia.com/gpu: 4, cpu: 8}}
                    - name: sidecar
                      resources: {limits: {cpu: 1}}
"""


def run(tmp_path, *files):
    for i, text in enumerate(files):
        (tmp_path / f"m{i}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


def trainjob(body: str = "") -> str:
    return ("apiVersion: trainer.kubeflow.org/v1alpha1\nkind: TrainJob\nmetadata: {name: ft, namespace: ml}\n"
            "spec:\n  runtimeRef: {name: torch-gpu}\n" + body)


def test_trainjob_gpus_from_its_runtime_times_the_runtimes_nodes(tmp_path):
    res, _ = run(tmp_path, RUNTIME, trainjob())
    r = res["TrainJob/ml/ft"]
    assert r.ai and r.compute.gpus_per_unit == 4 and r.compute.units == 2
    assert r.meta["accelerators"] == {"nvidia.com/gpu": 4}  # the dataset initializer's 8 are another job's
    assert r.compute.instance_type == "g5.12xlarge" or r.compute.instance_type is None
    assert r.tags == {"team": "ml"}
    # the runtime is a template: no resource of its own, counted once (on the TrainJob)
    assert not any("TrainingRuntime" in a for a in res)
    assert [a for a in res if r.ai and a.startswith("TrainJob/")] == ["TrainJob/ml/ft"]


def test_trainjob_num_nodes_overrides_the_runtimes(tmp_path):
    res, _ = run(tmp_path, trainjob("  trainer: {numNodes: 3}\n"), RUNTIME)  # runtime in a later file
    r = res["TrainJob/ml/ft"]
    assert r.ai and r.compute.gpus_per_unit == 4 and r.compute.units == 3


def test_trainjob_resources_per_node_replace_the_trainer_containers(tmp_path):
    res, _ = run(tmp_path, RUNTIME, trainjob("  trainer:\n    resourcesPerNode: {limits: {nvidia.com/gpu: 1}}\n"))
    r = res["TrainJob/ml/ft"]
    assert r.compute.gpus_per_unit == 1 and r.compute.units == 2


def test_trainjob_whose_runtime_is_not_scanned_stays_open(tmp_path):
    res, _ = run(tmp_path, trainjob())
    assert "TrainJob/ml/ft" not in res  # no GPU known: out of the (default) AI scope, as before


def test_runtime_without_gpus_keeps_the_trainjob_out_of_the_ai_scope(tmp_path):
    cpu_runtime = RUNTIME.replace("nvidia.com/gpu: 4, ", "").replace("nvidia.com/gpu: 8", "cpu: 2")
    res, _ = run(tmp_path, cpu_runtime, trainjob())
    assert "TrainJob/ml/ft" not in res


WORKSPACE = """\
apiVersion: kaito.sh/v1beta1
kind: Workspace
metadata: {{name: phi, namespace: ai, labels: {{owner: ml}}}}
resource:
  instanceType: {itype}
  count: 2
inference: {{preset: {{name: phi-3}}}}
"""


def test_kaito_workspace_on_an_unknown_gpu_size_is_ai_with_a_warning(tmp_path):
    res, result = run(tmp_path, WORKSPACE.format(itype="Standard_NC99zz_Q900_v9"))
    r = res["Workspace/ai/phi"]
    assert r.ai and r.compute.instance_type == "Standard_NC99zz_Q900_v9" and r.compute.units == 2
    assert r.compute.gpus_per_unit is None
    assert r.cost is None or r.cost.monthly_usd is None
    [f] = [f for f in result.findings if f.rule == "unpriced-resource" and f.address == "Workspace/ai/phi"]
    assert f.severity == "warning" and "Standard_NC99zz_Q900_v9" in f.message


def test_kaito_workspace_on_an_unknown_aws_gpu_family(tmp_path):
    res, result = run(tmp_path, WORKSPACE.format(itype="g99x.4xlarge"))
    r = res["Workspace/ai/phi"]
    assert r.ai and r.compute.gpus_per_unit is None
    assert any(f.rule == "unpriced-resource" and f.severity == "warning" and f.address == r.address
               for f in result.findings)


def test_kaito_workspace_on_a_cpu_size_is_not_ai(tmp_path):
    res, _ = run(tmp_path, WORKSPACE.format(itype="Standard_D4s_v5"))
    assert "Workspace/ai/phi" not in res
