"""Evaluator semantics found missing while scanning real repositories (see docs/real-world.md)."""
from __future__ import annotations


def test_null_comparison_of_collection_with_unknown_elements_is_known():
    """cty: a known map is non-null even if its elements are unknown; only a wholly unknown value is."""
    from tagguard.hcl.evaluate import MapScope
    from tagguard.hcl.parse import parse_expression
    from tagguard.hcl.values import Unknown

    scope = MapScope(m={"a": {"key": Unknown("after apply")}}, u=Unknown("after apply"))
    assert parse_expression("m != null").eval(scope) is True
    assert parse_expression("m == null").eval(scope) is False
    assert parse_expression("null == null").eval(scope) is True
    assert isinstance(parse_expression("u == null").eval(scope), Unknown)
    assert isinstance(parse_expression("m == {}").eval(scope), Unknown)


def test_tf_json_scanner_keeps_lines_and_reports_errors_with_position():
    from tagguard.sources.terraform import tfjson

    parsed = tfjson.parse(b'{\n "resource": {"aws_instance": {\n  "x": {"tags": {"a": "${1 + 1}"}, "count": 2}}}}\n',
                          "m.tf.json")
    assert not parsed.errors
    block = parsed.body.blocks[0]
    assert (block.type, block.labels, block.line) == ("resource", ["aws_instance", "x"], 3)
    assert block.body.get("tags").expr.eval(None) == {"a": 2}
    assert block.body.get("count").expr.eval(None) == 2
    bad = tfjson.parse(b'{\n  "a": [1, 2,\n  ]\n}', "b.tf.json")
    assert [(e.line, e.message) for e in bad.errors] == [(3, "invalid JSON: unexpected character ']'")]
    assert tfjson.parse(b"[" * 5000, "deep.tf.json").errors  # never raises


def test_type_constraint_conversion_fills_nested_optional_attributes():
    from tagguard.hcl import parse as hcl
    from tagguard.sources.terraform.module import Located, _apply_type_defaults

    parsed = hcl.parse(b'variable "v" {\n'
                       b'  type = list(object({ a = optional(number, 3), b = optional(map(string), {}) }))\n}\n',
                       "v.tf")
    decl = Located("v.tf", parsed.body.blocks[0])
    assert _apply_type_defaults(decl, [{"b": {"k": 1}}, {"a": "7"}]) == [{"a": 3, "b": {"k": "1"}}, {"a": 7, "b": {}}]


def test_strip_marker_keeps_the_indentation_of_the_next_line():
    """`%{ endfor ~}` trims the rest of its own line only (HCL scans literals line by line)."""
    from tagguard.hcl.evaluate import MapScope
    from tagguard.hcl.parse import compile_template

    text = "volumes:\n  - name: a\n%{ for s in secrets ~}\n  - name: ${s}\n%{ endfor ~}\n  - name: b\n"
    assert compile_template(text).eval(MapScope(secrets=[])) == "volumes:\n  - name: a\n  - name: b\n"
    assert compile_template(text).eval(MapScope(secrets=["x"])) == "volumes:\n  - name: a\n  - name: x\n  - name: b\n"
    assert compile_template("a %{~ if true ~}  b %{~ endif ~}  c").eval(MapScope()) == "abc"
