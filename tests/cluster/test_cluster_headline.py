"""Issue 15 follow-ups: a cluster report's GitHub job summary is the cluster's Markdown, and its HTML page leads
with the actual GPU spend.

Before: `cluster report -f github` wrote the scan's Markdown as the job summary ("0 AI resources", the findings)
and the log line "FAIL: 0 AI resources, 0 compliant, ..."; `-f html` led with the IaC estimates ($0.00 AI spend
per month, 0 GPU-hours). The result now carries the report's headline and its own Markdown renderer
(`ScanResult.gpu_actuals`).

Scenario of test_prometheus_gpuhours (a real Prometheus, 4 h window), by hand:
  requested 8 + 4 + 4 + 2 + 4/7 GPU-h; used 4 + 0.4 + 3.6 = 8 of the 16 measured (50 %), 2 + 4/7 unmeasured;
  idle allocated 16 - 8 = 8; GPUs no pod requested: n1 32 - 14 = 18, n3 16, n4 4 - 4/7 = 24/7;
  cost (14 + 4/7) x P4D + 4 x G5X_SPOT; unattributed bad/x 2 GPU-h = 2 x P4D.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from clikit import run_cli

from promserver import needs_prometheus
from test_html_chromium import CHROMIUM, chromium, console_errors
from test_opencost import DOC
from test_prometheus_gpuhours import G5X_SPOT, G5_12, P4D, prom  # noqa: F401  (the module's Prometheus fixture)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "security"))
from test_output_injection import (HOSTILE, assert_log_safe, assert_markdown_inert,  # noqa: E402
                                   runner_parse)

WINDOW = ["--since", "2026-11-02T00:00:00Z", "--until", "2026-11-02T04:00:00Z"]
REQUESTED = 18 + 4 / 7
COST = (14 + 4 / 7) * P4D + 4 * G5X_SPOT
UNALLOCATED_H = 18 + 16 + 24 / 7
UNALLOCATED_USD = (18 + 24 / 7) * P4D + 16 * G5_12


def usd(text: str) -> float:
    m = re.fullmatch(r"\$([\d,]+\.\d\d)", text.strip())
    assert m, text
    return float(m.group(1).replace(",", ""))


@needs_prometheus
def test_github_job_summary_is_the_cluster_markdown(prom, tmp_path):  # noqa: F811
    summary = tmp_path / "summary.md"
    md = tmp_path / "r.md"
    res = run_cli("cluster", "report", "--prometheus", prom.url, *WINDOW, "-f", "markdown", "-o", md,
                  "-f", "github", "--history", tmp_path / "h.db", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 1, res
    text = summary.read_text(encoding="utf-8")
    assert text == md.read_text(encoding="utf-8")  # one renderer: the job summary is the report's Markdown
    assert "### History" in text  # rendered when written: with what the command added after judging
    assert text.startswith("## GPU-hours 2026-11-02T00:00:00Z .. 2026-11-02T04:00:00Z")
    assert "AI resource" not in text and "| error | unattributed-gpu-hours |" in text
    last = [ln for ln in res.stdout.splitlines() if not runner_parse(ln)]
    assert last == [f"FAIL: 8 findings (2 errors, 3 warnings, 3 info); {REQUESTED:,.1f} GPU-hours requested "
                    f"(${COST:,.2f}), 2.0 unattributed (${2 * P4D:,.2f}, {2 * P4D / COST:.1%} of the spend)"], last
    assert_log_safe(res.stdout, allowed=lambda p: p[0] in ("error", "warning", "notice"))


def test_opencost_github_summary_and_html_headline(tmp_path):
    src = tmp_path / "alloc.json"
    src.write_text(json.dumps(DOC), encoding="utf-8")
    summary, page = tmp_path / "summary.md", tmp_path / "o.html"
    res = run_cli("cluster", "opencost", src, "-f", "html", "-o", page, "-f", "github",
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code == 1, res
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## OpenCost GPU allocation by business-unit") and "AI resource" not in text
    assert text == run_cli("cluster", "opencost", src, "-f", "markdown").stdout
    # 160 GPU-h for $480 (the idle line apart); used 50 + 1 of 110 measured; 50 unmeasured; idle 40 ($120)
    assert "FAIL: 1 finding (1 error, 0 warnings); 160.0 GPU-hours requested ($480.00), 10.0 unattributed " \
           "($30.00, 6.2% of the spend)" in res.stdout
    html = page.read_text(encoding="utf-8")
    assert kpi(html, "kpi-actual") == "$480.00" and kpi(html, "kpi-requested") == "160.0"
    assert kpi(html, "kpi-used") == "used 51.0 (46% of the measured), 50.0 unmeasured"
    assert kpi(html, "kpi-idle") == "99.0" and kpi(html, "kpi-unattributed") == "6.2%"
    assert "2026-11-01T00:00:00Z .. 2026-12-01T00:00:00Z" in html  # the allocations' window
    assert "AI spend / month" not in html and 'id="kpi-total"' not in html
    table = re.search(r'<table id="groups-table">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert table and "<h2>By business-unit</h2>" in html
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", table.group(1))]
    assert rows == [["(unattributed)", "10.0", "1.0", "10%", "$30.00"], ["research", "150.0", "50.0", "50%", "$450.00"]]


def test_hostile_opencost_source_and_labels_stay_inert(tmp_path):
    """The file name is the page's `source` (header), label values become groups and reasons (job summary)."""
    from test_opencost import alloc

    evil = [h for h in HOSTILE if "\x00" not in h and "\ud800" not in h]
    data = {f"c1/n{i}/p": alloc(f"c1/n{i}/p", f"n{i}", {"project": h}, {"business_unit": h, "environment": "prod",
                                                                         "cost_center": h}, 1 + i, 2.0 * i, 0.5)
            for i, h in enumerate(evil)}
    src = tmp_path / "x<b>bold<img src=x onerror=alert(1)>\x1b]0;t\x07\u202e|`[a](https:.json"  # no /
    src.write_text(json.dumps({"code": 200, "data": [data]}), encoding="utf-8")
    summary, page = tmp_path / "summary.md", tmp_path / "o.html"
    res = run_cli("cluster", "opencost", src, "-f", "html", "-o", page, "-f", "github",
                  env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert res.exit_code in (0, 1), res
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## OpenCost GPU allocation") and "evil.example.com" in text
    assert_markdown_inert(text)
    assert_log_safe(res.stdout, allowed=lambda p: p[0] in ("error", "warning", "notice"))
    html = page.read_text(encoding="utf-8")
    for bad in ("<script", "<img", "<b>", "\x1b", "\u202e", "\x07", "<h1>pwn"):
        assert bad not in html, bad
    assert "x&lt;b&gt;bold&lt;img src=x onerror=alert(1)&gt;\\x1b]0;t\\x07\\u202e" in html  # the source, as text


def kpi(html: str, ident: str) -> str:
    m = re.search(rf'<div class="[vs]" id="{ident}">(.*?)</div>', html, re.S)
    assert m, ident
    return m.group(1)


@needs_prometheus
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)")
def test_html_headline_is_the_actual_gpu_spend_in_chromium(prom, tmp_path):  # noqa: F811
    page = tmp_path / "cluster.html"
    res = run_cli("cluster", "report", "--prometheus", prom.url, *WINDOW, "-f", "html", "-o", page)
    assert res.exit_code == 1, res
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the report must not load anything"
    shot = tmp_path / "shot.png"
    p = chromium(tmp_path, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 20000, p.stderr[-2000:]
    assert console_errors(p.stderr) == []
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0 and console_errors(dom.stderr) == []
    html = dom.stdout
    assert "<title>tagguard Cluster GPU spend</title>" in html
    assert f"Prometheus <code>{prom.url}</code>" in html and "2026-11-02T00:00:00Z .. 2026-11-02T04:00:00Z" in html
    assert usd(kpi(html, "kpi-actual")) == pytest.approx(COST, abs=0.01)
    assert kpi(html, "kpi-requested") == f"{REQUESTED:,.1f}"
    assert kpi(html, "kpi-used") == f"used 8.0 (50% of the measured), {2 + 4 / 7:,.1f} unmeasured"
    assert kpi(html, "kpi-idle") == f"{8 + UNALLOCATED_H:,.1f}"
    assert f"{_money(UNALLOCATED_USD)} more on GPUs no pod requested" in html
    assert kpi(html, "kpi-unattributed") == f"{2 * P4D / COST:.1%}"
    assert f"{_money(2 * P4D)} for 2.0 GPU-hours no team owns" in html
    # the estimates' headline is gone; the per-team actuals and the findings stay
    assert "AI spend / month" not in html and "No priced AI spend" not in html and "IaC estimate" not in html
    table = re.search(r'<table class="actuals-table" data-dimension="business_unit">(.*?)</table>', html, re.S)
    rows = {c[0]: c[1:] for c in (re.findall(r"<td[^>]*>(.*?)</td>", tr)
                                  for tr in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)) if c}
    assert usd(rows["research"][0]) == pytest.approx((8 * P4D + 4 * G5X_SPOT) * 182.5, abs=0.01)
    assert rows["research"][1:] == ["12", "37%"] and rows["platform"][1:] == ["1", "-"]
    assert 'id="actuals"' in html and 'id="violations"' in html and "unattributed-gpu-hours" in html


def _money(v: float) -> str:
    return f"${v:,.2f}"
