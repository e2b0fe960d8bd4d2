"""Actual GPU-hours per team from running Kubernetes clusters: Prometheus (kube-state-metrics,
dcgm-exporter) and OpenCost allocation data, judged against the tag taxonomy and priced
through the rate card (``tagguard cluster report``; see docs/cluster.md)."""
