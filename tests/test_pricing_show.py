"""``tagguard pricing show TYPE`` output (the lead wires the click command)."""
from __future__ import annotations

import json

from tagguard.pricing.show import render_pricing_show

KARPENTER_URL = ("https://github.com/aws/karpenter-provider-aws/blob/6fc13b5236fd04fd16ff3f9dc7490d0813994099/"
                 "pkg/providers/pricing/zz_generated.pricing_aws.go")


def test_text_known_type_with_sources_and_unknowns():
    text, code = render_pricing_show("p4d.24xlarge", None, "text")
    assert code == 0
    assert "8 x NVIDIA A100 [A100]" in text
    assert "$21.957642/h" in text and "$16,029.08/month" in text  # 21.957642 * 730 = 16029.07866
    assert KARPENTER_URL in text and "2026-07-20" in text
    assert text.count("unknown (no citable source)") == 3  # spot, 1y, 3y
    assert "2025-04-28  $32.7726/h" in text


def test_text_gcp_all_rates():
    text, code = render_pricing_show("a2-highgpu-1g", "gcp", "text")
    assert code == 0 and "unknown" not in text
    assert "$1,689.37/month" in text  # 2.314207 * 730 = 1689.37111
    assert "published_spot_price, 47.5% below on-demand" in text


def test_json_known_type():
    out, code = render_pricing_show("Standard_NV6ads_A10_v5", "azure", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["accelerator_count"] == 0.1667 and doc["gpu_model"] == "A10"
    assert doc["rates"]["on_demand"] == {"source": None, "usd_per_gpu_hour": None, "usd_per_hour": None,
                                         "usd_per_month": None}


def test_json_monthly_and_source():
    doc = json.loads(render_pricing_show("ml.g5.xlarge", "aws", "json")[0])
    od = doc["rates"]["on_demand"]
    assert od["usd_per_month"] == 1.4084 * 730
    assert od["source"]["id"] == "fmbench-pricing-2025-01-26" and od["source"]["date"] == "2025-01-26"


def test_unknown_type_did_you_mean():
    text, code = render_pricing_show("p4d.24xlarg", None, "text")
    assert code != 0 and "did you mean: p4d.24xlarge" in text
    text, code = render_pricing_show("x9.huge", None, "text")
    assert code == 2 and "unknown instance type 'x9.huge'" in text


def test_family_member_without_rates():
    text, code = render_pricing_show("g5.96xlarge", None, "text")
    assert code == 1 and "family g5.* (A10G" in text and "GPU count unknown" in text
    doc = json.loads(render_pricing_show("a3-highgpu-16g", None, "json")[0])
    assert doc["family"]["gpu_model"] == "H100" and "16 GPUs per the name" in doc["error"]
