"""MkDocs hooks for the tagguard documentation site (``mkdocs.yml`` ``hooks:``).

- The rule reference is generated from ``src/tagguard/rules/docs/*.md`` (the same pages
  ``tagguard explain`` prints) and the rule registry: one page per rule plus an index, so the site
  and the CLI never disagree.
- A link from a page to a repository file outside ``docs/`` (``../SECURITY.md``,
  ``../schemas/report.schema.json``) becomes a link to that file on GitHub, after checking that the
  file exists (and, for a Markdown file, that the ``#anchor`` is one of its headings).  A link that
  does not resolve is logged as a warning, so ``mkdocs build --strict`` fails on it.
"""
from __future__ import annotations

import logging
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.plugins.tagguard")

ROOT = Path(__file__).resolve().parent.parent
RULE_DOCS = ROOT / "src" / "tagguard" / "rules" / "docs"
BLOB = "https://github.com/tagguard/tagguard/blob/main/"
LINK = re.compile(r"(?<!!)\[([^\]\n]*)\]\(([^)\s]+)\)")


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    from tagguard.rules.docpages import front_matter  # the reader `tagguard explain` uses

    meta, body = front_matter(text)
    return meta, body.lstrip("\n")


def github_slug(title: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    slug = title.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    out: set[str] = set()
    seen: dict[str, int] = {}
    fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        if fence or not line.startswith("#"):
            continue
        slug = github_slug(line.lstrip("#"))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _rule_pages() -> dict[str, str]:
    from tagguard.rules.registry import BY_ID

    pages: dict[str, str] = {}
    rows = []
    for path in sorted(RULE_DOCS.glob("*.md")):
        meta, body = _front_matter(path.read_text(encoding="utf-8"))
        rid = meta["id"]
        rule = BY_ID.get(rid)
        other = f" (also {', '.join(rule.other_severities)}: see below)" if rule and rule.other_severities else ""
        pages[f"rules/{rid}.md"] = (
            f"# `{rid}`\n\n{meta.get('summary', '')}\n\n"
            f"| category | default severity |\n|---|---|\n| `{meta['category']}` | {meta['severity']}{other} |\n\n"
            f"`tagguard explain {rid}` prints this page.\n\n{body}")
        rows.append(f"| [`{rid}`]({rid}.md) | `{meta['category']}` | {meta['severity']} | {meta.get('summary', '')} |")
    pages["rules/index.md"] = (
        "# Rules\n\nEvery rule id a finding can carry. Each page says what the rule checks, why it matters for "
        "cost attribution, an example and the fix; `tagguard explain RULE` prints the same text and "
        "`tagguard explain --list` lists them. Change a severity, or turn a rule off, with `rules:` in "
        "the [configuration](../configuration.md).\n\n"
        "| rule | category | default | what |\n|---|---|---|---|\n" + "\n".join(rows) + "\n")
    return pages


def _root_page(name: str) -> str:
    """A Markdown file of the repository root as a page of docs/: its links re-based onto docs/."""

    def rebase(m: re.Match[str]) -> str:
        target = m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return m.group(0)
        if target.startswith("docs/"):
            return f"[{m.group(1)}]({target[len('docs/'):]})"
        return f"[{m.group(1)}](../{target})"

    return LINK.sub(rebase, (ROOT / name).read_text(encoding="utf-8"))


def on_config(config):
    """The Rules section of the nav lists the index and one page per rule doc."""
    ids = sorted(_front_matter(p.read_text(encoding="utf-8"))[0]["id"] for p in RULE_DOCS.glob("*.md"))
    nav = config["nav"] or []
    for i, item in enumerate(nav):
        if isinstance(item, dict) and item.get("Rules") == "rules/index.md":
            nav[i] = {"Rules": ["rules/index.md"] + [{rid: f"rules/{rid}.md"} for rid in ids]}
    return config


def on_files(files, config):
    for src_uri, text in _rule_pages().items():
        files.append(File.generated(config, src_uri, content=text))
    files.append(File.generated(config, "contributing.md", content=_root_page("CONTRIBUTING.md")))
    return files


def _resolve(page_src: str, target: str, docs_dir: Path) -> str | None:
    """A GitHub URL for a link to a repository file outside docs/, or None to leave the link alone."""
    if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return None
    path, _, anchor = target.partition("#")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page_src), path))
    if not joined.startswith("../"):
        return None  # inside docs/: MkDocs checks it itself
    repo_rel = posixpath.normpath(posixpath.join("docs", joined))
    file = ROOT / repo_rel
    if repo_rel.startswith("../") or not file.exists():
        log.warning("Doc file '%s' contains a link to '%s', which is not a file of the repository", page_src, target)
        return None
    if anchor and file.suffix == ".md" and anchor not in _anchors(file):
        log.warning("Doc file '%s' contains a link to '%s', but '%s' has no heading '#%s'",
                    page_src, target, repo_rel, anchor)
    kind = "tree" if file.is_dir() else "blob"
    return BLOB.replace("/blob/", f"/{kind}/") + repo_rel + (f"#{anchor}" if anchor else "")


def on_page_markdown(markdown, page, config, files):
    docs_dir = Path(config["docs_dir"])

    def sub(m: re.Match[str]) -> str:
        url = _resolve(page.file.src_uri, m.group(2), docs_dir)
        return m.group(0) if url is None else f"[{m.group(1)}]({url})"

    out, fence = [], False
    for line in markdown.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fence = not fence
        out.append(line if fence else LINK.sub(sub, line))
    return "".join(out)
