"""Habits of the test suite itself (issue 13): tests name the exception they expect, and run the CLI
through the one helper, ``clikit.run_cli``, instead of a runner of their own."""
from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Files that still run the CLI their own way: each belongs to a lane being reworked at the time of
# issue 13 (cluster, Kubernetes, showback) or needs more than run_cli gives (seckit: rlimits and a
# never-written stdin for hostile inputs).
# Convert one, then delete its line here.
OWN_RUNNERS = {
    "cluster/test_cli_args.py", "cluster/test_focus_allocation.py", "cluster/test_opencost.py",
    "cluster/test_prometheus_gpuhours.py", "cluster/test_short_jobs_init.py", "cluster/test_showback_history.py",
    "security/seckit.py",
    "test_kubernetes.py", "test_showback.py",
}
RUNNER = re.compile(r'CliRunner|"-m",\s*"tagguard"')
BROAD_RAISES = re.compile(r"pytest\.raises\(\s*\(?\s*(Base)?Exception\b")


def _sources():
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path.relative_to(TESTS).as_posix(), path.read_text(encoding="utf-8")


def test_no_test_expects_any_exception_at_all():
    offenders = [f"{rel}:{n}" for rel, text in _sources() for n, line in enumerate(text.splitlines(), 1)
                 if BROAD_RAISES.search(line) and rel != "test_test_habits.py"]
    assert not offenders, offenders


def test_tests_run_the_cli_through_clikit():
    own = {rel for rel, text in _sources() if RUNNER.search(text)} - {"clikit.py", "test_test_habits.py"}
    assert own - OWN_RUNNERS == set(), "run the CLI with clikit.run_cli (process=True for a real process)"
    assert OWN_RUNNERS - own == set(), "converted: delete it from OWN_RUNNERS"


# Commands that still take ``fail``/``log_safe`` from ``tagguard.cli`` (owned by lanes being reworked).
CLI_ERRORS = {"cluster.py", "report.py"}
FROM_CLI = re.compile(r"from tagguard\.cli import \(?([^)]*?)\)?$|\bcli\.(fail|log_safe|EXIT_\w+)\b", re.M | re.S)
EXIT_DEFINED = re.compile(r"^(EXIT_\w+)(?:\s*,\s*EXIT_\w+)*\s*=", re.M)


def test_commands_take_errors_and_exit_codes_from_their_one_module():
    """``fail``/``log_safe`` live in ``tagguard.errors``, the scan exit codes in ``tagguard.model``."""
    src = TESTS.parent / "src" / "tagguard"
    offenders = []
    for path in sorted((src / "commands").glob("*.py")):
        if path.name in CLI_ERRORS:
            continue
        text = path.read_text(encoding="utf-8")
        for m in FROM_CLI.finditer(text):
            names = set(re.findall(r"\w+", m.group(1) or m.group(2)))
            if names & {"fail", "log_safe"} or any(n.startswith("EXIT_") for n in names):
                offenders.append(f"commands/{path.name}: {m.group(0).strip()}")
    assert not offenders, offenders
    # one definition of each exit code the scan ends with: model.py's
    shared = {"EXIT_OK", "EXIT_FINDINGS", "EXIT_UNSEEN", "EXIT_INCOMPLETE"}
    again = [f"{path.relative_to(src)}: {line.strip()}" for path in sorted(src.rglob("*.py"))
             if path.name != "model.py" and path.parent.name != "pricing"  # pricing show: its own codes
             for line in path.read_text(encoding="utf-8").splitlines()
             if EXIT_DEFINED.match(line) and set(re.findall(r"EXIT_\w+", line.split("=")[0])) & shared]
    assert not again, again


def test_the_patterns_catch_what_they_are_for():
    assert BROAD_RAISES.search("    with pytest.raises(Exception):")
    assert BROAD_RAISES.search("with pytest.raises((Exception, ValueError)):")
    assert not BROAD_RAISES.search("with pytest.raises(ExceptionGroup):")
    assert not BROAD_RAISES.search("with pytest.raises(ValueError):")
    assert RUNNER.search('subprocess.run([sys.executable, "-m", "tagguard", "scan"])')
    assert FROM_CLI.search("from tagguard.cli import (config_option, fail,\n    write_output)\n")
    assert FROM_CLI.search("        cli.fail(f'x')")
    assert EXIT_DEFINED.match("EXIT_OK, EXIT_FINDINGS = 0, 1")
