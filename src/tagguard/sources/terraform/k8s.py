"""Kubernetes objects declared in Terraform, handed to the Kubernetes reader.

``kubernetes_manifest`` (``manifest = {...}``, often ``yamldecode(file(...))``),
``kubectl_manifest`` (``yaml_body``) and the HCL-native workload resources
(``kubernetes_deployment[_v1]``, ``..._stateful_set``, ``..._daemonset``/``_daemon_set_v1``,
``..._job``, ``..._cron_job``, ``..._pod``, plus ``..._namespace`` and ``..._resource_quota``)
are evaluated statically and turned into plain manifest dicts; labels, GPU requests and
quotas are then judged by ``sources.kubernetes.resources_from_manifest_objects``, the same
code that reads YAML manifests and Helm output.

Addresses: a resource keeps its Kubernetes address (``Deployment/ns/name``, as from a YAML
manifest, with ``*`` for a part Terraform only knows at apply time); ``meta.terraform_address``
is the Terraform address (``module.x.kubernetes_manifest.y["k"]``) and file/line point at the
Terraform block.  Values tagguard cannot know become unresolved labels with Terraform's reason;
a label map that may hold unknown keys makes the tag map open.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tagguard.sources.terraform import extract as ex
from tagguard.hcl.values import PartialMap, Unknown

_OPEN_KEY = "__tagguard_open__"
_PLACEHOLDER = re.compile(r"\$\{tagguard-unknown-(\d+)\}")

# Terraform type -> (apiVersion, kind)
NATIVE = {
    "kubernetes_deployment": ("apps/v1", "Deployment"),
    "kubernetes_deployment_v1": ("apps/v1", "Deployment"),
    "kubernetes_stateful_set": ("apps/v1", "StatefulSet"),
    "kubernetes_stateful_set_v1": ("apps/v1", "StatefulSet"),
    "kubernetes_daemonset": ("apps/v1", "DaemonSet"),
    "kubernetes_daemon_set_v1": ("apps/v1", "DaemonSet"),
    "kubernetes_job": ("batch/v1", "Job"),
    "kubernetes_job_v1": ("batch/v1", "Job"),
    "kubernetes_cron_job": ("batch/v1", "CronJob"),
    "kubernetes_cron_job_v1": ("batch/v1", "CronJob"),
    "kubernetes_pod": ("v1", "Pod"),
    "kubernetes_pod_v1": ("v1", "Pod"),
    "kubernetes_namespace": ("v1", "Namespace"),
    "kubernetes_namespace_v1": ("v1", "Namespace"),
    "kubernetes_resource_quota": ("v1", "ResourceQuota"),
    "kubernetes_resource_quota_v1": ("v1", "ResourceQuota"),
}
TYPES = frozenset(NATIVE) | {"kubernetes_manifest", "kubectl_manifest"}

# repeated HCL blocks -> Kubernetes list fields
_LISTS = {
    "container": "containers", "init_container": "initContainers", "ephemeral_container": "ephemeralContainers",
    "toleration": "tolerations", "volume": "volumes", "port": "ports", "volume_mount": "volumeMounts",
    "env": "env", "env_from": "envFrom", "image_pull_secrets": "imagePullSecrets", "host_aliases": "hostAliases",
    "match_expressions": "matchExpressions", "match_fields": "matchFields", "node_selector_term": "nodeSelectorTerms",
    "topology_spread_constraint": "topologySpreadConstraints", "volume_claim_template": "volumeClaimTemplates",
    "readiness_gate": "readinessGates", "preferred_during_scheduling_ignored_during_execution":
    "preferredDuringSchedulingIgnoredDuringExecution", "scope_selector": "scopeSelector",
}
# blocks whose attribute names are data (label keys, resource names), never camelCased
_DATA_BLOCKS = {"labels", "annotations", "limits", "requests", "node_selector", "hard", "match_labels"}
_SKIP = {"wait_for_rollout", "wait_for_completion", "wait_for_default_service_account", "timeouts",
         "count", "for_each", "provider", "depends_on", "lifecycle"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


class Unknowns:
    """Placeholders for values only known at apply time, and their reasons."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def placeholder(self, reason: str) -> str:
        self.reasons.append(reason)
        return f"${{tagguard-unknown-{len(self.reasons) - 1}}}"

    def plain(self, value: Any, key: str = "", open_markers: bool = True) -> Any:
        """An evaluated HCL value -> JSON-like data, unknowns replaced."""
        if isinstance(value, Unknown):
            reason = value.reason or "known only after apply"
            if open_markers and key in ("labels", "annotations"):
                return {_OPEN_KEY: reason}
            return self.placeholder(reason)
        if isinstance(value, Mapping):
            out = {str(k): self.plain(v, str(k), open_markers) for k, v in value.items()}
            if open_markers and isinstance(value, PartialMap) and value.open:
                out[_OPEN_KEY] = "; ".join(value.open_reasons) or "it merges values tagguard cannot see"
            return out
        if isinstance(value, (list, tuple)):
            return [self.plain(v, "", open_markers) for v in value]
        return value

    def reason_in(self, text: str) -> str | None:
        m = _PLACEHOLDER.search(text or "")
        return self.reasons[int(m.group(1))] if m else None

    def clean(self, text: str) -> str:
        return _PLACEHOLDER.sub("*", text)


