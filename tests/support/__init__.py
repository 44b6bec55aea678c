"""Helpers the tests share: real servers to start (exporter, PostgreSQL, Prometheus,
Alertmanager, a recording API) and small utilities. Fixtures built on them live in conftest.py."""
