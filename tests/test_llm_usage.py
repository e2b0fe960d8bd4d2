"""`tagguard usage`: ingest of each format (with malformed lines), per-caller findings, pricing, anomalies, budgets."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from clikit import run_cli
from tagguard.config import Config
from tagguard.llm.analysis.ingest import Reader, TagMapper, day_of
from tagguard.llm.analysis.report import analyse, render, token_showback_rows

FIX = Path(__file__).parent / "fixtures" / "llm"
KEYS = ["business-unit", "project", "environment", "cost-center"]


def cfg(tmp_path, **raw):
    return Config(raw=raw, path=tmp_path / ".tagguard.yaml")


def read(path, mapper=None):
    errors = []
    reader = Reader(mapper or TagMapper(KEYS), lambda f, line, m: errors.append((Path(f).name, line, m)))
    calls = list(reader.read(str(path)))
    return calls, errors, reader.files[0]


def rules(report):
    return [(f["rule"], f.get("tag")) for f in report["findings"]]


# --- ingest ------------------------------------------------------------------------
def test_tagguard_jsonl_with_malformed_lines():
    calls, errors, st = read(FIX / "tagguard.jsonl")
    assert [(e[0], e[1]) for e in errors] == [("tagguard.jsonl", 3), ("tagguard.jsonl", 5), ("tagguard.jsonl", 7)]
    assert "invalid JSON" in errors[0][2] and "`ts`" in errors[1][2] and "negative" in errors[2][2]
    assert len(calls) == 4 and st.records == 4 and st.malformed == 3 and st.format == "tagguard"
    assert calls[-1].day == "2026-03-03"  # 08:00+02:00 is 06:00 UTC


def test_litellm_json_array():
    calls, errors, st = read(FIX / "litellm_spend_logs.json")
    assert st.format == "litellm" and len(calls) == 3
    assert errors == [("litellm_spend_logs.json", errors[0][1], errors[0][2])] and "startTime" in errors[0][2]
    first, second, third = calls
    assert first.tags == {"business-unit": "search", "project": "ranker", "environment": "prod",
                          "cost-center": "CC-300"}
    assert first.service == "search-api" and first.recorded_cost == 0.0045 and first.provider == "openai"
    assert second.free and second.tags["cost-center"] == "CC-300"  # metadata as a JSON string, proxy cache hit
    assert third.model == "acme-private-model" and third.tags == {}


def test_litellm_csv_with_bad_rows():
    calls, errors, st = read(FIX / "litellm_spend_logs.csv")
    assert st.format == "litellm-csv" and len(calls) == 2
    assert [(e[1]) for e in errors] == [3, 4]
    assert "invalid literal" in errors[0][2] or "oops" in errors[0][2]
    assert "fields" in errors[1][2]
    assert calls[0].tags == {"business-unit": "support", "project": "docs", "environment": "dev",
                             "cost-center": "CC-100", "team": "support"}


def test_otlp_document_and_jsonl():
    mapper = TagMapper(KEYS, {"team": "business-unit"})
    calls, errors, st = read(FIX / "otlp_genai.json", mapper)
    assert st.format == "otlp" and len(calls) == 2
    assert len(errors) == 1 and "bbb19b7ec3c1b176" in errors[0][2]  # the span with a bad token count
    c = calls[0]
    assert c.tags == {"environment": "prod", "business-unit": "commerce", "cost-center": "CC-400",
                      "project": "checkout"}
    assert (c.model, c.provider, c.input_tokens, c.output_tokens, c.cache_read, c.day) == \
        ("gpt-4o-2024-08-06", "openai", 2000, 400, 1000, "2026-03-02")
    assert calls[1].service == "legacy-batch" and calls[1].provider == "anthropic"
    calls2, errors2, _ = read(FIX / "otlp_genai.jsonl", mapper)
    assert [c.input_tokens for c in calls2] == [2000, 1000]
    assert [e[1] for e in errors2] == [1, 3]  # the bad span (line 1) and the truncated export (line 3)


def test_array_streamed_across_chunk_boundaries(tmp_path):
    rows = [{"request_id": f"r{i}", "startTime": "2026-03-01T00:00:00Z", "model": "gpt-4o", "prompt_tokens": i,
             "completion_tokens": 1, "spend": 0.0, "metadata": {"pad": "x" * 700}} for i in range(300)]
    p = tmp_path / "big.json"
    p.write_text(json.dumps(rows, indent=1))
    calls, errors, _ = read(p)
    assert errors == [] and [c.input_tokens for c in calls] == list(range(300))


def test_unrecognised_and_empty_inputs(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"hello": 1}\n')
    _, errors, _ = read(tmp_path / "x.jsonl")
    assert "not a tagguard, LiteLLM or OTLP record" in errors[0][2]
    (tmp_path / "e.jsonl").write_text("\n\n")
    assert read(tmp_path / "e.jsonl")[:2] == ([], [])
    (tmp_path / "b.jsonl").write_bytes(b'{"v":1}\n\xff\xfe\n')
    assert "not UTF-8" in read(tmp_path / "b.jsonl")[1][-1][2]


@pytest.mark.parametrize("ts,day", [("2026-03-02T23:30:00-02:00", "2026-03-03"), ("2026-03-02 10:00:00", "2026-03-02"),
                                    (1772442000, "2026-03-02"), (1772442000000, "2026-03-02"),
                                    ("1772442000000000000", "2026-03-02"), ("garbage", None), (None, None)])
def test_day_of(ts, day):
    assert day_of(ts) == day


# --- analyse ------------------------------------------------------------------------
def test_findings_aggregated_per_caller_and_untagged_line(tmp_path):
    rep = analyse([str(FIX / "tagguard.jsonl")], cfg(tmp_path))
    t = rep["totals"]
    # priced by hand (see test_llm_prices): 0.004 (gpt-4o, 400 cached) + 0.011475 (claude) + 0.00075 (gpt-4o untagged)
    assert t["cost_usd"] == pytest.approx(0.016225, abs=1e-9)
    assert t["calls"] == 4 and t["unpriced_calls"] == 1 and t["unpriced_tokens"] == 1000
    assert t["untagged"]["calls"] == 1 and t["untagged"]["cost_usd"] == pytest.approx(0.00075)
    missing = [f for f in rep["findings"] if f["rule"] == "missing-tag"]
    # one caller (business-unit=research only) -> one finding per missing key, not per call
    assert sorted(f["tag"] for f in missing) == ["cost-center", "environment", "project"]
    assert all(f["calls"] == 1 and f["address"] == "llm:business-unit=research" for f in missing)
    unknown = [f for f in rep["findings"] if f["rule"] == "unknown-model"]
    assert len(unknown) == 1 and "in-house-llama" in unknown[0]["message"] and unknown[0]["line"] == 8
    parse = [f for f in rep["findings"] if f["rule"] == "parse-error"]
    assert [f["line"] for f in parse] == [3, 5, 7]
    assert rep["summary"]["exit_code"] == 1


def test_many_calls_one_finding(tmp_path):
    p = tmp_path / "u.jsonl"
    line = json.dumps({"v": 1, "ts": "2026-03-02T00:00:00Z", "model": "gpt-4o", "input_tokens": 10, "output_tokens": 1,
                       "service": "api", "tags": {"business-unit": "x", "project": "y", "environment": "prod"}})
    p.write_text((line + "\n") * 500)
    rep = analyse([str(p)], cfg(tmp_path))
    assert rules(rep) == [("missing-tag", "cost-center")]
    assert rep["findings"][0]["calls"] == 500 and "500 model calls" in rep["findings"][0]["message"]


def test_litellm_pricing_cache_hits_and_recorded_spend(tmp_path):
    rep = analyse([str(FIX / "litellm_spend_logs.json")], cfg(tmp_path))
    t = rep["totals"]
    # req-1 repriced: 1,000 x $2.50/M + 200 x $10/M = 0.0025 + 0.002 = 0.0045 ; req-2 proxy cache hit: $0 ;
    # req-3 unknown model priced from LiteLLM's spend: 0.02
    assert t["cost_usd"] == pytest.approx(0.0245, abs=1e-9)
    assert t["proxy_cache_hits"] == 1 and t["priced_from_record_calls"] == 1 and "unpriced_calls" not in t
    unknown = [f for f in rep["findings"] if f["rule"] == "unknown-model"][0]
    assert "priced from the spend recorded" in unknown["message"]


def test_otlp_priced_with_response_model(tmp_path):
    rep = analyse([str(FIX / "otlp_genai.json")], cfg(tmp_path, llm={"tag_attributes": {"team": "business-unit"}}))
    # gpt-4o-2024-08-06: 1,000 fresh x 2.5/M + 1,000 cached x 1.25/M + 400 x 10/M = 0.0025 + 0.00125 + 0.004 = 0.00775
    # claude-sonnet-4-5: 1,000 x 3/M + 1,000 x 15/M = 0.003 + 0.015 = 0.018
    assert rep["totals"]["cost_usd"] == pytest.approx(0.02575, abs=1e-9)
    commerce = [c for c in rep["callers"] if c["service"] == "checkout-assistant"][0]
    assert "issues" not in commerce and not commerce["untagged"]
    legacy = [c for c in rep["callers"] if c["service"] == "legacy-batch"][0]
    assert legacy["untagged"] and legacy["cost_usd"] == pytest.approx(0.018)


def test_hourly_private_endpoint_allocated_by_token_share(tmp_path):
    p = tmp_path / "u.jsonl"
    rows = [("a", 300), ("b", 100)]
    p.write_text("".join(json.dumps({"v": 1, "ts": "2026-03-02T01:00:00Z", "model": "llama-private", "input_tokens": n,
                                     "output_tokens": 0,
                                     "tags": {"business-unit": bu, "project": "p", "environment": "prod",
                                              "cost-center": "c"}}) + "\n" for bu, n in rows))
    c = cfg(tmp_path, pricing={"tokens": {"models": {"llama-private": {"hourly_usd": 2.0, "hours_per_day": 10}}}})
    rep = analyse([str(p)], c)
    by_bu = {r["value"]: r["cost_usd"] for r in rep["by"]["business-unit"]}
    # $2/h x 10 h = $20 for the day, split 300:100 -> $15 and $5
    assert by_bu == {"a": pytest.approx(15.0), "b": pytest.approx(5.0)}
    assert not [f for f in rep["findings"] if f["rule"] == "unknown-model"]


def _series(path, costs, fp_on_last=None):
    """One gpt-4o call per day whose output tokens cost exactly ``usd`` ($10 per million output tokens)."""
    start = date(2026, 3, 1)
    with open(path, "w") as fh:
        for i, usd in enumerate(costs):
            day = (start + timedelta(days=i)).isoformat()
            n = int(round(usd / 10 * 1_000_000))
            tags = {"business-unit": "research", "project": "rag", "environment": "prod", "cost-center": "c"}
            if fp_on_last and i == len(costs) - 1:
                for fp, share in fp_on_last:
                    fh.write(json.dumps({"v": 1, "ts": f"{day}T12:00:00Z", "model": "gpt-4o", "input_tokens": 0,
                                         "output_tokens": int(n * share), "prompt_fingerprint": fp,
                                         "service": "rag-api",
                                         "tags": tags}) + "\n")
            else:
                fh.write(json.dumps({"v": 1, "ts": f"{day}T12:00:00Z", "model": "gpt-4o", "input_tokens": 0,
                                     "output_tokens": n, "prompt_fingerprint": "normal", "service": "rag-api",
                                     "tags": tags}) + "\n")


def test_anomaly_with_top_prompts(tmp_path):
    p = tmp_path / "u.jsonl"
    _series(p, [2, 2, 3, 2, 2, 2, 2, 2, 12], fp_on_last=[("runaway", 0.8), ("normal", 0.2)])
    rep = analyse([str(p)], cfg(tmp_path))
    assert len(rep["anomalies"]) == 1
    a = rep["anomalies"][0]
    # trailing 7 days before 03-09: [2,3,2,2,2,2,2] -> median $2; $12 = 6x > 3x
    assert a["date"] == "2026-03-09" and a["trailing_median_usd"] == 2.0 and a["ratio"] == 6.0
    assert a["top_prompts"][0] == {"prompt_fingerprint": "runaway", "output_tokens": 960_000}
    assert a["top_callers"][0]["caller"].startswith("service=rag-api")
    f = [f for f in rep["findings"] if f["rule"] == "token-anomaly"][0]
    assert f["severity"] == "warning" and "runaway" in f["message"]


@pytest.mark.parametrize("costs,factor,n", [
    ([2, 2, 2, 2, 2, 2, 2, 5], 3, 0),        # 2.5x: under the default factor
    ([2, 2, 2, 2, 2, 2, 2, 5], 2, 1),        # ...but over a configured 2x
    ([2, 12], 3, 0),                         # one day of history: below the minimum (3)
    ([0.1, 0.1, 0.1, 0.1, 0.9], 3, 0),       # $0.90 < anomaly_min_usd ($1)
])
def test_anomaly_thresholds(tmp_path, costs, factor, n):
    p = tmp_path / "u.jsonl"
    _series(p, costs)
    rep = analyse([str(p)], cfg(tmp_path, llm={"anomaly_factor": factor}))
    assert len(rep["anomalies"]) == n


def test_token_budgets(tmp_path):
    p = tmp_path / "u.jsonl"
    _series(p, [40] * 10)  # 10 days of March at $40 = $400 so far
    budgets = [
        {"name": "rag-tokens", "match": {"project": "rag"}, "monthly_usd": 300, "mode": "chargeback", "kind": "tokens"},
        {"name": "research-all", "match": {"business-unit": ["research", "labs"], "environment": "*"},
         "monthly_usd": 1000, "mode": "showback", "kind": "all"},
        {"name": "gpu-only", "match": {}, "monthly_usd": 1, "kind": "gpu"},
        {"name": "gpu-by-default", "match": {}, "monthly_usd": 1},
        {"name": "other", "match": {"project": "nope"}, "monthly_usd": 1, "kind": "tokens"},
    ]
    rep = analyse([str(p)], cfg(tmp_path, budgets=budgets))
    rows = {b["name"]: b for b in rep["budgets"]}
    assert set(rows) == {"rag-tokens", "research-all", "other"}
    assert rows["rag-tokens"]["token_spend_usd"] == 400.0
    # $400 over 10 days of a 31-day month projects to $1,240
    assert rows["research-all"]["projected_usd"] == 1240.0
    fb = {f["address"]: f for f in rep["findings"] if f["rule"] == "token-budget"}
    assert fb["budget:rag-tokens"]["severity"] == "error"
    assert fb["budget:research-all"]["severity"] == "warning" and "projects" in fb["budget:research-all"]["message"]
    assert "budget:other" not in fb


def test_budget_config_errors_are_one_line(tmp_path):
    from tagguard.llm.analysis.budgets import BudgetConfigError

    with pytest.raises(BudgetConfigError, match=r"budgets\[0\]\.kind"):
        analyse([str(FIX / "tagguard.jsonl")], cfg(tmp_path, budgets=[{"name": "x", "monthly_usd": 1, "kind": "gpus"}]))


def test_since_until_filter(tmp_path):
    p = tmp_path / "u.jsonl"
    _series(p, [1, 2, 3, 4])
    rep = analyse([str(p)], cfg(tmp_path), since="2026-03-02", until="2026-03-03")
    assert rep["totals"]["cost_usd"] == pytest.approx(5.0) and rep["range"]["filtered_out_calls"] == 2


def test_rule_overrides_and_fail_on(tmp_path):
    c = cfg(tmp_path, rules={"missing-tag": "warning", "parse-error": "off"})
    rep = analyse([str(FIX / "tagguard.jsonl")], c)
    assert not [f for f in rep["findings"] if f["rule"] == "parse-error"]
    assert rep["summary"]["exit_code"] == 0  # nothing at error severity is left


def test_formats(tmp_path):
    rep = analyse([str(FIX / "tagguard.jsonl"), str(FIX / "litellm_spend_logs.csv")], cfg(tmp_path))
    data = json.loads(render(rep, "json"))
    assert data["kind"] == "llm-usage" and "_agg" not in data and len(data["inputs"]) == 2
    rows = list(csv.DictReader(io.StringIO(render(rep, "csv"))))
    assert rows[0].keys() >= {"period", "business-unit", "project", "environment", "model", "cost_usd"}
    assert sum(float(r["cost_usd"]) for r in rows) == pytest.approx(rep["totals"]["cost_usd"], abs=1e-5)
    weekly = list(csv.DictReader(io.StringIO(render(rep, "csv", "week"))))
    assert {r["period"] for r in weekly} == {"2026-W10"}
    md = render(rep, "markdown")
    assert md.startswith("## LLM token spend") and "| untagged |" in md and "### Findings" in md
    text = render(rep, "text")
    assert "untagged" in text and "tagguard.jsonl:3" in text


def test_showback_rows(tmp_path):
    (tmp_path / "logs").mkdir()
    _series(tmp_path / "logs" / "u.jsonl", [1, 2])
    c = cfg(tmp_path, llm={"usage_files": ["logs/*.jsonl"]})
    rows = token_showback_rows(c)
    assert len(rows) == 1
    r = rows[0]
    assert r["kind"] == "tokens" and r["period"] == "2026-03" and r["monthly_usd"] == 3.0
    assert r["tags"]["business-unit"] == "research" and r["calls"] == 2


# --- CLI --------------------------------------------------------------------------------
def test_cli_usage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_cli("usage", FIX / "tagguard.jsonl", "-f", "json")
    assert res.exit_code == 1, res.output
    assert json.loads(res.output)["summary"]["blocking"] >= 1
    res = run_cli("usage", FIX / "litellm_spend_logs.json", "--fail-on", "error", "-o", tmp_path / "r.md",
                  "-f", "markdown")
    assert res.exit_code == 1 and (tmp_path / "r.md").read_text().startswith("## LLM")
    res = run_cli("usage", tmp_path / "missing.jsonl")
    assert res.exit_code == 2 and "no such file" in res.output
    res = run_cli("usage")
    assert res.exit_code == 2 and "llm.usage_files" in res.output
    res = run_cli("usage", FIX / "tagguard.jsonl", "--since", "March")
    assert res.exit_code == 2


def test_cli_config_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tagguard.yaml").write_text("pricing:\n  tokens:\n    models:\n      x: {inptu: 1}\n")
    res = run_cli("usage", FIX / "tagguard.jsonl")
    assert res.exit_code == 2 and "unknown key 'inptu'" in res.output and "Traceback" not in res.output
    (tmp_path / ".tagguard.yaml").write_text("llm:\n  anomaly_factr: 2\n")
    res = run_cli("usage", FIX / "tagguard.jsonl")
    assert res.exit_code == 2 and "anomaly_factr" in res.output
