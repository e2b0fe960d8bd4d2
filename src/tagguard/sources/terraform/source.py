"""Terraform HCL -> Resources, without running Terraform.

Every directory of ``.tf`` files is a module.  Directories that are only used
as local child modules of other scanned directories are evaluated through
their calls (with the call's arguments and providers), not on their own.
"""
from __future__ import annotations

import os
import re
from bisect import bisect_right
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Iterable

from tagguard.model import INFO, NOT_SCANNED, WARNING, Finding, Resource, Suppression, Unpropagated
from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput, parse_error, posix_dirname
from tagguard.sources.terraform import extract as ex
from tagguard.sources.terraform.hyperpod import ex_sagemaker_cluster
from tagguard.sources.terraform.module import (
    Loader, Located, ModuleInstance, _safe_eval, bound_scope, expand_repetition, is_local_source, static_string,
)
from tagguard.hcl.values import Unknown

if TYPE_CHECKING:
    from tagguard.sources.terraform.k8s import Unknowns

_IGNORE = re.compile(r"tagguard:ignore\b\s*(?P<rules>[\w,\s*-]*?)\s*(?:--\s*(?P<reason>.*\S))?\s*$")

FIX_HINT = {
    "aws": "`tags` or the provider's default_tags",
    "gcp": "`labels` or the provider's default_labels",
    "azure": "`tags`",
}


class TerraformSource(Source):
    name = "terraform"

    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        out = SourceOutput()
        tf_files = inventory.unclaimed((".tf", ".tf.json", ".tfvars", ".tfvars.json"))
        if not tf_files:
            return out
        inventory.claim(tf_files)
        dirs = sorted({posix_dirname(f) for f in tf_files if f.endswith((".tf", ".tf.json"))})
        data_dir = os.environ.get("TF_DATA_DIR", "").strip("/")
        if data_dir and data_dir != ".terraform" and not os.path.isabs(data_dir):
            # downloaded modules in a relocated .terraform are read through modules.json, not as roots
            marker = f"/{data_dir}/modules/"
            dirs = [d for d in dirs if marker not in f"/{d}/"]
        from tagguard.sources.terraform.remote import from_options

        remote = from_options(ctx.config, ctx.options.fetch_modules)
        loader = Loader(inventory.root, remote.rel_of(ctx.rel), _reader(out, ctx, remote), boundary=ctx.boundary)
        loader.remote = remote
        defs = {d: loader.module_def(inventory.path(d)) for d in dirs}
        children: set[str] = set()
        for d, mdef in defs.items():
            for _call, src in mdef.local_sources():
                child = Path(os.path.relpath((mdef.dir / src).resolve(), inventory.root.resolve())).as_posix()
                if child != d:
                    children.add(child)
        roots = [d for d in dirs if d not in children]
        # symlinks leaving the repository that the walk already reported are not reported twice
        walked_out = {f.file for f in inventory.problems if "outside the scanned repository" in f.message}
        for d in dirs:
            for issue in defs[d].parse_issues:
                if issue[0] in walked_out and "outside the scanned repository" in issue[2]:
                    continue
                out.findings.append(parse_error(issue[0], issue[1] or None, f"{issue[0]}:{issue[1]}: {issue[2]}"))
        reported_remote: set[tuple[str, int]] = set()
        k8s_items: list[dict] = []
        helm_items: list[dict] = []
        unknowns = _K8sUnknowns()
        focus = getattr(inventory, "tf_focus", None) or {}
        callers_only: set[str] = set(getattr(inventory, "tf_caller_dirs", None) or ())
        path_dirs = {os.path.realpath(inventory.path(d)) for d in dirs}
        only_dirs = {os.path.realpath(inventory.path(d)) for d in dirs if d not in callers_only}
        walked: set[str] = set()
        for d in roots:
            values, problems = root_values(inventory.path(d), defs[d], ctx)
            out.findings.extend(problems)
            inst = ModuleInstance(loader, defs[d], "", root_values=values)
            tfvars = [f for f in tf_files if f.endswith((".tfvars", ".tfvars.json"))]
            inst.var_hints = _TfvarsHints(d, tfvars, set(dirs), inventory, ctx)
            walker = _Walker(ctx, out, reported_remote)
            walker.k8s_unknowns = unknowns
            if callers_only:
                walker.only_dirs, walker.path_dirs, walker.walked = only_dirs, path_dirs, walked
            walker.walk(inst)
            k8s_items.extend(walker.k8s_items)
            helm_items.extend(walker.helm_items)
            if d in focus:
                _note_uncalled(out, d, focus[d], inst)
        if callers_only:
            _note_uninstantiated(out, focus, defs, roots, walked, inventory)
        _judge_embedded(out, helm_items, k8s_items, unknowns, inventory, ctx)
        scanned = {os.path.realpath(mdef.dir) for mdef in defs.values()}
        for key, mdef in list(loader.defs.items()):
            if key in scanned:
                continue  # modules read through modules.json: report what did not parse
            for issue in mdef.parse_issues:
                out.findings.append(parse_error(issue[0], issue[1] or None, f"{issue[0]}:{issue[1]}: {issue[2]}"))
        for file, line, message in loader.problems:
            out.findings.append(parse_error(file, line, f"{file}:{line}: {message}", severity=WARNING))
        if callers_only:
            # modules added only to evaluate a changed child module through its callers:
            # their own resources and findings are not what was asked about
            def elsewhere(file: str | None) -> bool:
                return file is not None and posix_dirname(file) in callers_only

            out.resources = [r for r in out.resources if not elsewhere(r.file)]
            out.findings = [f for f in out.findings if not elsewhere(f.file)]
        return out


def _note_uninstantiated(out: SourceOutput, focus: dict, defs: dict, roots: list[str], walked: set[str],
                         inventory: Inventory) -> None:
    """A changed child module judged through its callers, none of which creates an instance of it."""
    for d, info in focus.items():
        if info.get("callers") and d in defs and d not in roots and \
                os.path.realpath(inventory.path(d)) not in walked and defs[d].resources:
            first = defs[d].resources[0]
            out.findings.append(Finding(
                rule="not-scanned", category=NOT_SCANNED, severity=INFO, file=first.file, line=first.block.line,
                address=None,
                message=(f"module {d if d != '.' else Path(os.path.realpath(inventory.path(d))).name}:"
                         f" the modules that call it "
                         f"({', '.join(info['callers'][:4])}) create no instance of it"
                         f" (an empty for_each, or a call that "
                         "cannot be evaluated), so its resources are not checked"),
                fix=("scan the module with the inputs of a real instance (--var / --var-file),"
                     " or check the caller's count/for_each")))


