"""Helm charts rendered with a real helm binary (``scripts/get-helm`` puts one in ``.tools/bin``)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from clikit import run_cli

from tagguard.config import Config
from tagguard.pipeline import scan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "charts" / "llm-server"


def _helm() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    pytest.skip("no helm binary: run scripts/get-helm (puts a static helm in .tools/bin/helm)")


@pytest.fixture
def helm() -> str:
    return _helm()


def _config(tmp: Path, taxonomy=None) -> Config:
    raw = {}
    if taxonomy is not None:
        (tmp / "taxonomy.json").write_text(json.dumps(taxonomy))
        raw["taxonomy"] = "taxonomy.json"
    return Config(raw=raw, path=tmp / ".tagguard.yaml")


def _chart(tmp: Path, name: str, templates: dict, values: str = "", chart_extra: str = "") -> Path:
    d = tmp / name
    (d / "templates").mkdir(parents=True)
    (d / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{chart_extra}")
    (d / "values.yaml").write_text(values)
    for rel, text in templates.items():
        p = d / "templates" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return d


def test_example_chart_findings_point_at_the_template_and_name_the_chart(helm, tmp_path):
    result = scan([str(EXAMPLE)], _config(tmp_path), options={"helm_bin": helm, "namespace": "serving",
                                                               "release_name": "prod"})
    res = {r.address: r for r in result.resources}
    dep = res["Deployment/serving/prod-llm-server"]
    assert dep.source == "helm"
    assert dep.file == "templates/deployment.yaml" and dep.line == 2
    assert dep.meta["chart"] == "llm-server"
    assert dep.compute.units == 2 and dep.compute.gpus_per_unit == 1 and dep.compute.accelerator == "A100"
    missing = sorted(f.tag for f in result.findings if f.rule == "missing-tag")
    assert missing == ["business-unit", "cost-center"]  # deliberate violation: controller-only labels
    for f in result.findings:
        if f.rule in ("missing-tag", "not-propagated"):
            assert f.file == "templates/deployment.yaml" and f.extra.get("chart") == "llm-server"
    prop = [f for f in result.findings if f.rule == "not-propagated"]
    assert prop and "`business-unit`, `cost-center`" in prop[0].message


def test_values_files_and_chart_files_never_read_as_manifests(helm, tmp_path):
    values = tmp_path / "fix.yaml"
    values.write_text("costLabels: {}\n"
                      "podLabels: {project: p, environment: prod, business-unit: b, cost-center: CC-1}\n"
                      "replicas: 5\n")
    result = scan([str(EXAMPLE)], _config(tmp_path), options={"helm_bin": helm, "helm_values": [str(values)]})
    dep = next(r for r in result.resources if r.type == "Deployment")
    assert dep.compute.units == 5
    assert not [f for f in result.findings if f.rule in ("missing-tag", "parse-error")], \
        [f.message for f in result.findings]


def test_no_helm_is_an_error_per_chart_and_exit_2(tmp_path):
    _chart(tmp_path, "a", {"p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"})
    _chart(tmp_path, "b", {"p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"})
    cfg = _config(tmp_path)
    result = scan([str(tmp_path)], cfg, options={"helm_bin": str(tmp_path / "no-such-helm")})
    ns = [f for f in result.findings if f.category == "not_scanned"]
    assert sorted(f.extra["chart"] for f in ns) == ["a", "b"]
    assert all(f.severity == "error" and f.file.endswith("Chart.yaml") for f in ns)
    assert [u.file for u in result.unseen] == ["a/Chart.yaml", "b/Chart.yaml"] and result.exit_code() == 2
    skipped = scan([str(tmp_path)], cfg, options={"helm_bin": str(tmp_path / "no-such-helm"), "skip_helm": True})
    assert not skipped.unseen and skipped.exit_code() == 0
    assert [f.severity for f in skipped.findings if f.category == "not_scanned"] == ["warning", "warning"]


def test_cli_without_helm_exits_2_and_skip_helm_exits_0(tmp_path):
    chart = _chart(tmp_path, "c", {"p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"})
    env = {"PATH": str(tmp_path)}  # no helm on PATH
    proc = run_cli("scan", chart, "--no-color", env=env, process=True, cwd=ROOT)
    assert proc.returncode == 2, proc
    assert "Helm chart `c`" in proc.stdout and "not rendered" in proc.stdout
    proc = run_cli("scan", chart, "--skip-helm", "--no-color", env=env, process=True, cwd=ROOT)
    assert proc.returncode == 0, proc


def test_chart_that_fails_to_render_gives_one_error_naming_it(helm, tmp_path):
    _chart(tmp_path, "broken", {"bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Values.x.y.z }}\n"})
    _chart(tmp_path, "good", {"p.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: ok}\n"
                              "spec: {containers: [{name: a, resources: {limits: {nvidia.com/gpu: 1}}}]}\n"})
    result = scan([str(tmp_path)], _config(tmp_path), options={"helm_bin": helm})
    errs = [f for f in result.findings if f.category == "not_scanned"]
    assert len(errs) == 1
    assert errs[0].message.startswith("Helm chart `broken` (broken) failed to render:")
    assert "nil pointer" in errs[0].message and "\n" not in errs[0].message
    assert (errs[0].file, errs[0].line) == ("broken/templates/bad.yaml", 4)
    assert any(r.address == "Pod/default/ok" and r.meta["chart"] == "good" for r in result.resources)


def test_hooks_are_rendered_not_run_and_counted(helm, tmp_path):
    marker = tmp_path / "hook-ran"
    _chart(tmp_path, "h", {"hook.yaml": (
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: warmup\n  annotations: {helm.sh/hook: post-install}\n"
        "spec:\n  activeDeadlineSeconds: 600\n  template:\n    spec:\n      containers:\n"
        f"        - {{name: a, command: [touch, {marker}], resources: {{limits: {{nvidia.com/gpu: 1}}}}}}\n")})
    result = scan([str(tmp_path)], _config(tmp_path), options={"helm_bin": helm})
    job = next(r for r in result.resources if r.address == "Job/default/warmup")
    assert job.meta["helm_hook"] == "post-install" and job.compute.runtime_hours == pytest.approx(600 / 3600)
    assert not marker.exists()


def test_subcharts_render_with_parent_and_release_namespace_applies(helm, tmp_path):
    parent = _chart(tmp_path, "parent", {"ns.yaml": (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ .Release.Namespace }}\n"
        "  labels: {team: t, cost-center: CC-1}\n")})
    _chart(parent / "charts", "child", {"d.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: child}\nspec:\n  template:\n"
        "    spec: {containers: [{name: a, resources: {limits: {nvidia.com/gpu: 1}}}]}\n")})
    tax = {"type": "object", "required": ["team", "cost-center"]}
    result = scan([str(tmp_path)], _config(tmp_path, tax), options={"helm_bin": helm, "namespace": "ml"})
    dep = next(r for r in result.resources if r.type == "Deployment")
    assert dep.address == "Deployment/ml/child"
    assert dep.file == "parent/charts/child/templates/d.yaml" and dep.meta["chart"] == "parent"
    assert dep.tags == {"team": "t", "cost-center": "CC-1"}  # Namespace labels from the same release
    assert not [f for f in result.findings if f.rule in ("missing-tag", "not-scanned", "parse-error")]


def test_helm_template_stdin_pipe(helm, tmp_path):
    rendered = subprocess.run([helm, "template", "r", str(EXAMPLE)], capture_output=True, check=True,
                              env={"HOME": str(tmp_path), "PATH": os.environ.get("PATH", "")}).stdout
    proc = run_cli("scan", "-", "-f", "json", stdin=rendered.decode(), process=True, cwd=ROOT)
    data = json.loads(proc.stdout)
    assert proc.returncode == 1
    dep = next(r for r in data["resources"] if r["type"] == "Deployment")
    assert dep["file"] == "<stdin>" and dep["meta"]["template"] == "llm-server/templates/deployment.yaml"


def test_get_helm_script_is_idempotent():
    if not (ROOT / ".tools" / "bin" / "helm").is_file():
        pytest.skip("scripts/get-helm has not been run here")
    proc = subprocess.run([str(ROOT / "scripts" / "get-helm")], capture_output=True, text=True)
    assert proc.returncode == 0 and "already" in proc.stdout


def test_chart_with_subcharts_not_vendored_renders_without_them(helm, tmp_path):
    # Chart.yaml names dependencies that are not under charts/ (no `helm dependency build`): helm itself
    # refuses such a chart; tagguard renders a copy without them and says which subcharts were skipped.
    deps = ("dependencies:\n- {name: metrics, version: 1.0.0, repository: 'oci://example.invalid/charts', "
            "condition: metrics.enabled}\n- {name: present, version: 0.1.0, repository: 'oci://example.invalid/charts'}\n")
    parent = _chart(tmp_path, "app", {"d.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: srv}\nspec:\n  replicas: 2\n  template:\n"
        "    spec: {containers: [{name: a, resources: {limits: {nvidia.com/gpu: 4}}}]}\n")}, chart_extra=deps)
    (parent / "Chart.lock").write_text("dependencies: []\ndigest: sha256:0\ngenerated: '2024-01-01T00:00:00Z'\n")
    _chart(parent / "charts", "present", {"p.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: sub}\nspec: {containers: [{name: a, resources: {limits: "
        "{nvidia.com/gpu: 1}}}]}\n")})
    before = (parent / "Chart.yaml").read_text()
    result = scan([str(tmp_path)], _config(tmp_path), options={"helm_bin": helm})
    dep = next(r for r in result.resources if r.type == "Deployment")
    assert (dep.compute.gpus_per_unit, dep.compute.units, dep.file, dep.line) == (4, 2, "app/templates/d.yaml", 2)
    assert any(r.address == "Pod/default/sub" for r in result.resources)  # the vendored subchart still renders
    warn = [f for f in result.findings if f.category == "not_scanned"]
    assert len(warn) == 1 and warn[0].severity == "warning" and warn[0].file == "app/Chart.yaml"
    assert "subchart(s) `metrics` are not under charts/" in warn[0].message
    assert "helm dependency build" in warn[0].fix
    assert (parent / "Chart.yaml").read_text() == before and (parent / "Chart.lock").exists()  # repo untouched
