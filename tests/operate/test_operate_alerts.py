"""tagguard alerts: routing by taxonomy values, Slack Block Kit / Teams Adaptive Card shapes, loopback
receivers (flaky, down), de-duplication across runs with one history database, --dry-run, escaping."""
from __future__ import annotations

import json
import sqlite3

import pytest
from clikit import run_cli
from opkit import Receiver

from tagguard.formats.json_format import JsonFormatter
from tagguard.model import Compute, Cost, Finding, Resource, ScanResult
from tagguard.report_parts import BudgetReport

HOSTILE = "<!channel> *bold* @here [x](https://evil.example.com) <at>boss</at> #1 \x1b[2J\u202e ::warning::x ##[error]y"
RESEARCH_ADDR = "arn:aws:ec2:us-east-1:111111111111:instance/i-0000000000000001"
UNALLOC_ADDR = f"arn:aws:ec2:us-east-1:111111111111:instance/i-0000000000000002-{HOSTILE}"


def drift_report(path, projected=8500.0, unalloc_usd=40000.0, errors=()):
    rs = [Resource(address=RESEARCH_ADDR, type="aws_instance", source="aws", ai=True,
                   tags={"business-unit": "research"},
                   cost=Cost(monthly_usd=projected, gpu_hours_per_month=730.0), meta={"account": "111111111111"},
                   compute=Compute(instance_type="p4d.24xlarge", gpus_per_unit=8, units=1)),
          Resource(address=UNALLOC_ADDR, type="aws_instance", source="aws", ai=True, tags={},
                   cost=Cost(monthly_usd=unalloc_usd, gpu_hours_per_month=730.0), meta={"account": "111111111111"},
                   compute=Compute(instance_type="p5.48xlarge", gpus_per_unit=8, units=1))]
    fs = [Finding("unmanaged", "unmanaged", "warning", f"{UNALLOC_ADDR}: no Terraform state manages it",
                  address=UNALLOC_ADDR, fix="import it into Terraform"),
          Finding("missing-tag", "missing_tag", "error", f"{UNALLOC_ADDR}: required tag `business-unit` is missing",
                  address=UNALLOC_ADDR, tag="business-unit", extra={"account": "111111111111", "region": "us-east-1"})]
    r = ScanResult(resources=rs, findings=fs, errors=list(errors))
    r.drift = {"accounts": ["111111111111"], "regions": ["us-east-1"], "complete": not errors}
    r.budgets = [BudgetReport(name="research-gpu", mode="chargeback", match={"business-unit": "research"},
                              monthly_usd=10000.0, projected_usd=projected)]
    path.write_text(JsonFormatter().format(r), encoding="utf-8")
    return path


def usage_report(path, ratio=6.2):
    path.write_text(json.dumps({"kind": "llm-usage", "anomalies": [
        {"group": {"business-unit": "research", "project": HOSTILE}, "date": "2026-12-04", "cost_usd": 900.0,
         "ratio": ratio, "trailing_median_usd": 140.0}], "budgets": []}), encoding="utf-8")
    return path


def config(tmp_path, extra_sinks="", default="[ops-teams, ops-hook]", attempts=3):
    p = tmp_path / "alerts.yaml"
    p.write_text(f"""
alerts:
  thresholds: [50, 80, 100]
  unallocated_floor_usd: 1000
  routes:
    - match: {{business-unit: research}}
      sinks: [research-slack]
  default: {default}
  sinks:
    research-slack: {{type: slack, url_env: TG_SLACK}}
    ops-teams: {{type: teams, url_env: TG_TEAMS}}
    ops-hook: {{type: webhook, url_env: TG_HOOK}}
{extra_sinks}
  retry: {{attempts: {attempts}, backoff_seconds: 0.01, max_backoff_seconds: 0.05, timeout_seconds: 5}}
""", encoding="utf-8")
    return p


def run(args, env):
    return run_cli(*args, env=env)


