"""Read usage records, streamed, from tagguard JSONL, LiteLLM spend logs and OTLP JSON spans.

Every reader yields ``Call`` tuples, one per model call, and reports a bad
line through ``on_error(file, line, message)`` and goes on.  Memory does not
grow with the file: JSONL and CSV are read line by line and a top-level JSON
array element by element; a line (or array element) longer than ``max_line_bytes()``
(``TAGGUARD_MAX_LINE_BYTES``, 1 MiB) is one error and is skipped without being held
whole, JSON nested too deeply is one error, and values quoted in errors are clipped.  Only a pretty-printed single JSON *object* (an OTLP
export written by hand, ``{"data": [...]}`` from LiteLLM's API) is loaded whole.

Formats, detected per file from its first character and then per record:

* tagguard JSONL (``tagguard.llm.record``): ``{"v":1,"ts":..,"model":..,"input_tokens":..,"tags":{..}}``
* LiteLLM ``LiteLLM_SpendLogs`` rows (JSON lines, a JSON array, ``{"data": [...]}`` from
  ``/spend/logs``, or a CSV export): ``request_id``, ``startTime``, ``model``,
  ``custom_llm_provider``, ``prompt_tokens``, ``completion_tokens``, ``spend``, ``cache_hit``,
  ``metadata`` (``spend_logs_metadata``, ``user_api_key_alias``, ``user_api_key_team_alias``,
  ``additional_usage_values``), ``request_tags`` (``"key:value"`` strings become tags).
* OpenTelemetry GenAI spans as OTLP JSON (``{"resourceSpans": [...]}``, one export per line as the
  collector's file exporter writes it, or one document): ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens``, ``gen_ai.usage.cache_read.input_tokens``,
  ``gen_ai.response.model``/``gen_ai.request.model``, ``gen_ai.provider.name``/``gen_ai.system``;
  tags from resource and span attributes (span wins).
"""  # noqa: E501
from __future__ import annotations

import csv
import json
import json.scanner
import sys
from datetime import datetime, timezone
from typing import Any, Callable, NamedTuple, Optional
from collections.abc import Iterable, Iterator, Mapping

OnError = Callable[[str, Optional[int], str], None]

# OTel attribute -> tag key, before the automatic rules (see ``TagMapper``)
DEFAULT_TAG_ATTRIBUTES = {
    "deployment.environment": "environment",
    "deployment.environment.name": "environment",
}
TAG_PREFIXES = ("tagguard.tag.", "tag.", "tags.")
_MAX_ERROR_TEXT = 160
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
MAX_LINE_ENV = "TAGGUARD_MAX_LINE_BYTES"  # a trusted environment variable: bytes, or with a K/M/G suffix


def max_line_bytes() -> int:
    """The longest usage line read (``TAGGUARD_MAX_LINE_BYTES``, default 1 MiB): a longer line is one
    parse error, skipped without being held in memory."""
    import os

    from tagguard import safeio

    raw = os.environ.get(MAX_LINE_ENV, "").strip()
    parsed = safeio.parse_bytes(raw) if raw else None
    return parsed if parsed else DEFAULT_MAX_LINE_BYTES
# typeshed types the context as make_scanner itself (its own TODO says it is a duck type: any object with
# the decoder's attributes, which is what json.decoder passes), so the decoder is rejected wrongly.
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]


class Call(NamedTuple):
    day: str  # YYYY-MM-DD (UTC)
    model: str | None
    provider: str | None
    input_tokens: int  # total input, cache reads and writes included
    output_tokens: int
    cache_read: int
    cache_write: int
    tags: dict[str, str]
    service: str | None
    fingerprint: str | None
    batch: bool
    recorded_cost: float | None  # what the source says the call cost (LiteLLM ``spend``)
    free: bool  # served from a proxy cache: no provider charge
    file: str
    line: int | None