def _judge_embedded(out: SourceOutput, helm_items: list[dict], k8s_items: list[dict], unknowns: _K8sUnknowns,
                    inventory: Inventory, ctx: ScanContext) -> None:
    """Charts of helm_release blocks (rendered with the release's values) and Kubernetes objects declared in
    Terraform, judged by the Kubernetes reader; the files they read are claimed so no other reader counts them."""
    if helm_items:
        from tagguard.sources.terraform import helm_release

        rendered, chart_files = helm_release.render(helm_items, inventory, ctx)
        out.extend(rendered)
        inventory.claim(chart_files)  # judged here with the release's values
    if k8s_items:
        from tagguard.sources.terraform import k8s

        out.extend(k8s.build(k8s_items, ctx, unknowns.real()))
        # manifests read with file()/templatefile() were judged here: the YAML reader must not count them again
        inventory.claim(f for item in k8s_items for f in item["files"])


def _note_uncalled(out: SourceOutput, rel_dir: str, info: dict, inst: ModuleInstance) -> None:
    """A changed module that no module of the repository calls is scanned as a root: say so."""
    from tagguard.sources.terraform.callers import uncalled_note

    unknown_vars = []  # evaluated as a root: whatever the text search found, no module block calls it
    for name, decl in inst.mdef.variables.items():
        if isinstance(inst.var[name], Unknown):
            unknown_vars.append((name, decl.file, decl.block.line))
    if not unknown_vars:
        return  # every input has a value (defaults, tfvars, --var): a root module like any other
    label = rel_dir if rel_dir not in ("", ".") else Path(os.path.realpath(inst.mdef.dir)).name
    note = uncalled_note(label, info, inst, unknown_vars)
    if note is not None:
        out.findings.append(note)


class _K8sUnknowns:
    """Created on first use: most scans declare no Kubernetes objects in Terraform."""

    def __init__(self) -> None:
        self._real: Any = None

    def __getattr__(self, name: str) -> Any:
        if name == "_real":
            raise AttributeError(name)
        return getattr(self.real(), name)

    def real(self) -> Unknowns:
        if self._real is None:
            from tagguard.sources.terraform.k8s import Unknowns

            self._real = Unknowns()
        return self._real


def _reader(out: SourceOutput, ctx: ScanContext, remote=None):
    """Reads for the module loader: confined to the scan boundary (or, for a module from the
    module cache, to its one download), regular files only, at most the per-file cap
    (``safeio``); refusals raise ``OSError`` with the reason for the caller."""
    from tagguard import safeio

    boundary = ctx.boundary
    cap = safeio.max_file_bytes()

    def read(path: Path) -> bytes:
        entry = remote.entry_of(path) if remote is not None else None
        return safeio.read_bytes(path, entry or boundary, cap)
    return read


def _remote_not_scanned(inst: ModuleInstance, call: Located, name: str, shown: str, why: str) -> Finding:
    """Info when nothing suggests GPUs; a warning on the input's line when an input mentions
    accelerators (remote/gpu_inputs.py), or when a download that was asked for failed."""
    from tagguard.sources.terraform.remote.gpu_inputs import accelerator_input

    address = f"{inst.prefix}module.{name}"
    text = f"remote module {shown} is not on disk ({why}), so the resources it creates are not checked"
    fix = ("run `terraform init` before the scan, run once with --fetch-modules (allowed hosts only), "
           "or scan the plan JSON (`terraform show -json`)")
    gpu = accelerator_input(call.block.body, lambda expr: _safe_eval(expr, inst))
    if gpu is not None:
        line, input_name, what = gpu
        return Finding(
            rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=call.file, line=line, address=address,
            message=(f"{address}: GPU capacity here was not evaluated: run with --fetch-modules or `terraform init` "
                     f"(input {input_name} mentions {what}; {text})"),
            fix=fix)
    remote = inst.loader.remote
    call_key = f"{inst.module_key}.{name}" if inst.module_key else name
    failed = remote is not None and remote.fetch and inst.loader.remote_why.get(call_key, "").startswith(
        ("host ", "download failed", "its source"))
    return Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING if failed else INFO, file=call.file,
                   line=call.block.line, address=address, message=f"{address}: {text}", fix=fix)


# --- root variable values ------------------------------------------------------------

def root_values(directory: Path, mdef, ctx: ScanContext) -> tuple[dict[str, Any], list[Finding]]:
    """Terraform's precedence: TF_VAR_* < terraform.tfvars(.json) < *.auto.tfvars (lexical) < -var-file/-var."""
    from tagguard.hcl import parse as hcl

    values: dict[str, Any] = {}
    problems: list[Finding] = []
    for name, decl in mdef.variables.items():
        env = os.environ.get(f"TF_VAR_{name}")
        if env is not None:
            values[name] = _parse_cli_value(env, decl)
    files: list[Path] = []
    for fname in ("terraform.tfvars", "terraform.tfvars.json"):
        if (directory / fname).is_file():
            files.append(directory / fname)
    try:
        autos = sorted(n for n in os.listdir(directory) if n.endswith((".auto.tfvars", ".auto.tfvars.json")))
    except OSError:
        autos = []
    files.extend(directory / n for n in autos)
    from tagguard import safeio

    confined = len(files)  # the module's own tfvars: always inside the repository
    untrusted = _untrusted_var_files(ctx)
    files.extend(Path(p) for p in ctx.var_files)
    for index, path in enumerate(files):
        rel = ctx.rel(path)
        # --var-file and a trusted config may name any file; the module's own tfvars and the
        # var_files of the scanned repository's config stay inside the repository
        boundary = ctx.boundary if index < confined or os.path.abspath(path) in untrusted else None
        try:
            data = safeio.read_bytes(path, boundary)
        except OSError as exc:
            if isinstance(exc, safeio.ReadRefused):
                problems.append(parse_error(rel, None, f"variables file not read: {exc}"))
            else:
                problems.append(parse_error(rel, None, f"{rel}: cannot read variables file ({exc.strerror or exc})"))
            continue
        if path.name.endswith(".json"):
            try:
                parsed = safeio.load_json(data.decode("utf-8"), rel)
                if not isinstance(parsed, dict):
                    raise ValueError("top level must be an object")
                values.update(parsed)
            except (ValueError, UnicodeDecodeError) as exc:
                line = getattr(exc, "lineno", 1)
                problems.append(parse_error(rel, line,
                                            f"{rel}:{line}: invalid variables file: {str(exc).splitlines()[0]}"))
            continue
        parsed = hcl.parse(data, rel)
        for issue in parsed.errors:
            problems.append(parse_error(rel, issue.line, f"{rel}:{issue.line}: {issue.message}"))
        for name, attr in parsed.body.attributes.items():
            values[name] = _safe_eval(attr.expr, ex_empty_scope())
    for name, raw in (ctx.variables or {}).items():
        decl = mdef.variables.get(name)
        values[name] = _parse_cli_value(raw, decl) if isinstance(raw, str) else raw
    return values, problems


