"""FOCUS 1.3 export of the allocation: shared charges split into allocated charges.

Every row of the input passes through with the FOCUS 1.3 split-allocation columns
(``AllocatedMethodId``, ``AllocatedMethodDetails``, ``AllocatedResourceId``, ``AllocatedResourceName``,
``AllocatedTags``) set to null, except shared platform charges (``bill.shared``) in a month where an
allocation basis exists: each such *origin charge* becomes one *allocated charge* per (team,
environment), following the FOCUS 1.3 attribute "Data Generator Calculated Split Cost Allocation
Handling" (FOCUS_Spec ``attributes/data_generator_calculated_split_cost_allocation_handling.md``):

* summable metrics (costs and quantities present in the file) are multiplied by the pair's ratio;
  the last pair gets the remainder, so they sum exactly to the origin's value;
* other columns (dimensions, unit prices, ``Tags``) are the origin's;
* ``AllocatedMethodId`` is not null, ``AllocatedMethodDetails`` is
  ``{"Elements": [{"AllocatedRatio": r, ...x_ keys}]}`` with the ratios of one origin summing to 1;
* ``AllocatedResourceId``/``AllocatedResourceName`` name the team and environment;
* ``AllocatedTags`` carries the team and environment keys, leaving out keys the origin's Tags
  already hold (it MUST NOT repeat them).

Shared charges that cannot be split (no usage basis that month) pass through unsplit, with the
reason in the analysis. DuckDB writes the file (Parquet or CSV) without materialising it in Python.
"""
from __future__ import annotations

import json
import os
from typing import Any

from tagguard.actuals import BillError
from tagguard.actuals.focus import CSV_OPTIONS
from tagguard.actuals.sqlfiles import ident, literal

SUMMABLE = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity", "ConsumedQuantity",
            "CommitmentDiscountQuantity", "PricingCurrencyEffectiveCost", "PricingCurrencyContractedCost",
            "PricingCurrencyListCost")
ALLOCATED_COLUMNS = ("AllocatedMethodId", "AllocatedMethodDetails", "AllocatedResourceId", "AllocatedResourceName",
                     "AllocatedTags")
METHOD_IDS = {"gpu": "tagguard-shared-by-gpu-spend", "tokens": "tagguard-shared-by-token-spend",
              "ai": "tagguard-shared-by-ai-spend"}


def _raw_select(src, kind: str, tags_kind: str, names: list[str]) -> str:
    if kind == "parquet":
        reader = "read_parquet([" + ", ".join(literal(n) for n in names) + "], union_by_name=true)"
        if tags_kind == "text":
            return f'SELECT * REPLACE (CAST("Tags" AS VARCHAR) AS "Tags") FROM {reader}'
        return f'SELECT * REPLACE (CAST(to_json("Tags") AS VARCHAR) AS "Tags") FROM {reader}'
    return "(" + " UNION ALL BY NAME ".join(
        f"SELECT * FROM read_csv({literal(n)}, {CSV_OPTIONS}, ignore_errors=true)" for n in names) + ")"


CLUSTER_METHOD_ID = "tagguard-cluster-gpu-hours"


def read_cluster_reports(paths) -> list[tuple[str, Any]]:
    """``(name, parsed JSON)`` of ``tagguard cluster report -f json`` outputs: the one reader of
    ``bill export --cluster`` and ``cluster export-focus`` (a file that cannot be read is a one-line
    BillError naming it; its shape is checked by ``cluster_ratios``)."""
    docs: list[tuple[str, Any]] = []
    for p in paths:
        try:
            with open(p, encoding="utf-8") as fh:
                docs.append((str(p), json.load(fh)))
        except (OSError, ValueError, RecursionError) as exc:
            raise BillError(f"{p}: not a readable JSON report ({type(exc).__name__}: {str(exc)[:200]})") from None
    return docs


