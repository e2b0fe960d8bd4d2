"""Terraform JSON syntax (``*.tf.json``) read into the same Body/Block/Attribute tree as ``hcl.py``.

The JSON is scanned by a small parser that keeps the line of every value (the
standard ``json`` module forgets them), then mapped to blocks following
Terraform's JSON configuration syntax:

* top level: ``resource``/``data`` (``{type: {name: body}}``), ``module``,
  ``provider``, ``variable``, ``output`` (``{name: body}``), ``locals``
  (``{name: expr}``); each level may also be an array of such objects;
  ``terraform`` and ``moved``/``import``/``check`` blocks are skipped.
* inside a body, a property whose value is an object (or an array of objects)
  may be an argument or a nested block -- only the provider schema knows.  It
  becomes both: an attribute (object/tuple expression) and nested block(s).
  Readers look for blocks first (``extract.blocks_named``), attributes second.
* strings are templates (``"${var.x}"``, ``%{if}``), compiled with
  ``hcl.compile_template``; numbers, booleans and null are literals; a
  variable's ``default`` is a literal value (no templates), its ``type`` and a
  resource's ``provider`` are expression text; ``"//"`` properties are
  comments (and may carry ``tagguard:ignore``).

``parse(data, filename)`` never raises; malformed JSON gives one ParseIssue
with its line and column.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from tagguard.hcl.evaluate import Literal, ObjectExpr, Source, TupleExpr
from tagguard.hcl.parse import MAX_BLOCK_DEPTH, Attribute, Block, Body, HclFile, ParseIssue

MAX_DEPTH = 256


class JsonError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


class JNode:
    """One JSON value with its position (``value`` is a list of (key, JNode, key_pos) for objects)."""

    __slots__ = ("kind", "value", "start", "end")

    def __init__(self, kind: str, value: Any, start: int, end: int) -> None:
        self.kind = kind  # "object" | "array" | "string" | "number" | "bool" | "null"
        self.value = value
        self.start = start
        self.end = end


_WS = re.compile(r"[ \t\r\n]*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")


class _Scanner:
    def __init__(self, text: str) -> None:
        import json.decoder

        self.text = text
        # typeshed leaves out json.decoder.scanstring (CPython's C string scanner, there since 2.6)
        self.scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]

    def ws(self, pos: int) -> int:
        m = _WS.match(self.text, pos)  # the pattern matches the empty string: never None
        return m.end() if m is not None else pos

    def value(self, pos: int, depth: int) -> tuple[JNode, int]:
        if depth > MAX_DEPTH:
            raise JsonError(f"nested more than {MAX_DEPTH} levels deep", pos)
        text = self.text
        pos = self.ws(pos)
        if pos >= len(text):
            raise JsonError("unexpected end of file", pos)
        ch = text[pos]
        if ch == "{":
            return self.obj(pos, depth)
        if ch == "[":
            return self.array(pos, depth)
        if ch == '"':
            s, end = self.string(pos)
            return JNode("string", s, pos, end), end
        if text.startswith("true", pos):
            return JNode("bool", True, pos, pos + 4), pos + 4
        if text.startswith("false", pos):
            return JNode("bool", False, pos, pos + 5), pos + 5
        if text.startswith("null", pos):
            return JNode("null", None, pos, pos + 4), pos + 4
        m = _NUMBER.match(text, pos)
        if m and m.end() > pos:
            raw = m.group(0)
            num: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            if isinstance(num, float) and num.is_integer() and abs(num) < 2 ** 53:
                num = int(num)
            return JNode("number", num, pos, m.end()), m.end()
        raise JsonError(f"unexpected character {text[pos]!r}", pos)

    def string(self, pos: int) -> tuple[str, int]:
        try:
            return self.scanstring(self.text, pos + 1, True)
        except ValueError as exc:
            raise JsonError(str(exc).split(":")[0], getattr(exc, "pos", pos)) from None

    def obj(self, pos: int, depth: int) -> tuple[JNode, int]:
        start = pos
        pairs: list[tuple[str, JNode, int]] = []
        pos = self.ws(pos + 1)
        if self.text.startswith("}", pos):
            return JNode("object", pairs, start, pos + 1), pos + 1
        while True:
            pos = self.ws(pos)
            if not self.text.startswith('"', pos):
                raise JsonError("expected a property name in double quotes", pos)
            key_pos = pos
            key, pos = self.string(pos)
            pos = self.ws(pos)
            if not self.text.startswith(":", pos):
                raise JsonError("expected `:` after a property name", pos)
            node, pos = self.value(pos + 1, depth + 1)
            pairs.append((key, node, key_pos))
            pos = self.ws(pos)
            if self.text.startswith(",", pos):
                pos += 1
                continue
            if self.text.startswith("}", pos):
                return JNode("object", pairs, start, pos + 1), pos + 1
            raise JsonError("expected `,` or `}` in an object", pos)

    def array(self, pos: int, depth: int) -> tuple[JNode, int]:
        start = pos
        items: list[JNode] = []
        pos = self.ws(pos + 1)
        if self.text.startswith("]", pos):
            return JNode("array", items, start, pos + 1), pos + 1
        while True:
            node, pos = self.value(pos, depth + 1)
            items.append(node)
            pos = self.ws(pos)
            if self.text.startswith(",", pos):
                pos += 1
                continue
            if self.text.startswith("]", pos):
                return JNode("array", items, start, pos + 1), pos + 1
            raise JsonError("expected `,` or `]` in an array", pos)


def scan_json(text: str) -> JNode:
    """Parse a JSON document keeping positions; raises JsonError."""
    scanner = _Scanner(text)
    node, pos = scanner.value(0, 0)
    pos = scanner.ws(pos)
    if pos != len(text):
        raise JsonError("extra data after the top-level value", pos)
    return node


# --- JSON -> HCL structure -------------------------------------------------------------


class _TextSource(Source):
    """Source text addressed by character offsets (the JSON scanner works on str)."""

    __slots__ = ("chars",)

    def __init__(self, chars: str, filename: str) -> None:
        super().__init__(b"", filename)
        self.chars = chars

    def text(self, start: int, end: int) -> str:
        return self.chars[start:end]


class JsonBody(Body):
    """A body read from JSON; ``dual`` names properties that are both an attribute and block(s)."""

    __slots__ = ("dual",)

    def __init__(self) -> None:
        super().__init__()
        self.dual: set = set()


class _Compiler:
    """Compiles a JNode into an Expr when an Attribute's ``expr`` is first read."""

    def __init__(self, conv: _Converter, mode: str = "expr") -> None:
        self.conv = conv
        self.mode = mode

    def expression(self, node: JNode) -> Any:
        if self.mode == "literal":
            return self.conv.literal(node)
        if self.mode == "text":
            return self.conv.text_expr(node)
        return self.conv.expr(node)


