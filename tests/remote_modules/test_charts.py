"""Issue 12 item 2: helm_release charts fetched from an HTTP chart repository or an OCI registry (opt-in,
allowlisted, cached), rendered with the release's values by a real helm.  Servers on 127.0.0.1 (rmkit)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from clikit import run_cli
from rmkit import Recorder, chart_index, chart_tgz, oci_server, static_server
from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.sources.terraform.remote import charts as charts_mod

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ["1.0.0", "1.1.0", "1.1.4", "1.2.0-beta.1", "2.0.0"]

RELEASE = """\
resource "helm_release" "gpu" {{
  name       = "llm"
  namespace  = "serving"
  repository = "{repo}"
  chart      = "{chart}"
  version    = "{version}"
  values = [<<-EOT
    replicas: 3
  EOT
  ]
  set {{
    name  = "team"
    value = "ml"
  }}
}}
"""
ADDRESS = "helm_release.gpu/Deployment/serving/llm-server"


def _helm() -> str:
    local = ROOT / ".tools" / "bin" / "helm"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("helm")
    if found:
        return found
    pytest.skip("no helm binary: run scripts/get-helm")


def _archives(digest_of=None):
    files, entries = {}, {}
    for v in VERSIONS:
        data = chart_tgz(v)
        files[f"/charts/gpu-infer-{v}.tgz"] = data
        entries[v] = (f"charts/gpu-infer-{v}.tgz", (digest_of or (lambda v, d: hashlib.sha256(d).hexdigest()))(v, data))
    return files, entries


@pytest.fixture
def repo_server(isolated):
    rec = Recorder()
    files, entries = _archives()
    files["/index.yaml"] = chart_index({"gpu-infer": entries})
    srv = static_server(files, rec)
    srv.recorder, srv.files = rec, files
    yield srv
    srv.stop()


def _write(tmp_path, **kw):
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    kw.setdefault("chart", "gpu-infer")
    kw.setdefault("version", "~1.1")
    (repo / "main.tf").write_text(RELEASE.format(**kw))
    return repo


def run(repo, hosts, fetch=True, **options):
    cfg = Config(raw={"modules": {"chart_hosts": list(hosts)}}, path=repo.parent / "user.yaml")
    return scan([str(repo)], cfg, options={"fetch_modules": fetch, "helm_bin": _helm(), **options})


def not_scanned(result):
    return [f for f in result.findings if f.rule == "not-scanned" and f.address == "helm_release.gpu"]


def test_repository_chart_fetched_rendered_and_later_read_offline(tmp_path, repo_server):
    """End to end through the CLI: --fetch-modules + the host in a user-level config's modules.chart_hosts."""
    conf = tmp_path / "user.yaml"
    conf.write_text(f'modules:\n  chart_hosts: ["{repo_server.host}"]\n')
    env = {"TAGGUARD_USER_CONFIG": str(conf)}
    repo = _write(tmp_path, repo=f"http://{repo_server.host}")

    def tg(*flags):
        proc = run_cli("scan", repo, "--format", "json", "--helm-bin", _helm(), *flags, process=True, env=env,
                       timeout=300)
        assert proc.returncode in (0, 1), proc.stderr
        return json.loads(proc.stdout), proc.stderr

    doc, err = tg("--fetch-modules")
    res = {r["address"]: r for r in doc["resources"]}
    r = res[ADDRESS]
    assert (r["file"], r["line"]) == ("main.tf", 1)
    assert r["compute"]["units"] == 3 and r["compute"]["gpus_per_unit"] == 1  # the release's values won
    assert r["tags"].get("team") == "ml"  # the set block
    assert r["meta"]["chart_source"] == f"{repo_server.host}/gpu-infer@1.1.4"  # ~1.1: newest 1.1.x
    assert r["meta"]["template"].startswith(f"~chart-cache/{repo_server.host}/gpu-infer@1.1.4/templates/deploy.yaml")
    assert r["cost"]["monthly_usd"]
    assert not [f for f in doc["findings"] if f["rule"] == "not-scanned"]
    assert f"tagguard: charts: GET http://{repo_server.host}/index.yaml" in err
    assert f"tagguard: charts: GET http://{repo_server.host}/charts/gpu-infer-1.1.4.tgz" in err
    assert "tagguard: charts: cached" in err
    assert str(tmp_path / "cache") not in json.dumps(doc)  # the user's cache path is not shown
    repo_server.stop()
    n = len(repo_server.recorder.requests)
    again, err2 = tg()  # no flag, server gone: the cache answers
    assert ADDRESS in {x["address"] for x in again["resources"]}
    assert "tagguard: charts:" not in err2 and len(repo_server.recorder.requests) == n
    # the pre-commit hook's own command line (entry `tagguard scan --` + changed files), offline too
    hook = run_cli("scan", "--format", "json", "--helm-bin", _helm(), "--", "main.tf", process=True, env=env, cwd=repo,
                   timeout=300)
    assert hook.returncode in (0, 1), hook.stderr
    assert ADDRESS in {x["address"] for x in json.loads(hook.stdout)["resources"]}
    assert len(repo_server.recorder.requests) == n


