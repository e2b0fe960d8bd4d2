"""``tagguard diff --base REF [PATHS]``: what a pull request changes, and only its findings."""
from __future__ import annotations


import click

from tagguard.cli import (calm_gc, config_option, emit, fail, load_config_or_exit, output_options, scan_inputs,
                          scan_kwargs_to_options, scan_options)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--base", "base_ref", required=True, metavar="REF",
              help="Git revision to compare with (branch, tag or commit, e.g. origin/main or HEAD~1).")
@config_option
@scan_options
@output_options
def diff(paths, base_ref, config_path, formats, outputs, no_color, **kw):
    """Compare the working tree with the base revision REF under PATHS (default: .).

    Reports AI resources added, changed and removed with their monthly cost delta, the delta per
    business unit / project / cost center, and findings only for resources that are new or changed
    (pre-existing violations do not block). The base is read from git into a temporary directory;
    the working tree is never checked out over. text and markdown (a PR comment) show the diff;
    json is the scan report plus `diff` and `cost_diff`; sarif, junit and github carry the
    findings of new or changed resources only.
    """
    from tagguard.diffing import DiffError, render_text, run_diff

    config = load_config_or_exit(config_path)
    extra = {k: kw.pop(k) for k in list(kw) if k.startswith("output_")}
    calm_gc()
    var_files, variables = scan_inputs(config, kw)
    if "-" in paths:
        fail("diff reads files from git and the working tree; `-` (stdin) is not supported")
    try:
        result = run_diff(base_ref, list(paths) or ["."], config, var_files, variables, scan_kwargs_to_options(kw))
    except (DiffError, ValueError) as exc:
        fail(str(exc))
    emit(result, formats, outputs, extra, no_color, renderers={"text": lambda r, color: render_text(r, color=color)})
    raise click.exceptions.Exit(result.exit_code())