_SKIP_TOP = {"terraform", "moved", "import", "check", "removed"}
_LABELS = {"resource": 2, "data": 2, "module": 1, "provider": 1, "variable": 1, "output": 1}


class _Converter:
    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.src = _TextSource(text, filename)
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.comments: list[tuple[int, str]] = []
        self.errors: list[ParseIssue] = []
        self.c_expr = _Compiler(self)
        self.c_literal = _Compiler(self, "literal")
        self.c_text = _Compiler(self, "text")

    def line(self, pos: int) -> int:
        import bisect

        return bisect.bisect_left(self.newlines, pos) + 1

    def column(self, pos: int) -> int:
        import bisect

        i = bisect.bisect_left(self.newlines, pos)
        return pos - (self.newlines[i - 1] + 1 if i else 0) + 1

    # -- top level ----------------------------------------------------------------
    def top(self, root: JNode) -> Body:
        body = Body()
        if root.kind != "object":
            self.errors.append(ParseIssue(self.line(root.start), self.column(root.start),
                                          "the top level of a .tf.json file must be a JSON object"))
            return body
        for key, node, key_pos in root.value:
            if key == "//":
                self.comment(node)
                continue
            if key in _SKIP_TOP:
                continue
            for item in self.items(node):
                if key == "locals":
                    block = Block("locals", [], Body(), self.line(item.start), self.line(item.end))
                    if item.kind != "object":
                        self.bad(item, "`locals` must be an object")
                        continue
                    for name, value, name_pos in item.value:
                        if name != "//":
                            block.body.attributes[name] = self.attribute(name, value, name_pos, self.c_expr)
                    body.blocks.append(block)
                elif key in _LABELS:
                    self.labelled(body, key, item, _LABELS[key], [], key_pos)
                else:
                    self.bad(item, f"unknown top-level block type `{key}`")
        return body

    def items(self, node: JNode) -> list[JNode]:
        return list(node.value) if node.kind == "array" else [node]

    def labelled(self, body: Body, kind: str, node: JNode, need: int, labels: list[str], key_pos: int) -> None:
        if len(labels) == need:
            for item in self.items(node):
                if item.kind != "object":
                    self.bad(item, f"the body of {kind} {' '.join(labels)} must be an object")
                    continue
                block = Block(kind, list(labels), self.body(item, kind, 0), self.line(key_pos), self.line(item.end))
                body.blocks.append(block)
            return
        for item in self.items(node):
            if item.kind != "object":
                self.bad(item, f"{kind} {' '.join(labels)}: expected an object of labels")
                continue
            for label, child, label_pos in item.value:
                if label == "//":
                    self.comment(child)
                    continue
                self.labelled(body, kind, child, need, labels + [label], label_pos)

    def body(self, node: JNode, kind: str, depth: int) -> Body:
        body = JsonBody()
        if depth > MAX_BLOCK_DEPTH:
            return body
        for name, value, name_pos in node.value:
            if name == "//":
                self.comment(value)
                continue
            if kind == "variable" and name == "default":
                body.attributes[name] = self.attribute(name, value, name_pos, self.c_literal)
                continue
            if (kind == "variable" and name == "type") or (kind in ("resource", "data") and name == "provider") \
                    or name == "iterator":
                body.attributes[name] = self.attribute(name, value, name_pos, self.c_text)
                continue
            if kind == "module" and name == "providers":
                body.attributes[name] = self.attribute(name, value, name_pos, self.c_text)
                continue
            if name == "dynamic" and value.kind in ("object", "array"):
                self.dynamic(body, value, depth)
                continue
            if name in ("depends_on", "lifecycle", "provisioner", "connection", "postcondition", "precondition"):
                continue
            body.attributes[name] = self.attribute(name, value, name_pos, self.c_expr)
            blocks = self.nested(value)
            if blocks:
                body.dual.add(name)
                for item in blocks:
                    body.blocks.append(Block(name, [], self.body(item, name, depth + 1),
                                             self.line(name_pos), self.line(item.end)))
        return body

    def nested(self, value: JNode) -> list[JNode]:
        if value.kind == "object":
            return [value]
        if value.kind == "array" and value.value and all(v.kind == "object" for v in value.value):
            return list(value.value)
        return []

    def dynamic(self, body: Body, node: JNode, depth: int) -> None:
        for item in self.items(node):
            if item.kind != "object":
                continue
            for label, spec, label_pos in item.value:
                if label == "//" or spec.kind != "object":
                    continue
                inner = self.body(spec, "dynamic", depth + 1)
                body.blocks.append(Block("dynamic", [label], inner, self.line(label_pos), self.line(spec.end)))

    def attribute(self, name: str, node: JNode, name_pos: int, compiler: _Compiler) -> Attribute:
        attr = Attribute(name, node, compiler, self.line(name_pos), self.line(node.end))
        if compiler is self.c_expr and _has_template(node):
            attr.expr  # compile now, so a broken "${" is a parse error with its line  # noqa: B018
        return attr

    def comment(self, node: JNode) -> None:
        if node.kind == "string":
            self.comments.append((self.line(node.start), node.value.strip()))
        elif node.kind == "array":
            for item in node.value:
                self.comment(item)

    def bad(self, node: JNode, message: str) -> None:
        self.errors.append(ParseIssue(self.line(node.start), self.column(node.start), message))

    # -- expressions --------------------------------------------------------------
    def pos(self, node: JNode) -> dict[str, Any]:
        return {"src": self.src, "start": node.start, "end": node.end, "line": self.line(node.start)}

    def literal(self, node: JNode) -> Any:
        return Literal(_plain(node), **self.pos(node))

    def text_expr(self, node: JNode) -> Any:
        """A value whose source text matters (type, provider reference, providers map)."""
        if node.kind == "string":
            text = node.value
        elif node.kind == "object":
            text = "{ " + ", ".join(f"{k} = {v.value}" for k, v, _ in node.value if v.kind == "string") + " }"
        else:
            return self.expr(node)
        return Literal(node.value if node.kind == "string" else _plain(node),
                       src=_TextSource(text, self.filename), start=0, end=len(text), line=self.line(node.start))

    def expr(self, node: JNode) -> Any:
        kind = node.kind
        if kind == "string":
            return self.template(node.value, node)
        if kind == "array":
            return TupleExpr([self.expr(v) for v in node.value], **self.pos(node))
        if kind == "object":
            pairs = []
            for key, value, key_pos in node.value:
                key_node = JNode("string", key, key_pos, key_pos + len(key) + 2)
                pairs.append((self.template(key, key_node), self.expr(value)))
            return ObjectExpr(pairs, **self.pos(node))
        return Literal(node.value, **self.pos(node))

    def template(self, text: str, node: JNode) -> Any:
        if "${" not in text and "%{" not in text:
            return Literal(text, **self.pos(node))
        from tagguard.hcl.evaluate import Invalid
        from tagguard.hcl.parse import compile_template

        expr = compile_template(text, f"{self.filename}:{self.line(node.start)}")
        if isinstance(expr, Invalid):
            snippet = text if len(text) <= 40 else text[:37] + "..."
            self.errors.append(ParseIssue(self.line(node.start), self.column(node.start),
                                          f"invalid template expression in string `{snippet}`"))
        return expr


