"""Bug hunt, stop 19 (docs/real-world.md): GPU workload kinds found in public repositories that were not read.

Every fixture here is written by hand from the kinds' API definitions; nothing is copied from those repositories.
"""
from __future__ import annotations

import textwrap
import time

from tagguard.config import Config
from tagguard.pipeline import scan


def run(tmp_path, text, name="m.yaml", raw=None):
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw=raw or {}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


def rules(result, rule):
    return [f for f in result.findings if f.rule == rule]


# --- KubeVirt: GPUs are `domain.devices.gpus[].deviceName`, a device plugin resource named after the PCI
# device; kubevirt/kubevirt examples: a VMI with a passed-through GPU was silently not AI.

VMI = """\
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: desk, namespace: vdi, labels: {team: graphics}}
spec:
  nodeSelector: {node.kubernetes.io/instance-type: g4dn.xlarge}
  domain:
    devices:
      gpus:
        - {name: g1, deviceName: nvidia.com/TU104GL_Tesla_T4}
      hostDevices:
        - {name: usb, deviceName: kubevirt.io/usb-key}
    resources: {requests: {memory: 4Gi}}
"""


def test_kubevirt_vmi_with_a_passthrough_gpu_is_ai(tmp_path):
    res, _ = run(tmp_path, VMI)
    r = res["VirtualMachineInstance/vdi/desk"]
    assert r.ai and r.compute.units == 1 and r.compute.gpus_per_unit == 1
    assert r.tags == {"team": "graphics"}  # virt-launcher pods get the VMI's labels
    assert r.compute.instance_type == "g4dn.xlarge" and r.cost.monthly_usd


def test_kubevirt_virtual_machine_run_strategy_and_vgpu_share(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: kubevirt.io/v1
    kind: VirtualMachine
    metadata: {name: always, namespace: vdi, labels: {not: copied}}
    spec:
      runStrategy: Always
      template:
        metadata: {labels: {team: a}}
        spec:
          domain:
            devices:
              gpus:
                - {name: a, deviceName: nvidia.com/GA100_A100_PCIE_40GB}
                - {name: b, deviceName: nvidia.com/GA100_A100_PCIE_40GB}
    ---
    apiVersion: kubevirt.io/v1
    kind: VirtualMachine
    metadata: {name: halted, namespace: vdi}
    spec:
      runStrategy: Halted
      template:
        spec:
          domain: {devices: {gpus: [{name: a, deviceName: nvidia.com/GP102GL_Tesla_P40}]}}
    ---
    apiVersion: kubevirt.io/v1
    kind: VirtualMachine
    metadata: {name: stopped, namespace: vdi}
    spec:
      running: false
      template:
        spec:
          domain: {devices: {gpus: [{name: a, deviceName: nvidia.com/GP102GL_Tesla_P40}]}}
    ---
    apiVersion: kubevirt.io/v1
    kind: VirtualMachine
    metadata: {name: vgpu, namespace: vdi}
    spec:
      runStrategy: Always
      template:
        spec:
          domain: {devices: {gpus: [{name: a, deviceName: nvidia.com/GRID_T4-4Q}]}}
    ---
    apiVersion: pool.kubevirt.io/v1alpha1
    kind: VirtualMachinePool
    metadata: {name: farm, namespace: vdi}
    spec:
      replicas: 3
      virtualMachineTemplate:
        spec:
          runStrategy: Always
          template:
            metadata: {labels: {team: farm}}
            spec:
              domain: {devices: {gpus: [{name: a, deviceName: nvidia.com/AD102GL_L40S}]}}
    """)
    on = res["VirtualMachine/vdi/always"]
    assert on.ai and on.compute.units == 1 and on.compute.gpus_per_unit == 2 and on.tags == {"team": "a"}
    assert res["VirtualMachine/vdi/halted"].compute.units == 0
    assert res["VirtualMachine/vdi/stopped"].compute.units == 0
    assert res["VirtualMachine/vdi/vgpu"].compute.gpus_per_unit == 0.25  # 4 GB of a 16 GB T4
    farm = res["VirtualMachinePool/vdi/farm"]
    assert farm.compute.units == 3 and farm.compute.gpus_per_unit == 1 and farm.tags == {"team": "farm"}


def test_passthrough_resource_names_in_pods_and_other_nvidia_devices(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: v1
    kind: Pod
    metadata: {name: kata, namespace: ml}
    spec:
      runtimeClassName: kata-qemu-nvidia-gpu
      containers:
        - {name: c, image: x, resources: {limits: {nvidia.com/GH100_H100_PCIe: 1}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: rdma, namespace: ml}
    spec:
      containers:
        - {name: c, image: x, resources: {limits: {nvidia.com/rdma_shared_device_a: 1, nvidia.com/hostdev: 1}}}
    """)
    assert res["Pod/ml/kata"].ai and res["Pod/ml/kata"].compute.gpus_per_unit == 1
    assert "Pod/ml/rdma" not in res or not res["Pod/ml/rdma"].ai


