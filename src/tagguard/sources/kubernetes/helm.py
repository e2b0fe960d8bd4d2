"""Helm charts: every directory with a ``Chart.yaml`` is rendered with ``helm template``.

* Only ``helm template`` runs: it renders locally, never contacts a cluster (``KUBECONFIG`` points
  at an empty file, helm's home directories at a throw-away folder) and never *runs* hooks.  Hook
  manifests (``helm.sh/hook``) are rendered and checked like any other object: a GPU hook Job is
  spend too; its resource carries ``meta.helm_hook``.
* Values: the chart's own ``values.yaml``, then ``helm.values`` from config, then the
  ``--helm-values`` files, then ``helm.charts.<chart dir>.values``; release name and namespace from
  ``--release-name`` / ``--namespace`` (or ``helm.charts.<chart dir>``).
* What helm reads of a chart directory (Chart.yaml, values files, ``templates/``, ``charts/``,
  ``crds/``, ``ci/``) and the files its templates name for ``.Files`` are claimed, so none of it is
  read again as a plain manifest; any other manifest in the directory (applied with kubectl next to
  the chart) is read as one.  Subcharts under ``charts/`` are rendered by their parent (a chart
  elsewhere inside a chart is rendered on its own); library charts render nothing by themselves.
* Dependencies not vendored under ``charts/``: a ``file://`` one that resolves to a chart inside the
  scanned repository is copied into the render's copy of the chart (what ``helm dependency build``
  does offline, with the same link rules, its own ``file://`` dependencies too); a remote one, or a
  ``file://`` one leading outside the repository, is dropped with a warning naming it.
* Findings point at the template an object came from (``# Source:`` comments) and name the chart.
* No helm binary: one ``not-scanned`` error per chart and exit code 2, unless ``--skip-helm``
  (then a warning).  Never a silent pass.  A chart that fails to render: one error naming it.

The chart is untrusted input (it comes with the pull request):

* helm runs from an argument list (no shell) with ``--`` before the release name and chart path,
  and with ``--skip-schema-validation`` (helm fetches the URLs a ``values.schema.json`` references);
  release names and namespaces are checked as Kubernetes names wherever they come from, so none
  can be read as a helm flag (``--post-renderer=...``, ``--set-file=...``).
* A helm that resolves to a file inside the scanned repository is never run (usage error, exit 2).
* All charts share one deadline (``--helm-timeout``, 60 s by default) and each render's output is
  capped (``MAX_OUTPUT_BYTES``); a chart that runs out of either is a ``not-scanned`` error.
* Files of a chart that are symlinks leading out of the chart (or FIFOs, devices) are left out: the
  chart is rendered from a copy without them, with a warning naming them.  Values files named in a
  config inside the repository must be inside the repository too; ``--helm-values`` files are trusted.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tagguard.model import ERROR, NOT_SCANNED, WARNING, Finding
from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput, posix_dirname

DEFAULT_TIMEOUT_S = 60.0  # for all charts together (--helm-timeout)
MAX_OUTPUT_BYTES = 50 * 1024 * 1024  # rendered manifests per chart
MAX_STDERR_BYTES = 64 * 1024
# helm's own release-name rule (53 characters, DNS-1123 subdomain); namespaces are DNS-1123 labels.
_RELEASE_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


class HelmUsageError(ValueError):
    """A helm setting tagguard refuses (a usage or configuration error: exit code 2)."""


def _shown(value: str) -> str:
    text = value if len(value) <= 80 else value[:80] + "..."
    return repr(text)


def check_release_name(value: str, where: str = "--release-name") -> str:
    if not isinstance(value, str) or len(value) > 53 or not _RELEASE_NAME.match(value):
        raise HelmUsageError(f"{where}: {_shown(str(value))} is not a valid Helm release name (lower-case letters, "
                             f"digits, '-' and '.', starting and ending with a letter or digit, at most 53 characters)")
    return value


def check_namespace(value: str, where: str = "--namespace") -> str:
    if not isinstance(value, str) or len(value) > 63 or not _NAMESPACE.match(value):
        raise HelmUsageError(f"{where}: {_shown(str(value))} is not a valid Kubernetes namespace (lower-case letters, "
                             f"digits and '-', starting and ending with a letter or digit, at most 63 characters)")
    return value


def repository_root(path: Path) -> Path:
    """The git top-level above ``path`` (real path), or ``path`` itself outside git (``safeio.scan_boundary``)."""
    from tagguard import safeio

    return safeio.scan_boundary(path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
_ERR_LOC = re.compile(r"(?:Error: )?(?:[^\s:]+/)?(templates/[^\s:]+):(\d+)(?::\d+)?")


def find_helm(ctx: ScanContext) -> tuple[str | None, str]:
    """``(path, how it was found)``; ``(None, why)`` when there is no usable helm."""
    opt = _opt(ctx, "helm_bin")
    section = ctx.config.section("helm") or {}
    if opt:
        cand, how = str(opt), "--helm-bin"
    elif section.get("bin"):
        cand, how = str(ctx.config.base_dir / str(section["bin"])), "helm.bin in config"
    else:
        found = shutil.which("helm")
        if not found:
            return None, "no `helm` on PATH"
        return found, "PATH"
    if not (os.path.isfile(cand) and os.access(cand, os.X_OK)):
        return None, f"{how} {cand} is not an executable file"
    return os.path.abspath(cand), how


def refuse_helm_inside(helm: str, how: str, scanned: Path) -> None:
    """A helm binary that resolves into the scanned tree, or to a file committed to the scanned
    repository, came with the scanned files: never run it (HelmUsageError, exit code 2)."""
    real = os.path.realpath(helm)
    tree = os.path.realpath(scanned)
    top = str(repository_root(scanned))
    if _inside(real, tree):
        where = f"inside the scanned tree {tree}"
    elif _inside(real, top) and _committed(real, top):
        where = f"a file committed to the scanned repository {top}"
    else:
        return
    raise HelmUsageError(
        f"helm found through {how} is {real}, {where}; a program that comes with the scanned files is "
        f"never run (install helm outside the repository and put it on PATH, or pass --helm-bin)")


def _committed(path: str, top: str) -> bool:
    """Whether git tracks ``path`` in the repository at ``top`` (True when git cannot tell)."""
    git = shutil.which("git")
    if git is None or not os.path.exists(os.path.join(top, ".git")):
        return True
    rel = os.path.relpath(path, top)
    try:
        proc = subprocess.run([git, "-C", top, "ls-files", "--error-unmatch", "--", rel], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return True
    return proc.returncode != 1  # 1: not tracked; any other failure (e.g. git's safe.directory) counts as tracked


def chart_dirs(inventory: Inventory) -> list[str]:
    """Chart directories (relative) that are rendered: subcharts (under a chart's ``charts/``) excluded.
    A chart elsewhere inside another chart's directory is not used by helm as a subchart: it renders
    on its own."""
    dirs = sorted({posix_dirname(f) for f in inventory.files
                   if (f == "Chart.yaml" or f.endswith("/Chart.yaml")) and f not in inventory.claimed})
    top: list[str] = []
    for d in dirs:
        if any(d != t and (d.startswith("charts/") if t == "." else d.startswith(t + "/charts/")) for t in dirs):
            continue  # a subchart (vendored under its parent's charts/): rendered by the parent
        top.append(d)
    return top


# What helm itself reads of a chart directory: everything else in it is a plain file (B8).
_HELM_DIRS = frozenset({"templates", "charts", "crds", "ci"})
_HELM_FILES = frozenset({"chart.yaml", "chart.lock", "requirements.yaml", "requirements.lock", ".helmignore"})


def _helm_reads(inner: str) -> bool:
    """Whether helm renders or reads ``inner`` (a path relative to the chart directory) itself."""
    head, sep, _ = inner.partition("/")
    if sep:
        return head in _HELM_DIRS
    low = inner.lower()
    return low in _HELM_FILES or low.startswith("values")


def chart_claims(inventory: Inventory, d: str, charts: list[str]) -> list[str]:
    """The files of chart ``d`` that are the chart's, not plain manifests: what helm reads (Chart.yaml,
    values, templates/, charts/, crds/, ci/), a file the chart's templates name for ``.Files``
    (``.Files.Get "files/job.yaml"``, ``.Files.Glob "dashboards/*"``: its content is rendered
    already), and nothing of another chart rendered on its own inside it.  The rest of the directory
    (manifests applied with kubectl next to the chart) is read like any other file."""
    prefix = "" if d == "." else d + "/"
    nested = [c + "/" for c in charts if c != d and (d == "." or c.startswith(prefix))]
    mine = [f for f in inventory.files if f.startswith(prefix) and not any(f.startswith(n) for n in nested)]
    claimed = [f for f in mine if _helm_reads(f[len(prefix):])]
    rest = [f for f in mine if not _helm_reads(f[len(prefix):])]
    if rest:
        from fnmatch import fnmatchcase

        named = _files_named_by_templates(inventory, d, [f for f in claimed if f.startswith(prefix + "templates/")])
        for f in rest:
            inner = f[len(prefix):]
            top = inner.partition("/")[0]
            if any(fnmatchcase(inner, n) or ("/" in inner and n.partition("/")[0] == top) for n in named):
                claimed.append(f)
    return claimed


def _files_named_by_templates(inventory: Inventory, d: str, templates: list[str]) -> list[str]:
    """The quoted paths given to ``.Files.*`` in the templates (a glob or a path; a directory prefix
    counts as every file under it).  Only templates mentioning ``.Files`` are looked at."""
    from tagguard import safeio

    found: list[str] = []
    for rel in templates:
        try:
            text = safeio.read_bytes(inventory.path(rel), inventory.path(d)).decode("utf-8", "replace")
        except OSError:
            continue
        if ".Files" not in text:
            continue
        found.extend(m.group(1).lstrip("./") for m in _FILES_ARG.finditer(text))
    return [f for f in found if f]


_FILES_ARG = re.compile(r"\.Files\.[A-Za-z]+\s+\(?\s*\"([^\"{}]*)")


def _chart_meta(path: Path, boundary: Path | None = None) -> dict[str, Any]:
    """``Chart.yaml`` (or ``requirements.yaml``) as a dict: a regular file inside ``boundary`` (default:
    its own directory), within the per-file cap; ``{}`` when it cannot be read."""
    from tagguard import safeio, yamlio

    try:
        data = yamlio.load(safeio.read_text(path, boundary if boundary is not None else path.parent))
    except Exception:  # reported by helm itself when it renders (a link leaving the chart is left out of it)
        return {}
    return data if isinstance(data, dict) else {}


class HelmSource(Source):
    name = "helm"

    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        out = SourceOutput()
        charts = chart_dirs(inventory)
        if not charts:
            return out
        for d in charts:
            inventory.claim(chart_claims(inventory, d, charts))
        skip = bool(_opt(ctx, "skip_helm"))
        helm, how = find_helm(ctx)
        if helm is not None:
            refuse_helm_inside(helm, how, inventory.root)
        for d in charts:  # bad names are usage errors before anything runs
            self._settings(d, ctx, inventory)
        timeout = float(_opt(ctx, "helm_timeout") or DEFAULT_TIMEOUT_S)
        deadline = _monotonic() + timeout
        jobs = []
        for d in charts:
            meta = _chart_meta(inventory.path(d) / "Chart.yaml", inventory.path(d))
            name = str(meta.get("name") or (Path(d).name if d != "." else inventory.root.name))
            if meta.get("type") == "library":
                continue
            chart_file = "Chart.yaml" if d == "." else f"{d}/Chart.yaml"
            if helm is None:
                out.findings.append(Finding(
                    rule="not-scanned", category=NOT_SCANNED, severity=WARNING if skip else ERROR,
                    message=(f"Helm chart `{name}` ({d}) was not rendered: {how}, so its workloads and their labels "
                             f"are not checked" + (" (--skip-helm)" if skip else "; exit code 2 (use --skip-helm to "
                                                                                     "accept this)")),
                    address=f"chart:{d}", file=chart_file, line=1,
                    fix="install helm 3 or 4, or pass --helm-bin PATH", extra={"chart": name}))
                continue
            jobs.append((d, name, chart_file))
        if helm is None:
            if not skip:
                for f in out.findings:
                    if f.rule == "not-scanned":
                        out.must_not_pass(f.file, f.message)
            return out
        if len(jobs) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(4, len(jobs))) as pool:
                results = list(pool.map(lambda j: self._render(helm, j, inventory, ctx, deadline, timeout), jobs))
        else:
            results = [self._render(helm, j, inventory, ctx, deadline, timeout) for j in jobs]
        for r in results:
            out.extend(r)
        return out

    # ------------------------------------------------------------------------------------
    def _settings(self, d: str, ctx: ScanContext, inventory: Inventory | None = None
                  ) -> tuple[str, str, list[str], list[str]]:
        """``(release, namespace, values files, values files refused)``; a bad name raises HelmUsageError."""
        section = ctx.config.section("helm") or {}
        charts = section.get("charts") or {}
        per = charts.get(d) or charts.get(d.rstrip("/") + "/") or {}
        cfg = str(ctx.config.path) if ctx.config.path else "config"
        if per.get("release_name") is not None:
            release = check_release_name(str(per["release_name"]), f"{cfg}: helm.charts.{d}.release_name")
        else:
            release = check_release_name(str(_opt(ctx, "release_name") or "release"))
        if per.get("namespace") is not None:
            namespace = check_namespace(str(per["namespace"]), f"{cfg}: helm.charts.{d}.namespace")
        else:
            namespace = check_namespace(str(_opt(ctx, "namespace") or "default"))
        from_config = [str((ctx.config.base_dir / str(v)).resolve()) for v in section.get("values") or []]
        from_config += [str((ctx.config.base_dir / str(v)).resolve()) for v in per.get("values") or []]
        refused: list[str] = []
        if inventory is not None and _config_in_repository(ctx, inventory):
            top = str(repository_root(inventory.root))
            refused = [v for v in from_config if not _inside(os.path.realpath(v), top)]
        values = [v for v in from_config[:len(section.get("values") or [])] if v not in refused]
        values += [str(Path(v).resolve()) for v in _opt(ctx, "helm_values") or []]  # flags: trusted
        values += [v for v in from_config[len(section.get("values") or []):] if v not in refused]
        return release, namespace, values, refused

    def _render(self, helm: str, job: tuple[str, str, str], inventory: Inventory, ctx: ScanContext,
                deadline: float, timeout: float) -> SourceOutput:
        """One chart: refused or late, else a safe copy when needed, ``helm template``, then its
        manifests read into workloads (or why the chart did not render)."""
        d, name, chart_file = job
        out = SourceOutput()
        release, namespace, values, refused = self._settings(d, ctx, inventory)
        refusal = self._refusal(job, inventory, refused, deadline, timeout)
        if refusal is not None:
            out.findings.append(refusal)
            return out
        source_dir = inventory.path(d).resolve()
        placed: dict[str, str] = {}  # where file:// subcharts were copied in the rendered chart -> their directory
        with tempfile.TemporaryDirectory(prefix="tagguard-helm-") as home:
            chart_path = self._chart_to_render(job, inventory, source_dir, home, placed, out)
            if chart_path is None:
                return out
            ran = self._template(helm, job, chart_path, release, namespace, values, home, deadline, out)
            if ran is None:
                return out
        code, stdout, stderr, problem = ran
        failure = self._template_failure(job, inventory, code, stderr, problem, timeout)
        if failure is not None:
            out.findings.append(failure)
            return out
        vendored = placed if chart_path != str(source_dir) else {}
        self._read_rendered(stdout.decode("utf-8", "replace"), job, inventory, ctx, namespace, vendored, out)
        return out

    def _refusal(self, job: tuple[str, str, str], inventory: Inventory, refused: list[str],
                 deadline: float, timeout: float) -> Finding | None:
        """Why a chart is not rendered at all: values files from outside the repository, the
        deadline spent, or a chart directory resolving outside the repository."""
        d, name, chart_file = job
        if refused:
            return self._render_error(
                name, d, chart_file, "values file(s) " + ", ".join(f"`{_rel_or_name(v, inventory)}`" for v in refused)
                + " named in the repository's config are outside the scanned repository; not read",
                fix="keep values files inside the repository, or pass them with --helm-values")
        if _monotonic() >= deadline:
            return self._render_error(
                name, d, chart_file, f"not rendered: the helm deadline for all charts ({timeout:g} s, --helm-timeout) "
                f"ran out before this chart's turn", fix="raise --helm-timeout, or scan fewer charts at once")
        if not _inside(str(inventory.path(d).resolve()), str(repository_root(inventory.root))):
            return self._render_error(name, d, chart_file, "the chart directory resolves outside the "
                                      "scanned repository; not read", fix="vendor the chart into the repository")
        return None

    def _chart_to_render(self, job: tuple[str, str, str], inventory: Inventory, source_dir: Path, home: str,
                         placed: dict[str, str], out: SourceOutput) -> str | None:
        """The chart directory itself, or a copy under ``home`` without what cannot be rendered
        safely or offline (each left-out part a warning); None when the copy failed."""
        d, name, chart_file = job
        top = str(repository_root(inventory.root))
        missing, local, bad_deps = _dependency_plan(source_dir, top)
        outside, special = _unsafe_entries(source_dir)
        if not (missing or outside or special or local or bad_deps):
            return str(source_dir)
        # `helm template` refuses a chart whose subcharts are not vendored under charts/, and
        # fetching them (`helm dependency build`) needs the network: render a copy without them.
        # `file://` dependencies inside the repository are copied into the copy's charts/ (what
        # `helm dependency build` does offline); one leading outside it is dropped like a remote one.
        # Symlinks leading out of the chart and FIFOs/devices are left out of the copy too.
        dropped = missing + [n for n, _ in bad_deps]
        copied = _copy_without(source_dir, Path(home) / "chart", dropped, set(outside) | set(special))
        notes: list[str] = []
        if copied is not None and local:
            for dep_name, dep_dir in local:
                if not _vendor_local(dep_dir, Path(copied) / "charts" / dep_name, top, notes, [str(source_dir)],
                                     placed, f"charts/{dep_name}/"):
                    copied = None
                    break
        if copied is None and (outside or special or local):
            out.findings.append(self._render_error(name, d, chart_file,
                                                   "could not copy the chart without its unsafe files or "
                                                   "with its file:// dependencies; not rendered"))
            return None
        chart_path = copied or str(source_dir)
        out.findings.extend(_left_out_findings(job, bad_deps, notes, missing if chart_path != str(source_dir) else [],
                                               outside, special))
        return chart_path

    def _template(self, helm: str, job: tuple[str, str, str], chart_path: str, release: str, namespace: str,
                  values: list[str], home: str, deadline: float,
                  out: SourceOutput) -> tuple[int | None, bytes, bytes, str | None] | None:
        """``helm template`` in an empty helm home, with no kubeconfig or plugins: ``(exit code,
        stdout, stderr, problem)``, or None (with an error finding) when it could not run safely."""
        d, name, chart_file = job
        # `--` ends the flags: the release name and chart path can never be read as options.
        # --skip-schema-validation: helm fetches the `$ref`/`$schema` URLs of a chart's
        # values.schema.json (network from data); tagguard never needs the values validated.
        flags = ["--namespace", namespace]
        for v in values:
            flags += ["--values", v]
        cmd = [helm, "template", "--skip-schema-validation", *flags, "--", release, chart_path]
        kubeconfig = os.path.join(home, "kubeconfig")
        Path(kubeconfig).write_text("", encoding="utf-8")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "HELM_CACHE_HOME": os.path.join(home, "cache"),
            "HELM_CONFIG_HOME": os.path.join(home, "config"),
            "HELM_DATA_HOME": os.path.join(home, "data"),
            "HELM_PLUGINS": os.path.join(home, "plugins"),
            "KUBECONFIG": kubeconfig,
            "HELM_NO_PLUGINS": "1",
        }
        try:
            code, stdout, stderr, problem = _run_bounded(cmd, env, home, deadline, MAX_OUTPUT_BYTES)
            if code and problem is None and b"unknown flag: --skip-schema-validation" in stderr:
                # helm < 3.16: without the flag only a chart with no schema at all is safe to render
                schemas = _schema_files(Path(chart_path))
                if schemas:
                    rel = Path(os.path.relpath(schemas[0], chart_path)).as_posix()
                    out.findings.append(self._render_error(
                        name, d, chart_file, f"not rendered: {rel if d == '.' else d + '/' + rel} is a values "
                        f"schema, which this helm would validate by fetching the URLs it references, and it has "
                        f"no --skip-schema-validation (helm 3.16 or later has)",
                        fix="use helm 3.16 or later (--helm-bin)"))
                    return None
                cmd.remove("--skip-schema-validation")
                code, stdout, stderr, problem = _run_bounded(cmd, env, home, deadline, MAX_OUTPUT_BYTES)
        except OSError as exc:
            out.findings.append(self._render_error(name, d, chart_file, f"cannot run {helm}: {exc.strerror or exc}"))
            return None
        return code, stdout, stderr, problem

    def _template_failure(self, job: tuple[str, str, str], inventory: Inventory, code: int | None, stderr: bytes,
                          problem: str | None, timeout: float) -> Finding | None:
        """Why ``helm template`` did not give manifests (stopped at the deadline or the output cap,
        or helm's own error at the template file and line it names); None when it did."""
        d, name, chart_file = job
        if problem == "timeout":
            return self._render_error(
                name, d, chart_file, f"`helm template` did not finish within the helm deadline for all charts "
                f"({timeout:g} s, --helm-timeout); stopped, not scanned",
                fix="make the chart render faster, or raise --helm-timeout")
        if problem == "output":
            return self._render_error(
                name, d, chart_file, f"`helm template` wrote more than {MAX_OUTPUT_BYTES // (1024 * 1024)} MB of "
                f"manifests; stopped, not scanned", fix="check the chart's loops and values")
        if code == 0:
            return None
        err = stderr.decode("utf-8", "replace").strip()
        file, line = chart_file, 1
        m = _ERR_LOC.search(err)
        if m:
            cand = m.group(1) if d == "." else f"{d}/{m.group(1)}"
            if cand in inventory.files:
                file, line = cand, int(m.group(2))
        lines = [ln.strip() for ln in err.splitlines() if ln.strip() and not ln.strip().startswith("Use --debug")]
        text = " ".join(lines)[:500] or f"helm exited with code {code}"
        if text.startswith("Error: "):
            text = text[len("Error: "):]
        if "missing in charts/ directory" in text:
            return self._render_error(
                name, d, file, text, line, fix="vendor the subchart(s) helm names under charts/ (`helm dependency "
                "build`), or make each dependency's name match the name in its chart's Chart.yaml")
        return self._render_error(name, d, file, text, line)

    @staticmethod
    def _read_rendered(rendered: str, job: tuple[str, str, str], inventory: Inventory, ctx: ScanContext,
                       namespace: str, vendored: dict[str, str], out: SourceOutput) -> None:
        """The rendered manifests as workloads, each object located at its template's file and line
        (a vendored file:// subchart's at its own files)."""
        from tagguard.sources.kubernetes.workloads import Builder
        from tagguard.sources.kubernetes.manifests import parse_stream, readable_kinds

        d, name, chart_file = job
        parsed = parse_stream(rendered, chart_file, helm=True, kinds=readable_kinds(ctx.config))
        template_lines = _TemplateLines(inventory, d)
        root = os.path.realpath(inventory.root)
        for prefix in sorted(vendored, key=len, reverse=True):
            if _inside(vendored[prefix], root):  # a vendored file:// subchart's objects point at its own files
                template_lines.vendored[prefix] = Path(os.path.relpath(vendored[prefix], root)).as_posix()
        for doc in parsed.docs:
            if doc.helm_source:
                doc.file, doc.line = template_lines.locate(doc.helm_source, doc.obj)
        for f in parsed.findings:
            f.message = f"chart `{name}`: rendered output {f.message}"
            f.extra["chart"] = name
        out.findings.extend(parsed.findings)
        builder = Builder(ctx, source="helm", chart=name, default_namespace=namespace, share_origins=True)
        builder.add(parsed.docs)
        out.extend(builder.build())

    @staticmethod
    def _render_error(name: str, d: str, file: str, text: str, line: int = 1,
                      fix: str = "fix the template or pass the values it needs with --helm-values") -> Finding:
        return Finding(rule="not-scanned", category=NOT_SCANNED, severity=ERROR,
                       message=f"Helm chart `{name}` ({d}) failed to render: {text}",
                       address=f"chart:{d}", file=file, line=line, fix=fix, extra={"chart": name})


def _left_out_findings(job: tuple[str, str, str], bad_deps: list[tuple[str, str]], notes: list[str],
                       missing: list[str], outside: list[str], special: list[str]) -> list[Finding]:
    """Warnings for what a rendered copy of a chart left out: file:// subcharts not (or partly)
    vendored, subcharts not under charts/ (``missing``: only when the copy was rendered), and
    links leading out of the chart or special files."""
    d, name, chart_file = job
    out: list[Finding] = []
    if bad_deps or notes:
        parts = [f"`{n}` ({why})" for n, why in bad_deps] + notes
        out.append(Finding(
            rule="not-scanned", category=NOT_SCANNED, severity=WARNING,
            message=(f"Helm chart `{name}` ({d}): file:// subchart(s) not rendered or rendered in part: "
                     + "; ".join(parts[:5]) + (f" and {len(parts) - 5} more" if len(parts) > 5 else "")
                     + "; their workloads are not checked"),
            address=f"chart:{d}", file=chart_file, line=1,
            fix=("keep each file:// dependency (" + ", ".join(f"`{n}`" for n, _ in bad_deps) + ") a chart "
                 "inside the scanned repository, or vendor it under charts/ (`helm dependency build`)"
                 if bad_deps else
                 "commit the subchart's files themselves instead of links or special files"),
            extra={"chart": name, "unrendered_subcharts": [n for n, _ in bad_deps], "notes": notes}))
    if missing:
        out.append(Finding(
            rule="not-scanned", category=NOT_SCANNED, severity=WARNING,
            message=(f"Helm chart `{name}` ({d}): subchart(s) {', '.join(f'`{m}`' for m in missing)} "
                     f"are not under charts/; the chart was rendered without them, so their workloads "
                     f"are not checked"),
            address=f"chart:{d}", file=chart_file, line=1,
            fix="run `helm dependency build` before scanning to check the subcharts too",
            extra={"chart": name, "missing_subcharts": missing}))
    for what, entries in (("symlink(s) leading outside the chart", outside),
                          ("file(s) that are not regular files (FIFO, device, socket)", special)):
        if entries:
            shown = [(e if d == "." else f"{d}/{e}") for e in entries[:5]]
            more = f" and {len(entries) - 5} more" if len(entries) > 5 else ""
            out.append(Finding(
                rule="not-scanned", category=NOT_SCANNED, severity=WARNING,
                message=(f"Helm chart `{name}` ({d}): {what} " + ", ".join(f"`{e}`" for e in shown)
                         + f"{more} were not read; the chart was rendered without them"),
                address=f"chart:{d}", file=chart_file, line=1,
                fix="commit the files themselves inside the chart instead of links or special files",
                extra={"chart": name, "left_out": shown}))
    return out


def _opt(ctx: ScanContext, name: str) -> Any:
    """A scan option, whether the context holds typed ``ScanOptions`` or a plain mapping."""
    options = ctx.options
    if isinstance(options, dict):
        return options.get(name)
    return getattr(options, name, None)


def _schema_files(chart: Path) -> list[str]:
    """``values.schema.json`` files of a chart and its subcharts (packaged ``.tgz`` subcharts count:
    helm reads their schema too)."""
    found: list[str] = []
    for current, _dirs, files in os.walk(chart, followlinks=False):
        for f in files:
            if f == "values.schema.json" or (f.endswith((".tgz", ".tar.gz")) and os.path.basename(current) == "charts"):
                found.append(os.path.join(current, f))
    return sorted(found)


def _monotonic() -> float:
    import time

    return time.monotonic()


def _config_in_repository(ctx: ScanContext, inventory: Inventory) -> bool:
    """A config file inside the scanned repository came with it: its paths are confined."""
    trusted = getattr(ctx.config, "trusted", None)
    if trusted is not None:
        return not trusted
    path = ctx.config.path
    if path is None:
        return False
    return _inside(os.path.realpath(path), str(repository_root(inventory.root)))


def _rel_or_name(path: str, inventory: Inventory) -> str:
    try:
        rel = os.path.relpath(path, inventory.root)
    except ValueError:
        return os.path.basename(path)
    return Path(rel).as_posix()


def _unsafe_entries(chart: Path) -> tuple[list[str], list[str]]:
    """Relative paths in ``chart`` that are symlinks resolving outside it, and special files."""
    top = os.path.realpath(chart)
    outside: list[str] = []
    special: list[str] = []
    import stat

    for current, dirs, files in os.walk(top, followlinks=False):
        for name in list(dirs) + files:
            full = os.path.join(current, name)
            rel = Path(os.path.relpath(full, top)).as_posix()
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                if not _inside(os.path.realpath(full), top):
                    outside.append(rel)
                else:
                    try:
                        target = os.stat(full)
                    except OSError:
                        continue  # dangling: helm reports it
                    if not (stat.S_ISREG(target.st_mode) or stat.S_ISDIR(target.st_mode)):
                        special.append(rel)
            elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                special.append(rel)
    return sorted(outside), sorted(special)


def _run_bounded(cmd: list[str], env: dict[str, str], cwd: str, deadline: float, cap: int
                 ) -> tuple[int | None, bytes, bytes, str | None]:
    """Run ``cmd`` (no shell) until ``deadline``, keeping at most ``cap`` bytes of stdout.
    ``(exit code, stdout, stderr, problem)`` where problem is None, "timeout" or "output"."""
    import signal
    import threading

    popen_kw: dict[str, Any] = {}
    if os.name == "posix":
        popen_kw["start_new_session"] = True  # its own process group: a kill reaches its children too
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, cwd=cwd, **popen_kw)
    problem: list[str] = []

    def kill() -> None:
        try:
            if os.name == "posix":
                os.killpg(proc.pid, signal.SIGKILL)
            else:  # pragma: no cover
                proc.kill()
        except OSError:
            pass

    def pump(stream: Any, chunks: list[bytes], limit: int, is_output: bool) -> None:
        total = 0
        while True:
            try:
                block = stream.read1(1 << 16)
            except (OSError, ValueError):
                break
            if not block:
                break
            if total < limit:
                chunks.append(block[:limit - total])
            total += len(block)
            if total > limit and is_output:
                if not problem:
                    problem.append("output")
                kill()
                break

    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    threads = [threading.Thread(target=pump, args=(proc.stdout, out_chunks, cap, True), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err_chunks, MAX_STDERR_BYTES, False), daemon=True)]
    for t in threads:
        t.start()
    try:
        proc.wait(timeout=max(0.0, deadline - _monotonic()))
    except subprocess.TimeoutExpired:
        if not problem:
            problem.append("timeout")
        kill()
        proc.wait()
    for t in threads:
        t.join(timeout=5)
    for stream in (proc.stdout, proc.stderr):
        if stream is None:  # never: both are pipes
            continue
        try:
            stream.close()
        except OSError:
            pass
    return proc.returncode, b"".join(out_chunks), b"".join(err_chunks), (problem[0] if problem else None)


