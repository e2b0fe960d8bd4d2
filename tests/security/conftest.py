"""Fixtures and helpers for tests/security/: a hostile repository, a secret outside it, the
real CLI under RLIMIT_AS, leak checks, a loopback server.

Everything lives in ``seckit.py``; this file re-exports it, so ``from seckit import ...`` and
``from tests.security.conftest import ...`` both work (prefer ``seckit``: ``from conftest
import`` is ambiguous when several test directories have a conftest.py).
"""
from seckit import *  # noqa: F401,F403 - the fixtures (secret, hostile_repo, marker, loopback) and helpers
from seckit import hostile_repo, loopback, marker, secret  # noqa: F401 - pytest fixtures, named for readers
