"""``tagguard checkov-dir``: the configured taxonomy as Checkov custom checks.

    checkov -d . --external-checks-dir "$(tagguard checkov-dir)"

Writes ``tagguard_checks.py`` (static) and ``tagguard_checkov.data`` (the
taxonomy, the AI Terraform resource types with their tag attribute, the
accelerated instance types of the rate card, the Kubernetes kinds and
accelerator resource names) into a directory and prints its path.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import click

from tagguard import cli
from tagguard.errors import fail


def checkov_data(config) -> dict[str, Any]:
    import yaml

    from tagguard.resources import package_text, read_text

    taxonomy = config.taxonomy().schema
    kinds = yaml.safe_load(package_text("tagguard.sources.terraform", "kinds.yaml")) or {}
    resources = {}
    for rtype, spec in sorted(kinds.items()):
        if not isinstance(spec, dict) or spec.get("ai") not in ("always", "instance"):
            continue
        entry = {"ai": spec["ai"], "provider": spec.get("provider"), "tags": spec.get("tags"),
                 "instance_type": list(spec.get("instance_type") or []), "accelerator": spec.get("accelerator")}
        if not spec.get("tags"):
            if rtype == "aws_autoscaling_group":
                entry["tag_blocks"] = True
            else:
                continue  # no tag attribute Checkov could read
        resources[rtype] = entry
    try:
        from tagguard.pricing import catalog

        accelerated = sorted(t for t in catalog.all_instance_types() if catalog.is_accelerated(t))
    except ModuleNotFoundError:  # pricing not part of this build
        accelerated = []
    k8s = yaml.safe_load(read_text("policies/kubernetes_kinds.yaml")) or {}
    k8s_kinds = sorted({str(k).split(".")[0] for k in (k8s.get("kinds") or {})})
    extra = ((config.section("kubernetes") or {}).get("crds") or {})
    k8s_kinds = sorted(set(k8s_kinds) | {str(k).split(".")[0] for k in extra})
    return {
        "generated_by": "tagguard checkov-dir",
        "taxonomy": taxonomy,
        "terraform": {"resources": resources, "accelerated_instance_types": accelerated},
        "kubernetes": {"kinds": k8s_kinds, "accelerator_resources": sorted(k8s.get("accelerator_resources") or {})},
    }


def write_checks(directory: Path, data: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    from tagguard.resources import package_file

    src = package_file("tagguard._checkov", "tagguard_checks.py")
    shutil.copyfile(src, directory / "tagguard_checks.py")
    (directory / "__init__.py").write_text("", encoding="utf-8")  # Checkov loads only packages
    (directory / "tagguard_checkov.data").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n",
                                                     encoding="utf-8")
    return directory


def default_dir(data: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()[:12]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tagguard" / "checkov" / digest


@click.command("checkov-dir")
@cli.config_option
@click.option("--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory to write the checks to (default: a cache directory keyed by the taxonomy).")
def checkov_dir(config_path: Path | None, output_dir: Path | None):
    """Print a directory of Checkov custom checks enforcing the configured taxonomy.

    Use it as `checkov -d . --external-checks-dir "$(tagguard checkov-dir)"`. CKV_TAGGUARD_1 checks
    Terraform AI/GPU resources, CKV_TAGGUARD_2 Kubernetes pods that request accelerators. Checkov
    does not merge provider default_tags and only sees the CRD kinds listed, so `tagguard scan`
    remains the reference.
    """
    config = cli.load_config_or_exit(config_path)
    data = checkov_data(config)
    target = output_dir or default_dir(data)
    try:
        write_checks(target, data)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    click.echo(str(target.resolve()))
