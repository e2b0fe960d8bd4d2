"""``tagguard report showback``: cost and GPU-hours by team, the unallocated line, shared costs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from tagguard.cli import (config_option, fail, format_from_extension, load_config_or_exit, report_unseen, run_scan,
                          scan_options, write_output)


SHOWBACK_FORMATS = ("text", "json", "markdown", "csv", "html")


@click.group()
def report():
    """Reports over a scan or a drift run."""


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})")
    except RecursionError:
        fail(f"{path}: nested too deeply to read")
    except ValueError as exc:  # also a file that is not UTF-8
        fail(f"{path}:{getattr(exc, 'lineno', 1)}: not JSON ({getattr(exc, 'msg', exc)})")


def load_report_json(path: Path):
    """A ``--format json`` report (scan or drift) back into a ``ScanResult``."""
    from tagguard.model import ReportError, ScanResult

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror or exc})")
    except RecursionError:
        fail(f"{path}: nested too deeply to read")
    except ValueError as exc:  # also a file that is not UTF-8
        fail(f"{path}:{getattr(exc, 'lineno', 1)}: not JSON ({getattr(exc, 'msg', exc)})")
    try:
        return ScanResult.from_json(data)  # resources, findings, drift, history, inputs that were not seen...
    except ReportError as exc:
        fail(f"{path}: {exc}")


@report.command()
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True))
@click.option("--from", "from_json", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Use a JSON report (`tagguard drift -f json` or `tagguard scan -f json`) instead of scanning PATHS.")
@click.option("--format", "-f", "fmt", type=click.Choice(SHOWBACK_FORMATS), default=None,
              help="text for people; json, csv for tools; markdown for a PR or wiki; html for a self-contained page. "
                   "Default: what --output's name says (.json, .csv, .md, .html, .txt), else text.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to FILE instead of stdout.")
@click.option("--top", type=click.IntRange(0, 1000), default=None, help="Unallocated resources to list (default 10).")
@click.option("--cluster", "cluster_json", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A `tagguard cluster report -f json` output (repeatable, one per cluster): actual GPU spend per "
                   "team beside the estimates.")
@config_option
@scan_options(gate=False)
def showback(paths, from_json, fmt, output, top, cluster_json, config_path, **kw):
    """Cost and GPU-hours by business unit / project / environment / cost center, the unallocated share,
    the top unallocated GPU resources, and shared platform costs allocated by GPU spend."""
    from tagguard.cost.showback import build_showback, render

    if fmt is None:
        fmt = format_from_extension(output, SHOWBACK_FORMATS) if output is not None else "text"
    config = load_config_or_exit(config_path)
    if from_json is not None and paths:
        fail("give PATHS or --from, not both")
    if from_json is not None:
        result = load_report_json(from_json)
    else:  # prices with the local rate card of `pricing refresh` when there is one (pricing.engine.make_pricer)
        result = run_scan(paths or (".",), config, kw)
    result.gate = False  # a showback reports spend; findings do not set its exit code
    extra_rows = []
    try:
        from tagguard import llm  # noqa: F401  (token spend, when that part is installed)

        rows_fn = getattr(llm, "token_showback_rows", None)
        if rows_fn is not None and config.section("llm"):
            extra_rows = list(rows_fn(config) or [])
    except ModuleNotFoundError:
        pass
    except Exception as exc:  # token spend is optional: report, do not fail the showback
        from tagguard.cli import log_safe

        click.echo(f"tagguard: warning: token spend not included ({type(exc).__name__}: {log_safe(str(exc))})",
                   err=True)
    actuals = [(str(p), _read_json(p)) for p in cluster_json]
    try:
        sb = build_showback(result, config, extra_rows=extra_rows, top=top, actuals=actuals)
    except ValueError as exc:
        fail(str(exc))
    if fmt == "html":
        from tagguard.formats.html import HtmlFormatter

        result.showback = sb
        text = HtmlFormatter().format(result)
    else:
        text = render(sb, fmt)
    write_output(text, output)
    report_unseen(result)
    raise click.exceptions.Exit(result.exit_code())  # 2: a chart was not seen; 3: a drift run was incomplete


@report.command()
@click.option("--month", required=True,
              help="The month under review, YYYY-MM (token spend, anomalies, bill budgets and "
                   "month over month are taken for it).")
@click.option("--from", "from_json", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A JSON report to review (repeatable): drift / scan / `tagguard merge` output, "
                   "`tagguard usage -f json`, "
                   "bill budgets, `tagguard cluster` report.")
@click.option("--history", "history_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="History database (`tagguard drift --history`) for month over month.")
@click.option("--output-dir", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write org.html, org.md, team-*.html, team-*.md and review.json into.")
@config_option
def review(month, from_json, history_path, out_dir, config_path):
    """The monthly cost review pack (docs/operate.md): self-contained HTML (inline SVG) and Markdown for the
    organisation and each team: spend and GPU-hours by project and environment, month over month, budgets,
    the unallocated share with the line to fix, token spend and anomalies, approvals, optimisation hints."""
    from tagguard.operate.alerts import read_report
    from tagguard.operate.review import ReviewError, build, write_pack

    config = load_config_or_exit(config_path, paths=["."])
    reports = []
    for path in from_json:
        try:
            reports.append((str(path), read_report(path)))
        except ValueError as exc:
            fail(f"{path}: {exc}")
    try:
        doc = build(reports, month, history_path, config)
        written = write_pack(doc, out_dir)
    except ReviewError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {out_dir}: {exc.strerror or exc}")
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a value of the wrong type in a report
        fail(f"a report given with --from is not well-formed ({type(exc).__name__}: {str(exc)[:200]})")
    click.echo(f"tagguard: review {month}: {len(written)} files in {out_dir} ({len(doc['teams'])} teams)", err=True)