def _has_template(node: JNode) -> bool:
    if node.kind == "string":
        return "${" in node.value or "%{" in node.value
    if node.kind == "array":
        return any(_has_template(v) for v in node.value)
    if node.kind == "object":
        return any("${" in k or _has_template(v) for k, v, _ in node.value)
    return False


def _plain(node: JNode) -> Any:
    if node.kind == "object":
        return {k: _plain(v) for k, v, _ in node.value}
    if node.kind == "array":
        return [_plain(v) for v in node.value]
    return node.value


def parse(data: bytes, filename: str) -> HclFile:
    """Parse a ``.tf.json`` file; never raises."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return HclFile(filename, Body(), [ParseIssue(line, 1, "file is not valid UTF-8")], [])
    conv = _Converter(text, filename)
    try:
        root = scan_json(text)
    except JsonError as exc:
        issue = ParseIssue(conv.line(exc.pos), conv.column(exc.pos), f"invalid JSON: {exc}")
        return HclFile(filename, Body(), [issue], [])
    except RecursionError:
        return HclFile(filename, Body(), [ParseIssue(1, 1, "invalid JSON: nested too deeply")], [])
    try:
        body = conv.top(root)
    except RecursionError:
        return HclFile(filename, Body(), [ParseIssue(1, 1, "file nested too deeply to read")], [])
    conv.comments.sort()
    return HclFile(filename, body, conv.errors, conv.comments)


def body_has_dual(body: Any, name: str) -> bool:
    """Whether ``name`` in ``body`` is a JSON property seen both as attribute and as block(s)."""
    return isinstance(body, JsonBody) and name in body.dual
