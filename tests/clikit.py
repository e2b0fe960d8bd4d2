"""One way for tests to run the tagguard CLI (instead of an ad-hoc runner per test file).

``run_cli(*args)`` runs ``tagguard ARGS`` and returns a ``CliRun``:

* in this process through click (fast; the default), or with ``process=True`` as a real
  ``python -m tagguard`` process (for what only a process shows: the entry point, signals, stdin,
  real environment, a traceback that must not appear);
* ``cwd`` is the working directory, ``env`` the environment *changes* (a value of ``None`` removes the
  variable), ``stdin`` the text fed to it;
* ``TAGGUARD_USER_CONFIG`` is empty and ``NO_COLOR`` set unless ``env`` says otherwise, so a
  developer's own config or terminal never changes a result.

``CliRun`` has ``code`` (also as ``exit_code`` / ``returncode``), ``stdout``, ``stderr``, ``output``
(both, as a person sees them) and ``json()`` (stdout parsed, with the output in the error when it
is not JSON).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_ENV = {"TAGGUARD_USER_CONFIG": "", "NO_COLOR": "1"}


@dataclass
class CliRun:
    args: list[str]
    code: int
    stdout: str
    stderr: str
    output: str

    @property
    def exit_code(self) -> int:
        return self.code

    @property
    def returncode(self) -> int:
        return self.code

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError:
            raise AssertionError(f"tagguard {' '.join(self.args)} (exit {self.code}) did not print JSON:\n"
                                 f"{self.output[-3000:]}") from None

    def __str__(self) -> str:  # for assertion messages: `assert run.code == 0, run`
        return f"tagguard {' '.join(self.args)} -> exit {self.code}\n{self.output[-3000:]}"


def run_cli(*args: str | os.PathLike, cwd: str | os.PathLike | None = None, env: dict[str, str | None] | None = None,
            stdin: str | None = None, process: bool = False, timeout: float = 180) -> CliRun:
    argv = [str(a) for a in args]
    changes = {**BASE_ENV, **(env or {})}
    if process:
        full = dict(os.environ)
        for k, v in changes.items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = str(v)
        proc = subprocess.run([sys.executable, "-m", "tagguard", *argv], cwd=cwd, env=full, input=stdin,
                              capture_output=True, text=True, timeout=timeout)
        return CliRun(argv, proc.returncode, proc.stdout, proc.stderr, proc.stdout + proc.stderr)

    from click.testing import CliRunner

    from tagguard.cli import cli

    old = os.getcwd()
    if cwd is not None:
        os.chdir(Path(cwd))
    try:
        res = CliRunner().invoke(
            cli,
            argv,
            input=stdin,
            env={k: (None if v is None else str(v)) for k, v in changes.items()},
            catch_exceptions=False,
        )
    finally:
        os.chdir(old)
    return CliRun(argv, res.exit_code, res.stdout, res.stderr, res.output)
