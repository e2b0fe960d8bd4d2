"""Evaluating HCL expressions statically: values, operators, templates, unknowns."""
from __future__ import annotations

import pytest

from tagguard.hcl.evaluate import ChildScope, MapScope
from tagguard.hcl.parse import parse, parse_expression
from tagguard.hcl.values import PartialMap, Unknown, format_number

UNKNOWN = Unknown("var.secret has no default")


def scope() -> MapScope:
    return MapScope(
        {
            "var": {
                "env": "prod",
                "n": 5,
                "half": 0.5,
                "flag": True,
                "list": [1, 2, 3],
                "names": ["a", "b"],
                "map": {"a": 1, "b": 2},
                "objs": [{"id": "x", "tags": {"k": "v"}}, {"id": "y", "tags": {"k": "w"}}],
                "secret": UNKNOWN,
                "nothing": None,
            },
            "local": {"common": {"Team": "ml", "Env": "prod"}},
            "count": {"index": 3},
            "aws_iam_role": {"x": {"arn": Unknown("aws_iam_role.x.arn is known only after apply")}},
        }
    )


def ev(text: str):
    return parse_expression(text).eval(scope())


@pytest.mark.parametrize(
    "text, expected",
    [
        # literals and numbers
        ("1", 1),
        ("1.5", 1.5),
        ("1.0", 1),
        ("1.5e3", 1500),  # tree-sitter-hcl 1.2 rejects "1e3" (no fraction): a parse issue
        ("true", True),
        ("null", None),
        ('"plain"', "plain"),
        (r'"esc \"q\" \\ \n \u00e9"', 'esc "q" \\ \n é'),
        ('"$${not} %%{either}"', "${not} %{either}"),
        # templates
        ('"gpu-${count.index}"', "gpu-3"),
        ('"${var.n}/${var.half}/${var.flag}"', "5/0.5/true"),
        ('"${var.map}"', {"a": 1, "b": 2}),  # a lone interpolation keeps its type
        ('"%{if var.flag}yes%{else}no%{endif}"', "yes"),
        ('"%{ if !var.flag }yes%{ endif }"', ""),
        ('"%{for n in var.names}[${n}]%{endfor}"', "[a][b]"),
        ('"%{ for i, n in var.names ~} ${i}=${n} %{~ endfor }"', "0=a1=b"),
        ('"a ${~ "b" ~} c"', "abc"),
        ("<<EOT\nhello ${var.env}\n  world\nEOT", "hello prod\n  world\n"),
        ("<<-EOT\n    hello ${var.env}\n      world\n    EOT", "hello prod\n  world\n"),
        ("<<-EOT\n\t\tx\n\t\t\ty\n\tEOT", "x\n\ty\n"),
        ("<<-EOT\n    a\n\n    b\n    EOT", "a\n\nb\n"),
        ("<<-EOT\n${var.env}\n    b\n    EOT", "prod\n    b\n"),
        ("<<EOT\nEOT", ""),
        ("<<EOT\n%{ for n in var.names ~}\n${n}\n%{ endfor ~}\nEOT", "a\nb\n"),
        # collections
        ("[1, \"a\", [true]]", [1, "a", [True]]),
        ('{ a = 1, "b c" = 2, (var.env) = 3, d: 4 }', {"a": 1, "b c": 2, "prod": 3, "d": 4}),
        ("{ var = 1 }", {"var": 1}),
        # traversals
        ("var.list[1]", 2),
        ("var.list.0", 1),
        ('var.map["b"]', 2),
        ("var.objs[*].id", ["x", "y"]),
        ("var.objs.*.id", ["x", "y"]),
        ("var.objs[*].tags.k", ["v", "w"]),
        ("var.objs.*.tags[0]", {"k": "v"}),
        ("var.nothing[*]", []),
        ("var.env[*]", ["prod"]),
        ("[10, 20][1]", 20),
        ("{a = {b = 1}}.a.b", 1),
        ("(var.map).a", 1),
        ('var.list["1"]', 2),
        # operators
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ('"5" + 1', 6),
        ("7 / 2", 3.5),
        ("8 / 2", 4),
        ("7 % 3", 1),
        ("-7 % 3", -1),
        ("5.5 % 2", 1.5),
        ("-var.n", -5),
        ("!var.flag", False),
        ("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 4", False),
        ('"10" > 9', True),
        ("1 == 1.0", True),
        ('1 == "1"', False),
        ("true == \"true\"", False),
        ("[1, 2] == [1, 2]", True),
        ("{a = 1} != {a = 2}", True),
        ("null == null", True),
        ("var.nothing == null", True),
        ("false || true", True),
        ('"true" && true', True),
        ("var.n > 3 ? \"big\" : \"small\"", "big"),
        ("var.flag ? var.list[0] : var.list[99]", 1),  # the other branch is never evaluated
        # for expressions
        ("[for n in var.list : n * 2]", [2, 4, 6]),
        ("[for i, n in var.names : \"${i}:${n}\"]", ["0:a", "1:b"]),
        ("[for n in var.list : n if n != 2]", [1, 3]),
        ("{for k, v in var.map : upper(k) => v}", {"A": 1, "B": 2}),
        ("{for k, v in {b = 2, a = 1} : k => v}", {"a": 1, "b": 2}),
        ("{for o in var.objs : o.tags.k => o.id}", {"v": "x", "w": "y"}),
        ('{for s in ["a", "b", "a"] : s => s...}', {"a": ["a", "a"], "b": ["b"]}),
        ("[for k, v in var.map : k if v > 1]", ["b"]),
        # functions, expansion
        ('merge(local.common, { Name = "gpu-${count.index}" })', {"Team": "ml", "Env": "prod", "Name": "gpu-3"}),
        ("max(var.list...)", 3),
        ('format("%s-%s", var.names...)', "a-b"),
    ],
)
def test_known_values(text, expected):
    value = ev(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("var.secret", "var.secret has no default"),
        ('"a-${var.secret}"', "var.secret has no default"),
        ("var.secret.anything[0]", "var.secret has no default"),
        ("var.secret ? 1 : 2", "var.secret has no default"),
        ("var.secret + 1", "var.secret has no default"),
        ("var.secret == 1", "var.secret has no default"),
        ("!var.secret", "var.secret has no default"),
        ("true && var.secret", "var.secret has no default"),
        ("[for x in var.secret : x]", "var.secret has no default"),
        ("aws_iam_role.x.arn", "known only after apply"),
        ('"%{ if var.secret }x%{ endif }"', "var.secret has no default"),
        ('"%{ for x in var.secret }x%{ endfor }"', "var.secret has no default"),
        ("var.list[var.secret]", "var.secret has no default"),
        ("upper(var.secret)", "var.secret has no default"),
        ("nosuchfunction(1)", "function nosuchfunction is not supported"),
    ],
)
def test_unknowns_propagate_with_reason(text, reason):
    value = ev(text)
    assert isinstance(value, Unknown)
    assert not value.error
    assert reason in value.reason


