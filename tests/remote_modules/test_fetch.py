"""Remote module resolution against a loopback registry and git server (no other network)."""
from __future__ import annotations

import io
import socket
import tarfile

import pytest

from tagguard.sources.terraform.remote import RemoteModules, classify
from tagguard.sources.terraform.remote import archive, constraints
from tagguard.sources.terraform.remote.http import FetchError, check_url

from rmkit import GPU_MODULE, tgz


@pytest.fixture
def only_loopback(monkeypatch):
    """Python-level connections: recorded, and anything but 127.0.0.1 fails the test."""
    seen = []
    real = socket.socket.connect

    def connect(self, address):
        seen.append(address)
        assert isinstance(address, tuple) and address[0] == "127.0.0.1", f"connection to {address}"
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


VERSIONS = ["0.9.0", "1.0.0", "1.1.0", "1.1.5", "1.2.0-beta1", "1.2.0", "1.10.0", "2.0.0", "2.1.0-rc1", "3.0.0-alpha"]


@pytest.mark.parametrize("constraint,expected", [
    (None, "2.0.0"),
    ("", "2.0.0"),
    ("1.1.0", "1.1.0"),
    ("= 1.1.0", "1.1.0"),
    ("!= 2.0.0", "1.10.0"),
    ("> 1.10.0", "2.0.0"),
    (">= 1.1.5, < 1.2.0", "1.1.5"),
    ("< 1.0.0", "0.9.0"),
    ("<= 1.1.5", "1.1.5"),
    ("~> 1.1", "1.10.0"),      # rightmost segment grows: >= 1.1, < 2.0
    ("~> 1.1.0", "1.1.5"),     # >= 1.1.0, < 1.2.0
    ("~> 1", "1.10.0"),
    ("~> 1.2.0", "1.2.0"),     # 1.2.0-beta1 is a pre-release: not selected by ~>
    ("1.2.0-beta1", "1.2.0-beta1"),  # pre-release on an exact match
    ("= 2.1.0-rc1", "2.1.0-rc1"),
    (">= 2.1.0-rc1", None),    # pre-releases only on an exact match: 2.1.0-rc1 itself is excluded
    ("> 3.0.0", None),
    ("~> 2.0, != 2.0.0", None),
    (">= 1.0, < 2.0, != 1.10.0", "1.2.0"),
])
def test_constraint_table(constraint, expected):
    assert constraints.newest(VERSIONS, constraint) == expected


def test_bad_constraint_is_an_error():
    with pytest.raises(constraints.ConstraintError):
        constraints.newest(VERSIONS, ">= banana")


def test_version_order():
    assert constraints.Version("1.2.0-beta1") < constraints.Version("1.2.0")
    assert constraints.Version("1.2.0-beta.2") < constraints.Version("1.2.0-beta.10")
    assert constraints.Version("1.9.0") < constraints.Version("1.10.0")


def test_registry_to_git_with_constraint(isolated, servers, only_loopback):
    logs = []
    rm = RemoteModules(fetch=True, allowed_hosts=servers.allowed, log=logs.append)
    d, why = rm.module_dir(f"{servers.registry.host}/acme/gpu/aws", "~> 1.0")
    assert why is None, why
    assert "g5.2xlarge" in (d / "main.tf").read_text()  # v1.1.0: newest 1.x; 1.2.0-beta1 is a pre-release
    assert not (d / ".git").exists()
    assert str(d).startswith(str(isolated / "cache" / "tagguard" / "modules"))
    assert any("/.well-known/terraform.json" in m for m in logs)
    assert any(m.startswith("git clone http://127.0.0.1") for m in logs)
    assert any(m.startswith("cached ") and "1.1.0" in m for m in logs)
    paths = [r[2] for r in servers.recorder.requests]
    assert "/v1/modules/acme/gpu/aws/versions" in paths
    assert "/v1/modules/acme/gpu/aws/1.1.0/download" in paths
    assert any(p.startswith("/gpu.git/") for p in paths)
    assert only_loopback and all(a[0] == "127.0.0.1" for a in only_loopback)


def test_exact_prerelease_and_major(isolated, servers):
    rm = RemoteModules(fetch=True, allowed_hosts=servers.allowed, log=lambda m: None)
    d, why = rm.module_dir(f"{servers.registry.host}/acme/gpu/aws", ">= 2.0")
    assert why is None and "p4d.24xlarge" in (d / "main.tf").read_text()
    d, why = rm.module_dir(f"{servers.registry.host}/acme/gpu/aws", "> 5.0")
    assert d is None and "no version of acme/gpu/aws matches" in why


def test_registry_archive_relative_location(isolated, servers):
    rm = RemoteModules(fetch=True, allowed_hosts=servers.allowed, log=lambda m: None)
    d, why = rm.module_dir(f"{servers.registry.host}/acme/tarball/aws", None)
    assert why is None, why
    assert (d / "main.tf").read_text() == GPU_MODULE["main.tf"]
    assert ("registry", "GET", "/archives/gpu.tgz") in servers.recorder.requests


