"""Read token usage from a model response by its shape, without any provider SDK.

Supported shapes (dicts, SDK objects, dataclasses and SimpleNamespaces alike):

* OpenAI chat/completions (and LiteLLM, vLLM, Azure, most OpenAI-compatible
  servers): ``usage.prompt_tokens`` / ``completion_tokens``,
  ``usage.prompt_tokens_details.cached_tokens``.  Prompt tokens *include* the
  cached ones.
* OpenAI Responses API: ``usage.input_tokens`` / ``output_tokens`` with
  ``usage.input_tokens_details.cached_tokens`` (input includes cached).
* Anthropic Messages: ``usage.input_tokens`` / ``output_tokens``,
  ``cache_read_input_tokens``, ``cache_creation_input_tokens``.  Input tokens
  *exclude* cache reads and writes.
* Bedrock Converse: ``usage.inputTokens`` / ``outputTokens``,
  ``cacheReadInputTokens``, ``cacheWriteInputTokens`` (input excludes the cache
  fields, as Anthropic), request id in ``ResponseMetadata.RequestId``.
* Gemini: ``usage_metadata.prompt_token_count`` / ``candidates_token_count`` /
  ``cached_content_token_count`` (prompt includes cached).

The result always uses one convention: ``input_tokens`` is the total input,
with ``cache_read_tokens`` and ``cache_write_tokens`` as parts of it.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Mapping


def get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    try:
        return getattr(obj, name, None)
    except Exception:  # properties of odd SDK objects
        return None


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def extract_usage(response: Any) -> dict[str, Any]:
    """``{"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", ...}``.

    Keys that cannot be read are absent.  ``shape`` names the shape found
    (``openai``, ``openai-responses``, ``anthropic``, ``bedrock``, ``gemini``)
    or is ``None`` when the response carries no usage.
    """
    out: dict[str, Any] = {"shape": None}
    usage = get(response, "usage")
    if usage is None and isinstance(response, Mapping) and any(
            k in response for k in ("prompt_tokens", "input_tokens", "inputTokens")):
        usage = response  # a bare usage object
    meta = get(response, "ResponseMetadata")
    rid = get(meta, "RequestId") if meta is not None else None
    if usage is not None:
        pt = _int(get(usage, "prompt_tokens"))
        it = _int(get(usage, "input_tokens"))
        bt = _int(get(usage, "inputTokens"))
        if pt is not None or _int(get(usage, "completion_tokens")) is not None:
            out["shape"] = "openai"
            out["input_tokens"] = pt or 0
            out["output_tokens"] = _int(get(usage, "completion_tokens")) or 0
            cached = _int(get(get(usage, "prompt_tokens_details"), "cached_tokens"))
            # LiteLLM normalises Anthropic usage to this shape and keeps the cache fields alongside
            cr = _int(get(usage, "cache_read_input_tokens"))
            cw = _int(get(usage, "cache_creation_input_tokens"))
            out["cache_read_tokens"] = cached if cached is not None else (cr or 0)
            out["cache_write_tokens"] = cw or 0
            reasoning = _int(get(get(usage, "completion_tokens_details"), "reasoning_tokens"))
            if reasoning:
                out["reasoning_tokens"] = reasoning
        elif it is not None or _int(get(usage, "output_tokens")) is not None:
            details = get(usage, "input_tokens_details")
            cr = _int(get(usage, "cache_read_input_tokens"))
            cw = _int(get(usage, "cache_creation_input_tokens"))
            if details is not None and cr is None and cw is None:
                out["shape"] = "openai-responses"
                out["input_tokens"] = it or 0
                out["cache_read_tokens"] = _int(get(details, "cached_tokens")) or 0
                out["cache_write_tokens"] = 0
                reasoning = _int(get(get(usage, "output_tokens_details"), "reasoning_tokens"))
                if reasoning:
                    out["reasoning_tokens"] = reasoning
            else:
                out["shape"] = "anthropic"
                out["cache_read_tokens"] = cr or 0
                out["cache_write_tokens"] = cw or 0
                out["input_tokens"] = (it or 0) + (cr or 0) + (cw or 0)
            out["output_tokens"] = _int(get(usage, "output_tokens")) or 0
        elif bt is not None or _int(get(usage, "outputTokens")) is not None:
            out["shape"] = "bedrock"
            cr = _int(get(usage, "cacheReadInputTokens")) or 0
            cw = _int(get(usage, "cacheWriteInputTokens")) or 0
            out["input_tokens"] = (bt or 0) + cr + cw
            out["output_tokens"] = _int(get(usage, "outputTokens")) or 0
            out["cache_read_tokens"], out["cache_write_tokens"] = cr, cw
    else:
        um = get(response, "usage_metadata")
        if um is not None and (_int(get(um, "prompt_token_count")) is not None):
            out["shape"] = "gemini"
            out["input_tokens"] = _int(get(um, "prompt_token_count")) or 0
            out["output_tokens"] = _int(get(um, "candidates_token_count")) or 0
            out["cache_read_tokens"] = _int(get(um, "cached_content_token_count")) or 0
            out["cache_write_tokens"] = 0
            thoughts = _int(get(um, "thoughts_token_count"))
            if thoughts:
                out["reasoning_tokens"] = thoughts
                out["output_tokens"] += thoughts  # billed as output
    model = get(response, "model") or get(response, "modelId") or get(response, "model_version")
    if isinstance(model, str) and model:
        out["model"] = model
    if rid is None:
        rid = get(response, "id") or get(response, "_request_id") or get(response, "response_id")
    if isinstance(rid, str) and rid:
        out["request_id"] = rid
    if out["shape"] == "bedrock" or meta is not None:
        out["provider"] = "bedrock"
    elif out["shape"] in ("openai", "openai-responses"):
        out["provider"] = "openai"
    elif out["shape"] == "anthropic" or get(response, "type") == "message":
        out["provider"] = "anthropic"
    elif out["shape"] == "gemini":
        out["provider"] = "gemini"
    return out
