"""Shipped data (policies/, schemas/): one way to read it, every catalog valid against its schema,
and the built catalogs fresh builds of the research inputs kept in tests/data/reference/."""
from __future__ import annotations

import copy
import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from clikit import run_cli
from tagguard import resources

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "reference" / "pricing"

# every file in policies/ and the schema it must satisfy (None: not a tagguard catalog, said why)
CATALOGS = {
    "ratecard.json": "ratecard.schema.json",
    "token_prices.json": "token_prices.schema.json",
    "kubernetes_kinds.yaml": "kubernetes_kinds.schema.json",
    "ai_services.yaml": "ai_services.schema.json",
    "gpu_resources.yaml": "gpu_resources.schema.json",
    "aws-readonly-policy.json": None,  # an IAM policy document for users to attach; tagguard never reads it
    "ratecard.README.md": None,  # prose
    # cited build input of ratecard.json (scripts/build_ratecard.py); never read at run time
    "ratecard_supplement.yaml": None,
}


def _load(relpath: str):
    text = resources.read_text(relpath)
    return json.loads(text) if relpath.endswith(".json") else yaml.safe_load(text)


def _validator(schema_name: str) -> jsonschema.Draft202012Validator:
    schema = _load("schemas/" + schema_name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_every_shipped_policy_file_is_accounted_for():
    shipped = sorted(p.name for p in resources.data_file("policies").iterdir() if p.is_file())
    assert shipped == sorted(CATALOGS), "a new policies/ file needs a schema here (or a reason it has none)"


@pytest.mark.parametrize("name", sorted(n for n, s in CATALOGS.items() if s))
def test_catalog_is_valid_against_its_schema(name):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validator(CATALOGS[name]).iter_errors(_load("policies/" + name))]
    assert not errors, errors[:10]


def test_aws_policy_is_a_read_only_iam_document():
    doc = _load("policies/aws-readonly-policy.json")
    actions = [a for st in doc["Statement"]
               for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])]
    assert doc["Version"] == "2012-10-17" and actions
    assert all(re.search(r":(Describe|List|Get)", a) for a in actions), actions


@pytest.mark.parametrize("path", sorted(p.name for p in (ROOT / "schemas").glob("*.json")))
def test_every_shipped_schema_is_a_valid_schema(path):
    schema = _load("schemas/" + path)
    if "$schema" in schema:  # taxonomy.default.json is a taxonomy, itself a schema of tags
        jsonschema.validators.validator_for(schema).check_schema(schema)


@pytest.mark.parametrize("name,path,bad", [
    ("ratecard.json", ("instances", "aws/p4d.24xlarge", "on_demand"), "21.95"),  # a string price
    ("ratecard.json", ("gpu_hourly_usd", "A100", "source"), None),  # a price without its source
    ("token_prices.json", ("models", "gpt-4o"), [2.5e-06, 1e-05]),  # a row missing fields
    ("kubernetes_kinds.yaml", ("kinds", "Deployment", "workload"), None),
    ("ai_services.yaml", ("service_names",), "Amazon SageMaker"),  # a string, not a list
    ("gpu_resources.yaml", ("mig_pattern",), "^nvidia\\.com/mig-(["),  # not a regex
])
def test_schemas_reject_a_broken_catalog(name, path, bad):
    doc = copy.deepcopy(_load("policies/" + name))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if bad is None:
        del parent[path[-1]]
    else:
        parent[path[-1]] = bad
    assert list(_validator(CATALOGS[name]).iter_errors(doc))


def test_data_paths_stay_inside_the_shipped_directories():
    for bad in ("../pyproject.toml", "schemas/../../pyproject.toml", "src/tagguard/cli.py", ""):
        with pytest.raises(ValueError):
            resources.data_file(bad)
    with pytest.raises(FileNotFoundError):
        resources.data_file("schemas/no-such.schema.json")
    for pkg, name in (("tagguard.sources.terraform", "../cli.py"), ("json", "decoder.py"), ("tagguard", "..")):
        with pytest.raises(ValueError):
            resources.package_file(pkg, name)
    assert "aws_instance" in resources.package_text("tagguard.sources.terraform", "kinds.yaml")


def test_no_module_builds_a_path_to_shipped_data_itself():
    """Shipped data is read through tagguard.resources only (not __file__, not walking up directories, not
    importlib.resources or pkgutil directly)."""
    offenders = []
    for path in (ROOT / "src" / "tagguard").rglob("*.py"):
        rel = path.relative_to(ROOT / "src" / "tagguard").as_posix()
        if rel in ("resources.py", "_checkov/tagguard_checks.py"):  # the reader; the check Checkov runs in its own dir
            continue
        text = path.read_text(encoding="utf-8")
        if "__file__" in text or re.search(r"parents?\b.*(policies|schemas)", text) or \
                re.search(r"importlib\.resources|importlib_resources|pkgutil\.get_data|pkg_resources", text):
            offenders.append(rel)
    assert not offenders


