"""One place for escaping what came from scanned data, per output medium.

Everything a scanned repository controls (file names, resource names, tag values,
chart names, messages that quote them) is untrusted.  Each renderer passes such
values through one of these functions before they reach a terminal, a CI log,
Markdown (a PR comment or a job summary), HTML, XML or a SARIF viewer.

Terminal / CI log (``text``, ``github`` formats)
    ``term(s)``         one line: control characters (C0 but tab, DEL, C1, ESC
                        sequences, bidi overrides and isolates, line/paragraph
                        separators, lone surrogates) become visible escapes such
                        as ``\\x1b`` or ``\\u202e``; ``\\n`` and ``\\r`` too.
    ``term_block(s)``   the same, but newlines are kept.
    ``guard_commands(text)`` a last pass over a whole log-bound output: no line
                        may be a GitHub workflow command (``::cmd::`` after
                        leading blanks) and no line may hold the legacy
                        ``##[cmd]`` form anywhere; the first character is shown
                        as ``\\x3a`` / ``\\x23`` instead.
    ``wf_data(s)`` / ``wf_property(s)`` workflow-command escaping (GitHub's
                        runner: ``%``, CR, LF; properties also ``:`` and ``,``).

Markdown (GitHub-flavoured)
    ``md_code(s)``      an inline code span whose fence is longer than any
                        backtick run inside; ``|`` escaped for table cells.
    ``md_text(s)``      prose: HTML (``& < >``) as entities, Markdown
                        punctuation backslash-escaped, ``@mention``, ``#123``,
                        ``www.``/``scheme://`` autolinks and e-mail autolinks
                        broken with a zero-width joiner, newlines folded, ``|``
                        escaped.  Backtick-quoted parts of a message become
                        safe code spans (``md_code``).
    ``md_html(s)``      text inside raw HTML (``<summary>``): entities plus the
                        same mention/reference breaking.

HTML / XML
    ``html(s)``         ``html.escape`` with quotes.
    ``xml_text(s)``     characters XML 1.0 cannot carry (C0 but tab/LF/CR,
                        U+FFFE/U+FFFF, lone surrogates) replaced by U+FFFD.

Nothing here imports anything heavy.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from collections.abc import Iterator

ZWJ = "\u200d"  # zero-width joiner: breaks @mentions, #refs and autolinks, invisible when rendered


class _Lazy:
    """A regular expression compiled on first use: every command imports this module, and compiling all
    of its expressions (~4 ms) is wasted on a run that writes one format (a JSON report of ASCII text
    compiles none of them)."""

    __slots__ = ("_args", "_rx")

    def __init__(self, pattern: str, flags: int = 0):
        self._args = (pattern, flags)
        self._rx: re.Pattern[str] | None = None

    def _compiled(self) -> re.Pattern[str]:
        if self._rx is None:
            self._rx = re.compile(*self._args)
        return self._rx

    def sub(self, repl: Any, text: str) -> str:
        return (self._rx or self._compiled()).sub(repl, text)

    def search(self, text: str) -> re.Match[str] | None:
        return (self._rx or self._compiled()).search(text)

    def match(self, text: str) -> re.Match[str] | None:
        return (self._rx or self._compiled()).match(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return (self._rx or self._compiled()).finditer(text)


# --- terminal / log -------------------------------------------------------------

# C0 (tab kept), DEL, C1, bidi embeddings/overrides/isolates and marks, line and
# paragraph separators, BOM/zero-width no-break, lone surrogates.
_CONTROL = _Lazy("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029"
                      "\u2066-\u2069\ufeff\ud800-\udfff]")
_CONTROL_BLOCK = _Lazy("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029"
                            "\u2066-\u2069\ufeff\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def _visible(m: re.Match[str]) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def term(value: Any) -> str:
    """One line for a terminal or CI log: every control character shown as an escape."""
    if value is None:
        return ""
    text = str(value)
    return _CONTROL.sub(_visible, text)


def term_block(value: Any) -> str:
    """Like ``term`` but newlines stay (``\\r`` is still shown escaped)."""
    if value is None:
        return ""
    return _CONTROL_BLOCK.sub(_visible, str(value))


_COMMAND_LINE = _Lazy(r"^([^\S\n]*):(?=:)", re.M)  # leading blanks of one line only: linear


def guard_commands(text: str) -> str:
    """No line of ``text`` can be read as a GitHub Actions workflow command.

    The runner (``ActionCommand.TryParseV2``) trims leading whitespace and looks for
    ``::``; the legacy parser (``TryParse``) finds ``##[`` anywhere in a line.  Call
    this on output that holds data and none of tagguard's own commands.
    """
    if "::" in text:
        text = _COMMAND_LINE.sub(lambda m: m.group(1) + "\\x3a", text)
    if "##[" in text:
        text = text.replace("##[", "\\x23#[")
    return text


_CONTROL_WF = _Lazy("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029"
                         "\u2066-\u2069\ufeff\ud800-\udfff]")


def wf_data(value: Any) -> str:
    """A workflow command's message (after the second ``::``): ``%``, CR and LF percent-encoded
    as the runner expects, every other control character shown escaped."""
    text = _CONTROL_WF.sub(_visible, "" if value is None else str(value))
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def wf_property(value: Any) -> str:
    """A workflow command's property value (``file=…,title=…``)."""
    return wf_data(value).replace(":", "%3A").replace(",", "%2C")


