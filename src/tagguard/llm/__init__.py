"""Tag every model call, record its tokens, and price them with ``tagguard usage``.

Pure Python, standard library only: importing this package never pulls in
click, jsonschema or PyYAML, and no provider SDK is needed::

    import tagguard.llm as tg

    tg.configure(sink="logs/llm-usage.jsonl")            # or "stdout", or a callable
    with tg.tags(business_unit="research", project="rag", environment="prod", cost_center="CC-1"):
        resp = client.chat.completions.create(model="gpt-4o", messages=msgs)
        tg.record(resp)                                    # OpenAI, Anthropic, Bedrock, Gemini shapes

    create = tg.wrap(client.messages.create)               # times and records every call

Recording never raises into the application: a failed write is counted
(``stats()``) and warned once.
"""
from __future__ import annotations

import threading
from typing import Any, Callable
from collections.abc import Iterable, Mapping

from tagguard.llm.recorder import (  # noqa: F401
    DEFAULT_SINK_ENV,
    DEFAULT_SINK_PATH,
    Recorder,
    TagguardLLMWarning,
    prompt_fingerprint,
)
from tagguard.llm.scope import current_tags, tags  # noqa: F401
from tagguard.llm.sinks import CallableSink, JsonlSink, Sink, StreamSink  # noqa: F401

__all__ = ["tags", "current_tags", "record", "wrap", "configure", "stats", "get_recorder", "prompt_fingerprint",
           "Recorder", "Sink", "JsonlSink", "StreamSink", "CallableSink", "TagguardLLMWarning",
           "token_showback_rows"]

_lock = threading.Lock()
_recorder: Recorder | None = None


def configure(sink: Any = None, *, required_tags: Iterable[str] | None = None, taxonomy: Any = None,
              service: str | None = None, default_tags: Mapping[str, Any] | None = None,
              key_map: Mapping[str, str] | None = None, key_style: str | None = None,
              max_bytes: int | None = None, backups: int | None = None) -> Recorder:
    """Set up the process-wide recorder (call once at start-up; calling again replaces it).

    sink: a JSONL path (``{pid}`` is replaced by the process id), ``"stdout"``, ``"stderr"``, a
    callable taking the record dict, or a ``Sink``.  Default: ``$TAGGUARD_LLM_SINK`` or
    ``./tagguard-llm-usage.jsonl``.  ``max_bytes`` (default 50 MiB, 0 = never) and ``backups``
    (default 5) control rotation of a JSONL file.
    required_tags / taxonomy: which keys make a call "tagged" (default: the ``required`` list of the
    shipped taxonomy).  key_map / key_style: how keyword names become tag keys
    (default ``business_unit`` -> ``business-unit``; ``key_style="asis"`` keeps them).
    """
    global _recorder
    from tagguard.llm.sinks import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES

    if key_map is not None or key_style is not None:
        from tagguard.llm.scope import set_key_mapping

        set_key_mapping(key_map, key_style)
    rec = Recorder(sink, required_tags=required_tags, taxonomy=taxonomy, service=service, default_tags=default_tags,
                   max_bytes=DEFAULT_MAX_BYTES if max_bytes is None else max_bytes,
                   backups=DEFAULT_BACKUPS if backups is None else backups)
    with _lock:
        old, _recorder = _recorder, rec
    if old is not None:
        old.close()
    return rec


def get_recorder() -> Recorder:
    global _recorder
    if _recorder is None:
        with _lock:
            if _recorder is None:
                _recorder = Recorder()
    return _recorder


def record(response: Any, model: str | None = None, provider: str | None = None,
           prompt_fingerprint: str | None = None, latency_ms: float | None = None,
           **extra: Any) -> dict[str, Any] | None:
    """Record one model call from its response (dict or SDK object).  Never raises.

    extra keywords: ``request_id``, ``service``, ``batch=True`` (priced at batch rates),
    ``tags={...}`` (added to the scope's tags for this call); anything else is kept under ``extra``.
    """
    try:
        rec = get_recorder()
    except Exception:  # pragma: no cover - an unusable default sink path
        return None
    return rec.record(response, model, provider, prompt_fingerprint, latency_ms, **extra)


def wrap(client_call: Callable, *, model: str | None = None, provider: str | None = None,
         fingerprint: None | str | Callable[..., str | None] = None, **extra: Any) -> Callable:
    """Wrap a client call (sync or async) so each call is timed and recorded."""
    return get_recorder().wrap(client_call, model=model, provider=provider, fingerprint=fingerprint, **extra)


def stats() -> dict[str, int]:
    """``{"recorded", "untagged", "failed", "errors"}`` of the process-wide recorder."""
    return get_recorder().stats()


def __getattr__(name: str) -> Any:  # lazy: the reporting side is not needed to record
    if name == "token_showback_rows":
        from tagguard.llm.report import token_showback_rows

        return token_showback_rows
    raise AttributeError(f"module 'tagguard.llm' has no attribute {name!r}")
