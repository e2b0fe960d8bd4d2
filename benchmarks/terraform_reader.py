"""Terraform scan speed against a bare tree-sitter parse of the same files (issue 13: within 3x).

    python benchmarks/terraform_reader.py [--runs 7] [--checkov PATH] [--no-checkov] [--before SRC [--before-label L]]
                                          [--src SRC] [--no-write] [REPO_DIR ...]

Measures, in fresh processes, runs interleaved, median wall and CPU (user + system of the child):

* ``tagguard scan --scope all -f json`` of ``benchmarks/gen_module.py``'s 2,000-resource module, against a
  process that imports tree-sitter and parses the same ``.tf`` files (the bare parse); the ratio is the
  issue-13 target;
* the same pair on a one-resource module: what a scan costs whatever its input (imports, config and
  taxonomy, pricing tables), against the bare parse's interpreter start;
* where the scan's CPU goes: an instrumented scan of the module (``time.process_time`` per stage, the
  median of the runs; instrumenting adds a little to the evaluation figures);
* Checkov on the same module, once (``checkov -d DIR --framework terraform --compact -o json``; the
  default ``.tools/checkov/bin/checkov`` when it exists), for scale;
* any Terraform directories given (real repositories, docs/real-world.md): tagguard's median;
* ``--before SRC``: the same scan with another tagguard source tree (a ``src`` directory, e.g. from
  ``git archive OLD | tar -x``), in the same interleaved loop, for before/after figures;
* ``--instructions``: also the instructions each program executes, counted by valgrind's callgrind (one run
  each, ``PYTHONHASHSEED=0``).  On a shared machine CPU times move by +-0.2x from loop to loop; the count
  does not move with the load (the same tree gives the same count to within 0.1 %), so it is what a small
  change is judged by.  It is a proxy: an instruction of the parser and one of the interpreter do not
  take the same time, so the CPU ratio stays the target's measure.

Every child starts with ``python -S`` and site-packages plus tagguard's source on PYTHONPATH: ``.pth`` hooks
a machine may carry (this one runs a certificate hook costing ~0.05-0.1 s at every interpreter start) are
no part of either program, and leaving them in would flatter the ratio.  Bytecode is written to a
temporary PYTHONPYCACHEPREFIX and every command runs once before the measured runs, so the figures are
those of an installed tagguard (compiled .pyc), not of compiling the sources.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import site
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

BARE_PARSE = """
import sys, pathlib
import tree_sitter_hcl
from tree_sitter import Language, Parser
parser = Parser(Language(tree_sitter_hcl.language()))
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.tf")):
    parser.parse(path.read_bytes())
"""

SCAN = "from tagguard.cli import run; run()"  # what the `tagguard` console script runs

# An instrumented scan: CPU seconds per stage, printed as one JSON line at exit.
STAGES = r"""
import atexit, json, sys, time
P = time.process_time
acc = {}
start = P()
def add(k, v):
    acc[k] = acc.get(k, 0.0) + v
def timed(owner, name, key):
    real = getattr(owner, name)
    def wrapper(*a, **k):
        t = P()
        try:
            return real(*a, **k)
        finally:
            add(key, P() - t)
    setattr(owner, name, wrapper)
atexit.register(lambda: print(json.dumps(dict(acc, start=start, total=P()))))
t = P()
import tagguard.cli as cli
add("import cli", P() - t)
import tagguard.hcl.parse as hp
import tagguard.pipeline as pipeline
from tagguard.sources.terraform import module
real_parser = hp._parser
class TimedParser:
    def __init__(self, parser):
        self._parser = parser
    def parse(self, data, *a):
        t = P()
        try:
            return self._parser.parse(data, *a)
        finally:
            add("tree-sitter parse", P() - t)
    def __getattr__(self, name):
        return getattr(self._parser, name)
hp._parser = lambda: TimedParser(real_parser())
import tagguard.hcl.evaluate as ev
depth = [0]
def family(cls):  # a class and all its subclasses (hcl.parse's attributes, hcl.evaluate's expressions)
    yield cls
    for sub in cls.__subclasses__():
        yield from family(sub)
def timed_expr(prop):
    def expr(self):
        if self._expr is not None:
            return self._expr
        t = P()
        try:
            return prop.fget(self)
        finally:
            spent = P() - t
            add("compile attributes", spent)
            if depth[0]:  # a local or variable compiled while an expression is evaluated: not evaluation time
                add("compile inside evaluation", spent)
    return property(expr)
