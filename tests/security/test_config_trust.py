"""Trusted vs untrusted configuration (issue 10).

The scanned repository's `.tagguard.yaml` may set policy, never a program, a file outside the
repository or a network location; the user-level config and a `--config` file may. Taxonomy
`$ref`s stay local (a loopback server proves nothing is fetched) and patterns run on RE2.
`tagguard diff` judges a change with the base revision's config and taxonomy.

Every CLI run is the real `python -m tagguard` in a subprocess under RLIMIT_AS and a timeout
(tests/security/conftest.py), with a random secret outside the repository and in the environment.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.security.conftest import GPU_JOB_TEMPLATE as JOB
from tests.security.conftest import assert_clean, assert_no_leak, report, run_cli, scan_all, write

ROOT = Path(__file__).resolve().parents[2]
NO_USER = {"TAGGUARD_USER_CONFIG": ""}

GPU_TF = """\
resource "aws_instance" "gpu" {
  instance_type = "p4d.24xlarge"
  tags = { owner = "alice" }
}
"""
CHART_YAML = "apiVersion: v2\nname: c\nversion: 0.1.0\n"


def pwned(path: Path, marker: Path) -> Path:
    """A program that would prove it ran (a marker file) and leak the secret if it could."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\ntouch {marker}\ncat ../secret\nenv\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def gpu_repo(repo: Path, taxonomy: dict = None) -> None:
    write(repo, "infra/main.tf", GPU_TF)
    if taxonomy is not None:
        write(repo, "tax.json", json.dumps(taxonomy))


def real_helm() -> str:
    helm = ROOT / ".tools" / "bin" / "helm"
    if helm.is_file():
        return str(helm)
    found = shutil.which("helm")
    if not found:
        pytest.skip("no helm binary: run scripts/get-helm")
    return found


# --- programs ------------------------------------------------------------------------------------

def test_repo_config_naming_a_program_is_a_config_error(hostile_repo, secret, marker):
    write(hostile_repo, "chart/Chart.yaml", CHART_YAML)
    write(hostile_repo, "chart/templates/job.yaml", JOB)
    pwned(hostile_repo / "tools" / "helm", marker)
    write(hostile_repo, ".tagguard.yaml", "version: 1\nscope: ai\nhelm:\n  values: []\n  bin: tools/helm\n")
    run = scan_all(hostile_repo, secret, env=NO_USER, cwd=hostile_repo.parent)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists()
    err = run.stderr.strip()
    assert err.count("\n") == 0, err
    assert ".tagguard.yaml:5:" in err and "helm.bin" in err and "--helm-bin" in err and "user-level config" in err


@pytest.mark.parametrize("text, key", [
    ("version: 1\nmodules:\n  fetch: true\n  allowed_hosts: [127.0.0.1]\n", "modules"),
    ("modules:\n  cache_dir: /tmp/elsewhere\n", "modules"),
    ("scope: ai\nalerts:\n  sinks:\n    s: {type: webhook, url_env: GITHUB_TOKEN}\n", "alerts"),
])
def test_sections_that_reach_the_network_are_trusted_only(hostile_repo, secret, loopback, text, key):
    gpu_repo(hostile_repo)
    write(hostile_repo, "infra/mod.tf", f'module "m" {{\n  source = "{loopback.url}/m.zip"\n}}\n')
    write(hostile_repo, ".tagguard.yaml", text.replace("127.0.0.1", loopback.url.split("//")[1]))
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert loopback.hits == []
    line = text.split("\n").index(f"{key}:") + 1
    assert f".tagguard.yaml:{line}: {key}: not allowed in the repository's config" in run.stderr, run.stderr


