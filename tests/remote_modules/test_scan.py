"""`tagguard scan --fetch-modules` end to end, against the loopback registry and git server."""
from __future__ import annotations

import json

import pytest
from clikit import run_cli

TAGS = 'tags = { business-unit = "r", project = "p", environment = "dev", cost-center = "c" }'


def tg(*args, env=None, cwd=None):
    """A real process; ``env`` the changes to the (``isolated``) environment. Without a
    TAGGUARD_USER_CONFIG the user config is looked up under the isolated XDG_CONFIG_HOME."""
    return run_cli(*args, process=True, timeout=300, cwd=cwd, env={"TAGGUARD_USER_CONFIG": None, **(env or {})})


def scan_json(repo, *flags, env):
    proc = tg("scan", str(repo), "--format", "json", *flags, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout), proc


@pytest.fixture
def user_env(isolated, servers):
    """A user-level config that allows the loopback servers (trusted: not in the repository)."""
    conf = isolated / "user.yaml"
    conf.write_text("modules:\n  allowed_hosts: [" + ", ".join(f'"{h}"' for h in servers.allowed) + "]\n")
    return {"TAGGUARD_USER_CONFIG": str(conf)}


def _repo(tmp_path, body):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.tf").write_text(body)
    return repo


def test_fetch_then_offline_from_cache(tmp_path, servers, user_env):
    reg = servers.registry.host
    repo = _repo(tmp_path, f'module "gpu" {{\n  source  = "{reg}/acme/gpu/aws"\n  version = "~> 1.0"\n  {TAGS}\n}}\n')
    doc, proc = scan_json(repo, "--fetch-modules", env=user_env)
    types = {r["address"]: r.get("instance_type") or r.get("attributes", {}).get("instance_type")
             for r in doc["resources"]}
    assert "module.gpu.aws_instance.gpu" in types, doc["resources"]
    assert "g5.2xlarge" in json.dumps(doc["resources"])
    assert not [f for f in doc["findings"] if f["rule"] == "not-scanned"]
    (res,) = [r for r in doc["resources"] if r["address"] == "module.gpu.aws_instance.gpu"]
    assert res["file"] == f"~module-cache/{reg}/acme/gpu/aws@1.1.0/main.tf"  # not the user's cache path
    assert str(servers.root.parent / "cache") not in proc.stdout
    assert "tagguard: modules: GET http://127.0.0.1" in proc.stderr and "tagguard: modules: cached" in proc.stderr
    servers.registry.stop()
    servers.git.stop()
    n = len(servers.recorder.requests)
    again, proc2 = scan_json(repo, env=user_env)  # no flag, servers gone: the cache answers
    assert [r["address"] for r in again["resources"]] == [r["address"] for r in doc["resources"]]
    assert "tagguard: modules:" not in proc2.stderr
    # the pre-commit hook's own command line (entry `tagguard scan --` + changed files), offline too
    hook = tg("scan", "--format", "json", "--", "main.tf", env=user_env, cwd=repo)
    assert hook.returncode in (0, 1), hook.stderr
    assert "module.gpu.aws_instance.gpu" in [r["address"] for r in json.loads(hook.stdout)["resources"]]
    assert len(servers.recorder.requests) == n


def test_nothing_fetched_without_the_flag(tmp_path, servers, user_env):
    reg = servers.registry.host
    repo = _repo(tmp_path, f'module "gpu" {{\n  source = "{reg}/acme/gpu/aws"\n}}\n')
    doc, proc = scan_json(repo, env=user_env)
    assert servers.recorder.requests == []
    (f,) = [f for f in doc["findings"] if f["rule"] == "not-scanned"]
    assert f["severity"] == "info" and "not in the module cache" in f["message"]


def test_host_not_allowed_is_a_finding(tmp_path, servers, isolated):
    env: dict[str, str] = {}  # default allowlist: registry.terraform.io, github.com
    reg = servers.registry.host
    repo = _repo(tmp_path, f'module "gpu" {{\n  source = "{reg}/acme/gpu/aws"\n}}\n')
    doc, _ = scan_json(repo, "--fetch-modules", env=env)
    (f,) = [f for f in doc["findings"] if f["rule"] == "not-scanned"]
    assert f"host {reg} is not allowed" in f["message"] and f["severity"] == "warning"
    assert servers.recorder.requests == []


