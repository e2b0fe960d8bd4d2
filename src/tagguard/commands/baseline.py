"""``tagguard baseline create``: record today's findings so only new ones block."""
from __future__ import annotations

from pathlib import Path

import click

from tagguard import cli
from tagguard.errors import fail


@click.group()
def baseline():
    """Adopt tagguard on a repository that already has violations (see `scan --baseline`)."""


@baseline.command("create")
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True))
@cli.config_option
@cli.scan_options(gate=False)
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path(".tagguard-baseline.json"), show_default=True,
              help="Baseline file to write. Paths inside it are relative to its directory.")
def create(paths, config_path, output, **kw):
    """Scan PATHS (default: .) and record every active finding in a baseline file.

    Each entry is keyed by file + resource address + rule + tag; `over-budget` and
    `needs-approval` entries also store their figure (monthly $, GPU-hours), so a finding
    that grows later comes back. Findings already suppressed inline (`tagguard:ignore`) are
    not recorded. Exit code 0, or 2 when an input could not be looked at (a chart without
    helm): the baseline is written, but it cannot stand for what was not seen.
    """
    from tagguard.state.baseline import write_baseline

    config = cli.load_config_or_exit(config_path)
    result = cli.run_scan(paths or (".",), config, kw)
    result.gate = False  # recording findings is not judging them
    try:
        n = write_baseline(result, output)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    click.echo(f"wrote {n} baseline entr{'y' if n == 1 else 'ies'} to {output}; "
               f"use it with `tagguard scan --baseline {output}` (or `baseline: {output.name}` in .tagguard.yaml)")
    cli.report_unseen(result)
    raise click.exceptions.Exit(result.exit_code())
