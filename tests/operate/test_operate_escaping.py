"""Every sink escapes scanned values: the hostile strings of tests/security/test_output_injection.py
(and Slack/Teams specific ones) in a resource address, a tag value and a fix."""
from __future__ import annotations

import json
import re

import pytest

from tagguard.operate.alerts import Alert
from tagguard.operate.sinks import github_issues, slack, teams, webhook

HOSTILE = [
    "x`</details><h1>pwn</h1>",
    "y``` <script>alert(1)</script> ```",
    "@org/team and @alice please look",
    "fixes #1 and org/repo#2 GH-3",
    "see https://evil.example.com/x or www.evil.example.com or mail a@evil.example.com",
    "[click](https://evil.example.com) ![img](https://evil.example.com/i.png) <https://evil.example.com>",
    "<!-- tagguard-report -->",
    "a|b\n::error file=x::injected\n# heading\n</details>\n<h1>two</h1>",
    "\x1b[2J\x1b]0;pwned title\x07 \u202eevil\u2066 \x9b31m \r::warning::cr",
    "**bold** _em_ ~~s~~ $x^2$ &amp; &lt;b&gt;",
    "- 1. list\n> quote\n=====",
    "##[stop-commands]tok ##[error]legacy",
    "<!channel> <!here> <@U123> <#C123> <https://evil.example.com|click>",
    "<at>Boss</at> {{DATE(2026-01-01)}}",
]
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def alert(v):
    return Alert(kind="unallocated", key=f"unallocated|{v}", title=f"Unallocated spend $1/month: {v}", level=1.0,
                 severity="warning", facts=[("Resource", v), ("Tag", v)], tags={"business-unit": v}, fix=f"tag {v}",
                 source=f"r-{v}.json")


def texts(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "text" and isinstance(v, str):
                yield obj.get("type"), v
            else:
                yield from texts(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from texts(v)


@pytest.mark.parametrize("value", HOSTILE)
def test_slack(value):
    p = slack.payload(alert(value), "new")
    for _typ, t in list(texts(p["blocks"])) + [("mrkdwn", p["text"])]:
        assert not CONTROL.search(t)
        assert "<" not in t.replace("&lt;", "") and ">" not in t.replace("&gt;", ""), t  # no <!channel>, <url|x>
    # the mrkdwn fallback: every formatting, mention and channel character from data is broken
    assert not re.search(r"[*_~`@#!|](?!\u200d)", p["text"]), p["text"]
    # the only other mrkdwn (the context line) is tagguard's own words, no data
    own = [t for typ, t in texts(p["blocks"]) if typ == "mrkdwn"]
    assert own and all(value.strip()[:6] not in t for t in own)


@pytest.mark.parametrize("value", HOSTILE)
def test_teams(value):
    card = teams.payload(alert(value), "new")["attachments"][0]["content"]
    strings = [el["text"] for el in card["body"] if el["type"] == "TextBlock"] + \
              [f[k] for el in card["body"] if el["type"] == "FactSet" for f in el["facts"] for k in ("title", "value")]
    for t in strings:
        assert not CONTROL.search(t)
        # every Markdown/HTML-significant character from data is backslash-escaped
        assert not re.search(r"(?<!\\)[<>\[\]()*_`#~|!{}]", re.sub(r"\\\\", "", t)), t
        assert "://" not in t and "www." not in t.lower()


@pytest.mark.parametrize("value", HOSTILE)
def test_github_issue(value):
    a = alert(value)
    body = github_issues.body(a, "issues", "new")
    title = github_issues.title(a)
    assert not CONTROL.search(title)
    assert not re.search(r"[@#](?!\u200d)", title)
    outside_code = re.sub(r"(`+)(?:(?!\1).)+?\1", "", body)  # code spans show their text literally
    for bad in ("<h1>", "<script", "</details>", "<!-- tagguard-report", "@alice", "](https://evil", "\x1b",
                "\n::error"):
        assert bad not in outside_code
    assert body.count("<!--") == 1 and body.startswith("<!-- tagguard-alert:")  # only our own marker


@pytest.mark.parametrize("value", HOSTILE)
def test_webhook_is_plain_json(value):
    p = webhook.payload(alert(value), "new")
    assert json.loads(json.dumps(p))["facts"]["Resource"] == value  # data, unchanged, for a program to read
