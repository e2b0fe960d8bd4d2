"""``--format sarif``: SARIF 2.1.0 as GitHub code scanning accepts it.

* ``tool.driver.rules``: every documented rule (``tagguard explain``), with the
  doc page as ``help.markdown``/``help.text`` and ``helpUri``.
* One result per finding, with a physical location (file relative to the
  repository root, start line) and the resource address as a logical location.
* ``partialFingerprints`` come from ``Finding.key()`` (file, address, rule,
  tag) and not from the line, so moving a resource does not open a new alert.
* Suppressed findings (inline ``tagguard:ignore``, Kubernetes annotation,
  baseline) stay in the log with ``suppressions`` and their justification;
  code scanning shows them as dismissed.
* Findings without a file (live-account scans) are attached to the scan root.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tagguard import __version__
from tagguard.formats.base import Formatter
from tagguard.formats.escape import sarif_text
from tagguard.model import ERROR, INFO, WARNING, Finding, ScanResult

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://tagguard.dev"
FINGERPRINT_KEY = "tagguardFindingKey/v1"
LEVEL_OF = {ERROR: "error", WARNING: "warning", INFO: "note"}


def fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: a hash of file + address + rule + tag."""
    raw = "\x1f".join(finding.key())
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]  # same as utf-8 for valid text


def _rule_name(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.replace("_", "-").split("-"))


def _rules(findings: list[Finding]) -> list[dict[str, Any]]:
    from tagguard.formats.markdown import rule_url
    from tagguard.rules import all_docs

    docs = all_docs()
    ids = list(docs)
    for f in findings:  # rules without a doc page (plugins) still need an entry
        if f.rule not in docs and f.rule not in ids:
            ids.append(f.rule)
    out = []
    for rule_id in ids:
        doc = docs.get(rule_id)
        if doc is None:
            sample = next(f for f in findings if f.rule == rule_id)
            out.append({
                "id": rule_id,
                "name": _rule_name(rule_id),
                "shortDescription": {"text": rule_id},
                "helpUri": rule_url(rule_id),
                "defaultConfiguration": {"level": LEVEL_OF.get(sample.severity, "warning")},
                "properties": {"tags": ["tagguard", sample.category]},
            })
            continue
        help_text = f"{doc.summary}\n\n{doc.body}"
        out.append({
            "id": doc.id,
            "name": _rule_name(doc.id),
            "shortDescription": {"text": doc.summary or doc.id},
            "fullDescription": {"text": doc.section("What it checks") or doc.summary or doc.id},
            "help": {"text": help_text, "markdown": help_text},
            "helpUri": rule_url(doc.id),
            "defaultConfiguration": {"level": LEVEL_OF.get(doc.severity, "warning")},
            "properties": {"tags": ["tagguard", "finops", doc.category], "category": doc.category},
        })
    return out


def _root_uri(result: ScanResult) -> str:
    from tagguard.formats.github import repo_path

    base = repo_path(result, ".") or "."
    if base in ("", "."):
        return "./"
    return base.rstrip("/") + "/"


def _location(result: ScanResult, f: Finding) -> dict[str, Any]:
    from tagguard.formats.github import repo_path

    path = repo_path(result, f.file)
    if path is None:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _root_uri(result), "uriBaseId": "%SRCROOT%"}}
    else:
        physical = {"artifactLocation": {"uri": _uri(path)}}
        if not path.startswith("<") and not Path(path).is_absolute():
            physical["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
        if f.line:
            physical["region"] = {"startLine": int(f.line)}
    loc: dict[str, Any] = {"physicalLocation": physical}
    if f.address:
        loc["logicalLocations"] = [{"fullyQualifiedName": f.address, "kind": "resource"}]
    return loc


def _uri(path: str) -> str:
    from urllib.parse import quote

    try:
        if Path(path).is_absolute():
            return Path(path).as_uri()
        return quote(path, safe="/-._~", errors="surrogateescape")  # a non-UTF-8 file name: its own bytes
    except (UnicodeEncodeError, ValueError):  # a lone surrogate that no bytes produce
        return quote(path, safe="/-._~", errors="replace")


def _result(result: ScanResult, f: Finding, rule_index: dict[str, int], baselined: bool) -> dict[str, Any]:
    # plain text for code scanning: control characters shown escaped, brackets escaped (no embedded links)
    text = sarif_text(f.message + (f"\nFix: {f.fix}" if f.fix else ""))
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index[f.rule],
        "level": LEVEL_OF.get(f.severity, "warning"),
        "message": {"text": text},
        "locations": [_location(result, f)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
    }
    props: dict[str, Any] = {"category": f.category, "severity": f.severity}
    for key, value in (("address", f.address), ("tag", f.tag), ("resourceType", f.resource_type), ("fix", f.fix)):
        if value:
            props[key] = value
    if f.extra:
        as_json = f.to_json()
        props.update({k: as_json[k] for k in f.extra if k in as_json and k not in props})
    out["properties"] = props
    if f.suppressed:
        reason = f.suppression_reason or "suppressed"
        kind = "external" if reason == "baseline" else "inSource"
        out["suppressions"] = [{"kind": kind, "status": "accepted", "justification": reason}]
    if baselined:
        out["baselineState"] = "unchanged" if f.suppressed and f.suppression_reason == "baseline" else "new"
    return out


def sarif_dict(result: ScanResult) -> dict[str, Any]:
    rules = _rules(result.findings)
    rule_index = {r["id"]: i for i, r in enumerate(rules)}
    baseline = result.baseline
    results = [_result(result, f, rule_index, baseline is not None) for f in result.findings]
    summary = result.summary()
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "tagguard",
            "version": __version__,
            "semanticVersion": __version__,
            "informationUri": INFORMATION_URI,
            "rules": rules,
        }},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
        "results": results,
        "columnKind": "utf16CodeUnits",
        "invocations": [{
            "executionSuccessful": not result.errors,
            "exitCode": summary["exit_code"],
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": sarif_text(e.get("message") or e)}} for e in result.errors
            ],
        }],
        "properties": {"summary": summary},
    }
    if not run["invocations"][0]["toolExecutionNotifications"]:
        del run["invocations"][0]["toolExecutionNotifications"]
    if baseline is not None:
        run["properties"]["baseline"] = baseline.to_json()
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


class SarifFormatter(Formatter):
    name = "sarif"
    human = False

    def format(self, result: ScanResult, *, color: bool = False) -> str:
        # compact: the C encoder is ~4x faster than indent=2 on large logs; consumers are machines
        return json.dumps(sarif_dict(result), separators=(",", ":")) + "\n"
