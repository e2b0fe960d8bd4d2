"""Helm's version constraints (Masterminds/semver v3 rules) used to pick a chart version from an index or tag list."""
from __future__ import annotations

import pytest

from tagguard.sources.terraform.remote.semver import Constraints, SemverError, Version, select

LISTED = ["0.1.0", "0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.2.0", "1.2.5", "1.3.0-beta.1", "1.3.0", "1.10.0",
          "2.0.0-rc.1", "2.0.0", "2.1.0", "not-a-version"]


@pytest.mark.parametrize("constraint, chosen", [
    ("", "2.1.0"),                  # empty: the newest release, never a pre-release
    ("*", "2.1.0"),
    ("1.2.0", "1.2.0"),             # exact
    ("v1.0.0", "1.0.0"),
    ("1.2", "1.2.5"),               # a short version is a wildcard: 1.2.x
    ("1.x", "1.10.0"),              # 1.10 > 1.3: numeric, not string, order
    ("~1.2.0", "1.2.5"),
    ("~>1.2", "1.2.5"),
    ("~1", "1.10.0"),
    ("^1.2", "1.10.0"),
    ("^0.2.3", "0.2.9"),            # caret below 1.0 keeps the minor
    ("^0.0", None),
    (">=1.2 <1.10", "1.3.0"),       # AND by space
    (">= 1.2, < 1.10", "1.3.0"),    # AND by comma
    ("1.2 - 1.3", "1.3.0"),         # hyphen range: >= 1.2, <= 1.3 (1.3.x)
    (">1.2", "2.1.0"),
    ("<=1.2", "1.2.5"),
    ("!=2.1.0", "2.0.0"),
    ("^0.1 || ^1", "1.10.0"),       # OR
    (">=1.3.0-0, <1.4.0", "1.3.0"),  # a pre-release in the range lets pre-releases in; the release is newer
    (">=1.3.0-0, <1.3.0", "1.3.0-beta.1"),
    (">=2.0.0-0, <2.0.0", "2.0.0-rc.1"),
    ("<1.3.0", "1.2.5"),            # 1.3.0-beta.1 is < 1.3.0 but a pre-release: not without a pre-release range
    ("3.x", None),
    ("not-a-version", "not-a-version"),  # an exact string listed wins before any parsing, as Helm's index lookup
])
def test_selection(constraint, chosen):
    assert select(LISTED, constraint) == chosen


def test_devel_takes_prereleases():
    assert select(["1.0.0", "1.1.0-rc.1"], "", devel=True) == "1.1.0-rc.1"
    assert select(["1.0.0", "1.1.0-rc.1"], "") == "1.0.0"


def test_prerelease_order_follows_semver():
    order = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
             "1.0.0-rc.1", "1.0.0"]
    vs = [Version(t) for t in order]
    assert all(a.compare(b) < 0 for a, b in zip(vs, vs[1:]))


@pytest.mark.parametrize("bad", ["foo", ">= 1.0 <", "1.0 |", "=> =>1", "1" * 300])
def test_bad_constraints_raise_one_line(bad):
    with pytest.raises(SemverError) as exc:
        Constraints(bad)
    assert "\n" not in str(exc.value)