class _TfvarsHints:
    """``*.tfvars`` files Terraform does not load by itself (``prod.tfvars``, ``envs/dev.tfvars``)
    beside a root module or in its subdirectories that hold no module: what they set for a
    variable that has no value otherwise.  Read on first use only."""

    AUTO = ("terraform.tfvars", "terraform.tfvars.json")

    def __init__(self, root: str, tfvars: list[str], module_dirs: set[str], inventory: Inventory, ctx: ScanContext):
        prefix = "" if root in ("", ".") else root + "/"
        given = {os.path.abspath(str(p)) for p in ctx.var_files}
        self._files = []
        for f in tfvars:
            if not f.startswith(prefix):
                continue
            rest = f[len(prefix):]
            parent = posix_dirname(f)
            name = rest.rsplit("/", 1)[-1]
            if "/" not in rest and (name in self.AUTO or name.endswith((".auto.tfvars", ".auto.tfvars.json"))):
                continue  # loaded already
            if "/" in rest and (parent in module_dirs or rest.count("/") > 2):
                continue  # another module's, or too far away to be this one's
            if os.path.abspath(str(inventory.path(f))) in given:
                continue
            self._files.append(f)
        self._inventory = inventory
        self._ctx = ctx
        self._parsed: dict[str, list[tuple[Any, str]]] | None = None

    def get(self, name: str, default: Any = None) -> Any:
        if not self._files:
            return default
        if self._parsed is None:
            self._parsed = self._parse()
        return self._parsed.get(name, default)

    def _parse(self) -> dict[str, list[tuple[Any, str]]]:
        from tagguard import safeio
        from tagguard.hcl import parse as hcl

        out: dict[str, list[tuple[Any, str]]] = {}
        for rel in self._files[:50]:
            try:
                data = safeio.read_bytes(self._inventory.path(rel), self._ctx.boundary)
            except OSError:
                continue  # the file is reported by whoever reads it as input, not here
            values: dict[str, Any] = {}
            if rel.endswith(".json"):
                try:
                    doc = safeio.load_json(data.decode("utf-8"), rel)
                except (ValueError, UnicodeDecodeError):
                    continue
                values = doc if isinstance(doc, dict) else {}
            else:
                parsed = hcl.parse(data, rel)
                for key, attr in parsed.body.attributes.items():
                    values[key] = _safe_eval(attr.expr, ex_empty_scope())
            for key, value in values.items():
                out.setdefault(key, []).append((value, rel))
        return out


def _untrusted_var_files(ctx: ScanContext) -> set[str]:
    """``terraform.var_files`` of a config that lies inside the scanned repository (the
    repository's own ``.tagguard.yaml``): reads of them are confined to the repository."""
    from tagguard.safeio import inside

    config = ctx.config
    path = getattr(config, "path", None)
    trusted = getattr(config, "trusted", None)  # config.Config: False for the repository's own file
    if trusted is True or (trusted is None and (path is None or not inside(path, ctx.boundary))):
        return set()
    try:
        rels = (config.section("terraform") or {}).get("var_files") or []
        return {os.path.abspath(config.base_dir / rel) for rel in rels if isinstance(rel, str)}
    except Exception:  # noqa: BLE001 - an odd config section is the config checker's to report
        return set()


def ex_empty_scope():
    from tagguard.sources.terraform.module import hcl_empty_scope

    return hcl_empty_scope()


def _parse_cli_value(raw: str, decl: Located | None) -> Any:
    """``-var``/``TF_VAR_`` values are strings unless the variable's type is complex."""
    if decl is None:
        return raw
    type_attr = decl.block.body.get("type")
    type_text = ""
    if type_attr is not None:
        try:
            type_text = type_attr.expr.source_text().strip()
        except Exception:  # noqa: BLE001
            type_text = ""
    if not type_text or type_text == "string":
        return raw
    from tagguard.hcl import parse as hcl

    parsed = hcl.parse(f"v = {raw}\n".encode(), "<cli>")
    attr = parsed.body.get("v")
    if parsed.errors or attr is None:
        return raw
    return _safe_eval(attr.expr, ex_empty_scope())


# --- walking instances -------------------------------------------------------------------

