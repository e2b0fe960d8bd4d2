"""Short GPU / accelerator model names.

One spelling per accelerator model, whatever the input calls it: the rate
card's full names ("NVIDIA A100 80GB PCIe", "AWS Inferentia2"), Kubernetes
node labels ("NVIDIA-A100-SXM4-80GB", "nvidia-tesla-t4"), GKE accelerator
types ("nvidia-h100-80gb", "nvidia-l4") or a user's "h100".  Memory size,
form factor and partition are dropped: they live in other rate-card fields.
"""
from __future__ import annotations

import re

# Ordered: longer / more specific names first.  Each pattern runs against the
# upper-cased name with "-", "_" and "/" turned into spaces, and must stand on
# token boundaries (so "A10" does not match "A100" and "L4" does not match "L40S").
_MODELS = (
    ("TRAINIUM2", "Trainium2"), ("TRN2", "Trainium2"),
    ("TRAINIUM", "Trainium"), ("TRN1N?", "Trainium"),
    ("INFERENTIA2", "Inferentia2"), ("INF2", "Inferentia2"),
    ("INFERENTIA", "Inferentia"), ("INF1", "Inferentia"),
    ("GAUDI ?3", "Gaudi3"), ("GAUDI ?2", "Gaudi2"), ("GAUDI", "Gaudi"),
    ("GB300", "GB300"), ("GB200", "GB200"), ("GH200", "GH200"),
    ("B300", "B300"), ("B200", "B200"),
    ("H200", "H200"), ("H100", "H100"), ("H800", "H800"),
    ("A100", "A100"), ("A800", "A800"), ("A10G", "A10G"), ("A10", "A10"),
    ("A40", "A40"), ("A30", "A30"), ("A16", "A16"),
    ("L40S", "L40S"), ("L40", "L40"), ("L4", "L4"),
    ("T4G", "T4G"), ("T4", "T4"),
    ("V100", "V100"), ("P100", "P100"), ("P4", "P4"), ("K80", "K80"),
    ("MI300X", "MI300X"), ("MI250X?", "MI250"),
    ("TPU ?V5P", "TPU v5p"), ("TPU ?V5 ?LITE|TPU ?V5E", "TPU v5e"), ("TPU ?V6E", "TPU v6e"), ("TPU ?V4", "TPU v4"),
)
KNOWN_MODELS = tuple(dict.fromkeys(short for _, short in _MODELS))
# Compiled on the first name asked about (~3 ms for the 41 patterns): a scan that names no GPU model -- a
# Terraform module of instance types, the engine's set-up with no pricing.gpu_hourly_usd -- pays nothing.
_compiled: tuple[tuple[re.Pattern[str], str], ...] = ()


def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    global _compiled
    if not _compiled:
        _compiled = tuple((re.compile(rf"(?<![A-Z0-9])(?:{pat})(?![A-Z0-9])"), short) for pat, short in _MODELS)
    return _compiled


def short_gpu_model(name: str | None) -> str | None:
    """``"NVIDIA-A100-SXM4-80GB"`` -> ``"A100"``; ``None`` when no known model is named."""
    if not name:
        return None
    text = re.sub(r"[-_/()]+", " ", str(name).upper())
    for pattern, short in _patterns():
        if pattern.search(text):
            return short
    return None
