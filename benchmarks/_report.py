"""Write one benchmark's section of BENCHMARKS.md, leaving the other sections alone."""
from __future__ import annotations

import platform
import re
from datetime import date
from pathlib import Path

BENCH_FILE = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = ("# Benchmarks\n\nFigures written by the scripts in `benchmarks/` (each owns one `##` section). "
          "Re-run a script to refresh its section.\n")


def machine() -> str:
    import os

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{date.today().isoformat()}")


def update_section(heading: str, body: str, path: Path = BENCH_FILE) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    block = f"## {heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