class _Walker:
    def __init__(self, ctx: ScanContext, out: SourceOutput, reported_remote: set[tuple[str, int]]):
        self.ctx = ctx
        self.out = out
        self.reported_remote = reported_remote
        self.scope_all = ctx.config.scope == "all"
        self.k8s_items: list[dict] = []
        self.helm_items: list[dict] = []  # helm_release instances (rendered by collect)
        self.k8s_unknowns: Any = None  # terraform/k8s.Unknowns shared by the scan (set by collect)
        self.only_dirs: set[str] | None = None  # changed modules (real paths) when judged through callers
        self.path_dirs: set[str] = set()  # those and their callers: the module calls worth following
        self.walked: set[str] = set()  # changed modules that some caller instantiated
        self.accelerators: dict[str, Any] = {}  # ex.catalog_info's answers for this scan's instance types
        self.default_maps: dict[Any, ex.TagMap] = {}  # provider configuration (or None) -> its default tags

    def walk(self, inst: ModuleInstance, in_focus: bool = False) -> None:
        if self.only_dirs is not None:
            # a changed child module judged through its callers: the callers' own resources and
            # their other modules are not evaluated, only the path down to the changed module
            real_dir = os.path.realpath(inst.mdef.dir)
            in_focus = in_focus or real_dir in self.only_dirs
            if real_dir in self.only_dirs:
                self.walked.add(real_dir)
            if not in_focus:
                for call in inst.mdef.module_calls:
                    name = call.block.labels[0]
                    source = static_string(call.block.body.get("source"))
                    if source is None or not is_local_source(source):
                        continue
                    if os.path.realpath(inst.mdef.dir / source) not in self.path_dirs:
                        continue
                    for _key, child in inst.children(name) or []:
                        self.walk(child)
                return
        records = []
        for loc in inst.mdef.resources:
            try:
                records.extend(self.resource(inst, loc))
            except RecursionError:
                self.out.findings.append(parse_error(loc.file, loc.block.line,
                                                     f"{loc.file}:{loc.block.line}:"
                                                     f" resource is nested too deeply to evaluate"))
        _link_sagemaker(records)
        for rec in records:
            self.out.resources.append(rec[0])
        for call in inst.mdef.module_calls:
            name = call.block.labels[0]
            source = static_string(call.block.body.get("source"))
            children = inst.children(name) if source is not None else None
            if children is None and (source is None or not is_local_source(source)):
                key = (call.file, call.block.line)
                if key not in self.reported_remote:
                    self.reported_remote.add(key)
                    shown = source if source is not None else "a non-literal source"
                    module_key = f"{inst.module_key}.{name}" if inst.module_key else name
                    why = inst.manifest.stale.get(module_key) if inst.manifest is not None else None
                    why = why or "there is no .terraform/modules/modules.json from `terraform init`"
                    fetched = inst.loader.remote_why.get(module_key)
                    why = f"{why}; {fetched}" if fetched else why
                    self.out.findings.append(_remote_not_scanned(inst, call, name, shown, why))
                    from tagguard.pricing.placement import module_input_pools  # pools pods select, for pricing

                    self.out.resources.extend(module_input_pools(inst, call, name))
                continue
            for _key, child in children or []:
                self.walk(child, in_focus)

    # -- one resource block ------------------------------------------------------------
    def resource(self, inst: ModuleInstance, loc: Located) -> list[tuple[Resource, Any, Any, Any]]:
        block = loc.block
        rtype, rname = block.labels[0], block.labels[1]
        if rtype.startswith(("kubernetes_", "kubectl_")):
            self.k8s_resource(inst, loc, rtype, rname)
            return []
        if rtype == "helm_release":  # a local chart rendered with the release's values (helm_release.py)
            from tagguard.sources.terraform import helm_release

            self.helm_items.extend(helm_release.items(self, inst, loc))
            return []
        kind = ex.kind_of(rtype)
        body = block.body
        if kind is None:
            if not self.scope_all:
                return []
            spec = _generic_spec(rtype, body)
            if spec is None:
                return []
            kind = ex.Kind(spec, rtype)
        provider_ref = None
        pattr = body.get("provider")
        if pattr is not None:
            try:
                provider_ref = pattr.expr.source_text().strip()
            except Exception:  # noqa: BLE001
                provider_ref = None
        # inst.provider_for(rtype, provider_ref), with the type's default provider key read off its kind
        provider = inst.providers.get(provider_ref or kind.provider_key)
        comments = inst.mdef.comment_lines(loc.file)
        if comments is None:  # no comment of the file says tagguard:ignore: nothing to look for around the block
            suppressions: list[Suppression] = []
        else:
            suppressions, bad = _suppressions(comments, block.line, block.end_line, loc.file)
            self.out.findings.extend(bad)
        base = f"{inst.prefix}{rtype}.{rname}"
        if body.get("for_each") is None and body.get("count") is None:
            # the one instance expand_repetition gives such a block, ("", {}): count 1 in the module instance's own
            # scope, without building its list, bindings and bound scope (most resource blocks repeat nothing)
            res, extra = self.build(rtype, kind, body, inst, inst, provider, base, loc, 1)
            res.suppressions = suppressions
            return [(res, body, inst, extra)]
        out = []
        for suffix, bindings in expand_repetition(body, inst, base):
            count = bindings.pop("__count__", 1) if "__count__" in bindings else 1
            scope = bound_scope(inst, bindings)
            res, extra = self.build(rtype, kind, body, scope, inst, provider, base + suffix, loc, count)
            res.suppressions = suppressions
            out.append((res, body, scope, extra))
        return out

    def possibly_ai(self, res: Resource, comp, unknown: list[str]) -> None:
        """A compute resource whose size cannot be resolved: judged as AI unless ``possibly_ai: false``."""
        what = "; ".join(dict.fromkeys(unknown))
        judged = _possibly_ai_enabled(self.ctx)
        if judged:
            res.ai = True
            res.meta["possibly_ai"] = True
            if res.compute is None:
                res.compute = comp
            res.compute.notes.append(f"possibly AI: its size is unknown ({what})")
            verdict = "it is judged against the taxonomy as possibly AI"
        else:
            verdict = "`possibly_ai: false` in the config, so its tags are not checked"
        self.out.findings.append(Finding(
            rule="unresolved-size", category="unresolved_size", severity=WARNING, address=res.address,
            file=res.file, line=res.line, resource_type=res.type,
            message=f"{res.address}: cannot tell whether it runs GPUs/AI accelerators: {what}; {verdict}",
            fix=_how_to_tell(unknown), extra={"unknown": list(dict.fromkeys(unknown))}))

    def k8s_resource(self, inst: ModuleInstance, loc: Located, rtype: str, rname: str) -> None:
        """Kubernetes objects declared in Terraform: collected here, judged by the Kubernetes reader."""
        from tagguard.sources.terraform import k8s

        if rtype not in k8s.TYPES:
            return
        body = loc.block.body
        log = inst.loader.read_log
        first = len(log)  # files read for for_each (fileset, manifest_decode_multi(file(...))) count too
        unk = self.k8s_unknowns
        lenient = k8s.scope_for(inst, inst, unk)  # each.value keeps what templates know
        for suffix, bindings in expand_repetition(body, lenient, f"{inst.prefix}{rtype}.{rname}"):
            if bindings.pop("__count__", None) == 0:
                continue  # count = 0: not created
            address = f"{inst.prefix}{rtype}.{rname}{suffix}"
            scope = k8s.scope_for(bound_scope(inst, bindings), inst, unk)
            try:
                objs, yaml_text, why = k8s.objects_of(rtype, body, scope, unk)
            except RecursionError:
                objs, yaml_text, why = [], None, "it is nested too deeply to evaluate"
            read = [self.ctx.rel(p) for p in log[first:]]
            if why is not None:
                self.out.findings.append(Finding(
                    rule="not-scanned", category=NOT_SCANNED, severity=INFO, file=loc.file, line=loc.block.line,
                    address=address, message=f"{address}: the Kubernetes objects it creates are not checked: {why}",
                    fix="pass the manifest as a literal object or a file read with yamldecode(file(...))"))
                continue
            self.k8s_items.append({"objs": objs, "yaml": yaml_text, "file": loc.file, "line": loc.block.line,
                                   "address": address, "module": inst.prefix.rstrip(".") or None, "files": read})

    def build(self, rtype, kind: ex.Kind, body, scope, inst, provider, address, loc, count):
        tags_path = kind.tags
        if tags_path:
            value = ex.get_path(body, tags_path, scope)
            own = ex.TagMap.of(None if value is ex._MISSING else value, kind.tags_origin)
        else:
            own = ex.TagMap()
        # made once per provider configuration of the scan (~4 K instructions a resource asked anew): the
        # resources that use it only read it (overlays copy), and a configuration does not change during a scan
        defaults = self.default_maps.get(provider)
        if defaults is None:
            defaults = self.default_maps[provider] = _default_tag_map(provider)
        # default tags are known even where they do not apply (ASGs), to say so
        effective = defaults.overlay(own) if kind.default_tags else own
        unknown: list[str] = []
        conflicts: list[str] = []
        comp, ai = ex.compute_for(kind, body, scope, inst.multiplier, count, unknown, conflicts, self.accelerators)
        if provider is not None and isinstance(provider.region, str):
            comp.region = provider.region
        res = Resource(address=address, type=rtype, source="terraform", file=loc.file, line=loc.block.line,
                       ai=ai, taggable=kind.taggable, tag_style=kind.style, compute=comp,
                       tag_fix_hint=FIX_HINT.get(kind.fix_provider))
        module = inst.prefix.rstrip(".")
        if module:
            res.meta["module"] = module
        res.meta["_size_unknown"] = unknown
        extractor = kind.extractor
        extra = None
        if extractor:
            handler = EXTRACTORS.get(extractor)
            if handler is not None:
                effective, extra = handler(self, res, kind.spec, body, scope, inst, effective, defaults, own)
        res.meta.pop("_size_unknown", None)
        if rtype in ("aws_eks_node_group", "google_container_node_pool", "azurerm_kubernetes_cluster_node_pool"):
            from tagguard.pricing.placement import terraform_pool  # labels/taints/types the pods select

            res.meta["node_pool"] = terraform_pool(rtype, body, scope, address, res)
        # effective is this resource's own map: made above by overlay or TagMap.of, or by its extractor the same way
        effective.give_to(res)
        for text in conflicts:
            self.out.findings.append(Finding(
                rule="accelerator-conflict", category="accelerator_conflict", severity=WARNING, address=address,
                file=loc.file, line=loc.block.line, resource_type=rtype,
                message=f"{address}: {text}; the machine type's GPUs are counted",
                fix=("remove the accelerator block (the machine type attaches its GPUs),"
                     " or make it match the machine type")))
        if kind.ai == "instance" and not res.ai and unknown and _may_exist(res.compute or comp):
            self.possibly_ai(res, comp, unknown)
        if not res.ai or not kind.billed_by_capacity:
            res.compute = None  # AI services billed per request/storage (models, domains) have no compute profile
        elif res.compute is None and not res.meta.get("served_by") and rtype != "aws_sagemaker_endpoint_configuration":
            res.compute = comp
        return res, extra


