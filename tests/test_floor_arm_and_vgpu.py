"""Two ways to an NVIDIA GPU on AWS and Azure that the lower bound of a GPU request with no node information
missed, so that the 'floor' could be above what such a pod can cost (issue 12, docs/pricing.md "A stated lower
bound"):

* AWS g5g (Graviton2 + NVIDIA T4G) was not on the rate card at all: g5g.xlarge at $0.42/h (SkyPilot's AWS
  catalog, cited in policies/ratecard_supplement.yaml) is below g4dn.xlarge's T4 at $0.526.  T4G is its own
  model, never read as a T4.
* Azure's fractional NVadsA10 v5 sizes (1/6, 1/3, 1/2 of an A10 as an NVIDIA vGPU) are seen by the driver in the
  VM, and so by the device plugin, as one GPU: a pod asking one nvidia.com/gpu can land there and pay the whole
  VM.  Their rate is null on the shipped card (no cited source lists them); when a rate card gives one a rate
  (here the local rate card of ``tagguard pricing refresh``), the floor takes the VM's whole rate per GPU --
  not the rate divided by the fraction, and not for a pod asking two.

Figures are worked by hand: g5g.xlarge 0.42 x 730 = 306.60; NC64as_T4_v3 4.352 / 4 = 1.088 per T4."""
from __future__ import annotations

import json

import pytest
import yaml
from clikit import scan_json as scan
from test_ratecard_supplement import CATALOG, SUPP_SOURCES, _build_module

from tagguard.pricing import catalog
from tagguard.pricing.gpus import short_gpu_model

HOURS = 730
T4G = 0.42  # g5g.xlarge, 1 x T4G, us-east-1 (SkyPilot AWS catalog 27f67dd4)
T4 = 0.526  # g4dn.xlarge and Standard_NC4as_T4_v3, 1 x T4
NV6ADS = 0.454  # a test input: the local rate card below gives Standard_NV6ads_A10_v5 this rate

AWS_TF = 'resource "aws_instance" "web" {\n  instance_type = "t3.micro"\n  ami = "ami-1"\n}\n'
AKS_TF = ('resource "azurerm_kubernetes_cluster" "c" {\n  name = "c"\n  location = "eastus"\n'
          '  resource_group_name = "rg"\n  dns_prefix = "c"\n}\n')
DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: infer, namespace: ml}}
spec:
  replicas: 1
  template:
    spec:
{selector}      containers:
      - name: c
        image: x
        resources: {{limits: {{nvidia.com/gpu: {count}}}}}
