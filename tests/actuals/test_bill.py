"""tagguard bill: coverage, showback and bad input on small bills whose figures are computed by hand."""
import json
import re

import pytest

from billkit import COLUMNS, HAND_ROWS, row, tags, write_csv
from clikit import run_cli


def run(args, cwd):
    return run_cli(*args, cwd=cwd)


def coverage_json(tmp, path, cfg, *extra):
    res = run(["bill", "coverage", str(path), "--config", str(cfg), "-f", "json", *extra], tmp)
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_coverage_by_hand(hand_bill):
    tmp, path, cfg = hand_bill
    r = coverage_json(tmp, path, cfg)
    assert r["cost_column"] == "EffectiveCost"
    usd = r["currencies"]["USD"]
    # AI rows: 100 + 50 + 30 + 20 - 10 + 5 = 195; S3 (1000) is not AI; shared CloudWatch 12 + 6 apart
    assert usd["ai_total"] == 195
    assert usd["bill_total"] == 195 + 1000 + 18
    assert usd["shared_total"] == 18
    # allocated: rows 1, 2 (user: prefix stripped), 6 (credit) = 100 + 50 - 10
    assert usd["allocated"] == 140
    assert usd["coverage"] == round(140 / 195, 6)
    assert usd["credits"] == -10
    # per key: malformed row 7 counts for no key; row 3 lacks cost-center; row 4 has a bad environment
    assert usd["by_key"]["business-unit"]["allocated"] == 190
    assert usd["by_key"]["project"]["allocated"] == 190
    assert usd["by_key"]["environment"]["allocated"] == 170
    assert usd["by_key"]["cost-center"]["allocated"] == 160
    teams = {t["team"]: t for t in usd["by_team"]}
    assert teams["research"]["ai_cost"] == 120 and teams["research"]["allocated"] == 90
    assert teams["search"]["ai_cost"] == 70 and teams["search"]["allocated"] == 50
    assert teams["(unallocated)"]["ai_cost"] == 5
    months = {m["month"]: m for m in usd["by_month"]}
    assert months["2026-01"]["ai_cost"] == 145 and months["2026-03"]["ai_cost"] == 50
    assert usd["empty_months"] == ["2026-02"]
    assert r["empty_bill_months"] == ["2026-02"]
    services = {s["service"]: s["ai_cost"] for s in usd["by_service"]}
    assert services == {"Amazon Elastic Compute Cloud": 110, "Amazon SageMaker": 55, "Amazon Bedrock": 30}
    # unallocated, most expensive first, with what is wrong
    top = usd["top_unallocated"]
    assert [t["resource_id"] for t in top] == ["bedrock-model-1", "i-gpu2", "sm-endpoint-1"]
    assert any("cost-center" in p and "missing" in p for p in top[0]["problems"])
    assert any("production" in p for p in top[1]["problems"])
    assert top[2]["problems"] == ["Tags is not valid JSON"]
    # spot / committed / on-demand per team
    pricing = {p["team"]: p for p in usd["pricing_by_team"]}
    assert pricing["research"]["on_demand"] == 100 and pricing["research"]["committed"] == 30
    assert pricing["research"]["other"] == -10
    assert pricing["search"]["spot"] == 50 and pricing["search"]["spot_share"] == round(50 / 70, 6)
    # never summed across currencies; Azure keys compare case-insensitively ("Business-Unit")
    eur = r["currencies"]["EUR"]
    assert eur["ai_total"] == 40 and eur["coverage"] == 1.0
    assert r["malformed_tags"]["rows"] == 1 and r["malformed_tags"]["cost"] == {"USD": 5}
    assert r["training_runs"][0]["resource_id"].endswith("training-job/train-7")
    assert r["training_runs"][0]["cost"] == 50


def test_coverage_text_states_cost_column_and_currencies(hand_bill):
    tmp, path, cfg = hand_bill
    res = run(["bill", "coverage", str(path), "--config", str(cfg), "--cost-column", "BilledCost"], tmp)
    assert res.exit_code == 0, res.output
    assert "(BilledCost," in res.output
    assert "several billing currencies (EUR, USD): reported separately, never summed" in res.output
    assert "malformed Tags JSON: 1 row(s)" in res.output
    assert "no AI charges in: 2026-02" in res.output


