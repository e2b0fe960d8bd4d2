"""Slack incoming webhook, Block Kit.

Scanned values go only into ``plain_text`` objects (no mrkdwn, no emoji shortcodes, no
mentions are parsed there; ``&<>`` still entity-escaped); the top-level ``text`` (the notification fallback, read as mrkdwn)
has ``&``, ``<``, ``>`` entity-escaped (Slack's own rule: ``<!channel>``, ``<@U1>``, ``<url|x>``
all need ``<``), its formatting characters and ``@``/``#`` broken with a zero-width joiner.
Limits respected: header 150 characters, section fields 10 x 2000, context 10 elements, 50 blocks."""  # noqa: E501
from __future__ import annotations

import re
from typing import Any

from tagguard.formats.escape import ZWJ, term

HEADER_MAX = 150
FIELD_MAX = 2000
FIELDS_MAX = 10
TEXT_MAX = 3000
EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MRKDWN = re.compile(r"[&<>]|[*_~`@#:!|]")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def plain(value: Any, n: int = FIELD_MAX) -> dict[str, Any]:
    """Plain text (nothing parsed but ``&``, ``<``, ``>`` entities, which are escaped here too)."""
    text = re.sub(r"[&<>]", lambda m: _ENTITIES[m.group(0)], term(value) or "-")
    return {"type": "plain_text", "text": _cut(text, n), "emoji": False}


def mrkdwn_text(value: Any) -> str:
    """A value inside mrkdwn: entities for &<>, a joiner after formatting characters and @/#."""
    return _MRKDWN.sub(lambda m: _ENTITIES.get(m.group(0)) or (m.group(0) + ZWJ), term(value))


def payload(alert, state: str) -> dict[str, Any]:
    what = {"new": "New", "worse": "Worse", "reopened": "Again", "resolved": "Resolved"}.get(state, state)
    facts = alert.facts[:FIELDS_MAX]
    blocks = [
        {"type": "header", "text": plain(f"{what}: {alert.title}", HEADER_MAX)},
        {"type": "section", "fields": [plain(f"{label}: {value}") for label, value in facts]},
    ]
    if alert.fix:
        blocks.append({"type": "section", "text": plain(f"Fix: {alert.fix}", TEXT_MAX)})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"{EMOJI.get(alert.severity, '')} *{alert.severity}* \u00b7 tagguard alert "
                                   f"`{alert.kind}` \u00b7 id {alert.key_id}"},
        plain(f"from {alert.source}", 500)]})
    return {"text": _cut(f"{what}: {mrkdwn_text(alert.title)}", TEXT_MAX), "blocks": blocks}
