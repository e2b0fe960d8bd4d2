"""The HTML report in a real headless Chromium (Debian `chromium`): charts and tables render, no
console errors, and the file asks for nothing over the network."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest

from tagguard.formats.html import HtmlFormatter
from tagguard.model import Cost, Finding, Resource, ScanResult
from tagguard.cost.showback import build_showback

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]


def chromium(tmp_path, *args):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def console_errors(stderr: str):
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln or "net::ERR" in ln]


def sample() -> ScanResult:
    rs, fs = [], []
    for i, (bu, usd) in enumerate([("research", 16029.08), ("ads", 2200.0), (None, 40179.2), ("search", 1175.0)]):
        tags = {"business-unit": bu} if bu else {}
        addr = f"arn:aws:ec2:us-east-1:123456789012:instance/i-{i:017x}"
        rs.append(Resource(address=addr, type="aws_instance", source="aws", ai=True, tags=tags,
                           cost=Cost(monthly_usd=usd, gpu_hours_per_month=730.0),
                           meta={"account": "123456789012", "region": "us-east-1"}))
        if not bu:
            fs.append(Finding("missing-tag", "missing_tag", "error",
                              f"{addr}: required tag `business-unit` is missing <b>x</b>",
                              address=addr, tag="business-unit", fix='add "business-unit"',
                              extra={"account": "123456789012", "region": "us-east-1"}))
    r = ScanResult(resources=rs, findings=fs, errors=[{"account": "999", "region": None, "regions": ["us-east-1"],
                                                       "service": "sts", "code": "AccessDenied", "message": "denied"}])
    r.showback = build_showback(r, None)
    r.history = {"first_run": False, "new": [], "fixed": [{}], "still_open": 1, "trend": [
        {"run_id": 1, "at": "2026-11-01T02:00:00+00:00", "monthly_usd": 70000, "unallocated_usd": 52000},
        {"run_id": 2, "at": "2026-11-08T02:00:00+00:00", "monthly_usd": 64000, "unallocated_usd": 45000},
        {"run_id": 3, "at": "2026-11-15T02:00:00+00:00", "monthly_usd": 59583, "unallocated_usd": 40179}]}
    return r


def test_report_renders_in_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(HtmlFormatter().format(sample()), encoding="utf-8")
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the report must not load anything"
    assert "<script" not in text and "<b>x</b>" not in text  # escaped
    shot = tmp_path / "shot.png"
    p = chromium(tmp_path, "--window-size=1280,1800", f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 20000, p.stderr[-2000:]
    w, h = struct.unpack(">II", shot.read_bytes()[16:24])
    assert (w, h) == (1280, 1800)
    assert console_errors(p.stderr) == []
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0
    html = dom.stdout
    assert html.count('class="bar"') == 3 and html.count('class="bar unallocated"') == 1  # 3 teams + unallocated
    assert 'id="share-chart"' in html and 'class="unallocated-arc"' in html
    assert 'id="trend-chart"' in html and 'class="trend-unallocated"' in html
    assert re.search(r'<table id="violations">.*?business-unit', html, re.S)
    assert 'id="errors"' in html and "AccessDenied" in html
    assert console_errors(dom.stderr) == []


def test_console_error_detection_works(tmp_path):
    """Control: the same flags do surface a page's console error (so the check above can fail)."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>console.error('boom'); undefinedFn();</script></body></html>")
    p = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert console_errors(p.stderr), p.stderr[-2000:]
