"""Read FOCUS exports (CSV, CSV.gz, Parquet; a file, a directory or a glob) into DuckDB.

``open_source(paths, cost_column=...)`` probes every file's columns, reports files that lack a
required column (one line per file, naming the missing columns and near spellings) and builds the
normalised view ``charges`` that the engine-neutral queries in ``sql/`` read:

    month, period_day, cost, billed_cost, currency, charge_category, charge_class, provider,
    service_name, service_category, service_subcategory, consumed_unit, sku_id, resource_type,
    charge_description, sku_meter, usage_type (these nine never NULL: '' when absent),
    resource_id, pricing_category, commitment_id, consumed_qty, sub_account, region, tags,
    bad_cost, bad_period, src_file

Files are grouped by schema (format, Tags type, which optional columns exist) and each group is
read with ``union_by_name`` so that schema drift across FOCUS versions never drops or shifts a
column. CSV is read as text (no type guessing: costs are cast to DECIMAL(38,10), never DOUBLE);
rows DuckDB cannot parse are kept in its reject table and reported with file and line.
Extensions are never downloaded (autoinstall/autoload off); ``s3://`` works only when the httpfs
extension is already installed.
"""
from __future__ import annotations

import glob as _glob
import os
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from tagguard.actuals import BillError
from tagguard.actuals.sqlfiles import ident, literal

DEFAULT_COST = "EffectiveCost"
REQUIRED = ("BillingCurrency", "ChargeCategory", "ChargePeriodStart", "ServiceName", "ResourceId", "Tags")
# optional column -> what is lost without it (stated in the report)
OPTIONAL = {
    "BilledCost": "credits are judged on the cost column only",
    "ChargeClass": "corrections are not told apart",
    "ProviderName": "provider (Azure tag keys compare case-insensitively) is unknown",
    "ServiceProviderName": "",
    "ServiceCategory": "AI is identified without the FOCUS ServiceCategory",
    "ServiceSubcategory": "",
    "ResourceName": "",
    "ResourceType": "",
    "SkuId": "",
    "PricingCategory": "spot/committed/on-demand shares are unknown",
    "CommitmentDiscountId": "",
    "ConsumedQuantity": "",
    "ConsumedUnit": "token usage is recognised by service name only",
    "SubAccountId": "spend by account is not available",
    "RegionId": "",
    "ChargeDescription": "",
    "SkuMeter": "",
    "x_UsageType": "",
}
SUFFIXES = (".parquet", ".csv", ".csv.gz")
# FOCUS CSV exports are comma-separated with RFC 4180 quoting; fixed so one odd line cannot mislead the sniffer
CSV_OPTIONS = "all_varchar=true, header=true, delim=',', quote='\"', escape='\"'"


