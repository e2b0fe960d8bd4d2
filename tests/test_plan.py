"""Plan JSON (``terraform show -json``): detection, actions, tags_all, after_unknown, compute, cost deltas.

Figures are hand-computed from the shipped rate card (``tagguard pricing show TYPE``), 730 h/month.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tagguard.config import Config
from tagguard.pipeline import scan
from tagguard.sources.terraform.plan import looks_like_plan

FIXTURES = Path(__file__).parent / "fixtures" / "plan"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    shutil.copy(FIXTURES / "mixed.plan.json", d / "tfplan.json")
    result = scan([str(d / "tfplan.json")], Config(raw={}, path=d / ".tagguard.yaml"))
    return result, {r.address: r for r in result.resources}


def test_actions_and_what_is_listed(mixed):
    _, by = mixed
    assert by["aws_instance.train"].meta["action"] == "create"
    assert by["aws_instance.resized"].meta["action"] == "update"
    assert by["aws_instance.replaced"].meta["action"] == "replace"
    assert by["aws_instance.old"].meta["action"] == "delete"
    assert by["aws_instance.same"].meta["action"] == "no-op"
    assert "data.aws_ami.gpu" not in by  # read of a data source
    assert all(r.source == "plan" and r.file == "tfplan.json" for r in by.values())


def test_full_instance_addresses_module_and_index(mixed):
    _, by = mixed
    r = by['module.serving["chat"].aws_instance.gpu[1]']
    assert r.meta["module"] == 'module.serving["chat"]'
    assert r.meta["index"] == 1
    assert r.line == 46  # the change's "address" line in the pretty-printed plan


def test_judged_on_tags_all_and_unknowns(mixed):
    result, by = mixed
    train = by["aws_instance.train"]
    assert train.tags["cost-center"] == "CC-1000"  # from provider default_tags, via tags_all
    gpu = by['module.serving["chat"].aws_instance.gpu[0]']
    assert gpu.unresolved_tags == ["cost-center"]
    assert "known only after apply" in gpu.unresolved_reasons["cost-center"]
    opaque = by["aws_instance.opaque"]
    assert opaque.tags_open and opaque.tags == {"project": "opaque"}
    rules = {(f.rule, f.address, f.tag) for f in result.findings
             if f.category in ("missing_tag", "unresolved_value", "invalid_value")}
    assert ("unresolved-value", 'module.serving["chat"].aws_instance.gpu[0]', "cost-center") in rules
    assert ("unresolved-value", "aws_instance.opaque", None) in rules
    # deletes and no-ops are not judged, even though `same` has no tags at all
    assert not [f for f in result.findings
                if f.address in ("aws_instance.same", "aws_instance.old") and f.category == "missing_tag"]
    assert not [f for f in result.findings if f.category == "missing_tag"]


@pytest.mark.parametrize("address,monthly", [
    ("aws_instance.train", 16029.08),            # p4d.24xlarge 21.957642 x 730
    ('module.serving["chat"].aws_instance.gpu[0]', 734.38),  # g5.xlarge 1.006 x 730
    ("aws_instance.resized", 4140.56),           # g5.12xlarge 5.672 x 730
    ("aws_instance.replaced", 8935.20),          # p3.8xlarge 12.24 x 730
    ("aws_eks_node_group.spot", 1327.14),        # 3 x g5.2xlarge spot 0.606 x 730
    ("aws_autoscaling_group.workers", 1468.76),  # 2 x g5.xlarge (type from the launch template) 1.006 x 730
    ("aws_sagemaker_endpoint.chat", 2056.26),    # 2 x ml.g5.xlarge 1.4084 x 730
    ("google_compute_instance.a100", 2681.57),   # a2-highgpu-1g 3.673385 x 730
    ("azurerm_linux_virtual_machine.nc", 1206.58),  # NC24ads_A100_v4 3.673 x (1 - 55 % default spot discount) x 730
    ("aws_instance.old", 0.0),                   # deleted: 0 units after apply
])
def test_after_cost(mixed, address, monthly):
    _, by = mixed
    assert by[address].cost.monthly_usd == pytest.approx(monthly, abs=0.01)


def test_compute_shapes(mixed):
    _, by = mixed
    ng = by["aws_eks_node_group.spot"].compute
    assert (ng.instance_type, ng.units, ng.pricing_model) == ("g5.2xlarge", 3, "spot")
    asg = by["aws_autoscaling_group.workers"].compute
    assert (asg.instance_type, asg.units) == ("g5.xlarge", 2)
    ep = by["aws_sagemaker_endpoint.chat"].compute
    assert (ep.instance_type, ep.units) == ("ml.g5.xlarge", 2)
    assert by["aws_sagemaker_endpoint_configuration.cfg"].meta["served_by"] == "aws_sagemaker_endpoint.chat"
    gce = by["google_compute_instance.a100"]
    assert gce.compute.region == "us-central1" and gce.tags["cost-center"] == "cc-4000"
    assert by["aws_instance.train"].compute.region == "us-east-1"  # from the provider configuration
    az = by["azurerm_linux_virtual_machine.nc"]
    assert az.compute.pricing_model == "spot" and az.tag_style == "azure"


@pytest.mark.parametrize("address,delta", [
    ("aws_instance.train", 16029.08),     # create: +after
    ("aws_instance.old", -4140.56),       # delete: -before (g5.12xlarge)
    ("aws_instance.resized", 3406.18),    # update: 4140.56 - 734.38
    ("aws_instance.replaced", 6701.40),   # replace: 8935.20 - 2233.80 (p3.2xlarge 3.06 x 730)
    ("aws_instance.same", 0.0),           # no-op
])
def test_cost_delta_signs(mixed, address, delta):
    _, by = mixed
    assert by[address].meta["cost_delta_monthly_usd"] == pytest.approx(delta, abs=0.01)


def test_cost_diff_totals_and_teams(mixed):
    result, _ = mixed
    cd = result.cost_diff.to_json()
    expected = (16029.08 + 2 * 734.38 + 734.38 - 4140.56 + 3406.18 + 6701.40 + 1327.14 + 1468.76
                + 2056.26 + 2681.57 + 1206.58)
    assert cd["total_delta_monthly_usd"] == pytest.approx(expected, abs=0.05)
    assert cd["changes"] == {"create": 9, "update": 1, "replace": 1, "delete": 1}
    bu = {g["value"]: g["delta_monthly_usd"] for g in cd["by"]["business-unit"]}
    assert bu["search"] == pytest.approx(6701.40, abs=0.01)
    assert bu["(untagged)"] == pytest.approx(734.38, abs=0.01)  # aws_instance.opaque: tags_all unknown
    projects = {g["value"]: g["delta_monthly_usd"] for g in cd["by"]["project"]}
    assert projects["(untagged)"] == pytest.approx(-4140.56, abs=0.01)  # the deleted instance had no project
    assert projects["chat"] == pytest.approx(2 * 734.38 + 2056.26, abs=0.02)


def _write(tmp_path, name, data):
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def _change(address, actions, before, after, unknown=None, rtype="aws_instance"):
    return {"address": address, "mode": "managed", "type": rtype, "name": address.split(".")[-1],
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {}}}


def test_minified_plan_has_no_line_and_old_format_without_resource_changes(tmp_path):
    plan = {"format_version": "1.0", "resource_changes": [
        _change("aws_instance.a", ["create"], None, {"instance_type": "g5.xlarge", "tags_all": {}})]}
    _write(tmp_path, "a.json", plan)
    only_planned = {"format_version": "0.1", "planned_values": {"root_module": {"resources": [
        {"address": "aws_instance.b", "mode": "managed", "type": "aws_instance", "name": "b",
         "values": {"instance_type": "g5.xlarge", "tags_all": {"project": "x"}}}]}}}
    _write(tmp_path, "b.json", only_planned)
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    by = {r.address: r for r in result.resources}
    assert by["aws_instance.a"].line is None
    assert by["aws_instance.b"].meta["action"] == "create" and by["aws_instance.b"].tags == {"project": "x"}
    assert {f.tag for f in result.findings if f.address == "aws_instance.a" and f.rule == "missing-tag"} == {
        "business-unit", "project", "environment", "cost-center"}


def test_other_json_is_not_claimed_and_bad_plan_is_one_line_error(tmp_path):
    _write(tmp_path, "package.json", {"name": "x", "version": "1.0.0"})
    _write(tmp_path, "state.json",
           {"format_version": "1.0", "terraform_version": "1.9.0", "values": {"root_module": {}}})
    _write(tmp_path, "broken.json",
           '{\n  "format_version": "1.2",\n  "resource_changes": [\n    {"address": }\n  ]\n}\n')
    _write(tmp_path, "future.json", {"format_version": "2.0", "resource_changes": []})
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    errs = {f.file: f for f in result.findings if f.rule == "parse-error"}
    assert set(errs) == {"broken.json", "future.json"}
    assert errs["broken.json"].line == 4 and errs["broken.json"].message.startswith("broken.json:4: invalid plan JSON")
    assert "not supported" in errs["future.json"].message


def test_detection_reads_only_the_head():
    assert looks_like_plan(b'{"format_version":"1.2","terraform_version":"1.9.5","planned_values":{')
    assert looks_like_plan(b'\xef\xbb\xbf\n  {\n "resource_changes": [')
    assert not looks_like_plan(b'[{"format_version": 1}]')
    assert not looks_like_plan(b'{"name": "left-pad", "dependencies": {}}')


def test_after_unknown_nested_maps_and_gcp_default_labels(tmp_path):
    plan = {"format_version": "1.2", "resource_changes": [
        _change("google_container_node_pool.gpu", ["create"], None, {
            "node_count": 2, "location": "us-central1",
            "node_config": [{"machine_type": "a2-highgpu-1g", "spot": False,
                             "resource_labels": {"business-unit": "research", "project": "p", "environment": "dev"},
                             "guest_accelerator": []}]},
            {"node_config": [{"resource_labels": {"cost-center": True}}]}, rtype="google_container_node_pool"),
        _change("aws_instance.u", ["update"], {"instance_type": "g5.xlarge", "tags_all": {"a": "1"}},
                {"instance_type": "g5.xlarge",
                 "tags_all": {"business-unit": "r", "project": "p", "environment": "dev"}},
                {"tags_all": {"cost-center": True}}),
    ]}
    _write(tmp_path, "plan.json", plan)
    result = scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    by = {r.address: r for r in result.resources}
    pool = by["google_container_node_pool.gpu"]
    assert pool.unresolved_tags == ["cost-center"] and pool.compute.units == 2
    assert pool.cost.monthly_usd == pytest.approx(2 * 3.673385 * 730, abs=0.01)
    u = by["aws_instance.u"]
    assert u.unresolved_tags == ["cost-center"] and u.meta["cost_delta_monthly_usd"] == 0.0