class TagMapper:
    """Which source attributes become which tag keys.

    In order: ``llm.tag_attributes`` (config) and the defaults above; a ``tagguard.tag.`` /
    ``tag.`` / ``tags.`` prefix; a taxonomy key as written; a taxonomy key in snake_case
    (``cost_center`` -> ``cost-center``).  Other OTel attributes are not tags.
    """

    def __init__(self, taxonomy_keys: Iterable[str] = (), tag_attributes: Mapping[str, str] | None = None):
        self.keys = set(taxonomy_keys)
        self.explicit = dict(DEFAULT_TAG_ATTRIBUTES)
        self.explicit.update(tag_attributes or {})
        self.snake = {k.replace("-", "_"): k for k in self.keys}
        self._cache: dict[str, str | None] = {}

    def key(self, attr: str) -> str | None:
        hit = self._cache.get(attr, 0)
        if hit != 0:
            return hit  # type: ignore[return-value]
        out: str | None = None
        if attr in self.explicit:
            out = self.explicit[attr] or None
        else:
            for p in TAG_PREFIXES:
                if attr.startswith(p) and len(attr) > len(p):
                    out = attr[len(p):]
                    break
            else:
                if attr in self.keys:
                    out = attr
                elif attr in self.snake:
                    out = self.snake[attr]
        if len(self._cache) < 10_000:
            self._cache[attr] = out
        return out

    def free_key(self, key: str) -> str:
        """A user-chosen tag key (LiteLLM metadata): mapped if it names a taxonomy key, else kept."""
        return self.key(key) or key


# --- time -------------------------------------------------------------------------
_DAY_CACHE: dict[int, str] = {}


