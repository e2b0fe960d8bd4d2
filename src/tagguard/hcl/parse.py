"""Terraform HCL files read with tree-sitter: bodies, blocks, attributes, comments.

``parse(data, filename)`` never raises.  Tree-sitter is error tolerant: what
parsed is returned, what did not is listed in ``HclFile.errors``.  Attribute
expressions compile lazily (first ``Attribute.expr`` access) into
``evaluate.Expr`` trees, so reading a big module costs one tree-sitter parse
and a walk over blocks and attribute names only.
"""
from __future__ import annotations

import bisect
import os
import re
import sys
from collections.abc import Callable, Mapping
from functools import cache
from dataclasses import dataclass
from typing import Any, Protocol
from collections.abc import Iterator

from ._compile import _SHARE_MAX, Compiler, _share, unescape_quoted
from .evaluate import ChildScope, Expr, Invalid, Source
from .functions import Function, function_table
from .values import PartialMap, Unknown

MAX_EXPR_DEPTH = 256  # tree-sitter node depth inside one attribute
MAX_BLOCK_DEPTH = 64
MAX_ISSUES = 50
_DEPTH_CHECK_BYTES = MAX_EXPR_DEPTH // 2  # a shorter attribute cannot be that deep

_PARSER: Any = None
_COMMENT_QUERY: Any = None


class _KINDS:
    """The ``kind_id`` of the node kinds the syntax-tree walk tests (set with the parser)."""

    attribute = block = body = comment = expression = string_lit = identifier = -1
    error = 0xFFFF  # tree-sitter's ERROR node


def _parser() -> Any:
    global _PARSER, _COMMENT_QUERY
    if _PARSER is None:
        import tree_sitter_hcl
        from tree_sitter import Language, Parser, Query

        language = Language(tree_sitter_hcl.language())
        _COMMENT_QUERY = Query(language, "(comment) @comment")
        for name in ("attribute", "block", "body", "comment", "expression", "string_lit", "identifier"):
            setattr(_KINDS, name, language.id_for_node_kind(name, True))
        _PARSER = Parser(language)
    return _PARSER


def _chunk_parser() -> Any:
    """A parser of its own for chunked reads (they set ``included_ranges``)."""
    global _CHUNK_PARSER
    if _CHUNK_PARSER is None:
        from tree_sitter import Parser

        _parser()
        _CHUNK_PARSER = Parser(_PARSER.language)
    return _CHUNK_PARSER


_CHUNK_PARSER: Any = None


@dataclass
class ParseIssue:
    line: int  # 1-based
    column: int  # 1-based (bytes)
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


class ExpressionCompiler(Protocol):
    """What compiles an attribute's parsed node into an Expr on first read (``Compiler`` here,
    the JSON syntax's own in ``tagguard.sources.terraform.tfjson``)."""

    def expression(self, node: Any) -> Expr: ...


class Attribute:
    """``name = expr``.  ``expr`` compiles on first access."""

    __slots__ = ("name", "line", "end_line", "_node", "_compiler", "_expr")

    def __init__(self, name: str, node: Any, compiler: ExpressionCompiler | None, line: int, end_line: int) -> None:
        self.name = name
        self.line = line
        self.end_line = end_line
        self._node = node
        self._compiler = compiler
        self._expr: Expr | None = None

    @property
    def expr(self) -> Expr:
        if self._expr is None:
            compiler = self._compiler
            if compiler is None:  # not reached: the compiler is dropped only once _expr is set
                raise RuntimeError(f"attribute {self.name} has no compiler")
            self._expr = compiler.expression(self._node)
            self._node = self._compiler = None
        return self._expr

    def __repr__(self) -> str:
        return f"<Attribute {self.name} line {self.line}>"


class _HclAttribute(Attribute):
    """An attribute of an HCL file (``_Reader``'s, compiled by ``Compiler``): one on a single line tells the
    compiler its line, so compiling it reads no tree-sitter Point and searches no newline."""

    __slots__ = ()

    @property
    def expr(self) -> Expr:
        if self._expr is None:
            compiler: Any = self._compiler  # hcl._compile.Compiler, dropped only once _expr is set
            line = self.line
            self._expr = compiler.expression(self._node, line if line == self.end_line else 0)
            self._node = self._compiler = None
        return self._expr


_new_attribute = object.__new__


