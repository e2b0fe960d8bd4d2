"""The tag taxonomy: a plain JSON Schema (draft 2020-12) over a resource's tag map.

``Taxonomy.evaluate`` is shared by every input kind (Terraform, Kubernetes,
live cloud, LLM usage records): it takes the effective tag map, the keys whose
values are unknown, and whether unseen keys may exist, and returns issues in
three categories:

* ``missing_tag``      a ``required`` key is certainly absent;
* ``invalid_value``    any other schema error on a known value;
* ``unresolved_value`` a value (or a key's presence) cannot be known statically.

An unknown value is never reported as missing and never silently passed.
"""
from __future__ import annotations

import json
import operator
from pathlib import Path
from typing import Any, Callable, NamedTuple
from collections.abc import Iterable, Mapping

from tagguard.model import INVALID_VALUE, MISSING_TAG, UNRESOLVED_VALUE

_PLACEHOLDER = "\x00unresolved"


class TaxonomyError(Exception):
    pass


# A NamedTuple, not a frozen dataclass: as immutable and compared by value, and a quarter of the cost to create
# (a frozen dataclass compiles six generated methods when this module is imported, on every scan).
class TagIssue(NamedTuple):
    category: str
    tag: str | None
    message: str
    fix: str | None = None
    value: str | None = None
    tags: tuple[str, ...] = ()  # several keys in one issue (required keys hidden by an unknown map)


_ValuesOf = Callable[[Mapping[str, Any]], "tuple[Any, ...]"]


def _values_of(keys: tuple[str, ...]) -> _ValuesOf:
    """A function giving a tag map's values of ``keys`` as a tuple, in that order: ``itemgetter`` (one C call) for two
    keys or more; itemgetter of one key gives the bare value, of none is an error, so those are spelt out."""
    if len(keys) >= 2:
        return operator.itemgetter(*keys)
    if keys:
        key = keys[0]
        return lambda tags: (tags[key],)
    return lambda tags: ()


