"""``tagguard diff --base REF [PATHS]``: what a pull request changes, and only its findings."""
from __future__ import annotations


import click

from tagguard.cli import (calm_gc, config_option, emit, load_config_or_exit, output_options, scan_inputs,
                          scan_kwargs_to_options, scan_options)
from tagguard.errors import fail


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--base", "base_ref", required=True, metavar="REF",
              help="Git revision to compare with (branch, tag or commit, e.g. origin/main or HEAD~1).")
@config_option
@click.option("--head-config", is_flag=True,
              help="Judge with the working tree's .tagguard.yaml and taxonomy. Default: the base revision's, so that "
                   "a pull request cannot weaken its own gate; a change to them is reported either way.")
@click.option("--bill", "bill_paths", multiple=True, metavar="PATH",
              help="FOCUS billing export (CSV, CSV.gz, Parquet; a file, directory or glob; repeatable): each budget is "
                   "judged on the team's actual run-rate from the bill (month to date scaled to the month) plus this "
                   "change's monthly delta. Needs tagguard[bill] (DuckDB).")
@click.option("--bill-month", metavar="YYYY-MM", default=None,
              help="Month of the bill whose run-rate --bill uses (default: the bill's latest).")
@scan_options
@output_options
def diff(paths, base_ref, config_path, head_config, bill_paths, bill_month, formats, outputs, no_color, **kw):
    """Compare the working tree with the base revision REF under PATHS (default: .).

    Reports AI resources added, changed and removed with their monthly cost delta, the delta per
    business unit / project / cost center, and findings only for resources that are new or changed
    (pre-existing violations do not block). The base is read from git into a temporary directory;
    the working tree is never checked out over. text and markdown (a PR comment) show the diff;
    json is the scan report plus `diff` and `cost_diff`; sarif, junit and github carry the
    findings of new or changed resources only.

    The config and taxonomy are the base revision's (a .tagguard.yaml inside the repository, also
    one named with --config) unless --head-config is given; a change to them is a
    `config-changed` warning.
    """
    from pathlib import Path

    from tagguard.formats.diff import render_text
    from tagguard.state.diffing import DiffError, choose_config, config_notice, repo_root, resolve_ref, run_diff

    head = load_config_or_exit(config_path)
    extra = {k: kw.pop(k) for k in list(kw) if k.startswith("output_")}
    calm_gc()
    if "-" in paths:
        fail("diff reads files from git and the working tree; `-` (stdin) is not supported")
    targets = list(paths) or ["."]
    try:
        first = Path(targets[0])
        repo = repo_root(first.resolve() if first.exists() else Path.cwd())
        commit = resolve_ref(repo, base_ref)
        rels = []
        for p in targets:
            try:
                rels.append(Path(p).resolve().relative_to(repo.resolve()).as_posix() or ".")
            except ValueError:
                raise DiffError(f"{p}: outside the git repository {repo}") from None
        choice = choose_config(repo, commit, base_ref, rels, head, config_path, head_config)
    except DiffError as exc:
        fail(str(exc))
    config = choice.config
    bill = None
    if bill_month is not None and not bill_paths:
        fail("--bill-month needs --bill PATH")
    if bill_paths:  # read before scanning: an unusable bill is one line, exit 2 (DuckDB imported only here)
        import re

        from tagguard.actuals import BillError
        from tagguard.actuals.diffbill import read_bill

        if bill_month is not None and not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", bill_month):
            fail(f"--bill-month: {bill_month!r} is not a month (YYYY-MM)")
        try:
            bill = read_bill(list(bill_paths), config, bill_month)
        except BillError as exc:
            fail(f"--bill: {exc}")
        if bill_month is not None and bill.get("days_covered") is None:
            fail(f"--bill-month {bill_month}: the bill has no charges in that month")
        if not bill.get("budgets"):
            click.echo("tagguard: note: --bill: the config has no budgets (budgets: in .tagguard.yaml), so the bill "
                       "judges nothing", err=True)
    var_files, variables = scan_inputs(config, kw)
    try:
        result = run_diff(base_ref, targets, config, var_files, variables, scan_kwargs_to_options(kw), bill=bill)
    except (DiffError, ValueError) as exc:
        fail(str(exc))
    notice = config_notice(choice, base_ref, result.base_dir().resolve(), repo.resolve())
    if notice is not None:
        result.findings.insert(0, notice)
    result.config = dict(config.describe(), source=choice.source, head_changed=bool(choice.changed),
                         changed_files=list(choice.changed))
    emit(result, formats, outputs, extra, no_color, renderers={"text": lambda r, color: render_text(r, color=color)},
         config=config)
    raise click.exceptions.Exit(result.exit_code())
