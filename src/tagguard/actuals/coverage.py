"""Dollar-weighted allocation coverage of AI spend on the bill.

Each distinct tag map of an AI charge is validated ONCE against the same taxonomy a scan uses
(``Taxonomy.evaluate``: required keys, allowed values, patterns, conditionals), after the provider's
tag-key prefixes (``user:`` by default) are stripped. A charge is *allocated* when its tags raise
no taxonomy issue; it is allocated *by key K* when no issue names K. Shares are dollar-weighted
over the configured cost column and are computed per currency, never summed across currencies.

``analyse(source, config, settings)`` runs ``sql/totals.sql`` and ``sql/rollup.sql`` and returns
an ``Analysis`` that ``report``/``allocate``/``export`` read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from decimal import Decimal
from typing import Any

from tagguard.actuals import BillError

ZERO = Decimal(0)
UNALLOCATED = "(unallocated)"
NO_ACCOUNT = "(no SubAccountId)"
MODES = ("showback", "chargeback")
BASES = ("gpu", "tokens", "ai")


# --- settings ------------------------------------------------------------------

@dataclass
class Settings:
    cost_column: str = "EffectiveCost"
    tag_prefixes: tuple[str, ...] = ("user:",)
    dimensions: dict[str, str] = field(default_factory=dict)  # label -> tag key
    team_key: str = "business-unit"
    env_key: str = "environment"
    shared: dict[str, Any] | None = None
    allocate_shared_by: str = "gpu"
    modes: dict[str, str] = field(default_factory=dict)  # environment value -> showback|chargeback
    default_mode: str = "showback"
    ai_services: dict[str, Any] | None = None
    top: int = 10
    memory_limit: str = "1GB"
    threads: int = 2


def settings_from_config(config, **overrides: Any) -> Settings:
    from tagguard.cost.showback import dimensions

    raw = (config.section("bill") if config is not None else None) or {}
    if not isinstance(raw, dict):
        raise BillError("bill: expected a mapping")
    dims = dimensions(config)
    s = Settings(dimensions=dict(dims))
    s.cost_column = str(raw.get("cost_column") or s.cost_column)
    if "tag_prefixes" in raw:
        s.tag_prefixes = tuple(str(p) for p in raw["tag_prefixes"] or ())
    sb = (config.section("showback") if config is not None else None) or {}
    allocate_by = sb.get("allocate_by") if isinstance(sb, dict) else None
    s.team_key = str(raw.get("team_key") or (dims.get(allocate_by) if allocate_by in dims else None)
                     or next(iter(dims.values()), "business-unit"))
    s.env_key = str(raw.get("environment_key") or ("environment" if "environment" in dims.values() else s.env_key))
    s.shared = raw.get("shared") or None
    s.allocate_shared_by = str(raw.get("allocate_shared_by") or "gpu")
    if s.allocate_shared_by not in BASES:
        raise BillError(f"bill.allocate_shared_by: {s.allocate_shared_by!r} is not one of {', '.join(BASES)}")
    modes = raw.get("modes") or {}
    for env, mode in modes.items():
        if mode not in MODES:
            raise BillError(f"bill.modes.{env}: {mode!r} is not one of {', '.join(MODES)}")
    s.default_mode = str(modes.get("default", "showback"))
    s.modes = {str(k): str(v) for k, v in modes.items() if k != "default"}
    s.ai_services = raw.get("ai_services") or None
    s.top = int(raw.get("top", 10))
    s.memory_limit = str(raw.get("memory_limit") or "1GB")
    s.threads = int(raw.get("threads") or 2)
    for key, value in overrides.items():
        if value is not None:
            setattr(s, key, value)
    return s


# --- tag maps ---------------------------------------------------------------------

@dataclass
class TagVerdict:
    tags: dict[str, str]
    allocated: bool
    ok_keys: frozenset  # required keys with no issue
    problems: tuple[str, ...]  # one text per issue (taxonomy messages; already plain text)
    fixes: tuple[str, ...]
    malformed: bool = False
    bad_keys: frozenset = frozenset()  # keys some issue names


def parse_tags(text: str | None, prefixes: tuple[str, ...]) -> tuple[dict[str, str] | None, list[str]]:
    """FOCUS Tags JSON -> {key: value as text} with provider prefixes stripped; None if malformed."""
    notes: list[str] = []
    if text is None or text.strip() in ("", "null"):
        return {}, notes
    try:
        data = json.loads(text)
    except ValueError:
        return None, ["Tags is not valid JSON"]
    if not isinstance(data, dict):
        return None, [f"Tags is a JSON {type(data).__name__}, not an object"]
    out: dict[str, str] = {}
    prefixed: dict[str, tuple[str, str]] = {}
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            notes.append(f"tag `{key}` has a {type(value).__name__} value;"
                         f" FOCUS allows only strings, numbers, booleans")
            value = json.dumps(value, sort_keys=True)
        elif value is True:
            value = "true"
        elif value is False:
            value = "false"
        elif value is None:
            value = ""
        else:
            value = str(value) if not isinstance(value, str) else value
        bare = next((key[len(p):] for p in prefixes if p and key.startswith(p)), None)
        if bare is not None and bare:
            prefixed[bare] = (key, value)
        else:
            out[key] = value
    for bare, (key, value) in prefixed.items():
        if bare in out and out[bare] != value:
            notes.append(f"`{key}` = {json.dumps(value)} and `{bare}` = {json.dumps(out[bare])} disagree;"
                         f" `{bare}` is used")
            continue
        out.setdefault(bare, value)
    return out, notes


class TagJudge:
    def __init__(self, taxonomy, prefixes: tuple[str, ...]):
        self.taxonomy = taxonomy
        self.prefixes = prefixes
        self.required = list(taxonomy.required)
        self._cache: dict[tuple[str | None, str], TagVerdict] = {}

    def judge(self, text: str | None, style: str) -> TagVerdict:
        key = (text, style)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._judge(text, style)
            self._cache[key] = hit
        return hit

    def _judge(self, text: str | None, style: str) -> TagVerdict:
        tags, notes = parse_tags(text, self.prefixes)
        if tags is None:
            return TagVerdict({}, False, frozenset(), tuple(notes), ("export the Tags column as a JSON object",),
                              malformed=True)
        issues = self.taxonomy.evaluate(tags, style=style)
        bad_keys = set()
        map_level = False
        for i in issues:
            if i.tag:
                bad_keys.add(i.tag)
            bad_keys.update(i.tags)
            if not i.tag and not i.tags:
                map_level = True
        ok = frozenset(k for k in self.required if k not in bad_keys)
        problems = tuple(notes) + tuple(i.message for i in issues)
        fixes = tuple(dict.fromkeys(i.fix for i in issues if i.fix))
        allocated = not issues and not map_level
        if style == "azure":  # Azure keys compare case-insensitively: report values under the taxonomy's spelling
            folded = {k.casefold(): k for k in list(self.taxonomy.properties) + self.required}
            tags = {folded.get(k.casefold(), k): v for k, v in tags.items()}
        return TagVerdict(tags, allocated, ok, problems, fixes, bad_keys=frozenset(bad_keys))


@lru_cache(maxsize=256)
def style_of(provider: str | None) -> str:
    p = (provider or "").lower()
    if "microsoft" in p or "azure" in p:
        return "azure"
    if "google" in p or "gcp" in p:
        return "gcp"
    return "aws"


# --- analysis ------------------------------------------------------------------------

@dataclass
class Charge:
    """One rollup row with its tag verdict."""
    month: str
    currency: str
    account: str
    service: str
    kind: str  # ai | shared (| node_group before _node_group_disks)
    usage: str  # gpu | tokens | ai
    bucket: str  # spot | committed | on_demand | other
    category: str
    resource_id: str | None
    tags_text: str | None
    training: bool
    cost: Decimal
    credits: Decimal
    rows: int
    verdict: TagVerdict

    def value(self, key: str) -> str | None:
        """The tag's value when it can be used for allocation (present, no taxonomy issue), else None."""
        v = self.verdict
        if v.malformed or key in v.bad_keys:
            return None
        value = v.tags.get(key)
        return value if value not in (None, "") else None