def day_of_epoch(seconds: float) -> str:
    d = int(seconds // 86400)
    hit = _DAY_CACHE.get(d)
    if hit is None:
        hit = datetime.fromtimestamp(d * 86400, tz=timezone.utc).strftime("%Y-%m-%d")
        if len(_DAY_CACHE) < 100_000:
            _DAY_CACHE[d] = hit
    return hit


def day_of(ts: Any) -> str | None:
    """UTC day of an ISO timestamp, epoch seconds/ms/ns, or None."""
    if isinstance(ts, str):
        n = len(ts)
        if n >= 10 and ts[4] == "-" and ts[7] == "-":
            tail = ts[19:]
            if n <= 19 or tail.endswith("Z") or ("+" not in tail and "-" not in tail) or tail.endswith("+00:00"):
                day = ts[:10]
                if day[:4].isdigit() and day[5:7].isdigit() and day[8:10].isdigit():
                    return day
                return None
            try:
                dt = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            except ValueError:
                return None
            if dt.tzinfo is not None:
                dt = dt.astimezone(timezone.utc)
            return dt.strftime("%Y-%m-%d")
        try:
            ts = float(ts)
        except ValueError:
            return None
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        return None
    if ts > 1e17:
        ts /= 1e9
    elif ts > 1e14:
        ts /= 1e6
    elif ts > 1e11:
        ts /= 1e3
    if ts <= 0:
        return None
    return day_of_epoch(ts)


def _int(v: Any) -> int:
    if v is None or v == "":
        return 0
    if isinstance(v, bool):
        raise ValueError("a boolean is not a token count")
    n = int(v) if not isinstance(v, float) else int(round(v))
    if n < 0:
        raise ValueError(f"negative token count {n}")
    return n


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_TEXT else text[:_MAX_ERROR_TEXT] + "..."


# --- per-record converters -------------------------------------------------------------
def from_tagguard(d: dict[str, Any], file: str, line: int | None) -> Call:
    day = day_of(d.get("ts"))
    if day is None:
        raise ValueError(f"`ts` is missing or not a timestamp: {d.get('ts')!r}")
    tags = d.get("tags") or {}
    if not isinstance(tags, dict):
        raise ValueError("`tags` must be an object")
    if any(not isinstance(v, str) for v in tags.values()):
        tags = {str(k): (v if isinstance(v, str) else json.dumps(v) if not isinstance(v, (int, float)) else str(v))
                for k, v in tags.items()}
    return Call(day, d.get("model"), d.get("provider"), _int(d.get("input_tokens")), _int(d.get("output_tokens")),
                _int(d.get("cache_read_tokens")), _int(d.get("cache_write_tokens")), tags, d.get("service"),
                d.get("prompt_fingerprint"), bool(d.get("batch")), None, False, file, line)


def _json_field(v: Any, what: str) -> Any:
    if isinstance(v, str):
        v = v.strip()
        if not v:
            return None
        try:
            return json.loads(v)
        except ValueError:
            raise ValueError(f"`{what}` is not valid JSON") from None
    return v


def from_litellm(d: dict[str, Any], file: str, line: int | None, mapper: TagMapper) -> Call:
    day = day_of(d.get("startTime") or d.get("start_time") or d.get("endTime"))
    if day is None:
        raise ValueError(f"`startTime` is missing or not a timestamp: {d.get('startTime')!r}")
    meta = _json_field(d.get("metadata"), "metadata") or {}
    if not isinstance(meta, dict):
        meta = {}
    tags: dict[str, str] = {}
    # mapped columns and metadata fields first (e.g. user_api_key_team_alias -> business-unit)
    for src in (d, meta):
        for k, v in src.items():
            if k in mapper.explicit and isinstance(v, (str, int, float)) and v != "":
                tk = mapper.explicit[k]
                if tk:
                    tags[tk] = str(v)
    slm = meta.get("spend_logs_metadata")
    if isinstance(slm, dict):
        for k, v in slm.items():
            if v is not None and not isinstance(v, (dict, list)):
                tags[mapper.free_key(str(k))] = str(v)
    rt = _json_field(d.get("request_tags"), "request_tags") or []
    if isinstance(rt, list):
        for t in rt:
            if isinstance(t, str):
                for sep in (":", "="):
                    k, s, v = t.partition(sep)
                    if s and k.strip() and v.strip():
                        tags[mapper.free_key(k.strip())] = v.strip()
                        break
    prompt = _int(d.get("prompt_tokens"))
    cr = cw = 0
    for usage in (meta.get("additional_usage_values"), meta.get("usage_object")):
        if isinstance(usage, dict):
            details = usage.get("prompt_tokens_details")
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
            cr = cr or _int(usage.get("cache_read_input_tokens") or cached)
            cw = cw or _int(usage.get("cache_creation_input_tokens"))
    spend = d.get("spend")
    recorded = None
    if spend not in (None, ""):
        recorded = float(spend)
        if recorded < 0:
            raise ValueError(f"negative spend {recorded}")
    free = str(d.get("cache_hit", "")).lower() == "true"
    service = meta.get("user_api_key_alias") or meta.get("user_api_key_team_alias") or d.get("team_id") or None
    model = d.get("model") or d.get("model_group") or None
    fp = meta.get("prompt_fingerprint") or (slm.get("prompt_fingerprint") if isinstance(slm, dict) else None)
    tags.pop("prompt_fingerprint", None)
    return Call(day, model, d.get("custom_llm_provider") or None, prompt, _int(d.get("completion_tokens")), cr, cw,
                tags, str(service) if service else None, fp, False, recorded, free, file, line)


def _otel_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return v
    for k in ("stringValue", "boolValue", "doubleValue"):
        if k in v:
            return v[k]
    if "intValue" in v:
        return int(v["intValue"])  # a string in OTLP JSON
    if "arrayValue" in v:
        return [_otel_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    return None


def _attrs(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for a in items:
            if isinstance(a, dict) and "key" in a:
                out[a["key"]] = _otel_value(a.get("value"))
    elif isinstance(items, dict):  # some exporters write a plain map
        out.update(items)
    return out


def _first(a: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        v = a.get(k)
        if v is not None and v != "":
            return v
    return None


def from_otlp(doc: dict[str, Any], file: str, line: int | None, mapper: TagMapper,
              on_error: OnError) -> Iterator[Call]:
    rs_list = doc.get("resourceSpans")
    if not isinstance(rs_list, list):
        raise ValueError("`resourceSpans` must be a list")
    for rs in rs_list:
        rattrs = _attrs((rs.get("resource") or {}).get("attributes"))
        rtags = {}
        for k, v in rattrs.items():
            tk = mapper.key(k)
            if tk and v is not None:
                rtags[tk] = str(v)
        service = rattrs.get("service.name")
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in ss.get("spans") or []:
                try:
                    a = _attrs(span.get("attributes"))
                    inp = _first(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
                    out = _first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
                    if inp is None and out is None:
                        continue  # not a GenAI call span
                    day = day_of(span.get("startTimeUnixNano") or span.get("endTimeUnixNano"))
                    if day is None:
                        raise ValueError("span has no startTimeUnixNano")
                    tags = dict(rtags)
                    for k, v in a.items():
                        tk = mapper.key(k)
                        if tk and v is not None:
                            tags[tk] = str(v)
                    yield Call(day, _first(a, "gen_ai.response.model", "gen_ai.request.model"),
                               _first(a, "gen_ai.provider.name", "gen_ai.system"), _int(inp), _int(out),
                               _int(_first(a, "gen_ai.usage.cache_read.input_tokens",
                                           "gen_ai.usage.cache_read_input_tokens")),
                               _int(_first(a, "gen_ai.usage.cache_creation.input_tokens",
                                           "gen_ai.usage.cache_creation_input_tokens")),
                               tags, str(service) if service else None,
                               _first(a, "tagguard.prompt_fingerprint", "prompt_fingerprint"), False, None, False,
                               file, line)
                except (ValueError, TypeError, AttributeError, RecursionError) as exc:
                    span_id = _clip(str(span.get("spanId", "?"))) if isinstance(span, dict) else "?"
                    on_error(file, line, f"OTLP span {span_id}: {_clip(str(exc))}")


# --- files ------------------------------------------------------------------------
def classify(d: Any) -> str:
    if not isinstance(d, dict):
        return "unknown"
    if "ts" in d and ("tags" in d or "input_tokens" in d):
        return "tagguard"
    if "resourceSpans" in d:
        return "otlp"
    if "request_id" in d and ("startTime" in d or "spend" in d or "prompt_tokens" in d):
        return "litellm"
    return "unknown"


class FileStats:
    __slots__ = ("file", "format", "records", "malformed", "skipped")

    def __init__(self, file: str):
        self.file = file
        self.format: str | None = None  # tagguard, litellm, otlp, litellm-csv or "mixed (a, b)"
        self.records = self.malformed = self.skipped = 0

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "records": self.records, "malformed": self.malformed}


class Reader:
    """Turns input files into ``Call``s; counts formats, records and malformed lines per file."""

    def __init__(self, mapper: TagMapper, on_error: OnError, max_line: int | None = None):
        self.mapper = mapper
        self.max_line = max_line or max_line_bytes()
        self._on_error = on_error
        self.files: list[FileStats] = []
        self._cur: FileStats | None = None
        self._fast: Callable[[dict[str, Any]], bool] | None = None

    def _err(self, file: str, line: int | None, msg: str) -> None:
        if self._cur is not None:
            self._cur.malformed += 1
        self._on_error(file, line, msg)

    @property
    def _stats(self) -> FileStats:
        """The counts of the file being read (``read`` sets them before any record is parsed)."""
        if self._cur is None:
            raise RuntimeError("Reader: no file is being read")
        return self._cur

    def _seen(self, kind: str) -> None:
        st = self._stats
        if st.format is None:
            st.format = kind
        elif st.format != kind and not st.format.startswith("mixed"):
            st.format = f"mixed ({st.format}, {kind})"

    def _from_obj(self, d: Any, file: str, line: int | None) -> Iterator[Call]:
        kind = classify(d)
        try:
            if kind == "tagguard":
                c = from_tagguard(d, file, line)
                self._seen("tagguard")
                yield c
            elif kind == "litellm":
                c = from_litellm(d, file, line, self.mapper)
                self._seen("litellm")
                yield c
            elif kind == "otlp":
                self._seen("otlp")
                yield from from_otlp(d, file, line, self.mapper, self._err)
            elif isinstance(d, dict) and isinstance(d.get("data"), list):  # LiteLLM /spend/logs page
                for item in d["data"]:
                    yield from self._from_obj(item, file, line)
            else:
                keys = ", ".join(_clip(str(k)) for k in list(d)[:5]) if isinstance(d, dict) else type(d).__name__
                self._err(file, line, f"not a tagguard, LiteLLM or OTLP record (keys: {_clip(keys)})")
        except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            self._err(file, line, _clip(str(exc)))

    def read(self, path: str, fast: Callable[[dict[str, Any]], bool] | None = None) -> Iterator[Call]:
        """``Call``s from one file.  ``fast(record_dict)``, when given, may consume a tagguard record
        directly (returning True) instead of it being turned into a ``Call``: the hot path of big logs."""
        self._fast = fast
        st = FileStats(path)
        self.files.append(st)
        self._cur = st
        try:
            if path == "-":
                fh = sys.stdin.buffer
                name = "<stdin>"
            else:
                fh = open(path, "rb")
                name = path
        except OSError as exc:
            self._err(path, None, f"cannot read: {exc.strerror or exc}")
            return
        try:
            for call in self._read(fh, name):
                st.records += 1
                yield call
        except OSError as exc:
            self._err(name, None, f"cannot read: {exc.strerror or exc}; stopped reading this file")
        finally:
            if fh is not sys.stdin.buffer:
                fh.close()

    # Lines are read as bytes, at most ``max_line`` at a time: a line over the cap is skipped in
    # pieces (never held whole), decoded per line (a bad byte costs that line, not the file).
    def _too_long(self, name: str, lineno: int) -> None:
        self._err(name, lineno, f"line longer than {_fmt_bytes(self.max_line)}; skipped (raise "
                                f"{MAX_LINE_ENV} to read longer lines)")

    @staticmethod
    def _skip_rest(fh: Any) -> None:
        while True:
            rest = fh.readline(1 << 20)
            if not rest or rest.endswith(b"\n"):
                return

    def _text(self, raw: bytes, name: str, lineno: int) -> str | None:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._err(name, lineno, f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line); line skipped")
            return None

    def _read(self, fh: Any, name: str) -> Iterator[Call]:
        limit = self.max_line + 1
        lineno = 0
        first = b""
        while True:  # skip leading blank lines
            raw = fh.readline(limit)
            if not raw:
                return
            lineno += 1
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if len(raw) == limit and not raw.endswith(b"\n"):
                if raw.lstrip()[:1] == b"[":  # a JSON array on one long line: streamed by element
                    yield from self._read_array(raw, fh, name, lineno)
                    return
                self._skip_rest(fh)
                self._too_long(name, lineno)
                continue
            if raw.strip():
                first = raw
                break
        c = first.lstrip()[:1]
        if c == b"[":
            yield from self._read_array(first, fh, name, lineno)
            return
        text = self._text(first, name, lineno)
        if text is None:
            return
        if c == b"{":
            yield from self._read_jsonl(text, fh, name, lineno)
        elif name.lower().endswith(".csv") or "request_id" in text:
            yield from self._read_csv(text, fh, name, lineno)
        else:
            self._err(name, lineno, "not JSON lines, a JSON array, OTLP JSON or a LiteLLM CSV export")

    def _read_document(self, first: str, fh: Any, name: str, lineno: int) -> Iterator[Call]:
        """A pretty-printed JSON document (``{`` alone on its first line): loaded whole, within the file cap."""
        from tagguard import safeio

        cap = safeio.max_file_bytes()
        rest = fh.read(cap + 1)
        if len(first) + len(rest) > cap:
            self._err(name, lineno, f"a pretty-printed JSON document larger than {_fmt_bytes(cap)}; "
                                    f"not read (write one record per line, or raise {safeio.MAX_FILE_BYTES_ENV})")
            return
        try:
            doc = safeio.load_json(first + rest.decode("utf-8"), name)
        except UnicodeDecodeError as exc:
            self._err(name, lineno, f"not UTF-8 text ({exc.reason}); not read")
            return
        except safeio.JSONTooDeep:
            self._err(name, lineno, f"JSON nested deeper than {safeio.MAX_JSON_DEPTH} levels; not read")
            return
        except ValueError as exc:
            self._err(name, lineno + getattr(exc, "lineno", 1) - 1,
                      f"invalid JSON: {_clip(getattr(exc, 'msg', str(exc)))}")
            return
        yield from self._from_obj(doc, name, lineno)

    def _read_jsonl(self, first: str, fh: Any, name: str, lineno: int) -> Iterator[Call]:
        """JSON lines: the first line decides (a pretty-printed document is loaded whole), then
        every further line is one record, tagguard's own on a fast path."""
        d = self._first_line_record(first)
        if d is None and first.strip() == "{":  # a pretty-printed document: load it whole
            yield from self._read_document(first, fh, name, lineno)
            return
        if d is _TOO_DEEP:
            self._err(name, lineno, "JSON nested too deeply; line skipped")
        elif d is None:
            self._err(name, lineno, "invalid JSON line")
        else:
            yield from self._from_obj(d, name, lineno)
        yield from self._read_jsonl_lines(fh, name, lineno)

    @staticmethod
    def _first_line_record(first: str) -> Any:
        """The first line as JSON: ``None`` when it is not JSON, ``_TOO_DEEP`` when nested too deeply."""
        try:
            return json.loads(first)
        except RecursionError:
            return _TOO_DEEP
        except ValueError:
            return None

    def _read_jsonl_lines(self, fh: Any, name: str, lineno: int) -> Iterator[Call]:
        """The lines after the first, each one record (``lineno``: the line read last)."""
        loads = json.loads
        from_tg = from_tagguard
        fast = self._fast
        st = self._stats
        scan = _SCAN  # the C scanner json.loads uses, without its per-call wrapper
        readline = fh.readline
        limit = self.max_line + 1
        while True:
            b = readline(limit)
            if not b:
                break
            lineno += 1
            if len(b) == limit and b[-1:] != b"\n":
                self._skip_rest(fh)
                self._too_long(name, lineno)
                continue
            try:
                raw = b.decode("utf-8")
            except UnicodeDecodeError as exc:
                self._err(name, lineno, f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line); line skipped")
                continue
            try:
                d, end = scan(raw, 0)
                if end < len(raw) - 1 and raw[end:].strip():
                    raise ValueError("Extra data")
            except (StopIteration, ValueError):
                try:
                    d = loads(raw)
                except ValueError as exc:
                    if raw.strip():
                        self._err(name, lineno, f"invalid JSON: {_clip(getattr(exc, 'msg', str(exc)))}")
                    continue
                except RecursionError:
                    self._err(name, lineno, "JSON nested too deeply; line skipped")
                    continue
            except RecursionError:
                self._err(name, lineno, "JSON nested too deeply; line skipped")
                continue
            # fast path for tagguard's own records
            if type(d) is dict and "ts" in d and "tags" in d:
                if fast is not None and fast(d):
                    st.records += 1
                    if st.format != "tagguard":
                        self._seen("tagguard")
                    continue
                try:
                    call = from_tg(d, name, lineno)
                except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
                    self._err(name, lineno, _clip(str(exc)))
                    continue
                if st.format != "tagguard":
                    self._seen("tagguard")
                yield call
            else:
                yield from self._from_obj(d, name, lineno)

    def _read_array(self, first: bytes, fh: Any, name: str, lineno: int) -> Iterator[Call]:
        """A top-level JSON array, decoded one element at a time; an element over the line cap stops the file."""
        import codecs

        dec = json.JSONDecoder()
        text_of = codecs.getincrementaldecoder("utf-8")()
        try:
            buf = text_of.decode(first).lstrip()[1:]
        except UnicodeDecodeError as exc:
            self._err(name, lineno, f"not UTF-8 text ({exc.reason}); stopped reading this file")
            return
        line = lineno
        eof = False

        def more() -> bool:
            nonlocal buf, eof
            chunk = fh.read(1 << 16)
            if not chunk:
                eof = True
                buf += text_of.decode(b"", final=True)
                return False
            buf += text_of.decode(chunk)
            return True

        while True:
            # skip whitespace and commas
            i = 0
            n = len(buf)
            while i < n and buf[i] in " \t\r\n,":
                if buf[i] == "\n":
                    line += 1
                i += 1
            buf = buf[i:]
            try:
                if not buf:
                    if eof:
                        self._err(name, line, "JSON array is not closed")
                        return
                    more()
                    continue
                if buf[0] == "]":
                    return
                try:
                    obj, end = dec.raw_decode(buf)
                except RecursionError:
                    self._err(name, line, "JSON nested too deeply in array; stopped reading this file")
                    return
                except ValueError as exc:
                    if len(buf) > self.max_line:
                        self._err(name, line, f"a JSON array element larger than {_fmt_bytes(self.max_line)}; stopped "
                                              f"reading this file (raise {MAX_LINE_ENV} to read it)")
                        return
                    if not eof:
                        more()
                        continue
                    self._err(name, line + buf[:getattr(exc, "pos", 0)].count("\n"),
                              f"invalid JSON in array: {_clip(getattr(exc, 'msg', str(exc)))}; "
                              "stopped reading this file")
                    return
            except UnicodeDecodeError as exc:
                self._err(name, line, f"not UTF-8 text ({exc.reason}); stopped reading this file")
                return
            yield from self._from_obj(obj, name, line)
            line += buf.count("\n", 0, end)
            buf = buf[end:]

    def _read_csv(self, first: str, fh: Any, name: str, lineno: int) -> Iterator[Call]:
        limit = self.max_line + 1
        if csv.field_size_limit() < self.max_line:
            csv.field_size_limit(self.max_line)
        state = {"line": lineno}

        def lines() -> Iterator[str]:
            yield first
            while True:
                b = fh.readline(limit)
                if not b:
                    return
                state["line"] += 1
                if len(b) == limit and b[-1:] != b"\n":
                    self._skip_rest(fh)
                    self._too_long(name, state["line"])
                    yield "\n"  # keeps the CSV reader's line count in step
                    continue
                text = self._text(b, name, state["line"])
                yield text if text is not None else "\n"
        reader = csv.DictReader(lines())
        try:
            fieldnames = reader.fieldnames
        except csv.Error as exc:
            self._err(name, lineno, f"invalid CSV header: {_clip(str(exc))}")
            return
        if not fieldnames or "request_id" not in fieldnames:
            self._err(name, lineno, "CSV has no `request_id` column: not a LiteLLM spend-log export")
            return
        base = lineno - 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._err(name, base + reader.line_num, f"invalid CSV: {_clip(str(exc))}")
                continue
            ln = base + reader.line_num
            if None in row:
                self._err(name, ln, f"row has {len(fieldnames) + len(row[None])} fields, header has {len(fieldnames)}")
                continue
            try:
                call = from_litellm(row, name, ln, self.mapper)
            except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
                self._err(name, ln, _clip(str(exc)))
                continue
            self._seen("litellm-csv")
            yield call


_TOO_DEEP = object()


def _fmt_bytes(n: int) -> str:
    from tagguard import safeio

    return safeio.format_bytes(n)