class Taxonomy:
    def __init__(self, schema: dict[str, Any], path: Path | None = None, root: Path | None = None,
                 sha256: str | None = None):
        self.schema = schema
        self.path = path
        self.sha256 = sha256
        self._root = root
        self._validator: Any = None
        # A taxonomy made only of the plain keywords (`_simple_plan`: required, properties of type
        # string with enum/const/pattern/minLength/maxLength, additionalProperties true/false) is
        # valid by construction and checked by `_simple_errors` with the same errors in the same
        # order as jsonschema; importing jsonschema (~0.06-0.1 s of every scan) is then needed only
        # for a tag value that is not a string.  Anything else goes to jsonschema, as before.
        self._simple = _simple_plan(schema)
        if self._simple is not None:
            _check_patterns(schema, str(path) if path is not None else "taxonomy")
        else:
            self._full_validator(check=True)
        self.required: list[str] = [k for k in schema.get("required", []) if isinstance(k, str)]
        self.properties: dict[str, Any] = schema.get("properties", {}) or {}
        self._cache: dict[tuple, tuple[TagIssue, ...]] = {}
        self._known_keys = {k.casefold(): k for k in list(self.properties) + self.required}
        self._relevant = _relevant_keys(schema)
        self._kept: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...], _ValuesOf]] = {}  # see _relevant_of

    def _full_validator(self, check: bool = False):
        """jsonschema's validator for the taxonomy (``check``: first check it against its meta-schema)."""
        if self._validator is not None:
            return self._validator
        import jsonschema

        schema, path = self.schema, self.path
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        if check:
            try:
                cls.check_schema(schema)
            except jsonschema.SchemaError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
                raise TaxonomyError(f"{path or 'taxonomy'}: not a valid JSON Schema at {where}:"
                                    f" {exc.message}") from None
        # `$ref`s are resolved now, from files inside ``root`` or the shipped schemas only; nothing
        # is ever fetched. Every pattern must compile on RE2 (linear-time matching).
        rooted, registry, documents = _registry(schema, path, self._root)
        for where_file, doc in documents:
            _check_patterns(doc, where_file)
        use_re2_in_jsonschema()
        self._validator = cls(rooted, registry=registry, format_checker=cls.FORMAT_CHECKER)
        return self._validator

    def iter_errors(self, instance: dict[str, Any]):
        """The schema errors of a tag map, as jsonschema's ``iter_errors`` gives them."""
        if self._simple is not None and all(isinstance(v, str) for v in instance.values()):
            return _simple_errors(self._simple, instance)
        return self._full_validator().iter_errors(instance)

    # -- public ---------------------------------------------------------------
    def evaluate(self, tags: dict[str, Any], unresolved: Iterable[str] = (), open_map: bool = False,
                 style: str = "aws", unresolved_reasons: dict[str, str] | None = None,
                 open_reason: str | None = None) -> tuple[TagIssue, ...]:
        # An empty list of unresolved keys or of reasons (nearly every call) is () without a generator and a
        # sort: ~9 k instructions a resource less, the same key.
        unresolved = tuple(sorted(k for k in unresolved if k not in tags)) if unresolved else ()
        rel = self._relevant
        if rel is not None:
            # Keys the schema never names cannot change the outcome: drop them so that
            # maps differing only in e.g. `Name` share one validation.  The memo key is the kept keys, sorted,
            # and their values: text as it is, anything else by its class and str(), built by C calls.
            keys = tuple(tags)
            kept, ordered, values_of = self._kept.get(keys) or self._relevant_of(keys)  # a memo hit without a call
            values: tuple[Any, ...] = values_of(tags)
            try:  # text values (nearly always) are their own str(): no str() call per value (~4 k instructions a map)
                "".join(values)
            except TypeError:  # a value that is not text: its class and str() (True and "True" read differently)
                values = (tuple(map(type, values)), tuple(map(str, values)))
            if unresolved:
                unresolved = tuple(k for k in unresolved if k.casefold() in rel)
        else:
            kept, ordered = tuple(tags), ()
            values = tuple(sorted((k, str(v), v.__class__) for k, v in tags.items()))  # keys differ: no class compared
        key = (ordered, values, unresolved, open_map, style,
               tuple(sorted(unresolved_reasons.items())) if unresolved_reasons else (), open_reason)
        hit = self._cache.get(key)
        if hit is None:
            hit = tuple(self._evaluate({k: tags[k] for k in kept}, unresolved, open_map, style,
                                       unresolved_reasons or {}, open_reason))
            if len(self._cache) < 50_000:
                self._cache[key] = hit
        return hit

    def _relevant_of(self, keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...], _ValuesOf]:
        """The keys of a tag map (given in its order) that the schema names, in that order and sorted, and a function
        giving a map's values of the sorted keys as a tuple.  A scan meets few distinct key lists (resources of a
        kind carry the same tags), so each is read once and memoised (bounded): no casefold per tag and resource."""
        hit = self._kept.get(keys)
        if hit is None:
            rel = self._relevant or ()
            kept = tuple(k for k in keys if k.casefold() in rel)
            ordered = tuple(sorted(kept))
            hit = (kept, ordered, _values_of(ordered))
            if len(self._kept) < 4096:
                self._kept[keys] = hit
        return hit

    def hint(self, key: str, schema: Any = None) -> str:
        """How a valid value for ``key`` looks, for fix messages: the allowed values, the constant,
        an example (the taxonomy's own, else one built from its pattern), never a bare placeholder.
        ``schema``: the subschema that rejected the value (a conditional branch, a `$ref`)."""
        found = _suggest(self._resolve(schema)) if isinstance(schema, dict) else None
        for prop in ([] if found else self._props_for(key)):
            found = _suggest(prop)
            if found:
                break
        if found:
            return f'"{key}" = {found}'
        return (f'"{key}" = a non-empty value (the taxonomy gives no allowed values, pattern or example '
                f'for `{key}`; add "enum" or "examples" to it)')

    def _resolve(self, node: Any, depth: int = 0) -> Any:
        """Follow a local ``$ref`` (``#/$defs/x``) and fold ``allOf`` members into one mapping."""
        if not isinstance(node, dict) or depth > 8:
            return node
        out = dict(node)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = self.schema
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            if isinstance(target, dict):
                out = {**self._resolve(target, depth + 1), **{k: v for k, v in node.items() if k != "$ref"}}
        for sub in node.get("allOf") or []:
            if isinstance(sub, dict):
                for k, v in self._resolve(sub, depth + 1).items():
                    out.setdefault(k, v)
        return out

    def _props_for(self, key: str) -> list[dict[str, Any]]:
        """Every subschema the taxonomy gives for ``key``: top level first, then conditional branches."""
        out: list[dict[str, Any]] = []

        def walk(node: Any, depth: int) -> None:
            if depth > 6 or not isinstance(node, dict):
                return
            props = node.get("properties")
            if isinstance(props, dict) and isinstance(props.get(key), dict):
                out.append(self._resolve(props[key]))
            for k in ("allOf", "anyOf", "oneOf"):
                for sub in node.get(k) or []:
                    walk(sub, depth + 1)
            for k in ("then", "else"):
                walk(node.get(k), depth + 1)
            for sub in (node.get("dependentSchemas") or {}).values():
                walk(sub, depth + 1)

        walk(self.schema, 0)
        return out

    # -- internals --------------------------------------------------------------
    def _evaluate(self, tags, unresolved, open_map, style, reasons, open_reason) -> list[TagIssue]:
        issues: list[TagIssue] = []
        if style == "azure":
            tags, unresolved = self._fold_case(tags, unresolved)
        instance = {k: (v if isinstance(v, str) else _str(v)) for k, v in tags.items()}
        for k in unresolved:
            instance[k] = _PLACEHOLDER
            why = reasons.get(k)
            issues.append(TagIssue(UNRESOLVED_VALUE, k,
                                   f"value of tag `{k}` cannot be determined statically"
                                   + (f" ({why})" if why else "") + "; it cannot be checked against the taxonomy",
                                   fix=f"make it a literal, a variable default or a tfvars value: {self.hint(k)}"))
        unresolved_set = set(unresolved)
        seen_missing = set()
        hidden: list[str] = []
        for err in self.iter_errors(instance):
            path = list(err.absolute_path)
            if err.validator == "required" and not path:
                missing = [k for k in err.validator_value if isinstance(k, str) and k not in instance]
                for k in missing:
                    if k in seen_missing:
                        continue
                    seen_missing.add(k)
                    if open_map:
                        hidden.append(k)
                    else:
                        issues.append(self._missing(k, tags, style))
                continue
            if path and isinstance(path[0], str):
                k = path[0]
                if k in unresolved_set:
                    continue
                value = tags.get(k)
                issues.append(TagIssue(INVALID_VALUE, k,
                                       f"tag `{k}` = {json.dumps(_str(value))} is invalid: {_describe(err)}",
                                       fix=f"set {self.hint(k, err.schema)}", value=_str(value)))
                continue
            if err.validator == "additionalProperties":
                extras = [k for k in instance if k not in self.properties]
                for k in extras:
                    issues.append(TagIssue(INVALID_VALUE, k,
                                           f"tag `{k}` is not in the taxonomy (additional keys are not allowed)",
                                           fix=self._case_hint(k, style) or f"remove `{k}` or add it to the taxonomy"))
                continue
            if any(k in unresolved_set for k in _instance_keys(err)):
                continue
            issues.append(TagIssue(INVALID_VALUE, None, f"tag map is invalid: {_describe(err)}"))
        if hidden:
            issues.append(self._hidden(hidden, open_reason))
        return issues

    def _hidden(self, keys: list[str], open_reason: str | None) -> TagIssue:
        """Required keys not visible while part of the map is unknown: unresolved, not missing."""
        names = ", ".join(f"`{k}`" for k in keys)
        plural = len(keys) > 1
        why = f": {open_reason}" if open_reason else ""
        return TagIssue(UNRESOLVED_VALUE, keys[0] if not plural else None,
                        f"required tag{'s' if plural else ''} {names} {'are' if plural else 'is'}"
                        f" not set by anything tagguard can "
                        f"resolve, and part of the tag map is unknown{why}",
                        fix="give the unknown input a value (variable default, tfvars, --var-file) or set "
                            + ("them" if plural else "it") + " explicitly: " + "; ".join(self.hint(k) for k in keys),
                        tags=tuple(keys))

    def _missing(self, key, tags, style) -> TagIssue:
        near = [k for k in tags if k.casefold() == key.casefold() and k != key]
        if near:
            return TagIssue(MISSING_TAG, key,
                            f"required tag `{key}` is missing: `{near[0]}` is present"
                            f" but {style.upper() if style in ('aws', 'gcp') else style} "
                            f"tag keys are case-sensitive, so it does not count",
                            fix=f"rename `{near[0]}` to `{key}`")
        return TagIssue(MISSING_TAG, key, f"required tag `{key}` is missing", fix=f"add {self.hint(key)}")

    def _case_hint(self, key: str, style: str) -> str | None:
        target = self._known_keys.get(key.casefold())
        if target and target != key:
            return f"rename `{key}` to `{target}` (tag keys are case-sensitive here)"
        return None

    def _fold_case(self, tags, unresolved):
        """Azure compares tag keys case-insensitively: map them onto the taxonomy's spelling."""
        folded = {}
        for k, v in tags.items():
            folded[self._known_keys.get(k.casefold(), k)] = v
        unres = tuple(self._known_keys.get(k.casefold(), k) for k in unresolved)
        return folded, tuple(k for k in unres if k not in folded)


