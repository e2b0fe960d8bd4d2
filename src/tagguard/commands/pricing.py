"""``tagguard pricing``: the rate card."""
from __future__ import annotations

from pathlib import Path

import click

from tagguard.errors import fail


@click.group()
def pricing():
    """Show the shipped GPU rate card (and refresh it from the AWS Price List API)."""


@pricing.command("show")
@click.argument("instance_type")
@click.option("--provider", type=click.Choice(["aws", "gcp", "azure"]), default=None,
              help="Cloud to look the type up in (default: any).")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
def show(instance_type, provider, fmt):
    """Print INSTANCE_TYPE's GPU model and count, on-demand/spot/committed rates, and the source and date of each."""
    from tagguard.pricing.show import render_pricing_show

    text, code = render_pricing_show(instance_type, provider, fmt)
    click.echo(text, nl=not text.endswith("\n"))
    raise click.exceptions.Exit(code)


@pricing.command("refresh")
@click.option("--regions", required=True, metavar="A,B",
              help="Regions to fetch rates for; the first is the primary region used for pricing.")
@click.option("--types", default=None, metavar="T,T",
              help="Instance types (default: every AWS EC2 type in the shipped rate card).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the local rate card (default: ~/.cache/tagguard/ratecard.local.json).")
def refresh_command(regions, types, output):
    """Refresh a local rate card from the AWS Price List API and current spot prices (read-only calls).

    Every later command in this environment prices with it (the shipped card fills the gaps).
    """
    try:
        import boto3  # noqa: F401
    except ModuleNotFoundError:
        fail("pricing refresh needs boto3: pip install 'tagguard[aws]'")
    from tagguard.pricing.refresh import refresh

    regs = [r.strip() for r in regions.split(",") if r.strip()]
    tps = [t.strip() for t in (types or "").split(",") if t.strip()] or None
    try:
        summary = refresh(regs, types=tps, output=output)
    except Exception as exc:  # credentials, access denied, throttled: one line
        from tagguard.sources.aws.accounts import error_info

        info = error_info(exc)
        fail(f"pricing refresh failed: {info['code']}: {info['message']}")
    click.echo(f"wrote {summary['path']}: {summary['rows']} instance types x {len(summary['regions'])} region(s), "
               f"rates dated {summary['date']}"
               + (f"; no Price List SKU for {len(summary['not_found'])} type/region pairs"
                  if summary["not_found"] else ""))
