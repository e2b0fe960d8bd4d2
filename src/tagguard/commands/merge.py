"""``tagguard merge REPORT...``: drift shards' (or several repositories') JSON reports as one report."""
from __future__ import annotations

from pathlib import Path

import click

from tagguard.cli import write_output
from tagguard.errors import fail, log_safe


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the merged JSON report to FILE instead of stdout.")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite history file: record the merged run (kind drift) and report new / fixed / unknown "
                   "findings; accounts an incomplete shard could not read stay unknown, never fixed.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default="error", show_default=True,
              help="Lowest finding severity that makes the exit code 1 (an incomplete merge exits 3 first).")
def merge(reports, output, history_path, fail_on):
    """Merge the JSON reports of drift shards (`tagguard drift -f json`) or of several scans into one:
    resources de-duplicated by address, findings by identity, every shard's errors[] kept (an unreadable
    or incomplete shard makes the merge incomplete: exit 3), the result readable by
    `tagguard report showback --from` and `tagguard report review`."""
    from tagguard.operate.merge import merge_paths, merged_json

    try:
        doc, result = merge_paths(reports)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a value of the wrong type in a shard
        fail(f"a report is not well-formed ({type(exc).__name__}: {str(exc)[:200]})")
    result.fail_on = fail_on
    for e in doc["errors"]:
        if e.get("code") == "ShardUnreadable":
            click.echo(f"tagguard: warning: {log_safe(e['message'])}", err=True)
    if not any(s["ok"] for s in doc["merge"]["shards"]):
        fail("no shard could be read; nothing to merge")
    if history_path is not None:
        from tagguard.state.history import HistoryError, record_run
        from tagguard.operate.merge import uncovered_accounts

        missing = uncovered_accounts(history_path, doc)
        result.errors.extend(missing)
        if result.drift is not None and missing:
            result.drift["complete"] = False
        for e in missing:
            click.echo(f"tagguard: warning: {log_safe(e['message'])}", err=True)
        try:
            result.history = record_run(history_path, result, kind="drift")
        except HistoryError as exc:
            fail(str(exc))
    write_output(merged_json(doc, result), output)
    s = result.summary()
    click.echo(f"tagguard: merged {len(reports)} report(s): {s['resources']} resources "
               f"({doc['merge']['duplicate_resources']} duplicates dropped), {s['findings']} findings, "
               f"{len(result.errors)} errors" + ("" if not result.errors else " (incomplete: exit 3)"), err=True)
    raise click.exceptions.Exit(result.exit_code())
