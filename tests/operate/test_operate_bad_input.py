"""Malformed reports (wrong types everywhere, huge repeat counts) give one-line errors or are
skipped with a reason, never a traceback, never a blow-up."""
from __future__ import annotations

import json

import pytest
from clikit import run_cli

BAD_RESOURCES = [
    {"address": "a", "ai": True, "tags": ["x"], "meta": "m",
     "cost": {"monthly_usd": "<b>9</b>", "gpu_hours_per_month": {}},
     "compute": {"gpus_per_unit": "aaaa", "units": 1000000000}},
    {"address": "b", "ai": True, "tags": {"business-unit": {"nested": 1}},
     "cost": {"monthly_usd": float("1e308") * 10}},
]
BAD_FINDINGS = [{"rule": "unmanaged", "category": "unmanaged", "address": "a", "severity": "warning"},
                {"rule": 5}, "str", {"rule": "missing-tag", "category": "missing_tag", "address": "b", "line": "x"}]


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(json.dumps(data), encoding="utf-8")
    return p


@pytest.fixture
def reports(tmp_path):
    return [
        write(tmp_path, "drift.json", {"resources": BAD_RESOURCES, "findings": BAD_FINDINGS,
                                       "errors": ["x", {"account": 1}],
                                       "drift": {"accounts": "123", "calls": "many", "wall_seconds": [1]},
                                       "budgets": [{"name": "b", "monthly_usd": 10, "projected_usd": "lots"}, 7]}),
        write(tmp_path, "usage.json", {"kind": "llm-usage", "anomalies": [{"group": ["x"], "ratio": "9", "date": 5}, 3],
                                       "daily": [{"period": "2026-11-01", "cost_usd": "12"}, "x"], "budgets": "none"}),
        write(tmp_path, "cluster.json", {"kind": "tagguard-cluster-report", "window": {"hours": "73"},
                                         "unattributed": {"cost_usd": [1]}}),
        write(tmp_path, "list.json", [1, 2, 3]),
    ]


def invoke(args):
    # run_cli lets an exception out of the command (no catch_exceptions): one fails the test with its traceback
    return run_cli(*args, env={"TG_H": "http://127.0.0.1:9"})


def test_alerts(tmp_path, reports):
    cfg = write(tmp_path, "c.json",
                {"alerts": {"default": ["h"], "sinks": {"h": {"type": "webhook", "url_env": "TG_H"}}}})
    r = invoke(["alerts", *reports, "--config", cfg, "--dry-run"])
    assert r.exit_code in (0, 3) and "Traceback" not in r.stdout + r.stderr
    assert "list.json" in r.stderr


def test_merge(tmp_path, reports):
    r = invoke(["merge", *reports[:1], "-o", tmp_path / "m.json"])
    assert r.exit_code in (1, 2, 3) and "Traceback" not in r.stderr


def test_review(tmp_path, reports):
    r = invoke(["report", "review", "--month", "2026-11", *sum((["--from", p] for p in reports[:3]), []),
                "-o", tmp_path / "out"])
    assert r.exit_code in (0, 2) and "Traceback" not in r.stderr
