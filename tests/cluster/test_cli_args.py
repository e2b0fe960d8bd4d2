"""Argument errors of `tagguard cluster report` are one-line usage errors (no Prometheus needed)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from tagguard.cli import cli


@pytest.mark.parametrize("extra, message", [
    (["--window", "30x"], "is not a duration"),
    (["--since", "2026-11-02", "--until", "2026-11-01"], "--since must be before --until"),
    (["--since", "yesterday"], "expected RFC 3339"),
    (["--resolution", "500ms", "--window", "1h"], "whole seconds"),
    (["--chunk", "30s", "--window", "1h"], "shorter than --resolution"),
    (["--idle-sharing", "platform", "--window", "1h"], "--idle-platform"),
])
def test_bad_arguments(extra, message):
    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", "http://127.0.0.1:9", *extra])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output


def test_url_only_from_flag_or_env(monkeypatch):
    monkeypatch.delenv("TAGGUARD_PROMETHEUS_URL", raising=False)
    res = CliRunner().invoke(cli, ["cluster", "report", "--window", "1h"])
    assert res.exit_code == 2 and "--prometheus" in res.output
    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", "file:///etc/passwd", "--window", "1h"])
    assert res.exit_code == 2 and "http:// or https://" in res.output


def test_credentials_in_the_url_are_refused_without_echoing_them():
    """Bug fixed: `--prometheus https://user:pw@host` was accepted, printed in every error message and
    written to the report's source (urllib does not even send it): credentials come from the environment."""
    res = CliRunner().invoke(cli, ["cluster", "report", "--prometheus", "http://alice:s3cr3t@127.0.0.1:9/",
                                   "--window", "1h"])
    assert res.exit_code == 2, res.output
    assert "s3cr3t" not in res.output and "TAGGUARD_PROMETHEUS_USER" in res.output
    assert "http://127.0.0.1:9" in res.output
