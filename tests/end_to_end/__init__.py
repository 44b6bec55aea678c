"""The whole pipeline: library consoles, exporter, Prometheus, Alertmanager."""
