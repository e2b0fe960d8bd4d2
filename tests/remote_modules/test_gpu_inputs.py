"""Which inputs of a module that was not read say "GPUs here" (issue 12 item 3), and in linear time."""
from __future__ import annotations

import time

import pytest

from tagguard.sources.terraform.remote.gpu_inputs import mention


@pytest.mark.parametrize("text,found", [
    ('instance_types = ["g5.2xlarge", "m5.large"]', "g5.2xlarge"),
    ('machine_type = "a2-highgpu-1g"', "a2-highgpu-1g"),
    ('vm_size = "Standard_NC24ads_A100_v4"', "Standard_NC24ads_A100_v4"),
    ('values = <<EOT\nresources:\n  limits:\n    nvidia.com/gpu: 4\nEOT', "nvidia.com/gpu"),
    ('x = "aws.amazon.com/neuroncore"', "aws.amazon.com/neuroncore"),
    ('x = "google.com/tpu"', "google.com/tpu"),
    ('families = <<E\nvalues:\n  - g6\nE', "g6"),
    ('r = "karpenter.k8s.aws/instance-family: [g5, g6]"', "g5"),
    ("enable_gpu = true", "enable_gpu = true"),
    ('acc = { accelerator_type = "nvidia-tesla-t4" }', 'accelerator_type = "nvidia-tesla-t4"'),
])
def test_mentions(text, found):
    assert mention(text)[1] == found


@pytest.mark.parametrize("text", [
    'instance_type = "m5.large"', "enable_gpu = false", "gpu_count = 0", 'name = "gpu-team"',
    'bucket = "my.bucket-logs"', 'description = "nodes for g5 workloads"', 'tags = { team = "ml" }',
    'gpu = null', 'gpu = ""', 'gpu = []',
])
def test_no_mention(text):
    assert mention(text) is None


def test_line_of_the_mention():
    assert mention('a = <<E\nx: 1\ny: 2\nlimits: {"nvidia.com/gpu": 1}\nE')[0] == 3


@pytest.mark.parametrize("unit", ["a-", "gpu-", "gpu = [", "x.y", '"ab:', "nvidia.com/", "a" * 45 + "gpu"])
def test_linear_time(unit):
    def cost(n):  # the best of 3: a shared machine's pauses are not the code's time
        text = unit * n
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            mention(text)
            best = min(best, time.process_time() - start)
        return best

    small, big = cost(2_000), cost(16_000)
    assert big < 0.05 + small * 8 * 4, (small, big)  # 8x the input: far from 64x
    assert big < 2.0
