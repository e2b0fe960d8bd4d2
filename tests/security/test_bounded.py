"""Bounded work on hostile input (issue 10): huge literals, deep JSON, module cycles, usage files."""
from __future__ import annotations


import pytest

from seckit import assert_clean, messages, report, scan_all, write

UNTAGGED_GPU = 'resource "aws_instance" "good" {\n  instance_type = "p4d.24xlarge"\n}\n'
MiB = 1024 * 1024


def _addresses(run):
    return [r["address"] for r in report(run)["resources"]]


def _parse_errors(run, needle):
    return [f for f in report(run)["findings"]
            if f["category"] == "parse_error" and needle in (f.get("file") or "") + f["message"]]


def _big_literal_tf(repo, size):
    body = "x" * size
    write(repo, "big/main.tf", 'resource "aws_instance" "big" {\n  instance_type = "p4d.24xlarge"\n'
                               f'  tags = {{ project = "{body}" }}\n}}\n')


def test_huge_string_literal_under_cap_bounded_memory(hostile_repo, secret):
    size = int(19.5 * MiB)
    _big_literal_tf(hostile_repo, size)
    write(hostile_repo, "good/main.tf", UNTAGGED_GPU)
    run = scan_all(hostile_repo, secret, env={"TAGGUARD_MAX_FILE_BYTES": "64M"}, timeout=120,
                   memory=2048 * MiB)
    assert_clean(run, exit_codes=(1,), max_seconds=90, secret=secret)
    # at most ~10x the file: the syntax tree is freed after compiling, no per-character objects
    assert run.max_rss_bytes < 10 * size, f"peak RSS {run.max_rss_bytes / MiB:.0f} MiB for a {size / MiB:.1f} MiB file"
    assert any(a.endswith("aws_instance.big") for a in _addresses(run))
    # the long value is cut short in every message
    assert max(len(m) for m in messages(run)) < 2000
    assert len(run.stdout) < 200_000


def test_huge_file_over_cap_is_one_parse_error(hostile_repo, secret):
    _big_literal_tf(hostile_repo, int(19.5 * MiB))
    write(hostile_repo, "good/main.tf", UNTAGGED_GPU)
    run = scan_all(hostile_repo, secret, timeout=60)
    assert_clean(run, exit_codes=(1,), max_seconds=30, max_rss=400 * MiB, secret=secret)
    errors = _parse_errors(run, "big/main.tf")
    assert len(errors) == 1 and "10 MiB" in errors[0]["message"], errors
    assert "TAGGUARD_MAX_FILE_BYTES" in errors[0]["message"]
    assert any(a.endswith("aws_instance.good") for a in _addresses(run))  # the rest of the scan goes on


DEEP = 200_000


def _deep_json() -> str:
    return '{"a": ' + "[" * DEEP + "]" * DEEP + "}"


@pytest.mark.parametrize("rel", ["deep/main.tf.json", "good/terraform.tfvars.json", "plan/tfplan.json"])
def test_deep_json_is_one_parse_error(hostile_repo, secret, rel):
    write(hostile_repo, "good/main.tf", 'variable "a" {\n  default = null\n}\n' + UNTAGGED_GPU)
    if rel.startswith("plan/"):
        text = '{"format_version": "1.2", "resource_changes": ' + "[" * DEEP + "]" * DEEP + "}"
    else:
        text = _deep_json()
    write(hostile_repo, rel, text)
    run = scan_all(hostile_repo, secret, timeout=60)
    assert_clean(run, exit_codes=(1,), max_seconds=30, max_rss=500 * MiB, secret=secret)
    errors = _parse_errors(run, rel.rsplit("/", 1)[-1])
    assert len(errors) == 1 and "nest" in errors[0]["message"], errors
    assert any(a.endswith("aws_instance.good") for a in _addresses(run))


def test_deep_usage_file_is_one_error(hostile_repo, secret, tmp_path):
    write(hostile_repo, "main.tf", UNTAGGED_GPU)
    usage = write(tmp_path, "usage.json", '{"version": 1, "resource_usage": ' + "[" * DEEP + "]" * DEEP + "}")
    run = scan_all(hostile_repo, secret, extra=["--usage", str(usage)], timeout=60)
    # one parse error for the usage file; the scan's own findings decide the exit code
    assert_clean(run, exit_codes=(1,), max_seconds=30, max_rss=500 * MiB, secret=secret)
    errors = _parse_errors(run, "usage.json")
    assert len(errors) == 1 and "nest" in errors[0]["message"], errors
    assert any(f["rule"] == "missing-tag" for f in report(run)["findings"])