# --- the plain-keyword fast path ------------------------------------------------------------------

_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_ANNOTATIONS = {"title": str, "description": str, "$comment": str, "examples": list}
_SIMPLE_TOP = {"$schema", "$id", "type", "required", "properties", "additionalProperties", "default", *_ANNOTATIONS}
_SIMPLE_PROP = {"type", "minLength", "maxLength", "enum", "const", "pattern", "default", *_ANNOTATIONS}
_SAFE_ID = None


def _simple_plan(schema: Any) -> tuple | None:
    """The taxonomy as (top-level keywords in order, ...) when it uses only plain keywords whose
    values are certainly valid under the 2020-12 meta-schema, else None (jsonschema does it all)."""
    import re

    global _SAFE_ID
    if _SAFE_ID is None:
        _SAFE_ID = re.compile(r"(?:https://|urn:)[A-Za-z0-9._~/:-]+\Z")
    if not isinstance(schema, dict) or not set(schema) <= _SIMPLE_TOP or not _annotations_ok(schema):
        return None
    if "$schema" in schema and schema["$schema"] != _DRAFT_2020_12:
        return None
    if "$id" in schema and not (isinstance(schema["$id"], str) and _SAFE_ID.match(schema["$id"])):
        return None
    if "type" in schema and schema["type"] != "object":
        return None
    plan: list[tuple[str, Any]] = []
    for keyword, value in schema.items():
        if keyword == "required":
            if type(value) is not list or not all(type(k) is str for k in value) or len(set(value)) != len(value):
                return None
            plan.append((keyword, value))
        elif keyword == "properties":
            if type(value) is not dict:
                return None
            props = []
            for key, sub in value.items():
                checks = _simple_property(sub)
                if checks is None:
                    return None
                props.append((key, sub, checks))
            plan.append((keyword, props))
        elif keyword == "additionalProperties":
            if type(value) is not bool:
                return None
            if not value:
                plan.append((keyword, set(schema.get("properties") or {})))
    return tuple(plan)


