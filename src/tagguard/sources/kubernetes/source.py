"""Kubernetes manifests found by content: YAML (``.yaml``/``.yml``) and JSON (``.json``) files in
any letter case (``pod.YAML``), UTF-8 with or without a BOM, UTF-16 and UTF-32 (BOM or not), and
``tagguard scan -`` (stdin).

A file is read when it holds Kubernetes objects (``apiVersion`` + ``kind``, ``List`` items
included); other YAML and JSON (CI workflows, values files, package.json) is skipped quietly.  A file
that looks like a manifest but cannot be decoded is a parse error.  Only regular files inside the
scanned repository are opened (a symlink leading out of it is reported, not read), never more than
the per-file cap (``TAGGUARD_MAX_FILE_BYTES``).  Files a ``kustomization.yaml`` names as patches
are partial objects and not read as objects (overlays are not built: an info says so).  The work is
in ``manifests`` (streams, parse errors) and ``workloads`` (objects -> resources).
"""
from __future__ import annotations

import errno
import os
import posixpath
import shlex
import stat
from typing import Any
from collections.abc import Iterable, Iterator

from tagguard.model import INFO, NOT_SCANNED, Finding
from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput, parse_error

MANIFEST_EXTENSIONS = frozenset({".yaml", ".yml", ".json"})
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def manifest_extension(rel: str) -> str | None:
    """``.yaml``, ``.yml`` or ``.json`` (lower case) when ``rel`` ends with one in any case."""
    dot = rel.rfind(".")
    if dot < 0:
        return None
    ext = rel[dot:].lower()
    return ext if ext in MANIFEST_EXTENSIONS else None


def sniff_encoding(data: bytes) -> str | None:
    """The codec of text that is not plain UTF-8: from its byte-order mark, or from the NUL bytes
    UTF-16/UTF-32 put next to ASCII characters (``a\\0p\\0i\\0``); None for UTF-8."""
    head = data[:4]
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    if len(head) < 2 or b"\x00" not in head:
        return None
    if len(head) == 4 and head[1:] == b"\x00\x00\x00":
        return "utf-32-le"
    if len(head) == 4 and head[:3] == b"\x00\x00\x00":
        return "utf-32-be"
    if head[0] == 0 and head[1] != 0:
        return "utf-16-be"
    if head[0] != 0 and head[1] == 0:
        return "utf-16-le"
    return None


def _mentions(data: bytes, word: str, codec: str) -> bool:
    if codec.startswith("utf-8"):
        return word.encode() in data
    base = codec if codec[-2:] in ("le", "be") else codec + ("-be" if data[:1] in (b"\xfe", b"\x00") else "-le")
    return word.encode(base) in data


def read_text(data: bytes, file: str, out: SourceOutput) -> str | None:
    """``data`` as text when it may hold Kubernetes objects; None (quietly) when it cannot, or (with a
    parse error) when it looks like a manifest but cannot be decoded."""
    first = data[:1]
    codec = sniff_encoding(data) if first in (b"\xef", b"\xff", b"\xfe", b"\x00") or data[1:2] == b"\x00" else None
    codec = codec or "utf-8-sig"
    if codec == "utf-8-sig" and b"kind" not in data:
        return None  # the fast path: most YAML in a repository is not a manifest
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        if _mentions(data, "kind", codec) and _mentions(data, "apiVersion", codec):
            line = data[:exc.start].decode(codec, "replace").count("\n") + 1
            what = {"utf-8-sig": "UTF-8"}.get(codec, codec.upper().replace("-LE", "").replace("-BE", ""))
            out.findings.append(parse_error(file, line, f"{file}:{line}: looks like a Kubernetes manifest but is not "
                                            f"valid {what} text ({exc.reason}); not scanned"))
        return None
    if codec != "utf-8-sig" and "kind" not in text:
        return None
    return text.lstrip("\ufeff") if codec != "utf-8-sig" else text


def _open_confined(root: str, rel: str, boundary: Any) -> tuple[int, int]:
    """``(descriptor, size)`` of a regular file inside ``boundary``, opened read-only (symlinks resolved
    only when ``rel`` is one: a plain file costs one open).  Refusals are ``OSError`` with the reason."""
    from tagguard import safeio

    path = os.path.join(root, rel)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | nofollow)
    except OSError as exc:
        if not nofollow or exc.errno not in (errno.ELOOP, errno.EMLINK):
            raise
        safeio.check_regular(path, boundary())  # a symlink: where it leads must stay inside
        fd = os.open(path, flags)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise safeio.NotRegularFile(rel, "a FIFO, device or socket")
    return fd, st.st_size


