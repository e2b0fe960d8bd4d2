"""Memory of the Kubernetes reader stays flat in the number of objects (issue 13, "Faster while at it").

The CLI runs without the cyclic garbage collector (``cli.calm_gc``), so anything a parsed document
leaves in a reference cycle is kept until the process ends: 50,000 Pods in one file then held every
parsed map of every document (about 6 KB per Pod here).  These checks run with the collector off, like
the CLI, and measure with ``tracemalloc``; the limits are several times the measured figures, and the
figures before the fix were many times the limits.
"""
from __future__ import annotations

import gc
import io
import json
import tracemalloc
from pathlib import Path

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


# --- the whole scan: marginal memory per object ------------------------------------------------

def _gpu_pods(n: int) -> str:
    """GPU Pods like benchmarks/kubernetes_memory.py: half miss a required tag, all priced."""
    parts = []
    for i in range(n):
        extra = f"    cost-center: CC-{1000 + i % 97}\n" if i % 2 else ""
        parts.append(f"""---
apiVersion: v1
kind: Pod
metadata:
  name: train-{i}
  namespace: ns-{i % 40}
  labels:
    app: train-{i}
    project: proj-{i % 30}
    environment: prod
    business-unit: team-{i % 50}
{extra}spec:
  nodeSelector:
    nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB
  containers:
    - name: trainer
      image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
      resources:
        limits: {{nvidia.com/gpu: {1 + i % 2}, memory: 64Gi}}
        requests: {{cpu: "8", memory: 64Gi}}
""")
    return "".join(parts)


class _Discard(io.TextIOBase):
    def write(self, s: str) -> int:
        return len(s)


def _scan_memory(directory: Path, n: int) -> tuple[int, int, int]:
    """Bytes above the start, like the CLI (no cyclic collector): the reader's peak, what the result
    keeps after pricing and rules, and the peak of writing it as JSON on top of that."""
    from tagguard import pipeline
    from tagguard.config import Config
    from tagguard.formats.json_format import JsonFormatter
    from tagguard.sources.base import ScanContext

    config = Config(raw={}, path=directory / ".tagguard.yaml")
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        inv = pipeline.build_inventory([str(directory)], config)
        ctx = ScanContext(config, inv.root)
        out = pipeline.collect(inv, ctx)
        read_peak = tracemalloc.get_traced_memory()[1] - base
        result = pipeline.evaluate(out, ctx, root=str(directory))
        del out
        kept = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.reset_peak()
        JsonFormatter().write(result, _Discard())
        write_peak = tracemalloc.get_traced_memory()[1] - base - kept
        assert len(result.resources) == n and len(result.findings) >= n  # missing-tag and spot-opportunity
        return read_peak, kept, write_peak
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()


def test_scan_memory_per_object_stays_small(tmp_path):
    """Marginal memory between 500 and 1,500 Pods in one file, so fixed costs (imports, rate card,
    caches) cancel out.  Measured after the fix (Python 3.11): reader peak 1.7 KB, kept 2.7 KB, JSON
    writing 0.1 KB per Pod; before it 7.7 KB (every parsed document held until the builder ran),
    5.5 KB (a __dict__ per record, a copy of every label string) and 10.1 KB (the report as dicts,
    then as one string).  The limits leave room for Python 3.9 (no dataclass slots) and noise."""
    small, large = 500, 1_500
    for n in (small, large):
        (tmp_path / str(n)).mkdir()
        (tmp_path / str(n) / "pods.yaml").write_text(_gpu_pods(n), encoding="utf-8")
    _scan_memory(tmp_path / str(large), large)  # warm: imports, rate card, bounded caches
    a = _scan_memory(tmp_path / str(small), small)
    b = _scan_memory(tmp_path / str(large), large)
    read_peak, kept, write_peak = ((y - x) / (large - small) for x, y in zip(a, b))
    assert read_peak < 3_500, f"reader peak {read_peak:.0f} bytes per Pod: are parsed documents kept?"
    assert kept < 4_000, f"{kept:.0f} bytes kept per Pod after pricing and rules"
    assert write_peak < 1_000, f"writing the JSON report takes {write_peak:.0f} bytes per Pod: not streamed?"


# --- facts that apply across files, read in the first pass -----------------------------------------

_TRAINJOB = """apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainJob
metadata: {name: tj, namespace: ml}
spec:
  runtimeRef: {name: torch-distributed}
  trainer: {numNodes: 2, resourcesPerNode: {limits: {nvidia.com/gpu: 8}}}
"""


