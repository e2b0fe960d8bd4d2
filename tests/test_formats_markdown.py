"""Markdown report: PR-comment layout, reusable helpers, and the comment size guard."""
from __future__ import annotations

import re
import shutil
from pathlib import Path


from clikit import run_cli
from tagguard.formats import markdown as md
from tagguard.model import Finding, Resource, ScanResult
from tagguard.report_parts import BaselineInfo

DATA = Path(__file__).parent / "data"


def test_report_of_a_real_scan(tmp_path, monkeypatch):
    shutil.copytree(DATA / "project", tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    res = run_cli("scan", "infra", "-f", "markdown")
    assert res.exit_code == 1
    text = res.output
    lines = text.splitlines()
    assert lines[0] == "### tagguard"
    assert lines[2].startswith(":x: **FAIL**: 4 AI resources, 2 compliant, 2 errors, 0 warnings, 2 suppressed; $")
    assert "| main.tf | [missing-tag](https://tagguard.dev/rules/missing-tag) | 1 |" in text
    assert ("| main.tf:10 | `aws_instance.trainer` | [missing-tag](https://tagguard.dev/rules/missing-tag) "
            "| `cost-center` |") in text
    assert "<details><summary>How to fix</summary>" in text
    assert "research sandbox, torn down weekly (FIN-42)" in text  # suppressed ones listed with their reason
    assert text.count("<details") == text.count("</details>")


def test_table_cells_are_escaped():
    f = Finding(rule="invalid-value", category="invalid_value", severity="error",
                message="x: tag `team` = \"a|b\" is invalid\n<script>", address="x", file="a|b.tf", line=1, tag="te`am")
    table = md.render_findings_table([f])
    row = table.splitlines()[2]
    assert row.count(" | ") == 5  # six cells, pipes inside escaped
    assert "a\\|b.tf:1" in row and "&lt;script&gt;" in row and "``te`am``" in row
    assert md.render_findings_table([]) == ""


def test_pass_report_and_custom_rule_docs_url(monkeypatch):
    monkeypatch.setenv("TAGGUARD_RULE_DOCS_URL", "https://docs.example.com/tagguard/{rule}.html")
    assert md.rule_url("missing-tag") == "https://docs.example.com/tagguard/missing-tag.html"
    result = ScanResult(resources=[Resource(address="a", type="aws_instance", source="terraform", ai=True)])
    text = md.MarkdownFormatter().format(result)
    assert ":white_check_mark: **PASS**" in text and "<details" not in text


def big_result(n):
    resources, findings = [], []
    for i in range(n):
        addr = f"module.team_{i}.aws_instance.gpu_worker_with_a_long_name[{i}]"
        resources.append(Resource(address=addr, type="aws_instance", source="terraform", ai=True,
                                  file=f"teams/team_{i}/main.tf", line=i + 1))
        for tag in ("business-unit", "project", "cost-center"):
            findings.append(Finding(rule="missing-tag", category="missing_tag", severity="error",
                                    message=f"{addr}: required tag `{tag}` is missing", address=addr,
                                    file=f"teams/team_{i}/main.tf", line=i + 1, tag=tag,
                                    fix=f'add "{tag}" = "<value>" in `tags` or the provider default_tags'))
    return ScanResult(resources=resources, findings=findings)


def test_size_guard_keeps_summary_and_truncates_details():
    result = big_result(600)  # about 1,800 findings: far beyond one comment
    full = md.render_report(result, limit=10**9)
    assert len(full) > md.GITHUB_COMMENT_LIMIT
    text = md.render_report(result)
    assert len(text) <= md.DEFAULT_LIMIT < md.GITHUB_COMMENT_LIMIT
    assert md.render_summary_line(result) in text  # never cut
    assert "Report truncated" in text
    assert text.count("<details") == text.count("</details>")
    # a caller's section placed before the findings survives truncation
    text = md.render_report(result, sections_before=["#### Cost diff\n\n+$1,234/month\n\n"], limit=20000)
    assert len(text) <= 20000 and "+$1,234/month" in text


def test_fit_cuts_at_line_boundaries():
    head = "summary\n"
    body = md.details("many", "".join(f"- item {i}\n" for i in range(1000)))
    out = md.fit(head, [body, "tail section\n"], limit=500, note="\n[cut]\n")
    assert out.startswith(head) and out.endswith("\n[cut]\n") and len(out) <= 500
    assert "tail section" not in out
    assert re.search(r"- item \d+\n\n</details>\n", out)
    assert md.fit(head, ["a\n", "b\n"], limit=100) == "summary\na\nb\n"


def test_baseline_line():
    result = ScanResult()
    result.baseline = BaselineInfo(path=".tagguard-baseline.json", entries=3, suppressed=2,
                                   stale=[{"file": "a.tf", "address": "x", "rule": "missing-tag", "tag": "owner"}])
    text = md.render_report(result)
    assert "Baseline `.tagguard-baseline.json` hid 2 known findings; 1 stale entry no longer matches a finding" in text
