"""Scanning fetched remote modules from the user cache vs from ``.terraform/modules``.

    python benchmarks/remote_modules.py [--calls 100] [--modules 20] [--resources 25] [--runs 3]

One generated root module calls ``--modules`` distinct registry modules (``--resources`` GPU
instances each) ``--calls`` times in all.  Two copies of it are scanned in the same run:

* ``terraform-init``: ``.terraform/modules/modules.json`` and one directory per call, as
  ``terraform init`` leaves them;
* ``cache``: no ``.terraform``; the modules were fetched once with ``--fetch-modules`` from a module
  registry on 127.0.0.1 (service discovery, version listing, X-Terraform-Get to a .tar.gz) into a
  fresh ``$XDG_CACHE_HOME``, then every timed scan reads the cache offline (the registry is stopped).

Each figure is a fresh ``tagguard scan`` process; median of ``--runs`` wall and CPU seconds.  Both
scans must find the same resources.  Writes its section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "remote_modules"))

from rmkit import Recorder, registry_server, tgz  # noqa: E402 - the tests' loopback registry

MODULE = '''variable "name" { type = string }
variable "tags" {
  type    = map(string)
  default = {}
}
locals { types = ["g5.xlarge", "g5.2xlarge", "p4d.24xlarge", "inf2.xlarge", "g6.xlarge"] }
'''
RESOURCE = '''resource "aws_instance" "r{j}" {{
  ami           = "ami-123"
  instance_type = local.types[{j} % 5]
  tags          = merge(var.tags, {{ Name = "${{var.name}}-{j}" }})
}}
'''


def module_text(resources: int) -> str:
    return MODULE + "".join(RESOURCE.format(j=j) for j in range(resources))


def registry(modules: int, resources: int):
    """The tests' loopback module registry (tests/remote_modules/rmkit.py), serving ``modules`` modules
    acme/m<i>/aws at versions 1.0.0 and 1.1.0, each a ``resources``-resource archive."""
    archives = {f"/archives/m{i}.tgz": tgz({"main.tf": module_text(resources)}) for i in range(modules)}
    versions = {f"acme/m{i}/aws": {v: f"/archives/m{i}.tgz" for v in ("1.0.0", "1.1.0")} for i in range(modules)}
    return registry_server(versions, Recorder(), archives)


def root_text(host: str, calls: int, modules: int) -> str:
    out = []
    for c in range(calls):
        out.append(f'module "c{c}" {{\n  source  = "{host}/acme/m{c % modules}/aws"\n  version = "~> 1.0"\n'
                   f'  name    = "c{c}"\n  tags    = {{ team = "ml", project = "p{c}" }}\n}}\n')
    return "".join(out)


def timed(args, env) -> tuple:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tagguard", *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--modules", type=int, default=20)
    ap.add_argument("--resources", type=int, default=25)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = registry(a.modules, a.resources)
        host = server.host
        text = root_text(host, a.calls, a.modules)
        # .terraform/modules, as terraform init leaves it
        tf_repo = tmp / "terraform-init"
        (tf_repo / ".terraform" / "modules").mkdir(parents=True)
        (tf_repo / "main.tf").write_text(text)
        entries = [{"Key": "", "Source": "", "Dir": "."}]
        for c in range(a.calls):
            d = tf_repo / ".terraform" / "modules" / f"c{c}"
            d.mkdir()
            (d / "main.tf").write_text(module_text(a.resources))
            entries.append({"Key": f"c{c}", "Source": f"{host}/acme/m{c % a.modules}/aws", "Version": "1.1.0",
                            "Dir": f".terraform/modules/c{c}"})
        (tf_repo / ".terraform" / "modules" / "modules.json").write_text(json.dumps({"Modules": entries}))
        # the cache: fetched once over loopback, then offline
        cache_repo = tmp / "cache"
        cache_repo.mkdir()
        (cache_repo / "main.tf").write_text(text)
        user = tmp / "user.yaml"
        user.write_text(f'modules:\n  allowed_hosts: ["{host}"]\n')
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp / "xdg-cache"), TAGGUARD_USER_CONFIG=str(user),
                   NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
        out = str(tmp / "r.json")
        fetch_wall, fetch_cpu, proc = timed(["scan", str(cache_repo), "--fetch-modules", "-f", "json", "-o", out], env)
        downloads = proc.stderr.count("tagguard: modules: cached")
        server.stop()
        results = {}
        addresses = {}
        for name, repo in (("terraform-init", tf_repo), ("cache", cache_repo)):
            runs = []
            for _ in range(a.runs):
                wall, cpu, proc = timed(["scan", str(repo), "-f", "json", "-o", out], env)
                runs.append((wall, cpu))
                if "tagguard: modules:" in proc.stderr:
                    raise SystemExit("an offline scan tried to download")
            doc = json.loads(Path(out).read_text())
            addresses[name] = sorted(r["address"] for r in doc["resources"])
            results[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs)
        if addresses["terraform-init"] != addresses["cache"]:
            raise SystemExit("the two scans found different resources")
    n = len(addresses["cache"])
    from _report import machine, update_section

    load = os.getloadavg()[0]
    rows = [f"| `.terraform/modules` (terraform init) | {results['terraform-init'][0]:.2f} s | "
            f"{', '.join(f'{r[0]:.2f}' for r in results['terraform-init'][2])} | "
            f"{results['terraform-init'][1]:.2f} s |",
            f"| module cache, offline | {results['cache'][0]:.2f} s | "
            f"{', '.join(f'{r[0]:.2f}' for r in results['cache'][2])} | {results['cache'][1]:.2f} s |",
            f"| first run, `--fetch-modules` ({downloads} downloads over loopback) | {fetch_wall:.2f} s | 1 run | "
            f"{fetch_cpu:.2f} s |"]
    body = (f"`python benchmarks/remote_modules.py --calls {a.calls} --modules {a.modules} --resources {a.resources} "
            f"--runs {a.runs}` ({machine()}; load average {load:.1f} at the end). "
            f"A root module with {a.calls} calls of "
            f"{a.modules} registry modules of {a.resources} GPU instances each: {n} resources, the same in both "
            "scans. Fresh `tagguard scan -f json` process per figure; median of the runs.\n\n"
            "| modules read from | median wall | runs (s) | median CPU |\n|---|---:|---|---:|\n" + "\n".join(rows) +
            "\n\nTarget: the cache scan as fast as the `.terraform/modules` scan. Both read the same module text "
            f"once per directory; the cache holds one directory per source and version ({a.modules} here) where "
            f"`terraform init` writes one per call ({a.calls}), so the cache parses fewer files.")
    print(body)
    if not a.no_write:
        update_section("Remote modules: from the module cache vs .terraform/modules", body)


if __name__ == "__main__":
    main()
