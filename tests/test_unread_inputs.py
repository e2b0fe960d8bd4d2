"""Inputs the H9 bug hunt found unread or misread (notes B7, B8, B10, B14): manifests next to a chart,
charts with ``file://`` dependencies, kustomize patches, SageMaker HyperPod clusters in Terraform."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tagguard.config import Config
from tagguard.pipeline import scan

ROOT = Path(__file__).resolve().parent.parent

GPU_DEPLOY = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: ml}}\nspec:\n"
              "  template:\n    spec:\n      containers:\n"
              "        - {{name: c, image: x, resources: {{limits: {{nvidia.com/gpu: {gpus}}}}}}}\n")
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n"


@pytest.fixture
def helm() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    pytest.skip("no helm binary: run scripts/get-helm")


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def _scan(root: Path, **options):
    return scan([str(root)], Config(raw={}, path=root / ".tagguard.yaml"), options=options)


def _chart(name: str, extra: str = "") -> str:
    return f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n{extra}"


# ---- B8: plain manifests inside a chart directory, outside what helm reads --------------------------
def test_manifest_next_to_a_chart_is_read_once(helm, tmp_path):
    _write(tmp_path, {"Chart.yaml": _chart("c"), "templates/d.yaml": GPU_DEPLOY.format(name="tpl", gpus=4),
                      "extra/gpu.yaml": GPU_DEPLOY.format(name="gpu", gpus=1),
                      "values.yaml": "replicas: 1\n", "ci/test-values.yaml": "replicas: 2\n"})
    result = _scan(tmp_path, helm_bin=helm)
    by = {r.address: r for r in result.resources}
    assert by["Deployment/ml/gpu"].source == "kubernetes" and by["Deployment/ml/gpu"].ai
    assert by["Deployment/ml/gpu"].file == "extra/gpu.yaml"
    assert [r.source for r in result.resources if r.address == "Deployment/ml/tpl"] == ["helm"]  # read once
    assert not [f for f in result.findings if f.category in ("parse_error", "not_scanned")]


def test_file_the_templates_read_through_files_is_not_read_again(helm, tmp_path):
    # the template renders files/job.yaml itself (.Files.Get): reading it as a manifest would count it twice
    _write(tmp_path, {"chart/Chart.yaml": _chart("c"),
                      "chart/templates/job.yaml": '{{ .Files.Get "files/job.yaml" }}\n',
                      "chart/templates/dash.yaml": '{{ range $p, $_ := .Files.Glob "dash/*.json" }}{{ end }}\n',
                      "chart/files/job.yaml": GPU_DEPLOY.format(name="job", gpus=2),
                      "chart/dash/d.json": ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": '
                                           '{"containers": [{"name": "c", "image": "x"}]}}'),
                      "chart/kubectl/gpu.yaml": GPU_DEPLOY.format(name="side", gpus=1)})
    result = _scan(tmp_path, helm_bin=helm)
    deps = sorted((r.address, r.source) for r in result.resources if r.type == "Deployment")
    assert deps == [("Deployment/ml/job", "helm"), ("Deployment/ml/side", "kubernetes")]
    assert not [r for r in result.resources if r.type == "Pod"]


def test_chart_nested_outside_charts_dir_renders_on_its_own(helm, tmp_path):
    # helm only uses charts/ as subcharts: a chart in another directory of a chart is a chart of its own,
    # and its templates are never parsed as plain manifests
    _write(tmp_path, {"Chart.yaml": _chart("top"), "templates/cm.yaml": CONFIGMAP,
                      "deploy/inner/Chart.yaml": _chart("inner"),
                      "deploy/inner/values.yaml": "gpus: 3\n",
                      "deploy/inner/templates/d.yaml": GPU_DEPLOY.format(name="inner", gpus="{{ .Values.gpus }}"),
                      "charts/sub/Chart.yaml": _chart("sub"),
                      "charts/sub/templates/d.yaml": GPU_DEPLOY.format(name="sub", gpus=1)})
    result = _scan(tmp_path, helm_bin=helm)
    deps = sorted((r.address, r.source, r.compute.gpus_per_unit) for r in result.resources if r.type == "Deployment")
    assert deps == [("Deployment/ml/inner", "helm", 3), ("Deployment/ml/sub", "helm", 1)]
    assert not [f for f in result.findings if f.category in ("parse_error", "not_scanned")]


# ---- B14: a chart whose dependency is file:// ----------------------------------------------------------
BASE_TEMPLATE = GPU_DEPLOY.format(name="{{ .Release.Name }}-base", gpus="{{ .Values.gpus }}")
FILE_DEP = 'dependencies:\n- {{name: base, version: "0.1.0", repository: "file://{path}"}}\n'


def test_file_dependency_inside_the_repository_renders_with_the_parents_values(helm, tmp_path):
    _write(tmp_path, {"charts/base/Chart.yaml": _chart("base"), "charts/base/values.yaml": "gpus: 1\n",
                      "charts/base/templates/d.yaml": BASE_TEMPLATE,
                      "charts/app/Chart.yaml": _chart("app", FILE_DEP.format(path="../base")),
                      "charts/app/values.yaml": "base:\n  gpus: 4\n", "charts/app/templates/cm.yaml": CONFIGMAP})
    before = (tmp_path / "charts/app/Chart.yaml").read_text()
    result = _scan(tmp_path, helm_bin=helm)
    assert not [f for f in result.findings if f.category == "not_scanned"]
    got = sorted((r.meta.get("chart"), r.compute.gpus_per_unit, r.file, r.line) for r in result.resources)
    # the parent's render holds the subchart with the parent's values; the base chart renders on its own too
    assert got == [("app", 4, "charts/base/templates/d.yaml", 2), ("base", 1, "charts/base/templates/d.yaml", 2)]
    assert (tmp_path / "charts/app/Chart.yaml").read_text() == before
    assert not (tmp_path / "charts/app/charts").exists()  # the repository is untouched


def test_file_dependency_outside_the_repository_is_not_read(helm, tmp_path):
    repo = tmp_path / "repo"
    _write(tmp_path, {"outside/Chart.yaml": _chart("base"), "outside/templates/d.yaml": BASE_TEMPLATE,
                      "outside/values.yaml": "gpus: 1\n",
                      "repo/app/Chart.yaml": _chart("app", FILE_DEP.format(path="../../outside")),
                      "repo/app/templates/d.yaml": GPU_DEPLOY.format(name="own", gpus=2)})
    result = _scan(repo, helm_bin=helm)
    assert [r.address for r in result.resources] == ["Deployment/ml/own"]  # rendered without it
    warn = [f for f in result.findings if f.category == "not_scanned"]
    assert len(warn) == 1 and warn[0].severity == "warning" and warn[0].file == "app/Chart.yaml"
    assert "`base` (file://../../outside leads outside the scanned repository; not read)" in warn[0].message
    assert "`base`" in warn[0].fix


def test_file_dependency_links_leading_out_and_cycles_are_left_out(helm, tmp_path):
    repo = tmp_path / "repo"
    _write(tmp_path, {"secret.yaml": GPU_DEPLOY.format(name="secret", gpus=8),
                      "repo/base/Chart.yaml": _chart("base", 'dependencies:\n- {name: app, version: "0.1.0", '
                                                              'repository: "file://../app"}\n'),
                      "repo/base/values.yaml": "gpus: 1\n", "repo/base/templates/d.yaml": BASE_TEMPLATE,
                      "repo/app/Chart.yaml": _chart("app", FILE_DEP.format(path="../base")),
                      "repo/app/templates/cm.yaml": CONFIGMAP})
    os.symlink(tmp_path / "secret.yaml", repo / "base" / "templates" / "leak.yaml")
    result = _scan(repo, helm_bin=helm)
    assert "Deployment/ml/secret" not in {r.address for r in result.resources}
    app = [r for r in result.resources if r.meta.get("chart") == "app"]
    assert [(r.address, r.compute.gpus_per_unit) for r in app] == [("Deployment/ml/release-base", 1)]
    msgs = " ".join(f.message for f in result.findings if f.category == "not_scanned" and f.file == "app/Chart.yaml")
    assert "`base` without `templates/leak.yaml`" in msgs and "file:// dependency cycle" in msgs


def test_subchart_missing_under_charts_names_the_fix(helm, tmp_path):
    # helm's own "missing in charts/" (a vendored subchart whose Chart.yaml name differs) gets the right advice
    _write(tmp_path, {"app/Chart.yaml": _chart("app", 'dependencies:\n- {name: base, version: "0.1.0", '
                                                      'repository: "file://../base"}\n'),
                      "app/templates/cm.yaml": CONFIGMAP, "base/Chart.yaml": _chart("other"),
                      "base/templates/d.yaml": BASE_TEMPLATE})
    result = _scan(tmp_path, helm_bin=helm)
    err = [f for f in result.findings if f.category == "not_scanned" and f.file == "app/Chart.yaml"]
    assert len(err) == 1 and "missing in charts/ directory" in err[0].message
    assert "helm dependency build" in err[0].fix and "--helm-values" not in err[0].fix


# ---- B7: kustomize patches are partial objects, not objects -------------------------------------------
PLAIN_DEPLOY = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: srv, namespace: ml}\nspec:\n"
                "  template:\n    spec:\n      containers:\n        - {name: c, image: x}\n")
GPU_PATCH = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: srv, namespace: ml}\nspec:\n  template:\n"
             "    spec:\n      containers:\n        - name: c\n          resources: {limits: {nvidia.com/gpu: 8}}\n")


def _scan_all(root: Path):
    return scan([str(root)], Config(raw={"scope": "all"}, path=root / ".tagguard.yaml"))


def test_kustomize_patch_is_not_a_second_object(tmp_path):
    _write(tmp_path, {"kustomization.yaml": "resources: [deploy.yaml]\npatches:\n- {path: gpu-patch.yaml}\n",
                      "deploy.yaml": PLAIN_DEPLOY, "gpu-patch.yaml": GPU_PATCH})
    result = _scan_all(tmp_path)
    assert [(r.address, r.file) for r in result.resources] == [("Deployment/ml/srv", "deploy.yaml")]
    notes = [f for f in result.findings if f.category == "not_scanned"]
    assert len(notes) == 1 and notes[0].severity == "info" and notes[0].file == "kustomization.yaml"
    assert "`gpu-patch.yaml`" in notes[0].message and "kustomize build . | tagguard scan -" in notes[0].fix


def test_kustomize_patch_forms_and_paths(tmp_path):
    # patchesStrategicMerge (file and inline), patchesJson6902, a patch in a sibling directory; a patch
    # that changes only the image is not read as an object and needs no note; a path leaving the tree is ignored
    _write(tmp_path, {
        "base/deploy.yaml": PLAIN_DEPLOY,
        "base/kustomization.yaml": "resources: [deploy.yaml]\npatches:\n- path: ../../elsewhere.yaml\n",
        "overlays/a/kustomization.yaml": ("resources: [../../base]\npatchesStrategicMerge:\n- ../../patches/gpu.yaml\n"
                                          "- |-\n  apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: srv}\n"
                                          "patchesJson6902:\n- target: {kind: Deployment, name: srv}\n"
                                          "  path: replicas.yaml\n"),
        "overlays/a/replicas.yaml": "- {op: replace, path: /spec/replicas, value: 3}\n",
        "patches/gpu.yaml": GPU_PATCH,
        "overlays/b/Kustomization": "resources: [../../base]\npatches:\n- path: image.yaml\n",
        "overlays/b/image.yaml": GPU_PATCH.replace("resources: {limits: {nvidia.com/gpu: 8}}", "image: y")
                                         .replace("name: srv", "name: other"),
    })
    result = _scan_all(tmp_path)
    assert [(r.address, r.file) for r in result.resources] == [("Deployment/ml/srv", "base/deploy.yaml")]
    notes = [f for f in result.findings if f.category == "not_scanned"]
    assert [(f.file, f.severity) for f in notes] == [("overlays/a/kustomization.yaml", "info")]
    assert "`patches/gpu.yaml`, `overlays/a/replicas.yaml`, inline" in notes[0].message


# ---- B10: SageMaker HyperPod clusters in Terraform ------------------------------------------------------
HYPERPOD = '''
resource "awscc_sagemaker_cluster" "hp" {
  cluster_name = "hp"
  instance_groups = [%s]
  tags = [{ key = "team", value = "ml" }, { key = "cost-center", value = "CC-1" }]
}
'''
GROUP = ('{ instance_group_name = "%s", instance_type = %s, instance_count = %s, '
         'execution_role = "arn:aws:iam::123456789012:role/r", '
         'life_cycle_config = { on_create = "on_create.sh", source_s3_uri = "s3://b" } }')


def _hyperpod(tmp_path, *groups, extra=""):
    (tmp_path / "main.tf").write_text(HYPERPOD % ", ".join(GROUP % g for g in groups) + extra)
    result = _scan(tmp_path)
    return [r for r in result.resources if r.type == "awscc_sagemaker_cluster"], result


def test_hyperpod_cluster_is_ai_sized_from_its_instance_group(tmp_path):
    (res,), _ = _hyperpod(tmp_path, ("gpu", '"ml.p5.48xlarge"', 2))
    assert res.ai and res.compute.service == "sagemaker"
    c = res.compute
    assert (c.instance_type, c.accelerator, c.gpus_per_unit, c.units) == ("ml.p5.48xlarge", "H100", 8, 2)
    assert res.tags == {"team": "ml", "cost-center": "CC-1"}  # CloudFormation-style list of {key, value}
    # the rate card's cited SageMaker rate (fmbench table) x 2 instances x 730 h
    assert res.cost is not None and res.cost.rate_source == "fmbench-pricing-2025-01-26"
    assert res.cost.monthly_usd == pytest.approx(113.068 * 2 * 730)


def test_hyperpod_cluster_with_controller_and_two_gpu_groups_names_what_is_not_priced(tmp_path):
    (res,), _ = _hyperpod(tmp_path, ("controller", '"ml.m5.2xlarge"', 1), ("big", '"ml.p5.48xlarge"', 2),
                          ("small", '"ml.g5.8xlarge"', 4), ("more", '"ml.p5.48xlarge"', 1))
    c = res.compute
    assert (c.instance_type, c.gpus_per_unit, c.units) == ("ml.p5.48xlarge", 8, 3)  # both p5 groups
    notes = " ".join(c.notes)
    assert "ml.g5.8xlarge x 4 (another accelerator group; not in this price)" in notes
    assert "`controller`: ml.m5.2xlarge x 1 (no GPUs or AI accelerators; not in this price)" in notes


def test_hyperpod_cluster_of_unknown_size_says_so(tmp_path):
    (res,), result = _hyperpod(tmp_path, ("gpu", "var.itype", "var.n"),
                               extra='variable "itype" { type = string }\nvariable "n" { type = number }\n')
    assert res.ai and res.compute.units is None
    assert "`gpu`: instance_type is not known statically" in " ".join(res.compute.notes)
    assert res.cost is None or res.cost.monthly_usd is None


def test_hyperpod_cluster_in_a_plan(tmp_path):
    import json

    values = {"cluster_name": "hp", "tags": [{"key": "team", "value": "ml"}],
              "instance_groups": [
                  {"instance_group_name": "ctl", "instance_type": "ml.m5.2xlarge", "instance_count": 1},
                  {"instance_group_name": "gpu", "instance_type": "ml.g5.8xlarge", "instance_count": 3},
              ]}
    plan = {"format_version": "1.2", "planned_values": {"root_module": {"resources": [
        {"address": "awscc_sagemaker_cluster.hp", "mode": "managed", "type": "awscc_sagemaker_cluster",
         "name": "hp", "values": values}]}}}
    (tmp_path / "tfplan.json").write_text(json.dumps(plan))
    result = _scan(tmp_path)
    (res,) = result.resources
    assert res.source == "plan" and res.ai and res.tags == {"team": "ml"}
    assert (res.compute.instance_type, res.compute.gpus_per_unit, res.compute.units) == ("ml.g5.8xlarge", 1, 3)


def test_kustomize_note_quotes_the_directory_for_the_shell(tmp_path):
    d = "x; touch pwned"
    _write(tmp_path, {f"{d}/kustomization.yaml": "resources: [deploy.yaml]\npatches:\n- {path: gpu-patch.yaml}\n",
                      f"{d}/deploy.yaml": PLAIN_DEPLOY, f"{d}/gpu-patch.yaml": GPU_PATCH})
    (note,) = [f for f in _scan_all(tmp_path).findings if f.category == "not_scanned"]
    assert "`kustomize build 'x; touch pwned' | tagguard scan -`" in note.fix


def test_file_dependency_of_a_file_dependency_points_at_its_own_template(helm, tmp_path):
    dep = 'dependencies:\n- {{name: {n}, version: "0.1.0", repository: "file://{p}"}}\n'
    _write(tmp_path, {"c/app/Chart.yaml": _chart("app", dep.format(n="mid", p="../mid")),
                      "c/app/values.yaml": "mid:\n  leaf:\n    gpus: 6\n",
                      "c/app/templates/cm.yaml": CONFIGMAP,
                      "c/mid/Chart.yaml": _chart("mid", dep.format(n="leaf", p="../../l/leaf")),
                      "c/mid/templates/cm.yaml": CONFIGMAP,
                      "l/leaf/Chart.yaml": _chart("leaf"), "l/leaf/values.yaml": "gpus: 1\n",
                      "l/leaf/templates/d.yaml": "# leaf\n" + BASE_TEMPLATE})
    result = _scan(tmp_path, helm_bin=helm)
    assert not [f for f in result.findings if f.category == "not_scanned"]
    app = [(r.compute.gpus_per_unit, r.file, r.line) for r in result.resources if r.meta.get("chart") == "app"]
    assert app == [(6, "l/leaf/templates/d.yaml", 3)]
