"""``tagguard cluster report``: actual GPU-hours per team from a running cluster's Prometheus."""
from __future__ import annotations

import os
from pathlib import Path

import click

from tagguard.cli import config_option, emit, fail, load_config_or_exit, output_options

FAIL_ON_HELP = ("Lowest severity that makes the exit code 1 (default: `fail_on` in the config, else error). "
                "Unattributed GPU-hours are errors, quota and underuse warnings, savings info.")


def _when(text: str, what: str) -> float:
    from datetime import datetime, timezone

    raw = text.strip()
    try:
        if raw.endswith("Z"):
            raw = raw[:-1] + "+00:00"
        dt = datetime.fromisoformat(raw)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            fail(f"{what} {text!r}: expected RFC 3339 / ISO 8601 (2026-11-01T00:00:00Z), a date or unix seconds")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


@click.group()
def cluster():
    """GPU-hours actually requested and used in running Kubernetes clusters (Prometheus, OpenCost)."""


@cluster.command("report")
@config_option
@click.option("--prometheus", "url", default=None, metavar="URL",
              help="Prometheus base URL (default: $TAGGUARD_PROMETHEUS_URL). Credentials from the environment: "
                   "TAGGUARD_PROMETHEUS_TOKEN (bearer) or TAGGUARD_PROMETHEUS_USER/_PASSWORD (basic).")
@click.option("--window", default=None, help="Window ending at --until (default now), e.g. 30d, 12h.")
@click.option("--since", default=None, help="Window start (RFC 3339, date or unix seconds).")
@click.option("--until", default=None, help="Window end (default: now).")
@click.option("--resolution", default="1m", show_default=True, help="The window is aligned to multiples of this.")
@click.option("--scrape-interval", default=None, metavar="DURATION",
              help="Seconds one kube-state-metrics sample stands for (default: detected from the samples of "
                   "kube_node_status_allocatable).")
@click.option("--chunk", default="1d", show_default=True,
              help="Query the window in chunks of this length (keeps each query under --query.max-samples).")
@click.option("--parallel", type=click.IntRange(1, 16), default=2, show_default=True,
              help="Chunks queried at the same time (Prometheus evaluates concurrent queries in parallel).")
@click.option("--group-by", default=None, help="Taxonomy key to group teams by (default: its first required key).")
@click.option("--mig-basis", type=click.Choice(["compute", "memory"]), default="compute", show_default=True,
              help="A MIG slice's share of a GPU: its compute slices (1g = 1/7) or memory slices (5gb = 1/8).")
@click.option("--time-slicing", type=click.Choice(["replicas", "use"]), default="replicas", show_default=True,
              help="Time-sliced GPUs: 1/replicas per request, or the node's GPU-hours split by measured use.")
@click.option("--idle-sharing", type=click.Choice(["none", "proportional", "even", "platform"]), default="none",
              show_default=True, help="Share the cost of GPUs no pod requested among groups.")
@click.option("--idle-platform", default=None, help="Group that carries idle cost with --idle-sharing platform.")
@click.option("--underuse-threshold", type=click.FloatRange(0, 1), default=0.3, show_default=True,
              help="Workloads using less than this share of their GPU time are findings.")
@click.option("--util-metric", type=click.Choice(["auto", "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_GR_ENGINE_ACTIVE"]),
              default="auto", show_default=True,
              help="Utilisation series: auto prefers DCGM_FI_PROF_GR_ENGINE_ACTIVE (per MIG instance), "
                   "else DCGM_FI_DEV_GPU_UTIL.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), default=None, help="CA bundle for https.")
@click.option("--insecure", is_flag=True, help="Do not verify the server's TLS certificate.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per query.")
@click.option("--max-response-mb", type=int, default=256, show_default=True,
              help="Refuse a Prometheus answer larger than this (MiB).")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None, help=FAIL_ON_HELP)
@output_options
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Record this report in a history database (SQLite) and show the change against the previous "
                   "cluster run; `tagguard history PATH --kind cluster` prints the trend.")