def _resources(tmp_path: Path) -> dict:
    from tagguard import pipeline
    from tagguard.config import Config

    result = pipeline.scan([str(tmp_path)], Config(raw={}, path=tmp_path / ".tagguard.yaml"))
    return {r.address: r for r in result.resources}


def test_runtime_and_namespace_in_later_files_apply_to_earlier_workloads(tmp_path):
    (tmp_path / "a-job.yaml").write_text(_TRAINJOB, encoding="utf-8")
    (tmp_path / "b-pods.yaml").write_text(_gpu_pods(3), encoding="utf-8")
    # JSON, and a kind spelled with an escape: the first pass's byte search must not skip them
    (tmp_path / "z-runtime.json").write_text(json.dumps({
        "apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "ClusterTrainingRuntime",
        "metadata": {"name": "torch-distributed"},
        "spec": {"template": {"spec": {"replicatedJobs": [
            {"name": "node", "template": {"spec": {"template": {"metadata": {"labels": {"team": "platform"}},
                                                               "spec": {"containers": [{"name": "n"}]}}}}}]}}}}),
        encoding="utf-8")
    (tmp_path / "z-ns.yaml").write_text('apiVersion: v1\nkind: "Namespac\\u0065"\n'
                                        'metadata: {name: ns-2, labels: {cost-center: CC-7}}\n', encoding="utf-8")
    res = _resources(tmp_path)
    tj = res["TrainJob/ml/tj"]
    assert tj.tags.get("team") == "platform" and not tj.tags_open
    assert res["Pod/ns-2/train-2"].tags.get("cost-center") == "CC-7"  # from the Namespace of a later file
    assert res["Pod/ns-0/train-0"].tags.get("cost-center") is None
    assert res["Pod/ns-1/train-1"].tags.get("cost-center") == "CC-1001"


def test_without_the_runtime_the_trainjob_stays_open(tmp_path):
    (tmp_path / "a-job.yaml").write_text(_TRAINJOB, encoding="utf-8")
    tj = _resources(tmp_path)["TrainJob/ml/tj"]
    assert tj.tags_open and "torch-distributed" in (tj.open_reason or "")


# --- the streaming JSON writer -----------------------------------------------------------------------

def test_json_write_is_format_piece_by_piece():
    """``JsonFormatter.write`` (what the CLI uses) writes exactly the text of ``format``: hostile strings
    (C1, bidi, lone surrogates, line separators) escaped the same way, empty lists, optional parts."""
    from tagguard.formats.json_format import JsonFormatter
    from tagguard.model import Finding, Resource, ScanResult

    hostile = ["\x1b[31mred", "\x9b31m", "a\u202eb", "line\u2028sep", "lone \ud800", "\ufeffbom", "\"quote\\"]

    def hostile_result() -> ScanResult:
        rs = [Resource(address=h, type="Pod", source="kubernetes", file=h, line=i, tags={h: h}, meta={"role": h})
              for i, h in enumerate(hostile)]
        fs = [Finding(rule="missing-tag", category="missing_tag", severity="error", message=h, address=h, file=h,
                      tag=h, extra={"chart": h}) for h in hostile]
        return ScanResult(resources=rs, findings=fs, root=hostile[0], errors=[{"message": h} for h in hostile])

    pieces: list[str] = []

    class Collect(io.TextIOBase):
        def write(self, s: str) -> int:
            pieces.append(s)
            return len(s)

    for result in (hostile_result(), ScanResult(resources=[], findings=[], root=None)):
        pieces.clear()
        JsonFormatter().write(result, Collect())
        assert "".join(pieces) == JsonFormatter().format(result)
    # written in pieces (of about 64 KB: a write per item cost more than encoding it), never as one string
    big = hostile_result()
    big.resources = big.resources * 300
    pieces.clear()
    JsonFormatter().write(big, Collect())
    assert "".join(pieces) == JsonFormatter().format(big)
    assert len(pieces) > 4 and max(len(p) for p in pieces) < 65536 + 2048


def test_cli_json_to_stdout_and_to_a_file_are_the_same(tmp_path):
    from clikit import run_cli

    (tmp_path / "pods.yaml").write_text(_gpu_pods(20), encoding="utf-8")
    to_stdout = run_cli("scan", tmp_path, "--format", "json")
    out = tmp_path / "out" / "r.json"
    to_file = run_cli("scan", tmp_path, "--format", "json", "--output", out)
    assert to_stdout.code == to_file.code == 1, to_stdout
    assert out.read_text(encoding="utf-8") == to_stdout.stdout
    report = to_stdout.json()
    assert len(report["resources"]) == 20 and report["summary"]["exit_code"] == 1
