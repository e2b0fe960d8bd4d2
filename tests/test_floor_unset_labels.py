"""Issue 12, stop 19 (H9): the stated lower bound extended to GPU requests whose nodeSelector / affinity names only
labels that no node pool of the scan sets (KAITO's ``pool: <name>``, ai-on-eks's ``NodeGroupType``), and passthrough
GPUs / vGPU profiles priced per GPU of the model their resource name names.

Such a pod lands on a pool that is not in the scanned files, but still on a node offering the resource it asks for:
the floor is the cheapest per-accelerator on-demand rate among the rate card's types of the scan's clouds (not the
scan's pools: none matches).  Figures are worked out by hand from the shipped rate card (policies/ratecard.json)
and the rates they use are checked against it in ``test_the_hand_rates_are_the_rate_card``."""
from __future__ import annotations

import json

import pytest
from clikit import scan_json as scan, report_resource as resource

from tagguard.pricing import catalog

HOURS = 730
T4 = 0.526  # g4dn.xlarge: 1 x T4 at $0.526/h, the cheapest x86 NVIDIA GPU per accelerator (Azure NC4as_T4_v3 too)
T4G = 0.42  # g5g.xlarge: Graviton2 + 1 x T4G at $0.42/h, the cheapest NVIDIA GPU per accelerator of every type
A100 = 21.957642 / 8  # p4d.24xlarge: 8 x A100, the card's A100 per-GPU rate
L40S = 1.861  # g6e.xlarge: 1 x L40S
A10G = 1.006  # g5.xlarge: 1 x A10G
# the floor over every cloud: GCP's T4 attached to an N1 VM, $0.35/GPU-hour for the GPU alone (rate card attached_gpus)
T4_GCP = 0.35


def test_the_hand_rates_are_the_rate_card():
    card = catalog.load()
    assert card.lookup("g4dn.xlarge").on_demand == T4 and card.lookup("g4dn.xlarge").accelerator_count == 1
    assert card.gpu_hourly("T4").usd_per_gpu_hour == T4
    assert card.lookup("p4d.24xlarge").on_demand == 21.957642 and card.lookup("p4d.24xlarge").accelerator_count == 8
    assert card.gpu_hourly("A100").usd_per_gpu_hour == pytest.approx(A100)
    assert card.raw["attached_gpus"]["gcp/T4"]["usd_per_gpu_hour"] == T4_GCP
    assert card.gpu_hourly("L40S").usd_per_gpu_hour == L40S and card.lookup("g6e.xlarge").on_demand == L40S
    assert card.lookup("g5.xlarge").on_demand == A10G
    nvidia = [i for i in card.instances.values() if i.gpu_model and i.accelerator_count and i.on_demand is not None
              and i.gpu_model not in ("Inferentia", "Inferentia2", "Trainium", "Trainium2", "Gaudi")]
    assert min(i.on_demand / i.accelerator_count for i in nvidia) == T4G == card.lookup("g5g.xlarge").on_demand
    assert min(i.on_demand / i.accelerator_count for i in nvidia if i.provider == "azure") == T4
    assert card.gpu_hourly("A40") is None and card.gpu_hourly("P40") is None  # not on the card


def deployment(name: str, selector: str = "", resource: str = "nvidia.com/gpu", count: int = 1,
               replicas: int = 1) -> str:
    spec = f"      nodeSelector: {selector}\n" if selector else ""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: ml}}\nspec:\n"
            f"  replicas: {replicas}\n  template:\n    spec:\n{spec}      containers:\n      - name: c\n"
            f"        image: x\n        resources: {{limits: {{{resource}: {count}}}}}\n")




def findings(doc: dict, rule: str, address: str | None = None) -> list[dict]:
    return [f for f in doc["findings"] if f["rule"] == rule and (address is None or f["address"] == address)]


# --- 1. labels no node pool of the scan sets -----------------------------------------------------------------