def check_slack(payload):
    """Block Kit as Slack documents it for incoming webhooks: text fallback + blocks, per-block limits."""
    assert isinstance(payload["text"], str) and payload["text"]
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    for b in blocks:
        assert b["type"] in ("header", "section", "context", "divider")
        if b["type"] == "header":
            assert b["text"]["type"] == "plain_text" and 0 < len(b["text"]["text"]) <= 150
        if b["type"] == "section":
            assert "text" in b or "fields" in b
            if "text" in b:
                assert b["text"]["type"] in ("plain_text", "mrkdwn") and len(b["text"]["text"]) <= 3000
            for f in b.get("fields", []):
                assert f["type"] in ("plain_text", "mrkdwn") and len(f["text"]) <= 2000
            assert len(b.get("fields", [])) <= 10
        if b["type"] == "context":
            assert 0 < len(b["elements"]) <= 10
    raw = json.dumps(payload, ensure_ascii=False)
    # scanned values only in plain_text; the mrkdwn fallback has no raw control sequence, mention or link
    assert "<!channel>" not in raw and "<at>" not in raw and "\x1b" not in raw and "\u202e" not in raw
    for b in blocks:
        for t in ([b.get("text")] if b.get("text") else []) + b.get("fields", []) + b.get("elements", []):
            if t["type"] == "mrkdwn":
                assert "evil" not in t["text"] and "@here" not in t["text"]
    assert "@here" not in payload["text"] and "*bold*" not in payload["text"]


