"""Usage files: wildcards, precedence, one-line errors naming file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from tagguard.model import Compute, Resource
from tagguard.pricing.usage import load_usage

FIXTURES = Path(__file__).parent / "fixtures" / "pricing"


def res(address, type_="aws_instance", **compute):
    return Resource(address=address, type=type_, source="terraform", ai=True, compute=Compute(**compute))


@pytest.fixture(scope="module")
def usage():
    return load_usage(FIXTURES / "usage.yaml")


@pytest.mark.parametrize("address", [
    "module.train.aws_instance.gpu[0]",
    'module.train.aws_instance.gpu["blue"]',
])
def test_wildcard_matches_any_index_or_key(usage, address):
    r = res(address)
    assert usage.apply(r)
    assert (r.compute.hours_per_month, r.compute.units) == (120, 4)
    assert "usage.yaml:8" in r.meta["usage"]


@pytest.mark.parametrize("address", [
    "module.train.aws_instance.gpu",
    "module.train.aws_instance.gpu2[0]",
    "module.other.aws_instance.gpu[0]",
])
def test_wildcard_does_not_match_other_addresses(usage, address):
    r = res(address, hours_per_month=None, units=1)
    assert not usage.apply(r)
    assert (r.compute.hours_per_month, r.compute.units) == (None, 1)


def test_exact_address_beats_wildcard(usage):
    r = res("module.train.aws_instance.gpu[1]", units=7)
    usage.apply(r)
    assert (r.compute.hours_per_month, r.compute.units) == (200, 7)


def test_wildcards_in_module_index(usage):
    r = res('module.serve["eu"].aws_instance.gpu[3]')
    usage.apply(r)
    assert r.compute.units == 2


def test_resource_type_default(usage):
    r = res("kubernetes_job.x", type_="kubernetes_job")
    usage.apply(r)
    assert r.compute.runtime_hours == 6 and r.meta["runs_per_month"] == 10


def test_no_compute_is_left_alone(usage):
    r = Resource(address="module.train.aws_instance.gpu[0]", type="aws_instance", source="terraform")
    assert not usage.apply(r)


def test_empty_file_is_fine(tmp_path):
    p = tmp_path / "u.yml"
    p.write_text("version: 1\n")
    assert load_usage(p).match(res("a.b")) is None


@pytest.mark.parametrize("text, line, needle", [
    ("version: 1\nresource_usage:\n  a.b:\n    hours_per_month: [1\n", 5, "invalid YAML"),
    ("version: 1\nresource_usage:\n  a.b:\n    hours_per_month: 100\n    hours_per_week: 20\n", 5, "'hours_per_week'"),
    ("version: 1\nresource_usage:\n  a.b:\n    units: -2\n", 4, "must not be negative"),
    ("version: 1\nresource_usage:\n  a.b:\n    units: 1.5\n", 4, "whole number"),
    ("version: 1\nresource_usage:\n  a.b:\n    hours_per_month: lots\n", 4, "expected a number"),
    ("version: 1\nresource_usage:\n  a.b:\n    hours_per_month: 800\n", 4, "hours in a month"),
    ("version: 1\nresource_usage:\n  a.b: 12\n", 3, "expected a mapping"),
    ("version: 1\nresource_usage: [a, b]\n", 2, "must be a mapping"),
    ("resource_usage: {}\n", 1, "version must be 1"),
    ("version: 1\nresources: {}\n", 2, "unknown top-level key"),
    ("- 1\n- 2\n", 1, "must be a mapping"),
])
def test_bad_usage_file(tmp_path, text, line, needle):
    p = tmp_path / "usage.yml"
    p.write_text(text)
    with pytest.raises(ValueError) as exc:
        load_usage(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}:{line}: "), msg
    assert needle in msg and "\n" not in msg


def test_bad_key_fixture_names_file_and_line():
    path = FIXTURES / "usage_bad_key.yaml"
    with pytest.raises(ValueError,
                       match=r"usage_bad_key\.yaml:5: aws_instance\.gpu: unknown usage key 'hours_per_week'"):
        load_usage(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read usage file"):
        load_usage(tmp_path / "nope.yml")