def _default_tag_map(provider) -> ex.TagMap:
    """A provider configuration's default tags as a TagMap (the walker makes it once for all the resources
    that use the configuration: they only read it, overlays copy)."""
    if provider is None or provider.default_tags is None:
        return ex.TagMap()
    return ex.TagMap.of(provider.default_tags, provider.origin or f"provider {provider.key} default tags")


def _may_exist(comp) -> bool:
    return comp is None or comp.units != 0  # count = 0 or zero nodes: nothing runs


def _possibly_ai_enabled(ctx: ScanContext) -> bool:
    value = ctx.config.section("possibly_ai")
    return value is not False


def _how_to_tell(unknown: list[str]) -> str:
    names = list(dict.fromkeys(re.findall(r"\bvar\.([A-Za-z_][\w-]*)", " ".join(unknown))))
    name = names[0] if len(names) == 1 else "NAME"
    return (f"give tagguard the size: `--var {name}=<type>`, a tfvars file (`--var-file`), a variable default, "
            f"a `validation {{ condition = contains([...], var.{name}) }}` listing the allowed sizes, or a usage file")


def _generic_spec(rtype: str, body) -> dict | None:
    """``scope: all``: any resource of a taggable type (see taggable.yaml) or that sets tags/labels."""
    provider = {"aws": "aws", "google": "gcp", "azurerm": "azure"}.get(rtype.split("_", 1)[0])
    if provider is None:
        return None
    attr = "labels" if provider == "gcp" else "tags"
    if body.get(attr) is None and rtype not in _taggable_types():
        return None
    return {"provider": provider, "tags": attr, "default_tags": provider in ("aws", "gcp"), "ai": "never"}


def _taggable_types() -> set[str]:
    global _TAGGABLE
    if _TAGGABLE is None:
        data = ex.shipped_yaml("taggable.yaml") or {}
        _TAGGABLE = set(data.get("taggable", []))
    return _TAGGABLE


_TAGGABLE: set[str] | None = None


# --- suppressions ------------------------------------------------------------------------

def _suppressions(comments: tuple[dict[int, str], list[int]], start: int, end: int | None,
                  file: str) -> tuple[list[Suppression], list[Finding]]:
    """``# tagguard:ignore RULE[,RULE] -- reason`` on the resource line, directly above it, or inside it.
    ``comments``: the file's comments by line and their sorted lines (``ModuleDef.comment_lines``),
    so each resource costs the comments near it, not all of the file's."""
    by_line, sorted_lines = comments
    if not by_line:
        return [], []
    lines = [start]
    above = start - 1
    while above in by_line:
        lines.append(above)
        above -= 1
    lines.extend(sorted_lines[bisect_right(sorted_lines, start):bisect_right(sorted_lines, end or start)])
    sups: list[Suppression] = []
    bad: list[Finding] = []
    for ln in lines:
        text = by_line.get(ln)
        if not text or "tagguard:ignore" not in text:
            continue
        m = _IGNORE.search(text)
        rules = [r.strip() for r in re.split(r"[,\s]+", m.group("rules") or "") if r.strip()] if m else []
        reason = m.group("reason") if m else None
        if not m or not rules or not reason:
            bad.append(Finding(rule="invalid-suppression", category="invalid_suppression", severity=WARNING,
                               file=file, line=ln,
                               message=(f"{file}:{ln}: suppression needs a rule and a reason:"
                                        f" `# tagguard:ignore missing-tag -- why`; it is ignored"),
                               fix="add the rule id and `-- reason`"))
            continue
        sups.append(Suppression(rules=rules, reason=reason, file=file, line=ln))
    return sups, bad


# --- extractors for the shapes that need code ----------------------------------------------

