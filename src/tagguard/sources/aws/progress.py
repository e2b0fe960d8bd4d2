"""A stdlib progress bar on stderr: shown on a TTY, silent in CI (``CI`` set) or when piped."""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO


def wanted(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stderr
    if os.environ.get("CI") or os.environ.get("TAGGUARD_NO_PROGRESS"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``accounts x regions x services`` steps; ``advance(label)`` from any thread."""

    def __init__(self, total: int, enabled: bool | None = None, stream: TextIO | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.enabled = wanted(self.stream) if enabled is None else enabled
        self.total = max(total, 1)
        self.done = 0
        self.width = width
        self._lock = threading.Lock()
        self._last = 0.0
        self._start = time.monotonic()

    def advance(self, label: str = "", n: int = 1) -> None:
        with self._lock:
            self.done = min(self.done + n, self.total)
            if not self.enabled:
                return
            now = time.monotonic()
            if now - self._last < 0.1 and self.done < self.total:
                return
            self._last = now
            filled = int(self.width * self.done / self.total)
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"\r[{bar}] {self.done}/{self.total} {now - self._start:5.1f}s {label[:40]:<40}"
            self.stream.write(text)
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            with self._lock:
                self.stream.write("\r" + " " * (self.width + 60) + "\r")
                self.stream.flush()
