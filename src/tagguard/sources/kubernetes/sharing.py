"""GPU sharing the scanned files declare for the NVIDIA device plugin (a fact for the lower bound).

A bare ``nvidia.com/gpu: 1`` is one whole GPU only when the device plugin advertises whole GPUs.  With
time-slicing (``sharing.timeSlicing.resources[{name: nvidia.com/gpu, replicas: N}]``, or ``sharing.mps``) each
GPU is advertised N times, and with ``migStrategy: single`` one ``nvidia.com/gpu`` is a MIG slice: the floor of a
request no node information places must then be per share (pricing/placement.py).  Read from:

* a ``ConfigMap`` whose data values hold a device-plugin config (the gpu-operator's ``devicePlugin.config``
  ConfigMap, the device plugin chart's ``config.map``);
* a gpu-operator ``ClusterPolicy`` (``spec.mig.strategy: single``);
* Helm values files of the gpu-operator (``mig.strategy``, ``devicePlugin.config.data``) or of the device
  plugin chart (``migStrategy``, ``config.map``), and a device-plugin config file itself (``version``,
  ``flags.migStrategy``, ``sharing``).

``renameByDefault: true`` advertises the shared replicas as ``nvidia.com/gpu.shared``: a bare ``nvidia.com/gpu``
is then still a whole GPU, and such a config is not counted.  Nothing is executed; the walk reads fixed paths
only (no recursion over the documents), each embedded config at most ``MAX_EMBEDDED`` characters."""
from __future__ import annotations

from typing import Any

SHARING_KEY = "_gpu_sharing"  # Resource.meta of a GPU workload: what the scan declares (read by placement)
MAX_EMBEDDED = 256 * 1024
MAX_REPLICAS = 1024  # a time-slicing replicas count above this is not believed (the floor divides by it)


def may_declare(data: bytes) -> bool:
    """False when ``data`` cannot declare GPU sharing (none of the words; an escape could spell one)."""
    if data[:1] in (b"\xff", b"\xfe", b"\x00") or data[1:2] == b"\x00":
        return True
    return (b"timeSlicing" in data or b"migStrategy" in data or b"ClusterPolicy" in data or b"\\u" in data
            or (b"sharing" in data and b"mps" in data) or (b"single" in data and b"mig" in data))


def sharing_text(data: bytes) -> str | None:
    """A kind-less file (Helm values, a device-plugin config) as UTF-8 text, None when it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


class Sharing:
    """What the scanned files declare: the largest time-slicing replicas count and where, MIG strategy single
    and where."""

    def __init__(self) -> None:
        self.replicas = 1
        self.replicas_at: str | None = None
        self.mig_single_at: str | None = None

    def fact(self) -> dict[str, Any] | None:
        if self.replicas <= 1 and self.mig_single_at is None:
            return None
        out: dict[str, Any] = {}
        if self.replicas > 1:
            out.update(replicas=self.replicas, replicas_at=self.replicas_at)
        if self.mig_single_at is not None:
            out["mig_single_at"] = self.mig_single_at
        return out

    def learn_text(self, text: str, file: str) -> None:
        """Every YAML document of ``text``; a document that does not parse is skipped (the manifest pass
        reports it)."""
        from tagguard.sources.kubernetes.manifests import split_stream

        for base, chunk in split_stream(text.replace("\r\n", "\n")):
            doc = _load(chunk)
            if isinstance(doc, dict):
                self.learn(doc, f"{file}:{base}")

    def learn(self, doc: dict[str, Any], where: str) -> None:
        kind = doc.get("kind")
        if kind == "ConfigMap":
            for value in _dict(doc.get("data")).values():
                self._embedded(value, where)
            return
        if kind == "ClusterPolicy":
            spec = _dict(doc.get("spec"))
            self._mig(_dict(spec.get("mig")).get("strategy"), where)
            return
        if kind is not None:
            return
        # Helm values of the gpu-operator / the device plugin chart, or a device-plugin config file
        self._mig(_dict(doc.get("mig")).get("strategy"), where)
        self._mig(doc.get("migStrategy"), where)
        for value in _dict(_dict(_dict(doc.get("devicePlugin")).get("config")).get("data")).values():
            self._embedded(value, where)
        for value in _dict(_dict(doc.get("config")).get("map")).values():
            self._embedded(value, where)
        self._config(doc, where)

    def _embedded(self, value: Any, where: str) -> None:
        if isinstance(value, str) and len(value) <= MAX_EMBEDDED and ("sharing" in value or "migStrategy" in value):
            conf = _load(value)
            if isinstance(conf, dict):
                self._config(conf, where)

    def _config(self, conf: dict[str, Any], where: str) -> None:
        """A device-plugin config: ``flags.migStrategy`` and ``sharing.{timeSlicing,mps}.resources``."""
        self._mig(_dict(conf.get("flags")).get("migStrategy"), where)
        sharing = _dict(conf.get("sharing"))
        for how in ("timeSlicing", "mps"):
            block = _dict(sharing.get(how))
            if block.get("renameByDefault") is True:
                continue  # shared replicas are nvidia.com/gpu.shared: a bare nvidia.com/gpu stays whole
            resources = block.get("resources")
            for item in resources[:64] if isinstance(resources, list) else ():
                item = _dict(item)
                if item.get("name") != "nvidia.com/gpu" or item.get("rename"):
                    continue
                n = item.get("replicas")
                if isinstance(n, int) and not isinstance(n, bool) and 1 < n <= MAX_REPLICAS and n > self.replicas:
                    self.replicas, self.replicas_at = n, where

    def _mig(self, strategy: Any, where: str) -> None:
        if strategy == "single" and self.mig_single_at is None:
            self.mig_single_at = where


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _load(text: str) -> Any:
    import yaml

    from tagguard import yamlio

    try:
        return yamlio.load(text)
    except (yaml.YAMLError, yamlio.YamlDepthError, yamlio.YamlBombError, ValueError, RecursionError):
        return None
