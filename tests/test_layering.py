"""The package's layering holds (issue 13): the import-linter contracts in pyproject.toml
(``[tool.importlinter]``) are kept, every one of them is still there, and they see an import
hidden inside a function (the cycles of issue 13 all hid there).

``lint-imports`` runs the same contracts by hand.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"

# A contract removed from pyproject.toml must be removed here too, on purpose.
CONTRACTS = {"hcl", "model", "formats", "sources", "stages", "diffing", "llm-sdk", "rule-families", "config", "pricing"}


def _toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _lint(config: Path, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """import-linter on ``config`` in a fresh interpreter (``pythonpath`` first on its path)."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    code = ("import sys\nfrom importlinter.cli import lint_imports\n"
            f"sys.exit(lint_imports(config_filename={str(config)!r}, no_cache=True, no_logo=True))")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_import_linter_is_installed():
    # A missing tool must fail, not skip: a skipped layering test is one that can rot.
    import importlinter  # noqa: F401 - pip install -e '.[test]'


def test_every_contract_is_configured():
    contracts = _toml(PYPROJECT)["tool"]["importlinter"]["contracts"]
    assert {c["id"] for c in contracts} == CONTRACTS
    hcl = next(c for c in contracts if c["id"] == "hcl")
    # a wildcard, so a new top-level module of tagguard is forbidden to hcl without editing the contract
    assert hcl["forbidden_modules"] == ["tagguard.*"]


def _contract(cid: str) -> dict:
    return next(c for c in _toml(PYPROJECT)["tool"]["importlinter"]["contracts"] if c["id"] == cid)


def test_every_rule_family_is_protected():
    """A new rule family module is protected without anyone remembering to: the contract lists every
    module of tagguard/rules but the package and its registry (which formats and config may read)."""
    families = sorted(f"tagguard.rules.{p.stem}" for p in (ROOT / "src" / "tagguard" / "rules").glob("*.py")
                      if p.stem not in ("__init__", "registry"))
    assert sorted(_contract("rule-families")["protected_modules"]) == families


def test_pricing_reads_no_source_but_the_known_placement_readers():
    """The one waived edge pricing -> sources (issue 13) stays exactly these two imports: widening it
    is a decision made here, not a line slipped into pyproject.toml."""
    assert _contract("pricing")["ignore_imports"] == [
        "tagguard.pricing.placement -> tagguard.sources.terraform.extract",
        "tagguard.pricing.placement -> tagguard.sources.terraform.module",
    ]
    assert _contract("pricing").get("unmatched_ignore_imports_alerting", "error") == "error"  # goes when it is cut


def test_the_contracts_are_kept():
    run = _lint(PYPROJECT, ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in run.stdout


@pytest.mark.slow
def test_an_import_inside_a_function_breaks_them(tmp_path):
    """A copy of the package with the two kinds of import issue 13 found hidden in functions:
    the HCL language reaching into tagguard, and a stage importing the command line."""
    copy = tmp_path / "tagguard"
    shutil.copytree(ROOT / "src" / "tagguard", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "hcl" / "probe.py").write_text(
        "def truncate_reason(text):\n    from tagguard.safeio import truncate\n\n    return truncate(text, 120)\n")
    (copy / "pricing" / "probe.py").write_text(
        "def refresh_failed(message):\n    from tagguard.cli import fail\n\n    fail(message)\n")
    config = tmp_path / "pyproject.toml"
    shutil.copy(PYPROJECT, config)
    run = _lint(config, tmp_path, pythonpath=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout.replace("\n", " ")
    assert "tagguard.hcl.probe -> tagguard.safeio" in out
    assert "tagguard.pricing.probe -> tagguard.cli" in out
    # three: the command line also reaches the sources, which pricing may not read ("pricing")
    assert f"Contracts: {len(CONTRACTS) - 3} kept, 3 broken." in run.stdout


@pytest.mark.slow
def test_the_cross_package_edges_hold(tmp_path):
    """The edges issue 13 left implicit, each tried in a copy of the package: a format computing a
    showback, config importing a rule family, pricing reading a source."""
    copy = tmp_path / "tagguard"
    shutil.copytree(ROOT / "src" / "tagguard", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "formats" / "probe.py").write_text(
        "def page(result):\n    from tagguard.cost.showback import build_showback\n\n"
        "    return build_showback(result)\n")
    with open(copy / "config.py", "a", encoding="utf-8") as fh:
        fh.write("\n\ndef _probe(resources, ctx):\n    from tagguard.rules.tags import check\n\n"
                 "    return check(resources, ctx)\n")
    (copy / "pricing" / "probe.py").write_text(
        "def pods(text):\n    from tagguard.sources.kubernetes.manifests import parse_stream\n\n"
        "    return parse_stream(text, 'x.yaml')\n")
    config = tmp_path / "pyproject.toml"
    shutil.copy(PYPROJECT, config)
    run = _lint(config, tmp_path, pythonpath=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    out = run.stdout.replace("\n", " ")
    assert "tagguard.formats.probe -> tagguard.cost.showback" in out
    assert "tagguard.config -> tagguard.rules.tags" in out
    assert "tagguard.pricing.probe -> tagguard.sources.kubernetes.manifests" in out
    assert f"Contracts: {len(CONTRACTS) - 3} kept, 3 broken." in run.stdout