def _annotations_ok(node: dict) -> bool:
    return all(type(node[k]) is t for k, t in _ANNOTATIONS.items() if k in node)


def _simple_property(sub: Any) -> list | None:
    import re

    if type(sub) is not dict or not set(sub) <= _SIMPLE_PROP or not _annotations_ok(sub):
        return None
    if "type" in sub and sub["type"] != "string":
        return None
    checks: list[tuple[str, Any]] = []
    for keyword, value in sub.items():
        if keyword in ("minLength", "maxLength"):
            if type(value) is not int or value < 0:
                return None
            checks.append((keyword, value))
        elif keyword == "enum":
            if type(value) is not list:
                return None
            checks.append((keyword, value))
        elif keyword == "const":
            checks.append((keyword, value))
        elif keyword == "pattern":
            if type(value) is not str:
                return None
            try:
                re.compile(value)  # the meta-schema's "format": "regex", as jsonschema checks it
            except (re.error, RecursionError, OverflowError, ValueError):
                return None
            checks.append((keyword, value))
    return checks


class _Error:
    """What ``Taxonomy._evaluate`` reads of a jsonschema ``ValidationError``."""

    __slots__ = ("validator", "validator_value", "instance", "schema", "absolute_path", "message")

    def __init__(self, validator, validator_value, instance, schema, path, message):
        self.validator = validator
        self.validator_value = validator_value
        self.instance = instance
        self.schema = schema
        self.absolute_path = path
        self.message = message


