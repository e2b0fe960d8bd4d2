"""Kubernetes manifests: ``.yaml``/``.yml`` files found by content, and ``tagguard scan -`` (stdin).

A file is read when it holds Kubernetes objects (``apiVersion`` + ``kind``, ``List`` items
included); other YAML (CI workflows, values files, docker-compose) is skipped quietly.  The
work is in ``k8s_yaml`` (streams, parse errors) and ``k8s_workloads`` (objects -> resources).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput, parse_error

MAX_FILE_BYTES = 64 * 1024 * 1024


def read_text(data: bytes, file: str, out: SourceOutput) -> Optional[str]:
    if b"kind" not in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if b"apiVersion" in data:
            line = data[:exc.start].count(b"\n") + 1
            out.findings.append(parse_error(file, line, f"{file}:{line}: not UTF-8 text; not scanned"))
        return None


class KubernetesSource(Source):
    name = "kubernetes"

    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        from tagguard.sources.k8s_workloads import Builder
        from tagguard.sources.k8s_yaml import parse_stream, readable_kinds

        out = SourceOutput()
        builder = Builder(ctx, source="kubernetes")
        kinds = readable_kinds(ctx.config)
        files = inventory.unclaimed((".yaml", ".yml"))
        claimed: List[str] = []
        root = str(inventory.root)
        for rel in files:
            try:
                with open(os.path.join(root, rel), "rb") as fh:  # one open + fstat: no pathlib per file
                    size = os.fstat(fh.fileno()).st_size
                    if size > MAX_FILE_BYTES:
                        out.findings.append(parse_error(rel, None, f"{rel}: {size // (1024 * 1024)} MB is larger than "
                                                        f"the {MAX_FILE_BYTES // (1024 * 1024)} MB limit for YAML files; "
                                                        "not scanned", severity="warning"))
                        continue
                    data = fh.read()
            except OSError as exc:
                out.findings.append(parse_error(rel, None, f"{rel}: cannot read ({exc.strerror or exc})"))
                continue
            text = read_text(data, rel, out)
            if text is None:
                continue
            parsed = parse_stream(text, rel, kinds=kinds)
            out.findings.extend(parsed.findings)
            if parsed.docs or parsed.findings:
                claimed.append(rel)
            builder.add(parsed.docs)
        if inventory.stdin is not None and "<stdin>" not in inventory.claimed:
            text = read_text(inventory.stdin, "<stdin>", out)
            if text is not None:
                parsed = parse_stream(text, "<stdin>", helm="# Source: " in text, kinds=kinds)
                out.findings.extend(parsed.findings)
                builder.add(parsed.docs)
            claimed.append("<stdin>")
        inventory.claim(claimed)
        out.extend(builder.build())
        return out


def resources_from_manifest_objects(objs: List[Dict[str, Any]], file: str, line: Optional[int], ctx: Any,
                                    *, source: str = "kubernetes", default_namespace: Optional[str] = None,
                                    meta: Optional[Dict[str, Any]] = None) -> SourceOutput:
    """Kubernetes objects already decoded elsewhere (Terraform ``kubernetes_manifest`` ``manifest``,
    ``kubectl_manifest`` ``yaml_body``, ``templatefile`` output) -> resources and findings.

    ``objs`` are plain dicts; anything that is not a Kubernetes object is ignored.  Every resource
    gets ``file``/``line`` of the Terraform block and ``meta`` merged in (e.g. the Terraform address).
    """
    from tagguard.sources.k8s_workloads import Builder
    from tagguard.sources.k8s_yaml import Doc, ParsedStream, _add_object

    parsed = ParsedStream()
    for obj in objs:
        if isinstance(obj, dict):
            _add_object(parsed, obj, file, line or 1, None)
    builder = Builder(ctx, source=source, default_namespace=default_namespace)
    builder.add(Doc(d.obj, file, line, None) for d in parsed.docs)
    out = builder.build()
    if meta:
        for r in out.resources:
            for k, v in meta.items():
                r.meta.setdefault(k, v)
    return out


def resources_from_yaml_text(text: str, file: str, line: Optional[int], ctx: Any, **kw: Any) -> SourceOutput:
    """Like ``resources_from_manifest_objects`` for YAML text (a ``yaml_body`` or a rendered template):
    lines in findings are offset by ``line`` - 1."""
    from tagguard.sources.k8s_yaml import parse_stream, readable_kinds

    parsed = parse_stream(text, file, kinds=readable_kinds(getattr(ctx, "config", None)))
    offset = (line or 1) - 1
    for f in parsed.findings:
        if f.line is not None:
            f.message = f.message.replace(f"{file}:{f.line}:", f"{file}:{f.line + offset}:", 1)
            f.line += offset
    out = resources_from_manifest_objects([d.obj for d in parsed.docs], file, line, ctx, **kw)
    out.findings[:0] = parsed.findings
    return out