def test_a_custom_pool_label_with_no_pool_in_the_scan_is_floored(tmp_path):
    # KAITO's test manifests: `pool: <name>` and nothing in the scanned files sets `pool`
    doc = scan(tmp_path, {"d.yaml": deployment("kaito", "{pool: falcon7b}", count=2)})
    cost = resource(doc, "Deployment/ml/kaito")["cost"]
    # 2 GPUs per pod: types with >= 2 NVIDIA GPUs (g4dn.12xlarge 4 x T4 at $3.912/h = $0.978 a T4 is the cheapest),
    # and GCP's T4, up to 4 on one N1 VM, at $0.35 a T4 GPU only: the lower
    assert catalog.lookup("g4dn.12xlarge").on_demand == 3.912
    assert cost["lower_bound"] is True
    assert cost["monthly_usd"] == pytest.approx(round(2 * T4_GCP * HOURS, 2)) == 511.00
    assert cost["reason"].startswith("at least $511.00/month: its node selector / affinity asks for pool=falcon7b, "
                                     "which no node pool in the scanned files sets (label of a pool not in the scan)")
    assert ("T4 at $0.35/GPU-hour (GPU only; the N1 VM it is attached to comes on top), among every aws/gcp/azure "
            "instance type") in cost["reason"]
    assert ("; declare that node pool in the scanned files (with its instance types), set "
            "pricing.default_accelerators, or select an instance-type or GPU label (node.kubernetes.io/instance-type, "
            "nvidia.com/gpu.product) to "
            "price exactly") in cost["reason"]
    assert cost["reason"].endswith("to price exactly")  # GPUs billed one by one: no node share to state
    (f,) = findings(doc, "price-lower-bound")
    assert "pool=falcon7b" in f["message"] and findings(doc, "unpriced-resource") == []


NODEPOOL_G6E = """\
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: gpu}
spec:
  template:
    metadata:
      labels: {team: research}
    spec:
      requirements:
      - {key: karpenter.k8s.aws/instance-family, operator: In, values: [g6e]}
"""


def test_the_scans_pools_are_not_the_candidates_when_the_label_is_none_of_theirs(tmp_path):
    # ai-on-eks: `NodeGroupType: g5-gpu-karpenter` -- the scan has a NodePool (g6e, labelled team), none sets it
    doc = scan(tmp_path, {"np.yaml": NODEPOOL_G6E,
                          "d.yaml": deployment("infer", "{NodeGroupType: g5-gpu-karpenter}", replicas=2)})
    r = resource(doc, "Deployment/ml/infer")
    # over the AWS rate card (the NodePool says AWS), not the g6e pool ($1.861 an L40S): g5g.xlarge, 2 x $0.42
    assert r["cost"]["monthly_usd"] == pytest.approx(round(2 * T4G * HOURS, 2)) == 613.20
    assert "g6e" not in r["cost"]["reason"] and "every aws instance type on the rate card" in r["cost"]["reason"]
    assert "NodeGroupType=g5-gpu-karpenter, which no node pool in the scanned files sets" in r["cost"]["reason"]
    assert "attributed_from" not in r["cost"]
    # two such labels and a node identity label (kubernetes.io/os: says nothing about the pool, not named)
    sel = "{NodeGroupType: g5, provisioner: karpenter, kubernetes.io/os: linux}"
    doc = scan(tmp_path, {"d.yaml": deployment("infer", sel, replicas=2)})
    reason = resource(doc, "Deployment/ml/infer")["cost"]["reason"]
    assert "asks for NodeGroupType=g5, provisioner=karpenter, which no node pool in the scanned files sets " \
           "(labels of a pool not in the scan)" in reason and "kubernetes.io/os" not in reason


def test_a_pool_name_label_naming_a_pool_not_in_the_scan_is_floored(tmp_path):
    # karpenter.sh/nodepool: gpu-a100 with no NodePool at all in the scan: a pool not in the scanned files
    doc = scan(tmp_path, {"d.yaml": deployment("infer", "{karpenter.sh/nodepool: gpu-a100}")})
    cost = resource(doc, "Deployment/ml/infer")["cost"]
    assert cost["lower_bound"] is True and cost["monthly_usd"] == pytest.approx(round(T4_GCP * HOURS, 2)) == 255.50
    assert "karpenter.sh/nodepool=gpu-a100, which no node pool in the scanned files sets" in cost["reason"]
    # but with a NodePool in the scan (every NodePool sets that label), another name is no match: unpriced
    doc = scan(tmp_path, {"np.yaml": NODEPOOL_G6E})
    r = resource(doc, "Deployment/ml/infer")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert "no node pool in the scanned files matches" in " ".join(r["compute"]["notes"])