def test_user_level_config_may_name_helm(hostile_repo, secret, tmp_path):
    """The same key in the user-level config is trusted: the chart renders with that helm."""
    helm = real_helm()
    write(hostile_repo, "chart/Chart.yaml", CHART_YAML)
    write(hostile_repo, "chart/templates/job.yaml", JOB)
    user = write(tmp_path, "home/tagguard/config.yaml", f"helm:\n  bin: {json.dumps(helm)}\n")
    run = scan_all(hostile_repo, secret, env={"TAGGUARD_USER_CONFIG": str(user), "PATH": "/usr/bin:/bin"})
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = report(run)
    assert any(r["type"] == "Job" for r in doc["resources"]), doc["resources"]
    assert doc["config"]["path"] == str(user) and doc["config"]["source"] == "user"


def test_xdg_config_home_is_the_default_user_config(hostile_repo, secret, tmp_path):
    gpu_repo(hostile_repo)
    xdg = tmp_path / "xdg"
    write(xdg, "tagguard/config.yaml", "rules:\n  missing-tag: off\n")
    env = {"XDG_CONFIG_HOME": str(xdg)}
    env_clean = dict(env)
    run = run_cli(["scan", "-f", "json", "--", str(hostile_repo / "infra")], env=env_clean, secret=secret,
                  cwd=tmp_path) if "TAGGUARD_USER_CONFIG" not in os.environ else None
    if run is None:
        pytest.skip("TAGGUARD_USER_CONFIG is set in this environment")
    assert_clean(run, exit_codes=(0,), secret=secret)
    doc = json.loads(run.stdout)
    assert doc["config"]["source"] == "user" and doc["config"]["path"] == str(xdg / "tagguard" / "config.yaml")
    assert not any(f["rule"] == "missing-tag" for f in doc["findings"])


def test_config_flag_is_trusted(hostile_repo, secret, tmp_path):
    helm = real_helm()
    write(hostile_repo, "chart/Chart.yaml", CHART_YAML)
    write(hostile_repo, "chart/templates/job.yaml", JOB)
    mine = write(tmp_path, "ops/tagguard.yaml", f"helm:\n  bin: {json.dumps(helm)}\n")
    run = scan_all(hostile_repo, secret, env=dict(NO_USER, PATH="/usr/bin:/bin"), extra=["--config", str(mine)])
    assert_clean(run, exit_codes=(1,), secret=secret)
    assert report(run)["config"]["source"] == "--config"


# --- paths outside the repository ----------------------------------------------------------------

@pytest.mark.parametrize("text, key, line", [
    ("taxonomy: ../secret\n", "taxonomy", 1),
    ("taxonomy: {secret}\n", "taxonomy", 1),
    ("version: 1\ntaxonomy: ~/x.json\n", "taxonomy", 2),
    ("usage: ../secret\n", "usage", 1),
    ("baseline: {secret}\n", "baseline", 1),
    ("terraform:\n  var_files:\n    - ok.tfvars\n    - {secret}\n", "terraform.var_files.1", 4),
    ("helm:\n  values: [../secret]\n", "helm.values.0", 2),
    ("helm:\n  charts:\n    chart:\n      values:\n        - ../../secret\n", "helm.charts.chart.values.0", 5),
    ("llm:\n  usage_files: ../*/secret\n", "llm.usage_files", 2),
    ("llm:\n  usage_files: [logs/*.jsonl, ../sec*]\n", "llm.usage_files.1", 2),
])
def test_repo_config_paths_outside_the_repository_are_refused(hostile_repo, secret, text, key, line):
    gpu_repo(hostile_repo)
    write(hostile_repo, "ok.tfvars", "")
    write(hostile_repo, ".tagguard.yaml", text.replace("{secret}", json.dumps(str(secret.file))))
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    err = run.stderr.strip()
    assert err.count("\n") == 0 and f".tagguard.yaml:{line}: {key}:" in err, err
    assert "inside the repository" in err and "instead use" in err


def test_repo_config_path_through_a_symlink_out_is_refused(hostile_repo, secret):
    gpu_repo(hostile_repo)
    (hostile_repo / "policy").symlink_to(secret.file.parent)
    write(secret.file.parent, "tax.json", json.dumps({"type": "object", "required": [secret.value]}))
    write(hostile_repo, ".tagguard.yaml", "taxonomy: policy/tax.json\n")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert "symbolic link" in run.stderr and "taxonomy" in run.stderr


