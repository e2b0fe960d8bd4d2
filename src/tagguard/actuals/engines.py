"""The same queries on Amazon Athena or Trino through their DB-API clients (``--engine athena|trino``).

The SQL files are written in the DuckDB dialect and transpiled with sqlglot (``trino`` for both:
Athena engine v3 is Trino). The normalised ``charges`` relation becomes a subquery over the FOCUS
table named on the command line (``catalog.schema.table``; plain identifiers only). Tags may be JSON
text or a map (AWS FOCUS Parquet, ``--tags-type map``). Extras: ``tagguard[athena]`` (pyathena) or
``tagguard[trino]`` (trino). Connection settings come only from ``--engine-option`` flags and the
environment, never from a bill.
"""
from __future__ import annotations

import re
from typing import Any

from tagguard.actuals import BillError
from tagguard.actuals.focus import DEFAULT_COST, KEY_COLUMNS, Source
from tagguard.actuals.sqlfiles import ident

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}$")
DIALECT = {"athena": "trino", "trino": "trino"}


def charges_subquery(table: str, cost_column: str = DEFAULT_COST, tags_type: str = "json") -> str:
    """The normalised relation over a FOCUS table, in DuckDB dialect (transpiled with the rest).

    Assumes the FOCUS columns the spec makes mandatory or conditional exist (as in the providers'
    FOCUS tables); costs and quantities are cast to DECIMAL(38,10)."""
    if not _TABLE.match(table):
        raise BillError(f"{table!r} is not a table name (catalog.schema.table, plain identifiers)")
    qtable = ".".join(ident(p) for p in table.split("."))
    cost = f"TRY_CAST({ident(cost_column)} AS DECIMAL(38,10))"
    # a map serialised as a JSON object: Trino's json_format(CAST(map AS JSON)); sqlglot keeps it as written
    tags = "json_format(CAST(\"Tags\" AS JSON))" if tags_type == "map" else "CAST(\"Tags\" AS VARCHAR)"
    period = "TRY_CAST(\"ChargePeriodStart\" AS TIMESTAMP)"
    # the FOCUS columns of the providers' tables; x_UsageType is AWS's (give --engine-option-free SQL a NULL)
    present = {"ServiceName", "ServiceCategory", "ServiceSubcategory", "ConsumedUnit", "SkuId", "ResourceType",
               "ChargeDescription", "SkuMeter"}
    keys = ",\n  ".join((f"COALESCE(CAST({ident(src)} AS VARCHAR), '')" if src in present else "''") + f" AS {name}"
                        for name, src in KEY_COLUMNS.items())
    return f"""(SELECT
  strftime({period}, '%Y-%m') AS month,
  strftime({period}, '%Y-%m-%d') AS period_day,
  {cost} AS cost,
  TRY_CAST("BilledCost" AS DECIMAL(38,10)) AS billed_cost,
  CAST("BillingCurrency" AS VARCHAR) AS currency,
  CAST("ChargeCategory" AS VARCHAR) AS charge_category,
  CAST("ChargeClass" AS VARCHAR) AS charge_class,
  CAST("ProviderName" AS VARCHAR) AS provider,
  {keys},
  CAST("ResourceId" AS VARCHAR) AS resource_id,
  CAST("PricingCategory" AS VARCHAR) AS pricing_category,
  CAST("CommitmentDiscountId" AS VARCHAR) AS commitment_id,
  TRY_CAST("ConsumedQuantity" AS DECIMAL(38,10)) AS consumed_qty,
  CAST("SubAccountId" AS VARCHAR) AS sub_account,
  CAST("RegionId" AS VARCHAR) AS region,
  {tags} AS tags,
  ({cost} IS NULL AND {ident(cost_column)} IS NOT NULL) AS bad_cost,
  ({period} IS NULL) AS bad_period,
  CAST(NULL AS VARCHAR) AS src_file
FROM {qtable}) AS charges"""


def transpile(sql: str, engine: str) -> str:
    try:
        import sqlglot
    except ModuleNotFoundError:
        raise BillError(f"--engine {engine} needs sqlglot: pip install 'tagguard[{engine}]'") from None
    out = sqlglot.transpile(sql, read="duckdb", write=DIALECT[engine], error_level=sqlglot.ErrorLevel.RAISE)
    if len(out) != 1:
        raise BillError("internal: one statement expected per SQL file")
    return out[0]


class RemoteSource(Source):
    def materialize(self, name: str, sql: str) -> str:
        return f"({sql}) AS {name}"

    def run(self, sql: str):
        cur = self.con.cursor()
        cur.execute(transpile(sql, self.engine))
        return cur


def connect(engine: str, options: dict[str, str]) -> Any:
    if engine == "athena":
        try:
            from pyathena import connect as athena_connect
        except ModuleNotFoundError:
            raise BillError("--engine athena needs pyathena: pip install 'tagguard[athena]'") from None
        return athena_connect(**options)
    if engine == "trino":
        try:
            import trino
        except ModuleNotFoundError:
            raise BillError("--engine trino needs the trino client: pip install 'tagguard[trino]'") from None
        opts: dict[str, Any] = dict(options)
        if "port" in opts:
            opts["port"] = int(opts["port"])
        return trino.dbapi.connect(**opts)
    raise BillError(f"unknown engine {engine!r}")


def open_remote(engine: str, table: str, options: dict[str, str], cost_column: str = DEFAULT_COST,
                tags_type: str = "json") -> RemoteSource:
    relation = charges_subquery(table, cost_column, tags_type)
    con = connect(engine, options)
    return RemoteSource(con=con, files=[f"{engine}:{table}"], cost_column=cost_column, relation=relation, engine=engine,
                        notes=[f"read through {engine}: rows the engine cannot parse are the engine's to report"])