def _simple_errors(plan: tuple, instance: dict[str, str]):
    """jsonschema's errors for a map of strings under a `_simple_plan`, in jsonschema's order:
    keyword by keyword as the schema lists them.  ``required`` and each value's checks stay
    inline (no call per key or value): this runs once per resource of every scan."""
    for keyword, value in plan:
        if keyword == "required":
            for key in value:
                if key not in instance:
                    yield _Error("required", value, instance, None, [], f"{key!r} is a required property")
        elif keyword == "properties":
            for key, sub, checks in value:
                if key not in instance:
                    continue
                v = instance[key]
                for check, arg in checks:
                    if check == "minLength":
                        if len(v) < arg:
                            msg = f"{v!r} {'should be non-empty' if arg == 1 else 'is too short'}"
                            yield _Error(check, arg, v, sub, [key], msg)
                    elif check == "maxLength":
                        if len(v) > arg:
                            msg = f"{v!r} {'is expected to be empty' if arg == 0 else 'is too long'}"
                            yield _Error(check, arg, v, sub, [key], msg)
                    elif check == "enum":
                        if not any(type(each) is str and each == v for each in arg):
                            yield _Error(check, arg, v, sub, [key], f"{v!r} is not one of {arg!r}")
                    elif check == "const":
                        if not (type(arg) is str and arg == v):
                            yield _Error(check, arg, v, sub, [key], f"{arg!r} was expected")
                    elif check == "pattern":
                        if not _SEARCH.search(arg, v):
                            yield _Error(check, arg, v, sub, [key], f"{v!r} does not match {arg!r}")
        elif keyword == "additionalProperties":
            yield from _additional_errors(value, instance)


def _additional_errors(allowed: set, instance: dict[str, str]) -> list[_Error]:
    """``additionalProperties: false``: one error (as jsonschema gives) when a key is not a property."""
    if any(k not in allowed for k in instance):
        return [_Error("additionalProperties", False, instance, None, [], "Additional properties are not allowed")]
    return []


_KEY_DEPENDENT = {"additionalProperties", "patternProperties", "propertyNames", "minProperties", "maxProperties",
                  "unevaluatedProperties", "$ref", "$dynamicRef", "dependentSchemas", "dependencies"}


def _relevant_keys(schema: Any) -> set | None:
    """Casefolded tag keys the schema can see, or None if any key may matter."""
    names: set = set()

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            if _KEY_DEPENDENT & node.keys():
                return False
            for name in node.get("required", []) if isinstance(node.get("required"), list) else []:
                if isinstance(name, str):
                    names.add(name.casefold())
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(k.casefold() for k in props)
            for name in (node.get("dependentRequired") or {}):
                names.add(name.casefold())
                names.update(v.casefold() for v in node["dependentRequired"][name] if isinstance(v, str))
            return all(walk(v) for k, v in node.items()
                       if k not in ("enum", "const", "examples", "default", "description", "title"))
        if isinstance(node, list):
            return all(walk(v) for v in node)
        return True

    return names if walk(schema) else None


def _suggest(prop: Any) -> str | None:
    """A valid value for one key's schema, in words: ``one of dev, staging, prod``, ``"x"``,
    ``e.g. "CC-0000" (matching ^CC-[0-9]{4}$)``; ``None`` when the schema says nothing usable."""
    if not isinstance(prop, dict):
        return None
    if isinstance(prop.get("enum"), list) and prop["enum"]:
        values = [str(_str(v)) for v in prop["enum"]]
        shown = values[:12] + ([f"... ({len(values) - 12} more)"] if len(values) > 12 else [])
        return "one of " + ", ".join(shown)
    if "const" in prop:
        return json.dumps(_str(prop["const"]))
    pattern = prop.get("pattern") if isinstance(prop.get("pattern"), str) else None
    examples = prop.get("examples")
    if isinstance(examples, list) and examples:
        return f"e.g. {json.dumps(_str(examples[0]))}" + (f" (matching {pattern})" if pattern else "")
    if pattern:
        example = pattern_example(pattern)
        return f"e.g. {json.dumps(example)} (matching {pattern})" if example else f"a value matching {pattern}"
    lo, hi = prop.get("minLength"), prop.get("maxLength")
    if isinstance(hi, int):
        return f"a value of {max(lo or 1, 1)} to {hi} characters"
    if isinstance(prop.get("format"), str):
        return f"a {prop['format']} value"
    return None


