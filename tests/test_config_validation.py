"""Config validation (issue 11 item 10): rule ids, bare off/on, unknown keys at any depth with their
line, the schema closed everywhere, and the config found from the scanned path (item 5)."""
from __future__ import annotations

import json
from functools import partial
import re
import time
from pathlib import Path

import pytest


from clikit import run_cli
from tagguard.config import Config, ConfigError, line_map, load_config, validate_config
from tagguard.rules import apply_severities, known_rule_ids
from tagguard.model import Finding


tg = partial(run_cli, process=True)  # a real `python -m tagguard`: exit codes and stderr as CI sees them

ROOT = Path(__file__).resolve().parent.parent

GPU_TF = """\
resource "aws_instance" "gpu" {
  instance_type = "p4d.24xlarge"
  tags = { owner = "x" }
}
"""


def cfg_file(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    path = tmp_path / ".tagguard.yaml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str, monkeypatch) -> str:
    monkeypatch.setenv("TAGGUARD_USER_CONFIG", "")
    path = cfg_file(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(paths=[str(tmp_path)])
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# --- rule ids ---------------------------------------------------------------------------------

def test_unknown_rule_id_is_an_error_with_a_suggestion(tmp_path, monkeypatch):
    msg = load_error(tmp_path, "version: 1\nrules:\n  missing-tag: warning\n  spot-oportunity: info\n", monkeypatch)
    assert ":4:" in msg and "spot-oportunity" in msg and "did you mean 'spot-opportunity'" in msg


def test_unknown_rule_without_near_match_points_to_explain(tmp_path, monkeypatch):
    msg = load_error(tmp_path, "rules:\n  zzzzzz: off\n", monkeypatch)
    assert ":2:" in msg and "tagguard explain --list" in msg


def test_categories_and_every_emitted_rule_id_are_known():
    known = set(known_rule_ids())
    assert {"missing-tag", "missing_tag", "unresolved-value", "spot-opportunity", "optimization"} <= known
    emitted = set()
    for path in (ROOT / "src" / "tagguard").rglob("*.py"):
        emitted.update(re.findall(r'rule="([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert emitted and emitted <= known, sorted(emitted - known)


# --- bare off / on ----------------------------------------------------------------------------

def test_bare_off_and_on_are_severities(tmp_path, monkeypatch):
    monkeypatch.setenv("TAGGUARD_USER_CONFIG", "")
    cfg_file(tmp_path, "rules:\n  spot-opportunity: off\n  unresolved-value: on\n  not-propagated: no\n")
    config = load_config(paths=[str(tmp_path)])
    assert config.raw["rules"] == {"spot-opportunity": "off", "unresolved-value": "on", "not-propagated": "off"}
    assert config.rule_overrides == {"spot-opportunity": "off", "not-propagated": "off"}
    f1 = Finding(rule="spot-opportunity", category="optimization", severity="info", message="m")
    f2 = Finding(rule="unresolved-value", category="unresolved_value", severity="warning", message="m")
    kept = apply_severities([f1, f2], dict(config.raw["rules"]))
    assert [f.rule for f in kept] == ["unresolved-value"] and kept[0].severity == "warning"


def test_readme_example_spot_opportunity_off_through_the_cli(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "main.tf").write_text(GPU_TF.replace('owner = "x"', 'owner = "x", purpose = "training"'))
    (tmp_path / ".tagguard.yaml").write_text("rules:\n  spot-opportunity: off\n")
    proc = tg("scan", str(tmp_path), "-f", "json")
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    assert not any(f["rule"] == "spot-opportunity" for f in report["findings"])


# --- unknown keys at any depth, with their own line -------------------------------------------------

@pytest.mark.parametrize("text, line, key", [
    ("scope: ai\nscopes: all\n", 2, "scopes"),
    # the same key names at several depths: the text search found the first `values:` / `labels:`
    ("helm:\n  values: [a.yaml]\n  charts:\n    charts/a:\n      values: [b.yaml]\n      valuez: []\n", 6, "valuez"),
    ("kubernetes:\n  namespaces:\n    labels:\n      labels: {a: b}\n"
     "      gpu_quota: {x: 1}\n      labelz: 1\n", 6, "labelz"),
    ("pricing:\n  region: us-east-1\n  discont_pct: 5\n", 3, "discont_pct"),
    ("pricing:\n  instance_types:\n    p5.48xlarge: {on_demand: 1, spott: 2}\n", 3, "spott"),
    ("commitments:\n  - {instance_type: p4d.24xlarge, count: 4, term: 1y}\n"
     "  - instance_type: p5.48xlarge\n    count: 1\n    term: 1y\n    termz: 3y\n", 6, "termz"),
    ("shared_costs:\n  - name: a\n    monthly_usd: 1\n    owner: x\n", 4, "owner"),
    ("showback:\n  dimensions: {team: business-unit}\n  colour: red\n", 3, "colour"),
    ("kubernetes:\n  crds:\n    Foo:\n      roles:\n"
     "        - template: spec.template\n          replica: [spec.n]\n", 6, "replica"),
    ("kubernetes:\n  crds:\n    Foo:\n"
     "      roles: [{template: spec.template}]\n      workloads: job\n", 5, "workloads"),
    ("aws:\n  role_arn: arn:aws:iam::1:role/x\n", 2, "role_arn"),
    ("pricing:\n  tokens:\n    models:\n      gpt-4o: {input: 1, ouput: 2}\n", 4, "ouput"),
])
def test_unknown_key_at_any_depth_reported_at_its_line(tmp_path, monkeypatch, text, line, key):
    msg = load_error(tmp_path, text, monkeypatch)
    assert f":{line}:" in msg and f"unknown key '{key}'" in msg, msg


def test_unknown_key_suggests_the_near_name(tmp_path, monkeypatch):
    msg = load_error(tmp_path, "budgets:\n  - name: a\n    monthly_usd: 1\n    mathc: {team: x}\n", monkeypatch)
    assert ":4:" in msg and "did you mean 'match'" in msg


def test_first_problem_by_line_with_a_count_of_the_others(tmp_path, monkeypatch):
    msg = load_error(tmp_path, "rules:\n  nope-rule: off\nscope: everything\nfail_on: never\n", monkeypatch)
    assert ":2:" in msg and "(and 2 more)" in msg


def test_every_object_in_the_schema_is_closed():
    """additionalProperties false (or a value schema, for maps of user names) at every depth."""
    schema = json.loads((ROOT / "schemas" / "config.schema.json").read_text())
    open_ = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "object" and "additionalProperties" not in node:
                open_.append(where)
            if node.get("additionalProperties") is True and where != "/properties/terraform/properties/variables":
                open_.append(where)
            for k, v in node.items():
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(schema, "")
    assert open_ == []


def test_line_map_is_node_based_and_survives_aliases():
    text = "a:\n  b:\n    c: 1\nb:\n  c: 2\nlist:\n  - x: 1\n  - y: 2\n"
    lines = line_map(text)
    assert lines[("a", "b", "c")] == 3 and lines[("b", "c")] == 5 and lines[("list", "1", "y")] == 8
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        bomb.append(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, "
                    f"*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]")
    start = time.monotonic()
    lines = line_map("\n".join(bomb) + "\n")
    assert time.monotonic() - start < 2 and lines[("a29",)] == 30


def test_validate_config_keeps_accepting_programs_in_shape(tmp_path):
    """Shape and trust are separate: the schema accepts helm.bin (a trusted config may set it)."""
    validate_config({"helm": {"bin": "tools/helm"}}, tmp_path / ".tagguard.yaml", {})


def test_release_name_in_config_must_be_a_kubernetes_name(tmp_path, monkeypatch):
    msg = load_error(tmp_path, "helm:\n  charts:\n    c:\n      release_name: '--post-renderer=/x'\n", monkeypatch)
    assert ":4:" in msg and "helm.charts.c.release_name" in msg


# --- lookup from the scanned path (issue 11 item 5) ------------------------------------------------

def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "infra").mkdir()
    (repo / "infra" / "main.tf").write_text(GPU_TF)
    (repo / "policy").mkdir()
    (repo / "policy" / "tax.json").write_text(json.dumps({"type": "object", "required": ["owner", "team"]}))
    (repo / ".tagguard.yaml").write_text("taxonomy: policy/tax.json\n")
    return repo


def test_config_is_the_scanned_repositorys_not_the_cwds(tmp_path):
    repo = make_repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = tg("scan", str(repo / "infra"), "-f", "json", cwd=elsewhere)
    report = json.loads(proc.stdout)
    missing = [(f["rule"], f["tag"]) for f in report["findings"] if f["rule"] == "missing-tag"]
    assert missing == [("missing-tag", "team")]
    cfg = report["config"]
    assert cfg["path"] == str((repo / ".tagguard.yaml").resolve()) or cfg["path"] == str(repo / ".tagguard.yaml")
    assert cfg["taxonomy"].endswith("policy/tax.json") and cfg["source"] == "repository"
    import hashlib

    assert cfg["sha256"] == hashlib.sha256((repo / ".tagguard.yaml").read_bytes()).hexdigest()
    text = tg("scan", str(repo / "infra"), cwd=elsewhere).stdout
    assert text.splitlines()[0].startswith("config: ") and "policy/tax.json" in text.splitlines()[0]
    # a file argument looks up from its directory
    proc = tg("scan", str(repo / "infra" / "main.tf"), "-f", "json", cwd=elsewhere)
    assert json.loads(proc.stdout)["config"]["taxonomy"].endswith("policy/tax.json")


def test_no_config_says_built_in_defaults(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "main.tf").write_text(GPU_TF)
    report = json.loads(tg("scan", str(tmp_path), "-f", "json").stdout)
    assert report["config"]["path"] is None and "taxonomy.default.json" in report["config"]["taxonomy"]
    assert report["config"]["sha256"] is None


def test_paths_in_repos_with_different_configs_are_refused(tmp_path):
    a = make_repo(tmp_path / "a")
    b = tmp_path / "b"
    (b / ".git").mkdir(parents=True)
    (b / "main.tf").write_text(GPU_TF)
    proc = tg("scan", str(a / "infra"), str(b))
    assert proc.returncode == 2 and "different configs" in proc.stderr and proc.stderr.count("\n") == 1
    # two paths of one repository share its config; --config settles a mix
    assert tg("scan", str(a / "infra"), str(a / "policy")).returncode in (0, 1)
    proc = tg("scan", "--config", str(a / ".tagguard.yaml"), str(a / "infra"), str(b))
    assert proc.returncode in (0, 1), proc.stderr


def test_report_schema_describes_config(tmp_path):
    import jsonschema

    repo = make_repo(tmp_path)
    report = json.loads(tg("scan", str(repo / "infra"), "-f", "json").stdout)
    schema = json.loads((ROOT / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert "config" in schema["properties"]
    bad = dict(report, config={"path": 1})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_config_object_in_memory_defaults_still_work():
    assert Config().scope == "ai" and Config(raw={"rules": {"x": "on"}}).rule_overrides == {}