def _launch_template(walker: _Walker, inst: ModuleInstance, body, scope, paths: Iterable[str],
                     res: Resource | None = None):
    """Follow ``launch_template { id = aws_launch_template.x.id }`` to the template in this module
    (also through ``dynamic "launch_template"`` blocks).  A reference that leads nowhere this
    module declares leaves the instance type unknown, and ``res`` records why."""
    unresolved = None
    for path in paths:
        for attr in _attrs_at(body, path, scope):
            found = _template_of(inst, attr.expr, 0)
            if found is not None:
                return found
            if unresolved is None:
                unresolved = f"`{path}` = `{ex_short(attr.expr)}` is not a launch template declared in this module"
    if unresolved is not None and res is not None:
        _size_unknown(res, unresolved)
    return None


def _template_of(inst: ModuleInstance, expr, depth: int):
    """The ``aws_launch_template`` an id/name expression refers to: in this module (one that
    ``count = 0`` does not remove), or, through ``var.x``, in the module that passes it in."""
    for ref in _references_through_locals(inst, expr):
        if len(ref) >= 2 and ref[0] == "aws_launch_template":
            loc = inst.mdef.resource("aws_launch_template", ref[1])
            if loc is not None and not _not_created(inst, loc):
                if depth == 0:
                    return loc
                found = Located(loc.file, loc.block)
                found.owner = inst  # evaluated in the module that declares it
                return found
        elif len(ref) >= 2 and ref[0] == "var" and depth < 4 and inst.inputs is not None and ref[1] in inst.inputs:
            parent, call = getattr(inst, "parent", None), getattr(inst, "call", None)
            attr = call.block.body.get(ref[1]) if call is not None else None
            if parent is not None and attr is not None:
                found = _template_of(parent, attr.expr, depth + 1)
                if found is not None:
                    return found
    return None


def _not_created(inst: ModuleInstance, loc: Located) -> bool:
    count = loc.block.body.get("count")
    if count is None:
        return False
    value = _safe_eval(count.expr, inst)
    return value == 0 and not isinstance(value, bool)


def _attrs_at(body, path: str, scope) -> list[Any]:
    """Attributes at ``a.b.c`` where ``a``, ``b`` are nested (possibly dynamic) blocks."""
    parts = path.split(".")
    holders = [(body, scope)]
    for part in parts[:-1]:
        nxt = []
        for b, s in holders:
            nxt.extend(ex.blocks_named(b, part, s))
        holders = nxt[:8]
    out = []
    for b, _s in holders:
        attr = b.get(parts[-1])
        if attr is not None:
            out.append(attr)
    return out


def ex_short(expr) -> str:
    try:
        text = " ".join(expr.source_text().split())
    except Exception:  # noqa: BLE001
        return "expression"
    return text if len(text) <= 60 else text[:57] + "..."


def _size_unknown(res: Resource, why: str) -> None:
    bucket = res.meta.get("_size_unknown")
    if bucket is not None and why not in bucket:
        bucket.append(why)


def _references_through_locals(inst: ModuleInstance, expr, depth: int = 0) -> list[tuple]:
    """References of an expression, following ``local.x`` into the local's own expression
    (``id = local.launch_template_id`` where the local picks ``aws_launch_template.this[0].id``)."""
    try:
        refs = expr.references()
    except Exception:  # noqa: BLE001
        return []
    out = []
    for ref in refs:
        out.append(ref)
        if depth < 3 and len(ref) >= 2 and ref[0] == "local":
            entry = inst.mdef.locals.get(ref[1])
            if entry is not None:
                out.extend(_references_through_locals(inst, entry[1].expr, depth + 1))
    return out


def _lt_instance_tags(inst: ModuleInstance, loc: Located) -> tuple[ex.TagMap, str | Unknown | None]:
    """Tags the template's ``tag_specifications`` put on instances, and its instance type."""
    inst = getattr(loc, "owner", None) or inst
    scope = inst
    keys = expand_repetition(loc.block.body, inst, "aws_launch_template")
    if keys:
        scope = bound_scope(inst, {k: v for k, v in keys[0][1].items() if k != "__count__"})
    tm = ex.TagMap()
    for spec_body, spec_scope in ex.blocks_named(loc.block.body, "tag_specifications", scope):
        rtype = ex.get_path(spec_body, "resource_type", spec_scope)
        if rtype == "instance" or isinstance(rtype, Unknown):
            value = ex.get_path(spec_body, "tags", spec_scope)
            origin = f"launch template {loc.block.labels[1]} tag_specifications ({loc.file}:{loc.block.line})"
            tm = tm.overlay(ex.TagMap.of(None if value is ex._MISSING else value, origin))
    itype = ex.get_path(loc.block.body, "instance_type", scope)
    if isinstance(itype, Unknown):
        return tm, itype
    return tm, itype if isinstance(itype, str) else None


def _apply_instance_type(res: Resource, itype: Any, spec: dict, where: str = "instance_type") -> None:
    """An instance type found through a launch template or an override (a string, or an
    ``Unknown`` that is recorded as what keeps the size unknown)."""
    if isinstance(itype, Unknown):
        if res.compute is not None and res.compute.instance_type:
            return
        bucket = res.meta.get("_size_unknown")
        comp = res.compute or Compute_from_spec(spec)
        itype = ex.size_from_unknown(comp, where, itype, bucket if bucket is not None else [], spec.get("provider"))
        if res.compute is None:
            res.compute = comp
    if not itype:
        return
    if res.compute is None:
        res.compute = Compute_from_spec(spec)
    if res.compute.instance_type is None:
        res.compute.instance_type = itype
        info = ex.catalog_info(itype)
        if info is not None:
            res.compute.accelerator, res.compute.gpus_per_unit = info
            res.ai = res.ai or spec.get("ai") == "instance"


def Compute_from_spec(spec: dict):
    from tagguard.model import Compute

    return Compute(provider=spec.get("provider"), service=spec.get("service"))


def _not_propagated(walker: _Walker, res: Resource, reaching: ex.TagMap, stuck: dict[str, str], why: str,
                    fix: str) -> None:
    """State the fact: keys set somewhere (``stuck``: key -> where) that do not reach the billed
    instances (``reaching`` does); rules/propagation.py decides which of them the taxonomy needs."""
    stuck = {k: place for k, place in stuck.items() if k not in reaching.known and k not in reaching.unresolved}
    if not stuck or reaching.open:  # what reaches may hold any key: nothing to say
        return
    res.unpropagated.append(Unpropagated(via="terraform", keys=stuck, reaching=dict(reaching.known),
                                         reaching_unresolved=list(reaching.unresolved), why=why, fix=fix))


