"""Microsoft Teams through a Workflows ("When a Teams webhook request is received") webhook: a
``message`` with one Adaptive Card attachment (schema 1.4: TextBlock, FactSet).

TextBlock and FactSet text is a Markdown subset in Teams: every ASCII punctuation character of a
scanned value is backslash-escaped (CommonMark), so no emphasis, link, ``<at>`` mention or HTML
can come from data, and ``://`` / ``www.`` are broken with a zero-width joiner (no autolinks)."""
from __future__ import annotations

import re
from typing import Any

from tagguard.formats.escape import ZWJ, term

_PUNCT = re.compile(r"[!-/:-@\[-`{-~]")
_AUTOLINK = re.compile(r":(?=//)|(?i:\bwww)(?=\.)")
COLORS = {"critical": "Attention", "warning": "Warning", "info": "Accent"}
MAX_TEXT = 2000


def md(value: Any) -> str:
    text = term(value)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "\u2026"
    text = _AUTOLINK.sub(lambda m: m.group(0) + ZWJ, text)
    return _PUNCT.sub(lambda m: "\\" + m.group(0), text)


def payload(alert, state: str) -> dict[str, Any]:
    what = {"new": "New", "worse": "Worse", "reopened": "Again", "resolved": "Resolved"}.get(state, state)
    body = [
        {"type": "TextBlock", "text": f"{what}: {md(alert.title)}", "weight": "Bolder", "size": "Medium",
         "wrap": True, "color": COLORS.get(alert.severity, "Default")},
        {"type": "FactSet", "facts": [{"title": md(label), "value": md(value)} for label, value in alert.facts]},
    ]
    if alert.fix:
        body.append({"type": "TextBlock", "text": f"Fix: {md(alert.fix)}", "wrap": True})
    body.append({"type": "TextBlock", "text": f"{md(alert.severity)} \u00b7 tagguard alert {md(alert.kind)} "
                                              f"\u00b7 id {alert.key_id} \u00b7 from {md(alert.source)}",
                 "isSubtle": True, "size": "Small", "wrap": True})
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body, "msteams": {"width": "Full"}}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}
