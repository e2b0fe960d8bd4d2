"""Keys that size tagguard's own resources (DuckDB's memory, its threads) are the runner's choice.

A pull request controls the repository's ``.tagguard.yaml``: ``bill.memory_limit: 900TB`` would let
it take every byte of a shared runner (DuckDB grows to its limit before spilling), ``bill.threads``
every core. Such keys are trusted-only (``config.RESOURCE_KEYS``): a configuration error with its line
in a repository config, accepted from the user-level config and from a ``--config`` file.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tagguard.config import RESOURCE_KEYS
from tests.security.conftest import assert_clean, run_cli, scan_all, write

NO_USER = {"TAGGUARD_USER_CONFIG": ""}
GPU_TF = 'resource "aws_instance" "gpu" {\n  instance_type = "p4d.24xlarge"\n  tags = { owner = "alice" }\n}\n'
BILL = ("BillingCurrency,ChargeCategory,ChargePeriodStart,ServiceName,ResourceId,Tags,EffectiveCost,SkuId\n"
        'USD,Usage,2026-11-01T00:00:00Z,Amazon EC2,i-1,"{""team"": ""a""}",10.00,p4d.24xlarge\n')


@pytest.mark.parametrize("text, key, line", [
    ("scope: ai\nbill:\n  top: 5\n  memory_limit: 900TB\n", "bill.memory_limit", 4),
    ("bill:\n  threads: 64\n", "bill.threads", 2),
])
def test_repo_config_cannot_size_tagguards_resources(hostile_repo, secret, text, key, line):
    write(hostile_repo, "infra/main.tf", GPU_TF)
    write(hostile_repo, ".tagguard.yaml", text)
    run = scan_all(hostile_repo / "infra", secret, env=NO_USER)
    assert_clean(run, exit_codes=(2,), secret=secret, formats=())
    err = run.stderr.strip()
    assert err.count("\n") == 0, err
    assert f".tagguard.yaml:{line}: {key}: the repository's config cannot size tagguard's memory or threads" in err, err
    assert "user-level config" in err


def test_bill_command_refuses_the_repositorys_memory_limit(hostile_repo, secret):
    """`tagguard bill` run in the repository's checkout reads its .tagguard.yaml: the same refusal."""
    write(hostile_repo, ".tagguard.yaml", "bill:\n  memory_limit: 900TB\n")
    write(hostile_repo, "bill.csv", BILL)
    run = run_cli(["bill", "budgets", "bill.csv"], cwd=hostile_repo, env=NO_USER, secret=secret)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert ".tagguard.yaml:2: bill.memory_limit:" in run.stderr and "--memory-limit" in run.stderr, run.stderr


def test_trusted_configs_may_size_them(hostile_repo, secret, tmp_path: Path):
    """The user-level config and a --config file are the runner's: accepted (and used by bill)."""
    pytest.importorskip("duckdb")
    write(hostile_repo, "infra/main.tf", GPU_TF)
    user = write(tmp_path, "user/config.yaml", "bill:\n  memory_limit: 256MB\n  threads: 1\n")
    run = scan_all(hostile_repo / "infra", secret, env={"TAGGUARD_USER_CONFIG": str(user)})
    assert_clean(run, exit_codes=(0, 1), secret=secret, formats=())
    named = write(tmp_path, "named.yaml", "bill:\n  memory_limit: 256MB\n")
    write(tmp_path, "bill.csv", BILL)
    run = run_cli(["bill", "budgets", "--config", str(named), str(tmp_path / "bill.csv")], cwd=tmp_path, env=NO_USER,
                  secret=secret)
    assert run.returncode == 0, (run.stdout, run.stderr)


def test_every_bill_key_that_sizes_resources_is_registered():
    """A schema key of `bill` bounding memory or threads that is not registered would be settable by a PR."""
    import json

    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "config.schema.json").read_text())
    bill = schema["properties"]["bill"]["properties"]
    sizing = {k for k in bill if any(w in k for w in ("memory", "thread", "temp", "spill", "path", "dir", "url"))}
    assert sizing, "the bill section has no sizing key: update this test"
    assert {("bill", k) for k in sizing} <= set(RESOURCE_KEYS)