def test_min_coverage_gate(hand_bill):
    tmp, path, cfg = hand_bill
    assert run(["bill", "coverage", str(path), "--config", str(cfg), "--min-coverage", "70"], tmp).exit_code == 0
    assert run(["bill", "coverage", str(path), "--config", str(cfg), "--min-coverage", "75"], tmp).exit_code == 1


def test_showback_shared_split_by_gpu_spend(hand_bill):
    tmp, path, cfg = hand_bill
    res = run(["bill", "showback", str(path), "--config", str(cfg), "-f", "json"], tmp)
    assert res.exit_code == 0, res.output
    r = json.loads(res.output)
    usd = r["currencies"]["USD"]
    rows = {(x["team"], x["environment"]): x for x in usd["rows"]}
    # January GPU basis: research/prod 100 - 10 = 90 (rows 1, 6); search with an invalid environment 20 (row 4)
    assert rows[("research", "prod")]["shared"] == round(12 * 90 / 110, 6)
    assert rows[("search", "(no environment)")]["shared"] == round(12 * 20 / 110, 6)
    # March has shared cost 6 but no GPU spend: left unallocated, never split evenly
    assert usd["shared_total"] == 18 and usd["shared_allocated"] == 12 and usd["shared_unallocated"] == 6
    assert r["shared_not_split"] == [{"month": "2026-03", "currency": "USD", "cost": 6.0,
                                      "reason": "no allocated GPU spend in 2026-03: "
                                                "shared cost left unallocated (never split evenly)"}]
    # per-environment mode: prod is chargeback
    assert rows[("research", "prod")]["mode"] == "chargeback"
    assert rows[("search", "dev")]["mode"] == "showback"
    assert usd["chargeback"] == {"research": round(100 + 30 - 10 + 12 * 90 / 110, 6)}
    trend = {t["team"]: t["months"] for t in usd["trend"]}
    assert trend["search"] == {"2026-01": round(20 + 12 * 20 / 110, 6), "2026-03": 50}


def test_showback_shared_split_by_tokens(hand_bill):
    tmp, path, cfg = hand_bill
    res = run(["bill", "showback", str(path), "--config", str(cfg), "-f", "json",
               "--allocate-shared-by", "tokens"], tmp)
    r = json.loads(res.output)
    rows = {(x["team"], x["environment"]): x for x in r["currencies"]["USD"]["rows"]}
    # the only token spend with a valid team in January is Bedrock (research/prod, cost-center missing does not matter)
    assert rows[("research", "prod")]["shared"] == 12


def test_missing_and_misspelled_columns_one_error(tmp_path):
    cols = [c for c in COLUMNS if c not in ("EffectiveCost", "Tags")] + ["effectivecost", "Tag"]
    path = write_csv(tmp_path / "bad.csv", [dict(row(EffectiveCost="1"), effectivecost="1", Tag="{}")], cols)
    (tmp_path / ".git").mkdir()
    res = run(["bill", "coverage", str(path)], tmp_path)
    assert res.exit_code == 2
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1, res.output
    assert "missing FOCUS columns EffectiveCost (found 'effectivecost'), Tags (found 'Tag')" in lines[0]
    assert "bad.csv" in lines[0] and "Traceback" not in res.output


def test_bad_file_among_good_is_skipped_and_reported(hand_bill):
    tmp, path, cfg = hand_bill
    other = tmp / "parts"
    other.mkdir()
    write_csv(other / "2026-01.csv", HAND_ROWS[:1])
    (other / "2026-02.csv").write_text("ServiceName,Cost\nx,1\n", encoding="utf-8")
    r = coverage_json(tmp, str(other), cfg)
    assert r["currencies"]["USD"]["ai_total"] == 100
    assert any("2026-02.csv: missing FOCUS columns" in p for p in r["problems"])


