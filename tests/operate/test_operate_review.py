"""tagguard report review: the monthly pack from reports and history, rendered in real headless Chromium."""
from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess

import pytest
from clikit import run_cli

from tagguard.formats.json_format import JsonFormatter
from tagguard.state.history import connect
from tagguard.model import Cost, Finding, Resource, ScanResult
from tagguard.report_parts import BudgetReport

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]
HOSTILE = "x</td><script>alert(1)</script><img src=https://evil.example.com/p.png> @org/team `a` [l](https://evil.example.com)"


def chromium(tmp_path, *args):
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def console_errors(stderr):
    return [ln for ln in stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln or "net::ERR" in ln]


def make_inputs(tmp_path):
    def res(n, tags, usd, file=None, line=None):
        return Resource(address=f"aws_instance.gpu{n}", type="aws_instance", source="terraform", ai=True, tags=tags,
                        file=file, line=line, cost=Cost(monthly_usd=usd, gpu_hours_per_month=730.0),
                        meta={"account": "111111111111", "region": "us-east-1"})
    rs = [res(1, {"business-unit": "research", "project": "llm", "environment": "prod"}, 16000.0),
          res(2, {"business-unit": "research", "project": "vision", "environment": "dev"}, 4000.0),
          res(3, {"business-unit": HOSTILE, "project": "ads-rank", "environment": "prod"}, 2200.0),
          res(4, {}, 9000.0, file="infra/gpu.tf", line=42)]
    fs = [Finding("missing-tag", "missing_tag", "error", "aws_instance.gpu4: required tag `business-unit` is missing",
                  address="aws_instance.gpu4", tag="business-unit", file="infra/gpu.tf", line=42,
                  fix='add business-unit = "<team>" to the tags block'),
          Finding("spot-opportunity", "optimization", "info", "aws_instance.gpu2: training on on-demand capacity",
                  address="aws_instance.gpu2", fix="run training on spot capacity",
                  extra={"saving_monthly_usd": 2600.0}),
          Finding("needs-approval", "needs_approval", "error", "aws_instance.gpu1: adds $16,000/month",
                  address="aws_instance.gpu1", suppressed=True,
                  extra={"approved_by": "cfo-delegate", "cost_delta_monthly_usd": 16000.0})]
    r = ScanResult(resources=rs, findings=fs)
    r.budgets = [BudgetReport(name="research-gpu", mode="chargeback", match={"business-unit": "research"},
                              monthly_usd=18000.0, projected_usd=20000.0, over=True)]
    (tmp_path / "drift.json").write_text(JsonFormatter().format(r), encoding="utf-8")
    (tmp_path / "usage.json").write_text(json.dumps({
        "kind": "llm-usage", "budgets": [],
        "daily": [{"period": "2026-11-03", "business-unit": "research", "cost_usd": 120.5},
                  {"period": "2026-11-04", "business-unit": "research", "cost_usd": 910.0},
                  {"period": "2026-10-30", "business-unit": "research", "cost_usd": 77.0}],
        "anomalies": [{"group": {"business-unit": "research"}, "date": "2026-11-04", "cost_usd": 910.0, "ratio": 7.6,
                       "trailing_median_usd": 120.0}]}), encoding="utf-8")
    db = tmp_path / "h.db"
    conn = connect(db)
    for at, usd, un in [("2026-09-28T02:00:00+00:00", 20000, 12000), ("2026-10-30T02:00:00+00:00", 26000, 10000),
                                       ("2026-11-29T02:00:00+00:00", 31200, 9000)]:
        conn.execute("INSERT INTO runs(kind, started_at, finished_at, complete, resources, ai_resources, findings,"
                     " errors, monthly_usd, gpu_hours, unallocated_usd)"
                     " VALUES ('drift', ?, ?, 1, 4, 4, 1, 0, ?, 2920, ?)",
                     (at, at, usd, un))
    conn.close()
    return db


def test_review_pack_content_and_escaping(tmp_path):
    db = make_inputs(tmp_path)
    out = tmp_path / "pack"
    r = run_cli("report", "review", "--month", "2026-11", "--from", tmp_path / "drift.json",
                "--from", tmp_path / "usage.json", "--history", db, "-o", out)
    assert r.exit_code == 0, r.stdout + r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert "org.html" in names and "org.md" in names and "review.json" in names
    teams = [n for n in names if n.startswith("team-") and n.endswith(".html")]
    assert len(teams) == 2 and all(re.fullmatch(r"team-[a-z0-9-]+\.html", n) for n in teams)
    org = (out / "org.html").read_text()
    assert ("<script" not in org and "<img" not in org
            and not re.search(r"""<[^>]*\s(src|href)\s*=\s*["']?(https?:)?//""", org))
    assert "$31,200" in org and "2026-09" in org  # month over month from history
    assert "infra/gpu.tf:42" in org and "add business-unit" in org  # unallocated with the line to fix
    assert "cfo-delegate" in org and "$2,600" in org  # approval and hint with its saving
    assert "$1,030" in org and "7.6x" in org  # November token spend only, and its anomaly
    assert "over" in org and "research-gpu" in org
    md = (out / "org.md").read_text()
    assert "<script" not in md and "@org/team" not in md and "](https://evil" not in md
    doc = json.loads((out / "review.json").read_text())
    research = doc["teams"]["research"]
    assert research["totals"]["monthly_usd"] == 20000.0 and [b["name"] for b in research["budgets"]] == ["research-gpu"]
    assert {r["value"] for r in research["dimensions"]["project"]["rows"]} == {"llm", "vision"}
    assert research["hints"][0]["saving_usd"] == 2600.0 and research["mom"] == []


def test_bad_month_is_a_one_line_error(tmp_path):
    r = run_cli("report", "review", "--month", "2026-13", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "expected YYYY-MM" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)")
def test_review_pack_renders_in_chromium(tmp_path):
    db = make_inputs(tmp_path)
    out = tmp_path / "pack"
    r = run_cli("report", "review", "--month", "2026-11", "--from", tmp_path / "drift.json",
                "--from", tmp_path / "usage.json", "--history", db, "-o", out)
    assert r.exit_code == 0, r.stderr
    team = next(p for p in out.iterdir() if p.name.startswith("team-") and p.suffix == ".html")
    for page in (out / "org.html", team):
        shot = tmp_path / f"{page.stem}.png"
        p = chromium(tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
        assert shot.exists() and shot.stat().st_size > 20000, p.stderr[-2000:]
        assert struct.unpack(">II", shot.read_bytes()[16:24]) == (1200, 2400)
        assert console_errors(p.stderr) == []
        dom = chromium(tmp_path, "--dump-dom", page.as_uri())
        assert dom.returncode == 0 and console_errors(dom.stderr) == []
        assert "<svg" in dom.stdout and 'class="bar"' in dom.stdout and "<script" not in dom.stdout
    dom = chromium(tmp_path, "--dump-dom", (out / "org.html").as_uri()).stdout
    assert dom.count("<svg") >= 3  # month over month + one chart per dimension
    assert "x&lt;/td&gt;&lt;script&gt;" in dom  # the hostile team name shows as text
