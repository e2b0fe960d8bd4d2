"""The shipped rate card: lookups, family fallback, per-GPU table, rebuild check."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tagguard.pricing import catalog
from tagguard.pricing.gpus import short_gpu_model

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def card():
    return json.loads((REPO / "policies" / "ratecard.json").read_text(encoding="utf-8"))


def test_data_path_finds_the_rate_card():
    assert catalog.data_path("ratecard.json").samefile(REPO / "policies" / "ratecard.json")


@pytest.mark.parametrize("name, provider, key", [
    ("p4d.24xlarge", None, "aws/p4d.24xlarge"),
    ("P4D.24XLARGE", "aws", "aws/p4d.24xlarge"),
    ("ml.g5.xlarge", "aws", "aws/ml.g5.xlarge"),
    ("ML.P5.48xlarge", None, "aws/ml.p5.48xlarge"),
    ("a3-highgpu-8g", "gcp", "gcp/a3-highgpu-8g"),
    ("zones/us-central1-a/machineTypes/g2-standard-4", None, "gcp/g2-standard-4"),
    ("standard_nc24ads_a100_v4", "azure", "azure/Standard_NC24ads_A100_v4"),
    ("NC24ads_A100_v4", None, "azure/Standard_NC24ads_A100_v4"),
    ("p4d.24xlarge", "kubernetes", "aws/p4d.24xlarge"),
])
def test_lookup(name, provider, key):
    info = catalog.lookup(name, provider)
    assert info is not None and info.key == key


def test_lookup_misses():
    assert catalog.lookup("p4d.24xlarge", "gcp") is None
    assert catalog.lookup("m5.large") is None
    assert catalog.lookup("") is None and catalog.lookup(None) is None


def test_lookup_row_contents():
    info = catalog.lookup("p4d.24xlarge")
    assert (info.gpu_model, info.accelerator, info.accelerator_count) == ("A100", "NVIDIA A100", 8)
    assert info.on_demand == 21.957642 and info.on_demand_source == "karpenter-aws-2026-07-20"
    assert info.spot is None and info.reserved_1yr is None
    assert [h["usd_per_hour"] for h in info.on_demand_history] == [32.7726, 21.957642]
    nv6 = catalog.lookup("Standard_NV6ads_A10_v5")
    assert nv6.accelerator_count == 0.1667 and nv6.gpu_model == "A10" and nv6.on_demand is None


@pytest.mark.parametrize("name, expected", [
    ("p5.48xlarge", ("H100", 8.0)),
    ("g5.96xlarge", ("A10G", None)),            # size not in the card: family g5.*
    ("ml.g5.96xlarge", ("A10G", None)),
    ("a3-highgpu-16g", ("H100", 16.0)),         # GCP names carry the GPU count
    ("g2-standard-2", ("L4", None)),            # ... except g2-standard-<vCPUs>
    ("Standard_NC12ads_A100_v4", ("A100", None)),
    ("Standard_NV6ads_A10_v5", ("A10", 0.1667)),
    ("m5.large", None),
    ("n2-standard-8", None),
    ("Standard_D4s_v5", None),
])
def test_accelerator_info(name, expected):
    assert catalog.accelerator_info(name) == expected
    assert catalog.is_accelerated(name) is (expected is not None)


def test_gpu_hourly_table_derivation():
    h100 = catalog.gpu_hourly("H100")
    assert h100.usd_per_gpu_hour == pytest.approx(55.04 / 8)
    assert h100.derived_from == "aws/p5.48xlarge" and h100.source == "karpenter-aws-2026-07-20"
    assert catalog.gpu_hourly("A100").usd_per_gpu_hour == pytest.approx(21.957642 / 8)
    assert catalog.gpu_hourly("T4").usd_per_gpu_hour == pytest.approx(0.526)
    a10 = catalog.gpu_hourly("A10")  # Azure only
    # one whole A10 (NV36ads_A10_v5, $3.20, rate from policies/ratecard_supplement.yaml)
    # is cheaper per GPU than NV72's two
    assert a10.usd_per_gpu_hour == pytest.approx(3.2) and a10.derived_from == "azure/Standard_NV36ads_A10_v5"
    assert catalog.gpu_hourly("Trainium2").usd_per_gpu_hour is None
    assert catalog.gpu_hourly("nvidia-tesla-t4").gpu_model == "T4"
    assert catalog.gpu_hourly("MI300X") is None


def test_gpu_hourly_is_cheapest_aws_ec2_per_gpu(card):
    for model, g in card["gpu_hourly_usd"].items():
        if g["derived_from"] is None or not g["derived_from"].startswith("aws/"):
            continue
        rows = [e for e in card["instances"].values()
                if e["gpu_model"] == model and e["provider"] == "aws" and e["service"] == "ec2" and e["on_demand"]]
        assert g["usd_per_gpu_hour"] == min(e["on_demand"] / e["accelerator_count"] for e in rows)


@pytest.mark.parametrize("name, short", [
    ("NVIDIA-A100-SXM4-80GB", "A100"), ("nvidia-tesla-t4", "T4"), ("nvidia-l4", "L4"), ("NVIDIA-L40S", "L40S"),
    ("NVIDIA A10 (1/6 partition)", "A10"), ("NVIDIA A10G", "A10G"), ("AWS Inferentia2", "Inferentia2"),
    ("Habana Gaudi HL-205", "Gaudi"), ("h200", "H200"), ("cpu", None),
])
def test_short_gpu_model(name, short):
    assert short_gpu_model(name) == short


def test_suggest():
    assert catalog.suggest("p4d.24xlarg")[0] == "p4d.24xlarge"


# --- the committed file ---------------------------------------------------------

def test_every_rate_cites_a_source(card):
    assert len(card["instances"]) >= 100
    for key, e in card["instances"].items():
        assert key == f"{e['provider']}/{e['instance_type']}"
        for rate, src in (("on_demand", "on_demand_source"), ("spot", "spot_source"),
                          ("reserved_1yr", "reserved_source"), ("reserved_3yr", "reserved_source")):
            if e[rate] is not None:
                assert e[src] in card["sources"], (key, rate)
                assert math.isfinite(e[rate]) and e[rate] > 0
        if e["spot"] is not None:
            assert e["spot_kind"]
        for s in e["specs_source"]:
            assert s in card["sources"]
    for sid, s in card["sources"].items():
        assert s["url"] and s["date"], sid


def test_families_cover_every_row(card):
    for fkey, fam in card["families"].items():
        rx = re.compile(fam["regex"])
        for m in fam["members"]:
            assert rx.match(m.lower()), (fkey, m)
    covered = {f"{f['provider']}/{m}" for f in card["families"].values() for m in f["members"]}
    assert covered == set(card["instances"])


def test_ratecard_is_sorted_and_deterministic(card):
    text = (REPO / "policies" / "ratecard.json").read_text(encoding="utf-8")
    assert list(card) == sorted(card) and list(card["instances"]) == sorted(card["instances"])
    assert json.loads(text) == card


# the rebuild check (committed rate card == a fresh build of the vendored catalog) is in test_shipped_data.py