class Body:
    __slots__ = ("attributes", "blocks", "get")

    def __init__(self) -> None:
        self.attributes: dict[str, Attribute] = {}
        self.blocks: list[Block] = []
        # ``get(name)``: the attribute or None.  The dict's own bound ``get`` (a C call, no Python frame:
        # the reader asks ~9 times a resource); exact because ``attributes`` is only ever filled, never replaced.
        self.get: Callable[[str], Attribute | None] = self.attributes.get

    def blocks_of(self, type: str) -> list[Block]:  # noqa: A002 - the API name
        return [b for b in self.blocks if b.type == type]

    def __repr__(self) -> str:
        return f"<Body {list(self.attributes)} blocks={[b.type for b in self.blocks]}>"


@dataclass
class Block:
    __slots__ = ("type", "labels", "body", "line", "end_line")  # a big file holds many
    type: str
    labels: list[str]
    body: Body
    line: int
    end_line: int

    def __repr__(self) -> str:
        return f"<Block {self.type} {self.labels} line {self.line}>"


@dataclass
class HclFile:
    filename: str
    body: Body
    errors: list[ParseIssue]
    comments: list[tuple[int, str]]
    tree: Any = None  # keeps tree-sitter nodes of lazily compiled attributes alive

    def __repr__(self) -> str:
        return f"<HclFile {self.filename} errors={len(self.errors)}>"


# --- parsing ------------------------------------------------------------------------


