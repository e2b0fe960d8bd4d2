"""``tagguard bill coverage|showback|export PATH...``: actual AI spend from FOCUS billing exports.

PATH is a FOCUS export file (.parquet, .csv, .csv.gz), a directory of them (read recursively) or a
glob of monthly partitions. See docs/actuals.md.
"""
from __future__ import annotations

from pathlib import Path

import click

from tagguard.cli import config_option, load_config_or_exit, parse_pairs, write_output
from tagguard.errors import fail
from tagguard.model import EXIT_FINDINGS, EXIT_OK

from tagguard.formats.escape import term as _term


def _common(f):
    f = click.option("--threads", type=click.IntRange(1, 64), default=None,
                     help="DuckDB threads (default 2, or bill.threads).")(f)
    f = click.option("--memory-limit", default=None, metavar="SIZE",
                     help="DuckDB memory limit, e.g. 1GB (default 1GB, or bill.memory_limit); "
                          "larger work spills to disk.")(f)
    f = click.option("--cost-column", default=None, metavar="COLUMN",
                     help="Cost column to sum (default EffectiveCost: amortised commitments and discounts; "
                          "or BilledCost, ListCost, ContractedCost).")(f)
    f = click.option("--engine", type=click.Choice(["duckdb", "athena", "trino"]), default="duckdb", show_default=True,
                     help="Query engine: embedded DuckDB over files, or the same SQL on Athena/Trino "
                          "(PATH is then a table name).")(f)
    f = click.option("--engine-option", "engine_options", multiple=True, metavar="KEY=VALUE",
                     help="Connection setting for --engine athena|trino "
                          "(e.g. host=, port=, catalog=, schema=, s3_staging_dir=, region_name=); repeatable.")(f)
    f = click.option("--tags-type", type=click.Choice(["json", "map"]), default="json", show_default=True,
                     help="For --engine athena|trino: the Tags column is JSON text or a map (AWS FOCUS Parquet).")(f)
    f = click.option("--format", "-f", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
                     show_default=True, help="Output format.")(f)
    f = click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the report to FILE instead of stdout.")(f)
    f = config_option(f)
    f = click.argument("paths", nargs=-1, required=True)(f)
    return f


def _open(paths, config, kw, **overrides):
    from tagguard.actuals import BillError
    from tagguard.actuals.coverage import analyse, settings_from_config

    try:
        settings = settings_from_config(config, cost_column=kw.get("cost_column"), memory_limit=kw.get("memory_limit"),
                                        threads=kw.get("threads"), **overrides)
        if kw.get("engine", "duckdb") == "duckdb":
            from tagguard.actuals.focus import open_source

            source = open_source(list(paths), cost_column=settings.cost_column, memory_limit=settings.memory_limit,
                                 threads=settings.threads)
        else:
            from tagguard.actuals.engines import open_remote

            if len(paths) != 1:
                fail(f"--engine {kw['engine']} reads one table; got {len(paths)} names")
            source = open_remote(kw["engine"], paths[0],
                                 parse_pairs(kw.get("engine_options") or (), "--engine-option", "KEY=VALUE"),
                                 cost_column=settings.cost_column, tags_type=kw.get("tags_type") or "json")
        return analyse(source, config, settings), source
    except BillError as exc:
        fail(str(exc))


@click.group()
def bill():
    """Actual AI spend from FOCUS billing exports: allocation coverage, showback/chargeback, FOCUS 1.3 export.

    Reads FOCUS 1.0-1.3 cost-and-usage exports (Parquet, CSV, CSV.gz; a file, a directory or a glob)
    with DuckDB in-process. Needs the `bill` extra: pip install 'tagguard[bill]'.
    """


@bill.command()
@_common
@click.option("--scan", "scans", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="tagguard JSON report (scan or drift) that maps ResourceId to the file and line to fix "
                   "(repeatable).")
@click.option("--state", "states", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="Terraform state (JSON) that maps ARNs/ids to addresses, located through --scan (repeatable).")
@click.option("--top", type=click.IntRange(0, 10_000), default=None,
              help="How many unallocated resources to list (default 10).")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="PCT",
              help="Exit 1 when the allocated share of AI spend (any currency) is below PCT percent.")
def coverage(paths, config_path, fmt, output, min_coverage, top, scans, states, **kw):
    """Share of AI spend whose tags pass the taxonomy, per required key and overall, by month/account/service/team.

    Lists the unallocated spend's top resources with what is wrong with their tags (and the file:line
    to fix, given --scan), and spot/committed/on-demand shares per team.
    """
    from tagguard.actuals import BillError
    from tagguard.actuals.coverage import coverage_report, resource_map

    config = load_config_or_exit(config_path, paths=["."])  # PATHS are bill files, not a repository
    analysis, _src = _open(paths, config, kw, **({"top": top} if top is not None else {}))
    try:
        rmap = resource_map(list(scans), list(states)) if (scans or states) else None
    except BillError as exc:
        fail(str(exc))
    report = coverage_report(analysis, rmap)
    from tagguard.actuals import report as render

    text = {"json": render.to_json, "markdown": render.coverage_markdown, "text": render.coverage_text}[fmt](report)
    write_output(text, output)
    code = EXIT_OK
    if min_coverage is not None:
        for cur in report["currencies"].values():
            cov = cur["coverage"]
            if cur["ai_total"] > 0 and (cov is None or cov * 100 < min_coverage):
                code = EXIT_FINDINGS
    raise click.exceptions.Exit(code)


