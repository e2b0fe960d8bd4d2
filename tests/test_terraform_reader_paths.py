"""The Terraform reader's short paths for the common resource block (issue 13): each skips work whose
answer is known, and gives what the long path gives."""
from __future__ import annotations

from tagguard.config import Config


def _scan(tmp_path, text: str):
    from tagguard.pipeline import scan

    (tmp_path / "main.tf").write_text(text)
    return scan([str(tmp_path)], Config(raw={"scope": "all"}))


GPU = ('resource "aws_instance" "{name}" {{\n{extra}  instance_type = "g6.xlarge"\n'
       '  tags = {{ project = "p", environment = "dev", business-unit = "r" }}\n}}\n')


def test_a_file_that_says_tagguard_ignore_nowhere_is_not_searched_for_suppressions(tmp_path, monkeypatch):
    from tagguard.sources.terraform import source

    calls = []
    real = source._suppressions

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(source, "_suppressions", counting)
    text = "".join("# a plain comment\n" + GPU.format(name=f"gpu_{i}", extra="  # and one inside\n") for i in range(5))
    result = _scan(tmp_path, text)
    assert calls == [], "suppressions were searched in a file with no tagguard:ignore comment"
    assert len(result.resources) == 5 and all(r.suppressions == [] for r in result.resources)
    assert not [f for f in result.findings if f.suppressed or f.rule == "invalid-suppression"]


def test_a_suppression_above_a_comment_block_still_applies_and_a_bad_one_is_still_reported(tmp_path):
    text = ("# tagguard:ignore missing-tag -- vendor-owned\n# a plain comment between\n"
            + GPU.format(name="kept", extra="")
            + GPU.format(name="plain", extra="")
            + GPU.format(name="bad", extra="  # tagguard:ignore missing-tag\n"))
    result = _scan(tmp_path, text)
    suppressed = sorted({f.address for f in result.findings if f.rule == "missing-tag" and f.suppressed})
    assert suppressed == ["aws_instance.kept"]
    invalid = [f for f in result.findings if f.rule == "invalid-suppression"]
    assert [f.line for f in invalid] == [12]


def test_a_block_without_count_or_for_each_is_one_resource_in_the_module_scope(tmp_path, monkeypatch):
    from tagguard.sources.terraform import source

    expanded = []
    real = source.expand_repetition

    def counting(body, scope, what):
        expanded.append(what)
        return real(body, scope, what)

    monkeypatch.setattr(source, "expand_repetition", counting)
    text = (GPU.format(name="one", extra="")
            + GPU.format(name="counted", extra="  count = 3\n")
            + GPU.format(name="none", extra="  count = 0\n")
            + GPU.format(name="each", extra='  for_each = toset(["a", "b"])\n')
            + 'locals {\n  n = 2\n}\n' + GPU.format(name="local_count", extra="  count = local.n\n"))
    result = _scan(tmp_path, text)
    assert expanded == ["aws_instance.counted", "aws_instance.none", "aws_instance.each",
                        "aws_instance.local_count"], "a block that repeats nothing went through expand_repetition"
    units = {r.address: (r.compute.units if r.compute else None) for r in result.resources}
    assert units == {"aws_instance.one": 1, "aws_instance.counted": 3, "aws_instance.none": 0,
                     'aws_instance.each["a"]': 1, 'aws_instance.each["b"]': 1, "aws_instance.local_count": 2}
    one = next(r for r in result.resources if r.address == "aws_instance.one")
    assert one.tags == {"project": "p", "environment": "dev", "business-unit": "r"} and one.line == 1


def test_a_nested_path_in_a_body_without_blocks_is_read_without_looking_for_blocks(tmp_path, monkeypatch):
    from tagguard.sources.terraform import extract

    asked = []
    real = extract.blocks_named

    def counting(body, name, scope):
        asked.append((name, len(body.blocks)))
        return real(body, name, scope)

    monkeypatch.setattr(extract, "blocks_named", counting)
    market = "  instance_market_options {\n    market_type = \"spot\"\n  }\n"
    text = (GPU.format(name="plain", extra="")
            + GPU.format(name="object", extra='  instance_market_options = { market_type = "spot" }\n')
            + GPU.format(name="block", extra=market)
            + GPU.format(name="dynamic", extra=('  dynamic "instance_market_options" {\n    for_each = ["x"]\n'
                                                '    content {\n      market_type = "spot"\n    }\n  }\n')))
    result = _scan(tmp_path, text)
    models = {r.address: r.compute.pricing_model for r in result.resources}
    assert models == {"aws_instance.plain": "on_demand", "aws_instance.object": "spot",
                      "aws_instance.block": "spot", "aws_instance.dynamic": "spot"}
    assert ("instance_market_options", 0) not in asked, "blocks were looked for in a body that has none"
    assert asked.count(("instance_market_options", 1)) == 2


