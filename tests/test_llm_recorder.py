"""tagguard.llm recording: response shapes, tag scopes, sinks, failure handling, rotation."""
from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

import tagguard.llm as tg
from tagguard.llm.sdk.recorder import Recorder, TagguardLLMWarning
from tagguard.llm.sdk.shapes import extract_usage
from tagguard.llm.sdk.sinks import JsonlSink, StreamSink

FULL = dict(business_unit="research", project="rag", environment="prod", cost_center="CC-1")


@pytest.fixture
def out():
    records = []
    tg.configure(sink=records.append)
    yield records
    tg.configure(sink=lambda r: None)


# --- shapes ---------------------------------------------------------------------------
@dataclass
class PromptDetails:
    cached_tokens: int


@dataclass
class OpenAIUsage:
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptDetails | None = None


@dataclass
class OpenAIResponse:
    id: str
    model: str
    usage: OpenAIUsage
    object: str = "chat.completion"


@dataclass
class AnthropicUsage:
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


@dataclass
class AnthropicMessage:
    id: str
    model: str
    usage: AnthropicUsage
    type: str = "message"
    content: list = field(default_factory=list)


OPENAI_DICT = {"id": "chatcmpl-9", "model": "gpt-4o-2024-08-06",
               "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
                         "prompt_tokens_details": {"cached_tokens": 1024},
                         "completion_tokens_details": {"reasoning_tokens": 64}}}
ANTHROPIC_DICT = {"id": "msg_01", "type": "message", "model": "claude-sonnet-4-5",
                  "usage": {"input_tokens": 50, "output_tokens": 700, "cache_read_input_tokens": 4000,
                            "cache_creation_input_tokens": 1000}}
BEDROCK_DICT = {"ResponseMetadata": {"RequestId": "6f1c-req", "HTTPStatusCode": 200},
                "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
                "usage": {"inputTokens": 30, "outputTokens": 12, "totalTokens": 42,
                          "cacheReadInputTokens": 100, "cacheWriteInputTokens": 20},
                "metrics": {"latencyMs": 333}}


def ns(d):
    """Nested SimpleNamespace from a dict (an SDK-object stand-in made of real attribute access)."""
    if isinstance(d, dict):
        return SimpleNamespace(**{k: ns(v) for k, v in d.items()})
    return d