def test_nothing_is_fetched_without_the_switch(tmp_path, repo_server):
    result = run(_write(tmp_path, repo=f"http://{repo_server.host}"), [repo_server.host], fetch=False)
    assert repo_server.recorder.requests == []
    (f,) = not_scanned(result)
    assert "not in the chart cache" in f.message and "--fetch-modules" in f.message


@pytest.mark.parametrize("version, chosen", [("", "2.0.0"), ("^1.0", "1.1.4"), ("1.0.0", "1.0.0"), ("1.1", "1.1.4"),
                                             (">=1.2.0-0, <2", "1.2.0-beta.1"), ("< 1.1.0 || >= 3", "1.0.0")])
def test_version_constraint_resolution(tmp_path, repo_server, version, chosen):
    charts = charts_mod.RemoteCharts(fetch=True, allowed_hosts=[repo_server.host], log=lambda m: None)
    ref = charts_mod.parse_ref(f"http://{repo_server.host}", "gpu-infer", version)
    chart_dir, why, meta = charts.chart_dir(ref)
    assert why is None and meta["resolved_version"] == chosen
    assert f"version: {chosen}" in (chart_dir / "Chart.yaml").read_text()


def test_devel_takes_the_newest_prerelease(tmp_path, isolated):
    rec = Recorder()
    files = {"/c.tgz": chart_tgz("3.0.0-rc.1"), "/b.tgz": chart_tgz("2.0.0")}
    files["/index.yaml"] = chart_index({"gpu-infer": {"3.0.0-rc.1": ("c.tgz", None), "2.0.0": ("b.tgz", None)}})
    srv = static_server(files, rec)
    try:
        charts = charts_mod.RemoteCharts(fetch=True, allowed_hosts=[srv.host], log=lambda m: None)
        _d, _w, meta = charts.chart_dir(charts_mod.parse_ref(f"http://{srv.host}", "gpu-infer", "", devel=True))
        assert meta["resolved_version"] == "3.0.0-rc.1"
    finally:
        srv.stop()


def test_host_not_on_the_chart_allowlist_is_not_asked(tmp_path, repo_server):
    result = run(_write(tmp_path, repo=f"http://{repo_server.host}"), ["registry.terraform.io"])
    assert repo_server.recorder.requests == []
    (f,) = not_scanned(result)
    assert f.severity == "warning" and f"host {repo_server.host} is not allowed" in f.message
    assert "modules.chart_hosts" in f.message and not [r for r in result.resources if r.source == "helm"]


def test_absolute_archive_url_on_another_host_is_refused(tmp_path, isolated):
    rec = Recorder()
    other = static_server({"/gpu-infer-1.1.4.tgz": chart_tgz("1.1.4")}, rec, "other")
    index = chart_index({"gpu-infer": {"1.1.4": (f"http://{other.host}/gpu-infer-1.1.4.tgz", None)}})
    srv = static_server({"/index.yaml": index}, rec)
    try:
        result = run(_write(tmp_path, repo=f"http://{srv.host}"), [srv.host])  # host:port: only that port
        (f,) = not_scanned(result)
        assert f"host {other.host} is not allowed (not in modules.chart_hosts)" in f.message
        assert not [r for r in rec.requests if r[0] == "other"]
        assert not list((isolated / "cache" / "tagguard" / "charts").glob("*/meta.json"))
    finally:
        srv.stop()
        other.stop()


