"""Reads confined to the scanned repository (issue 10): safeio units, then attacks through the CLI."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tagguard import safeio
from tagguard.safeio import InputTooLarge, NotRegularFile, OutsideRepository


# --- safeio units ------------------------------------------------------------------------------

def test_boundary_is_git_toplevel_or_scanned_dir(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "infra" / "mod").mkdir(parents=True)
    (repo / "infra" / "main.tf").write_text("")
    assert safeio.scan_boundary(repo / "infra" / "mod") == repo.resolve()
    assert safeio.scan_boundary(repo / "infra" / "main.tf") == repo.resolve()
    plain = tmp_path / "plain" / "sub"
    plain.mkdir(parents=True)
    assert safeio.scan_boundary(plain) == plain.resolve()
    (plain / "x.tf").write_text("")
    assert safeio.scan_boundary(plain / "x.tf") == plain.resolve()


def test_confine_resolves_symlinks(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "secret").write_text("s")
    (repo / "ok.txt").write_text("fine")
    (repo / "link").symlink_to(tmp_path / "secret")
    (repo / "inner").symlink_to(repo / "ok.txt")
    (tmp_path / "repo2").mkdir()  # a sibling sharing the prefix "repo"
    assert safeio.inside(repo / "ok.txt", repo)
    assert safeio.inside(repo, repo)
    assert not safeio.inside(repo / "link", repo)
    assert not safeio.inside(repo / ".." / "secret", repo)
    assert not safeio.inside(tmp_path / "repo2", repo)
    assert safeio.confine(repo / "inner", repo) == (repo / "ok.txt").resolve()
    with pytest.raises(OutsideRepository, match="outside the scanned repository"):
        safeio.confine(repo / "link", repo)
    with pytest.raises(OutsideRepository):
        safeio.read_bytes("/etc/passwd", repo)


def test_read_refuses_non_regular_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="not a regular file.*FIFO"):
        safeio.read_bytes(fifo, tmp_path)  # must not block
    with pytest.raises(NotRegularFile):
        safeio.read_bytes(tmp_path, tmp_path)
    for special in ("/dev/zero", "/dev/stdin", "/proc/self/environ"):
        with pytest.raises(NotRegularFile):
            safeio.read_bytes(special, "/")
        with pytest.raises(OutsideRepository):
            safeio.read_bytes(special, tmp_path)
    # refusals are OSErrors, so existing ``except OSError`` handlers report them
    assert issubclass(NotRegularFile, OSError) and issubclass(OutsideRepository, OSError)


def test_read_cap(tmp_path, monkeypatch):
    f = tmp_path / "big.tf"
    f.write_bytes(b"a" * 1000)
    assert safeio.read_bytes(f, tmp_path, cap=1000) == b"a" * 1000
    with pytest.raises(InputTooLarge) as err:
        safeio.read_bytes(f, tmp_path, cap=999)
    assert "big.tf" in str(err.value) and "999 bytes" in str(err.value)
    monkeypatch.setenv("TAGGUARD_MAX_FILE_BYTES", "1K")
    assert safeio.max_file_bytes() == 1024
    assert safeio.read_text(f, tmp_path) == "a" * 1000
    f.write_bytes(b"a" * 1025)
    with pytest.raises(InputTooLarge, match="1 KiB"):
        safeio.read_text(f, tmp_path)
    monkeypatch.setenv("TAGGUARD_MAX_FILE_BYTES", "nonsense")
    assert safeio.max_file_bytes() == safeio.DEFAULT_MAX_FILE_BYTES


def test_load_json_depth():
    assert safeio.load_json('{"a": [1, {"b": "[[[["}]}', "x.json") == {"a": [1, {"b": "[[[["}]}
    deep = "[" * 200_000 + "]" * 200_000
    with pytest.raises(ValueError, match=r"x\.json: JSON nested deeper than 512"):
        safeio.load_json(deep, "x.json")
    ok = "[" * 512 + "]" * 512
    assert safeio.load_json(ok, "x.json") is not None
    with pytest.raises(ValueError, match="deeper"):
        safeio.load_json("[" * 513 + "]" * 513, "x.json")
    # brackets inside strings do not count; escaped quotes do not end a string
    text = json.dumps(["[" * 5000 + '\\"' + "{" * 5000])
    assert safeio.load_json(text, "x.json") == ["[" * 5000 + '\\"' + "{" * 5000]
    with pytest.raises(json.JSONDecodeError):
        safeio.load_json("{", "x.json")


def test_truncate():
    assert safeio.truncate("short") == "short"
    long = "x" * 10_000
    out = safeio.truncate(long, 50)
    assert len(out) < 100 and out.startswith("x" * 50) and "9950 more" in out
