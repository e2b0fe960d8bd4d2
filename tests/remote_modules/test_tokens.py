"""Private module registries and chart repositories: credentials from the runner's environment only
(`TF_TOKEN_<host>`, `TAGGUARD_CHART_TOKEN_<host>`, `TAGGUARD_CHART_BASIC_<host>`), sent to their own host
only (a redirect elsewhere carries none), never logged, never in a report or the cache.  Loopback servers."""
from __future__ import annotations

import base64
import json
from urllib.parse import urlsplit

import pytest

from clikit import run_cli
from rmkit import GPU_MODULE, QuietHandler, Recorder, _Server, chart_index, chart_tgz, oci_server, static_server, tgz
from tagguard.sources.terraform.remote import charts as charts_mod
from tagguard.sources.terraform.remote.credentials import Credentials, hint, host_of_variable, variable_for
from tagguard.sources.terraform.remote.http import get

SECRET = "s3cr3t-Tok3n-4b1d7e"  # a value no output may ever contain
TAGS = 'tags = { business-unit = "r", project = "p", environment = "dev", cost-center = "c" }'


# --- the variable names (Terraform's encoding) ------------------------------------------------------------

@pytest.mark.parametrize("suffix, host", [
    ("app_terraform_io", "app.terraform.io"),
    ("configured.example.com", "configured.example.com"),  # literal periods are fine
    ("xn____caf__dma_fr", "xn--caf-dma.fr"),  # hyphens as double underscores
    ("xn--caf-dma_fr", "xn--caf-dma.fr"),
    ("Registry_Example_COM", "registry.example.com"),
    ("127_0_0_1", "127.0.0.1"),
])
def test_host_of_variable(suffix, host):
    assert host_of_variable(suffix) == host
    assert host_of_variable(variable_for(host)[len("TF_TOKEN_"):]) == host


@pytest.mark.parametrize("suffix", ["", "_", "bad host", "caf\u00e9_fr", "a:b", "a/b", "x" * 300])
def test_not_a_host(suffix):
    assert host_of_variable(suffix) is None


def test_credentials_from_environment():
    env = {"TF_TOKEN_app_terraform_io": "t1", "TF_TOKEN_xn____caf__dma_fr": "encoded",
           "TF_TOKEN_xn--caf-dma_fr": "literal", "TF_TOKEN_bad": "line\nbreak", "TF_TOKEN_": "x",
           "TF_VAR_region": "nope", "tf_token_lower_case_prefix": "nope",
           "TAGGUARD_CHART_TOKEN_charts_example_com": "ct", "TAGGUARD_CHART_BASIC_charts_example_com": "u:p",
           "TAGGUARD_CHART_BASIC_oci_example_com": "robot:pw", "TAGGUARD_CHART_BASIC_nocolon_example_com": "pw"}
    mods = Credentials.from_environment(env, kind="modules")
    assert mods.hosts == ["app.terraform.io", "xn--caf-dma.fr"]
    assert mods.header_for("https://app.terraform.io/v1/modules/") == "Bearer t1"
    assert mods.header_for("https://APP.terraform.io:8443/x") == "Bearer t1"  # a host name, any port
    assert mods.header_for("https://xn--caf-dma.fr/") == "Bearer literal"  # the literal spelling wins
    assert mods.header_for("https://evil.app.terraform.io/") is None
    assert mods.header_for("https://app.terraform.io.evil.com/") is None
    assert "TF_TOKEN_bad" in mods.ignored and "t1" not in repr(mods) and "literal" not in repr(mods)
    ch = Credentials.from_environment(env, kind="charts")
    assert ch.header_for("https://charts.example.com/index.yaml") == "Bearer ct"  # the token wins over basic
    assert ch.header_for("https://oci.example.com/v2/") == "Basic " + base64.b64encode(b"robot:pw").decode()
    assert (ch.header_for("https://nocolon.example.com/") is None
            and "TAGGUARD_CHART_BASIC_nocolon_example_com" in ch.ignored)
    assert ch.header_for("https://app.terraform.io/") is None  # module tokens are not chart credentials