def test_digest_mismatch_is_refused_and_nothing_cached(tmp_path, isolated):
    rec = Recorder()
    files, entries = _archives(lambda v, d: hashlib.sha256(d + b"x").hexdigest())
    files["/index.yaml"] = chart_index({"gpu-infer": entries})
    srv = static_server(files, rec)
    try:
        result = run(_write(tmp_path, repo=f"http://{srv.host}"), [srv.host])
        (f,) = not_scanned(result)
        assert f.severity == "warning" and "does not match the index's digest" in f.message
        assert not [r for r in result.resources if r.source == "helm"]
        assert not list((isolated / "cache" / "tagguard" / "charts").glob("*/meta.json"))
    finally:
        srv.stop()


@pytest.mark.parametrize("kind", ["huge", "deep", "bad-yaml", "alias-bomb", "not-an-index", "binary", "not-a-list"])
def test_hostile_index_is_one_line_on_the_release(tmp_path, isolated, monkeypatch, kind):
    monkeypatch.setattr(charts_mod, "MAX_INDEX_BYTES", 64 << 10)
    body = {
        "huge": b"apiVersion: v1\nentries: {}\n" + b"#" * (100 << 10),
        "deep": b"entries:\n  gpu-infer: " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "bad-yaml": b"apiVersion: v1\nentries:\n  gpu-infer: [\n    {version: 1.0.0\n",
        "alias-bomb": b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n".encode() for i in range(7))
        + b"entries: {}\n",
        "not-an-index": b"- just\n- a list\n",
        "binary": b"\xff\xfe\x00garbage",
        "not-a-list": b"apiVersion: v1\nentries:\n  gpu-infer: {version: 1.0.0}\n",
    }[kind]
    rec = Recorder()
    srv = static_server({"/index.yaml": body}, rec)
    try:
        result = run(_write(tmp_path, repo=f"http://{srv.host}"), [srv.host])
    finally:
        srv.stop()
    (f,) = not_scanned(result)
    assert (f.file, f.line, f.severity) == ("main.tf", 1, "warning")
    assert "\n" not in f.message and "Traceback" not in f.message and "download failed" in f.message
    assert {"huge": "more than 65536 bytes", "deep": "nested too deeply", "bad-yaml": "not valid YAML",
            "alias-bomb": "alias", "not-an-index": "not a Helm repository index",
            "binary": "not UTF-8", "not-a-list": "is not a list of versions"}[kind] in f.message


def test_one_index_download_for_releases_of_one_repository(tmp_path, repo_server):
    tf = RELEASE.format(repo=f"http://{repo_server.host}", chart="gpu-infer", version="1.0.0")
    tf += RELEASE.format(repo=f"http://{repo_server.host}", chart="gpu-infer",
                         version="2.0.0").replace('"gpu"', '"two"')
    tf += RELEASE.format(repo=f"http://{repo_server.host}", chart="absent", version="").replace('"gpu"', '"three"')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.tf").write_text(tf)
    result = run(repo, [repo_server.host])
    assert {ADDRESS, ADDRESS.replace(".gpu/", ".two/")} <= {r.address for r in result.resources}
    (missing,) = [f for f in result.findings if f.address == "helm_release.three"]
    assert "chart 'absent' is not in" in missing.message
    assert [r[2] for r in repo_server.recorder.requests].count("/index.yaml") == 1


@pytest.mark.parametrize("url, why", [
    ("file:///etc/passwd", "is not an https URL"),
    ("//{other}/gpu-infer-1.0.0.tgz", "is not allowed"),          # scheme-relative: another host
    ("http://example.com/gpu-infer-1.0.0.tgz", "only https is used"),  # plain http off loopback
])
def test_hostile_archive_urls_in_the_index(tmp_path, isolated, url, why):
    rec = Recorder()
    other = static_server({}, rec, "other")
    index = chart_index({"gpu-infer": {"1.0.0": (url.format(other=other.host), None)}})
    srv = static_server({"/index.yaml": index}, rec)
    try:
        result = run(_write(tmp_path, repo=f"http://{srv.host}", version=""), [srv.host])
    finally:
        srv.stop()
        other.stop()
    (f,) = not_scanned(result)
    assert why in f.message and not [r for r in rec.requests if r[0] == "other"]


