"""Programs and arguments (issue 10): nothing from the scanned repository runs, no value from it
reaches helm as a flag, and helm work is bounded by one deadline and an output cap.

Each test builds a hostile repository in tmp_path (a random secret outside it and in the
environment), runs the real CLI in a subprocess under RLIMIT_AS and a timeout, and checks that
the marker a hostile program would write does not exist and that the secret is in no output.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.security.conftest import assert_clean, assert_no_leak, messages, report, run_cli, scan_all, write

ROOT = Path(__file__).resolve().parents[2]
REAL_HELM = ROOT / ".tools" / "bin" / "helm"

GPU_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: trainer
spec:
  containers:
    - name: t
      image: x
      resources:
        limits:
          nvidia.com/gpu: 8
"""

CHART_YAML = "apiVersion: v2\nname: {name}\nversion: 0.1.0\n"
TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-train
  namespace: {{ .Release.Namespace }}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: t
          image: x
          resources:
            limits:
              nvidia.com/gpu: 8
"""


def real_helm() -> str:
    if REAL_HELM.is_file():
        return str(REAL_HELM)
    found = shutil.which("helm")
    if not found:
        pytest.skip("no helm (run the setup that installs .tools/bin/helm)")
    return found


def script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def chart(repo: Path, rel: str = "chart", name: str = "llm") -> Path:
    d = repo / rel
    write(d, "Chart.yaml", CHART_YAML.format(name=name))
    write(d, "values.yaml", "replicas: 1\n")
    write(d, "templates/job.yaml", TEMPLATE)
    return d


def pwned_script(marker: Path) -> str:
    return f'echo ran > "{marker}"\necho "apiVersion: v1"\necho "kind: Pod"\nexit 0\n'


# --- a helm inside the scanned repository never runs -----------------------------------------

def test_config_helm_bin_in_repo_never_runs(hostile_repo, secret, marker):
    chart(hostile_repo)
    script(hostile_repo / "tools" / "helm", pwned_script(marker))
    write(hostile_repo, ".tagguard.yaml", "helm:\n  bin: tools/helm\n")
    run = scan_all(hostile_repo, secret, cwd=hostile_repo)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists(), "a helm committed to the scanned repository ran"
    assert "tools/helm" in run.stderr or "helm.bin" in run.stderr
    # even a trusted config (--config, outside the repository) cannot make tagguard run it
    committed_helm = json.dumps(str(hostile_repo / "tools" / "helm"))
    trusted = write(hostile_repo.parent, "trusted.yaml", f"helm:\n  bin: {committed_helm}\n")
    run = scan_all(hostile_repo, secret, extra=["--config", str(trusted)], cwd=hostile_repo)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists(), "a helm inside the scanned tree ran"
    assert "tools/helm" in run.stderr and "inside the scanned tree" in run.stderr, run.stderr


def test_helm_on_path_inside_scanned_tree_never_runs(hostile_repo, secret, marker):
    chart(hostile_repo)
    fake = script(hostile_repo / "bin" / "helm", pwned_script(marker))
    env = {"PATH": f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = scan_all(hostile_repo, secret, env=env)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists()
    assert str(fake.resolve()) in run.stderr and "PATH" in run.stderr
    # the same binary given with --helm-bin, or through a symlink outside the repository: refused too
    link = hostile_repo.parent / "helm-link"
    link.symlink_to(fake)
    for given in (fake, link):
        run = scan_all(hostile_repo, secret, extra=["--helm-bin", str(given)])
        assert_clean(run, exit_codes=(2,), secret=secret, formats=())
        assert not marker.exists()
        assert "inside the scanned tree" in run.stderr


def test_committed_helm_outside_scanned_subdir_never_runs(hostile_repo, secret, marker):
    """Scanning only `chart/` of a git repository: a helm committed elsewhere in it is still refused."""
    import subprocess

    chart(hostile_repo)
    fake = script(hostile_repo / "tools" / "helm", pwned_script(marker))
    subprocess.run(["git", "add", "."], cwd=hostile_repo, check=True, capture_output=True)
    run = scan_all(hostile_repo / "chart", secret, extra=["--helm-bin", str(fake)])
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists()
    assert "committed to the scanned repository" in run.stderr


# --- release names and namespaces are Kubernetes names ----------------------------------------

@pytest.mark.parametrize("flag, value", [
    ("--release-name", "--post-renderer=/tmp/x"),
    ("--release-name", "--set-file=leak=/etc/passwd"),
    ("--namespace", "--post-renderer=/tmp/x"),
    ("--namespace", "a b"),
    ("--release-name", "UPPER"),
])
def test_bad_release_name_or_namespace_flag_is_usage_error(hostile_repo, secret, marker, flag, value):
    chart(hostile_repo)
    run = scan_all(hostile_repo, secret, extra=[f"{flag}={value}", "--helm-bin", real_helm()])
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert flag in run.stderr and "Kubernetes" in run.stderr or "release name" in run.stderr


@pytest.mark.parametrize("key", ["release_name", "namespace"])
def test_config_release_name_cannot_become_a_helm_flag(hostile_repo, secret, marker, key):
    chart(hostile_repo)
    post = script(hostile_repo.parent / "post-renderer", pwned_script(marker))
    values = [f"--set-file=leak={secret.file}", f"--post-renderer={post}"]
    for value in values:
        write(hostile_repo, ".tagguard.yaml", f"helm:\n  charts:\n    chart:\n      {key}: {json.dumps(value)}\n")
        run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm()], cwd=hostile_repo)
        assert_clean(run, exit_codes=(2,), secret=secret, formats=())
        assert not marker.exists()
        assert f"helm.charts.chart.{key}" in run.stderr, run.stderr


def test_helm_gets_an_argument_list_with_double_dash(hostile_repo, secret, tmp_path):
    """What helm receives: flags first, then `--`, then exactly the release name and the chart path."""
    chart(hostile_repo)
    argv_file = tmp_path / "argv"
    fake = script(tmp_path / "bin" / "helm", f'for a in "$@"; do printf "%s\\n" "$a" >> "{argv_file}"; done\n')
    values = write(tmp_path, "flag-values.yaml", "replicas: 2\n")
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", str(fake), "--release-name", "rel.one",
                                                "--namespace", "ml", "--helm-values", str(values)])
    assert_clean(run, secret=secret)
    argv = argv_file.read_text().splitlines()
    assert argv[0] == "template"
    assert argv[-3:] == ["--", "rel.one", str((hostile_repo / "chart").resolve())]
    assert "--namespace" in argv and argv[argv.index("--namespace") + 1] == "ml"
    assert argv[argv.index("--values") + 1] == str(values.resolve())


def test_real_helm_renders_with_double_dash(hostile_repo, secret):
    chart(hostile_repo)
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm(), "--release-name", "r1", "--namespace", "ml"])
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = report(run)
    assert any("r1-train" in (r["address"] or "") for r in doc["resources"]), doc["resources"]


# --- helm is bounded: one deadline for every chart, an output cap -----------------------------

def test_charts_that_never_finish_share_one_deadline(hostile_repo, secret, tmp_path):
    for i in range(8):
        chart(hostile_repo, f"charts/c{i}", name=f"c{i}")
    pids = tmp_path / "pids"
    fake = script(tmp_path / "bin" / "helm", f'echo $$ >> "{pids}"\nsleep 600\n')
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", str(fake), "--helm-timeout", "3"], timeout=60)
    assert_clean(run, exit_codes=(1,), secret=secret, max_seconds=20)
    doc = report(run)
    stuck = [f for f in doc["findings"] if f["rule"] == "not-scanned" and f["severity"] == "error"]
    assert len(stuck) == 8, [f["message"] for f in doc["findings"]]
    assert all("--helm-timeout" in f["message"] for f in stuck)
    for pid in pids.read_text().split():  # every helm that started was stopped (its process group too)
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)


def test_endless_helm_output_is_capped(hostile_repo, secret, tmp_path):
    chart(hostile_repo)
    fake = script(tmp_path / "bin" / "helm", "yes 'apiVersion: v1 # kind: Pod'\n")
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", str(fake)], timeout=60)
    assert_clean(run, exit_codes=(1,), secret=secret, max_seconds=30, max_rss=800 * 2 ** 20)
    assert any("more than 50 MB" in m for m in messages(run)), messages(run)


# --- chart files and values files stay inside ------------------------------------------------

def test_chart_symlinks_leaving_the_chart_are_not_read(hostile_repo, secret):
    d = chart(hostile_repo)
    write(hostile_repo.parent, "outside/leak.yaml",
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {{ .Files.Get \"s\" | quote }}\n")
    (d / "templates" / "leak.yaml").symlink_to(hostile_repo.parent / "outside" / "leak.yaml")
    (d / "s").symlink_to(secret.file)
    (d / "templates" / "notes.txt").symlink_to(secret.file)
    (d / "files").symlink_to(secret.file.parent)  # a directory link leaving the chart
    inner = d / "templates" / "again.yaml"
    inner.symlink_to(d / "templates" / "job.yaml")  # stays inside: still rendered
    os.mkfifo(d / "templates" / "fifo.yaml")
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm(), "--helm-timeout", "20"])
    assert_clean(run, exit_codes=(1,), secret=secret, max_seconds=25)
    msgs = messages(run)
    left = [m for m in msgs if "leading outside the chart" in m]
    assert left and all(x in left[0] for x in ("chart/s", "chart/templates/leak.yaml", "chart/files")), msgs
    assert any("not regular files" in m and "fifo.yaml" in m for m in msgs), msgs
    jobs = [r for r in report(run)["resources"] if r["type"] == "Job"]
    assert len(jobs) == 2, report(run)["resources"]  # job.yaml and the inner link both rendered


def test_values_file_outside_repo_from_repo_config_is_not_read(hostile_repo, secret):
    chart(hostile_repo)
    write(hostile_repo, ".tagguard.yaml", f"helm:\n  values:\n    - {json.dumps(str(secret.file))}\n")
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm()], cwd=hostile_repo)
    assert_no_leak(run, secret)
    assert run.returncode in (1, 2)
    if run.returncode == 1:  # the config was accepted: the chart is an error finding, the file unread
        assert any("outside the scanned repository" in m for m in messages(run)), messages(run)


def test_values_file_given_by_flag_is_trusted(hostile_repo, secret, tmp_path):
    chart(hostile_repo)
    values = write(tmp_path, "mine.yaml", "replicas: 3\n")
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm(), "--helm-values", str(values)])
    assert_clean(run, exit_codes=(1,), secret=secret)
    assert not any("outside the scanned repository" in m for m in messages(run))


def test_chart_metadata_links_leaving_the_chart_are_not_read(hostile_repo, secret, tmp_path):
    """requirements.yaml and a subchart's Chart.yaml linked to files outside: their names never reach a message."""
    d = chart(hostile_repo)
    (d / "Chart.yaml").write_text("apiVersion: v1\nname: llm\nversion: 0.1.0\n")
    outside = write(tmp_path, "outside/req.yaml", f"dependencies:\n  - name: {secret.value}\n    version: 1.0.0\n")
    (d / "requirements.yaml").symlink_to(outside)
    (d / "charts" / "sub").mkdir(parents=True)
    (d / "charts" / "sub" / "Chart.yaml").symlink_to(write(tmp_path, "outside/Chart.yaml",
                                                         f"apiVersion: v2\nname: {secret.value}x\nversion: 1.0.0\n"))
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm()])
    assert_clean(run, exit_codes=(1,), secret=secret)
    assert any("leading outside the chart" in m for m in messages(run)), messages(run)


