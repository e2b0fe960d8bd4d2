"""tagguard merge: shards with overlapping and failed accounts, an unreadable shard, --history, showback --from."""
from __future__ import annotations

import json

from clikit import run_cli

from tagguard.formats.json_format import JsonFormatter
from tagguard.model import Cost, Finding, Resource, ScanResult


def res(account, n, bu=None, usd=1000.0):
    addr = f"arn:aws:ec2:us-east-1:{account}:instance/i-{n:017x}"
    return Resource(address=addr, type="aws_instance", source="aws", ai=True, tags={"business-unit": bu} if bu else {},
                    cost=Cost(monthly_usd=usd, gpu_hours_per_month=730.0),
                    meta={"account": account, "region": "us-east-1"})


def missing(r):
    return Finding("missing-tag", "missing_tag", "error", f"{r.address}: required tag `business-unit` is missing",
                   address=r.address, tag="business-unit", extra={"account": r.meta["account"], "region": "us-east-1"})


def shard(path, accounts, resources, findings, errors=()):
    result = ScanResult(resources=list(resources), findings=list(findings), errors=list(errors))
    result.drift = {"accounts": accounts, "regions": ["us-east-1"], "services": ["ec2"], "scope": "ai",
                    "complete": not errors, "calls": 3, "wall_seconds": 1.5, "sum_task_seconds": 2.0}
    path.write_text(JsonFormatter().format(result), encoding="utf-8")
    return path


A, B, C = res("111111111111", 1), res("222222222222", 2, "research"), res("333333333333", 3)
DENIED = {"account": "333333333333", "region": None, "regions": ["us-east-1"], "service": "sts",
          "code": "AccessDenied", "message": "not authorized to assume role"}


def run(*args):
    return run_cli(*args)


def test_overlapping_shards_dedupe_and_keep_findings(tmp_path):
    s1 = shard(tmp_path / "s1.json", ["111111111111", "222222222222"], [A, B], [missing(A)])
    s2 = shard(tmp_path / "s2.json", ["222222222222", "333333333333"], [B, C], [missing(C)])
    r = run("merge", s1, s2, "-o", tmp_path / "m.json")
    assert r.exit_code == 1, r.stderr  # blocking findings, complete
    doc = json.loads((tmp_path / "m.json").read_text())
    assert sorted(x["address"] for x in doc["resources"]) == sorted([A.address, B.address, C.address])
    assert doc["merge"]["duplicate_resources"] == 1
    assert len(doc["findings"]) == 2 and doc["errors"] == []
    assert doc["drift"]["accounts"] == ["111111111111", "222222222222", "333333333333"]
    assert doc["drift"]["complete"] is True and doc["summary"]["resources"] == 3


def test_failed_account_stays_unknown_in_history_and_unreadable_shard_is_incomplete(tmp_path):
    db = tmp_path / "h.db"
    s1 = shard(tmp_path / "s1.json", ["111111111111", "222222222222"], [A, B], [missing(A)])
    s2 = shard(tmp_path / "s2.json", ["333333333333"], [C], [missing(C)])
    assert run("merge", s1, s2, "--history", db, "-o", tmp_path / "m1.json").exit_code == 1
    # next night: account 333 cannot be read, and a third shard's file is truncated
    s2b = shard(tmp_path / "s2b.json", ["333333333333"], [], [], errors=[DENIED])
    broken = tmp_path / "s3.json"
    broken.write_text('{"resources": [', encoding="utf-8")
    r = run("merge", s1, s2b, broken, "--history", db, "-o", tmp_path / "m2.json")
    assert r.exit_code == 3, r.stderr
    assert "s3.json" in r.stderr and "Traceback" not in r.stderr
    doc = json.loads((tmp_path / "m2.json").read_text())
    codes = sorted(e["code"] for e in doc["errors"])
    assert codes == ["AccessDenied", "ShardUnreadable"]
    assert {e["shard"] for e in doc["errors"]} == {str(s2b), str(broken)}
    assert doc["drift"]["complete"] is False and doc["summary"]["exit_code"] == 3
    hist = doc["history"]
    assert [u["address"] for u in hist["unknown"]] == [C.address]  # not "fixed": its account failed
    assert hist["fixed"] == [] and hist["still_open"] == 1


def test_error_covered_by_another_shard_is_resolved(tmp_path):
    flaky = {"account": "222222222222", "region": "us-east-1", "service": "ec2", "code": "Throttling", "message": "x"}
    s1 = shard(tmp_path / "s1.json", ["111111111111", "222222222222"], [A, B], [])
    s2 = shard(tmp_path / "s2.json", ["222222222222"], [], [], errors=[flaky])
    r = run("merge", s1, s2, "-o", tmp_path / "m.json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["errors"] == [] and doc["merge"]["resolved_errors"][0]["covered_by"] == str(s1)
    # the copy from the shard that read the account cleanly wins
    assert [x["address"] for x in doc["resources"]].count(B.address) == 1


def test_merged_report_is_accepted_by_showback(tmp_path):
    s1 = shard(tmp_path / "s1.json", ["111111111111", "222222222222"], [A, B], [missing(A)])
    s2 = shard(tmp_path / "s2.json", ["222222222222", "333333333333"], [B, C], [missing(C)])
    assert run("merge", s1, s2, "-o", tmp_path / "m.json").exit_code == 1
    p = run_cli("report", "showback", "--from", tmp_path / "m.json", "-f", "json", process=True, cwd=tmp_path,
                timeout=120)
    assert p.returncode == 0, p.stderr
    sb = json.loads(p.stdout)
    assert sb["totals"]["monthly_usd"] == 3000.0  # B counted once
    assert sb["totals"]["unallocated_monthly_usd"] == 2000.0
    r = run("report", "review", "--month", "2026-12", "--from", tmp_path / "m.json", "-o", tmp_path / "review")
    assert r.exit_code == 0, r.stderr
    review = json.loads((tmp_path / "review" / "review.json").read_text())
    assert review["org"]["totals"]["monthly_usd"] == 3000.0 and list(review["teams"]) == ["research"]


def test_no_readable_shard_is_an_error(tmp_path):
    r = run("merge", tmp_path / "absent.json")
    assert r.exit_code == 2 and "absent.json" in r.stderr and "Traceback" not in r.stderr


def test_unreadable_shard_leaves_previous_accounts_unknown_not_fixed(tmp_path):
    """A shard that wrote nothing cannot say which accounts it covered: the accounts of the previous
    run that no readable shard covers are unknown, so their findings are not reported fixed."""
    db = tmp_path / "h.db"
    s1 = shard(tmp_path / "s1.json", ["111111111111", "222222222222"], [A, B], [missing(A)])
    s2 = shard(tmp_path / "s2.json", ["333333333333"], [C], [missing(C)])
    assert run("merge", s1, s2, "--history", db, "-o", tmp_path / "m1.json").exit_code == 1
    r = run("merge", s1, tmp_path / "s2-never-written.json", "--history", db, "-o", tmp_path / "m2.json")
    assert r.exit_code == 3, r.stderr
    doc = json.loads((tmp_path / "m2.json").read_text())
    assert doc["history"]["fixed"] == [] and [u["address"] for u in doc["history"]["unknown"]] == [C.address]
    assert {e["code"] for e in doc["errors"]} == {"ShardUnreadable", "NotCovered"}
    assert "333333333333" in r.stderr
