"""Archives (.tar.gz, .tgz, .tar, .zip) unpacked with checks: no absolute names, no ``..``, no
links or devices, at most ``MAX_MEMBERS`` members and ``MAX_UNPACKED`` bytes unpacked."""
from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
import zipfile
from pathlib import Path

from tagguard.sources.terraform.remote.http import FetchError

MAX_MEMBERS = 20_000
MAX_UNPACKED = 512 << 20


def kind_of(name: str, data: bytes) -> str:
    lower = name.lower().split("?", 1)[0]
    if data[:4] == b"PK\x03\x04" or lower.endswith(".zip"):
        return "zip"
    if data[:2] == b"\x1f\x8b" or lower.endswith((".tar.gz", ".tgz")):
        return "tgz"
    if lower.endswith(".tar") or data[257:262] == b"ustar":
        return "tar"
    raise FetchError(f"{name[:200]} is not an archive tagguard unpacks (.tar.gz, .tgz, .tar, .zip)")


def _safe_name(name: str) -> str:
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise FetchError(f"archive member {name[:200]!r} has an absolute path; the archive is refused")
    clean = posixpath.normpath(norm)
    if clean == ".." or clean.startswith("../") or "/../" in f"/{norm}/":
        raise FetchError(f"archive member {name[:200]!r} leaves the archive (path traversal); the archive is refused")
    return "" if clean == "." else clean


def _copy_member(src, target: Path, name: str, declared: int, room: int) -> None:
    """Copy one member in 1 MiB chunks; one that yields more than it declared (or than the archive's
    unpacked budget has room for) is refused mid-copy."""
    written = 0
    with open(target, "wb") as out:
        while True:
            chunk = src.read(1 << 20)
            if not chunk:
                break
            written += len(chunk)
            if written > declared or written > room:
                raise FetchError(f"archive member {name[:200]!r} is larger than it says; refused")
            out.write(chunk)


def unpack(data: bytes, name: str, dest: Path) -> None:
    kind = kind_of(name, data)
    total = 0
    count = 0

    def budget(size: int) -> None:
        nonlocal total, count
        total += max(size, 0)
        count += 1
        if count > MAX_MEMBERS:
            raise FetchError(f"archive {name[:200]} has more than {MAX_MEMBERS} members; refused")
        if total > MAX_UNPACKED:
            raise FetchError(f"archive {name[:200]} unpacks to more than {MAX_UNPACKED >> 20} MiB; refused")

    if kind == "zip":
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as exc:
            raise FetchError(f"archive {name[:200]}: {exc}") from None
        with zf:
            for info in zf.infolist():
                rel = _safe_name(info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise FetchError(f"archive member {info.filename[:200]!r} is a symbolic link;"
                                     f" the archive is refused")
                budget(info.file_size)
                if not rel:
                    continue
                target = dest / rel
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    _copy_member(src, target, info.filename, info.file_size, MAX_UNPACKED - (total - info.file_size))
        return
    try:
        tf = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz" if kind == "tgz" else "r:")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FetchError(f"archive {name[:200]}: {exc}") from None
    with tf:
        try:
            for member in tf:
                rel = _safe_name(member.name)
                if member.issym() or member.islnk():
                    raise FetchError(f"archive member {member.name[:200]!r} is a link to {member.linkname[:200]!r}; "
                                     "the archive is refused")
                if not (member.isfile() or member.isdir()):
                    raise FetchError(f"archive member {member.name[:200]!r} is a device or FIFO;"
                                     f" the archive is refused")
                budget(member.size)
                if not rel:
                    continue
                target = dest / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                member_src = tf.extractfile(member)
                if member_src is not None:
                    _copy_member(member_src, target, member.name, member.size, MAX_UNPACKED - (total - member.size))
                else:
                    target.touch()
                os.chmod(target, 0o644)
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, FetchError):
                raise
            raise FetchError(f"archive {name[:200]}: {exc}") from None