def body_to_dict(body: Any, scope: Any, unk: Unknowns, data: bool = False, parent: str = "") -> dict[str, Any]:
    """An HCL block body -> a Kubernetes-shaped dict (snake_case -> camelCase, repeated blocks -> lists)."""
    from tagguard.sources.terraform.tfjson import body_has_dual

    out: dict[str, Any] = {}
    for name, attr in body.attributes.items():
        if name in _SKIP or body_has_dual(body, name):
            continue
        value = attr.expr.eval(scope)
        out[name if data else _camel(name)] = unk.plain(value, name)
    names: list[str] = []
    for block in body.blocks:
        name = block.labels[0] if block.type == "dynamic" and block.labels else block.type
        if name not in names and name not in _SKIP:
            names.append(name)
    for name in names:
        items = [body_to_dict(b, s, unk, name in _DATA_BLOCKS, name) for b, s in ex.blocks_named(body, name, scope)]
        if not items:
            continue
        if name == "required_during_scheduling_ignored_during_execution" and parent != "node_affinity":
            out[_camel(name)] = items
        elif name in _LISTS:
            out[_LISTS[name]] = items
        else:
            out[name if data else _camel(name)] = items[0]
    return out


def native_object(rtype: str, body: Any, scope: Any, unk: Unknowns) -> dict[str, Any]:
    api, kind = NATIVE[rtype]
    obj: dict[str, Any] = {"apiVersion": api, "kind": kind}
    converted = body_to_dict(body, scope, unk)
    for key in ("metadata", "spec"):
        if key in converted:
            obj[key] = converted[key]
    obj.setdefault("metadata", {})
    return obj


def lenient_eval(expr: Any, scope: Any, unk: Unknowns) -> Any:
    """Evaluate a manifest expression, keeping what is known when parts of it are not.

    ``yamldecode(templatefile(f, {a = unknown}))`` and heredoc templates with unknown
    interpolations render with placeholders in place of the unknown values (which then
    surface as unresolved labels with Terraform's reason) instead of failing as a whole.
    """
    from tagguard.hcl import evaluate as ev

    try:
        if isinstance(expr, ev.FuncCall) and not expr.expand:
            name, args = expr.name, expr.args
            # expr.fn: the function the parser bound the call to (its table's yamldecode, templatefile...)
            if name in ("yamldecode", "jsondecode") and len(args) == 1 and expr.fn is not None:
                text = lenient_eval(args[0], scope, unk)
                if not isinstance(text, str):
                    return expr.eval(scope) if not isinstance(text, Unknown) else text
                return ev.call_function(name, expr.fn, scope, [text])
            if name == "templatefile" and len(args) == 2 and expr.fn is not None:
                path = args[0].eval(scope)
                variables = args[1].eval(scope)
                if isinstance(path, Unknown) or not isinstance(variables, Mapping):
                    return expr.eval(scope)
                return ev.call_function(name, expr.fn, scope, [path, unk.plain(variables, open_markers=False)])
        if isinstance(expr, ev.Template) and not expr.wrap:
            out: list[str] = []
            for part in expr.parts:
                if isinstance(part, str):
                    out.append(part)
                    continue
                value = part.render(scope) if isinstance(part, ev._Directive) else part._ev(scope)
                if isinstance(value, Unknown):
                    if isinstance(part, ev._Directive):
                        return value
                    value = unk.placeholder(value.reason or "known only after apply")
                out.append(value if isinstance(part, ev._Directive) else ev._interp_string(value))
            return "".join(out)
    except ev.EvalError as exc:
        return Unknown(str(exc), error=True)
    return expr.eval(scope)


