"""Issue 15: a cluster report's findings reach every output format, and its exit code is a scan's gate.

One real Prometheus (the scenario of test_prometheus_gpuhours) gives one report written in every format at
once; the findings there: 3 gpu-quota (web at its quota: error; bad and mig without one), 1 gpu-underused
(serve-b at 10 %), 2 commitment-candidate, 1 spot-candidate, 1 unattributed-gpu-hours (bad/x, no
cost-center). A second Prometheus serves hostile names and label values (namespaces, workloads, nodes,
instance types) and checks each format keeps them inert. A third serves a cluster whose only gap is a node
the rate card cannot price: that must not pass silently.
"""
from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from clikit import run_cli

from promserver import GOOD, needs_prometheus, OpenMetricsWriter, pod_series, Prometheus
from test_prometheus_gpuhours import P4D, TIMES, prom, prom_nolabels  # noqa: F401  (the module's Prometheus fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "security"))
from test_output_injection import (CONTROL, HOSTILE, assert_log_safe, assert_markdown_inert,  # noqa: E402
                                   runner_parse)

pytestmark = needs_prometheus

WINDOW = ["--since", "2026-11-02T00:00:00Z", "--until", "2026-11-02T04:00:00Z"]
SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"
OLD_KEYS = {"rule", "severity", "namespace", "workload_kind", "workload", "message", "fix", "gpu_hours",
            "used_gpu_hours", "saving_usd"}  # a cluster finding's keys before issue 15: kept
SCAN_KEYS = {"rule", "category", "severity", "address", "file", "line", "tag", "message"}  # Finding.to_json


def every_format(url: str, out: Path, *extra: str):
    files = {"json": out / "r.json", "sarif": out / "r.sarif", "junit": out / "r.xml", "github": out / "gh.log",
             "html": out / "r.html", "markdown": out / "r.md"}
    args = ["cluster", "report", "--prometheus", url, *WINDOW, *extra]
    for fmt, path in files.items():
        args += ["-f", fmt, "-o", path]
    res = run_cli(*args, "-f", "text")
    return res, {fmt: path.read_text(encoding="utf-8") for fmt, path in files.items()}


