"""Does a module call that was not evaluated pass accelerators in?  (issue 12, item 3)

A remote module or chart that tagguard could not read is info-level "not scanned" when nothing
suggests GPUs, but a warning naming the input's line when one of its inputs mentions an
accelerator: a GPU/accelerator instance type of the rate card catalog (or a family of one, such as
Karpenter's ``instance-family: g5``), an extended resource (``nvidia.com/gpu``, ``amd.com/gpu``,
``aws.amazon.com/neuron*``, ``google.com/tpu``, ``habana.ai/gaudi``), Neuron, TPU, or a key
named ``gpu``/``accelerator`` with a value that is not empty, zero or false.
The text of each input (heredocs included) is read, then its evaluated value; linear in its size.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Callable

MAX_TEXT = 512 * 1024  # characters of one input looked at
SKIP = frozenset({"source", "version", "count", "for_each", "providers", "depends_on"})

_RESOURCE = re.compile(r"nvidia\.com/gpu|amd\.com/gpu|aws\.amazon\.com/neuron\w*|google\.com/tpu|habana\.ai/gaudi|"
                       r"cloud\.google\.com/gke-(?:accelerator|tpu)[\w-]*|\bneuron(?:core|device)?s?\b|\btpu(?:s|-v\w+)?\b",
                       re.IGNORECASE)
# bounded repetitions everywhere: a search from every position stays linear in the text's length
_KEY = re.compile(r"""(?<![\w-])([\w-]{0,40}(?:gpu|accelerator)[\w-]{0,40})(?![\w-])["']?[ \t]{0,8}[:=][ \t]{0,8}"""
                  r"""(\[[^\]\n]{0,80}\]?|\{|"[^"\n]{0,80}"?|'[^'\n]{0,80}'?|[^\s,}\]\\"]{1,80})""",
                  re.IGNORECASE)
_TOKEN = re.compile(r"(?<![\w./-])([A-Za-z][A-Za-z0-9_.-]{1,63})(?![\w/-])")
_EMPTY = {"0", "0.0", "false", "null", "none", '""', "''", "[]", "{}", "[", "no", "off", "~"}


@lru_cache(maxsize=8192)
def _accelerated(token: str) -> bool:
    from tagguard.pricing import catalog

    if "." in token or "-" in token or "_" in token:
        try:
            if catalog.is_accelerated(token):
                return True
        except Exception:  # noqa: BLE001 - a token that is no instance type
            return False
    return token.lower() in _families()


@lru_cache(maxsize=1)
def _families() -> frozenset:
    from tagguard.pricing import catalog

    return frozenset(f.family.lower() for f in catalog.load().families if f.provider == "aws" and "*" not in f.family)


def mention(text: str) -> tuple[int, str] | None:
    """(0-based line offset within ``text``, what was found) of the first accelerator mention."""
    text = text[:MAX_TEXT]
    hits = []
    m = _RESOURCE.search(text)
    if m:
        hits.append((m.start(), m.group(0)))
    for m in _KEY.finditer(text):
        value = m.group(2).strip().rstrip(",").lower()
        if value not in _EMPTY and not value.startswith(("var.", "null")):
            hits.append((m.start(), f"{m.group(1)} = {m.group(2).strip()[:40]}"))
            break
    for m in _TOKEN.finditer(text):
        token = m.group(1).rstrip(".")
        before = text[max(m.start() - 2, 0):m.start()]
        quoted = before[-1:] in ("\"", "'", "[", ",") or before in (": ", ", ", "- ", "[ ")
        if ("." in token or "-" in token or "_" in token or quoted) and _accelerated(token):
            hits.append((m.start(), token))
            break
    if not hits:
        return None
    # a named accelerator (resource name, instance type) is better evidence than a key called gpu
    strong = [h for h in hits if " = " not in h[1]]
    pos, what = min(strong or hits)
    return text.count("\n", 0, pos), what


def accelerator_input(body, evaluate: Callable[[Any], Any] | None = None) -> tuple[int, str, str] | None:
    """(line, input name, what) of the first input of a module call (or helm_release) that mentions
    an accelerator: first in the written text, then in the evaluated values (``evaluate(expr)``)."""
    attrs = [(n, a) for n, a in body.attributes.items() if n not in SKIP]
    attrs.sort(key=lambda na: na[1].line)
    for name, attr in attrs:
        try:
            text = attr.expr.source_text()
        except Exception:  # noqa: BLE001
            continue
        found = mention(f"{name} = {text}")
        if found:
            return attr.line + found[0], name, found[1]
    for block in getattr(body, "blocks", ()) or ():  # helm_release `set { name = ..., value = ... }`
        nested = accelerator_input(block.body, evaluate)
        if nested:
            return nested
    if evaluate is None:
        return None
    for name, attr in attrs:
        try:
            texts = _value_texts(evaluate(attr.expr))
        except Exception:  # noqa: BLE001 - unknowns and unevaluable inputs say nothing
            continue
        for text in texts:
            found = mention(text)
            if found:
                return attr.line, name, f"{found[1]} (its value)"
    return None


def _value_texts(value: Any) -> list[str]:
    """An evaluated input as texts to search: each string in it as it reads (a values document:
    ``gpus: 4``, not the JSON escape ``gpus: 4\\n"``), then its structure as JSON (keys, numbers),
    at most MAX_TEXT characters in all."""
    if isinstance(value, str):
        return [value[:MAX_TEXT]]
    texts: list[str] = []
    budget = MAX_TEXT
    stack = [value]
    while stack and budget > 0:
        v = stack.pop()
        if isinstance(v, str):
            texts.append(v[:budget])
            budget -= len(texts[-1])
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (list, tuple)):
            stack.extend(reversed(list(v)))
    texts.append(json.dumps(value, default=str)[:MAX_TEXT])
    return texts
