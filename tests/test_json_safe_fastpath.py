"""The JSON writer's ASCII shortcut (``json_format._safe``) escapes exactly what ``json_safe`` does."""
from __future__ import annotations

import json

from tagguard.formats import json_format
from tagguard.formats.escape import json_safe

HOSTILE = ["", "plain", "del\x7f", "csi\x9b31m", "bidi\u202eevil", "ls\u2028ps\u2029", "bom\ufeff", "lone\ud800x",
           "nbsp\u00a0é", "tab\t", "nul\x00", "emoji \U0001F600", "\x1b[31m", "zw\u200d", "arabic\u061c"]


def test_safe_matches_json_safe_on_encoded_items():
    for text in HOSTILE:
        for item in (text, {"k": text}, [text, 1, None], {text: [text]}):
            encoded = json_format._ENCODE(item)
            assert encoded == json.dumps(item, ensure_ascii=False)
            assert json_format._safe("    " + encoded) == json_safe("    " + encoded)
    for text in HOSTILE:  # raw text too, not only encoder output
        assert json_format._safe(text) == json_safe(text)


def test_safe_escapes_del_and_c1():
    assert json_format._safe('"a\x7fb"') == '"a\\u007fb"'
    assert json_format._safe('"a\x9bb"') == '"a\\u009bb"'
