"""The `cluster` commands hand their config to every format, as `scan` does (`emit(..., config=config)`):
the HTML page's showback follows `showback:`, and a showback setting the config gets wrong is the same
one-line error as in `scan -f html` (it was an internal error in `cluster report`, and `cluster opencost`
built the page's showback from the defaults, ignoring the config)."""
from __future__ import annotations

import json
import re

from clikit import run_cli

from promserver import needs_prometheus
from test_cluster_formats import WINDOW
from test_opencost import DOC
from test_prometheus_gpuhours import prom  # noqa: F401  (the module's Prometheus fixture)

BAD = "showback:\n  allocate_by: nope\n"
ERROR = "tagguard: error: showback.allocate_by: 'nope' is not one of the dimensions"


@needs_prometheus
def test_cluster_report_html_follows_the_config(prom, tmp_path):  # noqa: F811
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("showback:\n  dimensions: {team: business-unit, product: project}\n", encoding="utf-8")
    page = tmp_path / "r.html"
    res = run_cli("cluster", "report", "--prometheus", prom.url, *WINDOW, "--config", cfg, "-f", "html", "-o", page)
    assert res.exit_code == 1, res  # the scenario's two errors
    assert re.findall(r'data-dimension="([^"]*)"', page.read_text(encoding="utf-8")) == ["team", "product"]


@needs_prometheus
def test_cluster_report_bad_showback_config_is_one_line_error(prom, tmp_path):  # noqa: F811
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(BAD, encoding="utf-8")
    res = run_cli("cluster", "report", "--prometheus", prom.url, *WINDOW, "--config", cfg, "-f", "text",
                  process=True)
    assert res.exit_code == 2, res
    assert res.stderr.startswith(ERROR) and len(res.stderr.splitlines()) == 1, res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr


def test_opencost_html_uses_the_config(tmp_path):
    src = tmp_path / "alloc.json"
    src.write_text(json.dumps(DOC), encoding="utf-8")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(BAD, encoding="utf-8")
    page = tmp_path / "o.html"
    # as `scan -f html`: the page's showback is built with the command's config, so its error shows
    res = run_cli("cluster", "opencost", src, "--config", cfg, "-f", "html", "-o", page)
    assert res.exit_code == 2, res
    assert res.stderr.startswith(ERROR) and not page.exists(), res.stderr
    # and only then: a report that renders no showback does not judge the showback settings (as `scan -f json`)
    res = run_cli("cluster", "opencost", src, "--config", cfg, "-f", "json")
    assert res.exit_code == 1, res
    assert json.loads(res.stdout)["summary"]["blocking"] == 1
