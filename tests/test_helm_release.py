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


# --- bug hunt B4 / B5: a local chart path wins over `repository`; the GPU-mention excerpt is readable ------

GPUJOB = {
    "charts/gpujob/Chart.yaml": "apiVersion: v2\nname: gpujob\nversion: 0.1.0\n",
    "charts/gpujob/values.yaml": "gpus: 1\n",
    "charts/gpujob/templates/job.yaml": textwrap.dedent("""\
        apiVersion: batch/v1
        kind: Job
        metadata:
          name: {{ .Release.Name }}
        spec:
          template:
            spec:
              restartPolicy: Never
              containers:
                - name: c
                  image: x
                  resources:
                    limits:
                      nvidia.com/gpu: {{ .Values.gpus }}
        """),
    "gpu-values.yaml": "gpus: 4\n",
}


def job_release(repository: str | None, chart: str = "./charts/gpujob") -> str:
    repo = f'  repository = "{repository}"\n' if repository is not None else ""
    return ('resource "helm_release" "job" {\n  name       = "job"\n  namespace  = "ml"\n' + repo
            + f'  chart      = "{chart}"\n  values     = [file("./gpu-values.yaml")]\n}}\n')


@pytest.mark.parametrize("repository", [None, "my-alias", "https://charts.example.com"],
                         ids=["no-repository", "alias", "url"])
def test_b4_a_local_chart_path_is_used_before_the_repository(tmp_path, repository):
    write(tmp_path, {**GPUJOB, "main.tf": job_release(repository)})
    result = run(tmp_path, helm_bin=_helm())
    res = {r.address: r for r in result.resources}
    r = res["helm_release.job/Job/ml/job"]
    assert r.compute.gpus_per_unit == 4  # the release's values, not the chart's default of 1
    assert not [a for a in res if a.startswith("Job/")]  # the chart is judged once, through the release
    assert not [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.job"]


def test_b4_a_missing_dot_path_is_a_path_and_an_alias_name_is_not(tmp_path):
    # helm: a chart starting with "." is a path even when missing ("path not found"), never the repository
    write(tmp_path, {"gpu-values.yaml": "gpus: 4\n", "main.tf": job_release("my-alias", "./charts/missing")})
    result = run(tmp_path, helm_bin=_helm())
    (f,) = [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.job"]
    assert "not a chart directory inside the scanned repository" in f.message
    # a bare name is prefixed with the alias (my-alias/gpujob), even when a directory of that name exists
    write(tmp_path, {**{k.replace("charts/", ""): v for k, v in GPUJOB.items()},
                     "main.tf": job_release("my-alias", "gpujob")})
    result = run(tmp_path, helm_bin=_helm())
    (f,) = [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.job"]
    assert "comes from repository my-alias" in f.message


def test_b5_gpu_mention_in_an_evaluated_value_reads_as_written(tmp_path):
    write(tmp_path, {"gpu-values.yaml": "replicas: 1\ngpus: 4\n", "main.tf": job_release("my-alias", "gpujob")})
    result = run(tmp_path)
    (f,) = [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.job"]
    assert f.severity == "warning"
    assert "input values mentions gpus = 4 (its value)" in f.message
    assert "\\n" not in f.message and '"' not in f.message.split("mentions", 1)[1].split(";", 1)[0]
