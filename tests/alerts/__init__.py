"""The shipped alert rules, with promtool and a real Prometheus and Alertmanager."""
