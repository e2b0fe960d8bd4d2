"""``tagguard diff --base REF [PATHS]``: what a pull request changes, and only its findings."""
from __future__ import annotations

from pathlib import Path

import click

from tagguard.cli import config_option, fail, load_config_or_exit, parse_vars, scan_kwargs_to_options, scan_options


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--base", "base_ref", required=True, metavar="REF",
              help="Git revision to compare with (branch, tag or commit, e.g. origin/main or HEAD~1).")
@config_option
@scan_options
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="text for people, json (the scan report plus `diff`, `cost_diff`), markdown (a PR comment).")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to FILE instead of stdout.")
@click.option("--no-color", is_flag=True, help="Never colour the text output.")
def diff(paths, base_ref, config_path, fmt, output, no_color, **kw):
    """Compare the working tree with the base revision REF under PATHS (default: .).

    Reports AI resources added, changed and removed with their monthly cost delta, the delta per
    business unit / project / cost center, and findings only for resources that are new or changed
    (pre-existing violations do not block). The base is read from git into a temporary directory;
    the working tree is never checked out over.
    """
    import os
    import sys

    from tagguard.diffing import DiffError, render_markdown, render_text, run_diff

    config = load_config_or_exit(config_path)
    if kw.get("scope"):
        config.raw["scope"] = kw["scope"]
    if kw.get("fail_on"):
        config.raw["fail_on"] = kw["fail_on"]
    var_files = list(kw.get("var_files") or ())
    for rel in ((config.section("terraform") or {}).get("var_files") or []):
        var_files.append(config.base_dir / rel)
    variables = dict(((config.section("terraform") or {}).get("variables") or {}))
    variables.update(parse_vars(kw.get("variables") or ()))
    if "-" in paths:
        fail("diff reads files from git and the working tree; `-` (stdin) is not supported")
    try:
        result = run_diff(base_ref, list(paths) or ["."], config, var_files, variables, scan_kwargs_to_options(kw))
    except (DiffError, ValueError) as exc:
        fail(str(exc))
    if fmt == "json":
        import json

        from tagguard.formats.json_format import report_dict

        text = json.dumps(report_dict(result), indent=2) + "\n"
    elif fmt == "markdown":
        text = render_markdown(result)
    else:
        color = output is None and not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
        text = render_text(result, color=color)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
    raise click.exceptions.Exit(result.exit_code())