# --- Markdown -------------------------------------------------------------------

_BACKTICKS = _Lazy(r"`+")


def _fold(text: str) -> str:
    """All whitespace runs (newlines too) to one space, then control characters visible."""
    return term(" ".join(text.split())) if text else ""


def md_code(value: Any, *, cell: bool = True) -> str:
    """Inline code that no backtick, pipe or newline in ``value`` can close early."""
    if value is None:
        return ""
    value = str(value)
    return _md_code_cached(value, cell) if len(value) <= _CACHE_MAX_LEN else _md_code(value, cell)


def _md_code(value: str, cell: bool) -> str:
    text = _fold(value)
    if not text:
        return ""
    if cell:
        text = text.replace("|", "\\|")
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


# One pass over the text: Markdown punctuation that can start inline syntax (emphasis,
# links, images, strikethrough, math, code, tables, headings) backslash-escaped; ``& < >`` as
# entities; "@" before a name gets a joiner on both sides (no @mention after it, no e-mail
# autolink before it); "#" before a name or number too (no #123 / org/repo#1 reference);
# ``scheme://``, ``www.`` and ``mailto:``/``xmpp:`` broken so no autolink forms.
_MD_ONE = _Lazy(r"[@#](?=[\w/-])|[&<>\\`*_\[\]~|$!#]|:(?=//)|(?i:\bwww\.)|(?i:\b(?:mailto|xmpp):)")
_MD_CHAR = {"&": "&amp;", "<": "&lt;", ">": "&gt;", **{c: "\\" + c for c in "\\`*_[]~|$!#"}}
_LINE_START = _Lazy(r"^([-+=]|\d{1,9}(?=[.)]))")


def _md_one(m: re.Match[str]) -> str:
    s = m.group(0)
    if len(s) == 1:
        nxt = m.string[m.end():m.end() + 1]
        if s == "@":
            return ZWJ + "@" + ZWJ
        if s == ":":  # before "//": no scheme:// autolink
            return ZWJ + ":"
        if s == "#" and nxt and (nxt.isalnum() or nxt in "_/-"):
            return "\\#" + ZWJ
        return _MD_CHAR[s]
    return s[:-1] + ZWJ + s[-1]  # ZWJ "://", "www" ZWJ ".", "mailto" ZWJ ":"


def _md_plain(text: str) -> str:
    return _MD_ONE.sub(_md_one, text)


_REFS = _Lazy(r"[@#](?=[\w/-])|:(?=//)|(?i:\bwww\.)|(?i:\b(?:mailto|xmpp):)")


def _break_refs(text: str) -> str:
    """Only the mention / reference / autolink breaking of ``_md_plain`` (for raw-HTML contexts)."""
    return _REFS.sub(lambda m: (ZWJ + "@" + ZWJ) if m.group(0) == "@" else
                     ("#" + ZWJ) if m.group(0) == "#" else m.group(0)[:-1] + ZWJ + m.group(0)[-1], text)


