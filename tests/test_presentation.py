"""One presentation layer: every output shows a dollar figure the same way (to the cent, n/a when unknown)
and counts with the noun in the right number (formats/helpers.py)."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from clikit import run_cli

from tagguard.formats.helpers import money, plural
from tagguard.model import Cost, Resource, ScanResult

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("value,shown", [
    (29906.6, "$29,906.60"), (29906.599, "$29,906.60"), (100, "$100.00"), (99.5, "$99.50"), (0.42, "$0.42"),
    (0, "$0.00"), (-5, "-$5.00"), (1234567.891, "$1,234,567.89"),
    (None, "n/a"), ("12", "n/a"), (True, "n/a"), (math.nan, "n/a"), (math.inf, "n/a"),
])
def test_money(value, shown):
    assert money(value) == shown


def test_money_other_currencies_decimals_and_signed():
    from decimal import Decimal

    from tagguard.formats.helpers import signed_money

    assert money(Decimal("1234.505")) == "$1,234.50" and money(Decimal("-2")) == "-$2.00"  # exact half-even digits
    assert money(1234.5, "EUR") == "1,234.50 EUR" and money(-1, "EUR") == "-1.00 EUR"
    assert [signed_money(v) for v in (5, -5, 0, None)] == ["+$5.00", "-$5.00", "±$0.00", "n/a"]
    from tagguard.formats.helpers import rate

    assert [rate(v) for v in (0.000125, 98.32, 2, 1234.5, -0.5, None)] == [
        "$0.000125", "$98.32", "$2.00", "$1,234.50", "-$0.50", "n/a"]


def test_one_money_formatter():
    """Dollar figures are formatted by formats.helpers.money only: no module spells ``${x:,.2f}`` itself
    (four private copies once showed the same figure as ``$1,030`` in one output and ``$1,030.00`` in another)."""
    import re

    spelled = re.compile(r"\$\{[^}]*:,?\.[0-9]f\}")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in sorted((ROOT / "src" / "tagguard").rglob("*.py"))
                 if p.name != "helpers.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if spelled.search(line)]
    assert offenders == [], offenders


@pytest.mark.parametrize("args,shown", [
    ((1, "call"), "1 call"), ((2, "call"), "2 calls"), ((0, "resource"), "0 resources"),
    ((1200, "token"), "1,200 tokens"), ((1, "person", "people"), "1 person"), ((3, "person", "people"), "3 people"),
    ((2, "x", None, 4), "   2 xs"),
])
def test_plural(args, shown):
    assert plural(*args) == shown


def test_no_renderer_keeps_its_own_money_formatter():
    """The duplicated money()/_money()/_plural() helpers are gone: each is formats.helpers' function."""
    import tagguard.actuals.diffbill as diffbill
    import tagguard.formats.html as html
    import tagguard.formats.markdown as markdown
    import tagguard.formats.text as text
    import tagguard.llm.analysis.report as llm_report
    import tagguard.operate.alerts as alerts
    import tagguard.rules.cost as cost
    import tagguard.cost.showback as showback

    assert text.money is markdown.money is html._money is showback._money is money
    assert markdown._plural is llm_report.plural is plural
    for mod in (cost, alerts, diffbill):
        assert mod._money(1234.5) == "$1,234.50" and mod._money(None) == "n/a"
    pattern = re.compile(r"def (money|_money|_plural|plural)\(")
    own = [p.relative_to(ROOT).as_posix() for p in (ROOT / "src" / "tagguard" / "formats").glob("*.py")
           if p.name != "helpers.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert own == []


def _result() -> ScanResult:
    r = Resource(address="aws_instance.gpu", type="aws_instance", source="terraform", ai=True,
                 cost=Cost(hourly_usd=40.966575, monthly_usd=29906.6 - 0.0003, gpu_hours_per_month=5840))
    return ScanResult(resources=[r])


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_summary_figure_matches_the_json_and_the_finding_messages(fmt):
    """Bug fixed: the text and Markdown summaries showed $29,907 for a resource the JSON says costs 29906.6."""
    from tagguard.formats import get_formatter

    out = get_formatter(fmt).format(_result())
    assert "$29,906.60/month" in out and "$29,907" not in out


def test_showback_and_html_show_cents():
    from tagguard.formats.html import HtmlFormatter
    from tagguard.cost.showback import build_showback, render

    result = _result()
    sb = build_showback(result)
    assert "$29,906.60/month" in render(sb, "text") and "over 1 resource\n" in render(sb, "text")
    assert "$29,906.60" in render(sb, "markdown")
    result.showback = sb
    assert 'id="kpi-total">$29,906.60<' in HtmlFormatter().format(result)


def test_example_scan_text_total_is_the_json_total():
    def run(fmt):
        return run_cli("scan", ROOT / "examples" / "terraform", "-f", fmt).stdout

    total = json.loads(run("json"))["summary"]["monthly_usd"]
    assert f"{money(total)}/month" in run("text")