def pattern_example(pattern: str, limit: int = 120) -> str | None:
    """The shortest simple string a regular expression accepts (``^CC-[0-9]{4}$`` -> ``CC-0000``),
    checked against the pattern; ``None`` when the pattern is beyond this simple walk."""
    import re

    parsed = _parse_regex(pattern)
    if parsed is None:
        return None
    try:
        example = _ShortestMatch(limit).walk(parsed)
    except Exception:  # noqa: BLE001
        return None
    if not example or len(example) > limit or not example.isprintable():
        return None
    try:
        return example if re.search(pattern, example) else None
    except re.error:
        return None


def _parse_regex(pattern: str) -> Any:
    """The pattern as Python's regex parser reads it (a list of (op, argument)), or None."""
    try:
        import re._parser as sre  # type: ignore[import-not-found]  # Python 3.11+
    except ImportError:  # pragma: no cover - Python < 3.11
        import sre_parse as sre  # type: ignore[no-redef]
    try:
        return sre.parse(pattern)
    except Exception:  # noqa: BLE001 - RE2-only syntax and the like: no example
        return None


class _ShortestMatch:
    """A walk over a parsed regex that picks the first choice of everything and the least
    repetitions; None for what it does not know (negated sets, lookarounds, back references)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def walk(self, items: Any) -> str | None:
        out = []
        for op, av in items:
            piece = self.one(str(op), av)
            if piece is None:
                return None
            out.append(piece)
        return "".join(out)

    def one(self, op: str, av: Any) -> str | None:
        if op == "LITERAL":
            return chr(av)
        if op == "NOT_LITERAL":
            return "a" if av != ord("a") else "b"
        if op == "ANY":
            return "a"
        if op == "CATEGORY":
            return {"CATEGORY_DIGIT": "0", "CATEGORY_WORD": "a", "CATEGORY_SPACE": " "}.get(str(av))
        if op == "IN":
            return self.first_in_set(av)
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, _hi, sub = av
            piece = self.walk(sub)
            return None if piece is None or lo > self.limit else piece * lo
        if op == "SUBPATTERN":
            return self.walk(av[-1])
        if op == "ATOMIC_GROUP":
            return self.walk(av)
        if op == "BRANCH":
            return self.walk(av[1][0])
        if op == "AT":
            return ""
        return None

    def first_in_set(self, av: Any) -> str | None:
        """A character class's first member (``[0-9]`` -> ``0``); None for a negated class."""
        if av and str(av[0][0]) == "NEGATE":
            return None
        for sub_op, sub_av in av:
            name = str(sub_op)
            if name == "LITERAL":
                return chr(sub_av)
            if name == "RANGE":
                return chr(sub_av[0])
            if name == "CATEGORY":
                return self.one("CATEGORY", sub_av)
        return None


def _instance_keys(err) -> list[str]:
    inst = err.instance
    return list(inst) if isinstance(inst, dict) else []


def _describe(err) -> str:
    v = err.validator
    if v == "enum":
        return "allowed values are " + ", ".join(json.dumps(x) for x in err.validator_value)
    if v == "pattern":
        return f"must match the pattern {err.validator_value}"
    if v == "minLength":
        return "must not be empty" if err.validator_value == 1 else f"must be at least {err.validator_value} characters"
    if v == "maxLength":
        return f"must be at most {err.validator_value} characters"
    if v == "const":
        return f"must be {json.dumps(err.validator_value)}"
    return err.message.replace(_PLACEHOLDER, "<unresolved>")


def _str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return value


MAX_TAXONOMY_BYTES = 4 * 1024 * 1024
SHIPPED_SCHEMAS = "https://tagguard.dev/schemas/"


def load_taxonomy(path: Path, root: Path | None = None) -> Taxonomy:
    """A taxonomy file; ``root``: the directory its ``$ref``s must stay in (None: the file's own)."""
    schema, digest = _read_schema(path, "taxonomy")
    if not isinstance(schema, dict):
        raise TaxonomyError(f"{path}: a taxonomy must be a JSON Schema object")
    return Taxonomy(schema, path, root=root if root is not None else path.resolve().parent, sha256=digest)


