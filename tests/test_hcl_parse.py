"""Parsing Terraform HCL: bodies, blocks, comments, errors and hostile input."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from tagguard.hcl.parse import MAX_BLOCK_DEPTH, iter_blocks, parse
from tagguard.hcl.values import Unknown

FIXTURES = Path(__file__).parent / "fixtures" / "hcl"


def load(name: str):
    return parse((FIXTURES / name).read_bytes(), name)


def test_blocks_labels_lines_and_attribute_order():
    hcl = load("literals.tf")
    assert hcl.errors == []
    locals_block, resource = hcl.body.blocks
    assert (locals_block.type, locals_block.labels, locals_block.line, locals_block.end_line) == ("locals", [], 2, 25)
    assert list(locals_block.body.attributes)[:4] == ["name", "count_val", "ratio", "big"]
    assert (resource.type, resource.labels, resource.line, resource.end_line) == (
        "resource", ["aws_instance", "gpu"], 27, 41)
    tags = resource.body.get("tags")
    assert (tags.name, tags.line, tags.end_line) == ("tags", 32, 35)
    assert [b.type for b in resource.body.blocks] == ["root_block_device"]
    assert resource.body.blocks_of("root_block_device")[0].body.get("volume_size").expr.eval(None) == 500
    assert hcl.body.blocks_of("resource") == [resource]
    assert resource.body.get("nope") is None


@pytest.mark.parametrize(
    "source, labels",
    [
        (b'resource "aws_instance" "x" {}\n', ["aws_instance", "x"]),
        (b"resource aws_instance x {}\n", ["aws_instance", "x"]),
        (b'provider "aws" {\n  alias = "east"\n}\n', ["aws"]),
        (b'x "a\\"b" {}\n', ['a"b']),
        (b"terraform {}\n", []),
    ],
)
def test_block_labels(source, labels):
    hcl = parse(source, "t.tf")
    assert hcl.errors == []
    assert hcl.body.blocks[0].labels == labels


def test_one_line_block_and_nested_blocks():
    hcl = parse(b'a "b" {\n  c { d = 1 }\n  c {\n    e { f = "g" }\n  }\n}\n', "t.tf")
    outer = hcl.body.blocks[0]
    assert [b.type for b in outer.body.blocks] == ["c", "c"]
    assert outer.body.blocks[1].body.blocks[0].body.get("f").expr.eval(None) == "g"
    assert [b.type for b in iter_blocks(hcl.body)] == ["a", "c", "c", "e"]


def test_comments_all_styles_without_markers():
    hcl = load("expressions.tf")
    assert hcl.comments == [
        (12, "tagguard:ignore missing-tag -- set by CI"),
        (14, "block comment"),
        (16, "slash comment"),
    ]


@pytest.mark.parametrize(
    "source, expected",
    [
        (b"# top\nresource \"a\" \"b\" {\n  # inside\n  x = 1 // after\n}\n",
         [(1, "top"), (3, "inside"), (4, "after")]),
        (b"tags = {\n  a = 1 # in object\n  /* multi\n  line */\n}\n", [(2, "in object"), (3, "multi\n  line")]),
        (b'url = "https://example.com/#frag"\n', []),
        (b"x = [1, # one\n  2]\n", [(1, "one")]),
    ],
)
def test_comments_found_everywhere(source, expected):
    assert parse(source, "t.tf").comments == expected


def test_comment_marks_are_every_place_a_comment_can_start():
    # the walk asks the regex probe only for an expression holding a mark: the marks must cover every match
    import itertools
    import re

    from tagguard.hcl.parse import _COMMENT_START, comment_marks

    for size in range(1, 7):
        for chars in itertools.product(b'#/*a"', repeat=size):
            data = bytes(chars)
            marks = comment_marks(data)
            assert marks == sorted(marks)
            assert marks == [p for p in range(size) if data[p:p + 1] == b"#" or data[p:p + 2] in (b"//", b"/*")]
            for start in range(size):
                for end in range(start, size + 1):
                    probe = _COMMENT_START.search(data, start, end) is not None
                    assert probe <= any(start <= p < end for p in marks), (data, start, end)
    assert comment_marks(re.sub(rb"[#/]", b"-", b"a = 1 # x // y /* z */")) == []


def test_comments_inside_expressions_of_a_file_with_few_marks():
    source = (b'a = "x/y"\nb = 1 / 2\nc = [1, # one\n  2]\nd = 4\ne = { k = 1 /* two */ }\nf = "g"\n'
              b'h = merge(local.x, {\n  # three\n  n = 1\n})\n')
    assert parse(source, "t.tf").comments == [(3, "one"), (6, "two"), (9, "three")]


def test_the_walk_sets_every_slot_attribute_init_sets():
    # the walk builds attributes without calling __init__: a slot __init__ gains must be set there too
    from tagguard.hcl.parse import Attribute

    hcl = parse(b'a = 1\nb = {\n  c = "d"\n}\n', "t.tf")
    for attr in hcl.body.attributes.values():
        made = Attribute(attr.name, attr._node, attr._compiler, attr.line, attr.end_line)
        slots = [name for klass in type(attr).__mro__ for name in getattr(klass, "__slots__", ())]
        assert sorted(slots) == sorted(Attribute.__slots__)
        assert [getattr(attr, name) for name in slots] == [getattr(made, name) for name in slots]
    assert [(a.name, a.line, a.end_line) for a in hcl.body.attributes.values()] == [("a", 1, 1), ("b", 2, 4)]


def test_broken_file_keeps_what_parsed_and_names_lines():
    hcl = load("broken.tf")
    ok = hcl.body.blocks[0]
    assert ok.labels == ["aws_instance", "ok"]
    assert ok.body.get("instance_type").expr.eval(None) == "g5.xlarge"
    first = hcl.errors[0]
    assert (first.line, first.column) == (6, 19)
    assert "unterminated string" in first.message
    assert any("missing `}`" in e.message for e in hcl.errors)


def test_blocks_tree_sitter_wrapped_in_an_error_node_are_kept():
    # tree-sitter makes this block a child of an ERROR node under config_file (no body): the walk
    # goes into ERROR nodes (tested by kind_id, 0xFFFF for ERROR) and keeps what parsed there
    hcl = parse(b'variable "gpus" {\n  default = 2\n}\n { ,\n', "x.tf")
    (block,) = hcl.body.blocks
    assert (block.type, block.labels, block.line, block.end_line) == ("variable", ["gpus"], 1, 3)
    assert block.body.get("default").expr.eval(None) == 2
    assert [e.line for e in hcl.errors] == [1, 4]  # tree-sitter's two ERROR nodes


@pytest.mark.parametrize(
    "source, line, fragment",
    [
        (b"a = 1\nb = <<EOT\nfoo\nbar\n", 5, "missing `heredoc end marker` (to close what starts on line 2)"),
        (b'a = "abc\nb = 1\n', 1, "unterminated string"),
        (b"a = f(\n", 1, "syntax error near `a = f(`"),
        (b'resource "x" "y" {\n  a = 1\n', 3, "missing `}`"),
        (b"a = [1, 2\nb = 3\n", 2, "missing `]` (to close what starts on line 1)"),
        (b"= = =\n", 1, "syntax error near `= = =`"),
    ],
)
def test_syntax_errors_have_line_and_message(source, line, fragment):
    hcl = parse(source, "t.tf")
    assert hcl.errors, "expected a parse issue"
    assert hcl.errors[0].line == line
    assert fragment in " | ".join(e.message for e in hcl.errors)


def test_attribute_with_syntax_error_evaluates_to_error_unknown():
    hcl = parse(b'a = "abc\n', "t.tf")
    value = hcl.body.get("a").expr.eval(None)
    assert isinstance(value, Unknown) and value.error


# --- hostile input --------------------------------------------------------------------


def _assert_survives(data: bytes) -> object:
    hcl = parse(data, "hostile.tf")
    for issue in hcl.errors:
        assert issue.line >= 1 and issue.column >= 1 and issue.message
    for attr in hcl.body.attributes.values():
        attr.expr.eval(None)  # must not raise
    return hcl


def test_binary_garbage():
    data = random.Random(7).randbytes(200_000)
    hcl = _assert_survives(data)
    assert hcl.errors
    assert "binary" in hcl.errors[0].message or "syntax error" in hcl.errors[0].message


def test_nul_bytes_and_invalid_utf8():
    hcl = _assert_survives(b'a = "x\x00y"\nresource "a" "b" {\n  x = 1\x00\n}\n')
    assert hcl.errors
    hcl = _assert_survives(b'a = "\xff\xfe"\nb = 1\n')
    assert hcl.body.get("b").expr.eval(None) == 1
    assert hcl.body.get("a").expr.eval(None) == "\ufffd\ufffd"


@pytest.mark.parametrize(
    "opener, closer",
    [(b"(", b")"), (b"[", b"]"), (b"{a = ", b"}"), (b"!", b""), (b"-", b""), (b'"${', b'}"')],
)
def test_50000_deep_nesting_is_reported_not_crashed(opener, closer):
    data = b"a = " + opener * 50_000 + b"1" + closer * 50_000 + b"\nb = 2\n"
    hcl = _assert_survives(data)
    assert hcl.errors and hcl.errors[0].line == 1
    value = hcl.body.get("a").expr.eval(None) if hcl.body.get("a") else Unknown()
    assert isinstance(value, Unknown)


def test_moderate_nesting_still_evaluates():
    data = b"a = " + b"[" * 40 + b"1" + b"]" * 40 + b"\n"
    hcl = parse(data, "t.tf")
    assert hcl.errors == []
    value = hcl.body.get("a").expr.eval(None)
    for _ in range(40):
        value = value[0]
    assert value == 1


def test_50000_nested_blocks():
    data = b"a {\n" * 50_000 + b"}\n" * 50_000
    hcl = _assert_survives(data)
    assert any(f"more than {MAX_BLOCK_DEPTH} levels" in e.message for e in hcl.errors)


def test_five_megabyte_file_with_truncated_end():
    block = b'resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n}\n'
    comment = b"# " + b"x" * 400 + b"\n"
    data = (block + comment * 40) * 320 + b'resource "x" "y" {\n  tags = {\n'
    assert len(data) > 5_000_000
    hcl = _assert_survives(data)
    assert len(hcl.body.blocks_of("resource")) >= 300
    assert hcl.errors and hcl.errors[-1].line > 12_000


def test_str_input_and_empty_file():
    assert parse("a = 1\n", "t.tf").body.get("a").expr.eval(None) == 1  # type: ignore[arg-type]
    empty = parse(b"", "t.tf")
    assert empty.errors == [] and empty.body.attributes == {} and empty.body.blocks == []


def test_repeated_attribute_names_and_body_get():
    """Attribute names are read once per distinct text (a memo per file) and Body.get is the
    attribute dict's own lookup: every block still gets its own names, values and lines."""
    long_name = "n" * 80  # longer than the shared-text limit: read each time, not memoised
    blocks = "".join(f'r "x{i}" {{\n  tags = {{ a = "{i}" }}\n  {long_name} = {i}\n  # c\n  café = "é{i}"\n}}\n'
                     for i in range(3))
    f = parse(blocks.encode(), "main.tf")
    assert not f.errors
    for i, block in enumerate(f.body.blocks):
        body = block.body
        assert list(body.attributes) == ["tags", long_name, "café"]
        assert body.get("tags") is body.attributes["tags"] and body.get("missing") is None
        assert body.get("tags").line == 6 * i + 2
        assert body.get("tags").expr.eval(None) == {"a": str(i)}
        assert body.get(long_name).expr.eval(None) == i and body.get("café").expr.eval(None) == f"é{i}"
    first, second = f.body.blocks[0].body, f.body.blocks[1].body
    assert next(iter(first.attributes)) is next(iter(second.attributes))  # one shared "tags" text
    from tagguard.hcl.parse import Body

    empty = Body()
    assert empty.get("a") is None
    empty.attributes["a"] = first.get("tags")
    assert empty.get("a") is first.get("tags")  # get sees attributes added after the Body was made