def _missing_dependencies(chart: Path) -> list[str]:
    """Names of remote ``dependencies`` (Chart.yaml, or requirements.yaml for apiVersion v1) with no copy
    under charts/."""
    return _dependency_plan(chart, None)[0]


MAX_LOCAL_DEPTH = 8  # file:// dependencies of file:// dependencies ...


def _dependency_plan(chart: Path, top: str | None) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
    """``(remote names, local (name, directory), refused (name, reason))`` of the dependencies with no copy
    under charts/: ``file://`` ones resolve against the chart directory and must stay inside ``top`` (the
    repository) and hold a Chart.yaml; ``top`` None: local dependencies are not looked at."""
    meta = _chart_meta(chart / "Chart.yaml", chart)
    deps = meta.get("dependencies")
    if not deps and (chart / "requirements.yaml").is_file():
        deps = _chart_meta(chart / "requirements.yaml", chart).get("dependencies")
    if not isinstance(deps, list):
        return [], [], []
    present = set()
    sub = chart / "charts"
    if sub.is_dir():
        for entry in sub.iterdir():
            if entry.is_dir():
                present.add(str(_chart_meta(entry / "Chart.yaml", chart).get("name") or entry.name))
            elif entry.name.endswith((".tgz", ".tar.gz")):
                stem = entry.name[:-4] if entry.name.endswith(".tgz") else entry.name[:-7]
                m = re.match(r"^(.+?)-v?\d", stem)
                present.add(m.group(1) if m else stem)
    out: list[str] = []
    local: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    for dep in deps:
        if isinstance(dep, dict) and dep.get("name") and str(dep["name"]) not in present:
            dep_name = str(dep["name"])
            repo = str(dep.get("repository") or "")
            if not repo.startswith("file://"):
                out.append(dep_name)
            elif top is not None:
                why = _local_problem(chart, repo[len("file://"):], top, dep_name)
                if why is None:
                    local.append((dep_name, os.path.realpath(os.path.join(os.path.realpath(chart), repo[7:]))))
                else:
                    refused.append((dep_name, why))
    return out, local, refused


