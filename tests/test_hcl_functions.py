"""Terraform built-in functions: values, unknown propagation, failures."""
from __future__ import annotations

from pathlib import Path

import pytest

from tagguard.hcl.evaluate import MapScope
from tagguard.hcl.parse import FUNCTIONS, parse_expression
from tagguard.hcl.values import PartialMap, Unknown

UNKNOWN = Unknown("var.u has no default")
TEMPLATE = (Path(__file__).parent / "fixtures" / "hcl" / "template.tftpl").read_text()


def scope() -> MapScope:
    return MapScope(
        {
            "var": {"u": UNKNOWN, "m": {"a": 1, "b": 2}, "l": ["x", "y"], "nothing": None},
            "local": {"common": {"Team": "ml"}},
        },
        files={"tpl/node.tftpl": TEMPLATE, "data/cfg.yaml": "a: 1\nb: [x, y]\n", "motd.txt": "hi"},
    )


def ev(text: str):
    return parse_expression(text).eval(scope())


@pytest.mark.parametrize(
    "text, expected",
    [
        # maps
        ('merge({a = 1}, {b = 2}, {a = 3})', {"a": 3, "b": 2}),
        ("merge({a = 1}, null)", {"a": 1}),
        ("merge()", {}),
        ('lookup(var.m, "a")', 1),
        ('lookup(var.m, "z", "dflt")', "dflt"),
        ("keys(var.m)", ["a", "b"]),
        ("values({b = 2, a = 1})", [1, 2]),
        ('tomap({a = "x"})', {"a": "x"}),
        ('zipmap(["a", "b"], [1, 2])', {"a": 1, "b": 2}),
        ('transpose({a = ["1", "2"], b = ["2"]})', {"1": ["a"], "2": ["a", "b"]}),
        # strings
        ('lower("AbC")', "abc"),
        ('upper("abc")', "ABC"),
        ('title("hello world-wide_web")', "Hello World-Wide_web"),
        ('format("%s|%d|%.2f|%q|%v|%%|%5s|%-3d|%03d", "a", 7, 3.14159, "q\\"", true, "r", 1, 5)',
         'a|7|3.14|"q\\""|true|%|    r|1  |005'),
        ('format("%v", [1, "a"])', '[1,"a"]'),
        ('format("%[2]s-%[1]s", "a", "b")', "b-a"),
        ('formatlist("%s=%s", ["a", "b"], "v")', ["a=v", "b=v"]),
        ('formatlist("%s-%s", ["a", "b"], ["1", "2"])', ["a-1", "b-2"]),
        ('join(",", ["a", 1, true])', "a,1,true"),
        ('split(",", "a,b,,c")', ["a", "b", "", "c"]),
        ('replace("a-b-c", "-", "_")', "a_b_c"),
        ('replace("gpu-123", "/([a-z]+)-(\\\\d+)/", "$2_$1")', "123_gpu"),
        ('replace("abc", "/(?P<first>a)/", "[$${first}]")', "[a]bc"),
        ('regex("[a-z]+", "123abc456")', "abc"),
        ('regex("(\\\\d+)-(\\\\d+)", "10-20")', ["10", "20"]),
        ('regex("(?P<x>\\\\d+)", "a5")', {"x": "5"}),
        ('regexall("\\\\d", "a1b2")', ["1", "2"]),
        ('trimspace("  x \\n")', "x"),
        ('trim("?!hello?!", "!?")', "hello"),
        ('trimprefix("gpu-node", "gpu-")', "node"),
        ('trimsuffix("node.tf", ".tf")', "node"),
        ('substr("hello world", 1, 4)', "ello"),
        ('substr("hello", -3, -1)', "llo"),
        ('startswith("gpu-a", "gpu")', True),
        ('endswith("gpu-a", "-b")', False),
        ('strcontains("gpu-a", "u-")', True),
        ('chomp("x\\n\\n")', "x"),
        # conversions
        ("tostring(true)", "true"),
        ("tostring(1.50)", "1.5"),
        ("tostring(null)", None),
        ('tonumber("42")', 42),
        ('tonumber("4.5")', 4.5),
        ('tobool("true")', True),
        ('tolist(["a"])', ["a"]),
        ('toset(["b", "a", "b"])', ["a", "b"]),
        ("nonsensitive(sensitive(\"s\"))", "s"),
        # collections
        ('length("héllo")', 5),
        ("length(var.m)", 2),
        ('concat(["a"], [], ["b", "c"])', ["a", "b", "c"]),
        ('coalesce(null, "", "x", "y")', "x"),
        ('coalescelist([], ["a"])', ["a"]),
        ('compact(["a", "", null, "b"])', ["a", "b"]),
        ('contains(["a", "b"], "b")', True),
        ('contains(["a", "b"], "z")', False),
        ('element(["a", "b", "c"], 4)', "b"),
        ('index(["a", "b"], "b")', 1),
        ('flatten([["a", ["b"]], [], "c"])', ["a", "b", "c"]),
        ('distinct(["a", "b", "a", 1, 1])', ["a", "b", 1]),
        ("range(3)", [0, 1, 2]),
        ("range(1, 4)", [1, 2, 3]),
        ("range(4, 1)", [4, 3, 2]),
        ("range(0, 1, 0.25)", [0, 0.25, 0.5, 0.75]),
        ("min(3, 1.5, 2)", 1.5),
        ("max(3, 1, 2)", 3),
        ("abs(-2.5)", 2.5),
        ("ceil(1.2)", 2),
        ("floor(-1.2)", -2),
        ("sum([1, 2, 3.5])", 6.5),
        ('one(["a"])', "a"),
        ("one([])", None),
        ("alltrue([true, \"true\"])", True),
        ("alltrue([])", True),
        ("anytrue([false, true])", True),
        ("anytrue([])", False),
        ('reverse(["a", "b"])', ["b", "a"]),
        ('sort(["b", "a", "10", "9"])', ["10", "9", "a", "b"]),
        ('slice(["a", "b", "c", "d"], 1, 3)', ["b", "c"]),
        ('chunklist(["a", "b", "c"], 2)', [["a", "b"], ["c"]]),
        ('setunion(["a", "b"], ["b", "c"])', ["a", "b", "c"]),
        ('setintersection(["a", "b"], ["b", "c"])', ["b"]),
        ('setsubtract(["a", "b"], ["b"])', ["a"]),
        ('setproduct(["a", "b"], [1])', [["a", 1], ["b", 1]]),
        ('matchkeys(["i1", "i2", "i3"], ["us", "eu", "us"], ["us"])', ["i1", "i3"]),
        # encoding
        ('jsonencode({b = [1, 2.5, "<&>"], a = null, c = true})',
         '{"a":null,"b":[1,2.5,"\\u003c\\u0026\\u003e"],"c":true}'),
        ('jsondecode("{\\"a\\": [1, 2.0, \\"x\\"]}")', {"a": [1, 2, "x"]}),
        ('yamldecode("a: 1\\nb: [x, true]\\nc: 2.5\\n")', {"a": 1, "b": ["x", True], "c": 2.5}),
        ('yamlencode({b = 1, a = ["x"]})', "a:\n- x\nb: 1\n"),
        ('base64encode("héllo")', "aMOpbGxv"),
        ('base64decode("aMOpbGxv")', "héllo"),
        ('md5("a")', "0cc175b9c0f1b6a831c399e269772661"),
        ('sha1("a")', "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8"),
        ('sha256("a")', "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"),
        # network, dates, paths
        ('cidrsubnet("10.0.0.0/16", 8, 2)', "10.0.2.0/24"),
        ('cidrsubnet("10.1.2.0/24", 4, 15)', "10.1.2.240/28"),
        ('cidrhost("10.12.112.0/20", 16)', "10.12.112.16"),
        ('cidrhost("10.0.0.0/24", -1)', "10.0.0.255"),
        ('formatdate("YYYY-MM-DD hh:mm", "2024-03-05T07:08:09Z")', "2024-03-05 07:08"),
        ('formatdate("DD MMM YYYY \'at\' h", "2024-03-05T17:08:09Z")', "05 Mar 2024 at 17"),
        ('basename("foo/bar/baz.txt")', "baz.txt"),
        ('dirname("foo/bar/baz.txt")', "foo/bar"),
        ('dirname("baz.txt")', "."),
        # files
        ('file("motd.txt")', "hi"),
        ('fileexists("motd.txt")', True),
        ('fileexists("nope.txt")', False),
        ('templatefile("tpl/node.tftpl", { name = "gpu", gpus = ["a100", "h100"], team = "ml" })',
         "Hello gpu!\n- a100\n- h100\nTeam: ML"),
        ('yamldecode(file("data/cfg.yaml")).b[1]', "y"),
        # try / can
        ('try(var.m.zz, var.m.a, "never")', 1),
        ('try(tonumber("x"), 0)', 0),
        ('try(var.nothing.x, "d")', "d"),
        ("can(var.m.a)", True),
        ("can(var.m.zz)", False),
        ('can(regex("^a", "b"))', False),
    ],
)
def test_function_values(text, expected):
    value = ev(text)
    assert value == expected, value
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "upper(var.u)",
        'format("%s", var.u)',
        'join(",", ["a", var.u])',
        'lookup(var.u, "a")',
        "keys(var.u)",
        "length(var.u)",
        'coalesce(null, var.u, "x")',
        'contains(["a", var.u], "b")',
        "alltrue([true, var.u])",
        'try(var.u, "fallback")',
        "can(var.u)",
        "jsonencode({a = var.u})",
        'formatdate("YYYY", var.u)',
        'templatefile("tpl/node.tftpl", var.u)',
        'file(var.u)',
        "flatten([[var.u]])",
    ],
)
def test_unknown_arguments_propagate(text):
    value = ev(text)
    assert isinstance(value, Unknown) and not value.error
    assert "var.u has no default" in value.reason


