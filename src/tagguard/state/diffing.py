"""``tagguard diff``: the working tree against a base revision, for pull requests.

The base revision's files are read from git (``git ls-tree`` + ``git cat-file
--batch``) into a temporary directory; the working tree is never touched.
Local modules the base files call (``source = "../modules/gpu"``) are brought
along even when they lie outside the scanned paths, as long as they are inside
the repository.  Both trees are scanned with the same configuration; resources
are matched by address (and the directory of their file), and only findings
for resources that are new or changed are reported: pre-existing violations do
not block a pull request.
"""
from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from collections.abc import Sequence
from urllib.parse import unquote, urljoin, urlparse

from tagguard.config import CONFIG_NAMES, ConfigError, load_config_text, user_or_default_config
from tagguard.cost import diff as costdiff
from tagguard.model import NOT_SCANNED, WARNING, Finding, ScanResult
from tagguard.report_parts import DiffInfo
from tagguard.pipeline import build_inventory, collect, evaluate
from tagguard.sources.base import ScanContext, ScanOptions
from tagguard.taxonomy import TaxonomyError, _refs, load_taxonomy

_MODULE_SOURCE = re.compile(r'^\s*source\s*=\s*"(\.{1,2}/[^"]*)"', re.M)


class DiffError(Exception):
    """A one-line problem with the repository or the base revision (exit code 2)."""


# --- git ---------------------------------------------------------------------------------

def _git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True,
                              check=False)
    except FileNotFoundError:
        raise DiffError("git is not installed (tagguard diff reads the base revision with git)") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiffError(f"git {' '.join(args[:2])}: {msg[-1] if msg else 'failed'}")
    return proc.stdout


def repo_root(start: Path) -> Path:
    try:
        out = _git(start if start.is_dir() else start.parent, "rev-parse", "--show-toplevel")
    except DiffError:
        raise DiffError(f"{start}: not inside a git repository (tagguard diff compares with a git revision)") from None
    return Path(out.decode("utf-8").strip())


def resolve_ref(repo: Path, ref: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").decode().strip()
    except DiffError:
        raise DiffError(f"--base {ref}: not a commit in {repo}") from None


def _ls_tree(repo: Path, commit: str, paths: Sequence[str]) -> list[tuple[str, str, str]]:
    """(mode, sha, path) of every blob under ``paths`` at ``commit``."""
    specs = [p for p in paths if p not in ("", ".")]
    out = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *(specs or []))
    rows = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, sha = meta.decode().split()
        if kind != "blob" or mode == "120000":  # symlinks and submodules are not followed
            continue
        rows.append((mode, sha, path.decode("utf-8", "surrogateescape")))
    return rows


def _cat_blobs(repo: Path, rows: list[tuple[str, str, str]], dest: Path) -> list[str]:
    """Write the blobs; return the paths whose object is not in the local store (``<sha> missing``:
    a partial clone or an incomplete copy of the repository)."""
    missing: list[str] = []
    if not rows:
        return missing
    data = _git(repo, "cat-file", "--batch", input=b"".join(sha.encode() + b"\n" for _, sha, _ in rows))
    pos = 0
    for _mode, _sha, rel in rows:
        nl = data.index(b"\n", pos)
        header = data[pos:nl].split()
        if len(header) < 3:  # "<sha> missing": no body follows
            missing.append(rel)
            pos = nl + 1
            continue
        size = int(header[2])
        body = data[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
        target = dest / rel
        if not _inside(dest, target):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return missing


# files a scan reads (Terraform, plans, manifests, charts, templates): one of these missing from the base
# stops the diff; any other missing blob (model weights, images) is left out of the base tree
_READ_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json", ".json", ".yaml", ".yml", ".tpl", ".tftpl", ".tgz",
                  ".hcl")


def _inside(root: Path, path: Path) -> bool:
    try:
        Path(os.path.normpath(path)).relative_to(os.path.normpath(root))
        return True
    except ValueError:
        return False