def _local_problem(chart: Path, where: str, top: str, dep_name: str) -> str | None:
    """Why the ``file://`` dependency at ``where`` (relative to ``chart``) is not rendered; None when it can be."""
    if not where or "\x00" in where or dep_name in (".", "..") or "/" in dep_name or "\\" in dep_name:
        return f"file://{where} is not a usable path"
    target = os.path.realpath(os.path.join(os.path.realpath(chart), where))
    if not _inside(target, top):
        return f"file://{where} leads outside the scanned repository; not read"
    if not os.path.isfile(os.path.join(target, "Chart.yaml")) or os.path.islink(os.path.join(target, "Chart.yaml")):
        return f"file://{where} holds no Chart.yaml"
    return None


def _vendor_local(dep_dir: str, dest: Path, top: str, notes: list[str], chain: list[str],
                  placed: dict[str, str], prefix: str) -> bool:
    """Copy the chart at ``dep_dir`` (inside ``top``) to ``dest`` like ``helm dependency build`` does,
    with the confinement of a chart copy (links leading out of it and special files left out), and its
    own ``file://`` dependencies under its charts/ (one that closes a cycle, or more than
    ``MAX_LOCAL_DEPTH`` levels down, is dropped with a note).  ``placed`` maps the copy's place in
    the rendered chart (``prefix``, ``charts/a/charts/b/``) to ``dep_dir``.  False when the copy fails."""
    missing, local, refused = _dependency_plan(Path(dep_dir), top)
    seen = chain + [dep_dir]
    looped = [(n, sub) for n, sub in local if sub in seen or len(seen) > MAX_LOCAL_DEPTH]
    local = [x for x in local if x not in looped]
    outside, special = _unsafe_entries(Path(dep_dir))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dropped = missing + [n for n, _ in refused] + [n for n, _ in looped]
    if _copy_without(Path(dep_dir), dest, dropped, set(outside) | set(special)) is None:
        return False
    placed[prefix] = dep_dir
    rel = Path(os.path.relpath(dep_dir, top)).as_posix()
    if missing:
        notes.append(f"`{rel}` without its subchart(s) " + ", ".join(f"`{m}`" for m in missing)
                     + " (not under its charts/)")
    notes.extend(f"`{rel}` without `{n}` ({why})" for n, why in refused)
    notes.extend(f"`{rel}` without `{n}` (a file:// dependency cycle or more than {MAX_LOCAL_DEPTH} levels)"
                 for n, _ in looped)
    if outside or special:
        notes.append(f"`{rel}` without " + ", ".join(f"`{e}`" for e in (outside + special)[:5])
                     + " (links leading outside it, or not regular files)")
    return all(_vendor_local(sub, dest / "charts" / n, top, notes, seen, placed, f"{prefix}charts/{n}/")
               for n, sub in local)