def check_teams(payload):
    """A Workflows webhook message: one Adaptive Card attachment (type, version, body of known elements)."""
    assert payload["type"] == "message" and len(payload["attachments"]) == 1
    att = payload["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    for el in card["body"]:
        assert el["type"] in ("TextBlock", "FactSet")
        if el["type"] == "TextBlock":
            assert isinstance(el["text"], str)
        else:
            assert all(set(f) == {"title", "value"} for f in el["facts"])
    raw = json.dumps(card, ensure_ascii=False)
    assert "<at>" not in raw and "[x](" not in raw and "*bold*" not in raw and "\x1b" not in raw


def test_routes_payload_shapes_and_dedupe_across_runs(tmp_path):
    db = tmp_path / "history.db"
    cfg = config(tmp_path)
    rep = drift_report(tmp_path / "drift.json")
    use = usage_report(tmp_path / "usage.json")
    with Receiver() as slack, Receiver() as teams, Receiver() as hook:
        env = {"TG_SLACK": slack.url + "/services/T/B/X", "TG_TEAMS": teams.url + "/workflows/1", "TG_HOOK": hook.url}
        r = run(["alerts", rep, use, "--config", cfg, "--history", db, "-f", "json"], env)
        assert r.exit_code == 0, r.stdout + r.stderr
        # research budget (85% of forecast -> 80 %) and the research anomaly -> Slack only
        kinds = sorted(p["json"]["blocks"][-1]["elements"][0]["text"].split("`")[1] for p in slack.posts)
        assert kinds == ["budget", "token-anomaly"]
        for p in slack.posts:
            check_slack(p["json"])
        assert "80%" in json.dumps(slack.posts)  # threshold crossed
        # unallocated + unmanaged GPU (no business-unit) -> the default route: Teams and the webhook
        assert len(teams.posts) == 2 and len(hook.posts) == 2
        for p in teams.posts:
            check_teams(p["json"])
        assert {p["json"]["kind"] for p in hook.posts} == {"unallocated", "unmanaged-gpu"}
        assert all(p["json"]["schema"] == "tagguard-alert/1" and p["json"]["state"] == "new" for p in hook.posts)
        # second run, same data: nothing is sent again
        r = run(["alerts", rep, use, "--config", cfg, "--history", db, "-f", "json"], env)
        assert r.exit_code == 0
        assert len(slack.posts) == 2 and len(teams.posts) == 2 and len(hook.posts) == 2
        assert {d["action"] for d in json.loads(r.stdout)["deliveries"]} == {"skipped"}
        # third run: the research forecast passes 100 % -> only that budget alert is re-sent, as "worse"
        drift_report(rep, projected=10500.0)
        r = run(["alerts", rep, use, "--config", cfg, "--history", db], env)
        assert r.exit_code == 0, r.stdout
        assert len(slack.posts) == 3 and len(teams.posts) == 2 and len(hook.posts) == 2
        assert (slack.posts[-1]["json"]["text"].startswith("Worse: Budget research")
                and "105%" in slack.posts[-1]["json"]["text"])
    rows = sqlite3.connect(db).execute("SELECT sink, kind, level, open FROM alert_state ORDER BY sink, kind").fetchall()
    assert ("research-slack", "budget", 100.0, 1) in rows and len(rows) == 6
    # history's own schema is untouched
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 1


def test_flaky_receiver_is_retried_and_a_dead_one_is_reported_with_exit_3(tmp_path):
    db = tmp_path / "h.db"
    cfg = config(tmp_path)
    rep = drift_report(tmp_path / "drift.json")
    with Receiver(fail_first=2) as slack, Receiver(always=500) as teams, Receiver() as hook:
        env = {"TG_SLACK": slack.url, "TG_TEAMS": teams.url, "TG_HOOK": hook.url}
        r = run(["alerts", rep, "--config", cfg, "--history", db, "-f", "json"], env)
        assert r.exit_code == 3, r.stdout
        doc = json.loads(r.stdout)
        slack_d = [d for d in doc["deliveries"] if d["sink"] == "research-slack"]
        assert slack_d[0]["action"] == "sent" and slack_d[0]["attempts"] == 3 and len(slack.posts) == 3
        teams_d = [d for d in doc["deliveries"] if d["sink"] == "ops-teams"]
        assert [d["action"] for d in teams_d] == ["failed", "failed"]
        assert "HTTP 500" in teams_d[0]["error"] and teams_d[0]["attempts"] == 3
        # the second alert is not retried against a sink that just failed 3 times: bounded time
        assert teams_d[1]["attempts"] == 0 and "failed earlier in this run" in teams_d[1]["error"]
        assert len(teams.posts) == 3
        assert "ops-teams" in r.stderr and teams.url not in r.stderr + r.stdout  # the URL is a secret
        # the webhook still got its alerts: one dead sink does not stop the others
        assert len(hook.posts) == 2
    with Receiver() as slack, Receiver() as teams, Receiver() as hook:
        env = {"TG_SLACK": slack.url, "TG_TEAMS": teams.url, "TG_HOOK": hook.url}
        r = run(["alerts", rep, "--config", cfg, "--history", db, "-f", "json"], env)
        assert r.exit_code == 0
        # what failed is sent now; what was delivered is not repeated
        assert len(teams.posts) == 2 and slack.posts == [] and hook.posts == []


def test_unset_env_and_unreachable_port_are_failures_not_tracebacks(tmp_path):
    cfg = config(tmp_path, attempts=2)
    rep = drift_report(tmp_path / "drift.json")
    r = run(["alerts", rep, "--config", cfg], {"TG_SLACK": "http://127.0.0.1:9/x", "TG_HOOK": "file:///etc/passwd"})
    assert r.exit_code == 3 and "Traceback" not in r.stderr
    assert "TG_TEAMS is not set" in r.stderr and "not an http(s) URL" in r.stderr
    assert "ConnectionRefusedError" in r.stderr or "Connection refused" in r.stderr


def test_an_alert_no_route_takes_is_said_to_have_no_sink(tmp_path):
    cfg = config(tmp_path, default="[]")
    rep = drift_report(tmp_path / "drift.json")
    with Receiver() as slack:
        r = run(["alerts", rep, "--config", cfg], {"TG_SLACK": slack.url})
    assert r.exit_code == 3, r
    assert "alert not delivered to :" not in r.stderr
    assert "tagguard: warning: alert not routed to any sink: no route matches and alerts.default names no sink" \
        in r.stderr, r.stderr


def test_dry_run_prints_and_sends_nothing(tmp_path):
    db = tmp_path / "h.db"
    cfg = config(tmp_path)
    rep = drift_report(tmp_path / "drift.json")
    with Receiver() as slack, Receiver() as teams, Receiver() as hook:
        env = {"TG_SLACK": slack.url, "TG_TEAMS": teams.url, "TG_HOOK": hook.url}
        r = run(["alerts", rep, "--config", cfg, "--history", db, "--dry-run"], env)
        assert r.exit_code == 0, r.stdout
        assert slack.posts == teams.posts == hook.posts == []
    assert not db.exists()
    assert r.stdout.count("would send") == 5 and '"blocks"' in r.stdout and '"AdaptiveCard"' in r.stdout
    assert "\x1b" not in r.stdout and "\u202e" not in r.stdout
    assert "##[" not in r.stdout and not any(ln.lstrip().startswith("::") for ln in r.stdout.splitlines())
    assert "(dry run: nothing sent)" in r.stdout


def test_incomplete_report_resolves_nothing_and_exits_3(tmp_path):
    db = tmp_path / "h.db"
    cfg = config(tmp_path)
    rep = drift_report(tmp_path / "drift.json")
    with Receiver() as slack, Receiver() as teams, Receiver() as hook:
        env = {"TG_SLACK": slack.url, "TG_TEAMS": teams.url, "TG_HOOK": hook.url}
        assert run(["alerts", rep, "--config", cfg, "--history", db], env).exit_code == 0
        # the account failed: its resources are absent, but nothing is resolved
        ScanResult()
        drift_report(rep, unalloc_usd=0.0, errors=[{"account": "111111111111", "region": None, "regions": ["us-east-1"],
                                                    "code": "AccessDenied", "message": "denied"}])
        r = run(["alerts", rep, "--config", cfg, "--history", db, "-f", "json"], env)
        assert r.exit_code == 3 and "incomplete" in r.stderr
        assert not [d for d in json.loads(r.stdout)["deliveries"] if d["state"] == "resolved"]


@pytest.mark.parametrize("bad, message", [
    ("    leak: {type: slack, url: 'https://hooks.slack.com/x'}", "url_env"),
    ("    gh: {type: github_issues, repo: 'not a repo', token_env: T}", "alerts.sinks.gh.repo"),
])
def test_secrets_in_config_are_refused(tmp_path, bad, message):
    cfg = config(tmp_path, extra_sinks=bad)
    r = run(["alerts", drift_report(tmp_path / "d.json"), "--config", cfg], {})
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.stderr


def test_repository_config_is_never_read_for_alerts(tmp_path, monkeypatch):
    """A scanned repository's .tagguard.yaml naming a sink does not route anything anywhere."""
    (tmp_path / ".tagguard.yaml").write_text("alerts:\n  default: [x]\n  sinks:\n"
                                             "    x: {type: webhook, url_env: HOME}\n")
    monkeypatch.chdir(tmp_path)
    r = run(["alerts", drift_report(tmp_path / "d.json")], {})
    assert r.exit_code == 2 and "no alerts.sinks configured" in r.stderr


def test_usage_token_budget_cluster_unattributed_and_list_routes(tmp_path):
    """Token budgets (month-to-date and projected), a cluster report's unattributed GPU spend, and a
    route matching a list of values."""
    use = tmp_path / "usage.json"
    use.write_text(json.dumps({"kind": "llm-usage", "anomalies": [], "budgets": [
        {"name": "ads-tokens", "month": "2026-12", "kind": "tokens", "mode": "chargeback",
         "match": {"business-unit": ["ads"]}, "monthly_usd": 1000.0, "token_spend_usd": 550.0, "used_pct": 55.0,
         "projected_usd": 1900.0}]}), encoding="utf-8")
    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps({"kind": "tagguard-cluster-report", "window": {"hours": 73.0},
                                   "source": {"prometheus": "http://prom.internal:9090"},
                                   "unattributed": {"gpu_hours": 300.0, "cost_usd": 500.0, "pods": 4,
                                                    "reasons": [{"reason": "no team label", "pods": 4}],
                                                    "examples": [{"namespace": "ml", "pod": HOSTILE,
                                                                  "gpu_hours": 90}]}}))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("""
alerts:
  routes:
    - match: {business-unit: [ads, search]}
      sinks: [ads-hook]
  default: [ops-hook]
  sinks:
    ads-hook: {type: webhook, url_env: TG_ADS}
    ops-hook: {type: webhook, url_env: TG_OPS}
  retry: {attempts: 1}
""")
    with Receiver() as ads, Receiver() as ops:
        r = run(["alerts", use, cluster, "--config", cfg], {"TG_ADS": ads.url, "TG_OPS": ops.url})
        assert r.exit_code == 0, r.stdout + r.stderr
        got = sorted((p["json"]["facts"]["Basis"], p["json"]["level"]) for p in ads.posts)
        assert got == [("forecast", 100.0), ("month-to-date", 50.0)]
        assert [p["json"]["kind"] for p in ops.posts] == ["unallocated"]
        assert ops.posts[0]["json"]["facts"]["Per month"] == "$5,000.00"  # $500 over 73 h -> a month