def test_kubevirt_hostile_device_lists_stay_bounded(tmp_path):
    devices = ",".join(["{deviceName: nvidia.com/TU104GL_Tesla_T4}"] * 20000)
    text = ("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: big}\n"
            f"spec: {{domain: {{devices: {{gpus: [{devices}], hostDevices: [1, x, [], {{deviceName: 7}}]}}}}}}\n")
    started = time.monotonic()
    res, result = run(tmp_path, text)
    assert time.monotonic() - started < 30
    r = res["VirtualMachineInstance/default/big"]
    assert r.ai and r.compute.gpus_per_unit == 20000  # summed per resource: linear, no container per device


# --- AppWrapper (project-codeflare/appwrapper): whole objects in `components[].template`; the wrapped Job
# asking for 4 GPUs was a not-scanned warning only.

def test_appwrapper_components_are_read_as_their_own_kinds(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: workload.codeflare.dev/v1beta2
    kind: AppWrapper
    metadata: {name: aw, namespace: batch, labels: {team: not-on-pods}}
    spec:
      components:
        - template:
            apiVersion: batch/v1
            kind: Job
            metadata: {name: train}
            spec:
              parallelism: 2
              activeDeadlineSeconds: 7200
              template:
                metadata: {labels: {team: ml}}
                spec:
                  restartPolicy: Never
                  nodeSelector: {node.kubernetes.io/instance-type: g5.12xlarge}
                  containers:
                    - {name: c, image: x, resources: {limits: {nvidia.com/gpu: 4}}}
        - template:
            apiVersion: kubeflow.org/v1
            kind: PyTorchJob
            metadata: {name: pt}
            spec:
              pytorchReplicaSpecs:
                Worker:
                  replicas: 3
                  template:
                    spec:
                      containers:
                        - {name: pytorch, image: x, resources: {limits: {nvidia.com/gpu: 8}}}
        - template:
            apiVersion: v1
            kind: Service
            metadata: {name: svc}
            spec: {ports: [{port: 80}]}
    """)
    job = res["AppWrapper/batch/aw#Job/train"]
    assert job.ai and job.compute.units == 2 and job.compute.gpus_per_unit == 4
    assert job.tags == {"team": "ml"}  # the AppWrapper's labels do not reach the wrapped pods
    assert job.compute.runtime_hours == 2 and job.compute.instance_type == "g5.12xlarge"
    assert any("inside AppWrapper" in n for n in job.compute.notes)
    worker = res["AppWrapper/batch/aw#PyTorchJob/pt/Worker"]
    assert worker.compute.units == 3 and worker.compute.gpus_per_unit == 8
    # the fix names the labels' path from the AppWrapper's root, where the user edits them
    assert "`spec.components.1.template.spec.pytorchReplicaSpecs.Worker.template.metadata.labels`" in \
        worker.tag_fix_hint
    assert not [f for f in rules(result, "not-scanned") if "AppWrapper" in (f.address or "")]


def test_appwrapper_of_an_unknown_kind_with_gpus_is_a_warning_naming_the_wrapper(tmp_path):
    _, result = run(tmp_path, """\
    apiVersion: workload.codeflare.dev/v1beta2
    kind: AppWrapper
    metadata: {name: aw, namespace: batch}
    spec:
      components:
        - template:
            apiVersion: example.com/v1
            kind: Trainer
            metadata: {name: t}
            spec: {pod: {containers: [{name: c, resources: {limits: {nvidia.com/gpu: 2}}}]}}
        - podSets: []
    """)
    found = rules(result, "not-scanned")
    assert any(f.address == "AppWrapper/batch/aw#Trainer/t" and "2 nvidia.com/gpu" in f.message for f in found)
    assert any("no object with kind and apiVersion at `spec.components.1.template`" in f.message for f in found)


def test_appwrapper_with_more_components_than_read_says_so(tmp_path):
    job = ("{template: {apiVersion: batch/v1, kind: Job, metadata: {name: j%d}, spec: {template: {spec: "
           "{containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]}}}}}")
    comps = ", ".join(job % i for i in range(300))
    res, result = run(tmp_path, "apiVersion: workload.codeflare.dev/v1beta2\nkind: AppWrapper\n"
                                f"metadata: {{name: aw}}\nspec: {{components: [{comps}]}}\n")
    assert len([a for a in res if a.startswith("AppWrapper/")]) == 256
    assert any("holds 300 objects; the first 256 are read" in f.message for f in rules(result, "not-scanned"))


def test_unknown_kind_count_cut_short_by_the_walk_limit_says_at_least(tmp_path, monkeypatch):
    from tagguard.sources.kubernetes import workloads

    monkeypatch.setattr(workloads, "_WALK_MAX", 100)
    pods = ", ".join(["{containers: [{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]}"] * 50)
    _, result = run(tmp_path, f"apiVersion: example.com/v1\nkind: Frob\nmetadata: {{name: f}}\n"
                              f"spec: {{pods: [{pods}]}}\n")
    assert any("it requests at least" in f.message for f in rules(result, "not-scanned"))


def test_wrappers_nested_too_deep_are_reported_not_followed(tmp_path):
    inner = ("{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: "
             "[{name: c, resources: {limits: {nvidia.com/gpu: 1}}}]}}")
    for _ in range(4):
        inner = (f"{{apiVersion: workload.codeflare.dev/v1beta2, kind: AppWrapper, metadata: {{name: w}}, "
                 f"spec: {{components: [{{template: {inner}}}]}}}}")
    res, result = run(tmp_path, inner + "\n")
    assert not [a for a in res if a.startswith("AppWrapper/")]
    assert any("nested more than 2 objects deep" in f.message for f in rules(result, "not-scanned"))


# --- Katib Experiment (kubeflow/katib): every trial is a `trialTemplate.trialSpec` object, parallelTrialCount
# (default 3) at a time; GPU NAS examples were a not-scanned warning only.

def test_katib_experiment_trials_times_parallel_trials(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: kubeflow.org/v1beta1
    kind: Experiment
    metadata: {name: nas, namespace: hp}
    spec:
      parallelTrialCount: 2
      maxTrialCount: 10
      trialTemplate:
        primaryContainerName: training
        trialSpec:
          apiVersion: batch/v1
          kind: Job
          spec:
            template:
              metadata: {labels: {team: research}}
              spec:
                containers:
                  - {name: training, image: x, resources: {limits: {nvidia.com/gpu: 1}}}
    ---
    apiVersion: kubeflow.org/v1beta1
    kind: Experiment
    metadata: {name: default-parallel, namespace: hp}
    spec:
      trialTemplate:
        trialSpec:
          apiVersion: batch/v1
          kind: Job
          spec:
            template:
              spec:
                containers:
                  - {name: training, image: x, resources: {limits: {nvidia.com/gpu: "${trialParameters.gpus}"}}}
    ---
    apiVersion: kubeflow.org/v1beta1
    kind: Experiment
    metadata: {name: from-configmap, namespace: hp}
    spec:
      trialTemplate:
        configMap: {configMapName: trial-templates, templatePath: job.yaml}
    """)
    nas = res["Experiment/hp/nas#trial"]
    assert nas.ai and nas.compute.units == 2 and nas.compute.gpus_per_unit == 1
    assert nas.tags == {"team": "research"} and nas.meta.get("run_to_completion")
    assert any("parallelTrialCount" in n for n in nas.compute.notes)
    dflt = res["Experiment/hp/default-parallel#trial"]
    assert dflt.ai and dflt.compute.units == 3 and dflt.compute.gpus_per_unit is None
    assert any(f.address == "Experiment/hp/default-parallel#trial" for f in rules(result, "unresolved-size"))
    assert any(f.address == "Experiment/hp/from-configmap" and "trialSpec" in f.message
               for f in rules(result, "not-scanned"))


