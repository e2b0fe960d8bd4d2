"""Issue 11 item 2: a changed file of a child module is judged as its callers see it.

`tagguard scan infra/modules/gpu-box/main.tf` and the pre-commit hook (which passes changed files)
evaluate the module through the root modules of the repository that call it, directly or through
other local modules, with their provider default_tags and arguments.  A module nobody calls is
scanned as a root with unknown inputs, and the output says so.
"""
from __future__ import annotations

import json
from functools import partial
import os
import shutil
import subprocess
import sys

import pytest

from clikit import run_cli


tg = partial(run_cli, process=True)  # a real `python -m tagguard`: exit codes and stderr as CI sees them

ROOT_TF = """\
provider "aws" {
  region = "us-east-1"
  default_tags { tags = { business-unit = "research", cost-center = "CC-1" } }
}
module "box" {
  source = "./modules/gpu-box"
  tags   = { project = "llm", environment = "prod" }
}
module "other" {
  source = "./modules/other"
}
resource "aws_instance" "root_untagged" {
  instance_type = "p4d.24xlarge"
}
"""
BOX_TF = """\
variable "tags" { default = {} }
resource "aws_instance" "box" {
  instance_type = "g5.xlarge"
  tags          = %s
}
"""
OTHER_TF = """\
resource "aws_instance" "other" {
  instance_type = "g6.xlarge"
}
"""


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60)


def scan_json(*args, cwd=None):
    proc = tg("scan", "-f", "json", *args, cwd=cwd)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "infra" / "modules" / "gpu-box").mkdir(parents=True)
    (repo / "infra" / "modules" / "other").mkdir(parents=True)
    (repo / "infra" / "main.tf").write_text(ROOT_TF)
    (repo / "infra" / "modules" / "gpu-box" / "main.tf").write_text(BOX_TF % "var.tags")
    (repo / "infra" / "modules" / "other" / "main.tf").write_text(OTHER_TF)
    git(repo, "init", "-q")
    return repo


def _rules(doc):
    return sorted((f["rule"], f["address"], f["tag"], f["file"], f["line"]) for f in doc["findings"])


def test_compliant_module_file_passes_through_its_caller(repo):
    code, doc = scan_json("infra/modules/gpu-box/main.tf", cwd=repo)
    assert code == 0, doc["findings"]
    assert [r["address"] for r in doc["resources"]] == ["module.box.aws_instance.box"]
    res = doc["resources"][0]
    assert res["file"] == "main.tf" and res["line"] == 2
    # the caller's default_tags and arguments reached it
    assert res["tags"] == {"business-unit": "research", "cost-center": "CC-1", "project": "llm", "environment": "prod"}
    assert not [f for f in doc["findings"] if f["rule"] == "uncalled-module"]


def test_removing_the_tags_in_the_module_fails_like_a_full_scan(repo):
    (repo / "infra" / "modules" / "gpu-box" / "main.tf").write_text(BOX_TF % "{}")
    code, doc = scan_json("infra/modules/gpu-box/main.tf", cwd=repo)
    assert code == 1
    got = [(f["rule"], f["address"], f["tag"], f["file"], f["line"]) for f in doc["findings"]]
    assert sorted(got) == [("missing-tag", "module.box.aws_instance.box", "environment", "main.tf", 2),
                           ("missing-tag", "module.box.aws_instance.box", "project", "main.tf", 2)]
    # the full scan says the same about this module, at the same line
    _code, full = scan_json("infra", cwd=repo)
    in_module = [(f["rule"], f["address"], f["tag"], f["line"]) for f in full["findings"]
                 if f["file"] == "modules/gpu-box/main.tf"]
    assert sorted(in_module) == sorted((r, a, t, ln) for r, a, t, _f, ln in got)
    # the caller's own resources and its other modules are not reported for this change
    assert {r["address"] for r in doc["resources"]} == {"module.box.aws_instance.box"}
    assert "aws_instance.root_untagged" in {r["address"] for r in full["resources"]}


def test_through_an_intermediate_local_module_and_two_roots(repo):
    platform = repo / "infra" / "modules" / "platform"
    platform.mkdir()
    (platform / "main.tf").write_text('variable "env" {}\nmodule "gpu" {\n  source = "../gpu-box"\n'
                                      '  tags   = { project = "llm", environment = var.env }\n}\n')
    for env in ("dev", "prod"):
        d = repo / "envs" / env
        d.mkdir(parents=True)
        (d / "main.tf").write_text(
            'provider "aws" {\n  default_tags { tags = { business-unit = "r", cost-center = "CC-2" } }\n}\n'
            f'module "platform" {{\n  source = "../../infra/modules/platform"\n'
            f'  env    = "{env if env == "prod" else "qa"}"\n}}\n')
    code, doc = scan_json("infra/modules/gpu-box/main.tf", cwd=repo)
    addresses = {r["address"] for r in doc["resources"]}
    assert {"module.platform.module.gpu.aws_instance.box", "module.box.aws_instance.box"} <= addresses
    # envs/dev passes environment = "qa": invalid in the default taxonomy, reported at the module's line
    bad = [f for f in doc["findings"] if f["rule"] == "invalid-value"]
    assert bad and all(f["file"] == "main.tf" and f["line"] == 2 and f["tag"] == "environment" for f in bad)
    assert code == 1


