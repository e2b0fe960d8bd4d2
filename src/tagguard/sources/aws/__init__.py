"""Live AWS inventory for ``tagguard drift`` (needs the ``aws`` extra: ``pip install 'tagguard[aws]'``).

``scan_live(config, options)`` fans out over accounts x regions in a bounded thread pool and
returns a ``SourceOutput`` plus the errors met (access denied, throttled) and call statistics;
``AwsSource`` wraps it in the ``Source`` seam so ``pipeline.evaluate`` prices and judges the
resources with the same taxonomy, rules and rate card as the IaC scan.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput

BOTO3_MISSING = "the drift scan needs boto3: pip install 'tagguard[aws]'"


@dataclass
class DriftOptions:
    regions: str | None = None  # "a,b" | "all" | None (the session's region)
    accounts: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    org: bool = False
    role_name: str | None = None
    external_id: str | None = None
    scope: str = "ai"
    services: list[str] = field(default_factory=list)  # empty: all
    states: list[Path] = field(default_factory=list)
    workers: int = 16
    max_attempts: int = 10
    progress: bool | None = None  # None: on a TTY unless CI


@dataclass
class LiveScan:
    output: SourceOutput
    errors: list[dict[str, Any]]
    stats: dict[str, Any]


def require_boto3() -> None:
    try:
        import boto3  # noqa: F401
    except ModuleNotFoundError:
        raise RuntimeError(BOTO3_MISSING) from None


def scan_live(config, opts: DriftOptions) -> LiveScan:
    require_boto3()
    from tagguard.sources.aws import accounts as acc
    from tagguard.sources.aws import inventory as inv
    from tagguard.sources.aws.progress import Progress

    started = time.monotonic()
    counter = acc.CallCounter()
    services = list(opts.services or inv.SERVICES)
    if opts.scope == "all" and "tagging" not in services:
        services.append("tagging")
    accounts, base, errors = acc.resolve_accounts(
        profiles=opts.profiles, accounts=opts.accounts, org=opts.org, role_name=opts.role_name,
        external_id=opts.external_id, counter=counter, max_attempts=opts.max_attempts)
    cfg = acc.client_config(opts.max_attempts)
    regions: list[str] = []
    if base is not None:
        try:
            regions = acc.resolve_regions(opts.regions, base, cfg)
        except Exception as exc:
            raise acc.AccountError({"account": None, "region": None, "service": "ec2",
                                    "operation": "DescribeRegions", **acc.error_info(exc)}) from None
    progress = Progress(len(accounts) * len(regions) * len(services), enabled=opts.progress)
    out = SourceOutput()
    timings: dict[str, float] = {}

    def task(account: acc.Account, region: str):
        t0 = time.monotonic()
        try:
            session = account.session()
        except acc.AccountError as exc:
            progress.advance(f"{account.label} {region}", len(services))
            return None, exc.info, time.monotonic() - t0
        result = inv.scan_region(session, account.account_id, region, scope=opts.scope, services=services,
                                 cfg=cfg,
                                 tick=lambda s: progress.advance(f"{account.label} {region} {s}"))
        return result, None, time.monotonic() - t0

    account_errors: dict[str, dict[str, Any]] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, opts.workers), thread_name_prefix="tagguard-aws") as pool:
            futures = {pool.submit(task, a, r): (a, r) for a in accounts for r in regions}
            for fut in as_completed(futures):
                a, r = futures[fut]
                try:
                    result, err, took = fut.result()
                except Exception as exc:  # a bug or an unexpected response: the rest still completes
                    errors.append({"account": a.account_id, "region": r, "service": None, **acc.error_info(exc)})
                    continue
                timings[f"{a.account_id}/{r}"] = round(took, 4)
                if err is not None:
                    account_errors.setdefault(a.account_id, {**err, "regions": []})["regions"].append(r)
                    continue
                out.resources.extend(result.resources)
                out.findings.extend(result.findings)
                errors.extend(result.errors)
    finally:
        progress.close()
    for account_id in sorted(account_errors):
        e = account_errors[account_id]
        e["regions"] = sorted(e["regions"])
        errors.append(e)
    errors.sort(key=lambda e: (str(e.get("account")), str(e.get("region")), str(e.get("service"))))
    # one resource per address (an endpoint listed twice across pages, a region listed twice)
    seen: dict[str, Any] = {}
    for res in out.resources:
        seen.setdefault(res.address, res)
    out.resources = list(seen.values())
    if opts.states:
        from tagguard.sources.aws import state

        index = state.load_states(opts.states)
        out.findings.extend(index.problems)
        out.findings.extend(state.compare(out.resources, index))
    wall = time.monotonic() - started
    stats = {
        "accounts": [a.account_id for a in accounts],
        "regions": regions,
        "services": services,
        "scope": opts.scope,
        "complete": not errors,
        "calls": counter.total,
        "calls_by_operation": counter.snapshot(),
        "wall_seconds": round(wall, 3),
        "slowest_task_seconds": round(max(timings.values()), 3) if timings else 0.0,
        "sum_task_seconds": round(sum(timings.values()), 3),
        "workers": opts.workers,
    }
    return LiveScan(out, errors, stats)


class AwsSource(Source):
    """The live-AWS input kind; reads ``ctx.options.aws`` (a ``DriftOptions``), not files.

    Accounts or regions that fail come back in ``SourceOutput.errors`` (the scan is incomplete: exit
    code 3) and the call statistics in ``SourceOutput.live_stats``."""

    name = "aws"

    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        live = scan_live(ctx.config, ctx.options.aws or DriftOptions())
        out = live.output
        out.errors.extend(live.errors)
        out.live_stats = live.stats
        return out
