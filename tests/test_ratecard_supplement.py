"""policies/ratecard_supplement.yaml: cited rates the shared catalog leaves null (issue 12.6).

The build fills nulls only, never replaces a catalog figure, and adds per-chip Cloud TPU rates; the
scan then prices what was unpriced before (a GKE TPU slice worker, an AKS T4 node pool)."""
from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
import yaml

from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.pricing import catalog

ROOT = Path(__file__).resolve().parent.parent


def _build_module():
    spec = importlib.util.spec_from_file_location("build_ratecard", ROOT / "scripts" / "build_ratecard.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


CATALOG = {
    "schema_version": 1, "generated": "2026-01-01", "currency": "USD", "hours_per_month": 730,
    "sources": {"cat-src": {"url": "https://example.invalid/cat", "date": "2026-01-01"}},
    "instances": [
        {"provider": "azure", "service": "virtual-machines", "instance_type": "Standard_NC4as_T4_v3",
         "accelerator": "NVIDIA T4", "accelerator_count": 1, "region": "eastus",
         "on_demand_usd_per_hour": None, "notes": ["no citable eastus Linux rate found; left null"]},
        {"provider": "azure", "service": "virtual-machines", "instance_type": "Standard_NC8as_T4_v3",
         "accelerator": "NVIDIA T4", "accelerator_count": 1, "region": "eastus",
         "on_demand_usd_per_hour": 0.752, "on_demand_source": {"ref": "cat-src", "url": "https://example.invalid/cat"}},
    ],
}
SUPP_SOURCES = {"supp-src": {"url": "https://example.invalid/supp", "date": "2026-02-02"}}


def _write(tmp_path, supplement):
    cat = tmp_path / "cat.yaml"
    cat.write_text(yaml.safe_dump(CATALOG), encoding="utf-8")
    supp = tmp_path / "supp.yaml"
    supp.write_text(yaml.safe_dump(supplement), encoding="utf-8")
    return cat, supp


def test_fill_sets_a_null_rate_with_its_source(tmp_path):
    mod = _build_module()
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "fill": [
        {"provider": "azure", "instance_type": "Standard_NC4as_T4_v3", "on_demand_usd_per_hour": 0.526,
         "source": "supp-src", "region": "eastus"}]})
    card = mod.build(cat, supp)
    row = card["instances"]["azure/Standard_NC4as_T4_v3"]
    assert row["on_demand"] == 0.526 and row["on_demand_source"] == "supp-src"
    assert card["sources"]["supp-src"]["url"] == "https://example.invalid/supp"
    assert not any("left null" in n for n in row["notes"]) and any("supplement" in n for n in row["notes"])
    assert card["built_from"]["supplement_sha256"]


def test_fill_never_replaces_a_cited_catalog_rate(tmp_path):
    mod = _build_module()
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "fill": [
        {"provider": "azure", "instance_type": "Standard_NC8as_T4_v3", "on_demand_usd_per_hour": 0.1,
         "source": "supp-src"}]})
    with pytest.raises(mod.CatalogError, match="already has every rate"):
        mod.build(cat, supp)


@pytest.mark.parametrize("fill, message", [
    ({"provider": "azure", "instance_type": "Standard_NC999_T4_v3", "on_demand_usd_per_hour": 1.0,
      "source": "supp-src"}, "no such catalog row"),
    ({"provider": "azure", "instance_type": "Standard_NC4as_T4_v3", "on_demand_usd_per_hour": 1.0,
      "source": "nowhere"}, "unknown source"),
    ({"provider": "azure", "instance_type": "Standard_NC4as_T4_v3", "on_demand_usd_per_hour": 1.0,
      "source": "supp-src", "region": "westus"}, "region westus differs"),
])
def test_fill_refuses_what_it_cannot_cite(tmp_path, fill, message):
    mod = _build_module()
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "fill": [fill]})
    with pytest.raises(mod.CatalogError, match=message):
        mod.build(cat, supp)


def test_accelerator_rate_is_per_chip_and_cited(tmp_path):
    mod = _build_module()
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "accelerator_rates": {
        "TPU v6e": {"usd_per_hour": 2.7, "region": "us-central1", "source": "supp-src", "evidence": "x"}}})
    g = mod.build(cat, supp)["gpu_hourly_usd"]["TPU v6e"]
    assert g["usd_per_gpu_hour"] == 2.7 and g["source"] == "supp-src" and g["accelerator_count"] == 1
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "accelerator_rates": {
        "T4": {"usd_per_hour": 9.0, "region": "x", "source": "supp-src", "evidence": "x"}}})
    with pytest.raises(mod.CatalogError, match="already priced by catalog rows"):
        mod.build(cat, supp)


def test_shipped_card_prices_cloud_tpu_chips():
    for model, rate in (("TPU v4", 3.22), ("TPU v5e", 1.2), ("TPU v5p", 4.2), ("TPU v6e", 2.7)):
        g = catalog.gpu_hourly(model)
        assert g is not None and g.usd_per_gpu_hour == pytest.approx(rate)
        assert catalog.source(g.source) is not None
    assert catalog.gpu_hourly("tpu-v5-lite-podslice").gpu_model == "TPU v5e"


TPU_RAYCLUSTER = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: tpu, namespace: ml}
spec:
  headGroupSpec:
    template:
      spec:
        containers: [{name: head, image: ray}]
  workerGroupSpecs:
    - groupName: tpu-group
      replicas: 1
      numOfHosts: 4
      template:
        spec:
          nodeSelector:
            cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice
            cloud.google.com/gke-tpu-topology: 4x4
          containers:
            - name: worker
              image: ray
              resources: {limits: {google.com/tpu: "4"}, requests: {google.com/tpu: "4"}}
