"""Streaming aggregation of model calls: cost, tokens, callers, anomalies.

Memory is bounded by the number of distinct (day, caller, model) cells and
callers, not by the number of calls.  Prompt fingerprints per caller-day are
kept exactly up to ``top_keys_cap`` distinct values; beyond that the smallest
half is dropped (the report then says the ranking is approximate and by how
many tokens at most).
"""
from __future__ import annotations

import enum
from datetime import date, timedelta
from typing import Any, Final
from collections.abc import Iterable, Sequence

from tagguard.llm.analysis.ingest import Call
from tagguard.llm.analysis.prices import PriceTable, Rates

UNTAGGED = "(untagged)"
NONE = "(none)"
# cell fields
CALLS, IN, OUT, CR, CW, COST, UNPRICED, UNPRICED_TOK, FROM_RECORD, FREE = range(10)
_NFIELDS = 10


class _Missing(enum.Enum):
    MISSING = 0


_MISSING: Final = _Missing.MISSING  # "no rates looked up yet" (None means looked up and unknown)


class Caller:
    __slots__ = ("idx", "tags", "service", "issues", "untagged", "missing", "first_file", "first_line",
                 "first_day", "last_day")

    def __init__(self, idx: int, tags: dict[str, str], service: str | None, issues: tuple, file: str,
                 line: int | None, day: str):
        self.idx = idx
        self.tags = tags
        self.service = service
        self.issues = issues
        self.missing = [i.tag for i in issues if i.category == "missing_tag" and i.tag]
        self.untagged = bool(self.missing)
        self.first_file, self.first_line = file, line
        self.first_day = self.last_day = day

    def label(self) -> str:
        parts = []
        if self.service:
            parts.append(f"service={self.service}")
        parts.extend(f"{k}={v}" for k, v in sorted(self.tags.items()))
        return ", ".join(parts) if parts else "(no tags, no service)"


