"""Terraform reader memory on one big .tf file.

    python benchmarks/terraform_memory.py [--mb 20] [--whole-mb 2] [--no-write]

Memory (issue 10, "a 20 MB .tf in at most ~10x its size"): ``benchmarks/gen_module.py``'s
resources written into one ``main.tf`` of about ``--mb`` MB; a fresh process reads it with
``hcl.parse`` and compiles every attribute (files over 1 MiB are parsed in chunks of top-level
blocks, each tree dropped after compiling), Peak RSS from the child's own getrusage.  For comparison, a
``--whole-mb`` slice parsed as one tree (the reader before chunking) and in chunks, and a whole
``tagguard scan`` of that slice (whose memory is mostly the per-resource facts the scan keeps).

Speed against a bare tree-sitter parse (issue 13) is ``benchmarks/terraform_reader.py``.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Peak RSS is read from /proc/self/status (VmHWM): ru_maxrss of a child includes the parent's RSS
# at fork on Linux, so it would hide what the child itself used.
HIGH_WATER = """
def high_water():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

PARSE_PROBE = HIGH_WATER + """
import sys
from tagguard.hcl import parse as hcl
if sys.argv[2] == "whole":
    hcl.CHUNKED_FILE_BYTES = 1 << 62
elif sys.argv[2] == "chunked":
    hcl.CHUNKED_FILE_BYTES = hcl.CHUNK_BYTES
data = open(sys.argv[1], "rb").read()
base = high_water()
f = hcl.parse(data, "main.tf")
for block in hcl.iter_blocks(f.body):
    for attr in block.body.attributes.values():
        attr.expr
print(len(data), base, high_water(), len(f.body.blocks), len(f.errors))
"""

SCAN_WITH_PEAK = HIGH_WATER + """
import atexit
atexit.register(lambda: print(high_water()))
from tagguard.cli import main
main()
"""

def child_run(cmd: list, env: dict = None) -> tuple:
    """(wall, cpu, peak RSS bytes, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):  # 1: the scan found violations (every 10th resource)
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, cpu, after.ru_maxrss * 1024, proc.stdout


def big_module(out: Path, mb: float) -> Path:
    sys.path.insert(0, str(HERE))
    from gen_module import generate

    generate(out, max(200, int(mb * 6500)))  # ~155 bytes of main.tf per generated resource
    return out / "main.tf"


def slice_of(path: Path, mb: float, out: Path) -> Path:
    data = path.read_bytes()
    cut = data.rfind(b"\n}\n", 0, int(mb * 1e6)) + 3
    out.write_bytes(data[:cut])
    return out


def parse_memory(path: Path, mode: str) -> dict:
    wall, cpu, _, stdout = child_run([sys.executable, "-c", PARSE_PROBE, str(path), mode])
    size, base, peak, blocks, errors = (int(x) for x in stdout.split())
    return {"size": size, "base": base, "peak": peak, "grown": peak - base, "blocks": blocks, "errors": errors,
            "wall": wall, "cpu": cpu}


def mb(n: float) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 10e6 else f"{n / 1e6:.1f} MB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=20.0)
    ap.add_argument("--whole-mb", type=float, default=2.0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from _report import machine, update_section

    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # --- memory: one big file -----------------------------------------------------------
        big = big_module(tmp_path / "big", args.mb)
        chunked = parse_memory(big, "chunked")
        (tmp_path / "slice").mkdir()
        small = slice_of(big, args.whole_mb, tmp_path / "slice" / "main.tf")
        whole = parse_memory(small, "whole")
        small_chunked = parse_memory(small, "chunked")
        s_wall, s_cpu, _, s_out = child_run([sys.executable, "-c", SCAN_WITH_PEAK, "scan", str(small.parent),
                                             "--scope", "all", "-f", "json", "-o", str(tmp_path / "slice.json")])
        scan_peak = int(s_out.strip().splitlines()[-1])
    load_end = os.getloadavg()[0]
    size = chunked["size"]
    scan_ratio = f"{scan_peak / whole['size']:.0f}x (whole process)" if scan_peak else ""
    lines = [
        "| run | input | peak RSS | growth while reading | growth / input | wall | CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| `hcl.parse`, chunked (every attribute compiled) | {mb(size)} | {mb(chunked['peak'])} "
        f"| {mb(chunked['grown'])} "
        f"| {chunked['grown'] / size:.1f}x | {chunked['wall']:.1f} s | {chunked['cpu']:.1f} s |",
        f"| `hcl.parse`, chunked | {mb(small_chunked['size'])} | {mb(small_chunked['peak'])} "
        f"| {mb(small_chunked['grown'])} | {small_chunked['grown'] / small_chunked['size']:.1f}x "
        f"| {small_chunked['wall']:.1f} s | {small_chunked['cpu']:.1f} s |",
        f"| `hcl.parse`, one tree (before) | {mb(whole['size'])} | {mb(whole['peak'])} | {mb(whole['grown'])} "
        f"| {whole['grown'] / whole['size']:.1f}x | {whole['wall']:.1f} s | {whole['cpu']:.1f} s |",
        f"| `tagguard scan -f json` of the slice | {mb(whole['size'])} | {mb(scan_peak) if scan_peak else 'n/a'} | | "
        f"{scan_ratio} | {s_wall:.1f} s | {s_cpu:.1f} s |",
    ]
    body = (
        f"`python benchmarks/terraform_memory.py --mb {args.mb:g} --whole-mb {args.whole_mb:g}` -- "
        f"{machine()}; shared machine, load average {load_start:.1f} at start and {load_end:.1f} at end (wall times "
        "are inflated by the load; CPU times and ratios say more).\n\n"
        f"Memory, one `main.tf` of generated AI resources ({chunked['blocks']:,} top-level blocks). Files over 1 MiB "
        "are parsed in chunks of whole top-level blocks (64 KiB), each chunk's tree dropped after its attributes are "
        "compiled; growth is the peak RSS minus the interpreter with tagguard imported.\n\n"
        + "\n".join(lines)
        + "\n\nSpeed against a bare parse: section \"Terraform scan against a bare parse\" "
        "(`benchmarks/terraform_reader.py`)."
    )
    print(body)
    if not args.no_write:
        update_section("Terraform reader memory", body)


if __name__ == "__main__":
    main()