def _read_fd(fd: int, size: int, cap: int) -> bytes:
    """Up to ``min(size, cap) + 1`` bytes (one more than expected shows a file over the cap or growing);
    sized reads, no buffer object: a read of ``cap`` bytes would allocate the whole cap every time."""
    want = min(size, cap) + 1
    chunks = []
    while want > 0:
        block = os.read(fd, want)
        if not block:
            break
        chunks.append(block)
        want -= len(block)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _may_hold_facts(data: bytes) -> bool:
    """False when ``data`` (plain UTF-8) cannot hold a Namespace, TrainingRuntime or DRA ResourceClaim(Template):
    none of those words nor an escape (``\\u004e...``) that could spell one.  Other encodings are decoded and
    parsed to know."""
    if data[:1] in (b"\xff", b"\xfe", b"\x00") or data[1:2] == b"\x00":
        return True
    return b"Namespace" in data or b"TrainingRuntime" in data or b"ResourceClaim" in data or b"OpenModel" in data \
        or b"\\" in data


class KubernetesSource(Source):
    """Reads the manifest files twice: first only the facts that apply across files (Namespace labels,
    TrainingRuntimes: a quick byte search skips the files that have none), then every object, each
    turned into resources as it is parsed and then dropped.  Memory grows with the resources, not with
    the parsed documents (BENCHMARKS.md, "Kubernetes memory")."""

    name = "kubernetes"

    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        from tagguard.sources.kubernetes.manifests import readable_kinds
        from tagguard.sources.kubernetes.sharing import SHARING_KEY, Sharing, may_declare, sharing_text
        from tagguard.sources.kubernetes.workloads import FACT_KINDS, Builder

        out = SourceOutput()
        builder = Builder(ctx, source="kubernetes", share_origins=True)
        kinds = readable_kinds(ctx.config)
        reader = _Reader(inventory, ctx)
        patches = _kustomize_patches(inventory, reader, out)
        if patches:
            inventory.claim(patches)
        inputs = [(rel, ext) for rel in inventory.files
                  if rel not in inventory.claimed and (ext := manifest_extension(rel)) is not None]
        stdin = inventory.stdin if inventory.stdin is not None and "<stdin>" not in inventory.claimed else None
        # 1: facts that apply to the workloads of every file (nothing reported: the second pass does), and the
        # GPU sharing the NVIDIA device plugin is configured with (time-slicing, MIG single: the lower bound's)
        quiet = SourceOutput()
        sharing = Sharing()
        for rel, ext in inputs:
            data = reader.read(rel, None)
            if data is None:
                continue
            declares, facts = may_declare(data), _may_hold_facts(data)
            if not declares and not facts:
                continue
            text = read_text(data, rel, quiet)
            if declares:  # Helm values and device-plugin config files have no `kind`: read_text skips them
                shown = text if text is not None else sharing_text(data)
                if shown is not None:
                    sharing.learn_text(shown, rel)
            del data
            if text is not None and facts:
                builder.learn(_json_docs(text, rel, quiet.findings) if ext == ".json" else
                              _stream(text, rel, quiet.findings, kinds=FACT_KINDS))
        if stdin is not None and (may_declare(stdin) or _may_hold_facts(stdin)):
            text = read_text(stdin, "<stdin>", quiet)
            if text is not None and may_declare(stdin):
                sharing.learn_text(text, "<stdin>")
            if text is not None and _may_hold_facts(stdin):
                builder.learn(_stdin_docs(text, quiet.findings, FACT_KINDS))
        # 2: every object, built as it is parsed
        claimed: list[str] = []
        for rel, ext in inputs:
            data = reader.read(rel, out)
            if data is None:
                continue
            text = read_text(data, rel, out)
            del data  # the text is all the parse needs
            if text is None:
                continue
            before = len(out.findings)
            docs = _Counted(_json_docs(text, rel, out.findings) if ext == ".json" else
                            _stream(text, rel, out.findings, kinds=kinds))
            builder.build_docs(docs)
            del text
            if docs.count or len(out.findings) > before:
                claimed.append(rel)
        if stdin is not None:
            text = read_text(stdin, "<stdin>", out)
            if text is not None:
                builder.build_docs(_stdin_docs(text, out.findings, kinds))
            claimed.append("<stdin>")
        inventory.claim(claimed)
        out.extend(builder.finish())
        shared = sharing.fact()
        for r in out.resources if shared is not None else ():
            if r.ai:
                r.meta[SHARING_KEY] = shared  # one dict, read only
        return out


KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "kustomization"})
# what a patch can change of the facts tagguard judges (labels, GPUs, replicas, placement)
_PATCH_WORDS = ("labels", "resources", "replicas", "nodeSelector", "affinity", "tolerations", "parallelism")


def _kustomize_patches(inventory: Inventory, reader: _Reader, out: SourceOutput) -> set[str]:
    """Files a ``kustomization.yaml`` names under ``patches`` / ``patchesStrategicMerge`` /
    ``patchesJson6902``: partial objects merged at build time, not objects of their own, so they are
    not read as such (a patch adding GPUs to a base Deployment would be a second Deployment).  One
    ``not-scanned`` info per kustomization whose patches touch labels, resources, replicas or placement:
    tagguard does not build overlays."""
    from tagguard import yamlio

    found: set[str] = set()
    files = set(inventory.files)
    for rel in sorted(f for f in inventory.files if f.rpartition("/")[2].lower() in KUSTOMIZATION_NAMES):
        if rel in inventory.claimed:
            continue
        data = reader.read(rel, None)
        if data is None or b"atch" not in data:
            continue
        try:
            doc = yamlio.load(data.decode("utf-8-sig"))
        except Exception:  # not a kustomization tagguard can read: its files are read as usual
            continue
        if not isinstance(doc, dict):
            continue
        here = rel.rpartition("/")[0]
        named: list[str] = []
        inline: list[str] = []
        for key in ("patches", "patchesStrategicMerge", "patchesJson6902"):
            entries = doc.get(key)
            for entry in entries if isinstance(entries, list) else []:
                path = (entry.get("path") if isinstance(entry, dict)
                        else entry if key == "patchesStrategicMerge" else None)
                if isinstance(entry, dict) and isinstance(entry.get("patch"), str):
                    inline.append(entry["patch"])
                elif isinstance(path, str) and "\n" in path:
                    inline.append(path)  # an inline strategic-merge patch
                elif isinstance(path, str) and path:
                    target = posixpath.normpath(posixpath.join(here, path))
                    if target in files:
                        named.append(target)
        if not named and not inline:
            continue
        found.update(named)
        touches = any(w in text for text in inline for w in _PATCH_WORDS)
        for target in named:
            if touches:
                break
            body = reader.read(target, None)
            touches = body is not None and any(w.encode() in body for w in _PATCH_WORDS)
        if touches:
            where = here or "."
            shown = ", ".join(f"`{t}`" for t in named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
            out.findings.append(Finding(
                rule="not-scanned", category=NOT_SCANNED, severity=INFO, file=rel, line=1,
                address=f"kustomization:{where}",
                message=(f"kustomization {rel}: its patches (" + (shown or "inline") + (", inline" if shown and inline
                                                                                         else "")
                         + ") change labels, resources, replicas or placement at build time; tagguard does not build "
                         "kustomize overlays, so the objects are judged as they are in the files, without the patches"),
                fix=f"scan the built overlay: `kustomize build {shlex.quote(where)} | tagguard scan -`",
                extra={"kustomization": rel, "patches": named}))
    return found


class _Counted:
    """An iterable of documents that counts what it gave."""

    def __init__(self, docs: Iterable[Any]):
        self.docs = docs
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for doc in self.docs:
            self.count += 1
            yield doc


def _stream(text: str, rel: str, findings: list[Any], *, kinds: frozenset[str]) -> Iterator[Any]:
    from tagguard.sources.kubernetes.manifests import iter_stream

    return iter_stream(text, rel, findings, kinds=kinds)


def _json_docs(text: str, rel: str, findings: list[Any]) -> Iterator[Any]:
    """The objects of a JSON file (its problems added to ``findings``), each let go once it is built:
    the decoded file is freed object by object instead of after the last one."""
    from tagguard.sources.kubernetes.manifests import parse_json

    parsed = parse_json(text, rel)
    findings.extend(parsed.findings)
    docs = parsed.docs
    del parsed
    docs.reverse()
    while docs:
        yield docs.pop()


def _stdin_docs(text: str, findings: list[Any], kinds: frozenset[str]) -> Iterable[Any]:
    """``tagguard scan -``: JSON when it starts with ``{``, else a YAML stream (``helm template`` output
    keeps its ``# Source:`` template names)."""
    from tagguard.sources.kubernetes.manifests import iter_stream

    if text.lstrip()[:1] == "{":
        return _json_docs(text, "<stdin>", findings)
    return iter_stream(text, "<stdin>", findings, helm="# Source: " in text, kinds=kinds)


class _Reader:
    """Reads one scanned file at a time: confined to the repository, never more than the per-file cap."""

    def __init__(self, inventory: Inventory, ctx: ScanContext):
        from tagguard import safeio

        self.inventory = inventory
        self.ctx = ctx
        self.root = str(inventory.root)
        self.cap = safeio.max_file_bytes()
        self._boundary: Any = None

    def boundary(self) -> Any:
        if self._boundary is None:
            from tagguard import safeio

            self._boundary = getattr(self.ctx, "boundary", None) or safeio.scan_boundary(self.inventory.root)
        return self._boundary

    def read(self, rel: str, out: SourceOutput | None) -> bytes | None:
        """The file's bytes; None when it cannot be read (a parse error in ``out`` when given)."""
        from tagguard import safeio

        cap = self.cap
        problem = None
        try:
            fd, size = _open_confined(self.root, rel, self.boundary)  # one open + fstat: no pathlib per file
            try:
                data = _read_fd(fd, size, cap) if size <= cap else b""
            finally:
                os.close(fd)
            if size > cap or len(data) > cap:
                problem = parse_error(rel, None, f"{rel}: {safeio.format_bytes(max(size, len(data)))} is over the "
                                      f"{safeio.format_bytes(cap)} limit per file (raise {safeio.MAX_FILE_BYTES_ENV} "
                                      "to read it); not scanned")
        except safeio.OutsideRepository:
            problem = parse_error(rel, None, f"{rel}: a symlink leading outside the scanned repository; not read",
                                  severity="warning")
        except OSError as exc:
            problem = parse_error(rel, None, f"{rel}: cannot read ({exc.strerror or exc})")
        if problem is not None:
            if out is not None:
                out.findings.append(problem)
            return None
        return data


def resources_from_manifest_objects(objs: list[dict[str, Any]], file: str, line: int | None, ctx: Any,
                                    *, source: str = "kubernetes", default_namespace: str | None = None,
                                    meta: dict[str, Any] | None = None) -> SourceOutput:
    """Kubernetes objects already decoded elsewhere (Terraform ``kubernetes_manifest`` ``manifest``,
    ``kubectl_manifest`` ``yaml_body``, ``templatefile`` output) -> resources and findings.

    ``objs`` are plain dicts; anything that is not a Kubernetes object is ignored.  Every resource
    gets ``file``/``line`` of the Terraform block and ``meta`` merged in (e.g. the Terraform address).
    """
    from tagguard.sources.kubernetes.workloads import Builder
    from tagguard.sources.kubernetes.manifests import Doc, ParsedStream, _add_object

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


def resources_from_yaml_text(text: str, file: str, line: int | None, ctx: Any, **kw: Any) -> SourceOutput:
    """Like ``resources_from_manifest_objects`` for YAML text (a ``yaml_body`` or a rendered template):
    lines in findings are offset by ``line`` - 1."""
    from tagguard.sources.kubernetes.manifests import parse_stream, readable_kinds

    parsed = parse_stream(text, file, kinds=readable_kinds(getattr(ctx, "config", None)))
    offset = (line or 1) - 1
    for f in parsed.findings:
        if f.line is not None:
            f.message = f.message.replace(f"{file}:{f.line}:", f"{file}:{f.line + offset}:", 1)
            f.line += offset
    out = resources_from_manifest_objects([d.obj for d in parsed.docs], file, line, ctx, **kw)
    out.findings[:0] = parsed.findings
    return out
