"""How a command reports a user-facing error: one line on stderr, then the exit code.

Library modules raise their own exception types (``ConfigError``, ``DiffError``...) with a
one-line message naming file and line; commands turn them into ``fail(message)``.  ``fail`` lives
here, not in ``cli``, so that a command module (``commands/*``) or anything it calls never has
to import the command line to stop with an error (``pricing refresh`` used to import it back from
``cli``, which imports the scan pipeline, which imports ``pricing.refresh``).

Needs only click at import time (``formats.escape`` compiles a dozen patterns: imported when a
message is printed, so ``tagguard scan`` on a clean tree does not pay for it).
"""
from __future__ import annotations

from typing import NoReturn

import click

EXIT_USAGE = 2  # usage or configuration error: model.EXIT_UNSEEN, the same number as an input that must not pass


def log_safe(text: str) -> str:
    """One line for stderr that may quote scanned data: control characters and newlines shown
    escaped, no legacy ``##[cmd]`` workflow command (``formats.escape``)."""
    from tagguard.formats.escape import guard_commands, term

    return guard_commands(term(text))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``tagguard: error: <message>`` (escaped: it may quote scanned data) and exit with ``code``."""
    click.echo(f"tagguard: error: {log_safe(str(message))}", err=True)
    raise click.exceptions.Exit(code)
