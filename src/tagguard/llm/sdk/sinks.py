"""Where usage records go: a rotating JSONL file, stdout, or any callable.

A sink's ``write(record)`` may raise; the recorder catches it, counts it and
warns once.  Sinks are thread-safe.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_BACKUPS = 5


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, default=str)


class Sink:
    def write(self, record: dict[str, Any]) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


class JsonlSink(Sink):
    """Append one JSON line per record; flush after each; rotate by size.

    ``path`` may contain ``{pid}`` so that each process of a pre-forking server
    writes its own file (rotation is only safe within one process).  Rotation
    renames ``usage.jsonl`` -> ``usage.jsonl.1`` -> ... -> ``.N`` (``backups``
    kept, the oldest dropped); ``max_bytes=0`` never rotates.
    """

    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS):
        self.template = str(path)
        self.max_bytes = int(max_bytes)
        self.backups = max(0, int(backups))
        self._lock = threading.Lock()
        self._fh: Any = None
        self._size = 0
        self._pid: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.template.replace("{pid}", str(os.getpid())))

    def _open(self) -> None:
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")
        self._size = self._fh.tell()
        self._pid = os.getpid()

    def _rotate(self) -> None:
        self._fh.close()
        self._fh = None
        path = self.path
        if self.backups == 0:
            path.unlink()
        else:
            for i in range(self.backups - 1, 0, -1):
                src = Path(f"{path}.{i}")
                if src.exists():
                    os.replace(src, f"{path}.{i + 1}")
            os.replace(path, f"{path}.1")
        self._open()

    def write(self, record: dict[str, Any]) -> None:
        line = dumps(record) + "\n"
        size = len(line.encode("utf-8"))
        with self._lock:
            if self._fh is None or self._pid != os.getpid():
                self._open()
            if self.max_bytes and self._size > 0 and self._size + size > self.max_bytes:
                self._rotate()
            self._fh.write(line)
            self._fh.flush()
            self._size += size

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                try:
                    self._fh.close()
                finally:
                    self._fh = None


class StreamSink(Sink):
    """One JSON line per record to a text stream (default: the current ``sys.stdout``)."""

    def __init__(self, stream: Any = None):
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        line = dumps(record) + "\n"
        with self._lock:
            stream.write(line)
            stream.flush()


class CallableSink(Sink):
    """Hand each record (a dict) to a function, e.g. a queue's ``put`` or a log shipper."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]):
        self.fn = fn

    def write(self, record: dict[str, Any]) -> None:
        self.fn(record)


def make_sink(spec: Any, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS) -> Sink:
    """A sink from a path, ``"stdout"``/``"-"``, ``"stderr"``, a callable or a Sink."""
    if isinstance(spec, Sink):
        return spec
    if spec in ("stdout", "-"):
        return StreamSink()
    if spec == "stderr":
        return StreamSink(sys.stderr)
    if isinstance(spec, (str, Path)):
        return JsonlSink(spec, max_bytes=max_bytes, backups=backups)
    if callable(spec):
        return CallableSink(spec)
    raise TypeError(f"not a sink: {spec!r} (give a path, 'stdout', a callable or a Sink)")
