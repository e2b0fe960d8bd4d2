"""Terraform plan JSON (``terraform show -json tfplan``) -> Resources.

Format: https://developer.hashicorp.com/terraform/internals/json-format.
What a plan knows that HCL does not: the effective tag map after provider
default tags (``tags_all``, ``effective_labels``/``terraform_labels``), every
``count``/``for_each`` instance and every remote module, and what is unknown
until apply (``after_unknown``).

Per resource change (``resource_changes[]``, managed mode only; ``read`` of
data sources is skipped):

* ``create``, ``update`` and replace (``["delete","create"]`` or
  ``["create","delete"]``) are judged on their ``after`` tags;
* ``no-op`` and ``delete`` are kept for cost (the projected state and the
  delta) but not judged (``meta.skip_tag_rules``); a deleted resource's
  after-state runs 0 units, so it costs 0 and its delta is minus its cost;
* ``meta.action`` is create | update | replace | delete | no-op, and
  ``meta.before_compute`` the before-state compute (priced in
  ``tagguard.cost.diff`` for ``meta.cost_delta_monthly_usd``).

Compute comes from the same ``kinds.yaml`` paths the HCL reader uses, through
``_JsonBody`` (a plan ``after`` object that looks like an evaluated HCL body).
``line`` is the line of the change's ``"address"`` key when the plan is
pretty-printed; ``terraform show -json`` writes one line, so there it is null.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tagguard import safeio
from tagguard.model import Compute, Resource
from tagguard.sources.base import Inventory, ScanContext, Source, SourceOutput, parse_error

HEAD_BYTES = 64 * 1024
MAX_PLAN_BYTES = 512 * 1024 * 1024
_MARKERS = (b'"format_version"', b'"resource_changes"', b'"planned_values"')

FIX_HINT = {
    "aws": "`tags` or the provider's default_tags",
    "gcp": "`labels` or the provider's default_labels",
    "azure": "`tags`",
}

ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("no-op",): "no-op",
    ("read",): "read",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
}
JUDGED = ("create", "update", "replace")


def looks_like_plan(head: bytes) -> bool:
    """Cheap test on the first bytes: a JSON object naming a plan key."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"{"):
        return False
    return any(m in head for m in _MARKERS)


def _plan_cap() -> int:
    """Plans of large estates run to hundreds of MB: their own cap, unless
    ``TAGGUARD_MAX_FILE_BYTES`` sets one for every file."""
    return safeio.max_file_bytes(default=MAX_PLAN_BYTES)


def is_plan(data: Any) -> bool:
    return (isinstance(data, dict) and "format_version" in data
            and ("resource_changes" in data or "planned_values" in data))


class PlanSource(Source):
    name = "plan"

    def collect(self, inventory: Inventory, ctx: ScanContext) -> SourceOutput:
        out = SourceOutput()
        for rel in inventory.unclaimed((".json",)):
            path = inventory.path(rel)
            try:
                with open(path, "rb") as fh:
                    head = fh.read(HEAD_BYTES)
                if not looks_like_plan(head):
                    continue
                size = path.stat().st_size
            except OSError:
                continue
            cap = _plan_cap()
            if size > cap:
                inventory.claim([rel])
                out.findings.append(parse_error(rel, None, f"{rel}: plan file is {size // (1024 * 1024)} MB, over the "
                                                           f"{safeio.format_bytes(cap)} limit; not scanned (raise "
                                                           f"{safeio.MAX_FILE_BYTES_ENV} to read it)"))
                continue
            try:
                # a regular file inside the scanned repository, never more than the plan cap
                text = safeio.read_bytes(path, ctx.boundary, cap=_plan_cap()).decode("utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                inventory.claim([rel])
                reason = str(exc) if isinstance(exc, safeio.ReadRefused) else f"cannot read plan JSON ({exc})"
                out.findings.append(parse_error(rel, None,
                                                f"{rel}: {reason}" if not reason.startswith(rel) else reason))
                continue
            try:
                data = safeio.load_json(text, rel)
            except safeio.JSONTooDeep as exc:
                inventory.claim([rel])
                out.findings.append(parse_error(rel, 1, f"{rel}:1: invalid plan JSON: {str(exc).split(': ', 1)[-1]}"))
                continue
            except ValueError as exc:
                if b'"format_version"' in head and (b'"resource_changes"' in head or b'"planned_values"' in head
                                                    or b'"terraform_version"' in head):
                    inventory.claim([rel])
                    line = getattr(exc, "lineno", None)
                    out.findings.append(parse_error(rel, line, f"{rel}:{line or 1}: invalid plan JSON:"
                                                               f" {str(exc).splitlines()[0]}"))
                continue
            if not is_plan(data):
                continue
            inventory.claim([rel])
            out.extend(read_plan(data, text, rel, ctx))
        return out


# --- the JSON body adapter -------------------------------------------------------------

class _Expr:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def eval(self, scope: Any) -> Any:
        return self.value

    def source_text(self) -> str:
        return json.dumps(self.value, default=str)[:60]

    def references(self) -> list:
        return []


class _Attr:
    __slots__ = ("expr", "line")

    def __init__(self, value: Any):
        self.expr = _Expr(value)
        self.line = None


class _Block:
    __slots__ = ("body", "labels", "line")

    def __init__(self, value: Mapping):
        self.body = _JsonBody(value)
        self.labels: list[str] = []
        self.line = None


def _is_blocks(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


class _JsonBody:
    """A plan object seen through the HCL body interface ``extract.py`` walks.

    Nested blocks are JSON lists of objects (``scaling_config: [{...}]``);
    they are blocks, not attributes, so ``get`` does not also return them.
    """

    __slots__ = ("value",)

    def __init__(self, value: Mapping):
        self.value = value

    def blocks_of(self, name: str) -> list[_Block]:
        v = self.value.get(name)
        if isinstance(v, list) and _is_blocks(v):
            return [_Block(item) for item in v]
        return []

    def get(self, name: str) -> _Attr | None:
        if name not in self.value:
            return None
        v = self.value[name]
        if _is_blocks(v):
            return None
        return _Attr(v)


def with_unknowns(after: Any, unknown: Any, reason: str = "known only after apply") -> Any:
    """``after`` with every ``after_unknown`` leaf replaced by ``Unknown``."""
    from tagguard.hcl.values import Unknown

    if unknown is True:
        return Unknown(reason)
    if isinstance(unknown, dict):
        obj = dict(after) if isinstance(after, dict) else {}
        for k, u in unknown.items():
            if u is True or isinstance(u, (dict, list)):
                obj[k] = with_unknowns(obj.get(k), u, reason)
        return obj
    if isinstance(unknown, list):
        seq = list(after) if isinstance(after, list) else []
        for i, u in enumerate(unknown):
            if u is True or isinstance(u, (dict, list)):
                if i < len(seq):
                    seq[i] = with_unknowns(seq[i], u, reason)
                elif u is True:
                    seq.append(Unknown(reason))
        return seq
    return after


# --- reading a plan ----------------------------------------------------------------------

def read_plan(data: dict, text: str, rel: str, ctx: ScanContext) -> SourceOutput:
    out = SourceOutput()
    major = str(data.get("format_version", "")).split(".")[0]
    if major not in ("0", "1"):
        out.findings.append(parse_error(rel, None, f"{rel}: plan JSON format_version {data.get('format_version')!r} "
                                                   "is not supported (tagguard reads 0.x and 1.x)"))
        return out
    changes = data.get("resource_changes")
    if changes is None:  # a plan with only planned_values (old Terraform): every resource is a create
        changes = list(_planned_as_changes(data.get("planned_values") or {}))
    if not isinstance(changes, list):
        out.findings.append(parse_error(rel, None, f"{rel}: `resource_changes` is not a list"))
        return out
    lines = _LineFinder(text)
    regions = _provider_regions(data.get("configuration") or {})
    refs = _config_references(data.get("configuration") or {})
    built: list[Resource] = []
    for rc in changes:
        if not isinstance(rc, dict) or rc.get("mode", "managed") != "managed":
            continue
        address = rc.get("address")
        rtype = rc.get("type")
        if not isinstance(address, str) or not isinstance(rtype, str):
            continue
        line = lines.line_of(address)
        try:
            res = _resource(rc, address, rtype, rel, line, ctx, regions)
        except (TypeError, AttributeError, ValueError, KeyError) as exc:
            out.findings.append(parse_error(rel, line,
                                            f"{rel}:{line or 1}: {address}: malformed resource change ({exc})"))
            continue
        if res is not None:
            built.append(res)
    _link(built, refs)
    out.resources.extend(built)
    return out


def _planned_as_changes(module: dict):
    for r in module.get("resources") or []:
        if isinstance(r, dict):
            yield {**r, "change": {"actions": ["create"], "before": None, "after": r.get("values") or {},
                                   "after_unknown": {}}}
    for child in module.get("child_modules") or []:
        if isinstance(child, dict):
            yield from _planned_as_changes(child)
    if "root_module" in module:
        yield from _planned_as_changes(module["root_module"])


def _resource(rc: dict, address: str, rtype: str, rel: str, line: int | None, ctx: ScanContext,
              regions: dict[str, str]) -> Resource | None:
    from tagguard.sources.terraform import extract as ex

    change = rc.get("change") or {}
    acts = tuple(change.get("actions") or ())
    action = ACTIONS.get(acts)
    if action is None or action == "read":
        return None
    if rc.get("deposed"):
        action = "delete" if action != "no-op" else action
        address = f"{address} (deposed {rc['deposed']})"
    spec = ex.kinds().get(rtype)
    if spec is None:
        if ctx.config.scope != "all":
            return None
        spec = _generic_spec(rtype)
        if spec is None:
            return None
    provider = spec.get("provider", "aws")
    before = change.get("before") if isinstance(change.get("before"), dict) else None
    after = change.get("after") if isinstance(change.get("after"), dict) else None
    state = after if action != "delete" else before
    unknown = change.get("after_unknown") if action != "delete" else None
    if state is None:
        return None
    value = with_unknowns(state, unknown)
    res = Resource(address=address, type=rtype, source="plan", file=rel, line=line,
                   taggable=spec.get("taggable", True), tag_style=ex.TAG_STYLE.get(provider, "aws"),
                   tag_fix_hint=FIX_HINT.get(provider))
    res.meta["action"] = action
    if rc.get("module_address"):
        res.meta["module"] = rc["module_address"]
    if "index" in rc:
        res.meta["index"] = rc["index"]
    if action not in JUDGED:
        res.meta["skip_tag_rules"] = True
    _tags(rtype, spec, value).apply_to(res)
    region = _region(value, provider, regions, rc)
    comp, ai = _compute(rtype, spec, value, region)
    res.ai = ai
    if action in ("update", "replace", "no-op") and before is not None:
        bcomp, bai = _compute(rtype, spec, before, region)
        if bai:
            res.ai = True
            res.meta["before_compute"] = bcomp.to_json()
    if res.ai:
        res.compute = comp
    res.meta["_plan_value"] = value  # for linking; removed in _link
    res.meta["_comp"] = comp
    return res


def _generic_spec(rtype: str) -> dict | None:
    provider = {"aws": "aws", "google": "gcp", "azurerm": "azure"}.get(rtype.split("_", 1)[0])
    if provider is None:
        return None
    return {"provider": provider, "tags": "labels" if provider == "gcp" else "tags",
            "default_tags": provider in ("aws", "gcp"), "ai": "never"}


# --- tags ------------------------------------------------------------------------------------

def _tags(rtype: str, spec: dict, value: dict):
    """The effective tag map: ``tags_all`` (AWS), ``effective_labels``/``terraform_labels`` (Google)."""
    from tagguard.sources.terraform import extract as ex
    from tagguard.hcl.values import Unknown

    if rtype == "aws_autoscaling_group":
        return _asg_tags(value)
    if spec.get("extractor") == "sagemaker_cluster":  # a list of {key, value}
        from tagguard.sources.terraform.hyperpod import tag_list

        return tag_list(value.get("tags"), "`tags`")
    provider = spec.get("provider", "aws")
    path = spec.get("tags")
    if not path:
        return ex.TagMap()
    candidates: list[tuple[str, str]] = []
    if spec.get("default_tags") and "." not in path:
        if provider == "aws":
            candidates.append(("tags_all", "`tags_all` (tags + provider default_tags)"))
        elif provider == "gcp":
            candidates.append(("effective_labels", "`effective_labels` (labels + provider default_labels)"))
            candidates.append(("terraform_labels", "`terraform_labels` (labels + provider default_labels)"))
    candidates.append((path, f"`{path}`"))
    own = _get(value, path)
    for key, origin in candidates:
        v = _get(value, key)
        if v is _MISSING_V:
            continue
        if isinstance(v, Unknown) and key != path:
            # The merged map is unknown (e.g. default tags from an unknown value):
            # the resource's own tags are still certain, the rest is open.
            tm = ex.TagMap.of(None if own is _MISSING_V or isinstance(own, Unknown) else own, f"`{path}`")
            tm.open = True
            tm.open_reason = f"{origin} is known only after apply"
            return tm
        if v is None and key != path:
            continue
        return ex.TagMap.of(v, origin)
    return ex.TagMap()


def _asg_tags(value: dict):
    from tagguard.sources.terraform import extract as ex
    from tagguard.hcl.values import Unknown

    tm = ex.TagMap()
    blocks = value.get("tag")
    if isinstance(blocks, Unknown):
        tm.open, tm.open_reason = True, "the ASG's `tag` blocks are known only after apply"
        return tm
    for b in blocks or []:
        if not isinstance(b, Mapping):
            continue
        key = b.get("key")
        if not isinstance(key, str):
            tm.open, tm.open_reason = True, "an ASG `tag` block's key is known only after apply"
            continue
        tm = tm.overlay(ex.TagMap.of({key: b.get("value")}, "ASG `tag` block"))
    legacy = value.get("tags")  # pre-v5 provider: list of {key, value, propagate_at_launch}
    if isinstance(legacy, list):
        for b in legacy:
            if isinstance(b, Mapping) and isinstance(b.get("key"), str):
                tm = tm.overlay(ex.TagMap.of({b["key"]: b.get("value")}, "ASG `tags`"))
    return tm


_MISSING_V = object()


def _get(value: Any, path: str) -> Any:
    from tagguard.hcl.values import Unknown

    cur = value
    for part in path.split("."):
        if isinstance(cur, list):
            cur = cur[0] if cur else _MISSING_V
        if isinstance(cur, Unknown):
            return cur
        if not isinstance(cur, Mapping) or part not in cur:
            return _MISSING_V
        cur = cur[part]
    return cur


# --- compute -----------------------------------------------------------------------------------

def _compute(rtype: str, spec: dict, value: dict, region: str | None) -> tuple[Compute, bool]:
    from tagguard.sources.terraform import extract as ex

    body = _JsonBody(value)
    comp, ai = ex.compute_for(spec, body, None, 1, 1)
    extractor = spec.get("extractor")
    if extractor == "autoscaling_group":
        override = ex.get_path(body, "mixed_instances_policy.launch_template.override.instance_type", None)
        if isinstance(override, str):
            ai = _set_type(comp, override, spec) or ai
        if comp.instance_type is not None:
            from tagguard.sources.terraform.source import _mixed_policy

            _mixed_policy(comp, body, None)
    elif extractor == "sagemaker_endpoint_configuration":
        from tagguard.sources.terraform.source import ex_sagemaker_endpoint_configuration

        tmp = Resource(address="", type=rtype, source="plan", compute=comp)
        ex_sagemaker_endpoint_configuration(None, tmp, spec, body, None, None, None, None, None)
        comp = tmp.compute or comp
    elif extractor == "sagemaker_cluster":
        from tagguard.sources.terraform.hyperpod import ex_sagemaker_cluster

        tmp = Resource(address="", type=rtype, source="plan", compute=comp)
        ex_sagemaker_cluster(None, tmp, spec, body, None, None, ex.TagMap(), ex.TagMap(), None)
        comp = tmp.compute or comp
    elif extractor == "bedrock_throughput":
        from tagguard.sources.terraform.source import ex_bedrock_throughput

        tmp = Resource(address="", type=rtype, source="plan", compute=comp)
        ex_bedrock_throughput(None, tmp, spec, body, None, None, None, None, None)
        comp = tmp.compute or comp
    if region:
        comp.region = region
    if spec.get("ai") == "never":
        ai = False
    return comp, ai


def _set_type(comp: Compute, itype: str, spec: dict) -> bool:
    from tagguard.sources.terraform import extract as ex

    if comp.instance_type:
        return False
    comp.instance_type = itype
    info = ex.catalog_info(itype)
    if info is not None:
        comp.accelerator, comp.gpus_per_unit = info
        return spec.get("ai") in ("instance", "always")
    return spec.get("ai") == "always"


def _region(value: dict, provider: str, regions: dict[str, str], rc: dict) -> str | None:
    for key in ("region", "location", "zone"):
        v = value.get(key)
        if isinstance(v, str) and v:
            if key == "zone" and provider == "gcp" and re.search(r"-[a-z]$", v):
                return v[:-2]
            if key == "zone" and provider == "aws":
                continue
            return v
    name = str(rc.get("provider_name") or "")
    short = name.rsplit("/", 1)[-1]
    return regions.get(short)


def _provider_regions(configuration: dict) -> dict[str, str]:
    """Constant ``region`` per provider name, from the unaliased root provider configuration."""
    out: dict[str, str] = {}
    for key, pc in (configuration.get("provider_config") or {}).items():
        if not isinstance(pc, dict) or pc.get("alias") or pc.get("module_address"):
            continue
        expr = (pc.get("expressions") or {}).get("region")
        if isinstance(expr, dict) and isinstance(expr.get("constant_value"), str):
            out[str(pc.get("name") or key)] = expr["constant_value"]
    return out


# --- linking: launch templates and SageMaker endpoints, through configuration references ---------

def _config_references(configuration: dict) -> dict[str, dict[str, list[str]]]:
    """``module.x.aws_autoscaling_group.y`` -> {expression path -> referenced addresses}."""
    out: dict[str, dict[str, list[str]]] = {}

    def walk_expr(prefix: str, exprs: Any, into: dict[str, list[str]], path: str = "") -> None:
        if isinstance(exprs, list):
            for item in exprs:
                walk_expr(prefix, item, into, path)
            return
        if not isinstance(exprs, dict):
            return
        if "references" in exprs and isinstance(exprs["references"], list):
            into.setdefault(path, []).extend(prefix + r for r in exprs["references"] if isinstance(r, str))
            return
        for k, v in exprs.items():
            if k == "constant_value":
                continue
            walk_expr(prefix, v, into, f"{path}.{k}" if path else k)

    def walk(module: dict, prefix: str, depth: int = 0) -> None:
        if depth > 50:
            return
        for r in module.get("resources") or []:
            if isinstance(r, dict) and isinstance(r.get("address"), str):
                into: dict[str, list[str]] = {}
                walk_expr(prefix, r.get("expressions") or {}, into)
                if into:
                    out[prefix + r["address"]] = into
        for name, call in (module.get("module_calls") or {}).items():
            if isinstance(call, dict) and isinstance(call.get("module"), dict):
                walk(call["module"], f"{prefix}module.{name}.", depth + 1)

    walk(configuration.get("root_module") or {}, "")
    return out


def _base(address: str) -> str:
    """Address without instance keys: ``module.a["x"].aws_instance.b[1]`` -> ``module.a.aws_instance.b``."""
    return re.sub(r'\[(?:"(?:[^"\\]|\\.)*"|\d+)\]', "", address)


def _module_prefix(address: str) -> str:
    m = re.match(r'^((?:module\.[^.\[]+(?:\[(?:"(?:[^"\\]|\\.)*"|\d+)\])?\.)*)', address)
    return m.group(1) if m else ""


def _link(resources: list[Resource], refs: dict[str, dict[str, list[str]]]) -> None:
    """What the plan's references tie together: launch templates to the groups and instances that use them,
    SageMaker endpoints to their configurations; then the plan-only facts are dropped and deletions priced
    at zero units."""
    targets = _Targets(resources, refs)
    _link_launch_templates(resources, targets)
    _link_endpoint_configs(resources, targets)
    for res in resources:
        res.meta.pop("_plan_value", None)
        res.meta.pop("_comp", None)
        if res.meta.get("action") == "delete" and res.compute is not None:
            res.meta["before_compute"] = res.compute.to_json()
            res.compute.units = 0
            if res.compute.spot_units is not None:
                res.compute.spot_units = 0
            res.compute.notes.append("deleted by this plan: 0 units after apply")


class _Targets:
    """The resource of a type that another resource's configuration references (through ``refs``: base
    address -> attribute path -> referenced addresses), preferring one in the same module instance."""

    def __init__(self, resources: list[Resource], refs: dict[str, dict[str, list[str]]]):
        self.refs = refs
        self.by_base: dict[str, list[Resource]] = {}
        for r in resources:
            self.by_base.setdefault(_base(r.address), []).append(r)

    def __call__(self, res: Resource, path_prefix: str, rtype: str) -> Resource | None:
        mine = self.refs.get(_base(res.address)) or {}
        prefix = _module_prefix(res.address)
        pat = re.compile(r"^(.*?\b" + re.escape(rtype) + r"\.[^.\[]+)")
        for path, addrs in mine.items():
            if not path.startswith(path_prefix):
                continue
            for a in addrs:
                m = pat.match(a)
                if m is None:
                    continue
                cands = [c for c in self.by_base.get(_base(m.group(1)), []) if c.type == rtype]
                same = [c for c in cands if _module_prefix(c.address) == prefix]
                if same or cands:
                    return (same or cands)[0]
        return None


def _link_launch_templates(resources: list[Resource], target: _Targets) -> None:
    """An ASG, EKS node group or instance without an instance type takes its launch template's."""
    from tagguard.sources.terraform import extract as ex

    for res in resources:
        value = res.meta.get("_plan_value")
        spec = ex.kinds().get(res.type) or {}
        if res.type not in ("aws_autoscaling_group", "aws_eks_node_group", "aws_instance") or (
                res.compute is not None and res.compute.instance_type):
            continue
        lt = target(res, "launch_template", "aws_launch_template") or \
            target(res, "mixed_instances_policy", "aws_launch_template")
        if lt is None:
            continue
        lt_value = lt.meta.get("_plan_value") or {}
        itype = lt_value.get("instance_type")
        if not isinstance(itype, str):
            continue
        comp = (res.compute or res.meta.get("_comp")
                or Compute(provider=spec.get("provider"), service=spec.get("service")))
        if _set_type(comp, itype, spec):
            res.ai = True
        if not res.ai:
            continue
        if res.type == "aws_autoscaling_group" and isinstance(value, dict):
            from tagguard.sources.terraform.source import _mixed_policy

            _mixed_policy(comp, _JsonBody(value), None)
        res.compute = comp
        before = res.meta.get("before_compute")
        if isinstance(before, dict) and not before.get("instance_type"):
            # the template is assumed unchanged: same type before and after
            before.update({k: v for k, v in comp.to_json().items() if k not in ("units", "spot_units")})


def _link_endpoint_configs(resources: list[Resource], target: _Targets) -> None:
    """SageMaker: the endpoint runs its configuration's instances (priced once, on the endpoint)."""
    configs = [r for r in resources if r.type == "aws_sagemaker_endpoint_configuration"]
    for res in resources:
        if res.type != "aws_sagemaker_endpoint":
            continue
        value = res.meta.get("_plan_value") or {}
        cfg = target(res, "endpoint_config_name", "aws_sagemaker_endpoint_configuration")
        if cfg is None and isinstance(value.get("endpoint_config_name"), str):
            cfg = next((c for c in configs
                        if (c.meta.get("_plan_value") or {}).get("name") == value["endpoint_config_name"]), None)
        if cfg is not None and cfg.compute is not None and res.meta.get("action") != "delete":
            res.compute = cfg.compute
            res.ai = True
            if "before_compute" in cfg.meta and res.meta.get("action") in ("update", "replace", "no-op"):
                res.meta["before_compute"] = cfg.meta.pop("before_compute")
            cfg.compute = None
            cfg.meta["served_by"] = res.address


# --- line numbers -----------------------------------------------------------------------------

class _LineFinder:
    """Line of each change's ``"address"`` key, searched forward in file order."""

    def __init__(self, text: str):
        self.text = text
        self.multiline = text.count("\n", 0, 1 << 20) > 2
        start = text.find('"resource_changes"')
        self.pos = start if start >= 0 else 0
        self.line = text.count("\n", 0, self.pos) + 1 if self.multiline else 1
        self.counted = self.pos

    def line_of(self, address: str) -> int | None:
        if not self.multiline:
            return None
        pat = re.compile(r'"address"\s*:\s*' + re.escape(json.dumps(address)))
        m = pat.search(self.text, self.pos)
        if m is None:
            return None
        self.line += self.text.count("\n", self.counted, m.start())
        self.counted = m.start()
        self.pos = m.end()
        return self.line
