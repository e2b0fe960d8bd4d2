"""Shared checks for the YAML rule-case runners (test_cases.py, test_kubernetes_cases.py)."""
from __future__ import annotations

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
