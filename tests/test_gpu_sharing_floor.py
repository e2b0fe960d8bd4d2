"""The lower bound of a bare ``nvidia.com/gpu`` request is per share of a GPU when the scanned files configure the
NVIDIA device plugin to share GPUs (time-slicing replicas, MIG strategy single), and says it assumes whole GPUs
when they do not (docs/pricing.md, "A stated lower bound").  Fixtures are written here; figures worked by hand
from the shipped rate card (checked in the first test)."""
from __future__ import annotations

import json

import pytest
from clikit import scan_json as scan

from tagguard.pricing import catalog

HOURS = 730
T4_AWS = 0.526  # g4dn.xlarge, 1 x T4: the cheapest x86 AWS NVIDIA GPU per accelerator
T4G_AWS = 0.42  # g5g.xlarge, Graviton2 + 1 x T4G: the cheapest AWS NVIDIA GPU per accelerator
T4_GCP = 0.35  # GCP T4 attached to an N1 VM, GPU only: the cheapest of every cloud
A100_SLICE = 21.957642 / 8 / 7  # p4d.24xlarge: 8 x A100; a 1g MIG slice is 1/7 of one

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: ml}}
spec:
  replicas: {replicas}
  template:
    spec:
      containers:
      - name: c
        image: x
        resources: {{limits: {{nvidia.com/gpu: 1}}}}
"""

TIME_SLICING_CM = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: time-slicing-config, namespace: gpu-operator}}
data:
  any: |-
    version: v1
    flags:
      migStrategy: none
    sharing:
      timeSlicing:
        renameByDefault: {rename}
        resources:
        - name: nvidia.com/gpu
          replicas: {replicas}
"""

CLUSTER_POLICY = """\
apiVersion: nvidia.com/v1
kind: ClusterPolicy
metadata: {name: cluster-policy}
spec:
  mig: {strategy: single}
  devicePlugin: {enabled: true}
"""

AWS_TF = 'resource "aws_instance" "web" {\n  instance_type = "t3.micro"\n  ami = "ami-1"\n}\n'


def test_the_hand_rates_are_the_rate_card():
    card = catalog.load()
    assert card.lookup("g4dn.xlarge").on_demand == T4_AWS and card.lookup("g5g.xlarge").on_demand == T4G_AWS
    assert card.raw["attached_gpus"]["gcp/T4"]["usd_per_gpu_hour"] == T4_GCP
    assert card.lookup("p4d.24xlarge").on_demand == 21.957642 and card.lookup("p4d.24xlarge").accelerator_count == 8



def cost_of(doc: dict, name: str = "infer") -> dict:
    return next(r for r in doc["resources"] if r["address"] == f"Deployment/ml/{name}")["cost"]


def test_time_slicing_replicas_make_the_floor_per_share(tmp_path):
    doc = scan(tmp_path, {"d.yaml": DEPLOY.format(name="infer", replicas=2),
                          "cm.yaml": TIME_SLICING_CM.format(rename="false", replicas=4)})
    cost = cost_of(doc)
    # every cloud: the GCP T4 at $0.35 GPU only, 4 pods share it: 2 x $0.0875 x 730
    assert cost["lower_bound"] is True
    assert cost["monthly_usd"] == pytest.approx(round(2 * T4_GCP / 4 * HOURS, 2)) == 127.75
    assert "per share: the device plugin time-slices each GPU 4 ways (sharing.timeSlicing replicas: 4, cm.yaml:1)" \
        in cost["reason"] and "one nvidia.com/gpu is 1/4 of one" in cost["reason"]
    assert "whole GPUs" not in cost["reason"]


def test_time_slicing_on_an_aws_only_scan_divides_the_aws_floor(tmp_path):
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": DEPLOY.format(name="infer", replicas=2),
                          "cm.yaml": TIME_SLICING_CM.format(rename="false", replicas=4)})
    cost = cost_of(doc)
    # g5g.xlarge $0.42 a T4G, 4 ways: $0.105 a share; 2 replicas x 730 h = $153.30
    assert cost["monthly_usd"] == pytest.approx(2 * T4G_AWS / 4 * HOURS) == pytest.approx(153.30)
    assert "g5g.xlarge (T4G) at $0.105/GPU-hour, among every aws instance type" in cost["reason"]