class Aggregator:
    def __init__(self, prices: PriceTable, taxonomy: Any,
                 dims: Sequence[str] = ("business-unit", "project", "environment"),
                 since: str | None = None, until: str | None = None, top_keys_cap: int = 2000):
        self.prices = prices
        self.taxonomy = taxonomy
        self.dims = tuple(dims)
        self.since, self.until = since, until
        self.cap = top_keys_cap
        self.callers: dict[tuple, Caller] = {}
        self.caller_list: list[Caller] = []
        self.cube: dict[tuple[str, int, str | None], list] = {}
        self.fps: dict[tuple[str, int], dict[str, int]] = {}
        self.fp_error: dict[tuple[str, int], int] = {}
        # -> [calls, tokens, file, line, from_record]
        self.unknown_models: dict[tuple[str | None, str | None], list] = {}
        self.rates: dict[tuple[str | None, str | None], Rates | None] = {}
        self.hourly_cells: dict[tuple[str, str | None], int] = {}  # (day, model) -> tokens; private endpoints
        self.filtered = 0
        self._fast_callers: dict[tuple, Caller] = {}

    # -- hot path ----------------------------------------------------------------------
    def add(self, c: Call) -> None:
        day = c.day
        if (self.since and day < self.since) or (self.until and day > self.until):
            self.filtered += 1
            return
        tags = c.tags
        ckey = (c.service, tuple(sorted(tags.items())) if len(tags) > 1 else tuple(tags.items()))
        caller = self.callers.get(ckey)
        if caller is None:
            issues = self.taxonomy.evaluate(tags) if self.taxonomy is not None else ()
            caller = Caller(len(self.caller_list), dict(tags), c.service, issues, c.file, c.line, day)
            self.callers[ckey] = caller
            self.caller_list.append(caller)
        if c.service is None or type(c.service) is str:
            fast_key = (c.service, tuple(tags.items()))
            if fast_key not in self._fast_callers and all(type(v) is str for v in tags.values()):
                self._fast_callers[fast_key] = caller
        else:
            if day < caller.first_day:
                caller.first_day = day
            elif day > caller.last_day:
                caller.last_day = day
        model = c.model
        rk = (model, c.provider)
        if rk in self.rates:
            rates = self.rates[rk]
        else:
            rates = self.prices.resolve(model, c.provider)
            self.rates[rk] = rates
        key = (day, caller.idx, model)
        cell = self.cube.get(key)
        if cell is None:
            cell = self.cube[key] = [0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0]
        inp, out = c.input_tokens, c.output_tokens
        cell[CALLS] += 1
        cell[IN] += inp
        cell[OUT] += out
        cell[CR] += c.cache_read
        cell[CW] += c.cache_write
        if c.free:
            cell[FREE] += 1
        elif rates is not None:
            if rates.hourly_usd is not None:
                hk = (day, rates.key)
                self.hourly_cells[hk] = self.hourly_cells.get(hk, 0) + inp + out
            else:
                cell[COST] += rates.cost(inp, out, c.cache_read, c.cache_write, c.batch)
        else:
            u = self.unknown_models.get(rk)
            if u is None:
                u = self.unknown_models[rk] = [0, 0, c.file, c.line, 0, 0.0]
            u[0] += 1
            u[1] += inp + out
            if c.recorded_cost is not None:
                cell[COST] += c.recorded_cost
                cell[FROM_RECORD] += 1
                u[4] += 1
                u[5] += c.recorded_cost
            else:
                cell[UNPRICED] += 1
                cell[UNPRICED_TOK] += inp + out
        fp = c.fingerprint
        if fp:
            fk = (day, caller.idx)
            d = self.fps.get(fk)
            if d is None:
                d = self.fps[fk] = {}
            d[fp] = d.get(fp, 0) + out
            if len(d) > self.cap:
                self._prune(fk, d)

    def fast_add(self, d: dict[str, Any]) -> bool:
        """The hot path for a tagguard record dict from a caller and model seen before.

        Returns False (the record then takes the general path through ``add``) for anything
        unusual: a new caller or model, a timestamp not in the recorder's own form, batch or
        hourly pricing, non-integer counts, a date filter.
        """
        ts = d["ts"]
        if (type(ts) is not str or len(ts) != 24 or ts[23] != "Z" or ts[4] != "-" or ts[7] != "-"
                or self.since or self.until):
            return False
        tags = d["tags"]
        if type(tags) is not dict:
            return False
        caller = self._fast_callers.get((d.get("service"), tuple(tags.items())))
        if caller is None:
            return False
        inp = d.get("input_tokens")
        out = d.get("output_tokens")
        cr = d.get("cache_read_tokens") or 0
        cw = d.get("cache_write_tokens") or 0
        if type(inp) is not int or type(out) is not int or type(cr) is not int or type(cw) is not int \
                or inp < 0 or out < 0 or cr < 0 or cw < 0 or d.get("batch"):
            return False
        model = d.get("model")
        rk = (model, d.get("provider"))
        rates = self.rates.get(rk, _MISSING)
        if rates is _MISSING or (rates is not None and rates.hourly_usd is not None):
            return False
        day = ts[:10]
        if not (day[:4].isdigit() and day[5:7].isdigit() and day[8:10].isdigit()):
            return False
        if day > caller.last_day:
            caller.last_day = day
        elif day < caller.first_day:
            caller.first_day = day
        key = (day, caller.idx, model)
        cell = self.cube.get(key)
        if cell is None:
            cell = self.cube[key] = [0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0]
        cell[0] += 1
        cell[1] += inp
        cell[2] += out
        cell[3] += cr
        cell[4] += cw
        if rates is None:
            u = self.unknown_models[rk]
            u[0] += 1
            u[1] += inp + out
            cell[6] += 1
            cell[7] += inp + out
        else:
            fresh = inp - cr - cw
            if fresh < 0:
                fresh = 0
            cell[5] += fresh * rates.input + out * rates.output + cr * rates.cache_read + cw * rates.cache_write
        fp = d.get("prompt_fingerprint")
        if fp:
            fk = (day, caller.idx)
            fd = self.fps.get(fk)
            if fd is None:
                fd = self.fps[fk] = {}
            fd[fp] = fd.get(fp, 0) + out
            if len(fd) > self.cap:
                self._prune(fk, fd)
        return True

    def add_all(self, calls: Iterable[Call]) -> None:
        add = self.add
        for c in calls:
            add(c)

    def _prune(self, fk: tuple[str, int], d: dict[str, int]) -> None:
        ranked = sorted(d.items(), key=lambda kv: kv[1], reverse=True)
        keep = ranked[: self.cap // 2]
        dropped_max = ranked[self.cap // 2][1] if len(ranked) > self.cap // 2 else 0
        d.clear()
        d.update(keep)
        self.fp_error[fk] = max(self.fp_error.get(fk, 0), dropped_max)

    # -- after the pass ------------------------------------------------------------------
    def finish(self) -> None:
        """Spread private-endpoint hourly cost over the cells that used the endpoint that day."""
        if not self.hourly_cells:
            return
        hourly: dict[str | None, tuple[str, float]] = {}  # model -> (rates key, USD per day used)
        for (m, _p), r in self.rates.items():
            if r is not None and r.hourly_usd is not None:
                hourly[m] = (r.key, r.hourly_usd * r.hours_per_day)
        for (day, _ci, model), cell in self.cube.items():
            endpoint = hourly.get(model)
            if endpoint is None:
                continue
            rates_key, day_cost = endpoint
            total = self.hourly_cells.get((day, rates_key), 0)
            share = (cell[IN] + cell[OUT]) / total if total else 0.0
            cell[COST] += day_cost * share

    def dim_value(self, caller: Caller, dim: str, model: str | None) -> str:
        if dim == "model":
            return model or NONE
        if dim == "service":
            return caller.service or NONE
        v = caller.tags.get(dim)
        if v:
            return v
        return UNTAGGED

    def rows(self, group_by: Sequence[str], period: str = "day") -> list[dict[str, Any]]:
        """Cost and tokens per period and dimension values, sorted by period then cost."""
        acc: dict[tuple, list] = {}
        wk: dict[str, str] = {}
        for (day, ci, model), cell in self.cube.items():
            caller = self.caller_list[ci]
            if period == "day":
                p = day
            elif period == "week":
                week = wk.get(day)
                if week is None:
                    y, w, _ = date.fromisoformat(day).isocalendar()
                    week = wk[day] = f"{y}-W{w:02d}"
                p = week
            elif period == "month":
                p = day[:7]
            else:
                p = "all"
            key = (p,) + tuple(self.dim_value(caller, d, model) for d in group_by)
            a = acc.get(key)
            if a is None:
                a = acc[key] = [0] * _NFIELDS
                a[COST] = 0.0
            for i in range(_NFIELDS):
                a[i] += cell[i]
        out = []
        for key, a in acc.items():
            row: dict[str, Any] = {"period": key[0]}
            for d, v in zip(group_by, key[1:]):
                row[d] = v
            row.update(metrics(a))
            out.append(row)
        out.sort(key=lambda r: (r["period"], -r["cost_usd"]))
        return out

    def caller_totals(self) -> dict[int, list]:
        acc: dict[int, list] = {}
        for (_day, ci, _model), cell in self.cube.items():
            a = acc.get(ci)
            if a is None:
                a = acc[ci] = [0] * _NFIELDS
                a[COST] = 0.0
            for i in range(_NFIELDS):
                a[i] += cell[i]
        return acc

    def totals(self) -> tuple[list, list]:
        """(all calls, untagged calls) metric vectors."""
        tot: list[float] = [0] * _NFIELDS
        unt: list[float] = [0] * _NFIELDS
        tot[COST] = unt[COST] = 0.0
        for (_day, ci, _model), cell in self.cube.items():
            for i in range(_NFIELDS):
                tot[i] += cell[i]
            if self.caller_list[ci].untagged:
                for i in range(_NFIELDS):
                    unt[i] += cell[i]
        return tot, unt

    def days(self) -> list[str]:
        return sorted({k[0] for k in self.cube})

    # -- anomalies ----------------------------------------------------------------------
    def anomalies(self, group_by: Sequence[str] = ("business-unit", "project"), factor: float = 3.0,
                  window: int = 7, min_history: int = 3, min_usd: float = 1.0, top: int = 5) -> list[dict[str, Any]]:
        """(group, day) cost above ``factor`` x the median of the ``window`` days before it.

        Days without calls inside the window count as 0 once the group has been seen; at least
        ``min_history`` earlier days of the group (seen or zero) are needed; days below ``min_usd``
        are never flagged.
        """
        series: dict[tuple, dict[str, float]] = {}
        out_tok: dict[tuple, dict[str, int]] = {}
        members: dict[tuple, dict[str, dict[int, list]]] = {}
        for (day, ci, _model), cell in self.cube.items():
            caller = self.caller_list[ci]
            g = tuple(self.dim_value(caller, d, None) for d in group_by)
            s = series.setdefault(g, {})
            s[day] = s.get(day, 0.0) + cell[COST]
            o = out_tok.setdefault(g, {})
            o[day] = o.get(day, 0) + cell[OUT]
            m = members.setdefault(g, {}).setdefault(day, {})
            a = m.get(ci)
            if a is None:
                a = m[ci] = [0, 0, 0.0]
            a[0] += cell[CALLS]
            a[1] += cell[OUT]
            a[2] += cell[COST]
        found = []
        for g, s in series.items():
            first = min(s)
            d0 = date.fromisoformat(first)
            for day, cost in s.items():
                if cost < min_usd or cost <= 0:
                    continue
                d = date.fromisoformat(day)
                hist = []
                for k in range(1, window + 1):
                    prev = d - timedelta(days=k)
                    if prev < d0:
                        break
                    hist.append(s.get(prev.isoformat(), 0.0))
                if len(hist) < min_history:
                    continue
                med = _median(hist)
                if med <= 0 or cost <= factor * med:
                    continue
                found.append(self._anomaly(g, group_by, day, cost, med, hist, out_tok[g], members[g][day], top))
        found.sort(key=lambda a: (-a["ratio"], a["date"]))
        return found

    def _anomaly(self, g, group_by, day, cost, med, hist, out_tok, members, top) -> dict[str, Any]:
        callers = sorted(members.items(), key=lambda kv: kv[1][1], reverse=True)
        top_callers = [{"caller": self.caller_list[ci].label(), "calls": v[0], "output_tokens": v[1],
                        "cost_usd": round(v[2], 4)} for ci, v in callers[:top]]
        fps: dict[str, int] = {}
        approx = 0
        for ci in members:
            d = self.fps.get((day, ci))
            if d:
                for fp, n in d.items():
                    fps[fp] = fps.get(fp, 0) + n
                approx = max(approx, self.fp_error.get((day, ci), 0))
        out: dict[str, Any] = {"group": dict(zip(group_by, g)), "date": day, "cost_usd": round(cost, 4),
                               "trailing_median_usd": round(med, 4), "ratio": round(cost / med, 2),
                               "history_days": len(hist), "output_tokens": out_tok.get(day, 0),
                               "top_callers": top_callers}
        if fps:
            ranked = sorted(fps.items(), key=lambda kv: kv[1], reverse=True)[:top]
            out["top_prompts"] = [{"prompt_fingerprint": fp, "output_tokens": n} for fp, n in ranked]
            if approx:
                out["top_prompts_approximate"] = {"max_error_output_tokens": approx}
        return out


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    m = n // 2
    return s[m] if n % 2 else (s[m - 1] + s[m]) / 2.0


def metrics(a: list) -> dict[str, Any]:
    out: dict[str, Any] = {
        "calls": a[CALLS],
        "input_tokens": a[IN],
        "output_tokens": a[OUT],
        "cache_read_tokens": a[CR],
        "cache_write_tokens": a[CW],
        "cost_usd": round(a[COST], 6),
    }
    if a[UNPRICED]:
        out["unpriced_calls"] = a[UNPRICED]
        out["unpriced_tokens"] = a[UNPRICED_TOK]
    if a[FROM_RECORD]:
        out["priced_from_record_calls"] = a[FROM_RECORD]
    if a[FREE]:
        out["proxy_cache_hits"] = a[FREE]
    return out
