"""``helm_release`` resources: a local or fetched chart rendered with the release's own values (issue 12 item 2).

A local chart must be a directory inside the scanned repository.  As in helm (``LocateChart``) a chart
path wins over ``repository``: ``./x`` or ``/x`` is always a path, ``a/b`` is one when it exists.  The values
are what the HCL evaluator makes of ``values`` (heredocs, ``yamlencode(...)``, ``templatefile(...)``)
followed by ``set`` / ``set_sensitive`` (blocks, or the helm provider 3 list attribute), which win like
``--set`` does.
Rendering is ``sources/kubernetes/helm.py``'s own ``HelmSource._render`` with the release's name, namespace and
values files (written to a private temporary directory, outside the repository); no other way of
running helm.  The objects are judged as Kubernetes objects; their resources and findings point at
the ``helm_release`` block (file and line), with ``meta.terraform_address``.

A chart from a repository (``repository`` + ``chart`` + ``version``: an https chart repository or an
``oci://`` registry; or ``chart`` = an ``oci://`` reference or an archive URL) is read from the user's chart
cache, downloaded there first when ``--fetch-modules`` is on and its host is in ``modules.chart_hosts``
(``remote/charts.py``), and rendered the same way; its templates are named
``~chart-cache/<repository>/<chart>@<version>/...``.  A chart that is neither local nor available (not
cached, host not allowed, download failed, a path leaving the repository) is not evaluated: info (a
warning when fetching was asked for), or a warning naming the input's line when its inputs mention
accelerators (``remote/gpu_inputs.py``, the same rule as remote modules).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagguard.model import INFO, NOT_SCANNED, WARNING, Finding
from tagguard.sources.base import SourceOutput

if TYPE_CHECKING:
    from tagguard.sources.kubernetes.helm import HelmSource

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

        item: dict[str, Any] = {"address": address, "file": loc.file, "line": loc.block.line,
                                "module": inst.prefix.rstrip(".") or None}
        if not _where(item, body, scope, inst, val):
            out.append(item)
            continue
        name = val(body, scope, "name")
        item["release"] = name if isinstance(name, str) else rname
        ns = val(body, scope, "namespace")
        item["namespace"] = ns if isinstance(ns, str) else "default"
        item["values"], item["sets"], item["unknown"] = _inputs(body, scope, val)
        out.append(item)
    return out


def _where(item: dict[str, Any], body: Any, scope: Any, inst: Any, val: Any) -> bool:
    """Set the item's ``chart_dir`` (a local chart) or ``not_local`` (+ ``remote``: what to fetch);
    False when the chart can be neither rendered locally nor fetched."""
    chart = val(body, scope, "chart")
    repository = val(body, scope, "repository")
    remote_why = None
    remote: tuple[str | None, str] | None = None
    if body.get("repository") is not None and _on_disk(chart, repository, inst):
        pass  # helm's LocateChart and the helm provider use a chart path that exists before any repository
    elif body.get("repository") is not None:
        remote_why = f"its chart `{chart}` comes from repository {repository or '(not known statically)'}"
        if isinstance(repository, str) and isinstance(chart, str):
            remote = (repository, chart)
    elif not isinstance(chart, str):
        remote_why = "its chart is not known statically"
    elif re.match(r"^[a-z][a-z0-9+.-]*://", chart) or (not chart.startswith((".", "/")) and "/" in chart
                                                        and not (Path(inst.cwd) / chart).is_dir()):
        remote_why = f"its chart `{chart}` is not a directory in the repository"
        if re.match(r"^(oci|https?)://", chart, re.I):
            remote = (None, chart)
    if remote_why is None:
        item["chart_dir"] = str((Path(inst.cwd) / chart) if not os.path.isabs(chart) else Path(chart))
        return True
    item["not_local"] = remote_why
    item["body"] = body
    item["inst"] = inst
    version = val(body, scope, "version")
    if remote is not None and body.get("version") is not None and not isinstance(version, (str, int, float)):
        item["not_local"] += " and its `version` is not known statically"
        remote = None
    if remote is None:
        return False
    item["remote"] = {"repository": remote[0], "chart": remote[1], "version": "" if version is None else str(version),
                      "devel": val(body, scope, "devel") is True}
    return True


def _on_disk(chart: Any, repository: Any, inst: Any) -> bool:
    """Whether helm takes ``chart`` from disk whatever ``repository`` says (``ChartPathOptions.LocateChart``, as
    the Terraform helm provider calls it): a path that exists is used first, and one starting with ``.`` or
    ``/`` is a path even when missing (helm stops with "path not found").  A name without ``/`` is first
    prefixed with a non-URL ``repository`` alias (``alias/name``), so it is no path then.  Existence is
    only looked up inside the scanned repository."""
    from tagguard.safeio import inside

    if not isinstance(chart, str) or not chart.strip() or re.match(r"^[a-z][a-z0-9+.-]*://", chart, re.I):
        return False
    if chart.startswith(".") or os.path.isabs(chart):
        return True
    url_repo = isinstance(repository, str) and re.match(r"^[a-z][a-z0-9+.-]*://", repository, re.I) is not None
    if "/" not in chart and not url_repo:
        return False
    path = Path(inst.cwd) / chart
    try:
        return inside(path, inst.loader.boundary) and path.exists()
    except (OSError, ValueError, AttributeError):
        return False


def _inputs(body: Any, scope: Any, val: Any) -> tuple[list[str], list[tuple[str, Any, str | None]], list[str]]:
    """(values documents, set entries, what is not known statically) of one release."""
    from tagguard.sources.terraform import extract as ex

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
    return values, sets[:MAX_SETS], unknown


def _split_name(name: str) -> list[Any]:
    """``a.b\\.c[0].d`` -> ["a", "b.c", 0, "d"] (helm --set key syntax)."""
    parts: list[Any] = []
    for m in _SET_PART.finditer(name):
        piece = m.group(1)
        idx: list[int] = []
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
    """Render the local charts and the fetched or cached remote ones; returns the output and the
    repository's chart files read (claimed by the caller)."""
    out = SourceOutput()
    claimed: list[str] = []
    if not found:
        return out, claimed
    from tagguard.sources.kubernetes import helm as helm_mod

    helm = how = None
    timeout = float(helm_mod._opt(ctx, "helm_timeout") or helm_mod.DEFAULT_TIMEOUT_S)
    deadline = helm_mod._monotonic() + timeout
    charts: list[Any] = []  # the RemoteCharts of this run, made on the first remote chart
    for item in found:
        address, file, line = item["address"], item["file"], item["line"]
        where = _locate(item, inventory, ctx, charts)
        if isinstance(where, Finding):
            out.findings.append(where)
            continue
        chart_inv, d, real, label = where
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
        got, chart_file = _run(helm, item, release, namespace, (chart_inv, d, real), ctx, deadline, timeout)
        if label is None:
            prefix = "" if d == "." else d + "/"
            claimed.extend(f for f in inventory.files if d == "." or f.startswith(prefix))
        _attach(got, item, d, chart_file, label)
        out.extend(got)
    return out, claimed


