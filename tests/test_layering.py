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
CONTRACTS = {"hcl", "model", "formats", "sources", "stages", "diffing", "llm-sdk"}


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
    assert f"Contracts: {len(CONTRACTS) - 2} kept, 2 broken." in run.stdout