@pytest.mark.parametrize(
    "text, expected",
    [
        ("false && var.secret", False),
        ("var.secret && false", False),
        ("true || var.secret", True),
        ("var.secret || true", True),
        ("[var.secret, 1][1]", 1),
        ("length([var.secret, 1])", 2),
    ],
)
def test_unknowns_that_do_not_matter(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("var.nothing.x", "null value"),
        ("var.map.zz", 'no attribute "zz"'),
        ("var.list[5]", "out of range"),
        ("var.list.name", "from a list"),
        ("1 / 0", "division by zero"),
        ('"a" + 1', "number"),
        ('"x${var.map}"', "cannot interpolate"),
        ('"x${var.nothing}"', "null"),
        ("undefined_root.x", 'unknown name "undefined_root"'),
        ("{for s in [\"a\", \"a\"] : s => s}", "duplicate key"),
        ("var.n ? 1 : 2", "bool"),
        ("max(var.n...)", "must be a list"),
    ],
)
def test_errors_become_error_unknowns(text, fragment):
    value = ev(text)
    assert isinstance(value, Unknown) and value.error
    assert fragment in value.reason


def test_merge_with_unknown_input_is_an_open_partial_map():
    value = ev('merge(local.common, var.secret, { Name = "x" })')
    assert isinstance(value, PartialMap) and value.open
    assert dict(value) == {"Team": "ml", "Env": "prod", "Name": "x"}
    assert value.open_reasons == ["var.secret has no default"]
    # keys absent from an open map are "maybe present", never an error
    absent = ev('merge(local.common, var.secret).Owner')
    assert isinstance(absent, Unknown) and not absent.error


def test_known_key_with_unknown_value_stays_a_key():
    value = ev("merge(local.common, { Owner = var.secret })")
    assert type(value) is dict
    assert isinstance(value["Owner"], Unknown)


