"""Reads confined to the scanned repository (issue 10): safeio units, then attacks through the CLI."""
from __future__ import annotations

import json
import os

import pytest

from tagguard import safeio
from tagguard.safeio import InputTooLarge, NotRegularFile, OutsideRepository


# --- safeio units ------------------------------------------------------------------------------

def test_boundary_is_git_toplevel_or_scanned_dir(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "infra" / "mod").mkdir(parents=True)
    (repo / "infra" / "main.tf").write_text("")
    assert safeio.scan_boundary(repo / "infra" / "mod") == repo.resolve()
    assert safeio.scan_boundary(repo / "infra" / "main.tf") == repo.resolve()
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    assert safeio.scan_boundary(plain) == plain.resolve()
    (plain / "x.tf").write_text("")
    assert safeio.scan_boundary(plain / "x.tf") == plain.resolve()


def test_confine_resolves_symlinks(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "secret").write_text("s")
    (repo / "ok.txt").write_text("fine")
    (repo / "link").symlink_to(tmp_path / "secret")
    (repo / "inner").symlink_to(repo / "ok.txt")
    (tmp_path / "repo2").mkdir()  # a sibling sharing the prefix "repo"
    assert safeio.inside(repo / "ok.txt", repo)
    assert safeio.inside(repo, repo)
    assert not safeio.inside(repo / "link", repo)
    assert not safeio.inside(repo / ".." / "secret", repo)
    assert not safeio.inside(tmp_path / "repo2", repo)
    assert safeio.confine(repo / "inner", repo) == (repo / "ok.txt").resolve()
    with pytest.raises(OutsideRepository, match="outside the scanned repository"):
        safeio.confine(repo / "link", repo)
    with pytest.raises(OutsideRepository):
        safeio.read_bytes("/etc/passwd", repo)


def test_read_refuses_non_regular_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="not a regular file.*FIFO"):
        safeio.read_bytes(fifo, tmp_path)  # must not block
    with pytest.raises(NotRegularFile):
        safeio.read_bytes(tmp_path, tmp_path)
    for special in ("/dev/zero", "/dev/stdin", "/proc/self/environ"):
        with pytest.raises(NotRegularFile):
            safeio.read_bytes(special, "/")
        with pytest.raises(OutsideRepository):
            safeio.read_bytes(special, tmp_path)
    # refusals are OSErrors, so existing ``except OSError`` handlers report them
    assert issubclass(NotRegularFile, OSError) and issubclass(OutsideRepository, OSError)


def test_read_cap(tmp_path, monkeypatch):
    f = tmp_path / "big.tf"
    f.write_bytes(b"a" * 1000)
    assert safeio.read_bytes(f, tmp_path, cap=1000) == b"a" * 1000
    with pytest.raises(InputTooLarge) as err:
        safeio.read_bytes(f, tmp_path, cap=999)
    assert "big.tf" in str(err.value) and "999 bytes" in str(err.value)
    monkeypatch.setenv("TAGGUARD_MAX_FILE_BYTES", "1K")
    assert safeio.max_file_bytes() == 1024
    assert safeio.read_text(f, tmp_path) == "a" * 1000
    f.write_bytes(b"a" * 1025)
    with pytest.raises(InputTooLarge, match="1 KiB"):
        safeio.read_text(f, tmp_path)
    monkeypatch.setenv("TAGGUARD_MAX_FILE_BYTES", "nonsense")
    assert safeio.max_file_bytes() == safeio.DEFAULT_MAX_FILE_BYTES


def test_load_json_depth():
    assert safeio.load_json('{"a": [1, {"b": "[[[["}]}', "x.json") == {"a": [1, {"b": "[[[["}]}
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(ValueError, match=r"x\.json: JSON nested deeper than 512"):
        safeio.load_json(deep, "x.json")
    ok = "[" * 512 + "]" * 512
    assert safeio.load_json(ok, "x.json") is not None
    with pytest.raises(ValueError, match="deeper"):
        safeio.load_json("[" * 513 + "]" * 513, "x.json")
    # brackets inside strings do not count; escaped quotes do not end a string
    text = json.dumps(["[" * 5000 + '\\"' + "{" * 5000])
    assert safeio.load_json(text, "x.json") == ["[" * 5000 + '\\"' + "{" * 5000]
    with pytest.raises(json.JSONDecodeError):
        safeio.load_json("{", "x.json")


