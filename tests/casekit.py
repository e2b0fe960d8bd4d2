"""Shared checks for the YAML rule-case runner (test_cases.py): schema validation of a suite, and the
resource facts a case expects."""
from __future__ import annotations

import json

import pytest


def assert_resources(wanted: dict, resources, rel: float = 1e-6) -> None:
    """Each address's facts must be a subset of its JSON; ``None`` means it must not be listed."""
    listed = {r.address: r.to_json() for r in resources}
    for address, facts in (wanted or {}).items():
        if facts is None:
            assert address not in listed, f"{address} should not be listed"
            continue
        assert address in listed, f"{address} not in {sorted(listed)}"
        assert_subset(facts, listed[address], address, rel)


def assert_subset(want, got, where: str, rel: float = 1e-6) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{where}: {got!r}"
        for k, v in want.items():
            assert k in got, f"{where}.{k} missing in {got!r}"
            assert_subset(v, got[k], f"{where}.{k}", rel)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=rel), f"{where}: {got!r} != {want!r}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def validate_suite(suite, file: str) -> list[str]:
    """Problems of a rule-case suite against ``schemas/rule-case.schema.json``, one line each, naming the
    file and the case: ``terraform_tags.yaml: case 'x': findings/0: 'messag' was unexpected``."""
    import jsonschema

    from tagguard.resources import read_text

    schema = json.loads(read_text("schemas/rule-case.schema.json"))
    out = []
    for err in sorted(jsonschema.Draft202012Validator(schema).iter_errors(suite), key=lambda e: list(map(str, e.path))):
        path = list(err.absolute_path)
        if len(path) >= 2 and path[0] == "cases" and isinstance(path[1], int):
            case = suite["cases"][path[1]]
            name = case.get("name", f"#{path[1] + 1}") if isinstance(case, dict) else f"#{path[1] + 1}"
            where = f"case {name!r}" + (f": {'/'.join(map(str, path[2:]))}" if path[2:] else "")
        else:
            where = "suite" + (f": {'/'.join(map(str, path))}" if path else "")
        out.append(f"{file}: {where}: {err.message}")
    return out
