"""Token prices against hand-computed figures; alias resolution; config overrides; the build script."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagguard.llm.analysis.prices import PriceConfigError, PriceTable, normalise

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def table():
    return PriceTable.load()


def test_table_keeps_source_licence_and_date():
    data = json.loads((ROOT / "policies" / "token_prices.json").read_text())
    assert data["_source"]["license"] == "MIT" and data["_source"]["retrieved"]
    assert data["fields"][:6] == ["input", "output", "cache_read", "cache_write", "batch_input", "batch_output"]
    assert data["models"]["gpt-4o"] == [2.5e-06, 1e-05, 1.25e-06, None, 1.25e-06, 5e-06, "openai"]


# the freshness check (committed table == a fresh build of the vendored input) is in test_shipped_data.py


def test_gpt4o_cost_by_hand(table):
    r = table.resolve("gpt-4o")
    # 10,000 input of which 4,000 cached, 2,000 output:
    #   6,000 x $2.50/M = $0.0150 ; 4,000 x $1.25/M = $0.0050 ; 2,000 x $10/M = $0.0200  -> $0.0400
    assert r.cost(10_000, 2_000, cache_read=4_000) == pytest.approx(0.04, abs=1e-12)
    # batch: 10,000 x $1.25/M + 2,000 x $5/M = 0.0125 + 0.0100 = $0.0225
    assert r.cost(10_000, 2_000, batch=True) == pytest.approx(0.0225, abs=1e-12)


def test_claude_cache_write_cost_by_hand(table):
    r = table.resolve("claude-sonnet-4-5")
    # total input 3,000 = 500 fresh + 2,000 cache read + 500 cache write; 500 output
    #   500 x $3/M = 0.0015 ; 2,000 x $0.30/M = 0.0006 ; 500 x $3.75/M = 0.001875 ; 500 x $15/M = 0.0075
    #   = $0.011475
    assert r.cost(3_000, 500, 2_000, 500) == pytest.approx(0.011475, abs=1e-12)


def test_missing_cache_write_rate_falls_back_to_input_not_zero(table):
    r = table.resolve("gpt-4o")
    assert r.cache_write == r.input == 2.5e-06  # the source has no cache-write rate for gpt-4o


@pytest.mark.parametrize("name,provider,key", [
    ("gpt-4o", None, "gpt-4o"),
    ("openai/gpt-4o", None, "gpt-4o"),
    ("GPT-4o", None, "gpt-4o"),
    ("gpt-4o", "azure", "gpt-4o"),
    ("gpt-4o-2024-08-06", None, "gpt-4o-2024-08-06"),
    ("gpt-4.1-mini-2031-01-01", None, "gpt-4.1-mini"),       # unknown dated snapshot -> its base
    ("claude-sonnet-4-5@20250929", None, "claude-sonnet-4-5"),  # Vertex-style snapshot id
    ("bedrock/us-east-1/anthropic.claude-3-5-sonnet-20240620-v1:0", None, "anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0", None,
     "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("claude-3-5-sonnet-20241022", "anthropic", "anthropic.claude-3-5-sonnet-20241022-v2:0"),  # not the us. geo id
])
def test_aliases_resolve(table, name, provider, key):
    assert table.resolve(name, provider).key == key


def test_dated_snapshot_keeps_its_own_price(table):
    # gpt-4o-2024-05-13 was dearer than gpt-4o: an exact snapshot is never folded into the base name
    assert table.resolve("gpt-4o-2024-05-13").input == 5e-06
    assert table.resolve("gpt-4o").input == 2.5e-06


def test_cross_region_profile_premium(table):
    assert table.resolve("us.anthropic.claude-sonnet-4-5-20250929-v1:0").input == pytest.approx(3.3e-06)
    assert table.resolve("anthropic.claude-sonnet-4-5-20250929-v1:0").input == pytest.approx(3e-06)


def test_unknown_model_is_none(table):
    assert table.resolve("acme-private-model") is None
    assert table.resolve(None) is None
    assert normalise("bedrock/eu.anthropic.claude-x-20250101-v1:0") == "claude-x"


def test_overrides_negotiated_discount_and_hourly():
    t = PriceTable.load(overrides={
        "discount_pct": 10,
        "aliases": {"prod-chat": "gpt-4o"},
        "models": {
            "gpt-4o-mini": {"input": 0.10, "output": 0.40},       # USD per million, taken as given
            "claude-sonnet-4-5": {"discount_pct": 20},             # on top of the table rate
            "llama-private": {"hourly_usd": 12.5, "hours_per_day": 8},
        }})
    # discount: gpt-4o input $2.50/M x 0.9 = $2.25/M
    assert t.resolve("prod-chat").input == pytest.approx(2.25e-06)
    assert t.resolve("prod-chat").key == "gpt-4o"
    mini = t.resolve("gpt-4o-mini")
    assert (mini.input, mini.output) == (pytest.approx(1e-07), pytest.approx(4e-07))
    # cache read not overridden: the table's $0.075/M with the 10% discount = $0.0675/M
    assert mini.cache_read == pytest.approx(6.75e-08)
    # claude: $3/M x 0.9 x 0.8 = $2.16/M
    assert t.resolve("claude-sonnet-4-5").input == pytest.approx(2.16e-06)
    h = t.resolve("llama-private")
    assert h.hourly_usd == 12.5 and h.hours_per_day == 8 and h.cost(1000, 1000) == 0.0
    assert t.resolve("openai/gpt-4o-mini").input == pytest.approx(1e-07)  # override follows the alias


@pytest.mark.parametrize("cfg,msg", [
    ({"discount_pct": 100}, "discount_pct"),
    ({"models": {"x": {"input": -1}}}, "models.x.input"),
    ({"models": {"x": {"inptu": 1}}}, "unknown key 'inptu'"),
    ({"models": {"x": {}}}, "give token rates"),
    ({"models": {"x": {"input": 1, "per": "gallon"}}}, "per"),
    ({"aliases": {"a": 1}}, "aliases"),
])
def test_bad_overrides_are_one_line_errors(cfg, msg):
    with pytest.raises(PriceConfigError, match=msg):
        PriceTable.load(overrides=cfg)