@dataclass
class Analysis:
    cost_column: str
    files: list[str]
    settings: Settings
    required: list[str]
    charges: list[Charge]
    totals: list[dict[str, Any]]
    problems: list[str]
    notes: list[str]
    rejected_rows: int = 0


def analyse(source, config, settings: Settings) -> Analysis:
    from tagguard.actuals import ai_spend, sqlfiles
    from tagguard.actuals.focus import collect_rejects

    taxonomy = config.taxonomy()
    rules = ai_spend.load_rules(settings.ai_services)
    slots = ai_spend.slots(rules, settings.shared)
    judge = TagJudge(taxonomy, settings.tag_prefixes)
    required = list(taxonomy.required)
    slots["charges"] = source.relation
    try:
        totals_rows = source.run(sqlfiles.render("totals.sql", {"charges": source.relation})).fetchall()
        slots["classes"] = source.materialize("tg_classes", sqlfiles.render("classes.sql", slots))
        cur = source.run(sqlfiles.render("rollup.sql", slots))
        charges: list[Charge] = []
        while True:
            batch = cur.fetchmany(10_000)
            if not batch:
                break
            for (month, currency, account, service, provider, kind, usage, bucket, category, rid, tags, training,
                 cost, credits, n) in batch:
                verdict = judge.judge(tags, style_of(provider))
                charges.append(Charge(month, currency or "(no currency)", account or NO_ACCOUNT,
                                      service or "(no ServiceName)",
                                      kind, usage, bucket, category or "", rid, tags, bool(training),
                                      _dec(cost), _dec(credits), int(n), verdict))
    except BillError:
        raise
    except Exception as exc:
        from tagguard.actuals.focus import _first_line

        shown_files = ", ".join(source.files[:3]) + (" ..." if len(source.files) > 3 else "")
        raise BillError(f"query failed on {shown_files}: {_first_line(exc)}") from None
    charges = _node_group_disks(charges, rules["node_group_tag_keys"])
    collect_rejects(source)
    totals = []
    for month, currency, cost, credits, n, bad_cost, bad_period, first_bad, last_day in totals_rows:
        totals.append({"month": month, "currency": currency or "(no currency)", "cost": _dec(cost),
                       "last_day": last_day,
                       "credits": _dec(credits), "rows": int(n), "bad_cost_rows": int(bad_cost or 0),
                       "bad_period_rows": int(bad_period or 0), "first_bad_file": first_bad})
    problems = list(source.problems)
    for t in totals:
        if t["bad_cost_rows"]:
            problems.append(f"{t['first_bad_file']}: {t['bad_cost_rows']} row(s)"
                            f" with a non-numeric {settings.cost_column} "
                            f"({t['currency']}, {t['month'] or 'no month'}) not counted")
        if t["bad_period_rows"]:
            problems.append(f"{t['first_bad_file']}: {t['bad_period_rows']} row(s)"
                            f" with an unreadable ChargePeriodStart "
                            f"not counted")
    return Analysis(settings.cost_column, list(source.files), settings, required, charges, totals, problems,
                    list(source.notes), source.rejected_rows)