def ex_autoscaling_group(walker, res, spec, body, scope, inst, effective, defaults, own):
    asg = ex.TagMap()
    propagated = ex.TagMap()
    stuck: dict[str, str] = {}
    for tag_body, tag_scope in ex.blocks_named(body, "tag", scope):
        key = ex.get_path(tag_body, "key", tag_scope)
        value = ex.get_path(tag_body, "value", tag_scope)
        prop = ex.get_path(tag_body, "propagate_at_launch", tag_scope)
        if isinstance(key, Unknown) or key is ex._MISSING:
            asg.open = propagated.open = True
            asg.open_reason = propagated.open_reason = "an ASG `tag` block's key is not known statically"
            continue
        tag_value = value if value is not ex._MISSING else None
        asg.put(str(key), tag_value, "ASG `tag` block")
        if prop is True or prop == "true":
            propagated.put(str(key), tag_value, "ASG `tag` block")
        elif isinstance(prop, Unknown):
            propagated.put(str(key), tag_value, "ASG `tag` block")
        else:
            stuck[str(key)] = "the ASG"
    for k in defaults.keys():
        if k not in asg.known:
            stuck.setdefault(k, "provider default_tags")
    lt = _launch_template(
        walker, inst, body, scope,
        ["launch_template.id", "launch_template.name",
         "mixed_instances_policy.launch_template.launch_template_specification.launch_template_id",
         "mixed_instances_policy.launch_template.launch_template_specification.launch_template_name"],
        res)
    itype: str | Unknown | None = None
    lt_tags = ex.TagMap()
    if lt is not None:
        lt_tags, itype = _lt_instance_tags(inst, lt)
    override = ex.get_path(body, "mixed_instances_policy.launch_template.override.instance_type", scope)
    where = f"launch template {lt.block.labels[1]}'s instance_type" if lt is not None else "instance_type"
    if isinstance(override, str) or (isinstance(override, Unknown) and not isinstance(itype, str)):
        itype, where = override, "mixed_instances_policy override instance_type"
    _apply_instance_type(res, itype, spec, where)
    bucket = res.meta.get("_size_unknown")
    if (res.compute is None or not res.compute.instance_type) and bucket is not None and not bucket and not res.ai:
        accelerated = _requirements_accelerated(body, scope, lt)
        if accelerated:
            # attribute-based selection that asks for accelerators: AI, whatever types are picked
            res.ai = True
            comp = res.compute or Compute_from_spec(spec)
            comp.accelerator = comp.accelerator or "GPU"
            comp.notes.append(f"instance types are chosen at launch by instance_requirements with {accelerated}; "
                              "GPU model and price are known only then")
            res.compute = comp
        elif _attrs_at(body, "mixed_instances_policy.launch_template.override.instance_requirements", scope) or \
                ex.blocks_named(body, "mixed_instances_policy", scope) and _has_requirements(body, scope):
            bucket.append("its instance types are chosen at launch by `instance_requirements`")
        elif lt is not None and itype is None:
            bucket.append(f"launch template `{lt.block.labels[1]}` ({lt.file}:{lt.block.line}) sets no instance_type "
                          "and no mixed_instances_policy override names one")
        elif lt is None and body.get("launch_configuration") is not None:
            bucket.append("its instance type comes from a launch configuration, which tagguard does not read")
    if res.ai and res.compute is not None:
        _mixed_policy(res.compute, body, scope)
    reaching = lt_tags.overlay(propagated)
    judged = asg.overlay(lt_tags) if lt_tags.keys() else asg
    if not asg.keys() and not lt_tags.keys() and lt is None and own.keys():
        judged = own
    _not_propagated(walker, res, reaching, stuck,
                    "ASG tag blocks reach instances only with propagate_at_launch = true, and provider default_tags "
                    "do not apply to ASG tag blocks or launch template tag_specifications",
                    "set propagate_at_launch = true on each `tag` block, or put the tags in the launch template's "
                    "tag_specifications { resource_type = \"instance\" }")
    res.tag_fix_hint = "`tag` blocks with propagate_at_launch = true, or the launch template's tag_specifications"
    return judged, None


def _mixed_policy(comp, body, scope) -> None:
    base = ex.get_path(body, "mixed_instances_policy.instances_distribution.on_demand_base_capacity", scope)
    pct = ex.get_path(body,
                      "mixed_instances_policy.instances_distribution.on_demand_percentage_above_base_capacity",
                      scope)
    if base is ex._MISSING and pct is ex._MISSING:
        return
    if comp.units is None:
        comp.pricing_model = "mixed"
        return
    base_n = int(base) if isinstance(base, (int, float)) and not isinstance(base, bool) else 0
    pct_n = float(pct) if isinstance(pct, (int, float)) and not isinstance(pct, bool) else 100.0
    import math

    above = max(comp.units - base_n, 0)
    on_demand = min(comp.units, base_n) + math.ceil(above * pct_n / 100.0)
    spot = comp.units - on_demand
    if spot <= 0:
        comp.pricing_model = "on_demand"
    elif on_demand <= 0:
        comp.pricing_model = "spot"
    else:
        comp.pricing_model = "mixed"
        comp.spot_units = spot


def _requirements_accelerated(body, scope, lt: Located | None) -> str | None:
    """``instance_requirements`` (in the ASG's overrides or the launch template) that require
    accelerators: ``accelerator_count { min >= 1 }`` or ``accelerator_types`` gpu/inference."""
    holders = []
    for mb, ms in ex.blocks_named(body, "mixed_instances_policy", scope):
        for lb, ls in ex.blocks_named(mb, "launch_template", ms):
            for ob, os_ in ex.blocks_named(lb, "override", ls):
                holders.extend(ex.blocks_named(ob, "instance_requirements", os_))
    if lt is not None:  # evaluated in the module that declares the template
        holders.extend(ex.blocks_named(lt.block.body, "instance_requirements", getattr(lt, "owner", None) or scope))
    for ib, iscope in holders:
        low = ex.get_path(ib, "accelerator_count.min", iscope)
        if isinstance(low, (int, float)) and not isinstance(low, bool) and low >= 1:
            return f"accelerator_count min {low:g}"
        kinds = ex.get_path(ib, "accelerator_types", iscope)
        if isinstance(kinds, list):
            wanted = [k for k in kinds if isinstance(k, str) and k.lower() in ("gpu", "inference")]
            if wanted:
                return f"accelerator_types {', '.join(wanted)}"
    return None


