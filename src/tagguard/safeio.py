"""Reads confined to the scanned repository, bounded in size and depth.

The scanned repository is untrusted.  Every read of a file a scanned file names
(``file()``, ``templatefile()``, module sources, var files, usage logs, plan
files) goes through here:

- :func:`scan_boundary` -- the directory reads must stay in: the git top-level of the
  scanned path, or the scanned directory itself outside git;
- :func:`confine` -- resolve symlinks and refuse anything that leaves the boundary
  (:class:`OutsideRepository`, "outside the scanned repository");
- :func:`read_bytes` / :func:`read_text` -- only regular files (no FIFO, device,
  ``/proc``), never more than the per-file cap (:class:`InputTooLarge`);
- :func:`load_json` -- JSON with a nesting cap: a too-deep document is one
  ``ValueError`` naming the file, never a ``RecursionError``;
- :func:`truncate` -- keep untrusted values short in messages.

Every refusal is an ``OSError`` subclass (:class:`ReadRefused`) with a one-line
reason in ``str(exc)`` and ``exc.reason``, so ``except OSError`` handlers report it.
Nothing here imports anything heavy.
"""
from __future__ import annotations

import os
import re
import stat
from functools import cache
from pathlib import Path
from typing import Any, Union

PathLike = Union[str, "os.PathLike[str]"]

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_BYTES_ENV = "TAGGUARD_MAX_FILE_BYTES"
MAX_JSON_DEPTH = 512

# Pseudo-filesystems whose "regular" files are generated on read (/proc/self/environ
# reports size 0 and a regular mode): refused whatever stat says.
_PSEUDO_ROOTS = ("/proc", "/sys", "/dev")


class ReadRefused(OSError):
    """A read tagguard refuses; ``reason`` is the short why, ``str()`` the full line."""

    reason = "refused"

    def __init__(self, path: PathLike, detail: str = "") -> None:
        self.path = str(path)
        self.detail = detail
        message = f"{truncate(self.path)}: {self.reason}" + (f" ({detail})" if detail else "")
        super().__init__(message)

    def __str__(self) -> str:  # OSError's str() would show the errno form
        return self.args[0] if self.args else self.reason


class OutsideRepository(ReadRefused):
    reason = "outside the scanned repository"


class NotRegularFile(ReadRefused):
    reason = "not a regular file"


class InputTooLarge(ReadRefused):
    reason = "over the size limit"

    def __init__(self, path: PathLike, cap: int) -> None:
        self.cap = cap
        super().__init__(path, f"more than {format_bytes(cap)}; raise {MAX_FILE_BYTES_ENV} to read it")


# --- the boundary ---------------------------------------------------------------------------

def scan_boundary(path: PathLike) -> Path:
    """The directory reads stay in: the git top-level above ``path`` (a directory holding
    ``.git``), else the scanned directory itself (a file argument: its directory).
    Returned resolved (symlinks followed), so it compares with :func:`os.path.realpath`."""
    start = Path(os.path.realpath(os.fspath(path)))
    if not start.is_dir():
        start = start.parent
    current = start
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = current.parent
        if parent == current:
            return start
        current = parent


def _real_boundary(boundary: PathLike) -> str:
    return os.path.realpath(os.fspath(boundary))


def inside(path: PathLike, boundary: PathLike) -> bool:
    """Whether ``path`` (symlinks resolved) stays within ``boundary``."""
    real = os.path.realpath(os.fspath(path))
    root = _real_boundary(boundary)
    if real == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return real.startswith(prefix)


def confine(path: PathLike, boundary: PathLike) -> Path:
    """``path`` with symlinks resolved, or :class:`OutsideRepository` when it leaves ``boundary``."""
    real = os.path.realpath(os.fspath(path))
    if not inside(real, boundary):
        raise OutsideRepository(path)
    return Path(real)


# --- reading --------------------------------------------------------------------------------

def max_file_bytes(default: int = DEFAULT_MAX_FILE_BYTES) -> int:
    """The per-file cap: ``TAGGUARD_MAX_FILE_BYTES`` (a trusted environment variable) or ``default``.
    Accepts plain bytes or a K/M/G suffix (``64M``)."""
    raw = os.environ.get(MAX_FILE_BYTES_ENV, "").strip()
    if not raw:
        return default
    parsed = parse_bytes(raw)
    return parsed if parsed is not None and parsed > 0 else default


def parse_bytes(text: str) -> int | None:
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*", text)
    if not m:
        return None
    scale = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]
    return int(m.group(1)) * scale


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    if n >= 1024 ** 2:
        return f"{n / 1024 ** 2:.1f} MiB"
    return f"{n} bytes"