def _dec(x: Any) -> Decimal:
    if x is None:
        return ZERO
    return x if isinstance(x, Decimal) else Decimal(str(x))


def _node_group_disks(charges: list[Charge], keys: list[str]) -> list[Charge]:
    """Keep a 'node_group' candidate (a charge tagged with a node-group key, not AI by itself) only when
    a GPU instance charge of the bill carries the same key and value: the disks (EBS) and other
    charges of GPU node groups are AI spend; those of CPU node groups are not."""
    gpu_groups = set()
    for ch in charges:
        if ch.kind == "ai" and ch.usage == "gpu":
            for k in keys:
                value = ch.verdict.tags.get(k)
                if value:
                    gpu_groups.add((k, value))
    out = []
    for ch in charges:
        if ch.kind == "node_group":
            if not any((k, ch.verdict.tags.get(k)) in gpu_groups for k in keys):
                continue
            ch.kind, ch.usage = "ai", "ai"
        out.append(ch)
    return out


# --- coverage report ------------------------------------------------------------------

def _num(x: Decimal) -> float:
    return float(round(x, 6))


def _share(part: Decimal, whole: Decimal) -> float | None:
    if whole <= 0:
        return None
    return round(float(part / whole), 6)


def _add(d: dict, key, cost: Decimal, allocated: Decimal) -> None:
    slot = d.setdefault(key, [ZERO, ZERO])
    slot[0] += cost
    slot[1] += allocated


def _table(d: dict, label: str) -> list[dict[str, Any]]:
    rows = [{label: k, "ai_cost": _num(v[0]), "allocated": _num(v[1]), "coverage": _share(v[1], v[0])}
            for k, v in d.items()]
    rows.sort(key=lambda r: (-r["ai_cost"], str(r[label])))
    return rows


def months_between(months: list[str]) -> list[str]:
    ms = sorted(m for m in months if m)
    if not ms:
        return []
    y, m = map(int, ms[0].split("-"))
    end = ms[-1]
    out = []
    while True:
        cur = f"{y:04d}-{m:02d}"
        out.append(cur)
        if cur >= end or len(out) > 1200:
            return out
        m += 1
        if m == 13:
            y, m = y + 1, 1


