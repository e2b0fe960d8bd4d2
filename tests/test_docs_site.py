"""The documentation site builds with ``mkdocs build --strict`` and its links hold (issue 13).

The site is built into a temporary directory from the repository's own ``mkdocs.yml``; a copy of
the site sources with one broken link shows the strict build really fails on it.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tagguard.rules.registry import RULES

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("mkdocs")
pytest.importorskip("material")


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"),
                           "-d", str(site)], capture_output=True, text=True, env=env, timeout=300)


def copy_sources(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("mkdocs.yml", "CONTRIBUTING.md", "README.md", "SECURITY.md", "BENCHMARKS.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    for folder in ("docs", "scripts", "schemas", "policies", "examples", "benchmarks", "tests/cases"):
        shutil.copytree(ROOT / folder, dest / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".terraform"))
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_site_builds_strict_with_a_page_per_rule(tmp_path):
    proc = build(ROOT, tmp_path / "site")
    assert proc.returncode == 0, proc.stderr[-3000:]
    site = tmp_path / "site"
    for rule in RULES:
        page = site / "rules" / rule.id / "index.html"
        assert page.is_file(), rule.id
        html = page.read_text(encoding="utf-8")
        assert f"tagguard explain {rule.id}" in html and rule.default_severity in html
    assert "Threat-model checklist" in (site / "contributing" / "index.html").read_text(encoding="utf-8")
    # a link to a repository file outside docs/ became a GitHub link, not a dead relative one
    security = (site / "security" / "index.html").read_text(encoding="utf-8")
    assert 'href="https://github.com/tagguard/tagguard/blob/main/SECURITY.md#threat-model"' in security


@pytest.mark.parametrize("bad", [
    "[gone](missing-page.md)",                  # a page that does not exist (MkDocs' own check)
    "[gone](../NO_SUCH_FILE.md)",               # a repository file that does not exist (the hook)
    "[gone](../SECURITY.md#no-such-heading)",   # a heading that does not exist (the hook)
])
def test_strict_build_fails_on_a_broken_link(tmp_path, bad):
    root = copy_sources(tmp_path / "repo")
    page = root / "docs" / "install.md"
    page.write_text(page.read_text(encoding="utf-8") + f"\nSee {bad}.\n", encoding="utf-8")
    proc = build(root, tmp_path / "site")
    assert proc.returncode != 0
    assert bad.split("(")[1].rstrip(")").split("#")[0].lstrip("./") in proc.stderr


def test_readme_links_point_at_files_that_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"^[a-z]+:|^#", t)]
    assert targets, "the README links to its documentation"
    for target in targets:
        assert (ROOT / target.split("#")[0]).exists(), target


def test_readme_keeps_the_two_quick_start_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install . && scripts/get-helm && tagguard scan examples/ --helm-bin .tools/bin/helm" in text
    assert "pip install -e '.[test]'" in text and "python -m pytest -q" in text
    assert len(text.splitlines()) < 150, "the reference lives in docs/, the README stays one visit long"
