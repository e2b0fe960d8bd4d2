"""The CLI as a user drives it: exit codes, explain, config lookup, formats to files."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest


from clikit import run_cli
from tagguard.rules import all_docs


tg = partial(run_cli, process=True)  # a real `python -m tagguard`: exit codes and stderr as CI sees them

ROOT = Path(__file__).resolve().parent.parent
CLEAN = '''resource "aws_instance" "gpu" {
  instance_type = "g5.xlarge"
  tags = { business-unit = "r", project = "p", environment = "dev", cost-center = "c" }
}
'''


def test_examples_fail_with_exit_1():
    proc = tg("scan", "examples/terraform", cwd=ROOT)
    assert proc.returncode == 1
    assert "aws_instance.trainer" in proc.stdout and "FAIL" in proc.stdout


def test_clean_module_exit_0(tmp_path):
    (tmp_path / "main.tf").write_text(CLEAN)
    proc = tg("scan", str(tmp_path))
    assert proc.returncode == 0, proc.stdout
    assert "PASS" in proc.stdout


def test_fail_on_warning(tmp_path):
    (tmp_path / "main.tf").write_text(CLEAN.replace('"c"', "var.cc") + 'variable "cc" {}\n')
    assert tg("scan", str(tmp_path)).returncode == 0
    assert tg("scan", str(tmp_path), "--fail-on", "warning").returncode == 1


def test_config_found_upward_and_taxonomy_relative(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "tax.json").write_text(json.dumps({"type": "object", "required": ["owner"]}))
    (tmp_path / ".tagguard.yaml").write_text("taxonomy: policy/tax.json\n")
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text(CLEAN)
    proc = tg("scan", ".", "-f", "json", cwd=tmp_path / "infra")
    report = json.loads(proc.stdout)
    assert [(f["rule"], f["tag"]) for f in report["findings"]] == [("missing-tag", "owner")]


def test_config_lookup_stops_at_repo_root(tmp_path):
    (tmp_path / ".tagguard.yaml").write_text("scope: [broken\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "main.tf").write_text(CLEAN)
    assert tg("scan", ".", cwd=repo).returncode == 0


@pytest.mark.parametrize("rule", sorted(all_docs()))
def test_explain_every_rule(rule):
    proc = tg("explain", rule)
    assert proc.returncode == 0
    for section in ("What it checks", "Why it matters for cost attribution", "Example", "Fix"):
        assert f"## {section}" in proc.stdout, f"{rule} lacks '{section}'"


def test_explain_by_category_and_unknown():
    assert tg("explain", "missing_tag").stdout.startswith("missing-tag")
    proc = tg("explain", "mising-tag")
    assert proc.returncode == 2 and "did you mean missing-tag" in proc.stderr


def test_several_outputs_in_one_run(tmp_path):
    (tmp_path / "main.tf").write_text(CLEAN.replace('cost-center = "c"', ""))
    out = tmp_path / "out"
    proc = tg("scan", str(tmp_path), "-f", "json", "-o", str(out / "r.json"), "-f", "text")
    assert proc.returncode == 1
    assert "missing-tag" in proc.stdout
    report = json.loads((out / "r.json").read_text())
    assert report["summary"]["blocking"] == 1


def test_version_and_help():
    assert tg("--version").stdout.startswith("tagguard, version")
    help_text = tg("scan", "--help").stdout
    for flag in ("--var-file", "--scope", "--fail-on", "--format", "--output", "--config", "--usage"):
        assert flag in help_text


def test_every_option_of_every_command_has_help():
    import click

    from tagguard.cli import cli

    ctx = click.Context(cli)
    missing = []

    def walk(cmd, path):
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and not p.help:
                missing.append(f"{path} {p.opts[0]}")
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), f"{path} {name}")

    walk(cli, "tagguard")
    assert not missing
