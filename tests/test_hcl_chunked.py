"""Big .tf files are parsed in chunks of whole top-level constructs (issue 10, bounded memory):
the compiled result, comments and errors (with their lines) are the same as a whole-file parse."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tagguard.hcl import parse as hcl
from tagguard.hcl.evaluate import Source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(
    [p for p in (ROOT / "tests" / "fixtures" / "hcl").iterdir() if p.suffix == ".tf"]
    + list((ROOT / "examples" / "terraform").rglob("*.tf"))
    + list((ROOT / "examples" / "terraform").rglob("*.tfvars"))
)


def dump(value):
    """Everything a compiled value holds, as plain data (``src`` by filename only)."""
    if isinstance(value, Source):
        return ("Source", value.filename)
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    if isinstance(value, hcl.Body):
        return {
            "attributes": [(a.name, a.line, a.end_line, dump(a.expr)) for a in value.attributes.values()],
            "blocks": [(b.type, b.labels, b.line, b.end_line, dump(b.body)) for b in value.blocks],
        }
    if hasattr(type(value), "__slots__") and not isinstance(value, (str, bytes)):
        out = [type(value).__name__]
        for klass in type(value).__mro__:
            for slot in getattr(klass, "__slots__", ()):
                out.append((slot, dump(getattr(value, slot, None))))
        return out
    return value


def parse_both(data: bytes, name: str = "big.tf"):
    whole = hcl.parse(data, name)
    saved = hcl.CHUNK_BYTES, hcl.CHUNKED_FILE_BYTES
    hcl.CHUNK_BYTES = hcl.CHUNKED_FILE_BYTES = 1  # every top-level construct its own chunk
    try:
        chunked = hcl.parse(data, name)
    finally:
        hcl.CHUNK_BYTES, hcl.CHUNKED_FILE_BYTES = saved
    return whole, chunked


def summary(f: hcl.HclFile):
    return dump(f.body), [str(e) for e in f.errors], f.comments


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: str(p.relative_to(ROOT)))
def test_fixture_chunked_equals_whole(path: Path) -> None:
    data = path.read_bytes()
    whole, chunked = parse_both(data, path.name)
    if hcl.top_level_cuts(data, 1):
        assert whole.tree is not None and chunked.tree is None  # the chunked read kept no tree
    assert summary(chunked) == summary(whole)


TRICKY = textwrap.dedent('''\
    # a comment with a brace }
    resource "a" "one" {
      s = "closing } and { inside ${lookup(var.m, "}", "{")} text"
      t = <<EOF
    }
    EOF
      u = <<-EOT
        ${ "}" }
    }
        EOT
      /* block comment
    }
    */
      v = [for x in ["}"] : { k = x }]  // trailing }
      w = "%{ if true }}%{ endif }"
      e = "a\\"}\\\\"
    }
    locals {
      x = {
        a = 1
      }
    }
    y = [
      1,
    ]
    resource "b" "two" {
      tags = { Name = "x${"}"}" }
    }
    ''')


def test_tricky_lexical_modes() -> None:
    cuts = hcl.top_level_cuts(TRICKY.encode(), 1)
    lines = TRICKY.encode()
    starts = [lines[c:].split(b"\n", 1)[0] for c in cuts]
    assert starts == [b"locals {", b"y = ["]  # nothing inside strings, heredocs or comments
    whole, chunked = parse_both(TRICKY.encode())
    assert not whole.errors
    assert summary(chunked) == summary(whole)


def resources(n: int, start: int = 0) -> str:
    return "".join(
        f'resource "aws_instance" "r{i}" {{\n  instance_type = "g5.xlarge"\n'
        f'  tags = {{\n    team = "t{i}" # owner\n    cost-center = "CC-{i}"\n  }}\n}}\n\n'
        for i in range(start, start + n)
    )


def test_errors_keep_their_lines_in_later_chunks() -> None:
    """A syntax error stays inside its chunk.  Deliberate difference from the whole-file parse: there,
    tree-sitter lets the unterminated string run on to the next quote and the broken block swallows
    the 40 resources after it; chunked, they are read (same lines and values as in a fixed file)."""
    bad = 'resource "aws_instance" "bad" {\n  instance_type = "g5.xlarge\n  tags = {}\n}\n\n'
    text = resources(40) + bad + resources(40, 40) + 'resource "x" "y" {\n  a = 1 +\n}\n' + resources(5, 80)
    fixed = text.replace('"g5.xlarge\n', '"g5.xlarg"\n').replace("a = 1 +\n", "a = 1+1\n")
    assert len(fixed) == len(text)
    assert len(hcl.top_level_cuts(text.encode(), 1)) > 80
    _, chunked = parse_both(text.encode())
    lines = text.splitlines()
    string_line = lines.index('  instance_type = "g5.xlarge') + 1
    plus_line = lines.index("  a = 1 +") + 1
    assert [str(e) for e in chunked.errors] == [
        f'line {string_line}, column 19: unterminated string: missing closing `"` on this line',
        f"line {string_line + 3}, column 1: missing `}}` (to close what starts on line {string_line - 1})",
        f"line {plus_line}, column 9: syntax error near `+`",
    ]
    good = summary(hcl.parse(fixed.encode(), "big.tf"))[0]["blocks"]
    got = summary(chunked)[0]["blocks"]
    assert len(got) == len(good) == 87
    for i in list(range(40)) + list(range(41, 81)) + list(range(82, 87)):
        assert got[i] == good[i]
    assert got[-1][2] == lines.index('resource "aws_instance" "r84" {') + 1


def test_unclosed_brace_reads_the_rest_as_one_chunk() -> None:
    text = (resources(10)
            + 'resource "aws_instance" "bad" {\n  instance_type = "g5.xlarge\n  tags = {\n}\n\n'
            + resources(10, 10))
    assert len(hcl.top_level_cuts(text.encode(), 1)) == 10  # no cut after the brace left open
    whole, chunked = parse_both(text.encode())
    assert whole.errors and summary(chunked) == summary(whole)


def test_more_syntax_errors_than_reported_counts_across_chunks() -> None:
    text = "".join(f'resource "x" "r{i}" {{\n  a = [1,,]\n}}\n' for i in range(hcl.MAX_ISSUES + 30))
    whole, chunked = parse_both(text.encode())
    assert any("more syntax errors" in str(e) for e in whole.errors)
    assert [str(e) for e in chunked.errors] == [str(e) for e in whole.errors]


def test_generated_module_chunked_equals_whole(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_module.py"), str(tmp_path), "200"], check=True,
                   capture_output=True)
    files = sorted(tmp_path.rglob("*.tf"))
    assert files
    for path in files:
        whole, chunked = parse_both(path.read_bytes(), path.name)
        assert summary(chunked) == summary(whole), path


def test_long_runs_and_chunks_together() -> None:
    long = "x" * (hcl.LONG_RUN + 10)
    text = resources(3) + f'locals {{\n  big = "{long}"\n  doc = <<EOT\n{long}\nEOT\n}}\n' + resources(3, 3)
    whole, chunked = parse_both(text.encode())
    assert summary(chunked) == summary(whole)
    assert chunked.body.blocks[3].body.get("big").expr.value == long


MEMORY_PROBE = """
import sys
from tagguard.hcl import parse as hcl
hcl.CHUNKED_FILE_BYTES = 1024 * 1024  # the shipped default (a 2.2 MB file is chunked)

def high_water():  # this process's own peak RSS (ru_maxrss would include the parent's at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

data = open(sys.argv[1], "rb").read()
before = high_water()
f = hcl.parse(data, "big.tf")
assert not f.errors and len(f.body.blocks) == int(sys.argv[2]), (f.errors[:3], len(f.body.blocks))
print(high_water() - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc")
def test_big_file_memory_is_a_small_multiple_of_its_size(tmp_path: Path) -> None:
    """tree-sitter keeps ~100 bytes per byte of HCL: a whole-file parse of these 2.2 MB grows by
    ~235 MB (106x, measured).  Parsed in chunks, the growth is the compiled result (~19x for these
    dense resources of short literals, measured): under 25x."""
    n = 16000
    path = tmp_path / "big.tf"
    path.write_text(resources(n))
    size = path.stat().st_size
    assert size > 2_000_000
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path), str(n)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "0"})
    assert out.returncode == 0, out.stderr[-2000:]
    grown = int(out.stdout.strip())
    assert grown < 25 * size, f"{grown / 1e6:.0f} MB for a {size / 1e6:.1f} MB file"