"""


def _scan(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}


def test_gke_tpu_slice_worker_is_priced_per_chip(tmp_path):
    res = _scan(tmp_path, {"rc.yaml": TPU_RAYCLUSTER})
    worker = next(r for a, r in res.items() if a.startswith("RayCluster/ml/tpu#") and r.ai)
    assert worker.compute.accelerator == "TPU v6e"
    # 1 replica x 4 hosts x 4 chips = 16 chips at $2.70 per chip-hour
    assert worker.cost.hourly_usd == pytest.approx(16 * 2.7)
    assert worker.cost.monthly_usd == pytest.approx(16 * 2.7 * 730)


def test_aks_t4_node_pool_is_priced(tmp_path):
    res = _scan(tmp_path, {"main.tf": """\
        resource "azurerm_kubernetes_cluster_node_pool" "gpu" {
          name                  = "gpu"
          kubernetes_cluster_id = "x"
          vm_size               = "Standard_NC4as_T4_v3"
          node_count            = 2
        }
        """})
    pool = res["azurerm_kubernetes_cluster_node_pool.gpu"]
    assert pool.cost.hourly_usd == pytest.approx(2 * 0.526)


def test_add_puts_in_a_missing_row_and_refuses_an_existing_one(tmp_path):
    mod = _build_module()
    row = {"provider": "azure", "service": "virtual-machines", "instance_type": "Standard_NC12s_v3",
           "accelerator": "NVIDIA V100", "accelerator_count": 2, "vcpus": 12, "memory_gib": 224, "region": "eastus",
           "on_demand_usd_per_hour": 6.12, "source": "supp-src"}
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "add": [row]})
    got = mod.build(cat, supp)["instances"]["azure/Standard_NC12s_v3"]
    assert got["on_demand"] == 6.12 and got["on_demand_source"] == "supp-src" and got["specs_source"] == ["supp-src"]
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "add": [{**row, "instance_type": "Standard_NC8as_T4_v3"}]})
    with pytest.raises(mod.CatalogError, match="use `fill`"):
        mod.build(cat, supp)


def test_kaito_workspace_on_nc12s_v3_is_found_and_priced(tmp_path):
    # KAITO provisions one Standard_NC12s_v3 (2 x V100) per count; the size was missing from the card, so the
    # Workspace was silently not AI
    res = _scan(tmp_path, {"ws.yaml": """\
        apiVersion: kaito.sh/v1beta1
        kind: Workspace
        metadata: {name: falcon, namespace: default}
        resource:
          instanceType: "Standard_NC12s_v3"
          count: 2
          labelSelector: {matchLabels: {apps: falcon}}
        inference:
          preset: {name: falcon-7b}
        """})
    ws = res["Workspace/default/falcon"]
    assert ws.ai and ws.compute.gpus_per_unit == 2
    assert ws.cost.hourly_usd == pytest.approx(2 * 6.12)


ATTACHED_T4 = {"provider": "gcp", "gpu_model": "T4", "usd_per_gpu_hour": 0.35, "max_per_vm": 4,
               "region": "us-central1", "source": "supp-src", "attach_to": "N1", "evidence": "T4,1 0.35"}


def test_attached_gpus_are_written_with_their_citation_and_the_vm_left_out(tmp_path):
    mod = _build_module()
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "attached_gpus": [ATTACHED_T4]})
    card = mod.build(cat, supp)
    row = card["attached_gpus"]["gcp/T4"]
    assert row["usd_per_gpu_hour"] == 0.35 and row["max_per_vm"] == 4 and row["source"] == "supp-src"
    assert "billed on top" in row["note"]
    # not a per-GPU rate of the model: the T4 rate of the card stays the one a whole type carries
    assert card["gpu_hourly_usd"]["T4"]["usd_per_gpu_hour"] == 0.752
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES})
    assert "attached_gpus" not in mod.build(cat, supp)


@pytest.mark.parametrize("change, message", [
    ({"source": "nowhere"}, "unknown source"),
    ({"gpu_model": "NVIDIA Tesla T4"}, "not a short model name"),
    ({"usd_per_gpu_hour": 0}, "positive number"),
    ({"max_per_vm": 0}, "positive integer"),
    ({"provider": "oci"}, "unknown provider"),
])
def test_attached_gpus_refuse_what_they_cannot_cite(tmp_path, change, message):
    mod = _build_module()
    cat, supp = _write(tmp_path, {"sources": SUPP_SOURCES, "attached_gpus": [{**ATTACHED_T4, **change}]})
    with pytest.raises(mod.CatalogError, match=message):
        mod.build(cat, supp)


def test_shipped_card_has_gcp_attachable_gpus_cited():
    card = catalog.load()
    table = card.raw["attached_gpus"]
    # SkyPilot's GCP catalog rows ',,,<GPU>,<count>,...,us-central1,...,<Price>': Price / count
    assert {k: (v["usd_per_gpu_hour"], v["max_per_vm"]) for k, v in table.items()} == {
        "gcp/T4": (0.35, 4), "gcp/P4": (0.6, 4), "gcp/P100": (1.46, 4), "gcp/V100": (19.84 / 8, 8)}
    for row in table.values():
        assert catalog.source(row["source"]) is not None and row["source"] == "skypilot-gcp-vms-017e2502"