def test_repo_config_paths_inside_the_repository_are_fine(hostile_repo, secret):
    gpu_repo(hostile_repo, {"type": "object", "required": ["owner", "team"]})
    write(hostile_repo, "infra/env.tfvars", "")
    write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\nterraform:\n  var_files: [infra/env.tfvars]\n")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(1,), secret=secret)
    assert [f["tag"] for f in report(run)["findings"] if f["rule"] == "missing-tag"] == ["team"]


def test_user_config_taxonomy_outside_and_repo_policy_merge(hostile_repo, secret, tmp_path):
    """User-level keys underneath, the repository's policy on top."""
    gpu_repo(hostile_repo)
    write(tmp_path, "home/tax.json", json.dumps({"type": "object", "required": ["owner", "team", "env"]}))
    user = write(tmp_path, "home/config.yaml", "taxonomy: tax.json\nrules:\n  missing-tag: warning\n")
    write(hostile_repo, ".tagguard.yaml", "rules:\n  missing-tag: error\n")
    run = scan_all(hostile_repo / "infra", secret, env={"TAGGUARD_USER_CONFIG": str(user)})
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = report(run)
    missing = sorted((f["tag"], f["severity"]) for f in doc["findings"] if f["rule"] == "missing-tag")
    assert missing == [("env", "error"), ("team", "error")]
    assert doc["config"]["taxonomy"] == str(tmp_path / "home" / "tax.json")
    assert doc["config"]["user_config"] == str(user) and doc["config"]["source"] == "repository"


def test_missing_explicit_user_config_is_an_error(hostile_repo, secret, tmp_path):
    gpu_repo(hostile_repo)
    run = scan_all(hostile_repo / "infra", secret, env={"TAGGUARD_USER_CONFIG": str(tmp_path / "nope.yaml")})
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert "TAGGUARD_USER_CONFIG" in run.stderr


# --- network locations -----------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["config", "ref", "nested-ref", "id-relative", "schema-uri", "dynamic-ref"])
def test_no_request_ever_leaves_for_a_taxonomy(hostile_repo, secret, loopback, where):
    gpu_repo(hostile_repo)
    url = f"{loopback.url}/x.json"
    if where == "config":
        write(hostile_repo, ".tagguard.yaml", f"taxonomy: {url}\n")
    else:
        if where == "ref":
            tax = {"type": "object", "properties": {"owner": {"$ref": url}}}
        elif where == "nested-ref":
            write(hostile_repo, "common.json", json.dumps({"$defs": {"o": {"$ref": url + "#/o"}}}))
            tax = {"type": "object", "properties": {"owner": {"$ref": "common.json#/$defs/o"}}}
        elif where == "schema-uri":  # an unknown meta-schema URI is never fetched either
            tax = {"$schema": url, "type": "object", "properties": {"owner": {"$ref": url}}}
        elif where == "dynamic-ref":
            tax = {"type": "object", "properties": {"owner": {"$dynamicRef": url + "#meta"}}}
        else:  # a relative $ref under a remote $id is remote too
            tax = {"$id": f"{loopback.url}/base/tax.json", "type": "object",
                   "properties": {"owner": {"$ref": "other.json"}}}
        write(hostile_repo, "tax.json", json.dumps(tax))
        write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\n")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert loopback.hits == []
    assert "network location" in run.stderr or "remote reference" in run.stderr, run.stderr


def test_ref_to_a_file_outside_the_repository_is_refused(hostile_repo, secret):
    gpu_repo(hostile_repo)
    write(secret.file.parent, "defs.json", json.dumps({"enum": [secret.value]}))
    for ref in ("../defs.json", (secret.file.parent / "defs.json").as_uri()):
        write(hostile_repo, "tax.json", json.dumps({"type": "object", "properties": {"owner": {"$ref": ref}}}))
        write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\n")
        run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
        assert_clean(run, exit_codes=(2,), secret=secret, formats=())
        assert "outside the repository" in run.stderr


