"""The seam every output format implements."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TextIO

from tagguard.model import ScanResult


class Formatter(ABC):
    name: str = "format"
    # True for formats meant for people (colour allowed on a TTY)
    human: bool = False
    # True when ``write`` renders piece by piece (the CLI then never holds the whole output as one string)
    streaming: bool = False

    @abstractmethod
    def format(self, result: ScanResult, *, color: bool = False) -> str:
        """Render the whole result as one string."""

    def write(self, result: ScanResult, stream: TextIO, *, color: bool = False) -> None:
        """Write the result to ``stream``; formats that can render piece by piece override it (JSON)."""
        stream.write(self.format(result, color=color))