def check_regular(path: PathLike, boundary: PathLike | None = None) -> Path:
    """Confine (when a boundary is given) and make sure ``path`` is a regular file."""
    real = confine(path, boundary) if boundary is not None else Path(os.path.realpath(os.fspath(path)))
    text = str(real)
    if any(text == p or text.startswith(p + "/") for p in _PSEUDO_ROOTS):
        raise NotRegularFile(path, "a system pseudo-file")
    st = os.stat(real)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, _kind(st.st_mode))
    return real


def read_bytes(path: PathLike, boundary: PathLike | None = None, cap: int | None = None) -> bytes:
    """The bytes of ``path``: confined to ``boundary`` (when given), a regular file, at most
    ``cap`` bytes (default :func:`max_file_bytes`).  Refusals are :class:`ReadRefused`."""
    limit = max_file_bytes() if cap is None else cap
    real = check_regular(path, boundary)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(real, flags)
    try:
        st = os.fstat(fd)  # the file opened is the file checked (no swap to a FIFO in between)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, _kind(st.st_mode))
        if st.st_size > limit:
            raise InputTooLarge(path, limit)
        chunks = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise InputTooLarge(path, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: PathLike, boundary: PathLike | None = None, cap: int | None = None,
              encoding: str = "utf-8-sig") -> str:
    """:func:`read_bytes` decoded (``UnicodeDecodeError`` is a ``ValueError``)."""
    return read_bytes(path, boundary, cap).decode(encoding)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# --- JSON -----------------------------------------------------------------------------------

class JSONTooDeep(ValueError):
    def __init__(self, where: str, depth: int, line: int = 1) -> None:
        self.lineno = line
        super().__init__(f"{where}: JSON nested deeper than {depth} levels; not read")


_KEEP = b'[]{}"'
_DROP = bytes(b for b in range(256) if b not in _KEEP)
_QUOTED = rb'"[^"]*"'  # compiled at first use (re's bounded cache): only a deeply nested document needs it
_SIGNED = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``text`` nests arrays/objects deeper than ``limit`` (brackets inside strings
    do not count).  Linear time in C-level passes (no per-character Python work): about
    0.1 s for a 100 MB plan."""
    from array import array
    from itertools import accumulate

    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    # escaped backslashes, then escaped quotes: what is left of a string is its brackets
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _DROP)
    data = data.replace(b'""', b"")  # most strings hold no bracket (removing "" never shifts quote parity)
    if b'"' in data:
        data = re.sub(_QUOTED, b"", data)
    if len(data) <= limit:
        return False
    steps = array("b", data.translate(_SIGNED).replace(b'"', b""))
    return max(accumulate(steps), default=0) > limit


def load_json(text: str | bytes, where: str, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that never lets ``RecursionError`` escape: nesting deeper than
    ``max_depth`` is a :class:`JSONTooDeep` (a ``ValueError``) naming ``where``.  Other syntax
    errors stay ``json.JSONDecodeError`` (also a ``ValueError``, with ``lineno``).

    Up to CPython 3.11 the C decoder counts its nesting against the recursion limit, so the
    cap costs nothing (the limit is lowered around the call); later versions count against a
    fixed C limit, so there the text is measured first (:func:`json_depth_exceeds`)."""
    import json
    import sys

    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8-sig")
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        if json_depth_exceeds(text, max_depth):
            raise JSONTooDeep(where, max_depth)
        try:
            return json.loads(text, **kwargs)
        except RecursionError:
            raise JSONTooDeep(where, max_depth) from None
    old = sys.getrecursionlimit()
    try:
        # json.loads, JSONDecoder.decode and raw_decode are 3 frames above this one
        sys.setrecursionlimit(_stack_depth() + max_depth + 3)
        return json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep(where, max_depth) from None
    finally:
        sys.setrecursionlimit(old)


def _stack_depth() -> int:
    """The interpreter's current recursion depth (C calls included, unlike a frame count):
    CPython names it when asked for a limit below it."""
    import sys

    try:
        sys.setrecursionlimit(1)
    except RecursionError as exc:
        m = re.search(r"recursion depth (\d+)", str(exc))
        if m:
            return int(m.group(1)) - 1  # this function's own frame
    frame: Any = sys._getframe(1)
    depth = 0
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


# --- digests --------------------------------------------------------------------------------

def sha256_hex(data: bytes) -> str:
    """The SHA-256 hex digest of ``data`` (reports carry the config's and taxonomy's)."""
    return _sha256()(data).hexdigest()


@cache
def _sha256() -> Any:
    # The interpreter's built-in SHA-256 gives the same digest as hashlib's; importing hashlib loads
    # OpenSSL (~12 M instructions a run).  hashlib when the interpreter was built without them.
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]  # Python >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef]  # Python <= 3.11
        except ImportError:
            from hashlib import sha256  # type: ignore[assignment]
    return sha256


# --- messages -------------------------------------------------------------------------------

def truncate(value: Any, n: int = 200) -> str:
    """``value`` as text, at most about ``n`` characters (the cut says how much was left out)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= n:
        return text
    return f"{text[:n]}… ({len(text) - n} more characters)"