def test_the_cases_kept_apart_stay_as_they_were(tmp_path):
    # a label a pool of the scan does set, with another value: a real mismatch, not a pool outside the scan
    doc = scan(tmp_path, {"np.yaml": NODEPOOL_G6E, "d.yaml": deployment("other", "{team: platform}")})
    r = resource(doc, "Deployment/ml/other")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert "no node pool in the scanned files matches its nodeSelector" in " ".join(r["compute"]["notes"])
    # a selector matching a pool whose instance types are unknown: not priced, that pool named
    open_pool = NODEPOOL_G6E.replace("karpenter.k8s.aws/instance-family, operator: In, values: [g6e]",
                                     "karpenter.sh/capacity-type, operator: In, values: [on-demand]")
    doc = scan(tmp_path, {"np.yaml": open_pool, "d.yaml": deployment("other", "{team: research}")})
    r = resource(doc, "Deployment/ml/other")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert "lands on node pool NodePool gpu (matched by nodeSelector/affinity/tolerations), whose instance types " \
           "are not known: not priced" in " ".join(r["compute"]["notes"])
    # a hostname-only selector: floored as 'names only node identity labels', not as an unset label
    doc = scan(tmp_path, {"np.yaml": NODEPOOL_G6E, "d.yaml": deployment("other", "{kubernetes.io/hostname: n-7}")})
    cost = resource(doc, "Deployment/ml/other")["cost"]
    assert cost["lower_bound"] is True and "names only node identity labels" in cost["reason"]
    assert "which no node pool in the scanned files sets" not in cost["reason"]


def test_a_type_looking_custom_label_is_said_and_never_read_as_a_type(tmp_path):
    doc = scan(tmp_path, {"a.yaml": deployment("known", "{instance-type: g5.xlarge}"),
                          "b.yaml": deployment("unknown", "{gpu-type: rtx-pro-6000}")})
    known = resource(doc, "Deployment/ml/known")["cost"]
    # g5.xlarge would be $1.006/h; the label is the cluster owner's, not the node's type: the T4 floor
    assert known["monthly_usd"] == pytest.approx(round(T4_GCP * HOURS, 2)) and "T4 at $0.35" in known["reason"]
    assert "g5.xlarge is on the rate card, but a custom label is not read as the node's type or GPU" in \
        known["reason"]
    unknown = resource(doc, "Deployment/ml/unknown")["cost"]
    assert "rtx-pro-6000 is no instance type, family or GPU model on the rate card (a custom label's text is not " \
           "read as one)" in unknown["reason"] and unknown["monthly_usd"] == known["monthly_usd"]


def test_the_floor_is_over_the_clouds_of_its_own_directory(tmp_path):
    # KAITO on AKS: an Azure cluster beside the manifest -> Azure types only: Standard_NC4as_T4_v3, 1 T4 at $0.526
    assert catalog.lookup("Standard_NC4as_T4_v3", "azure").on_demand == T4
    tf = ('resource "azurerm_kubernetes_cluster" "c" {\n  name = "c"\n  location = "westeurope"\n'
          '  resource_group_name = "rg"\n  dns_prefix = "c"\n}\n')
    doc = scan(tmp_path, {"main.tf": tf, "d.yaml": deployment("kaito", "{pool: phi3}")})
    cost = resource(doc, "Deployment/ml/kaito")["cost"]
    assert cost["monthly_usd"] == 383.98 and "Standard_NC4as_T4_v3 (T4)" in cost["reason"]
    assert "every azure instance type" in cost["reason"]


def test_no_floor_and_the_switch_off_still_name_the_labels(tmp_path):
    # AMD: no rate-card type offers amd.com/gpu -- unpriced, the reason says why and names the label
    doc = scan(tmp_path, {"d.yaml": deployment("amd", "{pool: mi300}", resource="amd.com/gpu")})
    r = resource(doc, "Deployment/ml/amd")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert "no lower bound: no instance type among every aws/gcp/azure instance type on the rate card offering " \
           "amd.com/gpu" in r["cost"]["reason"]
    assert "its node selector / affinity asks for pool=mi300, which no node pool in the scanned files sets" in \
        r["cost"]["reason"]
    # pricing.unplaced_accelerators: unpriced -- no floor, but the reason names the label, not 'nothing to price'
    doc = scan(tmp_path, {"d.yaml": deployment("nv", "{pool: a100}")}, "pricing:\n  unplaced_accelerators: unpriced\n")
    r = resource(doc, "Deployment/ml/nv")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert "pool=a100, which no node pool in the scanned files sets (label of a pool not in the scan): GPU model " \
           "and instance type unknown" in r["cost"]["reason"]
    assert "lower bound" not in json.dumps(r) and findings(doc, "price-lower-bound") == []


def test_an_own_family_selector_the_card_does_not_know_is_said_as_such(tmp_path):
    doc = scan(tmp_path, {"d.yaml": deployment("g7e", "{karpenter.k8s.aws/instance-family: g7e}")})
    r = resource(doc, "Deployment/ml/g7e")
    assert r["cost"]["monthly_usd"] is None
    assert "its own node selector names instance family g7e (karpenter.k8s.aws/instance-family), which the rate " \
           "card does not know: not priced" in " ".join(r["compute"]["notes"])