def test_the_catalog_is_asked_once_per_instance_type_in_a_scan_and_anew_in_the_next(tmp_path, monkeypatch):
    from tagguard.pricing import catalog

    asked: list[str] = []
    real = catalog.accelerator_info

    def counting(instance_type, provider=None):
        asked.append(instance_type)
        return real(instance_type, provider)

    monkeypatch.setattr(catalog, "accelerator_info", counting)
    text = "".join(GPU.format(name=f"gpu_{i}", extra="").replace("g6.xlarge", ("p4d.24xlarge", "g6.xlarge")[i % 2])
                   for i in range(30))
    result = _scan(tmp_path, text)
    assert sorted(asked) == ["g6.xlarge", "p4d.24xlarge"], f"{len(asked)} catalog questions for 2 types"
    assert all(r.ai and r.compute.accelerator for r in result.resources) and len(result.resources) == 30
    # the next scan asks its own catalog: nothing is remembered from the last one
    monkeypatch.setattr(catalog, "accelerator_info", lambda instance_type, provider=None: None)
    again = _scan(tmp_path, text)
    assert not any(r.ai for r in again.resources)


def test_give_to_sets_what_apply_to_sets_with_the_maps_own_dicts():
    import itertools

    from tagguard.hcl.values import PartialMap, Unknown
    from tagguard.model import Resource
    from tagguard.sources.terraform.extract import TagMap

    def fields(res):
        return (list(res.tags.items()), res.unresolved_tags, list(res.unresolved_reasons.items()), res.tags_open,
                res.open_reason, list(res.tag_origins.items()))

    values = [None, {}, {"b": "2", "a": "1"}, {"a": Unknown("after apply"), "b": 3, "c": None},
              PartialMap({"a": "1"}, open=True, open_reasons=["var.x"]), Unknown("var.tags"), "not a map"]
    for first, second in itertools.product(values, repeat=2):
        made = [TagMap.of(first, "`a`").overlay(TagMap.of(second, "`b`")) for _ in range(2)]
        applied, given = Resource(address="x", type="t", source="terraform"), Resource(address="x", type="t",
                                                                                      source="terraform")
        made[0].apply_to(applied)
        made[1].give_to(given)
        assert fields(given) == fields(applied), (first, second)
        assert given.tags is made[1].known and given.tag_origins is made[1].origins


def test_each_provider_configurations_default_tags_are_made_once_per_scan(tmp_path, monkeypatch):
    from tagguard.sources.terraform import source

    made = []
    real = source._default_tag_map

    def counting(provider):
        made.append(provider.key if provider is not None else None)
        return real(provider)

    monkeypatch.setattr(source, "_default_tag_map", counting)
    head = ('provider "aws" {\n  default_tags {\n    tags = { cost-center = "CC-1", business-unit = "r" }\n  }\n}\n'
            'provider "aws" {\n  alias = "gpu"\n  default_tags {\n    tags = { cost-center = "CC-2" }\n  }\n}\n')
    body = "".join(GPU.format(name=f"gpu_{i}", extra="  provider = aws.gpu\n" if i % 2 else "") for i in range(20))
    gcp = ('resource "google_compute_instance" "vm" {\n  machine_type = "a2-highgpu-1g"\n'
           '  labels = { project = "p" }\n}\n')
    for _ in range(2):  # each scan makes its own
        made.clear()
        result = _scan(tmp_path, head + body + gcp)
        assert sorted(made, key=str) == [None, "aws", "aws.gpu"], made
        by_address = {r.address: r for r in result.resources}
        first, second = by_address["aws_instance.gpu_0"], by_address["aws_instance.gpu_1"]
        assert first.tags["cost-center"] == "CC-1" and second.tags["cost-center"] == "CC-2"
        assert first.tag_origins["cost-center"].startswith("provider aws default_tags (main.tf:")
        assert second.tag_origins["cost-center"].startswith("provider aws.gpu default_tags (main.tf:")
        assert by_address["google_compute_instance.vm"].tags == {"project": "p"}
