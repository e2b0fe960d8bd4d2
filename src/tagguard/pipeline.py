"""The one pipeline: inventory -> sources -> pricing -> rules -> suppressions -> result."""
from __future__ import annotations

import os
from operator import attrgetter
from importlib import import_module
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from tagguard import rules
from tagguard.config import Config
from tagguard.model import Finding, Resource, ScanResult
from tagguard.rules.tags import reported
from tagguard.sources import SOURCES
from tagguard.sources.base import Inventory, ScanContext, ScanOptions, SourceOutput, walk

TF_SIBLINGS = (".tf", ".tf.json", ".tfvars", ".tfvars.json")


def build_inventory(paths: Sequence[str], config: Config, stdin: bytes | None = None) -> Inventory:
    """Walk the scanned paths once.  A file argument brings its whole Terraform module;
    a file inside a Helm chart (values file, template, Chart.yaml) means the chart."""
    real = [_enclosing_chart(Path(p)) or Path(p) for p in paths if p != "-"]
    if not real:
        inv = Inventory(root=Path.cwd())
    elif len(real) == 1 and real[0].is_dir():
        inv = walk(real[0], config.exclude)
    else:
        dirs = [p if p.is_dir() else p.parent for p in real]
        root = Path(os.path.commonpath([str(d.resolve()) for d in dirs]))
        inv = Inventory(root=root)
        seen = set()
        for p in real:
            if p.is_dir():
                sub = walk(p, config.exclude)
                prefix = Path(os.path.relpath(p.resolve(), root)).as_posix()
                files = [f if prefix == "." else f"{prefix}/{f}" for f in sub.files]
                inv.problems.extend(sub.problems)
            elif p.exists():
                rel = Path(os.path.relpath(p.resolve(), root)).as_posix()
                files = [rel]
                if p.name.endswith(TF_SIBLINGS):  # a changed .tf file means its whole module
                    parent = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
                    files += [parent + s.name for s in sorted(p.parent.iterdir())
                              if s.is_file() and s.name.endswith(TF_SIBLINGS)]
            else:
                inv.problems.append(Finding(rule="parse-error", category="parse_error", severity="error",
                                            message=f"{p}: no such file or directory", file=str(p)))
                continue
            for f in files:
                if f not in seen:
                    seen.add(f)
                    inv.files.append(f)
        changed_modules = [p.resolve().parent for p in real
                           if not p.is_dir() and p.name.endswith(TF_SIBLINGS) and p.exists()]
        if changed_modules:  # a changed file of a child module is judged through the modules that call it
            from tagguard.sources.terraform.callers import add_callers

            add_callers(inv, changed_modules, seen)
    if stdin is not None:
        inv.stdin = stdin
        inv.files.append("<stdin>")
    return inv


def _enclosing_chart(path: Path) -> Path | None:
    """The Helm chart directory a file belongs to (a subchart's parent chart), if any."""
    if path.is_dir() or not path.exists():
        return None
    current = path.resolve().parent
    chart = None
    while True:
        if (current / "Chart.yaml").is_file():
            chart = current
            break
        if (current / ".git").exists() or current.parent == current:
            return None
        current = current.parent
    while chart.parent.name == "charts" and (chart.parent.parent / "Chart.yaml").is_file():
        chart = chart.parent.parent  # a subchart is rendered by its parent
    try:  # relative, like the argument, so reported paths stay relative
        return Path(os.path.relpath(chart))
    except ValueError:  # another drive on Windows
        return chart


def collect(inv: Inventory, ctx: ScanContext, only: list[str] | None = None) -> SourceOutput:
    out = SourceOutput(findings=list(inv.problems))
    for spec, suffixes in SOURCES:
        if only is not None and spec.split(":")[0].rsplit(".", 1)[1] not in only:
            continue
        if not any(f.endswith(suffixes) for f in inv.files):
            continue
        module_name, _, cls_name = spec.partition(":")
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # this input kind is not part of this build
                continue
            raise
        out.extend(getattr(module, cls_name)().collect(inv, ctx))
    return out


