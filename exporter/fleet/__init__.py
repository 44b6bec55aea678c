"""The fleet ``/metrics`` exposition: the snapshot of what changed, the hand renderer of the
per-console families and its ``prometheus_client`` reference, the summary families, gzip."""
