"""The function table is the caller's: the compiler binds calls to the table it is given, and
templatefile() compiles with the callback it was built with (the functions import no parser)."""
from __future__ import annotations

from tagguard.hcl import parse as hcl
from tagguard.hcl.evaluate import MapScope
from tagguard.hcl.functions import NAMES, categories, function_table
from tagguard.hcl.values import Unknown


def test_calls_bind_to_the_callers_table():
    table = {"shout": lambda text: text.upper() + "!"}
    assert hcl.parse_expression('shout("gpu")', functions=table).eval(MapScope({})) == "GPU!"
    builtin = hcl.parse_expression('upper("gpu")', functions=table).eval(MapScope({}))
    assert isinstance(builtin, Unknown) and "function upper is not supported" in builtin.reason
    # the default table is Terraform's
    assert hcl.parse_expression('upper("gpu")').eval(MapScope({})) == "GPU"


def test_a_parsed_file_binds_to_the_callers_table():
    parsed = hcl.parse(b'x = twice(21)\n', "main.tf", functions={"twice": lambda n: n * 2})
    assert parsed.body.get("x").expr.eval(MapScope({})) == 42


def test_templatefile_compiles_with_the_callback_it_was_given():
    compiled: list[tuple[str, str]] = []

    def compile_template(text: str, filename: str):
        compiled.append((text, filename))
        return hcl.compile_template(text, filename)

    table = function_table(compile_template)
    scope = MapScope({}, files={"t.tftpl": "gpus=${n}"})
    value = hcl.parse_expression('templatefile("t.tftpl", {n = 8})', functions=table).eval(scope)
    assert value == "gpus=8"
    assert compiled == [("gpus=${n}", "t.tftpl")]


def test_every_category_contributes_and_no_name_is_defined_twice():
    seen: dict[str, str] = {}
    for category in categories():
        assert category.FUNCTIONS, category.__name__
        for name in category.FUNCTIONS:
            assert name not in seen, f"{name} in {category.__name__} and {seen[name]}"
            seen[name] = category.__name__
    assert set(function_table(hcl.compile_template)) == set(seen) | {"templatefile"} == set(hcl.FUNCTIONS)


def test_the_name_index_is_each_categorys_own_table():
    # a table imports a category when one of its names is looked up: a name filed under the wrong
    # category would be "not supported"
    for category in categories():
        short = category.__name__.rsplit(".", 1)[1]
        own = set(category.FUNCTIONS) | ({"templatefile"} if short == "filesystem" else set())
        assert set(NAMES[short]) == own, short


def test_a_table_imports_a_category_at_the_first_lookup_of_one_of_its_names():
    import subprocess
    import sys

    code = ("import sys\n"
            "from tagguard.hcl import parse as hcl\n"
            "from tagguard.hcl.evaluate import MapScope\n"
            "assert hcl.parse_expression('merge({a = 1}, {b = 2})').eval(MapScope({})) == {'a': 1, 'b': 2}\n"
            "assert hcl.parse_expression('nosuch(1)').eval(MapScope({})).reason\n"
            "print(*sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('tagguard.hcl.functions.')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["_common", "collection"], out.stderr
    table = function_table(hcl.compile_template)
    assert "upper" in table and "nosuch" not in table and table.get("nosuch") is None
    assert len(table) == len(list(table)) == sum(len(n) for n in NAMES.values())