def test_a_missing_shipped_schema_ref_is_a_taxonomy_error_not_a_traceback(tmp_path):
    (tmp_path / "main.tf").write_text('resource "aws_instance" "a" {\n  instance_type = "p4d.24xlarge"\n}\n')
    (tmp_path / ".tagguard.yaml").write_text("taxonomy: tax.json\n")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    for name in ("no-such.json", ".."):  # a shipped name that does not exist; one that would climb out
        (tmp_path / "tax.json").write_text(json.dumps({
            "type": "object", "allOf": [{"$ref": "https://tagguard.dev/schemas/" + name}]}))
        p = run_cli("scan", tmp_path, env=env, process=True)
        out = p.output
        assert p.returncode == 2 and "Traceback" not in out and "no shipped schema" in out, out


# --- freshness: the committed catalogs are what the build scripts make of the research inputs ---------

def _unpacked(tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    out.write_bytes(gzip.decompress((REFERENCE / (name + ".gz")).read_bytes()))
    return out


def test_shipped_rate_card_is_a_fresh_build_of_the_catalog(tmp_path):
    catalog = _unpacked(tmp_path, "gpu_catalog.yaml")
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_ratecard.py"), str(catalog), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    card = _load("policies/ratecard.json")
    for row in card["instances"].values():  # every price keeps its source (and the source its date)
        for kind in ("on_demand", "spot"):
            if row.get(kind) is not None:
                assert card["sources"][row[f"{kind}_source"]]["date"]


def test_committed_token_prices_are_a_fresh_build(tmp_path):
    prices = _unpacked(tmp_path, "llm_token_prices.json")
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_token_prices.py"), str(prices), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_freshness_check_fails_on_a_changed_input(tmp_path):
    prices = _unpacked(tmp_path, "llm_token_prices.json")
    data = json.loads(prices.read_text())
    data["models"]["gpt-4o"]["input_cost_per_token"] *= 2
    prices.write_text(json.dumps(data))
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_token_prices.py"), str(prices), "--check"],
                       capture_output=True, text=True)
    assert p.returncode != 0


# --- the wheel: a non-editable install finds every shipped file through importlib.resources ----------

@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    import zipfile

    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out / "dist"), str(ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = (out / "dist").glob("tagguard-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def test_the_wheel_carries_every_shipped_file(unpacked_wheel):
    pkg = unpacked_wheel / "tagguard"
    missing = [f"{top}/{p.relative_to(ROOT / top).as_posix()}" for top in resources.DATA_DIRS
               for p in (ROOT / top).rglob("*")
               if p.is_file() and not (pkg / "_data" / top / p.relative_to(ROOT / top)).is_file()]
    src = ROOT / "src" / "tagguard"
    missing += [p.relative_to(src).as_posix() for p in src.rglob("*")
                if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
                and not (pkg / p.relative_to(src)).is_file()]
    assert not missing, missing


def test_an_installed_wheel_reads_shipped_data_from_itself_and_scans(unpacked_wheel, tmp_path):
    """The wheel's own files, not the checkout's: run with only the unpacked wheel on the path for tagguard."""
    import os

    code = ("import json, tagguard, tagguard.resources as r; from tagguard.rules import all_docs; "
            "names = [f'{d}/{p.name}' for d in r.DATA_DIRS for p in r.data_file(d).iterdir()]; "
            "print(json.dumps({'pkg': tagguard.__file__, 'paths': [str(r.data_file(n)) for n in names], "
            "'docs': len(all_docs()), 'kinds': len(r.package_text('tagguard.sources.terraform', 'kinds.yaml'))}))")
    env = dict(os.environ, PYTHONPATH=str(unpacked_wheel), TAGGUARD_USER_CONFIG="")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["pkg"].startswith(str(unpacked_wheel))
    assert len(got["paths"]) >= len(CATALOGS) and all(p.startswith(str(unpacked_wheel / "tagguard" / "_data"))
                                                      for p in got["paths"]), got["paths"]
    assert got["docs"] == len(list((ROOT / "src" / "tagguard" / "rules" / "docs").glob("*.md"))) and got["kinds"]
    shutil.copytree(ROOT / "examples" / "terraform", tmp_path / "terraform")
    scan = run_cli("scan", "terraform", "-f", "json", cwd=tmp_path, env={"PYTHONPATH": str(unpacked_wheel)},
                   process=True)
    assert scan.returncode == 1, scan  # the example fails its taxonomy, priced from the wheel's rate card
    assert scan.json()["summary"]["monthly_usd"] > 0