def test_repository_config_cannot_enable_fetching(tmp_path, servers, isolated):
    reg = servers.registry.host
    repo = _repo(tmp_path, f'module "gpu" {{\n  source = "{reg}/acme/gpu/aws"\n}}\n')
    (repo / ".tagguard.yaml").write_text(f"version: 1\nmodules:\n  fetch: true\n  allowed_hosts: [\"{reg}\"]\n")
    proc = tg("scan", str(repo))
    assert proc.returncode == 2
    assert ".tagguard.yaml:2: modules: not allowed in the repository's config" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert servers.recorder.requests == []


def test_trusted_config_enables_fetching(tmp_path, servers, isolated):
    reg = servers.registry.host
    conf = isolated / "user.yaml"
    conf.write_text("modules:\n  fetch: true\n  allowed_hosts: ["
                    + ", ".join(f'"{h}"' for h in servers.allowed) + "]\n")
    repo = _repo(tmp_path, f'module "gpu" {{\n  source = "{reg}/acme/tarball/aws"\n  {TAGS}\n}}\n')
    doc, proc = scan_json(repo, env={"TAGGUARD_USER_CONFIG": str(conf)})
    assert "module.gpu.aws_instance.gpu" in [r["address"] for r in doc["resources"]]


GPU_INPUTS = '''module "eks_addons" {
  source  = "aws-ia/eks-blueprints-addons/aws"
  version = "~> 1.16"

  cluster_name = "ai"
  karpenter_resources_helm_config = {
    gpu = {
      values = [<<-EOT
        name: gpu
        nodePool:
          requirements:
            - key: karpenter.k8s.aws/instance-family
              operator: In
              values: ["g5", "g6"]
      EOT
      ]
    }
  }
}

module "logs" {
  source = "terraform-aws-modules/s3-bucket/aws"
  bucket = "logs"
}

variable "serving_types" {
  default = ["inf2.xlarge"]
}

module "serving" {
  source         = "git::https://github.com/acme/serving.git?ref=v1"
  instance_types = var.serving_types
}

module "chart" {
  source = "github.com/acme/charts//gpu-operator"
  values = yamlencode({ resources = { limits = { "nvidia.com/gpu" = 4 } } })
}
'''


def test_gpu_bearing_skipped_inputs_are_warnings(tmp_path, isolated):
    repo = _repo(tmp_path, GPU_INPUTS)
    doc, _ = scan_json(repo, env={})
    found = {f["address"]: f for f in doc["findings"] if f["rule"] == "not-scanned"}
    addons = found["module.eks_addons"]
    assert addons["severity"] == "warning" and addons["line"] == 14  # the line with values: ["g5", "g6"]
    assert addons["message"].startswith("module.eks_addons: GPU capacity here was not evaluated: run with "
                                        "--fetch-modules or `terraform init`")
    assert found["module.logs"]["severity"] == "info" and found["module.logs"]["line"] == 21
    serving = found["module.serving"]  # only the evaluated value says inf2
    assert serving["severity"] == "warning" and serving["line"] == 32 and "inf2.xlarge" in serving["message"]
    chart = found["module.chart"]
    assert chart["severity"] == "warning" and chart["line"] == 37 and "nvidia.com/gpu" in chart["message"]


def test_nested_calls_inside_a_fetched_module(tmp_path, servers, user_env):
    """A fetched module's local call stays in its download; its remote calls are fetched too;
    a local source that leaves the download is refused."""
    from rmkit import make_repo

    reg = servers.registry.host
    make_repo(servers.root, "nested", {"v1": {
        "modules/top/main.tf": (f'module "sib" {{\n  source = "../gpu"\n  {TAGS}\n}}\n'
                                f'module "reg" {{\n  source  = "{reg}/acme/gpu/aws"\n'
                                f'  version = "2.0.0"\n  {TAGS}\n}}\n'
                                'module "out" {\n  source = "../../../../../../etc"\n}\n'),
        "modules/gpu/main.tf": 'resource "aws_instance" "sib" {\n  instance_type = "g6.xlarge"\n  tags = var.tags\n}\n'
                               'variable "tags" {\n  default = {}\n}\n'}})
    repo = _repo(tmp_path, f'module "top" {{\n  source = "git::http://{servers.git.host}/nested.git//modules/top?ref=v1"\n}}\n')
    doc, proc = scan_json(repo, "--fetch-modules", env=user_env)
    addresses = {r["address"] for r in doc["resources"]}
    assert {"module.top.module.sib.aws_instance.sib",
            "module.top.module.reg.aws_instance.gpu"} <= addresses, proc.stderr
    assert "p4d.24xlarge" in json.dumps(doc["resources"])
    msgs = [f["message"] for f in doc["findings"]]
    assert any("module.out" in m and "outside the scanned repository" in m for m in msgs), msgs