def test_truncate():
    assert safeio.truncate("short") == "short"
    long = "x" * 10_000
    out = safeio.truncate(long, 50)
    assert len(out) < 100 and out.startswith("x" * 50) and "9950 more" in out


# --- attacks through the CLI ---------------------------------------------------------------------

from seckit import assert_clean, messages, report, scan_all, write  # noqa: E402

GPU_BOX = '''
resource "aws_instance" "gpu" {
  instance_type = "p4d.24xlarge"
  tags = {
    business-unit = "research"
    cost-center   = "CC-1234"
    environment   = "prod"
    project       = %s
  }
}
'''


def _owner_of(run) -> dict:
    doc = report(run)
    res = [r for r in doc["resources"] if r["address"].endswith("aws_instance.gpu")]
    assert res, doc["resources"]
    return res[0]


def _unresolved_reason(run, needle: str) -> None:
    text = "\n".join(messages(run))
    assert needle in text, text[-3000:]


def _project_unresolved(run, needle: str) -> None:
    """The ``project`` tag is unresolved, and its finding says why."""
    res = _owner_of(run)
    assert "project" in res["unresolved_tags"] and "project" not in res["tags"], res
    found = [f for f in report(run)["findings"] if f.get("tag") == "project" and f["category"] == "unresolved_value"]
    assert found and needle in found[0]["message"], report(run)["findings"]


@pytest.mark.parametrize("expr, reason", [
    ('file("/proc/self/environ")', "outside the scanned repository"),
    ('file("../secret")', "outside the scanned repository"),
    ('base64encode(file("../secret"))', "outside the scanned repository"),
    ('filebase64("../secret")', "outside the scanned repository"),
    ('templatefile("../secret", {})', "outside the scanned repository"),
    ('file("${path.module}/../secret")', "outside the scanned repository"),
    ('join(",", fileset("..", "*"))', "outside the scanned repository"),
    ('tostring(fileexists("../secret"))', "outside the scanned repository"),
    ('file("/dev/stdin")', "outside the scanned repository"),
    ('file("/dev/zero")', "outside the scanned repository"),
    ('file("fifo")', "not a regular file"),
    ('file("link-out")', "outside the scanned repository"),
])
def test_file_functions_never_read_outside(hostile_repo, secret, expr, reason):
    write(hostile_repo, "main.tf", GPU_BOX % expr)
    if "fifo" in expr:
        os.mkfifo(hostile_repo / "fifo")
    if "link-out" in expr:
        (hostile_repo / "link-out").symlink_to(secret.file)
    run = scan_all(hostile_repo, secret, timeout=30)
    assert_clean(run, exit_codes=(0, 1), max_seconds=20, max_rss=600 * 2**20, secret=secret)
    _project_unresolved(run, reason)


@pytest.mark.parametrize("expr, value", [
    ('trimspace(file("../owner.txt"))', "team-ml"),
    ('base64decode(filebase64("../owner.txt"))', "team-ml\n"),
    ('tostring(fileexists("../owner.txt"))', "true"),
    ('join(",", fileset("..", "*.txt"))', "owner.txt"),
])
def test_file_inside_repository_still_read(hostile_repo, secret, expr, value):
    write(hostile_repo, "owner.txt", "team-ml\n")
    write(hostile_repo, "infra/main.tf", GPU_BOX % expr)
    run = scan_all(hostile_repo / "infra", secret)
    assert_clean(run, exit_codes=(0, 1), secret=secret)
    assert _owner_of(run)["tags"]["project"] == value


def test_module_source_outside_repository(hostile_repo, secret, tmp_path):
    outside = tmp_path / "outside"
    write(outside, "main.tf",
          'variable "x" {}\nresource "aws_instance" "leak" {\n  instance_type = "p4d.24xlarge"\n'
          f'  tags = {{ project = "{secret.value}" }}\n}}\noutput "o" {{ value = "{secret.value}" }}\n')
    write(hostile_repo, "infra/main.tf", 'module "m" {\n  source = "../../outside"\n}\n' + GPU_BOX % "module.m.o")
    run = scan_all(hostile_repo / "infra", secret)
    assert_clean(run, exit_codes=(0, 1), secret=secret)
    assert not any("leak" in r["address"] for r in report(run)["resources"])
    _unresolved_reason(run, "module.m: source '../../outside' is outside the scanned repository")
    _project_unresolved(run, "module.m is not evaluated (its source is outside the scanned repository)")


