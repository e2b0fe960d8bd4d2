"""Work a scan does that is not proportional to its input (issue 13, "within 3x of a bare parse").

These check the behaviour that keeps fixed costs down, not timings (the figures are in
BENCHMARKS.md, from ``benchmarks/terraform_reader.py``).
"""
from __future__ import annotations

import subprocess
import sys
import textwrap


def test_cli_process_skips_the_whole_heap_collection_at_exit():
    # calm_gc: no cyclic collection during the scan, and none of the whole heap at exit either
    # (the interpreter's final gc would walk every object the scan kept, ~8 % of a Terraform scan)
    code = textwrap.dedent("""
        import sys
        from tagguard.cli import calm_gc

        class Cycle:
            def __del__(self):
                sys.stdout.write("collected\\n")

        calm_gc()
        calm_gc()  # commands may call it more than once
        c = Cycle()
        c.me = c
        del c
        print("end")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["end"]


def _scan_tf(tmp_path, text: str):
    from tagguard.config import Config
    from tagguard.pipeline import scan

    (tmp_path / "main.tf").write_text(text)
    return scan([str(tmp_path)], Config(raw={"scope": "all"}))


def test_comments_are_indexed_once_per_file_not_per_resource(tmp_path, monkeypatch):
    # Suppression comments were looked up by walking every comment of the file for every resource:
    # 1,000 resources with a comment each cost a million steps.
    from tagguard.sources.terraform import module

    walks = []

    class Comments(list):
        def __iter__(self):
            walks.append(1)
            return super().__iter__()

    real = module.load_module_def

    def counting(*args, **kwargs):
        mdef = real(*args, **kwargs)
        mdef.comments = {f: Comments(c) for f, c in mdef.comments.items()}
        return mdef

    monkeypatch.setattr(module, "load_module_def", counting)
    blocks = []
    for i in range(40):
        blocks.append(f'# instance {i}\nresource "aws_instance" "gpu_{i}" {{\n  instance_type = "g6.xlarge"\n'
                      f'  tags = {{ project = "p", environment = "dev", business-unit = "r" }}\n}}\n')
    # a suppression directly above, one inside the block, and one two resources away that must not apply
    blocks[3] = "# tagguard:ignore missing-tag -- vendor-owned\n" + blocks[3]
    blocks[7] = blocks[7].replace('  instance_type',
                                  '  # tagguard:ignore missing-tag -- inside the block\n  instance_type')
    result = _scan_tf(tmp_path, "".join(blocks))
    assert len(walks) <= 2, f"the file's comments were walked {len(walks)} times for 40 resources"
    suppressed = sorted({f.address for f in result.findings if f.rule == "missing-tag" and f.suppressed})
    assert suppressed == ["aws_instance.gpu_3", "aws_instance.gpu_7"]
    reasons = {f.address: f.suppression_reason for f in result.findings if f.suppressed}
    assert reasons == {"aws_instance.gpu_3": "vendor-owned", "aws_instance.gpu_7": "inside the block"}


def test_taxonomy_references_are_found_in_one_walk_per_document(tmp_path):
    # _registry walked every referenced document twice (once for its $ids, once for its $refs)
    import json

    from tagguard import taxonomy

    visits: dict[int, int] = {}

    class Node(dict):
        def items(self):
            visits[id(self)] = visits.get(id(self), 0) + 1
            return super().items()

        def values(self):
            visits[id(self)] = visits.get(id(self), 0) + 1
            return super().values()

    def nodes(value):
        if isinstance(value, dict):
            return Node({k: nodes(v) for k, v in value.items()})
        if isinstance(value, list):
            return [nodes(v) for v in value]
        return value

    (tmp_path / "defs.json").write_text(json.dumps({"$defs": {"team": {"type": "string", "minLength": 2}}}))
    schema = nodes({
        "type": "object",
        "required": ["team"],
        "properties": {
            "team": {"$ref": "defs.json#/$defs/team"},
            # data, not references: an enum/const/examples value that looks like one is not followed
            "env": {"enum": [{"$ref": "nowhere.json"}, "prod"], "examples": [{"$ref": "https://example.com/x"}]},
            "app": {"$ref": "#/$defs/app"},
        },
        "$defs": {"app": {"$id": "sub/app.json", "type": "string", "pattern": "^[a-z]+$"}},
    })
    path = tmp_path / "tax.json"
    path.write_text(json.dumps(schema))
    visits.clear()
    _rooted, _registry, documents = taxonomy._registry(schema, path, tmp_path)
    assert [label for label, _doc in documents] == [str(path), str((tmp_path / "defs.json").resolve())]
    assert set(visits.values()) == {1}, "a schema node was walked more than once"
    tax = taxonomy.Taxonomy(schema, path, root=tmp_path)
    issues = tax.evaluate({"team": "x", "app": "App", "env": "prod"})
    assert sorted((i.category, i.tag) for i in issues) == [("invalid_value", "app"), ("invalid_value", "team")]


def test_provider_default_tags_are_read_once_per_provider_not_per_resource(tmp_path, monkeypatch):
    from tagguard.sources.terraform import extract

    seen = []
    real = extract.TagMap.of.__func__

    def of(cls, value, origin):
        if "default_tags" in origin:
            seen.append(origin)
        return real(cls, value, origin)

    monkeypatch.setattr(extract.TagMap, "of", classmethod(of))
    head = ('provider "aws" {\n  default_tags {\n    tags = { cost-center = "CC-1", business-unit = "r" }\n  }\n}\n'
            'provider "aws" {\n  alias = "gpu"\n  default_tags {\n    tags = { cost-center = "CC-2" }\n  }\n}\n')
    body = "".join(f'resource "aws_instance" "gpu_{i}" {{\n  instance_type = "g6.xlarge"\n'
                   f'{"  provider = aws.gpu" if i % 2 else ""}\n  tags = {{ project = "p", environment = "dev" }}\n}}\n'
                   for i in range(30))
    result = _scan_tf(tmp_path, head + body)
    assert len(seen) == 2, f"provider default tags were read {len(seen)} times for 30 resources"
    tags = {r.address: r.tags.get("cost-center") for r in result.resources}
    assert tags["aws_instance.gpu_0"] == "CC-1" and tags["aws_instance.gpu_1"] == "CC-2"
    assert len(tags) == 30


def test_shipped_yaml_tables_have_current_json_twins():
    import hashlib
    import json

    from tagguard import yamlio
    from tagguard.resources import package_text
    from tagguard.sources.terraform import extract

    for name in extract.SHIPPED_YAML:
        text = package_text(extract.PACKAGE, name)
        twin = json.loads(package_text(extract.PACKAGE, name.rsplit(".", 1)[0] + ".json"))
        hint = f"{name} changed: run `python -m tagguard.sources.terraform.extract` to rewrite its JSON twin"
        assert twin["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest(), hint
        assert twin["data"] == yamlio.load(text), hint


def test_a_stale_json_twin_is_ignored(monkeypatch):
    import json

    from tagguard import resources, yamlio
    from tagguard.sources.terraform import extract

    real = resources.package_text

    def stale(package, name):
        if name == "kinds.json":
            return json.dumps({"sha256": "0" * 64, "data": {"aws_instance": {"provider": "stale"}}})
        return real(package, name)

    monkeypatch.setattr(resources, "package_text", stale)
    assert extract.shipped_yaml("kinds.yaml") == yamlio.load(real(extract.PACKAGE, "kinds.yaml"))


def test_terraform_scan_without_a_config_needs_no_yaml_parser(tmp_path):
    import os

    (tmp_path / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n'
                                      '  tags = { project = "p" }\n}\nresource "aws_s3_bucket" "b" {}\n')
    code = textwrap.dedent(f"""
        import sys
        from tagguard.cli import main
        try:
            main(["scan", {str(tmp_path)!r}, "--scope", "all", "-f", "json", "-o", {str(tmp_path / "r.json")!r}])
        except SystemExit:
            pass
        print(sorted(m for m in sys.modules if m == "yaml" or m.startswith("yaml.")))
    """)
    env = dict(os.environ, TAGGUARD_USER_CONFIG="")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stderr
    assert '"aws_instance.gpu"' in (tmp_path / "r.json").read_text()