def test_hostile_labels_stay_bounded(tmp_path):
    long = "x" * 5000
    sel = "{" + ", ".join(f"k{i}: {long}" for i in range(40)) + "}"
    doc = scan(tmp_path, {"d.yaml": deployment("h", sel)})
    reason = resource(doc, "Deployment/ml/h")["cost"]["reason"]
    assert len(reason) < 2000 and "and 35 more" in reason


# --- 2. passthrough GPUs and vGPU profiles priced per GPU of the model their name names ---------------------

def vm(name: str, device: str, replicas: int | None = None) -> str:
    if replicas is None:
        return (f"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\n"
                f"metadata: {{name: {name}, namespace: vdi}}\nspec:\n  domain:\n    devices:\n      gpus:\n"
                f"      - {{name: g, deviceName: {device}}}\n")
    return (f"apiVersion: pool.kubevirt.io/v1alpha1\nkind: VirtualMachinePool\nmetadata: {{name: {name}, "
            f"namespace: vdi}}\nspec:\n  replicas: {replicas}\n  virtualMachineTemplate:\n    spec:\n"
            f"      runStrategy: Always\n      template:\n        spec:\n          domain:\n            devices:\n"
            f"              gpus:\n              - {{name: a, deviceName: {device}}}\n"
            f"              - {{name: b, deviceName: {device}}}\n")


def test_passthrough_gpus_are_priced_per_gpu_of_their_model(tmp_path):
    doc = scan(tmp_path, {"t4.yaml": vm("t4", "nvidia.com/TU104GL_Tesla_T4"),
                          "a100.yaml": vm("a100", "nvidia.com/GA100_A100_PCIE_40GB", replicas=3),
                          "l40s.yaml": vm("l40s", "nvidia.com/AD102GL_L40S")})
    t4 = resource(doc, "VirtualMachineInstance/vdi/t4")
    assert t4["compute"]["accelerator"] == "T4" and "lower_bound" not in t4["cost"]
    assert t4["cost"]["monthly_usd"] == pytest.approx(round(T4 * HOURS, 2)) == 383.98
    assert "GPU model T4 from the resource name nvidia.com/TU104GL_Tesla_T4 (passthrough): priced per T4 GPU" in \
        t4["compute"]["notes"]
    # 3 VMs x 2 A100s at the card's A100 rate (p4d.24xlarge / 8 = $2.74470525): $12,021.81/month
    a100 = resource(doc, "VirtualMachinePool/vdi/a100")["cost"]
    assert a100["monthly_usd"] == pytest.approx(round(3 * 2 * A100 * HOURS, 2)) == 12021.81
    assert "per-GPU on-demand rate of aws/p4d.24xlarge x 2 GPU" in a100["breakdown"][0]["basis"]
    l40s = resource(doc, "VirtualMachineInstance/vdi/l40s")["cost"]
    assert l40s["monthly_usd"] == pytest.approx(round(L40S * HOURS, 2)) == 1358.53
    assert findings(doc, "price-lower-bound") == [] and findings(doc, "unpriced-resource") == []


def test_vgpu_profiles_are_priced_at_their_share_of_the_board(tmp_path):
    doc = scan(tmp_path, {"a.yaml": vm("t4q", "nvidia.com/GRID_T4-1Q"),
                          "b.yaml": vm("l40q", "nvidia.com/NVIDIA_L40S-12Q")})
    # GRID_T4-1Q: 1 GB of a 16 GB T4 = 1/16 x $0.526 = $0.032875/h -> $24.00/month
    t4q = resource(doc, "VirtualMachineInstance/vdi/t4q")
    assert t4q["compute"]["accelerator"] == "T4" and "lower_bound" not in t4q["cost"]
    assert t4q["cost"]["hourly_usd"] == round(T4 / 16, 2) and t4q["cost"]["monthly_usd"] == 24.0
    assert "x 0.0625 GPU" in t4q["cost"]["breakdown"][0]["basis"]
    # NVIDIA_L40S-12Q: 12 GB of a 48 GB L40S = 1/4 x $1.861 = $0.46525/h -> $339.63/month
    l40q = resource(doc, "VirtualMachineInstance/vdi/l40q")["cost"]
    assert l40q["monthly_usd"] == pytest.approx(round(L40S / 4 * HOURS, 2)) == 339.63
    assert "at the profile's share of the board" in " ".join(resource(doc, "VirtualMachineInstance/vdi/l40q")
                                                              ["compute"]["notes"])


