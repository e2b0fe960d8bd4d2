"""What tagguard remembers between runs and revisions: baselines, history, the base-revision diff."""
