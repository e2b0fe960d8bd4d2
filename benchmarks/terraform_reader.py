"""Terraform reader speed: the 2,000-resource generated module and real repositories.

    python benchmarks/terraform_reader.py [REPO_DIR ...]

Scans ``benchmarks/gen_module.py``'s 2,000-resource module (target: under 1.0 s wall on an idle
machine) and any Terraform directories given (e.g. clones used in docs/real-world.md), five runs
each, and prints/records the median wall and CPU time of the whole ``tagguard scan`` process.
CPU time is shown because wall time on a loaded machine says little.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = 5


def timed_scan(path: str, out: str) -> tuple:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from tagguard.cli import main; main()", "scan", path, "--scope", "all",
                    "-f", "json", "-o", out], capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(path: str) -> tuple:
    with tempfile.TemporaryDirectory() as tmp:
        runs = [timed_scan(path, os.path.join(tmp, "r.json")) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    sys.path.insert(0, str(HERE))
    from _report import machine, update_section

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gen = os.path.join(tmp, "g")
        subprocess.run([sys.executable, str(HERE / "gen_module.py"), gen, "2000"], capture_output=True, check=True)
        wall, cpu = measure(gen)
        rows.append(("generated module, 2,000 resources", wall, cpu))
    for repo in sys.argv[1:]:
        wall, cpu = measure(repo)
        rows.append((Path(repo).name, wall, cpu))
    load = os.getloadavg()[0]
    lines = ["| input | wall (median of 5) | CPU |", "|---|---|---|"]
    lines += [f"| {name} | {wall:.2f} s | {cpu:.2f} s |" for name, wall, cpu in rows]
    body = (f"`python benchmarks/terraform_reader.py [dirs]` -- {machine()}, load average {load:.1f} while measuring.\n\n"
            + "\n".join(lines)
            + "\n\nTarget: the generated module under 1.0 s wall on an idle machine. Real-repository figures and"
              " what changed are in docs/real-world.md.")
    print(body)
    update_section("Terraform reader", body)


if __name__ == "__main__":
    main()
