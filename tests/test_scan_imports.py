"""A scan's fixed cost: what it imports and compiles before it reads a file (issue 13).

Each check runs in a fresh interpreter, because what a module imports shows only in a process that
has not imported it yet.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap


def _fresh(code: str) -> list[str]:
    """Run ``code`` in a new interpreter; its last printed line, split on spaces."""
    env = dict(os.environ, TAGGUARD_USER_CONFIG="")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, check=True)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr
    return lines[-1].split()


def test_sha256_hex_is_hashlibs_digest():
    from tagguard.safeio import sha256_hex

    for data in (b"", b"abc", "kinds: é\n".encode(), bytes(range(256)) * 300):
        assert sha256_hex(data) == hashlib.sha256(data).hexdigest()


def test_config_and_taxonomy_digests_need_no_openssl(tmp_path):
    # hashlib loads OpenSSL (~12 M instructions); the built-in SHA-256 gives the same digest
    (tmp_path / ".tagguard.yaml").write_text("version: 1\nrules:\n  spot-opportunity: \"off\"\n")
    code = f"""
        import sys
        from pathlib import Path
        from tagguard import config, taxonomy
        cfg = config.load_config(Path({str(tmp_path / ".tagguard.yaml")!r}))
        tax = taxonomy.load_taxonomy(config.data_file(config.DEFAULT_TAXONOMY))
        print(cfg.sha256, tax.sha256, " ".join(sorted(m for m in ("hashlib", "_hashlib") if m in sys.modules)))
    """
    words = _fresh(code)
    assert words[0] == hashlib.sha256((tmp_path / ".tagguard.yaml").read_bytes()).hexdigest()
    from tagguard.resources import data_file

    from tagguard.config import DEFAULT_TAXONOMY

    assert words[1] == hashlib.sha256(data_file(DEFAULT_TAXONOMY).read_bytes()).hexdigest()
    assert words[2:] == []
