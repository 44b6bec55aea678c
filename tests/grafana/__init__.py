"""The dashboards: conventions, generation, and every query against a real Prometheus."""