def materialize(repo: Path, commit: str, paths: Sequence[str], dest: Path) -> set[str]:
    """Write the base revision's files under ``paths`` (repo-relative) and their local modules to ``dest``."""
    wanted = [p for p in paths]
    done_dirs: set[str] = set()
    written: set[str] = set()
    while wanted:
        rows = [r for r in _ls_tree(repo, commit, wanted) if r[2] not in written]
        lost = [rel for rel in _cat_blobs(repo, rows, dest) if rel.lower().endswith(_READ_SUFFIXES)]
        if lost:
            more = f" (and {len(lost) - 1} more)" if len(lost) > 1 else ""
            raise DiffError(f"{lost[0]}{more} at the base revision is not in the local git object store (a partial "
                            "or incomplete clone?), so the base cannot be compared; fetch the base revision's "
                            "objects (e.g. `git fetch --refetch`) and run again")
        written.update(r[2] for r in rows)
        done_dirs.update(wanted)
        wanted = []
        for _mode, _sha, rel in rows:
            if not rel.endswith(".tf"):
                continue
            try:
                text = (dest / rel).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for m in _MODULE_SOURCE.finditer(text):
                target = os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1))).replace(os.sep, "/")
                if target.startswith("..") or target in done_dirs or _covered(target, done_dirs):
                    continue  # outside the repository, or already there
                wanted.append(target)
                done_dirs.add(target)
    return written


def _covered(path: str, dirs: set[str]) -> bool:
    p = PurePosixPath(path)
    for d in dirs:
        if d in ("", "."):
            return True
        try:
            p.relative_to(d)
            return True
        except ValueError:
            continue
    return False


# --- config and taxonomy from the base revision ------------------------------------------------
# A pull request cannot weaken its own gate: by default the base revision's .tagguard.yaml and
# taxonomy judge both trees (read with `git ls-tree`/`git cat-file`, nothing executed); the head's
# only with --head-config. Either way, a change to them is reported (a `config-changed` warning).

MAX_POLICY_BYTES = 4 * 1024 * 1024


@dataclass
class ConfigChoice:
    config: Any  # tagguard.config.Config the diff is judged with
    source: str  # "base revision REF" | "head (--head-config)" | "--config" (a file outside the repository)
    changed: list[str] = field(default_factory=list)  # repo-relative config/taxonomy files the change edits
    config_file: str | None = None  # repo-relative config file (head's, else base's), for the notice


def _blob(repo: Path, commit: str, rel: str, hops: int = 0) -> tuple[bytes, str] | None:
    """A file's (bytes, path) at ``commit``; None when absent. A symbolic link is followed (at
    ``commit``) while it stays inside the repository; a submodule counts as absent."""
    out = _git(repo, "ls-tree", "-z", "--full-tree", commit, "--", rel)
    entry = None
    for item in out.split(b"\0"):
        meta, _, path = item.partition(b"\t")
        if path.decode("utf-8", "surrogateescape") == rel:
            entry = meta.decode().split()
    if entry is None or entry[1] != "blob":
        return None
    mode, _kind, sha = entry
    size = int(_git(repo, "cat-file", "-s", sha).decode().strip() or 0)
    if size > MAX_POLICY_BYTES:
        raise DiffError(f"{rel} at the base revision is larger than {MAX_POLICY_BYTES // 2**20} MB; refused")
    data = _git(repo, "cat-file", "blob", sha)
    if mode != "120000":
        return data, rel
    target = data.decode("utf-8", "surrogateescape")
    nxt = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
    if hops >= 8 or posixpath.isabs(target) or nxt == ".." or nxt.startswith("../"):
        raise DiffError(f"{rel} at the base revision is a symbolic link leaving the repository (or a loop); refused")
    return _blob(repo, commit, nxt, hops + 1)


