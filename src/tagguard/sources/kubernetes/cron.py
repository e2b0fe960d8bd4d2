"""How many times a month a CronJob schedule fires (for pricing run-to-completion GPU jobs)."""
from __future__ import annotations


DAYS_PER_MONTH = 730.0 / 24.0  # 30.42, the same month as 730 h
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7.0

_MACROS = {
    "@yearly": 1 / 12, "@annually": 1 / 12, "@monthly": 1.0, "@weekly": WEEKS_PER_MONTH,
    "@daily": DAYS_PER_MONTH, "@midnight": DAYS_PER_MONTH, "@hourly": DAYS_PER_MONTH * 24,
}
_NAMES = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "oct": 10, "nov": 11, "dec": 12, "sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
}


def _field(text: str, lo: int, hi: int) -> set[int] | None:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, s = part.partition("/")
            if not s.isdigit() or int(s) == 0:
                return None
            step = int(s)
        a: int | None
        b: int | None
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            x, _, y = part.partition("-")
            a, b = _num(x), _num(y)
            if a is None or b is None:
                return None
        else:
            a = _num(part)
            if a is None:
                return None
            b = hi if step > 1 else a
        if a < lo or b > hi + (1 if hi == 6 else 0) or a > b:
            return None
        out.update(range(a, b + 1, step))
    return out


def _num(text: str) -> int | None:
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    return _NAMES.get(text)


def runs_per_month(schedule: object) -> float | None:
    """Average runs per month of a cron schedule; ``None`` when it cannot be read."""
    if not isinstance(schedule, str):
        return None
    parts: list[str] = schedule.split()
    if parts and parts[0].startswith(("CRON_TZ=", "TZ=")):
        parts = parts[1:]
    if len(parts) == 1 and parts[0].lower() in _MACROS:
        return _MACROS[parts[0].lower()]
    if len(parts) != 5:
        return None
    minute, hour, dom, month, dow = parts
    mins, hours = _field(minute, 0, 59), _field(hour, 0, 23)
    doms, months, dows = _field(dom, 1, 31), _field(month, 1, 12), _field(dow, 0, 6)
    if None in (mins, hours, doms, months, dows):
        return None
    dows = {0 if d == 7 else d for d in dows}  # type: ignore[union-attr]
    per_day = len(mins) * len(hours)  # type: ignore[arg-type]
    dom_any, dow_any = dom in ("*", "?"), dow in ("*", "?")
    if dom_any and dow_any:
        days = DAYS_PER_MONTH
    elif dom_any:
        days = len(dows) * WEEKS_PER_MONTH
    elif dow_any:
        days = float(len(doms))  # type: ignore[arg-type]
    else:  # cron fires when either matches
        days = min(DAYS_PER_MONTH, len(doms) + len(dows) * WEEKS_PER_MONTH)  # type: ignore[arg-type]
    return per_day * days * len(months) / 12.0  # type: ignore[arg-type]
