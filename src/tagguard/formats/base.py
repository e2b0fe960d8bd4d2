"""The seam every output format implements."""
from __future__ import annotations

from abc import ABC, abstractmethod

from tagguard.model import ScanResult


class Formatter(ABC):
    name: str = "format"
    # True for formats meant for people (colour allowed on a TTY)
    human: bool = False

    @abstractmethod
    def format(self, result: ScanResult, *, color: bool = False) -> str:
        """Render the whole result as one string."""
