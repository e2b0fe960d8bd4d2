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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from tagguard.model import INVALID_VALUE, MISSING_TAG, UNRESOLVED_VALUE

_PLACEHOLDER = "\x00unresolved"


class TaxonomyError(Exception):
    pass


@dataclass(frozen=True)
class TagIssue:
    category: str
    tag: Optional[str]
    message: str
    fix: Optional[str] = None
    value: Optional[str] = None
    tags: Tuple[str, ...] = ()  # several keys in one issue (required keys hidden by an unknown map)


class Taxonomy:
    def __init__(self, schema: Dict[str, Any], path: Optional[Path] = None):
        import jsonschema

        self.schema = schema
        self.path = path
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise TaxonomyError(f"{path or 'taxonomy'}: not a valid JSON Schema at {where}: {exc.message}") from None
        self._validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
        self.required: List[str] = [k for k in schema.get("required", []) if isinstance(k, str)]
        self.properties: Dict[str, Any] = schema.get("properties", {}) or {}
        self._cache: Dict[tuple, Tuple[TagIssue, ...]] = {}
        self._known_keys = {k.casefold(): k for k in list(self.properties) + self.required}
        self._relevant = _relevant_keys(schema)

    # -- public ---------------------------------------------------------------
    def evaluate(self, tags: Dict[str, Any], unresolved: Iterable[str] = (), open_map: bool = False,
                 style: str = "aws", unresolved_reasons: Optional[Dict[str, str]] = None,
                 open_reason: Optional[str] = None) -> Tuple[TagIssue, ...]:
        unresolved = tuple(sorted(k for k in unresolved if k not in tags))
        if self._relevant is not None:
            # Keys the schema never names cannot change the outcome: drop them so that
            # maps differing only in e.g. `Name` share one validation.
            rel = self._relevant
            tags = {k: v for k, v in tags.items() if k.casefold() in rel}
            unresolved = tuple(k for k in unresolved if k.casefold() in rel)
        key = (tuple(sorted((k, str(v)) for k, v in tags.items())), unresolved, open_map, style,
               tuple(sorted((unresolved_reasons or {}).items())), open_reason)
        hit = self._cache.get(key)
        if hit is None:
            hit = tuple(self._evaluate(dict(tags), unresolved, open_map, style, unresolved_reasons or {}, open_reason))
            if len(self._cache) < 50_000:
                self._cache[key] = hit
        return hit

    def hint(self, key: str) -> str:
        """How a valid value for ``key`` looks, for fix messages."""
        prop = self.properties.get(key)
        if not isinstance(prop, dict):
            return f'"{key}" = "<value>"'
        if "enum" in prop:
            return f'"{key}" = one of {", ".join(str(v) for v in prop["enum"])}'
        if "const" in prop:
            return f'"{key}" = "{prop["const"]}"'
        if "pattern" in prop:
            return f'"{key}" = a value matching {prop["pattern"]}'
        if "examples" in prop and prop["examples"]:
            return f'"{key}" = e.g. "{prop["examples"][0]}"'
        return f'"{key}" = "<value>"'

    # -- internals --------------------------------------------------------------
    def _evaluate(self, tags, unresolved, open_map, style, reasons, open_reason) -> List[TagIssue]:
        issues: List[TagIssue] = []
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
        hidden: List[str] = []
        for err in self._validator.iter_errors(instance):
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
                issues.append(TagIssue(INVALID_VALUE, k, f"tag `{k}` = {json.dumps(_str(value))} is invalid: {_describe(err)}",
                                       fix=f"set {self.hint(k)}", value=_str(value)))
                continue
            if err.validator == "additionalProperties":
                extras = [k for k in instance if k not in self.properties]
                for k in extras:
                    issues.append(TagIssue(INVALID_VALUE, k, f"tag `{k}` is not in the taxonomy (additional keys are not allowed)",
                                           fix=self._case_hint(k, style) or f"remove `{k}` or add it to the taxonomy"))
                continue
            if any(k in unresolved_set for k in _instance_keys(err)):
                continue
            issues.append(TagIssue(INVALID_VALUE, None, f"tag map is invalid: {_describe(err)}"))
        if hidden:
            issues.append(self._hidden(hidden, open_reason))
        return issues

    def _hidden(self, keys: List[str], open_reason: Optional[str]) -> TagIssue:
        """Required keys not visible while part of the map is unknown: unresolved, not missing."""
        names = ", ".join(f"`{k}`" for k in keys)
        plural = len(keys) > 1
        why = f": {open_reason}" if open_reason else ""
        return TagIssue(UNRESOLVED_VALUE, keys[0] if not plural else None,
                        f"required tag{'s' if plural else ''} {names} {'are' if plural else 'is'} not set by anything tagguard can "
                        f"resolve, and part of the tag map is unknown{why}",
                        fix="give the unknown input a value (variable default, tfvars, --var-file) or set "
                            + ("them" if plural else "it") + " explicitly: " + "; ".join(self.hint(k) for k in keys),
                        tags=tuple(keys))

    def _missing(self, key, tags, style) -> TagIssue:
        near = [k for k in tags if k.casefold() == key.casefold() and k != key]
        if near:
            return TagIssue(MISSING_TAG, key,
                            f"required tag `{key}` is missing: `{near[0]}` is present but {style.upper() if style in ('aws', 'gcp') else style} "
                            f"tag keys are case-sensitive, so it does not count",
                            fix=f"rename `{near[0]}` to `{key}`")
        return TagIssue(MISSING_TAG, key, f"required tag `{key}` is missing", fix=f"add {self.hint(key)}")

    def _case_hint(self, key: str, style: str) -> Optional[str]:
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


_KEY_DEPENDENT = {"additionalProperties", "patternProperties", "propertyNames", "minProperties", "maxProperties",
                  "unevaluatedProperties", "$ref", "$dynamicRef", "dependentSchemas", "dependencies"}


def _relevant_keys(schema: Any) -> Optional[set]:
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
            return all(walk(v) for k, v in node.items() if k not in ("enum", "const", "examples", "default", "description", "title"))
        if isinstance(node, list):
            return all(walk(v) for v in node)
        return True

    return names if walk(schema) else None


def _instance_keys(err) -> List[str]:
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


def load_taxonomy(path: Path) -> Taxonomy:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy ({exc})") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            from tagguard import yamlio

            schema = yamlio.load(text)
        else:
            schema = json.loads(text)
    except ValueError as exc:  # JSONDecodeError and YAML errors
        line = getattr(exc, "lineno", None)
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            line = mark.line + 1
        raise TaxonomyError(f"{path}{':' + str(line) if line else ''}: taxonomy is not valid JSON/YAML: {str(exc).splitlines()[0]}") from None
    except Exception as exc:  # yaml.YAMLError is not a ValueError
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise TaxonomyError(f"{path}{line}: taxonomy is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(schema, dict):
        raise TaxonomyError(f"{path}: a taxonomy must be a JSON Schema object")
    return Taxonomy(schema, path)
