"""`report showback -f html --cluster`: the actual GPU spend of a real cluster report (the scenario of
test_prometheus_gpuhours, a real Prometheus) rendered in a real headless Chromium, beside the estimates.

Over the 4 h window (× 182.5 = a month): research 12 GPU-h (8 p4d + 4 g5.xlarge spot, used 4.4 of 12 = 37 %),
product 4 GPU-h p4d (used 3.6 = 90 %), platform 4/7 GPU-h (MIG, unmeasured: "-"), (unallocated) 2 GPU-h.
"""
from __future__ import annotations

import json
import re

import pytest

from promserver import binaries
from test_html_chromium import CHROMIUM, chromium, console_errors
from test_prometheus_gpuhours import G5X_SPOT, P4D, prom  # noqa: F401  (the module's Prometheus fixture)
from test_showback_history import cluster_json

pytestmark = [pytest.mark.skipif(not all(binaries()), reason="Debian's prometheus package (prometheus, promtool) is "
                                 "not installed: run scripts/test-deps as root"),
              pytest.mark.skipif(CHROMIUM is None,
                                 reason="chromium not installed (Debian: apt-get install -y chromium)")]

EVIL = "r&d\x1b]8;;http://x\x07</td><script>alert(1)</script>\u202e"


def test_html_showback_shows_cluster_actuals_in_chromium(prom, tmp_path):  # noqa: F811
    from clikit import run_cli

    rep = json.loads(cluster_json(prom.url, tmp_path).read_text())
    for line in rep["by_label"]["business-unit"]:
        if line["value"] == "product":
            line["value"] = EVIL
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(rep), encoding="utf-8")
    empty = tmp_path / "repo"
    empty.mkdir()
    page = tmp_path / "showback.html"
    res = run_cli("report", "showback", empty, "--cluster", path, "-f", "html", "-o", page)
    assert res.exit_code == 0, res.output
    assert "does not show" not in res.output  # the page has them now: no warning
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "\x1b" not in text and "\u202e" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the report must not load anything"
    shot = tmp_path / "shot.png"
    p = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 20000, p.stderr[-2000:]
    assert console_errors(p.stderr) == []
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0 and console_errors(dom.stderr) == []
    html = dom.stdout
    table = re.search(r'<table class="actuals-table" data-dimension="business_unit">(.*?)</table>', html, re.S)
    assert table, html[-3000:]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        rows[cells[0]] = cells[1:]
    def usd(cell):
        assert cell.startswith("$"), cell
        return float(cell[1:].replace(",", ""))

    research = 8 * P4D + 4 * G5X_SPOT
    assert usd(rows["research"][2]) == pytest.approx(research * 182.5, abs=0.01) and rows["research"][3] == "12"
    assert rows["research"][4] == "37%"
    assert rows["platform"][4] == "-"  # no utilisation series: not 0 %
    assert usd(rows["(unallocated)"][2]) == pytest.approx(2 * P4D * 182.5, abs=0.01)
    evil = [k for k in rows if k.startswith("r&amp;d")]
    assert evil == ["r&amp;d\\x1b]8;;http://x\\x07&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;\\u202e"]
    assert usd(rows[evil[0]][2]) == pytest.approx(4 * P4D * 182.5, abs=0.01)