def test_other_experiment_kinds_are_not_katib(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: chaos-mesh.org/v1alpha1
    kind: Experiment
    metadata: {name: e}
    spec: {trialTemplate: {trialSpec: {apiVersion: batch/v1, kind: Job, spec: {template: {spec: {containers: []}}}}}}
    """)
    assert not res and not rules(result, "not-scanned")


# --- Seldon Core v2 Server (SeldonIO/seldon-core samples/servers): a StatefulSet of `replicas` pods from the
# ServerConfig's pod spec with `podSpec` merged in, labelled with the Server's labels.

def test_seldon_v2_server(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: mlops.seldon.io/v1alpha1
    kind: Server
    metadata: {name: gpu-server, namespace: seldon, labels: {team: serving}}
    spec:
      serverConfig: mlserver
      replicas: 2
      podSpec:
        nodeSelector: {node.kubernetes.io/instance-type: g5.xlarge}
        containers:
          - name: mlserver
            resources: {limits: {nvidia.com/gpu: 1}}
    ---
    apiVersion: mlops.seldon.io/v1alpha1
    kind: Server
    metadata: {name: cpu-server, namespace: seldon}
    spec: {serverConfig: mlserver}
    """)
    r = res["Server/seldon/gpu-server"]
    assert r.ai and r.compute.units == 2 and r.compute.gpus_per_unit == 1 and r.tags == {"team": "serving"}
    assert r.compute.instance_type == "g5.xlarge" and r.cost.monthly_usd
    assert "Server/seldon/cpu-server" not in res or not res["Server/seldon/cpu-server"].ai


