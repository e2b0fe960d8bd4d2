"""The recorder users import into their applications (``import tagguard.llm as tg`` re-exports it).

Standard library only, and nothing from the rest of tagguard (not the usage analysis in
``tagguard.llm.analysis``, not the scanner): ``tests/test_llm_recorder.py`` checks both.

* ``recorder``: ``Recorder`` (required tags, counters, ``record``/``wrap``), ``prompt_fingerprint``;
* ``shapes``: token usage read from OpenAI, Anthropic, Bedrock and Gemini responses;
* ``scope``: ``tags(...)`` scopes (a ContextVar) and keyword -> tag key mapping;
* ``sinks``: JSONL file (rotated), stdout/stderr, callable.

This module keeps the process-wide recorder behind ``configure``/``record``/``wrap``/``stats``.
"""
from __future__ import annotations

import threading
from typing import Any, Callable
from collections.abc import Iterable, Mapping

from tagguard.llm.sdk.recorder import (  # noqa: F401
    DEFAULT_SINK_ENV,
    DEFAULT_SINK_PATH,
    Recorder,
    TagguardLLMWarning,
    prompt_fingerprint,
)
from tagguard.llm.sdk.scope import current_tags, set_key_mapping, tags  # noqa: F401
from tagguard.llm.sdk.sinks import (  # noqa: F401
    DEFAULT_BACKUPS,
    DEFAULT_MAX_BYTES,
    CallableSink,
    JsonlSink,
    Sink,
    StreamSink,
)

__all__ = ["tags", "current_tags", "record", "wrap", "configure", "stats", "get_recorder", "prompt_fingerprint",
           "Recorder", "Sink", "JsonlSink", "StreamSink", "CallableSink", "TagguardLLMWarning"]

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
    if key_map is not None or key_style is not None:
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
