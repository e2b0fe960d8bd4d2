"""Output formats.  Each implements ``formats.base.Formatter``; imports are lazy."""
from __future__ import annotations

from importlib import import_module

FORMATS = {
    "text": "tagguard.formats.text:TextFormatter",
    "json": "tagguard.formats.json_format:JsonFormatter",
    "sarif": "tagguard.formats.sarif:SarifFormatter",
    "junit": "tagguard.formats.junit:JunitFormatter",
    "markdown": "tagguard.formats.markdown:MarkdownFormatter",
    "github": "tagguard.formats.github:GithubFormatter",
    "html": "tagguard.formats.html:HtmlFormatter",
}


def available() -> list:
    out = []
    for name, spec in FORMATS.items():
        try:
            import_module(spec.partition(":")[0])
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


def get_formatter(name: str):
    spec = FORMATS.get(name)
    if spec is None:
        raise KeyError(name)
    module, _, cls = spec.partition(":")
    return getattr(import_module(module), cls)()
