"""Clear input handling on the command line (issue 11 item 10): invalid dates, `-o FILE` without `-f`,
options a command ignores are not offered, and `--help` tells the exit codes and where `--fail-on`'s
default comes from."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from clikit import run_cli


UNTAGGED = 'resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n}\n'
USAGE_LINE = ('{"ts": "2026-11-03T10:00:00Z", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, '
              '"output_tokens": 100, "tags": {"business-unit": "r", "project": "p", "environment": "dev", '
              '"cost-center": "c"}}\n')


@pytest.fixture
def tf(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "main.tf").write_text(UNTAGGED, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "2026-1-1", "yesterday"])
@pytest.mark.parametrize("flag", ["--since", "--until"])
def test_usage_rejects_dates_that_do_not_exist(tmp_path, flag, value):
    log = tmp_path / "u.jsonl"
    log.write_text(USAGE_LINE, encoding="utf-8")
    res = run_cli("usage", str(log), flag, value)
    assert res.exit_code == 2, res.output  # 2026-13-01 was accepted and reported 0 calls
    assert "is not a date" in res.output


def test_usage_since_after_until_is_a_usage_error(tmp_path):
    log = tmp_path / "u.jsonl"
    log.write_text(USAGE_LINE, encoding="utf-8")
    res = run_cli("usage", str(log), "--since", "2026-12-01", "--until", "2026-11-01")
    assert res.exit_code == 2 and "is after --until" in res.output
    assert run_cli("usage", str(log), "--since", "2026-11-01", "--until", "2026-11-30").exit_code == 0


def _check_json(p: Path) -> None:
    assert json.loads(p.read_text())["summary"]["exit_code"] == 1


def _check_sarif(p: Path) -> None:
    assert json.loads(p.read_text())["version"] == "2.1.0"


def _check_junit(p: Path) -> None:
    assert ET.fromstring(p.read_text()).tag in ("testsuites", "testsuite")


def _check_md(p: Path) -> None:
    assert "missing-tag" in p.read_text() and not p.read_text().startswith("{")


def _check_html(p: Path) -> None:
    assert p.read_text().lstrip().lower().startswith("<!doctype html")


def _check_txt(p: Path) -> None:
    assert p.read_text().rstrip().splitlines()[-1].startswith("FAIL")


@pytest.mark.parametrize("name,check", [("report.json", _check_json), ("r.sarif", _check_sarif),
                                        ("r.sarif.json", _check_sarif), ("junit.xml", _check_junit),
                                        ("r.md", _check_md), ("r.HTML", _check_html), ("r.txt", _check_txt)])
def test_output_without_format_takes_it_from_the_extension(tf, name, check):
    res = run_cli("scan", ".", "-o", name)
    assert res.exit_code == 1, res.output
    check(tf / name)


def test_output_with_an_unknown_extension_is_refused(tf):
    res = run_cli("scan", ".", "-o", "report.data")
    assert res.exit_code == 2
    assert "cannot tell the format from the file name" in res.output
    assert not (tf / "report.data").exists()


def test_explicit_format_still_wins_over_the_extension(tf):
    res = run_cli("scan", ".", "-f", "json", "-o", "report.txt")
    assert res.exit_code == 1
    _check_json(tf / "report.txt")


def test_showback_and_usage_output_extension(tf, tmp_path):
    assert run_cli("report", "showback", ".", "-o", "sb.json").exit_code == 0
    assert "totals" in json.loads((tf / "sb.json").read_text())
    assert run_cli("report", "showback", ".", "-o", "sb.csv").exit_code == 0
    assert not (tf / "sb.csv").read_text().startswith("{")
    assert run_cli("report", "showback", ".", "-o", "sb.sarif").exit_code == 2  # no SARIF showback
    log = tmp_path / "u.jsonl"
    log.write_text(USAGE_LINE, encoding="utf-8")
    assert run_cli("usage", str(log), "-o", "u.json").exit_code == 0
    assert json.loads((tf / "u.json").read_text())["kind"] == "llm-usage"


def test_a_scan_path_that_does_not_exist_is_a_usage_error(tf):
    res = run_cli("scan", "main.tf", "nope.tf")
    assert res.exit_code == 2 and "nope.tf: no such file or directory" in res.output


@pytest.mark.parametrize("command", [("report", "showback"), ("baseline", "create")])
def test_options_a_command_ignores_are_not_offered(tf, command):
    helptext = run_cli(*command, "--help").output
    assert "--fail-on" not in helptext and "--approved-by" not in helptext
    res = run_cli(*command, ".", "--fail-on", "warning")
    assert res.exit_code == 2 and "No such option" in res.output and "--fail-on" in res.output
    # and the commands that gate still offer them
    assert "--fail-on" in run_cli("scan", "--help").output and "--approved-by" in run_cli("diff", "--help").output


def test_help_lists_every_exit_code_and_the_fail_on_default():
    top = " ".join(run_cli("--help").output.split())
    for code in ("0 nothing blocking", "1 blocking findings", "2 usage or configuration error",
                 "3 incomplete"):
        assert code in top
    scan_help = " ".join(run_cli("scan", "--help").output.split())
    assert "(default: `fail_on` in the config, else error)" in scan_help