def cluster_ratios(reports: list[tuple[str, Any]]) -> tuple[list[tuple], list[tuple]]:
    """Split keys and ratios from ``tagguard cluster report -f json`` outputs (``split.nodes``): a bill
    row for a node's machine (ResourceId = the node's ``resource_id``, charge period starting in the
    report's window) becomes one allocated charge per group with the group's share of the node's GPU
    capacity (requested GPU-hours / capacity GPU-hours), plus the unallocated portion (GPUs no pod
    requested; AllocatedResourceId null) unless the report shared idle cost. Returns
    ``(keys: (key, resource_id, start, end), ratios: (key, idx, n, ratio, method, details, alloc_id,
    alloc_name, tag_key, tags))``. Two reports naming one machine in overlapping windows are refused."""
    keys: list[tuple] = []
    ratios: list[tuple] = []
    seen: dict[str, list[tuple[str, str, str]]] = {}
    for name, rep in reports:
        try:
            window, split = rep["window"], rep["split"]
            start, end, group_by = str(window["start"]), str(window["end"]), rep.get("group_by")
            nodes = split.get("nodes") or []
            method = {k: split.get(k) for k in ("mig_basis", "time_slicing")}
            idle = (split.get("idle_sharing") or {}).get("method")
        except (KeyError, TypeError, AttributeError):
            raise BillError(f"{name}: not a `tagguard cluster report -f json` output (window, split)") from None
        for node in nodes:
            rid = node.get("resource_id") if isinstance(node, dict) else None
            allocs = node.get("allocations") if isinstance(node, dict) else None
            if not isinstance(rid, str) or not rid or not isinstance(allocs, list):
                continue  # a node without the cloud's machine id (kube_node_info provider_id) matches no bill row
            for other, o_start, o_end in seen.get(rid.lower(), []):
                if start < o_end and o_start < end:
                    raise BillError(f"{name}: node {rid} is also in {other} for an overlapping window; give reports "
                                    "with windows that do not overlap")
            seen.setdefault(rid.lower(), []).append((name, start, end))
            key = len(keys)
            keys.append((key, rid.lower(), start, end))
            parts = [(str(a["group"]), float(a["ratio"]), float(a.get("gpu_hours") or 0.0)) for a in allocs
                     if isinstance(a, dict) and isinstance(a.get("ratio"), (int, float)) and a["ratio"] > 0]
            un = float(node.get("unallocated_ratio") or 0.0)
            if un > 0:
                parts.append(("", un, 0.0))  # the unallocated portion: no AllocatedResourceId
            total = sum(p[1] for p in parts)
            if total <= 0:
                continue
            run = 0.0
            for idx, (group, ratio, hours) in enumerate(parts, start=1):
                r = ratio / total if idx < len(parts) else 1.0 - run  # the ratios of one origin sum to 1
                run += r
                element = {"AllocatedRatio": r, "x_Basis": "GPU-hours requested by Running pods / node GPU capacity",
                           "x_GpuHours": hours, "x_CapacityGpuHours": node.get("capacity_gpu_hours"),
                           "x_Window": f"{start}/{end}", "x_MigBasis": method["mig_basis"],
                           "x_TimeSlicing": method["time_slicing"], "x_IdleSharing": idle}
                if not group:
                    element["x_Portion"] = "GPU capacity no pod requested"
                details = json.dumps({"Elements": [element]})
                if group:
                    tag_key = str(group_by) if group_by and not group.startswith("(") else None
                    ratios.append((key, idx, len(parts), r, CLUSTER_METHOD_ID, details, f"tagguard:{group_by}={group}",
                                   group, tag_key, json.dumps({tag_key: group}) if tag_key else "{}"))
                else:
                    ratios.append((key, idx, len(parts), r, CLUSTER_METHOD_ID, details, None, None, None, "{}"))
    return keys, ratios


