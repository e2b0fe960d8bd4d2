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

Two parts: ``tagguard.llm.sdk`` (the recorder above, re-exported here: this is the import path
users are told to use) and ``tagguard.llm.analysis`` (``tagguard usage``: ingest, price, aggregate,
budgets, report), which the recorder never imports.
"""
from __future__ import annotations

from typing import Any

from tagguard.llm.sdk import (  # noqa: F401  (the public API: ``import tagguard.llm as tg``)
    DEFAULT_SINK_ENV,
    DEFAULT_SINK_PATH,
    CallableSink,
    JsonlSink,
    Recorder,
    Sink,
    StreamSink,
    TagguardLLMWarning,
    configure,
    current_tags,
    get_recorder,
    prompt_fingerprint,
    record,
    stats,
    tags,
    wrap,
)

__all__ = ["tags", "current_tags", "record", "wrap", "configure", "stats", "get_recorder", "prompt_fingerprint",
           "Recorder", "Sink", "JsonlSink", "StreamSink", "CallableSink", "TagguardLLMWarning",
           "token_showback_rows"]


def __getattr__(name: str) -> Any:  # lazy: the analysis is not needed to record
    if name == "token_showback_rows":
        from tagguard.llm.analysis.report import token_showback_rows

        return token_showback_rows
    raise AttributeError(f"module 'tagguard.llm' has no attribute {name!r}")
