"""tagguard alerts -> GitHub issues through a local fake of the REST endpoints: one issue per breach,
updated when it worsens, closed when resolved, found again by its marker when the state is lost."""
from __future__ import annotations

import json

from clikit import run_cli
from opkit import Receiver

TOKEN = "ghp_test_token_not_real"
HOSTILE = "research @org/team #12 <img src=x onerror=alert(1)> `x` [l](https://evil.example.com)"


def bill(path, mtd, forecast):
    path.write_text(json.dumps({"kind": "tagguard-bill-budgets", "month": "2026-12", "budgets": [
        {"name": "research-gpu", "mode": "chargeback", "kind": "gpu", "match": {"business-unit": HOSTILE},
         "monthly_usd": 10000, "mtd_usd": mtd, "forecast_usd": forecast, "status": "within"}]}), encoding="utf-8")
    return path


def config(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(f"""
alerts:
  routes:
    - match: {{business-unit: {json.dumps(HOSTILE)}}}
      sinks: [issues]
  sinks:
    issues: {{type: github_issues, repo: acme/finops, token_env: TG_GH_TOKEN, api_url_env: TG_GH_API, labels: [tagguard-alert, cost]}}
  retry: {{attempts: 2, backoff_seconds: 0.01}}
""", encoding="utf-8")  # noqa: E501
    return p


def run(args, gh):
    return run_cli(*args, env={"TG_GH_TOKEN": TOKEN, "TG_GH_API": gh.url + "/api/v3"})


def test_issue_per_breach_updated_when_worse_closed_when_resolved(tmp_path):
    db, cfg = tmp_path / "h.db", config(tmp_path)
    rep = bill(tmp_path / "bill.json", mtd=6000, forecast=12000)
    with Receiver(github=True, token=TOKEN) as gh:
        r = run(["alerts", rep, "--config", cfg, "--history", db], gh)
        assert r.exit_code == 0, r.stdout + r.stderr
        assert sorted(i["title"].split(":")[1].strip().split(" ")[0] for i in gh.issues.values()) == \
            ["forecast", "month-to-date"]
        assert all(i["labels"] == ["tagguard-alert", "cost"] for i in gh.issues.values())
        posts = [p for p in gh.posts if p["method"] == "POST"]
        assert all(p["path"] == "/api/v3/repos/acme/finops/issues" for p in posts)
        assert all(p["headers"]["x-github-api-version"] == "2022-11-28" for p in gh.posts)
        for i in gh.issues.values():  # scanned values escaped in the Markdown body, no raw HTML / mention
            assert "<img" not in i["body"] and "@org/team" not in i["body"] and "](https://evil" not in i["body"]
            assert "<!-- tagguard-alert:" in i["body"]
            assert "@org" not in i["title"] and "#12" not in i["title"]
        # same data again: nothing sent
        n = len(gh.posts)
        assert run(["alerts", rep, "--config", cfg, "--history", db], gh).exit_code == 0
        assert len(gh.posts) == n
        # month-to-date reaches 85 %: that issue is updated and commented on, no new issue
        bill(rep, mtd=8500, forecast=12000)
        assert run(["alerts", rep, "--config", cfg, "--history", db], gh).exit_code == 0
        assert len(gh.issues) == 2
        mtd_issue = next(i for i in gh.issues.values() if "month-to-date" in i["title"])
        assert "85%" in mtd_issue["title"] and gh.comments and gh.comments[-1][0] == mtd_issue["number"]
        # spend back under every threshold: both issues closed
        bill(rep, mtd=1000, forecast=2000)
        r = run(["alerts", rep, "--config", cfg, "--history", db, "-f", "json"], gh)
        assert r.exit_code == 0
        assert {i["state"] for i in gh.issues.values()} == {"closed"}
        assert all(i["state_reason"] == "completed" for i in gh.issues.values())
        assert [d["action"] for d in json.loads(r.stdout)["deliveries"]] == ["closed", "closed"]


def test_lost_state_finds_the_open_issue_instead_of_a_duplicate(tmp_path):
    cfg = config(tmp_path)
    rep = bill(tmp_path / "bill.json", mtd=6000, forecast=9000)
    with Receiver(github=True, token=TOKEN) as gh:
        assert run(["alerts", rep, "--config", cfg, "--history", tmp_path / "a.db"], gh).exit_code == 0
        assert len(gh.issues) == 2
        r = run(["alerts", rep, "--config", cfg, "--history", tmp_path / "fresh.db"], gh)
        assert r.exit_code == 0, r.stderr
        assert len(gh.issues) == 2  # found by marker, updated, not duplicated
        assert any(p["method"] == "PATCH" for p in gh.posts)


def test_bad_token_is_a_reported_failure(tmp_path):
    cfg = config(tmp_path)
    rep = bill(tmp_path / "bill.json", mtd=6000, forecast=9000)
    with Receiver(github=True, token="something-else") as gh:
        r = run(["alerts", rep, "--config", cfg], gh)
        assert r.exit_code == 3 and "HTTP 401" in r.stderr and "not retried" in r.stderr
        assert TOKEN not in r.stdout + r.stderr and gh.issues == {}
        assert [p["method"] for p in gh.posts] == ["GET", "GET"]  # one lookup per alert, no retry on 401, no POST


def test_dry_run_lists_the_requests(tmp_path):
    cfg = config(tmp_path)
    rep = bill(tmp_path / "bill.json", mtd=6000, forecast=9000)
    with Receiver(github=True, token=TOKEN) as gh:
        r = run(["alerts", rep, "--config", cfg, "--dry-run", "-f", "json"], gh)
        assert r.exit_code == 0 and gh.posts == []
    reqs = [q for d in json.loads(r.stdout)["deliveries"] for q in d["requests"]]
    assert [(q["method"], q["path"]) for q in reqs] == [("POST", "/repos/acme/finops/issues")] * 2


def test_github_down_is_retried_once_per_run_then_reported(tmp_path):
    cfg = config(tmp_path)
    rep = bill(tmp_path / "bill.json", mtd=6000, forecast=9000)
    with Receiver(github=True, token=TOKEN, always=502) as gh:
        r = run(["alerts", rep, "--config", cfg, "-f", "json"], gh)
        assert r.exit_code == 3
        d = json.loads(r.stdout)["deliveries"]
        assert [x["action"] for x in d] == ["failed", "failed"] and "HTTP 502" in d[0]["error"]
        assert "failed earlier in this run" in d[1]["error"]
        assert [p["method"] for p in gh.posts] == ["GET", "GET"]  # the marker lookup, tried twice; no blind POST
