"""The taxonomy's plain-keyword fast path (no jsonschema import) gives exactly jsonschema's results.

Every shipped taxonomy, every taxonomy written in the tests (rule cases and dict/JSON literals in
tests/*.py) and hand-made variants of each keyword are loaded twice -- with the fast path and with
``_simple_plan`` disabled (jsonschema only, as before) -- and evaluated on a battery of tag maps
built from each taxonomy's own keys and values; every issue (category, tag, message, fix, value)
must be the same, and so must every load error.
"""
from __future__ import annotations

import ast
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tagguard import taxonomy as tx

ROOT = Path(__file__).resolve().parent.parent

VARIANTS: list = [
    {"type": "object", "required": ["a", "b"], "properties": {"a": {"type": "string", "minLength": 1}}},
    {"required": ["b", "a"], "properties": {"b": {"enum": ["x", "y"]}, "a": {"const": "k"}}},
    {"properties": {"a": {"enum": [1, True, None, 2.5]}}, "required": ["a"]},
    {"properties": {"a": {"enum": ["1", 1, True, None, {"x": 1}]}, "b": {"const": 1}, "c": {"const": "1"}}},
    {"properties": {"a": {"pattern": "^CC-[0-9]{4}$", "maxLength": 7, "minLength": 2}}, "required": ["a"]},
    {"properties": {"a": {"maxLength": 0}, "b": {"minLength": 3, "enum": ["xy", "xyz"]}},
     "additionalProperties": False},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": True, "required": ["a", "z"]},
    {"additionalProperties": False, "required": ["A"], "properties": {"A": {"examples": ["v"]}, "Name": {}}},
    {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "https://example.com/t.json",
     "title": "t", "description": "d", "$comment": "c", "examples": [{}], "default": {},
     "properties": {"a": {"title": "a", "description": "d", "default": 3, "pattern": "é+", "enum": []}}},
    {"properties": {"a": {"pattern": "(a"}}},           # not a regex: jsonschema refuses it
    {"properties": {"a": {"pattern": "(?=a)"}}},        # Python regex, not RE2
    {"properties": {"a": {"minLength": -1}}},
    {"properties": {"a": {"minLength": True}}},
    {"properties": {"a": {"minLength": 1.0}}},
    {"properties": {"a": {"enum": "x"}}},
    {"properties": {"a": {"type": "integer"}}},
    {"properties": {"a": {"type": ["string", "null"]}}},
    {"properties": {"a": True, "b": False}},
    {"properties": {"a": {"format": "date"}}},
    {"required": ["a", "a"]},
    {"required": "a"},
    {"required": [1]},
    {"type": "array"},
    {"type": "objekt"},
    {"title": 3},
    {"examples": "x"},
    {"$schema": "http://json-schema.org/draft-07/schema#", "required": ["a"], "properties": {"a": {"minLength": 1}}},
    {"$id": "https://example.com/t.json#frag", "required": ["a"]},
    {"$id": "relative/name.json", "required": ["a"]},
    {"additionalProperties": {"type": "string"}, "properties": {"a": {}}},
    {"patternProperties": {"^x": {"minLength": 2}}, "additionalProperties": False},
    {"required": ["a"], "if": {"properties": {"a": {"const": "p"}}}, "then": {"required": ["b"]}},
    {"properties": {"a": {"$ref": "#/$defs/s"}}, "$defs": {"s": {"enum": ["x"]}}},
]


