"""Token prices: the shipped table (``policies/token_prices.json``) plus config overrides.

``PriceTable.resolve(model, provider)`` finds the rates for a model name as it
appears in logs (``gpt-4o``, ``openai/gpt-4o``, ``azure/gpt-4o``,
``bedrock/us-east-1/anthropic.claude-...``, a Bedrock ARN, a dated snapshot);
``None`` means unknown: the caller reports it and never prices it at zero.

Rates are USD per token.  A rate the source does not give falls back to a
dearer one, never to zero: cache read and cache write to the input rate, batch
rates to the standard rates.  Each fallback is named in ``Rates.notes``.

Config (``pricing.tokens`` in ``.tagguard.yaml``)::

    pricing:
      tokens:
        discount_pct: 8                 # negotiated discount off every table rate
        aliases: {prod-chat: gpt-4o}    # deployment names -> table models
        models:
          gpt-4o: {input: 2.0, output: 8.0}          # USD per million tokens (per: mtok, the default)
          my-llama-70b: {hourly_usd: 9.80}           # private endpoint, priced per hour it is used
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

RATE_FIELDS = ("input", "output", "cache_read", "cache_write", "batch_input", "batch_output")
_PER = {"token": 1.0, "ktok": 1e3, "mtok": 1e6}

# Providers whose own name for a model is the canonical one, best first: used to
# break ties when a normalised name matches several table rows with different prices.
_PREFERRED_PROVIDERS = ("openai", "anthropic", "gemini", "vertex_ai-language-models", "vertex_ai",
                        "mistral", "xai", "deepseek", "cohere", "cohere_chat", "groq",
                        "bedrock_converse", "bedrock", "azure", "azure_ai")
_PROVIDER_FAMILIES = {
    "bedrock": ("bedrock", "bedrock_converse"),
    "aws": ("bedrock", "bedrock_converse"),
    "aws.bedrock": ("bedrock", "bedrock_converse"),
    "openai": ("openai", "text-completion-openai"),
    "azure": ("azure", "azure_ai"),
    "az.ai.openai": ("azure",),
    "azure.ai.openai": ("azure",),
    "gcp.vertex_ai": ("vertex_ai", "vertex_ai-language-models", "vertex_ai-anthropic_models"),
    "vertex_ai": ("vertex_ai", "vertex_ai-language-models", "vertex_ai-anthropic_models"),
    "gcp.gemini": ("gemini",),
    "gemini": ("gemini",),
    "anthropic": ("anthropic",),
}
_BEDROCK_GEO = re.compile(r"^(?:us|eu|apac|au|jp|ca|us-gov|global)\.")
_VENDOR = re.compile(r"^(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|qwen|openai|writer|twelvelabs)\.")
_VERSION = re.compile(r"(?:-v\d+(?::\d+)?|:\d+)$")
_DATE = re.compile(r"(?:[-@](?:19|20)\d{2}-?\d{2}-?\d{2}|-latest)$")


class PriceConfigError(ValueError):
    """``pricing.tokens`` is malformed: reported as one line, exit code 2."""


class Rates:
    """USD per token for one model (after discount and overrides)."""

    __slots__ = ("key", "input", "output", "cache_read", "cache_write", "batch_input", "batch_output",
                 "provider", "matched", "notes", "hourly_usd", "hours_per_day", "source")

    def __init__(self, key: str, rates: tuple[float | None, ...], provider: str = "", matched: str = "exact",
                 notes: list[str] | None = None, hourly_usd: float | None = None, hours_per_day: float = 24.0,
                 source: str = "table"):
        self.key = key
        notes = list(notes or [])
        inp, out, cr, cw, bi, bo = rates
        self.input = float(inp or 0.0)
        if out is None:
            notes.append("no output rate in the table (embedding model): output tokens priced at 0")
        self.output = float(out or 0.0)
        if cr is None:
            cr = self.input
        if cw is None:
            cw = self.input
        self.cache_read, self.cache_write = float(cr), float(cw)
        self.batch_input = float(bi) if bi is not None else self.input
        self.batch_output = float(bo) if bo is not None else self.output
        self.provider = provider
        self.matched = matched
        self.notes = notes
        self.hourly_usd = hourly_usd
        self.hours_per_day = hours_per_day
        self.source = source

    def cost(self, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0,
             batch: bool = False) -> float:
        """USD for one call.  ``input_tokens`` is the *total* input, cache reads and writes included."""
        fresh = input_tokens - cache_read - cache_write
        if fresh < 0:
            fresh = 0
        if batch:
            return (fresh * self.batch_input + output_tokens * self.batch_output
                    + cache_read * self.cache_read + cache_write * self.cache_write)
        return (fresh * self.input + output_tokens * self.output
                + cache_read * self.cache_read + cache_write * self.cache_write)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.key, "matched": self.matched, "source": self.source}
        if self.hourly_usd is not None:
            out["hourly_usd"] = self.hourly_usd
            out["hours_per_day"] = self.hours_per_day
        else:
            for f in RATE_FIELDS:
                out[f"{f}_usd_per_mtok"] = round(getattr(self, f) * 1e6, 6)
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def normalise(name: str) -> str:
    """The provider- and version-free core of a model id, for alias matching."""
    n = name.strip().lower()
    if n.startswith("arn:"):
        n = n.rsplit("/", 1)[-1]
    n = n.rsplit("/", 1)[-1]
    n = _BEDROCK_GEO.sub("", n)
    n = _VENDOR.sub("", n)
    n = _VERSION.sub("", n)
    n = n.replace("@", "-")
    n = _DATE.sub("", n)
    return n


class PriceTable:
    def __init__(self, models: dict[str, list[Any]], source: dict[str, Any] | None = None,
                 overrides: dict[str, Any] | None = None):
        self.models = models
        self.source = dict(source or {})
        self._lower: dict[str, str] | None = None
        self._norm: dict[str, list[str]] | None = None
        self._cache: dict[tuple[str, str, bool], Rates | None] = {}
        self.discount = 0.0
        self.aliases: dict[str, str] = {}
        self.overrides: dict[str, dict[str, Any]] = {}
        if overrides:
            self._load_overrides(overrides)

    # -- loading -----------------------------------------------------------------
    @classmethod
    def load(cls, path: Path | None = None, overrides: dict[str, Any] | None = None) -> PriceTable:
        if path is None:
            from tagguard.resources import data_file

            path = data_file("policies/token_prices.json")
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(data["models"], data.get("_source"), overrides)

    def _load_overrides(self, cfg: dict[str, Any]) -> None:
        where = "pricing.tokens"
        if not isinstance(cfg, dict):
            raise PriceConfigError(f"{where}: expected a mapping")
        d = cfg.get("discount_pct", 0)
        if not isinstance(d, (int, float)) or isinstance(d, bool) or not 0 <= d < 100:
            raise PriceConfigError(f"{where}.discount_pct: expected a number from 0 to below 100, got {d!r}")
        self.discount = float(d) / 100.0
        aliases = cfg.get("aliases") or {}
        if not isinstance(aliases, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
            raise PriceConfigError(f"{where}.aliases: expected a mapping of model name to model name")
        self.aliases = dict(aliases)
        models = cfg.get("models") or {}
        if not isinstance(models, dict):
            raise PriceConfigError(f"{where}.models: expected a mapping of model name to rates")
        for name, spec in models.items():
            w = f"{where}.models.{name}"
            if not isinstance(spec, dict):
                raise PriceConfigError(f"{w}: expected a mapping")
            per = spec.get("per", "mtok")
            if per not in _PER:
                raise PriceConfigError(f"{w}.per: expected one of {', '.join(_PER)}, got {per!r}")
            for k, v in spec.items():
                if k in RATE_FIELDS or k in ("hourly_usd", "hours_per_day", "discount_pct"):
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                        raise PriceConfigError(f"{w}.{k}: expected a non-negative number, got {v!r}")
                elif k != "per":
                    raise PriceConfigError(f"{w}: unknown key {k!r} (rates: {', '.join(RATE_FIELDS)}; "
                                           f"or hourly_usd, hours_per_day, discount_pct, per)")
            if "hourly_usd" not in spec and not any(f in spec for f in RATE_FIELDS) and "discount_pct" not in spec:
                raise PriceConfigError(f"{w}: give token rates ({', '.join(RATE_FIELDS)}), hourly_usd or discount_pct")
            if "hours_per_day" in spec and not 0 < spec["hours_per_day"] <= 24:
                raise PriceConfigError(f"{w}.hours_per_day: expected more than 0 and at most 24")
            self.overrides[name] = dict(spec)

    # -- lookup ------------------------------------------------------------------
    def resolve(self, model: str | None, provider: str | None = None) -> Rates | None:
        if not model:
            return None
        ck = (model, provider or "", False)
        if ck in self._cache:
            return self._cache[ck]
        result = self._resolve(model, provider)
        self._cache[ck] = result
        return result

    def _resolve(self, model: str, provider: str | None) -> Rates | None:
        name = self.aliases.get(model, model)
        matched = "exact" if name == model else f"config alias of {name}"
        ov = self.overrides.get(model) or self.overrides.get(name)
        own = model if model in self.overrides else name
        if ov is not None and "hourly_usd" in ov:
            return self._from_override(own, ov, None, matched)
        key, how = self._find(name, provider)
        if key is None:
            if ov is not None and all(f in ov for f in ("input", "output")):  # a model the table does not list
                return self._from_override(own, ov, None, matched)
            return None
        if how != "exact":
            matched = how if matched == "exact" else f"{matched}, {how}"
        ov = ov or self.overrides.get(key)
        row = self.models[key]
        if ov is not None:
            return self._from_override(key, ov, row, matched)
        disc = 1.0 - self.discount
        rates = tuple(None if r is None else r * disc for r in row[:6])
        notes = [f"{self.discount * 100:g}% discount (pricing.tokens.discount_pct)"] if self.discount else []
        return Rates(key, rates, row[6] if len(row) > 6 else "", matched, notes)

    def _from_override(self, key: str, ov: dict[str, Any], row: list[Any] | None, matched: str) -> Rates:
        if "hourly_usd" in ov:
            return Rates(key, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0), "", matched,
                         ["private endpoint priced per hour (pricing.tokens)"], hourly_usd=float(ov["hourly_usd"]),
                         hours_per_day=float(ov.get("hours_per_day", 24)), source="config")
        scale = 1.0 / _PER[ov.get("per", "mtok")]
        base = list(row[:6]) if row is not None else [None] * 6
        if row is not None:  # the table's rates get the global discount; config rates are taken as given
            base = [None if r is None else r * (1.0 - self.discount) for r in base]
        for i, f in enumerate(RATE_FIELDS):
            if f in ov:
                base[i] = float(ov[f]) * scale
        notes = ["negotiated rates (pricing.tokens)" if any(f in ov for f in RATE_FIELDS) else "pricing.tokens"]
        if "discount_pct" in ov:
            d = 1.0 - float(ov["discount_pct"]) / 100.0
            base = [None if r is None else r * d for r in base]
            notes.append(f"{float(ov['discount_pct']):g}% model discount (pricing.tokens)")
        return Rates(key, tuple(base), (row[6] if row is not None and len(row) > 6 else ""), matched, notes,
                     source="config")

    def _find(self, name: str, provider: str | None) -> tuple[str | None, str]:
        models = self.models
        if name in models:
            return name, "exact"
        if self._lower is None:
            self._lower = {k.lower(): k for k in models}
        low = name.lower()
        if low in self._lower:
            return self._lower[low], "case-insensitive"
        fam = _PROVIDER_FAMILIES.get((provider or "").lower(), ((provider or "").lower(),) if provider else ())
        # provider given separately: azure + gpt-4o -> azure/gpt-4o
        for p in fam:
            cand = f"{p}/{low}"
            if cand in self._lower:
                return self._lower[cand], f"provider-qualified as {self._lower[cand]}"
        # strip leading path segments: openai/gpt-4o, bedrock/us-east-1/anthropic.claude-...
        parts = low.split("/")
        for i in range(1, len(parts)):
            cand = "/".join(parts[i:])
            if cand in self._lower:
                return self._lower[cand], f"prefix stripped to {self._lower[cand]}"
        if low.startswith("arn:"):
            tail = low.rsplit("/", 1)[-1]
            if tail in self._lower:
                return self._lower[tail], f"ARN resolved to {self._lower[tail]}"
        # provider-, region-, version- and date-free core name
        core = normalise(name)
        if self._norm is None:
            self._norm = {}
            for k in models:
                self._norm.setdefault(normalise(k), []).append(k)
        cands = self._norm.get(core)
        if not cands:
            return None, ""
        best = self._pick(cands, fam, core)
        return best, f"alias: {name} ~ {best}"

    def _pick(self, cands: list[str], fam: tuple[str, ...], core: str) -> str:
        def rank(k: str) -> tuple:
            prov = self.models[k][6] if len(self.models[k]) > 6 else ""
            in_fam = 0 if prov in fam else 1
            pref = _PREFERRED_PROVIDERS.index(prov) if prov in _PREFERRED_PROVIDERS else len(_PREFERRED_PROVIDERS)
            # the undated, unprefixed name first; then the latest snapshot
            plain = 0 if k.lower() == core else 1
            geo = 1 if _BEDROCK_GEO.match(k.rsplit("/", 1)[-1].lower()) else 0  # cross-region ids can cost more
            return (in_fam, pref, plain, k.count("/"), geo, _neg(k))
        return min(cands, key=rank)

    def describe_source(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: self.source[k] for k in ("license", "retrieved", "package", "upstream")
                               if k in self.source}
        if self.discount:
            out["discount_pct"] = self.discount * 100
        if self.overrides or self.aliases:
            out["overrides"] = sorted(set(self.overrides) | set(self.aliases))
        return out


def _neg(s: str) -> tuple:
    """Sort key that puts lexically later (newer dated) names first."""
    return tuple(-ord(c) for c in s)
