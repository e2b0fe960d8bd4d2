"""Issue 13, everything after the HCL parse: the work a Terraform scan does besides parsing, kept small.

These check behaviour (what is imported, what is looked up again, what a memo returns after a change), not
timings: the figures are in BENCHMARKS.md ("Terraform scan against a bare parse").
"""
from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import tagguard

TINY = 'resource "aws_instance" "gpu" {\n  instance_type = "g5.xlarge"\n  tags = { project = "p" }\n}\n'


def _after_scan(tmp_path, expression: str, text: str = TINY):
    """``expression`` evaluated in a fresh process after a JSON scan of ``text`` (a one-resource module)."""
    (tmp_path / "main.tf").write_text(text)
    code = textwrap.dedent(f"""
        import sys
        from tagguard.cli import main
        try:
            main(["scan", {str(tmp_path)!r}, "--scope", "all", "-f", "json", "-o", {str(tmp_path / "r.json")!r}])
        except SystemExit:
            pass
        print(repr({expression}))
    """)
    # -S: no .pth start-up hooks of this machine (they import what the scan does not); tagguard and
    # site-packages on the path as the benchmark's children have them
    paths = [str(Path(tagguard.__file__).resolve().parent.parent), *site.getsitepackages()]
    env = dict(os.environ, TAGGUARD_USER_CONFIG="", PYTHONPATH=os.pathsep.join(paths))
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, check=True)
    assert '"aws_instance.gpu"' in (tmp_path / "r.json").read_text(), out.stderr
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own child's repr of a plain value


def _modules_after_scan(tmp_path, *prefixes: str) -> list[str]:
    """The modules (of ``prefixes``) a fresh process has imported after a JSON scan of a one-resource module."""
    return _after_scan(tmp_path, f"sorted(m for m in sys.modules if m.startswith({prefixes!r}))")


def test_a_scan_imports_no_module_only_downloads_and_refreshes_need(tmp_path):
    # importlib.resources (for the shipped data of an on-disk install) brings tempfile, shutil, zipfile,
    # lzma, bz2 and random; the module cache and `pricing refresh` imported tempfile/shutil/statistics
    # at their top for the one function that writes: ~15 ms of every scan together
    assert _modules_after_scan(tmp_path, "importlib.resources", "zipfile", "tempfile", "shutil", "random",
                               "statistics") == []


def test_a_zip_imported_package_still_goes_through_importlib_resources(tmp_path, monkeypatch):
    from importlib.resources import files

    from tagguard import resources

    archive = tmp_path / "pkgs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped_pkg_h5/__init__.py", "")
        zf.writestr("zipped_pkg_h5/table.json", "{}")
    monkeypatch.syspath_prepend(str(archive))
    try:
        root = resources._package_root("zipped_pkg_h5")
        assert root == Path(str(files("zipped_pkg_h5")))
        assert str(archive) in str(root)
    finally:
        sys.modules.pop("zipped_pkg_h5", None)
    # an on-disk package: its directory, the same one importlib.resources names
    assert resources._package_root("tagguard.sources.terraform") == \
        resources._package_root("tagguard").joinpath("sources", "terraform")
    assert resources._package_root("tagguard.sources.terraform") == Path(str(files("tagguard.sources.terraform")))


def test_a_json_scan_of_ascii_text_compiles_none_of_the_escaping_expressions(tmp_path):
    # formats/escape.py compiled its ten expressions at import (~4 ms of every command); a JSON report of
    # ASCII text needs none of them (json_safe's fast path), a bidi control in a tag value needs one
    compiled = ("[n for n, v in sorted(vars(sys.modules['tagguard.formats.escape']).items())"
                " if type(v).__name__ == '_Lazy' and v._rx is not None]")
    assert _after_scan(tmp_path, compiled) == []
    assert _after_scan(tmp_path, compiled, TINY.replace('"p"', '"p\u202e"')) == ["_JSON_RAW"]
    assert "\\u202e" in (tmp_path / "r.json").read_text()
