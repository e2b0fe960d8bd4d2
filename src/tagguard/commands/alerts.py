"""``tagguard alerts REPORT...``: budget, anomaly, unallocated and unmanaged-GPU alerts to Slack,
Teams, a JSON webhook or GitHub issues, routed by the taxonomy's values (docs/operate.md)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import click

from tagguard.cli import write_output
from tagguard.errors import fail, log_safe
from tagguard.model import EXIT_INCOMPLETE


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Trusted config holding the `alerts:` section (routes, sinks, thresholds). Default: the "
                   "user-level config ($TAGGUARD_USER_CONFIG or ~/.config/tagguard/config.yaml). A scanned "
                   "repository's .tagguard.yaml is never read for alerts.")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite history database keeping what was sent (an alert goes out once per breach and again "
                   "only when it worsens). Without it every breach is sent on every run.")
@click.option("--dry-run", is_flag=True, help="Print what would be sent (payloads and GitHub requests); send "
                                               "nothing and change no state.")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools (every delivery with its state and result).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the result to FILE instead of stdout.")
def alerts(reports, config_path, history_path, dry_run, fmt, output):
    """Raise alerts from tagguard JSON reports (drift, scan, merge, `report showback -f json`,
    `usage -f json`, bill budgets): budget thresholds on month-to-date and forecast, token-spend
    anomalies, unallocated spend above a floor, new unmanaged GPU resources. Sending never fails
    the run: failures are retried with backoff, then reported, and the exit code is 3 (incomplete)."""
    from tagguard.config import ConfigError, load_config, user_or_default_config
    from tagguard.formats.escape import guard_commands
    from tagguard.state.history import HistoryError
    from tagguard.operate.alerts import AlertConfigError, alerts_from_report, dispatch, parse_settings, read_report
    from tagguard.operate.state import AlertState

    try:
        config = load_config(config_path) if config_path is not None else user_or_default_config()
        settings = parse_settings(config.section("alerts"), where=f"{config.path or 'config'}: alerts")
    except (ConfigError, AlertConfigError) as exc:
        fail(str(exc))
    if not settings.sinks:
        fail(f"{config.path or 'config'}: no alerts.sinks configured (see docs/operate.md)")
    problems = []
    all_alerts, families = [], []
    for path in reports:
        try:
            data = read_report(path)
            found, fams = alerts_from_report(data, settings, str(path), config)
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
            continue
        except (TypeError, AttributeError, KeyError) as exc:  # a value of the wrong type somewhere in the report
            problems.append(f"{path}: not a well-formed tagguard report ({type(exc).__name__}: {str(exc)[:200]})")
            continue
        if data.get("errors"):
            problems.append(f"{path}: the report is incomplete ({len(data['errors'])} errors): alerts for what it "
                            "could not read are missing, and nothing it covers is resolved")
        all_alerts += found
        families += [f for f in fams if f not in families]
    try:
        state = AlertState(history_path, readonly=dry_run)
    except HistoryError as exc:
        fail(str(exc))
    try:
        deliveries = dispatch(all_alerts, families, settings, state, dry_run=dry_run, env=dict(os.environ))
    finally:
        state.finish()
    failed = [d for d in deliveries if d["action"] == "failed"]
    doc = {"dry_run": dry_run, "alerts": len(all_alerts), "deliveries": deliveries, "problems": problems,
           "failed": len(failed), "exit_code": EXIT_INCOMPLETE if failed or problems else 0}
    if fmt == "json":
        text = json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
    else:
        lines = []
        for d in deliveries:
            a = d["alert"]
            line = f"{d['action']:<10} {d['state']:<9} {d.get('sink') or '-':<16} {a['kind']:<14} {a['title']}"
            if d.get("error"):
                line += f"  [{d['error']}]"
            lines.append(log_safe(line))
            if dry_run and ("payload" in d or "requests" in d):
                # text output may land in a CI log: no line may act as a workflow command (``::``, ``##[``)
                lines.append(guard_commands(json.dumps(d.get("payload", d.get("requests")),
                                                       indent=2, ensure_ascii=True)))
        lines.append(log_safe(f"{len(all_alerts)} alert(s); {sum(d['action'] == 'sent' for d in deliveries)} sent, "
                              f"{sum(d['action'] == 'skipped' for d in deliveries)} already sent, "
                              f"{sum(d['action'] == 'closed' for d in deliveries)} resolved, {len(failed)} failed"
                              + (" (dry run: nothing sent)" if dry_run else "")))
        text = "\n".join(lines) + "\n"
    write_output(text, output)
    for p in problems:
        click.echo(f"tagguard: warning: {log_safe(p)}", err=True)
    for d in failed:
        sink = d.get("sink")
        where = f"not delivered to {log_safe(str(sink))}" if sink else "not routed to any sink"
        click.echo(f"tagguard: warning: alert {where}: {log_safe(str(d.get('error') or 'no reason recorded'))}",
                   err=True)
    raise click.exceptions.Exit(doc["exit_code"])
