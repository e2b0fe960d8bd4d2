"""``pricing.default_accelerators``: a Kubernetes GPU workload with no node information is priced as the
model the team says its cluster runs, with a note saying so; without it, it stays unpriced and the
finding says how to fix it."""
from __future__ import annotations

import json

import pytest
from clikit import run_cli

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: infer, namespace: ml}
spec:
  replicas: 2
  template:
    spec:
      containers:
      - name: c
        image: x
        resources: {limits: {%s: %d}}
"""


def _scan(tmp_path, config: str | None, resource: str = "nvidia.com/gpu", count: int = 1):
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT % (resource, count))
    if config is not None:
        (tmp_path / ".tagguard.yaml").write_text(config)
    out = tmp_path.parent / f"{tmp_path.name}.json"
    run = run_cli("scan", str(tmp_path), "-f", "json", "-o", str(out))
    assert run.exit_code in (0, 1), run.output
    doc = json.loads(out.read_text())
    return doc["resources"][0], [f for f in doc["findings"] if f["rule"] == "unpriced-resource"]


def test_without_it_the_workload_is_a_lower_bound_and_with_the_switch_off_unpriced(tmp_path):
    r, unpriced = _scan(tmp_path, None)  # the default: a stated lower bound (tests/test_lower_bound.py)
    assert r["cost"]["lower_bound"] is True and unpriced == []
    r, unpriced = _scan(tmp_path, "pricing:\n  unplaced_accelerators: unpriced\n")
    assert r["cost"]["monthly_usd"] is None and "lower_bound" not in r["cost"]
    assert len(unpriced) == 1 and "pricing.default_accelerators" in unpriced[0]["fix"]


def test_the_configured_model_prices_it_per_gpu_with_a_note(tmp_path):
    r, unpriced = _scan(tmp_path, "pricing:\n  default_accelerators:\n    nvidia.com/gpu: A10G\n", count=2)
    per_gpu = r["cost"]["breakdown"][0]["usd_per_gpu_hour"]
    assert unpriced == [] and per_gpu > 0
    assert r["cost"]["hourly_usd"] == pytest.approx(round(per_gpu * 2 * 2, 2), abs=0.01)  # 2 replicas x 2 GPUs
    assert "assumed" in r["cost"]["reason"] and "pricing.default_accelerators" in r["cost"]["reason"]


def test_a_resource_the_mapping_does_not_name_stays_unpriced(tmp_path):
    r, unpriced = _scan(tmp_path, "pricing:\n  default_accelerators:\n    nvidia.com/gpu: A10G\n",
                        resource="amd.com/gpu")
    assert r["cost"]["monthly_usd"] is None and len(unpriced) == 1


def test_a_bad_value_is_a_config_error_naming_the_key(tmp_path):
    (tmp_path / "deploy.yaml").write_text(DEPLOYMENT % ("nvidia.com/gpu", 1))
    (tmp_path / ".tagguard.yaml").write_text("pricing:\n  default_accelerators:\n    nvidia.com/gpu: 3\n")
    run = run_cli("scan", str(tmp_path))
    assert run.exit_code == 2 and "default_accelerators" in run.output