def _guard_start(text: str) -> str:
    """A value that begins a line (a list item's text) must not open a list or a setext underline."""
    m = _LINE_START.match(text)
    if not m:
        return text
    if m.group(1)[0].isdigit():
        return text[:m.end()] + "\\" + text[m.end():]
    return "\\" + text


def md_text(value: Any, *, code_spans: bool = True) -> str:
    """Prose from data, safe in a table cell, a list item, a heading or a paragraph.

    With ``code_spans`` a backtick-quoted part (``tag `team` is missing``) is kept
    as a code span (with its own fence, so it cannot leak); everything else is plain text.
    """
    if value is None:
        return ""
    value = str(value)
    return _md_text_cached(value, code_spans) if len(value) <= _CACHE_MAX_LEN else _md_text(value, code_spans)


def _md_text(value: str, code_spans: bool) -> str:
    text = _fold(value)
    if not text:
        return ""
    out: list[str] = []
    pos = 0
    if code_spans and "`" in text:
        runs = list(_BACKTICKS.finditer(text))
        nxt: list[int] = [-1] * len(runs)  # index of the next run of the same length
        last: dict[int, int] = {}
        for j in range(len(runs) - 1, -1, -1):
            n = len(runs[j].group(0))
            nxt[j] = last.get(n, -1)
            last[n] = j
        i = 0
        while i < len(runs):
            closer = nxt[i]
            if closer < 0:
                i += 1
                continue
            opener = runs[i]
            inner = text[opener.end():runs[closer].start()]
            out.append(_md_plain(text[pos:opener.start()]))
            out.append(md_code(inner) if inner.strip() else _md_plain(opener.group(0) + inner + runs[closer].group(0)))
            pos = runs[closer].end()
            i = closer + 1
    out.append(_md_plain(text[pos:]))
    return _guard_start("".join(out))


# File names, addresses, tags and rule ids repeat across a report: short values are cached
# (bounded in count and in size, whatever the scanned data holds).
_CACHE_MAX_LEN = 512
_md_code_cached = lru_cache(maxsize=8192)(_md_code)
_md_text_cached = lru_cache(maxsize=8192)(_md_text)


def md_cell(value: Any) -> str:
    """``md_text`` for a table cell (the same escaping; named for readability)."""
    return md_text(value)


def md_html(value: Any) -> str:
    """Text inside raw HTML in Markdown (``<summary>…</summary>``): no Markdown is parsed there."""
    if value is None:
        return ""
    return html(_break_refs(_fold(str(value))))  # joiners first: "&#x27;" must stay an entity


# --- HTML / XML -------------------------------------------------------------------

def html(value: Any) -> str:
    from html import escape

    return escape("" if value is None else str(value), quote=True)


_BAD_XML = _Lazy("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: Any) -> str:
    """Text XML 1.0 can carry (the serializer still escapes ``& < > \"``)."""
    return _BAD_XML.sub("\ufffd", "" if value is None else str(value))


def sarif_text(value: Any) -> str:
    """A SARIF plain-text message: control characters visible; ``[``/``]`` escaped so
    no data forms an embedded link (SARIF 2.1.0, 3.11.6)."""
    return term_block(value).replace("[", "\\[").replace("]", "\\]")


# --- CSV ---------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run as a formula (OWASP "CSV injection"):
    text starting with ``= + - @`` TAB or CR gets a leading ``'``, control characters are
    shown escaped (``term``); numbers stay numbers."""
    if not isinstance(value, str):
        return value
    value = term(value)  # a bare CR or a NUL would split or end the row in many readers
    return "'" + value if value.startswith(_FORMULA_START) else value


# --- JSON --------------------------------------------------------------------------

_JSON_RAW = _Lazy("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff\ud800-\udfff]")


def json_safe(text: str) -> str:
    """JSON text (``ensure_ascii=False``) with the characters a terminal or viewer would act on
    (DEL, C1 such as the 8-bit CSI, bidi controls, line separators, BOM) and lone surrogates
    written as ``\\uXXXX`` escapes: the same JSON value, printable and encodable as UTF-8.
    (C0 characters are always escaped by ``json.dumps``; outside strings JSON is ASCII.)"""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text) if _JSON_RAW.search(text) else text