def _copy_without(chart: Path, dest: Path, missing: list[str], leave_out: set | None = None) -> str | None:
    """Copy ``chart`` to ``dest`` with the ``missing`` dependencies dropped and the ``leave_out`` entries
    (relative paths: symlinks leading out of the chart, special files) not copied; ``None`` when that fails."""
    import yaml

    from tagguard import yamlio

    top = os.path.realpath(chart)
    leave_out = set(leave_out or ())

    def ignore(directory: str, names: list[str]) -> list[str]:
        rel = Path(os.path.relpath(directory, top)).as_posix()
        prefix = "" if rel == "." else rel + "/"
        return [n for n in names if prefix + n in leave_out]

    try:
        shutil.copytree(top, dest, symlinks=True, ignore=ignore)
        # links inside the chart point at their target in the original chart (absolute), so a relative
        # link cannot resolve differently from the copy's location
        for current, dirs, files in os.walk(dest, followlinks=False):
            for n in list(dirs) + files:
                link = os.path.join(current, n)
                if os.path.islink(link):
                    original = os.path.join(top, os.path.relpath(link, dest))
                    target = os.path.realpath(original)
                    os.unlink(link)
                    if _inside(target, top):
                        os.symlink(target, link)
        for meta_name in ("Chart.yaml", "requirements.yaml"):
            f = dest / meta_name
            if not f.is_file():
                continue
            data = yamlio.load(f.read_text(encoding="utf-8"))
            if isinstance(data, dict) and isinstance(data.get("dependencies"), list):
                data["dependencies"] = [x for x in data["dependencies"]
                                        if not (isinstance(x, dict) and str(x.get("name")) in missing)]
                f.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        for lock in ("Chart.lock", "requirements.lock"):
            if (dest / lock).exists():
                (dest / lock).unlink()
    except (OSError, ValueError, yaml.YAMLError):
        return None
    return str(dest)


