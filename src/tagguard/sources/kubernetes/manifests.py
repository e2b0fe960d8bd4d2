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
from typing import Any, cast
from collections.abc import Callable, Iterator

from tagguard.model import Finding
from tagguard.sources.base import parse_error

_DOC_MARK = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?$", re.M)
_SOURCE = re.compile(r"^# Source: (.+?)\s*$", re.M)
_KIND = re.compile(r"^kind[ \t]*:", re.M)
_KIND_VALUE = re.compile(r"^kind[ \t]*:[ \t]*[\"']?([A-Za-z0-9]+)[\"']?[ \t]*(?:#.*)?$", re.M)
# Kinds read besides the workload table; everything else (Service, ConfigMap, Secret...) is skipped unparsed.
EXTRA_KINDS = frozenset({"Namespace", "ResourceQuota", "NodePool", "EC2NodeClass", "TrainingRuntime",
                         "ClusterTrainingRuntime", "List", "ResourceClaimTemplate", "ResourceClaim"})
MAX_DOCUMENTS = 100_000


@dataclass
class Doc:
    """One parsed Kubernetes object (``List`` items are expanded) and where it starts."""

    obj: dict[str, Any]
    file: str
    line: int | None  # None: an object decoded elsewhere whose block line is unknown
    helm_source: str | None = None  # the template a `helm template` document came from


@dataclass
class ParsedStream:
    docs: list[Doc] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def split_stream(text: str) -> Iterator[tuple[int, str]]:
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


def parse_stream(text: str, file: str, *, helm: bool = False, kinds: frozenset[str] | None = None) -> ParsedStream:
    """Parse every document of ``text``; broken ones become ``parse_error`` findings."""
    out = ParsedStream()
    out.docs.extend(iter_stream(text, file, out.findings, helm=helm, kinds=kinds))
    return out


def iter_stream(text: str, file: str, findings: list[Finding], *, helm: bool = False,
                kinds: frozenset[str] | None = None) -> Iterator[Doc]:
    """The objects of ``text`` one at a time, as each document is parsed (a caller that drops them keeps
    nothing of the stream); broken documents add ``parse_error`` findings to ``findings``."""
    import yaml

    from tagguard import yamlio

    if not looks_like_manifest(text):
        return
    if "\r" in text:  # CRLF (or CR) line ends: "---\r" must still split documents; line numbers are unchanged
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if kinds is None:
        kinds = readable_kinds()
    count = 0
    for base, chunk in split_stream(text):
        count += 1
        if count > MAX_DOCUMENTS:
            findings.append(parse_error(file, base, f"{file}:{base}: more than {MAX_DOCUMENTS:,} YAML documents; "
                                        "the rest of the stream is not scanned", severity="warning"))
            break
        helm_source = None
        if helm:
            m = _SOURCE.search(chunk)
            helm_source = m.group(1) if m else None
        if "kind" not in chunk:
            continue  # comments only, values, or something that is not a manifest
        if not _worth_reading(chunk, kinds):
            continue  # a kind tagguard does not read (Service, ConfigMap...): not parsed at all
        try:
            value = _load(chunk)
            yamlio.check_bomb(value, chunk)
        except yamlio.YamlDepthError as exc:
            line = base + exc.line - 1
            findings.append(parse_error(file, line, f"{file}:{line}: this YAML document is nested too deeply to "
                                        f"read (more than {yamlio.MAX_DEPTH} levels); the other documents of the "
                                        "file are still scanned"))
            continue
        except yamlio.YamlBombError as exc:
            line = _first_content_line(chunk, base)
            findings.append(parse_error(file, line, f"{file}:{line}: {exc}"))
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
            if "{{" in chunk and "}}" in chunk:
                # a Go/Jinja template (`name: {{ .Name }}`) outside a Helm chart: not a manifest until rendered
                findings.append(parse_error(file, line, f"{file}:{line}: not valid YAML ({why}): this document is a "
                                            "`{{ }}` template, which tagguard does not render outside a Helm chart; "
                                            "not scanned", severity="warning"))
                continue
            findings.append(parse_error(file, line, f"{file}:{line}: invalid YAML in this document ({why}); "
                                        "the other documents of the file are still scanned"))
            continue
        except RecursionError:
            line = _first_content_line(chunk, base)
            findings.append(parse_error(file, line, f"{file}:{line}: this YAML document is nested too deeply to read; "
                                        "the other documents of the file are still scanned"))
            continue
        except ValueError as exc:
            line = _first_content_line(chunk, base)
            findings.append(parse_error(file, line, f"{file}:{line}: cannot read this YAML document ({exc})"))
            continue
        if not isinstance(value, dict):
            continue  # scalars, lists, empty documents: not Kubernetes objects
        yield from _objects(value, file, _first_content_line(chunk, base), helm_source)


