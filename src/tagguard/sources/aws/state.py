"""Compare live resources with what Terraform state says it manages (``--state terraform.tfstate``).

Reads local state files (format version 4, as written by Terraform >= 0.12): each managed
resource instance's ``arn`` (or, for EC2 instances, its ``id``) and its ``tags_all`` (or ``tags``;
ASGs keep theirs in ``tag`` blocks).  Then:

* ``tag_drift`` (rule ``tag-drift``): a live resource whose tags differ from the state's, one finding
  per differing key (added by hand, removed, or changed in the console);
* ``unmanaged`` (rule ``unmanaged-resource``): a GPU/AI resource no state file knows about
  (console-created, or managed by another state you did not pass).

State files are never executed; an unreadable one is a ``parse_error`` finding naming the file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagguard.model import TAG_DRIFT, UNMANAGED, WARNING, Finding, Resource


@dataclass
class StateEntry:
    address: str  # module.x.aws_instance.gpu[0]
    type: str
    tags: dict[str, str] | None  # None: the state records no tags attribute
    file: str


@dataclass
class StateIndex:
    by_arn: dict[str, StateEntry] = field(default_factory=dict)
    by_id: dict[str, StateEntry] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)

    def find(self, res: Resource) -> StateEntry | None:
        hit = self.by_arn.get(res.address) or self.by_arn.get(res.meta.get("arn", ""))
        if hit is None and res.meta.get("instance_id"):
            hit = self.by_id.get(res.meta["instance_id"])
        if hit is None and "#variant/" in res.address:
            hit = self.by_arn.get(res.address.split("#", 1)[0])
        return hit


def _address(res: dict[str, Any], inst: dict[str, Any]) -> str:
    base = (f"{res['type']}.{res['name']}" if res.get("mode", "managed") == "managed"
            else f"data.{res['type']}.{res['name']}")
    if res.get("module"):
        base = f"{res['module']}.{base}"
    key = inst.get("index_key")
    if key is None:
        return base
    return f"{base}[{json.dumps(key)}]" if isinstance(key, str) else f"{base}[{key}]"


def _tags(attrs: dict[str, Any]) -> dict[str, str] | None:
    for name in ("tags_all", "tags"):
        value = attrs.get(name)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    blocks = attrs.get("tag")
    if isinstance(blocks, list):  # aws_autoscaling_group
        return {str(b.get("key")): str(b.get("value")) for b in blocks if isinstance(b, dict) and b.get("key")}
    return None


def load_states(paths: list[Path]) -> StateIndex:
    from tagguard.sources.base import parse_error

    index = StateIndex()
    for path in paths:
        name = str(path)
        index.files.append(name)
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            index.problems.append(parse_error(name, None, f"{name}: cannot read state file ({exc.strerror or exc})"))
            continue
        except (UnicodeDecodeError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            where = f"{name}{':' + str(line) if line else ''}"
            index.problems.append(parse_error(name, line, f"{where}: not a JSON Terraform state file"
                                                          f" ({getattr(exc, 'msg', exc)})"))
            continue
        if not isinstance(data, dict) or not isinstance(data.get("resources", []), list):
            index.problems.append(parse_error(name, 1, f"{name}:1: not a Terraform state file (no `resources` list)"))
            continue
        if data.get("version") not in (None, 4):
            index.problems.append(parse_error(name, 1,
                                              f"{name}:1: state format version {data.get('version')!r} is not supported"
                                              " (need 4; run `terraform state pull` with Terraform >= 0.12)",
                                              severity=WARNING))
            continue
        for res in data.get("resources", []):
            if not isinstance(res, dict) or res.get("mode", "managed") != "managed":
                continue
            if not str(res.get("type", "")).startswith("aws_"):
                continue
            for inst in res.get("instances") or []:
                attrs = (inst or {}).get("attributes") or {}
                entry = StateEntry(address=_address(res, inst), type=res["type"], tags=_tags(attrs), file=name)
                arn = attrs.get("arn")
                if isinstance(arn, str) and arn.startswith("arn:"):
                    index.by_arn[arn] = entry
                if res["type"] in ("aws_instance", "aws_spot_instance_request") and attrs.get("id"):
                    index.by_id[str(attrs.get("spot_instance_id") or attrs["id"])] = entry
    return index


def compare(resources: list[Resource], index: StateIndex) -> list[Finding]:
    out: list[Finding] = []
    for res in resources:
        entry = index.find(res)
        base = {"account": res.meta.get("account"), "region": res.meta.get("region"), "live_tags": dict(res.tags)}
        if entry is None:
            if res.ai:
                out.append(Finding(
                    rule="unmanaged-resource", category=UNMANAGED, severity=WARNING, address=res.address,
                    resource_type=res.type,
                    message=(f"{res.address}: {res.type} is running and no Terraform state passed with --state "
                             f"manages it ({', '.join(index.files)})"),
                    fix=("import it into Terraform (`terraform import`) so its tags are reviewed like any other "
                         "change, or pass the state file that manages it"),
                    extra=base))
            continue
        res.meta["terraform_address"] = entry.address
        if entry.tags is None:
            continue
        live = {k: v for k, v in res.tags.items() if not k.startswith("aws:")}
        want = {k: v for k, v in entry.tags.items() if not k.startswith("aws:")}
        for key in sorted(set(live) | set(want)):
            a, b = live.get(key), want.get(key)
            if a == b:
                continue
            if a is None:
                what = f"tag `{key}` = \"{b}\" is in the Terraform state but missing on the live resource"
                fix = "run `terraform apply` to restore it, or remove it from the configuration"
            elif b is None:
                what = f"tag `{key}` = \"{a}\" was added outside Terraform (not in the state)"
                fix = f"add `{key}` to the resource's tags in Terraform so the next apply does not remove it"
            else:
                what = f"tag `{key}` is \"{a}\" live but \"{b}\" in the Terraform state"
                fix = "change it in Terraform and apply, or run `terraform apply` to restore the state's value"
            out.append(Finding(
                rule="tag-drift", category=TAG_DRIFT, severity=WARNING, address=res.address, tag=key,
                resource_type=res.type, message=f"{res.address}: {what} ({entry.address} in {entry.file})",
                fix=fix, extra={**base, "terraform_address": entry.address, "live_value": a, "state_value": b,
                                "state_file": entry.file}))
    return out