def _base_config_rel(repo: Path, commit: str, rels: Sequence[str]) -> str | None:
    """The base revision's config for the scanned ``rels``: the nearest .tagguard.yaml at or above each."""
    found: dict[str | None, str] = {}
    for rel in rels:
        d = PurePosixPath(rel if rel not in ("", ".") else "")
        if (repo / rel).is_file() or (rel not in ("", ".") and not (repo / rel).exists() and d.suffix):
            d = d.parent
        chain = [d] + list(d.parents)
        candidates = [str(c / n) if str(c) not in ("", ".") else n for c in chain for n in CONFIG_NAMES]
        listing = _git(repo, "ls-tree", "-z", "--full-tree", commit, "--", *candidates)
        present = {item.partition(b"\t")[2].decode("utf-8", "surrogateescape") for item in listing.split(b"\0") if item}
        hit = next((c for c in candidates if c in present), None)
        found.setdefault(hit, rel)
    if len(found) > 1:
        (a, pa), (b, pb) = list(found.items())[:2]
        raise DiffError(f"{pa} and {pb} are governed by different configs at the base revision ({a or 'none'} and "
                        f"{b or 'none'}); diff them in separate runs")
    return next(iter(found))


def _schema_files(repo: Path, commit: str, rel: str, dest: Path, limit: int = 100) -> bytes | None:
    """Write the base revision's taxonomy ``rel`` and the repository files it `$ref`s under ``dest``."""

    first: bytes | None = None
    queue: list[str] = [rel]
    seen: set[str] = set()
    while queue and len(seen) < limit:
        cur = queue.pop()
        if cur in seen:
            continue
        seen.add(cur)
        got = _blob(repo, commit, cur)
        if got is None:
            if cur == rel:
                return None
            continue  # a missing referenced file: the taxonomy loader names it
        data = got[0]
        target = dest / cur
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if first is None:
            first = data
        try:
            if cur.endswith((".yaml", ".yml")):
                from tagguard import yamlio

                doc = yamlio.load(data.decode("utf-8-sig"))
            else:
                doc = json.loads(data.decode("utf-8-sig"))
        except Exception:  # noqa: BLE001 - the taxonomy loader reports it with its line
            continue
        base = target.resolve().as_uri()
        for ref, ref_base in _refs(doc, base):
            uri = urljoin(ref_base, ref).partition("#")[0]
            parsed = urlparse(uri)
            if parsed.scheme != "file":
                continue
            other = os.path.relpath(unquote(parsed.path), str(dest.resolve())).replace(os.sep, "/")
            if not other.startswith("../") and other != "..":
                queue.append(other)
    return first