def report(config_path, url, window, since, until, resolution, scrape_interval, chunk, parallel, group_by, mig_basis,
           time_slicing, idle_sharing, idle_platform, underuse_threshold, util_metric, ca_file, insecure, timeout,
           max_response_mb, fail_on, formats, outputs, no_color, history_path, **kw):
    """Requested, used, idle and unattributed GPU-hours per namespace and taxonomy label, priced.

    Formats: text, json, markdown (the GPU-hours report) and sarif, junit, github, html (its findings, as a
    scan's). Exit 1 when a finding is at or above --fail-on (unattributed GPU-hours are errors), 2 when
    Prometheus cannot be read, 3 when it answered with warnings (a partial response: the figures may be
    incomplete), 0 otherwise.
    """
    import time

    from tagguard.actuals.cluster import gpuhours
    from tagguard.actuals.cluster.promql import PromClient, PromError, parse_duration
    from tagguard.actuals.cluster.queries import Selectors
    from tagguard.actuals.cluster.render import render
    from tagguard.actuals.cluster.result import to_result
    from tagguard.actuals.cluster.split import SplitError, resource_regex

    url = url or os.environ.get("TAGGUARD_PROMETHEUS_URL")
    if not url:
        fail("give --prometheus URL (or set TAGGUARD_PROMETHEUS_URL)")
    if idle_sharing == "platform" and not idle_platform:
        fail("--idle-sharing platform needs --idle-platform GROUP")
    try:
        step = parse_duration(resolution)
        chunk_s = parse_duration(chunk)
        interval = parse_duration(scrape_interval) if scrape_interval else None
        end = _when(until, "--until") if until else time.time()
        if since:
            start = _when(since, "--since")
        else:
            start = end - parse_duration(window or "30d")
    except ValueError as exc:
        fail(str(exc))
    if start >= end:
        fail("--since must be before --until")
    if step < 1 or step % 1:
        fail(f"--resolution {resolution}: must be whole seconds, at least 1s")
    if chunk_s < step:
        fail(f"--chunk {chunk} is shorter than --resolution {resolution}")
    if (end - start) < step:
        fail(f"the window is shorter than --resolution {resolution}")
    config = load_config_or_exit(config_path, paths=["."])
    if fail_on:
        config.raw["fail_on"] = fail_on
    opts = gpuhours.Options(group_by=group_by, mig_basis=mig_basis, time_slicing=time_slicing,
                            idle_sharing=idle_sharing, idle_platform=idle_platform,
                            underuse_threshold=underuse_threshold)
    try:
        client = PromClient.from_env(url, timeout=timeout, max_bytes=max_response_mb * 1024 * 1024,
                                     ca_file=ca_file, insecure=insecure)
        data = gpuhours.collect(client, start, end, step, chunk_s,
                                Selectors(resources=resource_regex(), util_metric=util_metric), parallel=parallel,
                                interval=interval)
        rep = gpuhours.build(data, config.taxonomy(), opts, {"prometheus": client.url, "queries": client.queries,
                                                             "bytes_read": client.bytes_read})
    except (PromError, SplitError) as exc:
        fail(str(exc), code=2)
    try:
        result = to_result(rep, config, actuals=rep["source"]["prometheus"], incomplete=client.warnings,
                           render=render)
    except ValueError as exc:  # the config's showback settings (showback.allocate_by, shared_costs)
        fail(str(exc))
    if history_path is not None:
        from tagguard.state.history import HistoryError, record_cluster

        try:
            rep["history"] = dict(record_cluster(history_path, rep), path=str(history_path))
        except HistoryError as exc:
            fail(str(exc))
    _emit(result, rep, render, config, formats, outputs, kw, no_color)


def _emit(result, rep, render, config, formats, outputs, kw, no_color):
    """The report in every requested format: text, json and markdown are the GPU-hours report (its own
    renderer), the others the formatters of a scan given the report's findings and the command's config (as
    `scan` gives it: the showback the HTML page renders follows its `showback:` settings); then the one exit rule."""
    renderers = {fmt: (lambda _result, _color, fmt=fmt: render(rep, fmt)) for fmt in ("text", "json", "markdown")}
    emit(result, formats, outputs, {k: v for k, v in kw.items() if k.startswith("output_")}, no_color,
         renderers=renderers, config=config)
    raise click.exceptions.Exit(result.exit_code())