def _read_schema(path: Path, what: str) -> tuple[Any, str]:
    from tagguard.safeio import sha256_hex

    try:
        if not path.is_file():
            raise OSError(f"not a regular file: {path}")
        with open(path, "rb") as fh:
            data = fh.read(MAX_TAXONOMY_BYTES + 1)
        if len(data) > MAX_TAXONOMY_BYTES:
            raise TaxonomyError(f"{path}: {what} is larger than {MAX_TAXONOMY_BYTES // (1024 * 1024)} MB; refused")
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read {what} ({exc})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            from tagguard import yamlio

            schema = yamlio.load(text)
        else:
            schema = json.loads(text)
    except RecursionError:
        raise TaxonomyError(f"{path}: {what} is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError and YAML errors
        line = getattr(exc, "lineno", None)
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        raise TaxonomyError(f"{path}{':' + str(line) if line else ''}: {what} is not valid JSON/YAML:"
                            f" {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # yaml.YAMLError is not a ValueError
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise TaxonomyError(f"{path}{line}: {what} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return schema, sha256_hex(data)


# --- `$ref`: local files and shipped schemas only ------------------------------------------------

def _walk(node: Any):
    """Every mapping in a schema document (iteratively: deep documents do not recurse)."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            yield cur
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, (dict, list)))


def _refs(doc: Any, base: str):
    """(ref, base URI in force) of every ``$ref``/``$dynamicRef``, following ``$id`` changes."""
    yield from _ids_and_refs(doc, base)[1]


def _ids_and_refs(doc: Any, base: str) -> tuple[set, list[tuple[str, str]]]:
    """One walk of a schema document: the URIs its ``$id``s declare (with ``base``) and the
    (ref, base URI in force) of every ``$ref``/``$dynamicRef``/``$recursiveRef``.  References
    inside ``enum``/``const``/``examples``/``default`` are data, not references; ``$id``s there
    still name the document (as jsonschema's registry sees them)."""
    from urllib.parse import urljoin

    ids = {base.partition("#")[0]}
    refs: list[tuple[str, str]] = []
    stack = [(doc, base, False)]
    while stack:
        cur, b, data = stack.pop()
        if isinstance(cur, dict):
            if isinstance(cur.get("$id"), str):
                b = urljoin(b, cur["$id"])
                ids.add(b.partition("#")[0])
            if not data:
                for key in ("$ref", "$dynamicRef", "$recursiveRef"):
                    if isinstance(cur.get(key), str):
                        refs.append((cur[key], b))
            stack.extend((v, b, data or k in ("enum", "const", "examples", "default"))
                         for k, v in cur.items() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend((v, b, data) for v in cur if isinstance(v, (dict, list)))
    return ids, refs


def _registry(schema: dict[str, Any], path: Path | None, root: Path | None):
    """(schema with a base URI, a registry of every referenced document, [(file, document)])."""
    from urllib.parse import urljoin

    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT202012

    rooted = schema
    if not isinstance(schema.get("$id"), str):
        base = path.resolve().as_uri() if path is not None else "urn:tagguard:taxonomy"
        rooted = dict(schema, **{"$id": base})
    label = str(path) if path is not None else "taxonomy"
    documents: list[tuple[str, Any]] = [(label, schema)]
    resources: dict[str, Any] = {}
    queue = [(rooted, rooted["$id"], label)]
    while queue:
        doc, base, where = queue.pop()
        internal, refs = _ids_and_refs(doc, base)
        for ref, ref_base in refs:
            uri = urljoin(ref_base, ref).partition("#")[0]
            if not uri or uri in internal or uri in resources:
                continue
            target, file_label = _external(uri, ref, where, root)
            resources[uri] = target
            documents.append((file_label, target))
            queue.append((target, uri, file_label))
            if len(resources) > 100:
                raise TaxonomyError(f"{where}: more than 100 referenced schema files; refused")

    def refuse(uri: str):  # never reached after the walk above; never fetches either
        raise NoSuchResource(uri)  # positional: the attrs field `ref` (see the ignore below)

    # referencing's _attrs.pyi marks its classes with the draft name __dataclass_transform__, which
    # mypy does not recognise, so it cannot see the attrs fields (here `retrieve`, the alias of _retrieve).
    registry = Registry(retrieve=refuse).with_resources(  # type: ignore[call-arg]
        (uri, Resource.from_contents(contents, default_specification=DRAFT202012))
        for uri, contents in resources.items())
    return rooted, registry, documents


def _external(uri: str, ref: str, where: str, root: Path | None) -> tuple[Any, str]:
    """The document a ``$ref`` names, if it is a file inside ``root`` or a shipped schema."""
    import os
    from urllib.parse import unquote, urlparse

    from tagguard.resources import data_file

    if uri.startswith(SHIPPED_SCHEMAS):
        name = uri[len(SHIPPED_SCHEMAS):]
        try:
            shipped = data_file("schemas/" + name) if "/" not in name and name else None
        except (FileNotFoundError, ValueError):  # no such shipped schema, or a name like '..'
            shipped = None
        if shipped is None or not shipped.is_file():
            raise TaxonomyError(f"{where}: $ref {ref!r}: no shipped schema {name!r}")
        return _read_schema(shipped, "schema")[0], str(shipped)
    try:
        from jsonschema.validators import SPECIFICATIONS

        return SPECIFICATIONS.contents(uri), uri  # a JSON Schema meta-schema, known offline
    except Exception:  # noqa: BLE001 - not a meta-schema
        pass
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise TaxonomyError(f"{where}: $ref {ref!r} is a remote reference ({uri}); a taxonomy may reference only "
                            "files inside the repository or the shipped schemas, and tagguard never fetches anything")
    target = os.path.realpath(unquote(parsed.path))
    allowed = [os.path.realpath(str(root))] if root is not None else []
    allowed.append(os.path.realpath(str(data_file("schemas"))))
    if not any(target == a or target.startswith(a.rstrip(os.sep) + os.sep) for a in allowed):
        raise TaxonomyError(f"{where}: $ref {ref!r} points outside the repository ({target}); a taxonomy may "
                            "reference only files inside the repository or the shipped schemas")
    doc, _digest = _read_schema(Path(target), "referenced schema")
    if not isinstance(doc, (dict, bool)):
        raise TaxonomyError(f"{target}: a referenced schema must be a JSON Schema object")
    return doc, target


# --- patterns on RE2 ----------------------------------------------------------------------------------

def _re2_options():
    import re2

    opts = re2.Options()
    opts.log_errors = False
    return opts


def re2_compile(pattern: str):
    """The RE2 program for ``pattern``; ValueError (with RE2's reason) if RE2 cannot compile it."""
    import re2

    try:
        return re2.compile(pattern, _re2_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason)) from None


def _check_patterns(doc: Any, where: str) -> None:
    for node in _walk(doc):
        pats = []
        if isinstance(node.get("pattern"), str):
            pats.append(("pattern", node["pattern"]))
        if isinstance(node.get("patternProperties"), dict):
            pats.extend(("patternProperties", k) for k in node["patternProperties"])
        for keyword, pat in pats:
            try:
                _SEARCH.compiled(pat)
            except ValueError as exc:
                raise TaxonomyError(f"{where}: {keyword} {json.dumps(pat)} is not supported by the linear-time "
                                    f"regex engine (RE2: {exc});"
                                    f" rewrite it without backreferences or lookaround") from None


class _Re2Search:
    """Stands in for ``re`` inside jsonschema's keyword code, so that ``pattern``,
    ``patternProperties`` (and the additional/unevaluated property checks that use them)
    match in linear time.  Taxonomy patterns are checked with RE2 when loaded; a pattern RE2
    cannot compile reaching here comes from a shipped schema and keeps Python's engine."""

    def __init__(self):
        import re

        self._re = re
        self._cache: dict[str, Any] = {}

    def compiled(self, pattern: str):
        hit = self._cache.get(pattern)
        if hit is None:
            hit = re2_compile(pattern)
            if len(self._cache) < 10_000:
                self._cache[pattern] = hit
        return hit

    def search(self, pattern, string, flags=0):
        if flags or not isinstance(pattern, str) or not isinstance(string, str):
            return self._re.search(pattern, string, flags)
        try:
            program = self.compiled(pattern)
        except ValueError:
            return self._re.search(pattern, string)
        return program.search(string)

    def __getattr__(self, name):
        return getattr(self._re, name)


_SEARCH = _Re2Search()


def use_re2_in_jsonschema() -> None:
    """Route jsonschema's regex searches through RE2 (idempotent)."""
    import importlib

    for name in ("jsonschema._keywords", "jsonschema._utils", "jsonschema._legacy_keywords"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # pragma: no cover - other jsonschema layouts
            continue
        current = getattr(module, "re", None)
        if current is not None and current is not _SEARCH:
            vars(module)["re"] = _SEARCH