"""


def deploy(count: int = 1, selector: str = "") -> str:
    return DEPLOY.format(count=count, selector=f"      nodeSelector: {selector}\n" if selector else "")



def cost_of(doc: dict) -> dict:
    return next(r for r in doc["resources"] if r["address"] == "Deployment/ml/infer")["cost"]


def test_g5g_is_on_the_card_as_its_own_model_with_its_source():
    card = catalog.load()
    g5g = card.lookup("g5g.xlarge")
    assert g5g is not None and g5g.provider == "aws" and g5g.gpu_model == "T4G" and g5g.accelerator_count == 1
    assert g5g.on_demand == T4G and g5g.on_demand_source == "skypilot-aws-vms-27f67dd4"
    assert "27f67dd4e1bc0d35fa0ec075180ad54b230882c4/catalogs/v7/aws/vms.csv" in card.sources[g5g.on_demand_source].url
    assert any("arm64" in n for n in card.raw["instances"]["aws/g5g.xlarge"]["notes"])
    # T4G is not T4: each model keeps its own per-GPU rate
    assert card.gpu_hourly("T4G").usd_per_gpu_hour == T4G
    assert card.gpu_hourly("T4").usd_per_gpu_hour == T4 and card.raw["gpu_hourly_usd"]["T4"]["derived_from"] == \
        "aws/g4dn.xlarge"
    assert short_gpu_model("t4g") == "T4G" and short_gpu_model("NVIDIA-T4G") == "T4G"
    assert short_gpu_model("Tesla-T4") == "T4" and short_gpu_model("nvidia-tesla-t4") == "T4"


def test_a_supplement_row_keeps_its_note_and_evidence(tmp_path):
    mod = _build_module()
    cat, supp = tmp_path / "cat.yaml", tmp_path / "supp.yaml"
    cat.write_text(yaml.safe_dump(CATALOG), encoding="utf-8")
    supp.write_text(yaml.safe_dump({"sources": SUPP_SOURCES, "add": [
        {"provider": "aws", "service": "ec2", "instance_type": "g5g.xlarge", "accelerator": "NVIDIA T4G",
         "accelerator_count": 1, "vcpus": 4, "memory_gib": 8, "region": "us-east-1", "os": "linux",
         "on_demand_usd_per_hour": 0.42, "source": "supp-src", "note": "arm64 only", "evidence": "row text"}]}),
        encoding="utf-8")
    row = mod.build(cat, supp)["instances"]["aws/g5g.xlarge"]
    assert row["gpu_model"] == "T4G" and row["on_demand"] == 0.42 and row["spot"] is None
    assert row["notes"][1:] == ["arm64 only", "row text"]


def test_a_floor_over_aws_alone_is_the_g5g(tmp_path):
    cost = cost_of(scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": deploy()}))
    # before g5g was on the card: g4dn.xlarge 0.526 x 730 = 383.98, above what the pod can cost
    assert cost["lower_bound"] is True and cost["monthly_usd"] == pytest.approx(round(T4G * HOURS, 2)) == 306.60
    assert "g5g.xlarge (T4G) at $0.42/GPU-hour, among every aws instance type" in cost["reason"]


@pytest.mark.parametrize("selector, via, per", [
    ("{nvidia.com/gpu.product: Tesla-T4}", "aws/g4dn.xlarge", T4),
    ("{karpenter.k8s.aws/instance-gpu-name: t4g}", "aws/g5g.xlarge", T4G),
])
def test_a_t4_label_is_not_priced_as_t4g_nor_the_reverse(tmp_path, selector, via, per):
    doc = scan(tmp_path, {"main.tf": AWS_TF, "d.yaml": deploy(selector=selector)})
    r = next(x for x in doc["resources"] if x["address"] == "Deployment/ml/infer")
    assert r["cost"]["monthly_usd"] == pytest.approx(round(per * HOURS, 2)), r["cost"]
    assert not r["cost"].get("lower_bound")
    assert f"per-GPU on-demand rate of {via} x 1 GPU" in json.dumps(r["cost"])


def local_card(tmp_path, monkeypatch, rate: float) -> None:
    path = tmp_path.parent / f"{tmp_path.name}-local.json"
    path.write_text(json.dumps({
        "kind": "tagguard-local-ratecard", "primary_region": "eastus",
        "sources": {"test-local": {"url": "https://example.invalid/local", "date": "2026-12-06"}},
        "instances": {"azure/Standard_NV6ads_A10_v5": {"rates": {"eastus": {
            "on_demand": rate, "on_demand_source": "test-local"}}}}}), encoding="utf-8")
    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(path))


def test_the_shipped_card_has_no_rate_for_the_fractional_a10_sizes(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(tmp_path / "none.json"))
    card = catalog.load()
    for size, fraction in (("Standard_NV6ads_A10_v5", 0.1667), ("Standard_NV12ads_A10_v5", 0.3333),
                           ("Standard_NV18ads_A10_v5", 0.5)):
        info = card.lookup(size, "azure")
        assert info.accelerator_count == fraction and info.on_demand is None and info.gpu_model == "A10"
    cost = cost_of(scan(tmp_path, {"main.tf": AKS_TF, "d.yaml": deploy()}))
    assert cost["monthly_usd"] == 383.98 and "Standard_NC4as_T4_v3 (T4)" in cost["reason"]


def test_a_fractional_a10_with_a_rate_floors_one_gpu_at_its_whole_vm_rate(tmp_path, monkeypatch):
    local_card(tmp_path, monkeypatch, NV6ADS)
    cost = cost_of(scan(tmp_path, {"main.tf": AKS_TF, "d.yaml": deploy()}))
    # one nvidia.com/gpu fits on the 1/6 A10 VM (one vGPU advertised): 0.454 x 730 = 331.42, not 0.454 x 6
    # per A10 (2.724) and not the whole T4 VM at 0.526 -- the cheapest real way to run the pod
    assert cost["lower_bound"] is True
    assert cost["monthly_usd"] == pytest.approx(round(NV6ADS * HOURS, 2)) == 331.42
    assert "Standard_NV6ads_A10_v5 (A10) at $0.454/GPU-hour" in cost["reason"]
    assert "Standard_NV6ads_A10_v5 has 1/6 of one A10 (a vGPU), which the device plugin there advertises as one " \
           "nvidia.com/gpu" in cost["reason"]


def test_a_pod_asking_two_gpus_does_not_fit_on_a_fractional_vm(tmp_path, monkeypatch):
    local_card(tmp_path, monkeypatch, NV6ADS)
    cost = cost_of(scan(tmp_path, {"main.tf": AKS_TF, "d.yaml": deploy(count=2)}))
    # the cheapest Azure type with two or more GPUs per GPU: Standard_NC64as_T4_v3, 4 x T4 at 4.352 = 1.088 a T4
    assert catalog.load().lookup("Standard_NC64as_T4_v3", "azure").on_demand == 4.352
    assert cost["monthly_usd"] == pytest.approx(round(2 * 4.352 / 4 * HOURS, 2)) == 1588.48
    assert "Standard_NC64as_T4_v3 (T4)" in cost["reason"] and "vGPU" not in cost["reason"]
