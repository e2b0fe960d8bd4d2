"""Actual AI spend from FOCUS billing exports (``tagguard bill ...``).

Pipeline: ``focus.open_source`` reads CSV / CSV.gz / Parquet FOCUS files into DuckDB and builds
one normalised relation ``charges`` (engine-specific); the queries in ``sql/*.sql`` run on that
relation and are engine-neutral; ``coverage`` validates each distinct tag map of AI spend against
the taxonomy once and rolls the dollars up; ``allocate`` does showback/chargeback with shared costs
split by usage; ``export`` writes the result as FOCUS 1.3 allocated rows.

Nothing here is imported on the ``tagguard scan`` path; DuckDB is imported inside functions.
"""
from __future__ import annotations


class BillError(Exception):
    """A problem with a billing input or a bill option: one line, exit code 2."""