def validate_sarif(doc):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_one_report_in_every_format(prom, tmp_path, monkeypatch):  # noqa: F811
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res, out = every_format(prom.url, tmp_path)
    assert res.exit_code == 1, res.output  # two errors: web at its GPU quota, bad/x unattributed
    rep = json.loads(out["json"])
    # the report keeps its keys (export-focus, showback and history read them) and gains a gate summary
    assert {"totals", "by_group", "by_label", "unattributed", "split", "findings", "warnings"} <= set(rep)
    assert rep["summary"] == {"findings": 8, "by_severity": {"error": 2, "warning": 3, "info": 3},
                              "by_category": {"optimization": 4, "quota": 3, "unattributed": 1},
                              "blocking": 2, "fail_on": "error", "exit_code": 1}
    finds = rep["findings"]
    assert all(OLD_KEYS | SCAN_KEYS <= set(f) for f in finds), finds
    un = next(f for f in finds if f["rule"] == "unattributed-gpu-hours")
    assert un["address"] == f"{prom.url}/namespaces/bad/Pod/x" and un["file"] is None
    assert un["gpu_hours"] == pytest.approx(2) and un["cost_usd"] == pytest.approx(round(2 * P4D, 2))
    assert "cost-center" in un["message"] and un["severity"] == "error" and un["category"] == "unattributed"
    # the text report shows the findings and the gate's verdict
    assert "[error] unattributed-gpu-hours: Pod bad/x ran 2.0 GPU-hours ($5.49)" in res.stdout
    assert "8 findings, 2 at or above --fail-on error: exit 1" in res.stdout

    sarif = json.loads(out["sarif"])
    validate_sarif(sarif)
    run = sarif["runs"][0]
    results = run["results"]
    assert sorted(r["ruleId"] for r in results) == sorted(f["rule"] for f in finds)
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    for r in results:  # every rule has its doc page as help, as a scan's
        assert rules[r["ruleId"]]["helpUri"].endswith(r["ruleId"]) and rules[r["ruleId"]]["help"]["markdown"]
    sr = next(r for r in results if r["ruleId"] == "unattributed-gpu-hours")
    assert sr["level"] == "error"
    assert sr["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "./", "uriBaseId": "%SRCROOT%"}
    assert sr["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == un["address"]
    assert run["invocations"][0]["exitCode"] == 1

    suites = ET.fromstring(out["junit"])
    assert suites.get("tests") == "8" and suites.get("failures") == "2"
    failed = {c.get("name") for c in suites.iter("testcase") if c.find("failure") is not None}
    assert failed == {"gpu-quota", "unattributed-gpu-hours"}

    notes = [runner_parse(line) for line in out["github"].splitlines()]
    commands = sorted(p[0] for p in notes if p)
    assert commands == sorted({"error": "error", "warning": "warning", "info": "notice"}[f["severity"]]
                              for f in finds)
    assert any(p and p[1]["title"] == "tagguard unattributed-gpu-hours" for p in notes)
    assert "unattributed-gpu-hours" in summary.read_text(encoding="utf-8")  # the job summary has them too

    assert "Actual GPU spend in clusters" in out["html"] and "unattributed-gpu-hours" in out["html"]
    assert "### Findings" in out["markdown"] and "| error | unattributed-gpu-hours |" in out["markdown"]


def test_fail_on_and_config_rules_gate_the_exit_code(prom, tmp_path):  # noqa: F811
    cfg = tmp_path / "tagguard.yaml"
    cfg.write_text("rules:\n  unattributed-gpu-hours: warning\n  quota: warning\n", encoding="utf-8")
    base = ["cluster", "report", "--prometheus", prom.url, *WINDOW, "--config", cfg, "-f", "json"]
    res = run_cli(*base)
    rep = json.loads(res.stdout)
    assert res.exit_code == 0 and rep["summary"]["blocking"] == 0  # no error left at --fail-on error
    assert {f["severity"] for f in rep["findings"] if f["rule"] == "unattributed-gpu-hours"} == {"warning"}
    res = run_cli(*base, "--fail-on", "warning")
    assert res.exit_code == 1 and json.loads(res.stdout)["summary"]["blocking"] == 5
    cfg.write_text("rules:\n  unattributed: 'off'\n  gpu-quota: 'off'\n", encoding="utf-8")
    res = run_cli(*base)
    assert res.exit_code == 0
    assert not {f["rule"] for f in json.loads(res.stdout)["findings"]} & {"unattributed-gpu-hours", "gpu-quota"}


def test_opencost_findings_in_every_format(tmp_path):
    from test_opencost import DOC

    src = tmp_path / "alloc.json"
    src.write_text(json.dumps(DOC), encoding="utf-8")
    sarif, xml = tmp_path / "o.sarif", tmp_path / "o.xml"
    res = run_cli("cluster", "opencost", src, "-f", "sarif", "-o", sarif, "-f", "junit", "-o", xml, "-f", "json")
    assert res.exit_code == 1
    rep = json.loads(res.stdout)
    assert [(f["rule"], f["namespace"], f["gpu_hours"]) for f in rep["findings"]] == [
        ("unattributed-gpu-hours", "x", 10)]
    assert rep["findings"][0]["address"] == f"{src}/namespaces/x"
    doc = json.loads(sarif.read_text(encoding="utf-8"))
    validate_sarif(doc)
    assert "\x1b" not in json.dumps(doc["runs"][0]["results"], ensure_ascii=False)
    assert ET.parse(xml).getroot().get("failures") == "1"
    gh = run_cli("cluster", "opencost", src, "-f", "github", "--fail-on", "warning").stdout
    assert_log_safe(gh, allowed=lambda p: p[0] == "error" and p[1].get("title") == "tagguard unattributed-gpu-hours")


# --- hostile values from the cluster ----------------------------------------------------------------------

# label values Prometheus can carry (valid UTF-8, no NUL)
EVIL = [h for h in HOSTILE if "\x00" not in h and "\ud800" not in h]


@pytest.fixture(scope="module")
def prom_hostile(tmp_path_factory):
    """One p4d node, and a node whose name and instance type are hostile (unpriced); one pod per hostile
    string, the string as its workload name and its environment label (not an allowed value: unattributed),
    one pod in a namespace named by a hostile string (no quota there either)."""
    work = tmp_path_factory.mktemp("prom-hostile")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "h1", "labels": {"label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                                       "label_karpenter_sh_capacity_type": "on-demand"},
              "allocatable": {"nvidia_com_gpu": 8 * len(EVIL)}},
             {"node": EVIL[7], "labels": {"label_node_kubernetes_io_instance_type": EVIL[0]},
              "allocatable": {"nvidia_com_gpu": 1}}]
    pods = [{"namespace": "ev", "pod": f"p{i}", "uid": f"e{i}", "node": "h1", "resource": "nvidia_com_gpu", "count": 1,
             "labels": dict(GOOD, label_environment=h), "owner": ("Job", h), "util": [5]}
            for i, h in enumerate(EVIL)]
    pods.append({"namespace": EVIL[1], "pod": "q", "uid": "q1", "node": EVIL[7], "resource": "nvidia_com_gpu",
                 "count": 1, "labels": dict(GOOD), "owner": ("ReplicaSet", EVIL[2]), "util": [50]})
    pod_series(pods, nodes, TIMES, w, {"ev": {}, EVIL[1]: {}})
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def test_hostile_cluster_values_stay_inert_in_every_format(prom_hostile, tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res, out = every_format(prom_hostile.url, tmp_path)
    assert res.exit_code == 1, res.output
    rep = json.loads(out["json"])
    rules = {f["rule"] for f in rep["findings"]}
    assert {"unattributed-gpu-hours", "cluster-data-gap", "gpu-underused", "gpu-quota"} <= rules
    assert sum(f["rule"] == "unattributed-gpu-hours" for f in rep["findings"]) == len(EVIL)
    # the text report and the annotations: no control character, no line GitHub's runner takes as a command
    assert_log_safe(res.stdout)
    titles = {f"tagguard {f['rule']}" + (f" ({f['tag']})" if f["tag"] else "") for f in rep["findings"]}
    assert_log_safe(out["github"], allowed=lambda p: p[0] in ("error", "warning", "notice")
                    and p[1].get("title") in titles and set(p[1]) == {"title"})
    assert sum(1 for line in out["github"].splitlines() if runner_parse(line)) == len(rep["findings"])
    assert_markdown_inert(out["markdown"])
    ET.fromstring(out["junit"])  # well-formed XML whatever the names
    sarif = json.loads(out["sarif"])
    validate_sarif(sarif)
    for r in sarif["runs"][0]["results"]:
        text = r["message"]["text"]
        assert not CONTROL.search(text.replace("\n", "")), repr(text)
        assert not re.search(r"(?<!\\)\[", text), text  # no embedded link can form
    html = out["html"]
    for bad in ("<script>alert", "<h1>pwn", "<h1>two", "\x1b", "\u202e", "<!-- tagguard-report -->"):
        assert bad not in html, bad
    assert "&lt;h1&gt;pwn" in html and "evil.example.com" in out["markdown"]  # the values are there, as text
    assert 'id="kpi-actual"' in html and "AI spend / month" not in html  # the cluster's headline
    # the GitHub job summary is the cluster's Markdown (the hostile group and workload names), as inert
    assert summary.read_text(encoding="utf-8") == out["markdown"]


@pytest.fixture(scope="module")
def prom_unpriced(tmp_path_factory):
    """Everything attributed, nothing under quota pressure; one node of an instance type not in the rate card."""
    work = tmp_path_factory.mktemp("prom-unpriced")
    om = work / "series.om"
    w = OpenMetricsWriter(om)
    nodes = [{"node": "u1", "labels": {"label_node_kubernetes_io_instance_type": "x9.gpu.mystery",
                                       "label_karpenter_sh_capacity_type": "spot"},
              "allocatable": {"nvidia_com_gpu": 1}}]
    pods = [{"namespace": "ok", "pod": "j", "uid": "j1", "node": "u1", "resource": "nvidia_com_gpu", "count": 1,
             "labels": dict(GOOD), "owner": ("Job", "j"), "util": [80]}]
    quotas = [{"namespace": "ok", "resourcequota": "gpu", "resource": "requests.nvidia.com/gpu", "type": t, "value": v}
              for t, v in (("hard", 8), ("used", 1))]
    pod_series(pods, nodes, TIMES, w, {"ok": {}}, quotas)
    w.close()
    server = Prometheus(work, om)
    yield server
    server.stop()


def test_unpriced_gpu_hours_are_a_finding_not_a_silent_pass(prom_unpriced):
    base = ["cluster", "report", "--prometheus", prom_unpriced.url, *WINDOW]
    res = run_cli(*base, "-f", "json")
    rep = json.loads(res.stdout)
    assert rep["totals"]["requested_gpu_hours"] == pytest.approx(4) and rep["totals"]["cost_usd"] == 0
    gaps = [f for f in rep["findings"] if f["rule"] == "cluster-data-gap"]
    assert [(g["severity"], g["gpu_hours"]) for g in gaps] == [("warning", pytest.approx(4))]
    assert "x9.gpu.mystery is not in the rate card" in gaps[0]["message"]
    assert gaps[0]["address"] == prom_unpriced.url and gaps[0]["tag"].startswith("unpriced: ")
    assert res.exit_code == 0  # a warning: shown in every format, gated by --fail-on warning
    gated = run_cli(*base, "-f", "github", "--fail-on", "warning")
    assert gated.exit_code == 1
    assert "::warning title=tagguard cluster-data-gap (unpriced%3A instance type x9.gpu.mystery" in gated.stdout


def test_cluster_id_drops_credentials_query_and_fragment():
    from tagguard.actuals.cluster.findings import address, cluster_id

    assert cluster_id("https://user:secret@prom.example:9090/api/?token=x#f") == "https://prom.example:9090/api"
    assert cluster_id("/tmp/alloc.json") == "/tmp/alloc.json"
    assert address("http://p", "ml", "Job", "t") == "http://p/namespaces/ml/Job/t"
    assert address("http://p", "ml") == "http://p/namespaces/ml"


def _partial_proxy(upstream: str, warning: str):
    """A loopback gateway in front of the real Prometheus that answers like a Thanos querier whose store
    timed out: the query succeeds, with a ``warnings`` list (a partial response)."""
    from promserver import gateway

    def edit(path: str, doc: dict) -> dict:
        if path.startswith("/api/v1/query"):
            doc["warnings"] = [warning]
        return doc

    return gateway(upstream, edit=edit)


def test_a_partial_response_is_incomplete_not_a_pass(prom_unpriced, tmp_path):
    """Bug fixed: the `warnings` of a successful answer were dropped, so a report computed from a partial
    response (a Thanos store down) passed as complete."""
    warning = "partial response: store 10.0.0.7:10901 unavailable\x1b[2J ::error::x"
    srv = _partial_proxy(prom_unpriced.url, warning)
    try:
        url = f"http://127.0.0.1:{srv.server_port}"
        sarif = tmp_path / "r.sarif"
        page = tmp_path / "r.html"
        res = run_cli("cluster", "report", "--prometheus", url, *WINDOW, "-f", "sarif", "-o", sarif,
                      "-f", "html", "-o", page, "-f", "json")
        assert res.exit_code == 3, res.output  # incomplete wins over the findings (and over a clean run)
        html = page.read_text(encoding="utf-8")
        assert "INCOMPLETE: 1 error(s)" in html and "<h2>The figures above may be incomplete</h2>" in html
        assert "store 10.0.0.7:10901 unavailable\\x1b[2J ::error::x</li>" in html and "\x1b" not in html
        rep = json.loads(res.stdout)
        assert len(rep["errors"]) == 1 and "store 10.0.0.7:10901 unavailable" in rep["errors"][0]["message"]
        assert rep["summary"]["exit_code"] == 3
        log = json.loads(sarif.read_text(encoding="utf-8"))
        validate_sarif(log)
        inv = log["runs"][0]["invocations"][0]
        assert inv["executionSuccessful"] is False and inv["exitCode"] == 3
        text = run_cli("cluster", "report", "--prometheus", url, *WINDOW).stdout
        assert "incomplete: the data may be incomplete" in text
        assert_log_safe(text)
    finally:
        srv.shutdown()


def test_no_pod_labels_is_one_finding_not_every_workload(prom_nolabels):  # noqa: F811
    res = run_cli("cluster", "report", "--prometheus", prom_nolabels.url, *WINDOW, "-f", "json")
    assert res.exit_code == 1
    rep = json.loads(res.stdout)
    finds = [f for f in rep["findings"] if f["category"] == "unattributed"]
    assert [f["rule"] for f in finds] == ["pod-labels-not-exported"]
    assert finds[0]["gpu_hours"] == pytest.approx(8 + 4 + 4 + 2 + 4 / 7) and finds[0]["address"] == prom_nolabels.url
    assert "--metric-labels-allowlist=pods=[" in finds[0]["fix"]