@dataclass
class Source:
    con: Any  # duckdb connection with the view ``charges``
    files: list[str]
    cost_column: str
    problems: list[str] = field(default_factory=list)  # one line each: skipped files, rejected rows
    notes: list[str] = field(default_factory=list)  # absent optional columns and what that costs
    rejected_rows: int = 0
    relation: str = "charges"  # what the {{charges}} slot of the SQL files becomes
    engine: str = "duckdb"

    def run(self, sql: str):
        """Execute one query of ``sql/`` (already rendered); returns a cursor with fetchall/fetchmany."""
        return self.con.execute(sql)

    def materialize(self, name: str, sql: str) -> str:
        """A small intermediate result other queries join: a temporary table here (so that DuckDB's
        planner knows its size), a subquery on remote engines."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")
        return name


def connect(memory_limit: str = "1GB", threads: int = 2, temp_directory: str | None = None):
    try:
        import duckdb
    except ModuleNotFoundError:
        raise BillError("reading FOCUS exports needs DuckDB: pip install 'tagguard[bill]'") from None
    config: dict[str, str | bool | int | float | list[str]] = {"memory_limit": memory_limit, "threads": int(threads),
              "autoinstall_known_extensions": False, "autoload_known_extensions": False}
    if temp_directory:
        config["temp_directory"] = temp_directory
    try:
        con = duckdb.connect(config=config)
    except duckdb.Error as exc:
        raise BillError(f"cannot start DuckDB: {_first_line(exc)}") from None
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # never draw on the user's terminal
    return con


def expand(paths: Sequence[str]) -> list[str]:
    """Files named by PATHS: files, directories (recursively) and globs; s3:// URLs pass through."""
    out: list[str] = []
    for p in paths:
        if p.startswith("s3://"):
            out.append(p)
            continue
        if any(ch in p for ch in "*?["):
            hits = sorted(h for h in _glob.glob(p, recursive=True) if os.path.isfile(h))
            if not hits:
                raise BillError(f"{p}: the glob matches no file")
            hits = [h for h in hits if _is_focus_file(h)]
            if not hits:
                raise BillError(f"{p}: the glob matches no FOCUS file ({', '.join(SUFFIXES)})")
            out.extend(hits)
            continue
        path = Path(p)
        if path.is_dir():
            hits = sorted(str(f) for f in path.rglob("*") if f.is_file() and _is_focus_file(str(f)))
            if not hits:
                raise BillError(f"{p}: no FOCUS files ({', '.join(SUFFIXES)}) in this directory")
            out.extend(hits)
        elif path.is_file():
            _is_focus_file(p) or _fail_suffix(p)
            out.append(p)
        else:
            raise BillError(f"{p}: no such file or directory")
    return list(dict.fromkeys(out))  # first occurrence of each, in order