def _has_requirements(body, scope) -> bool:
    for mb, ms in ex.blocks_named(body, "mixed_instances_policy", scope):
        for lb, ls in ex.blocks_named(mb, "launch_template", ms):
            for ob, _os in ex.blocks_named(lb, "override", ls):
                if ob.get("instance_requirements") is not None or ob.blocks_of("instance_requirements") or \
                        any(d.labels and d.labels[0] == "instance_requirements" for d in ob.blocks_of("dynamic")):
                    return True
    return False


def ex_eks_node_group(walker, res, spec, body, scope, inst, effective, defaults, own):
    lt = _launch_template(walker, inst, body, scope, ["launch_template.id", "launch_template.name"], res)
    lt_tags = ex.TagMap()
    itype = None
    if lt is not None:
        lt_tags, itype = _lt_instance_tags(inst, lt)
    _apply_instance_type(res, itype, spec,
                         f"launch template {lt.block.labels[1]}'s instance_type" if lt is not None else "instance_type")
    bucket = res.meta.get("_size_unknown")
    listed = ex.get_path(body, "instance_types", scope)
    if (res.compute is None or not res.compute.instance_type) and bucket == [] and itype is None \
            and (listed is ex._MISSING or listed is None or listed == []):
        # EKS's own default when neither the node group nor its launch template names a type
        comp = res.compute or Compute_from_spec(spec)
        comp.instance_type = "t3.medium"
        comp.notes.append("no instance type is set: EKS uses t3.medium")
        res.compute = comp
    stuck = {k: "the node group" for k in own.keys()}
    for k in defaults.keys():
        stuck.setdefault(k, "the node group through provider default_tags")
    _not_propagated(walker, res, lt_tags, stuck,
                    "EKS does not copy node group tags to them",
                    f"add these keys to launch template `{lt.block.labels[1]}`'s tag_specifications"
                    f" {{ resource_type = \"instance\" }} "
                    f"({lt.file}:{lt.block.line}); provider default_tags never reach tag_specifications"
                    if lt is not None else
                    "add a launch template with tag_specifications { resource_type = \"instance\" } (and \"volume\") "
                    "carrying the cost tags, and reference it from the node group's launch_template block")
    return effective.overlay(lt_tags) if lt_tags.keys() else effective, None


def ex_launch_template_ref(walker, res, spec, body, scope, inst, effective, defaults, own):
    if res.compute is not None and res.compute.instance_type:
        return effective, None
    lt = _launch_template(walker, inst, body, scope, ["launch_template.id", "launch_template.name"], res)
    if lt is not None:
        _tags, itype = _lt_instance_tags(inst, lt)
        _apply_instance_type(res, itype, spec, f"launch template {lt.block.labels[1]}'s instance_type")
    return effective, None


def ex_sagemaker_endpoint_configuration(walker, res, spec, body, scope, inst, effective, defaults, own):
    comp = res.compute or Compute_from_spec(spec)
    variants = ex.blocks_named(body, "production_variants", scope)
    types: dict[str, int] = {}
    unknown_units = False
    serverless = 0
    for vb, vs in variants:
        itype = ex.get_path(vb, "instance_type", vs)
        n = ex.get_path(vb, "initial_instance_count", vs)
        if not isinstance(itype, str):
            if vb.blocks_of("serverless_config"):
                serverless += 1
            else:
                comp.notes.append("a production variant's instance_type is not known statically")
            continue
        if isinstance(n, (int, float)) and not isinstance(n, bool):
            types[itype] = types.get(itype, 0) + int(n)
        else:
            types.setdefault(itype, 0)
            unknown_units = True
    if types:
        itype = max(types, key=lambda t: types[t])
        comp.instance_type = itype
        comp.units = None if unknown_units else types[itype]
        info = ex.catalog_info(itype)
        if info is not None:
            comp.accelerator, comp.gpus_per_unit = info
        if len(types) > 1:
            comp.notes.append("other variants: " + ", ".join(f"{t} x{n}" for t, n in types.items() if t != itype))
    elif serverless:
        comp.units = 0
        comp.notes.append("serverless inference: priced per request, not per instance-hour")
    res.compute = comp
    res.meta["_sagemaker_config"] = True
    return effective, None


def ex_sagemaker_endpoint(walker, res, spec, body, scope, inst, effective, defaults, own):
    attr = body.get("endpoint_config_name")
    if attr is not None:
        try:
            refs = attr.expr.references()
        except Exception:  # noqa: BLE001
            refs = []
        for ref in refs:
            if len(ref) >= 2 and ref[0] == "aws_sagemaker_endpoint_configuration":
                module_prefix = res.address.rsplit("aws_sagemaker_endpoint.", 1)[0]
                res.meta["_endpoint_config"] = f"{module_prefix}aws_sagemaker_endpoint_configuration.{ref[1]}"
    return effective, None


def ex_bedrock_throughput(walker, res, spec, body, scope, inst, effective, defaults, own):
    comp = res.compute or Compute_from_spec(spec)
    model = ex.get_path(body, "model_arn", scope)
    comp.instance_type = None
    comp.notes.append("Bedrock provisioned throughput is priced per model unit-hour by model;"
                      " set pricing.instance_types or a usage file")
    if isinstance(model, str):
        res.meta["model_arn"] = model
    res.compute = comp
    return effective, None


def ex_batch_compute_environment(walker, res, spec, body, scope, inst, effective, defaults, own):
    return effective, None


EXTRACTORS = {
    "autoscaling_group": ex_autoscaling_group,
    "eks_node_group": ex_eks_node_group,
    "launch_template_ref": ex_launch_template_ref,
    "sagemaker_endpoint_configuration": ex_sagemaker_endpoint_configuration,
    "sagemaker_endpoint": ex_sagemaker_endpoint,
    "bedrock_throughput": ex_bedrock_throughput,
    "batch_compute_environment": ex_batch_compute_environment,
    "sagemaker_cluster": ex_sagemaker_cluster,
}


def _link_sagemaker(records) -> None:
    """An endpoint runs its configuration's instances: price them once, on the endpoint."""
    configs = {r[0].address.split("[")[0]: r[0] for r in records if r[0].meta.pop("_sagemaker_config", False)}
    for rec in records:
        res = rec[0]
        target = res.meta.pop("_endpoint_config", None)
        if target is None:
            continue
        cfg = configs.get(target)
        if cfg is not None and cfg.compute is not None:
            res.compute = cfg.compute
            res.ai = True
            cfg.compute = None
            cfg.meta["served_by"] = res.address
