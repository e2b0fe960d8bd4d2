-- AI and shared-platform charges rolled up to one row per distinct
-- (month, currency, account, service, provider, kind, usage, pricing bucket, resource, tag map).
-- Reads the normalised relation `charges` (see focus.py) and the result of classes.sql (the classes slot:
-- a temporary table on DuckDB, a subquery elsewhere); engine-neutral (DuckDB, Trino, Athena).
-- Charges are first summed over their raw columns (`agg`), so that the rules run on the sums, not per row.
WITH agg AS (
  SELECT month, currency, sub_account, provider, charge_category, resource_id, tags, pricing_category,
         CASE WHEN commitment_id IS NULL THEN 0 ELSE 1 END AS has_commitment,
         service_name, service_category, service_subcategory, consumed_unit, sku_id, resource_type,
         charge_description, sku_meter, usage_type,
         SUM(cost) AS cost,
         SUM(CASE WHEN cost < 0 THEN cost ELSE 0 END) AS credits,
         COUNT(*) AS n_rows
  FROM {{charges}}
  WHERE NOT bad_cost AND NOT bad_period
  GROUP BY month, currency, sub_account, provider, charge_category, resource_id, tags, pricing_category,
           CASE WHEN commitment_id IS NULL THEN 0 ELSE 1 END,
           service_name, service_category, service_subcategory, consumed_unit, sku_id, resource_type,
           charge_description, sku_meter, usage_type
),
classified AS (
  SELECT
    month,
    currency,
    sub_account,
    service_name,
    provider,
    charge_category,
    resource_id,
    tags,
    cost,
    credits,
    n_rows,
    CASE WHEN {{shared_predicate}} THEN 'shared'
         WHEN is_ai = 1 OR {{resource_ai_predicate}} THEN 'ai'
         WHEN {{node_group_predicate}} THEN 'node_group'
         ELSE 'other' END AS kind,
    usage_kind,
    CASE WHEN pricing_category = 'Dynamic' THEN 'spot'
         WHEN pricing_category = 'Committed' OR has_commitment = 1 THEN 'committed'
         WHEN pricing_category = 'Standard' THEN 'on_demand'
         ELSE 'other' END AS bucket,
    CASE WHEN {{training_predicate}} THEN 1 ELSE 0 END AS training
  FROM agg
  JOIN {{classes}} USING (service_name, service_category, service_subcategory, consumed_unit, sku_id, resource_type,
                          charge_description, sku_meter, usage_type)
)
SELECT
  month,
  currency,
  sub_account,
  service_name,
  provider,
  kind,
  usage_kind,
  bucket,
  charge_category,
  resource_id,
  tags,
  training,
  SUM(cost) AS cost,
  SUM(credits) AS credits,
  SUM(n_rows) AS n_rows
FROM classified
WHERE kind <> 'other'
GROUP BY month, currency, sub_account, service_name, provider, kind, usage_kind, bucket,
         charge_category, resource_id, tags, training