def test_usage_values_truncated_in_messages(hostile_repo, secret, tmp_path):
    write(hostile_repo, "main.tf", UNTAGGED_GPU)
    long_value = "k" * 100_000
    usage = write(tmp_path, "usage.yaml",
                  f"version: 1\nresource_usage:\n  aws_instance.good:\n    units: {long_value}\n")
    run = scan_all(hostile_repo, secret, extra=["--usage", str(usage)], timeout=60)
    assert_clean(run, exit_codes=(1,), secret=secret)
    errors = _parse_errors(run, "usage.yaml")
    assert len(errors) == 1 and "usage.yaml:4" in errors[0]["message"] and "more characters" in errors[0]["message"]
    assert max(len(m) for m in messages(run)) < 500


def test_usage_file_over_cap(hostile_repo, secret, tmp_path):
    write(hostile_repo, "main.tf", UNTAGGED_GPU)
    usage = write(tmp_path, "usage.yaml", "version: 1\nresource_usage: {}\n# " + "x" * (2 * MiB) + "\n")
    run = scan_all(hostile_repo, secret, extra=["--usage", str(usage)], env={"TAGGUARD_MAX_FILE_BYTES": "1M"},
                   timeout=60)
    assert_clean(run, exit_codes=(1,), secret=secret)
    errors = _parse_errors(run, "usage.yaml")
    assert len(errors) == 1 and "1 MiB" in errors[0]["message"], errors


def test_module_cycle_is_one_finding_and_priced_once(hostile_repo, secret):
    write(hostile_repo, "infra/main.tf", 'module "a" {\n  source = "../modules/a"\n}\n')
    write(hostile_repo, "modules/a/main.tf", 'module "b" {\n  source = "../b"\n}\n'
                                             'resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n}\n')
    write(hostile_repo, "modules/b/main.tf", 'module "a" {\n  source = "../a"\n}\n')
    run = scan_all(hostile_repo / "infra", secret, timeout=60)
    assert_clean(run, exit_codes=(1,), max_seconds=30, secret=secret)
    gpus = [a for a in _addresses(run) if a.endswith("aws_instance.gpu")]
    assert gpus == ["module.a.aws_instance.gpu"], gpus
    cycles = [m for m in messages(run) if "module cycle" in m]
    assert len(cycles) == 1, cycles
    assert "modules/a -> modules/b -> modules/a" in cycles[0].replace("../", "")
    doc = report(run)
    assert doc["summary"]["ai_resources"] == 1
    priced = [r for r in doc["resources"] if r["address"].endswith("aws_instance.gpu")][0]["cost"]["monthly_usd"]
    assert doc["summary"]["monthly_usd"] == pytest.approx(priced)


# --- long literals are swapped for placeholders before tree-sitter, and put back -------------

def _eval_attrs(src: bytes):
    from tagguard.hcl import parse as hcl
    from tagguard.sources.terraform.module import hcl_empty_scope

    parsed = hcl.parse(src, "t.tf")
    assert not parsed.errors, parsed.errors
    return parsed, {k: a.expr.eval(hcl_empty_scope()) for k, a in parsed.body.attributes.items()}