def test_chart_archive_with_a_symlink_is_refused(tmp_path, isolated):
    import tarfile

    link = tarfile.TarInfo("gpu-infer/templates/leak.yaml")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    from rmkit import GPU_CHART, tgz

    data = tgz({f"gpu-infer/{k}": v.replace("{version}", "1.0.0") for k, v in GPU_CHART.items()}, extra=[(link, None)])
    rec = Recorder()
    srv = static_server({"/index.yaml": chart_index({"gpu-infer": {"1.0.0": ("c.tgz", None)}}), "/c.tgz": data}, rec)
    try:
        result = run(_write(tmp_path, repo=f"http://{srv.host}", version=""), [srv.host])
    finally:
        srv.stop()
    (f,) = not_scanned(result)
    assert "is a link to '/etc/passwd'" in f.message and not [r for r in result.resources if r.source == "helm"]
    assert not list((isolated / "cache" / "tagguard" / "charts").glob("*/meta.json"))


def _big_index(bad_at: str | None = None) -> bytes:
    lines = ["apiVersion: v1", "entries:"]
    for i in range(300):
        lines.append(f"  chart{i}:")
        for v in range(5):
            version = f"[1.{v}.0" if bad_at == f"chart{i}@{v}" else f"1.{v}.0"
            lines += [f"  - name: chart{i}", f"    version: {version}", "    description: |", "      text",
                      "      more", f"    urls:\n    - charts/chart{i}-1.{v}.0.tgz"]
    lines.append('generated: "2026-12-06T00:00:00Z"')
    return ("\n".join(lines) + "\n").encode()


def test_index_in_helm_layout_parses_only_the_chart_asked_for_and_agrees_with_a_whole_parse(monkeypatch):
    body = _big_index()
    whole = charts_mod.read_index(body, "idx")
    index = charts_mod.RepoIndex(body, "idx")
    calls = []
    real = charts_mod._entries
    monkeypatch.setattr(charts_mod, "_entries", lambda text, *a: calls.append(len(text)) or real(text, *a))
    for name in ("chart0", "chart150", "chart299", "absent"):
        assert index.versions_of(name) == whole.get(name)
    assert len(calls) == 3 and max(calls) < len(body) / 100  # a slice each, never the whole index
    with pytest.raises(charts_mod.FetchError) as sliced:
        charts_mod.RepoIndex(_big_index("chart150@3"), "idx").versions_of("chart150")
    with pytest.raises(charts_mod.FetchError) as parsed_whole:
        charts_mod.read_index(_big_index("chart150@3"), "idx")
    assert str(sliced.value) == str(parsed_whole.value)  # same error, same line of the index
    assert int(str(sliced.value).split(":")[1]) > 4000


@pytest.mark.parametrize("body", [
    b'{"apiVersion": "v1", "entries": {"b": [{"version": "2.0.0"}]}}',  # JSON: parsed whole
    b"apiVersion: v1\nentries:\n  a:\n    - name: a\n      version: 1.0.0\n  b:\n    - name: b\n      version: 2.0.0\n",
    b"entries:\n  'b':\n  - version: 2.0.0\ngenerated: x\n",
])
def test_other_index_layouts(body):
    assert charts_mod.RepoIndex(body, "idx").versions_of("b")[0]["version"] == "2.0.0"


def test_hostile_strings_from_the_server_reach_logs_and_findings_inert(tmp_path, isolated):
    """What the chart server says (archive URLs, and so error messages) is escaped in the log and the report."""
    import re

    index = (b'apiVersion: v1\nentries:\n  gpu-infer:\n  - version: 1.0.0\n    urls:\n'
             b'    - "charts/\\e]0;pwned\\a\\e[2J\\r\\n::error file=x::injected\\u202e.tgz"\n')
    rec = Recorder()
    srv = static_server({"/index.yaml": index}, rec)
    conf = tmp_path / "user.yaml"
    conf.write_text(f'modules:\n  chart_hosts: ["{srv.host}"]\n')
    repo = _write(tmp_path, repo=f"http://{srv.host}", version="")
    try:
        proc = run_cli("scan", repo, "--fetch-modules", "--format", "github", "--helm-bin", _helm(), process=True,
                       timeout=300, env={"TAGGUARD_USER_CONFIG": str(conf)})
    finally:
        srv.stop()
    assert proc.returncode in (0, 1), proc.stderr
    assert "injected" in proc.stderr + proc.stdout  # the text is there ...
    control = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
    assert not control.search(proc.stderr) and not control.search(proc.stdout)  # ... inert
    assert not [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.lstrip().startswith("::error file=x")]


