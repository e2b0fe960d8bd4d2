"""``tagguard pricing``: the rate card."""
from __future__ import annotations

import click


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


def _add_refresh() -> None:
    from tagguard.pricing.refresh import refresh_command

    pricing.add_command(refresh_command)


_add_refresh()