@pytest.mark.parametrize("make", [lambda d: d, ns], ids=["dict", "namespace"])
def test_openai_shape(make):
    u = extract_usage(make(OPENAI_DICT))
    assert u["shape"] == "openai" and u["provider"] == "openai"
    assert ((u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"])
            == (1200, 300, 1024, 0))
    assert u["reasoning_tokens"] == 64 and u["model"] == "gpt-4o-2024-08-06" and u["request_id"] == "chatcmpl-9"


@pytest.mark.parametrize("make", [lambda d: d, ns], ids=["dict", "namespace"])
def test_anthropic_shape_input_made_total(make):
    u = extract_usage(make(ANTHROPIC_DICT))
    # Anthropic's input_tokens exclude cache reads and writes: the total is 50 + 4000 + 1000
    assert u["shape"] == "anthropic" and u["provider"] == "anthropic"
    assert ((u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"])
            == (5050, 700, 4000, 1000))


@pytest.mark.parametrize("make", [lambda d: d, ns], ids=["dict", "namespace"])
def test_bedrock_converse_shape(make):
    u = extract_usage(make(BEDROCK_DICT))
    assert u["shape"] == "bedrock" and u["provider"] == "bedrock" and u["request_id"] == "6f1c-req"
    assert ((u["input_tokens"], u["output_tokens"], u["cache_read_tokens"], u["cache_write_tokens"])
            == (150, 12, 100, 20))
    assert "model" not in u  # Converse responses do not name the model


def test_dataclass_shapes():
    o = extract_usage(OpenAIResponse("chatcmpl-1", "gpt-4o", OpenAIUsage(10, 5, 15, PromptDetails(4))))
    assert (o["shape"], o["input_tokens"], o["output_tokens"], o["cache_read_tokens"]) == ("openai", 10, 5, 4)
    a = extract_usage(AnthropicMessage("msg_1", "claude-haiku-4-5", AnthropicUsage(7, 9)))
    assert (a["shape"], a["input_tokens"], a["output_tokens"], a["cache_read_tokens"]) == ("anthropic", 7, 9, 0)


def test_openai_responses_and_gemini_shapes():
    r = extract_usage({"id": "resp_1", "model": "gpt-4.1", "usage": {
        "input_tokens": 900, "output_tokens": 100, "input_tokens_details": {"cached_tokens": 800},
        "output_tokens_details": {"reasoning_tokens": 30}}})
    assert ((r["shape"], r["input_tokens"], r["cache_read_tokens"], r["reasoning_tokens"])
            == ("openai-responses", 900, 800, 30))
    g = extract_usage(ns({"model_version": "gemini-2.5-pro", "usage_metadata": {
        "prompt_token_count": 100, "candidates_token_count": 20, "cached_content_token_count": 60,
        "thoughts_token_count": 5}}))
    assert (g["shape"], g["input_tokens"], g["output_tokens"], g["cache_read_tokens"]) == ("gemini", 100, 25, 60)


def test_no_usage_is_marked_not_guessed(out):
    rec = tg.record(SimpleNamespace(id="x"), model="gpt-4o")
    assert rec["usage_missing"] is True and rec["input_tokens"] is None


# --- record + scopes --------------------------------------------------------------------
def test_record_carries_tags_and_marks_untagged(out):
    with tg.tags(**FULL):
        tg.record(OPENAI_DICT, latency_ms=812.49, prompt_fingerprint="fp1", service="api")
    with tg.tags(business_unit="research"):
        tg.record(ANTHROPIC_DICT, batch=True, ticket="T-1")
    first, second = out
    assert first["tags"] == {"business-unit": "research", "project": "rag", "environment": "prod",
                             "cost-center": "CC-1"}
    assert "untagged" not in first and first["latency_ms"] == 812.5 and first["service"] == "api"
    assert first["prompt_fingerprint"] == "fp1" and first["request_id"] == "chatcmpl-9"
    assert first["ts"].endswith("Z") and len(first["ts"]) == 24
    assert second["untagged"] is True and second["missing_tags"] == ["project", "environment", "cost-center"]
    assert second["batch"] is True and second["extra"] == {"ticket": "T-1"}
    assert tg.stats()["untagged"] == 1 and tg.stats()["recorded"] == 2


def test_nested_scopes_merge_and_restore():
    assert tg.current_tags() == {}
    with tg.tags(business_unit="a", project="p1"):
        with tg.tags(project="p2", environment="dev") as inner:
            assert inner == {"business-unit": "a", "project": "p2", "environment": "dev"}
        assert tg.current_tags() == {"business-unit": "a", "project": "p1"}
    assert tg.current_tags() == {}


def test_decorator_sync_and_async():
    @tg.tags(project="deco")
    def f():
        return tg.current_tags()

    @tg.tags(project="adeco")
    async def g():
        await asyncio.sleep(0)
        return tg.current_tags()

    assert f() == {"project": "deco"}
    assert asyncio.run(g()) == {"project": "adeco"}
    assert tg.current_tags() == {}


def test_threads_keep_their_own_scope():
    seen = {}
    barrier = threading.Barrier(2)

    def worker(name):
        with tg.tags(project=name):
            barrier.wait()  # both scopes are open at once
            seen[name] = tg.current_tags()

    with tg.tags(business_unit="outer"):
        ts = [threading.Thread(target=worker, args=(n,)) for n in ("t1", "t2")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    # a new thread starts without the parent's scope, and never sees the other thread's
    assert seen == {"t1": {"project": "t1"}, "t2": {"project": "t2"}}


def test_async_tasks_keep_their_own_scope():
    async def job(name):
        with tg.tags(project=name):
            await asyncio.sleep(0.01)
            return tg.current_tags()["project"]

    async def main():
        with tg.tags(business_unit="bu"):
            return await asyncio.gather(job("a"), job("b"), job("c"))

    assert asyncio.run(main()) == ["a", "b", "c"]


def test_key_mapping_configurable(out):
    try:
        tg.configure(sink=out.append, key_map={"team": "business-unit"})
        with tg.tags(team="x", cost_center="c", **{"Owner": "o"}):
            assert tg.current_tags() == {"business-unit": "x", "cost-center": "c", "Owner": "o"}
        tg.configure(sink=out.append, key_style="asis", key_map={})
        with tg.tags(cost_center="c"):
            assert tg.current_tags() == {"cost_center": "c"}
    finally:
        tg.configure(sink=out.append, key_style="kebab", key_map={})


def test_required_tags_configurable(out):
    rec = Recorder(out.append, required_tags=["team"])
    with tg.tags(team="x"):
        assert "untagged" not in rec.record(OPENAI_DICT)
    assert rec.record(OPENAI_DICT)["missing_tags"] == ["team"]


def test_wrap_sync_and_async(out):
    calls = []

    def create(**kw):
        calls.append(kw)
        return dict(OPENAI_DICT, model=None)

    async def acreate(**kw):
        await asyncio.sleep(0)
        return BEDROCK_DICT

    wrapped = tg.wrap(create, fingerprint=lambda a, k: k["messages"][0]["content"][:5])
    with tg.tags(**FULL):
        assert wrapped(model="gpt-4o-mini", messages=[{"content": "hello world"}])["id"] == "chatcmpl-9"
        awrapped = tg.wrap(acreate)
        asyncio.run(awrapped(modelId="anthropic.claude-3-haiku-20240307-v1:0"))
    assert out[0]["model"] == "gpt-4o-mini" and out[0]["prompt_fingerprint"] == "hello"
    assert out[0]["latency_ms"] >= 0 and calls
    assert out[1]["model"] == "anthropic.claude-3-haiku-20240307-v1:0" and out[1]["provider"] == "bedrock"
    assert out[1]["tags"]["project"] == "rag"


def test_wrap_propagates_exceptions_and_records_nothing(out):
    def boom(**kw):
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        tg.wrap(boom)(model="gpt-4o")
    assert out == []


# --- sinks and failure handling ------------------------------------------------------
def test_failing_sink_never_raises_counts_and_warns_once(caplog):
    def bad(record):
        raise OSError(28, "No space left on device")

    rec = Recorder(bad)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            assert rec.record(OPENAI_DICT) is not None
    assert rec.stats() == {"recorded": 0, "untagged": 0, "failed": 3, "errors": 0}
    ours = [x for x in w if issubclass(x.category, TagguardLLMWarning)]
    assert len(ours) == 1 and "No space left on device" in str(ours[0].message)
    assert sum("records are being lost" in r.message for r in caplog.records) == 1


def test_read_only_directory_sink(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a read-only directory is still writable")
        rec = Recorder(str(ro / "usage.jsonl"))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            rec.record(OPENAI_DICT)
            rec.record(OPENAI_DICT)
        assert rec.failed == 2 and rec.recorded == 0
        assert len([x for x in w if issubclass(x.category, TagguardLLMWarning)]) == 1
    finally:
        ro.chmod(0o700)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_disk_full_sink():
    # /dev/full fails every write with ENOSPC: a real full disk, also when running as root
    rec = Recorder(JsonlSink("/dev/full", max_bytes=0))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(5):
            rec.record(OPENAI_DICT)
    assert rec.stats()["failed"] == 5 and rec.recorded == 0
    ours = [x for x in w if issubclass(x.category, TagguardLLMWarning)]
    assert len(ours) == 1 and "No space left" in str(ours[0].message)


def test_unreadable_response_is_counted_not_raised():
    class Evil:
        @property
        def usage(self):
            raise RuntimeError("sdk bug")

        def __getattr__(self, name):
            raise RuntimeError("sdk bug")

    rec = Recorder(lambda r: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec.record(Evil())  # shapes.get swallows attribute errors: usage missing, still recorded
    assert rec.recorded == 1 and rec.failed == 0


def test_jsonl_rotation_keeps_backups(tmp_path):
    path = tmp_path / "logs" / "usage.jsonl"
    sink = JsonlSink(path, max_bytes=1000, backups=2)
    rec = Recorder(sink)
    for i in range(40):
        rec.record(OPENAI_DICT, request_id=f"r{i}")
    sink.close()
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["usage.jsonl", "usage.jsonl.1", "usage.jsonl.2"]
    lines = []
    for name in ("usage.jsonl.2", "usage.jsonl.1", "usage.jsonl"):
        text = (path.parent / name).read_text()
        assert len(text.encode()) <= 1000
        lines += [json.loads(x)["request_id"] for x in text.splitlines()]
    # the newest records survive, in order, with nothing torn
    assert lines == [f"r{i}" for i in range(40 - len(lines), 40)]


def test_jsonl_sink_thread_safe_and_appends(tmp_path):
    path = tmp_path / "u.jsonl"
    path.write_text('{"existing": true}\n')
    rec = Recorder(str(path), max_bytes=0)

    def burst():
        for _ in range(200):
            rec.record(OPENAI_DICT)

    ts = [threading.Thread(target=burst) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    rec.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 801 and json.loads(lines[0]) == {"existing": True}
    assert all(json.loads(x)["input_tokens"] == 1200 for x in lines[1:])


def test_pid_placeholder_and_stdout_sink(tmp_path, capsys):
    sink = JsonlSink(str(tmp_path / "u-{pid}.jsonl"))
    Recorder(sink).record(OPENAI_DICT)
    assert (tmp_path / f"u-{os.getpid()}.jsonl").exists()
    Recorder("stdout").record(OPENAI_DICT)
    assert json.loads(capsys.readouterr().out)["output_tokens"] == 300
    buf = io.StringIO()
    Recorder(StreamSink(buf)).record(ANTHROPIC_DICT)
    assert json.loads(buf.getvalue())["cache_write_tokens"] == 1000


def test_default_sink_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGGUARD_LLM_SINK", str(tmp_path / "env.jsonl"))
    Recorder().record(OPENAI_DICT)
    assert (tmp_path / "env.jsonl").read_text().count("\n") == 1


def test_import_is_stdlib_only():
    code = ("import sys, tagguard.llm as tg; tg.configure(sink=lambda r: None); "
            "tg.record({'usage': {'prompt_tokens': 1, 'completion_tokens': 1}}); "
            "bad = [m for m in ('click', 'jsonschema', 'yaml') if m in sys.modules]; print(bad)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


# --- the SDK stands alone -------------------------------------------------------------------

SDK_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "tagguard", "llm", "sdk")


def test_sdk_imports_nothing_else_from_tagguard_at_runtime():
    """Recording (default recorder, required tags, scopes, wrap, a JSONL sink) loads only the SDK:
    not the usage analysis, not the scanner, not tagguard.resources."""
    code = ("import sys, tempfile, os, tagguard.llm as tg\n"
            "d = tempfile.mkdtemp(); os.environ['TAGGUARD_LLM_SINK'] = os.path.join(d, 'x.jsonl')\n"
            "rec = tg.get_recorder()\n"
            "with tg.tags(project='p'):\n"
            "    tg.record({'usage': {'prompt_tokens': 1, 'completion_tokens': 1}}, model='gpt-4o')\n"
            "    tg.wrap(lambda: {'usage': {'input_tokens': 2, 'output_tokens': 1}}, model='claude')()\n"
            "tg.configure(sink='stdout', key_style='asis'); tg.configure(sink=os.path.join(d, 'y.jsonl'))\n"
            "assert rec.stats()['recorded'] == 2 and rec.stats()['untagged'] == 2, rec.stats()\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('tagguard'))))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = res.stdout.split()
    assert "tagguard.llm.sdk.recorder" in loaded
    assert [m for m in loaded if m not in ("tagguard", "tagguard.llm", "tagguard.llm.sdk")
            and not m.startswith("tagguard.llm.sdk.")] == []


def test_sdk_source_imports_only_the_sdk():
    """Also the imports inside functions (a code path the runtime test may not take)."""
    import ast

    found = []
    for name in sorted(os.listdir(SDK_DIR)):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(SDK_DIR, name), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{name}:{node.lineno}: {m}" for m in mods
                      if m.split(".")[0] == "tagguard" and not (m + ".").startswith("tagguard.llm.sdk.")]
    assert len([n for n in os.listdir(SDK_DIR) if n.endswith(".py")]) >= 5
    assert found == []


def test_sdk_default_required_tags_are_the_shipped_taxonomys():
    from tagguard.llm.sdk.recorder import default_required_tags
    from tagguard.resources import read_text

    assert default_required_tags() == json.loads(read_text("schemas/taxonomy.default.json"))["required"]


def test_public_import_path_is_kept():
    import tagguard.llm.sdk as sdk
    from tagguard.llm.analysis.report import token_showback_rows

    for name in tg.__all__:
        assert getattr(tg, name) is (token_showback_rows if name == "token_showback_rows" else getattr(sdk, name))
    tg.configure(sink=lambda r: None)
    assert tg.get_recorder() is sdk.get_recorder()