def test_renamed_shared_replicas_leave_a_bare_gpu_whole(tmp_path):
    # renameByDefault: shared replicas are advertised as nvidia.com/gpu.shared; nvidia.com/gpu is a whole GPU
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": DEPLOY.format(name="infer", replicas=1),
                          "cm.yaml": TIME_SLICING_CM.format(rename="true", replicas=4)})
    cost = cost_of(doc)
    assert cost["monthly_usd"] == pytest.approx(round(T4G_AWS * HOURS, 2)) == 306.60
    assert "whole GPUs: one nvidia.com/gpu is taken as a whole GPU" in cost["reason"]


def test_mig_strategy_single_floors_at_the_smallest_slice(tmp_path):
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": DEPLOY.format(name="infer", replicas=1),
                          "policy.yaml": CLUSTER_POLICY})
    cost = cost_of(doc)
    # AWS: a 1g slice of p4d.24xlarge's A100, $2.7447/7 = $0.3921 < g5g.xlarge's whole T4G $0.42
    assert A100_SLICE == pytest.approx(0.39210075)
    assert cost["monthly_usd"] == pytest.approx(round(A100_SLICE * HOURS, 2)) == 286.23
    assert "MIG strategy single (policy.yaml:1): one nvidia.com/gpu may be a MIG slice, at least 1/7 of one A100 " \
           "(p4d.24xlarge" in cost["reason"]


def test_mig_single_and_a_cheaper_whole_gpu_keep_the_cheaper(tmp_path):
    # every cloud: the GCP T4 at $0.35 is below the A100 slice ($0.3921): the whole-GPU floor stays the lower
    doc = scan(tmp_path, {"d.yaml": DEPLOY.format(name="infer", replicas=1), "policy.yaml": CLUSTER_POLICY})
    cost = cost_of(doc)
    assert cost["monthly_usd"] == pytest.approx(round(T4_GCP * HOURS, 2)) == 255.50
    assert "MIG strategy single" in cost["reason"]


def test_helm_values_of_the_device_plugin_chart_and_the_largest_replicas(tmp_path):
    values_a = ("config:\n  map:\n    default: |-\n      version: v1\n      sharing:\n        timeSlicing:\n"
                "          resources:\n          - name: nvidia.com/gpu\n            replicas: 2\n")
    values_b = ("devicePlugin:\n  config:\n    create: true\n    data:\n      ts: |-\n        version: v1\n"
                "        sharing:\n          timeSlicing:\n            resources:\n            - name: nvidia.com/gpu\n"
                "              replicas: 8\n")
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": DEPLOY.format(name="infer", replicas=1),
                          "plugin-values.yaml": values_a, "operator-values.yaml": values_b})
    cost = cost_of(doc)
    assert cost["monthly_usd"] == pytest.approx(T4G_AWS / 8 * HOURS, abs=0.005)  # 0.0525 x 730 = 38.325
    assert "time-slices each GPU 8 ways (sharing.timeSlicing replicas: 8, operator-values.yaml:1)" in cost["reason"]


def test_no_sharing_config_states_the_whole_gpu_assumption(tmp_path):
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": DEPLOY.format(name="infer", replicas=1)})
    cost = cost_of(doc)
    assert cost["monthly_usd"] == 306.60
    assert ("whole GPUs: one nvidia.com/gpu is taken as a whole GPU, as no device-plugin time-slicing or MIG config "
            "is in the scanned files") in cost["reason"]


@pytest.mark.parametrize("bad", [
    TIME_SLICING_CM.format(rename="false", replicas=10**9),  # not believed: the floor would divide by it
    TIME_SLICING_CM.format(rename="false", replicas="four"),
    TIME_SLICING_CM.format(rename="false", replicas=4).replace("version: v1", "version: [v1"),  # broken config
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  a: &a [*a]\n",
])
def test_a_config_that_cannot_be_believed_is_no_share(tmp_path, bad):
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": DEPLOY.format(name="infer", replicas=1), "cm.yaml": bad})
    cost = cost_of(doc)
    assert cost["monthly_usd"] == 306.60 and "whole GPUs" in cost["reason"]


def test_the_sharing_fact_stays_out_of_the_report(tmp_path):
    doc = scan(tmp_path, {"d.yaml": DEPLOY.format(name="infer", replicas=1),
                          "cm.yaml": TIME_SLICING_CM.format(rename="false", replicas=4)})
    r = next(r for r in doc["resources"] if r["address"] == "Deployment/ml/infer")
    assert r["cost"]["lower_bound"] is True and "_gpu_sharing" not in json.dumps(doc)
