"""Issue 12 item 2: a Terraform helm_release of a local chart is rendered with its values (real helm)."""
from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.sources.terraform.helm_release import sets_as_values

ROOT = Path(__file__).resolve().parent.parent

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: inf\nversion: 0.1.0\n",
    "values.yaml": "replicas: 1\ngpus: 0\nteam: \"\"\nnodeSelector: {}\n",
    "templates/d.yaml": textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-server
        spec:
          replicas: {{ .Values.replicas }}
          template:
            metadata:
              labels:
                team: {{ .Values.team | quote }}
            spec:
              nodeSelector: {{ toJson .Values.nodeSelector }}
              containers:
                - name: s
                  image: x
                  {{- if .Values.gpus }}
                  resources:
                    limits:
                      nvidia.com/gpu: {{ .Values.gpus }}
                  {{- end }}
        """),
}

RELEASE = """\
resource "helm_release" "vllm" {
  name      = "vllm"
  namespace = "serving"
  chart     = "./charts/inf"
  values = [<<-EOT
    replicas: 2
  EOT
  , yamlencode({ nodeSelector = { "node.kubernetes.io/instance-type" = "g5.xlarge" } })]
  set {
    name  = "gpus"
    value = "1"
  }
  set {
    name  = "team"
    value = "ml"
  }
}
"""


def _helm() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    pytest.skip("no helm binary: run scripts/get-helm")


def write(root: Path, files):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def run(root: Path, **options):
    return scan([str(root)], Config(raw={}, path=root / ".tagguard.yaml"), options=options)


def with_chart(root: Path, tf: str):
    write(root, {f"charts/inf/{k}": v for k, v in CHART.items()})
    write(root, {"main.tf": tf})


def test_local_chart_rendered_with_values_yamlencode_and_set(tmp_path):
    with_chart(tmp_path, RELEASE)
    result = run(tmp_path, helm_bin=_helm())
    res = {r.address: r for r in result.resources}
    r = res["helm_release.vllm/Deployment/serving/vllm-server"]
    assert (r.file, r.line) == ("main.tf", 1)
    assert r.meta["terraform_address"] == "helm_release.vllm"
    assert r.tags == {"team": "ml"}
    assert r.compute.units == 2 and r.compute.gpus_per_unit == 1
    assert r.compute.instance_type == "g5.xlarge" and r.cost.monthly_usd is not None
    missing = [f for f in result.findings if f.rule == "missing-tag"]
    assert missing and all((f.file, f.line) == ("main.tf", 1) for f in missing)
    assert all(f.address.startswith("helm_release.vllm/") for f in missing)


def test_templatefile_values(tmp_path):
    tf = RELEASE.replace("""values = [<<-EOT
    replicas: 2
  EOT
  , yamlencode({ nodeSelector = { "node.kubernetes.io/instance-type" = "g5.xlarge" } })]""",
                         'values = [templatefile("${path.module}/values.tpl", { n = 3 })]')
    with_chart(tmp_path, tf)
    write(tmp_path, {"values.tpl": "replicas: ${n}\n"})
    result = run(tmp_path, helm_bin=_helm())
    (r,) = [r for r in result.resources if r.address.startswith("helm_release.vllm/")]
    assert r.compute.units == 3


def test_no_gpu_in_values_means_no_ai_workload(tmp_path):
    with_chart(tmp_path, RELEASE.replace('value = "1"', 'value = "0"'))
    result = run(tmp_path, helm_bin=_helm())
    assert not [r for r in result.resources if r.address.startswith("helm_release.vllm/")]


def test_remote_chart_with_gpu_values_is_a_warning_on_the_input_line(tmp_path):
    write(tmp_path, {"main.tf": textwrap.dedent("""\
        resource "helm_release" "gpu" {
          name       = "vllm"
          repository = "https://charts.example.com"
          chart      = "vllm"
          version    = "1.0.0"
          values = [<<-EOT
            resources:
              limits:
                nvidia.com/gpu: 4
          EOT
          ]
        }
        resource "helm_release" "web" {
          name       = "web"
          repository = "https://charts.example.com"
          chart      = "nginx"
        }
        """)})
    result = run(tmp_path)
    by = {f.address: f for f in result.findings if f.rule == "not-scanned"}
    assert by["helm_release.gpu"].severity == "warning" and by["helm_release.gpu"].line == 9
    assert "GPU capacity here was not evaluated" in by["helm_release.gpu"].message
    assert by["helm_release.web"].severity == "info"


def test_chart_outside_the_repository_is_not_rendered(tmp_path):
    outside = tmp_path / "outside"
    write(outside, CHART)
    repo = tmp_path / "repo"
    write(repo, {"main.tf": RELEASE.replace("./charts/inf", "../outside")})
    result = run(repo, helm_bin=_helm())
    (f,) = [f for f in result.findings if f.rule == "not-scanned"]
    assert f.severity == "warning" and "inside the scanned repository" in f.message
    assert not [r for r in result.resources if r.source == "helm"]


def test_without_helm_the_release_must_not_pass(tmp_path):
    with_chart(tmp_path, RELEASE)
    result = run(tmp_path, helm_bin=str(tmp_path / "nohelm"))
    errs = [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.vllm"]
    assert errs and errs[0].severity == "error" and (errs[0].file, errs[0].line) == ("main.tf", 1)
    assert result.exit_code() == 2


def test_hostile_release_name_is_a_finding_not_a_traceback(tmp_path):
    with_chart(tmp_path, RELEASE.replace('name      = "vllm"', 'name      = "--set=x;\\u001b[31m"'))
    result = run(tmp_path, helm_bin=_helm())
    (f,) = [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.vllm"]
    assert "not rendered" in f.message


def test_set_names_follow_helm_syntax():
    got = sets_as_values([("a.b", "1", None), ("a.c\\.d", "x", None), ("l[1].k", "true", None),
                          ("s", "007", "string")])
    assert got == {"a": {"b": 1, "c.d": "x"}, "l": [None, {"k": True}], "s": "007"}