def export_focus13(analysis, source, out_path: str, cluster: list[tuple[str, Any]] | None = None) -> dict[str, Any]:
    """Write the bill with its shared charges split (and a cluster's node machines split) to
    ``out_path`` (.parquet or .csv); the counts of what was written."""
    from tagguard.actuals import ai_spend
    from tagguard.actuals.focus import _first_line

    lower = _check_output(source, out_path)
    s = analysis.settings
    con = source.con
    raw, columns, times = _read_inputs(source)
    _load_shared_ratios(con, analysis)
    # a running cluster's split of its nodes' machines (tagguard cluster report): see cluster_ratios
    node_keys = _load_node_ratios(con, cluster or [])
    shared = ai_spend.shared_predicate(s.shared, service='CAST(t."ServiceName" AS VARCHAR)',
                                       resource='CAST(t."ResourceId" AS VARCHAR)', tags='t."Tags"')
    month_expr = "strftime(TRY_CAST(\"ChargePeriodStart\" AS TIMESTAMPTZ), '%Y-%m')"
    sql = _split_sql(raw, columns, s, shared, month_expr)
    # One order, whatever the thread count: rows in the input's order, an origin's allocated charges in its place
    # in ratio order. Without ORDER BY, DuckDB emits the three branches (and the window's hash partitions) as its
    # threads finish them, so two runs of one export (bill export --cluster, cluster export-focus) differed.
    fmt, replace = _output_format(lower, times)
    sql = f"SELECT * EXCLUDE (x_tg_o, x_tg_i){replace} FROM ({sql}) ORDER BY x_tg_o, x_tg_i"
    try:
        con.execute(f"COPY ({sql}) TO {literal(out_path)} {fmt}")
        counts = con.execute(
            f"SELECT COUNT(*), COUNT(AllocatedMethodId) FROM "
            f"{'read_parquet' if lower.endswith('.parquet') else 'read_csv'}({literal(out_path)}"
            f"{', all_varchar=true' if lower.endswith('.csv') else ''})").fetchone()
        in_ratios = (f"EXISTS (SELECT 1 FROM tg_ratios r WHERE r.month = {month_expr} "
                     f"AND r.currency = CAST(t.\"BillingCurrency\" AS VARCHAR))")
        origins, unsplit = con.execute(
            f"WITH raw AS ({raw}) SELECT COUNT(CASE WHEN {in_ratios} THEN 1 END),"
            f" COUNT(CASE WHEN NOT {in_ratios} THEN 1 END) "
            f"FROM raw t WHERE {shared}").fetchone()
    except BillError:
        raise
    except Exception as exc:
        raise BillError(f"{out_path}: export failed: {_first_line(exc)}") from None
    return {"rows": int(counts[0]), "allocated_rows": int(counts[1]), "split_origins": int(origins),
            "unsplit_origins": int(unsplit), "columns": columns + list(ALLOCATED_COLUMNS),
            "cluster_nodes": len(node_keys)}


