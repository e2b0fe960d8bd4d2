"""Bugs found by scanning public AI platform repositories (docs/real-world.md, "Bug hunt, December 2026").

Every fixture here is written by hand to show one bug; nothing is copied from those repositories.
"""
from __future__ import annotations

import textwrap

from tagguard.config import Config
from tagguard.pipeline import scan


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
