"""Memory of the Kubernetes reader stays flat in the number of objects (issue 13, "Faster while at it").

The CLI runs without the cyclic garbage collector (``cli.calm_gc``), so anything a parsed document
leaves in a reference cycle is kept until the process ends: 50,000 Pods in one file then held every
parsed map of every document (about 6 KB per Pod here).  These checks run with the collector off, like
the CLI, and measure with ``tracemalloc``; the limits are several times the measured figures, and the
figures before the fix were many times the limits.
"""
from __future__ import annotations

import gc
import tracemalloc

from tagguard.sources.kubernetes.manifests import parse_stream

N = 5_000


def _pods(n: int) -> str:
    parts = []
    for i in range(n):
        parts.append(f"""---
apiVersion: v1
kind: Pod
metadata:
  name: train-{i}
  namespace: ns-{i % 40}
  labels: {{app: train-{i}, project: proj-{i % 30}, environment: prod, team: team-{i % 50}}}
spec:
  nodeSelector: {{nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}}
  containers:
    - name: trainer
      image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
      command: ["python", "train.py", "--epochs", "{i % 9}"]
      resources:
        limits: {{nvidia.com/gpu: {1 + i % 2}, memory: 64Gi}}
        requests: {{cpu: "8", memory: 64Gi}}
""")
    return "".join(parts)


def _retained_after_parse(text: str) -> int:
    """Bytes still allocated after parsing ``text`` and dropping everything the parse returned."""
    parse_stream(_pods(3), "warm.yaml")  # imports, the loader class, the kind table: not per object
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        parsed = parse_stream(text, "pods.yaml")
        assert len(parsed.docs) == N and not parsed.findings
        del parsed
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()


def test_parsed_documents_are_freed_without_the_cyclic_collector():
    text = _pods(N)
    retained = _retained_after_parse(text)
    # after the fix: only the bounded cache of plain scalars' tags (at most 65,536 short strings), about
    # 85 bytes per Pod here; before it: every map, list and string of every document, about 5.9 KB per Pod
    assert retained / N < 1_500, f"{retained / N:.0f} bytes per Pod kept after the parse result was dropped"


def test_a_document_leaves_no_reference_cycles():
    parse_stream(_pods(3), "warm.yaml")
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        parsed = parse_stream(_pods(50), "pods.yaml")
        assert len(parsed.docs) == 50
        del parsed
        assert gc.collect() == 0  # nothing unreachable that only the cyclic collector could free
    finally:
        if was_enabled:
            gc.enable()
