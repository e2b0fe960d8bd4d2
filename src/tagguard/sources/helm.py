"""Helm charts: every directory with a ``Chart.yaml`` is rendered with ``helm template``.

* Only ``helm template`` runs: it renders locally, never contacts a cluster (``KUBECONFIG`` points
  at an empty file, helm's home directories at a throw-away folder) and never *runs* hooks.  Hook
  manifests (``helm.sh/hook``) are rendered and checked like any other object: a GPU hook Job is
  spend too; its resource carries ``meta.helm_hook``.
* Values: the chart's own ``values.yaml``, then ``helm.values`` from config, then the
  ``--helm-values`` files, then ``helm.charts.<chart dir>.values``; release name and namespace from
  ``--release-name`` / ``--namespace`` (or ``helm.charts.<chart dir>``).
* Every file inside a chart directory (templates, values, subcharts) is claimed, so none of it is
  read again as a plain manifest.  Subcharts under ``charts/`` are rendered by their parent;
  library charts render nothing by themselves.
* Findings point at the template an object came from (``# Source:`` comments) and name the chart.
* No helm binary: one ``not-scanned`` error per chart and exit code 2, unless ``--skip-helm``
  (then a warning).  Never a silent pass.  A chart that fails to render: one error naming it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tagguard.model import ERROR, NOT_SCANNED, WARNING, Finding
from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput, posix_dirname

RENDER_TIMEOUT_S = 120
_ERR_LOC = re.compile(r"(?:Error: )?(?:[^\s:]+/)?(templates/[^\s:]+):(\d+)(?::\d+)?")


def find_helm(ctx: ScanContext) -> Tuple[Optional[str], str]:
    """``(path, how it was found)``; ``(None, why)`` when there is no usable helm."""
    opt = ctx.options.get("helm_bin")
    section = ctx.config.section("helm") or {}
    if opt:
        cand, how = str(opt), "--helm-bin"
    elif section.get("bin"):
        cand, how = str((ctx.config.base_dir / str(section["bin"]))), "helm.bin in config"
    else:
        found = shutil.which("helm")
        if not found:
            return None, "no `helm` on PATH"
        return found, "PATH"
    if not (os.path.isfile(cand) and os.access(cand, os.X_OK)):
        return None, f"{how} {cand} is not an executable file"
    return os.path.abspath(cand), how


def chart_dirs(inventory: Inventory) -> List[str]:
    """Top-level chart directories (relative), subcharts excluded."""
    dirs = sorted({posix_dirname(f) for f in inventory.files
                   if (f == "Chart.yaml" or f.endswith("/Chart.yaml")) and f not in inventory.claimed})
    top: List[str] = []
    for d in dirs:
        if any(d != t and (t == "." or d.startswith(t + "/")) for t in top):
            continue  # inside another chart (charts/ subchart or vendored copy)
        top.append(d)
    return top


def _chart_meta(path: Path) -> Dict[str, Any]:
    from tagguard import yamlio

    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
    except Exception:  # reported by helm itself when it renders
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
            prefix = "" if d == "." else d + "/"
            inventory.claim(f for f in inventory.files if f.startswith(prefix) or d == ".")
        skip = bool(ctx.options.get("skip_helm"))
        helm, how = find_helm(ctx)
        jobs = []
        for d in charts:
            meta = _chart_meta(inventory.path(d) / "Chart.yaml")
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
            if not skip and any(f.rule == "not-scanned" for f in out.findings):
                out.exit_override = 2
            return out
        if len(jobs) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(4, len(jobs))) as pool:
                results = list(pool.map(lambda j: self._render(helm, j, inventory, ctx), jobs))
        else:
            results = [self._render(helm, j, inventory, ctx) for j in jobs]
        for r in results:
            out.extend(r)
        return out

    # ------------------------------------------------------------------------------------
    def _settings(self, d: str, ctx: ScanContext) -> Tuple[str, str, List[str]]:
        section = ctx.config.section("helm") or {}
        per = (section.get("charts") or {}).get(d) or (section.get("charts") or {}).get(d.rstrip("/") + "/") or {}
        release = str(per.get("release_name") or ctx.options.get("release_name") or "release")
        namespace = str(per.get("namespace") or ctx.options.get("namespace") or "default")
        values: List[str] = [str((ctx.config.base_dir / v).resolve()) for v in section.get("values") or []]
        values += [str(Path(v).resolve()) for v in ctx.options.get("helm_values") or []]
        values += [str((ctx.config.base_dir / v).resolve()) for v in per.get("values") or []]
        return release, namespace, values

    def _render(self, helm: str, job: Tuple[str, str, str], inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        from tagguard.sources.k8s_workloads import Builder
        from tagguard.sources.k8s_yaml import parse_stream, readable_kinds

        d, name, chart_file = job
        out = SourceOutput()
        release, namespace, values = self._settings(d, ctx)
        chart_path = str(inventory.path(d).resolve())
        with tempfile.TemporaryDirectory(prefix="tagguard-helm-") as home:
            missing = _missing_dependencies(inventory.path(d).resolve())
            if missing:
                # `helm template` refuses a chart whose subcharts are not vendored under charts/, and
                # fetching them (`helm dependency build`) needs the network: render a copy without them.
                chart_path = _copy_without(inventory.path(d).resolve(), Path(home) / "chart", missing) or chart_path
                if chart_path != str(inventory.path(d).resolve()):
                    out.findings.append(Finding(
                        rule="not-scanned", category=NOT_SCANNED, severity=WARNING,
                        message=(f"Helm chart `{name}` ({d}): subchart(s) {', '.join(f'`{m}`' for m in missing)} "
                                 f"are not under charts/; the chart was rendered without them, so their workloads "
                                 f"are not checked"),
                        address=f"chart:{d}", file=chart_file, line=1,
                        fix="run `helm dependency build` before scanning to check the subcharts too",
                        extra={"chart": name, "missing_subcharts": missing}))
            cmd = [helm, "template", release, chart_path, "--namespace", namespace]
            for v in values:
                cmd += ["--values", v]
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
                proc = subprocess.run(cmd, capture_output=True, env=env, timeout=RENDER_TIMEOUT_S, cwd=home,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                out.findings.append(self._render_error(name, d, chart_file, f"`helm template` did not finish in "
                                                       f"{RENDER_TIMEOUT_S} s"))
                return out
            except OSError as exc:
                out.findings.append(self._render_error(name, d, chart_file, f"cannot run {helm}: {exc.strerror or exc}"))
                return out
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            file, line = chart_file, 1
            m = _ERR_LOC.search(err)
            if m:
                cand = m.group(1) if d == "." else f"{d}/{m.group(1)}"
                if cand in inventory.files:
                    file, line = cand, int(m.group(2))
            lines = [ln.strip() for ln in err.splitlines() if ln.strip() and not ln.strip().startswith("Use --debug")]
            text = " ".join(lines)[:500] or f"helm exited with code {proc.returncode}"
            if text.startswith("Error: "):
                text = text[len("Error: "):]
            out.findings.append(self._render_error(name, d, file, text, line))
            return out
        rendered = proc.stdout.decode("utf-8", "replace")
        parsed = parse_stream(rendered, chart_file, helm=True, kinds=readable_kinds(ctx.config))
        template_lines = _TemplateLines(inventory, d)
        for doc in parsed.docs:
            if doc.helm_source:
                doc.file, doc.line = template_lines.locate(doc.helm_source, doc.obj)
        for f in parsed.findings:
            f.message = f"chart `{name}`: rendered output {f.message}"
            f.extra["chart"] = name
        out.findings.extend(parsed.findings)
        builder = Builder(ctx, source="helm", chart=name, default_namespace=namespace)
        builder.add(parsed.docs)
        out.extend(builder.build())
        return out

    @staticmethod
    def _render_error(name: str, d: str, file: str, text: str, line: int = 1) -> Finding:
        return Finding(rule="not-scanned", category=NOT_SCANNED, severity=ERROR,
                       message=f"Helm chart `{name}` ({d}) failed to render: {text}",
                       address=f"chart:{d}", file=file, line=line,
                       fix="fix the template or pass the values it needs with --helm-values", extra={"chart": name})


def _missing_dependencies(chart: Path) -> List[str]:
    """Names of ``dependencies`` (Chart.yaml, or requirements.yaml for apiVersion v1) with no copy under charts/."""
    from tagguard import yamlio

    meta = _chart_meta(chart / "Chart.yaml")
    deps = meta.get("dependencies")
    if not deps and (chart / "requirements.yaml").is_file():
        try:
            req = yamlio.load((chart / "requirements.yaml").read_text(encoding="utf-8"))
        except Exception:
            req = None
        deps = req.get("dependencies") if isinstance(req, dict) else None
    if not isinstance(deps, list):
        return []
    present = set()
    sub = chart / "charts"
    if sub.is_dir():
        for entry in sub.iterdir():
            if entry.is_dir():
                present.add(str(_chart_meta(entry / "Chart.yaml").get("name") or entry.name))
            elif entry.name.endswith((".tgz", ".tar.gz")):
                stem = entry.name[:-4] if entry.name.endswith(".tgz") else entry.name[:-7]
                m = re.match(r"^(.+?)-v?\d", stem)
                present.add(m.group(1) if m else stem)
    out = []
    for dep in deps:
        if isinstance(dep, dict) and dep.get("name") and str(dep["name"]) not in present:
            repo = str(dep.get("repository") or "")
            if repo.startswith("file://"):
                continue  # a local path dependency: helm reads it from there
            out.append(str(dep["name"]))
    return out


def _copy_without(chart: Path, dest: Path, missing: List[str]) -> Optional[str]:
    """Copy ``chart`` to ``dest`` with the ``missing`` dependencies dropped; ``None`` when that fails."""
    import yaml

    from tagguard import yamlio

    try:
        shutil.copytree(chart, dest, symlinks=True)
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


class _TemplateLines:
    """Map ``# Source: chart/templates/x.yaml`` to the repository file and the line of the object's ``kind:``."""

    def __init__(self, inventory: Inventory, chart_dir: str):
        self.inventory = inventory
        self.chart_dir = chart_dir
        self.seen: Dict[Tuple[str, str], int] = {}
        self.cache: Dict[str, List[str]] = {}

    def locate(self, source: str, obj: Dict[str, Any]) -> Tuple[str, int]:
        _, _, inner = source.partition("/")  # drop the chart name
        rel = inner if self.chart_dir == "." else f"{self.chart_dir}/{inner}"
        if rel not in self.inventory.files:
            return rel, 1
        lines = self.cache.get(rel)
        if lines is None:
            try:
                lines = self.inventory.path(rel).read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                lines = []
            self.cache[rel] = lines
        kind = str(obj.get("kind"))
        hits = [i + 1 for i, ln in enumerate(lines) if re.match(rf"^kind:\s*[\"']?{re.escape(kind)}[\"']?\s*$", ln)]
        if not hits:
            return rel, 1
        n = self.seen.get((rel, kind), 0)
        self.seen[(rel, kind)] = n + 1
        return rel, hits[min(n, len(hits) - 1)]