def evaluate(out: SourceOutput, ctx: ScanContext, root: str | None = None) -> ScanResult:
    """Price, judge and suppress what the sources produced."""
    config = ctx.config
    resources = out.resources
    findings = list(out.findings)
    findings.extend(price(resources, ctx))
    findings.extend(rules.run_checks(resources, ctx))
    findings = rules.apply_severities(findings, config.rule_overrides)
    apply_suppressions(findings, resources)
    findings = dedupe_sorted(sort_findings(findings))
    listed = reported(resources, config.scope)  # in scope, or AI without tags
    for key in (attrgetter("address"), lambda r: r.line or 0, lambda r: r.file or ""):
        listed.sort(key=key)  # by (file, line, address): one stable pass per part, no key tuple per resource
    result = ScanResult(resources=listed, findings=findings, root=root, fail_on=config.fail_on,
                        unseen=list(out.unseen), errors=list(out.errors), drift=out.live_stats,
                        cost_diff=ctx.outputs.cost_diff, budgets=ctx.outputs.budgets)
    return result


def price(resources: list[Resource], ctx: ScanContext) -> list[Finding]:
    """Price the AI resources; returns the usage file's problem (a file that cannot be read
    or parsed is one parse error, and pricing goes on without it)."""
    problems: list[Finding] = []
    ai = [r for r in resources if r.ai and r.compute is not None]
    if not ai:
        return problems
    try:
        engine = import_module("tagguard.pricing.engine")
    except ModuleNotFoundError:  # pricing not part of this build
        return problems
    # the one set-up every command prices with: rate card (+ the local one of `pricing refresh`),
    # `pricing` config, usage file
    setup = engine.make_pricer(ctx.config, ctx.options)
    from tagguard.pricing import placement

    # GPU workloads take the instance types of the node pools they select (same scan), ranked by
    # the rates of the card they are priced with
    placement.resolve(resources, setup.pricer.card)
    if setup.usage_error is not None:  # one line naming the file (and line): a parse error, not an abort
        problems.append(Finding(rule="parse-error", category="parse_error", severity="error",
                                message=f"{setup.usage_error} (usage file not applied)", file=str(setup.usage_path)))
    for r in ai if setup.usage is not None else ():
        setup.usage.apply(r)
    setup.pricer.price_all(ai)
    # billed capacity once: workloads priced from a node pool priced in the same scan are attributions
    placement.attribute(resources)
    return problems


def apply_suppressions(findings: list[Finding], resources: list[Resource]) -> None:
    by_address: dict[str, Resource] = {}
    for r in resources:
        if r.suppressions:
            by_address[r.address] = r
    for f in findings:
        res = by_address.get(f.address or "")
        if res is None:
            continue
        for sup in res.suppressions:
            if sup.matches(f):
                f.suppressed = True
                f.suppression_reason = sup.reason
                break


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """``findings`` in report order (file, line, address, rule, tag), sorted in place: one stable pass
    per part, from the last, so no key tuple is made per finding (100,000 of them are 10 MB)."""
    for key in (lambda f: f.tag or "", attrgetter("rule"), lambda f: f.address or "", lambda f: f.line or 0,
                lambda f: f.file or ""):
        findings.sort(key=key)
    return findings


def dedupe(findings: list[Finding]) -> list[Finding]:
    seen = set()
    out = []
    for f in findings:
        key = (f.rule, f.address, f.file, f.line, f.tag, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def dedupe_sorted(findings: list[Finding]) -> list[Finding]:
    """``dedupe`` for findings in report order (``sort_findings``): equal findings have the same order
    key, so they are next to each other and only the current run of one key is remembered (``dedupe``
    keeps a set of every finding: 20 MB for 150,000 findings)."""
    seen: set[tuple] = set()
    out = []
    run = None
    for f in findings:
        order = (f.file or "", f.line or 0, f.address or "", f.rule, f.tag or "")
        if order != run:
            run, seen = order, set()
        key = (f.rule, f.address, f.file, f.line, f.tag, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def scan(paths: Sequence[str], config: Config, *, var_files: list[Path] | None = None,
         variables: dict[str, str] | None = None, options: ScanOptions | Mapping[str, Any] | None = None,
         stdin: bytes | None = None) -> ScanResult:
    inv = build_inventory(paths, config, stdin=stdin)
    ctx = ScanContext(config, inv.root, var_files=var_files, variables=variables, options=options)
    out = collect(inv, ctx)
    root = str(_enclosing_chart(Path(paths[0])) or paths[0]) if len(paths) == 1 else str(inv.root)
    return evaluate(out, ctx, root=root)
