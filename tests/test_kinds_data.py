"""Issue 12 item 4: more AI kinds as data; the shipped kinds table obeys the users' `kubernetes.crds` schema."""
from __future__ import annotations

import json
import textwrap

import pytest

from tagguard import yamlio
from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.resources import data_file


def crd_schema():
    schema = json.loads(data_file("schemas/config.schema.json").read_text(encoding="utf-8"))
    return schema["properties"]["kubernetes"]["properties"]["crds"]


def shipped():
    return yamlio.load(data_file("policies/kubernetes_kinds.yaml").read_text(encoding="utf-8"))["kinds"]


def test_every_shipped_kind_validates_against_the_users_crds_schema():
    import jsonschema

    validator = jsonschema.Draft202012Validator(crd_schema())
    errors = sorted(f"{list(e.path)}: {e.message}" for e in validator.iter_errors(shipped()))
    assert errors == []


def test_trainjob_copied_into_a_config_is_valid():
    import jsonschema

    jsonschema.Draft202012Validator(crd_schema()).validate({"MyTrainJob": shipped()["TrainJob"]})


def test_schema_still_rejects_unknown_role_fields():
    import jsonschema

    bad = {"X": {"roles": [{"template": "spec.template", "gpu_path": "spec.gpu"}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(crd_schema()).validate(bad)


def run(tmp_path, text, raw=None):
    (tmp_path / "m.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw=raw or {}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


def test_spark_application_gpus_outside_resources(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: sparkoperator.k8s.io/v1beta2
    kind: SparkApplication
    metadata: {name: etl, namespace: spark}
    spec:
      driver:
        cores: 1
        labels: {team: data}
      executor:
        instances: 3
        labels: {team: data}
        gpu: {name: nvidia.com/gpu, quantity: 1}
        nodeSelector: {node.kubernetes.io/instance-type: g5.xlarge}
    """)
    ex = res["SparkApplication/spark/etl#executor"]
    assert ex.ai and ex.compute.units == 3 and ex.compute.gpus_per_unit == 1
    assert ex.tags == {"team": "data"}
    assert ex.compute.instance_type == "g5.xlarge"
    assert "SparkApplication/spark/etl#driver" not in res  # no GPU: out of the AI scope


def test_nimservice(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: apps.nvidia.com/v1alpha1
    kind: NIMService
    metadata: {name: llama, namespace: nim}
    spec:
      replicas: 2
      labels: {owner: ml}
      resources:
        limits: {nvidia.com/gpu: 2}
    """)
    r = res["NIMService/nim/llama"]
    assert r.ai and r.compute.units == 2 and r.compute.gpus_per_unit == 2 and r.tags == {"owner": "ml"}


def test_nimpipeline_services_and_the_enabled_switch(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: apps.nvidia.com/v1alpha1
    kind: NIMPipeline
    metadata: {name: rag, namespace: nim}
    spec:
      services:
        - name: llm
          enabled: true
          spec:
            replicas: 2
            labels: {owner: ml}
            resources: {limits: {nvidia.com/gpu: 1}}
        - name: embed
          enabled: false
          spec:
            resources: {limits: {nvidia.com/gpu: 1}}
        - name: rerank
          spec:
            resources: {limits: {nvidia.com/gpu: 4}}
    """)
    llm, embed, rerank = (res[f"NIMPipeline/nim/rag#{n}"] for n in ("llm", "embed", "rerank"))
    assert llm.ai and llm.compute.units == 2 and llm.compute.gpus_per_unit == 1 and llm.tags == {"owner": "ml"}
    assert embed.ai and embed.compute.units == 0  # switched off: no pods, no cost
    assert embed.cost.hourly_usd in (None, 0)
    assert rerank.compute.units == 1 and rerank.compute.gpus_per_unit == 4  # no switch: deployed


def test_argo_workflow_templates(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: train-, namespace: argo}
    spec:
      entrypoint: main
      podMetadata: {labels: {team: ml}}
      templates:
        - name: main
          steps: [[{name: t, template: train}]]
        - name: train
          metadata: {labels: {step: train}}
          container:
            image: x
            resources: {limits: {nvidia.com/gpu: 4}}
    """)
    r = res["Workflow/argo/train-#train"]
    assert r.ai and r.compute.gpus_per_unit == 4
    assert r.tags == {"team": "ml", "step": "train"}
    assert "Workflow/argo/train-#main" not in res


def test_kaito_workspace_instance_type_and_count(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: kaito.sh/v1beta1
    kind: Workspace
    metadata: {name: phi, namespace: ai, labels: {owner: ml}}
    resource:
      instanceType: Standard_NC24ads_A100_v4
      count: 2
    inference: {preset: {name: phi-3}}
    """)
    r = res["Workspace/ai/phi"]
    assert r.ai and r.compute.units == 2 and r.compute.instance_type == "Standard_NC24ads_A100_v4"
    assert r.cost.hourly_usd is not None


def test_seldon_knative_bento(tmp_path):
    res, _ = run(tmp_path, """\
    apiVersion: machinelearning.seldon.io/v1
    kind: SeldonDeployment
    metadata: {name: s, namespace: m}
    spec:
      predictors:
        - name: default
          replicas: 2
          componentSpecs:
            - metadata: {labels: {team: a}}
              spec:
                containers:
                  - name: c
                    resources: {limits: {nvidia.com/gpu: 1}}
    ---
    apiVersion: serving.knative.dev/v1
    kind: Service
    metadata: {name: k, namespace: m}
    spec:
      template:
        metadata: {labels: {team: b}}
        spec:
          containers:
            - image: x
              resources: {limits: {nvidia.com/gpu: 1}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: plain, namespace: m}
    spec: {ports: [{port: 80}]}
    ---
    apiVersion: resources.yatai.ai/v1alpha1
    kind: BentoDeployment
    metadata: {name: b, namespace: m}
    spec:
      labels: {team: c}
      autoscaling: {minReplicas: 3}
      resources: {limits: {nvidia.com/gpu: "1"}}
    """)
    s = res["SeldonDeployment/m/s#default"]
    assert s.ai and s.compute.units == 2 and s.tags == {"team": "a"}
    assert res["Service/m/k"].ai and res["Service/m/k"].tags == {"team": "b"}
    assert "Service/m/plain" not in res
    b = res["BentoDeployment/m/b"]
    assert b.ai and b.compute.units == 3 and b.tags == {"team": "c"}


def test_user_crd_with_gpus_outside_resources(tmp_path):
    raw = {"kubernetes": {"crds": {"Trainer.example.com": {
        "workload": "job",
        "roles": [{"pod_spec": "spec.pod",
                   "gpus": [{"path": "spec.accel", "resource": "nvidia.com/gpu", "quantity": "count"}],
                   "replicas": ["spec.nodes"]}]}}}}
    res, _ = run(tmp_path, """\
    apiVersion: example.com/v1
    kind: Trainer
    metadata: {name: t, namespace: x}
    spec:
      nodes: 4
      accel: {count: 8}
      pod: {}
    """, raw)
    r = res["Trainer/x/t"]
    assert r.ai and r.compute.gpus_per_unit == 8 and r.compute.units == 4