def test_uncalled_module_is_scanned_as_a_root_and_says_so(repo):
    lonely = repo / "infra" / "modules" / "lonely"
    lonely.mkdir()
    (lonely / "main.tf").write_text(BOX_TF.replace("default = {}", "type = map(string)") % "var.tags")
    code, doc = scan_json("infra/modules/lonely/main.tf", cwd=repo)
    notes = [f for f in doc["findings"] if f["rule"] == "uncalled-module"]
    assert len(notes) == 1
    note = notes[0]
    assert note["severity"] == "info" and note["file"] == "main.tf" and note["line"] == 1
    assert "no module in the repository calls it" in note["message"] and "var.tags" in note["message"]
    # its tags are unknown, never reported as passing
    assert any(f["rule"] == "unresolved-value" for f in doc["findings"]), doc["findings"]


def test_outside_git_the_note_says_callers_were_not_searched(tmp_path):
    mod = tmp_path / "modules" / "box"
    mod.mkdir(parents=True)
    (mod / "main.tf").write_text(BOX_TF.replace("default = {}", "type = map(string)") % "var.tags")
    (tmp_path / "main.tf").write_text('module "b" {\n  source = "./modules/box"\n  tags = {}\n}\n')
    _code, doc = scan_json(str(mod / "main.tf"))
    notes = [f for f in doc["findings"] if f["rule"] == "uncalled-module"]
    assert notes and "not inside a git repository" in notes[0]["message"]


def test_a_source_that_only_looks_alike_is_not_a_caller(repo):
    # a comment, a string elsewhere and a `source_dir` must not make infra/ a caller of lonely/
    lonely = repo / "infra" / "modules" / "lonely"
    lonely.mkdir()
    (lonely / "main.tf").write_text(BOX_TF.replace("default = {}", "type = map(string)") % "{}")
    (repo / "infra" / "extra.tf").write_text(
        '# source = "./modules/lonely"\n'
        'data "archive_file" "x" {\n  type = "zip"\n  source_dir = "./modules/lonely"\n  output_path = "x.zip"\n}\n'
        'resource "null_resource" "copy" {\n  provisioner "file" {\n    source = "./modules/lonely"\n'
        '    destination = "/tmp/x"\n  }\n}\n')
    _code, doc = scan_json("infra/modules/lonely/main.tf", cwd=repo)
    assert [r["address"] for r in doc["resources"]] == ["aws_instance.box"]
    assert [f for f in doc["findings"] if f["rule"] == "uncalled-module"]


def test_pre_commit_hook_passes_changed_files(repo):
    pytest.importorskip("pre_commit", reason="pre-commit is not installed (pip install -e '.[test]')")
    # the hook's own entry (`tagguard scan --` + file names) as a local hook, run by real pre-commit
    (repo / ".pre-commit-config.yaml").write_text(
        "repos:\n  - repo: local\n    hooks:\n      - id: tagguard\n        name: tagguard\n"
        f"        entry: {sys.executable} -m tagguard scan --\n        language: system\n"
        "        files: \\.(tf|tfvars|ya?ml|json|tpl)$\n        pass_filenames: true\n        require_serial: true\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pc-home"), "NO_COLOR": "1"}
    env.pop("GITHUB_STEP_SUMMARY", None)

    def hook(*files):
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--files", *files], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=300)

    git(repo, "add", ".")
    proc = hook("infra/modules/gpu-box/main.tf")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repo / "infra" / "modules" / "gpu-box" / "main.tf").write_text(BOX_TF % "{}")
    git(repo, "add", ".")
    proc = hook("infra/modules/gpu-box/main.tf")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "module.box.aws_instance.box: required tag `project` is missing" in out


def test_root_module_with_every_input_set_carries_no_note(repo):
    (repo / "infra" / "variables.tf").write_text('variable "region" { default = "us-east-1" }\n')
    _code, doc = scan_json("infra/main.tf", cwd=repo)
    assert not [f for f in doc["findings"] if f["rule"] == "uncalled-module"]
    # a root module's file is the root: everything it declares is reported
    assert "aws_instance.root_untagged" in {r["address"] for r in doc["resources"]}


def test_callers_that_create_no_instance_say_the_module_is_not_checked(repo):
    root = ROOT_TF.replace('source = "./modules/gpu-box"', 'source = "./modules/gpu-box"\n  for_each = {}')
    (repo / "infra" / "main.tf").write_text(root)
    (repo / "infra" / "modules" / "gpu-box" / "main.tf").write_text(BOX_TF % "{}")
    _code, doc = scan_json("infra/modules/gpu-box/main.tf", cwd=repo)
    notes = [f for f in doc["findings"] if f["rule"] == "not-scanned"]
    assert len(notes) == 1 and "create no instance of it" in notes[0]["message"]
    assert notes[0]["file"] == "main.tf" and notes[0]["line"] == 2


def test_in_process_scans_see_a_caller_added_between_them(repo):
    from tagguard.config import Config
    from tagguard.pipeline import scan

    lonely = repo / "infra" / "modules" / "lonely"
    lonely.mkdir()
    (lonely / "main.tf").write_text(BOX_TF % "var.tags")
    target = str(lonely / "main.tf")
    first = scan([target], Config(raw={}, path=None))
    assert [r.address for r in first.resources] == ["aws_instance.box"]
    (repo / "infra" / "lonely.tf").write_text('module "lonely" {\n  source = "./modules/lonely"\n'
                                               '  tags   = { project = "p", environment = "dev" }\n}\n')
    second = scan([target], Config(raw={}, path=None))
    assert [r.address for r in second.resources] == ["module.lonely.aws_instance.box"]


def test_a_changed_yaml_file_beside_the_caller_does_not_make_the_caller_changed(repo):
    (repo / "infra" / "values.yaml").write_text("a: 1\n")
    code, doc = scan_json("infra/modules/gpu-box/main.tf", "infra/values.yaml", cwd=repo)
    assert code == 0, doc["findings"]
    assert {r["address"] for r in doc["resources"]} == {"module.box.aws_instance.box"}