def test_everything_after_double_dash_is_a_path(hostile_repo, secret, marker):
    """`tagguard scan -- --helm-bin=h.yaml chart/...`: the option-shaped name is a file, never an option."""
    chart(hostile_repo)
    script(hostile_repo / "h.yaml", pwned_script(marker))
    write(hostile_repo, "--helm-bin=h.yaml", "note: a file\n")
    write(hostile_repo, "--release-name=--post-renderer=h.yaml", "note: another\n")
    helm_dir = str(Path(real_helm()).parent)
    run = run_cli(["scan", "--no-color", "--", "--helm-bin=h.yaml", "--release-name=--post-renderer=h.yaml",
                   "chart/Chart.yaml", "chart/templates/job.yaml"], cwd=hostile_repo, secret=secret,
                  env={"PATH": f"{helm_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    assert not marker.exists()
    assert run.returncode == 1, run.stdout + run.stderr  # the chart was rendered by the real helm and judged
    assert "release-train" in run.stdout and "inside the scanned tree" not in run.stderr
    assert_no_leak(run, secret)


def test_helm_inside_repo_when_git_cannot_tell_is_refused(hostile_repo, secret, marker, tmp_path):
    """git failing (not "untracked") must not let a helm inside the repository run."""
    import subprocess

    chart(hostile_repo)
    fake = script(hostile_repo / "tools" / "helm", pwned_script(marker))
    subprocess.run(["git", "add", "."], cwd=hostile_repo, check=True, capture_output=True)
    (hostile_repo / ".git" / "HEAD").write_text("garbage\n")  # git now fails on this repository
    run = scan_all(hostile_repo / "chart", secret, extra=["--helm-bin", str(fake)])
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    assert not marker.exists()


def test_locating_many_rendered_objects_is_linear(hostile_repo, secret):
    """4,000 objects from one 28,000-line template: each was located by rescanning the template."""
    d = chart(hostile_repo)
    pod = ("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\nspec:\n"
           "  containers: [{{name: c, image: x, resources: {{limits: {{nvidia.com/gpu: 1}}}}}}]\n")
    (d / "templates" / "many.yaml").write_text("".join(pod.format(i=i) for i in range(4000)))
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm()], timeout=120)
    assert_clean(run, exit_codes=(1,), secret=secret, max_seconds=60)
    doc = report(run)
    lines = sorted(r["line"] for r in doc["resources"] if r["file"] == "chart/templates/many.yaml")
    assert lines[:2] == [3, 10] and len(lines) == 4000 and len(set(lines)) == 4000, lines[:5]