def test_refs_to_repository_files_and_shipped_schemas_work(hostile_repo, secret):
    gpu_repo(hostile_repo)
    write(hostile_repo, "policy/defs.yaml", "$defs:\n  team: {enum: [research, serving]}\n")
    tax = {"type": "object", "required": ["owner", "team"],
           "properties": {"team": {"$ref": "policy/defs.yaml#/$defs/team"}},
           "allOf": [{"$ref": "https://tagguard.dev/schemas/taxonomy.default.json"}]}
    write(hostile_repo, "tax.json", json.dumps(tax))
    write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\n")
    write(hostile_repo, "infra/main.tf", GPU_TF.replace('owner = "alice"', 'owner = "alice", team = "ops"'))
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(1,), secret=secret)
    found = {(f["rule"], f["tag"]) for f in report(run)["findings"]}
    assert ("invalid-value", "team") in found  # the repository file's enum applied
    assert ("missing-tag", "cost-center") in found  # the shipped default taxonomy applied


# --- patterns: linear time --------------------------------------------------------------------------

LINEAR_CHECK = """
import time
from tagguard.taxonomy import Taxonomy
tax = Taxonomy({"type": "object", "properties": {"owner": {"type": "string", "pattern": "^([a-z]+-?)+$"}},
                "patternProperties": {"^([a-z]+-?)+$": {"type": "string"}}, "additionalProperties": False,
                "propertyNames": {"pattern": "^(a|aa)+$|^owner$"}})
evil = "a" * 50000 + "!"
start = time.monotonic()
issues = tax.evaluate({"owner": evil, evil: "x"})
took = time.monotonic() - start
assert any(i.tag == "owner" and "pattern" in i.message for i in issues), issues
print(took)
"""


def test_catastrophic_pattern_is_linear():
    """pattern, patternProperties (+ additionalProperties) and propertyNames against `a`*50000+`!`.
    In a child process: a backtracking engine would never return."""
    import sys

    try:
        proc = subprocess.run([sys.executable, "-c", LINEAR_CHECK], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("catastrophic backtracking: the taxonomy check did not finish in 20 s")
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip()) < 0.5


def test_catastrophic_pattern_through_the_cli(hostile_repo, secret):
    write(hostile_repo, "infra/main.tf", GPU_TF.replace('"alice"', '"' + "a" * 50000 + '!"'))
    write(hostile_repo, "tax.json", json.dumps({"type": "object", "required": ["owner"],
                                                "properties": {"owner": {"pattern": "^([a-z]+-?)+$"}}}))
    write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\n")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER, timeout=30)
    assert_clean(run, exit_codes=(1,), secret=secret, max_seconds=15)
    assert any(f["rule"] == "invalid-value" for f in report(run)["findings"])


@pytest.mark.parametrize("pattern", [r"^(a)\1$", "^(?=x)", r"(?<!a)b"])
def test_pattern_re2_cannot_compile_is_a_config_error(hostile_repo, secret, pattern):
    gpu_repo(hostile_repo)
    write(hostile_repo, "tax.json", json.dumps({"type": "object", "properties": {"owner": {"pattern": pattern}}}))
    write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\n")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert json.dumps(pattern) in run.stderr and "RE2" in run.stderr and run.stderr.strip().count("\n") == 0


# --- tagguard diff: a pull request cannot weaken its own gate ------------------------------------

def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


NEW_GPU = 'resource "aws_instance" "gpu2" {\n  instance_type = "p4d.24xlarge"\n  tags = { owner = "bob" }\n}\n'


def base_repo(repo: Path) -> None:
    gpu_repo(repo, {"type": "object", "required": ["owner", "team"]})
    write(repo, "infra/main.tf", GPU_TF.replace('owner = "alice"', 'owner = "alice", team = "a"'))
    write(repo, ".tagguard.yaml", "taxonomy: tax.json\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")


