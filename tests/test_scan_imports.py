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

from clikit import after_scan


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


def test_module_cache_key_is_hashlibs_digest():
    from tagguard.sources.terraform.remote.cache import key_of

    want = hashlib.sha256(b"app.terraform.io/acme/gpu/aws\n1.2.0").hexdigest()[:40]
    assert key_of(" app.terraform.io/acme/gpu/aws ", "1.2.0") == want


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


# Regexes compiled on first use (cached getters): what a plain Terraform module never needs.
LAZY_PATTERNS = {
    "tagguard.hcl.parse": ("_run_re", "_heredoc_open_re", "_escape_re", "_brace_re", "_expr_token_re",
                           "_string_token_re", "_blank_to_eol_re"),
    "tagguard.hcl._compile": ("_quoted_re", "_template_re"),
    "tagguard.hcl.functions.dates": ("_date_tokens",),
    "tagguard.hcl.functions.strings": ("_format_re",),
    "tagguard.pricing.catalog": ("gpu_schemes",),
    "tagguard.pricing.placement": ("_passthrough", "_vgpu", "_capacity_type", "_typeish_key", "_heredoc",
                                   "_interp", "_directive"),
}


TEXT_MERGE = ('resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n'
              '  tags = merge({ project = "p" }, { team = "t" })\n}\n')
TEXT_COUNT = ('variable "n" {\n  default = 2\n}\n'
              'resource "aws_instance" "gpu" {\n  count = var.n\n  instance_type = "g5.xlarge"\n'
              '  root_block_device {\n    volume_size = 100\n  }\n'
              '  tags = merge({ project = "p" }, { team = "t" })\n}\n')


def test_a_plain_terraform_scan_compiles_no_regex_it_does_not_use(tmp_path):
    # each costs ~1 M instructions to compile: at import they were paid by every scan
    compiled = (f"[m + '.' + f for m, fs in {LAZY_PATTERNS!r}.items() for f in fs"
                " if getattr(importlib.import_module(m), f).cache_info().currsize]")
    assert after_scan(tmp_path, compiled, TEXT_MERGE, prelude="import importlib\n") == []


def test_lazily_compiled_patterns_still_match():
    from tagguard.hcl import _compile, parse
    from tagguard.hcl.functions import dates, strings
    from tagguard.pricing import catalog, placement

    assert parse._brace_re() is parse._brace_re()  # compiled once
    assert _compile.unescape_quoted(r"a\nb $${x}") == "a\nb ${x}"
    assert _compile.unescape_template("$${x} %%{y}") == "${x} %{y}"
    assert dates.formatdate("YYYY-MM-DD", "2026-12-06T07:00:00Z") == "2026-12-06"
    assert strings.format_("%s-%03d", "a", 7) == "a-007"
    assert catalog.unknown_gpu_family("g99e.2xlarge", "aws") == "g99e"
    assert placement.named_models("nvidia.com/GRID_T4-1Q") == ("vGPU", ["T4"])


# Modules a plain Terraform scan (whole numbers, no plan, no base, no rule doc page) never needs; each is imported
# where used.
NOT_IMPORTED = ("decimal", "tagguard.rules.docpages", "_hashlib", "base64")


def test_a_plain_terraform_scan_does_not_import(tmp_path):
    assert after_scan(tmp_path, f"[m for m in {NOT_IMPORTED!r} if m in sys.modules]", TEXT_COUNT) == []


def test_whole_number_literals_read_as_decimal_read_them():
    from decimal import Decimal

    from tagguard.hcl._compile import parse_numeric

    def by_decimal(text):
        number = Decimal(text)
        return int(number) if number == number.to_integral_value() else float(number)

    for text in ("0", "7", "007", "100", "9" * 18, "9" * 19, "1" * 5000, "1.5", "1e3", "2.50", "1E-2"):
        got = parse_numeric(text)
        assert got == by_decimal(text) and type(got) is type(by_decimal(text)), text
