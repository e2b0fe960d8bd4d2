"""Kubernetes YAML streams: split on ``---`` lines, parse each document on its own.

``yaml.safe_load_all`` stops at the first broken document of a stream, so a
stream is cut into documents first (a ``---`` or ``...`` line at column 0) and
each is parsed with libyaml's C loader when PyYAML has it (``tagguard.yamlio``).
A broken document gives one ``parse_error`` finding with the file and the line
of the problem; the other documents are still read.  YAML that is not a
Kubernetes manifest (CI workflows, values files, docker-compose) is skipped
without a word: only documents that look like manifests (they mention
``kind:``) are reported when they cannot be parsed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tagguard.model import Finding
from tagguard.sources.base import parse_error

_DOC_MARK = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$", re.M)
_SOURCE = re.compile(r"^# Source: (.+?)\s*$", re.M)
_KIND = re.compile(r"^kind[ \t]*:", re.M)
MAX_DOCUMENTS = 100_000


@dataclass
class Doc:
    """One parsed Kubernetes object (``List`` items are expanded) and where it starts."""

    obj: Dict[str, Any]
    file: str
    line: int
    helm_source: Optional[str] = None  # the template a `helm template` document came from


@dataclass
class ParsedStream:
    docs: List[Doc] = field(default_factory=list)
    findings: List[Finding] = field(default_factory=list)


def split_stream(text: str) -> Iterator[Tuple[int, str]]:
    """``(first line number, document text)`` for each document of a YAML stream."""
    start = 0
    line = 1
    for m in _DOC_MARK.finditer(text):
        chunk = text[start:m.start()]
        if chunk.strip():
            yield line, chunk
        line += chunk.count("\n")
        marker = m.group(0)
        rest = marker[3:].strip()
        if marker.startswith("---") and rest and not rest.startswith("#"):
            start = m.start()  # "--- {inline: content}": the explicit start marker stays with its content
        else:
            start = m.end()
    tail = text[start:]
    if tail.strip():
        yield line, tail


def _first_content_line(chunk: str, base: int) -> int:
    for i, raw in enumerate(chunk.split("\n")):
        s = raw.strip()
        if s and not s.startswith("#") and s not in ("---", "..."):
            return base + i
    return base


def _last_content_line(chunk: str, base: int) -> int:
    lines = chunk.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        s = lines[i].strip()
        if s and not s.startswith("#"):
            return base + i
    return base


def looks_like_manifest(text: str) -> bool:
    return "kind" in text and "apiVersion" in text


def parse_stream(text: str, file: str, *, helm: bool = False) -> ParsedStream:
    """Parse every document of ``text``; broken ones become ``parse_error`` findings."""
    import yaml

    from tagguard import yamlio

    out = ParsedStream()
    if not looks_like_manifest(text):
        return out
    count = 0
    for base, chunk in split_stream(text):
        count += 1
        if count > MAX_DOCUMENTS:
            out.findings.append(parse_error(file, base, f"{file}:{base}: more than {MAX_DOCUMENTS:,} YAML documents; "
                                            "the rest of the stream is not scanned", severity="warning"))
            break
        helm_source = None
        if helm:
            m = _SOURCE.search(chunk)
            helm_source = m.group(1) if m else None
        if "kind" not in chunk:
            continue  # comments only, values, or something that is not a manifest
        try:
            value = yamlio.load(chunk)
        except yamlio.YamlBombError as exc:
            line = _first_content_line(chunk, base)
            out.findings.append(parse_error(file, line, f"{file}:{line}: {exc}"))
            continue
        except yaml.YAMLError as exc:
            if not _KIND.search(chunk) and "kind:" not in chunk:
                continue
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            line = base + mark.line if mark is not None else _first_content_line(chunk, base)
            line = min(line, _last_content_line(chunk, base))
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            context = getattr(exc, "context", None)
            cmark = getattr(exc, "context_mark", None)
            if context and cmark is not None and base + cmark.line != line:
                context = f"{context} started at line {base + cmark.line}"
            why = f"{context}: {problem}" if context and context not in problem else problem
            out.findings.append(parse_error(file, line, f"{file}:{line}: invalid YAML in this document ({why}); "
                                            "the other documents of the file are still scanned"))
            continue
        except (ValueError, RecursionError) as exc:  # very deep nesting and similar
            line = _first_content_line(chunk, base)
            out.findings.append(parse_error(file, line, f"{file}:{line}: cannot read this YAML document ({type(exc).__name__})"))
            continue
        if not isinstance(value, dict):
            continue  # scalars, lists, empty documents: not Kubernetes objects
        line = _first_content_line(chunk, base)
        _add_object(out, value, file, line, helm_source)
    return out


def _add_object(out: ParsedStream, value: Dict[str, Any], file: str, line: int, helm_source: Optional[str]) -> None:
    kind = value.get("kind")
    if not isinstance(kind, str) or not isinstance(value.get("apiVersion"), str):
        return
    if kind == "List" or (kind.endswith("List") and isinstance(value.get("items"), list)):
        for item in value.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("kind"), str) and isinstance(item.get("apiVersion"), str):
                out.docs.append(Doc(item, file, line, helm_source))
        return
    out.docs.append(Doc(value, file, line, helm_source))