def choose_config(repo: Path, commit: str, ref: str, rels: Sequence[str], head, explicit: Path | None,
                  use_head: bool) -> ConfigChoice:
    """The config (and taxonomy) ``tagguard diff`` judges with, and what the change does to them."""
    import hashlib


    real_repo = repo.resolve()

    def rel_of(path: Path | None) -> str | None:
        if path is None:
            return None
        try:
            return Path(os.path.abspath(path)).resolve().relative_to(real_repo).as_posix()
        except ValueError:
            return None

    if explicit is not None and rel_of(explicit) is None:
        return ConfigChoice(head, "--config")  # a file from outside the repository: the change cannot edit it
    head_rel = rel_of(head.path) if head.origin in ("repository", "--config") else None
    base_rel = rel_of(explicit) if explicit is not None else _base_config_rel(repo, commit, rels)
    got = _blob(repo, commit, base_rel) if base_rel else None
    base_bytes = got[0] if got else None
    if got:
        base_rel = got[1]  # a symbolic link followed: paths in the config are relative to the file itself
    head_bytes = Path(head.path).read_bytes() if head_rel else None
    changed: list[str] = []
    if (head_rel, head_bytes) != (base_rel if base_bytes is not None else None, base_bytes):
        changed.append(head_rel or base_rel or ".tagguard.yaml")
    # the taxonomies: the head's file against the base revision's
    head_tax_rel = rel_of(head.taxonomy_path()) if head.raw.get("taxonomy") is not None else None
    head_tax = head.taxonomy()
    try:
        if got is None:
            base = user_or_default_config()
        else:
            base_data, base_at = got
            base = load_config_text(base_data, repo / base_at, f"{ref}:{base_at}", real_repo,
                                    trusted=explicit is not None,
                                    origin="--config" if explicit is not None else "repository")
        base_tax_rel = None
        if got is not None and base.raw.get("taxonomy") is not None:
            base_tax_path = repo / PurePosixPath(got[1]).parent / str(base.raw["taxonomy"])
            base_tax_rel = rel_of(Path(os.path.normpath(base_tax_path)))
        if base_tax_rel is not None:
            with tempfile.TemporaryDirectory(prefix="tagguard-base-policy-") as tmp:
                data = _schema_files(repo, commit, base_tax_rel, Path(tmp))
                if data is None:
                    raise DiffError(f"{ref}:{base_rel}: taxonomy {base.raw['taxonomy']!r}"
                                    f" does not exist at the base revision")
                tax = load_taxonomy(Path(tmp) / base_tax_rel, root=Path(tmp))
                tax.path = Path(f"{ref}:{base_tax_rel}")
            base.use_taxonomy(tax, f"{ref}:{base_tax_rel}")
        else:
            tax = base.taxonomy()
    except (ConfigError, TaxonomyError) as exc:
        raise DiffError(f"the base revision's config: {exc}") from None
    head_digest = head_tax.sha256 or hashlib.sha256(json.dumps(head_tax.schema, sort_keys=True).encode()).hexdigest()
    base_digest = tax.sha256 or hashlib.sha256(json.dumps(tax.schema, sort_keys=True).encode()).hexdigest()
    if head_digest != base_digest or head_tax_rel != base_tax_rel:
        what = head_tax_rel or base_tax_rel or "the taxonomy"
        if what not in changed:
            changed.append(what)
    if use_head:
        return ConfigChoice(head, "head (--head-config)", changed, head_rel or base_rel)
    return ConfigChoice(base, f"base revision {ref}", changed, head_rel or base_rel)


def config_notice(choice: ConfigChoice, ref: str, root: Path, repo: Path) -> Finding | None:
    """The `config-changed` warning when the change edits the config or taxonomy."""
    if not choice.changed:
        return None
    files = ", ".join(choice.changed)
    if choice.source.startswith("head"):
        message = (f"this change edits the tagguard policy ({files}) and was judged with its own version of it "
                   f"(--head-config): a change can weaken its own gate this way; review the policy change")
        fix = "review the policy change, or judge the change with the base revision's policy (drop --head-config)"
    else:
        message = (f"this change edits the tagguard policy ({files}); it was judged with the base revision's "
                   f"({ref}), so the edit takes effect only after it is merged")
        fix = "merge the policy change on its own first, or run `tagguard diff --head-config` to judge with the head's"
    file = None
    if choice.config_file:
        file = os.path.relpath(str(repo / choice.config_file), str(root)).replace(os.sep, "/")
    return Finding(rule="config-changed", category="config_changed", severity=WARNING, message=message,
                   file=file, line=None, fix=fix)


# --- scanning ---------------------------------------------------------------------------------

@dataclass
class Scanned:
    result: ScanResult
    root: Path  # the inventory root: files in the result are relative to it
    resources: list[Any] = field(default_factory=list)  # every resource (not only the listed ones)


def scan_tree(paths: Sequence[str], config, var_files, variables, options) -> Scanned:

    inv = build_inventory(list(paths), config)
    ctx = ScanContext(config, inv.root, var_files=var_files, variables=variables, options=options)
    out = collect(inv, ctx)
    root = paths[0] if len(paths) == 1 else str(inv.root)
    result = evaluate(out, ctx, root=root)
    return Scanned(result, inv.root, out.resources)