def _locate(item: dict[str, Any], inventory: Any, ctx: Any, charts: list[Any]) -> Any:
    """(inventory to read the chart through, its directory in it, real path, label of a fetched chart or
    None), or the finding that says why the release is not rendered."""
    address, file, line = item["address"], item["file"], item["line"]
    if "not_local" in item:
        if "remote" not in item:
            return _not_local(item)
        if not charts:
            from tagguard.sources.terraform.remote import charts as charts_mod

            charts.append(charts_mod.from_options(getattr(ctx, "config", None),
                                                  bool(getattr(getattr(ctx, "options", None), "fetch_modules", False))))
        cached, why = _fetched(item, charts[0])
        if cached is None:
            return _not_local(item, why, charts[0].fetch)
        chart_inv, d, label = cached
        return chart_inv, d, os.path.join(chart_inv.root, d), label
    real = os.path.realpath(item["chart_dir"])
    rel = os.path.relpath(real, os.path.realpath(str(inventory.root)))
    d = "." if rel == "." else rel.replace(os.sep, "/")
    if d == ".." or d.startswith("../") or not os.path.isfile(os.path.join(real, "Chart.yaml")):
        item["not_local"] = "its chart is not a chart directory inside the scanned repository"
        return Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=file, line=line,
                       address=address,
                       message=f"{address}: {item['not_local']}, so the objects it creates are not checked",
                       fix="vendor the chart into the repository (a directory with Chart.yaml)")
    return inventory, d, real, None