def test_a_name_with_no_model_on_the_card_keeps_the_floor_and_says_why(tmp_path):
    doc = scan(tmp_path, {"p40.yaml": vm("p40", "nvidia.com/GP102GL_Tesla_P40"),
                          "a40.yaml": vm("a40", "nvidia.com/GA102GL_A40")})
    p40 = resource(doc, "VirtualMachineInstance/vdi/p40")["cost"]
    assert p40["lower_bound"] is True and p40["monthly_usd"] == 255.50  # the T4 floor (GCP, GPU only)
    assert "the passthrough resource nvidia.com/GP102GL_Tesla_P40 names no GPU model tagguard knows" in p40["reason"]
    a40 = resource(doc, "VirtualMachineInstance/vdi/a40")["cost"]
    assert a40["lower_bound"] is True and a40["monthly_usd"] == 255.50
    assert "names A40, which has no per-GPU rate on the rate card (pricing.gpu_hourly_usd.A40 would price it)" in \
        a40["reason"]
    # the config's per-GPU rate for the model the name names prices it exactly: $1.50/h x 730
    doc = scan(tmp_path, {}, "pricing:\n  gpu_hourly_usd: {A40: 1.5}\n")
    a40 = resource(doc, "VirtualMachineInstance/vdi/a40")["cost"]
    assert "lower_bound" not in a40 and a40["monthly_usd"] == pytest.approx(1.5 * HOURS) == 1095.0
    assert resource(doc, "VirtualMachineInstance/vdi/p40")["cost"]["lower_bound"] is True


def test_the_chip_code_is_not_the_model_and_mixed_requests_keep_the_floor(tmp_path):
    from tagguard.pricing.placement import named_models

    assert named_models("nvidia.com/GA100_A100_PCIE_40GB") == ("passthrough", ["A100"])
    assert named_models("nvidia.com/GH100_H100_SXM5_80GB") == ("passthrough", ["H100"])
    assert named_models("nvidia.com/GA100") is None  # no model word at all: not a passthrough name here
    assert named_models("nvidia.com/GRID_A100D-8C") == ("vGPU", [])  # an A100 80GB board: not read as A100
    assert named_models("nvidia.com/gpu") is None and named_models("nvidia.com/mig-1g.10gb") is None
    assert named_models("nvidia.com/GA102GL_A10_A10G") == ("passthrough", ["A10", "A10G"])
    # a pod asking for a passthrough T4 and a plain nvidia.com/gpu: no one model -> the floor of both
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: mix, namespace: ml}\nspec:\n  containers:\n  - name: c\n"
           "    image: x\n    resources: {limits: {nvidia.com/TU104GL_Tesla_T4: 1, nvidia.com/gpu: 1}}\n")
    doc = scan(tmp_path, {"p.yaml": pod})
    cost = resource(doc, "Pod/ml/mix")["cost"]
    assert cost["lower_bound"] is True and "GPU model T4 from" not in json.dumps(resource(doc, "Pod/ml/mix"))


def test_a_zone_beside_labels_no_pool_sets_does_not_pick_the_scans_pool(tmp_path):
    # The relaxed match (labels no pool sets left out, the rest matched) used to take a zone alone as evidence:
    # every pool may have any zone, so the g6e NodePool was 'matched' and the pod priced at $1.861 an L40S.
    # A zone, capacity type or os chooses no pool: the pod selects a pool outside the scan -> the T4 floor.
    sel = "{NodeGroupType: g5-gpu, topology.kubernetes.io/zone: us-east-1a, karpenter.sh/capacity-type: on-demand}"
    doc = scan(tmp_path, {"np.yaml": NODEPOOL_G6E, "d.yaml": deployment("z", sel)})
    r = resource(doc, "Deployment/ml/z")
    assert r["compute"].get("accelerator") is None and "NodePool gpu" not in json.dumps(r)
    assert r["cost"]["lower_bound"] is True and r["cost"]["monthly_usd"] == pytest.approx(round(T4G * HOURS, 2))
    assert "asks for NodeGroupType=g5-gpu, which no node pool in the scanned files sets" in r["cost"]["reason"]
    # a label a pool does set still matches it beside a label no pool sets (not checked, said so)
    doc = scan(tmp_path, {"d.yaml": deployment("z", "{NodeGroupType: g5-gpu, team: research}")})
    r = resource(doc, "Deployment/ml/z")
    assert r["compute"]["accelerator"] == "L40S" and "which no node pool in the scanned files sets (not checked)" in \
        " ".join(r["compute"]["notes"])