def objects_of(rtype: str, body: Any, scope: Any, unk: Unknowns) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(objects, yaml text, why nothing could be read) for one resource instance."""
    if rtype in NATIVE:
        return [native_object(rtype, body, scope, unk)], None, None
    if rtype == "kubernetes_manifest":
        attr = body.get("manifest")
        if attr is None:
            return [], None, "it has no `manifest` argument"
        value = lenient_eval(attr.expr, scope, unk)
        if isinstance(value, Unknown):
            return [], None, f"`manifest` is not known statically ({value.reason})"
        if not isinstance(value, Mapping):
            return [], None, "`manifest` is not an object"
        return [unk.plain(value)], None, None
    attr = body.get("yaml_body")  # kubectl_manifest
    if attr is None:
        return [], None, "it has no `yaml_body` argument"
    value = lenient_eval(attr.expr, scope, unk)
    if isinstance(value, Unknown):
        return [], None, f"`yaml_body` is not known statically ({value.reason})"
    if not isinstance(value, str):
        return [], None, "`yaml_body` is not a string"
    return [], value, None


class _Scope:
    """Resolves ``kubernetes_namespace[_v1].x.metadata[0].name`` (and ``.id``), and the metadata name and
    namespace of other ``kubernetes_*`` resources of the module, to what their blocks declare."""

    _NS_TYPES = ("kubernetes_namespace", "kubernetes_namespace_v1")

    def __init__(self, parent: Any, inst: Any, unk: Unknowns) -> None:
        self.parent = parent
        self.inst = inst
        self.unk = unk
        # templatefile() renders unknown variables as placeholders here (see functions.templatefile)
        self.template_placeholders = unk
        self._locals: Any = None

    def lookup(self, name: str) -> Any:
        if name == "local":
            # locals evaluated again in this scope, so templates inside them keep what is known;
            # the module's own cache (used for tags) stays strict
            if self._locals is None:
                from tagguard.sources.terraform.module import _LazyNamespace, _safe_eval

                mdef = self.inst.mdef

                def compute(local_name: str) -> Any:
                    entry = mdef.locals.get(local_name)
                    if entry is None:
                        return self.parent.lookup("local")[local_name]
                    return _safe_eval(entry[1].expr, self)

                self._locals = _LazyNamespace("local", lambda: list(mdef.locals), compute)
            return self._locals
        if name.startswith("kubernetes_") and name not in ("kubernetes_manifest",):
            out = {}
            for loc in self.inst.mdef.resources:
                block = loc.block
                if block.labels[0] != name:
                    continue
                if block.body.get("count") is not None or block.body.get("for_each") is not None:
                    continue  # an instance key would be needed; stays unknown
                meta_blocks = block.body.blocks_of("metadata")
                if not meta_blocks:
                    continue
                raw = body_to_dict(meta_blocks[0].body, self.inst, Unknowns())
                obj_name = raw.get("name")
                if not isinstance(obj_name, str) or _PLACEHOLDER.search(obj_name):
                    continue
                namespace = raw.get("namespace")
                meta = {"name": obj_name}
                ident = obj_name
                if name not in self._NS_TYPES:
                    namespace = namespace if isinstance(namespace, str) and not _PLACEHOLDER.search(namespace) else (
                        "default" if namespace is None else None)
                    if namespace is None:
                        continue
                    meta["namespace"] = namespace
                    ident = f"{namespace}/{obj_name}"
                out[block.labels[1]] = {"metadata": [meta], "id": ident}
            return _Partial(out, name)
        return self.parent.lookup(name)

    def read_file(self, rel: str) -> Any:
        return self.parent.read_file(rel)

    def list_files(self, rel: str) -> Any:
        lister = getattr(self.parent, "list_files", None)
        return lister(rel) if lister is not None else None


class _Partial(dict):
    """A resource-type namespace where undeclared names are unknown rather than errors."""

    def __init__(self, values: dict[str, Any], rtype: str) -> None:
        super().__init__(values)
        self.rtype = rtype

    def __missing__(self, key: str) -> Any:
        return Unknown(f"{self.rtype}.{key} is known only after apply")

    def get(self, key, default=None):  # noqa: D401 - Mapping protocol
        return self[key]


def scope_for(parent: Any, inst: Any, unk: Unknowns) -> Any:
    return _Scope(parent, inst, unk)


# Objects that change how other objects are judged: namespace labels, Karpenter pools and classes,
# Kubeflow training runtimes.  Each Terraform resource is judged with those declared elsewhere.
_LINK_KINDS = {"Namespace", "NodePool", "EC2NodeClass", "TrainingRuntime", "ClusterTrainingRuntime"}


def _identity(kind: Any, name: Any) -> tuple[str, str]:
    return (str(kind), str(name))


def _address_identity(address: str | None) -> tuple[str, str] | None:
    """``Kind/ns/name#role`` -> (Kind, name)."""
    if not address or address.count("/") < 2:
        return None
    kind, _ns, rest = address.split("/", 2)
    return (kind, rest.split("#", 1)[0])