def looks_like_json_manifest(text: str) -> bool:
    return '"kind"' in text and '"apiVersion"' in text


def parse_json(text: str, file: str) -> ParsedStream:
    """Kubernetes objects from a JSON file (``kubectl get -o json``: one object, a ``List``, or an
    array of objects).  JSON that is not a manifest is skipped without a word; JSON that looks like
    one (``"kind"`` and ``"apiVersion"``) but cannot be read is one ``parse_error`` with its line."""
    from tagguard import safeio

    out = ParsedStream()
    if not looks_like_json_manifest(text):
        return out
    try:
        value = safeio.load_json(text, file)
    except safeio.JSONTooDeep:
        out.findings.append(parse_error(file, 1, f"{file}:1: JSON nested deeper than {safeio.MAX_JSON_DEPTH} levels; "
                                        "not scanned"))
        return out
    except ValueError as exc:
        line = getattr(exc, "lineno", None) or 1
        why = getattr(exc, "msg", None) or str(exc).splitlines()[0]
        out.findings.append(parse_error(file, line, f"{file}:{line}: invalid JSON ({why}); not scanned"))
        return out
    start = len(text) - len(text.lstrip())
    line = text.count("\n", 0, start) + 1
    for obj in (value if isinstance(value, list) else [value]):
        if isinstance(obj, dict):
            _add_object(out, obj, file, line, None)
    return out


def _add_object(out: ParsedStream, value: dict[str, Any], file: str, line: int, helm_source: str | None) -> None:
    out.docs.extend(_objects(value, file, line, helm_source))


def _objects(value: dict[str, Any], file: str, line: int, helm_source: str | None) -> Iterator[Doc]:
    """The Kubernetes object ``value`` (the items of a ``List``) as ``Doc``s."""
    kind = value.get("kind")
    if not isinstance(kind, str) or not isinstance(value.get("apiVersion"), str):
        return
    if kind == "List" or (kind.endswith("List") and isinstance(value.get("items"), list)):
        for item in value.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("kind"), str) and isinstance(item.get("apiVersion"), str):
                yield Doc(item, file, line, helm_source)
        return
    yield Doc(value, file, line, helm_source)


class ReadableKinds(frozenset):
    """The kinds worth parsing, plus ``markers``: text that makes a document of any other kind worth parsing
    too (an accelerator resource name: an unknown kind that requests GPUs is reported, not skipped)."""

    markers: tuple[str, ...] = ()


def readable_kinds(config: Any = None) -> frozenset[str]:
    from tagguard.sources.kubernetes.kinds import load_table

    table = load_table(config)
    kinds = ReadableKinds({k.split(".", 1)[0] for k in table.kinds} | EXTRA_KINDS)
    # "nvidia.com/mig-*" -> "nvidia.com/mig-": the literal head of every accelerator resource name
    heads = {h for h in (re.split(r"[*?\[]", name, maxsplit=1)[0] for name in table.accelerators) if h}
    # `in` per head is faster than one alternation regex; a head that contains another adds nothing
    kinds.markers = tuple(sorted(h for h in heads if not any(o != h and o in h for o in heads)))
    return kinds


def _worth_reading(chunk: str, kinds: frozenset[str]) -> bool:
    """False only when the document's top-level ``kind:`` line names a kind tagguard does not read."""
    found = _KIND_VALUE.findall(chunk)
    if len(found) != 1:
        return True  # no plain top-level kind line (flow style, odd layout, several): parse it to know
    kind = found[0]
    if kind in kinds or kind.endswith("List"):
        return True
    return any(m in chunk for m in getattr(kinds, "markers", ()))  # an unknown kind that may request accelerators


# --- fast construction --------------------------------------------------------------------
# libyaml composes the node graph in C; PyYAML's Python constructor then costs more than the parse.
# Kubernetes manifests are almost all plain maps, lists and strings, so those are built directly
# here (aliases stay shared, as in PyYAML) and every other tag goes through SafeConstructor.

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_LOADER: Any = None


