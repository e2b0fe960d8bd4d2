"""Kubernetes objects -> ``Resource`` records (shared by manifests, Helm output and Terraform).

What is judged is the label map the *pods* will carry: the pod template's labels plus the labels
of the pod's Namespace (when that Namespace is in the scanned set or in config).  Labels that sit
only on a controller's own ``metadata.labels`` never reach the pods; they do not count, and the
finding says where to move them.  Each role of a multi-role CRD (PyTorchJob Master/Worker, RayCluster
head/worker groups, KServe predictor/transformer) is its own resource, addressed
``Kind/namespace/name#role``; single-template kinds are ``Kind/namespace/name``.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable

from tagguard.model import WARNING, Compute, Finding, Resource, Suppression, Unpropagated
from tagguard.sources.base import SourceOutput, parse_error
from tagguard.sources.kubernetes.kinds import (
    KindTable,
    as_count,
    declared_gpus,
    get_path,
    iter_roles,
    join,
    load_table,
    resolve_units,
    stopped,
)
from tagguard.sources.kubernetes.manifests import Doc

IGNORE_ANNOTATION = "tagguard.io/ignore"
_TEMPLATED = re.compile(r"\$\{[^}]*\}|\{\{.*?\}\}|\$\([A-Za-z_][A-Za-z0-9_]*\)")
# every AWS family of these schemes is accelerated, including ones newer than the rate card (g7e)
_ACCEL_FAMILY = re.compile(r"^(?:p|g|gr|trn|inf|dl)[0-9]+[a-z0-9-]*$")
_ACCEL_CATEGORIES = {"p", "g", "inf", "trn", "dl", "gr"}
_GPU_REQ_KEYS = ("karpenter.k8s.aws/instance-gpu-count", "karpenter.k8s.aws/instance-accelerator-count")
_GPU_NAME_KEYS = ("karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-gpu-manufacturer",
                  "karpenter.k8s.aws/instance-accelerator-name", "karpenter.k8s.aws/instance-accelerator-manufacturer")


@dataclass
class NamespaceInfo:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None
    origin: str = "Namespace"


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def _name(obj: dict[str, Any]) -> str:
    meta = _meta(obj)
    name = meta.get("name") or meta.get("generateName") or "(unnamed)"
    return str(name)


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out = {}
    for k, v in value.items():
        if v is None:
            v = ""
        elif isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, float) and v.is_integer():
            v = str(int(v))
        elif not isinstance(v, str):
            v = str(v)
        out[str(k)] = v
    return out


def parse_quantity(value: Any) -> float | None:
    """A resource quantity for countable resources ("1", 2, "4", "500m")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        v = value.strip()
        try:
            if v.endswith("m"):
                return float(v[:-1]) / 1000.0
            if v.endswith("k"):
                return float(v[:-1]) * 1000.0
            return float(v)
        except ValueError:
            return None
    return None


# --- suppressions ---------------------------------------------------------------------------

def parse_suppressions(value: Any, file: str | None, line: int | None, where: str
                       ) -> tuple[list[Suppression], list[Finding]]:
    """``tagguard.io/ignore: "missing-tag,gpu-quota: reason; invalid-value: reason"``."""
    sups: list[Suppression] = []
    bad: list[Finding] = []
    if not isinstance(value, str):
        bad.append(_bad_suppression(file, line, where, repr(value), "the value must be a string"))
        return sups, bad
    for entry in re.split(r"[;\n]", value):
        entry = entry.strip()
        if not entry:
            continue
        rules_text, sep, reason = entry.partition(":")
        rules = [r.strip() for r in rules_text.split(",") if r.strip()]
        reason = reason.strip()
        if not sep or not rules:
            bad.append(_bad_suppression(file, line, where, entry, "expected `rule[,rule]: reason`"))
            continue
        if not reason:
            bad.append(_bad_suppression(file, line, where, entry, "a reason is required after the colon"))
            continue
        sups.append(Suppression(rules=rules, reason=reason, file=file, line=line))
    return sups, bad


def _bad_suppression(file, line, where, text, why) -> Finding:
    return Finding(rule="invalid-suppression", category="invalid_suppression", severity=WARNING,
                   message=f"{where}: annotation {IGNORE_ANNOTATION} = {text!r} does not suppress anything: {why}",
                   address=where, file=file, line=line,
                   fix=f'{IGNORE_ANNOTATION}: "missing-tag: <why this workload is exempt>"')


# --- node placement -------------------------------------------------------------------------

