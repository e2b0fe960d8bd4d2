"""``tagguard usage``: read LLM call logs (tagguard JSONL, LiteLLM spend logs, OpenTelemetry GenAI
spans), price tokens, aggregate per caller / day / week, check budgets and the taxonomy, report.

* ``ingest``: streaming readers and the tag mapping (``Reader``, ``TagMapper``, ``Call``);
* ``prices``: the token price table (shipped ``policies/`` data plus config);
* ``aggregate``: bounded per-caller and per-day tables, anomalies;
* ``budgets``: token budgets (``llm.budgets``) as findings;
* ``report``: ``analyse`` (the steps above) and the renderers.

Nothing in ``tagguard.llm.sdk`` imports this package.
"""
