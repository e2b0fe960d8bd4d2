"""Kubernetes inputs: manifests (YAML/JSON), kinds and CRDs as data, workloads, CronJobs, Helm charts."""
