"""Compile tree-sitter-hcl expression nodes into ``evaluate.Expr`` trees.

Text is always taken from the source bytes between node offsets: the
tree-sitter CST drops whitespace from ``template_literal`` nodes.
"""
from __future__ import annotations

import re
import sys
from functools import cache
from collections.abc import Mapping
from typing import Any, Callable

from .evaluate import (
    BinaryOp,
    Conditional,
    Expr,
    ForDirective,
    ForExpr,
    FuncCall,
    GetAttr,
    GetIndex,
    IfDirective,
    Invalid,
    Literal,
    ObjectExpr,
    Source,
    Splat,
    Template,
    Traversal,
    TupleExpr,
    UnaryOp,
    _SPAN_BITS,
)
from .values import norm_number

BINARY_OPS = {"||", "&&", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%"}
STEP_TYPES = {"get_attr", "index", "splat"}
_PLAIN_STRING_PARTS = frozenset({"quoted_template_start", "template_literal", "quoted_template_end"})
_MARKERS = {
    "template_interpolation",
    "template_if_intro",
    "template_else_intro",
    "template_if_end",
    "template_for_start",
    "template_for_end",
}

# --- node kinds by number ------------------------------------------------------------------
# ``node.kind_id`` is an int the grammar fixes; ``node.type`` builds a str on every access (about
# twice the cost).  The compiler tests kinds by number: the ids are looked up by name in the grammar
# once (``_load_kinds``), before the first compile.

_EXPRESSION = _COMMENT = _LPAREN = _RPAREN = _VARIABLE_EXPR = _GET_ATTR = _INDEX = _SPLAT = -1
_LEGACY_INDEX = _FULL_SPLAT = _OBJECT_ELEM = _FUNCTION_ARGUMENTS = _ELLIPSIS = _IDENTIFIER = -1
_FOR_INTRO = _FOR_COND = _QUOTED_TEMPLATE_END = _HEREDOC_IDENTIFIER = _STRIP_MARKER = -1
_STEP_IDS: frozenset = frozenset()
_BINARY_IDS: frozenset = frozenset()
_PLAIN_STRING_IDS: frozenset = frozenset()
_MARKER_IDS: frozenset = frozenset()
_NESTED_TEMPLATE_IDS: frozenset = frozenset()
_HANDLER_IDS: dict = {}  # kind id -> Compiler.c_<kind>


def _load_kinds() -> None:
    global _EXPRESSION, _COMMENT, _LPAREN, _RPAREN, _VARIABLE_EXPR, _GET_ATTR, _INDEX, _SPLAT
    global _LEGACY_INDEX, _FULL_SPLAT, _OBJECT_ELEM, _FUNCTION_ARGUMENTS, _ELLIPSIS, _IDENTIFIER
    global _FOR_INTRO, _FOR_COND, _QUOTED_TEMPLATE_END, _HEREDOC_IDENTIFIER, _STRIP_MARKER
    global _STEP_IDS, _BINARY_IDS, _PLAIN_STRING_IDS, _MARKER_IDS, _NESTED_TEMPLATE_IDS
    import tree_sitter_hcl
    from tree_sitter import Language

    language = Language(tree_sitter_hcl.language())
    ids: dict[str, set[int]] = {}
    for kind in range(language.node_kind_count):
        ids.setdefault(language.node_kind_for_id(kind) or "", set()).add(kind)

    def one(name: str) -> int:
        (kind,) = ids[name]  # each name the compiler tests has one id in tree-sitter-hcl
        return kind

    def some(names: Any) -> frozenset:
        return frozenset(k for name in names for k in ids.get(name, ()))

    _EXPRESSION, _COMMENT, _LPAREN, _RPAREN = one("expression"), one("comment"), one("("), one(")")
    _VARIABLE_EXPR, _GET_ATTR, _INDEX, _SPLAT = one("variable_expr"), one("get_attr"), one("index"), one("splat")
    _LEGACY_INDEX, _FULL_SPLAT, _OBJECT_ELEM = one("legacy_index"), one("full_splat"), one("object_elem")
    _FUNCTION_ARGUMENTS, _ELLIPSIS, _IDENTIFIER = one("function_arguments"), one("ellipsis"), one("identifier")
    _FOR_INTRO, _FOR_COND, _QUOTED_TEMPLATE_END = one("for_intro"), one("for_cond"), one("quoted_template_end")
    _HEREDOC_IDENTIFIER, _STRIP_MARKER = one("heredoc_identifier"), one("strip_marker")
    _STEP_IDS, _BINARY_IDS = some(STEP_TYPES), some(BINARY_OPS)
    _PLAIN_STRING_IDS, _MARKER_IDS = some(_PLAIN_STRING_PARTS), some(_MARKERS)
    _NESTED_TEMPLATE_IDS = some(("template_directive", "template_if", "template_for"))
    for name, handler in _HANDLERS.items():
        for kind in ids.get(name, ()):
            _HANDLER_IDS[kind] = handler


# --- the shapes most expressions have -----------------------------------------------------------
# An ``expression`` node whose whole text is a plain quoted string (no interpolation, directive,
# ``$${``/``%%{`` escape, ``\$``/``\%`` or line end), a name with ``.name`` steps, or a whole number
# compiles from its bytes: tree-sitter gave the node exactly these bytes without an error, and for
# them its tree is always literal_value > string_lit / variable_expr + get_attr* / numeric_lit.
# ``true``/``false``/``null`` are literals, not names.  Anything else takes the tree walk.
# (Only nested expression nodes starting at the same byte, a conditional's condition, rescan a
# prefix: a bounded number of times.)
_SIMPLE = re.compile(
    rb'"((?:[^"\\$%\r\n]|\\[^\r\n$%]|\$(?!\{)|%(?!\{))*)"'
    rb"|([A-Za-z_][A-Za-z0-9_-]*)((?:\.[A-Za-z_][A-Za-z0-9_-]*)*)"
    rb"|([0-9]+)"
).fullmatch
_KEYWORDS = {b"true": True, b"false": False, b"null": None}
_UNSEEN = object()


class _Value:
    """A literal's value in ``Compiler.simple_known`` (a class of its own: values may be tuples or None)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Compiler:
    """Compiles expressions of one file; ``src`` holds the file's bytes, ``functions`` the function
    table calls are bound to."""

    def __init__(self, src: Source, functions: Mapping[str, Callable[..., Any]]) -> None:
        if not _HANDLER_IDS:
            _load_kinds()
        self.src = src
        self.functions = functions  # what a call's name means (FuncCall.fn): the caller's table
        self.data = src.data
        self.lines: dict = {}  # one int object per line number: a line holds several expressions
        # the line of every node of the expression being compiled when it sits on one line (0: look
        # each node's line up)
        self.single = 0
        self.shortcuts = True  # False: every expression takes the tree walk (tests compare both)
        self.simple_known: dict[bytes, Any] = {}  # short texts ``simple`` has read: what they mean
        self.seen: dict[bytes, tuple] = {}  # expression text -> (Expr, start, row) of its first compile
        self.shapes: dict[tuple, tuple] = {}  # _shape of an expression text -> (Expr, start, row), as seen

    # --- helpers --------------------------------------------------------------

    def line(self, row: int) -> int:
        """The 1-based line of a 0-based ``row`` (shared int objects)."""
        line = self.lines.get(row)
        if line is None:
            line = self.lines[row] = row + 1
        return line

    def text(self, node: Any) -> str:
        return _share(self.data[node.start_byte : node.end_byte].decode("utf-8", "replace"))

    def pos(self, node: Any) -> dict:
        return {"src": self.src, "start": node.start_byte, "end": node.end_byte, "line": self.line(node.start_point[0])}

    def at(self, node: Any) -> tuple:
        """``(src, start, end, line)`` of ``node``: an Expr's position arguments."""
        return self.src, node.start_byte, node.end_byte, self.single or self.line(node.start_point[0])

    # --- entry points ---------------------------------------------------------

    def expression(self, node: Any, line: int = 0) -> Expr:
        """Compile an ``expression`` (or any term) node; never raises.  ``line``: the node's 1-based line
        when the caller knows it sits on that one line (``hcl.parse``'s one-line attributes), else 0."""
        if node.has_error:
            return Invalid(f"syntax error in `{self.text(node)[:60]}`", **self.pos(node))
        row = line - 1 if line else node.start_point[0]  # a known line spares a Point object (~1.7 K instructions)
        start, end = node.start_byte, node.end_byte
        key = shape = None
        try:
            if end - start <= _REUSE_MAX_BYTES and self.shortcuts and node.kind_id == _EXPRESSION:
                key = self.data[start:end]
                seen = self.seen.get(key)
                if seen is not None:  # the same text compiled before in this file: the same tree, moved
                    expr, seen_start, seen_row = seen
                    shift = ((start - seen_start) << _SPAN_BITS) + start - seen_start
                    return _moved(expr, shift, row - seen_row, self.lines)
                parts = _shape(key) if self.src.long is None else None
                if parts is not None:
                    shape = _shape_key(parts)
                    seen = self.shapes.get(shape)
                    if seen is not None:  # the same text but for its strings' letters: that tree, restrung
                        expr, seen_start, seen_row = seen
                        shift = ((start - seen_start) << _SPAN_BITS) + start - seen_start
                        return _restrung(_moved(expr, shift, row - seen_row, self.lines), parts, start)
            # on one line: no end_point needed (and no newline search when the caller knows it)
            self.single = line or (self.line(row) if self.data.find(b"\n", start, end) < 0 else 0)
            expr = self.expr(node)
            if key is not None and len(self.seen) < _REUSE_MAX_TEXTS:
                self.seen[key] = (expr, start, row)
                if shape is not None and _literals(expr, []) is not None:
                    self.shapes[shape] = (expr, start, row)
            return expr
        except RecursionError:
            return Invalid("expression nested too deeply", **self.pos(node))
        except Exception as exc:  # noqa: BLE001 - unexpected CST shapes must not crash a scan
            return Invalid(f"cannot read expression: {exc}", **self.pos(node))
        finally:
            self.single = 0

    def expr(self, node: Any) -> Expr:
        kind = node.kind_id
        if kind == _EXPRESSION:
            if self.shortcuts:
                start, end = node.start_byte, node.end_byte
                match = _SIMPLE(self.data, start, end)
                if match is not None:
                    simple = self.simple(match, node, start, end)
                    if simple is not None:
                        return simple
            return self.sequence(node.children)
        handler = _HANDLER_IDS.get(kind)
        if handler is None:
            return Invalid(f"unsupported syntax `{node.type}`", **self.pos(node))
        return handler(self, node)

    def simple(self, match: re.Match[bytes], node: Any, start: int, end: int) -> Expr | None:
        """What the tree walk makes of a plain string, a name with ``.name`` steps or a whole number
        (``_SIMPLE``), from the node's bytes; None for a keyword followed by steps."""
        if end - start <= _SHARE_MAX:  # short texts repeat: decode them once per file
            key = match.group(0)
            meaning = self.simple_known.get(key, _UNSEEN)
            if meaning is _UNSEEN:
                meaning = self.simple_known[key] = self.simple_meaning(match)
        else:
            meaning = self.simple_meaning(match)
        if meaning is None:
            return None
        line = self.single or self.line(node.start_point[0])
        if meaning.__class__ is tuple:
            root, names = meaning
            return Traversal(root, [GetAttr(name) for name in names], self.src, start, end, line)
        return Literal(meaning.value, self.src, start, end, line)

    def simple_meaning(self, match: re.Match[bytes]) -> Any:
        """``_Value(v)`` for a literal, ``(root, names)`` for a traversal, None for a keyword with steps."""
        raw, root, steps, number = match.groups()
        if raw is not None:
            text = unescape_quoted(self.src.restore(raw.decode("utf-8", "replace"))) if raw else ""
            return _Value(_share(text))
        if root is not None:
            if root in _KEYWORDS:
                return None if steps else _Value(_KEYWORDS[root])
            names = steps.decode("ascii").split(".")[1:] if steps else ()
            return _share(root.decode("ascii")), tuple(_share(name) for name in names)
        return _Value(parse_numeric(number.decode("ascii")))

    def sequence(self, nodes: list) -> Expr:
        """A primary term followed by traversal steps (``get_attr``/``index``/``splat``)."""
        if len(nodes) == 1 and nodes[0].kind_id != _COMMENT:  # the common case: one term
            return self.expr(nodes[0])
        nodes = [n for n in nodes if n.kind_id != _COMMENT]
        if nodes and nodes[0].kind_id == _LPAREN:
            close = next(i for i, n in enumerate(nodes) if n.kind_id == _RPAREN and i > 0)
            primary: Any = self.expr(nodes[1])
            rest = nodes[close + 1 :]
        else:
            primary = nodes[0]
            rest = nodes[1:]
        if not rest:
            return primary if isinstance(primary, Expr) else self.expr(primary)
        root: Any
        if not isinstance(primary, Expr) and primary.kind_id == _VARIABLE_EXPR:
            root = self.text(primary)
        else:
            root = primary if isinstance(primary, Expr) else self.expr(primary)
        first = nodes[0]
        return Traversal(root, self.steps(rest), self.src, first.start_byte, nodes[-1].end_byte,
                         self.single or self.line(first.start_point[0]))

    def steps(self, nodes: list) -> list:
        out: list = []
        for node in nodes:
            kind = node.kind_id
            if kind == _GET_ATTR:
                out.append(GetAttr(self.text(node.children[-1])))
            elif kind == _INDEX:
                out.append(self.index(node.children[0]))
            elif kind == _SPLAT:
                out.extend(self.splat(node.children[0]))
        return out

    def index(self, node: Any) -> Any:
        if node.kind_id == _LEGACY_INDEX:
            digits = self.data[node.children[0].end_byte : node.end_byte].decode("ascii", "replace")
            return GetIndex(Literal(int(digits) if digits.isdigit() else digits, *self.at(node)))
        inner = [c for c in node.children if c.is_named and c.kind_id != _COMMENT]
        return GetIndex(self.expr(inner[0]))

    def splat(self, node: Any) -> list:
        inner = [c for c in node.children if c.kind_id in _STEP_IDS]
        if node.kind_id == _FULL_SPLAT:
            return [Splat(self.steps(inner))]
        # ``.*`` takes only attribute steps; anything after applies to the result.
        n_attr = 0
        while n_attr < len(inner) and inner[n_attr].kind_id == _GET_ATTR:
            n_attr += 1
        return [Splat(self.steps(inner[:n_attr]))] + self.steps(inner[n_attr:])

    # --- terms ----------------------------------------------------------------

    def c_variable_expr(self, node: Any) -> Expr:
        return Traversal(self.text(node), [], *self.at(node))

    def c_literal_value(self, node: Any) -> Expr:
        return self.expr(node.children[0])

    def c_numeric_lit(self, node: Any) -> Expr:
        return Literal(parse_numeric(self.text(node)), *self.at(node))

    def c_bool_lit(self, node: Any) -> Expr:
        return Literal(self.text(node) == "true", *self.at(node))

    def c_null_lit(self, node: Any) -> Expr:
        return Literal(None, *self.at(node))

    def c_collection_value(self, node: Any) -> Expr:
        return self.expr(node.children[0])

    def c_tuple(self, node: Any) -> Expr:
        items = [self.expr(c) for c in node.children if c.kind_id == _EXPRESSION]
        return TupleExpr(items, *self.at(node))

    def c_object(self, node: Any) -> Expr:
        pairs = [self.object_elem(c) for c in node.children if c.kind_id == _OBJECT_ELEM]
        return ObjectExpr(pairs, *self.at(node))

    def object_elem(self, node: Any) -> tuple[Expr, Expr]:
        key_node = node.child_by_field_name("key")
        value_node = node.child_by_field_name("val")
        return self.object_key(key_node), self.expr(value_node)

    def object_key(self, node: Any) -> Expr:
        if self.shortcuts:
            start, end = node.start_byte, node.end_byte
            match = _SIMPLE(self.data, start, end)
            name = match.group(2) if match is not None and not match.group(3) else None
            if name is not None and name not in _KEYWORDS:  # a bare identifier key: the literal string
                return Literal(_share(name.decode("ascii")), self.src, start, end,
                               self.single or self.line(node.start_point[0]))
        named = [c for c in node.children if c.kind_id != _COMMENT]
        if len(named) == 1 and named[0].kind_id == _VARIABLE_EXPR:
            # A bare identifier key is the literal string, not a variable.
            return Literal(self.text(named[0]), *self.at(node))
        return self.expr(node)

    def c_function_call(self, node: Any) -> Expr:
        children = node.children
        name = self.text(children[0])
        args: list[Expr] = []
        expand = False
        for child in children:
            if child.kind_id == _FUNCTION_ARGUMENTS:
                inner = child.children
                args = [self.expr(c) for c in inner if c.kind_id == _EXPRESSION]
                expand = any(c.kind_id == _ELLIPSIS for c in inner)
        return FuncCall(name, args, expand, self.functions.get(name), *self.at(node))

    def c_conditional(self, node: Any) -> Expr:
        parts = [self.expr(c) for c in node.children if c.kind_id == _EXPRESSION]
        return Conditional(parts[0], parts[1], parts[2], *self.at(node))

    def c_operation(self, node: Any) -> Expr:
        return self.expr(node.children[0])

    def c_unary_operation(self, node: Any) -> Expr:
        children = node.children
        return UnaryOp(children[0].type, self.sequence(children[1:]), *self.at(node))

    def c_binary_operation(self, node: Any) -> Expr:
        children = node.children
        at = next(i for i, c in enumerate(children) if not c.is_named and c.kind_id in _BINARY_IDS and i > 0)
        left = self.sequence(children[:at])
        right = self.sequence(children[at + 1 :])
        return BinaryOp(children[at].type, left, right, *self.at(node))

    def c_for_expr(self, node: Any) -> Expr:
        return self.expr(node.children[0])

    def c_for_tuple_expr(self, node: Any) -> Expr:
        return self.for_expr(node, is_object=False)

    def c_for_object_expr(self, node: Any) -> Expr:
        return self.for_expr(node, is_object=True)

    def for_expr(self, node: Any, is_object: bool) -> Expr:
        children = node.children
        intro = next(c for c in children if c.kind_id == _FOR_INTRO)
        names = [self.text(c) for c in intro.children if c.kind_id == _IDENTIFIER]
        coll = self.expr(next(c for c in intro.children if c.kind_id == _EXPRESSION))
        exprs = [self.expr(c) for c in children if c.kind_id == _EXPRESSION]
        cond_node = next((c for c in children if c.kind_id == _FOR_COND), None)
        cond = None
        if cond_node is not None:
            cond = self.expr(next(c for c in cond_node.children if c.kind_id == _EXPRESSION))
        key_name, value_name = (names[0], names[1]) if len(names) > 1 else (None, names[0])
        key_expr = exprs[0] if is_object else None
        value_expr = exprs[1] if is_object else exprs[0]
        grouping = any(c.kind_id == _ELLIPSIS for c in children)
        return ForExpr(key_name, value_name, coll, key_expr, value_expr, cond, grouping, *self.at(node))

    # --- templates ------------------------------------------------------------

    def c_template_expr(self, node: Any) -> Expr:
        return self.expr(node.children[0])

    def c_string_lit(self, node: Any) -> Expr:
        return self.c_quoted_template(node)

    def c_quoted_template(self, node: Any) -> Expr:
        children = node.children
        start = children[0].end_byte
        end = children[-1].start_byte if children[-1].kind_id == _QUOTED_TEMPLATE_END else node.end_byte
        if all(c.kind_id in _PLAIN_STRING_IDS for c in children):  # no interpolation or directive
            if end <= start:
                return Literal("", *self.at(node))
            text = unescape_quoted(self.src.restore(self.data[start:end].decode("utf-8", "replace")))
            return Literal(_share(text), *self.at(node))
        tokens = self.template_tokens(children, start, end, quoted=True)
        return self.template(tokens, node)

    def c_heredoc_template(self, node: Any) -> Expr:
        children = node.children
        flush = self.text(children[0]) == "<<-"
        start = self.data.find(b"\n", children[1].end_byte) + 1 or children[1].end_byte
        last = children[-1]
        end = self.data.rfind(b"\n", start, last.start_byte) + 1 if last.kind_id == _HEREDOC_IDENTIFIER else 0
        end = max(end, start)
        return self.heredoc_body(children, start, end, flush, node)

    def heredoc_body(self, children: list, start: int, end: int, flush: bool, node: Any) -> Expr:
        tokens = self.template_tokens(children, start, end, quoted=False)
        if flush:
            flush_heredoc(tokens)
        return self.template(tokens, node)

    def template(self, tokens: list, node: Any) -> Expr:
        apply_strip_markers(tokens)
        parts, _ = self.build_parts(tokens, 0, ())
        parts = merge_literals(parts)
        if not parts:
            return Literal("", *self.at(node))
        if len(parts) == 1 and isinstance(parts[0], str):
            return Literal(_share(parts[0]), *self.at(node))
        return Template(parts, *self.at(node))

    def template_tokens(self, children: list, start: int, end: int, quoted: bool) -> list:
        """Flat tokens: ["lit", text] split after newlines, or [kind, node, lstrip, rstrip]."""
        markers: list = []
        collect_markers(children, markers)
        tokens: list = []
        cursor = start
        for marker in markers:
            if marker.start_byte < start or marker.end_byte > end:
                continue
            self.literal_tokens(cursor, marker.start_byte, quoted, tokens)
            tokens.append([marker.type, marker, strip_left(marker), strip_right(marker)])
            cursor = marker.end_byte
        self.literal_tokens(cursor, end, quoted, tokens)
        return tokens

    def literal_tokens(self, start: int, end: int, quoted: bool, tokens: list) -> None:
        if end <= start:
            return
        raw = self.src.restore(self.data[start:end].decode("utf-8", "replace"))
        text = unescape_quoted(raw) if quoted else unescape_template(raw)
        for line in text.splitlines(keepends=True):
            tokens.append(["lit", line])

    def build_parts(self, tokens: list, i: int, stops: tuple) -> tuple[list, int]:
        parts: list = []
        while i < len(tokens):
            token = tokens[i]
            kind = token[0]
            if kind in stops:
                return parts, i
            i += 1
            if kind == "lit":
                parts.append(token[1])
            elif kind == "template_interpolation":
                parts.append(self.expr(inner_expression(token[1])))
            elif kind == "template_if_intro":
                directive, i = self.if_directive(token[1], tokens, i)
                parts.append(directive)
            elif kind == "template_for_start":
                directive, i = self.for_directive(token[1], tokens, i)
                parts.append(directive)
        return parts, i

    def if_directive(self, intro: Any, tokens: list, i: int) -> tuple[Expr, int]:
        cond = self.expr(inner_expression(intro))
        then, i = self.build_parts(tokens, i, ("template_else_intro", "template_if_end"))
        otherwise: list = []
        if i < len(tokens) and tokens[i][0] == "template_else_intro":
            otherwise, i = self.build_parts(tokens, i + 1, ("template_if_end",))
        i += 1  # the endif
        return IfDirective(cond, merge_literals(then), merge_literals(otherwise), *self.at(intro)), i

    def for_directive(self, start: Any, tokens: list, i: int) -> tuple[Expr, int]:
        names = [self.text(c) for c in start.children if c.kind_id == _IDENTIFIER]
        coll = self.expr(inner_expression(start))
        body, i = self.build_parts(tokens, i, ("template_for_end",))
        key_name, value_name = (names[0], names[1]) if len(names) > 1 else (None, names[0])
        return ForDirective(key_name, value_name, coll, merge_literals(body), *self.at(start)), i + 1


# node type -> Compiler.c_<type> (one dict lookup per node instead of building a name)
_HANDLERS = {name[2:]: func for name, func in vars(Compiler).items() if name.startswith("c_")}


# --- the same text again -------------------------------------------------------------------------
# Attributes repeat word for word in a file (``tags = merge(local.common, {...})`` in every resource,
# ``for_each``/``content`` of dynamic blocks).  An expression whose text was compiled before in the same
# file is that tree copied with its offsets and lines moved (~4x cheaper than compiling it again): tree-sitter
# parses the same bytes of an expression the same way wherever they sit.  Texts up to
# ``_REUSE_MAX_BYTES``, the first ``_REUSE_MAX_TEXTS`` of them per file (bounded memory).

_REUSE_MAX_BYTES = 256
_REUSE_MAX_TEXTS = 4096
_new = object.__new__


def _moved(expr: Any, shift: int, rows: int, lines: dict) -> Any:
    """A copy of ``expr``'s tree with every offset moved by the packed ``shift`` and every line by
    ``rows`` (line numbers shared through the compiler's ``lines``)."""
    cls = expr.__class__
    new = _new(cls)
    new.src = expr.src
    new._span = expr._span + shift
    line = expr.line + rows
    new.line = lines.setdefault(line - 1, line)
    if cls is Literal:  # the most common node (alone, or in calls/objects): its one slot here, no mover call
        new.value = expr.value
    else:
        _MOVERS[cls](expr, new, shift, rows, lines)
    return new


def _moved_list(items: list, shift: int, rows: int, lines: dict) -> list:
    return [_moved(item, shift, rows, lines) for item in items]


def _moved_parts(parts: list, shift: int, rows: int, lines: dict) -> list:
    """Template parts: text (kept) and expressions (moved)."""
    return [part if part.__class__ is str else _moved(part, shift, rows, lines) for part in parts]


def _moved_steps(steps: list, shift: int, rows: int, lines: dict) -> list:
    out: list = []
    for step in steps:
        cls = step.__class__
        if cls is GetIndex:
            step = GetIndex(_moved(step.key, shift, rows, lines))
        elif cls is Splat:
            step = Splat(_moved_steps(step.steps, shift, rows, lines))
        out.append(step)  # GetAttr holds a name only: shared
    return out


def _moved_optional(expr: Any, shift: int, rows: int, lines: dict) -> Any:
    return None if expr is None else _moved(expr, shift, rows, lines)


def _m_literal(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.value = old.value


def _m_invalid(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.message = old.message


def _m_traversal(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    root = old.root
    new.root = root if root.__class__ is str else _moved(root, shift, rows, lines)
    new.steps = _moved_steps(old.steps, shift, rows, lines)


def _m_call(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.name, new.expand, new.fn = old.name, old.expand, old.fn
    new.args = _moved_list(old.args, shift, rows, lines)


def _m_object(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.pairs = [(_moved(k, shift, rows, lines), _moved(v, shift, rows, lines)) for k, v in old.pairs]


def _m_tuple(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.items = _moved_list(old.items, shift, rows, lines)


def _m_template(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.parts, new.wrap = _moved_parts(old.parts, shift, rows, lines), old.wrap


def _m_conditional(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.cond = _moved(old.cond, shift, rows, lines)
    new.then = _moved(old.then, shift, rows, lines)
    new.otherwise = _moved(old.otherwise, shift, rows, lines)


def _m_unary(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.op, new.operand = old.op, _moved(old.operand, shift, rows, lines)


def _m_binary(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.op = old.op
    new.left, new.right = _moved(old.left, shift, rows, lines), _moved(old.right, shift, rows, lines)


def _m_for(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.key_name, new.value_name, new.grouping = old.key_name, old.value_name, old.grouping
    new.coll = _moved(old.coll, shift, rows, lines)
    new.key_expr = _moved_optional(old.key_expr, shift, rows, lines)
    new.value_expr = _moved(old.value_expr, shift, rows, lines)
    new.cond = _moved_optional(old.cond, shift, rows, lines)


def _m_if_directive(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.cond = _moved(old.cond, shift, rows, lines)
    new.then = _moved_parts(old.then, shift, rows, lines)
    new.otherwise = _moved_parts(old.otherwise, shift, rows, lines)


def _m_for_directive(old: Any, new: Any, shift: int, rows: int, lines: dict) -> None:
    new.key_name, new.value_name = old.key_name, old.value_name
    new.coll = _moved(old.coll, shift, rows, lines)
    new.body = _moved_parts(old.body, shift, rows, lines)


# every Expr class the compiler builds, and how to copy its own slots (a test checks them all)
_MOVERS: dict[type, Callable[..., None]] = {
    Literal: _m_literal, Invalid: _m_invalid, Traversal: _m_traversal, FuncCall: _m_call, ObjectExpr: _m_object,
    TupleExpr: _m_tuple, Template: _m_template, Conditional: _m_conditional, UnaryOp: _m_unary,
    BinaryOp: _m_binary, ForExpr: _m_for, IfDirective: _m_if_directive, ForDirective: _m_for_directive,
}


# --- the same shape again ------------------------------------------------------------------------
# Attributes also repeat but for the letters of a plain string (``merge(local.common, { Name = "gpu-7" })``
# in every resource).  Where no string can be anything but plain text (no backslash, ``$``, ``%``: no escape,
# interpolation or directive; no ``#``, ``/``, ``<``: no comment or heredoc; no CR, NUL or string across a line end),
# every double quote opens or closes a string, so texts with the same parts outside quotes and strings of the
# same lengths are the same tokens at the same offsets but for the strings' letters: tree-sitter gives them
# the same tree, and the compiler the same Expr tree but for the values of the strings' Literals (each spans
# its quotes; a plain string's value is its decoded text).  Such a text is the first one's tree moved, with
# those values set (``_restrung``).  Kept in the same bounds as ``Compiler.seen``.

_SHAPE_UNSAFE = b"\\$%#/<\r\0"  # bytes that may make a string more than plain text, or start a comment/heredoc


def _shape(text: bytes) -> list[bytes] | None:
    """``text`` split at its double quotes (the odd parts are the strings) when every string in it can only be
    plain text and it is more than a lone string (``Compiler.simple`` reads that for less); else None."""
    if len(text.translate(None, _SHAPE_UNSAFE)) != len(text):
        return None
    parts = text.split(b'"')
    if len(parts) < 3 or len(parts) % 2 == 0 or (len(parts) == 3 and not parts[0] and not parts[2]):
        return None  # no string, one left open, or a lone string
    if b"\n" in b"".join(parts[1::2]):
        return None
    return parts


def _shape_key(parts: list[bytes]) -> tuple:
    """What texts of one shape share: the parts outside strings and each string's length."""
    return tuple(parts[0::2]), tuple(map(len, parts[1::2]))


def _restrung(expr: Expr, parts: list[bytes], start: int) -> Expr:
    """``expr`` (a moved copy for the text of ``parts`` at ``start``) with each string's Literal given the
    text's string (a Literal spans its quotes: it starts at the quote that opens its string)."""
    values: dict[int, str] = {}
    offset = start
    for i in range(0, len(parts) - 1, 2):
        offset += len(parts[i])  # the opening quote
        values[offset] = _share(parts[i + 1].decode("utf-8", "replace"))
        offset += len(parts[i + 1]) + 2
    for literal in _literals(expr, []) or ():
        value = values.get(literal._span >> _SPAN_BITS)
        if value is not None:
            literal.value = value
    return expr


def _literals(expr: Any, out: list) -> list | None:
    """Every Literal of ``expr``'s tree (into ``out``); None when the tree holds a class ``_restrung`` does not
    walk (templates and directives: a text the shape memo takes cannot hold them)."""
    cls = expr.__class__
    if cls is Literal:
        out.append(expr)
        return out
    if cls is FuncCall:
        children = expr.args
    elif cls is ObjectExpr:
        children = [e for pair in expr.pairs for e in pair]
    elif cls is Traversal:
        children = [] if expr.root.__class__ is str else [expr.root]
        steps = list(expr.steps)
        while steps:
            step = steps.pop()
            if step.__class__ is GetIndex:
                children.append(step.key)
            elif step.__class__ is Splat:
                steps.extend(step.steps)
    elif cls is ForExpr:
        children = [e for e in (expr.coll, expr.key_expr, expr.value_expr, expr.cond) if e is not None]
    elif cls in (TupleExpr, Conditional, UnaryOp, BinaryOp):
        children = expr._children()
    else:
        return None
    for child in children:
        if child.__class__ is Literal:  # most children: no call
            out.append(child)
        elif _literals(child, out) is None:
            return None
    return out


# --- template helpers (module level: no compiler state) -----------------------------

_SHARE_MAX = 64


def _share(text: str) -> str:
    """One str object for equal short names and literals (``resource``, ``instance_type``,
    ``"g5.xlarge"`` repeat thousands of times in a big file); interned strings are freed with
    their last reference."""
    return sys.intern(text) if len(text) <= _SHARE_MAX else text



def collect_markers(children: list, out: list) -> None:
    for child in children:
        kind = child.kind_id
        if kind in _MARKER_IDS:
            out.append(child)
        elif kind in _NESTED_TEMPLATE_IDS:
            collect_markers(child.children, out)


def inner_expression(node: Any) -> Any:
    return next(c for c in node.children if c.kind_id == _EXPRESSION)


def strip_left(node: Any) -> bool:
    children = node.children
    return len(children) > 2 and children[1].kind_id == _STRIP_MARKER


def strip_right(node: Any) -> bool:
    children = node.children
    return (len(children) > 2 and children[-2].kind_id == _STRIP_MARKER
            and (len(children) > 3 or not strip_left(node)))


def apply_strip_markers(tokens: list) -> None:
    """``~`` trims the whitespace of the adjacent literal token only.  Literals are split after
    each newline (as HCL's scanner does), so ``%{ endfor ~}`` eats the rest of its own line but
    not the indentation of the next one -- what keeps YAML templates valid."""
    for i, token in enumerate(tokens):
        if token[0] == "lit":
            continue
        if token[2] and i > 0 and tokens[i - 1][0] == "lit":
            tokens[i - 1][1] = tokens[i - 1][1].rstrip()
        if token[3] and i + 1 < len(tokens) and tokens[i + 1][0] == "lit":
            tokens[i + 1][1] = tokens[i + 1][1].lstrip()


def flush_heredoc(tokens: list) -> None:
    """``<<-``: remove the smallest indentation shared by all non-blank lines."""
    min_spaces: int | None = None
    adjust: list = []
    at_line_start = True
    for token in tokens:
        if at_line_start:
            spaces = _line_indent(token, adjust)
            if spaces is not None:
                min_spaces = spaces if min_spaces is None else min(min_spaces, spaces)
        at_line_start = token[0] == "lit" and token[1].endswith("\n")
    if not min_spaces:
        return
    for token in adjust:
        token[1] = token[1][min_spaces:]


def _line_indent(token: list, adjust: list) -> int | None:
    if token[0] != "lit":
        return 0  # an interpolation at column 0 means nothing can be stripped
    text = token[1]
    stripped = text.lstrip(" \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u3000")
    if not stripped.strip() and text.endswith("\n"):
        return None  # blank line: does not count
    adjust.append(token)
    return len(text) - len(stripped)


def merge_literals(parts: list) -> list:
    out: list = []
    for part in parts:
        if isinstance(part, str):
            if not part:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += part
                continue
        out.append(part)
    return out


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


# Compiled on first use (cached: the same pattern object every call): most strings hold no escape, and
# compiling them at import costs ~1 M instructions each.
@cache
def _quoted_re() -> re.Pattern[str]:
    return re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|\$\$\{|%%\{", re.S)


@cache
def _template_re() -> re.Pattern[str]:
    return re.compile(r"\$\$\{|%%\{")


def _quoted_sub(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == "$${":
        return "${"
    if text == "%%{":
        return "%{"
    code = match.group(1)
    if code[0] in "uU" and len(code) > 1:
        return _chr(int(code[1:], 16))
    return _ESCAPES.get(code, text)


def _chr(value: int) -> str:
    try:
        return chr(value)
    except (ValueError, OverflowError):
        return "\ufffd"


def unescape_quoted(raw: str) -> str:
    if "\\" not in raw and "$${" not in raw and "%%{" not in raw:
        return raw
    return _quoted_re().sub(_quoted_sub, raw)


def unescape_template(raw: str) -> str:
    if "$${" not in raw and "%%{" not in raw:
        return raw
    return _template_re().sub(lambda m: m.group(0)[1:], raw)


def parse_numeric(text: str) -> Any:
    # A short run of ASCII digits is a whole number: int() gives Decimal's exact value (and stays far under
    # int()'s digit limit, which Decimal does not have); the decimal module is then never imported.
    if len(text) <= 18 and text.isascii() and text.isdigit():
        return int(text)
    from decimal import Decimal, InvalidOperation  # for a fraction, an exponent or a long number (~5 M instructions)

    try:
        number = Decimal(text)
    except InvalidOperation:
        return norm_number(float(text))
    if number == number.to_integral_value():
        return int(number)
    return float(number)
