"""Which resources the tag rules judge and a report lists: ``rules.tags.in_scope``, and, for the report, AI resources
that take no tags too.  ``tags.reported`` and ``tags.check`` test it inline (a call per resource less, issue 13):
they must answer as the definitions through ``in_scope`` for every combination, truthy values included."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

from tagguard.config import Config
from tagguard.model import Resource
from tagguard.rules import tags


def _resources() -> list[Resource]:
    out = []
    for i, (ai, taggable, skip) in enumerate(itertools.product((False, True, 0, 1, "", "x"), (False, True, 0, 1),
                                                                (False, True))):
        r = Resource(address=f"aws_instance.r{i}", type="aws_instance", source="terraform", ai=ai, taggable=taggable,
                     tags={"project": "p"}, meta={"skip_tag_rules": True} if skip else {})
        out.append(r)
    return out


def test_reported_is_in_scope_or_ai_without_tags():
    resources = _resources()
    for scope in ("ai", "all", "other"):
        expected = [r for r in resources if tags.in_scope(r, scope) or (r.ai and not r.taggable)]
        assert tags.reported(resources, scope) == expected, scope


def test_check_judges_the_resources_in_scope_without_skip_tag_rules():
    resources = _resources()
    for scope in ("ai", "all", "other"):
        ctx = SimpleNamespace(config=Config(raw={"scope": scope}))
        judged = {f.address for f in tags.check(resources, ctx)}
        expected = {r.address for r in resources if tags.in_scope(r, scope) and not r.meta.get("skip_tag_rules")}
        assert judged == expected, scope
