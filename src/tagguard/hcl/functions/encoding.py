"""Encodings: JSON, YAML (bounded: ``hcl.yamlsafe``), base64, URL, and the Kubernetes provider's
``provider::kubernetes::manifest_decode[_multi]``.  ``json`` and ``yaml`` are imported when called."""
from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from ..evaluate import MAX_VALUE_CHARS, check_chars, spend
from ..values import EvalError, is_number, norm_number
from ._common import Table, registrar
from ._common import text as _s

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return norm_number(value)


def _plain_size(value: Any) -> int:
    """About how many characters ``value`` encodes to; counting stops past ``MAX_VALUE_CHARS``
    (a list holding one large string 1024 times is 1024 large strings once encoded)."""
    total = 0
    stack = [value]
    while stack and total <= MAX_VALUE_CHARS:
        spend()
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            for k, v in item.items():
                total += len(str(k)) + 4
                stack.append(v)
        elif isinstance(item, (list, tuple)):
            total += 2
            stack.extend(item)
        else:
            total += 8
    return total


@register("jsonencode")
def jsonencode(value: Any) -> str:
    import json  # lazily: ~7 ms to import

    check_chars(_plain_size(value), "jsonencode() result")
    text = json.dumps(_plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # Go's encoding/json escapes HTML-significant characters; Terraform shows them so.
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


@register("jsondecode")
def jsondecode(text: Any) -> Any:
    import json

    try:
        return json.loads(_s(text), parse_float=lambda t: norm_number(float(t)))
    except ValueError as exc:
        raise EvalError(f"invalid JSON: {exc}") from None


def _yaml_value(value: Any, depth: int = 0) -> Any:
    if depth > 100:
        raise EvalError("YAML nested too deeply")
    if isinstance(value, dict):
        return {_s(k) if k is not None else "null": _yaml_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_value(v, depth + 1) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if is_number(value):
        return norm_number(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value.isoformat() if hasattr(value, "isoformat") else value)


def _yaml_documents(text: str) -> list:
    """Every YAML document of ``text``, refusing documents nested too deep or whose aliases
    expand past ``yamlsafe.MAX_EXPANDED_NODES`` (they are copied out node by node below)."""
    import yaml  # lazily, with the bounds: PyYAML costs ~50 ms to import

    from .. import yamlsafe

    try:
        yamlsafe.check_depth(text)
        documents = list(yaml.load_all(text, Loader=yamlsafe.SafeLoader))  # noqa: S506 - safe loader
        for doc in documents:
            yamlsafe.check_bomb(doc, text)
    except (yamlsafe.YamlDepthError, yamlsafe.YamlBombError) as exc:
        raise EvalError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise EvalError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    return documents


@register("yamldecode")
def yamldecode(text: Any) -> Any:
    documents = _yaml_documents(_s(text))
    if len(documents) > 1:
        raise EvalError("YAML holds more than one document")
    return _yaml_value(documents[0] if documents else None)


@register("yamlencode")
def yamlencode(value: Any) -> str:
    import yaml  # lazily: PyYAML costs ~50 ms to import

    check_chars(_plain_size(value), "yamlencode() result")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(_plain(value), Dumper=dumper, default_flow_style=False, sort_keys=True, allow_unicode=True)


@register("base64encode")
def base64encode(text: Any) -> str:
    return base64.b64encode(_s(text).encode("utf-8")).decode("ascii")


@register("base64decode")
def base64decode(text: Any) -> str:
    try:
        return base64.b64decode(_s(text), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalError(f"invalid base64 or not UTF-8: {exc}") from None


@register("urlencode")
def urlencode(text: Any) -> str:
    from urllib.parse import quote  # lazily: it imports ipaddress

    return quote(_s(text), safe="-._~")


def manifest_decode_multi(text: Any) -> Any:
    """``provider::kubernetes::manifest_decode_multi``: every YAML document as an object."""
    documents = _yaml_documents(_s(text))
    return [_yaml_value(d) for d in documents if d is not None]


def manifest_decode(text: Any) -> Any:
    """``provider::kubernetes::manifest_decode``: exactly one YAML document."""
    docs = manifest_decode_multi(text)
    if len(docs) != 1:
        raise EvalError(f"expected exactly one YAML document, found {len(docs)}")
    return docs[0]


FUNCTIONS["provider::kubernetes::manifest_decode_multi"] = manifest_decode_multi
FUNCTIONS["provider::kubernetes::manifest_decode"] = manifest_decode