# --- Slinky slurm-operator NodeSet (SlinkyProject/slurm-operator): slurmd pods from `template`, the slurmd
# container's resources beside it; `scalingMode: DaemonSet` is one pod per matching node.

def test_slinky_nodeset_statefulset_and_daemonset_modes(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: slinky.slurm.net/v1beta1
    kind: NodeSet
    metadata: {name: h100, namespace: slurm}
    spec:
      replicas: 4
      slurmd:
        image: slurmd
        resources: {limits: {nvidia.com/gpu: 8}}
      template:
        metadata: {labels: {team: hpc}}
        spec:
          nodeSelector: {node.kubernetes.io/instance-type: p5.48xlarge}
    ---
    apiVersion: slinky.slurm.net/v1beta1
    kind: NodeSet
    metadata: {name: every-gpu-node, namespace: slurm}
    spec:
      scalingMode: DaemonSet
      replicas: 4
      slurmd: {resources: {limits: {nvidia.com/gpu: 8}}}
      template: {spec: {}}
    """)
    r = res["NodeSet/slurm/h100"]
    assert r.ai and r.compute.units == 4 and r.compute.gpus_per_unit == 8 and r.tags == {"team": "hpc"}
    assert r.compute.instance_type == "p5.48xlarge" and r.cost.monthly_usd
    d = res["NodeSet/slurm/every-gpu-node"]
    assert d.ai and d.compute.units is None and d.meta["workload"] == "daemon"
    assert any("scalingMode: DaemonSet" in n for n in d.compute.notes)


# --- llmaz (InftyAI/llmaz): a Playground's GPUs come from the claimed OpenModel's inference flavor, which
# overwrites `backendRuntimeConfig.resources`; 11 GPU Playgrounds of the examples were silently not AI.

OPEN_MODELS = """\
apiVersion: llmaz.io/v1alpha1
kind: OpenModel
metadata: {name: big}
spec:
  familyName: x
  inferenceConfig:
    flavors:
      - {name: a100, limits: {nvidia.com/gpu: 4}}
      - {name: l4, limits: {nvidia.com/gpu: 8}}
---
apiVersion: llmaz.io/v1alpha1
kind: OpenModel
metadata: {name: tiny-cpu}
spec: {familyName: y}
"""


def test_llmaz_playground_gpus_from_the_open_model_flavor(tmp_path):
    (tmp_path / "models.yaml").write_text(OPEN_MODELS, encoding="utf-8")
    res, result = run(tmp_path, """\
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Playground
    metadata: {name: chat, namespace: llm, labels: {team: not-on-pods}}
    spec:
      replicas: 2
      modelClaim: {modelName: big}
      backendRuntimeConfig:
        resources: {limits: {nvidia.com/gpu: 1, cpu: 4}}
    ---
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Playground
    metadata: {name: chosen, namespace: llm}
    spec:
      modelClaim: {modelName: big, inferenceFlavors: [l4]}
    ---
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Playground
    metadata: {name: cpu, namespace: llm}
    spec:
      modelClaim: {modelName: tiny-cpu}
    ---
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Playground
    metadata: {name: elsewhere, namespace: llm}
    spec:
      modelClaims: {models: [{name: not-scanned-model}]}
    """, name="playgrounds.yaml")
    chat = res["Playground/llm/chat"]
    assert chat.ai and chat.compute.units == 2 and chat.compute.gpus_per_unit == 4  # the flavor wins
    assert chat.tags == {}  # llmaz labels the pods with the model, not with the Playground's labels
    assert any("OpenModel `big` flavor `a100`" in n for n in chat.compute.notes)
    assert res["Playground/llm/chosen"].compute.gpus_per_unit == 8
    assert "Playground/llm/cpu" not in res or not res["Playground/llm/cpu"].ai
    other = res["Playground/llm/elsewhere"]
    assert other.meta.get("possibly_ai") and other.compute.gpus_per_unit is None
    assert any(f.address == "Playground/llm/elsewhere" and "OpenModel `not-scanned-model`" in f.message
               for f in rules(result, "unresolved-size"))


def test_llmaz_playground_takes_the_model_of_its_own_file_first(tmp_path):
    # two example files both define OpenModel `m`: one on a GPU flavor, one a CPU (gguf) model
    (tmp_path / "a.yaml").write_text(OPEN_MODELS.replace("name: big", "name: m") + """---
apiVersion: inference.llmaz.io/v1alpha1
kind: Playground
metadata: {name: gpu}
spec: {modelClaim: {modelName: m}}
""", encoding="utf-8")
    res, _ = run(tmp_path, """\
    apiVersion: llmaz.io/v1alpha1
    kind: OpenModel
    metadata: {name: m}
    spec: {familyName: z}
    ---
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Playground
    metadata: {name: cpu}
    spec: {modelClaim: {modelName: m}}
    """, name="z.yaml")
    assert res["Playground/default/gpu"].ai and res["Playground/default/gpu"].compute.gpus_per_unit == 4
    assert "Playground/default/cpu" not in res or not res["Playground/default/cpu"].ai
    # then the model of its own directory (llmaz config/samples: the model and the Playground in two files)
    for d in ("samples", "zz"):
        (tmp_path / d).mkdir()
    (tmp_path / "samples" / "model.yaml").write_text(OPEN_MODELS.replace("name: big", "name: m"), encoding="utf-8")
    (tmp_path / "zz" / "model.yaml").write_text((tmp_path / "z.yaml").read_text(encoding="utf-8")
                                                .replace("name: cpu", "name: cpu2"), encoding="utf-8")
    res, _ = run(tmp_path, """\
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Playground
    metadata: {name: sample}
    spec: {modelClaim: {modelName: m}}
    """, name="samples/playground.yaml")  # z.yaml and zz/model.yaml define `m` too (on CPU)
    assert res["Playground/default/sample"].compute.gpus_per_unit == 4


def test_llmaz_inference_service_is_a_leader_worker_set(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: inference.llmaz.io/v1alpha1
    kind: Service
    metadata: {name: big, namespace: llm}
    spec:
      replicas: 2
      workloadTemplate:
        size: 4
        leaderTemplate:
          spec: {containers: [{name: model-runner, resources: {limits: {nvidia.com/gpu: 8}}}]}
        workerTemplate:
          spec: {containers: [{name: model-runner, resources: {limits: {nvidia.com/gpu: 8}}}]}
    """)
    assert res["Service/llm/big#leader"].compute.units == 2
    assert res["Service/llm/big#worker"].compute.units == 2 * 3


