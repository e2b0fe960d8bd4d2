"""Work a scan does that is not proportional to its input (issue 13, "within 3x of a bare parse").

These check the behaviour that keeps fixed costs down, not timings (the figures are in
BENCHMARKS.md, from ``benchmarks/terraform_memory.py``).
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