def test_hint_names_the_variable_never_a_value():
    creds = Credentials({"registry.example.com": f"Bearer {SECRET}"})
    assert "TF_TOKEN_other__host_example_com" in hint(401, "https://other-host.example.com/x", creds)
    refused = hint(403, "https://registry.example.com/x", creds)
    assert "refused" in refused and SECRET not in refused
    assert hint(404, "https://registry.example.com/x", creds) == ""
    assert "TAGGUARD_CHART_BASIC_h_example_com" in hint(401, "https://h.example.com/", None, "TAGGUARD_CHART_TOKEN_")


# --- the loopback kit: a private registry whose archive download redirects to another host -------------------

def private_registry(token: str, recorder: Recorder, archive_url: str) -> _Server:
    """A module registry that answers 401 without ``Authorization: Bearer <token>``; module acme/gpu/aws 1.0.0,
    whose download is /archives/gpu.tgz on this host, which redirects (302) to ``archive_url``."""

    class Handler(QuietHandler):
        def do_GET(self):
            self.recorder.add(("registry", "GET", self.path, self.headers.get("Authorization")))
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, b'{"errors": ["unauthorized"]}')
            path = urlsplit(self.path).path
            if path == "/.well-known/terraform.json":
                return self._send(200, json.dumps({"modules.v1": "/v1/modules/"}).encode())
            if path == "/v1/modules/acme/gpu/aws/versions":
                return self._send(200, json.dumps({"modules": [{"versions": [{"version": "1.0.0"}]}]}).encode())
            if path == "/v1/modules/acme/gpu/aws/1.0.0/download":
                return self._send(204, headers=[("X-Terraform-Get", "/archives/gpu.tgz")])
            if path == "/archives/gpu.tgz":
                return self._send(302, headers=[("Location", archive_url)])
            return self._send(404, b"{}")

    return _Server(Handler, recorder)


@pytest.fixture
def private(isolated):
    rec = Recorder()
    storage = static_server({"/gpu.tgz": tgz({"main.tf": GPU_MODULE["main.tf"]})}, rec, "storage")
    reg = private_registry(SECRET, rec, f"http://localhost:{storage.port}/gpu.tgz")

    class S:
        recorder = rec
        registry = reg
        storage_host = f"localhost:{storage.port}"

    conf = isolated / "user.yaml"
    conf.write_text(f'modules:\n  allowed_hosts: ["{reg.host}", "{S.storage_host}"]\n')
    S.env = {"TAGGUARD_USER_CONFIG": str(conf)}
    yield S
    reg.stop()
    storage.stop()


def _repo(tmp_path, registry_host):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "main.tf").write_text(f'module "gpu" {{\n  source  = "{registry_host}/acme/gpu/aws"\n'
                                  f'  version = "1.0.0"\n  {TAGS}\n}}\n')
    return repo


def _all_text(root) -> str:
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


def test_tf_token_reaches_the_registry_only_and_no_output(tmp_path, private):
    repo = _repo(tmp_path, private.registry.host)
    outs = tmp_path / "reports"
    outs.mkdir()
    proc = run_cli("scan", str(repo), "--fetch-modules", "--output-json", str(outs / "r.json"),
                   "--output-sarif", str(outs / "r.sarif"), "--output-markdown", str(outs / "r.md"),
                   "--output-html", str(outs / "r.html"), "--output-junit", str(outs / "r.xml"),
                   "--output-github", str(outs / "r.github"), process=True, timeout=300,
                   env={**private.env, "TF_TOKEN_127_0_0_1": SECRET})
    assert proc.returncode in (0, 1), proc.stderr
    doc = json.loads((outs / "r.json").read_text())
    assert "module.gpu.aws_instance.gpu" in [r["address"] for r in doc["resources"]], doc["findings"]
    reg = [r for r in private.recorder.requests if r[0] == "registry"]
    assert len(reg) == 4 and all(r[3] == f"Bearer {SECRET}" for r in reg)  # discovery, versions, download, archive
    (hop,) = [r for r in private.recorder.requests if r[0] == "storage"]
    assert hop[3] is None  # the redirect to another host carried no credential
    assert "with the runner's credential for 127.0.0.1" in proc.stderr  # the host is logged, never the value
    for text in (proc.stdout, proc.stderr, _all_text(tmp_path)):  # reports, the module cache, the repository
        assert SECRET not in text
        assert base64.b64encode(SECRET.encode()).decode() not in text


