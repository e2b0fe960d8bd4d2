"""``tagguard history``: the unallocated-spend trend and run log from a ``--history`` database."""
from __future__ import annotations

import json
from pathlib import Path

import click

from tagguard.errors import fail
from tagguard.formats.helpers import money as _money




@click.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["drift", "scan", "cluster"]), default=None,
              help="Only runs of this kind (cluster: `tagguard cluster report --history`, actual GPU spend per month).")
@click.option("--limit", type=click.IntRange(1, 10000), default=30, show_default=True, help="Most recent runs to show.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
def history(path, kind, limit, fmt):
    """Print the trend recorded in a history database (tagguard drift --history PATH)."""
    from tagguard.state.history import HistoryError, read_trend

    try:
        rows = read_trend(path, kind, limit)
    except HistoryError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps({"runs": rows}, indent=2))
        return
    if not rows:
        click.echo(f"{path}: no runs recorded yet")
        return
    click.echo(f"{'run':>5}  {'finished (UTC)':<25} {'AI spend/mo':>12} {'unallocated':>12} {'share':>6} "
               f"{'findings':>8}  status")
    prev = None
    for r in rows:
        share = (f"{100 * r['unallocated_usd'] / r['monthly_usd']:.1f}%"
                 if r["monthly_usd"] and r["unallocated_usd"] is not None else "-")
        arrow = ""
        if prev is not None and r["unallocated_usd"] is not None and prev["unallocated_usd"] is not None:
            d = r["unallocated_usd"] - prev["unallocated_usd"]
            arrow = f" ({'+' if d >= 0 else '-'}{_money(abs(d))})" if d else " (=)"
        status = "complete" if r["complete"] else f"incomplete ({r['errors']} errors)"
        click.echo(f"{r['run_id']:>5}  {r['at']:<25} {_money(r['monthly_usd']):>12} {_money(r['unallocated_usd']):>12} "
                   f"{share:>6} {r['findings']:>8}  {status}{arrow}")
        prev = r