for cls in list(family(hp.Attribute)):  # each class that has its own expr property (hcl.parse's _HclAttribute)
    if "expr" in cls.__dict__:
        cls.expr = timed_expr(cls.__dict__["expr"])
def timed_eval(real_eval):  # the outermost eval of an expression is timed
    def wrapper(self, scope):
        depth[0] += 1
        t = P() if depth[0] == 1 else None
        try:
            return real_eval(self, scope)
        finally:
            depth[0] -= 1
            if t is not None:
                add("evaluate expressions", P() - t)
    return wrapper
for cls in list(family(ev.Expr)):  # Expr.eval, and each subclass's own (Literal's skips the step budget)
    if "eval" in cls.__dict__:
        cls.eval = timed_eval(cls.__dict__["eval"])
timed(module, "load_module_def", "read files (parse + syntax tree)")
timed(cli, "load_config_or_exit", "config + taxonomy (jsonschema import)")
timed(pipeline, "collect", "collect")
timed(pipeline, "price", "pricing")
timed(pipeline, "evaluate", "evaluate")
timed(cli, "emit", "JSON output")
cli.run()
"""


def child_env(pycache: Path, src: str | None = None) -> dict:
    import tagguard

    paths = [src or str(Path(tagguard.__file__).resolve().parent.parent)] + site.getsitepackages()
    user = site.getusersitepackages()
    if isinstance(user, str) and os.path.isdir(user):
        paths.append(user)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), PYTHONPYCACHEPREFIX=str(pycache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def child(cmd: list, env: dict, timeout: float | None = None) -> tuple:
    """(wall, cpu, returncode, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, None, None, ""
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1) and "checkov" not in cmd[0]:  # 1: the scan found violations
        raise SystemExit(f"{cmd[:6]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, cpu, proc.returncode, proc.stdout


def scan_cmd(path: Path, out: Path, code: str = SCAN) -> list:
    return [sys.executable, "-S", "-c", code, "scan", str(path), "--scope", "all", "-f", "json", "-o", str(out)]


def bare_cmd(path: Path) -> list:
    return [sys.executable, "-S", "-c", BARE_PARSE, str(path)]


def instructions(cmd: list, env: dict, tmp: Path) -> int | None:
    """Instructions one run of ``cmd`` executes (valgrind callgrind), or None without valgrind."""
    import shutil

    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    out = tmp / "callgrind.out"
    proc = subprocess.run([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
                          capture_output=True, text=True, env=dict(env, PYTHONHASHSEED="0"))
    for line in proc.stderr.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1].strip())
    raise SystemExit(f"valgrind gave no instruction count for {cmd[:6]}: {proc.stderr[-2000:]}")


def instruction_rows(counted: dict[str, int | None], before_label: str) -> list[str]:
    """The instructions table (empty without counts)."""
    bare, scan = counted.get("bare"), counted.get("scan")
    if not bare or not scan:
        return []
    rows = ["", "Instructions executed (valgrind callgrind, one run each; the load does not change them):", "",
            "| program | instructions | ratio to the bare parse |", "|---|---:|---:|",
            f"| bare tree-sitter parse of the module | {bare / 1e6:,.0f} M | 1.00x |",
            f"| `tagguard scan` of the module | {scan / 1e6:,.0f} M | **{scan / bare:.2f}x** |"]
    before, tiny = counted.get("before"), counted.get("tiny")
    if before:
        rows.append(f"| `tagguard scan` of the module, {before_label} | {before / 1e6:,.0f} M | {before / bare:.2f}x |")
    if tiny:
        rows.append(f"| `tagguard scan` of a one-resource module | {tiny / 1e6:,.0f} M | |")
    return rows