def test_many_unallocated_resources_are_capped_but_the_rest_is_said(tmp_path):
    rs = [Resource(address=f"aws_instance.u{i:02d}", type="aws_instance", source="terraform", ai=True, tags={},
                   cost=Cost(monthly_usd=1000.0 + i, gpu_hours_per_month=730.0)) for i in range(30)]
    fs = [Finding("missing-tag", "missing_tag", "error", "missing", address=r.address, tag="business-unit") for r in rs]
    rep = tmp_path / "scan.json"
    rep.write_text(JsonFormatter().format(ScanResult(resources=rs, findings=fs)), encoding="utf-8")
    sb = tmp_path / "showback.json"  # a showback report lists only its own top 2 resources
    sb.write_text(json.dumps({"totals": {"unallocated_monthly_usd": 9000.0}, "top_unallocated": [
        {"address": "a", "monthly_usd": 5000.0}, {"address": "b", "monthly_usd": 1500.0}]}))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alerts:\n  unallocated_floor_usd: 1000\n  unallocated_max_alerts: 3\n  default: [h]\n"
                   "  sinks:\n    h: {type: webhook, url_env: TG_H}\n")
    r = run(["alerts", rep, "--config", cfg, "--dry-run", "-f", "json"], {})
    alerts = [d["alert"] for d in json.loads(r.stdout)["deliveries"]]
    assert [a["key"] for a in alerts][:3] == ["unallocated|aws_instance.u29", "unallocated|aws_instance.u28",
                                               "unallocated|aws_instance.u27"]
    assert alerts[3]["key"] == "unallocated|rest" and alerts[3]["level"] == round(sum(1000.0 + i for i in range(27)), 2)
    assert len(alerts) == 4
    r = run(["alerts", sb, "--config", cfg, "--dry-run", "-f", "json"], {})
    alerts = [d["alert"] for d in json.loads(r.stdout)["deliveries"]]
    assert [a["key"] for a in alerts] == ["unallocated|a", "unallocated|b", "unallocated|rest"]
    assert alerts[-1]["level"] == 2500.0