def test_an_answer_that_breaks_off_is_a_finding_not_an_internal_error(tmp_path, isolated):
    rec = Recorder()
    files = {"/index.yaml": chart_index({"gpu-infer": {"1.0.0": ("c.tgz", None)}}), "/c.tgz": chart_tgz("1.0.0")}
    srv = static_server(files, rec, broken={"/c.tgz"})
    try:
        result = run(_write(tmp_path, repo=f"http://{srv.host}", version=""), [srv.host])
    finally:
        srv.stop()
    (f,) = not_scanned(result)
    assert "the answer broke off" in f.message


@pytest.fixture
def registry(isolated):
    rec = Recorder()
    srv = oci_server({"charts/gpu-infer": {v: chart_tgz(v) for v in VERSIONS}}, rec)
    srv.recorder = rec
    yield srv
    srv.stop()


def test_oci_chart_anonymous_token_tag_constraint_and_render(tmp_path, registry):
    repo = _write(tmp_path, repo=f"oci://{registry.host}/charts", version="~1.1")
    result = run(repo, [registry.host])
    res = {r.address: r for r in result.resources}
    r = res[ADDRESS]
    assert r.meta["chart_source"] == f"{registry.host}/charts/gpu-infer@1.1.4"
    assert r.compute.units == 3 and (r.file, r.line) == ("main.tf", 1)
    paths = [(p, auth) for _k, _m, p, auth in registry.recorder.requests]
    assert paths[0] == ("/v2/charts/gpu-infer/tags/list", None)  # asked anonymously first, then a token
    assert any(p.startswith("/token?") and "scope=repository%3Acharts%2Fgpu-infer%3Apull" in p for p, _ in paths)
    assert ("/v2/charts/gpu-infer/manifests/1.1.4", "Bearer anon-token") in paths
    assert any(p.startswith("/v2/charts/gpu-infer/blobs/sha256:") and a == "Bearer anon-token" for p, a in paths)
    assert not any(p.startswith("/token") and a for p, a in paths)  # the token endpoint gets no credentials


def test_oci_reference_in_chart_with_exact_version_skips_the_tag_list(tmp_path, registry):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.tf").write_text(RELEASE.format(repo="", chart=f"oci://{registry.host}/charts/gpu-infer",
                                                 version="2.0.0").replace('  repository = ""\n', ""))
    result = run(repo, [registry.host])
    assert ADDRESS in {r.address for r in result.resources}
    assert not [p for _k, _m, p, _a in registry.recorder.requests if "tags/list" in p]


def test_oci_blob_redirect_to_a_storage_host_gets_no_token(tmp_path, isolated):
    """The registry sends the download elsewhere: followed (that host is allowed) without the registry's token."""
    rec = Recorder()
    data = chart_tgz("1.0.0")
    storage = static_server({"/sha256:" + hashlib.sha256(data).hexdigest(): data}, rec, "storage")
    srv = oci_server({"charts/gpu-infer": {"1.0.0": data}}, rec, blob_redirect=f"http://{storage.host}")
    try:
        result = run(_write(tmp_path, repo=f"oci://{srv.host}/charts", version="1.0.0"), [srv.host, storage.host])
    finally:
        srv.stop()
        storage.stop()
    assert ADDRESS in {r.address for r in result.resources}
    (hit,) = [r for r in rec.requests if r[0] == "storage"]
    assert hit[3] is None  # no Authorization header crossed to the storage host
    assert any(r[0] == "oci" and "/blobs/" in r[2] and r[3] == "Bearer anon-token" for r in rec.requests)