def _rebase(file: str | None, src_root: Path, dst_root: Path) -> str | None:
    """A file path relative to ``src_root`` expressed relative to ``dst_root``."""
    if not file:
        return file
    absolute = os.path.normpath(os.path.join(str(src_root), file))
    return os.path.relpath(absolute, str(dst_root)).replace(os.sep, "/")


def _base_payload(present: list[str], config, var_files, variables, options, tmp: Path, repo: Path,
                  head_root: Path) -> dict[str, Any]:
    """Scan the base tree; return what the head needs, as plain data (it may cross a process boundary)."""
    base = scan_tree(present, config, var_files, variables, replace(ScanOptions.coerce(options)))
    # express base files relative to the head scan's root, so keys compare
    repo_of_base = Path(os.path.relpath(base.root, tmp))
    head_in_repo = Path(os.path.relpath(head_root.resolve(), repo))
    for r in base.resources:
        r.file = _rebase(r.file, repo_of_base, head_in_repo)
    keys = {(_rebase(f.file, repo_of_base, head_in_repo) or "", f.address or "", f.rule, f.tag or "")
            for f in base.result.findings}
    budgets = {b.name: b.to_json() for b in base.result.budgets or []}
    return {"index": costdiff.base_index(base.resources), "keys": keys, "budgets": budgets}


def _child(conn, *args) -> None:
    try:
        conn.send(("ok", _base_payload(*args)))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent as one line
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_diff(ref: str, paths: Sequence[str], config, var_files, variables, options,
             parallel: bool | None = None, bill: dict[str, Any] | None = None) -> ScanResult:
    """Scan base and working tree and keep only what the change introduces.

    ``bill`` (``actuals.diffbill.read_bill``, for ``--bill``): budgets are judged on the team's actual
    run-rate plus the change's delta, not only on what the repository declares.

    The base scan runs in a forked child process while the working tree is read
    (where ``fork`` exists and there is more than one CPU): the two scans are
    independent until the working tree's rules need the base index.
    """

    first = Path(paths[0]) if paths else Path.cwd()
    repo = repo_root(first.resolve() if first.exists() else Path.cwd())
    commit = resolve_ref(repo, ref)
    rels = []
    for p in paths:
        absolute = Path(p).resolve()
        try:
            rel = absolute.relative_to(repo).as_posix()
        except ValueError:
            raise DiffError(f"{p}: outside the git repository {repo}") from None
        rels.append(rel or ".")
    tmp = Path(tempfile.mkdtemp(prefix="tagguard-base-")).resolve()
    try:
        # The base tree's root stands for the repository's: reads (module sources, files) are confined
        # to it as they are to the git top-level in the working tree (safeio.scan_boundary looks for .git).
        (tmp / ".git").mkdir()
        materialize(repo, commit, rels, tmp)
        base_paths = [str(tmp / r) if r != "." else str(tmp) for r in rels]
        present = [bp for bp in base_paths if os.path.exists(bp)]
        head_paths = [str(Path(p)) for p in paths]
        head_inv = build_inventory(head_paths, config)
        options = ScanOptions.coerce(options)
        args = (present, config, var_files, variables, replace(options), tmp, repo, head_inv.root)
        if parallel is None:
            parallel = hasattr(os, "fork") and (os.cpu_count() or 1) > 1 and bool(present)
        proc = conn = None
        payload: dict[str, Any] = {"index": {}, "keys": set(), "budgets": {}}
        if present and parallel:
            import multiprocessing

            mp = multiprocessing.get_context("fork")
            conn, child_conn = mp.Pipe(duplex=False)
            proc = mp.Process(target=_child, args=(child_conn, *args), daemon=True)
            proc.start()
            child_conn.close()
        elif present:
            payload = _base_payload(*args)
        head_ctx = ScanContext(config, head_inv.root, var_files=var_files, variables=variables,
                               options=replace(options))
        head_out = collect(head_inv, head_ctx)
        if proc is not None and conn is not None:
            try:
                status, value = conn.recv()
            except EOFError:
                status, value = "error", "the base scan process ended without a result"
            proc.join()
            if status != "ok":
                raise DiffError(f"scanning {ref}: {value}")
            payload = value
        head_ctx.options = replace(head_ctx.options, diff_base=payload["index"])
        root = head_paths[0] if len(head_paths) == 1 else str(head_inv.root)
        result = evaluate(head_out, head_ctx, root=root)
        hidden = _filter_findings(result, head_out.resources, payload["keys"], payload["budgets"])
        if bill is not None:
            from tagguard.actuals import diffbill

            hidden += diffbill.apply(result, payload["budgets"], bill, config, head_inv.root)
        result.diff = _diff_object(ref, commit, rels, head_out.resources, head_ctx.outputs.removed, result, hidden)
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _filter_findings(result: ScanResult, resources, base_keys, base_budgets) -> int:
    """Keep findings of new or changed resources; drop what the base already had; return how many went.

    An input that could not be looked at (``not_scanned``: a chart without helm) is never "pre-existing":
    the change in it cannot be judged, so its finding stays (and ``result.unseen`` sets exit code 2)."""
    action = {r.address: r.meta.get("action") for r in resources}
    kept: list[Finding] = []
    hidden = 0
    for f in result.findings:
        if f.rule == "over-budget":
            name = f.extra.get("budget")
            old = base_budgets.get(name)
            now = next((b for b in result.budgets or [] if b.name == name), None)
            if old is None or not old.get("over") \
                    or (now is not None and now.projected_usd > old["projected_usd"] + 0.005) \
                    or (now is not None and now.projected_gpu_hours > old["projected_gpu_hours"] + 1e-6):
                kept.append(f)
            else:
                hidden += 1
            continue
        if f.category == NOT_SCANNED:
            kept.append(f)
            continue
        act = action.get(f.address or "")
        if act is not None:
            if act in ("create", "update"):
                kept.append(f)
            else:
                hidden += 1
            continue
        if (f.file or "", f.address or "", f.rule, f.tag or "") in base_keys:
            hidden += 1
        else:
            kept.append(f)
    result.findings = kept
    return hidden


