"""``pricing/gpus.py`` compiles its 41 model patterns on the first name asked about, not at import (issue 13):
setting up a pricer with no GPU names costs none of them; the names read the same."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tagguard.pricing.gpus import KNOWN_MODELS, short_gpu_model

COUNT = """
import re, sys
real, n = re.compile, [0]
def counting(*a, **k):
    n[0] += 1
    return real(*a, **k)
re.compile = counting
from tagguard.pricing import catalog
from tagguard.pricing.engine import Pricer
card = catalog.load()
base = n[0]
Pricer(card, {"region": "us-east-1"})
import tagguard.pricing.gpus as g
print(n[0] - base)
print(g.short_gpu_model("nvidia-tesla-t4"), n[0] - base >= 41)
"""


def test_setting_up_a_pricer_without_gpu_names_compiles_no_model_pattern():
    out = subprocess.run([sys.executable, "-c", COUNT], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "0"
    assert out[1] == "T4 True"


@pytest.mark.parametrize("name, short", [
    ("NVIDIA-A100-SXM4-80GB", "A100"), ("nvidia-tesla-t4", "T4"), ("nvidia-l4", "L4"), ("NVIDIA L40S", "L40S"),
    ("A10G", "A10G"), ("a10", "A10"), ("AWS Inferentia2", "Inferentia2"), ("trn1n", "Trainium"),
    ("Gaudi 3", "Gaudi3"), ("tpu-v5-lite-podslice", "TPU v5e"), ("MI250X", "MI250"), ("H100 and A100", "H100"),
    ("A100 and H100", "H100"), ("nvidia-h100-80gb", "H100"), ("LA100", None), ("", None), (None, None),
])
def test_names_read_as_before(name, short):
    assert short_gpu_model(name) == short
    assert short is None or short in KNOWN_MODELS
