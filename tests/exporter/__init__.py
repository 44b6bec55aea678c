"""Tests of the exporter: the API, liveness, the fleet /metrics, the process, the status page."""