def _loader_class():
    global _LOADER
    if _LOADER is None:
        import yaml

        from tagguard import yamlio

        base = yamlio.SafeLoader
        if getattr(yaml, "__with_libyaml__", False) and base is getattr(yaml, "CSafeLoader", None):
            from yaml._yaml import CParser  # what yaml.cyaml re-exports (the stub does not export it)
            from yaml.resolver import Resolver

            from yaml.nodes import MappingNode, ScalarNode

            implicit_resolvers = Resolver.yaml_implicit_resolvers
            plain_tags: dict[str, str] = {}  # plain scalar -> its implicit tag; keys, names, labels repeat a lot

            class _Composer(CParser, Resolver):  # type: ignore[misc]
                """libyaml's composer with PyYAML's YAML 1.1 implicit typing, minus the per-node
                path-resolver bookkeeping (SafeLoader registers no path resolvers)."""

                def __init__(self, stream):
                    CParser.__init__(self, stream)
                    Resolver.__init__(self)

                # Called for every node with results ignored: C builtins, not Python frames
                # (`slice(node, index)` / `tuple()` do nothing useful and cost next to nothing).
                # cast: a C builtin stands in for the stub's methods (any arity); the staticmethod is unchanged
                descend_resolver = cast("Callable[..., None]", staticmethod(slice))
                ascend_resolver = cast("Callable[..., None]", staticmethod(tuple))

                def resolve(self, kind, value, implicit):
                    if kind is ScalarNode:
                        if implicit[0]:
                            tag = plain_tags.get(value)
                            if tag is None:
                                tag = _STR
                                for t, regexp in implicit_resolvers.get(value[:1], ()):
                                    if regexp.match(value):
                                        tag = t
                                        break
                                if len(plain_tags) < 65536 and len(value) < 128:
                                    plain_tags[value] = tag
                            return tag
                        return _STR
                    return _MAP if kind is MappingNode else _SEQ

            _LOADER = _Composer
        else:  # pragma: no cover - PyYAML without libyaml
            _LOADER = False
    return _LOADER


def _load(text: str) -> Any:
    import yaml
    from yaml.constructor import SafeConstructor
    from yaml.nodes import MappingNode, ScalarNode

    from tagguard import yamlio

    yamlio.check_depth(text)  # before libyaml: deep flow is slow to scan and deep nodes crash its composer
    cls = _loader_class()
    if not cls:  # pragma: no cover
        return yaml.load(text, Loader=yamlio.SafeLoader)  # noqa: S506 - safe loader
    loader = cls(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        return None
    memo: dict[int, Any] = {}
    slow: list[Any] = []

    def fallback(n):
        if not slow:
            slow.append(SafeConstructor())
        return slow[0].construct_object(n, deep=True)

    def conv(n):
        tag = n.tag
        if n.__class__ is ScalarNode:
            if tag == _STR:
                return n.value
            if tag == _INT:
                v = n.value
                if v.isdigit() and (v[0] != "0" or v == "0") and v.isascii():  # plain decimal (a leading 0 is octal)
                    return int(v)
            return fallback(n)
        key = id(n)
        hit = memo.get(key)
        if hit is not None:
            return hit
        if n.__class__ is MappingNode:
            if tag != _MAP:
                return fallback(n)
            out: dict[Any, Any] = {}
            memo[key] = out
            for k, v in n.value:
                if k.tag == _MERGE:  # "<<: *defaults": PyYAML's merge semantics
                    del memo[key]
                    return fallback(n)
                kk = k.value if k.tag == _STR and k.__class__ is ScalarNode else conv(k)
                try:
                    # most values are plain strings: no recursive call for them
                    out[kk] = v.value if v.tag == _STR and v.__class__ is ScalarNode else conv(v)
                except TypeError:  # unhashable key: let PyYAML raise its own error
                    return fallback(n)
            return out
        if tag != _SEQ:
            return fallback(n)
        lst: list[Any] = []
        memo[key] = lst
        lst.extend(conv(x) for x in n.value)
        return lst

    try:
        return conv(node)
    finally:
        # `conv` calls itself through its closure cell: a reference cycle that would keep `memo` and with
        # it every map and list of the document alive until a cyclic collection, and the CLI runs without
        # the cyclic collector (cli.calm_gc).  Emptying the cell frees the document when its caller drops it.
        conv = None  # type: ignore[assignment]  # noqa: F841
        memo.clear()