def test_git_source_subdir_and_ref(isolated, servers):
    rm = RemoteModules(fetch=True, allowed_hosts=servers.allowed, log=lambda m: None)
    d, why = rm.module_dir(f"git::http://{servers.git.host}/mono.git//modules/gpu?ref=v1", None)
    assert why is None, why
    assert d.name == "gpu" and (d / "main.tf").is_file()


def test_cache_reused_with_servers_stopped(isolated, servers):
    src = f"{servers.registry.host}/acme/gpu/aws"
    first = RemoteModules(fetch=True, allowed_hosts=servers.allowed, log=lambda m: None)
    d1, _ = first.module_dir(src, "1.0.0")
    servers.registry.stop()
    servers.git.stop()
    n = len(servers.recorder.requests)
    logs = []
    again = RemoteModules(fetch=False, allowed_hosts=servers.allowed, log=logs.append)
    d2, why = again.module_dir(src, "1.0.0")
    assert why is None and d2 == d1 and "g5.12xlarge" in (d2 / "main.tf").read_text()
    assert logs == [] and len(servers.recorder.requests) == n
    # not cached and fetching off: a reason, no request
    d3, why = again.module_dir(src, "2.0.0")
    assert d3 is None and "not in the module cache" in why and "--fetch-modules" in why


def test_host_not_on_allowlist_is_refused_without_a_request(isolated, servers):
    rm = RemoteModules(fetch=True, allowed_hosts=["registry.terraform.io", "github.com"], log=lambda m: None)
    d, why = rm.module_dir(f"{servers.registry.host}/acme/gpu/aws", None)
    assert d is None and f"host {servers.registry.host} is not allowed" in why
    # the registry is allowed but the git host it points to is not
    rm = RemoteModules(fetch=True, allowed_hosts=[servers.registry.host], log=lambda m: None)
    d, why = rm.module_dir(f"{servers.registry.host}/acme/gpu/aws", None)
    assert d is None and f"host {servers.git.host} is not allowed" in why
    assert not any(r[0] == "git" for r in servers.recorder.requests)


def test_defaults_and_refusals():
    rm = RemoteModules(fetch=False)
    assert rm.allowed == ["registry.terraform.io", "github.com"]
    with pytest.raises(FetchError, match="plain http"):
        check_url("http://example.com/x.tgz", ["example.com"])
    with pytest.raises(FetchError, match="not an https URL"):
        check_url("file:///etc/passwd", ["example.com"])
    with pytest.raises(FetchError, match="ssh"):
        classify("git@github.com:acme/x.git")
    with pytest.raises(FetchError, match="s3::"):
        classify("s3::https://s3.amazonaws.com/b/m.zip")
    g = classify("github.com/acme/mods//gpu?ref=v1")
    assert (g.kind, g.url, g.subdir, g.ref) == ("git", "https://github.com/acme/mods.git", "gpu", "v1")


def _tar_with(info, data=b"x"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        if info.isfile():
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        else:
            tf.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("name,kind,link", [
    ("../evil.tf", tarfile.REGTYPE, ""),
    ("a/../../evil.tf", tarfile.REGTYPE, ""),
    ("/etc/evil.tf", tarfile.REGTYPE, ""),
    ("link", tarfile.SYMTYPE, "/etc/passwd"),
    ("hard", tarfile.LNKTYPE, "../../x"),
    ("fifo", tarfile.FIFOTYPE, ""),
])
def test_archive_traversal_and_links_refused(tmp_path, name, kind, link):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    with pytest.raises(FetchError, match="refused"):
        archive.unpack(_tar_with(info), "m.tgz", tmp_path)
    assert not (tmp_path.parent / "evil.tf").exists()


def test_zip_traversal_refused(tmp_path):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.tf", "x")
    with pytest.raises(FetchError, match="path traversal"):
        archive.unpack(buf.getvalue(), "m.zip", tmp_path)


def test_archive_size_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_UNPACKED", 1000)
    with pytest.raises(FetchError, match="unpacks to more than"):
        archive.unpack(tgz({"a.tf": "x" * 2000}), "m.tgz", tmp_path)


def test_traversing_archive_from_server_is_not_cached(isolated, servers):
    info = tarfile.TarInfo("../../escape.tf")
    from rmkit import registry_server

    bad = registry_server({"acme/bad/aws": {"1.0.0": "/bad.tgz"}}, servers.recorder, {"/bad.tgz": _tar_with(info)})
    try:
        rm = RemoteModules(fetch=True, allowed_hosts=[bad.host], log=lambda m: None)
        d, why = rm.module_dir(f"{bad.host}/acme/bad/aws", None)
        assert d is None and "path traversal" in why
        assert not list((isolated / "cache" / "tagguard" / "modules").glob("*/meta.json"))
        assert not list(isolated.rglob("escape.tf"))
    finally:
        bad.stop()
