"""``tagguard drift``: scan live AWS accounts for untagged, mis-tagged and drifted AI resources."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from tagguard.cli import attach_showback, config_option, emit, load_config_or_exit, output_options
from tagguard.errors import fail


def _csv(value):
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@click.command()
@click.option("--regions", default=None, metavar="A,B|all",
              help="Regions to scan, comma-separated, or `all` (every enabled region). Default: the session's region.")
@click.option("--org", is_flag=True,
              help="Scan every ACTIVE account in the AWS Organization (assumes --role-name in each).")
@click.option("--role-name", default=None, help="Role to assume in each other account (with --org or --accounts).")
@click.option("--external-id", default=None, help="ExternalId for the role's trust policy, if it requires one.")
@click.option("--accounts", default=None, metavar="ID,ID", help="Explicit account ids to scan (assumes --role-name).")
@click.option("--profile", "profiles", default=None, metavar="NAME,NAME", help="Named AWS profiles, one account each.")
@click.option("--state", "states", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Local Terraform state file: live tags that differ are tag_drift, "
                   "GPU resources absent are unmanaged (repeatable).")
@click.option("--scope", type=click.Choice(["ai", "all"]), default=None,
              help="ai (default): GPU/AI resources; all: also everything the Resource Groups Tagging API returns.")
@click.option("--services", default=None, metavar="LIST",
              help="Services to read (default: ec2,autoscaling,eks,sagemaker,bedrock).")
@click.option("--workers", type=click.IntRange(1, 128), default=16, show_default=True,
              help="Parallel account x region scans.")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=10, show_default=True,
              help="botocore adaptive-retry attempts per call before a throttled region is reported as failed.")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="SQLite history file: record this run and report new / fixed / still-open findings and the trend.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the self-contained HTML showback report to this file.")
@click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
              help="Lowest severity that makes the exit code 1 (default: `fail_on` in the config, else error).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: on a TTY, off when CI is set).")
@config_option
@output_options
def drift(regions, org, role_name, external_id, accounts, profiles, states, scope, services, workers, max_attempts,
          history_path, html_path, fail_on, progress, config_path, formats, outputs, no_color, **kw):
    """Scan live AWS accounts: untagged or mis-tagged GPU/AI resources, tag drift from Terraform state,
    node group tags that never reached the instances, priced with the same rate card as `scan`.

    Read-only: only Describe/List/Get calls (policies/aws-readonly-policy.json).
    Exit codes: 0 clean, 1 blocking findings, 2 usage/credentials error,
    3 incomplete (an account or region failed; see `errors` in the JSON).
    """
    config = load_config_or_exit(config_path)
    if scope:
        config.raw["scope"] = scope
    if fail_on:
        config.raw["fail_on"] = fail_on
    try:
        import boto3  # noqa: F401
    except ModuleNotFoundError:
        fail("the drift scan needs boto3: pip install 'tagguard[aws]'")
    if org and accounts:
        fail("--org and --accounts are exclusive")
    if profiles and (org or accounts):
        fail("--profile cannot be combined with --org or --accounts")
    if (org or accounts) and not role_name:
        fail("--org/--accounts need --role-name (the read-only role to assume in each account)")
    for s in states:
        if not s.is_file():
            fail(f"{s}: state file not found")
    from tagguard.sources.aws import DriftOptions, scan_live
    from tagguard.sources.aws.accounts import AccountError
    from tagguard.sources.aws.inventory import SERVICES

    svc = _csv(services) or list(SERVICES)
    unknown = [s for s in svc if s not in SERVICES + ("tagging",)]
    if unknown:
        fail(f"--services: unknown service {unknown[0]!r} (choose from {', '.join(SERVICES)}, tagging)")
    opts = DriftOptions(regions=regions, accounts=_csv(accounts), profiles=_csv(profiles), org=org,
                        role_name=role_name, external_id=external_id, scope=config.scope, services=svc,
                        states=list(states), workers=workers, max_attempts=max_attempts, progress=progress)
    _use_local_ratecard()
    from datetime import datetime, timezone

    started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    try:
        live = scan_live(config, opts)
    except AccountError as exc:
        info = exc.info
        fail(f"cannot scan: {info.get('service')} {info.get('operation', '')}: "
             f"{info.get('code')}: {info.get('message')}")
    result = evaluate_live(live, config)
    attach_showback(result, config)
    if history_path is not None:
        from tagguard.state.history import HistoryError, record_run

        try:
            result.history = record_run(history_path, result, kind="drift", started_at=started)
        except HistoryError as exc:
            fail(str(exc))
    extra = {k: v for k, v in kw.items() if k.startswith("output_")}
    if html_path is not None:
        extra["output_html"] = html_path
    emit(result, formats, outputs, extra, no_color)
    if result.errors:
        shown = "; ".join(_brief(e) for e in result.errors[:3])
        more = f" (+{len(result.errors) - 3} more)" if len(result.errors) > 3 else ""
        click.echo(f"tagguard: scan incomplete ({len(result.errors)} error(s)): {shown}{more}", err=True)
    raise click.exceptions.Exit(result.exit_code())  # 3 when incomplete: ScanResult owns the rule


def _brief(e: dict) -> str:
    where = e.get("account") or e.get("profile") or "?"
    if e.get("regions"):
        where += f" (all {len(e['regions'])} regions)"
    elif e.get("region"):
        where += f" {e['region']}"
    return f"{where} {e.get('service') or ''}: {e.get('code')}"


def _use_local_ratecard() -> None:
    try:
        from tagguard.pricing.refresh import local_ratecard
    except ModuleNotFoundError:
        return
    try:
        local_ratecard()  # reads and checks it (pricing.engine.make_pricer prices with it)
    except ValueError as exc:
        click.echo(f"tagguard: warning: {exc}; using the shipped rate card", err=True)


def evaluate_live(live, config):
    """Price and judge the live inventory with the IaC scan's pipeline; attach errors and stats."""
    from tagguard.pipeline import evaluate
    from tagguard.sources.base import ScanContext

    ctx = ScanContext(config, Path.cwd(), options={})
    try:
        result = evaluate(live.output, ctx, root="aws")
    except ValueError as exc:  # pricing config errors
        fail(str(exc))
    by_address = {r.address: r for r in live.output.resources}
    for f in result.findings:
        res = by_address.get(f.address or "")
        if res is None:
            continue
        f.extra.setdefault("account", res.meta.get("account"))
        f.extra.setdefault("region", res.meta.get("region"))
        f.extra.setdefault("live_tags", dict(res.tags))
        f.resource_type = f.resource_type or res.type
    result.errors = list(live.errors)  # a drift report always has `errors` (the drift part says so)
    result.drift = live.stats
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(drift())