def test_ragged_csv_row_reported_with_line_rest_kept(hand_bill):
    tmp, path, cfg = hand_bill
    text = path.read_text(encoding="utf-8").splitlines()
    text.insert(2, "only,three,fields")
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    r = coverage_json(tmp, path, cfg)
    assert r["currencies"]["USD"]["ai_total"] == 195
    assert r["rejected_rows"] == 1
    assert any(p.startswith(f"{path}:3: row not read") for p in r["problems"]), r["problems"]


def test_non_numeric_cost_counted_not_summed(hand_bill):
    tmp, path, cfg = hand_bill
    write_csv(path, HAND_ROWS + [row(ResourceId="i-x", x_UsageType="p5.48xlarge", EffectiveCost="12,5", Tags="{}")])
    r = coverage_json(tmp, path, cfg)
    assert r["currencies"]["USD"]["ai_total"] == 195
    assert any("1 row(s) with a non-numeric EffectiveCost" in p for p in r["problems"])


def test_empty_bill(tmp_path):
    (tmp_path / ".git").mkdir()
    path = write_csv(tmp_path / "empty.csv", [])
    res = run(["bill", "coverage", str(path)], tmp_path)
    assert res.exit_code == 0
    assert "no charges in the input: nothing to measure" in res.output
    res = run(["bill", "coverage", str(path), "--min-coverage", "90"], tmp_path)
    assert res.exit_code == 0  # no AI spend: nothing under the bar


def test_parquet_map_tags_and_monthly_partitions(hand_bill):
    """AWS-style Parquet with Tags as a MAP, one file per month in hive dirs, a column more in one of them."""
    import duckdb

    tmp, path, cfg = hand_bill
    root = tmp / "export"
    for month, extra in (("2026-01", ""), ("2026-03", ", 'x' AS x_Extra")):
        d = root / f"BILLING_PERIOD={month}"
        d.mkdir(parents=True)
        con = duckdb.connect()
        con.execute(f"""COPY (SELECT * REPLACE (CAST(json_transform(CASE WHEN json_valid(Tags) AND Tags <> '' THEN Tags END,
                     '"MAP(VARCHAR, VARCHAR)"') AS MAP(VARCHAR, VARCHAR)) AS Tags){extra}
                     FROM read_csv('{path}', all_varchar=true)
                     WHERE substr(ChargePeriodStart, 1, 7) = '{month}' AND json_valid(Tags))
                     TO '{d / "part-0.parquet"}' (FORMAT parquet)""")  # noqa: E501
    r = coverage_json(tmp, str(root / "*" / "*.parquet"), cfg)
    usd = r["currencies"]["USD"]
    # the malformed-Tags row cannot be a MAP: 195 - 5
    assert usd["ai_total"] == 190 and usd["allocated"] == 140
    assert usd["by_key"]["cost-center"]["allocated"] == 160