@pytest.mark.parametrize("src, name, expected", [
    (b'a = "' + b"x" * 40000 + b'"\n', "a", "x" * 40000),
    (b'a = "pre\\"' + b"y" * 40000 + b'\\n\\"z"\n', "a", 'pre"' + "y" * 40000 + '\n"z'),
    (b'a = <<-EOT\n    ' + b"h" * 40000 + b"\n    short\n  EOT\n", "a", "h" * 40000 + "\nshort\n"),
    (b'a = "' + (b"x" * 20000 + b"{") * 3 + b'"\n', "a", ("x" * 20000 + "{") * 3),
    (b'a = "$${' + b"q" * 40000 + b'}"\n', "a", "${" + "q" * 40000 + "}"),
    (b'a = "%{ if true }' + b"y" * 40000 + b'%{ endif }"\n', "a", "y" * 40000),
    (b'a = "${ {b=1}.b }' + b"w" * 40000 + b'"\n', "a", "1" + "w" * 40000),
    (b'a = "' + b"{}" * 20000 + b'"\n', "a", "{}" * 20000),
    (b'a = "' + b"}" * 200000 + b'"\n', "a", "}" * 200000),
])
def test_long_literal_values_survive(src, name, expected):
    parsed, values = _eval_attrs(src)
    assert values[name] == expected
    assert parsed.body.attributes[name].expr.src.long is not None  # it was shrunk


def test_long_runs_in_code_comments_labels():
    from tagguard.hcl import parse as hcl
    from tagguard.hcl.values import Unknown

    parsed, values = _eval_attrs(b'a = "x" # "' + b"c" * 40000 + b"\nb = 1\n")
    assert values == {"a": "x", "b": 1} and len(parsed.comments[0][1]) == 40001
    parsed, values = _eval_attrs(b'a = "${var.x}' + b"y" * 40000 + b'"\n')
    assert isinstance(values["a"], Unknown)  # the interpolation stays an interpolation
    parsed = hcl.parse(b'resource "x" "' + b"l" * 40000 + b'" {}\n', "t.tf")
    assert parsed.body.blocks[0].labels == ["x", "l" * 40000]


def test_long_line_check_is_cheap():
    import time

    from tagguard.hcl import parse as hcl

    data = b'resource "aws_instance" "x" {\n  instance_type = "p4d.24xlarge" # note\n}\n' * 250_000
    start = time.perf_counter()
    assert hcl.shrink_long_runs(data) == (data, None)
    assert time.perf_counter() - start < 0.5


def test_module_for_each_fan_out_is_capped(hostile_repo, secret):
    """Nested for_each multiplies: 3 levels of 100 keys would be 1,000,000 module instances
    from a few hundred bytes. The scan stops creating instances at a cap and says so."""
    keys = 'toset([for i in range(100) : tostring(i)])'
    write(hostile_repo, "main.tf", f'module "a" {{\n  source   = "./m1"\n  for_each = {keys}\n}}\n')
    write(hostile_repo, "m1/main.tf", f'module "b" {{\n  source   = "../m2"\n  for_each = {keys}\n}}\n')
    write(hostile_repo, "m2/main.tf", f'module "c" {{\n  source   = "../m3"\n  for_each = {keys}\n}}\n')
    write(hostile_repo, "m3/main.tf", 'resource "aws_instance" "g" {\n  instance_type = "p4d.24xlarge"\n}\n')
    run = scan_all(hostile_repo, secret, timeout=120)
    assert_clean(run, exit_codes=(1,), max_seconds=60, max_rss=900 * MiB, secret=secret)
    capped = [m for m in messages(run) if "module instances in this scan" in m]
    assert len(capped) == 1, capped
    assert len(_addresses(run)) <= 10_000


# --- expressions that ask for unbounded work ------------------------------------------------------

R = "range(1024)"