def test_tf_symlinked_outside(hostile_repo, secret):
    (hostile_repo / "passwd.tf").symlink_to("/etc/passwd")
    (hostile_repo / "secret.tf").symlink_to(secret.file)
    write(hostile_repo, "main.tf", GPU_BOX % '"alice"')
    run = scan_all(hostile_repo, secret)
    assert_clean(run, exit_codes=(0, 1), secret=secret)
    assert "root:" not in run.all_text()
    text = "\n".join(messages(run))
    assert "passwd.tf" in text and "secret.tf" in text and "outside the scanned repository" in text
    assert _owner_of(run)["tags"]["project"] == "alice"  # the rest of the module is still judged


def test_directory_symlink_to_root(hostile_repo, secret):
    (hostile_repo / "r").symlink_to("/")
    (hostile_repo / "up").symlink_to("..")
    write(hostile_repo, "main.tf", GPU_BOX % '"alice"')
    run = scan_all(hostile_repo, secret, timeout=30)
    assert_clean(run, exit_codes=(0, 1), max_seconds=10, max_rss=400 * 2**20, secret=secret)
    text = "\n".join(messages(run))
    assert "r: symlink to a path outside the scanned repository" in text
    assert "up: symlink to a path outside the scanned repository" in text


def test_var_files_from_repository_config_confined(hostile_repo, secret, tmp_path):
    write(tmp_path, "outside.tfvars", f'project = "{secret.value}"\n')
    write(hostile_repo, "main.tf", 'variable "project" {}\n' + GPU_BOX % "var.project")
    write(hostile_repo, ".tagguard.yaml", "terraform:\n  var_files:\n    - ../outside.tfvars\n    - /etc/passwd\n")
    run = scan_all(hostile_repo, secret, cwd=hostile_repo)
    # the config checker may refuse the key (exit 2); either way nothing outside is read
    assert_clean(run, exit_codes=(1, 2), secret=secret, formats=())
    assert "root:" not in run.all_text()


def test_var_file_flag_is_trusted(hostile_repo, secret, tmp_path):
    write(tmp_path, "flags.tfvars", 'project = "from-flag"\n')
    write(hostile_repo, "main.tf", 'variable "project" {}\n' + GPU_BOX % "var.project")
    run = scan_all(hostile_repo, secret, extra=["--var-file", str(tmp_path / "flags.tfvars")])
    assert_clean(run, exit_codes=(0, 1), secret=secret)
    assert _owner_of(run)["tags"]["project"] == "from-flag"


def test_untrusted_config_var_files_read_confined(hostile_repo, secret, tmp_path):
    """Defence in depth behind the config checker: a repository config's var_files that
    reach the reader are still confined (a trusted config's are not)."""
    from tagguard.config import Config
    from tagguard.sources.base import ScanContext
    from tagguard.sources.terraform.module import Loader
    from tagguard.sources.terraform.source import root_values

    write(tmp_path, "outside.tfvars", f'project = "{secret.value}"\n')
    write(hostile_repo, "main.tf", 'variable "project" {}\n')
    for trusted in (False, True):
        config = Config(raw={"terraform": {"var_files": ["../outside.tfvars"]}},
                        path=hostile_repo / ".tagguard.yaml", trusted=trusted)
        ctx = ScanContext(config, hostile_repo, var_files=[hostile_repo / "../outside.tfvars"])
        loader = Loader(hostile_repo, ctx.rel, lambda p: p.read_bytes())
        values, problems = root_values(hostile_repo, loader.module_def(hostile_repo), ctx)
        if trusted:
            assert values.get("project") == secret.value and not problems
        else:
            assert "project" not in values
            assert len(problems) == 1 and "outside the scanned repository" in problems[0].message
            assert secret.value not in problems[0].message


def test_module_manifest_dir_outside_is_not_read(hostile_repo, secret, tmp_path):
    outside = tmp_path / "outside"
    write(outside, "main.tf", f'output "o" {{ value = "{secret.value}" }}\n')
    manifest = {"Modules": [{"Key": "", "Source": "", "Dir": "."},
                            {"Key": "m", "Source": "registry.terraform.io/x/y/aws", "Dir": str(outside)}]}
    write(hostile_repo, ".terraform/modules/modules.json", json.dumps(manifest))
    write(hostile_repo, "main.tf", 'module "m" {\n  source = "x/y/aws"\n}\n' + GPU_BOX % "module.m.o")
    run = scan_all(hostile_repo, secret)
    assert_clean(run, exit_codes=(0, 1), secret=secret)
    assert "project" in _owner_of(run)["unresolved_tags"]
