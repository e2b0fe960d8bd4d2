"""``record()`` and ``wrap()``: one JSON line per model call, never an exception into the app."""
from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import os
import threading
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from collections.abc import Iterable, Mapping

from tagguard.llm.sdk import scope
from tagguard.llm.sdk.shapes import extract_usage
from tagguard.llm.sdk.sinks import DEFAULT_BACKUPS, DEFAULT_MAX_BYTES, Sink, make_sink

RECORD_VERSION = 1
DEFAULT_SINK_ENV = "TAGGUARD_LLM_SINK"
DEFAULT_SINK_PATH = "tagguard-llm-usage.jsonl"
log = logging.getLogger("tagguard.llm")


class TagguardLLMWarning(RuntimeWarning):
    """A usage record could not be written (warned once per recorder)."""


def prompt_fingerprint(text: str | bytes | Iterable[Any]) -> str:
    """A short, stable id of a prompt template (sha256, 16 hex characters); the text itself is not kept."""
    if isinstance(text, bytes):
        data = text
    elif isinstance(text, str):
        data = " ".join(text.split()).encode("utf-8")
    else:
        data = repr(list(text)).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


# The ``required`` keys of the shipped default taxonomy (``schemas/taxonomy.default.json``), written
# out so the recorder needs nothing from the rest of tagguard; a test checks that they agree.
DEFAULT_REQUIRED_TAGS = ("business-unit", "project", "environment", "cost-center")


def default_required_tags() -> list[str]:
    """The ``required`` keys of the shipped default taxonomy."""
    return list(DEFAULT_REQUIRED_TAGS)


def _required_from_taxonomy(path: str | Path) -> list[str]:
    import json

    text = Path(path).read_text(encoding="utf-8")
    if str(path).endswith((".yaml", ".yml")):
        import yaml  # only when the user points at a YAML taxonomy

        schema = yaml.safe_load(text)
    else:
        schema = json.loads(text)
    return [k for k in (schema or {}).get("required", []) if isinstance(k, str)]


