"""The action's choice of command and the tagguard command line it builds (``integrations.gha``):
diff on a pull request with a base, scan otherwise; the baseline only for scan; paths after ``--``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tagguard.integrations import gha


def _args(**kw) -> argparse.Namespace:
    base = {"command": "auto", "head_config": False, "config": "", "fail_on": "", "baseline": "", "sarif": True,
            "extra_args": None, "paths": ["."]}
    return argparse.Namespace(**{**base, **kw})


FILES = {"json": Path("/o/tagguard.json"), "sarif": Path("/o/tagguard.sarif"), "markdown": Path("/o/tagguard.md")}


def test_scan_outside_a_pull_request_and_diff_on_one():
    assert gha._subcommand(_args(), "push", "") == ["scan"]
    assert gha._subcommand(_args(), "pull_request", "") == ["scan"]  # no base: nothing to diff against
    assert gha._subcommand(_args(), "pull_request", "abc123") == ["diff", gha.diff_base_option(), "abc123"]


def test_diff_asked_for_without_a_base_is_an_error(capsys):
    assert gha._subcommand(_args(command="diff"), "push", "") is None
    assert "`diff` needs a base ref" in capsys.readouterr().err


def test_head_config_is_passed_to_diff():
    command = gha._subcommand(_args(head_config=True), "pull_request_target", "abc123")
    assert command[0] == "diff" and command[-1] == "--head-config"


def test_the_baseline_applies_to_scan_only(capsys):
    scan = gha._tagguard_argv(_args(baseline="b.json", config="c.yaml", fail_on="warning"), ["scan"], FILES)
    assert scan[0] == sys.executable and " ".join(scan[1:4]) == "-I -m tagguard"  # isolated: no checkout on the path
    assert scan[4:9] == ["scan", "--config", "c.yaml", "--fail-on", "warning"]
    assert scan[9:11] == ["--baseline", "b.json"]
    diff = gha._tagguard_argv(_args(baseline="b.json"), ["diff", "--base", "abc"], FILES)
    assert "--baseline" not in diff
    assert "the baseline applies to `tagguard scan`" in capsys.readouterr().out


def test_every_report_in_one_run_and_paths_after_the_double_dash():
    cmd = gha._tagguard_argv(_args(sarif=False, extra_args=["--scope", "all"], paths=["-x", "infra"]), ["scan"],
                             FILES)
    assert cmd[cmd.index("-f") + 1:][:3] == ["json", "-o", str(FILES["json"])]
    assert "sarif" not in cmd
    assert cmd[-7:] == ["-f", "github", "--scope", "all", "--", "-x", "infra"]
