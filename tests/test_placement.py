"""Issue 12 item 5: GPU workloads priced from the node pools they select (same scan)."""
from __future__ import annotations

import json
import textwrap

import pytest

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
    pool = NODEPOOL.replace("{key: nvidia.com/gpu, effect: NoSchedule}",
                            "{key: dedicated, value: ml, effect: NoSchedule}")
    res, _ = run(tmp_path, {"np.yaml": pool, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter}
        tolerations: [{key: dedicated, operator: Equal, value: other, effect: NoSchedule}]
        """)})
    r = res["Deployment/ml/infer"]
    assert r.cost.hourly_usd is None
    assert "no node pool in the scanned files matches" in " ".join(r.compute.notes)


def test_gpu_taint_is_tolerated_implicitly_by_a_gpu_request(tmp_path):
    # ExtendedResourceToleration: asking for nvidia.com/gpu tolerates the nvidia.com/gpu taint
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter}
        """)})
    assert res["Deployment/ml/infer"].compute.accelerator == "A10G"


def test_a_label_no_pool_sets_is_not_held_against_the_match(tmp_path):
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL, "d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g5-gpu-karpenter, provisionerType: Karpenter}
        """)})
    r = res["Deployment/ml/infer"]
    assert r.cost.hourly_usd is not None
    assert "provisionerType=Karpenter, which no node pool in the scanned files sets" in " ".join(r.compute.notes)
    # but a label a pool does set, with another value, still excludes it
    res, _ = run(tmp_path, {"d.yaml": deployment("infer", """\
        nodeSelector: {NodeGroupType: g6-gpu, provisionerType: Karpenter}
        """)})
    assert res["Deployment/ml/infer"].cost.hourly_usd is None


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
    key    = "dedicated"
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
      tolerations: [{key: dedicated, operator: Equal, value: "true", effect: NoSchedule}]
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


def test_karpenter_pool_in_a_heredoc_of_an_unevaluated_module_call(tmp_path):
    tf = '''\
module "addons" {
  source  = "example/addons/aws"
  version = "1.0.0"
  karpenter_resources_helm_config = {
    inf2 = {
      values = [
        <<-EOT
      name: inferentia-inf2
      clusterName: ${var.cluster}
      ec2NodeClass:
        blockDevice:
          - deviceName: /dev/xvdb
            ebs:
              encrypted: true
              ${var.snap != null ? "snapshotID: ${var.snap}" : ""}
      nodePool:
        labels:
          - instanceType: inferentia-inf2
          - type: karpenter
        taints:
          - key: aws.amazon.com/neuron
            value: "true"
            effect: "NoSchedule"
        requirements:
          - key: "karpenter.k8s.aws/instance-family"
            operator: In
            values: ["inf2"]
      EOT
      ]
    }
  }
}
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "20.0.0"
  eks_managed_node_groups = {
    g6 = {
      instance_types = ["g6.xlarge"]
      labels = { NodeGroupType = "g6-mng" }
      taints = { gpu = { key = "nvidia.com/gpu", value = "true", effect = "NO_SCHEDULE" } }
    }
  }
}
variable "cluster" {}
variable "snap" { default = null }
'''
    pod = textwrap.dedent("""\
    apiVersion: v1
    kind: Pod
    metadata: {name: n, namespace: ml}
    spec:
      nodeSelector: {instanceType: inferentia-inf2}
      containers:
        - name: c
          resources: {limits: {aws.amazon.com/neuron: 1}}
    """)
    res, _ = run(tmp_path, {"main.tf": tf, "p.yaml": pod,
                            "d.yaml": deployment("g6", "nodeSelector: {NodeGroupType: g6-mng}\n")})
    r = res["Pod/ml/n"]
    assert "NodePool inferentia-inf2" in " ".join(r.compute.notes)
    assert r.compute.accelerator and "INFERENTIA" in r.compute.accelerator.upper()
    d = res["Deployment/ml/g6"]
    assert d.compute.accelerator == "L4" or "L4" in d.compute.accelerator
    assert "module.eks.eks_managed_node_groups[g6]" in " ".join(d.compute.notes)
    assert d.cost.hourly_usd is not None


def test_matching_work_is_bounded(tmp_path, monkeypatch):
    from tagguard.pricing import placement

    monkeypatch.setattr(placement, "MAX_MATCHES", 1)
    selector = "nodeSelector: {NodeGroupType: g5-gpu-karpenter}\n"
    res, _ = run(tmp_path, {"np.yaml": NODEPOOL,
                            "d.yaml": deployment("a", selector) + "---\n" + deployment("b", selector)})
    notes = [" ".join(res[f"Deployment/ml/{n}"].compute.notes) for n in ("a", "b")]
    assert sum("placement not derived: more than" in n for n in notes) == 1


# --- the explicit rules of issue 12.5 (lower bound over the priced pools, own selectors, accelerator kind) ---

def _pool(name: str, labels: str, requirements: str, taint: str = "{key: nvidia.com/gpu, effect: NoSchedule}") -> str:
    return (f"apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {{name: {name}}}\nspec:\n  template:\n"
            f"    metadata:\n      labels: {labels}\n    spec:\n      nodeClassRef: {{name: gpu}}\n"
            f"      taints: [{taint}]\n      requirements: {requirements}\n")


def test_mixed_pool_with_a_type_without_rate_is_a_stated_lower_bound_over_the_priced_types(tmp_path):
    pool = _pool("mixed", "{team: a}", "[{key: node.kubernetes.io/instance-type, operator: In, "
                 "values: [g6e.xlarge, p5e.48xlarge]}]")
    res, _ = run(tmp_path, {"np.yaml": pool, "d.yaml": deployment("infer", "nodeSelector: {team: a}\n")})
    r = res["Deployment/ml/infer"]
    note = " ".join(r.compute.notes)
    # g6e.xlarge (L40S, $1.861) is the only type with a rate; p5e.48xlarge (H200) has none in the card
    assert r.compute.instance_type == "g6e.xlarge" and abs(r.cost.hourly_usd - 1.861) < 1e-6
    assert "lower bound over the priced pools" in note
    assert "p5e.48xlarge has no rate in the rate card and is left out" in note


def test_a_matched_pool_whose_types_are_unknown_is_named_as_left_out(tmp_path):
    known = _pool("known", "{team: a}", "[{key: karpenter.k8s.aws/instance-family, operator: In, values: [g5]}]")
    anything = _pool("anything", "{team: a}", "[{key: karpenter.sh/capacity-type, operator: In, values: [spot]}]")
    res, _ = run(tmp_path, {"a.yaml": known, "b.yaml": anything,
                            "d.yaml": deployment("infer", "nodeSelector: {team: a}\n")})
    r = res["Deployment/ml/infer"]
    assert r.compute.accelerator == "A10G" and abs(r.cost.hourly_usd - per_gpu("A10G")) < 1e-6
    note = " ".join(r.compute.notes)
    assert "NodePool anything may also take it, but no instance type is known there" in note


def test_own_karpenter_family_selector_without_a_pool_gives_the_model(tmp_path):
    res, _ = run(tmp_path, {"d.yaml": deployment(
        "infer", "nodeSelector: {karpenter.k8s.aws/instance-family: g6e}\n", gpus=4)})
    r = res["Deployment/ml/infer"]
    assert r.compute.accelerator == "L40S"
    assert abs(r.cost.hourly_usd - 4 * per_gpu("L40S")) < 1e-6
    assert "its own node selector (karpenter.k8s.aws/instance-family)" in " ".join(r.compute.notes)


def neuron_job(selector: str, devices: int) -> str:
    return (f"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: trn, namespace: ml}}\nspec:\n"
            f"  activeDeadlineSeconds: 3600\n  template:\n    spec:\n      restartPolicy: Never\n"
            f"      nodeSelector: {selector}\n      containers:\n        - name: c\n"
            f"          resources: {{limits: {{aws.amazon.com/neuron: {devices}}}}}\n")


def test_neuron_request_family_fixed_by_the_selector(tmp_path):
    res, _ = run(tmp_path, {"j.yaml": neuron_job("{karpenter.k8s.aws/instance-family: trn1}", 16)})
    r = res["Job/ml/trn"]
    assert r.compute.accelerator == "Trainium"
    assert abs(r.cost.hourly_usd - 16 * per_gpu("Trainium")) < 1e-6


def test_neuron_request_only_lands_on_neuron_types_of_a_mixed_pool(tmp_path):
    pool = _pool("accel", "{team: a}", "[{key: node.kubernetes.io/instance-type, operator: In, "
                 "values: [g5.xlarge, inf2.xlarge]}]", taint="{key: aws.amazon.com/neuron, effect: NoSchedule}")
    res, _ = run(tmp_path, {"np.yaml": pool, "j.yaml": neuron_job("{team: a}", 1)})
    r = res["Job/ml/trn"]
    note = " ".join(r.compute.notes)
    assert r.compute.accelerator == "Inferentia2" and "every type it allows (inf2.xlarge)" in note
    assert abs(r.cost.hourly_usd - per_gpu("Inferentia2")) < 1e-6


def test_neuron_request_with_a_custom_label_no_pool_sets_is_floored_among_neuron_types(tmp_path):
    # Changed deliberately (stop 19, H9; it asserted "stays unpriced"): the family is fixed by nothing in the
    # scanned files (a custom label of a pool not in them), and the label's text is not read as trn1.32xlarge;
    # but the pod still lands on a node offering 16 Neuron devices, so it gets the stated floor over those.
    # By hand from the rate card: of the types with >= 16 Neuron devices, inf1.24xlarge (16 Inferentia at
    # $4.721/h, $0.295 a device) is cheapest per device; trn1.32xlarge (16 Trainium, $21.50/h) and trn1n are
    # dearer, inf2.48xlarge has only 12 devices.  16 devices x $4.721/16 = $4.721/hour.
    inf1, trn1, inf2 = (catalog.lookup(t) for t in ("inf1.24xlarge", "trn1.32xlarge", "inf2.48xlarge"))
    assert (inf1.on_demand, inf1.accelerator_count) == (4.721, 16) and trn1.on_demand == 21.5
    assert inf2.accelerator_count == 12
    res, _ = run(tmp_path, {"j.yaml": neuron_job("{instance-type: trn1-32xl}", 16)})
    cost = res["Job/ml/trn"].cost
    assert cost.lower_bound is True and cost.hourly_usd == pytest.approx(4.721)
    assert cost.reason.startswith("at least $4.721/hour: its node selector / affinity asks for instance-type=trn1-32xl,"
                                  " which no node pool in the scanned files sets")
    assert "trn1-32xl is no instance type, family or GPU model on the rate card" in cost.reason
    assert "inf1.24xlarge (Inferentia)" in cost.reason and "offering aws.amazon.com/neuron" in cost.reason
    assert "declare that node pool in the scanned files" in cost.reason


def tpu_raycluster(topology: str, hosts: int, replicas: int = 1) -> str:
    return (f"apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {{name: tpu, namespace: ml}}\nspec:\n"
            f"  headGroupSpec:\n    template:\n      spec:\n        containers: [{{name: head, image: ray}}]\n"
            f"  workerGroupSpecs:\n    - groupName: tpu\n      replicas: {replicas}\n      numOfHosts: {hosts}\n"
            f"      template:\n        spec:\n          nodeSelector:\n"
            f"            cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice\n"
            f"            cloud.google.com/gke-tpu-topology: {topology}\n"
            f"          containers:\n            - name: w\n              image: ray\n"
            f"              resources: {{limits: {{google.com/tpu: 4}}}}\n")


def _tpu_worker(res):
    return next(r for a, r in res.items() if a.startswith("RayCluster/ml/tpu#") and r.ai)


def test_tpu_topology_says_how_many_slices_the_chips_are(tmp_path):
    res, _ = run(tmp_path, {"rc.yaml": tpu_raycluster("4x4", hosts=4, replicas=2)})
    r = _tpu_worker(res)
    assert abs(r.cost.hourly_usd - 2 * 16 * per_gpu("TPU v6e")) < 1e-6
    assert "TPU slice topology 4x4: 16 chips = 4 hosts of 4 chips; 2 slices, priced per chip" in r.compute.notes


def test_tpu_topology_that_the_pod_count_does_not_fill_is_said(tmp_path):
    res, _ = run(tmp_path, {"rc.yaml": tpu_raycluster("4x4", hosts=2)})  # 2 hosts x 4 chips = 8, slice needs 16
    note = " ".join(_tpu_worker(res).compute.notes)
    assert "makes 2 pods, not a multiple of 4: the slice is not what it asks for" in note


# --- bug hunt B3: attribution capped at the pool's capacity; the pool's own cloud prices its pods ---------

GKE_POOL = """\
resource "google_container_node_pool" "gpu" {
  name = "gpu"
  cluster = "c"
  location = "us-central1-a"
  node_count = 1
  node_config { machine_type = "g2-standard-4" }
}
"""

AKS_POOL = """\
resource "azurerm_kubernetes_cluster_node_pool" "gpu" {
  name                  = "gpu"
  kubernetes_cluster_id = "id"
  vm_size               = "Standard_NC24ads_A100_v4"
  node_count            = 2
}
"""

EKS_POOL = """\
resource "aws_eks_node_group" "gpu" {
  cluster_name    = "c"
  node_group_name = "gpu"
  node_role_arn   = "arn:aws:iam::123456789012:role/n"
  subnet_ids      = ["subnet-1"]
  instance_types  = ["g5.12xlarge"]
  labels = { pool = "gpu" }
  scaling_config {
    desired_size = 2
    min_size     = 2
    max_size     = 2
  }
}
"""


def workload(name: str, selector: str, gpus: int = 1, replicas: int = 1) -> str:
    return deployment(name, f"nodeSelector: {{{selector}}}\n" if selector else "", gpus=gpus, replicas=replicas)


def test_b3_demand_beyond_a_priced_pool_is_counted_not_attributed(tmp_path):
    # 10 pods x 1 L4 on a pool of 1 x g2-standard-4 (1 L4): at most 1 GPU of it can be the pool's capacity
    res, result = run(tmp_path, {"main.tf": GKE_POOL,
                                 "d.yaml": workload("big", "cloud.google.com/gke-nodepool: gpu", replicas=10)})
    pool, work = res["google_container_node_pool.gpu"], res["Deployment/ml/big"]
    assert pool.cost.monthly_usd and work.cost.monthly_usd
    assert not work.cost.attributed_from
    note = " ".join(work.compute.notes)
    assert "asks 10 GPUs, node pool google_container_node_pool.gpu has 1: beyond" in note
    s = result.summary()
    assert s["attributed_ai_resources"] == 0
    assert s["monthly_usd"] == pytest.approx(pool.cost.monthly_usd + work.cost.monthly_usd, abs=0.02)
    assert s["monthly_usd"] >= work.cost.monthly_usd  # the total never drops spend


def test_b3_attribution_uses_up_the_pool_workload_by_workload(tmp_path):
    # 2 x g5.12xlarge = 8 A10G: two workloads of 4 fit, the third is counted on its own
    files = {"main.tf": EKS_POOL}
    for n in ("a", "b", "c"):
        files[f"{n}.yaml"] = workload(n, "pool: gpu", gpus=4)
    res, result = run(tmp_path, files)
    pool = res["aws_eks_node_group.gpu"]
    works = [res[f"Deployment/ml/{n}"] for n in ("a", "b", "c")]
    attributed = [w for w in works if w.cost.attributed_from]
    counted = [w for w in works if not w.cost.attributed_from]
    assert len(attributed) == 2 and len(counted) == 1
    assert ("asks 4 GPUs, node pool aws_eks_node_group.gpu has 8, 8 of them already attributed to other workloads"
            in " ".join(counted[0].compute.notes))
    s = result.summary()
    assert s["monthly_usd"] == pytest.approx(pool.cost.monthly_usd + counted[0].cost.monthly_usd, abs=0.02)


@pytest.mark.parametrize("tf, address, selector, itype", [
    (GKE_POOL, "google_container_node_pool.gpu", "cloud.google.com/gke-nodepool: gpu", "g2-standard-4"),
    (AKS_POOL, "azurerm_kubernetes_cluster_node_pool.gpu", "kubernetes.azure.com/agentpool: gpu",
     "Standard_NC24ads_A100_v4"),
], ids=["gke", "aks"])
def test_b3_pod_on_a_gcp_or_azure_pool_is_priced_at_that_pools_rate(tmp_path, tf, address, selector, itype):
    res, result = run(tmp_path, {"main.tf": tf, "d.yaml": workload("small", selector)})
    work, pool = res["Deployment/ml/small"], res[address]
    info = catalog.lookup(itype)
    assert info is not None and info.provider != "aws"
    per_gpu_of_pool = info.on_demand / info.accelerator_count
    assert work.cost.hourly_usd == pytest.approx(per_gpu_of_pool, rel=1e-3)
    assert "aws/" not in json.dumps(work.cost.breakdown)
    assert work.cost.rate_source == info.on_demand_source
    assert work.cost.attributed_from == [address]  # 1 GPU fits in the pool
    assert result.summary()["monthly_usd"] == pytest.approx(pool.cost.monthly_usd, abs=0.01)


def test_b3_hostname_selector_no_pool_sets_does_not_land_on_a_pool(tmp_path):
    # the bug-hunt fixture: a kubernetes.io/hostname selector says nothing about the pool, like no selector
    res, result = run(tmp_path, {"main.tf": GKE_POOL,
                                 "d.yaml": workload("big", "kubernetes.io/hostname: node-7", replicas=10)})
    work, pool = res["Deployment/ml/big"], res["google_container_node_pool.gpu"]
    assert not work.cost.attributed_from
    assert not any("lands on" in n for n in work.compute.notes)
    # no node information: a lower bound from the scan's GPU pool (10 L4 at g2-standard-4's rate, 1 GPU each),
    # counted -- 10 GPUs do not fit in the 1-GPU pool (tests/test_lower_bound.py)
    assert work.cost.lower_bound and "g2-standard-4" in (work.cost.reason or "")
    s = result.summary()
    assert s["monthly_usd"] == pytest.approx(pool.cost.monthly_usd + work.cost.monthly_usd, abs=0.01)
    assert s["unpriced_ai_resources"] == 0 and s["attributed_ai_resources"] == 0
    assert s["lower_bound_ai_resources"] == 1
    # the same workload without the selector gets the same floor (its reason names what it does select)
    res2, _ = run(tmp_path, {"d.yaml": workload("big", "", replicas=10)})
    from tagguard.pricing.placement import _UNPLACED, _UNPLACED_IDENTITY  # the floor's reason says which

    assert _UNPLACED_IDENTITY in work.cost.reason
    assert res2["Deployment/ml/big"].cost.reason == work.cost.reason.replace(_UNPLACED_IDENTITY, _UNPLACED)


def test_without_a_kubernetes_gpu_workload_no_node_pool_is_read():
    # resolve() and attribute() read the scan's node pools only for the workloads they place or attribute: a scan
    # of Terraform capacity alone (node groups, instances) does not walk them (issue 13).  A pool that would fail to
    # read shows it; the instance's price and the pool itself come out as they went in.
    from tagguard.model import Compute, Cost, Resource
    from tagguard.pricing import placement

    broken = {"name": "ng", "labels": {}}  # no "requirements": reading it raises
    group = Resource(address="aws_eks_node_group.ng", type="aws_eks_node_group", source="terraform", ai=True,
                     compute=Compute(instance_type="g5.xlarge", provider="aws", units=2), meta={"node_pool": broken})
    vm = Resource(address="aws_instance.gpu", type="aws_instance", source="terraform", ai=True,
                  compute=Compute(instance_type="p4d.24xlarge", provider="aws", units=1),
                  meta={placement.FLOOR_KEY: {"x": 1}})
    placement.resolve([group, vm], catalog.load())
    vm.cost = Cost(hourly_usd=1.0, monthly_usd=730.0)
    placement.attribute([group, vm])
    assert group.meta == {"node_pool": {"name": "ng", "labels": {}}} and vm.meta == {}
    assert vm.cost.attributed_from == [] and vm.compute.notes == []
