"""``helm_release`` resources: a local chart rendered with the release's own values (issue 12 item 2).

The chart must be a directory inside the scanned repository.  Its values are what the HCL evaluator
makes of ``values`` (heredocs, ``yamlencode(...)``, ``templatefile(...)``) followed by ``set`` /
``set_sensitive`` (blocks, or the helm provider 3 list attribute), which win like ``--set`` does.
Rendering is ``sources/kubernetes/helm.py``'s own ``HelmSource._render`` with the release's name, namespace and
values files (written to a private temporary directory, outside the repository); no other way of
running helm.  The objects are judged as Kubernetes objects; their resources and findings point at
the ``helm_release`` block (file and line), with ``meta.terraform_address``.

A chart that is not in the repository (``repository`` + ``version``, or a path leaving it) is not
evaluated: info, or a warning naming the input's line when its inputs mention accelerators
(``remote/gpu_inputs.py``, the same rule as remote modules).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tagguard.model import INFO, NOT_SCANNED, WARNING, Finding
from tagguard.sources.base import SourceOutput

MAX_SETS = 1000
_SET_PART = re.compile(r"((?:\\.|[^.\\])+)")


def items(walker: Any, inst: Any, loc: Any) -> list[dict[str, Any]]:
    """One item per instance of the ``helm_release`` block (count / for_each), or a finding."""
    from tagguard.sources.terraform import extract as ex
    from tagguard.sources.terraform.module import bound_scope, expand_repetition

    body = loc.block.body
    rname = loc.block.labels[1]
    out: list[dict[str, Any]] = []
    for suffix, bindings in expand_repetition(body, inst, f"{inst.prefix}helm_release.{rname}"):
        if bindings.pop("__count__", None) == 0:
            continue
        scope = bound_scope(inst, bindings)
        address = f"{inst.prefix}helm_release.{rname}{suffix}"

        def val(b: Any, s: Any, path: str) -> Any:
            v = ex.get_path(b, path, s)
            return v if ex.known(v) else None

        chart = val(body, scope, "chart")
        repository = val(body, scope, "repository")
        item: dict[str, Any] = {"address": address, "file": loc.file, "line": loc.block.line,
                                "module": inst.prefix.rstrip(".") or None}
        remote_why = None
        if body.get("repository") is not None:
            remote_why = f"its chart `{chart}` comes from repository {repository or '(not known statically)'}"
        elif not isinstance(chart, str):
            remote_why = "its chart is not known statically"
        elif re.match(r"^[a-z][a-z0-9+.-]*://", chart) or (not chart.startswith((".", "/")) and "/" in chart
                                                            and not (Path(inst.cwd) / chart).is_dir()):
            remote_why = f"its chart `{chart}` is not a directory in the repository"
        if remote_why is None:
            chart_dir = (Path(inst.cwd) / chart) if not os.path.isabs(chart) else Path(chart)
            item["chart_dir"] = str(chart_dir)
        else:
            item["not_local"] = remote_why
            item["body"] = body
            item["inst"] = inst
            out.append(item)
            continue
        name = val(body, scope, "name")
        item["release"] = name if isinstance(name, str) else rname
        ns = val(body, scope, "namespace")
        item["namespace"] = ns if isinstance(ns, str) else "default"
        values: list[str] = []
        unknown: list[str] = []
        raw = ex.get_path(body, "values", scope)
        if isinstance(raw, list):
            for i, v in enumerate(raw):
                if isinstance(v, str):
                    values.append(v)
                elif isinstance(v, dict):
                    values.append(json.dumps(v))
                else:
                    unknown.append(f"values[{i}] is not known statically")
        elif raw is not ex._MISSING and raw is not None:
            unknown.append("`values` is not known statically")
        sets: list[tuple[str, Any, str | None]] = []
        for kind in ("set", "set_sensitive"):
            for sb, ss in ex.blocks_named(body, kind, scope):
                n, v, t = val(sb, ss, "name"), ex.get_path(sb, "value", ss), val(sb, ss, "type")
                if isinstance(n, str) and ex.known(v):
                    sets.append((n, v, t))
                elif isinstance(n, str):
                    unknown.append(f"{kind} `{n}` is not known statically")
            listed = ex.get_path(body, kind, scope)
            if isinstance(listed, list):  # helm provider 3: set = [{name, value, type}]
                for entry in listed:
                    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and ex.known(entry.get("value")):
                        sets.append((entry["name"], entry["value"], entry.get("type")))
        item["values"] = values
        item["sets"] = sets[:MAX_SETS]
        item["unknown"] = unknown
        out.append(item)
    return out


def _split_name(name: str) -> list[Any]:
    """``a.b\\.c[0].d`` -> ["a", "b.c", 0, "d"] (helm --set key syntax)."""
    parts: list[Any] = []
    for m in _SET_PART.finditer(name):
        piece = m.group(1)
        idx = []
        while True:
            mm = re.search(r"\[(\d+)\]$", piece)
            if not mm:
                break
            idx.insert(0, int(mm.group(1)))
            piece = piece[:mm.start()]
        parts.append(piece.replace("\\.", ".").replace("\\,", ","))
        parts.extend(idx)
    return parts


def _typed(value: Any, typ: str | None) -> Any:
    if typ == "string" or not isinstance(value, str):
        return value if typ != "string" else str(value)
    low = value.strip()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"-?\d+", low):
        return int(low)
    return value


def sets_as_values(sets: list[tuple[str, Any, str | None]]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for name, value, typ in sets:
        parts = _split_name(name)
        if not parts or not isinstance(parts[0], str):
            continue
        cur: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = _typed(value, typ) if last else ([] if isinstance(parts[i + 1], int) else {})
            if isinstance(part, int):
                if not isinstance(cur, list) or part > 1000:
                    break
                while len(cur) <= part:
                    cur.append(None)
                if last or not isinstance(cur[part], (dict, list)):
                    cur[part] = nxt
                cur = cur[part]
            else:
                if not isinstance(cur, dict):
                    break
                if last or not isinstance(cur.get(part), (dict, list)):
                    cur[part] = nxt
                cur = cur[part]
    return root


def render(found: list[dict[str, Any]], inventory: Any, ctx: Any) -> tuple[SourceOutput, list[str]]:
    """Render the local charts; returns the output and the chart files read (claimed by the caller)."""
    out = SourceOutput()
    claimed: list[str] = []
    if not found:
        return out, claimed
    import tempfile

    from tagguard.sources.kubernetes import helm as helm_mod

    helm = how = None
    timeout = float(helm_mod._opt(ctx, "helm_timeout") or helm_mod.DEFAULT_TIMEOUT_S)
    deadline = helm_mod._monotonic() + timeout
    root = os.path.realpath(str(inventory.root))
    for item in found:
        address, file, line = item["address"], item["file"], item["line"]
        if "not_local" in item:
            out.findings.append(_not_local(item))
            continue
        real = os.path.realpath(item["chart_dir"])
        rel = os.path.relpath(real, root)
        if rel == ".." or rel.startswith(".." + os.sep) or not os.path.isfile(os.path.join(real, "Chart.yaml")):
            item["not_local"] = "its chart is not a chart directory inside the scanned repository"
            out.findings.append(Finding(
                rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=file, line=line, address=address,
                message=f"{address}: {item['not_local']}, so the objects it creates are not checked",
                fix="vendor the chart into the repository (a directory with Chart.yaml)"))
            continue
        d = "." if rel == "." else rel.replace(os.sep, "/")
        if helm is None and how is None:
            helm, how = helm_mod.find_helm(ctx)
            if helm is not None:
                helm_mod.refuse_helm_inside(helm, how, inventory.root)
        if helm is None:
            skip = bool(helm_mod._opt(ctx, "skip_helm"))
            msg = (f"{address}: chart {d} was not rendered: {how}, so its workloads and their labels are not checked"
                   + (" (--skip-helm)" if skip else ""))
            out.findings.append(Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING if skip else "error",
                                        file=file, line=line, address=address, message=msg,
                                        fix="install helm 3 or 4, or pass --helm-bin PATH"))
            if not skip:
                out.must_not_pass(file, msg)
            continue
        try:
            release = helm_mod.check_release_name(str(item["release"])[:53], f"{file}:{line}: name")
            namespace = helm_mod.check_namespace(str(item["namespace"]), f"{file}:{line}: namespace")
        except helm_mod.HelmUsageError as exc:
            out.findings.append(Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=file,
                                        line=line, address=address, message=f"{address}: not rendered: {exc}",
                                        fix="use a literal release name and namespace"))
            continue
        for why in item["unknown"]:
            out.findings.append(Finding(
                rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=file, line=line, address=address,
                message=f"{address}: {why}; the chart is rendered without it, so what it sets is not checked",
                fix="pass the inputs it needs with --var / a tfvars file"))
        with tempfile.TemporaryDirectory(prefix="tagguard-helm-release-") as tmp:
            files = []
            for i, text in enumerate(item["values"]):
                p = os.path.join(tmp, f"values-{i}.yaml")
                Path(p).write_text(text, encoding="utf-8")
                files.append(p)
            if item["sets"]:
                p = os.path.join(tmp, "set.yaml")
                Path(p).write_text(json.dumps(sets_as_values(item["sets"])), encoding="utf-8")
                files.append(p)
            renderer = _Renderer(release, namespace, files)
            chart_meta = helm_mod._chart_meta(Path(real) / "Chart.yaml", Path(real))
            name = str(chart_meta.get("name") or Path(real).name)
            chart_file = "Chart.yaml" if d == "." else f"{d}/Chart.yaml"
            got = renderer._render(helm, (d, name, chart_file), inventory, ctx, deadline, timeout)
        prefix = "" if d == "." else d + "/"
        claimed.extend(f for f in inventory.files if d == "." or f.startswith(prefix))
        renamed: dict[str, str] = {}
        for res in got.resources:
            # helm_release.x/Kind/namespace/name: two releases of one chart stay apart
            renamed[res.address] = f"{address}/{res.address}"
            res.address = renamed[res.address]
            res.meta["terraform_address"] = address
            if res.tag_fix_hint:
                res.tag_fix_hint += f", through {address}'s `values` / `set` (chart template {res.file}:{res.line})"
            if item.get("module"):
                res.meta["module"] = item["module"]
            res.meta.setdefault("template", f"{res.file}:{res.line}")
            res.file, res.line = file, line
        _judged_once(got.resources, d, address)
        for f in got.findings:
            f.extra.setdefault("terraform_address", address)
            if f.file is None or f.file == chart_file or f.file.startswith(prefix) or d == ".":
                f.extra.setdefault("template", f"{f.file}:{f.line}")
                f.file, f.line = file, line
            if f.address in renamed:
                f.message = f.message.replace(f.address, renamed[f.address], 1)
                f.address = renamed[f.address]
            elif not (f.address or "").startswith(address):
                f.message = f"{address}: {f.message}"
        out.extend(got)
    return out, claimed


def _judged_once(resources: list[Any], chart: str, address: str) -> None:
    """One chart, judged once: the release's objects say the chart is not judged again with its defaults
    (the Terraform reader runs before the Helm reader and claims the chart's files)."""
    for res in resources:
        if res.compute is not None:
            res.compute.notes.append(f"chart {chart} is judged through {address} (its values are what is deployed), "
                                     "not a second time on its own with the chart's default values")


class _Renderer:
    """``HelmSource._render`` with the release's name, namespace and values instead of the config's."""

    def __new__(cls, release: str, namespace: str, values: list[str]):
        from tagguard.sources.kubernetes.helm import HelmSource

        class R(HelmSource):
            def _settings(self, d, ctx, inventory=None):  # noqa: D401 - the helm_release's own settings
                return release, namespace, list(values), []

        return R()


def _not_local(item: dict[str, Any]) -> Finding:
    from tagguard.sources.terraform.module import _safe_eval
    from tagguard.sources.terraform.remote.gpu_inputs import accelerator_input

    address = item["address"]
    text = f"{item['not_local']}, so the objects it creates are not checked"
    inst = item.get("inst")
    gpu = accelerator_input(item["body"], (lambda expr: _safe_eval(expr, inst)) if inst is not None else None)
    fix = "vendor the chart into the repository and point `chart` at its directory, or scan the rendered manifests"
    if gpu is not None:
        line, input_name, what = gpu
        return Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=item["file"], line=line,
                       address=address,
                       message=(f"{address}: GPU capacity here was not evaluated: vendor the chart or scan its rendered "
                                f"manifests (input {input_name} mentions {what}; {text})"), fix=fix)
    return Finding(rule="not-scanned", category=NOT_SCANNED, severity=INFO, file=item["file"], line=item["line"],
                   address=address, message=f"{address}: {text}", fix=fix)