def _diff_object(ref: str, commit: str, rels, resources, removed, result: ScanResult, hidden: int) -> DiffInfo:
    added, changed = [], []
    for r in resources:
        if not r.ai or r.meta.get("served_by"):
            continue
        act = r.meta.get("action")
        row = {"address": r.address, "type": r.type, "file": r.file, "line": r.line,
               "before_monthly_usd": r.meta.get("cost_before_monthly_usd"),
               "after_monthly_usd": None if r.cost is None else r.cost.monthly_usd,
               "delta_monthly_usd": r.meta.get("cost_delta_monthly_usd")}
        if row["after_monthly_usd"] is not None:
            row["after_monthly_usd"] = round(row["after_monthly_usd"], 2)
        if act == "create":
            added.append(row)
        elif act == "update":
            row["changed"] = list(r.meta.get("changed") or [])
            changed.append(row)
    gone = []
    for old in removed:
        if not old.get("ai") or old.get("served_by"):
            continue
        m = old.get("monthly_usd")
        gone.append({"address": old["address"], "type": old["type"], "file": old.get("file"), "line": old.get("line"),
                     "before_monthly_usd": None if m is None else round(m, 2), "after_monthly_usd": 0.0,
                     "delta_monthly_usd": None if m is None else -round(m, 2)})
    for rows in (added, changed, gone):
        rows.sort(key=lambda x: (x["file"] or "", x["address"]))
    total = result.cost_diff.total_delta_monthly_usd if result.cost_diff is not None else 0.0
    return DiffInfo(base=ref, base_commit=commit, paths=list(rels), total_delta_monthly_usd=total,
                    added=added, changed=changed, removed=gone, preexisting_findings_hidden=hidden)
