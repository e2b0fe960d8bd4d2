"""The ``tagguard`` command (cli.run: the console script and ``python -m tagguard``) ends without the
interpreter's teardown (cli.end_process): the same exit status, output and atexit handlers as a normal exit,
without freeing every object of the scan one by one.  ``cli.main`` raises SystemExit as before."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from clikit import run_cli

from tagguard.cli import main


def _run(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                          timeout=120)


PROBE = """
    import atexit, sys
    class Teardown:
        def __del__(self):
            print("teardown ran", flush=True)
    probe = Teardown()
    atexit.register(lambda: print("atexit ran", flush=True))
    from tagguard.cli import run
    sys.argv[0] = "tagguard"
    run()
"""


def test_the_command_keeps_status_output_and_atexit_but_skips_teardown(tmp_path):
    (tmp_path / "main.tf").write_text('resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n}\n')
    done = _run(PROBE, "scan", str(tmp_path), "-f", "json")
    assert done.returncode == 1, done.stderr  # untagged GPU instance: findings
    report = json.loads(done.stdout[: done.stdout.rindex("}") + 1])  # the whole report, flushed
    assert report["resources"][0]["address"] == "aws_instance.gpu"
    assert done.stdout.rstrip().endswith("atexit ran")
    assert "teardown ran" not in done.stdout  # the heap is not torn down object by object

    assert _run(PROBE, "--version").returncode == 0
    usage = _run(PROBE, "scan", str(tmp_path / "missing"))
    assert usage.returncode == 2 and "no such file or directory" in usage.stderr


def test_a_message_exit_is_status_one_with_the_message():
    done = _run("from tagguard.cli import end_process\nend_process('tagguard: gone')")
    assert done.returncode == 1 and done.stderr.strip() == "tagguard: gone"
    assert _run("from tagguard.cli import end_process\nend_process(None)").returncode == 0
    assert _run("from tagguard.cli import end_process\nend_process(3)").returncode == 3


def test_main_exits_as_usual_with_or_without_arguments():
    # tests and programs that call main() or main([...]) get SystemExit, and their process goes on
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    done = _run("import sys\nfrom tagguard.cli import main\ntry:\n    main()\nexcept SystemExit as e:\n"
                "    print('went on', e.code)", "--version")
    assert done.returncode == 0 and done.stdout.split()[-3:] == ["went", "on", "0"], done.stdout


def test_the_console_script_and_python_m_end_through_run():
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    scripts = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["tagguard"] == "tagguard.cli:run"
    done = run_cli("--version", process=True)  # python -m tagguard: tagguard/__main__.py calls run()
    assert done.code == 0 and "tagguard" in done.stdout
