"""Hostile input: every bad file is a one-line error with file and line, never a
traceback, never a hang, and never hides findings in the other files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from clikit import run_cli

GOOD = '''resource "aws_instance" "gpu" {
  instance_type = "p4d.24xlarge"
  tags = { project = "p" }
}
'''


def scan_json(path: Path, *extra):
    proc = run_cli("scan", str(path), "-f", "json", *extra, process=True, timeout=60,
                   cwd=path if path.is_dir() else path.parent)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def good_module(tmp: Path) -> None:
    (tmp / "good").mkdir()
    (tmp / "good" / "main.tf").write_text(GOOD)


def assert_good_still_scanned(report: dict) -> None:
    missing = [f for f in report["findings"] if f["rule"] == "missing-tag" and f["address"] == "aws_instance.gpu"]
    assert {f["tag"] for f in missing} == {"business-unit", "environment", "cost-center"}


def parse_errors(report: dict):
    return [f for f in report["findings"] if f["rule"] == "parse-error"]


@pytest.mark.parametrize("name,content", [
    ("binary.tf", bytes(range(256)) * 64),
    ("nul.tf", b'resource "aws_instance" "x" {\n  instance_type = "p4d.24xlarge"\x00\x00\n}\n'),
    ("latin1.tf", 'resource "aws_instance" "x" { tags = { a = "caf\xe9" } }\n'.encode("latin-1")),
    ("unterminated.tf", b'resource "aws_instance" "x" {\n  instance_type = "p4d.24xlarge\n'),
    ("heredoc.tf", b'locals {\n  x = <<EOT\nnever ends\n'),
    ("brace.tf", b'resource "aws_instance" "x" {\n  tags = { a = "b"\n'),
])
def test_broken_terraform_file_is_one_finding(tmp_path, name, content):
    good_module(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / name).write_bytes(content)
    report = scan_json(tmp_path)
    errs = parse_errors(report)
    assert errs, report["findings"]
    for e in errs:
        assert e["file"] == f"bad/{name}"
        assert "\n" not in e["message"]
        assert e["line"] is None or e["line"] >= 1
    assert_good_still_scanned(report)


def test_deeply_nested_expression_no_crash(tmp_path):
    good_module(tmp_path)
    depth = 20000
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "main.tf").write_text(
        'resource "aws_instance" "deep" {\n  instance_type = "g5.xlarge"\n  tags = '
        + "(" * depth + "{}" + ")" * depth + "\n}\n")
    report = scan_json(tmp_path)
    assert_good_still_scanned(report)
    deep = [f for f in report["findings"] if f.get("file") == "deep/main.tf"]
    assert deep, "the deep file must be reported, not silently passed"


def test_huge_file_is_scanned_quickly(tmp_path):
    block = 'resource "aws_instance" "gpu_%d" {\n  instance_type = "g5.xlarge"\n  tags = { project = "p" }\n}\n'
    (tmp_path / "main.tf").write_text("".join(block % i for i in range(20000)))  # ~1.6 MB, 20k resources
    report = scan_json(tmp_path)
    assert report["summary"]["ai_resources"] == 20000


def test_symlink_loop(tmp_path):
    good_module(tmp_path)
    (tmp_path / "good" / "loop").symlink_to(tmp_path)
    report = scan_json(tmp_path)
    assert_good_still_scanned(report)
    assert any("symlink loop" in f["message"] for f in report["findings"])


def test_config_alias_bomb_is_a_config_error(tmp_path):
    good_module(tmp_path)
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
    (tmp_path / ".tagguard.yaml").write_text("\n".join(lines) + "\n")
    proc = run_cli("scan", "good", process=True, cwd=tmp_path, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "tagguard: error:" in proc.stderr and ".tagguard.yaml" in proc.stderr


@pytest.mark.parametrize("text,expect", [
    ("scope: everything\n", "scope"),
    ("taxonomy: missing.json\n", "missing.json"),
    ("rules: [1, 2\n", "invalid YAML"),
    ("- a\n- b\n", "mapping"),
    ("unknown_key: 1\n", "unknown_key"),
])
def test_bad_config_is_one_line_exit_2(tmp_path, text, expect):
    good_module(tmp_path)
    (tmp_path / ".tagguard.yaml").write_text(text)
    proc = run_cli("scan", "good", process=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert err.count("\n") == 0 and expect in err and "Traceback" not in err


def test_bad_taxonomy_is_one_line_exit_2(tmp_path):
    good_module(tmp_path)
    (tmp_path / "tax.json").write_text('{"type": "object", "required": "notalist"}')
    (tmp_path / ".tagguard.yaml").write_text("taxonomy: tax.json\n")
    proc = run_cli("scan", "good", process=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "tax.json" in proc.stderr and "Traceback" not in proc.stderr


def test_broken_tfvars_still_scans(tmp_path):
    good_module(tmp_path)
    (tmp_path / "good" / "terraform.tfvars").write_text('cost_center = "unterminated\n')
    report = scan_json(tmp_path)
    errs = parse_errors(report)
    assert errs and errs[0]["file"] == "good/terraform.tfvars"
    assert_good_still_scanned(report)


def test_missing_path_is_reported(tmp_path):
    good_module(tmp_path)
    # a path argument that does not exist is a usage error (issue 11 item 10), one line, no traceback
    proc = run_cli("scan", "good", "nope", "-f", "json", process=True, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "tagguard: error: nope: no such file or directory"
    report = json.loads(run_cli("scan", "good", "-f", "json", process=True, cwd=tmp_path, timeout=60).stdout)
    assert_good_still_scanned(report)