def test_untrusted_values_escaped(hand_bill):
    tmp, path, cfg = hand_bill
    evil = "i-\x1b[31mred\x1b]8;;http://x\x07|<img src=x>@team"
    write_csv(path, [row(ResourceId=evil, x_UsageType="p5.48xlarge", EffectiveCost="9", Tags="{}")])
    text = run(["bill", "coverage", str(path), "--config", str(cfg)], tmp).output
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b[31mred" in text
    md = run(["bill", "coverage", str(path), "--config", str(cfg), "-f", "markdown"], tmp).output
    assert "<img" not in md and "\x1b" not in md
    assert "@team" not in md  # mention broken


def test_scan_report_maps_resource_to_file_and_line(hand_bill):
    tmp, path, cfg = hand_bill
    report = {"resources": [{"address": "aws_instance.gpu2", "file": "infra/gpu.tf", "line": 12,
                             "meta": {"arn": "arn:aws:ec2:us-east-1:1:instance/i-gpu2"}}]}
    (tmp / "scan.json").write_text(json.dumps(report), encoding="utf-8")
    r = coverage_json(tmp, path, cfg, "--scan", str(tmp / "scan.json"))
    hit = [t for t in r["currencies"]["USD"]["top_unallocated"] if t["resource_id"] == "i-gpu2"][0]
    assert (hit["file"], hit["line"], hit["address"]) == ("infra/gpu.tf", 12, "aws_instance.gpu2")
    text = run(["bill", "coverage", str(path), "--config", str(cfg), "--scan", str(tmp / "scan.json")], tmp).output
    assert "fix at infra/gpu.tf:12" in text


def test_s3_without_httpfs_is_refused_without_network(hand_bill):
    import duckdb

    con = duckdb.connect()
    installed = con.execute("SELECT installed FROM duckdb_extensions() WHERE extension_name = 'httpfs'").fetchone()
    if installed and installed[0]:
        pytest.skip("httpfs is installed here")
    tmp, path, cfg = hand_bill
    res = run(["bill", "coverage", "s3://bucket/focus/*.parquet", "--config", str(cfg)], tmp)
    assert res.exit_code == 2
    assert "httpfs" in res.output and "never downloads" in res.output


def test_tags_with_prefix_conflict_reported(hand_bill):
    tmp, path, cfg = hand_bill
    t = json.dumps({"user:business-unit": "ads", "business-unit": "research", "project": "p", "environment": "dev",
                    "cost-center": "C"})
    write_csv(path, [row(ResourceId="i-1", x_UsageType="p5.48xlarge", EffectiveCost="3", Tags=t)])
    r = coverage_json(tmp, path, cfg)
    usd = r["currencies"]["USD"]
    assert usd["allocated"] == 3  # the unprefixed key wins; the disagreement is a note, not a failure
    assert usd["by_team"][0]["team"] == "research"


def test_ai_services_from_config(hand_bill):
    tmp, path, cfg = hand_bill
    cfg.write_text(cfg.read_text() + "  ai_services:\n    service_names: [Amazon Simple Storage Service]\n",
                   encoding="utf-8")
    r = coverage_json(tmp, path, cfg)
    assert r["currencies"]["USD"]["ai_total"] == 195 + 1000


BUDGETS = """\
budgets:
  - {name: research-gpu, match: {business-unit: research}, monthly_usd: 150, kind: gpu}
  - {name: research-tokens, match: {business-unit: research}, monthly_usd: 1000, kind: tokens}
  - {name: search-all, match: {business-unit: search}, monthly_usd: 10, kind: all, mode: showback}
  - {name: hours, match: {business-unit: research}, monthly_gpu_hours: 10}
"""


def test_budgets_month_to_date_and_forecast(hand_bill):
    tmp, path, cfg = hand_bill
    cfg.write_text(cfg.read_text() + BUDGETS, encoding="utf-8")
    res = run(["bill", "budgets", str(path), "--config", str(cfg), "--month", "2026-01", "-f", "json"], tmp)
    r = json.loads(res.output)
    assert (r["month"], r["days_covered"], r["days_in_month"]) == ("2026-01", 5, 31)
    b = {x["name"]: x for x in r["budgets"]}
    # research GPU in January: 100 - 10 (credit) = 90; 5 of 31 days -> 90 * 31 / 5
    assert b["research-gpu"]["mtd_usd"] == 90 and b["research-gpu"]["forecast_usd"] == 558
    assert b["research-gpu"]["status"] == "forecast over"
    assert b["research-tokens"]["mtd_usd"] == 30 and b["research-tokens"]["status"] == "within"
    # search, all AI: the GPU row with environment "production" still matches on business-unit: 20
    assert b["search-all"]["mtd_usd"] == 20 and b["search-all"]["status"] == "over"
    assert b["hours"]["status"] == "not evaluated"
    assert "EUR" in " ".join(r["notes"])
    assert res.exit_code == 1  # a chargeback budget is forecast over


def test_budgets_showback_only_over_does_not_block(hand_bill):
    tmp, path, cfg = hand_bill
    cfg.write_text(cfg.read_text() + "budgets:\n  - {name: s, match: {business-unit: search}, monthly_usd: 10, "
                   "kind: all, mode: showback}\n", encoding="utf-8")
    res = run(["bill", "budgets", str(path), "--config", str(cfg), "--month", "2026-01"], tmp)
    assert res.exit_code == 0, res.output
    assert "over" in res.output and "month-to-date $20.00" in res.output


def test_run_rates_for_diff(hand_bill):
    from tagguard.actuals.budgets import run_rates
    from tagguard.config import load_config

    tmp, path, cfg = hand_bill
    cfg.write_text(cfg.read_text() + BUDGETS, encoding="utf-8")
    rates = run_rates([str(path)], load_config(cfg), month="2026-01")
    assert rates["research-gpu"]["forecast_usd"] == 558 and rates["research-gpu"]["mtd_usd"] == 90


def test_file_name_with_glob_characters_is_not_expanded(hand_bill):
    tmp, path, cfg = hand_bill
    d = tmp / "parts"
    d.mkdir()
    write_csv(d / "2026-01.csv", HAND_ROWS[:1])
    write_csv(d / "[2]026-01.csv", HAND_ROWS[:1])  # as a glob this would match 2026-01.csv a second time
    r = coverage_json(tmp, str(d), cfg)
    assert r["currencies"]["USD"]["ai_total"] == 100
    assert any("glob characters" in p for p in r["problems"])


def test_same_taxonomy_patterns_and_conditionals(hand_bill):
    """The bill is judged by the configured taxonomy: a pattern and an if/then conditional count."""
    tmp, path, cfg = hand_bill
    (tmp / "taxonomy.json").write_text(json.dumps({
        "type": "object",
        "required": ["team", "environment"],
        "properties": {"team": {"type": "string", "pattern": "^[a-z]+$"},
                       "environment": {"enum": ["dev", "prod"]}, "owner": {"type": "string"}},
        "if": {"properties": {"environment": {"const": "prod"}}, "required": ["environment"]},
        "then": {"required": ["owner"]},
    }), encoding="utf-8")
    cfg.write_text("taxonomy: taxonomy.json\n" + cfg.read_text(), encoding="utf-8")
    write_csv(path, [
        row(ResourceId="i-1", x_UsageType="p5.48xlarge", EffectiveCost="10", Tags=tags(team="ml", environment="dev")),
        row(ResourceId="i-2", x_UsageType="p5.48xlarge", EffectiveCost="20", Tags=tags(team="ML", environment="dev")),
        row(ResourceId="i-3", x_UsageType="p5.48xlarge", EffectiveCost="30", Tags=tags(team="ml", environment="prod")),
        row(ResourceId="i-4", x_UsageType="p5.48xlarge", EffectiveCost="40",
            Tags=tags(team="ml", environment="prod", owner="ana")),
    ])
    r = coverage_json(tmp, path, cfg)
    usd = r["currencies"]["USD"]
    assert usd["allocated"] == 50  # i-1 and i-4: i-2 fails the pattern, i-3 the conditional
    assert usd["by_key"]["team"]["allocated"] == 80
    assert r["team_key"] == "team"
    problems = {t["resource_id"]: t["problems"] for t in usd["top_unallocated"]}
    assert any("owner" in p for p in problems["i-3"])
    assert any("pattern" in p for p in problems["i-2"])


def test_bill_is_lazy_and_listed():
    # a real process lists its imports on stderr (PYTHONPROFILEIMPORTTIME): none of bill's
    r = run_cli("--help", process=True, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert r.code == 0 and re.search(r"^\s+bill\b", r.stdout, re.M), r
    imported = re.findall(r"^import time:.*\|\s*([\w.]+)\s*$", r.stderr, re.M)
    assert "tagguard.cli" in imported, r.stderr[-2000:]
    assert not [m for m in imported if m.split(".")[0] == "duckdb" or m.startswith("tagguard.actuals")], imported


def test_state_maps_id_to_address_located_by_scan(hand_bill):
    tmp, path, cfg = hand_bill
    state = {"version": 4, "resources": [{"mode": "managed", "type": "aws_instance", "name": "gpu",
                                          "module": "module.ml",
                                          "instances": [{"index_key": 1, "attributes": {"id": "i-gpu2",
                                                         "arn": "arn:aws:ec2:us-east-1:1:instance/i-gpu2"}}]}]}
    scan = {"resources": [{"address": "module.ml.aws_instance.gpu[1]", "file": "modules/ml/main.tf", "line": 7}]}
    (tmp / "terraform.tfstate").write_text(json.dumps(state), encoding="utf-8")
    (tmp / "scan.json").write_text(json.dumps(scan), encoding="utf-8")
    r = coverage_json(tmp, path, cfg, "--scan", str(tmp / "scan.json"), "--state", str(tmp / "terraform.tfstate"))
    hit = [t for t in r["currencies"]["USD"]["top_unallocated"] if t["resource_id"] == "i-gpu2"][0]
    assert (hit["file"], hit["line"], hit["address"]) == ("modules/ml/main.tf", 7, "module.ml.aws_instance.gpu[1]")


def test_bad_scan_report_is_one_line(hand_bill):
    tmp, path, cfg = hand_bill
    (tmp / "scan.json").write_text("{not json", encoding="utf-8")
    res = run(["bill", "coverage", str(path), "--config", str(cfg), "--scan", str(tmp / "scan.json")], tmp)
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "scan report is not valid JSON" in res.output


def test_disks_of_gpu_node_groups_are_ai_spend(hand_bill):
    tmp, path, cfg = hand_bill
    ng = lambda name, **kw: json.dumps({"eks:nodegroup-name": name, **kw})  # noqa: E731
    write_csv(path, [
        row(ResourceId="i-1", x_UsageType="USE1-BoxUsage:p5.48xlarge", EffectiveCost="100",
            Tags=ng("gpu-ng", **{"business-unit": "research"})),
        row(ResourceId="vol-1", x_UsageType="USE1-EBS:VolumeUsage.gp3", ResourceType="Volume", EffectiveCost="7",
            Tags=ng("gpu-ng")),
        row(ResourceId="vol-2", x_UsageType="USE1-EBS:VolumeUsage.gp3", ResourceType="Volume", EffectiveCost="5",
            Tags=ng("cpu-ng")),
        row(ResourceId="i-2", x_UsageType="USE1-BoxUsage:m5.xlarge", EffectiveCost="3", Tags=ng("cpu-ng")),
    ])
    r = coverage_json(tmp, path, cfg)
    usd = r["currencies"]["USD"]
    assert usd["ai_total"] == 107  # the GPU instance and the GPU node group's volume, not the CPU node group
    assert {t["resource_id"] for t in usd["top_unallocated"]} == {"i-1", "vol-1"}


def test_every_ai_services_key_is_accepted_by_the_config_schema(hand_bill):
    from tagguard.actuals.ai_spend import LIST_KEYS

    tmp, path, cfg = hand_bill
    cfg.write_text(cfg.read_text() + "  ai_services:\n" + "".join(f"    {k}: []\n" for k in LIST_KEYS),
                   encoding="utf-8")
    coverage_json(tmp, path, cfg)


def test_showback_escapes_tag_values(hand_bill):
    tmp, path, cfg = hand_bill
    evil = "r\x1b[2J<script>x</script>|@all"
    write_csv(path, [row(ResourceId="i-1", x_UsageType="p5.48xlarge", EffectiveCost="9",
                         Tags=json.dumps({"business-unit": evil, "project": "p", "environment": "prod",
                                          "cost-center": "C"}))])
    text = run(["bill", "showback", str(path), "--config", str(cfg)], tmp).output
    assert "\x1b" not in text and "\\x1b[2J" in text
    md = run(["bill", "showback", str(path), "--config", str(cfg), "-f", "markdown"], tmp).output
    assert "<script>" not in md and "\x1b" not in md and "@all" not in md


def test_remote_engine_without_client_is_one_line(hand_bill):
    import importlib.util

    if importlib.util.find_spec("trino") is not None:
        pytest.skip("the trino client is installed here")
    tmp, path, cfg = hand_bill
    res = run(["bill", "coverage", "focus_db.focus", "--engine", "trino", "--config", str(cfg),
               "--engine-option", "host=127.0.0.1"], tmp)
    assert res.exit_code == 2
    assert res.output.strip() == "tagguard: error: --engine trino needs the trino client: pip install 'tagguard[trino]'"
