"""CI outputs: render time of each report format for a large result, and the pre-commit hook path.

    python benchmarks/ci_outputs.py

Prints the figures and updates the `## CI outputs` section of BENCHMARKS.md.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine, update_section  # noqa: E402

from tagguard.formats import get_formatter  # noqa: E402
from tagguard.model import Cost, Finding, Resource, ScanResult  # noqa: E402

N_RESOURCES = 3000
TAGS = ("business-unit", "project", "cost-center")


def big_result() -> ScanResult:
    resources, findings = [], []
    for i in range(N_RESOURCES):
        addr = f"module.team_{i % 50}.aws_instance.gpu[{i}]"
        file = f"teams/team_{i % 50}/main.tf"
        resources.append(Resource(address=addr, type="aws_instance", source="terraform", file=file, line=i % 400 + 1,
                                  ai=True, cost=Cost(monthly_usd=1000.0, gpu_hours_per_month=730)))
        for tag in TAGS:
            findings.append(Finding(rule="missing-tag", category="missing_tag", severity="error",
                                    message=f"{addr}: required tag `{tag}` is missing", address=addr, file=file,
                                    line=i % 400 + 1, tag=tag, fix=f'add "{tag}" in `tags`',
                                    suppressed=i % 10 == 0, suppression_reason="baseline" if i % 10 == 0 else None))
    return ScanResult(resources=resources, findings=findings, root=".")


def time_formats(result: ScanResult):
    rows = []
    for name in ("json", "sarif", "junit", "markdown", "github", "text"):
        fmt = get_formatter(name)
        times, size = [], 0
        for _ in range(3):
            t0 = time.perf_counter()
            out = fmt.format(result)
            times.append(time.perf_counter() - t0)
            size = len(out)
        rows.append((name, statistics.median(times), size))
    return rows


def hook_path():
    """`tagguard scan` on one changed .tf file, as the pre-commit hook runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        mod = Path(tmp) / "infra"
        mod.mkdir()
        (mod / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n'
                                     '  tags = { project = "llm" }\n}\n')
        env = {**os.environ, "NO_COLOR": "1"}
        env.pop("GITHUB_STEP_SUMMARY", None)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tagguard", "scan", "infra/main.tf"], cwd=tmp, env=env,
                           capture_output=True)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def main() -> None:
    result = big_result()
    rows = time_formats(result)
    hook = hook_path()
    lines = [f"Machine: {machine()}.", "",
             f"Rendering a result of {N_RESOURCES:,} AI resources and {len(result.findings):,} findings "
             "(10% baselined), median of 3:", "",
             "| format | render time | output size |", "|---|---:|---:|"]
    for name, t, size in rows:
        lines.append(f"| {name} | {t * 1000:,.0f} ms | {size / 1024:,.0f} KiB |")
    lines += ["", "The Markdown report is cut to fit a PR comment (limit 60,000 characters); the summary line "
              "is always kept.", "",
              f"pre-commit hook path (`tagguard scan infra/main.tf`, one GPU instance, new process, median of 5): "
              f"{hook:.2f} s wall."]
    body = "\n".join(lines)
    print(body)
    update_section("CI outputs", body)


if __name__ == "__main__":
    main()
