"""Fixtures for remote-module tests: an isolated user cache and config, and the loopback servers of rmkit.py."""
from __future__ import annotations

import pytest

from rmkit import GPU_MODULE, Recorder, git_server, make_repo, registry_server, tgz


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh user cache and config; any request not to 127.0.0.1 goes to a dead proxy and fails."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("TAGGUARD_USER_CONFIG", raising=False)
    monkeypatch.delenv("TAGGUARD_MODULE_CACHE", raising=False)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    return tmp_path


@pytest.fixture
def servers(tmp_path):
    """A registry on 127.0.0.1 whose module acme/gpu/aws (1.0.0, 1.1.0, 1.2.0-beta1, 2.0.0) points
    to git tags of a repository on a loopback git server, and acme/tarball/aws to a .tar.gz."""
    rec = Recorder()
    gitroot = tmp_path / "git"
    gitroot.mkdir()
    v1 = dict(GPU_MODULE)
    v2 = {"main.tf": GPU_MODULE["main.tf"].replace("g5.12xlarge", "p4d.24xlarge")}
    make_repo(gitroot, "gpu", {"v1.0.0": v1, "v1.1.0": {"main.tf": v1["main.tf"].replace("g5.12xlarge", "g5.2xlarge")},
                               "v1.2.0-beta1": v1, "v2.0.0": v2})
    make_repo(gitroot, "mono", {"v1": {"modules/gpu/main.tf": GPU_MODULE["main.tf"], "README.md": "x"}})
    gsrv = git_server(gitroot, rec)
    files = {"/archives/gpu.tgz": tgz({"gpu/main.tf": GPU_MODULE["main.tf"]})}
    g = f"git::http://{gsrv.host}/gpu.git"
    modules = {"acme/gpu/aws": {"1.0.0": f"{g}?ref=v1.0.0", "1.1.0": f"{g}?ref=v1.1.0",
                                "1.2.0-beta1": f"{g}?ref=v1.2.0-beta1", "2.0.0": f"{g}?ref=v2.0.0"},
               "acme/tarball/aws": {"0.1.0": "/archives/gpu.tgz//gpu"}}
    rsrv = registry_server(modules, rec, files)

    class S:
        recorder = rec
        registry = rsrv
        git = gsrv
        allowed = [rsrv.host, gsrv.host]
        root = gitroot

    yield S
    rsrv.stop()
    gsrv.stop()
