"""LLM usage logs are untrusted input (issue 10): a 1 GB line took 21 GB.  Lines over the cap
(TAGGUARD_MAX_LINE_BYTES, 1 MiB by default) are one parse error each, read in pieces and never held
whole; deep JSON is one parse error; values quoted in messages are clipped; the other lines count."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.security.conftest import assert_no_leak, run_cli

MiB = 1024 * 1024


def record(i: int) -> str:
    return json.dumps({"v": 1, "ts": "2026-03-02T00:00:00Z", "model": "gpt-4o", "input_tokens": 100 + i,
                       "output_tokens": 10, "service": "api",
                       "tags": {"business-unit": "research", "project": "llm", "environment": "prod",
                                "cost-center": "CC-1"}})


def usage(tmp_path: Path, secret, path: Path, *extra: str, env=None, timeout: float = 120, memory=None):
    out = tmp_path / "usage-report.json"
    kw = {} if memory is None else {"memory": memory}
    run = run_cli(["usage", str(path), "-f", "json", "-o", str(out), *extra], cwd=tmp_path, secret=secret,
                  env=env, timeout=timeout, **kw)
    assert not run.timed_out, run.stderr[-2000:]
    assert "Traceback" not in run.all_text() and "internal error" not in run.all_text().lower(), run.stderr[-2000:]
    assert run.returncode in (0, 1), run.stderr[-2000:]
    text = out.read_text()
    assert_no_leak(run, secret)
    assert secret.value not in text
    return run, json.loads(text), text


def parse_errors(doc):
    return [f for f in doc["findings"] if f["rule"] == "parse-error"]


def test_huge_line_is_one_parse_error_in_bounded_memory(tmp_path, secret):
    path = tmp_path / "usage.jsonl"
    with open(path, "w") as fh:
        fh.write(record(0) + "\n")
        fh.write('{"v": 1, "ts": "2026-03-02T00:00:00Z", "model": "' + secret.value)
        chunk = "x" * MiB
        for _ in range(400):  # a 400 MB line
            fh.write(chunk)
        fh.write('", "tags": {}}\n')
        fh.write(record(2) + "\n")
    run, doc, text = usage(tmp_path, secret, path, memory=1536 * MiB)
    assert doc["totals"]["calls"] == 2, doc["totals"]
    (err,) = parse_errors(doc)
    assert err["line"] == 2 and "longer than 1 MiB" in err["message"], err
    assert "TAGGUARD_MAX_LINE_BYTES" in err["message"]
    assert run.max_rss_bytes < 200 * MiB, f"peak RSS {run.max_rss_bytes / MiB:.0f} MiB for a 400 MB line"
    assert len(text) < 50_000


def test_line_cap_is_configurable(tmp_path, secret):
    path = tmp_path / "usage.jsonl"
    long = json.loads(record(1))
    long["service"] = "s" * 5000
    path.write_text(record(0) + "\n" + json.dumps(long) + "\n" + record(2) + "\n")
    _, doc, _ = usage(tmp_path, secret, path)
    assert doc["totals"]["calls"] == 3 and not parse_errors(doc)
    _, doc, _ = usage(tmp_path, secret, path, env={"TAGGUARD_MAX_LINE_BYTES": "2K"})
    assert doc["totals"]["calls"] == 2
    (err,) = parse_errors(doc)
    assert err["line"] == 2 and "longer than 2 KiB" in err["message"]


def test_deep_json_line_is_one_parse_error(tmp_path, secret):
    path = tmp_path / "usage.jsonl"
    # 0.8 MB: under the line cap
    deep = '{"v": 1, "ts": "2026-03-02T00:00:00Z", "tags": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}"
    path.write_text(record(0) + "\n" + deep + "\n" + "[" * 300_000 + "]" * 300_000 + "\n" + record(3) + "\n")
    _, doc, _ = usage(tmp_path, secret, path)
    assert doc["totals"]["calls"] == 2
    errs = parse_errors(doc)
    assert [e["line"] for e in errs] == [2, 3] and all("nested too deeply" in e["message"] for e in errs), errs


def test_deep_first_line_and_pretty_document(tmp_path, secret):
    path = tmp_path / "first.jsonl"
    path.write_text('{"ts": ' + "[" * 300_000 + "]" * 300_000 + "}\n" + record(1) + "\n")
    _, doc, _ = usage(tmp_path, secret, path)
    assert doc["totals"]["calls"] == 1 and [e["line"] for e in parse_errors(doc)] == [1]
    pretty = tmp_path / "otlp.json"
    pretty.write_text("{\n" + '"resourceSpans": ' + "[" * 300_000 + "]" * 300_000 + "\n}\n")
    _, doc, _ = usage(tmp_path, secret, pretty)
    (err,) = parse_errors(doc)
    assert "nested" in err["message"]


def test_long_values_are_clipped_in_messages(tmp_path, secret):
    path = tmp_path / "usage.jsonl"
    odd = json.dumps({("k" * 200_000): 1, "other": 2})
    bad_ts = json.dumps({"v": 1, "ts": "t" * 200_000, "tags": {}})
    path.write_text(record(0) + "\n" + odd + "\n" + bad_ts + "\n")
    _, doc, text = usage(tmp_path, secret, path)
    errs = parse_errors(doc)
    assert [e["line"] for e in errs] == [2, 3]
    assert all(len(e["message"]) < 1000 for e in errs), [len(e["message"]) for e in errs]
    assert len(text) < 50_000


def test_huge_array_element_and_csv_field(tmp_path, secret):
    arr = tmp_path / "spend.json"
    row = {"request_id": "r1", "startTime": "2026-03-01T00:00:00Z", "model": "gpt-4o", "prompt_tokens": 1,
           "completion_tokens": 1, "spend": 0.0}
    big = dict(row, request_id="r2", metadata={"pad": "x" * (3 * MiB)})
    arr.write_text(json.dumps([row, big, dict(row, request_id="r3")]))  # one line: streamed by element
    _, doc, _ = usage(tmp_path, secret, arr)
    assert doc["totals"]["calls"] == 1
    (err,) = parse_errors(doc)
    assert "array element larger than 1 MiB" in err["message"]
    csv_path = tmp_path / "spend.csv"
    csv_path.write_text("request_id,startTime,model,prompt_tokens,completion_tokens,spend,metadata\n"
                        "r1,2026-03-01T00:00:00Z,gpt-4o,1,1,0.0,{}\n"
                        'r2,2026-03-01T00:00:00Z,gpt-4o,1,1,0.0,"' + "x" * 300_000 + '"\n'
                        "r3,2026-03-01T00:00:00Z,gpt-4o,1,1,0.0,{}\n"
                        'r4,2026-03-01T00:00:00Z,gpt-4o,1,1,0.0,"' + "y" * (2 * MiB) + '"\n'
                        "r5,2026-03-01T00:00:00Z,gpt-4o,1,1,0.0,{}\n")
    _, doc, _ = usage(tmp_path, secret, csv_path)
    errs = parse_errors(doc)
    # r2: a 300 KB field is within the line cap (metadata not JSON: one error); r4: over the cap
    assert doc["totals"]["calls"] == 3, (doc["totals"], errs)
    assert any(e["line"] == 5 and "longer than 1 MiB" in e["message"] for e in errs), errs


def test_bad_bytes_cost_one_line_not_the_file(tmp_path, secret):
    path = tmp_path / "usage.jsonl"
    path.write_bytes((record(0) + "\n").encode() + b'{"v": 1, "ts": "\xff"}\n' + (record(2) + "\n").encode())
    _, doc, _ = usage(tmp_path, secret, path)
    assert doc["totals"]["calls"] == 2
    (err,) = parse_errors(doc)
    assert err["line"] == 2 and "not UTF-8" in err["message"]


@pytest.mark.parametrize("lines", [1, 3])
def test_reader_unit_long_line_not_held(tmp_path, lines):
    """The reader itself, in-process: a line over the cap never becomes one string."""
    from tagguard.llm.analysis.ingest import Reader, TagMapper

    path = tmp_path / "u.jsonl"
    body = "\n".join(record(i) for i in range(lines))
    path.write_text(body + "\n" + '{"x": "' + "z" * 50_000 + '"}\n' + record(9) + "\n")
    errors = []
    reader = Reader(TagMapper(), lambda f, ln, m: errors.append((ln, m)), max_line=10_000)
    calls = list(reader.read(str(path)))
    assert len(calls) == lines + 1
    assert errors == [(lines + 1, errors[0][1])] and "longer than" in errors[0][1]
