"""Helpers for the tagguard bill tests: FOCUS rows by hand, the hand-computed bill, CSV writing.

(A module with its own name: `from conftest import` is ambiguous when several test directories have one.)
"""
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "benchmarks") not in sys.path:
    sys.path.insert(0, str(ROOT / "benchmarks"))

COLUMNS = ["ProviderName", "BillingAccountId", "SubAccountId", "BillingCurrency", "ChargePeriodStart",
           "ChargePeriodEnd", "ChargeCategory", "ServiceName", "ServiceCategory", "ResourceId", "ResourceType",
           "SkuId", "x_UsageType", "PricingCategory", "CommitmentDiscountId", "ConsumedQuantity", "ConsumedUnit",
           "EffectiveCost", "BilledCost", "Tags"]


def tags(**kw):
    return json.dumps({k.replace("_", "-"): v for k, v in kw.items()})


def full(team, env="prod", prefix=""):
    return json.dumps({f"{prefix}business-unit": team, f"{prefix}project": "llm", f"{prefix}environment": env,
                       f"{prefix}cost-center": "CC-1"})


def row(**kw):
    base = {"ProviderName": "AWS", "BillingAccountId": "111", "SubAccountId": "acct-a", "BillingCurrency": "USD",
            "ChargePeriodStart": "2026-01-05T00:00:00Z", "ChargePeriodEnd": "2026-01-05T01:00:00Z",
            "ChargeCategory": "Usage", "ServiceName": "Amazon Elastic Compute Cloud", "ServiceCategory": "Compute",
            "ResourceId": "", "ResourceType": "Instance", "SkuId": "SKU1", "x_UsageType": "",
            "PricingCategory": "Standard",
            "CommitmentDiscountId": "", "ConsumedQuantity": "1", "ConsumedUnit": "Hours", "EffectiveCost": "0",
            "BilledCost": "0", "Tags": ""}
    base.update(kw)
    if "BilledCost" not in kw:
        base["BilledCost"] = base["EffectiveCost"]
    return base


def write_csv(path: Path, rows, columns=None):
    columns = columns or COLUMNS
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


# The hand-computed bill (see test_bill.py for the expected figures).
HAND_ROWS = [
    # 1: GPU instance, every key valid: research/prod, on-demand
    row(ResourceId="i-gpu1", x_UsageType="USE1-BoxUsage:p5.48xlarge", EffectiveCost="100", Tags=full("research")),
    # 2: SageMaker (not GPU: ml.m5), user:-prefixed valid keys: search/dev, spot, in March
    row(ResourceId="arn:aws:sagemaker:us-east-1:1:training-job/train-7", ServiceName="Amazon SageMaker",
        ServiceCategory="AI and Machine Learning", x_UsageType="USE1-Train:ml.m5.xlarge", PricingCategory="Dynamic",
        ChargePeriodStart="2026-03-02T00:00:00Z", EffectiveCost="50", Tags=full("search", "dev", "user:")),
    # 3: Bedrock tokens, committed, cost-center missing
    row(ResourceId="bedrock-model-1", ServiceName="Amazon Bedrock", ServiceCategory="AI and Machine Learning",
        ConsumedUnit="1K Tokens", PricingCategory="Committed", CommitmentDiscountId="cd-1", EffectiveCost="30",
        Tags=tags(business_unit="research", project="chat", environment="prod")),
    # 4: GPU instance, environment "production" is not an allowed value
    row(ResourceId="i-gpu2", x_UsageType="USE1-BoxUsage:g5.xlarge", EffectiveCost="20",
        Tags=tags(business_unit="search", project="x", environment="production", cost_center="CC-2")),
    # 5: S3, not AI
    row(ResourceId="bucket-1", ServiceName="Amazon Simple Storage Service", ServiceCategory="Storage",
        ResourceType="Bucket", EffectiveCost="1000"),
    # 6: credit on the first GPU instance
    row(ResourceId="i-gpu1", x_UsageType="USE1-BoxUsage:p5.48xlarge", ChargeCategory="Credit", PricingCategory="",
        EffectiveCost="-10", Tags=full("research")),
    # 7: SageMaker with malformed Tags JSON
    row(ResourceId="sm-endpoint-1", ServiceName="Amazon SageMaker", ServiceCategory="AI and Machine Learning",
        EffectiveCost="5", Tags='{"business-unit": "research"'),
    # 8: EUR: Azure OpenAI, valid
    row(ProviderName="Microsoft", ResourceId="/subscriptions/s/aoai-1", ServiceName="Azure OpenAI",
        BillingCurrency="EUR", ServiceCategory="AI and Machine Learning", ConsumedUnit="1K Tokens", EffectiveCost="40",
        Tags=json.dumps({"Business-Unit": "research", "project": "p", "environment": "prod", "cost-center": "CC-9"})),
    # 9: shared platform (CloudWatch, tagged shared) in January
    row(ResourceId="cw-1", ServiceName="Amazon CloudWatch", ServiceCategory="Management and Governance",
        EffectiveCost="12", Tags='{"cost-allocation": "shared"}'),
    # 10: shared platform in March: no GPU basis that month
    row(ResourceId="cw-1", ServiceName="Amazon CloudWatch", ServiceCategory="Management and Governance",
        ChargePeriodStart="2026-03-03T00:00:00Z", EffectiveCost="6", Tags='{"cost-allocation": "shared"}'),
]

CONFIG = """\
bill:
  shared:
    tags: {cost-allocation: shared}
  modes: {prod: chargeback, default: showback}
"""