def parse(data: bytes, filename: str, functions: Mapping[str, Function] | None = None) -> HclFile:
    """Parse Terraform HCL; never raises.  Function calls are bound to ``functions`` (default:
    ``FUNCTIONS``, Terraform's built-ins)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    try:
        return _Reader(bytes(data), filename, functions).read()
    except RecursionError:
        issue = ParseIssue(1, 1, "file nested too deeply to read")
    except Exception as exc:  # noqa: BLE001 - bad input must never crash a scan
        issue = ParseIssue(1, 1, f"cannot parse: {type(exc).__name__}: {exc}")
    return HclFile(filename, Body(), [issue], [])


# --- long runs ---------------------------------------------------------------------------
# tree-sitter-hcl lexes a quoted string or heredoc character by character: a 19.5 MB literal
# takes 45 s and 3.4 GB.  Runs of plain text this long inside a string, heredoc or comment are
# swapped for short placeholders before parsing and put back when the literal is compiled.

LONG_RUN = 16 * 1024
_COMMENT_START = re.compile(rb"#|//|/\*")


def comment_marks(data: bytes) -> list[int]:
    """The offsets, ascending, of every ``#`` and of every ``/`` followed by ``/`` or ``*``: each place
    ``_COMMENT_START`` can match starts at one.  Found with ``find`` (memchr), one step per mark: a regex
    scan of the whole file costs ~10x more, and a search per attribute far more than that."""
    marks: list[int] = []
    find = data.find
    pos = find(b"#")
    while pos >= 0:
        marks.append(pos)
        pos = find(b"#", pos + 1)
    pos = find(b"/")
    while pos >= 0:
        if data[pos + 1 : pos + 2] in (b"/", b"*"):
            marks.append(pos)
        pos = find(b"/", pos + 1)
    marks.sort()
    return marks


# The patterns of long lines and big files are compiled on first use (each getter is cached: the same
# pattern object every call): most files have neither, and compiling one at import costs ~1 M instructions.
@cache
def _run_re() -> re.Pattern[bytes]:
    """Plain template text: no quote or newline, no ${ / %{ opener; escapes, lone $ / %, and braces
    are part of it (a run that starts inside an interpolation is cut after its first })."""
    return re.compile(rb'(?:[^"\\$%{\r\n]+|\\[^\r\n]|\$(?!\{)|%(?!\{)|(?<![$%])\{)+')


@cache
def _heredoc_open_re() -> re.Pattern[bytes]:
    return re.compile(rb"<<-?([A-Za-z_][\w-]*)[ \t]*\r?\n")


@cache
def _escape_re() -> re.Pattern[bytes]:
    return re.compile(rb"\\.")


def shrink_long_runs(data: bytes) -> tuple[bytes, tuple[str, dict[str, str]] | None]:
    """``data`` with every run of plain text longer than ``LONG_RUN`` that sits inside a quoted
    string, a heredoc or a line comment replaced by a placeholder, and the placeholder table
    (``None`` when nothing was replaced).  Free for files without a line that long; linear
    otherwise (each byte is looked at a bounded number of times)."""
    if len(data) < LONG_RUN or not _has_long_line(data):
        return data, None
    runs = []
    for m in _run_re().finditer(data):
        start, end = m.span()
        if end - start >= LONG_RUN:
            run = m.group(0)
            start += len(run) - len(run.lstrip(b" \t"))  # keep indentation (<<- heredocs)
            if end - start >= LONG_RUN:
                runs.append((start, end))
    if not runs:
        return data, None
    nonce = os.urandom(6).hex()  # what secrets.token_hex does, without importing hmac/random/hashlib
    table: dict[str, str] = {}
    out: list[bytes] = []
    cursor = 0
    for start, end in _inert_runs(data, runs):
        key = f"__tg_long_{nonce}_{len(table)}__"
        table[key] = data[start:end].decode("utf-8", "replace")
        out.append(data[cursor:start])
        out.append(key.encode("ascii"))
        cursor = end
    if not table:
        return data, None
    out.append(data[cursor:])
    return b"".join(out), (nonce, table)


def _has_long_line(data: bytes) -> bool:
    """Whether some line may be ``LONG_RUN`` bytes long: a line that long covers a whole
    aligned window of half that size, so one ``find`` per window answers (no regex scan)."""
    half = LONG_RUN // 2
    find = data.find
    return any(find(b"\n", k, k + half) < 0 for k in range(0, len(data) - half + 1, half))


def _heredoc_bodies(data: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    while True:
        m = _heredoc_open_re().search(data, pos)
        if m is None:
            return spans
        ident = re.escape(m.group(1))
        end = re.compile(rb"^[ \t]*" + ident + rb"[ \t]*\r?$", re.M).search(data, m.end())
        stop = end.start() if end else len(data)
        spans.append((m.end(), stop))
        pos = max(stop, m.end())


@cache
def _brace_re() -> re.Pattern[bytes]:
    return re.compile(rb"[{}]")


def _closing_brace(data: bytes, start: int, end: int) -> int:
    """Offset of the ``}`` that closes an interpolation open at ``start`` (nested ``{}`` skipped), or -1."""
    depth = 0
    for m in _brace_re().finditer(data, start, end):
        if m.group(0) == b"{":
            depth += 1
        elif depth == 0:
            return m.start()
        else:
            depth -= 1
    return -1


def _inert_runs(data: bytes, runs: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The runs (in file order) that are string, heredoc or comment text, judged on their line:
    an odd number of unescaped quotes before them, a ``#``/``//`` outside quotes, or inside a
    heredoc body.  One pass over each line (state carried from run to run)."""
    heredocs = _heredoc_bodies(data)
    starts = [a for a, _ in heredocs]
    pos, parity, comment, interp = -1, 0, False, False
    for start, end in runs:
        newline = data.rfind(b"\n", max(pos, 0), start) if pos >= 0 else data.rfind(b"\n", 0, start)
        if pos < 0 or newline >= 0:  # a new line: scan it from its start
            pos, parity, comment, interp = newline + 1, 0, False, False
        segment = _escape_re().sub(b"", data[pos:start]).replace(b"$${", b"").replace(b"%%{", b"")
        if not comment:
            parts = segment.split(b'"')
            for i, part in enumerate(parts):
                if (parity + i) % 2 == 0 and (b"#" in part or b"//" in part):
                    comment = True
                    break
            parity = (parity + len(parts) - 1) % 2
        opened = max(segment.rfind(b"${"), segment.rfind(b"%{"))
        closed = segment.rfind(b"}")
        if opened >= 0 or closed >= 0:
            interp = opened > closed
        pos = start  # the run itself is scanned with the next segment (a # in code starts a comment)
        if interp and not comment:  # the run starts inside ${ ... }: only what follows its } is text
            close = _closing_brace(data, start, end)
            if close < 0:
                continue
            start = close + 1
            if end - start < LONG_RUN:
                continue
        k = bisect.bisect_right(starts, start) - 1
        if comment or parity == 1 or (k >= 0 and start < heredocs[k][1]):
            yield start, end


# --- big files in chunks ----------------------------------------------------------------------
# Files over CHUNKED_FILE_BYTES are parsed one run of whole top-level constructs at a time (see
# _Reader.read_chunked).  The cuts come from a linear scan that follows HCL's lexical modes:
# quoted strings (escapes, ``${``/``%{`` interpolations nesting expressions and strings), heredocs,
# ``#``/``//``/``/* */`` comments and bracket depth.  A cut is made only after a ``}`` that closes a
# top-level construct and ends its line.  A file with no such point (one huge block, or a brace
# never closed) is parsed whole, as before.