@pytest.mark.parametrize(
    "text, expected",
    [
        ('coalesce("x", var.u)', "x"),
        ('contains(["a", var.u], "a")', True),
        ("alltrue([false, var.u])", False),
        ("anytrue([true, var.u])", True),
        ("length([var.u, 1])", 2),
        ('concat([var.u], ["b"])[1]', "b"),
        ('lookup({a = var.u, b = 1}, "b")', 1),
        ('element([var.u, "b"], 1)', "b"),
    ],
)
def test_unknown_elements_that_do_not_decide(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize("name", ["timestamp", "uuid", "bcrypt", "uuidv5", "type"])
def test_runtime_only_functions_are_unknown(name):
    args = {"timestamp": "", "uuid": "", "bcrypt": '"x"', "uuidv5": '"dns", "x"', "type": "1"}[name]
    value = ev(f"{name}({args})")
    assert isinstance(value, Unknown) and name in value.reason


def test_merge_semantics_with_partial_maps():
    value = ev('merge(local.common, var.u, { Name = "n" })')
    assert isinstance(value, PartialMap) and value.open
    assert dict(value) == {"Team": "ml", "Name": "n"}
    again = FUNCTIONS["merge"](value, {"Team": "override"})
    assert isinstance(again, PartialMap) and again.open and again["Team"] == "override"
    assert again.open_reasons == ["var.u has no default"]
    assert isinstance(ev('lookup(merge(local.common, var.u), "Owner", "d")'), Unknown)
    assert ev('lookup(merge(local.common, var.u), "Team")') == "ml"
    assert isinstance(ev("length(merge(local.common, var.u))"), Unknown)
    kept = ev('try(merge(local.common, var.u), {})')
    assert isinstance(kept, PartialMap) and kept.open


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('lookup({a = 1}, "z")', "lookup()"),
        ('tonumber("abc")', "tonumber()"),
        ('regex("x", "y")', "regex()"),
        ("element([], 0)", "element()"),
        ('try(tonumber("x"), var.m.zz)', "no expression succeeded"),
        ('merge({a = 1}, "s")', "merge()"),
        ("one([1, 2])", "one()"),
        ('cidrsubnet("10.0.0.0/30", 8, 1)', "cidrsubnet()"),
        ('jsondecode("{")', "jsondecode()"),
        ('base64decode("!!")', "base64decode()"),
        ("upper(null)", "upper()"),
        ("upper()", "upper()"),
        ('coalesce(null, "")', "coalesce()"),
        ("range(0, 5000)", "range()"),
        ('format("%d", 1.5)', "format()"),
    ],
)
def test_function_failures_become_error_unknowns(text, fragment):
    value = ev(text)
    assert isinstance(value, Unknown) and value.error
    assert fragment in value.reason


def test_files_without_a_reader_are_unknown():
    value = parse_expression('file("x.txt")').eval(MapScope({}))
    assert isinstance(value, Unknown) and not value.error
    missing = ev('file("not-there.txt")')
    assert isinstance(missing, Unknown) and "not-there.txt" in missing.reason


def test_every_listed_function_is_registered():
    wanted = (
        "merge lookup lower upper title format formatlist concat coalesce coalescelist compact tomap toset tolist "
        "tostring tonumber tobool try can join split replace regex regexall trimspace trim trimprefix trimsuffix "
        "substr length keys values contains element index flatten distinct zipmap range min max abs ceil floor sum "
        "one alltrue anytrue startswith endswith strcontains reverse sort slice chunklist setunion setintersection "
        "setsubtract setproduct transpose matchkeys jsonencode jsondecode yamldecode yamlencode base64encode "
        "base64decode md5 sha1 sha256 uuid timestamp bcrypt uuidv5 formatdate cidrsubnet cidrhost file fileexists "
        "templatefile basename dirname abspath nonsensitive sensitive type"
    ).split()
    assert [name for name in wanted if name not in FUNCTIONS] == []