def _is_focus_file(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def _fail_suffix(name: str) -> bool:
    raise BillError(f"{name}: not a FOCUS export file (expected {', '.join(SUFFIXES)})")


def _kind(name: str) -> str:
    return "parquet" if name.lower().endswith(".parquet") else "csv"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _probe(con, name: str) -> dict[str, str]:
    """column name -> DuckDB type of one file (CSV: all VARCHAR)."""
    if _kind(name) == "parquet":
        sql = f"DESCRIBE SELECT * FROM read_parquet({literal(name)})"
    else:
        sql = f"DESCRIBE SELECT * FROM read_csv({literal(name)}, {CSV_OPTIONS}, sample_size=2048, ignore_errors=true)"
    rows = con.execute(sql).fetchall()
    return {r[0]: r[1] for r in rows}


def missing_columns(columns: Sequence[str], cost_column: str) -> list[str]:
    """Required columns absent from ``columns``, each with near spellings if any."""
    present = set(columns)
    out = []
    folded = {c.casefold(): c for c in columns}
    for need in (cost_column,) + REQUIRED:
        if need in present:
            continue
        near = ([folded[need.casefold()]] if need.casefold() in folded
                else get_close_matches(need, list(columns), n=2, cutoff=0.75))
        out.append(need + (f" (found {', '.join(repr(n) for n in near)})" if near else ""))
    return out


def open_source(paths: Sequence[str], cost_column: str = DEFAULT_COST, con=None, memory_limit: str = "1GB",
                threads: int = 2) -> Source:
    if not cost_column or not all(ch.isalnum() or ch == "_" for ch in cost_column) or cost_column[0].isdigit():
        raise BillError(f"--cost-column {cost_column!r} is not a column name")
    files = expand(paths)
    if not files:
        raise BillError("no FOCUS files given")
    con = con or connect(memory_limit=memory_limit, threads=threads)
    if any(f.startswith("s3://") for f in files):
        _require_httpfs(con)
    src = Source(con=con, files=[], cost_column=cost_column)
    groups: dict[tuple, list[str]] = {}
    absent_everywhere = set(OPTIONAL)
    for name in files:
        if not name.startswith("s3://") and any(ch in os.path.basename(name) for ch in "*?[{"):
            # DuckDB would expand the name as a glob and read other files in its place
            src.problems.append(f"{name}: file name has glob characters (* ? [ {{),"
                                f" which DuckDB would expand; file skipped")
            continue
        try:
            cols = _probe(con, name)
        except Exception as exc:  # duckdb.Error and OS errors: skip the file, keep the rest
            src.problems.append(f"{name}: cannot read ({_first_line(exc)}); file skipped")
            continue
        miss = missing_columns(list(cols), cost_column)
        if miss:
            src.problems.append(f"{name}: missing FOCUS column{'s' if len(miss) > 1 else ''} {', '.join(miss)};"
                                f" file skipped")
            continue
        optional = tuple(sorted(c for c in OPTIONAL if c in cols))
        absent_everywhere -= set(optional)
        key = (_kind(name), _tags_kind(cols["Tags"]), _period_kind(cols["ChargePeriodStart"]), optional)
        groups.setdefault(key, []).append(name)
        src.files.append(name)
    if not src.files:
        detail = (src.problems[0] if len(src.problems) == 1
                  else f"{len(src.problems)} files unreadable; first: {src.problems[0]}")
        raise BillError(f"no readable FOCUS file: {detail}")
    for col in sorted(absent_everywhere):
        if OPTIONAL[col]:
            src.notes.append(f"column {col} is absent: {OPTIONAL[col]}")
    selects = [_group_select(kind, tags_kind, period_kind, set(optional), names, cost_column)
               for (kind, tags_kind, period_kind, optional), names in sorted(groups.items())]
    try:
        con.execute("CREATE OR REPLACE TEMP VIEW charges AS " + "\nUNION ALL\n".join(selects))
    except Exception as exc:
        raise BillError(f"cannot read the FOCUS files: {_first_line(exc)}") from None
    return src


def collect_rejects(src: Source) -> None:
    """After the first full read: CSV rows DuckDB could not parse, with file and line (one line each, first 20)."""
    try:
        rows = src.con.execute(
            "SELECT s.file_path, e.line, e.error_type FROM reject_errors e JOIN reject_scans s "
            "ON e.scan_id = s.scan_id AND e.file_id = s.file_id ORDER BY s.file_path, e.line").fetchall()
    except Exception:
        return  # no CSV read: no reject tables
    seen = set()
    for path, line, err in rows:
        if (path, line) in seen:
            continue  # the view is read by several queries; each may log the same line
        seen.add((path, line))
        src.rejected_rows += 1
        if src.rejected_rows <= 20:
            src.problems.append(f"{path}:{line}: row not read ({str(err).lower().replace('_', ' ')}); other rows kept")
    if src.rejected_rows > 20:
        src.problems.append(f"... and {src.rejected_rows - 20} more unreadable CSV rows")


def _tags_kind(dtype: str) -> str:
    t = dtype.upper()
    if t.startswith("MAP("):
        return "map"
    if t.startswith("STRUCT("):
        return "struct"
    return "text"  # VARCHAR or JSON


def _require_httpfs(con) -> None:
    try:
        row = con.execute("SELECT installed FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()
    except Exception:
        row = None
    if not row or not row[0]:
        raise BillError("s3:// paths need DuckDB's httpfs extension installed beforehand "
                        "(tagguard never downloads extensions): "
                        "python -c \"import duckdb; duckdb.execute('INSTALL httpfs')\"")
    con.execute("LOAD httpfs")


def _period_kind(dtype: str) -> str:
    t = dtype.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return "tstz"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return "ts"
    return "text"


def day_expr(period_kind: str, column: str = '"ChargePeriodStart"') -> str:
    """YYYY-MM-DD (UTC) of the charge period start: how far into its month a bill reaches."""
    if period_kind == "tstz":
        return f"strftime({column} AT TIME ZONE 'UTC', '%Y-%m-%d')"
    if period_kind == "ts":
        return f"strftime(CAST({column} AS TIMESTAMP), '%Y-%m-%d')"
    return (f"CASE WHEN {column} LIKE '____-__-__T__:__:__Z' THEN substr({column}, 1, 10) "
            f"ELSE strftime(TRY_CAST({column} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m-%d') END")


def month_expr(period_kind: str, column: str = '"ChargePeriodStart"') -> str:
    """YYYY-MM of the charge period start in UTC, NULL when unreadable.

    FOCUS dates are ``YYYY-MM-DDTHH:mm:ssZ`` (UTC): those take a substring (cheap on 10 M rows);
    anything else (another offset, a space separator) is parsed, converted to UTC, then formatted."""
    if period_kind == "tstz":
        return f"strftime({column} AT TIME ZONE 'UTC', '%Y-%m')"
    if period_kind == "ts":
        return f"strftime(CAST({column} AS TIMESTAMP), '%Y-%m')"  # naive: FOCUS says UTC
    return (f"CASE WHEN {column} LIKE '____-__-__T__:__:__Z' AND substr({column}, 6, 2) BETWEEN '01' AND '12' "
            f"THEN substr({column}, 1, 7) "
            f"ELSE strftime(TRY_CAST({column} AS TIMESTAMPTZ) AT TIME ZONE 'UTC', '%Y-%m') END")


# the classification inputs: coalesced to '' so that the queries can join on them with plain equality
KEY_COLUMNS = {"service_name": "ServiceName", "service_category": "ServiceCategory",
               "service_subcategory": "ServiceSubcategory", "consumed_unit": "ConsumedUnit", "sku_id": "SkuId",
               "resource_type": "ResourceType", "charge_description": "ChargeDescription", "sku_meter": "SkuMeter",
               "usage_type": "x_UsageType"}


def _group_select(kind: str, tags_kind: str, period_kind: str, optional: set, names: list[str],
                  cost_column: str) -> str:
    file_list = "[" + ", ".join(literal(n) for n in names) + "]"
    if kind == "parquet":
        reader = f"read_parquet({file_list}, union_by_name=true, filename='x_tagguard_file')"
    else:
        # store_rejects (bad lines with file and line) does not combine with union_by_name: one reader per file
        reader = "(" + "\n  UNION ALL BY NAME\n  ".join(
            f"SELECT * FROM read_csv({literal(n)}, {CSV_OPTIONS}, "
            f"ignore_errors=true, store_rejects=true, filename='x_tagguard_file')" for n in names) + ")"

    def col(name: str) -> str:
        if name in optional or name in REQUIRED:
            return f"CAST({ident(name)} AS VARCHAR)"
        return "CAST(NULL AS VARCHAR)"

    def key(name: str) -> str:
        if name in optional or name in REQUIRED:
            return f"COALESCE(CAST({ident(name)} AS VARCHAR), '')"
        return "''"

    def num(name: str) -> str:
        if name in optional or name == cost_column:
            return f"TRY_CAST({ident(name)} AS DECIMAL(38,10))"
        return "CAST(NULL AS DECIMAL(38,10))"

    if tags_kind == "text":
        tags = 'CAST("Tags" AS VARCHAR)'
    else:
        tags = 'CAST(to_json("Tags") AS VARCHAR)'
    provider = ("COALESCE(" + ", ".join(col(c) for c in ("ServiceProviderName", "ProviderName") if c in optional) + ")"
                if {"ServiceProviderName", "ProviderName"} & optional else "CAST(NULL AS VARCHAR)")
    month = month_expr(period_kind)
    cost = num(cost_column)
    keys = ",\n  ".join(f"{key(src)} AS {name}" for name, src in KEY_COLUMNS.items())
    return f"""SELECT
  {month} AS month,
  {day_expr(period_kind)} AS period_day,
  {cost} AS cost,
  {num('BilledCost')} AS billed_cost,
  {col('BillingCurrency')} AS currency,
  {col('ChargeCategory')} AS charge_category,
  {col('ChargeClass')} AS charge_class,
  {provider} AS provider,
  {keys},
  {col('ResourceId')} AS resource_id,
  {col('PricingCategory')} AS pricing_category,
  {col('CommitmentDiscountId')} AS commitment_id,
  {num('ConsumedQuantity')} AS consumed_qty,
  {col('SubAccountId')} AS sub_account,
  {col('RegionId')} AS region,
  {tags} AS tags,
  ({cost} IS NULL AND {ident(cost_column)} IS NOT NULL) AS bad_cost,
  (({month}) IS NULL) AS bad_period,
  x_tagguard_file AS src_file
FROM {reader}"""