CHUNKED_FILE_BYTES = 1024 * 1024  # smaller files: one parse, attributes compiled lazily (faster)
CHUNK_BYTES = 64 * 1024  # a chunk's tree: ~6 MB
# One top-level construct bigger than this is not handed to tree-sitter: its tree costs 90-130 bytes per
# byte of input (a 10 MiB file whose first brace never closes took 1.4 GB).  It is a syntax error at its
# first line instead, and the constructs after it are still read.  TAGGUARD_MAX_BLOCK_BYTES raises it.
DEFAULT_MAX_BLOCK_BYTES = 2 * 1024 * 1024
MAX_BLOCK_BYTES_ENV = "TAGGUARD_MAX_BLOCK_BYTES"


def max_block_bytes() -> int:
    raw = os.environ.get(MAX_BLOCK_BYTES_ENV, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_BLOCK_BYTES
    return value if value > 0 else DEFAULT_MAX_BLOCK_BYTES


_OPEN = frozenset(b"{([")
_CLOSE = frozenset(b"})]")


@cache
def _expr_token_re() -> re.Pattern[bytes]:
    return re.compile(rb'[{}()\[\]"#]|//|/\*|<<-?([A-Za-z_][\w-]*)[ \t]*\r?\n')


@cache
def _string_token_re() -> re.Pattern[bytes]:
    return re.compile(rb'\\.|\$\$\{|%%\{|[$%]\{|["\n]', re.S)


@cache
def _blank_to_eol_re() -> re.Pattern[bytes]:
    return re.compile(rb"[ \t\r]*\n")


def top_level_cuts(data: bytes, every: int, start: int = 0, stop: int | None = None) -> list[int]:
    """Offsets (each the start of a line) where ``data[start:stop]`` (``start`` at top level) may be
    cut into chunks of whole top-level constructs, at least ``every`` bytes apart.  One pass, each
    byte looked at a bounded number of times."""
    cuts: list[int] = []
    frames: list[int] = []  # expression depth saved when a string opened, -1 marks an interpolation
    depth = 0
    in_string = False
    pos = start
    last = start
    end = len(data) if stop is None else stop
    expr_search = _expr_token_re().search
    string_search = _string_token_re().search
    blank_to_eol = _blank_to_eol_re().match
    while pos < end:
        if in_string:
            m = string_search(data, pos)
            if m is None:
                break
            pos = m.end()
            first = data[m.start()]
            if first == 0x22 or first == 0x0A:  # closing quote (or a line end: unterminated)
                depth = frames.pop()
                in_string = False
            elif pos - m.start() == 2 and data[m.start() + 1] == 0x7B:  # ${ or %{
                frames.append(-1)
                depth = 0
                in_string = False
            continue
        m = expr_search(data, pos)
        if m is None:
            break
        pos = m.end()
        first = data[m.start()]
        if first in _OPEN:
            depth += 1
        elif first in _CLOSE:
            if depth > 0:
                depth -= 1
                if depth == 0 and not frames and first == 0x7D and pos - last >= every:
                    eol = blank_to_eol(data, pos)
                    if eol is not None and eol.end() < end:
                        pos = last = eol.end()
                        cuts.append(pos)
            elif first == 0x7D and frames and frames[-1] == -1:  # end of an interpolation
                frames.pop()
                in_string = True
        elif first == 0x22:
            frames.append(depth)
            in_string = True
        elif first == 0x23 or data[m.start() + 1] == 0x2F:  # # or // comment
            pos = data.find(b"\n", pos)
            if pos < 0:
                break
        elif data[m.start() + 1] == 0x2A:  # /* comment */
            pos = data.find(b"*/", pos)
            if pos < 0:
                break
            pos += 2
        else:  # heredoc: skip to its end marker line
            marker = re.compile(rb"^[ \t]*" + re.escape(m.group(1)) + rb"[ \t]*\r?$", re.M).search(data, pos)
            if marker is None:
                break
            pos = marker.end()
    return cuts


def _pieces(data: bytes, cuts: list[int], limit: int) -> Iterator[tuple[int, int]]:
    """The chunks between ``cuts``; a chunk over ``limit`` is re-cut at every top-level construct and
    regrouped, so that only a construct that is itself over ``limit`` stays over it (and is refused)."""
    bounds = [0] + cuts + [len(data)]
    for start, end in zip(bounds, bounds[1:]):
        if end - start <= limit:
            yield start, end
            continue
        sub = top_level_cuts(data, 1, start, end) + [end]
        group = start
        prev = start
        for cut in sub:
            if cut - prev > limit:  # the oversized construct: alone
                if prev > group:
                    yield group, prev
                yield prev, cut
                group = cut
            elif cut - group > CHUNK_BYTES and prev > group:
                yield group, prev
                group = prev
            prev = cut
        if end > group:
            yield group, end


class _Reader:
    def __init__(self, data: bytes, filename: str, functions: Mapping[str, Function] | None = None) -> None:
        data, long = shrink_long_runs(data)
        self.data = data
        self.filename = filename
        self.src = Source(data, filename, long)
        self.compiler = Compiler(self.src, FUNCTIONS if functions is None else functions)
        self.errors: list[ParseIssue] = []
        self.comments: list[tuple[int, str]] = []
        self.inner_comments: list[Any] = []  # expression nodes that may hold comments
        self.comment_marks = comment_marks(data)  # where a comment may start (none: no attribute holds one)
        self.known_labels: dict[bytes, str] = {}  # label and block type texts already read
        self.known_types: dict[bytes, str] = {}
        self.known_names: dict[bytes, str] = {}  # attribute names ("tags" in every resource), read once each
        self.last_error_line = 1
        self.found = 0  # syntax errors seen (a file parsed in chunks counts across them)
        self.pending: list[Attribute] | None = None  # chunked: attributes to compile before the tree goes

    def read(self) -> HclFile:
        if len(self.data) > CHUNKED_FILE_BYTES:
            cuts = top_level_cuts(self.data, CHUNK_BYTES)
            if cuts or len(self.data) > max_block_bytes():
                return self.read_chunked(cuts)
        tree = _parser().parse(self.data)
        root = tree.root_node
        body = Body()
        self.fill_body(body, root.children, 0)
        if root.has_error:
            self.collect_errors(root)
        self.finish_errors()
        self.collect_inner_comments()
        return HclFile(self.filename, body, self.errors, self.comments, tree)

    def read_chunked(self, cuts: list[int]) -> HclFile:
        """Parse a big file one run of top-level constructs at a time: tree-sitter keeps about
        90 bytes per byte of input, so each chunk's tree is compiled (attributes eagerly) and
        dropped before the next chunk is parsed.  Nodes keep whole-file offsets and rows (the
        parser reads only the chunk's byte range of the whole file)."""
        from tree_sitter import Range

        parser = _chunk_parser()
        data = self.data
        body = Body()
        self.pending = []
        limit = max_block_bytes()
        row = 0
        for start, end in _pieces(data, cuts, limit):
            end_row = row + data.count(b"\n", start, end)
            if end - start > limit:  # cuts are made after the first construct ending past CHUNK_BYTES
                self.refuse_chunk(start, end, row, limit)
                row = end_row
                continue
            end_col = end - (data.rfind(b"\n", start, end) + 1) if end_row > row else end - start
            parser.included_ranges = [Range((row, 0), (end_row, end_col), start, end)]
            tree = parser.parse(data)
            root = tree.root_node
            self.fill_body(body, root.children, 0)
            if root.has_error:
                self.collect_errors(root)
            for attr in self.pending:
                attr.expr  # noqa: B018 - compile now, while the chunk's tree exists
            self.pending = []
            self.compiler.lines = {}  # a later chunk has none of these lines
            self.collect_inner_comments(sort=False)
            self.inner_comments = []
            del tree, root
            row = end_row
        self.pending = None
        self.finish_errors()
        self.comments.sort()
        return HclFile(self.filename, body, self.errors, self.comments, None)

    def refuse_chunk(self, start: int, end: int, row: int, limit: int) -> None:
        """A run of the file too big to parse as one construct: one error at its first non-blank line."""
        first = start
        while first < end and self.data[first] in b" \t\r\n":
            first += 1
        line = row + self.data.count(b"\n", start, first) + 1
        size = f"{(end - start) / (1024 * 1024):.1f} MiB"
        cap = f"{limit / (1024 * 1024):g} MiB"
        self.found += 1
        self.errors.append(ParseIssue(line, 1, (
            f"a top-level construct starting here runs for {size} (a brace never closed, or one block larger "
            f"than {cap}); not parsed: close or split it, or raise {MAX_BLOCK_BYTES_ENV}")))
        self.last_error_line = line

    # --- bodies ---------------------------------------------------------------

    def fill_body(self, body: Body, children: list, depth: int) -> None:
        kinds = _KINDS  # node kinds by number (``kind_id``: an int; ``type`` builds a str each time)
        for child in children:
            kind = child.kind_id
            if kind == kinds.attribute:
                self.add_attribute(body, child)
            elif kind == kinds.block:
                self.add_block(body, child, depth)
            elif kind == kinds.comment:
                self.comments.append((child.start_point[0] + 1, _comment_text(self.text(child))))
            elif kind == kinds.body or kind == kinds.error:
                # tree-sitter wraps what it could not place in ERROR; keep what parsed inside.
                self.fill_body(body, child.children, depth)

    def add_attribute(self, body: Body, node: Any) -> None:
        children = node.children
        name_node = children[0]
        data = self.data
        compiler = self.compiler
        # the name's text and the lines read here, not through self.text and compiler.line: this runs for every
        # attribute of every file
        raw = data[name_node.start_byte : name_node.end_byte]
        name = self.known_names.get(raw)  # a repeated name: no decode, restore or intern (same bytes, same text)
        if name is None:
            name = raw.decode("utf-8", "replace")
            if self.src.long is not None:
                name = self.src.restore(name)
            if len(name) <= _SHARE_MAX:
                name = self.known_names[raw] = sys.intern(name)
        expr_node = children[-1]
        start, end = expr_node.start_byte, expr_node.end_byte
        known = compiler.lines
        row, end_row = node.start_point[0], node.end_point[0]
        line = known.get(row)
        if line is None:
            line = known[row] = row + 1
        end_line = line if end_row == row else known.get(end_row)  # one line (most): no second lookup
        if end_line is None:
            end_line = known[end_row] = end_row + 1
        # _HclAttribute(name, expr_node, compiler, line, end_line) without the __init__ frame (~1 K instructions
        # a call; the walk makes one per attribute of every file): the same six slots, set here
        attr = _new_attribute(_HclAttribute)
        attr.name = name
        attr.line = line
        attr.end_line = end_line
        attr._node = expr_node
        attr._compiler = compiler
        attr._expr = None
        if expr_node.kind_id != _KINDS.expression:
            attr._expr = Invalid(f"attribute {name} has no value", **compiler.pos(node))
        elif end - start > _DEPTH_CHECK_BYTES and expr_node.descendant_count > MAX_EXPR_DEPTH and _too_deep(expr_node):
            self.issue(node, f"expression of `{name}` is nested more than {MAX_EXPR_DEPTH} levels deep")
            attr._expr = Invalid("expression nested too deeply", **compiler.pos(node))
        marks = self.comment_marks  # the comment regex runs only when one of the file's comment marks lies in the range
        if marks:
            i = bisect.bisect_left(marks, start)
            if i < len(marks) and marks[i] < end and _COMMENT_START.search(data, start, end) is not None:
                self.inner_comments.append(expr_node)
        if self.pending is not None and attr._expr is None:
            self.pending.append(attr)
        body.attributes[name] = attr

    def add_block(self, body: Body, node: Any, depth: int) -> None:
        if depth >= MAX_BLOCK_DEPTH:
            self.issue(node, f"blocks nested more than {MAX_BLOCK_DEPTH} levels deep")
            return
        children = node.children
        known = self.compiler.lines
        row, end_row = node.start_point[0], node.end_point[0]
        line = known.get(row)
        if line is None:
            line = known[row] = row + 1
        end_line = known.get(end_row)
        if end_line is None:
            end_line = known[end_row] = end_row + 1
        block = Block(self.block_type(children[0]), [], Body(), line, end_line)
        kinds = _KINDS
        for child in children[1:]:
            kind = child.kind_id
            if kind == kinds.body:
                self.fill_body(block.body, child.children, depth + 1)
            elif kind == kinds.string_lit or kind == kinds.identifier:
                block.labels.append(self.label(child))
            elif kind == kinds.comment:
                self.comments.append((child.start_point[0] + 1, _comment_text(self.text(child))))
        body.blocks.append(block)

    def label(self, node: Any) -> str:
        start, end = node.start_byte, node.end_byte
        if node.kind_id == _KINDS.string_lit and end - start >= 2 and self.data[end - 1 : end] == b'"':
            start, end = start + 1, end - 1
        raw = self.data[start:end]
        known = self.known_labels  # labels repeat ("aws_instance" a thousand times): read each once
        text = known.get(raw)
        if text is None:
            text = _share(unescape_quoted(self.src.restore(raw.decode("utf-8", "replace"))))
            if len(raw) <= _SHARE_MAX:
                known[raw] = text
        return text

    def block_type(self, node: Any) -> str:
        raw = self.data[node.start_byte : node.end_byte]
        known = self.known_types
        text = known.get(raw)
        if text is None:
            text = _share(self.src.restore(raw.decode("utf-8", "replace")))  # self.text(node)
            if len(raw) <= _SHARE_MAX:
                known[raw] = text
        return text

    def text(self, node: Any) -> str:
        return _share(self.src.restore(self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")))

    # --- errors ---------------------------------------------------------------

    def issue(self, node: Any, message: str) -> None:
        row, col = node.start_point
        self.errors.append(ParseIssue(row + 1, col + 1, message))

    def collect_errors(self, root: Any) -> None:
        """ERROR/MISSING nodes, plus quoted strings running over a line end (unterminated)."""
        stack = [root]
        while stack:
            node = stack.pop()
            if node.is_missing or node.type == "ERROR":
                self.found += 1
                if self.found <= MAX_ISSUES:
                    self.issue(node, self.describe(node))
                    self.last_error_line = self.errors[-1].line
                continue
            if node.type in ("string_lit", "quoted_template") and _runs_over_line_end(node):
                self.found += 1
                if self.found <= MAX_ISSUES:
                    self.issue(node, "unterminated string: missing closing `\"` on this line")
                    self.last_error_line = self.errors[-1].line
                continue
            # Single-line healthy nodes cannot hide a multi-line string: skip them.
            stack.extend(c for c in reversed(node.children) if c.has_error or c.start_point[0] != c.end_point[0])

    def finish_errors(self) -> None:
        if self.found > MAX_ISSUES:
            self.errors.append(ParseIssue(self.last_error_line, 1, f"{self.found - MAX_ISSUES} more syntax errors"))
        self.errors.sort(key=lambda issue: (issue.line, issue.column))

    def describe(self, node: Any) -> str:
        if node.is_missing:
            what = _MISSING_NAMES.get(node.type, node.type)
            message = f"missing `{what}`"
            opener = _opener_line(node)
            if opener is not None:
                message += f" (to close what starts on line {opener})"
            return message
        snippet = self.text(node).strip().split("\n", 1)[0][:40]
        if not snippet:
            return "syntax error"
        if "\x00" in snippet or not snippet.isprintable():
            return "syntax error: unexpected binary data"
        return f"syntax error near `{snippet}`"

    # --- comments -------------------------------------------------------------

    def collect_inner_comments(self, sort: bool = True) -> None:
        """Comments inside expressions (body-level ones were seen by the walk)."""
        if self.inner_comments:
            from tree_sitter import QueryCursor

            cursor = QueryCursor(_COMMENT_QUERY)
            for node in self.inner_comments:
                for comment in cursor.captures(node).get("comment", []):
                    self.comments.append((comment.start_point[0] + 1, _comment_text(self.text(comment))))
        if sort:
            self.comments.sort()


_MISSING_NAMES = {
    "quoted_template_end": '"',
    "block_end": "}",
    "object_end": "}",
    "tuple_end": "]",
    "template_interpolation_end": "}",
    "template_directive_end": "}",
    "heredoc_identifier": "heredoc end marker",
}


def _opener_line(node: Any) -> int | None:
    """The line of the construct a MISSING token would close, when on an earlier line."""
    row = node.start_point[0]
    parent = node.parent
    for _ in range(3):
        if parent is None:
            return None
        if parent.start_point[0] != row:
            return parent.start_point[0] + 1
        parent = parent.parent
    return None


def _runs_over_line_end(node: Any) -> bool:
    if node.start_point[0] == node.end_point[0]:
        return False
    return not any(c.type in ("template_interpolation", "template_directive") for c in node.children)


def _comment_text(text: str) -> str:
    if text.startswith("#"):
        text = text[1:]
    elif text.startswith("//"):
        text = text[2:]
    elif text.startswith("/*"):
        text = text[2:-2] if text.endswith("*/") else text[2:]
    return text.strip()


def _too_deep(node: Any) -> bool:
    """Whether the subtree goes deeper than MAX_EXPR_DEPTH (iterative walk; callers skip it for a
    subtree of at most MAX_EXPR_DEPTH nodes, ``descendant_count``, which tree-sitter keeps)."""
    cursor = node.walk()
    depth = 0
    while True:
        if cursor.goto_first_child():
            depth += 1
            if depth > MAX_EXPR_DEPTH:
                return True
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent() or depth <= 1:
                return False
            depth -= 1


# --- convenience entry points ---------------------------------------------------------


def parse_expression(text: str, filename: str = "<expr>", functions: Mapping[str, Function] | None = None) -> Expr:
    """Compile one expression from text (tests, CLI overrides, tfvars values)."""
    hcl = parse(("__expr__ = " + text + "\n").encode("utf-8", "replace"), filename, functions)
    attr = hcl.body.get("__expr__")
    if attr is None or hcl.errors:
        message = str(hcl.errors[0]) if hcl.errors else "not an expression"
        return Invalid(f"cannot parse expression `{text[:60]}`: {message}")
    return attr.expr


def compile_template(text: str, filename: str = "<template>", functions: Mapping[str, Function] | None = None) -> Expr:
    """Compile a bare template (a ``templatefile()`` file) into an Expr."""
    marker = "TAGGUARD_TEMPLATE_END_" + os.urandom(6).hex()
    head = f"__template__ = <<{marker}\n".encode()
    body = text.encode("utf-8", "replace")
    data = head + body + f"\n{marker}\n".encode()
    tail = len(f"\n{marker}\n")
    try:
        reader = _Reader(data, filename, functions)  # long runs of the template are placeholders in reader.data
        tree = _parser().parse(reader.data)
    except Exception as exc:  # noqa: BLE001
        return Invalid(f"cannot parse template {filename}: {exc}")
    heredoc = _find_heredoc(tree.root_node)
    if heredoc is None or tree.root_node.has_error:
        return Invalid(f"template {filename} has a syntax error")
    expr = reader.compiler.heredoc_body(heredoc.children, len(head), len(reader.data) - tail, False, heredoc)
    return expr  # compiled eagerly: no tree-sitter node outlives this call


# Terraform's built-in functions: what a call means unless the caller gives ``parse`` another table.
# templatefile() compiles the file it reads here, with this table again.
FUNCTIONS: Mapping[str, Function] = function_table(compile_template)


def _find_heredoc(node: Any) -> Any:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "heredoc_template":
            return current
        stack.extend(current.children)
    return None


# --- dynamic blocks ------------------------------------------------------------------


def expand_dynamic(block: Block, scope: Any) -> Any:
    """Expand a ``dynamic "name" { for_each = ...; content {...} }`` block.

    Returns a list of ``(block_type, content_body, child_scope)`` -- evaluate the
    content body's attributes in ``child_scope``, where the iterator (the label or
    the ``iterator`` argument) is bound to ``{key, value}`` -- or an ``Unknown``
    when ``for_each`` cannot be known.
    """
    name = block.labels[0] if block.labels else block.type
    iterator = name
    iterator_attr = block.body.get("iterator")
    if iterator_attr is not None:
        iterator = iterator_attr.expr.source_text().strip() or name
    for_each = block.body.get("for_each")
    contents = block.body.blocks_of("content")
    if for_each is None or not contents:
        return Unknown(f"dynamic block {name} has no for_each or content")
    value = for_each.expr.eval(scope)
    pairs = _dynamic_pairs(value)
    if isinstance(pairs, Unknown):
        return pairs
    return [(name, contents[0].body, ChildScope(scope, {iterator: {"key": k, "value": v}})) for k, v in pairs]


def _dynamic_pairs(value: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, PartialMap) and value.open:
        return Unknown("for_each map may hold unknown keys: " + "; ".join(value.open_reasons))
    if isinstance(value, Mapping):
        return [(k, value[k]) for k in sorted(value)]
    if isinstance(value, list):
        return list(enumerate(value))
    if value is None:
        return []
    return Unknown(f"dynamic for_each is not a collection: {value!r}")


def iter_blocks(body: Body) -> Iterator[Block]:
    """Every block below ``body``, depth first (handy for comment/line lookups)."""
    stack = list(reversed(body.blocks))
    while stack:
        block = stack.pop()
        yield block
        stack.extend(reversed(block.body.blocks))