def coverage_report(a: Analysis, resource_map: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    s = a.settings
    team_key = s.team_key
    per_cur: dict[str, dict[str, Any]] = {}
    malformed_rows = 0
    malformed_cost: dict[str, Any] = {}
    malformed_resources: list[str] = []
    training: dict[tuple[str, str], dict[str, Any]] = {}
    for t in a.totals:
        c = per_cur.setdefault(t["currency"], _empty_currency(a.required))
        c["bill_total"] += t["cost"]
    for ch in a.charges:
        if ch.currency not in per_cur:
            per_cur[ch.currency] = _empty_currency(a.required)
        c = per_cur[ch.currency]
        v = ch.verdict
        if v.malformed:
            malformed_rows += ch.rows
            malformed_cost[ch.currency] = malformed_cost.get(ch.currency, ZERO) + ch.cost
            if ch.resource_id and len(malformed_resources) < 20 and ch.resource_id not in malformed_resources:
                malformed_resources.append(ch.resource_id)
        if ch.kind == "shared":
            c["shared_total"] += ch.cost
            continue
        alloc = ch.cost if v.allocated else ZERO
        c["ai_total"] += ch.cost
        c["allocated"] += alloc
        c["credits"] += ch.credits
        for k in a.required:
            if k in v.ok_keys and not v.malformed:
                c["by_key"][k] += ch.cost
        team = ch.value(team_key) or UNALLOCATED
        _add(c["by_month"], ch.month, ch.cost, alloc)
        _add(c["by_account"], ch.account, ch.cost, alloc)
        _add(c["by_service"], ch.service, ch.cost, alloc)
        _add(c["by_team"], team, ch.cost, alloc)
        pb = c["pricing_by_team"].setdefault(team, {"spot": ZERO, "committed": ZERO, "on_demand": ZERO, "other": ZERO})
        pb[ch.bucket] += ch.cost
        if not v.allocated:
            key = ch.resource_id or f"(no ResourceId: {ch.service})"
            u = c["unallocated"].setdefault(key, {"cost": ZERO, "services": set(), "accounts": set(),
                                                  "problems": set(), "fixes": set(), "has_id": bool(ch.resource_id)})
            u["cost"] += ch.cost
            u["services"].add(ch.service)
            u["accounts"].add(ch.account)
            u["problems"].update(v.problems)
            u["fixes"].update(v.fixes)
        if ch.training and ch.resource_id:
            tr = training.setdefault((ch.currency, ch.resource_id),
                                     {"resource_id": ch.resource_id, "currency": ch.currency,
                                      "cost": ZERO, "team": team, "months": set()})
            tr["cost"] += ch.cost
            tr["months"].add(ch.month)
    currencies = {}
    for cur, c in sorted(per_cur.items()):
        top = sorted(c["unallocated"].items(), key=lambda kv: (-kv[1]["cost"], kv[0]))[: s.top]
        top_rows = []
        for rid, u in top:
            row = {"resource_id": rid, "cost": _num(u["cost"]), "service": _one(u["services"], "services"),
                   "account": _one(u["accounts"], "accounts"),
                   "problems": sorted(u["problems"], key=_problem_order) or ["no tags"], "fixes": sorted(u["fixes"])}
            hit = (resource_map or {}).get(rid) if u["has_id"] else None
            if hit:
                row.update({k: hit[k] for k in ("file", "line", "address") if hit.get(k) is not None})
            top_rows.append(row)
        pricing = []
        for team, b in c["pricing_by_team"].items():
            total = sum(b.values(), ZERO)
            pricing.append({"team": team, "total": _num(total), **{k: _num(x) for k, x in b.items()},
                            **{f"{k}_share": _share(x, total) for k, x in b.items()}})
        pricing.sort(key=lambda r: (-r["total"], r["team"]))
        months = [m for m in c["by_month"] if m]
        currencies[cur] = {
            "bill_total": _num(c["bill_total"]),
            "ai_total": _num(c["ai_total"]),
            "ai_share_of_bill": _share(c["ai_total"], c["bill_total"]),
            "allocated": _num(c["allocated"]),
            "coverage": _share(c["allocated"], c["ai_total"]),
            "credits": _num(c["credits"]),
            "shared_total": _num(c["shared_total"]),
            "by_key": {k: {"allocated": _num(x), "coverage": _share(x, c["ai_total"])} for k, x in c["by_key"].items()},
            "by_month": sorted(_table(c["by_month"], "month"), key=lambda r: str(r["month"])),
            "by_account": _table(c["by_account"], "account"),
            "by_service": _table(c["by_service"], "service"),
            "by_team": _table(c["by_team"], "team"),
            "pricing_by_team": pricing,
            "top_unallocated": top_rows,
            "unallocated_resources": len(c["unallocated"]),
            "empty_months": [m for m in months_between(months) if m not in c["by_month"]],
        }
    all_months = sorted({t["month"] for t in a.totals if t["month"]})
    return {
        "kind": "tagguard-bill-coverage",
        "cost_column": a.cost_column,
        "files": a.files,
        "team_key": team_key,
        "required_keys": a.required,
        "tag_prefixes": list(s.tag_prefixes),
        "months": all_months,
        "empty_bill_months": [m for m in months_between(all_months) if m not in all_months],
        "currencies": currencies,
        "malformed_tags": {"rows": malformed_rows, "cost": {k: _num(v) for k, v in malformed_cost.items()},
                           "resources": malformed_resources},
        "training_runs": sorted(({**t, "cost": _num(t["cost"]), "months": sorted(t["months"])}
                                 for t in training.values()),
                                key=lambda t: (-t["cost"], t["resource_id"]))[:50],
        "problems": a.problems,
        "notes": a.notes,
        "rejected_rows": a.rejected_rows,
        "empty": not a.totals,
    }


def _one(values: set, plural: str) -> str:
    return next(iter(values)) if len(values) == 1 else f"({len(values)} {plural})"


def _problem_order(text: str):
    """Malformed-JSON notes first, then missing keys, then invalid values; alphabetical within."""
    rank = 0 if text.startswith("Tags ") else 1 if "missing" in text else 2
    return (rank, text)


def _empty_currency(required: list[str]) -> dict[str, Any]:
    return {"bill_total": ZERO, "ai_total": ZERO, "allocated": ZERO, "credits": ZERO, "shared_total": ZERO,
            "by_key": {k: ZERO for k in required}, "by_month": {}, "by_account": {}, "by_service": {}, "by_team": {},
            "pricing_by_team": {}, "unallocated": {}}


# --- ResourceId -> file:line ----------------------------------------------------------

def resource_map(scan_reports: list[str], states: list[str]) -> dict[str, dict[str, Any]]:
    """ResourceId -> {file, line, address} from tagguard JSON reports (scan or drift) and Terraform states.

    Keys indexed: a resource's address, ``meta.arn``/``meta.id``/``meta.instance_id``/``meta.resource_id``,
    and the last path segment of an ARN (``i-0abc`` for ``arn:...:instance/i-0abc``). A state maps an ARN/id to
    an address, which a scan report then locates."""
    by_addr: dict[str, dict[str, Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for path in scan_reports:
        data = _read_json(path, "scan report")
        resources = data.get("resources") if isinstance(data, dict) else None
        if not isinstance(resources, list):
            raise BillError(f"{path}: not a tagguard JSON report (no `resources` list);"
                            f" write one with `tagguard scan -f json`")
        for r in resources:
            if not isinstance(r, dict) or not isinstance(r.get("address"), str):
                continue
            hit = {"file": r.get("file") if isinstance(r.get("file"), str) else None,
                   "line": r.get("line") if isinstance(r.get("line"), int) else None, "address": r["address"]}
            by_addr.setdefault(r["address"], hit)
            meta = r.get("meta")
            for key in _ids(r["address"], meta if isinstance(meta, dict) else {}):
                out.setdefault(key, hit)
    for path in states:
        data = _read_json(path, "Terraform state")
        for res in (data.get("resources") or []) if isinstance(data, dict) else []:
            if not isinstance(res, dict) or res.get("mode", "managed") != "managed":
                continue
            for inst in res.get("instances") or []:
                attrs = inst.get("attributes") if isinstance(inst, dict) else None
                if not isinstance(attrs, dict):
                    continue
                from tagguard.sources.aws.state import _address

                try:
                    address = _address(res, inst)
                except (KeyError, TypeError):
                    continue
                hit = by_addr.get(address) or {"file": None, "line": None, "address": address}
                for key in _ids(None, {"arn": attrs.get("arn"), "id": attrs.get("id")}):
                    out.setdefault(key, hit)
    return out


def _ids(address: str | None, meta: dict[str, Any]) -> list[str]:
    keys = []
    for v in [address] + [meta.get(k) for k in ("arn", "id", "instance_id", "resource_id")]:
        if isinstance(v, str) and v:
            keys.append(v)
            if v.startswith("arn:") and "/" in v:
                keys.append(v.rsplit("/", 1)[1])
    return keys


def _read_json(path: str, what: str) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise BillError(f"{path}: cannot read {what}: {exc.strerror or exc}") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        raise BillError(f"{path}{':' + str(line) if line else ''}: {what} is not valid JSON") from None