# --- NVIDIA Dynamo (ai-dynamo/dynamo, whose snapshot was too large to fetch: the kind from its API types):
# `resources.limits.gpu` of `gpuType` per pod, `multinode.nodeCount` pods per replica. It was a not-scanned
# warning (bug hunt B1) because the GPUs are not in a container's resources.

def test_dynamo_graph_deployment_services(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: nvidia.com/v1alpha1
    kind: DynamoGraphDeployment
    metadata: {name: disagg, namespace: dynamo}
    spec:
      services:
        Frontend:
          componentType: frontend
          replicas: 1
          resources: {requests: {cpu: "1"}}
        Decode:
          replicas: 2
          labels: {team: llm}
          multinode: {nodeCount: 2}
          resources:
            requests: {gpu: "8"}
            limits: {gpu: "8"}
          extraPodSpec:
            nodeSelector: {node.kubernetes.io/instance-type: p5.48xlarge}
            mainContainer: {image: x}
        Prefill:
          resources: {limits: {gpu: "2", gpuType: amd.com/gpu}}
          extraPodMetadata: {labels: {team: prefill}}
        Sized:
          resources: {requests: {gpu: "1"}}
    """)
    decode = res["DynamoGraphDeployment/dynamo/disagg#Decode"]
    assert decode.ai and decode.compute.units == 4 and decode.compute.gpus_per_unit == 8  # not 16: one container
    assert decode.tags == {"team": "llm"} and decode.compute.instance_type == "p5.48xlarge"
    prefill = res["DynamoGraphDeployment/dynamo/disagg#Prefill"]
    assert prefill.compute.gpus_per_unit == 2 and prefill.meta["accelerators"] == {"amd.com/gpu": 2}
    assert prefill.tags == {"team": "prefill"}
    assert res["DynamoGraphDeployment/dynamo/disagg#Sized"].compute.gpus_per_unit == 1
    front = res.get("DynamoGraphDeployment/dynamo/disagg#Frontend")
    assert front is None or not front.ai
    assert not rules(result, "not-scanned")


# --- Volcano (volcano-sh/volcano user guides) and HAMi GPU sharing: `volcano.sh/vgpu-number`,
# `volcano.sh/gpu-number`, `volcano.sh/gpu-memory` were not accelerators: such pods were silently not AI.

def test_volcano_and_hami_gpu_sharing_resources(tmp_path):
    res, result = run(tmp_path, """\
    apiVersion: v1
    kind: Pod
    metadata: {name: vgpu, namespace: ml}
    spec:
      schedulerName: volcano
      containers:
        - {name: c, image: x, resources: {limits: {volcano.sh/vgpu-number: 2, volcano.sh/vgpu-memory: 3000}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: whole, namespace: ml}
    spec:
      containers:
        - {name: c, image: x, resources: {limits: {volcano.sh/gpu-number: 1}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: by-memory, namespace: ml}
    spec:
      containers:
        - {name: c, image: x, resources: {limits: {volcano.sh/gpu-memory: 1024}}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: hami, namespace: ml}
    spec:
      containers:
        - {name: c, resources: {limits: {nvidia.com/gpu: 1, nvidia.com/gpumem: 3000, nvidia.com/gpucores: 30}}}
    """)
    assert res["Pod/ml/vgpu"].ai and res["Pod/ml/vgpu"].compute.gpus_per_unit == 2
    assert res["Pod/ml/whole"].compute.gpus_per_unit == 1
    mem = res["Pod/ml/by-memory"]
    assert mem.ai and mem.compute.gpus_per_unit is None
    assert any(f.address == "Pod/ml/by-memory" and "volcano.sh/gpu-memory: 1024" in f.message
               for f in rules(result, "unresolved-size"))
    assert res["Pod/ml/hami"].compute.gpus_per_unit == 1
    assert res["Pod/ml/hami"].meta["accelerators"] == {"nvidia.com/gpu": 1}