def _literal_taxonomies() -> list:
    """Taxonomies written in the tests: rule cases' ``taxonomy`` and dict or JSON literals in tests/*.py."""
    found: list = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "taxonomy" and isinstance(v, dict):
                    found.append(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for case_file in sorted((ROOT / "tests" / "cases").glob("*.yaml")):
        walk(yaml.safe_load(case_file.read_text(encoding="utf-8")))
    for py in sorted((ROOT / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            value = None
            if isinstance(node, ast.Dict):
                try:
                    value = ast.literal_eval(node)
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.lstrip().startswith("{"):
                try:
                    value = json.loads(node.value)
                except ValueError:
                    continue
            if isinstance(value, dict) and ("required" in value or "properties" in value) and \
                    all(isinstance(k, str) for k in value):
                found.append(value)
    return found


def _shipped() -> list:
    out = []
    for path in sorted((ROOT / "schemas").glob("taxonomy*.json")) + sorted(ROOT.glob("examples/**/*taxonomy*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if path.name != "taxonomy.schema.json":
            out.append(doc)
    return out


def _load(schema, fast: bool, monkeypatch):
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(tx, "_simple_plan", lambda schema: None)
        try:
            return tx.Taxonomy(schema, root=ROOT)
        except tx.TaxonomyError as exc:
            return f"TaxonomyError: {exc}"


def _maps(schema: dict) -> list:
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    req = ([k for k in schema.get("required", []) if isinstance(k, str)]
           if isinstance(schema.get("required"), list) else [])
    keys = list(dict.fromkeys(req + list(props)))
    values: list = ["", "x", "dev", "prod", "CC-1234", "1234", "é" * 3, "y" * 300]
    for sub in props.values():
        if isinstance(sub, dict):
            for v in (sub.get("enum") if isinstance(sub.get("enum"), list) else []) + [sub.get("const")] + \
                    (sub.get("examples") if isinstance(sub.get("examples"), list) else []):
                if v is not None:
                    values.append(v if isinstance(v, str) else json.dumps(v))
    values = list(dict.fromkeys(values))
    base = {k: "x" for k in keys}
    maps = [{}, dict(base), dict(base, Name="n"), {k.upper(): "x" for k in keys}]
    for k in keys:
        maps.append({j: v for j, v in base.items() if j != k})
        maps.append(dict({j: v for j, v in base.items() if j != k}, **{k.upper(): "x"}))
        for v in values:
            maps.append(dict(base, **{k: v}))
    for odd in (None, 5, True, 1.5, ["x"], {"y": 1}):
        maps.append(dict(base, **{keys[0] if keys else "a": odd}))  # not a string: jsonschema on both sides
    return maps


def _results(tax, schema) -> list:
    if isinstance(tax, str):
        return [tax]
    out = []
    keys = list(_maps(schema)[1]) + ["other"]
    for tags in _maps(schema):
        for style in ("aws", "azure"):
            out.append(tax.evaluate(tags, style=style))
        out.append(tax.evaluate(tags, open_map=True, open_reason="a module output"))
        for k in keys[:1] + keys[-1:]:
            out.append(tax.evaluate(tags, unresolved=[k], unresolved_reasons={k: "a variable"}))
    return out


@functools.cache
def _all_taxonomies() -> list:
    seen: dict = {}
    for schema in _shipped() + _literal_taxonomies() + VARIANTS:
        seen.setdefault(json.dumps(schema, sort_keys=True), schema)
    return list(seen.values())


def test_the_corpus_is_not_empty():
    assert len(_shipped()) >= 1
    assert len(_literal_taxonomies()) >= 10
    fast = [s for s in _all_taxonomies() if tx._simple_plan(s) is not None]
    assert len(fast) >= 10  # the fast path is actually taken, so the comparison below means something


@pytest.mark.parametrize("index", range(len(_all_taxonomies())))
def test_fast_path_gives_jsonschemas_results(index, monkeypatch):
    schema = _all_taxonomies()[index]
    fast = _load(schema, True, monkeypatch)
    full = _load(schema, False, monkeypatch)
    assert _results(fast, schema) == _results(full, schema)
    if tx._simple_plan(schema) is not None:
        import jsonschema

        jsonschema.Draft202012Validator.check_schema(schema)  # only valid schemas take the fast path


def test_the_default_taxonomy_does_not_import_jsonschema():
    code = ("import sys; from tagguard.config import load_config; cfg = load_config(None); t = cfg.taxonomy(); "
            "print(len(t.evaluate({'project': 'p', 'environment': 'qa'})), 'jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["3", "False"], out.stderr


def test_a_terraform_scan_with_the_default_taxonomy_does_not_import_jsonschema(tmp_path):
    (tmp_path / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n'
                                      '  tags = { project = "p", environment = "qa" }\n}\n')
    out = tmp_path / "r.json"
    code = ("import sys; from tagguard.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(str('jsonschema' in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, "scan", str(tmp_path), "-f", "json", "-o", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.stderr.strip().endswith("False"), proc.stderr
    findings = json.loads(out.read_text(encoding="utf-8"))["findings"]
    assert {f["rule"] for f in findings} >= {"missing-tag", "invalid-value"}, findings


def test_empty_unresolved_and_reasons_share_the_memo_entry_of_any_empty_spelling():
    # evaluate() builds its memo key without a sort for an empty list of unresolved keys or reasons:
    # every empty spelling must still be the same key, and a non-empty one still a different answer
    from tagguard.config import DEFAULT_TAXONOMY
    from tagguard.resources import data_file

    tax = tx.load_taxonomy(data_file(DEFAULT_TAXONOMY))
    tags = {"project": "p", "Name": "x"}
    first = tax.evaluate(tags)
    for unresolved, reasons in (([], None), ((), {}), (iter(()), {}), (["project"], None)):
        assert tax.evaluate(tags, unresolved, False, "aws", reasons) is first
    assert len(tax._cache) == 1
    why = {"environment": "var.env has no default"}
    unknown = tax.evaluate(tags, ["environment"], False, "aws", why)
    assert unknown != first and len(tax._cache) == 2
    assert any(i.tag == "environment" and i.category == "unresolved_value" for i in unknown)
    assert tax.evaluate(dict(tags), ("environment",), False, "aws", dict(why)) is unknown


def test_the_memo_key_is_the_relevant_tags_whatever_their_order_and_the_other_keys():
    # evaluate()'s key: the schema's keys the map holds (read once per distinct key list), sorted, and their
    # values as text -- one entry per distinct set of relevant (key, str(value)) pairs, as before, and every
    # answer the one a taxonomy without a memo gives
    from tagguard.config import DEFAULT_TAXONOMY
    from tagguard.resources import data_file

    path = data_file(DEFAULT_TAXONOMY)
    tax = tx.load_taxonomy(path)
    maps = [
        {"project": "p", "Name": "a", "environment": "prod"},
        {"environment": "prod", "project": "p", "Name": "b"},
        {"Name": "c", "environment": "prod", "owner": "x", "project": "p"},
        {"project": "p", "environment": "dev"},
        {"PROJECT": "p", "environment": "prod"},
        {"project": 1, "environment": "prod"},
        {"project": "1", "environment": "prod"},
        {},
        {"Name": "only"},
    ]
    for m in maps:
        assert tax.evaluate(m) == tx.load_taxonomy(path).evaluate(m), m
    distinct = {tuple(sorted((k, type(v), str(v)) for k, v in m.items() if k.casefold() in tax._relevant))
                for m in maps}
    assert len(tax._cache) == len(distinct)


def test_the_memo_key_reads_values_of_every_kind_and_any_number_of_relevant_keys():
    # the key's values come from one itemgetter per key list (a bare getter for one key, none for no key), and
    # are their own text when every one is a str (str() of them otherwise): answers as a taxonomy without a memo,
    # one entry per distinct set of relevant (key, str(value)) pairs
    import random

    schema = {"required": ["a", "b"], "properties": {"a": {"enum": ["x", "1", "1.5"]}, "b": {"minLength": 2},
                                                     "c": {"pattern": "^[a-z]+$"}}}
    rng = random.Random(5)
    values = ["x", "1", 1, 1.5, "1.5", "yy", "", None, "None", ["x"], "['x']", {"k": 1}, "z", True, "True"]
    maps = [{}, {"Name": "n"}, {"a": "x"}, {"b": 1}, {"c": "abc", "Name": "m"}]
    for _ in range(300):
        keys = rng.sample(["a", "b", "c", "Name", "owner"], rng.randint(0, 5))
        maps.append({k: rng.choice(values) for k in keys})
    tax = tx.Taxonomy(schema)
    for m in maps:
        assert tax.evaluate(m) == tx.Taxonomy(schema).evaluate(m), m
        assert tax.evaluate(dict(reversed(m.items()))) == tx.Taxonomy(schema).evaluate(m), m
    distinct = {tuple(sorted((k, type(v), str(v)) for k, v in m.items() if k in "abc")) for m in maps}
    assert len(tax._cache) == len(distinct)
    assert tx._values_of(())({"a": 1}) == () and tx._values_of(("a",))({"a": 1}) == (1,)
    assert tx._values_of(("b", "a"))({"a": 1, "b": 2}) == (2, 1)


@pytest.mark.parametrize("relevance", [True, False])
def test_a_value_and_its_text_are_not_one_memo_entry(relevance):
    # True and "True", None and "None", ['x'] and "['x']" have one str() but are judged apart (true / a type error /
    # a list): the memo once keyed values by str() alone, and the first map evaluated answered for the other
    schema = {"properties": {"flag": {"enum": ["true", "false"]}, "owner": {"type": "string"},
                             "c": {"pattern": "^[a-z]+$"}}}
    if not relevance:  # a schema whose keys cannot be known in advance keeps every (key, value) in the key
        schema["patternProperties"] = {"^zz": {}}
    pairs = [({"flag": True}, {"flag": "True"}), ({"owner": None}, {"owner": "None"}), ({"c": ["x"]}, {"c": "['x']"})]
    for first, second in pairs:
        for order in ((first, second), (second, first)):
            tax = tx.Taxonomy(schema)
            assert (tax._relevant is not None) is relevance
            for m in order:
                assert tax.evaluate(m) == tx.Taxonomy(schema).evaluate(m), (order, m)
        assert tx.Taxonomy(schema).evaluate(first) != tx.Taxonomy(schema).evaluate(second)
