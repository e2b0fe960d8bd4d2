"""The HTML page renders the showback the command computed with its config (issue 13: formats
render results, they compute nothing; the html formatter used to build its own showback with no
config, so `scan -f html` ignored `showback:` and the taxonomy while `report showback` honoured them).
"""
from __future__ import annotations

import re

import pytest

from clikit import run_cli
from tagguard.formats.html import HtmlFormatter
from tagguard.model import ScanResult

TF = """resource "aws_instance" "gpu" {
  instance_type = "p4d.24xlarge"
  tags = { team = "research" }
}
"""


def _headings(page: str) -> list[str]:
    return re.findall(r"<h2>Spend by ([^<]*?) ?<", page)


def test_scan_html_allocates_by_the_configured_dimension(tmp_path):
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "main.tf").write_text(TF, encoding="utf-8")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("showback:\n  dimensions: [team]\n", encoding="utf-8")
    scan = run_cli("scan", tmp_path / "repo", "--config", cfg, "-f", "html", "-o", tmp_path / "scan.html")
    assert scan.code in (0, 1), scan
    report = run_cli("report", "showback", tmp_path / "repo", "--config", cfg, "-f", "html",
                     "-o", tmp_path / "showback.html")
    assert report.code == 0, report
    scan_page = (tmp_path / "scan.html").read_text(encoding="utf-8")
    showback_page = (tmp_path / "showback.html").read_text(encoding="utf-8")
    assert _headings(showback_page) == ["team"]
    assert _headings(scan_page) == _headings(showback_page)


def test_the_html_formatter_computes_no_showback():
    with pytest.raises(ValueError, match="showback"):
        HtmlFormatter().format(ScanResult())