def test_without_the_token_the_finding_names_the_variable(tmp_path, private):
    repo = _repo(tmp_path, private.registry.host)
    proc = run_cli("scan", str(repo), "--fetch-modules", "--format", "json", process=True, timeout=300,
                   env={**private.env, "TF_TOKEN_127_0_0_1": None})
    assert proc.returncode in (0, 1), proc.stderr
    (f,) = [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "not-scanned"]
    assert "answered 401" in f["message"] and "set TF_TOKEN_127_0_0_1 in the environment" in f["message"]
    assert all(r[3] is None for r in private.recorder.requests)


def test_the_repository_cannot_name_a_credential(tmp_path, private):
    """Only the runner's environment holds credentials: Terraform credential files or a `.env` in the scanned
    repository are never read."""
    repo = _repo(tmp_path, private.registry.host)
    (repo / ".terraformrc").write_text(f'credentials "127.0.0.1" {{\n  token = "{SECRET}"\n}}\n')
    (repo / ".terraform.d").mkdir()
    (repo / ".terraform.d" / "credentials.tfrc.json").write_text(json.dumps(
        {"credentials": {"127.0.0.1": {"token": SECRET}}}))
    (repo / ".env").write_text(f"TF_TOKEN_127_0_0_1={SECRET}\n")
    proc = run_cli("scan", str(repo), "--fetch-modules", "--format", "json", process=True, timeout=300,
                   env={**private.env, "TF_TOKEN_127_0_0_1": None}, cwd=repo)
    assert proc.returncode in (0, 1), proc.stderr
    assert private.recorder.requests and all(r[3] is None for r in private.recorder.requests)


def test_same_host_redirect_keeps_it_other_port_drops_it(isolated):
    rec = Recorder()
    other = static_server({"/x": b"other"}, rec, "other")

    class Handler(QuietHandler):
        def do_GET(self):
            self.recorder.add(("first", "GET", self.path, self.headers.get("Authorization")))
            target = {"/a": "/b", "/b": f"http://{other.host}/x"}.get(self.path)
            self.send_response(302 if target else 200)
            if target:
                self.send_header("Location", target)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    first = _Server(Handler, rec)
    try:
        creds = Credentials({"127.0.0.1": f"Bearer {SECRET}"})
        logged: list[str] = []
        final, status, _h, body = get(f"http://{first.host}/a", [first.host, other.host], 1 << 10, logged.append,
                                      credentials=creds)
    finally:
        first.stop()
        other.stop()
    assert (status, body) == (200, b"other")
    assert [(r[0], r[2], r[3]) for r in rec.requests] == [
        ("first", "/a", f"Bearer {SECRET}"), ("first", "/b", f"Bearer {SECRET}"), ("other", "/x", None)]
    assert not any(SECRET in line for line in logged)


# --- charts ------------------------------------------------------------------------------------------------

def _fetch(srv_hosts, ref, creds):
    charts = charts_mod.RemoteCharts(fetch=True, allowed_hosts=srv_hosts, log=lambda m: None, credentials=creds)
    return charts.chart_dir(ref)