def test_bill_budgets_without_rows_and_an_unsupported_report(tmp_path):
    empty = tmp_path / "bill.json"
    empty.write_text(json.dumps({"kind": "tagguard-bill-budgets", "month": None, "budgets": [],
                                 "notes": ["no charges"]}))
    other = tmp_path / "coverage.json"
    other.write_text(json.dumps({"kind": "tagguard-bill-coverage", "rows": []}))
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alerts:\n  default: [h]\n  sinks:\n    h: {type: webhook, url_env: TG_H}\n")
    r = run(["alerts", empty, "--config", cfg, "--dry-run"], {})
    assert r.exit_code == 0, r.stderr
    r = run(["alerts", empty, other, "--config", cfg, "--dry-run"], {})
    assert r.exit_code == 3 and "tagguard-bill-coverage report raises no alerts" in r.stderr


def test_a_hanging_sink_is_bounded_by_the_timeout(tmp_path):
    import time

    rep = drift_report(tmp_path / "drift.json")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("alerts:\n  default: [h]\n  routes: []\n  sinks:\n    h: {type: webhook, url_env: TG_H}\n"
                   "  retry: {attempts: 2, backoff_seconds: 0.01, timeout_seconds: 0.3}\n")
    with Receiver(delay=2.0) as hook:
        t0 = time.monotonic()
        r = run(["alerts", rep, "--config", cfg, "-f", "json"], {"TG_H": hook.url})
        took = time.monotonic() - t0
    assert r.exit_code == 3
    d = json.loads(r.stdout)["deliveries"]
    assert "timed out" in d[0]["error"] and d[0]["attempts"] == 2
    assert took < 1.8, took  # 2 attempts x 0.3 s, then the sink is skipped for the rest of the run