def test_unknown_object_key_opens_the_map():
    value = ev('{ (var.secret) = "x", Team = "ml" }')
    assert isinstance(value, PartialMap) and value.open and dict(value) == {"Team": "ml"}
    assert "var.secret" in value.open_reasons[0]


def test_for_over_open_map_keeps_known_keys():
    value = ev("{for k, v in merge(local.common, var.secret) : lower(k) => v}")
    assert isinstance(value, PartialMap) and value.open and dict(value) == {"team": "ml", "env": "prod"}
    assert isinstance(ev("[for k, v in merge(local.common, var.secret) : k]"), Unknown)


def test_references():
    expr = parse_expression(
        'merge(local.common, var.tags, { Name = "${module.net.id}-${aws_launch_template.gpu.id}" },'
        ' { for t in var.list : t.name => data.aws_ami.x.id }, var.m["k"], var.l[0].z, each.value)'
    )
    assert expr.references() == [
        ("local", "common"),
        ("var", "tags"),
        ("module", "net", "id"),
        ("aws_launch_template", "gpu", "id"),
        ("var", "list"),
        ("data", "aws_ami", "x", "id"),
        ("var", "m", "k"),
        ("var", "l"),
        ("each", "value"),
    ]


def test_source_text_and_line():
    hcl = parse(b'x = 1\ntags = merge(\n  local.a,\n  { b = 1 })\n', "t.tf")
    expr = hcl.body.get("tags").expr
    assert expr.line == 2
    assert expr.source_text() == "merge(\n  local.a,\n  { b = 1 })"


def test_lazy_scope_objects_are_used_through_mapping_protocol():
    from collections.abc import Mapping

    class Lazy(Mapping):
        def __init__(self):
            self.asked = []

        def __getitem__(self, key):
            self.asked.append(key)
            if key == "tags":
                return {"a": "1"}
            raise KeyError(key)

        def __iter__(self):
            return iter(["tags"])

        def __len__(self):
            return 1

    lazy = Lazy()
    assert parse_expression("local.tags.a").eval(MapScope({"local": lazy})) == "1"
    assert lazy.asked == ["tags"]
    missing = parse_expression("local.other").eval(MapScope({"local": lazy}))
    assert isinstance(missing, Unknown) and missing.error


def test_attribute_steps_on_dicts_and_other_mappings_say_the_same():
    """Traversal steps into a plain dict take a shortcut; the values and errors are those of any Mapping."""
    from types import MappingProxyType

    for wrap in (dict, MappingProxyType, lambda m: PartialMap(m)):
        local = wrap({"tags": wrap({"a": "1"}), "list": [wrap({"b": 2})]})
        assert parse_expression("local.tags.a").eval(MapScope({"local": local})) == "1"
        assert parse_expression("local.list[0].b").eval(MapScope({"local": local})) == 2
        missing = parse_expression("local.tags.zz").eval(MapScope({"local": local}))
        assert isinstance(missing, Unknown) and missing.error
        assert missing.reason == 'object has no attribute "zz"', wrap
    unknown = parse_expression("local.u.x.y").eval(MapScope({"local": {"u": UNKNOWN}}))
    assert unknown is UNKNOWN
    keys = parse_expression('{ a = 1, "b" = 2, 3 = 3, true = 4, (local.k) = 5 }').eval(MapScope({"local": {"k": "k"}}))
    assert keys == {"a": 1, "b": 2, "3": 3, "true": 4, "k": 5}


def test_child_scope_binds_and_delegates():
    files = {"a.txt": "hello"}
    parent = MapScope({"var": {"x": 1}}, files=files)
    child = ChildScope(parent, {"tag": {"key": "k", "value": "v"}})
    assert parse_expression('"${tag.key}=${tag.value}/${var.x}"').eval(child) == "k=v/1"
    assert parse_expression('file("a.txt")').eval(child) == "hello"


def test_count_index_style_scope_callable():
    class Scope:
        def lookup(self, name):
            if name == "count":
                return {"index": 7}
            raise KeyError(name)

    assert parse_expression('"n-${count.index}"').eval(Scope()) == "n-7"


def test_eval_of_garbage_expression_never_raises():
    class Exploding:
        def lookup(self, name):
            raise RuntimeError("boom")

    value = parse_expression("var.x").eval(Exploding())
    assert isinstance(value, Unknown) and "boom" in value.reason