def _run(helm: str, item: dict[str, Any], release: str, namespace: str, where: tuple[Any, str, str], ctx: Any,
         deadline: float, timeout: float) -> tuple[SourceOutput, str]:
    """``helm template`` of the chart with the release's values (written to a private temporary directory)."""
    import tempfile

    from tagguard.sources.kubernetes import helm as helm_mod

    chart_inv, d, real = where
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
        renderer = _renderer(release, namespace, files)
        chart_meta = helm_mod._chart_meta(Path(real) / "Chart.yaml", Path(real))
        name = str(chart_meta.get("name") or Path(real).name)
        chart_file = "Chart.yaml" if d == "." else f"{d}/Chart.yaml"
        return renderer._render(helm, (d, name, chart_file), chart_inv, ctx, deadline, timeout), chart_file


def _attach(got: SourceOutput, item: dict[str, Any], d: str, chart_file: str, label: str | None) -> None:
    """The rendered objects and findings point at the ``helm_release`` block; the template stays in meta/extra
    (repository-relative, or ``~chart-cache/<repository>/<chart>@<version>/...`` for a fetched chart)."""
    address, file, line = item["address"], item["file"], item["line"]
    prefix = "" if d == "." else d + "/"

    def shown(path: str | None) -> str | None:
        if label is None or path is None:
            return path
        return f"~chart-cache/{label}/{path[len(prefix):] if path.startswith(prefix) else path}"

    renamed: dict[str, str] = {}
    for res in got.resources:
        # helm_release.x/Kind/namespace/name: two releases of one chart stay apart
        renamed[res.address] = f"{address}/{res.address}"
        res.address = renamed[res.address]
        res.meta["terraform_address"] = address
        if res.tag_fix_hint:
            res.tag_fix_hint += f", through {address}'s `values` / `set` (chart template {shown(res.file)}:{res.line})"
        if item.get("module"):
            res.meta["module"] = item["module"]
        if label is not None:  # the cached copy, by repository, chart and version (not the user's cache path)
            res.meta["chart_source"] = label
            res.meta["template"] = f"{shown(res.file)}:{res.line}"
        res.meta.setdefault("template", f"{shown(res.file)}:{res.line}")
        res.file, res.line = file, line
    if label is None:
        _judged_once(got.resources, d, address)
    for f in got.findings:
        f.extra.setdefault("terraform_address", address)
        if f.file is None or f.file == chart_file or f.file.startswith(prefix) or d == "." or label is not None:
            f.extra.setdefault("template", f"{shown(f.file)}:{f.line}")
            f.file, f.line = file, line
        if f.address in renamed:
            f.message = f.message.replace(f.address, renamed[f.address], 1)
            f.address = renamed[f.address]
        elif not (f.address or "").startswith(address):
            f.message = f"{address}: {f.message}"


def _judged_once(resources: list[Any], chart: str, address: str) -> None:
    """One chart, judged once: the release's objects say the chart is not judged again with its defaults
    (the Terraform reader runs before the Helm reader and claims the chart's files)."""
    for res in resources:
        if res.compute is not None:
            res.compute.notes.append(f"chart {chart} is judged through {address} (its values are what is deployed), "
                                     "not a second time on its own with the chart's default values")