# --- no network from a chart ------------------------------------------------------------------

def test_values_schema_urls_are_never_fetched(hostile_repo, secret, loopback):
    """helm validates values against values.schema.json and fetches the `$ref`/`$schema` URLs in it."""
    d = chart(hostile_repo)
    (d / "values.schema.json").write_text(json.dumps({"$schema": f"{loopback.url}/meta.json",
                                                      "$ref": f"{loopback.url}/remote.json"}))
    sub = d / "charts" / "sub"
    write(sub, "Chart.yaml", CHART_YAML.format(name="sub"))
    write(sub, "values.schema.json", json.dumps({"$ref": f"{loopback.url}/sub.json"}))
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", real_helm()])
    assert_clean(run, exit_codes=(1,), secret=secret)
    assert loopback.hits == [], loopback.hits
    assert any("release-train" in (r["address"] or "") for r in report(run)["resources"])


OLD_HELM = """\
for a in "$@"; do
  if [ "$a" = "--skip-schema-validation" ]; then echo "Error: unknown flag: --skip-schema-validation" >&2; exit 1; fi
done
printf 'apiVersion: v1\\nkind: Pod\\nmetadata:\\n  name: old\\nspec:\\n  containers: [{name: c, image: x, resources: {limits: {nvidia.com/gpu: 1}}}]\\n'
"""  # noqa: E501 - the fake helm's script: its printf line is one shell command


def test_helm_without_skip_schema_validation(hostile_repo, secret, tmp_path):
    """helm < 3.16 has no --skip-schema-validation: a chart without a schema still renders, one with a
    schema is not rendered (a not-scanned error saying why), never rendered with the schema fetched."""
    fake = script(tmp_path / "bin" / "helm", OLD_HELM)
    chart(hostile_repo, "plain", name="plain")
    d = chart(hostile_repo, "schema", name="schema")
    (d / "values.schema.json").write_text("{}")
    run = scan_all(hostile_repo, secret, extra=["--helm-bin", str(fake)])
    assert_clean(run, exit_codes=(1,), secret=secret)
    doc = report(run)
    ai = [r for r in doc["resources"] if r["ai"]]
    assert len(ai) == 1 and ai[0]["meta"].get("chart") == "plain", ai  # the chart without a schema
    errs = [f for f in doc["findings"] if f["rule"] == "not-scanned" and f["severity"] == "error"]
    assert len(errs) == 1 and "schema/values.schema.json" in errs[0]["message"] and "3.16" in errs[0]["message"], errs
