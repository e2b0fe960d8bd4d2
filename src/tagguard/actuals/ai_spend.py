"""Which charges of a bill are AI spend: rules as data (``policies/ai_services.yaml``, the rate card's
GPU instance families, ``bill.ai_services`` in the config), turned into SQL predicates over the
normalised ``charges`` relation. Every value is a quoted SQL literal; nothing from a bill is SQL.
"""
from __future__ import annotations

import json
import re
from typing import Any

from tagguard.actuals import BillError
from tagguard.actuals.sqlfiles import literal

LIST_KEYS = ("service_names", "service_patterns", "service_categories", "service_subcategories",
             "resource_id_patterns", "text_patterns", "gpu_patterns", "token_units", "token_services",
             "training_job_patterns", "node_group_tag_keys")


def load_rules(user: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipped AI-service rules plus the rate card's GPU families, extended by the user's lists."""
    from tagguard import yamlio
    from tagguard.resources import data_file

    path = data_file("policies/ai_services.yaml")
    data = yamlio.load(path.read_text(encoding="utf-8")) or {}
    rules: dict[str, Any] = {k: [str(v) for v in (data.get(k) or [])] for k in LIST_KEYS}
    rules["instance_regex"] = instance_regex()
    for key, values in (user or {}).items():
        if key not in LIST_KEYS:
            raise BillError(f"bill.ai_services.{key}: unknown key (expected one of {', '.join(LIST_KEYS)})")
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BillError(f"bill.ai_services.{key}: expected a list of strings")
        rules[key] = rules[key] + list(values)
    return rules


def instance_regex() -> str:
    """One regular expression matching every GPU/accelerator instance type of the rate card."""
    from tagguard.resources import data_file

    card = json.loads(data_file("policies/ratecard.json").read_text(encoding="utf-8"))
    parts = []
    for fam in sorted((card.get("families") or {}).values(), key=lambda f: str(f.get("regex"))):
        rx = str(fam.get("regex") or "")
        if not rx:
            continue
        rx = rx.lower()
        if rx.startswith("^"):
            rx = rx[1:]
        if rx.endswith("$"):
            rx = rx[:-1]
        re.compile(rx)
        parts.append(rx)
    for name in sorted(card.get("instances") or {}):
        itype = name.split("/", 1)[-1].lower()
        if not any(re.fullmatch(p, itype) for p in parts):
            parts.append(re.escape(itype))
    # instance names sit inside longer text (x_UsageType "USE1-BoxUsage:p5.48xlarge"); [a-z0-9] must not continue them
    return "(^|[^a-z0-9.])(" + "|".join(parts) + ")($|[^a-z0-9-])"


def _like_any(expr: str, patterns: list[str]) -> str:
    if not patterns:
        return "FALSE"
    return "(" + " OR ".join(f"{expr} LIKE {literal(p.lower())}" for p in patterns) + ")"


def _in(expr: str, values: list[str]) -> str:
    if not values:
        return "FALSE"
    return f"{expr} IN (" + ", ".join(literal(v.lower()) for v in sorted(set(values))) + ")"


def gpu_predicate(rules: dict[str, Any]) -> str:
    """Over one distinct key row (``match_text`` = lower-cased SKU/resource-type/description/meter/usage-type text)."""
    return ("(regexp_matches(match_text, " + literal(rules["instance_regex"]) + ")"
            + " OR " + _like_any("match_text", rules["gpu_patterns"]) + ")")


def ai_predicate(rules: dict[str, Any]) -> str:
    """Service, category and SKU text rules, over one distinct key row."""
    svc = "lower(service_name)"
    return "(" + " OR ".join([
        _in(svc, rules["service_names"]),
        _like_any(svc, rules["service_patterns"]),
        _in("lower(service_category)", rules["service_categories"]),
        _in("lower(service_subcategory)", rules["service_subcategories"]),
        _like_any("match_text", rules["text_patterns"]),
        gpu_predicate(rules),
    ]) + ")"


def resource_ai_predicate(rules: dict[str, Any]) -> str:
    """ResourceId rules (training jobs, ML workspaces), per row."""
    return _like_any("lower(COALESCE(resource_id, ''))", rules["resource_id_patterns"])


def token_predicate(rules: dict[str, Any]) -> str:
    return ("(" + _like_any("lower(consumed_unit)", rules["token_units"]) + " OR "
            + _in("lower(service_name)", rules["token_services"]) + ")")


def shared_predicate(shared: dict[str, Any] | None, service: str = "service_name", resource: str = "resource_id",
                     tags: str = "tags") -> str:
    """Shared platform charges: ``bill.shared: {services: [...], service_patterns: [...], resource_id_patterns: [...],
    tags: {key: value}}``. Tag rules match the Tags JSON text exactly on a ``"key":"value"`` pair."""
    if not shared:
        return "FALSE"
    parts = []
    svc = f"lower(COALESCE({service}, ''))"
    if shared.get("services"):
        parts.append(_in(svc, [str(s) for s in shared["services"]]))
    if shared.get("service_patterns"):
        parts.append(_like_any(svc, [str(s) for s in shared["service_patterns"]]))
    if shared.get("resource_id_patterns"):
        parts.append(_like_any(f"lower(COALESCE({resource}, ''))", [str(s) for s in shared["resource_id_patterns"]]))
    for key, value in (shared.get("tags") or {}).items():
        pair = json.dumps({str(key): str(value)}, separators=(",", ":"))[1:-1]
        spaced = json.dumps({str(key): str(value)})[1:-1]
        parts.append(f"(strpos(COALESCE({tags}, ''), {literal(pair)}) > 0"
                     f" OR strpos(COALESCE({tags}, ''), {literal(spaced)}) > 0)")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def node_group_predicate(rules: dict[str, Any]) -> str:
    """A charge whose Tags text names a node-group tag key: a candidate for 'disk of a GPU node group'
    (coverage.py keeps it only when the key's value is also on a GPU instance charge)."""
    keys = rules["node_group_tag_keys"]
    if not keys:
        return "FALSE"
    return "(" + " OR ".join(f"strpos(COALESCE(tags, ''), {literal(json.dumps(k))}) > 0" for k in keys) + ")"


def slots(rules: dict[str, Any], shared: dict[str, Any] | None) -> dict[str, str]:
    return {
        "ai_predicate": ai_predicate(rules),
        "resource_ai_predicate": resource_ai_predicate(rules),
        "node_group_predicate": node_group_predicate(rules),
        "gpu_predicate": gpu_predicate(rules),
        "token_predicate": token_predicate(rules),
        "shared_predicate": shared_predicate(shared),
        "training_predicate": _like_any("lower(COALESCE(resource_id, ''))", rules["training_job_patterns"]),
    }
