"""``tagguard usage FILES...``: LLM token spend from tagguard JSONL, LiteLLM spend logs and OTLP GenAI spans."""
from __future__ import annotations

import re
from pathlib import Path

import click

from tagguard.cli import config_option, format_from_extension, load_config_or_exit, write_output
from tagguard.errors import fail

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
USAGE_FORMATS = ("text", "json", "markdown", "csv")


def _day(ctx, param, value):
    """A calendar day, YYYY-MM-DD: `2026-13-01` or `2026-02-30` is a usage error, not a filter that matches nothing."""
    if value is None:
        return value
    from datetime import date

    try:
        if not _DAY.match(value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (expected YYYY-MM-DD, e.g. 2026-12-01)") from None
    return value


@click.command()
@click.argument("files", nargs=-1, type=click.Path(allow_dash=True))
@config_option
@click.option("--format", "-f", "fmt", type=click.Choice(USAGE_FORMATS), default=None,
              help="Output format (csv: the daily or weekly table). Default: what --output's name says "
                   "(.json, .md, .csv, .txt), else text.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of stdout.")
@click.option("--period", type=click.Choice(["day", "week"]), default="day", show_default=True,
              help="Rows of the CSV table.")
@click.option("--since", callback=_day, default=None, help="First day (UTC, YYYY-MM-DD) to include.")
@click.option("--until", callback=_day, default=None, help="Last day (UTC, YYYY-MM-DD) to include.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the exit code 1 (default: the config's fail_on, else error).")
def usage(files, config_path, fmt, output, period, since, until, fail_on):
    """Price and check LLM token spend recorded in FILES (default: llm.usage_files from the config).

    FILES are tagguard.llm JSONL logs, LiteLLM spend-log exports (JSON, JSON lines or CSV) or
    OpenTelemetry GenAI spans as OTLP JSON; `-` reads stdin; globs are expanded. Each caller's tags
    are checked against the taxonomy (one finding per caller, not per call); untagged spend, unknown
    models, daily anomalies and token budgets are reported. Exit 1 on blocking findings.
    """
    from tagguard.llm.analysis.budgets import BudgetConfigError
    from tagguard.llm.analysis.prices import PriceConfigError
    from tagguard.llm.analysis.report import UsageError, analyse, expand_paths, render, settings

    if since and until and since > until:
        fail(f"--since {since} is after --until {until}: no day is in that range")
    if fmt is None:
        fmt = format_from_extension(output, USAGE_FORMATS) if output is not None else "text"
    config = load_config_or_exit(config_path)
    if fail_on:
        config.raw["fail_on"] = fail_on
    try:
        if files:
            paths = expand_paths(files)
        else:
            paths = expand_paths(settings(config)["usage_files"], config.base_dir)
            if not paths:
                fail("no usage files: give FILES or set llm.usage_files in .tagguard.yaml")
        missing = [p for p in paths if p != "-" and not Path(p).exists()]
        if missing:
            fail(f"{missing[0]}: no such file")
        report = analyse(paths, config, since=since, until=until, period=period)
    except (UsageError, PriceConfigError, BudgetConfigError) as exc:
        fail(str(exc))
    write_output(render(report, fmt, period), output)
    raise click.exceptions.Exit(report["summary"]["exit_code"])
