"""``--format junit``: one test case per resource × rule, passing cases included.

A CI test-report view then shows what was checked, not only what failed:

* one ``<testsuite>`` per file; one ``<testcase>`` per (resource, rule) with
  ``classname`` = the resource address and ``name`` = the rule id;
* the rules tried on every resource are the taxonomy rules plus any other rule
  that produced a finding on some resource in this run;
* a finding at or above ``fail_on`` is a ``<failure>`` (message, fix); a
  finding below it passes with the warning in ``<system-out>``; a suppressed
  finding is ``<skipped>`` with its reason;
* findings not tied to a resource (parse errors) get a test case of their own.
"""
from __future__ import annotations


from tagguard.formats.base import Formatter
from tagguard.formats.escape import xml_text
from tagguard.model import SEVERITY_RANK, Finding, ScanResult

RESOURCE_RULES = ("missing-tag", "invalid-value", "unresolved-value")


def _clean(text: str | None) -> str:
    """Characters XML 1.0 cannot carry (NUL, ESC, lone surrogates, U+FFFE...) become U+FFFD;
    the serializer escapes ``& < > "`` (so ``]]>`` or ``</testcase>`` in a name stay text)."""
    return xml_text(text or "")


class _Case:
    def __init__(self, classname: str, name: str, file: str | None, line: int | None):
        self.classname, self.name, self.file, self.line = classname, name, file, line
        self.failures: list[Finding] = []
        self.notes: list[Finding] = []
        self.skipped: list[Finding] = []


def build_cases(result: ScanResult) -> dict[str, list[_Case]]:
    """Test cases grouped by file (the suite name)."""
    threshold = SEVERITY_RANK.get(result.fail_on, 3)
    rules: list[str] = list(RESOURCE_RULES)
    addressed = {r.address for r in result.resources}
    for f in result.findings:
        if f.address in addressed and f.rule not in rules:
            rules.append(f.rule)
    cases: dict[tuple[str, str], _Case] = {}
    order: list[tuple[str, str]] = []
    for r in result.resources:
        if not r.taggable:  # tag rules do not apply; its own findings still get cases
            continue
        for rule in rules:
            key = (r.address, rule)
            if key not in cases:
                cases[key] = _Case(r.address, rule, r.file, r.line)
                order.append(key)
    loose = 0
    for f in result.findings:
        key = (f.address or "", f.rule)
        case = cases.get(key) if f.address else None
        if case is None:
            if f.address:
                case = cases[key] = _Case(f.address, f.rule, f.file, f.line)
            else:
                loose += 1
                key = (f"{f.file or '(no file)'}#{loose}", f.rule)
                case = cases[key] = _Case(f.file or "(no file)", f.rule, f.file, f.line)
            order.append(key)
        if f.suppressed:
            case.skipped.append(f)
        elif SEVERITY_RANK.get(f.severity, 0) >= threshold:
            case.failures.append(f)
        else:
            case.notes.append(f)
    suites: dict[str, list[_Case]] = {}
    for key in order:
        case = cases[key]
        suites.setdefault(case.file or "(no file)", []).append(case)
    return suites


def _describe(f: Finding) -> str:
    text = f"{f.severity}: {f.message}"
    if f.file:
        text += f"\n  at {f.file}" + (f":{f.line}" if f.line else "")
    if f.fix:
        text += f"\n  fix: {f.fix}"
    return text


class JunitFormatter(Formatter):
    name = "junit"
    human = False

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        import xml.etree.ElementTree as ET

        suites = build_cases(result)
        root = ET.Element("testsuites", name="tagguard")
        totals = {"tests": 0, "failures": 0, "skipped": 0}
        for file in sorted(suites):
            cases = suites[file]
            suite = ET.SubElement(root, "testsuite", name=_clean(file))
            counts = {"tests": len(cases), "failures": sum(1 for c in cases if c.failures),
                      "skipped": sum(1 for c in cases if c.skipped and not c.failures)}
            for k, v in counts.items():
                suite.set(k, str(v))
                totals[k] += v
            suite.set("errors", "0")
            for case in cases:
                el = ET.SubElement(suite, "testcase", classname=_clean(case.classname), name=_clean(case.name))
                if case.file:
                    el.set("file", _clean(case.file))
                if case.line:
                    el.set("line", _clean(str(case.line)))
                if case.failures:
                    first = case.failures[0]
                    msg = first.message if len(case.failures) == 1 else f"{len(case.failures)} findings: " + "; ".join(
                        x.message for x in case.failures)
                    fail = ET.SubElement(el, "failure", message=_clean(msg), type=_clean(first.rule))
                    fail.text = _clean("\n".join(_describe(x) for x in case.failures))
                elif case.skipped:
                    reasons = sorted({x.suppression_reason or "suppressed" for x in case.skipped})
                    ET.SubElement(el, "skipped", message=_clean("suppressed: " + "; ".join(reasons)))
                if case.notes:
                    out = ET.SubElement(el, "system-out")
                    out.text = _clean("\n".join(_describe(x) for x in case.notes))
        for k, v in totals.items():
            root.set(k, str(v))
        root.set("errors", "0")
        if hasattr(ET, "indent"):  # Python >= 3.9
            ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