_KIND_LINE = re.compile(r"^kind:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.M)


class _TemplateLines:
    """Map ``# Source: chart/templates/x.yaml`` to the repository file and the line of the object's ``kind:``.

    Each template is read once and indexed by kind, so locating N rendered objects costs N lookups
    (scanning the template again for every object was quadratic in a chart's output)."""

    def __init__(self, inventory: Inventory, chart_dir: str):
        self.inventory = inventory
        self.chart_dir = chart_dir
        self.files = set(inventory.files)
        self.seen: dict[tuple[str, str], int] = {}
        self.cache: dict[str, dict[str, list[int]]] = {}
        self.vendored: dict[str, str] = {}  # "charts/<name>/" of the render -> the repository directory

    def _index(self, rel: str, boundary: str) -> dict[str, list[int]]:
        from tagguard import safeio

        try:
            text = safeio.read_bytes(self.inventory.path(rel), self.inventory.path(boundary)).decode("utf-8", "replace")
        except OSError:
            return {}
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        index: dict[str, list[int]] = {}
        line, pos = 1, 0
        for m in _KIND_LINE.finditer(text):
            line += text.count("\n", pos, m.start())
            pos = m.start()
            index.setdefault(m.group(1), []).append(line)
        return index

    def locate(self, source: str, obj: dict[str, Any]) -> tuple[str, int]:
        _, _, inner = source.partition("/")  # drop the chart name
        rel = inner if self.chart_dir == "." else f"{self.chart_dir}/{inner}"
        boundary = self.chart_dir
        for prefix, where in self.vendored.items():  # the longest first
            if inner.startswith(prefix):
                rest = inner[len(prefix):]
                rel, boundary = (rest if where == "." else f"{where}/{rest}"), where
                break
        if rel not in self.files:
            return rel, 1
        index = self.cache.get(rel)
        if index is None:
            index = self.cache[rel] = self._index(rel, boundary)
        kind = str(obj.get("kind"))
        hits = index.get(kind)
        if not hits:
            return rel, 1
        n = self.seen.get((rel, kind), 0)
        self.seen[(rel, kind)] = n + 1
        return rel, hits[min(n, len(hits) - 1)]