def test_chart_archive_url(tmp_path, isolated):
    rec = Recorder()
    srv = static_server({"/dl/gpu-infer-1.1.4.tgz": chart_tgz("1.1.4")}, rec)
    try:
        repo = tmp_path / "repo"
        repo.mkdir()
        (repo / "main.tf").write_text(RELEASE.format(repo="", chart=f"http://{srv.host}/dl/gpu-infer-1.1.4.tgz",
                                                     version="").replace('  repository = ""\n', ""))
        result = run(repo, [srv.host])
    finally:
        srv.stop()
    (r,) = [r for r in result.resources if r.address == ADDRESS]
    assert r.meta["chart_source"] == f"{srv.host}/dl/gpu-infer-1.1.4.tgz@latest"
    assert r.compute.units == 3


def test_oci_tag_list_pages_are_followed(tmp_path, isolated):
    rec = Recorder()
    srv = oci_server({"charts/gpu-infer": {v: chart_tgz(v) for v in VERSIONS}}, rec, page=2)
    try:
        charts = charts_mod.RemoteCharts(fetch=True, allowed_hosts=[srv.host], log=lambda m: None)
        _d, why, meta = charts.chart_dir(charts_mod.parse_ref(f"oci://{srv.host}/charts", "gpu-infer", ""))
    finally:
        srv.stop()
    assert why is None and meta["resolved_version"] == "2.0.0"  # on the last of three pages
    assert len([r for r in rec.requests if "tags/list" in r[2] and r[3]]) == 3


def test_oci_token_realm_on_a_host_not_allowed_is_not_asked(tmp_path, isolated):
    rec = Recorder()
    auth = static_server({"/token": b'{"token": "t"}'}, rec, "auth")
    srv = oci_server({"charts/gpu-infer": {"1.0.0": chart_tgz("1.0.0")}}, rec, realm=f"http://{auth.host}/token")
    try:
        result = run(_write(tmp_path, repo=f"oci://{srv.host}/charts", version="1.0.0"), [srv.host])
    finally:
        srv.stop()
        auth.stop()
    (f,) = not_scanned(result)
    assert f"host {auth.host} is not allowed (not in modules.chart_hosts)" in f.message
    assert not [r for r in rec.requests if r[0] == "auth"]


def test_chart_cache_location_from_trusted_config_or_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TAGGUARD_CHART_CACHE", raising=False)
    assert charts_mod.from_options(Config(raw={}), False).cache.root == tmp_path / "xdg" / "tagguard" / "charts"
    monkeypatch.setenv("TAGGUARD_CHART_CACHE", str(tmp_path / "env"))
    assert charts_mod.from_options(Config(raw={}), False).cache.root == tmp_path / "env"
    got = charts_mod.from_options(Config(raw={"modules": {"chart_cache_dir": str(tmp_path / "cfg"), "fetch": True,
                                                          "allowed_hosts": ["github.com"]}}), False)
    assert got.cache.root == tmp_path / "cfg" and got.fetch
    assert got.allowed == []  # modules.allowed_hosts is for modules: no chart host unless listed


def test_oci_layer_digest_mismatch_is_refused(tmp_path, isolated):
    rec = Recorder()
    srv = oci_server({"charts/gpu-infer": {"1.0.0": chart_tgz("1.0.0")}}, rec, token=None, corrupt={"1.0.0"})
    try:
        result = run(_write(tmp_path, repo=f"oci://{srv.host}/charts", version="1.0.0"), [srv.host])
    finally:
        srv.stop()
    (f,) = not_scanned(result)
    assert "does not match its digest; refused" in f.message
    assert not [r for r in result.resources if r.source == "helm"]


def test_repository_config_cannot_turn_chart_fetching_on(tmp_path, repo_server):
    repo = _write(tmp_path, repo=f"http://{repo_server.host}")
    (repo / ".tagguard.yaml").write_text(f'modules:\n  fetch: true\n  chart_hosts: ["{repo_server.host}"]\n')
    proc = run_cli("scan", repo, "--helm-bin", _helm(), process=True, timeout=300)
    assert proc.returncode == 2
    assert ".tagguard.yaml:1: modules: not allowed in the repository's config" in proc.stderr
    assert "Traceback" not in proc.stderr and repo_server.recorder.requests == []
