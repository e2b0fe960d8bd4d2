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


def scan_json(tmp_path: Path, files: dict[str, str], config: str | None = None, *args: str) -> Any:
    """Write ``files`` (name -> text) and ``config`` (a ``.tagguard.yaml``) into ``tmp_path``, run
    ``tagguard scan tmp_path -f json ARGS`` and return the report (the scan must not fail: exit 0 or 1)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if config is not None:
        (tmp_path / ".tagguard.yaml").write_text(config, encoding="utf-8")
    out = tmp_path.parent / f"{tmp_path.name}.json"
    run = run_cli("scan", str(tmp_path), "-f", "json", "-o", str(out), *args)
    assert run.exit_code in (0, 1), run
    return json.loads(out.read_text())


def report_resource(doc: dict, address: str) -> dict:
    """The resource of a JSON report with this address."""
    return next(r for r in doc["resources"] if r["address"] == address)


TINY_MODULE = 'resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n  tags = { project = "p" }\n}\n'


def after_scan(tmp_path: Path, expression: str, text: str = TINY_MODULE, config: str | None = None,
               prelude: str = "") -> Any:
    """``expression`` evaluated in a fresh process after a JSON scan of ``text`` (a one-resource module by
    default) with ``config`` as its ``.tagguard.yaml``; ``prelude`` runs first (before tagguard loads).

    The child runs as the benchmark's do: ``python -S`` (no .pth start-up hooks of this machine: they import
    what the scan does not), with tagguard's source and site-packages on the path."""
    import site
    import textwrap

    import tagguard

    (tmp_path / "main.tf").write_text(text)
    if config is not None:
        (tmp_path / ".tagguard.yaml").write_text(config)
    code = prelude + textwrap.dedent(f"""
        import sys
        from tagguard.cli import main
        try:
            main(["scan", {str(tmp_path)!r}, "--scope", "all", "-f", "json", "-o", {str(tmp_path / "r.json")!r}])
        except SystemExit:
            pass
        print(repr({expression}))
    """)
    paths = [str(Path(tagguard.__file__).resolve().parent.parent), *site.getsitepackages()]
    env = dict(os.environ, TAGGUARD_USER_CONFIG="", PYTHONPATH=os.pathsep.join(paths))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env,
                         check=True, cwd=tmp_path)
    assert '"aws_instance.gpu"' in (tmp_path / "r.json").read_text(), out.stderr
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's repr of a plain value
