"""`heartbeat demo` run for real."""
