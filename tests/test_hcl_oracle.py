"""python-hcl2 as an independent oracle for literal values.

For every ``.tf`` file under ``tests/fixtures/`` and ``examples/`` (globbed at
test time) and for a generated file, each attribute whose value is a pure
literal (string without interpolation, number, bool, null, list/map of such)
must evaluate to exactly what ``hcl2.loads`` reads.

What is normalised, and why (python-hcl2 8.1.x):

* ``SerializationOptions(strip_string_quotes=True, ...)``: by default 8.x keeps
  the quotes of strings (``'"x"'``), writes scientific notation as ``"${1e3}"``,
  keeps heredoc markers, adds ``__is_block__`` markers and comments.  The options
  turn those off so values are plain Python.
* Numbers compare by value: Terraform has one number type, so tagguard returns
  ``1500`` for ``1.5e3`` where python-hcl2 returns ``1500.0``.  Bools never
  compare equal to numbers.
* Heredocs are skipped: python-hcl2 drops the final newline Terraform keeps.
* Strings containing ``$${`` or ``%%{`` are skipped: python-hcl2 leaves these
  template escapes as written; Terraform (and tagguard) unescape them.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import pytest

hcl2 = pytest.importorskip("hcl2")

from tagguard.hcl.evaluate import Literal, ObjectExpr, TupleExpr, UnaryOp  # noqa: E402
from tagguard.hcl.parse import Body, parse  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True,
    preserve_heredocs=False,
    preserve_scientific_notation=False,
    with_comments=False,
    explicit_blocks=False,
)


def tf_files() -> list[Path]:
    files = sorted((ROOT / "tests" / "fixtures").rglob("*.tf")) + sorted((ROOT / "examples").rglob("*.tf"))
    return [f for f in files if ".terraform" not in f.parts]


def is_pure_literal(expr: Any) -> bool:
    if isinstance(expr, Literal):
        text = expr.source_text()
        return not text.startswith("<<") and "$${" not in text and "%%{" not in text
    if isinstance(expr, UnaryOp):
        return expr.op == "-" and isinstance(expr.operand, Literal) and isinstance(expr.operand.value, (int, float))
    if isinstance(expr, TupleExpr):
        return all(is_pure_literal(item) for item in expr.items)
    if isinstance(expr, ObjectExpr):
        return all(isinstance(k, Literal) and isinstance(k.value, str) and is_pure_literal(v) for k, v in expr.pairs)
    return False


def literal_pairs(body: Body, oracle: dict, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, tagguard value, python-hcl2 value) for every pure-literal attribute."""
    for name, attr in body.attributes.items():
        if is_pure_literal(attr.expr):
            assert name in oracle, f"{path}{name}: python-hcl2 has no such attribute"
            yield f"{path}{name}", attr.expr.eval(None), oracle[name]
    seen: dict = {}
    for block in body.blocks:
        index = seen.get(block.type, 0)
        seen[block.type] = index + 1
        node = oracle[block.type][index]
        for label in block.labels:
            node = node[label]
        yield from literal_pairs(block.body, node, f"{path}{block.type}{block.labels}.")


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return type(ours) is type(theirs) and ours == theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        return ours == theirs
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(same(a, b) for a, b in zip(ours, theirs))
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return list(ours) == list(theirs) and all(same(ours[k], theirs[k]) for k in ours)
    return type(ours) is type(theirs) and ours == theirs


def compare(text: str, name: str) -> int:
    ours = parse(text.encode("utf-8"), name)
    assert ours.errors == [], ours.errors
    oracle = hcl2.loads(text, serialization_options=OPTIONS)
    count = 0
    for path, mine, theirs in literal_pairs(ours.body, oracle, ""):
        assert same(mine, theirs), f"{name}: {path}: tagguard {mine!r} != python-hcl2 {theirs!r}"
        count += 1
    return count


@pytest.mark.parametrize("path", tf_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_literals_match_python_hcl2(path: Path):
    text = path.read_text(encoding="utf-8")
    ours = parse(text.encode("utf-8"), str(path))
    if ours.errors:
        pytest.skip(f"not valid HCL (tagguard reports {ours.errors[0]}), nothing to compare")
    compare(text, str(path))


def test_fixture_literals_are_actually_compared():
    count = compare((ROOT / "tests" / "fixtures" / "hcl" / "literals.tf").read_text(), "literals.tf")
    assert count >= 20


# --- a generated file ---------------------------------------------------------------------

_WORDS = ["gpu", "a100", "cost-center", "ml team", "é", "tab\there", 'quote"d', "back\\slash", "π≈3.14", "", "x/y:z"]


def _hcl_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=bool(len(text) % 2))  # \uXXXX escapes on some, raw UTF-8 on others


def _literal(rng: random.Random, depth: int) -> str:
    kind = rng.choice(["str", "int", "float", "neg", "bool", "null"] + (["list", "map"] if depth < 3 else []))
    if kind == "str":
        return _hcl_string(rng.choice(_WORDS) + str(rng.randrange(100)))
    if kind == "int":
        return str(rng.randrange(10**12))
    if kind == "float":
        return repr(rng.randrange(1, 10**6) / 64)
    if kind == "neg":
        return "-" + str(rng.randrange(1, 1000))
    if kind == "bool":
        return rng.choice(["true", "false"])
    if kind == "null":
        return "null"
    if kind == "list":
        return "[" + ", ".join(_literal(rng, depth + 1) for _ in range(rng.randrange(4))) + "]"
    keys = sorted({f"k{rng.randrange(50)}" for _ in range(rng.randrange(4))})
    return "{\n" + "".join(f"  {_key(rng, k)} = {_literal(rng, depth + 1)}\n" for k in keys) + "}"


def _key(rng: random.Random, key: str) -> str:
    return _hcl_string(key) if rng.random() < 0.5 else key


def generated_file(seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for i in range(40):
        lines.append(f'resource "aws_instance" "r{i}" {{')
        for j in range(rng.randrange(1, 6)):
            lines.append(f"  a{j} = {_literal(rng, 0)}")
        lines.append('  tags = { Name = "n", "cost-center" = "cc" }')
        lines.append("}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(5))
def test_generated_literals_match_python_hcl2(seed: int):
    assert compare(generated_file(seed), f"generated-{seed}.tf") >= 80
