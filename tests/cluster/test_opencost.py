"""OpenCost allocation JSON (file and loopback URL) judged against the taxonomy."""
from __future__ import annotations

import http.server
import json
import threading

from click.testing import CliRunner

from tagguard.cli import cli


def alloc(name, ns, labels, ns_labels, hours, cost, eff):
    return {"name": name, "properties": {"cluster": "c1", "node": "n1", "namespace": ns, "pod": name.split("/")[-1],
                                         "labels": labels, "namespaceLabels": ns_labels},
            "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "gpuCount": 1, "gpuHours": hours, "gpuCost": cost, "gpuCostAdjustment": 0, "gpuEfficiency": eff,
            "cpuCost": 1.5, "totalCost": cost + 1.5}


DOC = {"code": 200, "status": "success", "data": [{
    "c1/ml/train": alloc("c1/ml/train", "ml", {"project": "llm"},
                         {"business_unit": "research", "environment": "prod", "cost_center": "CC-1"}, 100, 300.0, 0.5),
    "c1/ml/serve": alloc("c1/ml/serve", "ml", {"project": "chat", "cost_center": "CC-2"},
                         {"business_unit": "research", "environment": "prod", "cost_center": "CC-1"}, 50, 150.0, None),
    "c1/x/adhoc": alloc("c1/x/adhoc", "x", {"project": "p\x1b[31m"}, {}, 10, 30.0, 0.1),
    "__idle__": {"name": "__idle__", "properties": {}, "gpuHours": 40, "gpuCost": 120.0},
}]}


def test_opencost_file(tmp_path):
    f = tmp_path / "alloc.json"
    f.write_text(json.dumps(DOC))
    res = CliRunner().invoke(cli, ["cluster", "opencost", str(f), "-f", "json"])
    assert res.exit_code == 1, res.output  # 10 GPU-hours unattributed
    rep = json.loads(res.output)
    g = {r["group"]: r for r in rep["by_group"]}
    assert g["research"]["gpu_hours"] == 150 and g["research"]["cost_usd"] == 450.0
    assert g["research"]["used_gpu_hours"] == 50 and g["research"]["unmeasured_gpu_hours"] == 50
    assert rep["unattributed"]["gpu_hours"] == 10 and rep["unattributed"]["allocations"] == 1
    assert rep["idle"]["__idle__"]["gpu_hours"] == 40
    text = CliRunner().invoke(cli, ["cluster", "opencost", str(f)]).output
    assert "\x1b" not in text  # a label value from the cluster never reaches the terminal raw


def test_opencost_url_and_bad_json(tmp_path):
    body = json.dumps(DOC).encode()

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        res = CliRunner().invoke(cli, ["cluster", "opencost",
                                       f"http://127.0.0.1:{srv.server_port}/allocation?window=30d", "-f", "json"])
        assert json.loads(res.output)["unattributed"]["gpu_hours"] == 10
    finally:
        srv.shutdown()
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [\n{"a": }]}')
    res = CliRunner().invoke(cli, ["cluster", "opencost", str(bad)])
    assert res.exit_code == 2 and f"{bad}:2: not JSON" in res.output and "Traceback" not in res.output
