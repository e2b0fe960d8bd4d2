"""Cost figures against numbers written out by hand from policies/ratecard.json.

Every expected value below is typed in from the rate card (e.g. p4d.24xlarge
on-demand 21.957642 USD/h, source karpenter-aws-2026-07-20), never computed by
the engine under test.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tagguard.model import Compute, Resource
from tagguard.pricing import catalog
from tagguard.pricing.engine import Pricer, PricingConfigError
from tagguard.pricing.usage import load_usage

FIXTURES = Path(__file__).parent / "fixtures" / "pricing"
KARPENTER = "karpenter-aws-2026-07-20"
CYCLENERD = "cyclenerd-gcp-2026-07-30"
CARD = catalog.load()  # the shipped rate card; every Pricer below is given it


def res(address="aws_instance.gpu", ai=True, meta=None, **compute):
    return Resource(address=address, type=address.split(".")[-2] if "." in address else "x",
                    source="terraform", ai=ai, compute=Compute(**compute), meta=dict(meta or {}))


def approx(x):
    return pytest.approx(x, rel=1e-9, abs=1e-9)


# --- on-demand, every cloud ----------------------------------------------------

def test_aws_ec2_on_demand():
    cost = Pricer(CARD).price(res(instance_type="p4d.24xlarge", units=2, provider="aws"))
    assert cost.hourly_usd == approx(21.957642 * 2)
    assert cost.monthly_usd == approx(21.957642 * 2 * 730)
    assert cost.gpu_hours_per_month == approx(8 * 2 * 730)
    assert cost.rate_source == KARPENTER
    assert cost.rate_date == "2026-07-20"
    assert cost.reason is None
    assert cost.breakdown == [{"units": 2, "model": "on_demand", "usd_per_hour": 21.957642,
                               "subtotal_usd_per_hour": 43.915284, "source": KARPENTER,
                               "date": "2026-07-20", "basis": "list price"}]


def test_sagemaker_on_demand_uses_ml_rate_not_ec2():
    cost = Pricer(CARD).price(res("aws_sagemaker_endpoint_configuration.llm", instance_type="ml.g5.xlarge",
                              units=3, provider="aws", service="sagemaker"))
    assert cost.hourly_usd == approx(1.4084 * 3)  # EC2 g5.xlarge would be 1.006
    assert cost.monthly_usd == approx(1.4084 * 3 * 730)
    assert cost.gpu_hours_per_month == approx(1 * 3 * 730)
    assert cost.rate_source == "fmbench-pricing-2025-01-26"


def test_gcp_on_demand():
    cost = Pricer(CARD).price(res("google_compute_instance.a3", instance_type="a3-highgpu-8g", provider="gcp",
                              region="us-central1-a"))
    assert cost.hourly_usd == approx(88.49)
    assert cost.monthly_usd == approx(88.49 * 730)
    assert cost.gpu_hours_per_month == approx(8 * 730)
    assert cost.rate_source == CYCLENERD
    assert cost.reason is None  # zone us-central1-a is in the rate's region


def test_azure_on_demand_case_insensitive():
    cost = Pricer(CARD).price(res("azurerm_linux_virtual_machine.a100", instance_type="standard_nc96ads_a100_v4",
                              provider="azure", region="East US"))
    assert cost.hourly_usd == approx(14.692)
    assert cost.monthly_usd == approx(14.692 * 730)
    assert cost.gpu_hours_per_month == approx(4 * 730)
    assert cost.rate_source == "infracost-azure-golden-2025-11-28"
    assert cost.reason is None


def test_azure_fractional_a10_partition_gpu_hours_without_rate():
    cost = Pricer(CARD).price(res("azurerm_linux_virtual_machine.viz", instance_type="Standard_NV6ads_A10_v5",
                              units=3, provider="azure"))
    assert cost.hourly_usd is None and cost.monthly_usd is None
    assert cost.gpu_hours_per_month == approx(0.1667 * 3 * 730)
    assert cost.reason.startswith("no public on-demand rate for Standard_NV6ads_A10_v5 in the rate card (")


def test_azure_fractional_a10_partition_with_config_rate():
    pricer = Pricer(CARD, {"instance_types": {"Standard_NV6ads_A10_v5": {"on_demand": 0.454}}})
    cost = pricer.price(res(instance_type="Standard_NV6ads_A10_v5", units=3, provider="azure"))
    assert cost.hourly_usd == approx(0.454 * 3)
    assert cost.monthly_usd == approx(0.454 * 3 * 730)
    assert cost.gpu_hours_per_month == approx(0.1667 * 3 * 730)
    assert cost.rate_source == "config"


def test_azure_two_gpu_a10():
    cost = Pricer(CARD).price(res(instance_type="Standard_NV72ads_A10_v5", provider="azure"))
    assert cost.hourly_usd == approx(6.52)
    assert cost.gpu_hours_per_month == approx(2 * 730)


# --- spot ----------------------------------------------------------------------

def test_spot_with_known_rate_gcp():
    cost = Pricer(CARD).price(res(instance_type="a2-highgpu-1g", units=4, pricing_model="spot", provider="gcp"))
    assert cost.hourly_usd == approx(1.92802 * 4)
    assert cost.monthly_usd == approx(1.92802 * 4 * 730)
    assert cost.breakdown[0]["spot_kind"] == "published_spot_price"
    assert cost.rate_source == CYCLENERD


def test_spot_with_known_rate_aws_advisor_estimate():
    cost = Pricer(CARD).price(res(instance_type="g5.xlarge", units=2, pricing_model="spot"))
    assert cost.hourly_usd == approx(0.52312 * 2)
    assert cost.rate_source == "vantage-opszero-2024-04-04"
    assert cost.breakdown[0]["spot_kind"] == "spot_advisor_savings_estimate"


def test_spot_with_default_discount():
    cost = Pricer(CARD).price(res(instance_type="p4d.24xlarge", pricing_model="spot"))
    assert cost.hourly_usd == approx(21.957642 * 0.45)
    assert cost.monthly_usd == approx(21.957642 * 0.45 * 730)
    assert cost.breakdown[0]["spot_kind"] == "default_discount"
    assert cost.breakdown[0]["spot_discount_pct"] == 55.0


def test_spot_with_configured_discount():
    cost = Pricer(CARD, {"spot_discount_pct": 60}).price(res(instance_type="p4d.24xlarge", pricing_model="spot"))
    assert cost.hourly_usd == approx(21.957642 * 0.40)


def test_spot_default_discount_applies_to_undiscounted_list_price():
    cost = Pricer(CARD, {"discount_pct": 10}).price(res(instance_type="p4d.24xlarge", pricing_model="spot"))
    assert cost.hourly_usd == approx(21.957642 * 0.45)


# --- mixed ---------------------------------------------------------------------

def test_mixed_known_spot_rate():
    cost = Pricer(CARD).price(res(instance_type="g5.xlarge", units=4, spot_units=1, pricing_model="mixed"))
    assert cost.hourly_usd == approx(0.52312 * 1 + 1.006 * 3)
    assert cost.monthly_usd == approx((0.52312 + 1.006 * 3) * 730)
    assert cost.gpu_hours_per_month == approx(1 * 4 * 730)
    assert [(b["model"], b["units"]) for b in cost.breakdown] == [("spot", 1), ("on_demand", 3)]
    assert cost.rate_source == "vantage-opszero-2024-04-04, karpenter-aws-2026-07-20"


def test_mixed_default_spot_discount():
    cost = Pricer(CARD).price(res(instance_type="p4d.24xlarge", units=3, spot_units=2, pricing_model="mixed"))
    assert cost.hourly_usd == approx(2 * 21.957642 * 0.45 + 21.957642)


def test_mixed_without_spot_units_is_unknown():
    cost = Pricer(CARD).price(res(instance_type="g5.xlarge", units=4, pricing_model="mixed"))
    assert cost.hourly_usd is None
    assert "spot units is unknown" in cost.reason


# --- commitments ---------------------------------------------------------------

def test_commitments_cover_part_of_the_units_in_address_order():
    pricer = Pricer(CARD, {"commitments": [{"instance_type": "a3-highgpu-8g", "count": 3, "term": "1y"}]})
    b = res("google_compute_instance.b", instance_type="a3-highgpu-8g", units=3, provider="gcp")
    a = res("google_compute_instance.a", instance_type="a3-highgpu-8g", units=2, provider="gcp",
            pricing_model="reserved")
    pricer.price_all([b, a])  # given out of order on purpose
    assert a.cost.hourly_usd == approx(2 * 61.383672)
    assert a.cost.monthly_usd == approx(2 * 61.383672 * 730)
    assert b.cost.hourly_usd == approx(1 * 61.383672 + 2 * 88.49)
    assert b.cost.monthly_usd == approx((61.383672 + 2 * 88.49) * 730)
    assert [(x["model"], x["units"]) for x in b.cost.breakdown] == [("reserved", 1), ("on_demand", 2)]
    assert b.cost.breakdown[0]["term"] == "1y"
    assert a.cost.gpu_hours_per_month == approx(8 * 2 * 730)


def test_commitment_3y_rate_and_uncovered_reserved_units_priced_on_demand():
    pricer = Pricer(CARD, {"commitments": [{"instance_type": "P4D.24XLARGE", "count": 1, "term": "3y",
                                      "rate_usd_per_hour": 9.5}]})
    r = res(instance_type="p4d.24xlarge", units=2, pricing_model="reserved")
    pricer.price_all([r])
    assert r.cost.hourly_usd == approx(9.5 + 21.957642)
    assert r.cost.rate_source == "config, karpenter-aws-2026-07-20"
    assert "no `commitments` entry covers 1 unit" in r.cost.reason


def test_commitment_without_a_citable_rate_is_unknown():
    pricer = Pricer(CARD, {"commitments": [{"instance_type": "p4d.24xlarge", "count": 4, "term": "1y"}]})
    r = res(instance_type="p4d.24xlarge", units=2)
    pricer.price_all([r])
    assert r.cost.hourly_usd is None and r.cost.monthly_usd is None
    assert r.cost.gpu_hours_per_month == approx(8 * 2 * 730)
    assert "no 1y committed rate for p4d.24xlarge" in r.cost.reason


def test_commitments_never_cover_spot_units():
    pricer = Pricer(CARD, {"commitments": [{"instance_type": "g2-standard-4", "count": 5, "term": "3y"}]})
    r = res(instance_type="g2-standard-4", units=4, spot_units=1, pricing_model="mixed", provider="gcp")
    pricer.price_all([r])
    assert r.cost.hourly_usd == approx(0.397336 + 3 * 0.318075)


def test_commitments_are_used_up_across_resources_but_price_is_fresh():
    pricer = Pricer(CARD, {"commitments": [{"instance_type": "a2-highgpu-1g", "count": 1, "term": "1y"}]})
    r1 = res("a.one", instance_type="a2-highgpu-1g")
    r2 = res("a.two", instance_type="a2-highgpu-1g")
    pricer.price_all([r1, r2])
    assert r1.cost.hourly_usd == approx(2.314207)
    assert r2.cost.hourly_usd == approx(3.673385)
    assert pricer.price(r2).hourly_usd == approx(2.314207)  # price() starts from a full pool


# --- usage file ----------------------------------------------------------------

def test_usage_file_overrides_hours_and_units():
    usage = load_usage(FIXTURES / "usage.yaml")
    r = res("module.train.aws_instance.gpu[0]", instance_type="p4d.24xlarge", units=1)
    assert usage.apply(r)
    Pricer(CARD).price_all([r])
    assert r.cost.hourly_usd == approx(21.957642 * 4)
    assert r.cost.monthly_usd == approx(21.957642 * 4 * 120)
    assert r.cost.gpu_hours_per_month == approx(8 * 4 * 120)


def test_usage_runs_per_month_for_jobs():
    usage = load_usage(FIXTURES / "usage.yaml")
    r = Resource(address="kubernetes_job.finetune", type="kubernetes_job", source="kubernetes", ai=True,
                 compute=Compute(accelerator="A10G", gpus_per_unit=1, units=2, provider="kubernetes"))
    usage.apply(r)
    cost = Pricer(CARD).price(r)
    assert cost.hourly_usd == approx(1.006 * 1 * 2)
    assert cost.monthly_usd == approx(1.006 * 2 * 6 * 10)
    assert cost.gpu_hours_per_month == approx(1 * 2 * 60)


def test_job_without_runs_has_hourly_but_no_monthly():
    cost = Pricer(CARD).price(res(instance_type="g5.xlarge", runtime_hours=3))
    assert cost.hourly_usd == approx(1.006)
    assert cost.monthly_usd is None and cost.gpu_hours_per_month is None
    assert "runs per month" in cost.reason


def test_explicit_hours_per_month():
    cost = Pricer(CARD).price(res(instance_type="trn1.32xlarge", hours_per_month=200))
    assert cost.monthly_usd == approx(21.5 * 200)
    assert cost.gpu_hours_per_month == approx(16 * 200)


# --- unknown rates -------------------------------------------------------------

def test_unknown_on_demand_rate_is_null_with_reason():
    cost = Pricer(CARD).price(res(instance_type="p5e.48xlarge", units=2))
    assert cost.hourly_usd is None and cost.monthly_usd is None
    assert cost.gpu_hours_per_month == approx(8 * 2 * 730)
    assert cost.reason.startswith("no public on-demand rate for p5e.48xlarge in the rate card (")
    assert cost.rate_source is None


def test_unknown_rate_also_blocks_spot_estimate():
    cost = Pricer(CARD).price(res(instance_type="trn2.48xlarge", pricing_model="spot"))
    assert cost.hourly_usd is None
    assert "trn2.48xlarge" in cost.reason and cost.gpu_hours_per_month == approx(16 * 730)


def test_size_missing_from_the_card_but_in_a_family():
    cost = Pricer(CARD).price(res(instance_type="g5.96xlarge"))
    assert cost.hourly_usd is None and cost.gpu_hours_per_month is None
    assert "g5.*" in cost.reason and "A10G" in cost.reason


def test_unknown_units():
    cost = Pricer(CARD).price(res(instance_type="p4d.24xlarge", units=None))
    assert cost.hourly_usd is None and cost.gpu_hours_per_month is None
    assert "units" in cost.reason


# --- overrides and precedence --------------------------------------------------

def test_config_instance_rate_beats_card_and_is_not_discounted():
    pricer = Pricer(CARD, {"instance_types": {"p4d.24xlarge": {"on_demand": 15.0}}, "discount_pct": 10})
    cost = pricer.price(res(instance_type="p4d.24xlarge", units=2))
    assert cost.hourly_usd == approx(15.0 * 2)
    assert cost.rate_source == "config" and cost.rate_date is None


def test_negotiated_discount_applies_to_list_on_demand():
    cost = Pricer(CARD, {"discount_pct": 10}).price(res(instance_type="p4d.24xlarge", units=2))
    assert cost.hourly_usd == approx(21.957642 * 0.9 * 2)


def test_config_spot_beats_card_spot_and_default():
    pricer = Pricer(CARD, {"instance_types": {"g5.xlarge": {"spot": 0.3}}, "spot_discount_pct": 70})
    assert pricer.price(res(instance_type="g5.xlarge", pricing_model="spot")).hourly_usd == approx(0.3)


def test_card_spot_beats_default_discount():
    cost = Pricer(CARD, {"spot_discount_pct": 90}).price(res(instance_type="p5en.48xlarge", pricing_model="spot"))
    assert cost.hourly_usd == approx(27.1988)
    assert cost.rate_source == "dstack-pr-4110"


def test_config_on_demand_feeds_default_spot():
    pricer = Pricer(CARD, {"instance_types": {"p5e.48xlarge": {"on_demand": 40.0}}})
    cost = pricer.price(res(instance_type="p5e.48xlarge", pricing_model="spot"))
    assert cost.hourly_usd == approx(40.0 * 0.45)


def test_kubernetes_gpu_rate_from_card():
    r = Resource(address="Deployment/ml/llm", type="Deployment", source="kubernetes", ai=True,
                 compute=Compute(accelerator="H100", gpus_per_unit=2, units=3, provider="kubernetes"))
    cost = Pricer(CARD).price(r)
    assert cost.hourly_usd == approx(55.04 / 8 * 2 * 3)
    assert cost.monthly_usd == approx(55.04 / 8 * 2 * 3 * 730)
    assert cost.gpu_hours_per_month == approx(2 * 3 * 730)
    assert cost.rate_source == KARPENTER
    assert "aws/p5.48xlarge" in cost.breakdown[0]["basis"]


def test_kubernetes_gpu_rate_config_override_and_spelling():
    r = Resource(address="Job/ml/train", type="Job", source="kubernetes", ai=True,
                 compute=Compute(accelerator="nvidia-h100-80gb", gpus_per_unit=4, units=1, provider="kubernetes"))
    cost = Pricer(CARD, {"gpu_hourly_usd": {"H100": 4.1}}).price(r)
    assert cost.hourly_usd == approx(4.1 * 4)
    assert cost.rate_source == "config"


def test_kubernetes_spot_gpu_uses_default_discount():
    r = res("Deployment/ml/a", accelerator="A100", gpus_per_unit=1, units=2, pricing_model="spot",
            provider="kubernetes")
    assert Pricer(CARD).price(r).hourly_usd == approx(21.957642 / 8 * 0.45 * 2)


def test_kubernetes_gpu_without_rate():
    r = res("Deployment/ml/b", accelerator="Trainium2", gpus_per_unit=1, provider="kubernetes")
    cost = Pricer(CARD).price(r)
    assert cost.hourly_usd is None and "pricing.gpu_hourly_usd.Trainium2" in cost.reason
    assert cost.gpu_hours_per_month == approx(730)


# --- region, side effects, config errors ----------------------------------------

def test_region_mismatch_is_noted():
    cost = Pricer(CARD).price(res(instance_type="p4d.24xlarge", region="eu-west-1"))
    assert cost.hourly_usd == approx(21.957642)
    assert "us-east-1" in cost.reason and "eu-west-1" in cost.reason


def test_pricing_region_is_the_default_resource_region():
    assert "eu-central-1" in Pricer(CARD, {"region": "eu-central-1"}).price(res(instance_type="g5.xlarge")).reason
    pricer = Pricer(CARD, {"region": "us-east-1"})
    assert pricer.price(res(instance_type="g5.xlarge", region="us-east-1b")).reason is None


def test_price_sets_nothing_and_price_all_only_ai():
    r = res(instance_type="p4d.24xlarge")
    other = res("aws_s3_bucket.data", ai=False, instance_type="p4d.24xlarge")
    before = r.compute.to_json()
    Pricer(CARD).price(r)
    assert r.cost is None and r.compute.to_json() == before
    Pricer(CARD).price_all([r, other])
    assert r.cost is not None and other.cost is None


@pytest.mark.parametrize("section, needle", [
    ({"spot_discount_pct": 150}, "pricing.spot_discount_pct"),
    ({"discount_pct": "ten"}, "pricing.discount_pct"),
    ({"commitments": [{"instance_type": "p4d.24xlarge", "count": 1, "term": "2y"}]}, "commitments[0].term"),
    ({"commitments": [{"instance_type": "p4d.24xlarge", "count": -1, "term": "1y"}]}, "commitments[0].count"),
    ({"instance_types": {"p4d.24xlarge": {"ondemand": 3}}}, "pricing.instance_types.p4d.24xlarge"),
])
def test_bad_pricing_config(section, needle):
    with pytest.raises(PricingConfigError) as exc:
        Pricer(CARD, section)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_kubernetes_pod_pays_for_its_share_of_a_pinned_node():
    # p4d.24xlarge has 8 A100s at $21.957642/h; a pod taking 2 of them pays a quarter.
    r = res("Deployment/ml/vllm", provider="kubernetes", instance_type="p4d.24xlarge", gpus_per_unit=2, units=3)
    Pricer(CARD, {}).price_all([r])
    assert r.cost.hourly_usd == pytest.approx(21.957642 * 2 / 8 * 3)
    assert r.cost.gpu_hours_per_month == 2 * 3 * 730
    assert "2 of the 8 GPUs" in r.cost.reason


def test_ec2_instance_is_never_split():
    r = res("aws_instance.x", provider="aws", instance_type="p4d.24xlarge", gpus_per_unit=8, units=1)
    Pricer(CARD, {}).price_all([r])
    assert r.cost.hourly_usd == pytest.approx(21.957642)


def test_job_without_duration_has_gpus_but_no_monthly_figure():
    r = res("Job/ml/train", provider="kubernetes", instance_type="p4d.24xlarge", gpus_per_unit=8, units=1,
            meta={"run_to_completion": True})
    Pricer(CARD, {}).price_all([r])
    assert r.cost.hourly_usd == pytest.approx(21.957642)
    assert r.cost.monthly_usd is None and r.cost.gpu_hours_per_month is None
    assert "no known duration" in r.cost.reason


# --- one function per pricing model; the one set-up ------------------------------

def test_every_pricing_model_has_its_function_and_others_are_on_demand_with_a_note():
    from tagguard.pricing.engine import PRICING_MODELS

    assert set(PRICING_MODELS) == {"on_demand", "spot", "mixed", "reserved", "committed"}
    committed = Pricer(CARD).price(res(instance_type="p4d.24xlarge", units=2, pricing_model="Committed"))
    reserved = Pricer(CARD).price(res(instance_type="p4d.24xlarge", units=2, pricing_model="reserved"))
    assert committed == reserved and "no `commitments` entry covers 2 units" in committed.reason
    odd = Pricer(CARD).price(res(instance_type="p4d.24xlarge", units=2, pricing_model="savings-plan"))
    assert odd.hourly_usd == approx(21.957642 * 2)
    assert odd.reason == "unknown pricing model 'savings-plan' priced on-demand"
    assert [ln["model"] for ln in odd.breakdown] == ["on_demand"]


def test_make_pricer_reads_pricing_commitments_and_the_usage_file(tmp_path, monkeypatch):
    """The one set-up the scan, plan deltas and spot hints share: config ``pricing`` (+ top-level
    ``commitments``), ``usage`` relative to the config (``--usage`` as given), the card it is handed."""
    from tagguard.config import Config
    from tagguard.pricing.engine import make_pricer
    from tagguard.sources.base import ScanOptions

    monkeypatch.setenv("TAGGUARD_LOCAL_RATECARD", str(tmp_path / "none.json"))
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "usage.yaml").write_text((FIXTURES / "usage.yaml").read_text())
    config = Config(raw={"pricing": {"discount_pct": 10}, "usage": "usage.yaml",
                         "commitments": [{"instance_type": "p4d.24xlarge", "count": 1, "term": "3y",
                                          "rate_usd_per_hour": 9.5}]},
                    path=tmp_path / "cfg" / ".tagguard.yaml")
    setup = make_pricer(config, ScanOptions())
    assert setup.pricer.card is CARD and setup.pricer.discount_pct == 10
    assert setup.pricer.commitments[0].rate == 9.5
    assert setup.usage is not None and setup.usage_error is None
    assert setup.usage_path == tmp_path / "cfg" / "usage.yaml"
    # --usage wins and is taken as given; an unreadable one is an error to report, and pricing goes on
    setup = make_pricer(config, ScanOptions(usage=str(tmp_path / "missing.yaml")))
    assert setup.usage is None and "missing.yaml" in setup.usage_error and setup.pricer is not None
    other = dataclasses.replace(CARD, instances={})
    assert make_pricer(config, card=other).pricer.card is other
