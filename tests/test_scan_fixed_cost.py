"""The fixed cost of every scan (issue 13): what a plain scan imports and which dataclasses it creates.

Python 3.11 compiles each generated dataclass method separately (~0.6 ms a class), so a module or a class a
plain scan never uses is imported where it is used. These check behaviour in a fresh process, as the
benchmark's children run (``python -S``, site-packages and tagguard's source on the path).
"""
from __future__ import annotations

from pathlib import Path

from clikit import TINY_MODULE as TINY
from clikit import after_scan


# the dataclasses a scan creates are counted by wrapping dataclasses._process_class before tagguard loads
_COUNT = """
import dataclasses
_made = []
_orig = dataclasses._process_class
def _process_class(cls, *args, **kwargs):
    _made.append(cls.__module__ + "." + cls.__qualname__)
    return _orig(cls, *args, **kwargs)
dataclasses._process_class = _process_class
"""


def _after_scan(tmp_path: Path, expression: str, config: str | None = None):
    """``expression`` evaluated in a fresh process after a JSON scan of a one-resource module, dataclasses counted."""
    return after_scan(tmp_path, expression, TINY, config, prelude=_COUNT)


def test_a_plain_scan_imports_neither_budgets_nor_the_usage_file_reader(tmp_path):
    # rules/cost.check imported cost.budgets (3 dataclasses) and the pricer set-up pricing.usage (2) for every
    # scan; they are needed only with `budgets:`/`approvals:` config and a usage file
    mods = _after_scan(tmp_path, "sorted(m for m in sys.modules if m.startswith(('tagguard.cost.budgets', "
                                 "'tagguard.pricing.usage')))")
    assert mods == []


def test_a_plain_scan_creates_no_per_call_dataclass(tmp_path):
    # pricing's _Commitment and the remote-module package's Getter live inside one call (a pricing pass, a
    # download); the remote package is imported by every Terraform scan
    made = _after_scan(tmp_path, "_made")
    assert not [m for m in made if m.startswith("tagguard.pricing.engine.")], made  # PricingSetup too
    assert "tagguard.sources.terraform.remote.Getter" not in made
    assert "tagguard.sources.terraform.module.ProviderConf" not in made  # read field by field per instance
    assert "tagguard.model.Resource" in made  # the counter does see the scan's classes


def test_budgets_and_approvals_config_still_load_their_module_and_judge(tmp_path):
    config = ("budgets:\n  - name: all\n    match: {}\n    monthly_usd: 1\n"
              "approvals:\n  monthly_usd_threshold: 5000\n")
    mods = _after_scan(tmp_path, "[m for m in sys.modules if m == 'tagguard.cost.budgets']", config)
    assert mods == ["tagguard.cost.budgets"]
    report = (tmp_path / "r.json").read_text()
    assert '"over-budget"' in report or "over budget" in report.lower(), report[:2000]


def test_a_plain_scan_makes_neither_report_parts_nor_frozen_rate_card_rows(tmp_path):
    # the result parts of --baseline, diff, budgets and cluster reports live in tagguard.report_parts (5 classes),
    # and the rate card's rows are NamedTuples: every scan imports model and the catalog
    mods, made = _after_scan(tmp_path, "(sorted(m for m in sys.modules if m == 'tagguard.report_parts'), _made)")
    assert mods == []
    assert [m for m in made if m.startswith("tagguard.pricing.catalog.")] == ["tagguard.pricing.catalog.RateCard"]
    assert "tagguard.model.ScanResult" in made


def test_a_report_read_back_has_its_parts(tmp_path):
    # ScanResult.from_json imports the parts where a report has them
    from tagguard.model import ScanResult
    from tagguard.report_parts import BaselineInfo, DiffInfo

    result = ScanResult.from_json({"resources": [], "baseline": {"path": "b.json", "entries": 2},
                                   "diff": {"base": "main"}})
    assert isinstance(result.baseline, BaselineInfo) and result.baseline.entries == 2
    assert isinstance(result.diff, DiffInfo) and result.diff.base == "main"


def test_the_dataclasses_a_plain_scan_creates_compile_only_their_init(tmp_path):
    # CONTRIBUTING: on the scan's path a dataclass takes repr and == from model.Record and an immutable row is a
    # NamedTuple (a frozen dataclass compiles six methods). tagguard.hcl imports nothing from tagguard, so its
    # syntax classes keep the generated methods.
    params = "getattr(sys.modules[n.rsplit('.', 1)[0]], n.rsplit('.', 1)[1]).__dataclass_params__"
    made = _after_scan(tmp_path, f"[(n, p.frozen, p.repr, p.eq) for n, p in ((n, {params}) for n in _made)]")
    assert made, "the counter sees the scan's classes"
    assert [n for n, frozen, _, _ in made if frozen] == []
    assert [n for n, _, r, eq in made if (r or eq) and not n.startswith("tagguard.hcl.")] == []