@pytest.mark.parametrize("expr, reason", [
    (f'length([for a in {R} : [for b in {R} : [for c in {R} : c]]])', "steps"),
    (f'join("", [for a in {R} : join("", [for b in {R} : join("", [for c in {R} : "x"])])])', "steps"),
    ('format("%999999999d", 1)', "format() width"),
    ('indent(100000000, "a\\nb")', "indent() result"),
    (f'length(setproduct({R}, {R}, {R}))', "steps"),
    ('replace(replace(replace(join("", [for i in range(1000) : "aaaaaaaaaa"]), '
     '"a", "aaaaaaaaaaaaaaaaaaaa"), "a", "aaaaaaaaaaaaaaaaaaaa"), "a", "aaaaaaaaaaaaaaaaaaaa")', "replace() result"),
    ('replace(join("", [for i in range(1000) : "aaaaaaaaaa"]), '
     '"/a/", "$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0")', None),
    ('jsonencode([for i in range(1024) : local.big])', "jsonencode() result"),
    ('join(",", [for i in range(1024) : local.big])', "join() result"),
    ('"%{for i in range(1024)}${local.big}%{endfor}"', "template"),
    ('length(formatlist("%s", [for i in range(1024) : local.big]))', None),
    ('regex("^(a+)+$", "%s!")' % ("a" * 40), "did not match"),  # catastrophic backtracking on Python's re
    ('replace("%s!", "/^(a|aa)+$/", "x")' % ("a" * 60), None),
    ("yamldecode(\"" + "\\n".join(["a: &a [" + ",".join(["1"] * 10) + "]"]
                                   + [f"{c}: &{c} [" + ",".join([f"*{p}"] * 10) + "]"
                                      for p, c in zip("abcdefg", "bcdefgh")])
     + "\")", "alias"),
])
def test_expression_bombs_are_bounded(hostile_repo, secret, expr, reason):
    big = 'join("", [for i in range(1024) : "%s"])' % ("y" * 512)  # 512 KiB, built in-bounds
    write(hostile_repo, "main.tf", f'locals {{\n  big = {big}\n}}\n'
                                   'resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n'
                                   f'  tags = {{ project = {expr} }}\n}}\n')
    write(hostile_repo, "good/main.tf", UNTAGGED_GPU)
    run = scan_all(hostile_repo, secret, timeout=90)
    assert_clean(run, exit_codes=(0, 1), max_seconds=45, max_rss=700 * MiB, secret=secret)
    assert any(a.endswith("aws_instance.good") for a in _addresses(run))
    if reason:
        found = [f["message"] for f in report(run)["findings"] if f.get("address") == "aws_instance.gpu"]
        assert any(reason in m for m in found), found


# --- one top-level construct too big to parse (a brace never closed) --------------------------

def _resources(n: int, prefix: str) -> str:
    return "".join(f'resource "aws_instance" "{prefix}{i}" {{\n  instance_type = "m5.large"\n}}\n' for i in range(n))


def test_unclosed_brace_in_a_big_file_is_one_error_not_a_huge_tree(hostile_repo, secret):
    # 10 MiB whose first brace never closes: tree-sitter would keep ~1.4 GB for it
    body = "locals {\n" + _resources(200_000, "r")
    write(hostile_repo, "big/main.tf", body[: 10 * MiB - 100])
    write(hostile_repo, "good/main.tf", UNTAGGED_GPU)
    run = scan_all(hostile_repo, secret, timeout=120)
    assert_clean(run, exit_codes=(1,), max_seconds=60, max_rss=400 * MiB, secret=secret)
    errors = _parse_errors(run, "big/main.tf")
    assert len(errors) == 1 and errors[0]["line"] == 1, errors
    assert "brace never closed" in errors[0]["message"] and "TAGGUARD_MAX_BLOCK_BYTES" in errors[0]["message"]
    assert any(a.endswith("aws_instance.good") for a in _addresses(run))  # the rest of the scan goes on


def test_constructs_around_an_oversized_one_are_still_read(monkeypatch):
    from tagguard.hcl import parse as hcl

    before = _resources(12_000, "a")  # ~700 KB of ordinary blocks: cut into chunks
    big = 'locals {\n  x = [\n' + '    "v",\n' * 60_000 + "  ]\n}\n"  # one ~600 KB construct
    after = _resources(3, "z")
    data = (before + big + after).encode()
    assert len(data) > hcl.CHUNKED_FILE_BYTES
    monkeypatch.setenv("TAGGUARD_MAX_BLOCK_BYTES", str(256 * 1024))
    parsed = hcl.parse(data, "t.tf")
    labels = [b.labels[1] for b in parsed.body.blocks if b.type == "resource"]
    assert labels[:1] == ["a0"] and labels[-3:] == ["z0", "z1", "z2"] and len(labels) == 12_003
    big_line = before.count("\n") + 1
    assert [(e.line, "larger than 0.25 MiB" in e.message) for e in parsed.errors] == [(big_line, True)]
    monkeypatch.setenv("TAGGUARD_MAX_BLOCK_BYTES", str(4 * MiB))  # raised: the construct is parsed
    parsed = hcl.parse(data, "t.tf")
    assert not parsed.errors and len(parsed.body.blocks) == 12_004
