"""The rule doc pages (``rules/docs/<id>.md``): what ``tagguard explain``, SARIF and a config's ``rules:``
check read.  Its own module, imported by ``tagguard.rules`` when a page is first asked for: a scan that reads
none never creates ``RuleDoc`` (a dataclass costs ~3 M instructions to create)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class RuleDoc:
    id: str
    category: str
    severity: str
    summary: str
    body: str  # Markdown: What it checks / Why it matters / Example / Fix

    def section(self, title: str) -> str:
        out, on = [], False
        for line in self.body.splitlines():
            if line.startswith("## "):
                on = line[3:].strip().lower().startswith(title.lower())
                continue
            if on:
                out.append(line)
        return "\n".join(out).strip()


@cache
def all_docs() -> dict[str, RuleDoc]:
    from tagguard.resources import package_file

    docs = {}
    for path in sorted(package_file("tagguard.rules", "docs").glob("*.md")):
        doc = _parse_doc(path.read_text(encoding="utf-8"))
        docs[doc.id] = doc
    return docs


def get_doc(name: str) -> RuleDoc | None:
    """A rule by id (``missing-tag``) or category (``missing_tag``)."""
    docs = all_docs()
    if name in docs:
        return docs[name]
    norm = name.replace("_", "-").lower()
    if norm in docs:
        return docs[norm]
    for doc in docs.values():
        if doc.category == name:
            return doc
    return None


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """A rule page's ``---`` front matter (``key: value`` lines) and the text after it (the docs site's
    hook reads the pages the same way)."""
    meta: dict[str, str] = {}
    body = text
    if text.startswith("---"):
        head, _, body = text[3:].partition("\n---")
        for line in head.strip().splitlines():
            key, _, value = line.partition(":")
            meta[key.strip()] = value.strip()
    return meta, body


def _parse_doc(text: str) -> RuleDoc:
    meta, body = front_matter(text)
    return RuleDoc(id=meta["id"], category=meta["category"], severity=meta.get("severity", "error"),
                   summary=meta.get("summary", ""), body=body.strip())
