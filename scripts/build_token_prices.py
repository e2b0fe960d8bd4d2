#!/usr/bin/env python3
"""Build ``policies/token_prices.json`` from the shared LLM token price list.

    python scripts/build_token_prices.py [PRICES] [--out policies/token_prices.json] [--check]

PRICES defaults to ``../shared/reference/pricing/llm_token_prices.json`` relative
to the repository root (a trimmed copy of LiteLLM's MIT-licensed
``model_prices_and_context_window.json``; its ``_source`` block, licence and
retrieval date are carried over unchanged).  tagguard never reads that file at
run time, only the table written here.

The output is compact: one model per line, as a positional array

    "gpt-4o": [input, output, cache_read, cache_write, batch_input, batch_output, "provider"]

in USD per token, ``null`` where the source has no figure (a missing cache or
batch rate is *not* zero: ``tagguard.llm.analysis.prices`` falls back to the input or
output rate and says so).  Model aliases (``openai/gpt-4o``, Bedrock ARNs and
cross-region ids, dated snapshots) are resolved at run time by
``tagguard.llm.analysis.prices``, not duplicated here.

``--check`` writes nothing and exits 1 when the committed file is stale.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PRICES = REPO / ".." / "shared" / "reference" / "pricing" / "llm_token_prices.json"
DEFAULT_OUT = REPO / "policies" / "token_prices.json"
SCHEMA_VERSION = 1
FIELDS = ["input", "output", "cache_read", "cache_write", "batch_input", "batch_output", "provider"]
_SOURCE_KEYS = ["input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
                "cache_creation_input_token_cost", "input_cost_per_token_batches", "output_cost_per_token_batches"]


class PriceListError(Exception):
    pass


def _rate(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PriceListError(f"{where}: expected a non-negative number, got {value!r}")
    return float(value)


def build(prices: dict[str, Any], source_sha256: str) -> dict[str, Any]:
    source = prices.get("_source")
    models = prices.get("models")
    if not isinstance(source, dict) or not isinstance(models, dict):
        raise PriceListError("price list must have `_source` and `models` objects")
    for key in ("license", "retrieved"):
        if key not in source:
            raise PriceListError(f"_source.{key} is missing: the licence and date must travel with the prices")
    out_models: dict[str, list[Any]] = {}
    for name in sorted(models):
        row = models[name]
        where = f"models[{name!r}]"
        if not isinstance(row, dict):
            raise PriceListError(f"{where}: expected an object")
        rates = [_rate(row.get(k), f"{where}.{k}") for k in _SOURCE_KEYS]
        if rates[0] is None:
            raise PriceListError(f"{where}: no input_cost_per_token")
        out_models[name] = rates + [str(row.get("litellm_provider") or "")]
    return {
        "_source": dict(source),
        "built_from": {
            "file": "shared/reference/pricing/llm_token_prices.json",
            "sha256": source_sha256,
            "command": "python scripts/build_token_prices.py",
        },
        "schema_version": SCHEMA_VERSION,
        "currency": "USD",
        "unit": "per token",
        "fields": FIELDS,
        "models": out_models,
    }


def render(table: dict[str, Any]) -> str:
    """Sorted keys, one model per line: small diffs, fast to load."""
    head = {k: v for k, v in table.items() if k != "models"}
    lines = ["{"]
    for key in sorted(head):
        lines.append(f"  {json.dumps(key)}: {json.dumps(head[key], sort_keys=True, separators=(', ', ': '))},")
    lines.append('  "models": {')
    items = list(table["models"].items())
    for i, (name, row) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(row, separators=(',', ':'))}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prices", nargs="?", type=Path, default=DEFAULT_PRICES, help="llm_token_prices.json")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if --out differs from a fresh build; write nothing")
    args = ap.parse_args(argv)
    try:
        raw = args.prices.read_bytes()
        prices = json.loads(raw)
        text = render(build(prices, hashlib.sha256(raw).hexdigest()))
    except (OSError, ValueError, PriceListError) as exc:
        print(f"build_token_prices: {args.prices}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"build_token_prices: {args.out} is stale; run python scripts/build_token_prices.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(prices['models'])} models, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
