"""Output that cannot be hijacked: every value from scanned data reaches Markdown (PR comment,
job summary), a terminal or CI log (text, github), HTML, XML (JUnit) and SARIF inert.

The Markdown checks render the output with a real CommonMark/GFM-table parser (markdown-it-py)
and inspect the HTML it produces; the log checks parse every line the way GitHub's runner
does (``ActionCommand.TryParseV2`` and the legacy ``TryParse``, actions/runner
src/Runner.Common/ActionCommand.cs).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from clikit import run_cli

from tagguard.formats import escape
from tagguard.model import Cost, Finding, Resource, ScanResult

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
    "  ::set-output name=x::y",
    "\ud800lone surrogate \ufffe \x00 nul",
]
ALLOWED_TAGS = {"p", "table", "thead", "tbody", "tr", "th", "td", "code", "a", "strong", "em", "ul", "li", "h2", "h3",
                "blockquote", "br", "details", "summary"}


def hostile_result() -> ScanResult:
    rs, fs = [], []
    for i, h in enumerate(HOSTILE):
        addr = f"Pod/default/{h}"
        rs.append(Resource(address=addr, type="Pod", source="kubernetes", file=f"k8s/{h}.yaml", line=i + 1, ai=True,
                           tags={"team": h}, cost=Cost(monthly_usd=100.0 + i, gpu_hours_per_month=730.0)))
        fs.append(Finding(rule="missing-tag", category="missing_tag", severity="error",
                          message=f"{addr}: required tag `business-unit` is missing; value {h}", address=addr,
                          file=f"k8s/{h}.yaml", line=i + 1, tag=h, fix=f"add \"business-unit\" = {h}"))
        fs.append(Finding(rule="invalid-value", category="invalid_value", severity="warning", message=h, address=addr,
                          file=f"k8s/{h}.yaml", line=i + 1, tag="team", fix=h, suppressed=True, suppression_reason=h))
    return ScanResult(resources=rs, findings=fs, root=".", errors=[{"file": h, "message": h} for h in HOSTILE[:3]])


# --- Markdown ----------------------------------------------------------------------------------

def markdown_parser():
    mdit = pytest.importorskip("markdown_it", reason="markdown-it-py is not installed (pip install -e '.[test]')")
    md = mdit.MarkdownIt("commonmark", {"html": True, "linkify": True}).enable("table").enable("strikethrough")
    try:
        md.enable("linkify")
        # GitHub links scheme:// and www. text and e-mail addresses, not bare domains
        md.linkify.set({"fuzzy_link": False})
    except Exception:  # noqa: BLE001 - linkify-it-py absent: the text checks below still hold
        pass
    return md


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_outside_code: list[str] = []
        self.all_text: list[str] = []
        self.code_depth = 0
        self.rows: list[int] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "code":
            self.code_depth += 1
        if tag == "tr":
            self.rows.append(0)
        if tag in ("td", "th") and self.rows:
            self.rows[-1] += 1

    def handle_endtag(self, tag):
        if tag == "code":
            self.code_depth -= 1

    def handle_data(self, data):
        self.all_text.append(data)
        if not self.code_depth:
            self.text_outside_code.append(data)

    def handle_comment(self, data):
        self.tags.append(("!--", {"text": data}))


# Strings GitHub turns into pings, links or references when they are text outside code.
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
ISSUE_REF = re.compile(r"(?<![\w&])#\d")
AUTOLINK = re.compile(r"(?i)\b(?:https?|ftp|mailto)://|\bwww\.|[\w.+-]@[A-Za-z0-9]")


def assert_markdown_inert(text: str, *, own_links: str = "https://tagguard.dev/rules/", tables: dict | None = None):
    md = markdown_parser()
    tokens = md.parse(text)
    html_blocks = [t.content for t in tokens if t.type == "html_block"]
    inline_html = [c.content for t in tokens if t.type == "inline"
                   for c in (t.children or []) if c.type == "html_inline"]
    assert inline_html == [], inline_html
    opened = closed = 0
    for block in html_blocks:
        for line in block.splitlines():
            if not line.strip():
                continue
            assert re.fullmatch(r"<details( open)?><summary>[^<>]*</summary>"
                                r"|</details>|<!-- tagguard-report -->", line), line
            opened += line.startswith("<details")
            closed += line.startswith("</details>")
    assert opened == closed, (opened, closed)
    rendered = md.render(text)
    parser = _Collect()
    parser.feed(rendered)
    bad = [(t, a) for t, a in parser.tags if t not in ALLOWED_TAGS]
    if text.startswith("<!-- tagguard-report -->\n"):  # tagguard's own marker opens a diff comment
        assert bad[:1] == [("!--", {"text": " tagguard-report "})], bad
        bad = bad[1:]
    assert bad == [], bad
    for tag, attrs in parser.tags:
        if tag == "a":
            assert (attrs.get("href") or "").startswith(own_links), attrs
    assert sum(1 for t, _ in parser.tags if t == "details") == rendered.count("</details>")
    prose = "".join(parser.text_outside_code)
    for pattern in (MENTION, ISSUE_REF, AUTOLINK):
        assert not pattern.search(prose), (pattern.pattern, pattern.search(prose), prose[:2000])
    assert "\x1b" not in rendered and "\u202e" not in rendered and "\x00" not in rendered
    if tables:
        widths = set(parser.rows)
        assert widths <= set(tables["widths"]), (widths, tables)
    return parser


def test_markdown_report_of_hostile_values_is_inert():
    from tagguard.formats.markdown import MarkdownFormatter

    text = MarkdownFormatter().format(hostile_result())
    text.encode("utf-8")  # lone surrogates never reach a file or a PR comment
    parser = assert_markdown_inert(text, tables={"widths": [3, 6]})
    # one table row per finding, plus the header: no value opened a row of its own
    assert parser.rows.count(6) == 1 + len(HOSTILE)
    # what was escaped is still readable: the hostile name shows as text, inside or outside code
    assert "Pod/default/x`</details><h1>pwn</h1>" in "".join(parser.all_text)


def test_markdown_helpers_against_each_hostile_string():
    from tagguard.formats import markdown as md

    for h in HOSTILE:
        row = f"| {md.escape_cell(h)} | {md.code(h)} | {md.rule_link(h)} |\n"
        table = "| a | b | c |\n|---|---|---|\n" + row
        assert_markdown_inert(table, own_links="https://tagguard.dev/rules/", tables={"widths": [3]})
        block = md.details(h, f"- {md.escape_cell(h)}\n- {md.code(h, cell=False)}\n\n> {md.escape_cell(h)}\n")
        assert_markdown_inert(f"### {md.escape_cell(h)}\n\n" + block)


def test_code_span_fence_outlasts_any_backtick_run():
    from tagguard.formats.markdown import code

    md = markdown_parser()
    for text in ("a`b", "``x``", "` lead", "trail `", "a ```` b ``` c", "`"):
        html = md.render(f"x {code(text, cell=False)} y")
        assert re.fullmatch(r"<p>x <code>.*</code> y</p>\n", html, re.S), html
        inner = re.search(r"<code>(.*)</code>", html, re.S).group(1)
        assert inner.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


def test_message_keeps_its_code_spans_and_breaks_mentions():
    from tagguard.formats.markdown import escape_cell

    out = escape_cell("required tag `team` is missing for @org/team (#12)")
    html = markdown_parser().render(out)
    assert "<code>team</code>" in html
    assert "@\u200dorg" in html and "#\u200d12" in html


def test_rule_docs_url_cannot_be_broken_out_of():
    from tagguard.formats.markdown import rule_link

    link = rule_link("x) [evil](https://evil.example.com")
    html = markdown_parser().render(link)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert len(hrefs) == 1 and hrefs[0].startswith("https://tagguard.dev/rules/x%29%20%5Bevil%5D"), hrefs


def test_showback_and_llm_markdown_escape_data():
    from tagguard.llm.analysis.report import _md_table
    from tagguard.cost.showback import build_showback, render

    result = hostile_result()
    sb = build_showback(result, None)
    assert_markdown_inert(render(sb, "markdown"))
    rows = [[h, "$1.00", h] for h in HOSTILE]
    assert_markdown_inert("\n".join(_md_table(["value", "cost", HOSTILE[0]], rows)) + "\n", tables={"widths": [3]})


def test_csv_cells_never_start_a_formula():
    from tagguard.cost.showback import build_showback, render

    r = hostile_result()
    r.resources[0].tags["team"] = "=HYPERLINK(\"https://evil.example.com\",\"x\")"
    r.resources[1].tags["team"] = "+cmd|' /C calc'!A0"
    out = render(build_showback(r, None), "csv")
    import csv
    import io

    for row in csv.reader(io.StringIO(out)):
        for cell in row:
            assert not cell.startswith(("=", "+", "@")), row
    assert escape.csv_cell(-3.5) == -3.5 and escape.csv_cell("-x") == "'-x"


# --- terminal / CI log -------------------------------------------------------------------------

RUNNER_COMMANDS = {"set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher",
                   "debug", "warning", "error", "notice", "group", "endgroup", "echo", "stop-commands"}


def runner_parse(line: str) -> tuple[str, dict[str, str], str] | None:
    """What GitHub's runner makes of one log line: (command, properties, data) or None."""
    msg = line.lstrip()
    if msg.startswith("::"):
        end = msg.find("::", 2)
        if end >= 0:
            info = msg[2:end]
            name, _, props = info.partition(" ")
            if name in RUNNER_COMMANDS:
                def unprop(v):
                    for a, b in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
                        v = v.replace(a, b)
                    return v
                properties = {}
                for p in props.strip().split(","):
                    k, eq, v = p.partition("=")
                    if eq and k and v:
                        properties[k] = unprop(v)
                data = msg[end + 2:]
                for a, b in (("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
                    data = data.replace(a, b)
                return name, properties, data
    i = line.find("##[")
    if i >= 0:
        rb = line.find("]", i)
        if rb >= 0:
            name = line[i + 3:rb].split(" ")[0]
            if name in RUNNER_COMMANDS:
                return name, {}, line[rb + 1:]
    return None


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def assert_log_safe(text: str, allowed=lambda cmd: False):
    for line in text.split("\n"):
        parsed = runner_parse(line)
        assert parsed is None or allowed(parsed), (line, parsed)
        assert not CONTROL.search(line), repr(line)


def test_text_format_escapes_controls_and_never_starts_a_workflow_command():
    from tagguard.formats.text import TextFormatter

    out = TextFormatter().format(hostile_result(), color=False)
    out.encode("utf-8")
    assert_log_safe(out)
    assert "\\x1b[2J" in out and "\\u202e" in out  # shown, visibly
    for line in out.splitlines():
        assert not line.lstrip().startswith("::"), line
    # colour: tagguard's own SGR codes only
    coloured = TextFormatter().format(hostile_result(), color=True)
    assert set(re.findall(r"\x1b\[[0-9;]*m", coloured)) <= {"\x1b[0m", "\x1b[1m", "\x1b[2m", "\x1b[31m", "\x1b[33m",
                                                             "\x1b[36m", "\x1b[32m"}
    assert not re.search(r"\x1b(?!\[[0-9;]*m)", coloured)


def test_github_annotations_round_trip_and_nothing_else_is_a_command(monkeypatch):
    from tagguard.formats.github import GithubFormatter, repo_path

    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = hostile_result()
    out = GithubFormatter().format(result)
    commands = [runner_parse(line) for line in out.split("\n")]
    ours = [c for c in commands if c is not None]
    active = [f for f in result.findings if not f.suppressed]
    assert len(ours) == len(active)
    for (name, props, data), f in zip(ours, active):
        assert name == "error"
        assert set(props) == {"file", "line", "title"}
        shown = lambda v: escape._CONTROL_WF.sub(escape._visible, v)  # noqa: E731 - CR/LF travel percent-encoded
        assert props["file"] == shown(repo_path(result, f"k8s/{f.tag}.yaml"))
        assert props["title"] == shown(f"tagguard {f.rule} ({f.tag})")
        assert data == escape._CONTROL_WF.sub(escape._visible, f.message + f"\nfix: {f.fix}")
        assert not CONTROL.search(data.replace("\n", "").replace("\r", ""))
    assert_log_safe(out, allowed=lambda c: c[0] == "error")


def test_guard_commands_and_term():
    assert (escape.guard_commands("ok\n  ::error::x\n::\nfoo ##[group]y")
            == "ok\n  \\x3a:error::x\n\\x3a:\nfoo \\x23#[group]y")
    assert escape.term("a\x1b[2Jb\u202ec\nd\x85") == "a\\x1b[2Jb\\u202ec\\nd\\x85"
    assert escape.term_block("a\nb\rc") == "a\nb\\rc"


def test_diff_and_llm_text_guard_their_lines():
    from tagguard.llm.analysis.report import render_text

    report = {"totals": {"cost_usd": 1.0, "calls": 1, "input_tokens": 1, "output_tokens": 1,
                         "untagged": {"cost_usd": 0.0, "calls": 0, "input_tokens": 0, "output_tokens": 0}},
              "range": {"first_day": "2026-12-01", "last_day": "2026-12-02"}, "inputs": [],
              "by": {"team": [{"value": h, "cost_usd": 1.0, "calls": 1, "input_tokens": 1, "output_tokens": 1}
                              for h in HOSTILE]},
              "anomalies": [], "budgets": [], "findings": [],
              "summary": {"findings": 0, "by_severity": {}, "blocking": 0, "fail_on": "error"}}
    assert_log_safe(render_text(report, "day"))


# --- HTML, JUnit, SARIF ------------------------------------------------------------------------

def _hostile_page() -> str:
    """The HTML page of the hostile result, its showback computed as a command does (cli.emit)."""
    from tagguard.cost.showback import build_showback
    from tagguard.formats.html import HtmlFormatter

    result = hostile_result()
    result.showback = build_showback(result)
    return HtmlFormatter().format(result)


def test_html_report_keeps_hostile_values_as_text():
    page = _hostile_page()
    parser = _Collect()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert tags.count("h1") == 1 and "script" not in tags and "img" not in tags
    assert sum(1 for t, a in parser.tags if t == "a") == 0
    assert "\x1b" not in page and "\u202e" not in page
    assert "&lt;h1&gt;pwn&lt;/h1&gt;" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_html_report_in_chromium_has_no_injected_element(tmp_path):
    page = tmp_path / "r.html"
    page.write_text(_hostile_page(), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<h1") == 1 and "<script" not in dom.stdout and "<img" not in dom.stdout
    assert "&lt;h1&gt;pwn&lt;/h1&gt;" in dom.stdout  # the name is there, as text


def test_junit_is_well_formed_with_hostile_strings(tmp_path):
    from tagguard.formats.junit import JunitFormatter

    out = JunitFormatter().format(hostile_result())
    path = tmp_path / "junit.xml"
    path.write_text(out, encoding="utf-8")  # no lone surrogate makes the write fail
    root = ET.parse(path).getroot()
    names = {c.get("classname") for c in root.iter("testcase")}
    assert f"Pod/default/{HOSTILE[0]}" in names  # `</details><h1>` stayed an attribute value
    assert not any(re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", n) for n in names)
    assert root.get("tests") == str(sum(1 for _ in root.iter("testcase")))
    for bad in ("\x00", "\ud800", "\ufffe"):
        assert bad not in out


def test_sarif_messages_are_plain_text(tmp_path):
    from tagguard.formats.sarif import SarifFormatter

    out = SarifFormatter().format(hostile_result())
    (tmp_path / "x.sarif").write_text(out, encoding="utf-8")
    log = json.loads(out)
    for res in log["runs"][0]["results"]:
        text = res["message"]["text"]
        assert not CONTROL.search(text.replace("\n", "")), repr(text)
        assert not re.search(r"(?<!\\)\[", text), text  # no embedded link can form


# --- end to end: a hostile Pod through the real CLI ---------------------------------------------

POD = """apiVersion: v1
kind: Pod
metadata:
  name: "gpu"
  labels:
    team: "x`</details><h1>pwn</h1> @org/team #1 \\e[2J \\e]0;title\\a"
  annotations:
    note: "\\n::error::injected"
spec:
  containers:
  - name: c
    image: i
    resources:
      limits:
        nvidia.com/gpu: 8
"""


def test_hostile_pod_end_to_end(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pod.yaml").write_text(POD)
    bad_name = repo / "::warning title=x::pwn `<details><h1>y` @org #2 \x1b[2J.yaml"
    bad_name.write_text(POD.replace('name: "gpu"', 'name: "gpu2"'))
    outs = {}
    for fmt in ("text", "markdown", "github"):
        proc = run_cli("scan", ".", "-f", fmt, "--no-color", process=True, cwd=repo, timeout=120,
                       env={"GITHUB_STEP_SUMMARY": ""})
        assert proc.returncode in (0, 1), proc.stderr
        assert "Traceback" not in proc.stderr
        outs[fmt] = proc.stdout
    assert "gpu2" in outs["text"]  # the hostile file was scanned
    assert_log_safe(outs["text"])
    assert_log_safe(outs["github"], allowed=lambda c: c[0] in ("error", "warning", "notice"))
    for line in outs["github"].splitlines():
        parsed = runner_parse(line)
        if parsed:
            assert parsed[1].get("file", "").startswith(("pod.yaml", "::warning title=x::pwn")), parsed
    assert_markdown_inert(outs["markdown"])


def test_usage_errors_quoting_data_are_one_inert_line(tmp_path):
    """A config error names the offending key; a key from the repository cannot forge log lines."""
    (tmp_path / ".tagguard.yaml").write_text('version: 1\n"zz\\n::error::forged \\e]0;title\\a ##[group]x": 1\n')
    proc = run_cli("scan", ".", process=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tagguard: error:"), proc.stderr
    assert_log_safe(proc.stderr)
    assert "\\x1b]0;title" in proc.stderr


def test_json_report_is_the_same_data_with_no_raw_control_or_bidi_characters(tmp_path):
    from tagguard.formats.json_format import JsonFormatter

    result = hostile_result()
    out = JsonFormatter().format(result)
    (tmp_path / "r.json").write_text(out, encoding="utf-8")  # lone surrogates are escaped, not fatal
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]", out)
    data = json.loads(out)
    assert [f["address"] for f in data["findings"]] == [f.address for f in result.findings]  # lossless


def test_diff_pr_comment_of_a_hostile_pull_request_is_inert(tmp_path):
    """`tagguard diff` renders the PR comment the Action posts: the same escaping holds there."""
    repo = tmp_path / "repo"
    repo.mkdir()
    author = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
              "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env = {**os.environ, **author}
    (repo / "README").write_text("base\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)
    (repo / "pod.yaml").write_text(POD)
    (repo / "pod2.yaml").write_text(POD.replace('name: "gpu"', 'name: "gpu-2"').replace(
        "team: ", "business-unit: \"@org/admins #3 <img src=x>\"\n    team: "))
    outs = {}
    for fmt in ("markdown", "text", "github"):
        proc = run_cli("diff", "--base", "HEAD", "-f", fmt, "--no-color", ".", process=True, cwd=repo, timeout=180,
                       env={**author, "GITHUB_STEP_SUMMARY": ""})
        assert proc.returncode in (0, 1), proc.stderr
        outs[fmt] = proc.stdout
    assert "gpu-2" in outs["markdown"] or "gpu-2" in outs["text"]
    assert_markdown_inert(outs["markdown"])
    assert_log_safe(outs["text"])
    assert_log_safe(outs["github"], allowed=lambda c: c[0] in ("error", "warning", "notice"))


@pytest.mark.parametrize("make", [
    lambda n: "a." * n,                      # a word boundary at every other character
    lambda n: "\n" * n + "::",               # many blank lines before a command-like line
    lambda n: "`" * n + "x" + "`" * (n - 1),  # unmatched backtick runs
    lambda n: "` `` " * (n // 4),            # runs of two lengths, few matching
    lambda n: "@" * n + "#1" * n,
])
def test_escaping_is_linear_in_input_size(make):
    import time

    from tagguard.formats.escape import _md_text, guard_commands, md_code, term

    def cost(n):
        s = make(n)
        t = time.perf_counter()
        _md_text(s, True)  # uncached
        md_code(s + "x" * 600)
        guard_commands(term(s) + "\n" + s)
        return time.perf_counter() - t

    cost(2000)
    small, big = min(cost(20000) for _ in range(2)), min(cost(160000) for _ in range(2))
    assert big < 3 and big < small * 30, (small, big)  # 8x the input: ~8x the time, never ~64x