@cluster.command("opencost")
@click.argument("source", metavar="FILE|URL")
@config_option
@click.option("--group-by", default=None, help="Taxonomy key to group by (default: its first required key).")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for the URL.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None, help=FAIL_ON_HELP)
@output_options
def opencost(source, config_path, group_by, timeout, fail_on, formats, outputs, no_color, **kw):
    """GPU-hours and cost from an OpenCost allocation response (file or URL), judged against the taxonomy.

    Query OpenCost with e.g. `/allocation?window=30d&aggregate=pod&accumulate=true&includeIdle=true`.
    Credentials for a URL from the environment: TAGGUARD_OPENCOST_TOKEN (bearer) or TAGGUARD_OPENCOST_USER and
    TAGGUARD_OPENCOST_PASSWORD (basic); a URL with user:password@ in it is refused.
    Formats as `cluster report`. Exit 1 when a finding is at or above --fail-on (unattributed GPU-hours are errors).
    """
    from tagguard.actuals.cluster import opencost as oc
    from tagguard.actuals.cluster.result import to_result

    config = load_config_or_exit(config_path, paths=["."])
    if fail_on:
        config.raw["fail_on"] = fail_on
    try:
        doc, where = oc.load(source, timeout=timeout)
        rep = oc.build(doc, where, config.taxonomy(), group_by)
    except oc.OpenCostError as exc:
        fail(str(exc), code=2)
    _emit(to_result(rep, config, render=oc.render), rep, oc.render, config, formats, outputs, kw, no_color)


@cluster.command("export-focus")
@click.argument("paths", nargs=-1, required=True)
@click.option("--report", "reports", multiple=True, required=True,
              type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A `tagguard cluster report -f json` output (repeatable, one per cluster or window).")
@config_option
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FOCUS 1.3 file to write: .parquet or .csv.")
@click.option("--memory-limit", default=None, metavar="SIZE", help="DuckDB memory limit (default 1GB).")
@click.option("--threads", type=click.IntRange(1, 64), default=None, help="DuckDB threads (default 2).")
def export_focus(paths, reports, config_path, out, memory_limit, threads):
    """Write the bill (FOCUS files PATHS) with each cluster node's machine charges split by team.

    A charge whose ResourceId is a node's machine (kube_node_info provider_id) in a report's window becomes one
    allocated row per team with its share of the node's GPU capacity (FOCUS 1.3 AllocatedMethodId
    tagguard-cluster-gpu-hours, AllocatedMethodDetails with the ratio and GPU-hours), plus the unallocated portion
    (GPUs no pod requested) with AllocatedResourceId null. Shared platform charges are split as `tagguard bill
    export` splits them; every other row passes through. The same as `tagguard bill export PATHS --cluster REPORT`.
    """
    from tagguard.actuals import BillError
    from tagguard.actuals.coverage import analyse, settings_from_config
    from tagguard.actuals.export import export_focus13, read_cluster_reports
    from tagguard.actuals.focus import open_source
    from tagguard.formats.escape import term

    try:
        docs = read_cluster_reports(reports)
    except BillError as exc:
        fail(str(exc))
    config = load_config_or_exit(config_path, paths=["."])  # PATHS are bill files, not a repository
    try:
        settings = settings_from_config(config, cost_column=None, memory_limit=memory_limit, threads=threads)
        source = open_source(list(paths), cost_column=settings.cost_column, memory_limit=settings.memory_limit,
                             threads=settings.threads)
        summary = export_focus13(analyse(source, config, settings), source, str(out), cluster=docs)
    except BillError as exc:
        fail(str(exc))
    click.echo(f"wrote {term(str(out))}: {summary['rows']} rows, {summary['allocated_rows']} allocated rows "
               f"({summary['cluster_nodes']} cluster node(s) matched by machine id, {summary['split_origins']} shared "
               "charges split)")