class Recorder:
    """Holds the sink, the required tags and the counters.  ``tagguard.llm`` keeps one."""

    def __init__(self, sink: Any = None, *, required_tags: Iterable[str] | None = None,
                 taxonomy: str | Path | None = None, service: str | None = None,
                 default_tags: Mapping[str, Any] | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS):
        if sink is None:
            sink = os.environ.get(DEFAULT_SINK_ENV) or DEFAULT_SINK_PATH
        self.sink: Sink = make_sink(sink, max_bytes=max_bytes, backups=backups)
        if required_tags is not None:
            self.required = [str(k) for k in required_tags]
        elif taxonomy is not None:
            self.required = _required_from_taxonomy(taxonomy)
        else:
            self.required = default_required_tags()
        self.service = service
        self.default_tags = {str(k): str(v) for k, v in (default_tags or {}).items() if v is not None}
        self._lock = threading.Lock()
        self.recorded = 0
        self.untagged = 0
        self.failed = 0
        self.errors = 0
        self._warned = False

    # -- counters / warning --------------------------------------------------------
    def stats(self) -> dict[str, int]:
        return {"recorded": self.recorded, "untagged": self.untagged, "failed": self.failed, "errors": self.errors}

    def _warn_once(self, what: str, exc: BaseException) -> None:
        with self._lock:
            if self._warned:
                return
            self._warned = True
        msg = (f"tagguard.llm: {what}: {type(exc).__name__}: {exc}; usage records are being lost "
               f"(counted in tagguard.llm.stats(); this warning is shown once)")
        try:
            log.warning(msg)
            warnings.warn(msg, TagguardLLMWarning, stacklevel=4)
        except Exception:
            pass

    # -- building and writing ------------------------------------------------------
    def build(self, response: Any, model: str | None = None, provider: str | None = None,
              prompt_fingerprint: str | None = None, latency_ms: float | None = None,
              **extra: Any) -> dict[str, Any]:
        usage = extract_usage(response)
        tags = dict(self.default_tags)
        tags.update(scope.current_tags())
        call_tags = extra.pop("tags", None)
        if call_tags:
            tags.update({str(k): str(v) for k, v in call_tags.items() if v is not None})
        now = datetime.now(timezone.utc)
        rec: dict[str, Any] = {
            "v": RECORD_VERSION,
            "ts": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
            "provider": provider or usage.get("provider"),
            "model": model or usage.get("model"),
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "cache_read_tokens": usage.get("cache_read_tokens"),
            "cache_write_tokens": usage.get("cache_write_tokens"),
        }
        if usage.get("reasoning_tokens"):
            rec["reasoning_tokens"] = usage["reasoning_tokens"]
        if usage["shape"] is None:
            rec["usage_missing"] = True
        rid = extra.pop("request_id", None) or usage.get("request_id")
        if rid:
            rec["request_id"] = rid
        if latency_ms is not None:
            rec["latency_ms"] = round(float(latency_ms), 1)
        service = extra.pop("service", None) or self.service
        if service:
            rec["service"] = str(service)
        if prompt_fingerprint:
            rec["prompt_fingerprint"] = str(prompt_fingerprint)
        if extra.pop("batch", False):
            rec["batch"] = True
        rec["tags"] = tags
        missing = [k for k in self.required if not tags.get(k)]
        if missing:
            rec["untagged"] = True
            rec["missing_tags"] = missing
        if extra:
            rec["extra"] = extra
        return rec

    def record(self, response: Any, model: str | None = None, provider: str | None = None,
               prompt_fingerprint: str | None = None, latency_ms: float | None = None,
               **extra: Any) -> dict[str, Any] | None:
        """Write one usage record; returns it (or None when it could not be built).  Never raises."""
        try:
            rec = self.build(response, model, provider, prompt_fingerprint, latency_ms, **extra)
        except Exception as exc:  # an unexpected response object must not break the app
            with self._lock:
                self.errors += 1
            self._warn_once("cannot read the response", exc)
            return None
        try:
            self.sink.write(rec)
        except Exception as exc:
            with self._lock:
                self.failed += 1
            self._warn_once(f"cannot write to {getattr(self.sink, 'path', self.sink)}", exc)
            return rec
        with self._lock:
            self.recorded += 1
            if rec.get("untagged"):
                self.untagged += 1
        return rec

    def wrap(self, client_call: Callable, *, model: str | None = None, provider: str | None = None,
             fingerprint: None | str | Callable[..., str | None] = None, **extra: Any) -> Callable:
        """``create = wrap(client.chat.completions.create)``: call it as before; each call is timed and recorded.

        The model comes from ``model=``, else the call's ``model``/``modelId`` keyword, else the response.
        ``fingerprint`` is a string or a function ``(args, kwargs) -> str``.  Exceptions from the call
        propagate unchanged and record nothing.
        """
        def fp(a: tuple, k: dict) -> str | None:
            if fingerprint is None or isinstance(fingerprint, str):
                return fingerprint
            try:
                return fingerprint(a, k)
            except Exception:
                return None

        def done(result: Any, a: tuple, k: dict, t0: float) -> None:
            ms = (time.perf_counter() - t0) * 1000.0
            m = model or k.get("model") or k.get("modelId")
            self.record(result, model=m if isinstance(m, str) else None, provider=provider,
                        prompt_fingerprint=fp(a, k), latency_ms=ms, **extra)

        if inspect.iscoroutinefunction(client_call):
            @functools.wraps(client_call)
            async def awrapper(*a: Any, **k: Any) -> Any:
                t0 = time.perf_counter()
                result = await client_call(*a, **k)
                done(result, a, k, t0)
                return result
            return awrapper

        @functools.wraps(client_call)
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            result = client_call(*a, **k)
            if inspect.isawaitable(result):  # an async client method that is not a coroutine function
                async def finish() -> Any:
                    value = await result
                    done(value, a, k, t0)
                    return value
                return finish()
            done(result, a, k, t0)
            return result
        return wrapper

    def close(self) -> None:
        try:
            self.sink.close()
        except Exception:
            pass
