"""Dates: ``formatdate`` (``datetime`` imported when called)."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

from ..values import EvalError
from ._common import Table, registrar
from ._common import text as _s

FUNCTIONS: Table = {}
register = registrar(FUNCTIONS)


@cache  # compiled at the first formatdate() (~1 M instructions at import, for a function few modules call)
def _date_tokens() -> re.Pattern[str]:
    return re.compile(r"'[^']*'|YYYY|YY|MMMM|MMM|MM|M|DD|D|EEEE|EEE|hh|h|HH|H|mm|m|ss|s|AA|aa|ZZZZZ|ZZZZ|ZZZ|Z")


@register("formatdate")
def formatdate(spec: Any, timestamp: Any) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(_s(timestamp).replace("Z", "+00:00"))
    except ValueError:
        raise EvalError(f"not an RFC 3339 timestamp: {timestamp!r}") from None
    return _date_tokens().sub(lambda m: _date_token(m.group(0), moment), _s(spec))


def _date_token(token: str, moment: Any) -> str:
    if token.startswith("'"):
        return token[1:-1] if len(token) > 2 else "'"
    hour12 = moment.hour % 12 or 12
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    table = {
        "YYYY": f"{moment.year:04d}", "YY": f"{moment.year % 100:02d}",
        "MMMM": moment.strftime("%B"), "MMM": moment.strftime("%b"),
        "MM": f"{moment.month:02d}", "M": str(moment.month),
        "DD": f"{moment.day:02d}", "D": str(moment.day), "EEEE": moment.strftime("%A"), "EEE": moment.strftime("%a"),
        "hh": f"{moment.hour:02d}", "h": str(moment.hour), "HH": f"{hour12:02d}", "H": str(hour12),
        "mm": f"{moment.minute:02d}", "m": str(moment.minute), "ss": f"{moment.second:02d}", "s": str(moment.second),
        "AA": "AM" if moment.hour < 12 else "PM", "aa": "am" if moment.hour < 12 else "pm",
        "ZZZZZ": f"{zone[:3]}:{zone[3:]}", "ZZZZ": zone, "ZZZ": "UTC" if minutes == 0 else zone,
        "Z": "Z" if minutes == 0 else f"{zone[:3]}:{zone[3:]}",
    }
    return table[token]