def test_dynamic_block_expansion():
    from tagguard.hcl.parse import expand_dynamic

    hcl = parse((__import__("pathlib").Path(__file__).parent / "fixtures/hcl/expressions.tf").read_bytes(), "e.tf")
    asg = hcl.body.blocks_of("resource")[1]
    dynamic = asg.body.blocks_of("dynamic")[0]
    expanded = expand_dynamic(dynamic, MapScope({"local": {"common": {"Team": "ml", "Env": "prod"}}}))
    rendered = [(name, body.get("key").expr.eval(s), body.get("value").expr.eval(s)) for name, body, s in expanded]
    assert rendered == [("tag", "Env", "prod"), ("tag", "Team", "ml")]
    assert isinstance(expand_dynamic(dynamic, MapScope({"local": {"common": UNKNOWN}})), Unknown)


def test_heredoc_output_in_fixture():
    hcl = parse((__import__("pathlib").Path(__file__).parent / "fixtures/hcl/expressions.tf").read_bytes(), "e.tf")
    banner = hcl.body.blocks_of("output")[0].body.get("value").expr
    assert banner.eval(MapScope({"var": {"env": "prod"}})) == "Cluster prod\n  indented PROD\n"


@pytest.mark.parametrize(
    "number, text",
    [(1, "1"), (1.5, "1.5"), (2.0, "2"), (-0.25, "-0.25"), (1e-7, "0.0000001"),
     (12345678901234567890, "12345678901234567890")],
)
def test_number_rendering(number, text):
    assert format_number(number) == text


def test_map_fast_paths_answer_as_the_abc_check() -> None:
    """merge/get_attr/get_index/to_map/find_unknown test an exact dict before the Mapping ABC:
    a dict subclass, a non-dict Mapping and a str subclass still take their old branches."""
    from types import MappingProxyType

    from tagguard.hcl.evaluate import EvalError, get_attr, get_index
    from tagguard.hcl.functions.collection import merge
    from tagguard.hcl.values import find_unknown, to_map

    class Text(str):
        pass

    proxy = MappingProxyType({"a": 1})
    open_map = PartialMap({"a": 1}, open=True, open_reasons=["var.x"])
    assert merge({"a": 1}, proxy, {"b": 2}) == {"a": 1, "b": 2}
    assert isinstance(merge({"a": 1}, open_map), PartialMap)
    with pytest.raises(EvalError, match="must be maps or objects, got string"):
        merge({"a": 1}, "x")
    assert get_attr(proxy, "a") == 1 and get_index(proxy, "a") == 1
    assert isinstance(get_attr(open_map, "zz"), Unknown)
    with pytest.raises(EvalError, match="from a string value"):
        get_attr("x", "a")
    assert to_map(proxy) is proxy
    with pytest.raises(EvalError):
        to_map(["a"])
    assert find_unknown(Text("x")) is None and find_unknown("x") is None
    assert isinstance(find_unknown({"k": ["v", open_map]}), Unknown)


def test_a_literal_evaluates_to_its_value_and_leaves_the_step_budget_alone(monkeypatch):
    # Literal.eval skips Expr.eval's budget: a literal read inside another evaluation (a lazy local) must not
    # reset or spend its steps, and a literal read on its own is its value
    from tagguard.hcl import evaluate

    literals = [parse_expression(text) for text in ('"a"', "7", "true", "null", "[]")]
    assert [type(e).__name__ for e in literals[:4]] == ["Literal"] * 4
    assert [e.eval(None) for e in literals[:4]] == ["a", 7, True, None]
    monkeypatch.setattr(evaluate, "MAX_EVAL_STEPS", 5000)
    big = parse_expression("[for i in range(100) : [for j in range(100) : local.x]]")
    local = parse_expression('"x"')
    seen = []

    class Scope(MapScope):
        def lookup(self, name):  # a lazy local: another Expr read while the outer evaluation runs
            if name == "local":
                seen.append((evaluate._BUDGET.depth, evaluate._BUDGET.steps))
                return {"x": local.eval(self)}
            return super().lookup(name)

    value = big.eval(Scope())
    assert isinstance(value, Unknown) and "more than 5,000 steps" in value.reason
    assert seen[0][0] == 1 and seen[-1][1] > seen[0][1]  # steps kept counting across the literal reads
    assert evaluate._BUDGET.depth == 0
