"""Generate FOCUS 1.2-shaped cost-and-usage rows for tests and the `tagguard bill` benchmark.

    python benchmarks/focus_gen.py OUT.parquet --rows 10000000 [--months 3] [--seed 7]
    python benchmarks/focus_gen.py OUT.csv --rows 1000

Rows are generated inside DuckDB (``range()`` + hashes), so 10 million rows take seconds and
no Python object per row. The data follows the FOCUS columns tagguard reads: several providers
(AWS, Microsoft, Google Cloud), accounts, GPU instances (x_UsageType/ChargeDescription naming a rate-card
instance type), SageMaker, Bedrock tokens, non-AI compute and storage, a shared platform service, commitment
discounts (PricingCategory Committed + CommitmentDiscountId), spot (Dynamic), credits (negative costs),
and Tags that are right, wrong (a value outside the taxonomy's enum), missing a key, or `user:`-prefixed.
The same seed gives the same file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

RESOURCES = 20_000  # distinct resources; ~rows / RESOURCES charge periods each


def generate_sql(rows: int, months: int = 3, seed: int = 7, resources: int = RESOURCES) -> str:
    rows, months, seed, resources = int(rows), int(months), int(seed), int(resources)
    return f"""
WITH base AS (
  SELECT i,
         (hash(i % {resources} + {seed}) % 1000)::BIGINT AS r,  -- resource-stable draw
         (hash(i * 31 + {seed}) % 1000)::BIGINT AS u,           -- row draw
         i % {resources} AS res,
         (i // {resources}) % {months} AS m
  FROM range({rows}) t(i)
), shaped AS (
  SELECT *,
    CASE WHEN r < 300 THEN 'gpu' WHEN r < 380 THEN 'sagemaker' WHEN r < 450 THEN 'bedrock'
         WHEN r < 470 THEN 'shared' WHEN r < 750 THEN 'compute' ELSE 'storage' END AS what,
    CASE WHEN r % 10 < 6 THEN 'aws' WHEN r % 10 < 8 THEN 'azure' ELSE 'gcp' END AS prov,
    ['research', 'search', 'ads', 'platform'][1 + (r % 4)::INT] AS team,
    ['prod', 'dev', 'staging'][1 + (r % 3)::INT] AS env
  FROM base
)
SELECT
  CASE prov WHEN 'aws' THEN 'AWS' WHEN 'azure' THEN 'Microsoft' ELSE 'Google Cloud' END AS ProviderName,
  'acct-' || (r % 3)::VARCHAR AS BillingAccountId,
  'sub-' || (r % 12)::VARCHAR AS SubAccountId,
  'USD' AS BillingCurrency,
  strftime(TIMESTAMP '2026-01-01' + to_months(m::INT), '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodStart,
  strftime(TIMESTAMP '2026-01-01' + to_months(m::INT + 1), '%Y-%m-%dT%H:%M:%SZ') AS BillingPeriodEnd,
  strftime(TIMESTAMP '2026-01-01' + to_months(m::INT) + to_hours((i // ({resources} * {months})) % 600),
           '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodStart,
  strftime(TIMESTAMP '2026-01-01' + to_months(m::INT) + to_hours((i // ({resources} * {months})) % 600 + 1),
           '%Y-%m-%dT%H:%M:%SZ') AS ChargePeriodEnd,
  CASE WHEN u < 8 THEN 'Credit' ELSE 'Usage' END AS ChargeCategory,
  CAST(NULL AS VARCHAR) AS ChargeClass,
  CASE what WHEN 'gpu' THEN (CASE prov WHEN 'aws' THEN 'Amazon Elastic Compute Cloud'
                                       WHEN 'azure' THEN 'Virtual Machines' ELSE 'Compute Engine' END)
            WHEN 'sagemaker' THEN 'Amazon SageMaker' WHEN 'bedrock' THEN 'Amazon Bedrock'
            WHEN 'shared' THEN 'Amazon CloudWatch'
            WHEN 'compute' THEN 'Amazon Elastic Compute Cloud' ELSE 'Amazon Simple Storage Service' END AS ServiceName,
  CASE WHEN what IN ('sagemaker', 'bedrock') THEN 'AI and Machine Learning' WHEN what = 'storage' THEN 'Storage'
       WHEN what = 'shared' THEN 'Management and Governance' ELSE 'Compute' END AS ServiceCategory,
  CASE WHEN what = 'sagemaker' AND r % 2 = 0 THEN 'arn:aws:sagemaker:us-east-1:1:training-job/train-' || res::VARCHAR
       WHEN what = 'bedrock' THEN NULL ELSE 'res-' || res::VARCHAR END AS ResourceId,
  CASE WHEN what = 'bedrock' THEN NULL ELSE 'res-' || res::VARCHAR END AS ResourceName,
  CASE what WHEN 'storage' THEN 'Bucket' WHEN 'bedrock' THEN NULL ELSE 'Instance' END AS ResourceType,
  'sku-' || what AS SkuId,
  CASE what WHEN 'gpu' THEN (CASE prov WHEN 'aws' THEN 'USE1-BoxUsage:p5.48xlarge'
                                       WHEN 'azure' THEN 'Standard_NC24ads_A100_v4' ELSE 'a2-highgpu-1g' END)
            WHEN 'sagemaker' THEN 'USE1-Train:ml.p4d.24xlarge' WHEN 'bedrock' THEN 'USE1-Claude-InputTokens'
            WHEN 'compute' THEN 'USE1-BoxUsage:m5.xlarge' ELSE 'USE1-TimedStorage-ByteHrs' END AS x_UsageType,
  CASE WHEN u < 8 THEN NULL WHEN u < 150 THEN 'Dynamic' WHEN u < 400 THEN 'Committed' ELSE 'Standard' END
    AS PricingCategory,
  CASE WHEN u >= 150 AND u < 400 THEN 'cd-' || (r % 5)::VARCHAR ELSE NULL END AS CommitmentDiscountId,
  CASE WHEN u < 8 THEN NULL ELSE 1 + (u % 3) END AS ConsumedQuantity,
  CASE what WHEN 'bedrock' THEN '1K Tokens' WHEN 'storage' THEN 'GB-Hours' ELSE 'Hours' END AS ConsumedUnit,
  CAST(CASE WHEN u < 8 THEN -(u + 1) * 0.5 ELSE
       (CASE what WHEN 'gpu' THEN 30 WHEN 'sagemaker' THEN 20 WHEN 'bedrock' THEN 3 WHEN 'shared' THEN 1
                  WHEN 'compute' THEN 0.2 ELSE 0.01 END) * (1 + (u % 7) / 10.0) END AS DECIMAL(18,6)) AS EffectiveCost,
  CAST(CASE WHEN u < 8 THEN -(u + 1) * 0.5 ELSE
       (CASE what WHEN 'gpu' THEN 32 WHEN 'sagemaker' THEN 21 WHEN 'bedrock' THEN 3 WHEN 'shared' THEN 1
                  WHEN 'compute' THEN 0.22 ELSE 0.01 END) * (1 + (u % 7) / 10.0) END AS DECIMAL(18,6)) AS BilledCost,
  'us-east-1' AS RegionId,
  CASE WHEN what = 'shared' THEN '{{"cost-allocation":"shared"}}'
       WHEN r % 20 = 0 THEN NULL
       WHEN r % 20 = 1 THEN '{{"user:project":"p' || (r % 9)::VARCHAR || '"}}'
       WHEN r % 20 = 2 THEN '{{"business-unit":"' || team
                            || '","project":"p1","environment":"production","cost-center":"CC-1"}}'
       WHEN r % 20 = 3 THEN '{{"business-unit":"' || team || '","project":"p1"}}'
       WHEN r % 20 < 10 THEN '{{"user:business-unit":"' || team || '","user:project":"p' || (r % 9)::VARCHAR
                         || '","user:environment":"' || env || '","user:cost-center":"CC-' || (r % 50)::VARCHAR || '"}}'
       ELSE '{{"business-unit":"' || team || '","project":"p' || (r % 9)::VARCHAR || '","environment":"' || env
            || '","cost-center":"CC-' || (r % 50)::VARCHAR || '","aws:createdBy":"x"}}' END AS Tags
FROM shaped
"""


def write(path: str, rows: int, months: int = 3, seed: int = 7, resources: int = RESOURCES, threads: int = 2) -> str:
    import duckdb

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(config={"threads": threads, "memory_limit": "1GB",
                                 "autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    q = generate_sql(rows, months, seed, resources)
    if str(out).endswith(".parquet"):
        con.execute(f"COPY ({q}) TO '{_q(out)}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
    elif str(out).endswith(".csv.gz"):
        con.execute(f"COPY ({q}) TO '{_q(out)}' (FORMAT csv, HEADER, COMPRESSION gzip)")
    else:
        con.execute(f"COPY ({q}) TO '{_q(out)}' (FORMAT csv, HEADER)")
    con.close()
    return str(out)


def _q(p: Path) -> str:
    return str(p).replace("'", "''")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--resources", type=int, default=RESOURCES)
    a = ap.parse_args(argv)
    print(write(a.out, a.rows, a.months, a.seed, a.resources))
    return 0


if __name__ == "__main__":
    sys.exit(main())
