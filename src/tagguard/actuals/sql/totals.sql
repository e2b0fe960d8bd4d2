-- Whole-bill totals per month and currency, and the rows that could not be used.
-- Engine-neutral; reads the normalised relation `charges`.
SELECT
  month,
  currency,
  SUM(CASE WHEN NOT bad_cost THEN cost ELSE 0 END) AS cost,
  SUM(CASE WHEN NOT bad_cost AND cost < 0 THEN cost ELSE 0 END) AS credits,
  COUNT(*) AS n_rows,
  SUM(CASE WHEN bad_cost THEN 1 ELSE 0 END) AS bad_cost_rows,
  SUM(CASE WHEN bad_period THEN 1 ELSE 0 END) AS bad_period_rows,
  MIN(CASE WHEN bad_cost OR bad_period THEN src_file END) AS first_bad_file,
  MAX(period_day) AS last_day
FROM {{charges}}
GROUP BY month, currency
