"""Command line: ``tagguard scan|explain|...``.

Subcommands other than ``scan`` and ``explain`` live in ``tagguard/commands/``
and are imported only when invoked, so a pre-commit run starts fast.
"""
from __future__ import annotations

import os
import sys
from importlib import import_module
from pathlib import Path
from collections.abc import Sequence
from typing import NoReturn

import click

from tagguard import __version__
from tagguard.errors import EXIT_USAGE, fail, log_safe  # fail/log_safe re-exported for commands/cluster.py, report.py

# name -> "module:attribute" of a click command, imported on demand.
LAZY_COMMANDS = {
    "pricing": "tagguard.commands.pricing:pricing",
    "diff": "tagguard.commands.diff:diff",
    "baseline": "tagguard.commands.baseline:baseline",
    "report": "tagguard.commands.report:report",
    "drift": "tagguard.commands.drift:drift",
    "history": "tagguard.commands.history:history",
    "usage": "tagguard.commands.usage:usage",
    "checkov-dir": "tagguard.commands.checkov:checkov_dir",
    "bill": "tagguard.commands.bill:bill",
    "cluster": "tagguard.commands.cluster:cluster",
    "merge": "tagguard.commands.merge:merge",
    "alerts": "tagguard.commands.alerts:alerts",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        for name, spec in LAZY_COMMANDS.items():
            if _importable(spec):
                names.add(name)
        return sorted(names)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None or name not in LAZY_COMMANDS:
            return cmd
        module, _, attr = LAZY_COMMANDS[name].partition(":")
        try:
            return getattr(import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise


def _importable(spec: str) -> bool:
    from importlib.util import find_spec

    try:
        return find_spec(spec.partition(":")[0]) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tagguard")
def cli():
    """Enforce a tag taxonomy on AI/GPU resources, price them, and block untagged or over-budget changes.

    Exit codes (every command; a JSON report's summary.exit_code is the same number):
    0 nothing blocking, 1 blocking findings, 2 usage or configuration error (or an input that
    must not pass silently, such as a chart without helm), 3 incomplete: a live scan (drift) could
    not read an account or region (see `errors` in the JSON).
    """


# --- shared options -----------------------------------------------------------

def config_option(f):
    return click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Configuration file, trusted: it may also name programs and files outside the repository "
                             "(default: .tagguard.yaml in the scanned path or a parent, up to the repository root, "
                             "which may set policy only; then the user-level config ~/.config/tagguard/config.yaml or "
                             "$TAGGUARD_USER_CONFIG). See docs/configuration-trust.md.")(f)


def load_config_or_exit(config_path: Path | None, paths: Sequence[str] | None = None):
    """The run's config: ``--config``, else the scanned paths' repository config (looked up from
    ``paths``, by default the command's PATHS argument), over the user-level config."""
    from tagguard.config import ConfigError, load_config
    from tagguard.taxonomy import TaxonomyError

    if paths is None:
        ctx = click.get_current_context(silent=True)
        given = ctx.params.get("paths") if ctx is not None else None
        paths = [str(p) for p in given] if given else ["."]
    try:
        config = load_config(config_path, paths=paths)
        config.taxonomy()  # fail early on a broken taxonomy
        return config
    except (ConfigError, TaxonomyError) as exc:
        fail(str(exc))


def output_options(f):
    f = click.option("--no-color", is_flag=True,
                     help="Never colour the text output (default: colour on a TTY, off when NO_COLOR is set).")(f)
    for fmt in ("json", "sarif", "junit", "markdown", "github", "html"):
        f = click.option(f"--output-{fmt}", f"output_{fmt}", type=click.Path(dir_okay=False, path_type=Path),
                         help=f"Also write the {fmt} report to this file.")(f)
    f = click.option("--output", "-o", "outputs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the report to FILE instead of stdout; pairs with --format by position (repeatable). "
                          "Without --format, the file name says the format "
                          "(.json, .sarif, .xml junit, .md, .html, .txt).")(f)
    f = click.option("--format", "-f", "formats", multiple=True,
                     type=click.Choice(["text", "json", "sarif", "junit", "markdown", "github", "html"]),
                     help="Output format (repeatable: `-f json -o r.json -f sarif -o r.sarif`). Default: text.")(f)
    return f


def emit(result, formats: Sequence[str], outputs: Sequence[Path], extra: dict, no_color: bool,
         renderers: dict | None = None, config=None) -> None:
    """Write the result in every requested format; one of them may go to stdout.

    ``renderers`` maps a format name to ``fn(result, color) -> str`` for commands whose
    text/markdown differ from a scan's (``tagguard diff``).  ``config``: the command's, for the
    showback the HTML page renders (computed here when the command has not attached one).
    """
    from tagguard.formats import get_formatter

    pairs: list[tuple[str, Path | None]] = []
    outputs = list(outputs)
    if not formats and outputs:  # `-o report.json`: the format the file name says
        formats = [format_from_extension(p, EMIT_FORMATS) for p in outputs]
    formats = list(formats) or ["text"]
    if len(outputs) > len(formats):
        if len(formats) == 1:
            formats = formats * len(outputs)
        else:
            fail("more --output files than --format values")
    for i, fmt in enumerate(formats):
        pairs.append((fmt, outputs[i] if i < len(outputs) else None))
    for key, path in extra.items():
        if path is not None:
            pairs.append((key.replace("output_", ""), path))
    stdout_pairs = [p for p in pairs if p[1] is None]
    if len(stdout_pairs) > 1:
        fail("only one format can go to stdout; give --output FILE for the others")
    color = (not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty())
    if any(fmt == "html" for fmt, _path in pairs) and not (renderers and "html" in renderers):
        attach_showback(result, config)
    for fmt, path in pairs:
        if renderers and fmt in renderers:
            text = renderers[fmt](result, color and path is None and fmt == "text")
        else:
            try:
                formatter = get_formatter(fmt)
            except (KeyError, ModuleNotFoundError):
                fail(f"output format {fmt!r} is not available in this build")
            fmt_color = color and path is None and formatter.human
            if formatter.streaming:  # written piece by piece (JSON: item by item), never one string in memory
                write_stream(formatter, result, fmt_color, path)
                continue
            text = formatter.format(result, color=fmt_color)
        write_output(text, path)


def attach_showback(result, config) -> None:
    """``result.showback`` (what the HTML page shows) with the command's config, unless set."""
    if result.showback:
        return
    from tagguard.cost.showback import build_showback

    try:
        result.showback = build_showback(result, config)
    except ValueError as exc:  # showback.allocate_by / shared_costs of the config
        fail(str(exc))


EMIT_FORMATS = ("text", "json", "sarif", "junit", "markdown", "github", "html")
# File name endings -> output format, longest first (`r.sarif.json` is SARIF).
EXTENSION_FORMATS = ((".sarif.json", "sarif"), (".sarif", "sarif"), (".json", "json"), (".xml", "junit"),
                     (".markdown", "markdown"), (".md", "markdown"), (".html", "html"), (".htm", "html"),
                     (".txt", "text"), (".csv", "csv"))


def format_from_extension(path: Path, choices: Sequence[str]) -> str:
    """The output format ``path``'s extension names, among ``choices``; a usage error when it names none."""
    name = path.name.lower()
    for ending, fmt in EXTENSION_FORMATS:
        if name.endswith(ending) and fmt in choices:
            return fmt
    known = ", ".join(e for e, fmt in EXTENSION_FORMATS if fmt in choices)
    fail(f"--output {path}: cannot tell the format from the file name (known endings: {known}); "
         f"give it with --format ({'|'.join(choices)})")
    raise AssertionError("unreachable")  # fail() raises


def write_output(text: str, path: Path | None) -> None:
    """Print to stdout, or write FILE (creating its directory); a write failure is a usage error."""
    if path is None:
        click.echo(text, nl=False)
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def write_stream(formatter, result, color: bool, path: Path | None) -> None:
    """``write_output`` for a formatter that writes to a stream (``Formatter.write``)."""
    if path is None:
        stream = sys.stdout
        formatter.write(result, stream, color=color)
        stream.flush()
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            formatter.write(result, fh, color=color)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def parse_pairs(values: Sequence[str], option: str = "--var", form: str = "NAME=VALUE") -> dict[str, str]:
    """``NAME=VALUE`` items of a repeatable option as a dict; a malformed one is a usage error."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{option} expects {form}, got {item!r}")
        out[key] = value
    return out


def _check_k8s_name(ctx, param, value):
    """--release-name / --namespace must be Kubernetes names: never something helm reads as a flag."""
    if value is None or (param.name == "release_name" and value == "release"):
        return value
    from tagguard.sources.kubernetes.helm import check_namespace, check_release_name

    try:
        (check_release_name if param.name == "release_name" else check_namespace)(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[-1]) from None
    return value


def scan_options(f=None, *, gate: bool = True):
    """The scan flags. ``gate=False`` for commands whose exit code does not judge findings
    (`report showback`, `baseline create`): they do not offer --fail-on and --approved-by."""
    if f is None:
        return lambda fn: scan_options(fn, gate=gate)
    f = click.option("--var-file", "var_files", multiple=True,
                     type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="Terraform variable file (.tfvars or .tfvars.json) applied to every root module "
                          "(repeatable).")(f)
    f = click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
                     help="Terraform variable value, as `terraform -var` (repeatable). "
                          "TF_VAR_* environment variables are read too.")(f)
    f = click.option("--scope", type=click.Choice(["ai", "all"]), default=None,
                     help="Judge only AI/GPU resources (ai, default) or every taggable resource (all). "
                          "Overrides the config.")(f)
    if gate:
        f = click.option("--fail-on", type=click.Choice(["error", "warning", "info"]), default=None,
                         help="Lowest severity that makes the exit code 1 "
                              "(default: `fail_on` in the config, else error).")(f)
    f = click.option("--usage", "usage_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="Usage file: hours per month and unit counts per resource address ([*] wildcards).")(f)
    f = click.option("--skip-helm", is_flag=True,
                     help="Report charts that cannot be rendered as not scanned without failing with exit code 2.")(f)
    f = click.option("--fetch-modules", is_flag=True,
                     help="Download remote Terraform modules (registry, git over https, archives) and helm_release "
                          "charts (chart repositories, OCI) from allowed hosts into the user cache; later runs read "
                          "the cache offline (docs/remote-modules.md).")(f)
    f = click.option("--helm-bin", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="helm binary to render charts with (default: helm on PATH).")(f)
    f = click.option("--helm-values", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="Values file passed to `helm template` (repeatable).")(f)
    f = click.option("--helm-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
                     help="Deadline for rendering all charts together; a chart still rendering then is not scanned "
                          "(default: 60).")(f)
    f = click.option("--release-name", default="release", show_default=True, callback=_check_k8s_name,
                     help="Release name for `helm template` "
                          "(a Kubernetes name: lower-case letters, digits, '-', '.').")(f)
    f = click.option("--namespace", default=None, callback=_check_k8s_name,
                     help="Namespace for `helm template` and manifests without one (default: default).")(f)
    if gate:
        f = click.option("--approved-by", "approved_by", default=None, metavar="NAME",
                         help="Cost approval for changes over the approvals thresholds "
                              "(default: $TAGGUARD_APPROVED_BY).")(f)
    return f


def scan_kwargs_to_options(kw: dict):
    """The scan flags as typed ``sources.base.ScanOptions`` (sources and rules read them, never write)."""
    from tagguard.sources.base import ScanOptions

    return ScanOptions.coerce({
        "usage": str(kw["usage_file"]) if kw.get("usage_file") else None,
        "skip_helm": kw.get("skip_helm", False),
        "fetch_modules": bool(kw.get("fetch_modules")),
        "helm_bin": str(kw["helm_bin"]) if kw.get("helm_bin") else None,
        "helm_values": [str(p) for p in kw.get("helm_values") or ()],
        "release_name": kw.get("release_name") or "release",
        "helm_timeout": kw.get("helm_timeout"),
        "namespace": kw.get("namespace"),
        "approved_by": kw.get("approved_by"),
    })


def scan_inputs(config, kw: dict) -> tuple[list[Path], dict]:
    """Apply --scope/--fail-on to the config; var files and variables from config + flags."""
    if kw.get("scope"):
        config.raw["scope"] = kw["scope"]
    if kw.get("fail_on"):
        config.raw["fail_on"] = kw["fail_on"]
    var_files = list(kw.get("var_files") or ())
    for rel in ((config.section("terraform") or {}).get("var_files") or []):
        var_files.append(config.base_dir / rel)
    variables = dict((config.section("terraform") or {}).get("variables") or {})
    variables.update(parse_pairs(kw.get("variables") or ()))
    return var_files, variables


def calm_gc() -> None:
    """A scan builds many small long-lived objects (syntax trees, values, YAML nodes) and
    little cyclic garbage; the cyclic collector re-walks them all for nothing. The CLI process
    ends with the scan, so it runs without it: 10-25 % less CPU on 10,000 manifests, for about
    3 KB of uncollected cycles per YAML file (BENCHMARKS.md). Nor does it walk them once more at
    exit: the interpreter's final collection would (about 8 % of a 2,000-resource Terraform scan);
    frozen objects are skipped by it (`atexit` handlers and buffered files are unaffected)."""
    import atexit
    import gc

    gc.disable()
    atexit.unregister(gc.freeze)  # once, however often a command calls this
    atexit.register(gc.freeze)


def run_scan(paths: Sequence[str], config, kw: dict):
    from tagguard.pipeline import scan

    calm_gc()
    for p in paths:
        if p != "-" and not os.path.exists(p):
            fail(f"{p}: no such file or directory")
    var_files, variables = scan_inputs(config, kw)
    stdin = None
    if "-" in paths:
        stdin = sys.stdin.buffer.read()
    try:
        result = scan(list(paths), config, var_files=var_files, variables=variables,
                      options=scan_kwargs_to_options(kw), stdin=stdin)
    except ValueError as exc:  # bad usage file and similar one-line input errors
        fail(str(exc))
    result.config = config.describe()  # which config and taxonomy judged the run (report header)
    return result


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True))
@config_option
@scan_options
@output_options
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Report only findings not recorded in this baseline file (see `tagguard baseline create`).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def scan(paths, config_path, formats, outputs, no_color, baseline_path, quiet, **kw):
    """Scan Terraform, plan JSON, Kubernetes manifests and Helm charts under PATHS (default: .).

    A file argument scans the module it belongs to (every .tf file in its directory).
    `-` reads a Kubernetes manifest stream (YAML or JSON) from stdin. Everything after `--` is a
    path, never an option (the pre-commit hook passes file names that way).
    """
    calm_gc()  # before the config and the stages' imports too (run_scan does it for diff)
    config = load_config_or_exit(config_path)
    extra = {k: kw.pop(k) for k in list(kw) if k.startswith("output_")}
    result = run_scan(paths or (".",), config, kw)
    if baseline_path is not None or config.section("baseline"):
        apply_baseline(result, baseline_path or config.base_dir / config.section("baseline"))
    code = result.exit_code()  # the whole rule: the JSON's summary.exit_code is the same number
    if not (quiet and code == 0 and not result.active_findings()):
        emit(result, formats, outputs, extra, no_color, config=config)
    raise click.exceptions.Exit(code)


def report_unseen(result) -> None:
    """On stderr, one line per input that was not seen (exit 2) and per failed read (exit 3): for the
    commands whose output is not the findings (`baseline create`, `report showback`)."""
    for u in result.unseen:
        click.echo(f"tagguard: {u.file + ': ' if u.file else ''}{u.reason}", err=True)
    for e in result.errors:
        click.echo(f"tagguard: incomplete: {e.get('message') or e.get('code') or e}", err=True)


def apply_baseline(result, path: Path) -> None:
    try:
        from tagguard.state.baseline import apply_baseline as _apply
    except ModuleNotFoundError:
        fail("--baseline is not available in this build")
    try:
        _apply(result, path)
    except ValueError as exc:
        fail(str(exc))


@cli.command()
@click.argument("rule", required=False)
@click.option("--list", "list_all", is_flag=True, help="List every rule with its category and default severity.")
def explain(rule, list_all):
    """Explain a rule (by id such as missing-tag, or category such as missing_tag):
    what it checks, why, example, fix."""
    from tagguard.rules import all_docs, get_doc

    if list_all or not rule:
        for each in all_docs().values():
            click.echo(f"{each.id:<22} {each.category:<20} {each.severity:<8} {each.summary}")
        return
    doc = get_doc(rule)
    if doc is None:
        from difflib import get_close_matches

        near = get_close_matches(rule, list(all_docs()), n=3)
        fail(f"unknown rule {rule!r}"
             + (f"; did you mean {', '.join(near)}?" if near else "; see `tagguard explain --list`"))
    click.echo(f"{doc.id} ({doc.category}, default severity {doc.severity})\n\n{doc.summary}\n\n{doc.body}")


def run() -> NoReturn:
    """The ``tagguard`` command (the console script and ``python -m tagguard``): ``main`` on the process's
    arguments, and the process ends there (``end_process``)."""
    try:
        main()
    except SystemExit as exc:
        end_process(exc.code)
    end_process(0)


def end_process(code: object) -> NoReturn:
    """End the ``tagguard`` process with ``sys.exit``'s status for ``code``, after the ``atexit`` handlers
    (weakref finalizers, temporary directories) and a flush of stdout and stderr, but without the
    interpreter's teardown: freeing every object of a scan one by one is memory-bound work (~10 ms, 2-3 %
    of a 2,000-resource Terraform scan; mypy ends the same way).  Every file tagguard writes is closed by
    a ``with`` block and every database connection by ``close()`` before this.  Only ``run`` ends this
    way; ``main`` raises ``SystemExit`` as before for tests and programs that call it."""
    import atexit

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed to stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # type: ignore[attr-defined]
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`tagguard scan | head`): 120, as the interpreter's own exit
            status = 120
    os._exit(status)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="tagguard", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("tagguard: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # never a traceback for users
        if os.environ.get("TAGGUARD_DEBUG"):
            raise
        click.echo(f"tagguard: internal error: {type(exc).__name__}: {log_safe(str(exc))}"
                   f" (set TAGGUARD_DEBUG=1 for a traceback)",
                   err=True)
        sys.exit(EXIT_USAGE)