def diff_run(repo: Path, secret, *extra: str):
    return run_cli(["diff", "--base", "HEAD", "-f", "json", *extra, "--", str(repo / "infra")],
                   cwd=repo, env=NO_USER, secret=secret)


@pytest.mark.parametrize("edit", ["rules", "taxonomy", "delete-config", "new-nearer-config"])
def test_diff_judges_with_the_base_policy(hostile_repo, secret, edit):
    base_repo(hostile_repo)
    write(hostile_repo, "infra/new.tf", NEW_GPU)  # no `team`: an error under the base policy
    if edit == "rules":
        write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\nrules:\n  missing-tag: off\n")
        changed = ".tagguard.yaml"
    elif edit == "taxonomy":
        write(hostile_repo, "tax.json", json.dumps({"type": "object"}))
        changed = "tax.json"
    elif edit == "delete-config":
        (hostile_repo / ".tagguard.yaml").unlink()
        (hostile_repo / "tax.json").unlink()
        changed = ".tagguard.yaml"
    else:
        write(hostile_repo, "infra/.tagguard.yaml", "rules:\n  missing-tag: off\n")
        changed = "infra/.tagguard.yaml"
    run = diff_run(hostile_repo, secret)
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = json.loads(run.stdout)
    missing = [(f["address"], f["tag"]) for f in doc["findings"] if f["rule"] == "missing-tag"]
    assert missing == [("aws_instance.gpu2", "team")]
    notice = [f for f in doc["findings"] if f["rule"] == "config-changed"]
    assert len(notice) == 1 and notice[0]["severity"] == "warning" and changed in notice[0]["message"]
    assert doc["config"]["source"] == "base revision HEAD" and doc["config"]["head_changed"] is True
    assert doc["config"]["path"] == "HEAD:.tagguard.yaml" and changed in doc["config"]["changed_files"]
    # the head's policy only when asked for, and the report still says the change edits it
    run = diff_run(hostile_repo, secret, "--head-config")
    assert_clean(run, exit_codes=(1,) if edit == "delete-config" else (0,), secret=secret)
    doc = json.loads(run.stdout)
    assert not any(f["rule"] == "missing-tag" and f["tag"] == "team" for f in doc["findings"])
    assert [f["rule"] for f in doc["findings"] if f["rule"] == "config-changed"] == ["config-changed"]
    assert doc["config"]["source"] == "head (--head-config)"


def test_diff_base_taxonomy_with_refs_read_from_git(hostile_repo, secret):
    gpu_repo(hostile_repo)
    write(hostile_repo, "policy/defs.json", json.dumps({"$defs": {"team": {"enum": ["a"]}}}))
    write(hostile_repo, "policy/tax.json", json.dumps({"type": "object", "required": ["owner", "team"],
                                                       "properties": {"team": {"$ref": "defs.json#/$defs/team"}}}))
    write(hostile_repo, ".tagguard.yaml", "taxonomy: policy/tax.json\n")
    git(hostile_repo, "add", "-A")
    git(hostile_repo, "commit", "-qm", "base")
    write(hostile_repo, "policy/defs.json", json.dumps({"$defs": {"team": {}}}))  # the head loosens the enum
    write(hostile_repo, "infra/new.tf", NEW_GPU.replace('owner = "bob"', 'owner = "bob", team = "zzz"'))
    run = diff_run(hostile_repo, secret)
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = json.loads(run.stdout)
    gpu2 = [(f["rule"], f["tag"]) for f in doc["findings"] if f["address"] == "aws_instance.gpu2"]
    assert gpu2 == [("invalid-value", "team")]
    assert doc["config"]["taxonomy"] == "HEAD:policy/tax.json"


def test_diff_unchanged_policy_has_no_notice(hostile_repo, secret):
    base_repo(hostile_repo)
    write(hostile_repo, "infra/new.tf", NEW_GPU)
    doc = json.loads(diff_run(hostile_repo, secret).stdout)
    assert not any(f["rule"] == "config-changed" for f in doc["findings"])
    assert doc["config"]["head_changed"] is False