@bill.command()
@_common
@click.option("--allocate-shared-by", type=click.Choice(["gpu", "tokens", "ai"]), default=None,
              help="Usage basis for splitting shared platform costs across teams "
                   "(default gpu, or bill.allocate_shared_by).")
def showback(paths, config_path, fmt, output, allocate_shared_by, **kw):
    """Showback/chargeback of actual AI spend by team and environment, with shared platform costs split by usage.

    Shared costs (bill.shared in the config) go to teams in proportion to their GPU spend, token spend or
    AI spend in the same month; never evenly. Also: month-over-month trend by team and the tag dimensions.
    """
    from tagguard.actuals.allocate import showback as build

    config = load_config_or_exit(config_path, paths=["."])  # PATHS are bill files, not a repository
    analysis, _src = _open(paths, config, kw,
                           **({"allocate_shared_by": allocate_shared_by} if allocate_shared_by else {}))
    report = build(analysis)
    from tagguard.actuals import report as render

    text = {"json": render.to_json, "markdown": render.showback_markdown, "text": render.showback_text}[fmt](report)
    write_output(text, output)


@bill.command()
@click.argument("paths", nargs=-1, required=True)
@config_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FOCUS 1.3 file to write: .parquet or .csv.")
@click.option("--cost-column", default=None, metavar="COLUMN",
              help="Cost column the allocation basis is measured in (default EffectiveCost).")
@click.option("--allocate-shared-by", type=click.Choice(["gpu", "tokens", "ai"]), default=None,
              help="Usage basis for splitting shared platform costs (default gpu, or bill.allocate_shared_by).")
@click.option("--memory-limit", default=None, metavar="SIZE", help="DuckDB memory limit (default 1GB).")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="DuckDB threads (default 2).")
@click.option("--cluster", "clusters", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A `tagguard cluster report -f json` output (repeatable): its nodes' machine charges are split by "
                   "team share of GPU capacity (docs/cluster.md).")
def export(paths, config_path, out, cost_column, allocate_shared_by, memory_limit, threads, clusters):
    """Write the bill with shared charges split into FOCUS 1.3 allocated rows (AllocatedMethodId, AllocatedMethodDetails,
    AllocatedResourceId, AllocatedResourceName, AllocatedTags); every other row passes through with those columns null.
    With --cluster, the charges of a cluster node's machine in the report's window are split per team too."""  # noqa: E501
    from tagguard.actuals import BillError
    from tagguard.actuals.export import export_focus13, read_cluster_reports

    try:
        docs = read_cluster_reports(clusters)
    except BillError as exc:
        fail(str(exc))
    config = load_config_or_exit(config_path, paths=["."])  # PATHS are bill files, not a repository
    kw = {"cost_column": cost_column, "memory_limit": memory_limit, "threads": threads, "engine": "duckdb"}
    analysis, source = _open(paths, config, kw,
                             **({"allocate_shared_by": allocate_shared_by} if allocate_shared_by else {}))
    try:
        summary = export_focus13(analysis, source, str(out), cluster=docs or None)
    except BillError as exc:
        fail(str(exc))
    nodes = f", {summary['cluster_nodes']} cluster node(s) matched by machine id" if docs else ""
    click.echo(f"wrote {_term(out)}: {summary['rows']} rows, {summary['split_origins']} shared charges split into "
               f"{summary['allocated_rows']} allocated rows ({summary['unsplit_origins']} left unallocated{nodes})")
    for p in analysis.problems:
        click.echo(f"tagguard: warning: {_term(p)}", err=True)


@bill.command()
@_common
@click.option("--month", default=None, metavar="YYYY-MM", help="Month to measure (default: the bill's latest).")
def budgets(paths, config_path, fmt, output, month, **kw):
    """Each budget's month-to-date actual spend and a linear forecast to month end.

    Budgets are the `budgets:` of the config (match, monthly_usd, mode, kind). Exit 1 when a chargeback
    budget is over, or forecast over, its monthly_usd.
    """
    import re

    from tagguard.actuals import BillError
    from tagguard.actuals.budgets import blocking, budget_report, budgets_text

    if month is not None and not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", month):
        fail(f"--month expects YYYY-MM, got {month!r}")
    config = load_config_or_exit(config_path, paths=["."])  # PATHS are bill files, not a repository
    analysis, _src = _open(paths, config, kw)
    try:
        report = budget_report(analysis, config, month)
    except BillError as exc:
        fail(str(exc))
    from tagguard.actuals import report as render

    if fmt == "json":
        text = render.to_json(report)
    else:
        text = budgets_text(report)
        if fmt == "markdown":
            text = "```\n" + text.replace("```", "'''") + "```\n"
    write_output(text, output)
    raise click.exceptions.Exit(EXIT_FINDINGS if blocking(report) else EXIT_OK)