def med(values) -> float:
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repos", nargs="*", help="Terraform directories to time as well")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--checkov", default=None, help="Checkov executable (default .tools/checkov/bin/checkov)")
    ap.add_argument("--no-checkov", action="store_true")
    ap.add_argument("--checkov-timeout", type=float, default=900.0)
    ap.add_argument("--src", default=None,
                    help="the tagguard source tree (its src/) to time (default: the installed one)")
    ap.add_argument("--before", default=None, help="another tagguard source tree (its src/) to time in the same loop")
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--instructions", action="store_true",
                    help="also count instructions with valgrind (deterministic)")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from _report import machine, update_section
    from gen_module import generate

    checkov = None if args.no_checkov else (args.checkov or str(ROOT / ".tools" / "checkov" / "bin" / "checkov"))
    if checkov and not os.path.exists(checkov):
        checkov = None
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        env = child_env(tmp_path / "pyc", args.src)
        gen = tmp_path / "g"
        counts = generate(gen, 2000)
        tiny = tmp_path / "tiny"
        tiny.mkdir()
        (tiny / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n'
                                      '  tags = { project = "p" }\n}\n')
        out = tmp_path / "r.json"
        pairs = {"module": (bare_cmd(gen), scan_cmd(gen, out)), "tiny": (bare_cmd(tiny), scan_cmd(tiny, out))}
        before_env = child_env(tmp_path / "pyc-before", args.before) if args.before else None
        for bare, scan in pairs.values():  # warm: bytecode written, files in the page cache
            child(bare, env)
            child(scan, env)
            if before_env is not None:
                child(scan, before_env)
        child(scan_cmd(gen, out, STAGES), env)
        runs: dict[str, list] = {f"{k} {w}": [] for k in pairs for w in ("bare", "scan", "before")}
        stages = []
        for _ in range(args.runs):
            for key, (bare, scan) in pairs.items():
                runs[f"{key} bare"].append(child(bare, env)[:2])
                runs[f"{key} scan"].append(child(scan, env)[:2])
                if before_env is not None:
                    runs[f"{key} before"].append(child(scan, before_env)[:2])
            wall, cpu, _rc, stdout = child(scan_cmd(gen, out, STAGES), env)
            probe = json.loads(stdout.strip().splitlines()[-1])
            probe["exit"] = cpu - probe["total"]
            stages.append(probe)
        result = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        ckv = None
        if checkov:
            c_wall, c_cpu, c_rc, c_out = child([checkov, "-d", str(gen), "--framework", "terraform", "--compact",
                                                "-o", "json"], dict(os.environ), timeout=args.checkov_timeout)
            failed = None
            try:
                doc = json.loads(c_out)
                docs = doc if isinstance(doc, list) else [doc]
                failed = sum(int(d.get("summary", {}).get("failed", 0)) for d in docs if isinstance(d, dict))
            except ValueError:
                pass
            ckv = (c_wall, c_cpu, c_rc, failed)
        counted: dict[str, int | None] = {}
        if args.instructions:
            counted["bare"] = instructions(pairs["module"][0], env, tmp_path)
            counted["scan"] = instructions(pairs["module"][1], env, tmp_path)
            counted["tiny"] = instructions(pairs["tiny"][1], env, tmp_path)
            if before_env is not None:
                counted["before"] = instructions(pairs["module"][1], before_env, tmp_path)
        repo_rows = []
        for repo in args.repos:
            times = [child(scan_cmd(Path(repo), tmp_path / "repo.json"), env)[:2] for _ in range(args.runs)]
            repo_rows.append((Path(repo).name, med(t[0] for t in times), med(t[1] for t in times)))
    load_end = os.getloadavg()[0]

    def m(key: str, i: int) -> float:
        return med(r[i] for r in runs[key])

    lines = [
        "| run (fresh process each) | median wall | median CPU |",
        "|---|---:|---:|",
        f"| bare tree-sitter parse of the module's .tf files (import + parse) | {m('module bare', 0):.2f} s "
        f"| {m('module bare', 1):.2f} s |",
        f"| `tagguard scan --scope all -f json` of the module | {m('module scan', 0):.2f} s "
        f"| {m('module scan', 1):.2f} s |",
        f"| **ratio scan / bare** | {m('module scan', 0) / m('module bare', 0):.1f}x "
        f"| **{m('module scan', 1) / m('module bare', 1):.2f}x** |",
        f"| bare parse of a one-resource module (interpreter start) | {m('tiny bare', 0):.2f} s "
        f"| {m('tiny bare', 1):.2f} s |",
        f"| `tagguard scan` of a one-resource module (what any scan costs) | {m('tiny scan', 0):.2f} s "
        f"| {m('tiny scan', 1):.2f} s |",
    ]
    if args.before:
        lines[5:5] = [f"| `tagguard scan` of the module, {args.before_label} | {m('module before', 0):.2f} s "
                      f"| {m('module before', 1):.2f} s |",
                      f"| ratio scan / bare, {args.before_label} | {m('module before', 0) / m('module bare', 0):.1f}x "
                      f"| {m('module before', 1) / m('module bare', 1):.1f}x |"]
        lines.append(f"| `tagguard scan` of a one-resource module, {args.before_label} | {m('tiny before', 0):.2f} s "
                     f"| {m('tiny before', 1):.2f} s |")
    if ckv is not None:
        c_wall, c_cpu, c_rc, failed = ckv
        if c_cpu is None:
            lines.append(f"| Checkov, same module, one run | over {args.checkov_timeout:.0f} s | |")
        else:
            lines.append(f"| Checkov, same module, one run (exit {c_rc}, {failed if failed is not None else '?'} "
                         f"failed checks) | {c_wall:.2f} s | {c_cpu:.2f} s |")
    lines += instruction_rows(counted, args.before_label)
    stage_keys = ["import cli", "config + taxonomy (jsonschema import)", "tree-sitter parse",
                  "read files (parse + syntax tree)", "compile attributes", "evaluate expressions", "collect",
                  "pricing", "evaluate", "JSON output", "exit"]
    s = {k: med(p.get(k, 0.0) for p in stages) for k in stage_keys + ["start", "total"]}
    s["evaluate expressions"] -= med(p.get("compile inside evaluation", 0.0) for p in stages)
    reader_tree = s["read files (parse + syntax tree)"] - s["tree-sitter parse"]
    glue = s["collect"] - s["read files (parse + syntax tree)"] - s["compile attributes"] - s["evaluate expressions"]
    breakdown = [
        ("interpreter start (before any tagguard code)", s["start"]),
        ("import the CLI (click, tagguard.cli)", s["import cli"]),
        ("config and taxonomy (jsonschema only for a taxonomy beyond plain keywords)",
         s["config + taxonomy (jsonschema import)"]),
        ("tree-sitter parse (the bare parse's work)", s["tree-sitter parse"]),
        ("syntax tree to blocks and attributes (`hcl/parse.py`)", reader_tree),
        ("compiling attribute expressions (`hcl/_compile.py`)", s["compile attributes"]),
        ("evaluating expressions (`hcl/evaluate.py`, functions)", s["evaluate expressions"]),
        ("Terraform reader glue: modules, kinds, tags, compute, imports (`sources/terraform/`)", glue),
        ("pricing (`pricing/`)", s["pricing"]),
        ("rules, suppressions, sorting (`rules/`, `pipeline.py`)", s["evaluate"] - s["pricing"]),
        ("JSON report (`formats/json_format.py`)", s["JSON output"]),
        ("interpreter exit", s["exit"]),
    ]
    total = s["total"] + s["exit"]
    lines += ["", f"Where the scan's CPU goes (instrumented scan of the module, median of {args.runs}; "
              f"{total:.2f} s in all, instrumenting included):", "",
              "| stage | CPU | share |", "|---|---:|---:|"]
    lines += [f"| {name} | {v:.3f} s | {100 * v / total:.0f} % |" for name, v in breakdown]
    if repo_rows:
        lines += ["", "| repository | wall (median) | CPU |", "|---|---:|---:|"]
        lines += [f"| {name} | {w:.2f} s | {c:.2f} s |" for name, w, c in repo_rows]
    shown_before = ((" --instructions" if args.instructions else "") + (" --src SRC" if args.src else "")
                    + (f" --before SRC --before-label '{args.before_label}'" if args.before else ""))
    ratio = m("module scan", 1) / m("module bare", 1)
    verdict = "met" if ratio <= 3.0 else "not met"
    body = (
        f"`python benchmarks/terraform_reader.py --runs {args.runs}{shown_before}` -- {machine()}; "
        "shared machine, load average "
        f"{load_start:.1f} at start and {load_end:.1f} at end (wall times are inflated by the load; CPU times and "
        f"ratios say more). Generated module: {counts['resources']:,} resources, {counts['lines']:,} lines, "
        f"{counts['module_instances']} module instances; the scan reports {len(result.get('resources', [])):,} "
        f"resources and {len(result.get('findings', [])):,} findings. Children run `python -S` with compiled "
        "bytecode (see the script's docstring).\n\n"
        + "\n".join(lines)
        + f"\n\nTarget: the scan within 3x of the bare parse (CPU): **{verdict}** ({ratio:.2f}x)."
    )
    print(body)
    if not args.no_write:
        update_section("Terraform scan against a bare parse", body)


if __name__ == "__main__":
    main()
