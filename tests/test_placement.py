"""Issue 12 item 5: GPU workloads priced from the node pools they select (same scan)."""
from __future__ import annotations

import textwrap

from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.pricing import catalog

NODEPOOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: g5-gpu}
spec:
  template:
    metadata:
      labels: {NodeGroupType: g5-gpu-karpenter}
    spec:
      nodeClassRef: {name: gpu, group: karpenter.k8s.aws, kind: EC2NodeClass}
      taints: [{key: nvidia.com/gpu, effect: NoSchedule}]
      requirements:
        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g5]}
        - {key: karpenter.k8s.aws/instance-size, operator: In, values: [2xlarge, 12xlarge]}
"""

MIXED_POOL = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: mixed}
spec:
  template:
    metadata:
      labels: {team: mixed}
    spec:
      nodeClassRef: {name: gpu}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [g5.xlarge, g6.xlarge, p4d.24xlarge]}
"""


def deployment(name: str, spec_extra: str, gpus: int = 1, replicas: int = 1) -> str:
    extra = textwrap.indent(textwrap.dedent(spec_extra), "      ")
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: ml}}\nspec:\n"
            f"  replicas: {replicas}\n  template:\n    metadata: {{labels: {{app: x}}}}\n    spec:\n{extra}"
            f"      containers:\n        - name: c\n          resources: {{limits: {{nvidia.com/gpu: {gpus}}}}}\n")


def run(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}, result


def per_gpu(model: str) -> float:
    return catalog.gpu_hourly(model).usd_per_gpu_hour


def test_custom_label_and_toleration_select_a_karpenter_pool(tmp_path):
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter}
        tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        """, replicas=2)})
    r = res["Deployment/ml/infer"]
    assert r.compute.accelerator == "A10G"
    assert r.cost.hourly_usd is not None
    assert abs(r.cost.hourly_usd - 2 * per_gpu("A10G")) < 1e-6
    note = " ".join(r.compute.notes)
    assert "NodePool g5-gpu" in note and "g5.2xlarge" in note and "g5.12xlarge" in note
    assert "g5.4xlarge" not in note  # instance-size requirement narrows the family


def test_untolerated_taint_does_not_match(tmp_path):
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter}
        """)})
    r = res["Deployment/ml/infer"]
    assert r.cost.hourly_usd is None
    assert "no node pool in the scanned files matches" in " ".join(r.compute.notes)


def test_wrong_label_value_does_not_match(tmp_path):
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: other}
        tolerations: [{operator: Exists}]
        """)})
    assert res["Deployment/ml/infer"].cost.hourly_usd is None


def test_gpu_count_excludes_small_sizes(tmp_path):
    # 4 GPUs per pod: only g5.12xlarge (4 x A10G) of the pool fits
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("big", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter}
        tolerations: [{key: nvidia.com/gpu, operator: Exists}]
        """, gpus=4)})
    r = res["Deployment/ml/big"]
    assert "g5.2xlarge" not in " ".join(r.compute.notes)
    assert abs(r.cost.hourly_usd - 4 * per_gpu("A10G")) < 1e-6


def test_affinity_over_sizes_of_one_gpu_model_is_priced_per_gpu(tmp_path):
    res, _ = run(tmp_path, {"d.yaml": deployment("l40", """\
        affinity:
          nodeAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              nodeSelectorTerms:
                - matchExpressions:
                    - {key: node.kubernetes.io/instance-type, operator: In, values: [g6e.2xlarge, g6e.4xlarge]}
        """)})
    r = res["Deployment/ml/l40"]
    assert r.compute.accelerator == "L40S"
    assert abs(r.cost.hourly_usd - per_gpu("L40S")) < 1e-6


def test_mixed_models_priced_on_the_cheapest_per_gpu_type(tmp_path):
    res, _ = run(tmp_path, {"np.yaml": MIXED_POOL, "d.yaml": deployment("mixed", """\
        nodeSelector: {team: mixed}
        """)})
    r = res["Deployment/ml/mixed"]
    rates = {t: catalog.lookup(t).on_demand / catalog.lookup(t).accelerator_count
             for t in ("g5.xlarge", "g6.xlarge", "p4d.24xlarge")}
    cheapest = min(rates, key=rates.get)
    assert r.compute.instance_type == cheapest
    assert "lower bound" in " ".join(r.compute.notes)
    assert r.cost.hourly_usd is not None


def test_not_in_affinity_excludes_a_pool(tmp_path):
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("x", """\
        tolerations: [{operator: Exists}]
        affinity:
          nodeAffinity:
            requiredDuringSchedulingIgnoredDuringExecution:
              nodeSelectorTerms:
                - matchExpressions:
                    - {key: NodeGroupType, operator: NotIn, values: [g5-gpu-karpenter]}
                    - {key: karpenter.sh/nodepool, operator: Exists}
        """)})
    assert res["Deployment/ml/x"].cost.hourly_usd is None


def test_terraform_eks_node_group_labels_and_taints(tmp_path):
    tf = """\
resource "aws_eks_node_group" "inf" {
  cluster_name    = "c"
  node_group_name = "inf2"
  node_role_arn   = "arn:aws:iam::1:role/x"
  subnet_ids      = ["s"]
  instance_types  = ["inf2.xlarge"]
  labels = { instanceType = "inferentia-inf2" }
  taint {
    key    = "aws.amazon.com/neuron"
    value  = "true"
    effect = "NO_SCHEDULE"
  }
  scaling_config {
    desired_size = 1
    max_size     = 1
    min_size     = 1
  }
}
"""
    pod = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: n, namespace: ml}
    spec:
      nodeSelector: {instanceType: inferentia-inf2}
      tolerations: [{key: aws.amazon.com/neuron, operator: Equal, value: "true", effect: NoSchedule}]
      containers:
        - name: c
          resources: {limits: {aws.amazon.com/neuron: 1}}
    """)
    res, _ = run(tmp_path, {"ng.tf": tf, "p.yaml": pod})
    r = res["Pod/ml/n"]
    assert r.cost.hourly_usd is not None
    assert "aws_eks_node_group.inf" in " ".join(r.compute.notes)
    # the same pod with the wrong toleration value stays unpriced
    (tmp_path / "p.yaml").write_text(pod.replace('value: "true"', 'value: "no"'), encoding="utf-8")
    res, _ = run(tmp_path, {})
    assert res["Pod/ml/n"].cost.hourly_usd is None


def test_pool_without_types_says_why(tmp_path):
    pool = NODEPOOL.replace("""        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g5]}
        - {key: karpenter.k8s.aws/instance-size, operator: In, values: [2xlarge, 12xlarge]}
""", "        - {key: kubernetes.io/arch, operator: In, values: [amd64]}\n")
    res, _ = run(tmp_path, {"np.yaml": pool, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter}
        tolerations: [{key: nvidia.com/gpu, operator: Exists}]
        """)})
    r = res["Deployment/ml/infer"]
    assert r.cost.hourly_usd is None
    assert "instance types are not known" in " ".join(r.compute.notes)
