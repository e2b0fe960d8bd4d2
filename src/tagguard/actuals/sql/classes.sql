-- The service/SKU rules of AI spend, run once per distinct combination of their inputs (a few
-- hundred rows for millions of charges), not once per charge. rollup.sql joins the result.
-- Reads the normalised relation `charges` (see focus.py); engine-neutral (DuckDB, Trino, Athena).
-- Slots {{...}} hold predicates built from policies/ai_services.yaml and the config (ai_spend.py).
-- No WITH clause: remote engines inline this query as a subquery of rollup.sql.
SELECT service_name, service_category, service_subcategory, consumed_unit, sku_id, resource_type,
       charge_description, sku_meter, usage_type,
       CASE WHEN {{ai_predicate}} THEN 1 ELSE 0 END AS is_ai,
       CASE WHEN {{gpu_predicate}} THEN 'gpu'
            WHEN {{token_predicate}} THEN 'tokens'
            ELSE 'ai' END AS usage_kind
FROM (
  SELECT k.*,
         lower(concat_ws(' ', sku_id, resource_type, charge_description, sku_meter, usage_type)) AS match_text
  FROM (
    SELECT DISTINCT service_name, service_category, service_subcategory, consumed_unit, sku_id, resource_type,
           charge_description, sku_meter, usage_type
    FROM {{charges}}
  ) AS k
) AS texts
