"""``--format github``: GitHub Actions workflow commands (annotations) plus a job summary.

Each active finding becomes ``::error file=…,line=…,title=…::message``;
GitHub shows it on the pull request's diff.  When ``$GITHUB_STEP_SUMMARY`` is
set, the Markdown report is appended to it so the run page shows the summary.
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from tagguard.formats.base import Formatter
from tagguard.formats.escape import guard_commands, wf_data, wf_property
from tagguard.model import ERROR, INFO, WARNING, ScanResult
from tagguard.report_parts import GpuActuals

COMMAND_OF = {ERROR: "error", WARNING: "warning", INFO: "notice"}


def escape_data(text: str) -> str:
    """Escape a workflow command's message (``%``, CR, LF; control characters shown escaped)."""
    return wf_data(text)


def escape_property(text: str) -> str:
    """Escape a workflow command property value (also ``:`` and ``,``)."""
    return wf_property(text)


def workflow_command(command: str, message: str, **props: object) -> str:
    items = [f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None and v != ""]
    sep = " " if items else ""
    return f"::{command}{sep}{','.join(items)}::{escape_data(message)}"


def scan_base(result: ScanResult) -> Path:
    """The directory finding paths are relative to."""
    return result.base_dir()


def repo_path(result: ScanResult, file: str | None) -> str | None:
    """A finding's file as a POSIX path relative to the working directory (the repository root in CI)."""
    if not file:
        return None
    if file.startswith("<"):  # <stdin>
        return file
    return _repo_path(str(result.root or "."), os.getcwd(), file)


@lru_cache(maxsize=4096)
def _repo_path(root: str, cwd: str, file: str) -> str:
    path = scan_base(ScanResult(root=root)) / file
    if path.is_absolute():
        try:
            rel = os.path.relpath(path, cwd)
        except ValueError:  # another drive on Windows
            return path.as_posix()
        if rel.startswith(".."):
            return path.as_posix()
        path = Path(rel)
    text = path.as_posix()
    while text.startswith("./"):
        text = text[2:]
    return text


class GithubFormatter(Formatter):
    name = "github"
    human = False

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        lines = finding_annotations(result)
        if result.gpu_actuals is not None:  # cluster report / cluster opencost: not a scan of AI resources
            summary = actuals_summary_line(result, result.gpu_actuals)
        else:
            from tagguard.formats.markdown import render_summary_line

            summary = render_summary_line(result).replace(":x: ", "").replace(":white_check_mark: ", "")
            summary = summary.replace("**", "")
        lines.append(guard_commands(summary))  # data-free today; kept inert should that change
        baseline = result.baseline
        if baseline is not None:
            lines.append(f"baseline hid {baseline.suppressed} known findings; "
                         f"{len(baseline.stale)} stale entries")
        write_step_summary(result)
        return "\n".join(lines) + "\n"


def finding_annotations(result: ScanResult) -> list[str]:
    """One workflow command per active finding."""
    lines: list[str] = []
    for f in result.findings:
        if f.suppressed:
            continue
        title = f"tagguard {f.rule}" + (f" ({f.tag})" if f.tag else "")
        message = f.message + (f"\nfix: {f.fix}" if f.fix else "")
        lines.append(workflow_command(COMMAND_OF.get(f.severity, "warning"), message,
                                      file=repo_path(result, f.file), line=f.line, title=title))
    return lines


def actuals_summary_line(result: ScanResult, a: GpuActuals) -> str:
    """The log line of a cluster report: the gate's verdict and findings, the GPU-hours and what they cost."""
    from tagguard.formats.helpers import money, plural

    s = result.summary()
    sev = s["by_severity"]
    counts = [plural(sev.get(ERROR, 0), "error"), plural(sev.get(WARNING, 0), "warning")]
    if sev.get(INFO):
        counts.append(f"{sev[INFO]} info")
    return (f"{'FAIL' if s['exit_code'] else 'PASS'}: {plural(s['findings'], 'finding')} ({', '.join(counts)}); "
            f"{a.requested_gpu_hours:,.1f} GPU-hours requested ({money(a.cost_usd)}), "
            f"{a.unattributed_gpu_hours:,.1f} unattributed ({money(a.unattributed_cost_usd)}, "
            f"{a.unattributed_share():.1%} of the {'spend' if a.cost_usd > 0 else 'GPU-hours'})")


def write_step_summary(result: ScanResult, text: str | None = None) -> Path | None:
    """Append the Markdown report to ``$GITHUB_STEP_SUMMARY`` when it is set: the scan's, or a cluster report's
    own (``result.gpu_actuals.markdown``)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    if text is None and result.gpu_actuals is not None and result.gpu_actuals.markdown is not None:
        text = result.gpu_actuals.markdown()
    if text is None:
        from tagguard.formats.markdown import MarkdownFormatter

        text = MarkdownFormatter().format(result)
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        import sys

        print(f"tagguard: warning: cannot write the job summary to {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    return path