def _check_output(source, out_path: str) -> str:
    """The export's engine and file type checked and its directory made; the path in lower case."""
    if source.engine != "duckdb":
        raise BillError("export runs on the DuckDB engine (local or s3:// files)")
    lower = out_path.lower()
    if not (lower.endswith(".parquet") or lower.endswith(".csv")):
        raise BillError(f"{out_path}: the export must be .parquet or .csv")
    parent = os.path.dirname(os.path.abspath(out_path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise BillError(f"{out_path}: cannot create {parent}: {exc.strerror or exc}") from None
    return lower


def _read_inputs(source) -> tuple[str, list[str], dict[str, str]]:
    """The input files as one SELECT (by file type and Tags type), their columns in first-seen
    order and the timestamp columns' types (for the CSV date format).  An input that already has
    FOCUS 1.3 allocation columns is refused."""
    from tagguard.actuals.focus import _kind, _probe, _tags_kind

    groups: dict[tuple, list[str]] = {}
    columns: list[str] = []
    times: dict[str, str] = {}  # column -> its timestamp type, for the CSV date format
    for name in source.files:
        cols = _probe(source.con, name)
        for c, dtype in cols.items():
            if c not in columns and c != "x_tagguard_file":
                columns.append(c)
            if dtype.upper().startswith("TIMESTAMP"):
                times[c] = dtype.upper()
        groups.setdefault((_kind(name), _tags_kind(cols["Tags"])), []).append(name)
    for c in ALLOCATED_COLUMNS:
        if c in columns:
            raise BillError(f"the input already has FOCUS 1.3 allocation column {c};"
                            f" splitting it again is not supported")
    raw = "\nUNION ALL BY NAME\n".join(_raw_select(source, k, t, n) for (k, t), n in sorted(groups.items()))
    return raw, columns, times


def _load_shared_ratios(con, analysis) -> None:
    """``tg_ratios``: per month and currency, each (team, environment)'s share of the shared
    charges (the ratios of one origin sum to 1: the last takes the remainder)."""
    from tagguard.actuals.allocate import ratio_rows

    s = analysis.settings
    con.execute("CREATE OR REPLACE TEMP TABLE tg_ratios (month VARCHAR, currency VARCHAR, idx INTEGER, n INTEGER, "
                "ratio DOUBLE, method VARCHAR, details VARCHAR, alloc_id VARCHAR, alloc_name VARCHAR, "
                "tags_both VARCHAR, tags_team VARCHAR, tags_env VARCHAR)")
    rows = []
    by_origin: dict[tuple, list] = {}
    for month, cur, team, env, ratio, basis, idx, n in ratio_rows(analysis):
        by_origin.setdefault((month, cur), []).append([month, cur, team, env, float(ratio), basis, idx, n])
    for items in by_origin.values():
        if len(items) > 1:  # the ratios of one origin sum to 1 (the last takes the remainder)
            items[-1][4] = 1.0 - sum(it[4] for it in items[:-1])
        for month, cur, team, env, ratio, basis, idx, n in items:
            details = json.dumps({"Elements": [{"AllocatedRatio": ratio, "x_Basis": s.allocate_shared_by,
                                                "x_BasisCost": float(basis), "x_BasisCostColumn": analysis.cost_column,
                                                "x_BasisCurrency": cur}]})
            rows.append((month, cur, idx, n, ratio, METHOD_IDS[s.allocate_shared_by], details,
                         f"tagguard:{s.team_key}={team}/{s.env_key}={env}", f"{team} ({env})",
                         json.dumps({s.team_key: team, s.env_key: env}), json.dumps({s.team_key: team}),
                         json.dumps({s.env_key: env})))
    if rows:
        con.executemany("INSERT INTO tg_ratios VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _load_node_ratios(con, cluster: list[tuple[str, Any]]) -> list[tuple]:
    """``tg_node_keys`` / ``tg_node_ratios`` from the cluster reports (``cluster_ratios``); the node keys."""
    node_keys, node_ratios = cluster_ratios(cluster)
    con.execute("CREATE OR REPLACE TEMP TABLE tg_node_keys (k INTEGER, rid VARCHAR, t0 TIMESTAMPTZ, t1 TIMESTAMPTZ)")
    con.execute("CREATE OR REPLACE TEMP TABLE tg_node_ratios (k INTEGER, idx INTEGER, n INTEGER, ratio DOUBLE, "
                "method VARCHAR, details VARCHAR, alloc_id VARCHAR, alloc_name VARCHAR, tag_key VARCHAR, tags VARCHAR)")
    if node_keys:
        con.executemany("INSERT INTO tg_node_keys VALUES (?, ?, ?, ?)", node_keys)
        con.executemany("INSERT INTO tg_node_ratios VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", node_ratios)
    return node_keys


def _split_sql(raw: str, columns: list[str], s, shared: str, month_expr: str) -> str:
    """The query of the export's rows: the input's rows that pass through, and the allocated
    charges of the shared charges (``split``) and of the cluster nodes' machines (``nodesplit``),
    each with its origin (``x_tg_o``) and place among them (``x_tg_i``)."""
    present_sum = [c for c in SUMMABLE if c in columns]
    split_cols = []
    for c in present_sum:
        q = ident(c)
        alloc = f"CAST(TRY_CAST({q} AS DOUBLE) * r.ratio AS DECIMAL(38,10))"
        split_cols.append(
            f"CASE WHEN r.idx < r.n THEN {alloc} ELSE TRY_CAST({q} AS DECIMAL(38,10)) - "
            f"COALESCE(SUM(CASE WHEN r.idx < r.n THEN {alloc} END) OVER (PARTITION BY t.x_tg_origin), 0) END AS {q}")
    # AllocatedTags MUST NOT repeat a key of the origin's Tags: leave out keys its Tags text names
    has_team = f"strpos(COALESCE(t.\"Tags\", ''), {literal(json.dumps(s.team_key))}) > 0"
    has_env = f"strpos(COALESCE(t.\"Tags\", ''), {literal(json.dumps(s.env_key))}) > 0"
    alloc_tags = (f"CASE WHEN {has_team} AND {has_env} THEN '{{}}' WHEN {has_team} THEN r.tags_env "
                  f"WHEN {has_env} THEN r.tags_team ELSE r.tags_both END")
    helper = "x_tg_month, x_tg_currency, x_tg_shared, x_tg_origin, service_name, resource_id, x_tg_node"
    # x_tg_node: the cluster node whose machine the row bills (a shared charge split above is not split again)
    node_of = ("(SELECT min(k.k) FROM tg_node_keys k WHERE (lower(CAST(t.\"ResourceId\" AS VARCHAR)) = k.rid "
               "OR lower(CAST(t.\"ResourceId\" AS VARCHAR)) LIKE '%/' || k.rid) "
               "AND TRY_CAST(t.\"ChargePeriodStart\" AS TIMESTAMPTZ) >= k.t0 "
               "AND TRY_CAST(t.\"ChargePeriodStart\" AS TIMESTAMPTZ) < k.t1)")
    sql = f"""
WITH raw AS ({raw}),
t0 AS (
  SELECT *, {month_expr} AS x_tg_month, CAST("BillingCurrency" AS VARCHAR) AS x_tg_currency,
         CAST("ServiceName" AS VARCHAR) AS service_name, CAST("ResourceId" AS VARCHAR) AS resource_id,
         CASE WHEN {shared} THEN 1 ELSE 0 END AS x_tg_shared,
         row_number() OVER () AS x_tg_origin
  FROM raw t
),
t AS (
  SELECT * REPLACE (CASE WHEN x_tg_shared = 1 AND EXISTS (SELECT 1 FROM tg_ratios r WHERE r.month = t.x_tg_month
                    AND r.currency = t.x_tg_currency) THEN NULL ELSE x_tg_node END AS x_tg_node)
  FROM (SELECT *, {node_of} AS x_tg_node FROM t0 t) t
),
passthrough AS (
  SELECT t.* EXCLUDE ({helper}),
         CAST(NULL AS VARCHAR) AS AllocatedMethodId, CAST(NULL AS VARCHAR) AS AllocatedMethodDetails,
         CAST(NULL AS VARCHAR) AS AllocatedResourceId, CAST(NULL AS VARCHAR) AS AllocatedResourceName,
         CAST(NULL AS VARCHAR) AS AllocatedTags, t.x_tg_origin AS x_tg_o, 0 AS x_tg_i
  FROM t
  WHERE t.x_tg_node IS NULL AND (t.x_tg_shared = 0
     OR NOT EXISTS (SELECT 1 FROM tg_ratios r WHERE r.month = t.x_tg_month AND r.currency = t.x_tg_currency))
),
nodesplit AS (
  SELECT t.* EXCLUDE ({helper}{''.join(', ' + ident(c) for c in present_sum)}),
         {', '.join(split_cols) + ',' if split_cols else ''}
         r.method AS AllocatedMethodId, r.details AS AllocatedMethodDetails,
         r.alloc_id AS AllocatedResourceId, r.alloc_name AS AllocatedResourceName,
         CASE WHEN r.tag_key IS NOT NULL AND strpos(COALESCE(t."Tags", ''), to_json(r.tag_key)::VARCHAR) > 0
              THEN '{{}}' ELSE r.tags END AS AllocatedTags, t.x_tg_origin AS x_tg_o, r.idx AS x_tg_i
  FROM t JOIN tg_node_ratios r ON r.k = t.x_tg_node
),
split AS (
  SELECT t.* EXCLUDE ({helper}{''.join(', ' + ident(c) for c in present_sum)}),
         {', '.join(split_cols) + ',' if split_cols else ''}
         r.method AS AllocatedMethodId, r.details AS AllocatedMethodDetails,
         r.alloc_id AS AllocatedResourceId, r.alloc_name AS AllocatedResourceName,
         {alloc_tags} AS AllocatedTags, t.x_tg_origin AS x_tg_o, r.idx AS x_tg_i
  FROM t JOIN tg_ratios r ON r.month = t.x_tg_month AND r.currency = t.x_tg_currency
  WHERE t.x_tg_shared = 1
)
SELECT * FROM passthrough
UNION ALL BY NAME
SELECT * FROM split
UNION ALL BY NAME
SELECT * FROM nodesplit
"""
    return sql


def _output_format(lower: str, times: dict[str, str]) -> tuple[str, str]:
    """DuckDB's COPY options for the file type, and for CSV the timestamp columns as FOCUS
    Date/Time text (UTC, YYYY-MM-DDTHH:mm:ssZ)."""
    if lower.endswith(".parquet"):
        return "(FORMAT parquet, COMPRESSION zstd)", ""
    replace = ""
    if times:  # FOCUS Date/Time in text: UTC, YYYY-MM-DDTHH:mm:ssZ
        parts = []
        for c, dtype in times.items():
            utc = f"{ident(c)} AT TIME ZONE 'UTC'" if "TIME ZONE" in dtype or dtype == "TIMESTAMPTZ" else ident(c)
            parts.append(f"strftime({utc}, '%Y-%m-%dT%H:%M:%SZ') AS {ident(c)}")
        replace = f" REPLACE ({', '.join(parts)})"
    return "(FORMAT csv, HEADER)", replace
