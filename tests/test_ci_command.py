"""CI runs exactly the README's test command (`.ci/run`), the documentation shows that same command, and its
lint covers every directory of Python the repository holds: scripts/ and benchmarks/ were left out of
`ruff check src tests`, so scripts/build_ratecard.py (which writes the shipped rate card) was never linted."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOWN_IN = ("README.md", "docs/install.md", "docs/quickstart.md")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None


def ci_command() -> str:
    lines = [ln for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
             if ln.startswith("pip install")]
    assert len(lines) == 1, lines
    return lines[0]


def lint_paths(command: str) -> list[str]:
    m = re.search(r"(?:^|&& )ruff check ([^&]+?) &&", command)
    assert m, command
    return m.group(1).split()


def python_dirs() -> set[str]:
    """Top-level directories with tracked Python files."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {p.split("/", 1)[0] for p in out.splitlines() if "/" in p}


def test_the_docs_show_the_ci_command():
    command = ci_command()
    for name in SHOWN_IN:
        assert command in (ROOT / name).read_text(encoding="utf-8"), f"{name} does not show `.ci/run`'s command"


def test_lint_covers_every_python_directory():
    paths = lint_paths(ci_command())
    dirs = python_dirs()
    assert {"src", "tests", "scripts", "benchmarks"} <= dirs
    assert dirs <= set(paths), f"not linted: {sorted(dirs - set(paths))}"
    # CONTRIBUTING's lint line and the contributors' pre-commit ruff hook cover the same directories
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert re.search(r"^ruff check " + re.escape(" ".join(paths)) + r"\s", contributing, re.M), contributing
    hook = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    m = re.search(r"- id: ruff\n(?:\s+\w+:.*\n)*?\s+files: (\S+)", hook)
    assert m, hook
    for d in paths:
        assert re.match(m.group(1), f"{d}/x.py"), (m.group(1), d)


@pytest.mark.skipif(tomllib is None, reason="tomllib: Python >= 3.11")
def test_mypy_checks_the_scripts():
    files = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]["files"]
    assert "src/tagguard" in files and "scripts" in files, files