def build(items: list[dict[str, Any]], ctx: Any, unk: Unknowns):
    """Judge the collected objects through the Kubernetes reader.

    ``items``: ``{"objs", "yaml", "file", "line", "address", "module"}`` per Terraform resource
    instance.  Each is judged together with the linking objects (namespaces, Karpenter node pools
    and classes, training runtimes) that other Terraform resources declare.
    """
    from tagguard.sources.kubernetes import source as k8s
    from tagguard.sources.base import SourceOutput
    from tagguard.sources.kubernetes.manifests import parse_stream

    out = SourceOutput()
    seen_findings = set()
    for item in items:
        if item["yaml"] is not None:
            parsed = parse_stream(item["yaml"], item["file"])
            offset = (item["line"] or 1) - 1
            for f in parsed.findings:
                if f.line is not None:
                    f.message = f.message.replace(f"{item['file']}:{f.line}:", f"{item['file']}:{f.line + offset}:", 1)
                    f.line += offset
                out.findings.append(f)
            item["objs"] = [d.obj for d in parsed.docs if isinstance(d.obj, dict)]
        own = []
        for obj in item["objs"]:
            own.append(obj)
            if str(obj.get("kind", "")).endswith("List") and isinstance(obj.get("items"), list):
                own.extend(o for o in obj["items"] if isinstance(o, dict))
        item["ids"] = {_identity(o.get("kind"), (o.get("metadata") or {}).get("name")) for o in own
                       if isinstance(o.get("metadata"), dict)}
        item["links"] = [o for o in own if o.get("kind") in _LINK_KINDS]
    for i, item in enumerate(items):
        meta = {"terraform_address": item["address"]}
        if item.get("module"):
            meta["module"] = item["module"]
        context = [o for j, other in enumerate(items) if j != i for o in other["links"]
                   if _identity(o.get("kind"), (o.get("metadata") or {}).get("name")) not in item["ids"]]
        got = k8s.resources_from_manifest_objects(context + item["objs"], item["file"], item["line"], ctx, meta=meta)
        for res in got.resources:
            if context and _address_identity(res.address) not in item["ids"]:
                continue  # built only as context for this item
            _finish(res, unk)
            out.resources.append(res)
        for f in got.findings:
            ident = _address_identity(f.address)
            if context and ident is not None and ident not in item["ids"]:
                continue
            key = (f.rule, f.file, f.line, f.message)
            if key in seen_findings:
                continue
            seen_findings.add(key)
            f.message = unk.clean(f.message)
            if f.address:
                f.address = unk.clean(f.address)
            out.findings.append(f)
    return out


def _finish(res: Any, unk: Unknowns) -> None:
    """Unknown placeholders -> unresolved reasons; open markers -> an open tag map."""
    if _OPEN_KEY in res.tags:
        res.tags_open = True
        res.open_reason = (res.open_reason
                           or f"its labels may hold keys known only after apply ({res.tags.pop(_OPEN_KEY)})")
        res.tags.pop(_OPEN_KEY, None)
        res.tag_origins.pop(_OPEN_KEY, None)
    for key in list(res.unresolved_reasons):
        reason = unk.reason_in(res.unresolved_reasons[key])
        if reason is not None:
            res.unresolved_reasons[key] = reason
    if _OPEN_KEY in res.unresolved_tags:
        res.unresolved_tags.remove(_OPEN_KEY)
        res.unresolved_reasons.pop(_OPEN_KEY, None)
        res.tags_open = True
    res.address = unk.clean(res.address)
    for k, v in list(res.meta.items()):
        if isinstance(v, str):
            res.meta[k] = unk.clean(v)