def _required_terms(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    aff = get_path(pod_spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
    return [t for t in aff if isinstance(t, dict)] if isinstance(aff, list) else []


def node_constraints(pod_spec: dict[str, Any]) -> dict[str, list[str]]:
    """Label key -> values the pod's nodes must have (nodeSelector and required node affinity)."""
    out: dict[str, list[str]] = {}
    sel = pod_spec.get("nodeSelector")
    if isinstance(sel, dict):
        for k, v in sel.items():
            out.setdefault(str(k), []).append(str(v))
    terms = _required_terms(pod_spec)
    # Terms are ORed; a key counts only when every term pins it.
    per_term: list[dict[str, list[str]]] = []
    for term in terms:
        got: dict[str, list[str]] = {}
        for expr in term.get("matchExpressions") or []:
            if not isinstance(expr, dict) or expr.get("operator") != "In":
                continue
            vals = [str(v) for v in expr.get("values") or []]
            if vals:
                got.setdefault(str(expr.get("key")), []).extend(vals)
        per_term.append(got)
    if per_term:
        common = set(per_term[0])
        for t in per_term[1:]:
            common &= set(t)
        for key in common:
            vals = []
            for t in per_term:
                vals.extend(v for v in t[key] if v not in vals)
            out.setdefault(key, []).extend(v for v in vals if v not in out.get(key, []))
    return out


@lru_cache(maxsize=4096)
def _short_model(value: str) -> str:
    try:
        from tagguard.pricing.gpus import short_gpu_model
    except ImportError:  # pricing not part of this build
        return value
    return short_gpu_model(value) or value


@lru_cache(maxsize=4096)
def _accelerator_of_type(instance_type: str) -> tuple[str | None, float | None] | None:
    try:
        from tagguard.pricing.catalog import accelerator_info
    except ImportError:
        return None
    try:
        return accelerator_info(instance_type)
    except Exception:  # a broken rate card is the pricing engine's to report
        return None


def _listed(values: list[str]) -> str:
    """[a, b]: values as a reader writes them, not Python reprs."""
    return "[" + ", ".join(str(v) for v in values) + "]" if values else ""


def _known_type(instance_type: str) -> bool:
    acc = _accelerator_of_type(instance_type)
    return bool(acc and acc[0])


def _unknown_families(families: list[str]) -> str:
    """" (g7e: not in the rate card ...)" for accelerated families the rate card does not know."""
    try:
        from tagguard.pricing.catalog import known_family
    except ImportError:
        return ""
    try:
        unknown = list(dict.fromkeys(f for f in families if not known_family(f, "aws")))
    except Exception:  # a broken rate card is the pricing engine's to report
        return ""
    if not unknown:
        return ""
    return (f" ({', '.join(unknown)}: unknown GPU instance famil{'ies' if len(unknown) > 1 else 'y'}, "
            "treated as AI, not priced: not in the rate card)")


def placement(pod_spec: dict[str, Any], table: KindTable, notes: list[str]) -> tuple[str | None, str | None, str]:
    """``(accelerator, instance_type, pricing_model)`` from node selectors, affinity and tolerations."""
    cons = node_constraints(pod_spec)
    accelerator = None
    for key in table.accelerator_labels:
        vals = cons.get(key)
        if not vals:
            continue
        models = list(dict.fromkeys(_short_model(v) for v in vals))
        if len(models) == 1:
            accelerator = models[0]
        else:
            notes.append(f"node label {key} allows {', '.join(models)}; GPU model not pinned")
        break
    instance_type = None
    for key in table.instance_type_labels:
        vals = cons.get(key)
        if not vals:
            continue
        if len(vals) == 1:
            instance_type = vals[0]
        else:
            notes.append(f"node label {key} allows {', '.join(vals)}; instance type not pinned")
        break
    if accelerator is None and instance_type:
        acc = _accelerator_of_type(instance_type)
        if acc:
            accelerator = _short_model(acc[0])
    model = "on_demand"
    for key, spot_values in table.spot_labels.items():
        vals = cons.get(key)
        if vals and all(v.lower() in spot_values for v in vals):
            model = "spot"
            break
    if model == "on_demand":
        for tol in pod_spec.get("tolerations") or []:
            if isinstance(tol, dict) and tol.get("key") in table.spot_taints:
                notes.append(f"tolerates spot nodes ({tol.get('key')}) but does not require them; priced on-demand")
                break
    return accelerator, instance_type, model


def placement_request(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """nodeSelector, required node affinity terms and tolerations, as plain data (bounded)."""
    out: dict[str, Any] = {}
    sel = pod_spec.get("nodeSelector")
    if isinstance(sel, dict) and sel:
        out["node_selector"] = {str(k): str(v) for k, v in list(sel.items())[:64]}
    terms = []
    for term in _required_terms(pod_spec)[:16]:
        exprs = []
        for e in (term.get("matchExpressions") or [])[:32] if isinstance(term.get("matchExpressions"), list) else []:
            if isinstance(e, dict) and e.get("key") is not None:
                raw = e.get("values")
                vals = raw if isinstance(raw, list) else []
                exprs.append({"key": str(e.get("key")), "operator": str(e.get("operator")),
                              "values": [str(v) for v in vals[:64]]})
        terms.append(exprs)
    if terms:
        out["terms"] = terms
    tols = pod_spec.get("tolerations")
    if isinstance(tols, list):
        kept = [{k: (None if t.get(k) is None else str(t.get(k))) for k in ("key", "operator", "value", "effect")}
                for t in tols[:32] if isinstance(t, dict)]
        if kept:
            out["tolerations"] = kept
    return out


# --- containers and accelerators -------------------------------------------------------------

def _container_accel(container: dict[str, Any], table: KindTable, bad: list[str] | None = None) -> dict[str, float]:
    """Accelerator resource -> quantity of one container; a quantity that is not a number (``$GPU_PER_NODE``,
    ``PLACEHOLDER``) is left out and described in ``bad`` (the role is AI with an unknown GPU count)."""
    res = container.get("resources")
    if not isinstance(res, dict):
        return {}
    out: dict[str, float] = {}
    shares: list[str] = []
    for section in ("limits", "requests"):  # extended resources: limits == requests when both are set
        values = res.get(section)
        if not isinstance(values, dict):
            continue
        for name, qty in values.items():
            name = str(name)
            if name in out or table.accelerator_weight(name) is None:
                continue
            if table.share_unknown(name):  # sizes a share (`vgpu-memory` beside `vgpu-number`): alone, unknown
                if name not in shares and qty not in (0, "0"):
                    shares.append(f"{name}: {str(qty)[:40]}")
                continue
            q = parse_quantity(qty)
            if q is not None and q > 0:
                out[name] = q
            elif q is None and qty is not None and bad is not None:
                who = f"container `{container['name']}`" if isinstance(container.get("name"), str) else "the pod"
                bad.append(f"{who} requests {name}: {str(qty)[:80]!r}, not a number")
    if shares and not out and bad is not None:
        who = f"container `{container['name']}`" if isinstance(container.get("name"), str) else "the pod"
        bad.append(f"{who} requests a share of a GPU ({', '.join(shares[:4])}): how much of a GPU is unknown")
    return out


def pod_accelerators(pod_spec: dict[str, Any], extra_containers: list[dict[str, Any]], table: KindTable,
                     bad: list[str] | None = None) -> tuple[dict[str, float], float]:
    """Accelerator resources one pod holds, and its GPU-equivalents (init containers run before the rest);
    quantities that are not numbers are described in ``bad``."""
    running: dict[str, float] = {}
    init_peak: dict[str, float] = {}
    for c in list(pod_spec.get("containers") or []) + extra_containers:
        if isinstance(c, dict):
            for k, v in _container_accel(c, table, bad).items():
                running[k] = running.get(k, 0.0) + v
    for c in pod_spec.get("initContainers") or []:
        if not isinstance(c, dict):
            continue
        acc = _container_accel(c, table, bad)
        if c.get("restartPolicy") == "Always":  # a native sidecar runs alongside the app
            for k, v in acc.items():
                running[k] = running.get(k, 0.0) + v
        else:
            for k, v in acc.items():
                init_peak[k] = max(init_peak.get(k, 0.0), v)
    total: dict[str, float] = dict(running)
    for k, v in init_peak.items():
        total[k] = max(total.get(k, 0.0), v)
    gpus = sum(v * (table.accelerator_weight(k) or 1.0) for k, v in total.items())
    return total, gpus


# --- the builder -----------------------------------------------------------------------------

@dataclass
class RoleInput:
    """One pod template of a workload object (a role of a multi-role CRD, or the only one): what
    ``Builder._role`` turns into a resource."""

    doc: Doc
    spec: dict[str, Any]  # the kind table entry
    role: dict[str, Any]  # the role entry of the kind table
    item: Any  # what the role's paths start at: the object, or an item of its `each` collection
    item_path: str
    role_name: str | None
    kind: str
    ns: str
    base: str  # Kind/namespace/name
    ctrl_labels: dict[str, str]  # the object's own metadata.labels
    ctrl_annotations: Any
    workload: str  # service | job | daemon (kind table)
    # an object inside another (AppWrapper component, Katib trial): the outer object's count of it (None:
    # not a number, ``factor_why`` says why) and what the resource's notes say about it
    factor: int | None = 1
    factor_why: str | None = None
    embed_notes: list[str] = field(default_factory=list)

    @property
    def obj(self) -> dict[str, Any]:
        return self.doc.obj

    @property
    def address(self) -> str:
        return f"{self.base}#{self.role_name}" if self.role_name else self.base

    @property
    def role_key(self) -> str:
        return self.role_name or self.role.get("role") or ""


@dataclass
class PodInputs:
    """What a role's pods get, read from the object: labels, annotations, the pod spec (overrides
    applied) and the containers that count for accelerators besides the pod spec's own."""

    pod_spec: dict[str, Any]
    label_paths: list[str]
    labels: dict[str, str]
    annotations: list[Any]
    extra_containers: list[dict[str, Any]]
    open_reason: str | None = None
    provisioned_type: str | None = None
    runtime_units: int | None = None  # nodes the TrainingRuntime runs when the object does not say
    notes: list[str] = field(default_factory=list)  # said on the compute (a GPU share from annotations, a DRA claim)
    # what keeps the pods' accelerators from being sized: an unresolved-size warning each; with
    # ``gpus_unknown`` the GPU count per pod is unknown (otherwise only the node size is)
    unresolved: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)  # what the user can do about each of them
    gpus_unknown: bool = False
    possibly_ai: bool = False  # the pods may hold no accelerator at all (a DRA claim not in the scan)


FACT_KINDS = frozenset({"Namespace", "TrainingRuntime", "ClusterTrainingRuntime", "List",
                        "ResourceClaimTemplate", "ResourceClaim", "OpenModel"})
# Templates whose requests count on the objects that use them, never on their own (not "unknown kinds")
TEMPLATE_KINDS = frozenset({"PodTemplate", "ServingRuntime", "ClusterServingRuntime", "ClusterWorkflowTemplate",
                            "ResourceClaimTemplate", "ResourceClaim", "TrainingRuntime", "ClusterTrainingRuntime",
                            "LimitRange", "List"})
# DRA device classes of accelerators (gpu.nvidia.com, mig.nvidia.com, gpu.amd.com, neuron.aws.com, tpu.google.com)
_DRA_ACCEL_CLASS = re.compile(r"gpu|mig\.nvidia|neuron|tpu|gaudi|habana|accelerator", re.I)
_WALK_MAX = 200_000  # nodes of one unknown-kind object searched for accelerator requests
_EMBED_DEPTH = 2  # objects inside objects inside objects (an AppWrapper of a Katib Experiment of a Job) at most
_EMBED_MAX = 256  # embedded objects read per object (an AppWrapper has a few components)
_SHARED_MAX = 8192  # distinct short strings shared between resources (label keys, values, origins)


class Builder:
    """Turns the objects of one scan input (a set of files, one chart, a Terraform resource) into resources.

    Namespaces and TrainingRuntimes apply to the workloads of every file, so the builder keeps their
    facts (``learn``) and builds each other object as soon as it is given (``build_docs``), dropping
    it afterwards: memory grows with the resources, not with the parsed documents.  ``add`` +
    ``build`` do both for inputs that come in one piece (a chart, a Terraform resource)."""

    def __init__(self, ctx: Any, source: str = "kubernetes", chart: str | None = None,
                 default_namespace: str | None = None, *, share_origins: bool = False):
        self.ctx = ctx
        # resources with the same tag origins get one ``tag_origins`` dict (nothing reads it but messages);
        # only for callers that do not edit it afterwards (the Terraform wrappers pop keys from theirs)
        self.share_origins = share_origins
        self.source = source
        self.chart = chart
        self.table = load_table(getattr(ctx, "config", None))
        options = getattr(ctx, "options", None)  # sources.base.ScanOptions
        self.default_ns = default_namespace or getattr(options, "namespace", None) or "default"
        self.docs: list[Doc] = []
        self.out = SourceOutput()
        self.namespaces: dict[str, NamespaceInfo] = self._config_namespaces()
        # TrainingRuntime name -> {replicated job name: its pod labels}; None when it has no job list
        self.runtimes: dict[str, dict[str, dict[str, str]] | None] = {}
        # TrainingRuntime name -> what its pods request (only runtimes that say something: ``_runtime_compute``)
        self.runtime_compute: dict[str, RuntimeCompute] = {}
        # (kind, namespace, name) of a DRA ResourceClaim(Template) -> (accelerators per claim, None = unknown; why)
        self.claims: dict[tuple[str, str, str], tuple[float | None, str]] = {}
        # llmaz OpenModel (file, name), (directory + "/", name) and ("", name) (cluster-scoped; the last one
        # read) -> its inference flavors [(name, limits)] in order; a Playground takes the model of its own file,
        # then of its directory (example directories define one model name several times, each file a whole
        # example)
        self.models: dict[tuple[str, str], list[tuple[str, dict[str, Any]]]] = {}
        self._nodepools: list[dict[str, Any]] = []
        self._nodeclasses: dict[str, Doc] = {}
        self._shared: dict[str, str] = {}
        self._shared_values: dict[str, dict[str, Any]] = {}
        self._shared_origins: dict[tuple, dict[str, str]] = {}

    def add(self, docs: Iterable[Doc]) -> None:
        self.docs.extend(docs)

    def build(self) -> SourceOutput:
        """Everything given to ``add`` as one input."""
        docs, self.docs = self.docs, []
        self.learn(docs)
        self.build_docs(docs)
        return self.finish()

    # --- the streaming interface ----------------------------------------------------------------
    def learn(self, docs: Iterable[Doc]) -> None:
        """Keep the facts other objects need (Namespace labels, TrainingRuntime pod labels); call it
        with the documents of every file before ``build_docs`` (it ignores all other kinds)."""
        for doc in docs:
            obj = doc.obj
            kind = obj.get("kind")
            if kind == "Namespace" and str(obj.get("apiVersion", "")) == "v1":
                name = _name(obj)
                info = self.namespaces.setdefault(name, NamespaceInfo(name))
                info.labels.update(self._str_map(_meta(obj).get("labels")))
                info.file, info.line, info.origin = doc.file, doc.line, "Namespace"
            elif kind in ("TrainingRuntime", "ClusterTrainingRuntime"):
                self.runtimes[_name(obj)] = _runtime_roles(obj)
                rc = _runtime_compute(obj, self.table)
                if rc is not None:
                    self.runtime_compute[_name(obj)] = rc
                else:
                    self.runtime_compute.pop(_name(obj), None)
            elif kind in ("ResourceClaimTemplate", "ResourceClaim") and \
                    str(obj.get("apiVersion", "")).startswith("resource.k8s.io/"):
                devices = get_path(obj, "spec.spec.devices" if kind == "ResourceClaimTemplate" else "spec.devices")
                ns = str(_meta(obj).get("namespace") or self.default_ns)
                self.claims[(kind, ns, _name(obj))] = _claim_accelerators(devices)
            elif kind == "OpenModel" and str(obj.get("apiVersion", "")).startswith("llmaz.io/"):
                flavors = get_path(obj, "spec.inferenceConfig.flavors")
                self.models[(doc.file, _name(obj))] = self.models[(_dir(doc.file), _name(obj))] = \
                    self.models[("", _name(obj))] = [
                    (str(f.get("name")), f["limits"] if isinstance(f.get("limits"), dict) else {})
                    for f in (flavors if isinstance(flavors, list) else [])[:64] if isinstance(f, dict)]

    def build_docs(self, docs: Iterable[Doc]) -> None:
        """Resources and findings for ``docs``, in their order; nothing of a document is kept."""
        for doc in docs:
            obj = doc.obj
            kind = str(obj.get("kind"))
            api = str(obj.get("apiVersion"))
            try:
                if kind == "Namespace" and api == "v1":
                    self._namespace(doc)
                elif kind == "ResourceQuota" and api == "v1":
                    self._quota(doc)
                elif kind == "NodePool" and api.startswith("karpenter.sh/"):
                    self._nodepools.append(self._nodepool(doc))
                elif kind == "EC2NodeClass" and api.startswith("karpenter.k8s.aws/"):
                    self._nodeclasses[_name(obj)] = _nodeclass_facts(doc)
                else:
                    spec = self.table.lookup(kind, api)
                    if spec is not None:
                        self._workload(doc, spec)
                    elif kind not in TEMPLATE_KINDS:
                        self._unknown_kind(doc)
            except RecursionError:
                self.out.findings.append(parse_error(doc.file, doc.line, f"{doc.file}:{doc.line}: {kind} "
                                                     f"{_name(obj)} is nested too deeply to read"))

    def finish(self) -> SourceOutput:
        """The Karpenter node classes (they need every NodePool) and the output."""
        self._karpenter(self._nodepools, self._nodeclasses)
        self._nodepools, self._nodeclasses = [], {}
        return self.out

    # --- compact records ------------------------------------------------------------------------
    def _share(self, value: str) -> str:
        """One string object for equal short strings (label keys and values, origins, hints repeat
        across thousands of objects; each parsed document has its own copies)."""
        hit = self._shared.get(value)
        if hit is not None:
            return hit
        if len(self._shared) < _SHARED_MAX and len(value) <= 200:
            self._shared[value] = value
        return value

    def _share_value(self, value: dict[str, Any]) -> dict[str, Any]:
        """One dict for equal plain-data meta values (the node placement and accelerators of replicas of
        the same workload).  Readers treat ``meta`` values as read-only (pricing.placement copies first)."""
        key = json.dumps(value, ensure_ascii=False, default=str)
        hit = self._shared_values.get(key)
        if hit is not None:
            return hit
        if len(self._shared_values) < _SHARED_MAX:
            self._shared_values[key] = value
        return value

    def _str_map(self, value: Any) -> dict[str, str]:
        share = self._share
        return {share(k): share(v) for k, v in _str_map(value).items()}

    # ------------------------------------------------------------------------------------
    def _config_namespaces(self) -> dict[str, NamespaceInfo]:
        config = getattr(self.ctx, "config", None)
        section = (config.section("kubernetes") if config is not None else None) or {}
        out = {}
        for name, spec in (section.get("namespaces") or {}).items():
            labels = _str_map((spec or {}).get("labels")) if isinstance(spec, dict) else {}
            out[str(name)] = NamespaceInfo(str(name), labels, origin="config kubernetes.namespaces")
        return out

    def _base_meta(self, ns: str | None, doc: Doc) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if ns is not None:
            meta["namespace"] = ns
        if self.chart:
            meta["chart"] = self.chart
        if doc.helm_source:
            meta["template"] = doc.helm_source
        return meta

    def _suppressions(self, annotations: Iterable[Any], doc: Doc, address: str) -> list[Suppression]:
        sups: list[Suppression] = []
        for ann in annotations:
            if isinstance(ann, dict) and IGNORE_ANNOTATION in ann:
                got, bad = parse_suppressions(ann[IGNORE_ANNOTATION], doc.file, doc.line, address)
                sups.extend(got)
                for f in bad:
                    if not any(x.message == f.message for x in self.out.findings):
                        self.out.findings.append(f)
        return sups

    def _namespace(self, doc: Doc) -> None:
        name = _name(doc.obj)
        address = f"Namespace//{name}"
        meta = self._base_meta(None, doc)
        meta["namespace"] = name
        self.out.resources.append(Resource(
            address=address, type="Namespace", source=self.source, file=doc.file, line=doc.line,
            taggable=False, tag_style="kubernetes", tags=_str_map(_meta(doc.obj).get("labels")), meta=meta,
            suppressions=self._suppressions([_meta(doc.obj).get("annotations")], doc, address)))

    def _quota(self, doc: Doc) -> None:
        obj = doc.obj
        ns = str(_meta(obj).get("namespace") or self.default_ns)
        hard = get_path(obj, "spec.hard")
        quota: dict[str, Any] = {}
        invalid: list[str] = []
        if isinstance(hard, dict):
            for key, value in hard.items():
                key = str(key)
                prefix, _, rest = key.partition(".")
                if prefix == "requests" and self.table.accelerator_weight(rest) is not None:
                    quota[rest] = parse_quantity(value)
                elif prefix == "limits" and self.table.accelerator_weight(rest) is not None:
                    invalid.append(key)
                elif self.table.accelerator_weight(key) is not None:
                    invalid.append(key)
        address = f"ResourceQuota/{ns}/{_name(obj)}"
        meta = self._base_meta(ns, doc)
        meta["gpu_quota"] = quota
        if invalid:
            meta["invalid_gpu_quota_keys"] = invalid
        self.out.resources.append(Resource(address=address, type="ResourceQuota", source=self.source, file=doc.file,
                                           line=doc.line, taggable=False, tag_style="kubernetes", meta=meta))

    def _unknown_kind(self, doc: Doc, within: str | None = None) -> None:
        """A kind the kinds table does not know that requests accelerators (a container-like
        ``resources.limits/requests`` anywhere in it): a not-scanned warning, never silence.  ``within``:
        the address of the object it is embedded in (an AppWrapper component)."""
        found: dict[str, float] = {}
        bad: list[str] = []
        stack: list[Any] = [doc.obj]
        seen = 0
        while stack and seen < _WALK_MAX:
            node = stack.pop()
            seen += 1
            if isinstance(node, dict):
                res = node.get("resources")
                if isinstance(res, dict) and ("limits" in res or "requests" in res):
                    for k, v in _container_accel(node, self.table, bad).items():
                        found[k] = found.get(k, 0.0) + v
                stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
            elif isinstance(node, list):
                stack.extend(v for v in node if isinstance(v, (dict, list)))
        if not found and not bad:
            return
        obj = doc.obj
        kind, api = str(obj.get("kind")), str(obj.get("apiVersion"))
        ns = str(_meta(obj).get("namespace") or self.default_ns)
        # the walk stops after _WALK_MAX nodes: what it found is then a lower bound
        what = ", ".join([f"{'at least ' if stack else ''}{v:g} {k}" for k, v in found.items()] + bad)
        address = f"{within}#{kind}/{_name(obj)}" if within else f"{kind}/{ns}/{_name(obj)}"
        self.out.findings.append(Finding(
            rule="not-scanned", category="not_scanned", severity=WARNING, address=address, resource_type=kind,
            file=doc.file, line=doc.line,
            message=(f"{doc.file}:{doc.line}: {address}: kind {kind[:120]} ({api[:120]}) is not in the kinds table; "
                     f"it requests {what}; its pods are not checked or priced: add it under kubernetes.crds"),
            fix=(f"add {kind[:120]} under kubernetes.crds in .tagguard.yaml (where its pod templates live and how "
                 "many pods each makes; docs/sources.md)"),
            extra={"kind": kind, "api_version": api, "accelerators": {k: v for k, v in found.items()}}))

    # --- workloads: one resource per pod template ---------------------------------------------
    def _workload(self, doc: Doc, spec: dict[str, Any], outer: RoleInput | None = None, depth: int = 0) -> None:
        """One resource per pod template of ``doc``; ``outer`` (kind, namespace, address, role name as
        the prefix, count, notes) when the object is embedded in another (``embeds``)."""
        obj = doc.obj
        kind = self._share(str(obj.get("kind")))
        ns = outer.ns if outer else self._share(str(_meta(obj).get("namespace") or self.default_ns))
        base = outer.base if outer else f"{kind}/{ns}/{_name(obj)}"
        ctrl_labels = self._str_map(_meta(obj).get("labels"))
        workload = spec.get("workload", "service")
        daemon = stopped(spec.get("daemon_when"), obj, obj)
        if daemon:
            workload = "daemon"  # Slinky NodeSet `scalingMode: DaemonSet`
        found_any = False
        for role_name, role, item, item_path in iter_roles(spec, obj):
            name = role_name
            if outer is not None:  # paths in messages from the outer object's root
                name = f"{outer.role_name}/{role_name}" if role_name else outer.role_name
                item_path = join(outer.item_path, item_path) if item_path else outer.item_path
            r = RoleInput(doc, spec, role, item, item_path, name, kind, ns, base, ctrl_labels,
                          _meta(obj).get("annotations"), workload)
            if daemon:
                r.embed_notes.append(f"{daemon}: one pod per matching node")
            if outer is not None:
                r.factor, r.factor_why, r.embed_notes = outer.factor, outer.factor_why, \
                    outer.embed_notes + r.embed_notes
            found_any = self._role(r) or found_any
        for embed in spec.get("embeds") or []:
            if isinstance(embed, dict):
                found_any = self._embedded(doc, spec, embed, ns, base, depth) or found_any
        if not found_any and not spec.get("roles") and not spec.get("embeds"):
            self.out.findings.append(parse_error(doc.file, doc.line, f"{doc.file}:{doc.line}: {base}: the kind table "
                                                 f"entry for {kind} has no roles", severity=WARNING))

    def _embedded(self, doc: Doc, spec: dict[str, Any], embed: dict[str, Any], ns: str, base: str,
                  depth: int) -> bool:
        """Whole objects inside this one (an AppWrapper's ``components[].template``, a Katib Experiment's
        ``trialTemplate.trialSpec``): each is read as its own kind, in this object's namespace, under this
        object's address, times this object's count of it."""
        obj = doc.obj
        each, path = embed.get("each"), str(embed.get("object") or ".")
        items: list[tuple[str, Any]] = [("", obj)]
        if each:
            coll = get_path(obj, str(each))
            items = [(str(i), v) for i, v in enumerate(coll)] if isinstance(coll, list) else \
                [(str(k), v) for k, v in coll.items()] if isinstance(coll, dict) else []
        found = False
        if len(items) > _EMBED_MAX:
            self._not_read(doc, base, f"`{each}` holds {len(items)} objects; the first {_EMBED_MAX} are read, the "
                           "pods of the others are not checked")
        for key, item in items[:_EMBED_MAX]:
            where = join(f"{each}.{key}" if each else None, path)
            inner = get_path(item, path, obj)
            if not isinstance(inner, dict) or not isinstance(inner.get("kind"), str) or \
                    not isinstance(inner.get("apiVersion"), str):
                if inner is not None or not embed.get("optional"):
                    self._not_read(doc, base, f"no object with kind and apiVersion at `{where}`; the pods it makes "
                                   "are not checked")
                continue
            if depth >= _EMBED_DEPTH:
                self._not_read(doc, base, f"the object at `{where}` is nested more than {_EMBED_DEPTH} objects deep; "
                               "not read")
                continue
            ikind, iapi = str(inner["kind"])[:120], str(inner["apiVersion"])[:120]
            factor, why = resolve_units({"multiply": list(embed.get("multiply") or [])}, item, obj)
            name = str(embed["role"]) + (f"[{key}]" if each else "") if embed.get("role") else \
                f"{ikind}/{_name(inner)}"
            notes = [f"{ikind} inside {str(obj.get('kind'))[:120]} (`{where}`)"]
            if factor != 1:
                notes.append(f"x{factor} of it at a time ({', '.join(map(str, embed.get('multiply') or []))})"
                             if factor is not None else f"count of it unknown ({why})")
            outer = RoleInput(doc, spec, {}, item, where, self._share(name), str(obj.get("kind")), ns, base, {},
                              None, "", factor, why, notes)
            idoc = Doc(inner, doc.file, doc.line, doc.helm_source)
            ispec = self.table.lookup(ikind, iapi)
            if ispec is None:
                if ikind not in TEMPLATE_KINDS:
                    self._unknown_kind(idoc, within=base)
                continue
            self._workload(idoc, ispec, outer, depth + 1)
            found = True
        return found

    def _not_read(self, doc: Doc, address: str, why: str) -> None:
        finding = parse_error(doc.file, doc.line, f"{doc.file}:{doc.line}: {address}: {why}", severity=WARNING,
                              rule="not-scanned", category="not_scanned")
        finding.address = address
        self.out.findings.append(finding)

    def _role(self, r: RoleInput) -> bool:
        """One role's resource: its pods' inputs, the tags they carry, what they run on, where a fix goes."""
        pod = self._pod_inputs(r)
        if pod is None:
            return False
        inherit = bool(r.role.get("inherit_object_labels"))
        label_where = self._share(", ".join(f"`{join(r.item_path, p) if not p.startswith('$.') else p[2:]}`"
                                            for p in pod.label_paths) or "the pod template labels")
        tags, origins = self._pod_tags(r, pod.labels, label_where, inherit)
        unresolved, reasons = _split_templated(tags)
        meta = self._base_meta(r.ns, r.doc)
        if r.role_name:
            meta["role"] = r.role_name
        compute = self._compute(r, pod, meta)
        # where the fix goes, and labels on the controller that its pods do not get (a fact for
        # rules/propagation.py, which decides which of them the taxonomy cares about)
        hint = f"the pod labels ({label_where})"
        if r.kind != "Pod" and not inherit:
            hint += f" or the labels of Namespace `{r.ns}`"
        address = r.address
        res = Resource(address=address, type=r.kind, source=self.source, file=r.doc.file, line=r.doc.line,
                       ai=compute is not None, tags=tags, unresolved_tags=unresolved, unresolved_reasons=reasons,
                       tag_style="kubernetes", compute=compute, tag_origins=origins, tag_fix_hint=self._share(hint),
                       meta=meta, tags_open=pod.open_reason is not None, open_reason=pod.open_reason,
                       suppressions=self._suppressions(pod.annotations, r.doc, address))
        missing_ctrl = {k: v for k, v in r.ctrl_labels.items() if k not in tags and k not in unresolved}
        if missing_ctrl and r.kind != "Pod" and not inherit:
            res.unpropagated.append(Unpropagated(
                via="kubernetes", keys=missing_ctrl, reaching=tags, reaching_unresolved=unresolved,
                detail={k: v for k, v in (("kind", r.kind), ("label_where", label_where), ("role", r.role_name),
                                          ("chart", self.chart)) if v}))
        self.out.resources.append(res)
        return True

    def _pod_template(self, r: RoleInput) -> tuple[Any, dict[str, Any]] | None:
        """``(template, pod spec)`` of a role; None (with a not-scanned warning unless the role is optional)
        when the object has no pod template where the kind table says."""
        template_path = r.role.get("template")
        template = get_path(r.item, template_path, r.obj) if template_path else None
        if template_path and not isinstance(template, dict):
            if not r.role.get("optional"):
                where = join(r.item_path, template_path)
                doc = r.doc
                self.out.findings.append(parse_error(
                    doc.file, doc.line, f"{doc.file}:{doc.line}: {r.address}: no pod template at `{where}`; this "
                    "workload's pods are not checked", severity=WARNING, rule="not-scanned", category="not_scanned"))
            return None
        pod_spec_path = r.role.get("pod_spec") or (join(template_path, "spec") if template_path else None)
        pod_spec = get_path(r.item, pod_spec_path, r.obj) if pod_spec_path else None
        if pod_spec_path and r.role.get("pod_spec") and not isinstance(pod_spec, dict) and r.role.get("optional"):
            return None
        return template, pod_spec if isinstance(pod_spec, dict) else {}

    def _pod_inputs(self, r: RoleInput) -> PodInputs | None:
        found = self._pod_template(r)
        if found is None:
            return None
        template, pod_spec = found
        role, item, obj = r.role, r.item, r.obj
        template_path = role.get("template")
        label_paths = list(role.get("labels") or ([join(template_path, "metadata.labels")] if template_path else []))
        labels: dict[str, str] = {}
        for p in label_paths:
            labels.update(self._str_map(get_path(item, p, obj)))
        annotations = [r.ctrl_annotations]
        if template_path:
            annotations.append(get_path(template, "metadata.annotations"))
        pod = PodInputs(pod_spec, label_paths, labels, annotations, [])
        for c in role.get("containers") or []:
            v = pod_spec.get(c)
            if isinstance(v, dict):
                pod.extra_containers.append(v)
        if role.get("overrides"):
            self._apply_overrides(r, pod)
        if role.get("resources") or role.get("model_ref"):
            res = get_path(item, role["resources"], obj) if role.get("resources") else None  # relative to the role
            # item ($. = root), like every role path
            flavor = self._model_flavor(r, pod) if role.get("model_ref") else None
            if flavor:  # llmaz: the model's flavor overwrites these requests and limits of the model runner
                own = res if isinstance(res, dict) else {}
                parts = {part: own.get(part) for part in ("limits", "requests")}
                res = {part: {**(v if isinstance(v, dict) else {}), **flavor} for part, v in parts.items()}
            if isinstance(res, dict):
                pod.extra_containers.append({"resources": res})
        unknown: list[str] = []
        pod.extra_containers.extend(declared_gpus(role, item, obj, unknown))
        if unknown:  # a kubeai resource profile that names no accelerator kind we know
            pod.unresolved.extend(unknown)
            pod.fixes.append("use a resource profile whose name says the accelerator (nvidia-gpu-l4, amd-gpu-mi300x, "
                             "cpu), or describe the kind under kubernetes.crds")
            pod.gpus_unknown = pod.possibly_ai = True
        if role.get("instance_type"):  # the operator provisions this node type per unit (KAITO Workspace)
            value = get_path(item, role["instance_type"], obj)
            acc = _accelerator_of_type(value) if isinstance(value, str) else None
            if acc and acc[1]:
                pod.provisioned_type = value
                pod.extra_containers.append({"resources": {"limits": {"nvidia.com/gpu": acc[1]}}})
            elif acc is not None and isinstance(value, str):
                # named like GPU capacity (a known family's unknown size, or a GPU naming scheme's unknown
                # family): AI with its GPU count unknown, priced by the engine's unknown-type rule (a warning)
                pod.provisioned_type = value
        if role.get("accelerated") and pod.provisioned_type is None and \
                (not role.get("instance_type") or get_path(item, role["instance_type"], obj) is None):
            # the operator always runs these pods on accelerators (KAITO on existing GPU nodes); a size that is
            # given and has no GPU (a CPU VM) is not AI
            where = f"`{join(r.item_path, role['instance_type'])}` is not set" if role.get("instance_type") else \
                "the node size is not in the object"
            pod.unresolved.append(f"{r.kind} always runs on accelerators but {where}: the GPU model and node size "
                                  "are unknown")
            pod.fixes.append(f"set `{role['instance_type']}` to the node size" if role.get("instance_type") else
                             "give the object its node size")
        self._gpu_sharing(pod)
        self._dra_claims(r, pod)
        return pod

    def _model_flavor(self, r: RoleInput, pod: PodInputs) -> dict[str, Any] | None:
        """llmaz Playground: the limits of the claimed OpenModel's inference flavor (the claim's first
        ``inferenceFlavors`` entry, else the model's first flavor); a model not in the scan: possibly AI."""
        ref = r.role["model_ref"]
        paths = ref.get("name") if isinstance(ref, dict) else None
        name = next((v for v in (get_path(r.item, str(p), r.obj) for p in paths or []) if v is not None), None)
        if not isinstance(name, str):
            return None
        flavors = next((f for f in (self.models.get((key, name)) for key in (r.doc.file, _dir(r.doc.file), ""))
                        if f is not None), None)
        if flavors is None:
            pod.unresolved.append(f"its accelerators come from OpenModel `{name[:120]}`, which is not in the scanned "
                                  "files")
            pod.fixes.append(f"scan OpenModel `{name[:120]}` together with it")
            pod.gpus_unknown = pod.possibly_ai = True
            return None
        wanted = next((v for v in (get_path(r.item, str(p), r.obj) for p in ref.get("flavor") or []) if v is not None),
                      None)
        chosen = next((f for f in flavors if wanted is not None and f[0] == str(wanted)),
                      flavors[0] if flavors else None)
        if chosen is None or not chosen[1]:
            return None
        pod.notes.append(f"requests from OpenModel `{name[:120]}` flavor `{chosen[0][:80]}`")
        return chosen[1]

    def _gpu_sharing(self, pod: PodInputs) -> None:
        """KAI-Scheduler / Run:ai GPU sharing: pod annotations ``gpu-fraction`` (x ``gpu-fraction-num-devices``)
        or ``gpu-memory`` (MiB of a shared GPU) instead of ``nvidia.com/gpu``."""
        ann = pod.annotations[-1] if pod.annotations else None  # the pod template's (the object's for a Pod)
        if not isinstance(ann, dict) or ("gpu-fraction" not in ann and "gpu-memory" not in ann):
            return
        raw_devices = ann.get("gpu-fraction-num-devices")
        devices = as_count(raw_devices) if raw_devices is not None else 1
        frac = ann.get("gpu-fraction")
        if frac is not None:
            f = parse_quantity(frac)
            if f is not None and 0 < f <= 1 and devices:
                pod.extra_containers.append({"resources": {"limits": {"nvidia.com/gpu": f * devices}}})
                pod.notes.append(f"annotation gpu-fraction {f:g}" + (f" x {devices} devices" if devices != 1 else "")
                                 + ": a shared GPU (KAI-Scheduler / Run:ai), priced as that share")
                return
            pod.unresolved.append(f"annotation gpu-fraction is {str(frac)[:80]!r}"
                                  + (f" (gpu-fraction-num-devices {str(raw_devices)[:80]!r})" if not devices else "")
                                  + ", not a fraction between 0 and 1")
            pod.fixes.append('write gpu-fraction as a number between 0 and 1 (e.g. "0.5")')
        else:
            pod.unresolved.append(f"annotation gpu-memory {str(ann.get('gpu-memory'))[:80]!r} asks for GPU memory "
                                  "on a shared GPU (KAI-Scheduler / Run:ai): the share of the GPU is unknown")
            pod.fixes.append("annotate gpu-fraction (the share of a GPU) instead of gpu-memory to have it priced")
        pod.gpus_unknown = True

    def _dra_claims(self, r: RoleInput, pod: PodInputs) -> None:
        """Accelerators the pods get through Dynamic Resource Allocation: ``resourceClaims`` that name a
        ResourceClaimTemplate (one claim per pod) or a ResourceClaim (shared) of the scan."""
        claims = pod.pod_spec.get("resourceClaims")
        if not isinstance(claims, list):
            return
        for c in claims[:64]:
            if not isinstance(c, dict):
                continue
            alpha = c.get("source")  # alpha API: `source: {resourceClaimTemplateName: ...}`
            src: dict[str, Any] = alpha if isinstance(alpha, dict) else c
            tname, cname = src.get("resourceClaimTemplateName"), src.get("resourceClaimName")
            kind, name = ("ResourceClaimTemplate", tname) if tname else ("ResourceClaim", cname)
            if not isinstance(name, str):
                continue
            hit = self.claims.get((kind, r.ns, name))
            if hit is None:
                pod.unresolved.append(f"resourceClaims `{str(c.get('name'))[:80]}` names {kind} `{name[:120]}`, which "
                                      "is not in the scanned files: its devices (GPUs?) are unknown")
                pod.fixes.append(f"scan the {kind} together with the workload (same namespace)")
                pod.gpus_unknown = pod.possibly_ai = True
                continue
            count, why = hit
            if count == 0:
                continue
            if count is None:
                pod.unresolved.append(f"{kind} `{name[:120]}` {why}")
                pod.fixes.append(f"request an exact `count` of devices in {kind} `{name[:120]}`")
                pod.gpus_unknown = True
                continue
            pod.extra_containers.append({"resources": {"limits": {"nvidia.com/gpu": count}}})
            pod.notes.append(f"{count:g} accelerator(s) per pod from DRA {kind} `{name[:120]}` ({why})"
                             + ("; a ResourceClaim is shared by every pod that names it: counted per pod, an upper "
                                "bound" if kind == "ResourceClaim" else ""))

    def _apply_overrides(self, r: RoleInput, pod: PodInputs) -> None:
        """JobSet-style ``overrides`` (labels and pod spec per target job) and the TrainingRuntime's labels."""
        ov_labels, ov_specs = _overrides_for(get_path(r.obj, r.role["overrides"]), r.role_key)
        pod.labels.update(self._str_map(ov_labels))
        for s in ov_specs:
            pod.pod_spec = {**pod.pod_spec, **s}
        runtime_ref = r.spec.get("runtime_ref")
        runtime_name = get_path(r.obj, runtime_ref) if runtime_ref else None
        roles = self.runtimes.get(str(runtime_name)) if runtime_name else None
        rt_labels = roles.get(r.role_key, {}) if roles is not None else None
        if rt_labels is not None:
            pod.labels = {**rt_labels, **pod.labels}
        else:
            pod.open_reason = (f"its pods also get the labels of TrainingRuntime `{runtime_name}`, which is not in the "
                               "scanned files" if runtime_name else "its pods also get labels from a TrainingRuntime")
        rc = self.runtime_compute.get(str(runtime_name)) if runtime_name else None
        if rc is not None:
            self._runtime_pods(r, pod, rc, str(runtime_name))

    def _runtime_pods(self, r: RoleInput, pod: PodInputs, rc: RuntimeCompute, runtime_name: str) -> None:
        """What the runtime's job of this role requests per node (the object's ``resources`` path, e.g. TrainJob
        ``trainer.resourcesPerNode``, replaces its trainer container's), and how many nodes it runs when the
        object gives no count (TrainJob ``trainer.numNodes`` overrides the runtime's ``mlPolicy.numNodes``)."""
        own = get_path(r.item, r.role["resources"], r.obj) if r.role.get("resources") else None
        for name, res in rc.jobs.get(r.role_key, ()):
            if isinstance(own, dict) and name == rc.trainer_container:
                continue
            pod.extra_containers.append({"name": name, "resources": res} if name else {"resources": res})
        given = any(get_path(r.item, str(p), r.obj) is not None for p in r.role.get("replicas") or []
                    if not isinstance(p, (int, float)))
        if not given and rc.num_nodes is not None and r.role_key == rc.trainer_job:
            pod.runtime_units = rc.num_nodes

    def _pod_tags(self, r: RoleInput, pod_labels: dict[str, str], label_where: str, inherit: bool
                  ) -> tuple[dict[str, str], dict[str, str]]:
        """The labels the pods carry (Namespace, then the object's own when the kind copies them, then the
        pod template's) and where each came from."""
        tags: dict[str, str] = {}
        origins: dict[str, str] = {}
        nsinfo = self.namespaces.get(r.ns)
        if nsinfo:
            where = self._share(f"Namespace {r.ns} labels" if nsinfo.origin == "Namespace" else
                                f"{nsinfo.origin}.{r.ns}.labels")
            for k, v in nsinfo.labels.items():
                tags[k] = v
                origins[k] = where
        if inherit:
            where = self._share(f"{r.kind} metadata.labels (copied to its pods)")
            for k, v in r.ctrl_labels.items():
                tags[k] = v
                origins[k] = where
        where = self._share(f"pod labels ({label_where})")
        for k, v in pod_labels.items():
            tags[k] = v
            origins[k] = where
        if self.share_origins:
            key = tuple(origins.items())
            hit = self._shared_origins.get(key)
            if hit is not None:
                return tags, hit
            if len(self._shared_origins) < _SHARED_MAX:
                self._shared_origins[key] = origins
        return tags, origins

    def _compute(self, r: RoleInput, pod: PodInputs, meta: dict[str, Any]) -> Compute | None:
        """What the role's pods run on (None when they hold no accelerator); sets ``meta`` facts."""
        bad: list[str] = []
        accel, gpus = pod_accelerators(pod.pod_spec, pod.extra_containers, self.table, bad)
        notes: list[str] = list(pod.notes)
        workload = r.workload
        policy = str(pod.pod_spec.get("restartPolicy") or "")
        if workload == "service" and r.kind == "Pod" and policy in ("OnFailure", "Never"):
            # a bare pod that is not restarted on success runs to completion: priced like a Job, never 730 h
            workload = "job"
            notes.append(f"restartPolicy {policy}: the pod runs to completion and is priced like a Job")
        meta["workload"] = workload
        unresolved = bad + pod.unresolved
        if not accel and not pod.provisioned_type and not unresolved:
            return None
        accelerator, instance_type, pricing_model = placement(pod.pod_spec, self.table, notes)
        gpus_per_unit: float | None = gpus
        if pod.provisioned_type:
            instance_type = pod.provisioned_type
            acc = _accelerator_of_type(pod.provisioned_type)
            accelerator = _short_model(acc[0]) if acc and acc[0] else accelerator
            notes.append(f"the operator provisions one {pod.provisioned_type} node per unit")
            if not accel:
                gpus_per_unit = None
                notes.append(f"{pod.provisioned_type} is named like GPU capacity but its size is not in the rate card: "
                             "treated as AI, GPUs per node unknown")
        if unresolved:
            if bad or pod.gpus_unknown or not accel:
                gpus_per_unit = None
            fixes = (["render the manifest with its values first (envsubst, kustomize, helm template) or write the "
                      "number of accelerators"] if bad else []) + pod.fixes
            self._unresolved(r, meta, notes, unresolved, fixes, possibly=pod.possibly_ai and not accel)
        want = placement_request(pod.pod_spec)
        if want:
            # matched against the scan's node pools (pricing.placement)
            meta["node_placement"] = self._share_value(want)
        units, why = resolve_units(r.role, r.item, r.obj)
        if pod.runtime_units is not None and units is not None:
            units = pod.runtime_units
        notes.extend(r.embed_notes)
        if units is not None and r.factor != 1:  # an embedded object's outer count (Katib parallel trials)
            units, why = (units * r.factor, None) if r.factor is not None else (None, r.factor_why)
        if units is None:
            notes.append(f"replica count unknown ({why})")
        runtime_hours = None
        if workload == "job":
            runtime_hours = self._job_runs(r, pod.pod_spec, meta, notes)
        elif workload == "daemon":
            units = None
            notes.append("one pod per matching node: the number of pods depends on the cluster")
        if units == 0:
            notes.append("scaled to zero replicas")
        meta["accelerators"] = self._share_value({self._share(k): (int(v) if float(v).is_integer() else v)
                                                  for k, v in accel.items()})
        if _is_hook(r.obj):
            meta["helm_hook"] = str(_meta(r.obj).get("annotations", {}).get("helm.sh/hook"))
        return Compute(provider="kubernetes", accelerator=accelerator, instance_type=instance_type,
                       gpus_per_unit=gpus_per_unit, units=units, pricing_model=pricing_model,
                       runtime_hours=runtime_hours, notes=notes)

    def _unresolved(self, r: RoleInput, meta: dict[str, Any], notes: list[str], unresolved: list[str],
                    fixes: list[str], possibly: bool) -> None:
        """One unresolved-size warning for what keeps the role's accelerators from being sized."""
        what = "; ".join(dict.fromkeys(unresolved))
        if possibly:
            meta["possibly_ai"] = True
            notes.append(f"possibly AI: {what}")
            verdict = "it is judged against the taxonomy as possibly AI"
        else:
            notes.append(f"GPUs per pod unknown: {what}")
            verdict = "it is AI; its GPU count or size is unknown, so its cost is not known"
        doc = r.doc
        self.out.findings.append(Finding(
            rule="unresolved-size", category="unresolved_size", severity=WARNING, address=r.address,
            resource_type=r.kind, file=doc.file, line=doc.line,
            message=f"{doc.file}:{doc.line}: {r.address}: cannot size its accelerators: {what}; {verdict}",
            fix="; ".join(dict.fromkeys(fixes)) + " (docs/sources.md)",
            extra={"unknown": list(dict.fromkeys(unresolved))}))

    def _job_runs(self, r: RoleInput, pod_spec: dict[str, Any], meta: dict[str, Any], notes: list[str]
                  ) -> float | None:
        """A run-to-completion role: hours per run (its deadline) and runs per month (a schedule)."""
        meta["run_to_completion"] = True
        deadline = None
        for p in r.spec.get("deadline") or []:
            deadline = as_count(get_path(r.obj, p))
            if deadline:
                break
        if deadline is None:
            deadline = as_count(pod_spec.get("activeDeadlineSeconds"))
        runtime_hours = None
        if deadline:
            runtime_hours = deadline / 3600.0
            notes.append(f"runs at most {runtime_hours:g} h per run (activeDeadlineSeconds)")
        else:
            notes.append("run-to-completion job without activeDeadlineSeconds: duration per run unknown")
        if r.spec.get("schedule"):
            from tagguard.sources.kubernetes.cron import runs_per_month

            sched = get_path(r.obj, r.spec["schedule"])
            runs = runs_per_month(sched)
            if runs is not None:
                meta["runs_per_month"] = round(runs, 2)
                meta["schedule"] = sched
        return runtime_hours

    # --- Karpenter -----------------------------------------------------------------------
    def _nodepool(self, doc: Doc) -> dict[str, Any]:
        obj = doc.obj
        reqs = get_path(obj, "spec.template.spec.requirements") or []
        capable = False
        why: list[str] = []
        gpu_names: list[str] = []
        types: list[str] = []
        for r in reqs if isinstance(reqs, list) else []:
            if not isinstance(r, dict):
                continue
            key, op = str(r.get("key")), str(r.get("operator"))
            vals = [str(v) for v in r.get("values") or []]
            if key in _GPU_REQ_KEYS:
                if (op == "In" and any((as_count(v) or 0) > 0 for v in vals)) or op == "Exists" or \
                        (op == "Gt" and vals and (as_count(vals[0]) is not None)):
                    capable = True
                    why.append(f"{key} {op} {_listed(vals)}".strip())
            elif key in _GPU_NAME_KEYS and op in ("In", "Exists"):
                capable = True
                why.append(f"{key} {op} {_listed(vals)}".strip())
                if key.endswith("gpu-name") and op == "In":
                    gpu_names.extend(vals)
            elif key == "karpenter.k8s.aws/instance-category" and op == "In" and _ACCEL_CATEGORIES & set(vals):
                capable = True
                why.append(f"{key} In {_listed(sorted(_ACCEL_CATEGORIES & set(vals)))}")
            elif key == "karpenter.k8s.aws/instance-family" and op == "In":
                acc = [v for v in vals if _ACCEL_FAMILY.match(v)]
                if acc:
                    capable = True
                    why.append(f"{key} In [{', '.join(acc)}]" + _unknown_families(acc))
            elif key in ("node.kubernetes.io/instance-type", "karpenter.k8s.aws/instance-type") and op == "In":
                types.extend(vals)
                acc = [v for v in vals if _accelerator_of_type(v) or _ACCEL_FAMILY.match(v.split(".")[0])]
                if acc:
                    capable = True
                    why.append(f"{key} In [{', '.join(acc)}]"
                               + _unknown_families([v.split(".")[0] for v in acc if not _known_type(v)]))
        limits: dict[str, float] = {}
        lim = get_path(obj, "spec.limits")
        if isinstance(lim, dict):
            for k, v in lim.items():
                if self.table.accelerator_weight(str(k)) is not None:
                    q = parse_quantity(v)
                    if q is not None:
                        limits[str(k)] = q
        if limits:
            capable = True
            why.append("limits " + ", ".join(f"{k}: {v:g}" for k, v in limits.items()))
        ref = get_path(obj, "spec.template.spec.nodeClassRef")
        nodeclass = ref.get("name") if isinstance(ref, dict) else None
        name = _name(obj)
        address = f"NodePool//{name}"
        meta = self._base_meta(None, doc)
        meta.update({"gpu_capable": capable, "gpu_limits": limits, "nodeclass": nodeclass, "gpu_reasons": why})
        from tagguard.pricing.placement import pool_record

        taints = get_path(obj, "spec.template.spec.taints")
        meta["node_pool"] = pool_record(
            f"NodePool {name}",
            {**_str_map(get_path(obj, "spec.template.metadata.labels")), "karpenter.sh/nodepool": name},
            taints if isinstance(taints, list) else [], reqs if isinstance(reqs, list) else [],
            provider="aws")
        self.out.resources.append(Resource(address=address, type="NodePool", source=self.source, file=doc.file,
                                           line=doc.line, taggable=False, tag_style="kubernetes", meta=meta,
                                           suppressions=self._suppressions([_meta(obj).get("annotations")], doc,
                                                                           address)))
        return {"name": name, "capable": capable, "why": why, "nodeclass": nodeclass, "limits": limits,
                "gpu_names": gpu_names, "types": types}

    def _karpenter(self, nodepools: list[dict[str, Any]], nodeclasses: dict[str, Doc]) -> None:
        for name, doc in nodeclasses.items():
            users = [np for np in nodepools if np["nodeclass"] == name]
            gpu_users = [np for np in users if np["capable"]]
            raw_tags = get_path(doc.obj, "spec.tags")
            tags = _str_map(raw_tags)
            unresolved, reasons = _split_templated(tags)
            address = f"EC2NodeClass//{name}"
            meta = self._base_meta(None, doc)
            meta["nodepools"] = [np["name"] for np in users]
            compute = None
            if gpu_users:
                types = list(dict.fromkeys(t for np in gpu_users for t in np["types"]))
                names = list(dict.fromkeys(_short_model(g) for np in gpu_users for g in np["gpu_names"]))
                notes = ["nodes are launched by Karpenter on demand: their number is decided at run time, and the "
                         "GPU spend is also counted on the pods that run there"]
                notes += [f"NodePool {np['name']}: {'; '.join(np['why'])}" for np in gpu_users]
                compute = Compute(provider="aws", service="ec2", instance_type=types[0] if len(types) == 1 else None,
                                  accelerator=names[0] if len(names) == 1 else None, units=None, notes=notes)
                limits: dict[str, float] = {}
                for np in gpu_users:
                    for k, v in np["limits"].items():
                        limits[k] = limits.get(k, 0) + v
                if limits:
                    meta["gpu_limits"] = limits
                meta["priced_elsewhere"] = "the pods that run on these nodes carry the GPU spend"
            self.out.resources.append(Resource(
                address=address, type="EC2NodeClass", source=self.source, file=doc.file, line=doc.line,
                ai=bool(gpu_users), tags=tags, unresolved_tags=unresolved, unresolved_reasons=reasons,
                tag_style="aws", compute=compute, meta=meta,
                tag_origins={k: "EC2NodeClass spec.tags" for k in tags},
                tag_fix_hint=f"`spec.tags` of EC2NodeClass `{name}` "
                             "(Karpenter copies them to the EC2 instances it launches)",
                suppressions=self._suppressions([_meta(doc.obj).get("annotations")], doc, address)))


def _dir(file: str | None) -> str:
    """``a/b/c.yaml`` -> ``a/b/`` (a key that no file name equals)."""
    return (file or "").rpartition("/")[0] + "/"


def _split_templated(tags: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Take the values substituted at deploy time (``${X}``, ``{{ .X }}``, ``$(X)``) out of ``tags``:
    ``(their keys, why each is unknown)``."""
    unresolved: list[str] = []
    reasons: dict[str, str] = {}
    for k, v in list(tags.items()):
        if _TEMPLATED.search(v):
            unresolved.append(k)
            reasons[k] = f"`{v}` is substituted at deploy time"
            del tags[k]
    return unresolved, reasons


def _nodeclass_facts(doc: Doc) -> Doc:
    """An EC2NodeClass with only what ``Builder._karpenter`` reads (its annotations and ``spec.tags``)."""
    obj = doc.obj
    slim: dict[str, Any] = {}
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        slim["metadata"] = {k: meta[k] for k in ("name", "annotations") if k in meta}
    spec = obj.get("spec")
    if isinstance(spec, dict):
        slim["spec"] = {"tags": spec["tags"]} if "tags" in spec else {}
    elif "spec" in obj:
        slim["spec"] = spec
    return Doc(slim, doc.file, doc.line, doc.helm_source)


@dataclass
class RuntimeCompute:
    """A (Cluster)TrainingRuntime's compute facts: replicated job name -> ``(container name, its
    accelerator-only resources)``, and ``spec.mlPolicy.numNodes``.  The runtime is a template: it is
    no resource of its own, its requests count once, on each TrainJob that references it."""

    jobs: dict[str, list[tuple[str, dict[str, dict[str, Any]]]]]
    num_nodes: int | None
    trainer_job: str = "node"  # Kubeflow Trainer v2: the job (and container) `numNodes`/`resourcesPerNode` apply to
    trainer_container: str = "node"


def _claim_accelerators(devices: Any) -> tuple[float | None, str]:
    """Accelerators one DRA claim allocates: ``(count, why)``; count 0 when it asks for no accelerator class,
    None when the count is not known (``allocationMode: All``, a count that is not a number)."""
    requests = devices.get("requests") if isinstance(devices, dict) else None
    total: float = 0.0
    why: list[str] = []
    for req in requests[:64] if isinstance(requests, list) else []:
        if not isinstance(req, dict):
            continue
        if isinstance(req.get("exactly"), dict):  # resource.k8s.io/v1
            options = [req["exactly"]]
        elif isinstance(req.get("firstAvailable"), list):  # alternatives: the most accelerators of any of them
            options = [o for o in req["firstAvailable"][:16] if isinstance(o, dict)]
        else:  # v1beta1: the request itself
            options = [req]
        best: float | None = 0.0
        for o in options:
            cls = o.get("deviceClassName")
            if not isinstance(cls, str) or not _DRA_ACCEL_CLASS.search(cls):
                continue
            if str(o.get("allocationMode") or "ExactCount") == "All":
                why.append(f"requests all devices of class {cls[:120]} on a node (allocationMode: All): how many "
                           "is decided by the node")
                best = None
                break
            n = as_count(o.get("count")) if o.get("count") is not None else 1
            if n is None:
                why.append(f"requests {str(o.get('count'))[:80]!r} devices of class {cls[:120]}, not a number")
                best = None
                break
            if best is not None:
                best = max(best, float(n))
            why.append(f"{n} x {cls[:120]}")
        if best is None:
            return None, "; ".join(why)
        total += best
    return total, "; ".join(why)


def _runtime_compute(runtime: dict[str, Any], table: KindTable) -> RuntimeCompute | None:
    """What a TrainingRuntime's pods request (only accelerator resources are kept); None when it
    requests no accelerator and sets no node count."""
    jobs_in = get_path(runtime, "spec.template.spec.replicatedJobs")
    jobs: dict[str, list[tuple[str, dict[str, dict[str, Any]]]]] = {}
    for job in jobs_in if isinstance(jobs_in, list) else []:
        if not isinstance(job, dict) or not isinstance(job.get("name"), str) or job["name"] in jobs:
            continue
        spec = get_path(job, "template.spec.template.spec")
        kept: list[tuple[str, dict[str, dict[str, Any]]]] = []
        if isinstance(spec, dict):
            containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
            for c in containers:
                bad: list[str] = []
                acc: dict[str, Any] = dict(_container_accel(c, table, bad))
                if bad:  # `nvidia.com/gpu: $GPUS`: kept as written, the TrainJob reports it (unresolved-size)
                    for section in ("limits", "requests"):
                        for k, v in (get_path(c, f"resources.{section}") or {}).items():
                            if str(k) not in acc and table.accelerator_weight(str(k)) is not None:
                                acc[str(k)] = v
                if acc:
                    kept.append((str(c.get("name") or ""), {"limits": acc}))
        jobs[job["name"]] = kept
    num_nodes = as_count(get_path(runtime, "spec.mlPolicy.numNodes"))
    if num_nodes is None and not any(jobs.values()):
        return None
    return RuntimeCompute(jobs={k: v for k, v in jobs.items() if v}, num_nodes=num_nodes)


def _runtime_roles(runtime: dict[str, Any]) -> dict[str, dict[str, str]] | None:
    """A TrainingRuntime's facts: replicated job name -> the labels of its pods (the first job of a
    name wins); None when it has no ``replicatedJobs`` list."""
    jobs = get_path(runtime, "spec.template.spec.replicatedJobs")
    if not isinstance(jobs, list):
        return None
    out: dict[str, dict[str, str]] = {}
    for job in jobs:
        if isinstance(job, dict) and isinstance(job.get("name"), str) and job["name"] not in out:
            out[job["name"]] = _str_map(get_path(job, "template.spec.template.metadata.labels"))
    return out


def _is_hook(obj: dict[str, Any]) -> bool:
    ann = _meta(obj).get("annotations")
    return isinstance(ann, dict) and "helm.sh/hook" in ann


def _overrides_for(overrides: Any, role: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    labels: dict[str, str] = {}
    specs: list[dict[str, Any]] = []
    if not isinstance(overrides, list):
        return labels, specs
    for ov in overrides:
        if not isinstance(ov, dict):
            continue
        targets = [t.get("name") for t in ov.get("targetJobs") or [] if isinstance(t, dict)]
        if targets and role not in targets:
            continue
        labels.update(_str_map(get_path(ov, "metadata.labels")))
        if isinstance(ov.get("spec"), dict):
            specs.append(ov["spec"])
    return labels, specs