def test_diff_base_config_is_untrusted_too(hostile_repo, secret, marker):
    """A base revision whose config names a program is refused, never run."""
    gpu_repo(hostile_repo)
    pwned(hostile_repo / "tools" / "helm", marker)
    write(hostile_repo, ".tagguard.yaml", "helm:\n  bin: tools/helm\n")
    git(hostile_repo, "add", "-A")
    git(hostile_repo, "commit", "-qm", "base")
    write(hostile_repo, ".tagguard.yaml", "version: 1\n")
    run = diff_run(hostile_repo, secret)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists() and "HEAD:.tagguard.yaml" in run.stderr and "helm.bin" in run.stderr


def test_diff_config_flag_inside_the_repo_is_read_at_the_base(hostile_repo, secret):
    base_repo(hostile_repo)
    write(hostile_repo, "infra/new.tf", NEW_GPU)
    write(hostile_repo, ".tagguard.yaml", "taxonomy: tax.json\nrules:\n  missing-tag: off\n")
    run = diff_run(hostile_repo, secret, "--config", str(hostile_repo / ".tagguard.yaml"))
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = json.loads(run.stdout)
    assert any(f["rule"] == "missing-tag" for f in doc["findings"])
    assert any(f["rule"] == "config-changed" for f in doc["findings"])
    assert_no_leak(run, secret)


def test_diff_follows_a_symlinked_base_config_inside_the_repo(hostile_repo, secret):
    gpu_repo(hostile_repo, {"type": "object", "required": ["owner", "team"]})
    write(hostile_repo, "infra/main.tf", GPU_TF.replace('owner = "alice"', 'owner = "alice", team = "a"'))
    write(hostile_repo, "ci/tagguard.yaml", "taxonomy: ../tax.json\n")
    (hostile_repo / ".tagguard.yaml").symlink_to("ci/tagguard.yaml")
    git(hostile_repo, "add", "-A")
    git(hostile_repo, "commit", "-qm", "base")
    write(hostile_repo, "infra/new.tf", NEW_GPU)
    doc = json.loads(diff_run(hostile_repo, secret).stdout)
    assert [(f["rule"], f["tag"]) for f in doc["findings"]] == [("missing-tag", "team")]
    assert doc["config"]["taxonomy"] == "HEAD:tax.json" and doc["config"]["head_changed"] is False


# --- the config file itself ----------------------------------------------------------------------

def test_config_symlinked_out_of_the_repository_is_never_read(hostile_repo, secret):
    gpu_repo(hostile_repo)
    write(secret.file.parent, "outside.yaml", f"{secret.value}: 1\nrules: {{{secret.value}: off}}\n")
    (hostile_repo / ".tagguard.yaml").symlink_to(secret.file.parent / "outside.yaml")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert "symbolic link leaving the repository" in run.stderr


def test_config_that_is_a_fifo_or_too_big_is_an_error_not_a_hang(hostile_repo, secret):
    gpu_repo(hostile_repo)
    os.mkfifo(hostile_repo / ".tagguard.yaml")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER, timeout=30)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert "not a regular file" in run.stderr
    (hostile_repo / ".tagguard.yaml").unlink()
    write(hostile_repo, ".tagguard.yaml", "# " + "x" * (2 * 1024 * 1024) + "\n")
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert "larger than" in run.stderr


def test_long_hostile_keys_are_cut_and_escaped_in_errors(hostile_repo, secret):
    gpu_repo(hostile_repo)
    # an explicit key (`? `): plain YAML keys stop at 1024 characters
    write(hostile_repo, ".tagguard.yaml", '? "\\e]0;pwned\\a' + "k" * 5000 + '"\n: 1\n')
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert "\x1b" not in run.stderr and "\x07" not in run.stderr
    assert len(run.stderr) < 600 and "characters)" in run.stderr
