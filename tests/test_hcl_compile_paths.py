"""The HCL compiler's shortcuts build exactly what its tree walk builds.

``Compiler.simple`` compiles a plain quoted string, a name with ``.name`` steps or a whole number from
the expression node's bytes instead of walking tree-sitter's nodes (issue 13, speed).  Every test here
compiles the same nodes both ways (``Compiler.shortcuts`` off and on) and compares the whole Expr trees:
classes, values, byte offsets and lines of every node; and checks that the shortcut was taken where it
should be, so that a comparison of two tree walks cannot pass for one.
"""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from tagguard.hcl import _compile
from tagguard.hcl.evaluate import Expr, GetAttr, GetIndex, MapScope, Splat
from tagguard.hcl.parse import Body, parse
from tagguard.hcl.values import Unknown

ROOT = Path(__file__).resolve().parent.parent


def _slots(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return names


def shape(node: object) -> object:
    """Everything an Expr tree holds, as plain data (a FuncCall's function by name)."""
    if isinstance(node, Expr):
        out: list = [type(node).__name__, node.start, node.end, node.line, node.src is not None]
        for name in _slots(type(node)):
            if name in ("src", "_span", "line"):
                continue
            value = getattr(node, name)
            out.append((name, getattr(value, "__qualname__", None) if name == "fn" else shape(value)))
        return out
    if isinstance(node, (GetAttr, GetIndex, Splat)):
        return [type(node).__name__] + [shape(getattr(node, name)) for name in _slots(type(node))]
    if isinstance(node, (list, tuple)):
        return [shape(item) for item in node]
    assert node is None or isinstance(node, (str, int, float, bool)), type(node)
    return (type(node).__name__, node)


def _exprs(node: object, out: list) -> list:
    """Every Expr in a tree."""
    if isinstance(node, Expr):
        out.append(node)
    if isinstance(node, (list, tuple)):
        for item in node:
            _exprs(item, out)
    elif isinstance(node, (Expr, GetAttr, GetIndex, Splat)):
        for name in _slots(type(node)):
            if name not in ("src", "fn"):
                _exprs(getattr(node, name), out)
    return out


def _attributes(body: Body, out: list) -> list:
    out.extend(body.attributes.values())
    for block in body.blocks:
        _attributes(block.body, out)
    return out


SCOPE = MapScope({
    "var": {"name": "n", "tags": {"a": "b"}, "list": [1, 2]},
    "local": {"common": {"team": "ml"}},
    "each": {"key": "k", "value": {"instance_type": "p4d.24xlarge"}},
    "count": {"index": 3},
})


class Counter:
    """Counts the expressions ``Compiler.simple`` compiled (``spans``: their byte offsets)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hits = 0
        self.spans: list[tuple[int, int]] = []
        real = _compile.Compiler.simple

        def simple(compiler, match, node, start, end):  # type: ignore[no-untyped-def]
            result = real(compiler, match, node, start, end)
            if result is not None:
                self.hits += 1
                self.spans.append((start, end))
            return result

        monkeypatch.setattr(_compile.Compiler, "simple", simple)


def compare(source: bytes, name: str = "main.tf") -> int:
    """Compile every attribute of ``source`` both ways and compare; the number of attributes."""
    hcl = parse(source, name)
    count = 0
    for attr in _attributes(hcl.body, []):
        node, compiler = attr._node, attr._compiler
        if node is None:  # an attribute with no value or nested too deeply: no compile
            continue
        compiler.shortcuts = False
        walked = compiler.expression(node)
        compiler.shortcuts = True
        fast = compiler.expression(node)
        assert shape(fast) == shape(walked), (name, attr.name, source[node.start_byte:node.end_byte])
        for expr in _exprs(fast, []):  # an oracle of its own for lines: the line of the node's first byte
            assert expr.line == expr.src.data.count(b"\n", 0, expr.start) + 1, (name, attr.name, expr)
        value, expected = fast.eval(SCOPE), walked.eval(SCOPE)
        if isinstance(value, Unknown):
            assert isinstance(expected, Unknown) and (value.reason, value.error) == (expected.reason, expected.error)
        else:
            assert value == expected and type(value) is type(expected)
        count += 1
    return count


SHORTCUT = [
    '"plain"', '""', '"a b  c "', '"p4d.24xlarge"', '"tab\\there"', '"quote \\" inside"', '"back\\\\slash"',
    '"\\u00e9t\\U0001F600"', '"caf\u00e9"', '"$"', '"%"', '"50%"', '"$5 {not} a template}"', '"$$"',
    "var.name", "local.common", "each.value.instance_type", "count.index", "a", "a-b", "a.b-1",
    "var.x_y-z.w", "a.for", "for", "in", "true", "false", "null", "0", "7", "007", "123456789012345678901234567890",
]
TREE_WALK = [
    '"${var.name}"', '"a-${var.name}-b"', '"%{ if true }x%{ endif }"', '"$${literal}"', '"%%{literal}"',
    '"\\${x}"', '"\\%{x}"', "true.x", "null.y", "var.list[0]", "var.list.0", "a.b[*].c", "a.*.b", "-1", "1.5",
    "var.name == \"n\"", "(var.name)", 'f("x")', "[1, 2]", "var . name", "a.b # comment", "\u00e9t\u00e9",
]


@pytest.mark.parametrize("text", SHORTCUT)
def test_shortcut_shapes_build_what_the_tree_walk_builds(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = Counter(monkeypatch)
    assert compare(f"x = {text}\n".encode()) == 1
    assert counter.hits == 1, f"{text} should take the shortcut"


@pytest.mark.parametrize("text", TREE_WALK)
def test_other_shapes_take_the_tree_walk(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = Counter(monkeypatch)
    assert compare(f"x = {text}\n".encode()) == 1
    whole = (4, 4 + len(text.encode()))  # an inner expression (``var.name`` in "${var.name}") may take it
    assert whole not in counter.spans, f"{text} must not take the shortcut"


def test_nested_positions_and_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shortcuts inside objects, calls, conditionals, templates and heredocs, on one line and on many."""
    counter = Counter(monkeypatch)
    source = b'''locals {
  tags = merge(local.common, { team = "ml", "cost-center" = var.name, true = 1, null = 2, a.b = 3 })
  multi = {
    for k, v in var.tags : k => "${v}-x" if v != "z"
  }
  cond = var.name == "n" ? "yes" : count.index
  doc = <<-EOT
    name: ${var.name}
    %{ for t in var.list ~}
    - ${t}
    %{ endfor ~}
  EOT
  call = format("%s-%d", each.key,
    7)
  items = [
    "a", b.c,   # a comment
    3,
  ]
}
'''
    assert compare(source) == 6
    assert counter.hits >= 15


def test_random_strings_and_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strings and names made of the characters that decide between the two paths."""
    counter = Counter(monkeypatch)
    rng = random.Random(13)
    alphabet = ["a", "Z", "_", "-", "0", " ", "$", "%", "{", "}", "\\", "n", "t", "u", '\\"', "\u00e9", ".", "*"]
    lines = []
    for i in range(600):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
        lines.append(f'  s{i} = "{body}"')
        name = ".".join(
            rng.choice("abxyz_") + "".join(rng.choice("az09_-") for _ in range(rng.randint(0, 3)))
            for _ in range(rng.randint(1, 4)))
        lines.append(f"  n{i} = {name}")
    for i, line in enumerate(lines):  # one attribute per file: a bad one cannot hide the others
        compare(f"locals {{\n{line}\n}}\n".encode(), f"r{i}.tf")
    assert counter.hits > 700  # most of the 1,200 take the shortcut; the rest compared all the same


class Restrung:
    """Counts the trees ``_restrung`` made (texts repeated but for their strings' letters)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = _compile._restrung

        def restrung(expr, parts, start):  # type: ignore[no-untyped-def]
            self.count += 1
            return real(expr, parts, start)

        monkeypatch.setattr(_compile, "_restrung", restrung)


def test_repository_and_generated_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = Counter(monkeypatch)
    restrung = Restrung(monkeypatch)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_module.py"), str(tmp_path), "100"], check=True,
                   capture_output=True)
    files = sorted(tmp_path.rglob("*.tf")) + sorted((ROOT / "examples").rglob("*.tf"))
    files += sorted((ROOT / "tests").rglob("*.tf")) + sorted((ROOT / "tests").rglob("*.tfvars"))
    total = sum(compare(path.read_bytes(), path.name) for path in files)
    assert total > 500 and counter.hits + restrung.count > total // 2 and restrung.count > 20


SHAPED = [  # texts whose strings may change letters, not lengths: the first one's tree, restrung
    'merge(local.common, { Name = "gpu-0" })', 'merge(local.common, {\n    Name = "gpu-0"\n    cc = ""\n  })',
    '{ "k-0" = "v0", b = ["x0", "y0"] }', '["a0", "b0"]', 'var.map["k0"]', 'var.list[*].tags["k0"]',
    'var.name == "n0" ? "t0" : "f0"', '!(var.name != "n0")', '[for s in var.names : "p0" if s != "q0"]',
    '{ for k, v in var.map : "k0" => "v0" }', 'lookup(var.map, "k0", "d0")', 'f("a0", ["b0"]...)',
    '"a0" == "b0"', 'concat(["x0"], [1, true, null, 2.5])', 'upper("\u00e90")',
]
UNSHAPED = [  # a string that is not plain text, a comment or a heredoc: never taken by shape
    '"${var.a}0"', '"a\\n0"', '"%{ if true }0%{ endif }"', '["a0", /* c0 */ "b0"]', '["a0", # c0\n "b0"]', '"a0" / 1',
    '"a0" < "b0"', '"$${x}0"', '"0"',
]


@pytest.mark.parametrize("text", SHAPED + UNSHAPED)
def test_texts_repeated_but_for_their_strings_letters(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second and later texts (other letters, other columns and lines) are the first tree restrung exactly
    where the shape allows it; every tree equals the tree walk's (values, offsets, lines) and evaluates alike."""
    restrung = Restrung(monkeypatch)
    variants = [text] + [text.replace("0", digit) for digit in "19"] + [text.replace("0", "\u00e9")]
    lines = ["locals {"] + [f"  a{i} {' ' * i}= {variant}" for i, variant in enumerate(variants)] + ["}"]
    assert compare("\n".join(lines).encode() + b"\n") == len(variants)
    assert restrung.count == (len(variants) - 2 if text in SHAPED else 0)  # the last one: another length


def compare_told(source: bytes, name: str = "main.tf") -> int:
    """Every attribute read as the reader does (``attr.expr``: a one-line attribute tells the compiler its
    line) against the compiler finding the line itself (another parse of the same bytes); the number read."""
    told, found = parse(source, name), parse(source, name)
    pairs = list(zip(_attributes(told.body, []), _attributes(found.body, [])))
    for attr, other in pairs:  # file order, as the reader mostly reads them: repeated texts are moved copies
        node, compiler = other._node, other._compiler
        expected = compiler.expression(node) if node is not None else other.expr
        assert shape(attr.expr) == shape(expected), (name, attr.name)
        for expr in _exprs(attr.expr, []):
            assert expr.line == expr.src.data.count(b"\n", 0, expr.start) + 1, (name, attr.name, expr)
    return len(pairs)


def test_a_told_line_builds_what_the_compiler_finds(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_module.py"), str(tmp_path), "100"], check=True,
                   capture_output=True)
    files = sorted(tmp_path.rglob("*.tf")) + sorted((ROOT / "examples").rglob("*.tf"))
    files += sorted((ROOT / "tests").rglob("*.tf")) + sorted((ROOT / "tests").rglob("*.tfvars"))
    total = sum(compare_told(path.read_bytes(), path.name) for path in files)
    texts = SHORTCUT + TREE_WALK + REPEATED
    source = "".join(f"a{i} = {text}\nb{i}  =  {text}\n" for i, text in enumerate(texts)).encode()
    total += compare_told(b"locals {\n" + source + b"}\n") + compare_told(source)
    assert total > 500


def test_repeated_texts_get_their_own_nodes_and_positions() -> None:
    """``simple`` reads a short text once per file; every occurrence still gets its own Expr."""
    long = "x" * 80  # over the cached length: read each time, same result
    hcl = parse(f'a = var.x.y\nb = var.x.y\nc = "{long}"\nd = "{long}"\ne = "s"\nf = "s"\n'.encode(), "r.tf")
    attrs = hcl.body.attributes
    a, b = attrs["a"].expr, attrs["b"].expr
    assert a is not b and a.steps is not b.steps and shape(a.steps) == shape(b.steps)
    assert [(e.line, e.start, e.end) for e in (a, b)] == [(1, 4, 11), (2, 16, 23)]
    assert attrs["c"].expr.eval(None) == attrs["d"].expr.eval(None) == long
    e, f = attrs["e"].expr, attrs["f"].expr
    assert e is not f and (e.line, f.line) == (5, 6) and e.eval(None) == f.eval(None) == "s"


REPEATED = [
    'merge(local.common, { team = "ml", "cost-center" = var.cc })',
    '[for k, v in var.tags : upper(v) if k != "x"]',
    "{ for k, v in var.tags : k => v... }",
    'var.name == "n" ? -count.index : !true',
    '"pre-${var.name}-%{ if var.name != "" }yes%{ else }no%{ endif }-%{ for t in var.list }${t},%{ endfor }"',
    '"${var.list}"', "var.list[*].x", "var.tags.*.y", "var.list[0]", "var.tags[\"a\"]", "(var.name)", "f(var.list...)",
    "<<-EOT\n    name: ${var.name}\n    %{~ for t in var.list ~}\n    - ${t}\n    %{~ endfor ~}\n  EOT",
    "{\n    a = 1\n    b = [\n      var.name,\n    ]\n  }",
    "1 + 2 * 3 - 4 / 5 % 6",
]


class Moves:
    """Counts the trees ``_moved`` copied at the top (repeated attribute texts)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = _compile.Compiler.expression

        def expression(compiler, node, line=0):  # type: ignore[no-untyped-def]
            before = compiler.data[node.start_byte:node.end_byte] in compiler.seen
            self.count += before and compiler.shortcuts
            return real(compiler, node, line)

        monkeypatch.setattr(_compile.Compiler, "expression", expression)


def test_repeated_texts_are_moved_copies_of_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every shape twice or three times, at other columns and lines (the second compiled first too)."""
    moves = Moves(monkeypatch)
    lines = ["locals {"]
    for i, text in enumerate(REPEATED):
        lines += [f"  a{i} = {text}", f"  b{i}    =    {text}", f"  # {i}", f"  c{i} = {text}"]
    lines.append("}")
    source = "\n".join(lines).encode() + b"\n"
    assert compare(source) == 3 * len(REPEATED)
    assert moves.count == 2 * len(REPEATED)
    # lazily compiled attributes compile in any order: a later text first, then an earlier one
    hcl = parse(source, "r.tf")
    attrs = hcl.body.blocks[0].body.attributes
    for i in range(len(REPEATED)):
        earlier = attrs[f"a{i}"]
        node, compiler = earlier._node, earlier._compiler
        later = attrs[f"c{i}"].expr
        compiler.shortcuts = False
        walked = compiler.expression(node)
        compiler.shortcuts = True
        moved = earlier.expr  # c's tree moved back (a negative shift)
        assert moved.start < later.start and shape(moved) == shape(walked)
    assert moves.count == 3 * len(REPEATED)


def test_the_reader_tells_the_compiler_the_line_of_a_one_line_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    told: dict[str, int] = {}
    real = _compile.Compiler.expression

    def expression(compiler, node, line=0):  # type: ignore[no-untyped-def]
        told[compiler.data[node.start_byte:node.end_byte].decode()] = line
        return real(compiler, node, line)

    monkeypatch.setattr(_compile.Compiler, "expression", expression)
    hcl = parse(b'a = 1\nb = [\n  2,\n]\nc {\n  d = "x"\n  e = merge(local.t, {\n  })\n}\nf = "y"\n', "x.tf")
    values = [attr.expr.eval(SCOPE) for attr in _attributes(hcl.body, [])]
    assert told == {"1": 1, "[\n  2,\n]": 0, '"x"': 6, "merge(local.t, {\n  })": 0, '"y"': 10}
    assert values[:3] == [1, [2], "y"]


def test_every_expression_class_has_a_mover() -> None:
    """A new Expr class needs a mover in ``_compile._MOVERS`` that copies all its slots."""
    def concrete(cls: type) -> list[type]:
        out = []
        for sub in cls.__subclasses__():
            out += ([] if sub.__name__.startswith("_") else [sub]) + concrete(sub)
        return out

    assert set(concrete(Expr)) <= set(_compile._MOVERS), set(concrete(Expr)) - set(_compile._MOVERS)
    one_line = ", ".join(t for t in REPEATED if "\n" not in t)
    everything = parse(f"x = [{one_line}]\n".encode(), "m.tf").body.get("x")
    broken = parse(b"x = [1,,2]\n", "m.tf").body.get("x")
    assert everything is not None and broken is not None
    exprs = _exprs(everything.expr, []) + [broken.expr]
    assert {type(e) for e in exprs} == set(_compile._MOVERS)
    for expr in exprs:
        moved = _compile._moved(expr, (7 << 40) + 7, 2, {})
        for name in _slots(type(expr)):
            assert getattr(moved, name) is not None or getattr(expr, name) is None, name  # every slot set
        assert (moved.start, moved.end, moved.line) == (expr.start + 7, expr.end + 7, expr.line + 2)


def test_a_repeated_deep_text_read_on_a_deep_stack_never_raises() -> None:
    """Lazily compiled attributes are read wherever the reader is: the copy of a deep tree may run out of
    stack where its first compile did not, and must then be what a compile there gives, never an exception."""
    nested = "[" * 80 + "]" * 80
    source = f"a = {nested}\nb = {nested}\n".encode()
    outcomes = set()
    for depth in range(sys.getrecursionlimit() - 400, sys.getrecursionlimit(), 25):
        hcl = parse(source, "deep.tf")
        first, second = hcl.body.get("a"), hcl.body.get("b")
        assert first is not None and second is not None
        assert type(first.expr).__name__ == "TupleExpr"  # compiled on a shallow stack, remembered

        def at_depth(n: int) -> object:
            return at_depth(n - 1) if n else second.expr  # noqa: B023 - called in this iteration

        try:
            value = at_depth(depth)
        except RecursionError:  # the test's own frames ran out before the read: nothing to check
            continue
        outcomes.add(type(value).__name__)
        if type(value).__name__ == "Invalid":
            assert value.message == "expression nested too deeply"  # type: ignore[attr-defined]
    assert "Invalid" in outcomes and "TupleExpr" in outcomes  # both sides of the limit were reached


def test_random_strings_of_one_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strings of any bytes (invalid UTF-8, braces, tabs, quotes-free) but equal lengths in one frame: every
    restrung tree equals the tree walk's, and most of them are restrung."""
    restrung = Restrung(monkeypatch)
    rng = random.Random(13)
    alphabet = [bytes([b]) for b in b"ab {}[]=:,.-_\t~!?*+()'`;|&^@0123456789"] + [
        b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xc3", b"\x80", b"\xff", b"\xed\xa0\x80"]
    lines = []
    for i in range(300):
        strings = []
        for size in (3, 5):
            text = b""
            while len(text) < size:
                text += rng.choice(alphabet)
            strings.append(text[:size])
        lines.append(b'  t%d = merge(local.common, { k = "%s", "%s" = [1, "x"] })' % (i, strings[0], strings[1]))
    source = b"locals {\n" + b"\n".join(lines) + b"\n}\n"
    assert compare(source) == 300
    assert restrung.count > 200