def _renderer(release: str, namespace: str, values: list[str]) -> HelmSource:
    """A HelmSource whose ``_render`` uses the release's name, namespace and values instead of the config's."""
    from tagguard.sources.kubernetes.helm import HelmSource

    class R(HelmSource):
        def _settings(self, d, ctx, inventory=None):  # noqa: D401 - the helm_release's own settings
            return release, namespace, list(values), []

    return R()


class _CachedChart:
    """What ``HelmSource._render`` reads a fetched chart through: the files of its cache entry's tree only."""

    def __init__(self, tree: Path):
        self.root = Path(os.path.realpath(tree))
        self.files: list[str] = []
        for top, dirs, names in os.walk(self.root):  # symlinks are not followed (the unpacker refuses them)
            dirs.sort()
            rel = os.path.relpath(top, self.root)
            for n in sorted(names):
                self.files.append(n if rel == "." else Path(rel, n).as_posix())
        self.claimed: set[str] = set()

    def path(self, rel: str) -> Path:
        return self.root / rel


def _fetched(item: dict[str, Any], charts: Any) -> tuple[tuple[_CachedChart, str, str] | None, str | None]:
    """((the chart's cache tree, its directory in it, its label), None), or (None, why it is not available)."""
    from tagguard.sources.terraform.remote.charts import parse_ref
    from tagguard.sources.terraform.remote.http import FetchError

    spec = item["remote"]
    try:
        ref = parse_ref(spec["repository"], spec["chart"], spec["version"], spec["devel"])
    except FetchError as exc:
        return None, f"it cannot be fetched: {exc}"
    chart_dir, why, meta = charts.chart_dir(ref)
    if chart_dir is None:
        return None, why
    tree = Path(meta["tree"])
    d = os.path.relpath(chart_dir, os.path.realpath(tree))
    version = str(meta.get("resolved_version") or ref.version or "latest")
    label = ref.label.rsplit("@", 1)[0] + "@" + version
    return (_CachedChart(tree), "." if d == "." else Path(d).as_posix(), label), None


def _not_local(item: dict[str, Any], why: str | None = None, fetching: bool = False) -> Finding:
    from tagguard.sources.terraform.module import _safe_eval
    from tagguard.sources.terraform.remote.gpu_inputs import accelerator_input

    address = item["address"]
    text = f"{item['not_local']}{'; ' + why if why else ''}, so the objects it creates are not checked"
    inst = item.get("inst")
    gpu = accelerator_input(item["body"], (lambda expr: _safe_eval(expr, inst)) if inst is not None else None)
    if "remote" in item:
        how = "fetch the chart (--fetch-modules, its host in modules.chart_hosts)"
        fix = ("scan with --fetch-modules and the chart's host in modules.chart_hosts (user-level config or "
               "--config), or vendor the chart into the repository and point `chart` at its directory")
        if fetching and why and why.startswith(("download failed", "it cannot be fetched")):
            fix = ("check the release's repository, chart and version against what the repository serves, or vendor "
                   "the chart into the repository and point `chart` at its directory")
    else:
        how = "vendor the chart"
        fix = "vendor the chart into the repository and point `chart` at its directory, or scan the rendered manifests"
    if gpu is not None:
        line, input_name, what = gpu
        return Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING, file=item["file"], line=line,
                       address=address,
                       message=(f"{address}: GPU capacity here was not evaluated: {how} or scan its rendered "
                                f"manifests (input {input_name} mentions {what}; {text})"), fix=fix)
    return Finding(rule="not-scanned", category=NOT_SCANNED, severity=WARNING if fetching else INFO, file=item["file"],
                   line=item["line"], address=address, message=f"{address}: {text}", fix=fix)