def test_chart_repository_token(isolated):
    rec = Recorder()
    data = chart_tgz("1.0.0")
    files = {"/charts/gpu-infer-1.0.0.tgz": data}
    files["/index.yaml"] = chart_index({"gpu-infer": {"1.0.0": ("charts/gpu-infer-1.0.0.tgz", None)}})
    srv = static_server(files, rec)
    try:
        creds = Credentials.from_environment({"TAGGUARD_CHART_TOKEN_127_0_0_1": SECRET}, kind="charts")
        _d, why, _meta = _fetch([srv.host], charts_mod.parse_ref(f"http://{srv.host}", "gpu-infer", "1.0.0"), creds)
    finally:
        srv.stop()
    assert why is None
    assert [r[3] for r in rec.requests] == [f"Bearer {SECRET}"] * 2  # the index and the archive


def test_oci_basic_credentials_stay_on_the_registry_and_the_realm_gets_its_own(isolated):
    rec = Recorder()
    auth = static_server({"/token": b'{"token": "anon-token"}'}, rec, "auth")
    realm_host = f"localhost:{auth.port}"
    srv = oci_server({"charts/gpu-infer": {"1.0.0": chart_tgz("1.0.0")}}, rec, realm=f"http://{realm_host}/token")
    ref = charts_mod.parse_ref(f"oci://{srv.host}/charts", "gpu-infer", "1.0.0")
    registry_basic = "Basic " + base64.b64encode(f"robot:{SECRET}".encode()).decode()
    try:
        only_registry = Credentials.from_environment({"TAGGUARD_CHART_BASIC_127_0_0_1": f"robot:{SECRET}"},
                                                     kind="charts")
        _d, why, _m = _fetch([srv.host, realm_host], ref, only_registry)
        assert why is None
        first = [(r[0], r[2].split("?")[0], r[3]) for r in rec.requests]
        assert first[0] == ("oci", "/v2/charts/gpu-infer/manifests/1.0.0", registry_basic)
        assert ("auth", "/token", None) in first  # the realm is another host: not the registry's credential
        assert first[-1][2] == "Bearer anon-token"
        rec.requests.clear()
        both = Credentials.from_environment({"TAGGUARD_CHART_BASIC_127_0_0_1": f"robot:{SECRET}",
                                             "TAGGUARD_CHART_BASIC_localhost": "realm-user:other"}, kind="charts")
        import shutil

        shutil.rmtree(isolated / "cache", ignore_errors=True)  # fetch again
        _d, why, _m = _fetch([srv.host, realm_host], ref, both)
        assert why is None
        (tok,) = [r for r in rec.requests if r[0] == "auth"]
        assert tok[3] == "Basic " + base64.b64encode(b"realm-user:other").decode()
    finally:
        srv.stop()
        auth.stop()


def test_oci_blob_redirect_to_storage_carries_no_credential(isolated):
    import hashlib

    rec = Recorder()
    data = chart_tgz("1.0.0")
    storage = static_server({"/sha256:" + hashlib.sha256(data).hexdigest(): data}, rec, "storage")
    srv = oci_server({"charts/gpu-infer": {"1.0.0": data}}, rec, token=None, blob_redirect=f"http://{storage.host}")
    try:
        creds = Credentials.from_environment({"TAGGUARD_CHART_TOKEN_127_0_0_1": SECRET}, kind="charts")
        _d, why, _m = _fetch([srv.host, storage.host], charts_mod.parse_ref(f"oci://{srv.host}/charts", "gpu-infer",
                                                                             "1.0.0"), creds)
    finally:
        srv.stop()
        storage.stop()
    assert why is None
    assert all(r[3] == f"Bearer {SECRET}" for r in rec.requests if r[0] == "oci")
    (hop,) = [r for r in rec.requests if r[0] == "storage"]
    assert hop[3] is None  # same host name, another port: a redirect there carries nothing


def test_chart_errors_other_than_401_get_no_credential_hint(isolated):
    rec = Recorder()
    srv = static_server({}, rec)  # 404 for everything
    try:
        _d, why, _m = _fetch([srv.host], charts_mod.parse_ref(f"http://{srv.host}", "gpu-infer", ""), Credentials())
    finally:
        srv.stop()
    assert why and "answered 404" in why and "TAGGUARD_CHART" not in why  # only 401/403 get the hint
